"""WebSocket-mode record and replay with the real openai client (issue 7).

A resplay ``MockServer`` plays the real API; ``use_cassette`` records ``client.responses.connect()``
through the in-process proxy; the server is then stopped and the cassette replays offline with the sync
and the async client. Lanes, fail-closed replay, record mode ``none`` and a replayed 1012 close that
makes the SDK reconnect.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml
from plugin_helpers import api_requests

from mockserver import MockServer
from pytest_plugin import CassetteMismatch, UnusedInteractions, use_cassette

KEY = "sk-proj-wsrecord0123456789abcdef"
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
TURNS = 20


def sync_client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0)


def async_client(base_url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=0)


def _next_turn(final: Any, turn: int) -> dict[str, Any]:
    calls = [item for item in final.output if item.type == "function_call"]
    assert calls, "tool_choice=required must call the tool"
    outputs = [
        {"type": "function_call_output", "call_id": c.call_id, "output": json.dumps({"temp_c": turn})}
        for c in calls
    ]
    return {"input": outputs, "previous_response_id": final.id}


def _create(turn_input: dict[str, Any]) -> dict[str, Any]:
    return {"model": "gpt-5.5", "tools": [WEATHER], "tool_choice": "required", "store": False, **turn_input}


def tool_loop(client: openai.OpenAI) -> list[Any]:
    """A 20-turn store=false tool loop over one connection: each turn answers the previous calls."""
    transcript: list[Any] = []
    with client.responses.connect() as conn:
        conn.response.create(**_create({"input": "Weather in 20 cities, one call per turn."}))
        for turn in range(TURNS):
            kinds = []
            while (event := conn.recv()).type != "response.completed":
                assert event.type != "error", event
                kinds.append(event.type)
            final = event.response  # type: ignore[union-attr]
            transcript.append([final.id, [o.to_dict() for o in final.output], kinds])
            if turn < TURNS - 1:
                conn.response.create(**_create(_next_turn(final, turn)))
    return transcript


async def async_tool_loop(client: openai.AsyncOpenAI) -> list[Any]:
    transcript: list[Any] = []
    async with client.responses.connect() as conn:
        await conn.response.create(**_create({"input": "Weather in 20 cities, one call per turn."}))
        for turn in range(TURNS):
            kinds = []
            while (event := await conn.recv()).type != "response.completed":
                assert event.type != "error", event
                kinds.append(event.type)
            final = event.response  # type: ignore[union-attr]
            transcript.append([final.id, [o.to_dict() for o in final.output], kinds])
            if turn < TURNS - 1:
                await conn.response.create(**_create(_next_turn(final, turn)))
    return transcript


@pytest.fixture(scope="module")
def recorded_loop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any], str]:
    """The tool loop recorded once against a resplay upstream that is gone afterwards."""
    path = tmp_path_factory.mktemp("ws") / "loop.yaml"
    with MockServer(seed=5) as upstream:
        with use_cassette(path, record_mode="once", environ={}):
            transcript = tool_loop(sync_client(upstream.base_url))
        # The upgrade and every turn reached the upstream, through the proxy.
        assert api_requests(upstream) == 1 + TURNS
        base_url = upstream.base_url
    return path, transcript, base_url


def test_tool_loop_cassette_is_readable_and_redacted(recorded_loop: tuple[Path, list[Any], str]) -> None:
    path, _, _ = recorded_loop
    text = path.read_text()
    assert KEY not in text and "REDACTED" in text
    document = yaml.load(text, Loader=yaml.CSafeLoader)
    assert document["format_version"] == 1 and document["interactions"] == []
    (session,) = document["websockets"]
    assert session["request"]["uri"].endswith("/v1/responses")
    assert session["close"] == {"code": 1000, "reason": "", "by": "client"}
    client_frames = [m["json"] for m in session["messages"] if m["from"] == "client"]
    assert len(client_frames) == TURNS
    assert all(f["type"] == "response.create" and f["store"] is False for f in client_frames)
    server = [m for m in session["messages"] if m["from"] == "server"]
    assert sum(m["json"]["type"] == "response.completed" for m in server) == TURNS
    assert all(isinstance(m["t"], float) for m in session["messages"])


def test_tool_loop_replays_offline_with_the_sync_client(recorded_loop: tuple[Path, list[Any], str]) -> None:
    path, transcript, base_url = recorded_loop
    with use_cassette(path, environ={}):  # record_mode none: the upstream is stopped
        assert tool_loop(sync_client(base_url)) == transcript


async def test_tool_loop_replays_offline_with_the_async_client(
    recorded_loop: tuple[Path, list[Any], str],
) -> None:
    path, transcript, _ = recorded_loop
    # Any base URL: matching ignores the host, as for HTTP.
    with use_cassette(path, environ={}):
        assert await async_tool_loop(async_client("http://127.0.0.1:9/v1")) == transcript


def replay_failing(
    path: Path, *bodies: dict[str, Any], base_url: str = "http://127.0.0.1:9/v1"
) -> tuple[Any, str]:
    """Send ``bodies`` on one replayed connection; the first event back and the teardown's mismatch."""
    events: list[Any] = []

    def run() -> None:
        with (
            use_cassette(path, environ={}, allow_unused=True),
            sync_client(base_url).responses.connect() as conn,
        ):
            for body in bodies:
                conn.response.create(**body)
            while (event := conn.recv()).type != "error":
                pass
            events.append(event)

    with pytest.raises(CassetteMismatch) as raised:
        run()
    return events[0], str(raised.value)


