"""Request matching: method, path, query and semantic JSON body, with server ids bound symbolically.

A live request matches a recorded one when, after normalisation, they are equal except for
*symbols*: server ids (``resp_…``, ``msg_…``, ``fc_…``, ``call_…``, ...) and UUIDs. A recorded symbol
stands for whatever value the live request carries at the same place, as long as the mapping stays
one-to-one for the whole test (:class:`Bindings`). Ids that a replayed response delivered are bound to
themselves, so a ``previous_response_id`` chain replays exactly, and a chain re-recorded with new ids
still matches the interactions it replaces.

Normalisation (volatile fields): ISO-8601 timestamps compare equal to any timestamp; paths listed in
``ignore`` (dotted, ``*`` for any key or index, e.g. ``metadata``, ``input.*.id``) are dropped; the host,
port and headers are not compared (record against one server, replay with any ``base_url``).

This module is pure; :mod:`pytest_plugin.http` plugs it into vcrpy's cassette.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "ID_PREFIXES",
    "Bindings",
    "Normalised",
    "compare",
    "find_symbols",
    "normalise",
    "pair_symbols",
]

ID_PREFIXES = (
    "resp", "msg", "rs", "fc", "call", "cmp", "ws", "ctc", "ig", "fs", "ci", "cu", "mcp", "mcpr", "mcpl",
    "lsh", "sh", "ap", "tsc", "ts", "conv", "item", "file", "vs", "cntr", "batch", "ftjob", "thread", "run",
    "step", "asst",
)  # fmt: skip
"""Prefixes of server-generated ids (SPEC §3.3, DECISIONS 5, and the ids seen in real traffic)."""

# A digit is required: real ids are hex-like, while tool names such as ``call_weatherapi`` are not.
_PREFIX = "|".join(sorted(ID_PREFIXES, key=len, reverse=True))
_ID = re.compile(rf"^({_PREFIX})[_-](?=[A-Za-z]*[0-9])[A-Za-z0-9]{{8,}}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")

_MISSING = object()


def symbol_kind(value: str) -> str | None:
    """``"id:<prefix>"`` for a server id, ``"uuid"`` for a UUID, else ``None``."""
    match = _ID.match(value)
    if match:
        return "id:" + match.group(1)
    if _UUID.match(value):
        return "uuid"
    return None


@dataclass
class Bindings:
    """A one-to-one map between recorded symbols and live values, grown as a test replays."""

    forward: dict[str, str] = field(default_factory=dict)
    """Recorded value -> live value."""
    backward: dict[str, str] = field(default_factory=dict)
    """Live value -> recorded value."""

    def allows(self, recorded: str, live: str, pending: Mapping[str, str]) -> bool:
        """Whether ``recorded`` may stand for ``live`` given the bindings and the pending ones."""
        bound = self.forward.get(recorded, pending.get(recorded))
        if bound is not None:
            return bound == live
        back = self.backward.get(live)
        if back is not None:
            return back == recorded
        return live not in pending.values()

    def commit(self, pairs: Mapping[str, str]) -> None:
        """Adopt pairs (recorded -> live); pairs that conflict with existing bindings are ignored."""
        for recorded, live in pairs.items():
            if recorded not in self.forward and live not in self.backward:
                self.forward[recorded] = live
                self.backward[live] = recorded


@dataclass(frozen=True)
class Normalised:
    """The parts of a request that matching compares."""

    method: str
    path: tuple[str, ...]
    query: tuple[tuple[str, str], ...]
    body: Any
    """Parsed JSON, raw bytes, or ``None``."""


def normalise(
    method: str,
    uri: str,
    body: bytes | str | None,
    *,
    ignore: Sequence[str] = (),
    redact: Callable[[str], str] | None = None,
) -> Normalised:
    """Reduce a request to what matching compares (after redaction, so both sides agree)."""
    if redact is not None:
        uri = redact(uri)
    parts = urlsplit(uri)
    path = tuple(s for s in parts.path.split("/") if s)
    query = tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    parsed: Any = None
    if body:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        if redact is not None:
            text = redact(text)
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text.encode("utf-8")
        else:
            for pattern in ignore:
                parsed = _drop(parsed, pattern.split("."))
    return Normalised(method.upper(), path, query, parsed)


def _drop(value: Any, steps: list[str]) -> Any:
    if not steps:
        return _MISSING
    head, rest = steps[0], steps[1:]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if head in ("*", key):
                item = _drop(item, rest)
            if item is not _MISSING:
                out[key] = item
        return out
    if isinstance(value, list):
        out_list = []
        for index, item in enumerate(value):
            if head in ("*", str(index)):
                item = _drop(item, rest)
            if item is not _MISSING:
                out_list.append(item)
        return out_list
    return value


_MAX_DIFFS = 12


def compare(
    recorded: Normalised, live: Normalised, bindings: Bindings, *, limit: int = _MAX_DIFFS
) -> tuple[list[str], dict[str, str]]:
    """Compare a recorded request with a live one.

    Args:
        limit: Stop looking after this many differences (1 answers "do they match?" soonest).

    Returns:
        The differences (empty when they match) and the new symbol pairs the match implies.
    """
    pending: dict[str, str] = {}
    diffs: list[str] = []
    if recorded.method != live.method:
        diffs.append(f"method: recorded {recorded.method}, live {live.method}")
    if len(recorded.path) != len(live.path):
        diffs.append(f"path: recorded /{'/'.join(recorded.path)}, live /{'/'.join(live.path)}")
    else:
        for index, (r, v) in enumerate(zip(recorded.path, live.path, strict=True)):
            if not _same_leaf(r, v, bindings, pending):
                diffs.append(f"path segment {index}: recorded {r!r}, live {v!r}")
    _walk(dict(_multi(recorded.query)), dict(_multi(live.query)), "query", bindings, pending, diffs, limit)
    _walk(recorded.body, live.body, "body", bindings, pending, diffs, limit)
    return diffs, pending


def _multi(pairs: Iterable[tuple[str, str]]) -> Iterator[tuple[str, Any]]:
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    for key, values in grouped.items():
        yield key, values[0] if len(values) == 1 else values


def _same_leaf(recorded: Any, live: Any, bindings: Bindings, pending: dict[str, str]) -> bool:
    if recorded == live and type(recorded) is type(live):
        if isinstance(recorded, str) and symbol_kind(recorded) is not None:
            if not bindings.allows(recorded, live, pending):
                return False
            if recorded not in bindings.forward:
                pending[recorded] = live
        return True
    if isinstance(recorded, str) and isinstance(live, str):
        kind = symbol_kind(recorded)
        if kind is not None and kind == symbol_kind(live):
            if bindings.allows(recorded, live, pending):
                if recorded not in bindings.forward:
                    pending[recorded] = live
                return True
            return False
        if _TIMESTAMP.match(recorded) and _TIMESTAMP.match(live):
            return True
    # 1 == 1.0 in JSON terms, but True is not 1.
    return (
        isinstance(recorded, int | float)
        and isinstance(live, int | float)
        and not isinstance(recorded, bool)
        and not isinstance(live, bool)
        and recorded == live
    )


def _walk(
    recorded: Any,
    live: Any,
    where: str,
    bindings: Bindings,
    pending: dict[str, str],
    diffs: list[str],
    limit: int = _MAX_DIFFS,
) -> None:
    if len(diffs) >= limit:
        return
    if isinstance(recorded, dict) and isinstance(live, dict):
        for key in recorded.keys() | live.keys():
            here = f"{where}.{key}"
            if key not in live:
                diffs.append(f"{here}: recorded {_short(recorded[key])}, missing in the live request")
            elif key not in recorded:
                diffs.append(f"{here}: not recorded, live {_short(live[key])}")
            else:
                _walk(recorded[key], live[key], here, bindings, pending, diffs, limit)
        return
    if isinstance(recorded, list) and isinstance(live, list):
        if len(recorded) != len(live):
            diffs.append(f"{where}: recorded {len(recorded)} items, live {len(live)} items")
        for index, (r, v) in enumerate(zip(recorded, live, strict=False)):
            _walk(r, v, f"{where}[{index}]", bindings, pending, diffs, limit)
        return
    if not _same_leaf(recorded, live, bindings, pending):
        diffs.append(f"{where}: recorded {_short(recorded)}, live {_short(live)}")


def _short(value: Any, limit: int = 120) -> str:
    if isinstance(value, bytes):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def find_symbols(value: Any) -> Iterator[str]:
    """Every symbol (server id or UUID) in nested JSON, in document order."""
    if isinstance(value, str):
        if symbol_kind(value) is not None:
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from find_symbols(item)
    elif isinstance(value, list):
        for item in value:
            yield from find_symbols(item)


def pair_symbols(recorded: Any, live: Any) -> dict[str, str]:
    """Symbols at the same places of two documents (a recorded response and its re-recording)."""
    pairs: dict[str, str] = {}

    def walk(r: Any, v: Any) -> None:
        if isinstance(r, str) and isinstance(v, str):
            kind = symbol_kind(r)
            if kind is not None and kind == symbol_kind(v):
                pairs.setdefault(r, v)
        elif isinstance(r, dict) and isinstance(v, dict):
            for key in r.keys() & v.keys():
                walk(r[key], v[key])
        elif isinstance(r, list) and isinstance(v, list):
            for a, b in zip(r, v, strict=False):
                walk(a, b)

    walk(recorded, live)
    return pairs
