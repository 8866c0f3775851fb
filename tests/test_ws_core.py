"""WebSocket mode's pure state machine (mockserver.wsmode), driven frame by frame without sockets.

Taking frames one at a time lets these tests stand exactly where the wire cannot be made to stand
deterministically: between a response's first event and its terminal event (queues, the 16-slot cap,
steering an active response, the age cap reached while busy).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mockserver import Engine, ServerConfig
from mockserver.events import TERMINAL_EVENTS
from mockserver.script import FunctionCall, FunctionCallsReply
from mockserver.store import MemoryStore, StoredResponse
from mockserver.wsmode import MAX_IN_FLIGHT, MAX_NAMED_LANES, MAX_PENDING_STEERS, Close, WsConnection

from fidelity import assert_faithful

TOOL: dict[str, Any] = {
    "type": "function",
    "name": "lookup",
    "description": "Look a word up.",
    "parameters": {
        "type": "object",
        "properties": {"word": {"type": "string"}},
        "required": ["word"],
        "additionalProperties": False,
    },
    "strict": True,
}


def make(**config: Any) -> tuple[Engine, WsConnection]:
    engine = Engine(ServerConfig(seed=3, clock="virtual", **config))
    return engine, WsConnection(engine)


def send(conn: WsConnection, **event: Any) -> None:
    conn.receive_text(json.dumps({"type": "response.create", "model": "gpt-5.5", **event}))


def frames(conn: WsConnection) -> list[dict[str, Any]]:
    """Every available frame (fidelity-checked); a close must not appear."""
    out: list[dict[str, Any]] = []
    for item in conn.drain():
        assert not isinstance(item, Close), item
        assert_faithful(item, "ws_event")
        out.append(item)
    return out


def take(conn: WsConnection) -> dict[str, Any]:
    item = conn.next_frame()
    assert isinstance(item, dict), item
    assert_faithful(item, "ws_event")
    return item


def terminal(fs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in fs if f["type"] in TERMINAL_EVENTS]


def errors_of(fs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in fs if f["type"] == "error"]


# --- queueing and lanes ------------------------------------------------------------------------------


def test_create_on_a_busy_lane_waits_for_the_terminal_event() -> None:
    _, conn = make()
    send(conn, input="first")
    send(conn, input="second")
    send(conn, input="third")
    assert (conn.in_flight, conn.queued) == (1, 2)
    fs = frames(conn)
    kinds = [f["type"] for f in fs]
    created = [i for i, k in enumerate(kinds) if k == "response.created"]
    done = [i for i, k in enumerate(kinds) if k == "response.completed"]
    assert len(created) == len(done) == 3
    # FIFO, never overlapping: each created follows the previous response's terminal event.
    assert created[0] < done[0] < created[1] < done[1] < created[2] < done[2]
    texts = [
        f["response"]["output"][-1]["content"][0]["text"] for f in fs if f["type"] == "response.completed"
    ]
    assert ["first" in texts[0], "second" in texts[1], "third" in texts[2]] == [True, True, True]
    assert "stream_id" not in fs[0]
    assert (conn.in_flight, conn.queued) == (0, 0)


def test_reject_mode_refuses_a_create_on_a_busy_lane() -> None:
    _, conn = make(ws_busy="reject")
    send(conn, input="first")
    send(conn, input="second")
    send(conn, input="on another lane", stream_id="b")
    fs = frames(conn)
    (error,) = errors_of(fs)
    assert error["status"] == 400 and "stream_id" not in error
    assert error["error"]["code"] == "websocket_stream_busy"
    assert len(terminal(fs)) == 2  # the first create and the other lane
    send(conn, input="after the terminal event")  # the lane is free again
    assert [f["type"] for f in terminal(frames(conn))] == ["response.completed"]


def test_named_lanes_interleave_and_echo_their_stream_id() -> None:
    _, conn = make()
    send(conn, input="alpha", stream_id="a")
    send(conn, input="beta", stream_id="b.2")
    assert conn.in_flight == 2
    fs = frames(conn)
    lanes = [f["stream_id"] for f in fs]
    assert lanes[:4] == ["a", "b.2", "a", "b.2"]  # one frame per lane in turn
    for lane in ("a", "b.2"):
        mine = [f for f in fs if f["stream_id"] == lane]
        assert [f["sequence_number"] for f in mine] == list(range(len(mine)))
        assert mine[0]["type"] == "response.created" and mine[-1]["type"] == "response.completed"


def test_at_most_16_in_flight_extra_creates_wait() -> None:
    _, conn = make()
    for n in range(MAX_IN_FLIGHT + 2):
        send(conn, input=f"lane {n}", stream_id=f"lane{n}")
    assert (conn.in_flight, conn.queued) == (MAX_IN_FLIGHT, 2)
    fs = frames(conn)
    running: set[str] = set()
    peak = 0
    for f in fs:
        if f["type"] == "response.created":
            running.add(f["stream_id"])
            peak = max(peak, len(running))
        elif f["type"] in TERMINAL_EVENTS:
            running.discard(f["stream_id"])
    assert peak == MAX_IN_FLIGHT
    assert len(terminal(fs)) == MAX_IN_FLIGHT + 2
    first_done = next(i for i, f in enumerate(fs) if f["type"] in TERMINAL_EVENTS)
    late = next(i for i, f in enumerate(fs) if f["type"] == "response.created" and f["stream_id"] == "lane16")
    assert late > first_done


def test_33rd_named_lane_is_refused_existing_lanes_keep_working() -> None:
    _, conn = make()
    for n in range(MAX_NAMED_LANES):
        send(conn, input="x", stream_id=f"s{n}")
    frames(conn)
    send(conn, input="x", stream_id="s32")
    (error,) = frames(conn)
    assert error["type"] == "error" and error["stream_id"] == "s32"
    assert error["error"] == {
        "type": "invalid_request_error",
        "code": "websocket_stream_limit_reached",
        "message": "This WebSocket connection has reached its maximum number of distinct stream IDs (32). "
        "Reuse an existing stream_id or open a new WebSocket connection.",
        "param": "stream_id",
    }
    send(conn, input="reuse", stream_id="s0")
    send(conn, input="default lane")
    assert len(terminal(frames(conn))) == 2


@pytest.mark.parametrize("stream_id", ["", "a b", "x" * 257, "é", 7, ["a"]])
def test_invalid_stream_id(stream_id: Any) -> None:
    _, conn = make()
    send(conn, input="x", stream_id=stream_id)
    (error,) = frames(conn)
    assert "stream_id" not in error and error["status"] == 400
    assert error["error"]["code"] == "invalid_stream_id" and error["error"]["param"] == "stream_id"


# --- connection-local cache ----------------------------------------------------------------------------


def _loop(
    conn: WsConnection, turns: int, *, store: bool, stream_id: str | None = None
) -> list[dict[str, Any]]:
    previous: str | None = None
    finals: list[dict[str, Any]] = []
    for n in range(turns):
        extra: dict[str, Any] = {"stream_id": stream_id} if stream_id else {}
        send(conn, input=f"turn {n}", store=store, previous_response_id=previous, **extra)
        (done,) = terminal(frames(conn))
        finals.append(done["response"])
        previous = done["response"]["id"]
    return finals


def test_store_false_chain_sees_the_whole_history() -> None:
    # Same conversation with store=true over HTTP-like engine calls: the token counts must agree turn by turn.
    engine, conn = make()
    over_ws = _loop(conn, 6, store=False)
    stored: list[int] = []
    previous: str | None = None
    reference = Engine(ServerConfig(seed=3, clock="virtual"))
    for n in range(6):
        run = reference.create({"model": "gpt-5.5", "input": f"turn {n}", "previous_response_id": previous})
        stored.append(run.response["usage"]["input_tokens"])
        previous = run.id
    assert [r["usage"]["input_tokens"] for r in over_ws] == stored
    assert all(engine.store.get("default", r["id"]) is None for r in over_ws)  # nothing persisted


def test_only_the_latest_response_of_a_lane_is_cached() -> None:
    _, conn = make()
    first, _second = _loop(conn, 2, store=False)
    send(conn, input="back to the first", store=False, previous_response_id=first["id"])
    (error,) = frames(conn)
    assert error["error"]["code"] == "previous_response_not_found"
    assert error["error"]["message"] == f"Previous response with id '{first['id']}' not found."
    # store=true falls back to the shared store, which never saw a store=false response either.
    send(conn, input="again", store=True, previous_response_id=first["id"])
    assert errors_of(frames(conn))[0]["error"]["code"] == "previous_response_not_found"


def test_store_true_uncached_parent_loads_from_the_store() -> None:
    engine, conn = make()
    run = engine.create({"model": "gpt-5.5", "input": "made over HTTP"})
    send(conn, input="continue", previous_response_id=run.id)
    (done,) = terminal(frames(conn))
    assert done["response"]["previous_response_id"] == run.id
    send(conn, input="stateless", store=False, previous_response_id=run.id)  # uncached and store=false
    assert errors_of(frames(conn))[0]["error"]["code"] == "previous_response_not_found"


def test_failed_same_lane_continuation_evicts_its_parent() -> None:
    _, conn = make()
    (first,) = _loop(conn, 1, store=False)
    bad = [{"type": "function_call_output", "call_id": "call_nope", "output": "x"}]
    send(conn, input=bad, store=False, previous_response_id=first["id"])
    assert errors_of(frames(conn))[0]["error"]["message"].startswith("No tool call found")
    send(conn, input="retry", store=False, previous_response_id=first["id"])
    assert errors_of(frames(conn))[0]["error"]["code"] == "previous_response_not_found"


def test_failed_cross_lane_fork_keeps_the_shared_parent() -> None:
    _, conn = make()
    (first,) = _loop(conn, 1, store=False, stream_id="main")
    bad = [{"type": "function_call_output", "call_id": "call_nope", "output": "x"}]
    send(conn, input=bad, store=False, previous_response_id=first["id"], stream_id="fork")
    (error,) = frames(conn)
    assert error["stream_id"] == "fork" and error["status"] == 400
    send(conn, input="fork again", store=False, previous_response_id=first["id"], stream_id="fork")
    (done,) = terminal(frames(conn))
    assert done["stream_id"] == "fork" and done["response"]["previous_response_id"] == first["id"]
    send(conn, input="main goes on", store=False, previous_response_id=first["id"], stream_id="main")
    assert len(terminal(frames(conn))) == 1


def test_warm_up_is_created_then_completed_and_chainable() -> None:
    _, conn = make()
    send(conn, input="system prompt and tools", generate=False, store=False, tools=[TOOL])
    fs = frames(conn)
    assert [(f["type"], f["sequence_number"]) for f in fs] == [
        ("response.created", 0),
        ("response.completed", 1),
    ]
    warm = fs[1]["response"]
    assert warm["output"] == [] and warm["usage"]["output_tokens"] == 0 and warm["usage"]["input_tokens"] > 0
    send(conn, input="now answer", store=False, previous_response_id=warm["id"], tools=[TOOL])
    (done,) = terminal(frames(conn))
    assert done["response"]["previous_response_id"] == warm["id"]
    assert (
        done["response"]["usage"]["input_tokens"] > warm["usage"]["input_tokens"]
    )  # the warm-up's input is seen


# --- the age cap ---------------------------------------------------------------------------------------


def _limit_then_close(items: list[Any]) -> None:
    *_, error, close = items
    assert close == Close(1000, "WebSocket connection age limit reached")
    assert error == {
        "type": "error",
        "status": 400,
        "sequence_number": None,
        "error": {
            "type": "invalid_request_error",
            "code": "websocket_connection_limit_reached",
            "message": "Responses websocket connection limit reached (60 minutes). "
            "Create a new websocket connection to continue.",
            "param": None,
        },
    }
    assert_faithful(error, "ws_event")


def test_idle_connection_is_closed_at_the_cap() -> None:
    engine, conn = make()
    woken: list[bool] = []
    conn.on_wake = lambda: woken.append(True)
    engine.advance(3599)
    assert conn.drain() == [] and not woken
    engine.advance(1)
    assert woken == [True]
    _limit_then_close(conn.drain())
    assert conn.closed and engine.session().clock.pending() == 0
    send(conn, input="too late")
    assert conn.drain() == []


def test_busy_connection_finishes_the_running_response_then_closes() -> None:
    engine, conn = make()
    send(conn, input="long running")
    send(conn, input="queued before the cap")
    engine.advance(3600)
    items = conn.drain()
    kinds = [i["type"] if isinstance(i, dict) else "close" for i in items]
    assert kinds.count("response.completed") == 1  # the queued create never starts
    _limit_then_close(items)
    journal = engine.session().journal
    assert [(e["status"], (e["error"] or {}).get("code")) for e in journal] == [
        (200, None),
        (400, "websocket_connection_limit_reached"),
    ]


def test_create_after_the_cap_gets_the_error_even_before_the_timer() -> None:
    engine, conn = make(ws_max_age=120)
    send(conn, input="hello")
    take(conn)
    engine.session().clock._offset += 120  # time passed without firing timers (a lagging ticker)
    send(conn, input="after the cap")
    items = conn.drain()
    assert isinstance(items[-1], Close)
    limit = next(i for i in items if isinstance(i, dict) and i["type"] == "error")
    assert limit["error"]["message"].startswith("Responses websocket connection limit reached (2 minutes).")


def test_close_cancels_the_cap_timer() -> None:
    engine, conn = make()
    assert engine.session().clock.pending() == 1
    conn.close()
    assert engine.session().clock.pending() == 0


# --- steering (SPEC §6.7) --------------------------------------------------------------------------------


def steer(conn: WsConnection, target: str, text: Any = "Also mention the weather.", **extra: Any) -> None:
    conn.receive_text(
        json.dumps({"type": "response.steer", "previous_response_id": target, "input": text, **extra})
    )


def test_steer_accepted_then_automatic_successor() -> None:
    engine, conn = make()
    send(conn, model="gpt-6-sol", input="Write about tea.", stream_id="agent", instructions="Be brief.")
    created = take(conn)
    target = created["response"]["id"]
    steer(conn, target)
    accepted = take(conn)
    assert accepted["type"] == "response.steer.accepted" and accepted["sequence_number"] == 1
    assert accepted["stream_id"] == "agent"
    assert accepted["steer"]["previous_response_id"] == target and accepted["steer"]["id"].startswith(
        "steer_"
    )
    rest = frames(conn)
    assert [f["sequence_number"] for f in rest[:2]] == [2, 3]  # the stream keeps counting
    done, successor = terminal(rest)
    assert done["response"]["id"] == target
    successor_created = next(
        f for f in rest if f["type"] == "response.created" and f["response"]["id"] != target
    )
    assert rest.index(successor_created) > rest.index(done)
    assert successor["response"]["previous_response_id"] == target
    assert successor["response"]["instructions"] == "Be brief."  # settings inherited
    stored = engine.store.get("default", successor["response"]["id"])
    assert stored is not None and stored.input_items[0]["content"][0]["text"] == "Also mention the weather."


def test_steer_pending_when_the_response_waits_for_tool_output() -> None:
    engine, conn = make()
    engine.queue_reply(FunctionCallsReply((FunctionCall("lookup", {"word": "tea"}, call_id="call_1"),)))
    send(conn, model="gpt-6-sol", input="Look up tea.", tools=[TOOL])
    target = take(conn)["response"]["id"]
    steer(
        conn,
        target,
        [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "And coffee."}]}],
    )
    rest = [take(conn), *frames(conn)]
    kinds = [f["type"] for f in rest]
    assert kinds[0] == "response.steer.accepted"
    assert kinds[-2:] == ["response.completed", "response.steer.pending"]
    pending = rest[-1]
    assert pending["reason"] == "waiting_for_required_input"
    assert pending["required_input"] == [
        {"type": "function_call_output", "call_id": "call_1", "name": "lookup"}
    ]
    assert pending["sequence_number"] == rest[-2]["sequence_number"] + 1
    send(
        conn,
        model="gpt-6-sol",
        previous_response_id=target,
        tools=[TOOL],
        input=[{"type": "function_call_output", "call_id": "call_1", "output": "a drink"}],
    )
    (done,) = terminal(frames(conn))
    stored = engine.store.get("default", done["response"]["id"])
    assert stored is not None
    assert [i["type"] for i in stored.input_items] == ["message", "function_call_output"]  # steer prepended


def test_steer_failures() -> None:
    engine, conn = make()
    send(conn, input="not steerable", model="gpt-5.5")
    old = take(conn)["response"]["id"]
    steer(conn, old)
    send(conn, model="gpt-6-sol", input="steerable")
    fs = frames(conn)
    (unsupported,) = [f for f in fs if f["type"] == "response.steer.failed"]
    assert unsupported["error"]["code"] == "steering_not_supported"
    assert unsupported["steer"]["input"] == "Also mention the weather."
    done = terminal(fs)[-1]["response"]["id"]

    def failure(target: str, text: Any = "more") -> dict[str, Any]:
        steer(conn, target, text)
        (f,) = frames(conn)
        assert f["type"] == "response.steer.failed" and f["error"]["type"] == "invalid_request_error"
        return f

    assert failure(done)["error"]["code"] == "response_already_completed"
    assert failure("resp_" + "0" * 50)["error"]["code"] == "response_not_found"
    http = engine.create({"model": "gpt-6-sol", "input": "over HTTP"})
    assert failure(http.id)["error"]["code"] == "response_not_active"
    for bad in ("", "  ", []):
        assert failure(done, bad)["error"]["code"] == "invalid_input"
    # Input the SDK cannot model is handed back as sent (so no fidelity check on these frames).
    for bad in ([{"role": "assistant", "content": "no"}], [{"role": "user", "content": [{"type": "x"}]}], 7):
        steer(conn, done, bad)
        (f,) = conn.drain()
        assert isinstance(f, dict) and f["error"]["code"] == "invalid_input"
        assert (
            f["steer"]["input"] == bad
            if not isinstance(bad, list)
            else f["steer"]["input"][0]["type"] == "message"
        )


def test_too_many_pending_steers() -> None:
    _, conn = make()
    send(conn, model="gpt-6-sol", input="busy")
    target = take(conn)["response"]["id"]
    for _ in range(MAX_PENDING_STEERS + 1):
        steer(conn, target)
    steered = [take(conn) for _ in range(MAX_PENDING_STEERS + 1)]
    assert [f["type"] for f in steered].count("response.steer.accepted") == MAX_PENDING_STEERS
    assert steered[-1]["type"] == "response.steer.failed"
    assert steered[-1]["error"]["code"] == "too_many_pending_steers"


def test_malformed_steer_is_a_ws_error() -> None:
    _, conn = make()
    steer(conn, "resp_x", stream_id="a")  # the target decides the lane: stream_id is not accepted
    (error,) = frames(conn)
    assert error["error"]["code"] == "unknown_parameter" and error["error"]["param"] == "stream_id"
    conn.receive_text(json.dumps({"type": "response.steer", "input": "x"}))
    (error,) = frames(conn)
    assert error["error"]["code"] == "missing_required_parameter"


def test_a_failing_store_is_a_500_error_event_and_the_connection_survives() -> None:
    class FlakyStore(MemoryStore):
        broken = True

        def put(self, session: str, record: StoredResponse) -> None:
            if self.broken:
                raise OSError("disk full")
            super().put(session, record)

    store = FlakyStore()
    conn = WsConnection(Engine(ServerConfig(seed=3, clock="virtual"), store=store))
    send(conn, input="one")
    (error,) = frames(conn)
    assert (error["status"], error["error"]["type"]) == (500, "server_error")
    store.broken = False
    send(conn, input="two")
    assert [f["type"] for f in terminal(frames(conn))] == ["response.completed"]