def test_a_changed_turn_fails_closed_with_the_difference(recorded_loop: tuple[Path, list[Any], str]) -> None:
    path, _, base_url = recorded_loop
    event, message = replay_failing(path, _create({"input": "Weather in 19 cities."}), base_url=base_url)
    assert event.error.code == "cassette_mismatch" and event.error.message == message
    assert "response.create frame on the default lane does not match" in message
    recorded = "Weather in 20 cities, one call per turn."
    assert f'frame.input: recorded "{recorded}", live "Weather in 19 cities."' in message


# --- lanes ---------------------------------------------------------------------------------------------

CITIES = {"a": "Rome", "b": "Oslo"}


def lanes(client: openai.OpenAI, order: str, city_b: str = "Oslo") -> dict[str, str]:
    cities = {**CITIES, "b": city_b}
    done: dict[str, str] = {}
    with client.responses.connect() as conn:
        for lane in order:
            conn.response.create(
                model="gpt-5.5", input=f"Plan a trip to {cities[lane]}.", stream_id=lane, store=False
            )
        while len(done) < 2:
            event = conn.recv()
            assert event.type != "error", event
            if event.type == "response.completed":
                done[event.stream_id] = event.response.output_text  # type: ignore[union-attr]
    return done


def test_lanes_replay_in_any_client_order_and_fail_per_lane(tmp_path: Path) -> None:
    path = tmp_path / "lanes.yaml"
    with MockServer(seed=9) as upstream, use_cassette(path, record_mode="once", environ={}):
        recorded = lanes(sync_client(upstream.base_url), "ab")
    session = yaml.safe_load(path.read_text())["websockets"][0]
    assert {m.get("stream_id") for m in session["messages"]} == {"a", "b"}

    # Each client frame is checked against the next recorded frame *of its lane*.
    with use_cassette(path, environ={}):
        assert lanes(sync_client("http://127.0.0.1:9/v1"), "ba") == recorded

    _, message = replay_failing(
        path,
        {"model": "gpt-5.5", "input": "Plan a trip to Rome.", "stream_id": "a", "store": False},
        {"model": "gpt-5.5", "input": "Plan a trip to Lima.", "stream_id": "b", "store": False},
    )
    assert "lane 'b' does not match" in message
    assert 'frame.input: recorded "Plan a trip to Oslo.", live "Plan a trip to Lima."' in message


# --- close codes and reconnection ---------------------------------------------------------------------


def test_a_replayed_1012_close_makes_the_sdk_reconnect(tmp_path: Path) -> None:
    path = tmp_path / "restart.yaml"
    first: dict[str, Any] = {"model": "gpt-5.5", "input": "First turn.", "store": False}
    second: dict[str, Any] = {"model": "gpt-5.5", "input": "After the restart.", "store": False}
    with MockServer(seed=4) as upstream:
        client = sync_client(upstream.base_url)
        with use_cassette(path, record_mode="once", environ={}):
            for body in (first, second):
                with client.responses.connect() as conn:
                    conn.response.create(**body)
                    while conn.recv().type != "response.completed":
                        pass
    # The upstream restarts after the first turn: the first connection ends with the server's 1012.
    document = yaml.safe_load(path.read_text())
    document["websockets"][0]["close"] = {"code": 1012, "reason": "service restart", "by": "server"}
    path.write_text(yaml.safe_dump(document, sort_keys=False))

    reconnects: list[int] = []
    finals: list[str] = []
    with use_cassette(path, environ={}):
        client = sync_client("http://127.0.0.1:9/v1")

        def on_reconnecting(event: Any) -> None:
            reconnects.append(event.close_code)
            conn.response.create(**second)  # queued by the SDK, sent on the new socket

        with client.responses.connect(on_reconnecting=on_reconnecting, initial_delay=0.001) as conn:
            conn.response.create(**first)
            for event in conn:
                if event.type == "response.completed":
                    finals.append(event.response.output_text)
                    if len(finals) == 2:
                        break
    assert reconnects == [1012]
    assert len(finals) == 2


def test_a_replayed_1000_close_ends_iteration_without_reconnecting(tmp_path: Path) -> None:
    path = tmp_path / "cap.yaml"
    with (
        MockServer(seed=4) as upstream,
        use_cassette(path, record_mode="once", environ={}),
        sync_client(upstream.base_url).responses.connect() as conn,
    ):
        conn.response.create(model="gpt-5.5", input="hi", store=False)
        while conn.recv().type != "response.completed":
            pass
    document = yaml.safe_load(path.read_text())
    document["websockets"][0]["close"] = {"code": 1000, "reason": "done", "by": "server"}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    reconnects: list[Any] = []
    client = sync_client("http://127.0.0.1:9/v1")
    with use_cassette(path, environ={}), client.responses.connect(on_reconnecting=reconnects.append) as conn:
        conn.response.create(model="gpt-5.5", input="hi", store=False)
        kinds = [event.type for event in conn]  # ends quietly at the recorded 1000
    assert kinds[-1] == "response.completed" and reconnects == []


# --- record mode none and unused sessions -------------------------------------------------------------


def test_record_mode_none_fails_closed_without_a_cassette(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with MockServer() as upstream:
        event, message = replay_failing(path, {"model": "gpt-5.5", "input": "hi"}, base_url=upstream.base_url)
        assert api_requests(upstream) == 0  # nothing reached the network
    assert event.error.code == "cassette_mismatch"
    assert "no recorded WebSocket session answers" in message
    assert "does not exist (record_mode 'none' does not record)" in message
    assert not path.exists()


def test_sessions_never_replayed_fail_the_replay(recorded_loop: tuple[Path, list[Any], str]) -> None:
    path, _, _ = recorded_loop
    with pytest.raises(UnusedInteractions, match=r"websocket #0: .* \(never connected\)"):  # noqa: SIM117
        with use_cassette(path, environ={}):
            pass
    with use_cassette(path, environ={}, allow_unused=True):
        pass
