"""pydantic-ai's ``OpenAIResponsesModel`` against resplay: a tool the model really calls, multi-turn message
history, and streamed text."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from mockserver import MockServer

pytestmark = pytest.mark.compat

pydantic_ai = pytest.importorskip(
    "pydantic_ai", reason="pydantic-ai is not installed (pip install -e '.[compat]')"
)
from pydantic_ai.models.openai import OpenAIResponsesModel  # noqa: E402
from pydantic_ai.providers.openai import OpenAIProvider  # noqa: E402

MODEL = "gpt-5.5"


def make_agent(async_client: openai.AsyncOpenAI) -> tuple[Any, list[str]]:
    """An agent on resplay with a ``get_weather`` tool, and the cities the tool was called with."""
    model = OpenAIResponsesModel(MODEL, provider=OpenAIProvider(openai_client=async_client))
    agent = pydantic_ai.Agent(model, instructions="Answer briefly.")
    calls: list[str] = []

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        calls.append(city)
        return f"Sunny in {city}, 21 C."

    return agent, calls


async def test_tool_runs_with_the_queued_arguments(
    server: MockServer, async_client: openai.AsyncOpenAI, client: openai.OpenAI, journal: Any
) -> None:
    agent, calls = make_agent(async_client)
    server.queue_function_call("get_weather", {"city": "Paris"}, call_id="call_paris")
    server.queue_text("It is sunny in Paris.")
    result = await agent.run("What is the weather in Paris?")

    assert calls == ["Paris"]
    assert result.output == "It is sunny in Paris."
    first, second = journal()
    assert first["status"] == second["status"] == 200
    tool = first["body"]["tools"][0]
    assert (tool["type"], tool["name"], tool["parameters"]["required"]) == (
        "function",
        "get_weather",
        ["city"],
    )
    assert first["body"]["instructions"] == "Answer briefly."
    call, output = second["body"]["input"][-2:]
    assert call["type"] == "function_call" and json.loads(call["arguments"]) == {"city": "Paris"}
    assert output == {
        "type": "function_call_output",
        "call_id": "call_paris",
        "output": "Sunny in Paris, 21 C.",
    }
    assert client.responses.retrieve(second["response_id"]).output_text == result.output


async def test_default_model_calls_the_tool_and_reasoning_round_trips(
    server: MockServer, async_client: openai.AsyncOpenAI, journal: Any
) -> None:
    # No script: resplay's default model calls a tool the question names (DECISIONS 15), with reasoning.
    # pydantic-ai asks for encrypted reasoning and sends it back; resplay opens and continues from it.
    agent, calls = make_agent(async_client)
    result = await agent.run("What is the weather in Paris?")

    assert len(calls) == 1
    assert "Sunny in" in result.output
    assert "Continuing from 1 earlier reasoning item" in result.output
    first, second = journal()
    assert "reasoning.encrypted_content" in first["body"]["include"]
    sent_back = [i for i in second["body"]["input"] if i.get("type") == "reasoning"]
    assert len(sent_back) == 1 and sent_back[0]["encrypted_content"].startswith("gAAAAA")


async def test_multi_turn_message_history(
    server: MockServer, async_client: openai.AsyncOpenAI, client: openai.OpenAI, journal: Any
) -> None:
    agent, _ = make_agent(async_client)
    server.queue_text("Hello Ada.")
    first = await agent.run("My name is Ada.")
    second = await agent.run("What is my name?", message_history=first.all_messages())

    assert first.output == "Hello Ada."
    entries = journal()
    assert len(entries) == 2
    history = [i for i in entries[1]["body"]["input"] if i.get("type") != "reasoning"]
    assert [(i.get("role"), i.get("type")) for i in history] == [
        ("user", None),
        ("assistant", "message"),
        ("user", None),
    ]
    assert history[1]["content"][0]["text"] == "Hello Ada."
    assert second.output == client.responses.retrieve(entries[1]["response_id"]).output_text
    assert "What is my name?" in second.output


async def test_streamed_text(server: MockServer, async_client: openai.AsyncOpenAI, journal: Any) -> None:
    agent, _ = make_agent(async_client)
    server.queue_text("Streaming works from start to finish over server-sent events.")
    async with agent.run_stream("Stream please.") as streamed:
        chunks = [chunk async for chunk in streamed.stream_text(delta=True, debounce_by=None)]

    assert "".join(chunks) == "Streaming works from start to finish over server-sent events."
    assert len(chunks) > 1
    (entry,) = journal()
    assert (entry["transport"], entry["body"]["stream"]) == ("sse", True)


async def test_streamed_run_with_a_tool(
    server: MockServer, async_client: openai.AsyncOpenAI, journal: Any
) -> None:
    agent, calls = make_agent(async_client)
    server.queue_function_call("get_weather", {"city": "Oslo"})
    server.queue_text("Oslo is sunny.")
    async with agent.run_stream("Weather in Oslo?") as streamed:
        text = await streamed.get_output()

    assert calls == ["Oslo"]
    assert text == "Oslo is sunny."
    assert [e["transport"] for e in journal()] == ["sse", "sse"]
