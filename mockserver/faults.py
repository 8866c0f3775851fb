"""Fault injection: one grammar for the header, the admin API, scripted rules and chaos (DECISIONS 20).

A fault is a JSON object such as ``{"kind": "http", "status": 429, "retry_after": 2}``, or the compact
form ``kind;key=value;...`` that the ``x-resplay-fault`` header carries
(``http;status=429;retry_after_ms=1``). Kinds and their keys:

=================  ====================================================================================
``http``           ``status`` (429, 500, 502, 503, any 4xx/5xx), ``retry_after`` (s), ``retry_after_ms``,
                   ``code``, ``message``, ``type``: an HTTP error in OpenAI's envelope before any response
``delay``          ``ms``: the answer starts ``ms`` later on the session clock (DECISIONS 3)
``timeout``        the answer never starts; the client's own timeout fires (the connection is held)
``sse_cut``        ``after_events`` (default 3): the SSE body ends cleanly after N events, no terminal event
``stream_error``   ``after_events`` (default 2), ``code``, ``message``, ``type``: the nested ``error`` event
                   then ``response.failed`` (DECISIONS 7, the vercel fixture ``openai-error.1.chunks.txt``)
``ws_close``       ``code`` (1000, 1008, 1011, 1012, 1013, ...), ``after_events`` (default 0), ``reason``
``tcp_drop``       ``after_events`` (optional): the connection is aborted (before any byte, or mid-stream)
=================  ====================================================================================

Every kind also takes ``times``: how many requests the fault hits. A queued fault (admin API, rules)
is used up after ``times`` matching creates (default 1); a header fault hits the attempts whose
``x-stainless-retry-count`` is below ``times`` (default: every attempt), so ``times=1`` makes the SDK's
first retry succeed. Pure module: parsing, the per-session book, and the event rewriting of stream faults.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import APIError, InvalidRequest

__all__ = [
    "CHAOS_DEFAULT",
    "FAULT_HEADER",
    "KINDS",
    "STREAM_KINDS",
    "Fault",
    "FaultBook",
    "chaos_faults",
    "http_error",
    "parse",
    "parse_many",
    "stream_fault_events",
]

FAULT_HEADER = "x-resplay-fault"
"""Request header carrying one fault in the compact form."""

KINDS = ("http", "delay", "timeout", "sse_cut", "stream_error", "ws_close", "tcp_drop")
STREAM_KINDS = frozenset({"sse_cut", "stream_error"})
"""Kinds that rewrite a response's event stream (SSE or WebSocket)."""

CHAOS_DEFAULT = (
    "http;status=429;retry_after_ms=1",
    "http;status=500",
    "http;status=502",
    "http;status=503",
    "tcp_drop",
    "ws_close;code=1011",
    "ws_close;code=1012",
    "ws_close;code=1013",
)
"""What ``--chaos-rate`` draws from by default: faults the openai SDK retries or reconnects after."""

_INT_KEYS = frozenset({"status", "retry_after_ms", "after_events", "times"})
_FLOAT_KEYS = frozenset({"retry_after", "ms"})
_STR_KEYS = frozenset({"message", "type", "reason"})

# Bodies: observed wordings where they exist (SPEC §1.4, the HTTP 500 the API answers, D-ERR);
# 502 is chosen (the real one is a proxy's HTML page, docs/errors.md).
_HTTP_DEFAULTS: dict[int, tuple[str, str | None, str]] = {
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached in organization org-resplay on requests per min (RPM): Limit 3, Used 3, "
        "Requested 1. Please try again in {retry}. Visit https://platform.openai.com/account/rate-limits "
        "to learn more.",
    ),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: (
        "server_error",
        None,
        "The engine is currently overloaded, please try again later.",
    ),
}

_STREAM_ERROR_DEFAULTS = {
    "server_error": ("server_error", "Sorry, something went wrong."),  # openai-error-null-code fixture
    "insufficient_quota": (
        "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details. For more information "
        "on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
    ),
}

