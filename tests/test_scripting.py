"""Scripting rules over the real server with the openai client: every reply kind, matchers, rule kinds,
strict mode, priorities, and two concurrent sessions that stay isolated."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest

from mockserver import MockServer, rules as R
from mockserver.script import ErrorReply, FunctionCall, FunctionCallsReply, OutputReply

from fidelity import assert_faithful

WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def _dump(obj: Any) -> dict[str, Any]:
    data: dict[str, Any] = obj.model_dump(mode="json", exclude_unset=True)
    return data


# --- reply kinds ------------------------------------------------------------------------------------


def test_text_reply_and_permanent_rule(server: MockServer, client: openai.OpenAI) -> None:
    server.rule(R.input_contains("hello"), "Hi!", times=None)
    for _ in range(3):
        answer = client.responses.create(model="gpt-5.5", input="hello there")
        assert answer.output_text == "Hi!"
        assert_faithful(_dump(answer))
    other = client.responses.create(model="gpt-5.5", input="something else")
    assert other.output_text != "Hi!"  # the default model answers what no rule matches


def test_parallel_function_calls_then_answer_after_outputs(server: MockServer, client: openai.OpenAI) -> None:
    calls = FunctionCallsReply(
        (FunctionCall("get_weather", {"city": "Paris"}), FunctionCall("get_weather", {"city": "Rome"}))
    )
    server.rule(R.input_contains("weather") & ~R.last_item("function_call_output"), calls)
    server.rule(R.last_item("function_call_output") & R.turn(1), "Paris 20C, Rome 25C.")
    first = client.responses.create(model="gpt-5.5", input="weather in Paris and Rome?", tools=[WEATHER])
    fcs = [i for i in first.output if i.type == "function_call"]
    assert [json.loads(c.arguments)["city"] for c in fcs] == ["Paris", "Rome"]
    second = client.responses.create(
        model="gpt-5.5",
        previous_response_id=first.id,
        tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": c.call_id, "output": "ok"} for c in fcs],
    )
    assert second.output_text == "Paris 20C, Rome 25C."


def test_reasoning_and_refusal_replies(server: MockServer, client: openai.OpenAI) -> None:
    server.rule(R.input_contains("think"), R.reasoning("Weighing it.", then="Done thinking."))
    server.rule(R.input_contains("forbidden"), R.refusal("I can't help with that."))
    thought = client.responses.create(
        model="gpt-5.5", input="think hard", reasoning={"effort": "low", "summary": "auto"}
    )
    assert [i.type for i in thought.output] == ["reasoning", "message"]
    assert thought.output[0].summary[0].text == "Weighing it."  # type: ignore[union-attr]
    refused = client.responses.create(model="gpt-5.5", input="forbidden stuff", stream=True)
    events = [_dump(e) for e in refused]
    for event in events:
        assert_faithful(event, kind="event")
    assert "response.refusal.done" in [e["type"] for e in events]


def test_error_reply_has_status_and_envelope(server: MockServer, client: openai.OpenAI) -> None:
    server.rule(
        R.model("gpt-5.5"),
        ErrorReply(
            429, "Slow down.", type="requests", code="rate_limit_exceeded", headers={"retry-after": "2"}
        ),
    )
    with pytest.raises(openai.RateLimitError) as info:
        client.responses.create(model="gpt-5.5", input="hi")
    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "2"
    assert info.value.body == {
        "message": "Slow down.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }


def test_built_in_tool_reply(server: MockServer, client: openai.OpenAI) -> None:
    server.rule(
        R.has_tool("web_search"),
        OutputReply(
            (
                {
                    "type": "web_search_call",
                    "query": "cats",
                    "sources": [{"type": "url", "url": "https://c.at"}],
                },
                {"type": "message", "text": "Cats are great."},
            )
        ),
    )
    answer = client.responses.create(
        model="gpt-5.5",
        input="tell me",
        tools=[{"type": "web_search"}],
        include=["web_search_call.action.sources"],
    )
    search = _dump(answer.output[0])
    assert search["action"] == {
        "type": "search",
        "queries": ["cats"],
        "query": "cats",
        "sources": [{"type": "url", "url": "https://c.at"}],
    }
    assert answer.output_text == "Cats are great."


def test_callable_reply_gets_request_and_chain(server: MockServer, client: openai.OpenAI) -> None:
    seen: list[R.Request] = []

    def echo(request: R.Request) -> Any:
        seen.append(request)
        return {"text": f"turn {request.turn}: {request.text} ({len(request.chain)} items)"}

    server.rule(R.any_request(), echo, times=None)
    first = client.responses.create(model="gpt-5.5", input="one")
    second = client.responses.create(model="gpt-5.5", input="two", previous_response_id=first.id)
    assert first.output_text == "turn 0: one (1 items)"
    assert second.output_text == "turn 1: two (3 items)"
    assert seen[1].body["previous_response_id"] == first.id
    assert seen[1].headers["authorization"].startswith("Bearer ")


# --- matchers and rule kinds ------------------------------------------------------------------------


def test_matchers_compose(server: MockServer, client: openai.OpenAI) -> None:
    server.rule(R.model("gpt-5.4") | R.metadata("tenant", "blue"), "A", times=None)
    server.rule(R.input_matches(r"^\d+$") & R.header("x-team", "red"), "B", times=None)
    assert client.responses.create(model="gpt-5.4", input="x").output_text == "A"
    assert client.responses.create(model="gpt-5.5", input="x", metadata={"tenant": "blue"}).output_text == "A"
    assert client.responses.create(model="gpt-5.5", input="x", metadata={"tenant": "red"}).output_text != "A"
    red = {"x-team": "red"}
    assert client.responses.create(model="gpt-5.5", input="123", extra_headers=red).output_text == "B"
    assert client.responses.create(model="gpt-5.5", input="12a", extra_headers=red).output_text != "B"
    assert client.responses.create(model="gpt-5.5", input="123").output_text != "B"


def test_one_shot_ordered_and_queue_priority(server: MockServer, client: openai.OpenAI) -> None:
    one = server.rule(R.input_contains("once"), "only once")  # earlier rules win
    server.rule(R.any_request(), ["first", "second", "third"])
    server.rule(R.any_request(), "fallback", times=None)
    server.queue_text("queued")  # a queued reply is a one-shot rule of the highest priority
    texts = [client.responses.create(model="gpt-5.5", input="q").output_text for _ in range(6)]
    assert texts == ["queued", "first", "second", "third", "fallback", "fallback"]
    assert client.responses.create(model="gpt-5.5", input="once").output_text == "only once"
    assert client.responses.create(model="gpt-5.5", input="once").output_text == "fallback"
    assert not one.live


def test_strict_mode_rejects_unmatched(server: MockServer, client: openai.OpenAI) -> None:
    server.strict()
    server.rule(R.input_contains("known"), "fine")
    assert client.responses.create(model="gpt-5.5", input="known").output_text == "fine"
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.5", input="unknown thing")
    body: Any = info.value.body
    assert body["code"] == "resplay_unmatched_request"
    assert "unknown thing" in body["message"]
    assert server.rulebook().unmatched == ["model='gpt-5.5' turn=0 input='unknown thing'"]


def test_websocket_mode_uses_rules(server: MockServer, client: openai.OpenAI) -> None:
    server.rule(R.input_contains("ws") & R.header("x-team", "red"), "over the socket")
    with client.responses.connect(extra_headers={"x-team": "red"}) as connection:
        connection.response.create(model="gpt-5.5", input="ws please")
        for event in connection:
            if event.type == "response.completed":
                assert event.response.output_text == "over the socket"
                break


# --- sessions -------------------------------------------------------------------------------------


async def test_two_concurrent_sessions_stay_isolated(
    server: MockServer, async_client: openai.AsyncOpenAI
) -> None:
    server.rule(R.any_request(), "I am A", times=None, session="a")
    server.rule(R.any_request(), "I am B", times=None, session="b")
    server.strict(session="b")

    async def run(session: str, rounds: int) -> list[str]:
        headers = {"x-resplay-session": session}
        texts = []
        previous = None
        for n in range(rounds):
            answer = await async_client.responses.create(
                model="gpt-5.5", input=f"{session}{n}", previous_response_id=previous, extra_headers=headers
            )
            previous = answer.id
            texts.append(answer.output_text)
        return texts

    a, b = await asyncio.gather(run("a", 4), run("b", 4))
    assert a == ["I am A"] * 4 and b == ["I am B"] * 4
    # Responses, journal and clock are per session.
    last_a = server.journal(session="a")[-1]["response_id"]
    with pytest.raises(openai.NotFoundError):
        await async_client.responses.retrieve(last_a, extra_headers={"x-resplay-session": "b"})
    posts = {s: [e for e in server.journal(session=s) if e["method"] == "POST"] for s in ("a", "b")}
    assert len(posts["a"]) == 4 and len(posts["b"]) == 4
    assert all(e["body"]["input"].startswith("a") for e in posts["a"])
    server.advance(30, session="a")
    assert server.engine.session("a").clock.now() - server.engine.session("b").clock.now() == 30
    # The default session sees no rule and no strict mode.
    plain = await async_client.responses.create(model="gpt-5.5", input="plain")
    assert plain.output_text not in ("I am A", "I am B")


def test_cited_answer_streams_annotations(server: MockServer, client: openai.OpenAI) -> None:
    text = "Cats sleep a lot. Dogs bark."
    cite = {"type": "url_citation", "start_index": 0, "end_index": 17, "title": "Cats", "url": "https://c.at"}
    server.rule(R.any_request(), {"output": [{"type": "message", "text": text, "annotations": [cite]}]})
    events = [_dump(e) for e in client.responses.create(model="gpt-5.5", input="facts", stream=True)]
    for event in events:
        assert_faithful(event, kind="event")
    kinds = [e["type"] for e in events]
    at = kinds.index("response.output_text.annotation.added")
    assert "".join(e["delta"] for e in events[:at] if e["type"] == "response.output_text.delta") == text[:17]
    assert events[at]["annotation"] == cite and events[at]["annotation_index"] == 0
    assert events[-1]["response"]["output"][0]["content"][0]["annotations"] == [cite]


def test_callable_returning_none_lets_the_default_model_answer(
    server: MockServer, client: openai.OpenAI
) -> None:
    calls: list[str] = []
    server.rule(R.any_request(), lambda req: calls.append(req.text), times=None)  # type: ignore[func-returns-value]
    answer = client.responses.create(model="gpt-5.5", input="hello")
    assert calls == ["hello"] and answer.output_text  # the default model's text
