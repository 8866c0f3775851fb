"""One recorded WebSocket connection and its cassette form (mitmproxy's shape, STYLE §8.1.8). Pure.

A cassette keeps its WebSocket connections under ``websockets:``, beside the HTTP ``interactions:``
and under the same ``format_version``::

    websockets:
    - request:                                  # the upgrade request
        uri: wss://api.openai.com/v1/responses
        headers: {authorization: [REDACTED], openai-beta: [...]}
      messages:                                 # every frame, in wire order
      - from: client
        json: {type: response.create, model: gpt-5.5, input: hi, stream_id: a}
        stream_id: a                            # the lane (absent: the default lane)
        t: 0.0                                  # seconds since the connection opened (optional)
      - from: server
        json: {type: response.created, sequence_number: 0, response: {...}}
        stream_id: a
        t: 0.004
      close: {code: 1000, reason: '', by: client}

A frame is ``json`` (parsed, with ``style`` / ``newline`` when the wire layout was not compact, so
re-encoding is exact, as for HTTP bodies), ``text`` (any other text) or ``binary`` (bytes). Secrets are
redacted on the way to disk by the cassette's :class:`~pytest_plugin.redaction.Redactor`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import bodies
from ..errors import CassetteFormatError
from ..redaction import Redactor

__all__ = ["WsMessage", "WsSession", "sessions_from_disk", "sessions_to_disk"]


@dataclass
class WsMessage:
    """One frame of a connection.

    Args:
        from_client: ``True`` for client -> server frames.
        data: The frame's payload as the wire carried it (``str`` for text, ``bytes`` for binary).
        t: Seconds since the connection opened, if recorded.
    """

    from_client: bool
    data: str | bytes
    t: float | None = None

    @property
    def parsed(self) -> Any:
        """The payload as JSON, or ``None`` for binary frames and text that is not JSON."""
        if isinstance(self.data, bytes):
            return None
        try:
            return json.loads(self.data)
        except ValueError:
            return None

    @property
    def stream_id(self) -> str | None:
        """The frame's lane: its top-level ``stream_id`` (``None``: the default lane)."""
        parsed = self.parsed
        lane = parsed.get("stream_id") if isinstance(parsed, dict) else None
        return lane if isinstance(lane, str) else None


@dataclass
class WsSession:
    """One WebSocket connection: handshake, ordered frames, and how it closed.

    Args:
        uri: The upgrade request's URI (``ws://`` or ``wss://``).
        headers: The upgrade request's headers (lists of values, like HTTP interactions).
        messages: Every frame, in the order the proxy saw them.
        close_code: The close code (``None``: the connection dropped without a close frame).
        close_reason: The close reason.
        closed_by: ``"client"`` or ``"server"``: who sent the first close frame.
    """

    uri: str
    headers: dict[str, list[str]] = field(default_factory=dict)
    messages: list[WsMessage] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    closed_by: str = "client"


def _frame_to_disk(message: WsMessage, redactor: Redactor | None) -> dict[str, Any]:
    out: dict[str, Any] = {"from": "client" if message.from_client else "server"}
    data = message.data
    if isinstance(data, bytes):
        out["binary"] = redactor.data(data) if redactor is not None else data
    else:
        text = redactor.text(data) if redactor is not None else data
        rendered = bodies.render_json(text.encode("utf-8")) if text[:1] in ("{", "[") else None
        if rendered is None:
            out["text"] = text
        else:
            out.update(rendered)
    lane = message.stream_id
    if lane is not None:
        out["stream_id"] = lane
    if message.t is not None:
        out["t"] = round(message.t, 3)
    return out


def _frame_from_disk(frame: Mapping[str, Any]) -> WsMessage:
    direction = frame.get("from")
    if direction not in ("client", "server"):
        raise ValueError(f"'from' must be client or server, not {direction!r}")
    data: str | bytes
    if "json" in frame:
        raw = bodies.encode({k: frame[k] for k in ("json", "style", "newline") if k in frame}) or b""
        data = raw.decode("utf-8")
    elif "text" in frame:
        data = str(frame["text"])
    elif "binary" in frame:
        value = frame["binary"]
        data = value if isinstance(value, bytes) else str(value).encode("utf-8")
    else:
        raise ValueError("a frame needs json, text or binary")
    t = frame.get("t")
    return WsMessage(direction == "client", data, float(t) if t is not None else None)


def sessions_to_disk(sessions: Sequence[WsSession], redactor: Redactor | None = None) -> list[dict[str, Any]]:
    """The ``websockets:`` list of a cassette (redacted when a redactor is given)."""
    out = []
    for session in sessions:
        headers: dict[str, Any] = dict(session.headers)
        uri = session.uri
        if redactor is not None:
            headers, uri = redactor.header_map(headers), redactor.text(uri)
        out.append(
            {
                "request": {"uri": uri, "headers": headers},
                "messages": [_frame_to_disk(m, redactor) for m in session.messages],
                "close": {
                    "code": int(session.close_code) if session.close_code is not None else None,
                    "reason": session.close_reason,
                    "by": session.closed_by,
                },
            }
        )
    return out


def sessions_from_disk(documents: Any) -> list[WsSession]:
    """Sessions from a cassette's ``websockets:`` list.

    Raises:
        CassetteFormatError: an entry is not a session.
    """
    if documents is None:
        return []
    if not isinstance(documents, list):
        raise CassetteFormatError("'websockets' must be a list of sessions")
    sessions = []
    for index, document in enumerate(documents):
        try:
            request = document["request"]
            close = document.get("close") or {}
            code = close.get("code")
            sessions.append(
                WsSession(
                    uri=str(request["uri"]),
                    headers={
                        str(k): [str(x) for x in (v if isinstance(v, list) else [v])]
                        for k, v in (request.get("headers") or {}).items()
                    },
                    messages=[_frame_from_disk(m) for m in document.get("messages") or []],
                    close_code=int(code) if code is not None else None,
                    close_reason=str(close.get("reason") or ""),
                    closed_by=str(close.get("by") or "client"),
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CassetteFormatError(f"websocket session {index}: {exc!r}") from exc
    return sessions
