"""Section 4: how fast resplay starts.

* In-process ``MockServer`` start+stop (thread mode, as the pytest fixtures use it) vs a bare aiohttp
  ``AppRunner`` started and stopped the same way on its own loop thread, in this process.
* CLI start to ready line: ``python -m mockserver serve --port 0`` until ``resplay listening`` vs a bare
  aiohttp script until its ``ready`` line (both fresh interpreters), and aimock's CLI where installed.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from .report import Report, Row, ratio
from .servers import ROOT, AimockInstall, _env, wait_for_line

__all__ = ["run_startup"]


class _BareThreadServer:
    """The baseline of ``MockServer``: one route, an AppRunner on a private loop thread."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def up() -> web.AppRunner:
            app = web.Application()

            async def ok(request: web.Request) -> web.Response:
                return web.json_response({})

            app.router.add_post("/v1/responses", ok)
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0, reuse_address=True).start()
            return runner

        def run() -> None:
            asyncio.set_event_loop(loop)
            runner = loop.run_until_complete(up())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait()

    def stop(self) -> None:
        assert self._loop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()


def _median_ms(action: Callable[[], None], repeat: int) -> float:
    action()  # first start pays for lazy imports and caches: not what a test run sees per test
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _mockserver_cycle() -> None:
    from mockserver import MockServer

    server = MockServer()
    server.start()
    server.stop()


def _bare_cycle() -> None:
    server = _BareThreadServer()
    server.start()
    server.stop()


_BARE_SCRIPT = """
import asyncio
from aiohttp import web
async def main():
    app = web.Application()
    async def ok(request):
        return web.json_response({})
    app.router.add_post("/v1/responses", ok)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, reuse_address=True)
    await site.start()
    print("ready", site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def _cli_ms(command: list[str], pattern: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            wait_for_line(process, re.compile(pattern), 60)
            times.append(time.perf_counter() - started)
        finally:
            process.terminate()
            process.wait(10)
            assert process.stdout is not None
            process.stdout.close()
    return statistics.median(times) * 1000


def run_startup(
    report: Report, *, repeat: int = 20, cli_repeat: int = 5, aimock: AimockInstall | None = None
) -> None:
    """Measure section 4 and add its rows."""
    ours = _median_ms(_mockserver_cycle, repeat)
    base = _median_ms(_bare_cycle, repeat)
    report.add(
        Row(
            4,
            "in-process `MockServer()` start+stop, median ms (baseline: bare aiohttp AppRunner thread)",
            f"{ours:.1f}",
            f"{base:.1f}",
            ratio(ours, base),
        )
    )
    cli = _cli_ms(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0"], r"resplay listening on", cli_repeat
    )
    bare = _cli_ms([sys.executable, "-c", _BARE_SCRIPT], r"^ready \d+", cli_repeat)
    other = ""
    if aimock is not None and aimock.cli is not None:
        report.extra_versions["aimock"] = aimock.version or "?"
        import shutil
        import tempfile

        node = shutil.which("node") or "node"
        fixtures = Path(tempfile.mkdtemp(prefix="resplay-bench-aimock-start-"))
        (fixtures / "f.json").write_text(
            '{"fixtures": [{"match": {"userMessage": "hi"}, "response": {"content": "hi"}}]}'
        )
        try:
            aim = _cli_ms(
                [node, str(aimock.cli), "--port", "0", "--fixtures", str(fixtures), "--log-level", "info"],
                r"listening on",
                cli_repeat,
            )
            other = f"{aim:.0f}"
        except RuntimeError as exc:
            report.note(f"aimock CLI start not measured: {exc}")
        finally:
            shutil.rmtree(fixtures, ignore_errors=True)
    report.add(
        Row(
            4,
            "CLI start to ready line, median ms (baseline: bare aiohttp script)",
            f"{cli:.0f}",
            f"{bare:.0f}",
            ratio(cli, bare),
            other,
            ratio(cli, float(other)) if other else "",
        )
    )
