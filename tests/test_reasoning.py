"""Encrypted reasoning over HTTP with the real openai client (SPEC §8, DECISIONS 12 and 13).

A ``store=false`` client hands reasoning state back through ``encrypted_content``; resplay opens it, checks
the real rules (following item, item sent by id, tampering) and continues from it: the carried hidden
reasoning tokens are billed as input and the default model's answer says it continued.
"""

from __future__ import annotations

import json
import re
from typing import Any

import openai
import pytest

from mockserver import MockServer
from mockserver.clock import VirtualClock
from mockserver.config import ServerConfig
from mockserver.engine import Engine

from fidelity import assert_faithful
from sdk_versions import requires_sdk
from tool_defs import WEATHER

MODEL = "gpt-5.5"
QUESTION = "What is the weather in Paris?"
REASONING: Any = {"effort": "low", "summary": "auto"}
CONTINUED = re.compile(r"Continuing from (\d+) earlier reasoning items? \((\d+) reasoning tokens\)\.")


def as_input(items: list[Any]) -> list[dict[str, Any]]:
    """Output items as a stateless client sends them back: unchanged, ids included."""
    return [item.model_dump(exclude_none=True) for item in items]


def first_turn(client: openai.OpenAI, **options: Any) -> Any:
    options.setdefault("store", False)
    return client.responses.create(
        model=MODEL, input=QUESTION, tools=[WEATHER], reasoning=REASONING, **options
    )


def tool_result(response: Any, output: str = '{"temp_c": 21}') -> dict[str, Any]:
    call = next(item for item in response.output if item.type == "function_call")
    return {"type": "function_call_output", "call_id": call.call_id, "output": output}


def handoff(response: Any) -> list[dict[str, Any]]:
    """The whole stateless context of turn 2: question, turn 1's output, the tool result."""
    return [{"role": "user", "content": QUESTION}, *as_input(response.output), tool_result(response)]


def second_turn(client: openai.OpenAI, items: list[dict[str, Any]], **options: Any) -> Any:
    options.setdefault("store", False)
    return client.responses.create(model=MODEL, input=items, tools=[WEATHER], reasoning=REASONING, **options)


def reasoning_item(response: Any) -> Any:
    return next(item for item in response.output if item.type == "reasoning")


