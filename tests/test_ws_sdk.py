"""WebSocket mode driven by the real openai 3.51.0 client: ``client.responses.connect()``, sync and async.

Every frame is read raw (``recv_bytes``), checked against the SDK's ``ResponsesServerEvent`` models
with the fidelity checker, then parsed the way the SDK parses it.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import openai
import pytest
from openai.types.responses import ResponsesServerEvent

from mockserver import MockServer

from fidelity import assert_faithful

TERMINAL = ("response.completed", "response.incomplete", "response.failed")

WEATHER: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def recv(conn: Any) -> ResponsesServerEvent:
    """One frame: fidelity-checked raw JSON, then the SDK's own parse."""
    raw = conn.recv_bytes()
    assert_faithful(json.loads(raw), "ws_event")
    return conn.parse_event(raw)  # type: ignore[no-any-return]


def until_terminal(conn: Any, count: int = 1) -> list[ResponsesServerEvent]:
    events: list[ResponsesServerEvent] = []
    while count:
        event = recv(conn)
        events.append(event)
        if event.type in TERMINAL or event.type == "error":
            count -= 1
    return events


async def arecv(conn: Any) -> ResponsesServerEvent:
    raw = await conn.recv_bytes()
    assert_faithful(json.loads(raw), "ws_event")
    return conn.parse_event(raw)  # type: ignore[no-any-return]


# --- the SDK's three ways of reading -------------------------------------------------------------


def test_sync_send_recv(client: openai.OpenAI, server: MockServer) -> None:
    with client.responses.connect() as conn:
        conn.response.create(model="gpt-5.5", input="What is the capital of France?", stream=True)
        events = until_terminal(conn)
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))  # type: ignore[union-attr]
    final = events[-1].response  # type: ignore[union-attr]
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")  # type: ignore[union-attr]
    assert text == final.output_text and final.status == "completed"
    assert all(getattr(e, "stream_id", None) is None for e in events)
    # store defaults to true: the response is retrievable over HTTP, like its SSE counterpart.
    assert client.responses.retrieve(final.id).output_text == text


def test_ws_frames_equal_the_sse_stream() -> None:
    with MockServer(seed=11) as a, MockServer(seed=11) as b:
        # Twin servers: same seed, and their session clocks set to the same second, so ids, timestamps
        # and obfuscation padding must come out byte for byte the same.
        gap = b.engine.session().clock.now() - a.engine.session().clock.now()
        (a if gap > 0 else b).advance(abs(gap))
        http = openai.OpenAI(base_url=a.base_url, api_key="sk-x", max_retries=0)
        sse = [e.to_dict() for e in http.responses.create(model="gpt-5.5", input="Hello there", stream=True)]
        ws_client = openai.OpenAI(
            base_url=b.base_url, websocket_base_url=b.websocket_base_url, api_key="sk-x"
        )
        with ws_client.responses.connect() as conn:
            conn.response.create(model="gpt-5.5", input="Hello there")
            frames = [e.to_dict() for e in until_terminal(conn)]
    assert frames == sse


def test_sync_iteration_over_two_turns(client: openai.OpenAI) -> None:
    finals = []
    with client.responses.connect() as conn:
        conn.response.create(model="gpt-5.5", input="Name a colour.")
        for event in conn:
            if event.type == "response.completed":
                finals.append(event.response)
                if len(finals) == 1:
                    conn.response.create(
                        model="gpt-5.5", input="Another one.", previous_response_id=event.response.id
                    )
                else:
                    break
    assert finals[1].previous_response_id == finals[0].id
    assert finals[1].usage is not None and finals[0].usage is not None
    assert finals[1].usage.input_tokens > finals[0].usage.input_tokens


def test_sync_dispatch_events(client: openai.OpenAI) -> None:
    deltas: list[str] = []
    done: list[Any] = []
    with client.responses.connect() as conn:

        @conn.on("response.output_text.delta")
        def on_delta(event: Any) -> None:
            deltas.append(event.delta)

        @conn.on("response.completed")
        def on_done(event: Any) -> None:
            done.append(event.response)
            conn.close()  # ends dispatch_events

        conn.response.create(model="gpt-5.5", input="Tell me about tea.")
        conn.dispatch_events()
    assert len(done) == 1 and "".join(deltas) == done[0].output_text


