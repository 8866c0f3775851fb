"""Shared helpers of the plugin's tests (importable: ``tests/plugin`` is on ``sys.path``)."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2
import openai
import pytest
import vcr.stubs.aiohttp_stubs  # noqa: F401
from openai.types.responses import CompactedResponse, Response, ResponseStreamEvent
from openai.types.responses.input_token_count_response import InputTokenCountResponse

# Imported here, in the outer process, so that pytester's in-process runs find them loaded: modules
# first imported inside an inner run are dropped after it, then re-imported (and assertion-rewritten,
# since pytest_plugin is a plugin package) by the next run.
from mockserver import MockServer
from pytest_plugin import CassetteMismatch, UnusedInteractions, bodies, use_cassette
from pytest_plugin.http import request_body

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings =
    error
    ignore::DeprecationWarning
    ignore::ResourceWarning
    ignore::pytest.PytestUnraisableExceptionWarning
"""


class Project:
    """An inner pytest project: write test files, run pytest in-process, read cassettes."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        pytester.makefile(".ini", pytest=textwrap.dedent(INI))

    @property
    def path(self) -> Path:
        return self.pytester.path

    def write(self, name: str, source: str) -> Path:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        return path

    def run(self, *args: str) -> pytest.RunResult:
        # hypothesis' plugin would re-import (and rewrite) its ~70 modules in every inner run.
        return self.pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-q", *args)

    def cassette(self, module: str, test: str) -> Path:
        return self.path / "cassettes" / module / f"{test}.yaml"


def api_requests(server: MockServer) -> int:
    """How many API requests reached ``server`` in any session (0 proves replay stayed offline)."""
    with server.engine.lock:
        return sum(len(s.journal) for s in server.engine.sessions())


# ------------------------------------------------------------------------------------ replay
def _cast(path: str) -> Any:
    if path.endswith("/responses/compact"):
        return CompactedResponse
    if path.endswith("/responses/input_tokens"):
        return InputTokenCountResponse
    if path == "/v1/responses" or (path.startswith("/v1/responses/") and path.count("/") == 3):
        return Response
    return object


def replay_with_sdk(cassette_path: Path, client: openai.OpenAI) -> str:
    """Replay every interaction of a cassette with the openai SDK; ``"clean"`` or why not."""
    try:
        with use_cassette(cassette_path) as cassette:
            # What to send comes from the cassette itself (vcrpy's native form, already loaded).
            recorded = list(cassette.data)
            if any(urlsplit(r.uri).hostname != "api.openai.com" for r, _ in recorded):
                cassette.options = replace(cassette.options, allow_unused=True)
                return "another host"
            if any("multipart/form-data" in str(r.headers) for r, _ in recorded):
                cassette.options = replace(cassette.options, allow_unused=True)
                return "multipart upload"
            for request, response in recorded:
                parts = urlsplit(request.uri)
                path = parts.path[len("/v1") :]
                query = dict(parse_qsl(parts.query))
                raw = request_body(request)
                body = json.loads(raw) if raw else None
                rendered = bodies.render_sse(response["body"]["string"]) or []
                events = [e for e in rendered if e.get("raw") != "[DONE]"]
                stream = "text/event-stream" in str(response["headers"]).lower()
                options: dict[str, Any] = {"params": query} if query else {}
                kwargs: dict[str, Any] = {"cast_to": _cast(parts.path), "options": options, "stream": stream}
                if stream:
                    kwargs["stream_cls"] = openai.Stream[ResponseStreamEvent]
                status = response["status"]["code"]
                try:
                    if request.method == "GET":
                        result = client.get(path, **kwargs)
                    elif request.method == "DELETE":
                        result = client.delete(path, cast_to=object, options=options)
                    else:
                        result = client.post(path, body=body, **kwargs)
                    if stream and len(list(result)) != len(events):
                        return f"sdk: events lost in {path}"
                except openai.APIStatusError as exc:
                    if exc.status_code != status:
                        return f"sdk: status {exc.status_code}, recorded {status}"
    except (CassetteMismatch, UnusedInteractions) as exc:
        return f"mismatch: {str(exc).splitlines()[0]}"
    except (openai.APIError, httpx2.HTTPError, ValueError) as exc:
        return f"sdk: {type(exc).__name__}: {exc}"
    return "clean"
