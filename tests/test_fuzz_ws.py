"""Issue 12, bad input: hypothesis WebSocket frames over a real connection.

Each example opens a raw ``websockets`` connection, writes a burst of fuzzed frames (random JSON, fuzzed
``response.create`` events, non-JSON text, binary), then a sentinel ``response.create``. The connection
must live to answer the sentinel, and every frame the server sent must be faithful to the SDK's
``ResponsesServerEvent`` (so every error is the ``{"type": "error", "error": {...}}`` envelope).
``make test`` runs a few examples; the ``slow`` variant runs many more.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from strategies import json_values
from websockets.asyncio.client import connect

from mockserver import MockServer

from fidelity import assert_faithful

JSON = json_values(text=16, keys=10, width=3, leaves=8)

CREATE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "model": st.sampled_from(["gpt-5.5", "gpt-5.1", "o3", "nope"]) | JSON,
    "input": st.text(max_size=30)
    | st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["user", "assistant", "x"]), "content": st.text(max_size=12)}
        ),
        max_size=2,
    )
    | JSON,
    "instructions": st.text(max_size=12) | JSON,
    "stream": JSON,
    "background": st.booleans() | JSON,
    "store": st.booleans() | JSON,
    "generate": st.booleans() | JSON,
    "previous_response_id": st.sampled_from(["resp_nope", ""]) | JSON,
    "max_output_tokens": st.integers(-3, 50) | JSON,
    "tools": st.lists(
        st.fixed_dictionaries({"type": st.sampled_from(["function", "x"]), "name": st.text(max_size=6)}),
        max_size=2,
    )
    | JSON,
    "reasoning": st.fixed_dictionaries({}, optional={"effort": st.sampled_from(["low", "max", "bogus"])})
    | JSON,
    "bogus_field": JSON,
}

CREATE = st.fixed_dictionaries({"type": st.just("response.create")}, optional=CREATE_FIELDS).map(
    lambda event: json.dumps(event)
)
OTHER_TYPES = st.fixed_dictionaries(
    {"type": st.sampled_from(["response.cancel", "response.append", "session.update", "bogus", ""]) | JSON},
    optional={"response_id": JSON, "stream_id": JSON, "input": JSON},
).map(json.dumps)
FRAME = (
    CREATE
    | OTHER_TYPES
    | JSON.map(json.dumps)
    | st.text(max_size=40)  # mostly not JSON
    | st.binary(max_size=40)
)
BURST = st.lists(FRAME, min_size=1, max_size=4)

SENTINEL = {"type": "response.create", "model": "gpt-5.5", "input": "ping", "metadata": {"fuzz": "sentinel"}}
TERMINAL = ("response.completed", "response.incomplete", "response.failed")


@pytest.fixture(scope="module")
def ws_server() -> Iterator[MockServer]:
    # A small frame limit so that the size check is reachable by fuzzed frames too.
    with MockServer(seed=5, max_body_bytes=64 * 1024) as server:
        yield server


async def _exchange(server: MockServer, burst: list[str | bytes]) -> list[dict[str, Any]]:
    """Send the burst and the sentinel; every frame received until the sentinel's terminal event."""
    frames: list[dict[str, Any]] = []
    async with connect(
        server.ws_url, additional_headers={"Authorization": "Bearer sk-fuzz"}, max_size=None
    ) as conn:
        for frame in burst:
            await conn.send(frame)
        await conn.send(json.dumps(SENTINEL))
        while True:
            raw = await asyncio.wait_for(conn.recv(), 10)  # a closed connection raises here: a failure
            assert isinstance(raw, str), "the server sends text frames only"
            event = json.loads(raw)
            assert_faithful(event, "ws_event")
            if event["type"] == "error":
                assert set(event["error"]) >= {"type", "code", "message", "param"}, event
                assert event["error"]["type"] != "server_error" and event.get("status", 400) < 500, event
            frames.append(event)
            response = event.get("response") or {}
            if event["type"] in TERMINAL and (response.get("metadata") or {}).get("fuzz") == "sentinel":
                return frames


def _check(server: MockServer, burst: list[str | bytes]) -> None:
    frames = asyncio.run(_exchange(server, burst))
    assert frames[-1]["type"] == "response.completed"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(burst=BURST)
def test_fuzzed_frames_never_crash_the_connection(ws_server: MockServer, burst: list[str | bytes]) -> None:
    _check(ws_server, burst)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(burst=st.lists(FRAME, min_size=1, max_size=12))
def test_fuzzed_frames_never_crash_the_connection_many(
    ws_server: MockServer, burst: list[str | bytes]
) -> None:
    _check(ws_server, burst)


@pytest.mark.parametrize(
    "frame",
    [
        "x" * (64 * 1024 + 1),
        b"\x00" * (64 * 1024 + 1),
        json.dumps({"type": "response.create", "model": "gpt-5.5", "input": "y" * (64 * 1024)}),
        '{"type": "response.create", "input": "\\ud800"}',  # a lone surrogate escape
        "",
        "null",
        "[]",
    ],
    ids=["text-too-large", "binary-too-large", "create-too-large", "lone-surrogate", "empty", "null", "list"],
)
def test_edge_frames_get_an_error_event_and_the_connection_stays_usable(
    ws_server: MockServer, frame: str | bytes
) -> None:
    frames = asyncio.run(_exchange(ws_server, [frame]))
    errors = [f for f in frames if f["type"] == "error"]
    assert len(errors) == 1, frames
    assert frames[-1]["type"] == "response.completed"
