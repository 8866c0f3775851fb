"""Section 3: per-turn latency of a 20-turn conversation.

WebSocket mode (one connection, one ``response.create`` per turn, each chained to the previous answer
with ``previous_response_id``, read until the terminal event) vs HTTP (one keep-alive connection,
``POST /v1/responses`` with ``stream=true`` and ``previous_response_id``, read to the end of the stream:
the same events). Both run against one resplay server process; the client is this process. The loops
alternate so drift hits both alike.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

from .http_load import HEADERS, MODEL
from .report import Report, Row, fmt_ms, ratio
from .servers import start_bench_server

__all__ = ["run_deep", "run_ws"]

TERMINAL = ("response.completed", "response.incomplete", "response.failed", "error")


async def _ws_loop(url: str, turns: int) -> list[float]:
    from websockets.asyncio.client import connect

    times: list[float] = []
    previous: str | None = None
    async with connect(
        url, additional_headers={"Authorization": HEADERS["Authorization"]}, max_size=None
    ) as ws:
        for turn in range(turns):
            event: dict[str, object] = {
                "type": "response.create",
                "model": MODEL,
                "input": f"turn {turn}: hello",
            }
            if previous is not None:
                event["previous_response_id"] = previous
            started = time.perf_counter()
            await ws.send(json.dumps(event))
            while True:
                message = json.loads(await ws.recv())
                if message.get("type") in TERMINAL:
                    break
            times.append(time.perf_counter() - started)
            if message.get("type") == "error":
                raise RuntimeError(f"WebSocket turn {turn} failed: {message}")
            previous = message["response"]["id"]
    return times


async def _http_loop(url: str, turns: int, model: str = MODEL) -> list[float]:
    import aiohttp

    times: list[float] = []
    previous: str | None = None
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        for turn in range(turns):
            body: dict[str, object] = {"model": model, "input": f"turn {turn}: hello", "stream": True}
            if previous is not None:
                body["previous_response_id"] = previous
            started = time.perf_counter()
            async with session.post(url, data=json.dumps(body), headers=HEADERS) as response:
                payload = await response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP turn {turn}: status {response.status}: {payload[:300]!r}")
            # Every event is parsed, as on the WebSocket side (and as the SDK does on both).
            events = [json.loads(line[5:]) for line in payload.split(b"\n") if line.startswith(b"data:")]
            times.append(time.perf_counter() - started)
            previous = events[-1]["response"]["id"]
    return times


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(pct / 100 * len(ordered)))]


def run_ws(report: Report, *, loops: int = 10, turns: int = 20) -> None:
    """Measure section 3 and add its rows (skipped with a note where WebSocket mode is absent)."""
    server = start_bench_server("resplay")
    try:
        http_url = server.url + "/v1/responses"
        ws_url = f"ws://127.0.0.1:{server.port}/v1/responses"
        try:
            asyncio.run(_ws_loop(ws_url, 2))
        except Exception as exc:  # no WebSocket mode yet, or it failed: say so, keep the rest
            report.note(f"Section 3 skipped: WebSocket mode did not answer ({type(exc).__name__}: {exc}).")
            return
        asyncio.run(_http_loop(http_url, 2))
        ws_times: list[float] = []
        http_times: list[float] = []
        for _ in range(loops):
            ws_times += asyncio.run(_ws_loop(ws_url, turns))
            http_times += asyncio.run(_http_loop(http_url, turns))
    finally:
        server.stop()
    ws_p50, ws_p99 = _pct(ws_times, 50) * 1000, _pct(ws_times, 99) * 1000
    http_p50, http_p99 = _pct(http_times, 50) * 1000, _pct(http_times, 99) * 1000
    report.add(
        Row(
            3,
            f"{turns}-turn loop on one WebSocket: per-turn p50 / p99 ms "
            "(baseline: HTTP stream + previous_response_id; ratio of p50)",
            f"{fmt_ms(ws_p50)} / {fmt_ms(ws_p99)}",
            f"{fmt_ms(http_p50)} / {fmt_ms(http_p99)}",
            ratio(ws_p50, http_p50),
        )
    )
    report.add(
        Row(
            3,
            f"{turns}-turn loop: mean ms per loop (lower is better)",
            f"{statistics.fmean(ws_times) * turns * 1000:.1f}",
            f"{statistics.fmean(http_times) * turns * 1000:.1f}",
            ratio(statistics.fmean(ws_times), statistics.fmean(http_times)),
        )
    )
    report.note(f"Section 3: {loops} loops of {turns} chained turns each way, alternating, one client.")


DEEP_MODELS = (MODEL, "gpt-5.5")
"""A model without reasoning and one whose every turn carries reasoning items along the chain."""


def run_deep(report: Report, *, loops: int = 3, turns: int = 60) -> None:
    """Section 3: does a turn cost more as its chain grows? Late turns against early ones, same chains.

    Each turn's context is the whole chain, so an engine that reworked the chain on every turn would make
    the late turns slower (docs/performance.md, optimisation 12); the ratio shows how much.
    """
    server = start_bench_server("resplay")
    window = max(1, turns // 3)
    try:
        http_url = server.url + "/v1/responses"
        for model in DEEP_MODELS:
            asyncio.run(_http_loop(http_url, 2, model))
            early: list[float] = []
            late: list[float] = []
            for _ in range(loops):
                times = asyncio.run(_http_loop(http_url, turns, model))
                early += times[:window]
                late += times[-window:]
            late_p50, early_p50 = _pct(late, 50) * 1000, _pct(early, 50) * 1000
            report.add(
                Row(
                    3,
                    f"{turns}-turn HTTP stream chain, {model}: per-turn p50 ms of the last {window} turns "
                    f"(baseline: the first {window} turns of the same chains; lower ratio is better)",
                    fmt_ms(late_p50),
                    fmt_ms(early_p50),
                    ratio(late_p50, early_p50),
                )
            )
    finally:
        server.stop()
    report.note(f"Section 3, chain depth: {loops} chains of {turns} turns per model, one client.")
