"""A benchmark server process: ``python -m bench.serve resplay|bare [--loop asyncio|uvloop]``.

Both apps are served exactly like ``resplay serve`` serves (``web.AppRunner`` without access log and a
``TCPSite`` on 127.0.0.1), so the only difference between the two is the application:

* ``resplay``: the full emulator (validation, state, sequence numbers, token counting, journal,
  API headers), with the real clock and the start-up heap frozen, as the CLI runs it.
* ``bare``: one aiohttp handler that reads the body and answers fixed bytes: the very JSON body
  or SSE stream resplay answered for the same request (``--json``/``--sse`` files), so both move the
  same number of bytes. It looks for ``"stream":true`` in the raw body instead of parsing it.

The process prints ``ready PORT`` once it listens and stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web


def bare_app(json_file: Path, sse_file: Path) -> web.Application:
    """The baseline: read the request, answer fixed JSON or a fixed SSE stream.

    The files are read on the first request (the bench writes them once resplay has answered, so both
    servers can start at the same time) and kept in memory.
    """
    bodies: dict[bool, bytes] = {}

    def fixed(stream: bool) -> bytes:
        if stream not in bodies:
            bodies[stream] = (sse_file if stream else json_file).read_bytes()
        return bodies[stream]

    async def create(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        if b'"stream":true' not in raw:
            return web.Response(body=fixed(False), content_type="application/json")
        sse_body = fixed(True)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await response.prepare(request)
        await response.write(sse_body)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/responses", create)
    return app


def resplay_app(seed: int | None) -> web.Application:
    """The emulator as ``resplay serve`` builds it (real clock, admin API on for resets)."""
    from mockserver.config import ServerConfig
    from mockserver.engine import Engine
    from mockserver.web import make_app

    return make_app(Engine(ServerConfig(port=0, clock="real", seed=seed)))


async def serve(app: web.Application, host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT; print ``ready PORT`` once listening."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    server = site._server
    assert server is not None and hasattr(server, "sockets")  # asyncio's or uvloop's Server
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    from mockserver.cli import tune_collector

    tune_collector()  # as `resplay serve` does once it listens
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def run(main: Callable[[], Coroutine[Any, Any, None]], loop: str) -> None:
    """Run ``main`` on the asyncio or uvloop event loop."""
    if loop == "uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("app", choices=("resplay", "bare"))
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=None, help="default: none, as `resplay serve`")
    parser.add_argument("--json", type=Path, help="bare: the JSON body to answer")
    parser.add_argument("--sse", type=Path, help="bare: the SSE stream to answer")
    args = parser.parse_args(argv)
    if args.app == "bare":
        if args.json is None or args.sse is None:
            parser.error("bare needs --json and --sse")
        app = bare_app(args.json, args.sse)
    else:
        app = resplay_app(args.seed)

    async def go() -> None:
        await serve(app, args.host, args.port)

    run(go, args.loop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