def error_of(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.body
    assert isinstance(body, dict)
    return body


# --- producing blobs -----------------------------------------------------------------------------------


def test_include_puts_a_blob_on_reasoning_items(client: openai.OpenAI) -> None:
    raw = client.responses.with_raw_response.create(
        model=MODEL, input="hello", reasoning=REASONING, include=["reasoning.encrypted_content"]
    )
    body = json.loads(raw.text)
    assert_faithful(body, kind="response")
    item = body["output"][0]
    assert item["type"] == "reasoning"
    # Real layout: id, type, encrypted_content, summary (vercel openai-reasoning-encrypted-content.1.json).
    assert list(item) == ["id", "type", "encrypted_content", "summary"]
    assert item["encrypted_content"].startswith("gAAAAA")
    assert re.fullmatch(r"[A-Za-z0-9_-]+=*", item["encrypted_content"])


def test_store_false_returns_blobs_by_default_store_true_does_not(client: openai.OpenAI) -> None:
    stateless = first_turn(client, store=False)
    stored = first_turn(client, store=True)
    assert reasoning_item(stateless).encrypted_content.startswith("gAAAAA")
    assert reasoning_item(stored).encrypted_content is None


def test_stream_carries_the_blob_on_added_done_and_final(client: openai.OpenAI) -> None:
    raw = client.responses.with_raw_response.create(
        model=MODEL, input=QUESTION, tools=[WEATHER], reasoning=REASONING, store=False, stream=True
    )
    text = raw.http_response.read().decode()
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    for event in events:
        assert_faithful(event, kind="event")
    blobs = {
        event["type"]: event["item"]["encrypted_content"]
        for event in events
        if event["type"].startswith("response.output_item") and event["item"]["type"] == "reasoning"
    }
    final = events[-1]["response"]["output"][0]["encrypted_content"]
    assert set(blobs) == {"response.output_item.added", "response.output_item.done"}
    assert blobs["response.output_item.done"] == final and final.startswith("gAAAAA")


# --- stateless handoff -----------------------------------------------------------------------------------


def test_stateless_handoff_continues_from_the_reasoning(server: MockServer, client: openai.OpenAI) -> None:
    first = first_turn(client)
    hidden = first.usage.output_tokens_details.reasoning_tokens
    assert hidden > 0
    # Turn 2 on a new client: a new connection, nothing stored server-side (store=false).
    with openai.OpenAI(base_url=server.base_url, api_key="sk-other", max_retries=0) as other:
        second = second_turn(other, handoff(first))
        plain = [
            {"role": "user", "content": QUESTION},
            *[
                {"type": "function_call", "call_id": i.call_id, "name": i.name, "arguments": i.arguments}
                for i in first.output
                if i.type == "function_call"
            ],
            tool_result(first),
        ]
        dropped = second_turn(other, plain)
        # The carried hidden reasoning is re-rendered: billed as input tokens (SPEC §8, tokens.count_input).
        commentary = next(i for i in first.output if i.type == "message")
        text = {"role": "assistant", "content": commentary.content[0].text}  # type: ignore[union-attr]
        with_commentary = second_turn(other, [plain[0], text, *plain[1:]])
    found = CONTINUED.search(second.output_text)
    assert found is not None and found.groups() == ("1", str(hidden))
    assert "Here is what the tools returned" in second.output_text
    assert CONTINUED.search(dropped.output_text) is None
    assert second.usage.input_tokens == with_commentary.usage.input_tokens + hidden
    assert second_turn(client, handoff(first)).output_text == second.output_text


async def test_async_stateless_handoff(async_client: openai.AsyncOpenAI) -> None:
    first = await async_client.responses.create(
        model=MODEL, input=QUESTION, tools=[WEATHER], reasoning=REASONING, store=False
    )
    second = await async_client.responses.create(
        model=MODEL, input=handoff(first), tools=[WEATHER], reasoning=REASONING, store=False
    )
    assert CONTINUED.search(second.output_text) is not None


def test_handoff_across_servers_that_share_the_secret() -> None:
    with (
        MockServer(seed=1, secret="team-secret") as a,
        MockServer(seed=2, secret="team-secret") as b,
        MockServer(seed=3, secret="another-secret") as c,
    ):
        clients = [openai.OpenAI(base_url=s.base_url, api_key="k", max_retries=0) for s in (a, b, c)]
        first = first_turn(clients[0])
        second = second_turn(clients[1], handoff(first))
        assert CONTINUED.search(second.output_text) is not None
        with pytest.raises(openai.BadRequestError) as info:
            second_turn(clients[2], handoff(first))
        for each in clients:
            each.close()
    rs = reasoning_item(first).id
    assert error_of(info.value) == {
        "message": f"The encrypted content for item {rs} could not be verified. "
        "Reason: Encrypted content could not be decrypted or parsed.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_encrypted_content",
    }


def test_previous_response_id_chain_continues_too(client: openai.OpenAI) -> None:
    first = first_turn(client, store=True)
    second = client.responses.create(
        model=MODEL,
        previous_response_id=first.id,
        input=[tool_result(first)],
        tools=[WEATHER],
        reasoning=REASONING,
    )
    assert CONTINUED.search(second.output_text) is not None


def test_input_tokens_endpoint_agrees_with_the_create(client: openai.OpenAI) -> None:
    first = first_turn(client)
    second = second_turn(client, handoff(first))
    counted = client.responses.input_tokens.count(
        model=MODEL,
        input=handoff(first),
        tools=[WEATHER],
        reasoning=REASONING,  # type: ignore[arg-type]
    )
    assert counted.input_tokens == second.usage.input_tokens


# --- the real API's rules --------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["flip", "truncate", "foreign", "swap"])
def test_damaged_blob_is_rejected(client: openai.OpenAI, damage: str) -> None:
    first = first_turn(client)
    items = handoff(first)
    blob = items[1]["encrypted_content"]
    if damage == "flip":
        items[1]["encrypted_content"] = blob[:30] + ("A" if blob[30] != "A" else "B") + blob[31:]
    elif damage == "truncate":
        items[1]["encrypted_content"] = blob[:-8]
    elif damage == "foreign":  # a real blob from api.openai.com (pydantic-ai cassette)
        items[1]["encrypted_content"] = "gAAAAABoxC3jL8rEbUKD8lpf1c-Nsg3pHMMS-F3R8gSD70l1CqSDEDbRHb-R"
    else:  # a genuine blob of another reasoning item
        items[1]["encrypted_content"] = reasoning_item(first_turn(client)).encrypted_content
    with pytest.raises(openai.BadRequestError) as info:
        second_turn(client, items)
    body = error_of(info.value)
    assert body["code"] == "invalid_encrypted_content" and body["param"] is None
    assert body["message"].startswith(
        f"The encrypted content for item {items[1]['id']} could not be verified."
    )


def test_reasoning_without_its_following_item(client: openai.OpenAI) -> None:
    # The request of pydantic-ai test_openai_responses_thinking_with_modified_history.yaml (second exchange).
    first = client.responses.create(
        model=MODEL,
        input="What is the meaning of life?",
        reasoning=REASONING,
        include=["reasoning.encrypted_content"],
    )
    rs = as_input(first.output)[0]
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(
            model=MODEL,
            input=[
                {"role": "user", "content": "What is the meaning of life?"},
                rs,  # type: ignore[list-item]
                {"role": "assistant", "content": "The meaning of life is 42"},
                {"role": "user", "content": "Anything to add?"},
            ],
            reasoning=REASONING,
            include=["reasoning.encrypted_content"],
        )
    assert error_of(info.value) == {
        "message": f"Item '{rs['id']}' of type 'reasoning' was provided without its required following item.",
        "type": "invalid_request_error",
        "param": "input",
        "code": None,
    }


@pytest.mark.parametrize("kind", ["message", "function_call"])
def test_item_sent_by_id_without_its_reasoning(client: openai.OpenAI, kind: str) -> None:
    first = first_turn(client)
    items = [i for i in handoff(first) if i.get("type") != "reasoning"]
    if kind == "function_call":  # also drop the commentary message: the call is then the orphan
        items = [i for i in items if i.get("type") != "message" or i.get("role") == "user"]
    follower = next(i for i in items if i.get("type") == kind and i.get("role") != "user")
    with pytest.raises(openai.BadRequestError) as info:
        second_turn(client, items)
    rs = reasoning_item(first).id
    assert error_of(info.value) == {
        "message": f"Item '{follower['id']}' of type '{kind}' was provided without its required 'reasoning' "
        f"item: '{rs}'.",
        "type": "invalid_request_error",
        "param": "input",
        "code": None,
    }


def test_dropping_reasoning_is_allowed_and_journaled(server: MockServer, client: openai.OpenAI) -> None:
    first = first_turn(client)
    commentary = next(i for i in first.output if i.type == "message")
    call = next(i for i in first.output if i.type == "function_call")
    plain = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": commentary.content[0].text},  # type: ignore[union-attr]
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        tool_result(first),
    ]
    second = second_turn(client, plain)
    assert second.status == "completed" and CONTINUED.search(second.output_text) is None
    notes = [e for e in server.journal() if e.get("transport") == "note"]
    assert len(notes) == 1
    note = notes[0]
    assert note["response_id"] == second.id and note["note"]["kind"] == "reasoning_dropped"
    assert {d["reasoning_id"] for d in note["note"]["items"]} == {reasoning_item(first).id}
    assert {d["item_type"] for d in note["note"]["items"]} == {"message", "function_call"}
    # The journal keeps its fixed schema for every entry.
    keys = {
        "time",
        "method",
        "path",
        "query",
        "transport",
        "status",
        "headers",
        "body",
        "response_id",
        "error",
    }
    assert all(keys <= set(e) for e in server.journal())


