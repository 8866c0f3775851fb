"""WebSocket mode on ``GET /v1/responses`` (SPEC §6): a pump around :class:`mockserver.wsmode.WsConnection`.

Per connection, two tasks share one :class:`~mockserver.wsmode.WsConnection` under ``Engine.lock``::

    handler (reader)   ws frames ──► conn.receive_text / receive_binary ──► wake
    sender  (writer)   wake ──► conn.next_frame() ──► JSON text frame | close

The reader handles every frame already received before the writer runs, so a ``response.create`` that
arrives with (or while) another one is in flight is queued behind it, as the lane rules say. The bearer
key is checked by the ``authenticate`` middleware before the upgrade (401 envelope, no upgrade); the
session comes from the upgrade's ``x-resplay-session`` header. The upgrade and every client event are
journalled with ``transport: "ws"`` (client events with ``method: "WS"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import orjson
from aiohttp import WSMsgType, web

from ..engine import Engine
from ..errors import NotFound
from ..wsmode import Close, WsConnection
from .faults import WsFaults
from .keys import ENGINE, WS_UPGRADED
from .middleware import journal_headers, prepare_headers, session_of

__all__ = ["LIVE_CONNECTIONS", "LiveConnections", "add_routes"]

logger = logging.getLogger("resplay")


class LiveConnections:
    """The open WebSocket-mode connections of one application (closed with 1001 at shutdown)."""

    def __init__(self) -> None:
        self.sockets: set[web.WebSocketResponse] = set()
        self.handlers: set[asyncio.Task[object]] = set()
        """The handler task of each open connection (tests await them to see nothing keeps running)."""

    def __len__(self) -> int:
        return len(self.sockets)

    async def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until every handler has returned; ``False`` if ``timeout`` passed first."""
        pending = {t for t in self.handlers if not t.done()}
        if not pending:
            return True
        _, still = await asyncio.wait(pending, timeout=timeout)
        return not still


LIVE_CONNECTIONS = web.AppKey("ws_live_connections", LiveConnections)
"""Open WebSocket-mode connections."""


def add_routes(app: web.Application) -> None:
    """Register the WebSocket upgrade of ``GET /v1/responses`` and its shutdown hook."""
    app[LIVE_CONNECTIONS] = LiveConnections()
    app.router.add_get("/v1/responses", websocket_responses, allow_head=False)
    app.on_shutdown.append(_close_all)


async def websocket_responses(request: web.Request) -> web.StreamResponse:
    """``GET /v1/responses`` upgraded to WebSocket mode; without an upgrade it is an unknown URL."""
    # max_msg_size=0: the frame limit is enforced by WsConnection, which answers with an error event
    # instead of aiohttp's close 1009, so the connection stays usable.
    # compress=False: permessage-deflate is an extension the server may decline (RFC 7692 §5; clients,
    # the openai SDK's websockets included, then send and read plain frames). On loopback deflating ~50
    # small frames per turn cost ~250 µs of server CPU a turn for nothing (docs/performance.md).
    ws = web.WebSocketResponse(max_msg_size=0, compress=False, autoping=True)
    if not ws.can_prepare(request).ok:
        raise NotFound(f"Invalid URL ({request.method} {request.path})")
    engine = request.app[ENGINE]
    live = request.app[LIVE_CONNECTIONS]
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    headers = journal_headers(request)
    request[WS_UPGRADED] = True
    with engine.lock:
        engine.record(_upgrade_entry(request, headers), session_of(request))
        conn = WsConnection(
            engine,
            session_of(request),
            journal={"path": request.path, "query": dict(request.query), "headers": headers},
            on_wake=lambda: _wake_threadsafe(loop, wake),
        )
        try:  # faults per response.create (web/faults.py); a bad x-resplay-fault is a 400, no upgrade
            shaper = WsFaults(request, engine, conn, wake)
        except BaseException:
            conn.close()
            raise
    prepare_headers(request, ws)
    try:
        await ws.prepare(request)
    except BaseException:
        with engine.lock:
            conn.close()
        raise
    handler = asyncio.current_task()
    assert handler is not None
    live.sockets.add(ws)
    live.handlers.add(handler)
    sender = asyncio.create_task(_send_frames(ws, shaper, engine, wake))
    try:
        async for message in ws:
            with engine.lock:
                if message.type is WSMsgType.TEXT:
                    if not shaper.before_text(message.data):  # faults, rate limits (web/faults.py)
                        conn.receive_text(message.data)
                elif message.type is WSMsgType.BINARY:
                    conn.receive_binary(message.data)
            if message.type is WSMsgType.ERROR:
                break
            wake.set()
    finally:
        with engine.lock:
            server_closed = conn.closed
            conn.close()
        if server_closed and not sender.done():
            # The sender is finishing its close handshake: let it, so the close code stays 1000.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(sender), 5)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        live.sockets.discard(ws)
        live.handlers.discard(handler)
    return ws


