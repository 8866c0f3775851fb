"""Scripted replies: what the emulated model says next.

A session holds a FIFO of queued replies. Each create takes the next one; when nothing is queued,
the default deterministic model (:mod:`mockserver.generator`) answers. Replies are plain data so
that they can come from Python, from the admin API (``POST /_resplay/replies``) or from files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import APIError, InvalidRequest

if TYPE_CHECKING:
    from .background import BackgroundTiming

__all__ = [
    "ErrorReply",
    "FunctionCall",
    "FunctionCallsReply",
    "OutputReply",
    "Reply",
    "TextReply",
    "reply_from_json",
]


@dataclass(frozen=True, slots=True)
class TextReply:
    """Answer with an assistant message."""

    text: str
    """The output text."""
    phase: str | None = None
    """``commentary`` or ``final_answer``; ``None`` lets the model decide (SPEC §10)."""
    background: BackgroundTiming | None = None
    """Phase durations when this reply answers a ``background=true`` create (DECISIONS 11)."""


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """One function call the model makes."""

    name: str
    """Function name; it should be one of the request's tools."""
    arguments: str | Mapping[str, Any] = "{}"
    """JSON arguments, as a string or a mapping (serialised compactly)."""
    call_id: str | None = None
    """Fixed ``call_id``; generated when ``None``."""
    namespace: str | None = None
    """Namespace of a namespaced function (SPEC §11)."""


@dataclass(frozen=True, slots=True)
class FunctionCallsReply:
    """Answer with one or more (parallel) function calls, optionally after a commentary note."""

    calls: tuple[FunctionCall, ...]
    """The calls, in output order."""
    commentary: str | None = None
    """A progress note emitted before the calls with ``phase: commentary``."""
    background: BackgroundTiming | None = None
    """Phase durations when this reply answers a ``background=true`` create (DECISIONS 11)."""


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """Answer with an HTTP error (the OpenAI envelope) instead of a response."""

    status: int
    """HTTP status."""
    message: str
    """Error message."""
    type: str = "invalid_request_error"
    """Error type."""
    code: str | None = None
    """Error code."""
    param: str | None = None
    """Offending parameter."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra response headers (e.g. ``retry-after``)."""
    background: BackgroundTiming | None = None
    """Phase durations before a 5xx fails a ``background=true`` job (DECISIONS 11)."""

    def to_error(self) -> APIError:
        """The :class:`APIError` this reply raises."""
        return APIError(
            self.message,
            status=self.status,
            type=self.type,
            code=self.code,
            param=self.param,
            headers=self.headers,
        )


@dataclass(frozen=True, slots=True)
class OutputReply:
    """Answer with an explicit list of output items, in order (reasoning, messages, function calls).

    Item forms: ``{"type": "reasoning", "summary": ["..."], "tokens": 64}``,
    ``{"type": "message", "text": "...", "phase": "final_answer"}``,
    ``{"type": "function_call", "name": "...", "arguments": "{}", "call_id": "...", "namespace": "..."}``.
    """

    items: tuple[Mapping[str, Any], ...]
    """The items' JSON forms."""
    background: BackgroundTiming | None = None
    """Phase durations when this reply answers a ``background=true`` create (DECISIONS 11)."""


Reply = TextReply | FunctionCallsReply | ErrorReply | OutputReply


def reply_from_json(data: Any) -> Reply:
    """Build a reply from its JSON form (admin API and scenario files).

    Forms: ``{"output": [items]}`` (see :class:`OutputReply`), ``{"text": "..."}``,
    ``{"function_calls": [{"name", "arguments"}], "commentary"?}``,
    ``{"function_call": {...}}``, ``{"error": {"status", "message", "type"?, "code"?, "param"?}}``.

    Raises:
        InvalidRequest: the object is not one of these forms.
    """
    if not isinstance(data, Mapping):
        raise InvalidRequest("A reply must be a JSON object.", param="reply")
    if "background" in data:  # any form + {"background": {"queued": s, "in_progress": s}}
        from .background import timing_from_json

        rest = {k: v for k, v in data.items() if k != "background"}
        return dataclasses.replace(reply_from_json(rest), background=timing_from_json(data["background"]))
    try:
        if "output" in data:
            return OutputReply(tuple(dict(item) for item in data["output"]))
        if "text" in data:
            return TextReply(str(data["text"]), phase=data.get("phase"))
        if "function_call" in data or "function_calls" in data:
            raw: Sequence[Any] = data.get("function_calls") or [data.get("function_call")]
            calls = tuple(
                FunctionCall(
                    name=str(c["name"]),
                    arguments=c.get("arguments", "{}"),
                    call_id=c.get("call_id"),
                    namespace=c.get("namespace"),
                )
                for c in raw
            )
            return FunctionCallsReply(calls, commentary=data.get("commentary"))
        if "error" in data:
            e = data["error"]
            return ErrorReply(
                status=int(e.get("status", 400)),
                message=str(e["message"]),
                type=str(e.get("type", "invalid_request_error")),
                code=e.get("code"),
                param=e.get("param"),
                headers=dict(e.get("headers") or {}),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRequest(f"Invalid reply: {exc!s}", param="reply") from exc
    raise InvalidRequest(
        "A reply needs one of 'text', 'function_call', 'function_calls' or 'error'.", param="reply"
    )
