"""Tests of the fidelity checker (tests/fidelity.py): hand-made faults and real recorded traffic."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from openai.types.responses import (
    CompactedResponse,
    Response,
    ResponseErrorEvent,
    ResponseFunctionWebSearch,
    ResponseTextDeltaEvent,
    WebSearchTool,
)
from openai.types.responses.response_file_search_tool_call import Result
from openai.types.responses.response_text_delta_event import Logprob
from openai.types.responses.tool import ImageGeneration
from pydantic import BaseModel

import fidelity
from fidelity import (
    ALLOW_LIST,
    assert_faithful,
    check_compacted,
    check_deleted,
    check_event,
    check_input_items_list,
    check_input_tokens,
    check_item,
    check_object,
    check_response,
)
from realtraffic import Interaction, responses_interactions, shared_root
from sdk_versions import pinned_sdk_only

REAL = shared_root() / "real-traffic"
needs_shared = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"{REAL} is absent: real-traffic tests need ../shared (DECISIONS 25)"
)

MSG = "msg_0fef0f8a68937870006911e9ef0ecc81949d727f28043244eb"


def make_response(**overrides: Any) -> dict[str, Any]:
    """A minimal faithful Response with one assistant message."""
    text = {"type": "output_text", "text": "Paris.", "annotations": [], "logprobs": []}
    message = {"id": MSG, "type": "message", "role": "assistant", "status": "completed", "content": [text]}
    return {
        "id": "resp_0fef0f8a68937870006911e9ecf124819491634b434678464a",
        "object": "response",
        "created_at": 1762781676,
        "status": "completed",
        "model": "gpt-4.1-nano-2025-04-14",
        "output": [message],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "store": True,
        "billing": {"payer": "developer"},
        **overrides,
    }


def delta(**overrides: Any) -> dict[str, Any]:
    """A faithful response.output_text.delta event."""
    return {
        "type": "response.output_text.delta",
        "sequence_number": 4,
        "item_id": MSG,
        "output_index": 0,
        "content_index": 0,
        "delta": "Once",
        "logprobs": [],
        "obfuscation": "lOokrPj8RO6Z",
        **overrides,
    }


# ----------------------------------------------------------------------------- hand-made objects
def test_faithful_objects_pass() -> None:
    assert check_response(make_response()) == []
    assert check_event(delta()) == []
    assert (
        check_event({"type": "response.completed", "sequence_number": 9, "response": make_response()}) == []
    )


def test_unknown_field_is_reported_with_its_path() -> None:
    obj = make_response()
    obj["output"][0]["content"][0]["foo"] = 1
    obj["surprise"] = True
    assert check_response(obj) == [
        "response.output[0].content[0].foo: unknown field (not declared on ResponseOutputText)",
        "response.surprise: unknown field (not declared on Response)",
    ]


def test_missing_required_field_is_reported() -> None:
    obj = make_response()
    del obj["model"], obj["output"][0]["content"][0]["annotations"]
    assert check_response(obj) == [
        "response.model: missing required field of Response",
        "response.output[0].content[0].annotations: missing required field of ResponseOutputText",
    ]
    call = {"type": "function_call", "id": "fc_1", "name": "f", "arguments": "{}", "status": "completed"}
    assert check_item(call) == ["item.call_id: missing required field of ResponseFunctionToolCall"]


def test_bad_enum_and_literal_are_reported() -> None:
    problems = check_response(make_response(status="done", object="responses"))
    assert problems[0].startswith("response.object: 'responses' is not one of ['response']")
    assert problems[1].startswith("response.status: 'done' is not one of ['completed', 'failed'")
    assert check_event(delta(output_index="0")) == ["event.output_index: expected int, got str '0'"]
    assert check_event(delta(sequence_number=True)) == ["event.sequence_number: expected int, got bool True"]


def test_pydantic_model_validate_agrees_on_missing_and_literal() -> None:
    # The walker's verdicts match what model_validate itself rejects; it only adds undeclared keys.
    with pytest.raises(ValueError, match="model"):
        Response.model_validate({k: v for k, v in make_response().items() if k != "model"})
    with pytest.raises(ValueError, match="status"):
        Response.model_validate(make_response(status="done"))


def test_union_member_is_chosen_by_type() -> None:
    search = {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search"}}
    assert check_item(search) == []
    assert check_item({**search, "action": {"type": "search", "query": "q", "bogus": 1}}) == [
        "item.action.bogus: unknown field (not declared on ActionSearch)"
    ]
    assert check_item({"type": "nope", "id": "x"})[0].startswith("item.type: unknown type 'nope'")
    assert check_event({"type": "response.bogus", "sequence_number": 0})[0].startswith(
        "event.type: unknown type"
    )


def test_input_and_stored_items() -> None:
    user = {"role": "user", "content": "hi"}  # EasyInputMessage: `type` may be omitted on input
    assert check_item(user, kind="input") == []
    assert check_item({**user, "role": "robot"}, kind="input") != []
    stored = {
        "id": "msg_1",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "hi"}],
    }
    assert check_item(stored, kind="stored") == []
    assert (
        check_input_items_list(
            {"object": "list", "data": [stored], "first_id": "msg_1", "last_id": "msg_1", "has_more": False}
        )
        == []
    )


def test_allow_list_fields_pass_and_in_progress_absence() -> None:
    assert check_event(delta(obfuscation="x")) == []
    added = {"type": "web_search_call", "id": "ws_1", "status": "in_progress"}  # no action yet (SPEC §4.5)
    assert check_item(added) == []
    assert check_item({**added, "status": "completed"}) == [
        "item.action: missing required field of ResponseFunctionWebSearch"
    ]


def test_error_events_sse_and_ws() -> None:
    nested = {
        "type": "error",
        "sequence_number": 2,
        "error": {
            "type": "insufficient_quota",
            "code": "insufficient_quota",
            "message": "quota",
            "param": None,
        },
    }
    assert check_event(nested) == []  # DECISIONS 7
    assert (
        check_event({"type": "error", "sequence_number": 2, "code": None, "message": "m", "param": None})
        == []
    )
    assert check_event({**nested, "extra": 1}) == [
        "event.extra: unknown field (not declared on NestedSSEErrorEvent)"
    ]
    ws = {**nested, "status": 400, "stream_id": "main", "sequence_number": None}
    assert check_event(ws, transport="ws") == []
    assert check_event(ws) == [
        "event.sequence_number: expected int, got null None",
        "event.status: unknown field (not declared on NestedSSEErrorEvent)",
        "event.stream_id: unknown field (not declared on NestedSSEErrorEvent)",
    ]


def test_stream_id_only_over_websocket() -> None:
    assert check_event(delta(stream_id="lane-1"), transport="ws") == []
    assert check_event(delta(stream_id="lane-1")) == [
        "event.stream_id: unknown field (not declared on ResponseTextDeltaEvent)"
    ]


def test_other_endpoint_bodies() -> None:
    assert check_input_tokens({"object": "response.input_tokens", "input_tokens": 12}) == []
    assert check_input_tokens({"object": "response.input_tokens", "input_tokens": "12"}) != []
    assert check_deleted({"id": "resp_1", "object": "response.deleted", "deleted": True}) == []
    assert check_deleted({"id": "resp_1", "object": "response", "deleted": True, "x": 1}) == [
        "deleted.object: unexpected value 'response'",
        "deleted.x: unknown field",
    ]
    usage = {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 15,
    }
    user = {
        "id": "msg_1",
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "2+2?"}],
    }
    compacted = {
        "id": "resp_1",
        "object": "response.compaction",
        "created_at": 1775105412,
        "output": [user, {"id": "cmp_1", "type": "compaction", "encrypted_content": "gAAAA"}],
        "usage": usage,
    }
    assert check_compacted(compacted) == []
    assert check_object(compacted, CompactedResponse) != []  # the SDK's own typing rejects the user message


def test_assert_faithful_lists_every_problem() -> None:
    obj = make_response(status="done", foo=1)
    with pytest.raises(AssertionError, match=r"2 fidelity problem\(s\) in response") as info:
        assert_faithful(obj)
    assert "response.status" in str(info.value)
    assert "response.foo" in str(info.value)
    assert_faithful(delta(), kind="event")


def test_allow_list_only_names_fields_the_sdk_lacks() -> None:
    declared: dict[str, type[BaseModel]] = {
        "Response": Response,
        "Response*DeltaEvent": ResponseTextDeltaEvent,
        "Logprob": Logprob,
        "Result": Result,
        "ImageGeneration": ImageGeneration,
        "WebSearchTool": WebSearchTool,
        "ResponseErrorEvent": ResponseErrorEvent,
    }
    for key in ALLOW_LIST:
        cls, _, field = key.rpartition(".")
        if cls in declared:
            assert field not in declared[cls].model_fields, key
    # The two shape entries name fields the SDK declares, but differently from what the API sends.
    assert ResponseFunctionWebSearch.model_fields["action"].is_required()
    assert "output" in CompactedResponse.model_fields


# ----------------------------------------------------------------------------- real recorded traffic
# Known drift between older or trimmed recordings and SDK 3.51.0, which our emulator must not copy.
DRIFT = {
    r"\.cache_write_tokens: missing required": "required by the SDK, absent before 2026-07 (SPEC §15.12)",
    r"^event\.(sequence_number|logprobs): missing": "2025-03 streams predate sequence_number and logprobs",
    r"\.sources\[\d+\]\.(type: 'api'|name: unknown|url: missing)": "web search source {type: api, name}",
    r"\.error\.code: 'insufficient_quota' is not one of": "response.failed code outside the SDK enum",
    r"^event\.type: unknown type 'response\.apply_patch_call_operation_diff": "event family absent from SDK",
    r"^(event\.)?response\.(tools|tool_choice|parallel_tool_calls): missing": "openai-phase fixture trimmed",
}


def _problems(i: Interaction) -> list[str]:
    if i.sse_events is not None:
        return [p for e in i.sse_events for p in check_event(e)]
    body = i.response_json or {}
    check = {"response": check_response, "response.compaction": check_compacted}.get(body.get("object", ""))
    if body.get("object") == "response.input_tokens":
        check = check_input_tokens
    return check(body) if check else []


@needs_shared
@pytest.mark.parametrize(
    "name",
    [
        "test_responses_streaming.yaml",  # traceloop: text stream with obfuscation
        "test_openai_responses_compact_messages_direct.yaml",  # POST /v1/responses/compact
        "test_responses_count_tokens.yaml",  # POST /v1/responses/input_tokens
        "openai-error.1.chunks.txt",  # nested error event, then response.failed
        "openai-reasoning-encrypted-content.1.json",  # reasoning with encrypted_content
        "openai-tool-search.1.chunks.txt",  # tool_search_call / tool_search_output
        "test_openai_instructions_with_responses_logprobs_streaming.yaml",  # Logprob.bytes
    ],
)
def test_recorded_objects_are_faithful(name: str) -> None:
    found = [i for i in responses_interactions(REAL, openai_only=True) if i.path.name == name]
    assert found, name
    for i in found:
        problems = [p for p in _problems(i) if not any(re.search(rx, p) for rx in DRIFT)]
        assert problems == [], f"{name}#{i.index}"


@needs_shared
@pinned_sdk_only  # KNOWN_DRIFT and ALLOW_LIST are measured against SDK 3.51.0
def test_every_openai_recording_passes_up_to_known_drift() -> None:
    seen: set[str] = set()
    checked = 0
    for i in responses_interactions(REAL, openai_only=True):
        for p in _problems(i):
            drift = [rx for rx in DRIFT if re.search(rx, p)]
            assert drift, f"{i.path.name}#{i.index}: {p}"
            seen.update(drift)
        checked += len(i.sse_events or ()) + (i.response_json is not None)
    assert checked > 8000
    assert seen == set(DRIFT), "a DRIFT entry no longer matches any recording: drop it"


WEB_SEARCH_2026 = "test_openai_responses_model_web_search_tool_without_external_access.yaml"
# One api.openai.com recording per ALLOW_LIST entry that fails without the entry.
EVIDENCE = {
    "Response.store": "test_openai_responses_model_simple_response.yaml",
    "Response.frequency_penalty": "test_openai_responses_api_basic_call.yaml",
    "Response.presence_penalty": "test_openai_responses_api_basic_call.yaml",
    "Response.billing": "test_openai_responses_api_basic_call.yaml",
    "Response*DeltaEvent.obfuscation": "test_responses_streaming.yaml",
    "Logprob.bytes": "test_openai_instructions_with_responses_logprobs_streaming.yaml",
    "Result.vector_store_id": "test_openai_responses_model_file_search_tool_with_results.yaml",
    "ImageGeneration.n": "test_openai_responses_image_generation_jpeg.yaml",
    "WebSearchTool.return_token_budget": WEB_SEARCH_2026,
    "WebSearchTool.search_content_types": WEB_SEARCH_2026,
    "ResponseFunctionWebSearch.action": "openai-web-search-tool.1.chunks.txt",
    "ResponseErrorEvent.error": "openai-error.1.chunks.txt",
    "CompactedResponse.output": "test_openai_responses_compact_messages_direct.yaml",
}


@pytest.fixture
def fresh_checker(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Let a test edit fidelity.ALLOW_LIST: compiled nodes are rebuilt before and after."""
    fidelity._CACHE.clear()
    yield monkeypatch
    monkeypatch.undo()
    fidelity._CACHE.clear()


def _strict_problems(name: str) -> list[str]:
    found = [i for i in responses_interactions(REAL, openai_only=True) if i.path.name == name]
    assert found, name
    return [p for i in found for p in _problems(i) if not any(re.search(rx, p) for rx in DRIFT)]


@needs_shared
@pinned_sdk_only
@pytest.mark.parametrize("entry", sorted(ALLOW_LIST))
def test_allow_list_entry_is_needed_by_real_traffic(entry: str, fresh_checker: pytest.MonkeyPatch) -> None:
    assert _strict_problems(EVIDENCE[entry]) == []
    fresh_checker.setattr(fidelity, "ALLOW_LIST", {k: v for k, v in ALLOW_LIST.items() if k != entry})
    fidelity._CACHE.clear()
    assert _strict_problems(EVIDENCE[entry]) != [], f"{entry} is not needed by {EVIDENCE[entry]}"
