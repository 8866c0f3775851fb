"""HTTP and WebSocket side of faults, rate limits and paced runs (``mockserver.faults``, ``.ratelimit``,
``.latency``).

The :func:`inject` middleware runs on ``/v1`` calls and their Azure aliases (``web/azure.py``) after
authentication: it charges the API key's rate-limit budget, then picks the request's fault (the
``x-resplay-fault`` header, else a fault queued with ``POST /_resplay/faults``, else the seeded chaos
draw) and applies what happens before an answer (``http``, ``delay``, ``timeout``, ``tcp_drop``).
Stream faults are left on the request for the create handler (:func:`answer`). :class:`WsFaults` does
the same per ``response.create`` of a WebSocket connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from typing import Any

import orjson
from aiohttp import web

from .. import faults
from ..engine import Engine, Run
from ..errors import APIError
from ..events import TERMINAL_EVENTS
from ..faults import FAULT_HEADER, Fault
from ..ratelimit import Admission, RateLimiter, estimate_tokens
from ..sse import encode_events
from ..wsmode import Close, Outgoing, WsConnection
from .azure import api_path
from .keys import BODY, ENGINE, RATE_HEADERS, RESPONSE_ID, STREAMED
from .middleware import Handler, journal_headers, prepare_headers, read_json, session_of

__all__ = ["FAULT", "WsFaults", "add_routes", "answer", "inject", "wait_done"]

FAULT = web.RequestKey("fault", Fault)
"""The fault chosen for this request, when it acts on the answer's stream."""
_LIMITER = web.AppKey("rate_limiter", RateLimiter)
_CHAOS = web.AppKey("chaos_pool", list[Fault])


def add_routes(app: web.Application) -> None:
    """The rate limiter, the chaos pool and (with the admin API) ``/_resplay/faults``."""
    config = app[ENGINE].config
    app[_LIMITER] = RateLimiter(config.rate_limit_rpm, config.rate_limit_tpm)
    app[_CHAOS] = faults.chaos_faults(config.chaos_faults)
    if config.admin:
        app.router.add_post("/_resplay/faults", queue_faults)
        app.router.add_get("/_resplay/faults", list_faults)
        app.router.add_delete("/_resplay/faults", clear_faults)


async def queue_faults(request: web.Request) -> web.StreamResponse:
    """``POST /_resplay/faults``: queue one fault or a list (JSON objects or compact strings)."""
    parsed = faults.parse_many(await read_json(request))
    engine = request.app[ENGINE]
    with engine.lock:
        book = engine.session(session_of(request)).faults
        for fault in parsed:
            book.push(fault)
        queued = len(book.queued)
    return web.json_response({"queued": queued})


async def list_faults(request: web.Request) -> web.StreamResponse:
    """``GET /_resplay/faults``: the session's queued faults and the hits each has left."""
    engine = request.app[ENGINE]
    with engine.lock:
        book = engine.session(session_of(request)).faults
        data = [{**fault.to_json(), "left": left} for fault, left in book.queued]
    return web.json_response({"object": "list", "data": data})


async def clear_faults(request: web.Request) -> web.StreamResponse:
    """``DELETE /_resplay/faults``: drop the session's queued faults."""
    engine = request.app[ENGINE]
    with engine.lock:
        cleared = engine.session(session_of(request)).faults.clear()
    return web.json_response({"cleared": cleared})


# ------------------------------------------------------------------------------------------------ HTTP


def _header_fault(headers: Any) -> Fault | None:
    spec = headers.get(FAULT_HEADER)
    if not spec:
        return None
    fault = faults.parse(spec)
    try:
        attempt = int(headers.get("x-stainless-retry-count", "0"))
    except ValueError:
        attempt = 0
    return fault if fault.hits_attempt(attempt) else None