def test_dispatch_events_raises_on_an_unhandled_error_event(client: openai.OpenAI) -> None:
    with client.responses.connect() as conn:
        conn.send({"type": "response.create", "model": "gpt-5.5", "input": "x", "background": True})  # type: ignore[typeddict-item]
        with pytest.raises(openai.OpenAIError, match="WebSocket error") as caught:
            conn.dispatch_events()
    assert "unsupported_parameter" in str(caught.value) and "background" in str(caught.value)


async def test_async_send_recv_iteration_and_dispatch(async_client: openai.AsyncOpenAI) -> None:
    async with async_client.responses.connect() as conn:
        await conn.response.create(model="gpt-5.5", input="First question.", store=False)
        first = None
        while first is None:
            event = await arecv(conn)
            if event.type == "response.completed":
                first = event.response
        await conn.response.create(
            model="gpt-5.5", input="Second.", previous_response_id=first.id, store=False
        )
        async for event in conn:
            if event.type == "response.completed":
                second = event.response
                break
        assert second.previous_response_id == first.id and second.store is False

        seen: list[str] = []

        @conn.on("event")
        async def on_any(event: Any) -> None:
            seen.append(event.type)
            if event.type == "response.completed":
                await conn.close()

        await conn.response.create(
            model="gpt-5.5", input="Third.", previous_response_id=second.id, store=False
        )
        await conn.dispatch_events()
    assert seen[0] == "response.created" and seen[-1] == "response.completed"


# --- the agent loop WebSocket mode is for ----------------------------------------------------------


def test_twenty_turn_tool_loop_with_store_false(client: openai.OpenAI, server: MockServer) -> None:
    previous: str | None = None
    pending: list[dict[str, Any]] = [{"role": "user", "content": "Weather in 19 cities, one call per turn."}]
    finals: list[Any] = []
    with client.responses.connect() as conn:
        for turn in range(20):
            conn.response.create(
                model="gpt-5.5",
                input=pending,  # type: ignore[arg-type]
                tools=[WEATHER],  # type: ignore[list-item]
                tool_choice="required" if turn < 19 else "none",
                previous_response_id=previous,  # type: ignore[arg-type]
                store=False,
            )
            (final,) = [e for e in until_terminal(conn) if e.type == "response.completed"]
            response = final.response  # type: ignore[union-attr]
            finals.append(response)
            previous = response.id
            calls = [item for item in response.output if item.type == "function_call"]
            pending = [
                {"type": "function_call_output", "call_id": c.call_id, "output": f"sunny {turn}"}
                for c in calls
            ]
    assert [
        bool(pending) for pending in [[i for i in r.output if i.type == "function_call"] for r in finals]
    ] == [True] * 19 + [False]
    assert finals[-1].output_text  # the final answer, after 19 tool round trips
    # The whole history is seen on every turn although nothing is stored: the same loop over HTTP with
    # store=true on a twin server (same seed) counts exactly the same input tokens turn by turn.
    assert [r.usage.input_tokens for r in finals] == _http_loop_input_tokens(20)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(finals[-1].id)
    assert [e["transport"] for e in server.journal()].count("ws") == 21  # the upgrade and 20 creates


def _http_loop_input_tokens(turns: int) -> list[int]:
    with MockServer(seed=7) as twin:
        http = openai.OpenAI(base_url=twin.base_url, api_key="sk-x", max_retries=0)
        previous: str | None = None
        pending: list[dict[str, Any]] = [
            {"role": "user", "content": "Weather in 19 cities, one call per turn."}
        ]
        counts: list[int] = []
        for turn in range(turns):
            response = http.responses.create(
                model="gpt-5.5",
                input=pending,  # type: ignore[arg-type]
                tools=[WEATHER],  # type: ignore[list-item]
                tool_choice="required" if turn < turns - 1 else "none",
                previous_response_id=previous,
            )
            assert response.usage is not None
            counts.append(response.usage.input_tokens)
            previous = response.id
            calls = [item for item in response.output if item.type == "function_call"]
            pending = [
                {"type": "function_call_output", "call_id": c.call_id, "output": f"sunny {turn}"}
                for c in calls
            ]
        return counts


