"""A chained turn's prompt is rendered from its parent's rendering (``tokens.render_chain``).

The rendering decides ``usage.input_tokens`` and every prompt-cache figure, so going on from the parent
must give exactly what rendering the whole chain gives. The property below runs random conversations
(tool loops, new user messages after reasoning, branches from older turns, changed instructions, tools or
``reasoning.context``, compaction, long prompts that the prompt cache digests) through two seeded engines,
one that keeps renderings and one that never does, and compares every response byte for byte.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from mockserver import tokens
from mockserver.config import ServerConfig
from mockserver.engine import Engine, Session

from tool_defs import WEATHER

# ~1,300 tokens: past the prompt cache's 1,024-token minimum, so its prefix digests run too.
LONG = " ".join(
    f"Paragraph {i}: the quick brown fox jumps over the lazy dog near the river bank." for i in range(80)
)

_setting = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["gpt-4.1-mini", "gpt-5.5", "gpt-5.6-sol"]),
        "tools": st.booleans(),
        "instructions": st.sampled_from([None, "Be brief."]),
        "context": st.sampled_from([None, "all_turns", "current_turn"]),
    }
)
_turn = st.fixed_dictionaries(
    {
        "text": st.sampled_from(["hi", "What is the weather in Oslo?", LONG]),
        "force_call": st.booleans(),
        "parent": st.sampled_from([0, 0, 0, 0, 1, 2, 99]),  # mostly the tip; 99: a new conversation
        "store": st.sampled_from([True, True, True, False]),
        "compact": st.sampled_from([False, False, False, False, True]),
        "blobs": st.booleans(),  # encrypted reasoning: its sealed state holds the context's fingerprint
        # Mostly the conversation's setting; now and then one turn changes a part of it.
        "change": st.sampled_from(
            [None, None, None, None, None, "instructions", "tools", "context", "model"]
        ),
    }
)


def _body(setting: dict[str, Any], turn: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    change = turn["change"]
    model = "gpt-5.5" if change == "model" and setting["model"] != "gpt-5.5" else setting["model"]
    body: dict[str, Any] = {"model": model, "store": turn["store"]}
    calls = [i for i in (previous or {}).get("output", ()) if i.get("type") == "function_call"]
    if calls:  # answer the parent's calls: a tool loop, no new user message
        body["input"] = [
            {"type": "function_call_output", "call_id": c["call_id"], "output": "Rain, 12 C."} for c in calls
        ]
    else:
        body["input"] = turn["text"]
    if previous is not None:
        body["previous_response_id"] = previous["id"]
    if setting["tools"] != (change == "tools"):
        body["tools"] = [WEATHER]
        if turn["force_call"] and not calls:
            body["tool_choice"] = "required"
    instructions = "Answer in French." if change == "instructions" else setting["instructions"]
    if instructions is not None:
        body["instructions"] = instructions
    if model != "gpt-4.1-mini":
        reasoning: dict[str, Any] = {"effort": "low"}
        context = (
            "all_turns" if change == "context" and setting["context"] != "all_turns" else setting["context"]
        )
        if context is not None:
            reasoning["context"] = context
        body["reasoning"] = reasoning
        if turn["blobs"]:
            body["include"] = ["reasoning.encrypted_content"]
    if turn["compact"]:
        body["context_management"] = [{"type": "compaction", "compact_threshold": 1000}]
    return body


def _converse(engine: Engine, setting: dict[str, Any], turns: list[dict[str, Any]]) -> list[bytes]:
    """Run ``turns``; each continues one of the stored responses so far (0: the latest), or starts anew."""
    made: list[dict[str, Any]] = []
    out: list[bytes] = []
    for turn in turns:
        chainable = [r for r in made if r["store"]]
        previous = chainable[-1 - turn["parent"]] if turn["parent"] < len(chainable) else None
        try:
            response = engine.create(_body(setting, turn, previous)).response
        except Exception as exc:  # an API error must be the same error on both engines
            out.append(repr(exc).encode())
            continue
        made.append(response)
        out.append(orjson.dumps(response))
    return out


def _engines(monkeypatch: pytest.MonkeyPatch) -> tuple[Engine, Engine]:
    keeping = Engine(ServerConfig(port=0, clock="virtual", seed=7))
    forgetting = Engine(ServerConfig(port=0, clock="virtual", seed=7))
    state = forgetting.session()
    # This engine's session never keeps a rendering, so every turn renders its whole chain.
    monkeypatch.setattr(state, "remember_rendering", lambda response_id, progress: None)
    return keeping, forgetting


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(setting=_setting, turns=st.lists(_turn, min_size=2, max_size=10))
# Pinned: a reasoning model's long prompt, then a new question. The new items start with the earlier
# reasoning, which renders nothing and relabels the parent's last prompt-cache mark.
@example(
    setting={"model": "gpt-5.5", "tools": False, "instructions": None, "context": None},
    turns=[
        {
            "text": t,
            "force_call": False,
            "parent": 0,
            "store": True,
            "compact": False,
            "blobs": False,
            "change": None,
        }
        for t in ("hi", LONG, "hi")
    ],
)
def test_continuing_a_rendering_gives_what_rendering_the_whole_chain_gives(
    setting: dict[str, Any], turns: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        keeping, forgetting = _engines(patch)
        assert _converse(keeping, setting, turns) == _converse(forgetting, setting, turns)


def test_a_tool_loop_continues_and_a_long_chain_reuses_the_parents_digest() -> None:
    """The scenario the cache exists for, checked from the inside: every turn after the first continues."""
    engine = Engine(ServerConfig(port=0, clock="virtual", seed=7))
    session: Session = engine.session()
    previous = engine.create({"model": "gpt-4.1-mini", "input": LONG}).response
    for i in range(5):
        base = session.renders[previous["id"]]
        response = engine.create(
            {"model": "gpt-4.1-mini", "input": f"And {i}?", "previous_response_id": previous["id"]}
        ).response
        progress = session.renders[response["id"]]
        assert progress.counted[: len(base.counted)] == base.counted
        assert "prefix" in progress.followers and "prefix" not in progress.inherited  # went on, let go
        full = tokens.count_input(
            instructions=None,
            tools=(),
            items=progress.items,
            encoding="o200k_base",
            style="chatml",
        )
        assert response["usage"]["input_tokens"] == full
        previous = response


def test_render_chain_starts_over_when_the_continuation_does_not_extend_its_base() -> None:
    user = {"type": "message", "role": "user", "content": "hi"}
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thinking"}]}
    answer = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}
    again = {"type": "message", "role": "user", "content": "and?"}
    base_items = [user, reasoning, answer]
    _, base = tokens.render_chain(instructions=None, tools=(), items=base_items)
    assert base.rendered_reasoning  # the reasoning after the last user message is rendered...
    cases = {
        "new user message": [*base_items, again],  # ...and a new user message turns it off
        "changed item": [user, reasoning, {**answer, "content": "changed"}, again],
        "compaction": [*base_items, {"type": "compaction", "id": "cmp_1", "encrypted_content": "x"}],
    }
    for name, items in cases.items():
        rendering, progress = tokens.render_chain(instructions=None, tools=(), items=items, base=base)
        assert rendering == tokens.render_pieces(instructions=None, tools=(), items=items), name
        assert progress.tokens + rendering[0][-1][1] == tokens.count_input(
            instructions=None, tools=(), items=items
        )
    # Other instructions: a different developer block, so nothing carries over either.
    rendering, _ = tokens.render_chain(
        instructions="Be brief.", tools=(), items=[*base_items, answer], base=base
    )
    assert rendering == tokens.render_pieces(instructions="Be brief.", tools=(), items=[*base_items, answer])


def test_renderings_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from mockserver import engine as engine_module

    monkeypatch.setattr(engine_module, "RENDERS_KEPT", 3)
    engine = Engine(ServerConfig(port=0, clock="virtual", seed=7))
    ids = [engine.create({"model": "gpt-4.1-mini", "input": f"q{i}"}).response["id"] for i in range(5)]
    assert list(engine.session().renders) == ids[-3:]
    # A continuation of an evicted turn renders its whole chain and answers the same.
    chained = engine.create({"model": "gpt-4.1-mini", "input": "more", "previous_response_id": ids[0]})
    assert chained.response["usage"]["input_tokens"] > 0
