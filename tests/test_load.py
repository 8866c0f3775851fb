"""Issue 12, load and faults (``slow``, DECISIONS 27): loopback only, bounded in count and time.

Each round runs 500 concurrent WebSocket-mode connections, each a 10-turn ``previous_response_id`` loop,
together with 200 concurrent SSE streams over HTTP; about 5% of each are cut by the client at a random
point (the injected faults). Nothing else may fail. After every round the server must be back to its
baseline: no open WebSocket handler, no extra asyncio task, no extra file descriptor; and the process's
Python heap (live allocated blocks) after round 3 must not exceed round 1's (1% slack), nor its resident
memory once ``malloc_trim`` has returned free pages (5% slack).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import os
import random
import sys
import time
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import connect

from mockserver import MockServer
from mockserver.web.ws import LIVE_CONNECTIONS

pytestmark = pytest.mark.slow

ROUNDS = 3
WS_CONNECTIONS = 500
TURNS = 10
HTTP_STREAMS = 200
DROP_RATE = 0.05
AUTH = {"Authorization": "Bearer sk-load"}


async def _ws_loop(server: MockServer, drop_at: int | None) -> str:
    async with (
        asyncio.timeout(120),  # one deadline per loop, not a timer handle per frame
        connect(server.ws_url, additional_headers=AUTH, max_size=None, open_timeout=60) as conn,
    ):
        previous: str | None = None
        for turn in range(TURNS):
            event: dict[str, Any] = {"type": "response.create", "model": "gpt-5.5", "input": f"turn {turn}"}
            if previous is not None:
                event["previous_response_id"] = previous
            await conn.send(json.dumps(event))
            if turn == drop_at:
                conn.transport.abort()  # injected: the client vanishes with a response in flight
                return "dropped"
            while True:
                frame = json.loads(await conn.recv())
                assert frame["type"] != "error", frame
                if frame["type"] == "response.completed":
                    previous = frame["response"]["id"]
                    break
    return "ok"


async def _http_stream(session: aiohttp.ClientSession, server: MockServer, drop: bool) -> str:
    body = {"model": "gpt-5.5", "input": "stream me a few words", "stream": True}
    async with session.post(server.base_url + "/responses", json=body, headers=AUTH) as answer:
        assert answer.status == 200, await answer.text()
        if drop:
            await answer.content.readline()
            answer.close()  # injected: the client hangs up mid-stream
            return "dropped"
        text = (await answer.read()).decode()
    assert "event: response.completed" in text, text[-500:]
    return "ok"


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _rss() -> int:
    """Resident memory after handing free malloc pages back to the OS (glibc ``malloc_trim``)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _heap() -> int:
    """Live Python memory blocks: unlike RSS, not inflated by the allocator keeping a round's peak."""
    return sys.getallocatedblocks()


async def _round(server: MockServer, rng: random.Random) -> tuple[int, float]:
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        jobs = [
            _ws_loop(server, rng.randrange(TURNS) if rng.random() < DROP_RATE else None)
            for _ in range(WS_CONNECTIONS)
        ]
        jobs += [_http_stream(session, server, rng.random() < DROP_RATE) for _ in range(HTTP_STREAMS)]
        outcomes = await asyncio.gather(*jobs)
    assert set(outcomes) <= {"ok", "dropped"}
    return outcomes.count("dropped"), time.perf_counter() - started


async def _settle(server: MockServer) -> None:
    live = server._runner.app[LIVE_CONNECTIONS]  # type: ignore[union-attr]
    assert await live.wait_closed(timeout=10), "a WebSocket handler kept running"
    for _ in range(50):  # let aborted transports and finished handlers be collected by the loop
        await asyncio.sleep(0)
    server.reset()
    gc.collect()


def test_500_websocket_loops_and_200_streams_with_disconnects_leak_nothing() -> None:
    async def main() -> list[tuple[int, int, int, int, int, float]]:
        rng = random.Random(12)
        figures = []
        async with MockServer(seed=12) as server:
            await _settle(server)
            baseline_tasks, baseline_fds = len(asyncio.all_tasks()), _fds()
            for _ in range(ROUNDS):
                dropped, seconds = await _round(server, rng)
                await _settle(server)
                figures.append((dropped, len(asyncio.all_tasks()), _fds(), _heap(), _rss(), seconds))
                assert len(server._runner.app[LIVE_CONNECTIONS]) == 0  # type: ignore[union-attr]
                assert figures[-1][1] <= baseline_tasks, asyncio.all_tasks()
                assert figures[-1][2] <= baseline_fds + 2, "file descriptors leaked"
        return figures

    figures = asyncio.run(main())
    for n, (dropped, tasks, fds, blocks, rss, seconds) in enumerate(figures, 1):
        shown = f"tasks {tasks}, fds {fds}, blocks {blocks}, rss {rss >> 20} MiB"
        print(f"round {n}: {seconds:.1f} s, {dropped} drops, {shown}")
    # Python heap after round 3 no higher than after round 1 (1% slack for caches such as interned strings).
    assert figures[2][3] <= figures[0][3] * 1.01, "memory grew from round 1 to round 3"
    # And resident memory, once malloc_trim has returned free pages (5% slack for allocator noise).
    assert figures[2][4] <= figures[0][4] * 1.05, "resident memory grew from round 1 to round 3"