def test_store_true_reasoning_by_id_without_blob(client: openai.OpenAI) -> None:
    first = first_turn(client, store=True)
    assert reasoning_item(first).encrypted_content is None
    second = second_turn(client, handoff(first), store=True)
    assert CONTINUED.search(second.output_text) is not None


def test_store_false_reasoning_by_id_without_blob_is_not_found(client: openai.OpenAI) -> None:
    first = first_turn(client)
    items = handoff(first)
    del items[1]["encrypted_content"]
    with pytest.raises(openai.NotFoundError) as info:
        second_turn(client, items)
    message = error_of(info.value)["message"]
    assert message == (
        f"Item with id '{items[1]['id']}' not found. Items are not persisted when `store` is set to false. "
        "Try again with `store` set to true, or remove this item from your input."
    )


@requires_sdk("3.50.0", "Response.input_transformations")
def test_other_model_family_withholds_the_reasoning(client: openai.OpenAI) -> None:
    first = first_turn(client)
    raw = client.responses.with_raw_response.create(
        model="gpt-5.4",
        input=handoff(first),
        tools=[WEATHER],
        reasoning=REASONING,
        store=False,  # type: ignore[arg-type]
    )
    body = json.loads(raw.text)
    assert_faithful(body, kind="response")
    assert body["input_transformations"] == [
        {"id": reasoning_item(first).id, "action": "removed", "reason": "model_mismatch", "type": "reasoning"}
    ]
    assert CONTINUED.search(raw.parse().output_text) is None


