"""The deployment-checklist auditor (issue 13): one small app that misses each practice, one that follows it.

Every app drives the real server with the openai client; the verdict is read back through
``MockServer.checklist()`` (and once through ``GET /_resplay/checklist`` and the CLI).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest

from mockserver import Engine, MockServer, ServerConfig
from mockserver.checklist import Finding, audit, audit_path, entries_from_cassette, main
from mockserver.wsmode import WsConnection

from realtraffic import shared_root

MODEL = "gpt-5.5"
LONG = "You are a meticulous support agent for a large hardware store. " * 80  # > 4,096 characters


def function(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "description": f"Tool {name}.",
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
        "strict": True,
        **extra,
    }


def verdict(server: MockServer, check: str) -> Finding:
    found = {f.id: f for f in server.checklist()}
    assert check in found, f"{check} not reported; got {sorted(found)}"
    return found[check]


# ------------------------------------------------------------------------------------- the apps
def effort_unset(client: openai.OpenAI) -> None:
    for question in ("Classify: refund", "Plan a migration"):
        client.responses.create(model=MODEL, input=question)


def effort_chosen(client: openai.OpenAI) -> None:
    client.responses.create(
        model=MODEL, input="Classify: refund", reasoning={"effort": "low"}, text={"verbosity": "low"}
    )
    client.responses.create(model=MODEL, input="Plan a migration", reasoning={"effort": "high"})


def effort_xhigh(client: openai.OpenAI) -> None:
    for question in ("Classify: refund", "Plan a migration"):
        client.responses.create(model=MODEL, input=question, reasoning={"effort": "xhigh"})


def _history(client: openai.OpenAI, phase: str | None) -> None:
    first = client.responses.create(model=MODEL, input="Say hi.")
    assistant: dict[str, Any] = {"role": "assistant", "content": first.output_text}
    if phase is not None:
        assistant["phase"] = phase
    client.responses.create(
        model=MODEL,
        input=[{"role": "user", "content": "Say hi."}, assistant, {"role": "user", "content": "Again."}],  # type: ignore[list-item]
    )


def phase_dropped(client: openai.OpenAI) -> None:
    _history(client, None)


def phase_kept(client: openai.OpenAI) -> None:
    _history(client, "final_answer")


def catalogue_flat(client: openai.OpenAI) -> None:
    tools = [function(f"tool_{i}") for i in range(21)]
    client.responses.create(model=MODEL, input="hi", tools=tools)  # type: ignore[arg-type]


def catalogue_deferred(client: openai.OpenAI) -> None:
    tools = [{"type": "tool_search"}, *(function(f"tool_{i}", defer_loading=True) for i in range(21))]
    client.responses.create(model=MODEL, input="hi", tools=tools)  # type: ignore[arg-type]


def builtin_duplicated(client: openai.OpenAI) -> None:
    client.responses.create(model=MODEL, input="hi", tools=[function("web_search")])  # type: ignore[list-item]


def builtin_used(client: openai.OpenAI) -> None:
    client.responses.create(model=MODEL, input="hi", tools=[{"type": "web_search"}, function("get_order")])  # type: ignore[list-item]


def prefix_unkeyed(client: openai.OpenAI) -> None:
    for question in ("Where is my order?", "Can I return a drill?"):
        client.responses.create(model=MODEL, instructions=LONG, input=question)


def prefix_keyed(client: openai.OpenAI) -> None:
    for question in ("Where is my order?", "Can I return a drill?"):
        client.responses.create(model=MODEL, instructions=LONG, input=question, prompt_cache_key="support-v1")


def prefix_key_hot(client: openai.OpenAI) -> None:
    for n in range(17):
        client.responses.create(
            model=MODEL, instructions=LONG, input=f"Question {n}", prompt_cache_key="support"
        )


def xhigh_in_background(client: openai.OpenAI) -> None:
    client.responses.create(
        model=MODEL, input="Audit the codebase", reasoning={"effort": "xhigh"}, background=True
    )


def stateless_sealed(client: openai.OpenAI, include: bool) -> None:
    extra: dict[str, Any] = {"include": ["reasoning.encrypted_content"]} if include else {}
    client.responses.create(model=MODEL, input="hi", store=False, **extra)


def reasoning_round_trip(client: openai.OpenAI, keep: bool) -> None:
    first = client.responses.create(model=MODEL, input="Think, then say hi.")
    assert any(item.type == "reasoning" for item in first.output)
    if keep:
        history: list[Any] = [item.model_dump(exclude_none=True) for item in first.output]
    else:
        history = [{"role": "assistant", "content": first.output_text}]
    client.responses.create(
        model=MODEL,
        input=[
            {"role": "user", "content": "Think, then say hi."},
            *history,
            {"role": "user", "content": "Go on."},
        ],
    )


def background(client: openai.OpenAI, store: bool) -> None:
    try:
        client.responses.create(model=MODEL, input="Long report", background=True, store=store)
    except openai.BadRequestError:
        assert not store  # the server refuses it (SPEC background rule); the journal still has it


def tool_loop_http(server: MockServer, client: openai.OpenAI, calls: int) -> None:
    for n in range(calls):
        server.queue_function_call("lookup", {"n": n}, call_id=f"call_{n}")
    server.queue_text("done")
    tools = [function("lookup")]
    response = client.responses.create(model=MODEL, input="Look things up.", tools=tools)  # type: ignore[list-item]
    for n in range(calls):
        response = client.responses.create(
            model=MODEL,
            previous_response_id=response.id,
            tools=tools,  # type: ignore[arg-type]
            input=[{"type": "function_call_output", "call_id": f"call_{n}", "output": "ok"}],
        )
    assert response.output_text == "done"


def chat_completions(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    client.responses.create(model=MODEL, input="hi")


def responses_only(client: openai.OpenAI) -> None:
    client.responses.create(model=MODEL, input="hi")


def prefix_stamped(client: openai.OpenAI, early: bool) -> None:
    for n in range(2):
        stamp = f"Request {n}."
        instructions = f"{stamp} {LONG}" if early else LONG
        client.responses.create(model=MODEL, instructions=instructions, input=f"{stamp} Where is my order?")


def long_chain(client: openai.OpenAI, managed: bool) -> None:
    extra: dict[str, Any] = (
        {"context_management": [{"type": "compaction", "compact_threshold": 200_000}]} if managed else {}
    )
    previous: str | None = None
    for n in range(10):
        kwargs: dict[str, Any] = {"previous_response_id": previous} if previous else {}
        previous = client.responses.create(model=MODEL, input=f"Step {n}.", **kwargs, **extra).id


def compaction_round_trip(client: openai.OpenAI, edit: bool) -> None:
    history: list[Any] = [{"role": "user", "content": "Remember the code word: heron."}]
    # Raw JSON: the strict client rejects the user messages a compacted window keeps (SDK 3.51's
    # CompactedResponse types output as assistant-side items only), which real traffic shows.
    raw = client.responses.with_raw_response.compact(model=MODEL, input=history)
    items: list[dict[str, Any]] = raw.http_response.json()["output"]
    if edit:
        for item in items:
            if item["type"] == "compaction":
                item["encrypted_content"] = item["encrypted_content"][:-8] + "AAAAAAAA"
    try:
        client.responses.create(model=MODEL, input=[*items, {"role": "user", "content": "The code word?"}])
    except openai.BadRequestError:
        assert edit


App = Callable[[MockServer, openai.OpenAI], None]
PAIRS: list[tuple[str, App, App]] = [
    ("chat_completions_used", lambda s, c: chat_completions(c), lambda s, c: responses_only(c)),
    ("reasoning_effort_unset", lambda s, c: effort_unset(c), lambda s, c: effort_chosen(c)),
    ("reasoning_effort_xhigh_everywhere", lambda s, c: effort_xhigh(c), lambda s, c: effort_chosen(c)),
    ("text_verbosity_unset", lambda s, c: effort_unset(c), lambda s, c: effort_chosen(c)),
    ("assistant_phase_dropped", lambda s, c: phase_dropped(c), lambda s, c: phase_kept(c)),
    (
        "large_catalogue_without_tool_search",
        lambda s, c: catalogue_flat(c),
        lambda s, c: catalogue_deferred(c),
    ),
    ("custom_function_duplicates_builtin", lambda s, c: builtin_duplicated(c), lambda s, c: builtin_used(c)),
    ("shared_prefix_without_prompt_cache_key", lambda s, c: prefix_unkeyed(c), lambda s, c: prefix_keyed(c)),
    ("prompt_cache_key_overloaded", lambda s, c: prefix_key_hot(c), lambda s, c: prefix_keyed(c)),
    (
        "store_false_without_encrypted_content",
        lambda s, c: stateless_sealed(c, False),
        lambda s, c: stateless_sealed(c, True),
    ),
    (
        "reasoning_items_dropped",
        lambda s, c: reasoning_round_trip(c, False),
        lambda s, c: reasoning_round_trip(c, True),
    ),
    (
        "cache_prefix_changes_early",
        lambda s, c: prefix_stamped(c, True),
        lambda s, c: prefix_stamped(c, False),
    ),
    ("long_chain_without_compaction", lambda s, c: long_chain(c, False), lambda s, c: long_chain(c, True)),
    (
        "compaction_item_edited",
        lambda s, c: compaction_round_trip(c, True),
        lambda s, c: compaction_round_trip(c, False),
    ),
    ("long_running_without_background", lambda s, c: effort_xhigh(c), lambda s, c: xhigh_in_background(c)),
    ("background_without_store", lambda s, c: background(c, False), lambda s, c: background(c, True)),
    ("tool_heavy_http_loop", lambda s, c: tool_loop_http(s, c, 20), lambda s, c: tool_loop_http(s, c, 3)),
]


@pytest.mark.parametrize(("check", "bad", "good"), PAIRS, ids=[p[0] for p in PAIRS])
def test_app_missing_the_practice_is_flagged_and_one_following_it_is_clean(
    server: MockServer, client: openai.OpenAI, check: str, bad: App, good: App
) -> None:
    bad(server, client)
    missed = verdict(server, check)
    assert missed.status == "missed", missed
    assert missed.evidence and missed.evidence_count >= 1
    server.reset()
    good(server, client)
    clean = verdict(server, check)
    assert clean.status == "ok", clean
    assert not [
        f for f in server.checklist() if f.status == "missed" and f.item == clean.item and f.id == check
    ]


@pytest.mark.parametrize("named", [False, True])
def test_creates_queued_on_one_websocket_lane_are_flagged(named: bool) -> None:
    # On the pure connection: over a socket the first response may finish before the second create
    # arrives (instant latency), so whether it queued would be a race.
    engine = Engine(ServerConfig(seed=3, clock="virtual"))
    conn = WsConnection(engine)
    for n, lane in enumerate(("a", "b")):
        extra = {"stream_id": lane} if named else {}
        conn.receive_text(
            json.dumps({"type": "response.create", "model": MODEL, "input": f"job {n}", **extra})
        )
    while conn.next_frame() is not None:
        pass
    finding = {f.id: f for f in audit(engine.session(None).journal)}["websocket_lane_queued"]
    assert finding.status == ("ok" if named else "missed")
    assert len(finding.evidence) == (0 if named else 1)


def test_namespaces_over_ten_functions_are_flagged() -> None:
    # Pure: the namespace shape needs no server to be judged (the e2e pairs cover the plumbing).
    def create(groups: list[int]) -> dict[str, Any]:
        tools = [
            {
                "type": "namespace",
                "name": f"ns{g}",
                "description": "d",
                "tools": [function(f"f{g}_{i}") for i in range(n)],
            }
            for g, n in enumerate(groups)
        ]
        return {
            "method": "POST",
            "path": "/v1/responses",
            "body": {"model": MODEL, "input": "hi", "tools": tools},
        }

    assert {f.id: f.status for f in audit([create([11])])}["namespace_too_large"] == "missed"
    assert {f.id: f.status for f in audit([create([6, 6])])}["namespace_too_large"] == "ok"


def test_admin_endpoint_serves_the_report(server: MockServer, client: openai.OpenAI) -> None:
    effort_unset(client)
    with urllib.request.urlopen(f"{server.url}/_resplay/checklist", timeout=10) as answer:
        report = json.loads(answer.read())
    assert report["object"] == "resplay.checklist" and report["missed"] >= 1
    finding = next(f for f in report["findings"] if f["id"] == "reasoning_effort_unset")
    assert finding["status"] == "missed"
    assert finding["impact"] == ["quality", "cost", "latency"]
    assert finding["checklist_item"] == "Set up reasoning.effort"
    assert all(e.startswith("resp_") for e in finding["evidence"])


def test_cli_audits_a_cassette_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cassette = {
        "format_version": 1,
        "version": 1,
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": "https://api.openai.com/v1/responses",
                    "headers": {},
                    "body": {"json": {"model": MODEL, "input": "hi", "store": False}},
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {},
                    "body": {"json": {"id": "resp_1"}},
                },
            }
        ],
    }
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.yaml").write_text(json.dumps(cassette))  # JSON is YAML
    assert main([str(tmp_path), "--json", "--fail-on-missed"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["cassettes"] == 1
    by_id = {f["id"]: f for f in report["findings"]}
    assert by_id["store_false_without_encrypted_content"]["evidence"] == ["sub/a.yaml[0]: resp_1"]
    assert main([str(tmp_path / "missing")]) == 2
    assert entries_from_cassette(cassette)[0]["path"] == "/v1/responses"


def test_real_traffic_report() -> None:
    root = shared_root() / "real-traffic"
    if not root.is_dir():
        pytest.skip(f"no real traffic at {root}")
    findings, files = audit_path(root / "pydantic__pydantic-ai")
    assert files > 50
    by_id = {f.id: f for f in findings}
    # pydantic-ai's recordings set reasoning.effort on some gpt-5 requests but never text.verbosity.
    assert by_id["text_verbosity_unset"].status == "missed"
    assert by_id["chat_completions_used"].status == "ok"
