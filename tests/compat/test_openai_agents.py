"""openai-agents (the OpenAI Agents SDK) against resplay: Runner with function tools, multi-turn, streaming,
and its Responses WebSocket transport (``responses_websocket_session``)."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from mockserver import MockServer

pytestmark = pytest.mark.compat

agents = pytest.importorskip("agents", reason="openai-agents is not installed (pip install -e '.[compat]')")

MODEL = "gpt-5.5"


@pytest.fixture(autouse=True)
def _no_tracing() -> None:
    # The SDK exports traces to api.openai.com by default: no test touches the internet.
    agents.set_tracing_disabled(True)


@pytest.fixture
def weather() -> tuple[Any, list[str]]:
    """A real function tool and the list of cities it was called with."""
    calls: list[str] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        calls.append(city)
        return f"Sunny in {city}, 21 C."

    return get_weather, calls


def make_agent(async_client: openai.AsyncOpenAI, tools: list[Any]) -> Any:
    model = agents.OpenAIResponsesModel(MODEL, async_client)
    return agents.Agent(name="assistant", instructions="Answer briefly.", tools=tools, model=model)


def stored_text(client: openai.OpenAI, response_id: str) -> str:
    return client.responses.retrieve(response_id).output_text


async def test_runner_executes_the_queued_function_call(
    server: MockServer, async_client: openai.AsyncOpenAI, client: openai.OpenAI, weather: Any, journal: Any
) -> None:
    tool, calls = weather
    server.queue_function_call("get_weather", {"city": "Paris"}, call_id="call_paris")
    server.queue_text("It is sunny in Paris.")
    result = await agents.Runner.run(make_agent(async_client, [tool]), "What is the weather in Paris?")

    assert calls == ["Paris"]
    assert result.final_output == "It is sunny in Paris."
    first, second = journal()
    assert (first["method"], first["path"], first["status"], first["transport"]) == (
        "POST",
        "/v1/responses",
        200,
        "http",
    )
    assert first["body"]["tools"][0]["name"] == "get_weather"
    assert first["body"]["tools"][0]["type"] == "function"
    assert first["body"]["instructions"] == "Answer briefly."
    call, output = second["body"]["input"][-2:]
    assert call["type"] == "function_call" and call["call_id"] == "call_paris"
    assert json.loads(call["arguments"]) == {"city": "Paris"}
    assert output == {
        "type": "function_call_output",
        "call_id": "call_paris",
        "output": "Sunny in Paris, 21 C.",
    }
    assert stored_text(client, second["response_id"]) == result.final_output


async def test_parallel_function_calls_all_run(
    server: MockServer, async_client: openai.AsyncOpenAI, weather: Any, journal: Any
) -> None:
    tool, calls = weather
    server.queue_function_calls(
        [
            {"name": "get_weather", "arguments": {"city": "Paris"}, "call_id": "call_1"},
            {"name": "get_weather", "arguments": {"city": "Oslo"}, "call_id": "call_2"},
        ]
    )
    server.queue_text("Paris and Oslo: both sunny.")
    result = await agents.Runner.run(make_agent(async_client, [tool]), "Weather in Paris and Oslo?")

    assert sorted(calls) == ["Oslo", "Paris"]
    assert result.final_output == "Paris and Oslo: both sunny."
    outputs = [i for i in journal()[1]["body"]["input"] if i.get("type") == "function_call_output"]
    assert {o["call_id"]: o["output"] for o in outputs} == {
        "call_1": "Sunny in Paris, 21 C.",
        "call_2": "Sunny in Oslo, 21 C.",
    }


async def test_multi_turn_by_input_list_and_by_previous_response_id(
    server: MockServer, async_client: openai.AsyncOpenAI, client: openai.OpenAI, journal: Any
) -> None:
    agent = make_agent(async_client, [])
    first = await agents.Runner.run(agent, "My name is Ada.")
    # Stateless: the whole history goes back as input items.
    second = await agents.Runner.run(
        agent, [*first.to_input_list(), {"role": "user", "content": "Who am I?"}]
    )
    # Stateful: only the new message, chained to the stored response.
    third = await agents.Runner.run(agent, "And again?", previous_response_id=second.last_response_id)

    entries = journal()
    assert [e["status"] for e in entries] == [200, 200, 200]
    history = entries[1]["body"]["input"]
    assert [i.get("role") for i in history if i.get("type") != "reasoning"] == ["user", "assistant", "user"]
    answer = next(i for i in history if i.get("role") == "assistant")
    assert answer["content"][0]["text"] == first.final_output
    assert entries[2]["body"]["previous_response_id"] == second.last_response_id
    assert entries[2]["body"]["input"] == [{"content": "And again?", "role": "user"}]
    for result, entry in zip((first, second, third), entries, strict=True):
        assert result.final_output == stored_text(client, entry["response_id"])
    assert "Who am I?" in second.final_output  # the default model quotes the latest user text


async def test_run_streamed_with_a_tool(
    server: MockServer, async_client: openai.AsyncOpenAI, weather: Any, journal: Any
) -> None:
    tool, calls = weather
    server.queue_function_call("get_weather", {"city": "Lima"}, call_id="call_lima")
    server.queue_text("Lima is sunny today.")
    streamed = agents.Runner.run_streamed(make_agent(async_client, [tool]), "Weather in Lima?")
    deltas: list[str] = []
    kinds: list[str] = []
    async for event in streamed.stream_events():
        if event.type == "raw_response_event" and event.data.type == "response.output_text.delta":
            deltas.append(event.data.delta)
        elif event.type == "run_item_stream_event":
            kinds.append(event.item.type)

    assert calls == ["Lima"]
    assert streamed.final_output == "Lima is sunny today." == "".join(deltas)
    assert len(deltas) > 1  # really streamed, not one chunk
    assert kinds == ["tool_call_item", "tool_call_output_item", "message_output_item"]
    entries = journal()
    assert [(e["transport"], e["body"]["stream"]) for e in entries] == [("sse", True), ("sse", True)]


async def test_websocket_transport(server: MockServer, weather: Any, journal: Any) -> None:
    tool, calls = weather
    server.queue_function_call("get_weather", {"city": "Rome"}, call_id="call_rome")
    server.queue_text("Rome: clear skies.")
    agent = agents.Agent(name="assistant", instructions="Answer briefly.", tools=[tool], model=MODEL)
    async with agents.responses_websocket_session(
        api_key="sk-test-key", base_url=server.base_url, websocket_base_url=server.websocket_base_url
    ) as session:
        first = await session.run(agent, "Weather in Rome?")
        streamed = session.run_streamed(agent, "Thanks!", previous_response_id=first.last_response_id)
        deltas = [
            event.data.delta
            async for event in streamed.stream_events()
            if event.type == "raw_response_event" and event.data.type == "response.output_text.delta"
        ]

    assert calls == ["Rome"]
    assert first.final_output == "Rome: clear skies."
    assert streamed.final_output == "".join(deltas) and "Thanks!" in streamed.final_output
    entries = journal()
    # One WebSocket connection (the upgrade), then three response.create messages over it.
    assert [(e["method"], e["transport"], e["status"]) for e in entries] == [
        ("GET", "ws", 101),
        ("WS", "ws", 200),
        ("WS", "ws", 200),
        ("WS", "ws", 200),
    ]
    creates = [e["body"] for e in entries[1:]]
    # The SDK sends `stream: true` over the socket too; the API ignores it there (SPEC §6), and so do we.
    assert [(body["type"], body.get("stream")) for body in creates] == [("response.create", True)] * 3
    assert creates[1]["input"][-1] == {
        "call_id": "call_rome",
        "output": "Sunny in Rome, 21 C.",
        "type": "function_call_output",
    }
    assert creates[2]["previous_response_id"] == first.last_response_id
