"""Server-sent events: encode and decode (SPEC §4.1).

Each event is ``event: <type>\\ndata: <json>\\n\\n`` with ``data.type`` equal to the event name; the
Responses API sends no ``[DONE]`` sentinel. This module is pure and shared with the pytest plugin,
which uses :class:`SSEDecoder` to store recorded streams as a readable list of events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["SSEDecoder", "SSEMessage", "dumps", "encode_event", "encode_events"]


def dumps(obj: Any) -> bytes:
    """Compact JSON as the API sends it (no spaces, UTF-8 kept as is)."""
    return orjson.dumps(obj)


# ``event: <type>\ndata: `` per event type, built once: the event types are a small fixed set.
_PREFIXES: dict[str, bytes] = {}


def _prefix(kind: str) -> bytes:
    prefix = _PREFIXES.get(kind)
    if prefix is None:
        prefix = b"event: " + kind.encode() + b"\ndata: "
        if len(_PREFIXES) < 1024:  # bounded: types come from our own events, but never grow without end
            _PREFIXES[kind] = prefix
    return prefix


def encode_event(event: Mapping[str, Any]) -> bytes:
    """Encode one stream event as an SSE frame."""
    return _prefix(event["type"]) + orjson.dumps(event) + b"\n\n"


def encode_events(events: Iterable[Mapping[str, Any]]) -> bytes:
    """Encode several events into one buffer (one write for a whole non-delayed stream)."""
    # Hot path of every streamed response: one join over prefix+JSON pieces (docs/performance.md).
    dumps = orjson.dumps
    frames = [_prefix(e["type"]) + dumps(e) for e in events]
    return b"\n\n".join(frames) + b"\n\n" if frames else b""


@dataclass(frozen=True, slots=True)
class SSEMessage:
    """One decoded SSE message."""

    event: str | None
    """The ``event:`` field, if present."""
    data: str
    """The ``data:`` lines joined with newlines."""
    id: str | None = None
    """The ``id:`` field, if present."""
    retry: int | None = None
    """The ``retry:`` field, if present."""

    def json(self) -> Any:
        """Parse ``data`` as JSON."""
        return orjson.loads(self.data)


class SSEDecoder:
    """Incremental SSE parser (WHATWG event-stream rules, enough for the Responses API).

    Feed it bytes as they arrive; it returns the messages completed so far.
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._event: str | None = None
        self._data: list[str] = []
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEMessage]:
        """Add bytes; return every message whose blank-line terminator has arrived."""
        self._buffer += chunk
        out: list[SSEMessage] = []
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                return out
            end, nxt = cut
            line = self._buffer[:end].decode("utf-8")
            self._buffer = self._buffer[nxt:]
            message = self._line(line)
            if message is not None:
                out.append(message)

    def flush(self) -> list[SSEMessage]:
        """End of stream: return a last message that had no terminating blank line."""
        out: list[SSEMessage] = []
        if self._buffer:
            message = self._line(self._buffer.decode("utf-8"))
            self._buffer = b""
            if message is not None:
                out.append(message)
        message = self._line("")
        if message is not None:
            out.append(message)
        return out

    def _line(self, line: str) -> SSEMessage | None:
        if not line:
            if not self._data and self._event is None:
                return None
            message = SSEMessage(self._event, "\n".join(self._data), self._id, self._retry)
            self._event, self._data, self._retry = None, [], None
            return message
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None


def _line_end(buffer: bytes) -> tuple[int, int] | None:
    """Position of the first line terminator (\\r\\n, \\n or \\r) and of the next line's start."""
    n = buffer.find(b"\n")
    r = buffer.find(b"\r")
    if n == -1 and r == -1:
        return None
    if r == -1 or (n != -1 and n < r):
        return n, n + 1
    if r + 1 < len(buffer):
        return (r, r + 2) if buffer[r + 1 : r + 2] == b"\n" else (r, r + 1)
    # A trailing \r may be the first half of \r\n: wait for more bytes.
    return None
