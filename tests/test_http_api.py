"""The HTTP and SSE surface, driven by the real openai 3.51.0 client against the real server."""

from __future__ import annotations

import json
import socket
import struct
import time
from typing import Any

import aiohttp
import openai
import pytest

from mockserver import MockServer

from fidelity import assert_faithful

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
    "strict": True,
}


# --- create -------------------------------------------------------------------------------------------


def test_create_text_answer(client: openai.OpenAI) -> None:
    raw = client.responses.with_raw_response.create(model="gpt-5.5", input="What is the capital of France?")
    response = raw.parse()
    assert response.status == "completed"
    assert response.output_text.startswith("You asked: 'What is the capital of France?'")
    assert response.id.startswith("resp_") and len(response.id) == 5 + 50
    assert response.usage is not None and response.usage.input_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert_faithful(json.loads(raw.text), kind="response")
    for header in (
        "x-request-id",
        "openai-processing-ms",
        "openai-version",
        "x-ratelimit-remaining-requests",
    ):
        assert raw.headers.get(header), header


def test_items_share_the_response_shard(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-5.5", input="hi", reasoning={"effort": "low"})
    shard = response.id[5:21]
    assert [item.id[item.id.index("_") + 1 :][:16] for item in response.output] == [shard] * len(
        response.output
    )


async def test_async_client_and_aiohttp_transport(server: MockServer) -> None:
    async with openai.AsyncOpenAI(
        base_url=server.base_url,
        api_key="sk-test",
        http_client=openai.DefaultAioHttpClient(),
        _strict_response_validation=True,
    ) as client:
        response = await client.responses.create(model="gpt-5.5", input="Hello from aiohttp")
        again = await client.responses.retrieve(response.id)
    assert again.id == response.id
    assert again.output_text == response.output_text


async def test_async_stream(async_client: openai.AsyncOpenAI) -> None:
    stream = await async_client.responses.create(model="gpt-5.5", input="Stream please", stream=True)
    types = [event.type async for event in stream]
    assert types[0] == "response.created" and types[-1] == "response.completed"


def test_function_call_and_continuation(client: openai.OpenAI) -> None:
    first = client.responses.create(
        model="gpt-5.5",
        input="What is the weather in Paris?",
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    assert json.loads(calls[0].arguments) == {"city": "Paris", "unit": "c"}
    assert [item.phase for item in first.output if item.type == "message"] == ["commentary"]
    second = client.responses.create(
        model="gpt-5.5",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": '{"temp": 21}'}],
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
    )
    assert "21" in second.output_text
    assert [item.phase for item in second.output if item.type == "message"] == ["final_answer"]


def test_tool_choice_none_and_required(client: openai.OpenAI) -> None:
    none = client.responses.create(
        model="gpt-5.5",
        input="weather in Paris?",
        tools=[WEATHER_TOOL],
        tool_choice="none",  # type: ignore[list-item]
    )
    assert all(item.type != "function_call" for item in none.output)
    required = client.responses.create(
        model="gpt-4.1",
        input="say hi",
        tools=[WEATHER_TOOL],
        tool_choice="required",  # type: ignore[list-item]
    )
    assert [item.type for item in required.output] == ["function_call"]


def test_json_schema_output_is_valid(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "kind": {"type": "string", "enum": ["a", "b"]},
        },
        "required": ["name", "age", "tags", "kind"],
        "additionalProperties": False,
    }
    response = client.responses.create(
        model="gpt-5.5",
        input="Describe Ada Lovelace",
        text={"format": {"type": "json_schema", "name": "person", "schema": schema, "strict": True}},
    )
    data = json.loads(response.output_text)
    assert set(data) == {"name", "age", "tags", "kind"}
    assert isinstance(data["age"], int) and data["kind"] == "a" and isinstance(data["tags"], list)


def test_max_output_tokens_gives_incomplete(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4.1", input="Tell me everything", max_output_tokens=16, text={"verbosity": "high"}
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None and response.usage.output_tokens == 16


# --- streaming ----------------------------------------------------------------------------------------


def test_stream_event_sequence(client: openai.OpenAI) -> None:
    raw_events: list[dict[str, Any]] = []
    with client.responses.with_streaming_response.create(
        model="gpt-5.5", input="Stream a short answer", stream=True, reasoning={"summary": "auto"}
    ) as raw:
        assert raw.headers["content-type"].startswith("text/event-stream")
        for line in raw.iter_lines():
            if line.startswith("data: "):
                raw_events.append(json.loads(line[6:]))
    assert [e["sequence_number"] for e in raw_events] == list(range(len(raw_events)))
    types = [e["type"] for e in raw_events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert "response.reasoning_summary_text.delta" in types
    for event in raw_events:
        assert_faithful(event, kind="event")
        if event["type"].endswith(".delta"):
            assert len(event["delta"]) + len(event["obfuscation"]) >= 16


def test_stream_without_obfuscation(client: openai.OpenAI) -> None:
    stream = client.responses.create(
        model="gpt-5.5", input="hi", stream=True, stream_options={"include_obfuscation": False}
    )
    deltas = [event for event in stream if event.type == "response.output_text.delta"]
    assert deltas
    assert all("obfuscation" not in (event.model_extra or {}) for event in deltas)


def test_stream_helper_final_response_matches_retrieve(client: openai.OpenAI) -> None:
    with client.responses.stream(
        model="gpt-5.5", input="What is the weather in Oslo?", tools=[WEATHER_TOOL]
    ) as stream:  # type: ignore[list-item]
        seen = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in seen
    stored = client.responses.retrieve(final.id)
    assert stored.output_text == final.output_text
    assert [item.id for item in stored.output] == [item.id for item in final.output]
    assert stored.usage == final.usage


# --- retrieve, delete, input items, input tokens -----------------------------------------------------


def test_retrieve_delete(client: openai.OpenAI) -> None:
    created = client.responses.create(model="gpt-5.5", input="keep me")
    assert client.responses.retrieve(created.id).output_text == created.output_text
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.retrieve(created.id)
    assert info.value.body == {
        "message": f"Response with id '{created.id}' not found.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)


def test_store_false_is_neither_retrievable_nor_chainable(client: openai.OpenAI) -> None:
    created = client.responses.create(model="gpt-5.5", input="forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.5", input="next", previous_response_id=created.id)
    assert info.value.code == "previous_response_not_found"
    assert info.value.param == "previous_response_id"


def test_input_items_pagination(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": f"message {i}"} for i in range(25)]
    created = client.responses.create(model="gpt-5.5", input=messages)  # type: ignore[arg-type]
    page = client.responses.input_items.list(created.id)
    assert len(page.data) == 20 and page.has_more
    assert page.data[0].content[0].text == "message 24"  # type: ignore[union-attr]
    every = list(client.responses.input_items.list(created.id, order="asc", limit=7))
    assert [item.content[0].text for item in every] == [f"message {i}" for i in range(25)]  # type: ignore[union-attr]
    assert len({item.id for item in every}) == 25


@pytest.mark.parametrize("model", ["gpt-5.5", "gpt-4.1", "gpt-3.5-turbo", "o3"])
def test_input_tokens_equals_create_usage(client: openai.OpenAI, model: str) -> None:
    first = client.responses.create(model=model, input="Remember the number 42.")
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    body: dict[str, Any] = {
        "model": model,
        "text": {"format": {"type": "json_schema", "name": "answer", "schema": schema}},
        "instructions": "Be brief.",
        "input": [{"role": "user", "content": "What was the number?"}],
        "tools": [WEATHER_TOOL],
        "previous_response_id": first.id,
    }
    counted = client.responses.input_tokens.count(**body)
    created = client.responses.create(**body, tool_choice="none")
    assert created.usage is not None
    assert counted.input_tokens == created.usage.input_tokens
    assert counted.object == "response.input_tokens"


def test_chain_carries_items_not_instructions(client: openai.OpenAI) -> None:
    first = client.responses.create(model="gpt-5.5", input="My name is Ada.", instructions="x " * 300)
    second = client.responses.create(model="gpt-5.5", input="And yours?", previous_response_id=first.id)
    alone = client.responses.create(model="gpt-5.5", input="And yours?")
    assert second.previous_response_id == first.id
    assert second.instructions is None
    assert first.usage and second.usage and alone.usage
    # The chain bills earlier input and output, but not the earlier instructions (SPEC §5).
    assert second.usage.input_tokens > alone.usage.input_tokens
    assert (
        second.usage.input_tokens
        < first.usage.input_tokens + first.usage.output_tokens + alone.usage.input_tokens
    )


# --- errors -------------------------------------------------------------------------------------------


def test_unknown_model_is_400_model_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.2-proo", input="x")
    assert info.value.body == {
        "message": "The requested model 'gpt-5.2-proo' does not exist.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }


def test_unsupported_effort(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.5", input="x", reasoning={"effort": "minimal"})
    assert info.value.code == "unsupported_value"
    assert info.value.param == "reasoning.effort"


def test_unknown_previous_response(client: openai.OpenAI) -> None:
    missing = "resp_" + "0" * 50
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.5", input="x", previous_response_id=missing)
    assert info.value.body == {
        "message": f"Previous response with id '{missing}' not found.",
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": "previous_response_not_found",
    }


def test_dangling_tool_output(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(
            model="gpt-5.5", input=[{"type": "function_call_output", "call_id": "call_nope", "output": "1"}]
        )
    assert info.value.message.endswith("No tool call found for function call output with call_id call_nope.")
    assert info.value.param == "input"


def test_queued_error_reply(client: openai.OpenAI, server: MockServer) -> None:
    server.queue_error(
        429, "Rate limit reached", type="requests", code="rate_limit_exceeded", headers={"retry-after": "1"}
    )
    with pytest.raises(openai.RateLimitError) as info:
        client.responses.create(model="gpt-5.5", input="x")
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.response.headers["retry-after"] == "1"
    assert client.responses.create(model="gpt-5.5", input="x").status == "completed"


async def test_raw_http_errors(server: MockServer) -> None:
    headers = {"authorization": "Bearer sk-test"}
    async with aiohttp.ClientSession() as http:
        async with http.post(server.base_url + "/responses", data=b"{not json", headers=headers) as r:
            assert r.status == 400
            assert (await r.json())["error"]["message"].startswith("We could not parse the JSON body")
        async with http.post(server.base_url + "/responses", json={"model": "gpt-5.5"}) as r:
            assert r.status == 401
            body = await r.json()
            assert body["error"]["message"].startswith("You didn't provide an API key.")
        async with http.get(server.base_url + "/nothing-here", headers=headers) as r:
            assert r.status == 404
            assert await r.json() == {
                "error": {
                    "message": "Invalid URL (GET /v1/nothing-here)",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            }


async def test_body_too_large_is_413() -> None:
    async with MockServer(max_body_bytes=1024) as small, aiohttp.ClientSession() as http:
        payload = {"model": "gpt-5.5", "input": "x" * 4096}
        async with http.post(
            small.base_url + "/responses", json=payload, headers={"authorization": "Bearer k"}
        ) as r:
            assert r.status == 413
            assert set((await r.json())["error"]) == {"message", "type", "param", "code"}


async def test_api_key_enforced() -> None:
    async with MockServer(api_key="sk-right-key-0000") as keyed:
        async with openai.AsyncOpenAI(base_url=keyed.base_url, api_key="sk-wrong-key-1234") as wrong:
            with pytest.raises(openai.AuthenticationError) as info:
                await wrong.responses.create(model="gpt-5.5", input="x")
        assert info.value.code == "invalid_api_key"
        assert "sk-wrong-key-1234" not in info.value.message
        async with openai.AsyncOpenAI(base_url=keyed.base_url, api_key="sk-right-key-0000") as right:
            assert (await right.responses.create(model="gpt-5.5", input="x")).status == "completed"


# --- determinism, sessions, journal -------------------------------------------------------------------


async def test_same_seed_same_bytes() -> None:
    bodies = []
    for _ in range(2):
        async with (
            # The virtual clock starts at the wall time unless pinned: two servers a second boundary apart
            # gave different created_at and id time digits (seen once in CI).
            MockServer(seed=42, clock_start=1_780_000_000) as s,
            aiohttp.ClientSession() as http,
            http.post(
                s.base_url + "/responses",
                json={"model": "gpt-5.5", "input": "determinism", "stream": True},
                headers={"authorization": "Bearer k"},
            ) as r,
        ):
            bodies.append(await r.read())
    assert bodies[0] == bodies[1]


def test_sessions_are_isolated(server: MockServer) -> None:
    with (
        openai.OpenAI(base_url=server.base_url, api_key="k", default_headers={"x-resplay-session": "a"}) as a,
        openai.OpenAI(base_url=server.base_url, api_key="k", default_headers={"x-resplay-session": "b"}) as b,
    ):
        server.queue_text("only for a", session="a")
        created = a.responses.create(model="gpt-5.5", input="x")
        assert created.output_text == "only for a"
        assert b.responses.create(model="gpt-5.5", input="x").output_text != "only for a"
        with pytest.raises(openai.NotFoundError):
            b.responses.retrieve(created.id)
    assert [e["path"] for e in server.journal(session="a")] == ["/v1/responses"]


def test_journal_redacts_credentials(client: openai.OpenAI, server: MockServer) -> None:
    client.responses.create(model="gpt-5.5", input="journal me")
    entry = server.journal()[-1]
    assert entry["headers"]["authorization"] == "REDACTED"
    assert entry["body"]["input"] == "journal me"
    assert entry["status"] == 200 and entry["response_id"].startswith("resp_")
    assert "sk-test-key" not in json.dumps(server.journal())


def test_phase_on_assistant_input_is_kept_and_rejected_elsewhere(client: openai.OpenAI) -> None:
    history = [
        {"role": "user", "content": "Plan my day"},
        {"role": "assistant", "content": "Let me check your calendar.", "phase": "commentary"},
        {"role": "user", "content": "Go on"},
    ]
    created = client.responses.create(model="gpt-5.5", input=history)  # type: ignore[arg-type]
    items = client.responses.input_items.list(created.id, order="asc").data
    assert [getattr(item, "phase", None) for item in items] == [None, "commentary", None]
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(
            model="gpt-5.5",
            input=[{"role": "user", "content": "hi", "phase": "final_answer"}],  # type: ignore[typeddict-unknown-key]
        )
    assert info.value.param == "input[0].phase"


def test_a_client_gone_while_its_answer_is_written_is_not_an_error(
    server: MockServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that resets its connection right after sending a streaming create: the server's write
    then meets a closed transport (aiohttp's ``ClientConnectionResetError``, a ``ConnectionError``). A load
    generator stopping mid-run does this to every open stream; each was logged as an unhandled error with
    a traceback and answered with a 500 nobody could read (50 of 50 before the fix). Now it is the quiet
    disconnect it is, and every request is still journalled."""
    body = json.dumps({"model": "gpt-4o", "input": "hi", "stream": True}).encode()
    head = (
        "POST /v1/responses HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    assert server.port is not None
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", server.port)) as raw:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
            raw.sendall(head + body)

    def journalled() -> list[Any]:
        return [e["status"] for e in server.journal() if e["path"] == "/v1/responses"]

    deadline = time.monotonic() + 10
    while len(journalled()) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)  # waiting for the server thread to finish the 20 requests, not pacing a clock
    assert journalled() == [200] * 20
    assert not [r for r in caplog.records if "unhandled error" in r.getMessage()]


def test_mock_server_starts_in_a_uvloop_event_loop() -> None:
    """A test suite may run its event loop on uvloop: ``async with MockServer()`` must start there too
    (it asserted asyncio's own ``Server`` class and failed on uvloop's)."""
    uvloop = pytest.importorskip("uvloop")

    async def main() -> str:
        async with (
            MockServer(seed=3) as server,
            openai.AsyncOpenAI(base_url=server.base_url, api_key="k") as client,
        ):
            response = await client.responses.create(model="gpt-5.5", input="hi")
        return response.status or ""

    assert uvloop.run(main()) == "completed"
