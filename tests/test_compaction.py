"""Compaction with the real openai client: ``/v1/responses/compact``, ``context_management`` and
``compaction_trigger`` over HTTP, SSE and WebSocket (SPEC §2.7, §12)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from mockserver import MockServer

from fidelity import assert_faithful

MODEL = "gpt-5.5"
THRESHOLD: Any = [{"type": "compaction", "compact_threshold": 1000}]
LONG = "Please remember these notes: " + " ".join(f"note{i} is about topic {i % 17}" for i in range(220))
CHAT = [
    {"role": "user", "content": "Hello!"},
    {"role": "assistant", "content": "Hello! How can I assist you today?"},
    {"role": "user", "content": "How are you?"},
    {"role": "assistant", "content": "I'm just a program, but I'm ready to help you."},
]


@pytest.fixture
def client(server: MockServer) -> Iterator[openai.OpenAI]:
    """The SDK's default (lenient) client: ``CompactedResponse.output`` is typed ``ResponseOutputItem``, but
    real ``/compact`` answers hold user messages (tests/fidelity.py ALLOW_LIST), which strict validation
    rejects for the real API as well."""
    with openai.OpenAI(
        base_url=server.base_url,
        websocket_base_url=server.websocket_base_url,
        api_key="sk-test",
        max_retries=0,
    ) as c:
        yield c


def as_input(items: Any) -> list[dict[str, Any]]:
    return [item.model_dump(exclude_none=True) for item in items]


def compact(client: openai.OpenAI, **params: Any) -> dict[str, Any]:
    """``POST /v1/responses/compact`` as wire JSON (its user messages do not fit the SDK's output type)."""
    raw = client.responses.with_raw_response.compact(**params)
    body: dict[str, Any] = json.loads(raw.text)
    assert_faithful(body, kind="compacted")
    return body


def compaction_of(response: Any) -> Any:
    found = [item for item in response.output if item.type == "compaction"]
    assert len(found) == 1, [item.type for item in response.output]
    return found[0]


def error_of(exc: openai.APIStatusError) -> dict[str, Any]:
    assert isinstance(exc.body, dict)
    return exc.body


# --- POST /v1/responses/compact ----------------------------------------------------------------------------


def test_compact_endpoint_shape(server: MockServer, client: openai.OpenAI) -> None:
    raw = client.responses.with_raw_response.compact(
        model=MODEL,
        input=CHAT,
        instructions="You are a helpful assistant.",  # type: ignore[arg-type]
    )
    body = json.loads(raw.text)
    assert_faithful(body, kind="compacted")
    assert list(body) == ["id", "object", "created_at", "output", "usage"]
    assert body["object"] == "response.compaction" and body["id"].startswith("resp_")
    shard = body["id"][5:21]
    users, item = body["output"][:-1], body["output"][-1]
    # Real /compact: the user messages with new ids on the response's shard, then one compaction item.
    assert [(u["type"], u["role"], u["content"]) for u in users] == [
        ("message", "user", [{"type": "input_text", "text": "Hello!"}]),
        ("message", "user", [{"type": "input_text", "text": "How are you?"}]),
    ]
    assert all(u["id"].startswith(f"msg_{shard}") and u["status"] == "completed" for u in users)
    assert set(item) == {"id", "type", "encrypted_content"} and item["id"].startswith(f"cmp_{shard}")
    assert item["encrypted_content"].startswith("gAAAAA")
    usage = body["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    # Not stored: its output starts a new chain (SPEC §6.5).
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(body["id"])
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=MODEL, input="next", previous_response_id=body["id"])
    assert error_of(info.value)["code"] == "previous_response_not_found"
    assert server.journal()[0]["path"] == "/v1/responses/compact"


def test_compact_a_stored_chain_keeps_the_user_message_ids(client: openai.OpenAI) -> None:
    first = client.responses.create(model=MODEL, input="What is 2+2?")
    second = client.responses.create(model=MODEL, input="And 3+3?", previous_response_id=first.id)
    compacted = compact(client, model=MODEL, input=[], previous_response_id=second.id)
    stored = [i.id for r in (first, second) for i in client.responses.input_items.list(r.id).data]
    assert [i["type"] for i in compacted["output"]] == ["message", "message", "compaction"]
    assert [i["id"] for i in compacted["output"][:2]] == stored
    # Next chain: the compaction item plus a new question. Items before it were folded into it.
    question = {"role": "user", "content": "And 4+4?"}
    third = client.responses.create(model=MODEL, input=[compacted["output"][-1], question])
    assert third.output_text.startswith("You asked: 'And 4+4?'")
    again = compact(client, model=MODEL, input=[], previous_response_id=third.id)
    assert [i["type"] for i in again["output"]] == ["message", "compaction"]  # as the real chain recording


def test_compaction_counts_far_fewer_tokens_than_the_history(client: openai.OpenAI) -> None:
    history: list[dict[str, Any]] = []
    for n in range(6):
        history.append({"role": "user", "content": f"{LONG} (part {n})"})
        reply = client.responses.create(model=MODEL, input=history, store=False)  # type: ignore[arg-type]
        history.extend(as_input(reply.output))
    full = client.responses.input_tokens.count(model=MODEL, input=history).input_tokens  # type: ignore[arg-type]
    compacted = compact(client, model=MODEL, input=history)
    question = {"role": "user", "content": "What was note3 about?"}
    only_item = client.responses.create(model=MODEL, input=[compacted["output"][-1], question])
    as_is = client.responses.create(model=MODEL, input=[*compacted["output"], question])
    assert full > 10_000
    assert only_item.usage is not None and as_is.usage is not None
    assert only_item.usage.input_tokens < full / 20
    # The retained user messages count next to the item ("use the output as-is", SPEC §2.7).
    assert only_item.usage.input_tokens < as_is.usage.input_tokens < full


def test_compact_validates_the_model_and_the_blobs(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.compact(model="gpt-unknown", input="x")
    assert error_of(info.value)["code"] == "model_not_found"
    item = compact(client, model=MODEL, input=CHAT)["output"][-1]
    item["encrypted_content"] = item["encrypted_content"][:-6]
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.compact(model=MODEL, input=[item])  # type: ignore[list-item]
    assert error_of(info.value)["code"] == "invalid_encrypted_content"


# --- context_management ------------------------------------------------------------------------------------


def test_threshold_compacts_inside_the_response(client: openai.OpenAI) -> None:
    small = client.responses.create(model=MODEL, input="Hi", context_management=THRESHOLD)
    assert [i.type for i in small.output if i.type == "compaction"] == []
    raw = client.responses.with_raw_response.create(model=MODEL, input=LONG, context_management=THRESHOLD)
    body = json.loads(raw.text)
    assert_faithful(body, kind="response")
    assert [i["type"] for i in body["output"]][-1] == "compaction"  # real traffic puts it last
    assert "context_management" not in body  # not echoed (real traffic)
    response = raw.parse()
    assert response.usage is not None and response.usage.input_tokens > 1000


def test_threshold_below_1000_is_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(
            model=MODEL, input="x", context_management=[{"type": "compaction", "compact_threshold": 999}]
        )
    assert error_of(info.value)["param"] == "context_management[0].compact_threshold"


def test_stream_emits_the_compacting_event(client: openai.OpenAI) -> None:
    raw = client.responses.with_raw_response.create(
        model=MODEL, input=LONG, context_management=THRESHOLD, store=False, stream=True
    )
    text = raw.http_response.read().decode()
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    for event in events:
        assert_faithful(event, kind="event")
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    tail = [e["type"] for e in events[-4:]]
    assert tail == [
        "response.output_item.added",
        "response.compaction.compacting",
        "response.output_item.done",
        "response.completed",
    ]
    added, compacting, done, completed = events[-4:]
    item = completed["response"]["output"][-1]
    assert compacting["item_id"] == item["id"] == added["item"]["id"] == done["item"]["id"]
    assert compacting["output_index"] == len(completed["response"]["output"]) - 1
    assert done["item"]["encrypted_content"] == item["encrypted_content"]


def test_previous_response_id_chain_compacts_and_shrinks(client: openai.OpenAI) -> None:
    first = client.responses.create(model=MODEL, input=LONG, context_management=THRESHOLD)
    compaction_of(first)
    second = client.responses.create(
        model=MODEL, input="Go on.", previous_response_id=first.id, context_management=THRESHOLD
    )
    assert first.usage is not None and second.usage is not None
    assert second.usage.input_tokens < first.usage.input_tokens / 4
    # Without context_management the chain still starts after the compaction item (SPEC §12).
    third = client.responses.create(model=MODEL, input="And?", previous_response_id=second.id)
    assert third.usage is not None and third.usage.input_tokens < first.usage.input_tokens / 4


def test_compaction_trigger_forces_it(client: openai.OpenAI) -> None:
    response = client.responses.create(model=MODEL, input=[*CHAT, {"type": "compaction_trigger"}])  # type: ignore[list-item]
    assert [i.type for i in response.output] == ["compaction"]
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=MODEL, input=[{"type": "compaction_trigger"}, *CHAT])  # type: ignore[list-item]
    assert error_of(info.value)["param"] == "input[0]"


def test_edited_compaction_item_is_rejected(client: openai.OpenAI) -> None:
    response = client.responses.create(model=MODEL, input=LONG, context_management=THRESHOLD, store=False)
    item = as_input([compaction_of(response)])[0]
    blob = item["encrypted_content"]
    question = {"role": "user", "content": "More"}
    for edited in (blob[:50] + ("x" if blob[50] != "x" else "y") + blob[51:], blob + "AA", blob[:-1]):
        with pytest.raises(openai.BadRequestError) as info:
            client.responses.create(model=MODEL, input=[{**item, "encrypted_content": edited}, question])  # type: ignore[list-item]
        assert error_of(info.value) == {
            "message": f"The encrypted content for item {item['id']} could not be verified. "
            "Reason: Encrypted content could not be decrypted or parsed.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_encrypted_content",
        }
    # Without an id the older wording abbreviates the blob (first and last four characters, SPEC §8).
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(
            model=MODEL, input=[{"type": "compaction", "encrypted_content": blob[:-2] + "zz"}, question]
        )
    assert (
        error_of(info.value)["message"]
        == f"The encrypted content {blob[:4]}...{blob[-4:-2]}zz could not be verified."
    )
    # A genuine reasoning blob is not a compaction blob.
    reasoning = client.responses.create(model=MODEL, input="x", store=False, reasoning={"effort": "low"})
    rs_blob = reasoning.output[0].encrypted_content  # type: ignore[union-attr]
    with pytest.raises(openai.BadRequestError):
        client.responses.create(
            model=MODEL, input=[{"type": "compaction", "encrypted_content": rs_blob}, question]
        )  # type: ignore[list-item,typeddict-item]


def test_input_tokens_endpoint_agrees_after_compaction(client: openai.OpenAI) -> None:
    response = client.responses.create(model=MODEL, input=LONG, context_management=THRESHOLD, store=False)
    items = [
        {"role": "user", "content": LONG},
        *as_input(response.output),
        {"role": "user", "content": "More"},
    ]
    created = client.responses.create(model=MODEL, input=items, store=False)  # type: ignore[arg-type]
    counted = client.responses.input_tokens.count(model=MODEL, input=items)  # type: ignore[arg-type]
    assert created.usage is not None and counted.input_tokens == created.usage.input_tokens


def test_fifty_stateless_turns_stay_under_budget(client: openai.OpenAI) -> None:
    """The checklist's long-running loop: store=false, the whole history resent each turn, compaction on."""
    window: list[dict[str, Any]] = []  # what the client sends: pruned before the latest compaction item
    everything: list[dict[str, Any]] = []  # the whole conversation, for comparison
    inputs: list[int] = []
    compactions = 0
    for turn in range(50):
        question = {"role": "user", "content": f"Turn {turn}: {LONG[:600]}"}
        response = client.responses.create(
            model=MODEL,
            input=[*window, question],  # type: ignore[list-item]
            store=False,
            reasoning={"effort": "low"},
            include=["reasoning.encrypted_content"],
            context_management=THRESHOLD,
        )
        assert response.usage is not None and response.status == "completed"
        inputs.append(response.usage.input_tokens)
        output = as_input(response.output)
        everything.extend([question, *(i for i in output if i["type"] != "compaction")])
        window.extend([question, *output])
        if output[-1]["type"] == "compaction":
            compactions += 1
            window = output[-1:]  # "may drop items before the latest compaction item" (SPEC §12)
    without = client.responses.input_tokens.count(model=MODEL, input=everything)  # type: ignore[arg-type]
    assert compactions >= 10
    assert max(inputs) < 1500  # the budget: the threshold plus one turn
    assert without.input_tokens > 10 * max(inputs)


# --- WebSocket ---------------------------------------------------------------------------------------------


def ws_turn(connection: Any, **create: Any) -> list[dict[str, Any]]:
    """Send one ``response.create`` and collect its frames up to the terminal event (as raw JSON)."""
    connection.response.create(**create)
    frames: list[dict[str, Any]] = []
    while True:
        frame = json.loads(connection.recv_bytes())
        frames.append(frame)
        if frame["type"] in ("response.completed", "response.incomplete", "response.failed", "error"):
            return frames


def test_websocket_turns_compact_and_chain(client: openai.OpenAI) -> None:
    with client.responses.connect() as connection:
        first = ws_turn(connection, model=MODEL, input=LONG, store=False, context_management=THRESHOLD)
        for frame in first:
            assert_faithful(frame, kind="ws_event")
        types = [f["type"] for f in first]
        assert "response.compaction.compacting" in types
        final = first[-1]["response"]
        assert final["output"][-1]["type"] == "compaction"
        second = ws_turn(
            connection,
            model=MODEL,
            input="Go on.",
            store=False,
            previous_response_id=final["id"],
            context_management=THRESHOLD,
        )
        assert second[-1]["type"] == "response.completed"
        assert second[-1]["response"]["usage"]["input_tokens"] < final["usage"]["input_tokens"] / 4
        forced = ws_turn(connection, model=MODEL, input=[*CHAT, {"type": "compaction_trigger"}], store=False)
        assert [i["type"] for i in forced[-1]["response"]["output"]] == ["compaction"]
        edited = {**final["output"][-1], "encrypted_content": final["output"][-1]["encrypted_content"][:-3]}
        error = ws_turn(
            connection, model=MODEL, input=[edited, {"role": "user", "content": "x"}], store=False
        )
    assert error[-1]["type"] == "error" and error[-1]["status"] == 400
    assert error[-1]["error"]["code"] == "invalid_encrypted_content"
