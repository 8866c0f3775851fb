"""Recording one WebSocket connection: a tee between the client's socket and the upstream's.

The client side is the proxy's aiohttp ``WebSocketResponse``; the upstream side is a ``websockets``
client (not aiohttp's, which vcrpy patches for HTTP). Frames are forwarded as they arrive, in both
directions, and logged with their time since the connection opened. Whoever closes first decides the
recorded close: the client's close is passed upstream, the upstream's close code (1000, 1011, 1012…)
is passed to the client, so the recording and the live run see the same ending.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, MutableSet

from aiohttp import WSMsgType, web
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from .intercept import UpstreamConnect
from .session import WsMessage, WsSession
from .store import WsCassette

__all__ = ["client_headers", "record"]

HANDSHAKE_HEADERS = frozenset(
    {
        "host",
        "upgrade",
        "connection",
        "content-length",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-accept",
    }
)
"""Headers ``websockets`` writes itself for the upstream handshake."""


def client_headers(request: web.Request, *, drop: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """The upgrade request's headers as lists, without the handshake's own and ``drop``."""
    out: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        if name.lower() not in HANDSHAKE_HEADERS and name.lower() not in drop:
            out.setdefault(str(name), []).append(str(value))
    return out


async def record(
    request: web.Request,
    upstream_uri: str,
    headers: Mapping[str, list[str]],
    store: WsCassette,
    sockets: MutableSet[web.WebSocketResponse] | None = None,
) -> web.StreamResponse:
    """Proxy one connection to ``upstream_uri`` and add its recording to ``store``.

    The client's socket is added to ``sockets`` (the proxy closes those with 1001 when it stops).
    """
    forwarded = [(name, value) for name, values in headers.items() for value in values]
    try:
        upstream = await UpstreamConnect(
            upstream_uri,
            additional_headers=forwarded,
            user_agent_header=None,
            compression=None,
            max_size=None,
            ping_interval=None,
            open_timeout=30,
        )
    except InvalidStatus as exc:
        # The upstream refused the upgrade (401, 404, 429…): the client sees the same answer.
        answer = exc.response
        kind = answer.headers.get("content-type", "application/json").split(";")[0]
        return web.Response(status=answer.status_code, body=answer.body, content_type=kind)
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        return web.json_response(
            {"error": {"message": f"resplay proxy: upstream {upstream_uri}: {exc}", "type": "server_error"}},
            status=502,
        )
    ws = web.WebSocketResponse(max_msg_size=0, compress=False, autoping=True)
    await ws.prepare(request)
    if sockets is not None:
        sockets.add(ws)
    session = WsSession(uri=upstream_uri, headers=dict(headers))
    loop = asyncio.get_running_loop()
    opened = loop.time()
    to_upstream = asyncio.create_task(_client_to_upstream(ws, upstream, session, loop, opened))
    to_client = asyncio.create_task(_upstream_to_client(ws, upstream, session, loop, opened))
    try:
        done, _ = await asyncio.wait({to_upstream, to_client}, return_when=asyncio.FIRST_COMPLETED)
        if to_upstream in done:
            # The client closed first: pass its close upstream, keep what the upstream still says.
            code, reason = to_upstream.result()
            session.closed_by, session.close_code, session.close_reason = "client", code, reason
            with contextlib.suppress(Exception):
                # 1005/1006 mean "no close frame" and cannot be sent on.
                await upstream.close(code if code not in (None, 1005, 1006) else 1000, reason)
            await to_client
        else:
            # The upstream closed first (or dropped): the client gets the same code.
            rcvd = upstream.protocol.close_rcvd
            code = rcvd.code if rcvd is not None else 1006
            reason = rcvd.reason if rcvd is not None else ""
            session.closed_by, session.close_code, session.close_reason = "server", code, reason
            if not ws.closed:
                # 1005/1006 cannot be sent in a close frame; a drop is passed on as 1011.
                await ws.close(code=code if code not in (1005, 1006) else 1011, message=reason.encode())
            await to_upstream
    finally:
        for task in (to_upstream, to_client):
            task.cancel()
        with contextlib.suppress(Exception):
            await upstream.close()
        store.add(session)
    return ws


async def _client_to_upstream(
    ws: web.WebSocketResponse,
    upstream: ClientConnection,
    session: WsSession,
    loop: asyncio.AbstractEventLoop,
    opened: float,
) -> tuple[int | None, str]:
    """Forward client frames until the client closes; returns its close code and reason."""
    while True:
        message = await ws.receive()
        if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            session.messages.append(WsMessage(True, message.data, loop.time() - opened))
            try:
                await upstream.send(message.data)
            except ConnectionClosed:
                continue  # the upstream is closing: its side ends the recording
        elif message.type == WSMsgType.CLOSE:
            return ws.close_code, str(message.extra or "")
        elif message.type in (WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return ws.close_code, ""


async def _upstream_to_client(
    ws: web.WebSocketResponse,
    upstream: ClientConnection,
    session: WsSession,
    loop: asyncio.AbstractEventLoop,
    opened: float,
) -> None:
    """Forward upstream frames until the upstream closes."""
    with contextlib.suppress(ConnectionClosed):
        async for data in upstream:
            session.messages.append(WsMessage(False, data, loop.time() - opened))
            if ws.closed:
                continue
            try:
                if isinstance(data, str):
                    await ws.send_str(data)
                else:
                    await ws.send_bytes(data)
            except ConnectionError:
                continue
