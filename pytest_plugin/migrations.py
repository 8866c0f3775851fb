"""Cassette format migrations, one ``convert_N_M`` per step (mitmproxy's ``io/compat.py`` pattern).

Versions:

* **0**: any vcrpy cassette without ``format_version``: plain vcrpy v1 (bodies as strings or gzip
  ``!!binary``), the legacy httpx layout of vcrpy < 4.1 (``status_code`` / ``content``), and
  pydantic-ai's layout (JSON bodies pre-parsed under ``parsed_body``).
* **1**: resplay's readable format (:mod:`pytest_plugin.cassette`).

:func:`migrate` upgrades a loaded document step by step; the importer adds third-party clean-ups
(:mod:`pytest_plugin.importer`) on top of ``convert_0_1``. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from .cassette import FORMAT_VERSION, to_disk
from .errors import CassetteFormatError

__all__ = ["MIGRATIONS", "convert_0_1", "migrate", "native_from_v0", "version_of"]


def version_of(document: Mapping[str, Any]) -> int:
    """The resplay format version of a loaded document (0 when it has none)."""
    version = document.get("format_version", 0)
    if not isinstance(version, int) or version < 0:
        raise CassetteFormatError(f"invalid format_version {version!r}")
    return version


def _reason(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


def _parsed_to_text(parsed: Any) -> str:
    # pydantic-ai stores the parsed JSON only; the wire layout is lost, compact is what SDKs send.
    return json.dumps(parsed, ensure_ascii=False, separators=(",", ":"))


def _native_request(request: Mapping[str, Any]) -> dict[str, Any]:
    body = request.get("body")
    if "parsed_body" in request:
        body = _parsed_to_text(request["parsed_body"])
    elif isinstance(body, Mapping) and "string" in body:
        body = body["string"]
    return {
        "method": request.get("method", "GET"),
        "uri": request["uri"],
        "body": body,
        "headers": _header_lists(request.get("headers")),
    }


def _native_response(response: Mapping[str, Any]) -> dict[str, Any]:
    if "status_code" in response:
        # vcrpy < 4.1 recorded httpx responses as {status_code, http_version, headers, content}.
        code = int(response["status_code"])
        return {
            "status": {"code": code, "message": _reason(code)},
            "headers": _header_lists(response.get("headers")),
            "body": {"string": response.get("content", "")},
        }
    status = dict(response.get("status") or {})
    if "code" in status and not status.get("message"):
        status["message"] = _reason(int(status["code"]))
    if "parsed_body" in response:
        body: Any = _parsed_to_text(response["parsed_body"])
    else:
        raw = response.get("body")
        body = raw.get("string") if isinstance(raw, Mapping) else raw
    return {"status": status, "headers": _header_lists(response.get("headers")), "body": {"string": body}}


def _header_lists(headers: Any) -> dict[str, list[str]]:
    """Headers as ``{name: [values]}`` (some layouts store single strings or ``[[name, value]]`` pairs)."""
    out: dict[str, list[str]] = {}
    if isinstance(headers, Mapping):
        items: list[tuple[Any, Any]] = list(headers.items())
    elif isinstance(headers, list):
        items = [(pair[0], pair[1]) for pair in headers if isinstance(pair, list | tuple) and len(pair) == 2]
    else:
        items = []
    for name, value in items:
        values = value if isinstance(value, list | tuple) else [value]
        out.setdefault(str(name), []).extend(str(v) for v in values)
    return out


def native_from_v0(document: Mapping[str, Any]) -> dict[str, Any]:
    """vcrpy's native dict from any format-0 layout (plain, legacy httpx, pydantic-ai)."""
    interactions = []
    for index, interaction in enumerate(document.get("interactions") or []):
        if (
            not isinstance(interaction, Mapping)
            or "request" not in interaction
            or "response" not in interaction
        ):
            raise CassetteFormatError(f"interaction {index} is not a request/response pair")
        interactions.append(
            {
                "request": _native_request(interaction["request"]),
                "response": _native_response(interaction["response"]),
            }
        )
    native: dict[str, Any] = {"version": document.get("version", 1), "interactions": interactions}
    if document.get("metadata"):
        native["metadata"] = document["metadata"]
    return native


def convert_0_1(document: Mapping[str, Any]) -> dict[str, Any]:
    """Format 0 (any vcrpy layout) to format 1: bodies decoded and made readable."""
    return to_disk(native_from_v0(document))


MIGRATIONS: dict[int, Callable[[Mapping[str, Any]], dict[str, Any]]] = {0: convert_0_1}
"""``MIGRATIONS[n]`` turns a format-``n`` document into a format-``n + 1`` document."""


def migrate(document: Mapping[str, Any]) -> dict[str, Any]:
    """Upgrade a loaded document to :data:`~pytest_plugin.cassette.FORMAT_VERSION`.

    Raises:
        CassetteFormatError: the file is newer than this resplay, or not a cassette.
    """
    version = version_of(document)
    if version > FORMAT_VERSION:
        raise CassetteFormatError(
            f"cassette format_version {version} is newer than this resplay supports ({FORMAT_VERSION}); "
            "upgrade resplay"
        )
    current = dict(document)
    while version < FORMAT_VERSION:
        current = MIGRATIONS[version](current)
        version = version_of(current)
    return current