# ``ResponseError.code`` is a closed Literal in SDK 3.51.0 (SPEC §3.1); others fall back to server_error.
_RESPONSE_ERROR_CODES = frozenset(
    {
        "server_error", "rate_limit_exceeded", "invalid_prompt", "vector_store_timeout", "invalid_image",
        "image_too_large", "image_parse_error", "image_content_policy_violation",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Fault:
    """One parsed fault (see the module docstring for the kinds and keys)."""

    kind: str
    status: int | None = None
    retry_after: float | None = None
    retry_after_ms: int | None = None
    code: str | int | None = None
    """Error code (``http``, ``stream_error``) or close code (``ws_close``)."""
    message: str | None = None
    type: str | None = None
    reason: str | None = None
    ms: float | None = None
    after_events: int | None = None
    times: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``None`` fields left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def applies_to(self, transport: str) -> bool:
        """Whether this fault can hit a request of ``transport`` (``http``, ``sse`` or ``ws``)."""
        if self.kind == "ws_close":
            return transport == "ws"
        if self.kind in STREAM_KINDS:
            return transport in ("sse", "ws")
        return True

    def hits_attempt(self, retry_count: int) -> bool:
        """Header faults: whether attempt ``retry_count`` (``x-stainless-retry-count``) is hit."""
        return self.times is None or retry_count < self.times

    @property
    def delay_seconds(self) -> float | None:
        """Seconds a ``delay`` holds the answer; ``inf`` for ``timeout``; ``None`` otherwise."""
        if self.kind == "timeout":
            return math.inf
        if self.kind == "delay":
            return (self.ms or 0.0) / 1000.0
        return None


def parse(spec: str | Mapping[str, Any]) -> Fault:
    """A :class:`Fault` from its JSON object or compact ``kind;key=value;...`` form.

    This is the function scripted rules call for their ``fault`` entries.

    Raises:
        InvalidRequest: unknown kind or key, a value of the wrong type, or a missing ``status``.
    """
    if not isinstance(spec, str | Mapping):
        raise _bad("a fault must be a JSON object or a 'kind;key=value' string")
    data = _compact(spec) if isinstance(spec, str) else dict(spec)
    kind = data.pop("kind", None)
    if kind not in KINDS:
        raise _bad(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
    values: dict[str, Any] = {"kind": kind}
    for key, raw in data.items():
        if key in _INT_KEYS:
            values[key] = _number(key, raw, integer=True)
        elif key in _FLOAT_KEYS:
            values[key] = _number(key, raw, integer=False)
        elif key in _STR_KEYS:
            values[key] = str(raw)
        elif key == "code":
            values[key] = _number(key, raw, integer=True) if kind == "ws_close" else str(raw)
        else:
            raise _bad(f"unknown fault key {key!r} for kind {kind!r}")
    fault = Fault(**values)
    if kind == "http" and (fault.status is None or not 400 <= fault.status <= 599):
        raise _bad("an 'http' fault needs a 'status' between 400 and 599")
    if kind == "ws_close" and not isinstance(fault.code, int):
        raise _bad("a 'ws_close' fault needs an integer 'code' (e.g. 1011)")
    return fault


def parse_many(spec: Any) -> list[Fault]:
    """One fault or a list of them (the admin API's body)."""
    items = spec if isinstance(spec, list) else [spec]
    return [parse(item) for item in items]


def _compact(text: str) -> dict[str, Any]:
    parts = [p.strip() for p in text.split(";") if p.strip()]
    if not parts:
        raise _bad("empty fault")
    data: dict[str, Any] = {"kind": parts[0]}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        if not sep:
            raise _bad(f"expected key=value, got {part!r}")
        data[key.strip()] = value.strip()
    return data


def _number(key: str, raw: Any, *, integer: bool) -> int | float:
    if isinstance(raw, bool):
        raise _bad(f"{key!r} must be a number")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise _bad(f"{key!r} must be a number, got {raw!r}") from None
    if value < 0 or math.isnan(value):
        raise _bad(f"{key!r} must not be negative")
    if integer:
        if not value.is_integer():
            raise _bad(f"{key!r} must be an integer")
        return int(value)
    return value


def _bad(detail: str) -> InvalidRequest:
    # Chosen wording (docs/errors.md): a resplay-only header / admin body.
    return InvalidRequest(f"Invalid fault: {detail}.", param=FAULT_HEADER, code="invalid_fault")


# ------------------------------------------------------------------------------------------ http faults


def http_error(fault: Fault, rate_headers: Mapping[str, str] | None = None) -> APIError:
    """The :class:`APIError` an ``http`` fault answers: real status, envelope and retry headers.

    A 429 carries ``retry-after`` (whole seconds, rounded up), ``retry-after-ms`` and the
    ``x-ratelimit-*`` headers of an exhausted request budget (SPEC §1.3); other statuses carry the
    retry headers only when the fault sets them.
    """
    status = int(fault.status or 500)
    kind, code, message = _HTTP_DEFAULTS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, "Injected fault.")
    )
    seconds = fault.retry_after
    if fault.retry_after_ms is not None:
        seconds = fault.retry_after_ms / 1000.0
    if seconds is None and status == 429:
        seconds = 1.0
    headers: dict[str, str] = {}
    if seconds is not None:
        headers["retry-after"] = str(max(1, math.ceil(seconds)) if seconds > 0 else 0)
        headers["retry-after-ms"] = str(round(seconds * 1000))
    if status == 429:
        headers.update(rate_headers or exhausted_headers(seconds or 1.0))
    text = fault.message or message.format(retry=format_duration(seconds or 1.0))
    return APIError(
        text,
        status=status,
        type=fault.type or kind,
        code=str(fault.code) if fault.code is not None else code,
        headers=headers,
    )


def exhausted_headers(reset: float, limit_requests: int = 3, limit_tokens: int = 30000) -> dict[str, str]:
    """``x-ratelimit-*`` of a request budget at zero that refills in ``reset`` seconds."""
    return {
        "x-ratelimit-limit-requests": str(limit_requests),
        "x-ratelimit-limit-tokens": str(limit_tokens),
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-remaining-tokens": str(limit_tokens),
        "x-ratelimit-reset-requests": format_duration(reset),
        "x-ratelimit-reset-tokens": "0s",
    }


def format_duration(seconds: float) -> str:
    """The API's reset durations: ``17ms``, ``8.64s``, ``6m0s`` (SPEC §1.3)."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{round(rest, 3):g}s"


# --------------------------------------------------------------------------------------- stream faults


def stream_fault_events(
    events: Sequence[dict[str, Any]], fault: Fault
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The events a stream fault lets through, renumbered; and the failed response, if any.

    ``sse_cut``: the first ``after_events`` events (default 3), nothing after. ``stream_error``: the first
    ``after_events`` (default 2: ``response.created``, ``response.in_progress``), the nested ``error``
    event, then ``response.failed`` (DECISIONS 7); the second value is the failed ``Response`` so that the
    adapter can store it.
    """
    if fault.kind == "sse_cut":
        keep = min(fault.after_events if fault.after_events is not None else 3, max(len(events) - 1, 0))
        return [dict(e) for e in events[:keep]], None
    if fault.kind != "stream_error":
        return [dict(e) for e in events], None
    keep = min(fault.after_events if fault.after_events is not None else 2, max(len(events) - 1, 1))
    out = [dict(e) for e in events[:keep]]
    code = str(fault.code) if fault.code is not None else "server_error"
    kind, message = _STREAM_ERROR_DEFAULTS.get(code, ("server_error", "Sorry, something went wrong."))
    error = {
        "type": fault.type or kind,
        "code": code,
        "message": fault.message or message,
        "param": None,
    }
    out.append({"type": "error", "sequence_number": len(out), "error": error})
    final = dict(events[-1].get("response") or {})
    final.update(
        status="failed",
        output=[],
        usage=None,
        completed_at=None,
        incomplete_details=None,
        error={
            "code": code if code in _RESPONSE_ERROR_CODES else "server_error",
            "message": error["message"],
        },
    )
    out.append({"type": "response.failed", "sequence_number": len(out), "response": final})
    for n, event in enumerate(out):
        event["sequence_number"] = n
    return out, final


# ----------------------------------------------------------------------------------------- the book


@dataclass
class FaultBook:
    """A session's faults: queued ones (admin API, rules) and the seeded chaos draw."""

    queued: deque[list[Any]] = field(default_factory=deque)
    """``[fault, hits left]`` pairs, oldest first."""
    armed: Fault | None = None
    """A fault a rule attached to the create being handled now (taken by the adapter after create)."""
    latency: Any = None
    """A latency profile a rule set for the create being handled now (:mod:`.latency`)."""
    _rng: random.Random | None = None

    def take_latency(self) -> Any:
        """The latency profile armed for the current create, once (``None``: the server's)."""
        prof, self.latency = self.latency, None
        return prof

    def push(self, fault: Fault) -> None:
        """Queue ``fault`` for the next ``fault.times`` (default 1) matching creates."""
        self.queued.append([fault, fault.times if fault.times is not None else 1])

    def arm(self, fault: Fault) -> None:
        """Attach ``fault`` to the create being handled now (for scripted rules)."""
        self.armed = fault

    def take_armed(self) -> Fault | None:
        """The fault armed during the last create, once."""
        fault, self.armed = self.armed, None
        return fault

    def clear(self) -> int:
        """Drop every queued fault; returns how many there were."""
        count = len(self.queued)
        self.queued.clear()
        return count

    def take(self, transport: str) -> Fault | None:
        """The oldest queued fault that applies to ``transport``, counting one hit."""
        for entry in self.queued:
            fault, left = entry
            if fault.applies_to(transport):
                entry[1] = left - 1
                if entry[1] <= 0:
                    self.queued.remove(entry)
                return fault  # type: ignore[no-any-return]
        return None

    def has_queued(self) -> bool:
        """Whether any fault is queued."""
        return bool(self.queued)

    def chaos(self, rate: float, pool: list[Fault], transport: str, seed: str) -> Fault | None:
        """With probability ``rate`` a fault drawn from ``pool`` (those that apply to ``transport``).

        The draws come from a generator seeded with ``seed`` (server seed and session name), so a run
        with ``--seed`` repeats the same faults at the same requests.
        """
        if rate <= 0:
            return None
        if self._rng is None:
            self._rng = random.Random(seed)
        roll = self._rng.random()
        usable = [f for f in pool if f.applies_to(transport)]
        pick = self._rng.choice(usable) if usable else None
        return pick if roll < rate else None


def chaos_faults(specs: Sequence[str]) -> list[Fault]:
    """The chaos pool from ``--chaos-fault`` values, or :data:`CHAOS_DEFAULT` when empty."""
    return [parse(s) for s in (specs or CHAOS_DEFAULT)]