def test_queued_creates_run_in_order(client: openai.OpenAI) -> None:
    with client.responses.connect() as conn:
        for n in range(3):
            conn.response.create(model="gpt-5.5", input=f"question number {n}")
        events = until_terminal(conn, 3)
    lifecycle = [(e.type, e.response.id) for e in events if e.type in ("response.created", *TERMINAL)]  # type: ignore[union-attr]
    assert [k for k, _ in lifecycle] == ["response.created", "response.completed"] * 3
    assert all(lifecycle[i][1] == lifecycle[i + 1][1] for i in range(0, 6, 2))
    texts = [e.response.output_text for e in events if e.type == "response.completed"]  # type: ignore[union-attr]
    assert [f"question number {n}" in t for n, t in enumerate(texts)] == [True] * 3


def test_lanes_and_a_fork(client: openai.OpenAI) -> None:
    with client.responses.connect() as conn:
        conn.response.create(model="gpt-5.5", input="Plan a trip to Rome.", stream_id="planner", store=False)
        conn.response.create(model="gpt-5.5", input="Plan a trip to Oslo.", stream_id="other", store=False)
        events = until_terminal(conn, 2)
        by_lane = {e.stream_id: e.response for e in events if e.type == "response.completed"}  # type: ignore[union-attr]
        assert set(by_lane) == {"planner", "other"}
        assert all(e.stream_id in ("planner", "other") for e in events)  # type: ignore[union-attr]
        # Fork the planner's (store=false, cached) response onto a new lane, and continue both.
        conn.response.create(
            model="gpt-5.5",
            input="Cheaper.",
            stream_id="fork",
            previous_response_id=by_lane["planner"].id,
            store=False,
        )
        conn.response.create(
            model="gpt-5.5",
            input="Longer.",
            stream_id="planner",
            previous_response_id=by_lane["planner"].id,
            store=False,
        )
        events = until_terminal(conn, 2)
    forks = {e.stream_id: e.response for e in events if e.type == "response.completed"}  # type: ignore[union-attr]
    assert {r.previous_response_id for r in forks.values()} == {by_lane["planner"].id}
    assert set(forks) == {"fork", "planner"}


def test_http_and_ws_chain_both_ways(client: openai.OpenAI) -> None:
    over_http = client.responses.create(model="gpt-5.5", input="Start over HTTP.")
    with client.responses.connect() as conn:
        conn.response.create(
            model="gpt-5.5", input="Continue over WebSocket.", previous_response_id=over_http.id
        )
        (ws_final,) = [e for e in until_terminal(conn) if e.type == "response.completed"]
    back = client.responses.create(
        model="gpt-5.5",
        input="And back to HTTP.",
        previous_response_id=ws_final.response.id,  # type: ignore[union-attr]
    )
    assert back.previous_response_id == ws_final.response.id  # type: ignore[union-attr]
    assert back.usage is not None and over_http.usage is not None
    middle = ws_final.response.usage  # type: ignore[union-attr]
    assert back.usage.input_tokens > middle.input_tokens > over_http.usage.input_tokens  # history grows


def test_session_header_of_the_upgrade(server: MockServer, client: openai.OpenAI) -> None:
    with client.responses.connect(extra_headers={"x-resplay-session": "ws-session"}) as conn:
        conn.response.create(model="gpt-5.5", input="Hello")
        (final,) = [e for e in until_terminal(conn) if e.type == "response.completed"]
    rid = final.response.id  # type: ignore[union-attr]
    got = client.responses.retrieve(rid, extra_headers={"x-resplay-session": "ws-session"})
    assert got.id == rid
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(rid)
    assert [e["transport"] for e in server.journal(session="ws-session")] == ["ws", "ws", "http"]


# --- the 60-minute cap, then reconnection -------------------------------------------------------------


