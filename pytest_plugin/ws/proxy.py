"""The local recording proxy: one aiohttp server for HTTP, SSE and WebSocket traffic of any client.

::

    client ──HTTP/SSE──► proxy ──aiohttp client──► upstream      (vcrpy's aiohttp patch records / replays)
    client ──WebSocket─► proxy ──websockets─────► upstream      (recorder.py tees, replayer.py replays)

HTTP is forwarded with an aiohttp client; the cassette's vcrpy patches (active in the process that runs
the proxy) record the exchange, stream it (SSE reaches the client as it arrives), or answer it from the
cassette without touching the network. WebSocket upgrades are recorded or replayed by the cassette's
:class:`~pytest_plugin.ws.store.WsCassette`. Where a request was meant to go comes from the
``x-resplay-upstream`` header (set by :mod:`~pytest_plugin.ws.intercept`) or the proxy's upstream.

:class:`ProxyServer` runs it in a thread (the pytest plugin, DECISIONS 21); :func:`serve_cassette` runs
it as ``resplay serve --record UPSTREAM_URL --cassette FILE`` / ``resplay serve --replay FILE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from ..errors import CassetteMismatch
from .intercept import UPSTREAM_HEADER
from .recorder import client_headers, record
from .replayer import ReplayMismatch
from .session import WsMessage
from .store import WsCassette

__all__ = ["ProxyServer", "build_app", "serve_cassette"]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
        "accept-encoding",
    }
)
"""Headers the proxy does not pass on (aiohttp sets framing itself and decodes compressed bodies)."""

MISMATCH_STATUS = 400
"""Chosen: a request the cassette cannot answer gets 400 (not 5xx, which SDKs retry with back-off)."""


class _ProxyState:
    def __init__(self, upstream: str | None, store: WsCassette | None, on_http: Callable[[], None] | None):
        self.upstream = upstream
        self.store = store
        self.on_http = on_http
        self.session: aiohttp.ClientSession | None = None
        self.sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    def origin(self, request: web.Request, *, websocket: bool) -> str:
        """``scheme://host:port`` the request was meant for."""
        origin = request.headers.get(UPSTREAM_HEADER)
        if not origin:
            parts = urlsplit(self.upstream or "http://resplay.invalid")
            origin = f"{parts.scheme}://{parts.netloc}"
        scheme, _, rest = origin.partition("://")
        table = {"http": "ws", "https": "wss"} if websocket else {"ws": "http", "wss": "https"}
        return f"{table.get(scheme, scheme)}://{rest}"


_STATE = web.AppKey("resplay_proxy", _ProxyState)


def build_app(
    upstream: str | None, store: WsCassette | None, on_http: Callable[[], None] | None = None
) -> web.Application:
    """The proxy application.

    Args:
        upstream: Base URL requests go to when no ``x-resplay-upstream`` header says otherwise.
        store: The cassette's WebSocket sessions (``None``: WebSocket upgrades are refused).
        on_http: Called after each proxied HTTP exchange (the CLI saves the cassette then).
    """
    app = web.Application(client_max_size=1 << 30)
    app[_STATE] = _ProxyState(upstream, store, on_http)
    app.router.add_route("*", "/{tail:.*}", _handle)
    app.on_startup.append(_startup)
    app.on_shutdown.append(_shutdown)
    return app


async def _startup(app: web.Application) -> None:
    # No timeout: SSE streams and slow models last as long as they last.
    app[_STATE].session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=None), auto_decompress=True
    )


async def _shutdown(app: web.Application) -> None:
    state = app[_STATE]
    for ws in list(state.sockets):
        with contextlib.suppress(Exception):
            await ws.close(code=1001, message=b"resplay proxy shutdown")
    if state.session is not None:
        await state.session.close()


async def _handle(request: web.Request) -> web.StreamResponse:
    state = request.app[_STATE]
    if request.headers.get("upgrade", "").lower() == "websocket":
        return await _websocket(request, state)
    return await _http(request, state)