@web.middleware
async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Rate limits, then the request's fault (see the module docstring)."""
    path = api_path(request.path)  # /v1 and its Azure aliases alike
    if path is None:
        return await handler(request)
    if request.headers.get("upgrade", "").lower() == "websocket":
        return await handler(request)  # WebSocket mode: per response.create, in WsFaults
    engine = request.app[ENGINE]
    limiter = request.app[_LIMITER]
    create = request.method == "POST" and path == "/v1/responses"
    body: Any = None
    if create and (limiter.enabled or FAULT_HEADER in request.headers or _may_fault(request, engine)):
        body = await read_json(request)
    if limiter.enabled:
        _charge(request, engine, limiter, body if isinstance(body, dict) else {})
    fault = _header_fault(request.headers)
    if fault is None and create:
        stream = isinstance(body, dict) and body.get("stream") is True
        transport = "sse" if stream else "http"
        with engine.lock:
            state = engine.session(session_of(request))
            fault = state.faults.take(transport)
            if fault is None and engine.config.chaos_rate > 0:
                seed = f"{engine.config.seed}:{state.name}"
                fault = state.faults.chaos(engine.config.chaos_rate, request.app[_CHAOS], transport, seed)
    if fault is None:
        return await handler(request)
    if fault.kind == "http":
        raise faults.http_error(fault, request.get(RATE_HEADERS) if limiter.enabled else None)
    if fault.kind in ("delay", "timeout") and not fault.after_events:
        seconds = fault.delay_seconds
        if not await _hold(request, engine, seconds if seconds is not None else 0.0):
            return _dropped(request, injected=False)
        return await handler(request)
    if fault.kind == "tcp_drop" and not fault.after_events:
        return _dropped(request)
    request[FAULT] = fault
    return await handler(request)


def _may_fault(request: web.Request, engine: Engine) -> bool:
    if engine.config.chaos_rate > 0:
        return True
    with engine.lock:
        return engine.session(session_of(request)).faults.has_queued()


def _charge(request: web.Request, engine: Engine, limiter: RateLimiter, body: dict[str, Any]) -> None:
    with engine.lock:
        admission = _admit(request, engine, limiter, body)
    request[RATE_HEADERS] = admission.headers
    if admission.error is not None:
        raise admission.error


def _admit(request: web.Request, engine: Engine, limiter: RateLimiter, body: dict[str, Any]) -> Admission:
    """Charge the request's API key (call under the engine lock): one request and its estimated tokens."""
    header = request.headers.get("authorization", "")
    key = header[7:].strip() if header[:7].lower() == "bearer " else request.headers.get("api-key", "")
    tokens = 0
    if body:
        text = orjson.dumps([body.get("input"), body.get("instructions"), body.get("tools")])
        tokens = estimate_tokens(len(text), body.get("max_output_tokens"))
    now = engine.session(session_of(request)).clock.now()
    return limiter.admit(key, now, tokens, model=body.get("model") if body else None)


async def _hold(request: web.Request, engine: Engine, seconds: float) -> bool:
    """Wait ``seconds`` of the session clock (forever for ``inf``); ``False`` if the client left."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    timer = None
    with engine.lock:
        if math.isfinite(seconds):
            clock = engine.session(session_of(request)).clock
            timer = clock.call_later(seconds, lambda: _set_threadsafe(loop, wake))
    try:
        while not wake.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), 0.1)
            transport = request.transport
            if not wake.is_set() and (transport is None or transport.is_closing()):
                return False
        return True
    finally:
        if timer is not None:
            with engine.lock:
                timer.cancel()


def _dropped(request: web.Request, *, injected: bool = True) -> web.StreamResponse:
    """``tcp_drop`` (or a client gone during a hold): abort the connection, journal it with status null.

    Nothing more is written: the client sees a dropped connection. The journal entry's error says why
    (``code`` ``tcp_drop`` or ``client_disconnected``; chosen, resplay-only).
    """
    if request.transport is not None:
        request.transport.abort()
    engine = request.app[ENGINE]
    reason = (
        ("Connection dropped by an injected fault (tcp_drop).", "tcp_drop")
        if injected
        else ("The client closed the connection while the answer was held.", "client_disconnected")
    )
    entry = {
        "time": time.time(),
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "transport": "sse" if request.get(STREAMED) else "http",
        "status": None,
        "headers": journal_headers(request),
        "body": request.get(BODY),
        "response_id": request.get(RESPONSE_ID),
        "error": {"message": reason[0], "type": "resplay_fault", "param": None, "code": reason[1]},
    }
    with engine.lock:
        engine.record(entry, session_of(request))
    raise asyncio.CancelledError  # aiohttp ends the handler quietly: the peer is gone


def armed_fault(request: web.Request, engine: Engine) -> Fault | None:
    """The fault acting on this create's answer: the request's, or one a rule armed during create."""
    with engine.lock:
        armed = engine.session(session_of(request)).faults.take_armed()
    return request.get(FAULT) or armed


async def answer(request: web.Request, run: Run, fault: Fault, stream: bool) -> web.StreamResponse:
    """The create's answer under a fault that acts on it (stream faults, mid-stream drops and delays)."""
    engine = request.app[ENGINE]
    if fault.kind == "http":  # armed by a rule
        raise faults.http_error(fault)
    if not stream:
        if fault.kind == "stream_error":
            # A failure mid-generation of a non-streamed create: the 500 the API answers (chosen).
            raise faults.http_error(Fault("http", status=500, message=fault.message))
        if fault.kind in ("delay", "timeout") and not await _hold(
            request, engine, fault.delay_seconds or 0.0
        ):
            return _dropped(request, injected=False)
        if fault.kind == "tcp_drop":
            return _dropped(request)
        await wait_done(request, run)
        return web.Response(body=orjson.dumps(run.response), content_type="application/json")
    await wait_done(request, run)
    with engine.lock:
        events, failed = faults.stream_fault_events(run.events, fault)
        if failed is not None and run.record.stored:
            run.record.response = failed
            engine.store.put(engine.session(session_of(request)).name, run.record)
    cut = fault.after_events if fault.after_events is not None else 0
    request[STREAMED] = True
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
    response.headers["Cache-Control"] = "no-cache"
    prepare_headers(request, response)
    await response.prepare(request)
    if fault.kind in ("tcp_drop", "delay", "timeout"):
        await response.write(encode_events(events[:cut]))
        if fault.kind == "tcp_drop":
            return _dropped(request)
        if not await _hold(request, engine, fault.delay_seconds or 0.0):
            return _dropped(request, injected=False)
        events = events[cut:]
    await response.write(encode_events(events))
    await response.write_eof()
    return response