def test_cap_on_the_virtual_clock_then_reconnect_and_chain(client: openai.OpenAI, server: MockServer) -> None:
    reconnects: list[Any] = []
    with client.responses.connect(on_reconnecting=reconnects.append) as conn:
        conn.response.create(model="gpt-5.5", input="Remember: the code is 42.", store=True)
        (kept,) = [e for e in until_terminal(conn) if e.type == "response.completed"]
        conn.response.create(
            model="gpt-5.5",
            input="Stateless turn.",
            store=False,
            previous_response_id=kept.response.id,  # type: ignore[union-attr]
        )
        (lost,) = [e for e in until_terminal(conn) if e.type == "response.completed"]
        server.advance(3599)
        server.advance(1)  # the cap: the idle connection gets the error event, then close 1000
        rest = list(conn)
    assert [e.type for e in rest] == ["error"]
    assert rest[0].error.code == "websocket_connection_limit_reached"  # type: ignore[union-attr]
    assert rest[0].status == 400  # type: ignore[union-attr]
    assert reconnects == []  # 1000 is a normal close: the SDK does not reconnect (SPEC §6.6)

    with client.responses.connect(on_reconnecting=reconnects.append) as conn:
        conn.response.create(
            model="gpt-5.5",
            input="Still there?",
            store=True,
            previous_response_id=kept.response.id,  # type: ignore[union-attr]
        )
        (again,) = [e for e in until_terminal(conn) if e.type == "response.completed"]
        conn.response.create(
            model="gpt-5.5",
            input="And this?",
            store=False,
            previous_response_id=lost.response.id,  # type: ignore[union-attr]
        )
        (error,) = until_terminal(conn)
    assert again.response.previous_response_id == kept.response.id  # type: ignore[union-attr]
    assert error.type == "error" and error.error.code == "previous_response_not_found"  # type: ignore[union-attr]
    assert reconnects == []


async def test_cap_through_the_admin_clock_endpoint(
    async_client: openai.AsyncOpenAI, server: MockServer
) -> None:
    async with async_client.responses.connect(on_reconnecting=lambda e: None) as conn:
        await conn.response.create(model="gpt-5.5", input="hi")
        while (await arecv(conn)).type != "response.completed":
            pass
        async with aiohttp.ClientSession() as http:
            answer = await http.post(server.url + "/_resplay/clock/advance", json={"seconds": 3600})
            assert (await answer.json())["fired"] == 1
        rest = [e async for e in conn]
    assert [(e.type, e.error.code) for e in rest] == [("error", "websocket_connection_limit_reached")]  # type: ignore[union-attr]


def test_handshake_needs_the_right_key() -> None:
    import websockets

    with MockServer(api_key="sk-right") as server:
        wrong = openai.OpenAI(base_url=server.base_url, api_key="sk-wrong-key-123456", max_retries=0)
        with pytest.raises(websockets.exceptions.InvalidStatus) as caught, wrong.responses.connect():
            pass
        response = caught.value.response
        assert response.status_code == 401
        assert json.loads(response.body)["error"]["code"] == "invalid_api_key"
        right = openai.OpenAI(base_url=server.base_url, api_key="sk-right", max_retries=0)
        with right.responses.connect() as conn:
            conn.response.create(model="gpt-5.5", input="hi")
            assert until_terminal(conn)[-1].type == "response.completed"
        assert [(e["status"], e["transport"]) for e in server.journal()][:2] == [(401, "http"), (101, "ws")]


def test_steer_through_the_sdk(client: openai.OpenAI) -> None:
    with client.responses.connect() as conn:
        conn.response.create(model="gpt-6-sol", input="Write a haiku.", stream_id="poet")
        (final,) = [e for e in until_terminal(conn) if e.type == "response.completed"]
        conn.response.steer(input="Make it about rain.", previous_response_id=final.response.id)  # type: ignore[union-attr]
        failed = recv(conn)
    # Foreground responses finish at once with the instant latency: steering one that is done fails.
    assert failed.type == "response.steer.failed"
    assert failed.error.code == "response_already_completed" and failed.stream_id == "poet"
    assert failed.steer.input == "Make it about rain."


def test_cap_under_the_real_clock_is_fired_by_the_ticker() -> None:
    with MockServer(clock="real", ws_max_age=0.3) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-x", max_retries=0)
        with client.responses.connect() as conn:
            events = list(conn)  # returns when the server closes (1000) at the cap, without any request
    assert [(e.type, e.error.code) for e in events] == [("error", "websocket_connection_limit_reached")]  # type: ignore[union-attr]
    assert "(0.005 minutes)" in events[0].error.message  # type: ignore[union-attr]
