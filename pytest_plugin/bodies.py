"""Readable bodies: compressed, JSON and SSE bodies rendered for humans, re-encoded to the exact bytes.

A cassette keeps what the wire carried, but as something a reviewer can read and diff::

    content-encoding gzip / deflate / br   decoded; the header is dropped (the replay is plain)
    application/json                       {"json": <parsed>, "style": ...}   when re-encoding is exact
    text/event-stream                      {"sse": [{"event": ..., "data": <parsed>}, ...]}
    anything else                          {"string": <text>} or {"string": <bytes>} (YAML !!binary)

Every readable form is checked on the way in: it is used only when :func:`encode` gives back the
recorded bytes, byte for byte; otherwise the body stays a plain string. This module is pure.
"""

from __future__ import annotations

import gzip
import importlib
import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mockserver.sse import SSEDecoder

__all__ = ["decode_content", "encode", "encode_json", "encode_sse", "render", "render_json", "render_sse"]

JSON = Any

# JSON layouts seen on the wire: the API answers plain calls indented by 2, streams and SDK requests
# are compact (openai's ``openapi_dumps``), other clients use ``json.dumps`` defaults.
# Each is ``json.dumps`` with those options; ``json.dumps`` builds a new encoder per call for any
# non-default option, so the encoders are built once (same output, a third of the time per event).
_STYLES: dict[str, Callable[[JSON], str]] = {
    "compact": json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode,
    "indent2": json.JSONEncoder(ensure_ascii=False, indent=2).encode,
    "spaced": json.JSONEncoder(ensure_ascii=False).encode,
    "compact-ascii": json.JSONEncoder(separators=(",", ":")).encode,
    "indent2-ascii": json.JSONEncoder(indent=2).encode,
    "spaced-ascii": json.dumps,
}
DEFAULT_STYLE = "compact"


def decode_content(body: bytes, encoding: str) -> bytes | None:
    """Undo ``content-encoding`` (``gzip``, ``deflate``, ``br``; ``identity``), or ``None`` if unsupported.

    ``br`` needs the ``brotli`` (or ``brotlicffi``) package; without it the body stays encoded.
    """
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    try:
        for coding in reversed(codings):
            if coding in ("gzip", "x-gzip"):
                body = gzip.decompress(body)
            elif coding == "deflate":
                try:
                    body = zlib.decompress(body)
                except zlib.error:  # raw deflate without the zlib header
                    body = zlib.decompress(body, -zlib.MAX_WBITS)
            elif coding == "br":
                body = _brotli().decompress(body)
            elif coding != "identity":
                return None
    except Exception:  # corrupt data (zlib.error, OSError, brotli.error) or no brotli package
        return None
    return body


def _brotli() -> Any:
    try:
        return importlib.import_module("brotli")
    except ImportError:
        return importlib.import_module("brotlicffi")


def encode_json(data: JSON, style: str = DEFAULT_STYLE, newline: bool = False) -> bytes:
    """Serialise ``data`` in one of the known layouts (plus a trailing newline if asked)."""
    return (_STYLES[style](data) + ("\n" if newline else "")).encode("utf-8")


def render_json(raw: bytes) -> dict[str, Any] | None:
    """``{"json": parsed, "style"?: ..., "newline"?: True}`` if some layout reproduces ``raw`` exactly."""
    try:
        text = raw.decode("utf-8")
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return None
    newline = text.endswith("\n")
    body = text[:-1] if newline else text
    for style, dump in _STYLES.items():
        if dump(data) == body:
            out: dict[str, Any] = {"json": data}
            if style != DEFAULT_STYLE:
                out["style"] = style
            if newline:
                out["newline"] = True
            return out
    return None


def encode_sse(events: Sequence[Mapping[str, Any]]) -> bytes:
    """Encode readable events back to the stream: ``event:``, ``id:``, ``retry:``, ``data:`` lines.

    Each event has ``data`` (parsed JSON, compact) or ``raw`` (the data text as is); ``comment``
    entries become ``:`` lines.
    """
    out: list[str] = []
    for event in events:
        if "comment" in event:
            out.append(f":{event['comment']}\n")
            continue
        if "data" in event:
            text = _STYLES[str(event.get("style", DEFAULT_STYLE))](event["data"])
        else:
            text = str(event.get("raw", ""))
        _encode_event(out, event, text)
    return "".join(out).encode("utf-8")


def _encode_event(out: list[str], event: Mapping[str, Any], text: str) -> None:
    """Append one event's lines, its data being ``text``."""
    if "event" in event:
        out.append(f"event: {event['event']}\n")
    if "id" in event:
        out.append(f"id: {event['id']}\n")
    if "retry" in event:
        out.append(f"retry: {event['retry']}\n")
    out.extend(f"data: {line}\n" for line in text.split("\n"))
    out.append("\n")


def render_sse(raw: bytes) -> list[dict[str, Any]] | None:
    """The stream as a list of readable events, if :func:`encode_sse` reproduces ``raw`` exactly."""
    decoder = SSEDecoder()
    try:
        messages = decoder.feed(raw) + decoder.flush()
    except UnicodeDecodeError:
        return None
    events: list[dict[str, Any]] = []
    # What encode_sse(events) writes, built from the data texts found to reproduce (no second dump).
    out: list[str] = []
    for message in messages:
        event: dict[str, Any] = {}
        if message.event is not None:
            event["event"] = message.event
        if message.id is not None:
            event["id"] = message.id
        if message.retry is not None:
            event["retry"] = message.retry
        event.update(_sse_data(message.data))
        events.append(event)
        _encode_event(out, event, message.data)
    if "".join(out).encode("utf-8") != raw:
        return None
    return events


def _sse_data(text: str) -> dict[str, Any]:
    """``{"data": parsed, "style"?}`` when a style dumps the parsed text back to ``text``, else ``raw``.

    Either way :func:`encode_sse` writes ``text`` itself for the event.
    """
    try:
        data = json.loads(text)
    except ValueError:
        return {"raw": text}
    for style in ("compact", "compact-ascii", "spaced", "spaced-ascii"):
        if _STYLES[style](data) == text:
            return {"data": data} if style == DEFAULT_STYLE else {"data": data, "style": style}
    return {"raw": text}


def render(raw: bytes | str | None, content_type: str) -> dict[str, Any]:
    """The readable form of a body given its (decoded) bytes and ``content-type``."""
    if raw is None:
        return {"string": None}
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    kind = content_type.split(";")[0].strip().lower()
    if data:
        if kind == "text/event-stream":
            events = render_sse(data)
            if events is not None:
                return {"sse": events}
        if kind == "application/json" or kind.endswith("+json") or data[:1] in (b"{", b"["):
            parsed = render_json(data)
            if parsed is not None:
                return parsed
    try:
        return {"string": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"string": data}


def encode(body: Mapping[str, Any] | None) -> bytes | None:
    """The bytes of a readable body (inverse of :func:`render`)."""
    if body is None:
        return None
    if "sse" in body:
        return encode_sse(body["sse"])
    if "json" in body:
        return encode_json(body["json"], str(body.get("style", DEFAULT_STYLE)), bool(body.get("newline")))
    value = body.get("string")
    if value is None:
        return None
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)