async def _send_frames(
    ws: web.WebSocketResponse, conn: WsConnection | WsFaults, engine: Engine, wake: asyncio.Event
) -> None:
    """Send what the connection has, then sleep until woken.

    Every frame that is ready is taken under one hold of the engine lock (a response's whole event
    stream is usually ready at once), then written; each event is one JSON text frame, the same JSON as
    the SSE data line (SPEC §6.1).
    """
    try:
        while True:
            wake.clear()
            batch: list[bytes] = []
            close: Close | None = None
            with engine.lock:
                while (item := conn.next_frame()) is not None:
                    if isinstance(item, Close):
                        close = item
                        break
                    batch.append(orjson.dumps(item))
            if batch:
                await _send_batch(ws, batch)
            if close is not None:
                await ws.close(code=close.code, message=close.reason.encode())
                return
            if not batch:
                await wake.wait()
    except (ConnectionError, RuntimeError):
        return  # the client went away mid-response; the handler cleans up
    except Exception:
        logger.exception("resplay: unhandled error while sending WebSocket frames")
        with contextlib.suppress(Exception):
            await ws.close(code=1011, message=b"internal error")


class _Collector:
    """Stands in for the transport while aiohttp frames a batch, so the batch leaves in one write."""

    __slots__ = ("chunks", "transport")

    def __init__(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.chunks: list[bytes] = []

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.chunks.append(bytes(data))


async def _send_batch(ws: web.WebSocketResponse, batch: list[bytes]) -> None:
    """Send ready frames as one socket write.

    A response's events are usually all ready at once: framed one by one, each frame was its own
    ``send()`` system call (48 for a short answer), which made a WebSocket turn slower than the same
    turn over SSE (one write; docs/performance.md). aiohttp still builds every frame (header, RSV bits,
    permessage-deflate, flow-control accounting); only its transport writes are gathered. On an aiohttp
    whose writer looks different, frames go out one by one as before.
    """
    writer = getattr(ws, "_writer", None)
    transport = getattr(writer, "transport", None)
    if writer is None or transport is None or len(batch) == 1:
        for frame in batch:
            await ws.send_frame(frame, WSMsgType.TEXT)
        return
    collector = _Collector(transport)
    writer.transport = collector
    try:
        for frame in batch:
            await ws.send_frame(frame, WSMsgType.TEXT)
    finally:
        writer.transport = transport
        if collector.chunks and not transport.is_closing():
            transport.write(b"".join(collector.chunks))


async def _close_all(app: web.Application) -> None:
    """``on_shutdown``: close open connections with 1001 so the runner does not wait for them."""
    live = app[LIVE_CONNECTIONS]
    for ws in list(live.sockets):
        with contextlib.suppress(Exception):
            await ws.close(code=1001, message=b"server shutdown")
    await live.wait_closed(timeout=5)


def _wake_threadsafe(loop: asyncio.AbstractEventLoop, wake: asyncio.Event) -> None:
    """Clock timers fire on whichever thread moved the clock (``MockServer.advance``, the ticker)."""
    loop.call_soon_threadsafe(wake.set)


def _upgrade_entry(request: web.Request, headers: dict[str, str]) -> dict[str, object]:
    return {
        "time": time.time(),
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "transport": "ws",
        "status": 101,
        "headers": headers,
        "body": None,
        "response_id": None,
        "error": None,
    }
