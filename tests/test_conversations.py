"""The Conversations API and ``conversation`` on create (SPEC §2.8, issue 14), with the real openai client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import openai
import pytest
import yaml
from openai.types.conversations import Conversation, ConversationDeletedResource, ConversationItemList

from mockserver import MockServer
from mockserver.conversations import ConversationBook, conversation_id
from mockserver.errors import InvalidRequest, NotFound
from mockserver.ids import IdFactory

from fidelity import check_object, check_response
from realtraffic import shared_root

CASSETTES = "pydantic__pydantic-ai/tests/models/cassettes/test_openai_responses"


class _Answer:
    def __init__(self, status_code: int, text: str) -> None:
        self.status_code, self.text = status_code, text

    def json(self) -> Any:
        return json.loads(self.text)


def _raw(client: openai.OpenAI, method: str, path: str, body: Any = None) -> _Answer:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"{client.base_url}{path.lstrip('/')}",
        data=data,
        method=method,
        headers={"Authorization": "Bearer sk-test-key", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req) as res:
            return _Answer(res.status, res.read().decode())
    except urllib.error.HTTPError as err:
        return _Answer(err.code, err.read().decode())


def test_crud_and_items(client: openai.OpenAI) -> None:
    conv = client.conversations.create(
        items=[{"type": "message", "role": "user", "content": "hello"}], metadata={"topic": "demo"}
    )
    assert conv.id.startswith("conv_") and len(conv.id) == 53
    assert client.conversations.retrieve(conv.id).metadata == {"topic": "demo"}
    assert client.conversations.update(conv.id, metadata={"topic": "other"}).metadata == {"topic": "other"}
    added = client.conversations.items.create(
        conv.id,
        items=[
            {"type": "message", "role": "assistant", "content": "hi there"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "again"}]},
        ],
    )
    assert [i.type for i in added.data] == ["message", "message"]
    listed = client.conversations.items.list(conv.id, order="asc")
    texts = [i.content[0].text for i in listed.data]  # type: ignore[union-attr]
    assert texts == ["hello", "hi there", "again"]
    first = listed.data[0].id  # type: ignore[union-attr]
    assert client.conversations.items.retrieve(first, conversation_id=conv.id).id == first
    after_delete = client.conversations.items.delete(first, conversation_id=conv.id)
    assert after_delete.id == conv.id
    assert len(client.conversations.items.list(conv.id).data) == 2
    page = client.conversations.items.list(conv.id, limit=1)
    assert page.has_more and page.data[0].content[0].text == "again"  # type: ignore[union-attr]
    deleted = client.conversations.delete(conv.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (conv.id, True, "conversation.deleted")
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conv.id)


def test_wire_shapes_are_faithful(client: openai.OpenAI) -> None:
    created = _raw(client, "POST", "conversations", {}).json()
    assert set(created) == {"id", "object", "created_at", "metadata"}
    assert check_object(created, Conversation) == []
    conv = created["id"]
    items = _raw(client, "POST", f"conversations/{conv}/items", {"items": [{"role": "user", "content": "x"}]})
    assert check_object(items.json(), ConversationItemList) == []
    assert check_object(_raw(client, "GET", f"conversations/{conv}/items").json(), ConversationItemList) == []
    assert (
        check_object(_raw(client, "DELETE", f"conversations/{conv}").json(), ConversationDeletedResource)
        == []
    )


def test_create_with_conversation_prepends_and_appends(client: openai.OpenAI, server: MockServer) -> None:
    conv = client.conversations.create()
    first = client.responses.create(model="gpt-4.1", input="Remember CONV-5222.", conversation=conv.id)
    assert first.conversation is not None and first.conversation.id == conv.id
    assert check_response(first.model_dump(mode="json", exclude_unset=True)) == []
    items = client.conversations.items.list(conv.id, order="asc").data
    assert [i.id for i in items][-1] == first.output[-1].id
    assert [getattr(i, "role", None) for i in items] == ["user", "assistant"]
    second = client.responses.create(model="gpt-4.1", input="What code?", conversation={"id": conv.id})
    assert second.previous_response_id is None
    # the second turn saw the first turn's items: its input token count includes them
    alone = client.responses.create(model="gpt-4.1", input="What code?")
    assert second.usage is not None and alone.usage is not None
    assert second.usage.input_tokens > alone.usage.input_tokens
    assert len(client.conversations.items.list(conv.id).data) == 4


def test_streamed_create_appends_and_echoes(client: openai.OpenAI) -> None:
    conv = client.conversations.create()
    with client.responses.stream(model="gpt-5.5", input="hi", conversation=conv.id) as stream:
        final = stream.get_final_response()
    assert final.conversation is not None and final.conversation.id == conv.id
    assert len(client.conversations.items.list(conv.id).data) >= 2


def test_tool_call_continuation_through_conversation(client: openai.OpenAI, server: MockServer) -> None:
    tool = {"type": "function", "name": "get_code", "parameters": {"type": "object", "properties": {}}}
    conv = client.conversations.create()
    first = client.responses.create(
        model="gpt-4.1", input="Call get_code", tools=[tool], tool_choice="required", conversation=conv.id
    )
    call = next(i for i in first.output if i.type == "function_call")
    # only the output is sent: the call is found in the conversation (real traffic tool_call_continuation)
    second = client.responses.create(
        model="gpt-4.1",
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "CODE-1"}],
        tools=[tool],
        conversation=conv.id,
    )
    assert second.status == "completed"
    stateless = openai.BadRequestError
    with pytest.raises(stateless):  # without the conversation the output has no call
        client.responses.create(
            model="gpt-4.1", input=[{"type": "function_call_output", "call_id": call.call_id, "output": "x"}]
        )


def test_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.create(model="gpt-4.1", input="hi", conversation="conv_nope")
    assert missing.value.body == {
        "message": "Conversation with id 'conv_nope' not found.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.BadRequestError) as prefix:
        client.responses.create(model="gpt-4.1", input="hi", conversation="abc")
    assert (
        prefix.value.body["message"]
        == "Invalid 'conversation': 'abc'. Expected an ID that begins with 'conv'."
    )  # type: ignore[index]
    conv = client.conversations.create()
    first = client.responses.create(model="gpt-4.1", input="hi")
    with pytest.raises(openai.BadRequestError) as both:
        client.responses.create(
            model="gpt-4.1", input="hi", conversation=conv.id, previous_response_id=first.id
        )
    assert both.value.code == "mutually_exclusive_parameters"
    with pytest.raises(openai.BadRequestError) as many:
        client.conversations.create(items=[{"role": "user", "content": "x"}] * 21)  # type: ignore[list-item]
    assert many.value.code == "array_above_max_length"
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve("msg_nope", conversation_id=conv.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list("conv_missing")


def test_failed_response_adds_nothing(client: openai.OpenAI, server: MockServer) -> None:
    conv = client.conversations.create()
    server.queue_error(500, "The server had an error while processing your request.", type="server_error")
    with pytest.raises(openai.APIStatusError):
        client.responses.create(model="gpt-4.1", input="hi", conversation=conv.id)
    assert client.conversations.items.list(conv.id).data == []


def test_sessions_are_isolated(server: MockServer) -> None:
    def make(session: str) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=server.base_url,
            api_key="sk-test-key",
            max_retries=0,
            default_headers={"x-resplay-session": session},
        )

    with make("a") as a, make("b") as b:
        conv = a.conversations.create()
        with pytest.raises(openai.NotFoundError):
            b.conversations.retrieve(conv.id)


def test_pure_book() -> None:
    book = ConversationBook()
    ids = IdFactory(1)
    obj = book.create(
        {"metadata": {"k": "v"}}, ids=ids, now=100.0, normalise=lambda raw: [dict(r) for r in raw]
    )
    assert obj["created_at"] == 100 and len(book) == 1
    with pytest.raises(InvalidRequest):
        book.update(obj["id"], {"metadata": {"k": 1}})
    with pytest.raises(InvalidRequest):
        book.create({"bogus": 1}, ids=ids, now=0.0, normalise=list)
    with pytest.raises(NotFound):
        book.delete("conv_x")
    assert conversation_id({"id": "conv_1"}) == "conv_1"
    assert conversation_id(None) is None
    with pytest.raises(InvalidRequest):
        conversation_id(3)


def test_real_traffic_sequence_replays(client: openai.OpenAI) -> None:
    """The pydantic-ai conversation cassettes: every create with ``conversation`` succeeds here too."""
    root = shared_root() / "real-traffic" / CASSETTES
    if not root.is_dir():
        pytest.skip(f"real traffic not present at {root}")
    files = sorted(root.glob("test_openai_conversation_id_*.yaml"))
    assert files
    replayed = 0
    for path in files:
        mapping: dict[str, str] = {}
        for exchange in yaml.safe_load(path.read_text())["interactions"]:
            req, res = exchange["request"], exchange["response"]
            uri = req["uri"].split("api.openai.com/v1/", 1)[-1]
            body = req.get("parsed_body")
            if uri == "conversations" and req["method"] == "POST":
                mapping[res["parsed_body"]["id"]] = _raw(client, "POST", uri, body).json()["id"]
                continue
            if uri != "responses" or not isinstance(body, dict) or "conversation" not in body:
                continue
            text = json.dumps(body)
            for recorded, ours in mapping.items():
                text = text.replace(recorded, ours)
            sent = json.loads(text)
            if sent["conversation"] in mapping.values():
                pass
            elif sent["conversation"] in mapping:
                sent["conversation"] = mapping[sent["conversation"]]
            elif isinstance(sent["conversation"], str):
                sent["conversation"] = client.conversations.create().id
                mapping[body["conversation"]] = sent["conversation"]
            sent.pop("stream", None)
            got = _raw(client, "POST", "responses", sent)
            replayed += 1
            assert got.status_code == res["status"]["code"], (path.name, got.text)
            if got.status_code == 200:
                assert got.json()["conversation"] == {"id": sent["conversation"]}
                # the recorded function calls become ours, so later outputs answer them
                calls = [i for i in got.json()["output"] if i["type"] == "function_call"]
                recorded = res.get("parsed_body")
                if not isinstance(recorded, dict):
                    continue  # a streamed recording: its output is in SSE frames
                recorded_calls = [i for i in recorded["output"] if i["type"] == "function_call"]
                assert len(calls) == len(recorded_calls), path.name
                mapping.update(
                    {r["call_id"]: c["call_id"] for r, c in zip(recorded_calls, calls, strict=True)}
                )
    assert replayed >= 6


def test_background_appends_when_done(client: openai.OpenAI, server: MockServer) -> None:
    conv = client.conversations.create()
    queued = client.responses.create(model="gpt-5.5", input="hi", conversation=conv.id, background=True)
    assert queued.status == "queued" and queued.conversation is not None
    assert client.conversations.items.list(conv.id).data == []  # nothing until the response completes
    server.advance(60)
    assert client.responses.retrieve(queued.id).status == "completed"
    assert len(client.conversations.items.list(conv.id).data) >= 2