@requires_sdk("3.50.0", "Response.input_transformations")
def test_edited_history_withholds_the_reasoning(client: openai.OpenAI) -> None:
    first = first_turn(client)
    items = handoff(first)
    items[0]["content"] = "What is the weather in Lyon?"
    second = second_turn(client, items)
    assert second.input_transformations is not None
    assert [(t.reason, t.action) for t in second.input_transformations] == [("prefix_mismatch", "removed")]
    assert first_turn(client).input_transformations is None  # absent unless something was withheld


def _stateless(client: openai.OpenAI, items: list[dict[str, Any]]) -> Any:
    """One turn of a stateless client: everything resent, blobs asked for."""
    return client.responses.create(
        model=MODEL,
        input=items,  # type: ignore[arg-type]
        reasoning=REASONING,
        store=False,
        include=["reasoning.encrypted_content"],
    )


@requires_sdk("3.50.0", "Response.input_transformations")
def test_a_stateless_loop_resending_every_reasoning_item_keeps_them_all(client: openai.OpenAI) -> None:
    """Each resent reasoning item is checked against the fingerprint of everything before it (one pass over
    the window for all of them): in an honest stateless loop none is withheld, however many there are."""
    items: list[dict[str, Any]] = []
    seen = 0
    for turn in range(4):
        items.append({"role": "user", "content": f"Question {turn}: tell me a fact."})
        response = _stateless(client, items)
        assert response.input_transformations is None, (turn, response.input_transformations)
        items += as_input(response.output)
        seen += 1
    assert sum(1 for item in items if item.get("type") == "reasoning") == seen
    # Changing the second user message changes the prefix of every reasoning item after it: the first
    # one is kept, each later one is withheld.
    tampered = [dict(item) for item in items]
    first_user = next(i for i, item in enumerate(tampered) if item.get("role") == "user" and i > 0)
    tampered[first_user] = {**tampered[first_user], "content": "Something else entirely."}
    tampered.append({"role": "user", "content": "And now?"})
    response = _stateless(client, tampered)
    withheld = response.input_transformations or []
    assert [t.reason for t in withheld] == ["prefix_mismatch"] * (seen - 1)


def test_earlier_turns_reasoning_is_not_continued_from_before_gpt_5_6(client: openai.OpenAI) -> None:
    first = client.responses.create(model=MODEL, input="Tell me a fact.", reasoning=REASONING, store=False)
    items = [
        {"role": "user", "content": "Tell me a fact."},
        *as_input(first.output),
        {"role": "user", "content": "More"},
    ]
    current = client.responses.create(model=MODEL, input=items, reasoning=REASONING, store=False)  # type: ignore[arg-type]
    assert CONTINUED.search(current.output_text) is None
    all_turns = client.responses.create(
        model=MODEL,
        input=items,
        reasoning={**REASONING, "context": "all_turns"},
        store=False,  # type: ignore[arg-type]
    )
    assert CONTINUED.search(all_turns.output_text) is not None


# --- determinism and secrecy -------------------------------------------------------------------------------