async def wait_done(request: web.Request, run: Run) -> None:
    """Wait until a paced run has released every event (``mockserver.latency``)."""
    if run.done:
        return
    engine = request.app[ENGINE]
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    with engine.lock:
        unsubscribe = run.subscribe(lambda: _set_threadsafe(loop, wake))
    try:
        while True:
            with engine.lock:
                if run.done:
                    return
            wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), 0.2)
            transport = request.transport
            if transport is None or transport.is_closing():
                raise asyncio.CancelledError
    finally:
        with engine.lock:
            unsubscribe()


# ------------------------------------------------------------------------------------------- WebSocket


class WsFaults:
    """Faults of one WebSocket-mode connection, applied to the frames of each ``response.create``.

    ``http`` faults answer the create with an error frame of their status (a queued error reply);
    the others wait for the create's ``response.created`` frame and then act after ``after_events``
    frames of its lane: ``ws_close`` closes with its code, ``tcp_drop`` aborts the connection,
    ``delay`` holds the frames, ``stream_error`` sends the nested error frame then ``response.failed``.
    """

    def __init__(self, request: web.Request, engine: Engine, conn: WsConnection, wake: asyncio.Event) -> None:
        self._request = request
        self._engine = engine
        self._conn = conn
        self._wake = wake
        self._header = request.headers.get(FAULT_HEADER)
        if self._header:
            faults.parse(self._header)  # a bad header is a 400 before the upgrade
        self._creates = 0
        self._pending: deque[Fault] = deque()
        self._active: Fault | None = None
        self._lane: str | None = None
        self._count = 0
        self._swallow = False
        self._out: deque[Outgoing] = deque()
        self._held_until: float | None = None
        self._snapshot: dict[str, Any] = {}
        self._loop = asyncio.get_running_loop()

    def before_text(self, text: str) -> bool:
        """Called under the engine lock before a client text frame is handled; ``True`` when it was
        answered here (a rate-limit refusal or an ``http`` fault: an error frame, the create never runs)."""
        if '"response.create"' not in text:
            return False
        try:
            body = orjson.loads(text)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(body, dict) or body.get("type") != "response.create":
            return False
        state = self._engine.session(session_of(self._request))
        limiter = self._request.app[_LIMITER]
        if limiter.enabled:
            # Each response.create is a request of the upgrade's API key; a refusal is its 429 error frame.
            admission = _admit(self._request, self._engine, limiter, body)
            if admission.error is not None:
                self._refuse(body, admission.error)
                return True
        fault = None
        if self._header:
            header = faults.parse(self._header)
            fault = header if header.hits_attempt(self._creates) else None
        self._creates += 1
        if fault is None:
            fault = state.faults.take("ws")
        config = self._engine.config
        if fault is None and config.chaos_rate > 0:
            pool = self._request.app[_CHAOS]
            fault = state.faults.chaos(config.chaos_rate, pool, "ws", f"{config.seed}:{state.name}")
        if fault is None:
            return False
        if fault.kind == "http":
            self._refuse(body, faults.http_error(fault))
            return True
        self._pending.append(fault)
        return False

    def _refuse(self, event: dict[str, Any], error: APIError) -> None:
        """Answer ``event`` with a ``ResponseWsError`` frame of the error's status (SPEC §6.3), journalled."""
        inner = (
            {**error.error_object(), "headers": dict(error.headers)}
            if error.headers
            else error.error_object()
        )
        frame: dict[str, Any] = {"type": "error", "status": error.status}
        stream_id = event.get("stream_id")
        if isinstance(stream_id, str):
            frame["stream_id"] = stream_id
        frame.update(sequence_number=None, error=inner)
        self._out.append(frame)
        self._engine.record(
            {
                "time": time.time(),
                "method": "WS",
                "path": self._request.path,
                "query": dict(self._request.query),
                "transport": "ws",
                "status": error.status,
                "headers": journal_headers(self._request),
                "body": event,
                "response_id": None,
                "error": error.error_object(),
            },
            session_of(self._request),
        )
        self._wake.set()

    def next_frame(self) -> Outgoing | None:
        """The next frame to send (called under the engine lock), with the armed faults applied."""
        if self._out:
            return self._out.popleft()
        if self._held_until is not None:
            return None
        while True:
            item = self._conn.next_frame()
            if item is None or isinstance(item, Close):
                return item
            shaped = self._shape(item)
            if shaped is not None or self._held_until is not None:
                return shaped

    def _shape(self, frame: dict[str, Any]) -> Outgoing | None:
        lane = frame.get("stream_id")
        if self._active is None and self._pending and frame.get("type") == "response.created":
            self._active, self._lane, self._count, self._swallow = self._pending.popleft(), lane, 0, False
            self._snapshot = dict(frame.get("response") or {})
        fault = self._active
        if fault is None or lane != self._lane:
            return frame
        if self._swallow:
            if frame.get("type") in TERMINAL_EVENTS:
                self._active = None
            return None
        after = fault.after_events
        if fault.kind == "stream_error":
            after = 2 if after is None else after
        if self._count < (after or 0) and frame.get("type") not in TERMINAL_EVENTS:
            self._count += 1
            return frame
        if fault.kind == "ws_close":
            self._active = None
            self._conn.close()  # the handler then lets the close handshake finish
            return Close(int(fault.code or 1011), fault.reason or "injected fault")
        if fault.kind == "tcp_drop":
            self._active = None
            self._conn.close()
            if self._request.transport is not None:
                self._request.transport.abort()
            return Close(1006, "")
        if fault.kind in ("delay", "timeout"):
            self._active = None
            self._out.append(frame)
            seconds = fault.delay_seconds or 0.0
            if math.isfinite(seconds):
                clock = self._engine.session(session_of(self._request)).clock
                self._held_until = clock.now() + seconds
                clock.call_later(seconds, self._release)
            else:
                self._held_until = math.inf
            return None
        if fault.kind == "stream_error":
            # The failed response is the created snapshot, failed (the frames carry no final object).
            events, _ = faults.stream_fault_events(
                [{"type": "response.created"}] * 2
                + [{"type": "response.completed", "response": self._snapshot}],
                fault,
            )
            seq = int(frame.get("sequence_number") or 0)
            error = events[-2]["error"]
            status = 429 if error.get("code") == "rate_limit_exceeded" else 500
            error_frame: dict[str, Any] = {"type": "error", "status": status}
            if lane is not None:
                error_frame["stream_id"] = lane
            error_frame.update(sequence_number=seq, error=error)
            failed = {
                "type": "response.failed",
                "sequence_number": seq + 1,
                "response": events[-1]["response"],
            }
            if lane is not None:
                failed["stream_id"] = lane
            self._out.append(failed)
            self._swallow = frame.get("type") not in TERMINAL_EVENTS
            if not self._swallow:
                self._active = None
            return error_frame
        self._active = None
        return frame

    def _release(self) -> None:
        self._held_until = None
        self._wake_threadsafe()

    def _wake_threadsafe(self) -> None:
        # Clock timers fire on whichever thread moved the clock: hop to the connection's loop.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._wake.set)


def _set_threadsafe(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
    """Timers and listeners run on whichever thread moved the clock: hop to the serving loop."""
    loop.call_soon_threadsafe(event.set)
