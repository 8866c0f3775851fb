"""Closed-loop HTTP load generators with one result shape: ``wrk`` and an aiohttp fallback.

``wrk`` (Debian package ``wrk``) is the default: one thread, a Lua script that sets the POST body and
headers once and prints exact percentiles as JSON from ``done()``. On a 2-core machine the generator
competes with the server for CPU, so it must be cheap per request; wrk costs a few microseconds,
an aiohttp client ~100 µs. Where wrk is missing the aiohttp generator runs in its own process
(``python -m bench.loadgen``) and the table says which one measured.

Every run is bounded: a fixed duration, or a fixed number of requests for the smoke mode.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["LoadResult", "aiohttp_load", "process_cpu_seconds", "run_load", "wrk_path"]


@dataclass
class LoadResult:
    """One load run against one server."""

    tool: str
    """``wrk`` or ``aiohttp``."""
    connections: int
    requests: int
    """Completed requests (any status)."""
    seconds: float
    errors: int
    """Socket errors, timeouts and non-2xx answers."""
    p50_ms: float
    p99_ms: float
    server_cpu_us: float = 0.0
    """Server process CPU time (user + system) per completed request, when measured (Linux)."""

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (``/proc``; ``None`` elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk_path() -> str | None:
    """The ``wrk`` binary, if installed."""
    return shutil.which("wrk")


def _lua_long_string(text: str) -> str:
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


_WRK_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\n@@RESULT {"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_script(body: bytes, headers: Mapping[str, str]) -> str:
    """The Lua script: a static request (built once by wrk) and a JSON summary."""
    lines = ['wrk.method = "POST"', f"wrk.body = {_lua_long_string(body.decode())}"]
    for name, value in headers.items():
        lines.append(f"wrk.headers[ {_lua_long_string(name)} ] = {_lua_long_string(value)}")
    return "\n".join(lines) + "\n" + _WRK_DONE


def wrk_load(
    url: str, body: bytes, headers: Mapping[str, str], *, connections: int, duration: float
) -> LoadResult:
    """Run wrk (one thread) for ``duration`` seconds."""
    binary = wrk_path()
    if binary is None:
        raise RuntimeError("wrk is not installed")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(wrk_script(body, headers))
        script = f.name
    try:
        seconds = max(1, round(duration))
        out = subprocess.run(
            [binary, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", script, url],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        ).stdout
    finally:
        Path(script).unlink(missing_ok=True)
    line = next(x for x in out.splitlines() if x.startswith("@@RESULT "))
    data = json.loads(line.removeprefix("@@RESULT "))
    return LoadResult(
        tool="wrk",
        connections=connections,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=data["errors"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
    )


async def aiohttp_load(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    connections: int,
    duration: float | None = None,
    requests: int | None = None,
) -> LoadResult:
    """``connections`` workers on keep-alive connections, until ``duration`` or ``requests`` run out."""
    import aiohttp

    if duration is None and requests is None:
        raise ValueError("give a duration or a request count")
    latencies: list[float] = []
    errors = 0
    budget = requests
    start = time.perf_counter()
    deadline = start + duration if duration is not None else float("inf")

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors, budget
        while time.perf_counter() < deadline:
            if budget is not None:
                if budget <= 0:
                    return
                budget -= 1
            sent = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=dict(headers)) as response:
                    await response.read()
                    if response.status >= 300:
                        errors += 1
            except (aiohttp.ClientError, asyncio.TimeoutError):
                errors += 1
            latencies.append(time.perf_counter() - sent)

    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return LoadResult(
        tool="aiohttp",
        connections=connections,
        requests=len(latencies),
        seconds=elapsed,
        errors=errors,
        p50_ms=_percentile(latencies, 50) * 1000,
        p99_ms=_percentile(latencies, 99) * 1000,
    )


def _percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def run_load(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    connections: int,
    duration: float,
    tool: str,
    requests: int | None = None,
) -> LoadResult:
    """One bounded run with ``tool`` (``wrk`` or ``aiohttp``); the aiohttp client runs in a child process.

    ``requests`` (aiohttp only) stops after that many requests instead of after ``duration``; with
    ``tool="aiohttp-inline"`` the client runs in this process (smoke mode: no interpreter start-up).
    """
    if tool == "wrk":
        return wrk_load(url, body, headers, connections=connections, duration=duration)
    if tool == "aiohttp-inline":
        return asyncio.run(
            aiohttp_load(url, body, headers, connections=connections, duration=duration, requests=requests)
        )
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as f:
        f.write(body)
        body_file = f.name
    try:
        command = [
            sys.executable,
            "-m",
            "bench.loadgen",
            url,
            body_file,
            "-c",
            str(connections),
            "-d",
            str(duration),
        ]
        if requests is not None:
            command += ["-n", str(requests)]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        out = subprocess.run(
            command, capture_output=True, text=True, timeout=duration + 60, check=True
        ).stdout
    finally:
        Path(body_file).unlink(missing_ok=True)
    return LoadResult(**json.loads(out.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description="aiohttp load generator")
    parser.add_argument("url")
    parser.add_argument("body_file", type=Path)
    parser.add_argument("-c", "--connections", type=int, default=32)
    parser.add_argument("-d", "--duration", type=float, default=None)
    parser.add_argument("-n", "--requests", type=int, default=None)
    parser.add_argument("-H", "--header", action="append", default=[])
    args = parser.parse_args(argv)
    headers = dict(h.split(": ", 1) for h in args.header)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = runner(
        aiohttp_load(
            args.url,
            args.body_file.read_bytes(),
            headers,
            connections=args.connections,
            duration=args.duration,
            requests=args.requests,
        )
    )
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
