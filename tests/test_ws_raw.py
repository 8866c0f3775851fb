"""WebSocket mode over a raw ``websockets`` client: exact frames, queueing, every error event, disconnects.

``send_batch`` writes several client events in one TCP write, so the server has all of them before it
sends anything: that is how a test stands deterministically "while a response is in flight" on the wire.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import websockets
from websockets.asyncio.client import ClientConnection, connect

from mockserver import MockServer
from mockserver.web.ws import LIVE_CONNECTIONS

from fidelity import assert_faithful

TERMINAL = ("response.completed", "response.incomplete", "response.failed")
AUTH = {"Authorization": "Bearer sk-test"}


def create(**fields: Any) -> dict[str, Any]:
    return {"type": "response.create", "model": "gpt-5.5", "input": "Hello", **fields}


async def open_ws(server: MockServer, headers: dict[str, str] | None = None) -> ClientConnection:
    return await connect(server.ws_url, additional_headers={**AUTH, **(headers or {})}, max_size=None)


@pytest.fixture
async def ws(server: MockServer) -> AsyncIterator[ClientConnection]:
    """A raw WebSocket-mode connection to the shared test server."""
    async with await open_ws(server) as conn:
        yield conn


def send_batch(conn: ClientConnection, *events: dict[str, Any] | str | bytes) -> None:
    """Several frames in a single TCP write (the server reads them all before answering)."""
    for event in events:
        if isinstance(event, bytes):
            conn.protocol.send_binary(event)
        else:
            conn.protocol.send_text((event if isinstance(event, str) else json.dumps(event)).encode())
    conn.transport.write(b"".join(conn.protocol.data_to_send()))


async def read(conn: ClientConnection, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """Frames until ``done(frames)``, each one a text frame faithful to ``ResponsesServerEvent``."""
    frames: list[dict[str, Any]] = []
    while not done(frames):
        raw = await asyncio.wait_for(conn.recv(), 10)
        assert isinstance(raw, str), "the server sends text frames only"
        frame = json.loads(raw)
        assert_faithful(frame, "ws_event")
        frames.append(frame)
    return frames


def ends(count: int = 1) -> Callable[[list[dict[str, Any]]], bool]:
    """Done after ``count`` terminal or error events."""
    return lambda fs: sum(f["type"] in TERMINAL or f["type"] == "error" for f in fs) >= count


async def one_error(conn: ClientConnection) -> dict[str, Any]:
    (frame,) = await read(conn, ends())
    assert frame["type"] == "error"
    return frame


async def still_usable(conn: ClientConnection) -> None:
    await conn.send(json.dumps(create(input="still there?")))
    frames = await read(conn, ends())
    assert frames[-1]["type"] == "response.completed"


# --- queueing -------------------------------------------------------------------------------------------


async def test_creates_sent_together_queue_fifo(ws: ClientConnection, server: MockServer) -> None:
    send_batch(ws, create(input="one"), create(input="two", stream=True), create(input="three"))
    frames = await read(ws, ends(3))
    life = [(f["type"], f["response"]["id"]) for f in frames if f["type"] in ("response.created", *TERMINAL)]
    assert [k for k, _ in life] == ["response.created", "response.completed"] * 3
    assert life[0][1] == life[1][1] and life[2][1] == life[3][1] and life[4][1] == life[5][1]
    finals = [f["response"] for f in frames if f["type"] == "response.completed"]
    assert ["one" in r["output"][-1]["content"][0]["text"] for r in finals] == [True, False, False]
    assert "three" in finals[2]["output"][-1]["content"][0]["text"]
    creates = [e for e in server.journal() if e["method"] == "WS"]
    assert [(e["status"], e["response_id"]) for e in creates] == [(200, r["id"]) for r in finals]


async def test_reject_mode_answers_a_busy_create_with_an_error() -> None:
    async with MockServer(ws_busy="reject") as server, await open_ws(server) as conn:
        send_batch(conn, create(input="one"), create(input="two"), create(input="b", stream_id="b"))
        frames = await read(conn, ends(3))
        errors = [f for f in frames if f["type"] == "error"]
        assert [e["error"]["code"] for e in errors] == ["websocket_stream_busy"]
        assert errors[0]["error"]["message"].startswith(
            "A response is already in progress on this connection."
        )
        assert sum(f["type"] == "response.completed" for f in frames) == 2
        # Reading to the terminal event first is what a well-behaved client does: then it is accepted.
        await still_usable(conn)


async def test_sixteen_in_flight_on_the_wire(ws: ClientConnection) -> None:
    send_batch(ws, *(create(input=f"lane {n}", stream_id=f"lane-{n}") for n in range(17)))
    frames = await read(ws, ends(17))
    running: set[str] = set()
    peak = 0
    for f in frames:
        assert f["stream_id"].startswith("lane-")
        if f["type"] == "response.created":
            running.add(f["stream_id"])
            peak = max(peak, len(running))
        elif f["type"] in TERMINAL:
            running.discard(f["stream_id"])
    assert peak == 16


async def test_lanes_fork_from_a_cached_store_false_response(ws: ClientConnection) -> None:
    await ws.send(json.dumps(create(input="base", stream_id="main", store=False)))
    base = (await read(ws, ends()))[-1]["response"]
    send_batch(
        ws,
        create(input="fork a", stream_id="a", store=False, previous_response_id=base["id"]),
        create(input="fork b", stream_id="b", store=False, previous_response_id=base["id"]),
        create(input="fresh start", stream_id="main", store=False),  # reusing a lane without a parent
    )
    frames = await read(ws, ends(3))
    done = {f["stream_id"]: f["response"] for f in frames if f["type"] == "response.completed"}
    assert done["a"]["previous_response_id"] == done["b"]["previous_response_id"] == base["id"]
    assert done["main"]["previous_response_id"] is None


async def test_warm_up_then_continue(ws: ClientConnection) -> None:
    await ws.send(json.dumps(create(input="long shared prefix", generate=False, store=False)))
    warm = await read(ws, ends())
    assert [f["type"] for f in warm] == ["response.created", "response.completed"]
    await ws.send(
        json.dumps(create(input="go", previous_response_id=warm[-1]["response"]["id"], store=False))
    )
    assert (await read(ws, ends()))[-1]["response"]["output"]


# --- every error event, and the connection stays usable ---------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "status", "code", "param"),
    [
        ("{not json", 400, "invalid_json", None),
        ("[1, 2]", 400, "invalid_type", None),
        (json.dumps({"model": "gpt-5.5"}), 400, "missing_required_parameter", "type"),
        (json.dumps({"type": "response.cancel"}), 400, "invalid_value", "type"),
        (json.dumps({"type": 5}), 400, "invalid_type", "type"),
        (b"\x00binary", 400, "unsupported_frame_type", None),
        (json.dumps(create(stream_id="")), 400, "invalid_stream_id", "stream_id"),
        (json.dumps(create(stream_id="has space")), 400, "invalid_stream_id", "stream_id"),
        (json.dumps(create(background=True)), 400, "unsupported_parameter", "background"),
        (json.dumps(create(model="gpt-nope")), 400, "model_not_found", "model"),
        (json.dumps(create(temperature=5)), 400, "decimal_above_max_value", "temperature"),
        (json.dumps(create(bogus=1)), 400, "unknown_parameter", "bogus"),
        (
            json.dumps(create(previous_response_id="resp_" + "0" * 50)),
            400,
            "previous_response_not_found",
            None,
        ),
        (json.dumps({"type": "response.steer", "input": "x"}), 400, "missing_required_parameter", None),
    ],
)
async def test_error_events(
    ws: ClientConnection, frame: str | bytes, status: int, code: str, param: str | None
) -> None:
    send_batch(ws, frame)
    error = await one_error(ws)
    assert error["status"] == status and error["error"]["code"] == code and error["sequence_number"] is None
    assert error["error"]["type"] == "invalid_request_error"
    if param is not None:
        assert error["error"]["param"] == param
    assert "stream_id" not in error
    await still_usable(ws)


async def test_lane_errors_carry_the_stream_id(ws: ClientConnection) -> None:
    await ws.send(json.dumps(create(stream_id="agent-7", previous_response_id="resp_" + "1" * 50)))
    error = await one_error(ws)
    assert error["stream_id"] == "agent-7"
    assert error["error"] == {
        "type": "invalid_request_error",
        "code": "previous_response_not_found",
        "message": f"Previous response with id 'resp_{'1' * 50}' not found.",
        "param": "previous_response_id",
    }


async def test_queued_error_reply_keeps_its_headers(ws: ClientConnection, server: MockServer) -> None:
    server.queue_error(
        429, "Rate limit reached.", type="requests", code="rate_limit_exceeded", headers={"retry-after": "2"}
    )
    await ws.send(json.dumps(create()))
    error = await one_error(ws)
    assert error["status"] == 429 and error["error"]["headers"] == {"retry-after": "2"}
    await still_usable(ws)


async def test_oversized_frames_get_an_error_event() -> None:
    async with MockServer(max_body_bytes=4096) as server, await open_ws(server) as conn:
        send_batch(conn, create(input="x" * 5000))
        error = await one_error(conn)
        assert (error["status"], error["error"]["code"]) == (413, "request_too_large")
        send_batch(conn, b"\x01" * 5000)
        assert (await one_error(conn))["status"] == 413
        await still_usable(conn)


async def test_stream_limit_on_the_wire(ws: ClientConnection) -> None:
    send_batch(ws, *(create(stream_id=f"s{n}", input="x") for n in range(33)))
    frames = await read(ws, ends(33))
    (error,) = [f for f in frames if f["type"] == "error"]
    assert (error["stream_id"], error["error"]["code"]) == ("s32", "websocket_stream_limit_reached")
    await still_usable(ws)


async def test_steer_events_on_the_wire(ws: ClientConnection) -> None:
    await ws.send(json.dumps(create(model="gpt-6-sol", stream_id="s")))
    done = (await read(ws, ends()))[-1]["response"]
    await ws.send(json.dumps({"type": "response.steer", "previous_response_id": done["id"], "input": "more"}))
    (failed,) = await read(ws, lambda fs: len(fs) == 1)
    assert failed["type"] == "response.steer.failed" and failed["stream_id"] == "s"
    assert failed["error"]["code"] == "response_already_completed"
    await ws.send(json.dumps(create(stream_id="t")))
    other = (await read(ws, ends()))[-1]["response"]
    await ws.send(
        json.dumps({"type": "response.steer", "previous_response_id": other["id"], "input": "more"})
    )
    (failed,) = await read(ws, lambda fs: len(fs) == 1)
    assert failed["error"]["code"] == "steering_not_supported"


# --- handshake, close and cleanup -------------------------------------------------------------------------


async def test_handshake_without_a_key_is_a_401_envelope(server: MockServer) -> None:
    with pytest.raises(websockets.exceptions.InvalidStatus) as caught:
        await connect(server.ws_url)
    response = caught.value.response
    assert response.status_code == 401
    assert json.loads(response.body)["error"]["message"].startswith("You didn't provide an API key.")


async def test_plain_get_is_an_unknown_url(server: MockServer) -> None:
    async with aiohttp.ClientSession(headers=AUTH) as http:
        answer = await http.get(server.base_url + "/responses")
        assert answer.status == 404
        assert (await answer.json())["error"]["message"] == "Invalid URL (GET /v1/responses)"


async def test_handshake_answer_carries_the_api_headers(ws: ClientConnection) -> None:
    assert ws.response is not None
    assert ws.response.headers["openai-version"] == "2020-10-01"
    assert ws.response.headers["x-request-id"].startswith("req_")


async def test_idle_cap_closes_with_1000(ws: ClientConnection, server: MockServer) -> None:
    server.advance(3600)
    error = await one_error(ws)
    assert error["error"]["code"] == "websocket_connection_limit_reached"
    with pytest.raises(websockets.exceptions.ConnectionClosedOK):
        await asyncio.wait_for(ws.recv(), 10)
    assert ws.close_code == 1000


async def test_client_leaving_mid_response_leaves_no_task() -> None:
    async with MockServer(seed=5) as server:
        live = server._runner.app[LIVE_CONNECTIONS]  # type: ignore[union-attr]
        baseline = asyncio.all_tasks()
        server.queue_text("word " * 20_000)  # ~20k delta frames: far more than the socket buffers hold
        conn = await open_ws(server)
        await conn.send(json.dumps(create()))
        first = json.loads(await asyncio.wait_for(conn.recv(), 10))
        assert first["type"] == "response.created" and len(live) == 1
        conn.transport.abort()  # no close frame: the client just goes away mid-response
        assert await live.wait_closed(timeout=10) and len(live) == 0
        leftover = asyncio.all_tasks() - baseline - {asyncio.current_task()}
        if leftover:
            _, running = await asyncio.wait(leftover, timeout=10)
            assert not running, running
        assert server.engine.session().clock.pending() == 0  # the cap timer went with the connection
        await conn.wait_closed()


async def test_shutdown_closes_open_connections_with_1001() -> None:
    server = await MockServer().start_async()
    conn = await open_ws(server)
    await asyncio.wait_for(server.stop_async(), 10)
    with pytest.raises(websockets.exceptions.ConnectionClosed):
        await asyncio.wait_for(conn.recv(), 10)
    assert conn.close_code == 1001


async def test_journal_of_a_connection(ws: ClientConnection, server: MockServer) -> None:
    send_batch(ws, create(input="journal me"), "{oops")
    await read(ws, ends(2))
    upgrade, good, bad = server.journal()
    assert (upgrade["method"], upgrade["status"], upgrade["transport"]) == ("GET", 101, "ws")
    assert upgrade["headers"]["authorization"] == "REDACTED"
    assert (good["method"], good["status"], good["transport"]) == ("WS", 200, "ws")
    assert good["body"]["input"] == "journal me" and good["response_id"].startswith("resp_")
    assert (bad["status"], bad["body"], bad["error"]["code"]) == (400, None, "invalid_json")


async def test_server_declines_permessage_deflate_and_frames_stay_whole(server: MockServer) -> None:
    """The websockets client offers permessage-deflate (as the openai SDK's does); resplay declines it
    (RFC 7692 §5) and sends a turn's frames gathered into one write: every frame still arrives whole,
    in order, with consecutive sequence numbers."""
    async with await open_ws(server) as conn:
        assert conn.protocol.extensions == []
        send_batch(conn, create(input="Tell me a long story"), create(input="And another"))
        frames = await read(conn, lambda f: sum(x["type"] in TERMINAL for x in f) == 2)
    firsts = [i for i, f in enumerate(frames) if f["type"] == "response.created"]
    assert len(firsts) == 2
    for start, end in ((firsts[0], firsts[1]), (firsts[1], len(frames))):
        assert [f["sequence_number"] for f in frames[start:end]] == list(range(end - start))
    assert frames[firsts[1] - 1]["type"] == "response.completed"
