"""Sections 1-2: non-streaming and streaming ``POST /v1/responses`` under load.

resplay runs with everything on (validation, store, journal, sequence numbers, exact token counts,
API headers). The bare aiohttp handler answers the very bytes resplay answered for the same request;
aimock answers the same text, its chunk size picked so its stream has at least as many events.

Runs are interleaved (resplay, bare, aimock at each connection count) so drift on a shared machine
hits all three alike; resplay's state is reset before each run so every run starts from the same
store size.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .loadgen import LoadResult, process_cpu_seconds, run_load
from .report import Report, Row, fmt_ms, fmt_rate, ratio
from .servers import Pending, ServerProcess, aimock_install, spawn_bench_server, start_aimock

__all__ = ["HttpConfig", "probe", "run_http"]

MODEL = "gpt-4.1-mini"
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
BODY_JSON = json.dumps({"model": MODEL, "input": "hello"}, separators=(",", ":")).encode()
BODY_SSE = json.dumps({"model": MODEL, "input": "hello", "stream": True}, separators=(",", ":")).encode()


@dataclass
class HttpConfig:
    """How long and how wide the HTTP runs are."""

    connections: tuple[int, ...] = (1, 32, 256)
    duration: float = 3.0
    warmup: float = 1.0
    tool: str = "wrk"
    uvloop: bool = True
    """Also measure resplay and bare on uvloop (at 32 connections) when uvloop is installed."""
    aimock: bool = True
    uvloop_connections: int = 32
    requests: int | None = None
    """Stop each run after this many requests (aiohttp generators only; smoke mode)."""


@dataclass
class Probe:
    """One answer, checked: status, bytes, and for streams the event count and order."""

    status: int
    body: bytes
    events: int = 0

    @property
    def ok(self) -> bool:
        return self.status == 200


def post(url: str, body: bytes, timeout: float = 10) -> tuple[int, bytes]:
    """One POST with the bench headers (stdlib client, outside any measurement)."""
    request = urllib.request.Request(url, data=body, headers=HEADERS, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def sse_events(payload: bytes) -> list[dict[str, object]]:
    """The ``data:`` objects of an SSE payload."""
    return [json.loads(line[5:]) for line in payload.split(b"\n") if line.startswith(b"data:")]


def probe(server: ServerProcess, stream: bool) -> Probe:
    """Fetch one answer and check it is a complete, successful response."""
    status, body = post(server.url + "/v1/responses", BODY_SSE if stream else BODY_JSON)
    if status != 200:
        raise RuntimeError(f"{server.name}: status {status}: {body[:300]!r}")
    if not stream:
        if json.loads(body).get("status") != "completed":
            raise RuntimeError(f"{server.name}: response not completed: {body[:300]!r}")
        return Probe(status, body)
    events = sse_events(body)
    if not events or events[-1].get("type") != "response.completed":
        raise RuntimeError(f"{server.name}: stream does not end with response.completed")
    return Probe(status, body, len(events))


def reset(server: ServerProcess) -> None:
    """Forget every session of a resplay server (store and journal)."""
    if server.name.startswith("resplay"):
        request = urllib.request.Request(server.url + "/_resplay/reset?all=true", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def output_text(response: bytes) -> str:
    """The assistant text of a non-streaming ``Response`` body."""
    data = json.loads(response)
    return "".join(
        part.get("text", "")
        for item in data["output"]
        if item["type"] == "message"
        for part in item["content"]
    )


def run_http(report: Report, config: HttpConfig, log: Callable[[str], None] = print) -> dict[str, LoadResult]:
    """Measure sections 1-2, add their rows to ``report``; returns every run keyed ``mode/server/conns``."""
    servers: dict[str, ServerProcess] = {}
    pending: dict[str, Pending] = {}
    results: dict[str, LoadResult] = {}
    scratch = Path(tempfile.mkdtemp(prefix="resplay-bench-"))
    try:
        bare_args = ["--json", str(scratch / "body.json"), "--sse", str(scratch / "body.sse")]
        pending = {
            "resplay": spawn_bench_server("resplay"),
            "bare": spawn_bench_server("bare", extra=bare_args),
        }
        if config.uvloop:
            try:
                import uvloop  # noqa: F401
            except ImportError:
                report.note("uvloop rows skipped: uvloop is not installed (`pip install uvloop`).")
            else:
                pending["resplay/uvloop"] = spawn_bench_server("resplay", loop="uvloop")
                pending["bare/uvloop"] = spawn_bench_server("bare", loop="uvloop", extra=bare_args)
        for name, spawned in pending.items():
            servers[name] = spawned.ready()
        # The bare handler answers exactly what resplay answered (it reads these files lazily).
        json_probe = probe(servers["resplay"], stream=False)
        sse_probe = probe(servers["resplay"], stream=True)
        reset(servers["resplay"])
        (scratch / "body.json").write_bytes(json_probe.body)
        (scratch / "body.sse").write_bytes(sse_probe.body)
        aimock_events = 0
        if config.aimock:
            install = aimock_install()
            if install.cli is None:
                report.note(install.note or "aimock skipped")
            else:
                report.extra_versions["aimock"] = install.version or "?"
                text = output_text(json_probe.body)
                deltas = (
                    sse_probe.events - 8
                )  # created, in_progress, item/part added+done, text.done, completed
                chunk = max(1, math.floor(len(text) / max(1, deltas)))
                try:
                    servers["aimock"] = start_aimock(install, text, chunk)
                    aimock_events = probe(servers["aimock"], stream=True).events
                    probe(servers["aimock"], stream=False)
                except RuntimeError as exc:
                    report.note(f"aimock skipped: {exc}")
                    servers.pop("aimock", None)
        for name in ("bare", "resplay/uvloop", "bare/uvloop"):
            if name in servers:
                probe(servers[name], stream=False)
                probe(servers[name], stream=True)

        for mode, body in (("json", BODY_JSON), ("sse", BODY_SSE)):
            for server in servers.values():
                # Warm-up: caches, connection pools and first allocations, outside the figures.
                if config.warmup > 0:
                    reset(server)
                    run_load(
                        server.url + "/v1/responses",
                        body,
                        HEADERS,
                        connections=32,
                        duration=config.warmup,
                        tool=config.tool,
                    )
            for conns in config.connections:
                for name, server in servers.items():
                    if name.endswith("/uvloop") and conns != config.uvloop_connections:
                        continue
                    reset(server)
                    cpu_before = process_cpu_seconds(server.process.pid)
                    result = run_load(
                        server.url + "/v1/responses",
                        body,
                        HEADERS,
                        connections=conns,
                        duration=config.duration,
                        tool=config.tool,
                        requests=config.requests,
                    )
                    cpu_after = process_cpu_seconds(server.process.pid)
                    if cpu_before is not None and cpu_after is not None and result.requests:
                        result.server_cpu_us = (cpu_after - cpu_before) / result.requests * 1e6
                    results[f"{mode}/{name}/{conns}"] = result
                    log(
                        f"  {mode:4} {name:15} c={conns:<3} {result.rps:9,.0f} req/s  "
                        f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                        f"cpu {result.server_cpu_us:6.1f} µs/req  errors {result.errors}"
                    )
    finally:
        for server in servers.values():
            server.stop()
        for name, spawned in pending.items():
            if name not in servers:
                spawned.kill()
        shutil.rmtree(scratch, ignore_errors=True)

    _rows(report, results, config, sse_probe.events, aimock_events, len(json_probe.body), len(sse_probe.body))
    return results


def _rows(
    report: Report,
    results: dict[str, LoadResult],
    config: HttpConfig,
    events: int,
    aimock_events: int,
    json_bytes: int,
    sse_bytes: int,
) -> None:
    for section, mode, what in (
        (1, "json", f"non-stream create ({json_bytes:,} B)"),
        (2, "sse", f"stream create ({events} events, {sse_bytes:,} B)"),
    ):
        for flavour, suffix in (("", ""), ("/uvloop", ", uvloop")):
            for conns in config.connections:
                ours = results.get(f"{mode}/resplay{flavour}/{conns}")
                base = results.get(f"{mode}/bare{flavour}/{conns}")
                if ours is None or base is None:
                    continue
                other = results.get(f"{mode}/aimock/{conns}") if not flavour else None
                label = f"{what}, {conns} conn{'s' if conns > 1 else ''}{suffix}"
                report.add(
                    Row(
                        section,
                        f"{label}: req/s (higher is better)",
                        fmt_rate(ours.rps),
                        fmt_rate(base.rps),
                        ratio(ours.rps, base.rps),
                        fmt_rate(other.rps) if other else "",
                        ratio(ours.rps, other.rps) if other else "",
                    )
                )
                report.add(
                    Row(
                        section,
                        f"{label}: p50 / p99 ms (lower is better; ratio of p99)",
                        f"{fmt_ms(ours.p50_ms)} / {fmt_ms(ours.p99_ms)}",
                        f"{fmt_ms(base.p50_ms)} / {fmt_ms(base.p99_ms)}",
                        ratio(ours.p99_ms, base.p99_ms),
                        f"{fmt_ms(other.p50_ms)} / {fmt_ms(other.p99_ms)}" if other else "",
                        ratio(ours.p99_ms, other.p99_ms) if other else "",
                    )
                )
                if ours.server_cpu_us and base.server_cpu_us and conns == config.uvloop_connections:
                    report.add(
                        Row(
                            section,
                            f"{label}: server CPU µs per request (lower is better; robust to machine noise)",
                            f"{ours.server_cpu_us:.0f}",
                            f"{base.server_cpu_us:.0f}",
                            ratio(ours.server_cpu_us, base.server_cpu_us),
                            f"{other.server_cpu_us:.0f}" if other and other.server_cpu_us else "",
                            ratio(ours.server_cpu_us, other.server_cpu_us)
                            if other and other.server_cpu_us
                            else "",
                        )
                    )
                errors = {k: v.errors for k, v in results.items() if v.errors}
                if errors:
                    report.note(f"errors during HTTP runs: {errors}")
    length = f"{config.requests} requests" if config.requests else f"{config.duration:g} s"
    warmup = f" after a {config.warmup:g} s warm-up" if config.warmup else ""
    report.note(
        "Sections 1-2 baseline: a bare aiohttp handler answering the same bytes resplay answered "
        f"(same server setup, same event loop flavour). Each HTTP figure is one {length} closed-loop run"
        f"{warmup}; resplay's state is reset before each."
    )
    if config.tool == "wrk":
        report.note(
            "wrk corrects its percentiles for coordinated omission: a stall of T ms also counts the requests "
            "a steady client would have sent during it, so p99 shows pauses (full garbage collections) "
            "that a per-request timer hides."
        )
    if aimock_events:
        report.note(
            f"aimock streams the same text in {aimock_events} events "
            "(no sequence numbers, no usage, no state)."
        )