# ------------------------------------------------------------------------------------------ HTTP
def _mismatch_response(message: str) -> web.Response:
    # OpenAI's error envelope (SPEC §14), so SDKs raise BadRequestError with the diff as its message.
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": "cassette_mismatch"}
    body = {"error": error}
    return web.json_response(body, status=MISMATCH_STATUS)


async def _http(request: web.Request, state: _ProxyState) -> web.StreamResponse:
    from vcr.errors import CannotOverwriteExistingCassetteException

    assert state.session is not None
    target = state.origin(request, websocket=False) + request.path_qs
    skip = HOP_BY_HOP | {UPSTREAM_HEADER}
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in skip]
    body = await request.read()
    try:
        async with state.session.request(
            request.method, target, headers=headers, data=body or None, allow_redirects=False
        ) as answer:
            response = web.StreamResponse(status=answer.status, reason=answer.reason)
            for name, value in answer.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    response.headers.add(name, value)
            await response.prepare(request)
            async for chunk in answer.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
    except CassetteMismatch as exc:  # a BaseException (pytest's Failed): it must not reach the loop
        return _mismatch_response(str(exc))
    except CannotOverwriteExistingCassetteException as exc:
        # vcrpy's aiohttp patch raised it; the cassette kept resplay's own message (with the diff).
        kept = state.store.cassette.mismatches if state.store is not None else []
        return _mismatch_response(kept[-1] if kept else str(exc))
    except aiohttp.ClientError as exc:
        body_ = {"error": {"message": f"resplay proxy: {target}: {exc}", "type": "server_error"}}
        return web.json_response(body_, status=502)
    finally:
        if state.on_http is not None:
            state.on_http()
    return response


# ------------------------------------------------------------------------------------- WebSocket
async def _websocket(request: web.Request, state: _ProxyState) -> web.StreamResponse:
    store = state.store
    if store is None:
        return web.json_response({"error": {"message": "no cassette", "type": "server_error"}}, status=500)
    if store.records():
        uri = state.origin(request, websocket=True) + request.path_qs
        headers = client_headers(request, drop=frozenset({UPSTREAM_HEADER}))
        return await record(request, uri, headers, store, state.sockets)
    ws = web.WebSocketResponse(max_msg_size=0, compress=False, autoping=True)
    await ws.prepare(request)
    state.sockets.add(ws)
    replay = store.take(request.path)
    if replay is None:
        # Fail closed on the first frame, as a mismatch does: an error at once would race the client's
        # first send, and SDKs surface an error event better than a refused handshake.
        message = store.no_session_message(state.origin(request, websocket=True) + request.path_qs)
        store.fail(message)
        frame = await ws.receive()
        if frame.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            await _fail(ws, message)
        return ws
    await _send(ws, replay.start())
    while (close := replay.server_close) is None:
        frame = await ws.receive()
        if frame.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            return ws  # the client closed (or dropped): nothing more to replay on this socket
        try:
            released = replay.receive(frame.data)
        except ReplayMismatch as exc:
            store.fail(str(exc))
            await _fail(ws, str(exc))
            return ws
        await _send(ws, released)
    code, reason = close
    # 1005/1006 ("no close frame") cannot be sent: a recorded drop replays as 1011.
    await ws.close(code=code if code not in (1005, 1006) else 1011, message=reason.encode())
    return ws


async def _send(ws: web.WebSocketResponse, frames: list[WsMessage]) -> None:
    for frame in frames:
        if isinstance(frame.data, str):
            await ws.send_str(frame.data)
        else:
            await ws.send_bytes(frame.data)


async def _fail(ws: web.WebSocketResponse, message: str) -> None:
    """Fail closed: an ``error`` event carrying the diff (SDKs raise it), then close 1008."""
    event = {
        "type": "error",
        "status": MISMATCH_STATUS,
        "error": {
            "type": "invalid_request_error",
            "code": "cassette_mismatch",
            "message": message,
            "param": None,
        },
    }
    with contextlib.suppress(Exception):
        await ws.send_str(json.dumps(event))
    await ws.close(code=1008, message=b"resplay: cassette mismatch")


