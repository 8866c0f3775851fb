"""langchain-openai's ``ChatOpenAI(use_responses_api=True)`` against resplay: invoke, stream, a bound tool
in a manual tool loop, stored and stateless (``store=False``) conversations."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mockserver import MockServer

pytestmark = pytest.mark.compat

langchain_openai = pytest.importorskip(
    "langchain_openai", reason="langchain-openai is not installed (pip install -e '.[compat]')"
)
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402

MODEL = "gpt-5.5"


@tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Sunny in {city}, 21 C."


def chat(server: MockServer, **options: Any) -> Any:
    return langchain_openai.ChatOpenAI(
        model=MODEL,
        base_url=server.base_url,
        api_key="sk-test-key",
        use_responses_api=True,
        max_retries=0,
        **options,
    )


def test_invoke(server: MockServer, journal: Any) -> None:
    server.queue_text("Hello from resplay.")
    message = chat(server).invoke("Say hello.")

    assert isinstance(message, AIMessage)
    assert message.text == "Hello from resplay."
    (entry,) = journal()
    assert entry["body"]["input"] == [{"content": "Say hello.", "role": "user", "type": "message"}]
    assert message.response_metadata["id"] == entry["response_id"]
    assert message.usage_metadata is not None and message.usage_metadata["output_tokens"] > 0


def test_stream(server: MockServer, journal: Any) -> None:
    server.queue_text("Streaming works from start to finish over server-sent events.")
    chunks = list(chat(server).stream("Stream please."))

    assert (
        "".join(chunk.text for chunk in chunks)
        == "Streaming works from start to finish over server-sent events."
    )
    assert sum(1 for chunk in chunks if chunk.text) > 1
    (entry,) = journal()
    assert (entry["transport"], entry["body"]["stream"]) == ("sse", True)


def run_tool_loop(llm: Any, question: str) -> tuple[list[BaseMessage], AIMessage]:
    """The manual tool loop of langchain's docs: invoke, run the requested tools, invoke again."""
    bound = llm.bind_tools([get_weather])
    messages: list[BaseMessage] = [HumanMessage(question)]
    reply = bound.invoke(messages)
    messages.append(reply)
    for call in reply.tool_calls:
        messages.append(ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"]))
    final = bound.invoke(messages)
    return messages, final


def test_bound_tool_with_the_queued_call(server: MockServer, journal: Any) -> None:
    server.queue_function_call("get_weather", {"city": "Paris"}, call_id="call_paris")
    server.queue_text("Sunny, 21 C.")
    messages, final = run_tool_loop(chat(server), "What is the weather in Paris?")

    assert messages[1].tool_calls == [  # type: ignore[attr-defined]
        {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_paris", "type": "tool_call"}
    ]
    assert final.text == "Sunny, 21 C."
    first, second = journal()
    assert first["body"]["tools"][0]["name"] == "get_weather"
    call, output = second["body"]["input"][-2:]
    assert call["type"] == "function_call" and json.loads(call["arguments"]) == {"city": "Paris"}
    assert output == {
        "type": "function_call_output",
        "output": "Sunny in Paris, 21 C.",
        "call_id": "call_paris",
    }


@pytest.mark.parametrize("options", [{}, {"store": False}, {"use_previous_response_id": True}], ids=str)
def test_default_model_tool_loop_with_reasoning(
    server: MockServer, journal: Any, options: dict[str, Any]
) -> None:
    # No script: the default model reasons, says it will call the tool, calls it, then answers from its
    # output. langchain sends the reasoning back by id (stored), encrypted with msg_ ids dropped
    # (store=False; resplay used to refuse that, see CHANGELOG), or chains previous_response_id.
    messages, final = run_tool_loop(chat(server, **options), "What is the weather in Paris?")

    assert [call["name"] for call in messages[1].tool_calls] == ["get_weather"]  # type: ignore[attr-defined]
    assert "Sunny in Paris, 21 C." in final.text
    assert "Continuing from 1 earlier reasoning item" in final.text
    first, second = journal()
    assert [first["status"], second["status"]] == [200, 200]
    if options.get("use_previous_response_id"):
        assert second["body"]["previous_response_id"] == first["response_id"]
        assert [i["type"] for i in second["body"]["input"]] == ["function_call_output"]
        return
    items = second["body"]["input"]
    assert [i.get("type") for i in items] == [
        "message",
        "reasoning",
        "message",
        "function_call",
        "function_call_output",
    ]
    if options.get("store") is False:
        assert second["body"]["store"] is False
        assert items[1]["encrypted_content"].startswith("gAAAAA")
        assert "id" not in items[2]  # the commentary message, resent without its msg_ id
    else:
        assert "encrypted_content" not in items[1] and items[2]["id"].startswith("msg_")
