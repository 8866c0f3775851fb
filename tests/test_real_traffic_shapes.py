"""resplay answers recorded requests with the shapes real traffic shows (DECISIONS 22).

For every recorded ``POST /v1/responses`` from api.openai.com that resplay supports (its request
validates, it starts a new chain, its output holds only item types resplay emits), the recorded
output is scripted as the next reply and the recorded request is sent to resplay. The reply must have
the recorded top-level field set (fields most recordings of that year carry are required; older
fields newer recordings dropped are optional) and, for streams, the recorded event-type grammar.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx2
import pytest

from mockserver import MockServer
from mockserver.builtin_tools import ITEM_TYPES as BUILTIN_ITEMS
from mockserver.errors import APIError
from mockserver.sse import SSEDecoder
from mockserver.validation import validate_create

from fidelity import assert_faithful
from realtraffic import (
    Interaction,
    event_grammar,
    field_profile,
    iter_responses,
    responses_interactions,
    shared_root,
)

SEARCH_ITEMS = frozenset({"tool_search_call", "tool_search_output"})  # SPEC §11, mockserver.tool_search
SUPPORTED_ITEMS = (
    frozenset({"message", "reasoning", "function_call"})
    | SEARCH_ITEMS
    | (
        frozenset(BUILTIN_ITEMS) - {"shell_call_output", "local_shell_call"}  # no api.openai.com recordings
    )
)
UNSUPPORTED_REQUEST_FIELDS = frozenset({"previous_response_id", "conversation", "background", "prompt"})


def recorded_output(interaction: Interaction) -> list[dict[str, Any]] | None:
    final = interaction.response_objects[-1] if interaction.response_objects else None
    if final is None or final.get("status") != "completed":
        return None
    output = final.get("output")
    return output if isinstance(output, list) else None


def supported(interaction: Interaction) -> str | None:
    """Why resplay cannot replay this recording, or ``None`` when it can."""
    body = interaction.request_json
    if interaction.method != "POST" or interaction.url != "/v1/responses" or not isinstance(body, dict):
        return "not a create"
    if UNSUPPORTED_REQUEST_FIELDS & set(body):
        return "needs earlier state: " + ",".join(sorted(UNSUPPORTED_REQUEST_FIELDS & set(body)))
    inputs = body.get("input") if isinstance(body.get("input"), list) else []
    if any(isinstance(item, dict) and item.get("encrypted_content") for item in inputs):
        # Real blobs are foreign here (400 invalid_encrypted_content); test_reasoning_shapes replays them.
        return "needs earlier state: encrypted_content"
    output = recorded_output(interaction)
    if output is None:
        return "no completed output"
    kinds = {item.get("type") for item in output}
    if not kinds <= SUPPORTED_ITEMS:
        return "item types: " + ",".join(sorted(str(k) for k in kinds - SUPPORTED_ITEMS))
    if any(len(item.get("content") or ()) != 1 for item in output if item.get("type") == "message"):
        return "multi-part message"
    if interaction.sse_events is not None and interleaved(interaction.sse_events):
        return "interleaved items"  # several items in flight at once (parallel MCP servers): not emulated
    try:
        validate_create(body)
    except APIError as exc:
        return f"request rejected: {exc.code or exc.message[:40]}"
    return None


def interleaved(events: list[dict[str, Any]]) -> bool:
    """Whether an item starts before the previous one is done (or one is never done)."""
    open_items = 0
    for event in events:
        if event.get("type") == "response.output_item.added":
            open_items += 1
            if open_items > 1:
                return True
        elif event.get("type") == "response.output_item.done":
            open_items -= 1
    return open_items != 0


def mirror(output: list[dict[str, Any]]) -> dict[str, Any]:
    """The recorded output as a scripted ``OutputReply``."""
    items: list[dict[str, Any]] = []
    for item in output:
        if item["type"] == "reasoning":
            items.append(
                {"type": "reasoning", "summary": [s.get("text", "") for s in item.get("summary") or ()]}
            )
        elif item["type"] == "function_call":
            call = {"type": "function_call", "name": item["name"], "arguments": item["arguments"]}
            items.append({**call, "namespace": item["namespace"]} if item.get("namespace") else call)
        elif item["type"] in SEARCH_ITEMS:
            items.append(
                {k: v for k, v in item.items() if k in ("type", "execution", "call_id", "arguments", "tools")}
            )
        elif item["type"] in BUILTIN_ITEMS:
            items.append({k: v for k, v in item.items() if k != "id"})  # scripted in the real item's shape
        else:
            part = item["content"][0]
            items.append(
                {
                    "type": "message",
                    "text": part.get("text", part.get("refusal", "")),
                    "refusal": part.get("type") == "refusal",
                    "phase": item.get("phase"),
                    "annotations": part.get("annotations") or [],
                }
            )
    return {"output": items}


@pytest.fixture(scope="module")
def recordings() -> list[Interaction]:
    if not shared_root().is_dir():
        pytest.skip(f"../shared is not present at {shared_root()} (set RESPLAY_SHARED)")
    return [i for i in responses_interactions(openai_only=True) if i.host == "api.openai.com"]


def test_replies_match_recorded_shapes(recordings: list[Interaction]) -> None:
    profile = field_profile(iter_responses(recordings))
    skipped: Counter[str] = Counter()
    checked = streamed = 0
    with (
        # Requests are replayed one by one, without the uploads before them: their file ids are unknown here.
        MockServer(seed=0, check_references=False) as server,
        httpx2.Client(
            base_url=server.base_url, headers={"authorization": "Bearer sk-test"}, timeout=30
        ) as http,
    ):
        for interaction in recordings:
            reason = supported(interaction)
            if reason is not None:
                skipped[reason.split(":")[0]] += 1
                continue
            output = recorded_output(interaction)
            assert output is not None
            http.post(server.url + "/_resplay/replies", json=mirror(output)).raise_for_status()
            body = dict(interaction.request_json or {})
            answer = http.post("/responses", json=body)
            assert answer.status_code == 200, (interaction.path.name, answer.text)
            recorded_final = interaction.response_objects[-1]
            year = interaction.recorded_year or profile.latest_year
            required = profile.required(year) & set(recorded_final)
            if interaction.sse_events is not None:
                decoder = SSEDecoder()
                events = [m.json() for m in decoder.feed(answer.content) + decoder.flush()]
                for event in events:
                    assert_faithful(event, kind="event")
                ours, theirs = event_grammar(events), event_grammar(interaction.sse_events)
                assert [t.rstrip("+") for t in ours] == [t.rstrip("+") for t in theirs], interaction.path.name
                final = events[-1]["response"]
                streamed += 1
            else:
                final = answer.json()
            assert_faithful(final, kind="response")
            missing = required - set(final)
            assert not missing, (interaction.path.name, sorted(missing))
            checked += 1
    print(f"\nreal-traffic shapes: {checked} checked ({streamed} streamed), skipped: {dict(skipped)}")
    assert checked >= 20