# ------------------------------------------------------------------------------------ runners
class ProxyServer:
    """The proxy on ``127.0.0.1`` in a background thread with its own event loop.

    Args:
        upstream: Base URL of the upstream (``http://127.0.0.1:8700/v1``); its path is the proxy's too.
        store: The cassette's WebSocket sessions.
        host: Interface to listen on.
        port: Port (0 picks a free one).
    """

    def __init__(
        self, *, upstream: str | None, store: WsCassette | None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.upstream = upstream
        self.store = store
        self.host = host
        self.port = port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The proxy's URL with the upstream's path: the ``base_url`` / ``OPENAI_BASE_URL`` for clients."""
        path = urlsplit(self.upstream or "").path.rstrip("/") or "/v1"
        return self.url + path

    @property
    def websocket_base_url(self) -> str:
        """The ``websocket_base_url`` for clients (``ws://127.0.0.1:PORT/v1``)."""
        return "ws" + self.base_url[len("http") :]

    def start(self) -> ProxyServer:
        """Start listening (returns once the port is bound)."""
        self._thread = threading.Thread(target=self._run, name="resplay-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = web.AppRunner(build_app(self.upstream, self.store), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            self.port = runner.addresses[0][1]
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def stop(self) -> None:
        """Close open connections (1001) and stop."""
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    def __enter__(self) -> ProxyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_cassette(
    *, record: str | None, replay: str | None, cassette: str | None, host: str, port: int
) -> int:
    """``resplay serve --record UPSTREAM_URL --cassette FILE`` or ``resplay serve --replay FILE``.

    Recording starts the cassette afresh and writes it (atomically) after every exchange, so stopping
    the proxy at any time keeps everything recorded so far. Replay is strict and offline; at shutdown
    it prints what was not replayed and what did not match, and exits 1 on a mismatch.
    """
    from ..http import CassetteOptions, CassetteSession
    from .intercept import router_for

    if record and replay:
        print("resplay: --record and --replay exclude each other", file=sys.stderr)  # noqa: T201
        return 2
    path = cassette if record else replay
    if not path:
        print("resplay: --record needs --cassette FILE", file=sys.stderr)  # noqa: T201
        return 2
    options = CassetteOptions(record_mode="rewrite" if record else "none", allow_unused=True)
    session = CassetteSession(Path(path), options)
    loaded = session.start()
    store = router_for(loaded).store

    def save() -> None:
        loaded._save(force=True)

    if record:
        store.on_change = save
    try:
        asyncio.run(_serve_cli(record, store, save if record else None, host, port, path))
    except OSError as exc:
        print(f"resplay: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)  # noqa: T201
        return 1
    finally:
        session.stop(passed=bool(record))
    if replay:
        return _report(loaded, store)
    return 0


async def _serve_cli(
    upstream: str | None,
    store: WsCassette,
    on_http: Callable[[], None] | None,
    host: str,
    port: int,
    path: str,
) -> None:
    runner = web.AppRunner(build_app(upstream, store, on_http), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        base = urlsplit(upstream or "").path.rstrip("/") or "/v1"
        what = f"recording {upstream} into {path}" if upstream else f"replaying {path}"
        print(f"resplay proxy listening on http://{bound_host}:{bound_port}{base} ({what})", flush=True)  # noqa: T201
        await stop.wait()
    finally:
        await runner.cleanup()


def _report(cassette: Any, store: WsCassette) -> int:
    unused_http = cassette.unused()
    unused_ws = store.unused()
    if unused_http or unused_ws:
        print(  # noqa: T201
            f"resplay: not replayed: {len(unused_http)} HTTP interaction(s), "
            f"{len(unused_ws)} WebSocket session(s)",
            file=sys.stderr,
        )
    for message in cassette.mismatches:
        print(message, file=sys.stderr)  # noqa: T201
    return 1 if cassette.mismatches else 0