def test_blobs_are_deterministic_under_a_seed() -> None:
    bodies = []
    for _ in range(2):
        engine = Engine(ServerConfig(seed=5, secret="s"), clock_factory=lambda: VirtualClock(1_771_352_836))
        run = engine.create(
            {"model": MODEL, "input": QUESTION, "tools": [WEATHER], "reasoning": REASONING, "store": False}
        )
        bodies.append(json.dumps(run.response))
    assert bodies[0] == bodies[1] and "gAAAAA" in bodies[0]


# --- WebSocket ---------------------------------------------------------------------------------------------


def ws_turn(connection: Any, **create: Any) -> list[dict[str, Any]]:
    """Send one ``response.create`` and collect its frames (raw JSON) up to the terminal or error event."""
    connection.response.create(**create)
    frames: list[dict[str, Any]] = []
    while True:
        frames.append(json.loads(connection.recv_bytes()))
        if frames[-1]["type"] in ("response.completed", "response.incomplete", "response.failed", "error"):
            return frames


def test_websocket_stateless_handoff_across_connections(client: openai.OpenAI) -> None:
    with client.responses.connect() as first_connection:
        first = ws_turn(
            first_connection, model=MODEL, input=QUESTION, tools=[WEATHER], reasoning=REASONING, store=False
        )
    for frame in first:
        assert_faithful(frame, kind="ws_event")
    done = [
        f["item"]
        for f in first
        if f["type"] == "response.output_item.done" and f["item"]["type"] == "reasoning"
    ]
    assert done and done[0]["encrypted_content"].startswith("gAAAAA")
    output = first[-1]["response"]["output"]
    call = next(i for i in output if i["type"] == "function_call")
    items = [
        {"role": "user", "content": QUESTION},
        *output,
        {"type": "function_call_output", "call_id": call["call_id"], "output": "21C"},
    ]
    # A new connection has no cache of the first: the blobs carry the state (SPEC §6.5, §8).
    with client.responses.connect() as second_connection:
        second = ws_turn(
            second_connection, model=MODEL, input=items, tools=[WEATHER], reasoning=REASONING, store=False
        )
        text = second[-1]["response"]["output"][-1]["content"][0]["text"]
        assert CONTINUED.search(text) is not None
        tampered = [dict(i) for i in items]
        tampered[1]["encrypted_content"] = tampered[1]["encrypted_content"][:-4]
        error = ws_turn(second_connection, model=MODEL, input=tampered, tools=[WEATHER], store=False)
        assert_faithful(error[-1], kind="ws_event")
        # The connection stays usable after a request-scoped error.
        again = ws_turn(
            second_connection, model=MODEL, input=items, tools=[WEATHER], reasoning=REASONING, store=False
        )
    assert error[-1]["type"] == "error" and error[-1]["status"] == 400
    assert error[-1]["error"]["code"] == "invalid_encrypted_content" and error[-1]["error"]["param"] is None
    assert again[-1]["type"] == "response.completed"


@pytest.mark.parametrize("store", [False, True])
def test_stateless_follower_resent_without_its_id(client: openai.OpenAI, store: bool) -> None:
    # langchain-openai with store=False (langchain#38372) keeps the encrypted reasoning item but resends the
    # assistant message that followed it without its msg_ id: the real API accepts that for unstored
    # responses. A stored reasoning item followed by an id-less item stays the observed 400.
    first = first_turn(client, store=store, include=["reasoning.encrypted_content"])
    items = [
        item if item.get("type") == "reasoning" else {k: v for k, v in item.items() if k != "id"}
        for item in handoff(first)
    ]
    assert [i.get("type") for i in items[1:3]] == ["reasoning", "message"]
    rs = reasoning_item(first).id
    if store:
        with pytest.raises(openai.BadRequestError) as info:
            second_turn(client, items, store=True, include=["reasoning.encrypted_content"])
        assert error_of(info.value)["message"] == (
            f"Item '{rs}' of type 'reasoning' was provided without its required following item."
        )
        return
    second = second_turn(client, items)
    found = CONTINUED.search(second.output_text)
    assert found is not None and found.group(1) == "1"
    # Another reply's text in place of the one that followed it is still refused.
    items[2]["content"] = [{"type": "output_text", "text": "Something else.", "annotations": []}]
    with pytest.raises(openai.BadRequestError):
        second_turn(client, items)
