"""Server processes under test: resplay and the bare handler (``bench.serve``), and aimock (npm).

Each server runs in its own process on 127.0.0.1 with a free port, announced on a ready line. aimock
(``@copilotkit/aimock``) is installed with npm into a folder under the system temp directory (kept
between runs, so only the first ``make bench`` pays for the install); where npm is missing or the
install fails, aimock is skipped and the reason is shown under the table.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ROOT",
    "AimockInstall",
    "Pending",
    "ServerProcess",
    "aimock_install",
    "spawn_bench_server",
    "start_aimock",
    "start_bench_server",
]

ROOT = Path(__file__).resolve().parents[1]
AIMOCK_PACKAGE = "@copilotkit/aimock"
AIMOCK_DIR = Path(tempfile.gettempdir()) / "resplay-bench-aimock"


@dataclass
class ServerProcess:
    """A running server process."""

    name: str
    process: subprocess.Popen[str]
    port: int
    started_s: float
    """Seconds from spawn to the ready line."""
    notes: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()


def wait_for_line(process: subprocess.Popen[str], pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
    """Read stdout until a line matches ``pattern`` (the process is killed on timeout or exit).

    Reads the pipe's file descriptor directly: a buffered ``readline`` could hold the ready line in its
    buffer while ``select`` waits for more bytes that never come.
    """
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + timeout
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buffer += chunk
            for line in buffer.decode(errors="replace").splitlines():
                match = pattern.search(line)
                if match:
                    return match
    process.kill()
    process.wait()
    raise RuntimeError(f"server did not become ready; output: {buffer.decode(errors='replace')[-2000:]!r}")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("RESPLAY_API_KEY", None)
    return env


@dataclass
class Pending:
    """A spawned server whose ready line has not been read yet."""

    name: str
    process: subprocess.Popen[str]
    spawned: float

    def ready(self) -> ServerProcess:
        """Wait for ``ready PORT`` (the process is killed if it never comes)."""
        match = wait_for_line(self.process, re.compile(r"^ready (\d+)"), 60)
        return ServerProcess(self.name, self.process, int(match.group(1)), time.perf_counter() - self.spawned)

    def kill(self) -> None:
        """Stop a server that was never waited for."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def spawn_bench_server(app: str, *, loop: str = "asyncio", extra: list[str] | None = None) -> Pending:
    """Spawn ``python -m bench.serve APP``; :meth:`Pending.ready` waits for it.

    Spawning several servers before waiting for any lets their interpreters start in parallel.
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.serve", app, "--loop", loop, *(extra or [])],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return Pending(f"{app}/{loop}", process, started)


def start_bench_server(app: str, *, loop: str = "asyncio", extra: list[str] | None = None) -> ServerProcess:
    """Start ``python -m bench.serve APP`` and wait until it listens."""
    return spawn_bench_server(app, loop=loop, extra=extra).ready()


@dataclass
class AimockInstall:
    """Where aimock's CLI is, or why it is not there."""

    cli: Path | None
    version: str | None
    note: str | None


def aimock_install(folder: Path = AIMOCK_DIR, timeout: float = 240) -> AimockInstall:
    """Install aimock with npm into ``folder`` (reused when already there)."""
    package_json = folder / "node_modules" / "@copilotkit" / "aimock" / "package.json"
    if not package_json.exists():
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            return AimockInstall(None, None, "aimock skipped: npm/node not installed")
        folder.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(folder),
                    "--no-audit",
                    "--no-fund",
                    "--silent",
                    AIMOCK_PACKAGE,
                ],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=True,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            return AimockInstall(None, None, f"aimock skipped: npm install {AIMOCK_PACKAGE} failed ({exc})")
    try:
        meta = json.loads(package_json.read_text())
    except (OSError, ValueError) as exc:
        return AimockInstall(None, None, f"aimock skipped: broken install in {folder} ({exc})")
    # The flag-style CLI (``llmock``) takes --fixtures and --chunk-size; ``aimock`` needs a config file.
    cli = package_json.parent / meta.get("bin", {}).get("llmock", "dist/cli.js")
    if not cli.exists():
        return AimockInstall(None, meta.get("version"), f"aimock skipped: no CLI at {cli}")
    return AimockInstall(cli, meta.get("version"), None)


def start_aimock(install: AimockInstall, text: str, chunk_size: int) -> ServerProcess:
    """Serve ``text`` for the user message ``hello``, streamed ``chunk_size`` characters per delta."""
    assert install.cli is not None
    fixtures = Path(tempfile.mkdtemp(prefix="resplay-bench-aimock-fixtures-"))
    (fixtures / "bench.json").write_text(
        json.dumps({"fixtures": [{"match": {"userMessage": "hello"}, "response": {"content": text}}]})
    )
    node = shutil.which("node") or "node"
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            node,
            str(install.cli),
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--fixtures",
            str(fixtures),
            "--chunk-size",
            str(chunk_size),
            "--log-level",
            "info",  # quieter levels also hide the ready line; info logs nothing per request
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    match = wait_for_line(process, re.compile(r"listening on http://127\.0\.0\.1:(\d+)"), 30)
    _drain(process)
    return ServerProcess("aimock", process, int(match.group(1)), time.perf_counter() - started)


def _drain(process: subprocess.Popen[str]) -> None:
    """Keep reading a server's output so a full pipe can never block it."""

    def read() -> None:
        assert process.stdout is not None
        with contextlib.suppress(ValueError, OSError):
            for _ in process.stdout:
                pass

    threading.Thread(target=read, daemon=True).start()
