"""Pure core pieces: SSE codec, clock timers, ids, the default model's policies."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, strategies as st

from mockserver import generator
from mockserver.clock import RealClock, VirtualClock
from mockserver.events import chunk_text
from mockserver.ids import IdFactory
from mockserver.sse import SSEDecoder, encode_event, encode_events


def test_sse_round_trip_any_split() -> None:
    events = [
        {"type": "response.created", "sequence_number": 0, "response": {"id": "resp_1"}},
        {
            "type": "response.output_text.delta",
            "sequence_number": 1,
            "delta": "héllo\nworld",
            "obfuscation": "x",
        },
    ]
    data = encode_events(events)
    assert data.startswith(b"event: response.created\ndata: {")
    for cut in range(len(data)):
        decoder = SSEDecoder()
        messages = decoder.feed(data[:cut]) + decoder.feed(data[cut:]) + decoder.flush()
        assert [m.json() for m in messages] == events
        assert [m.event for m in messages] == [e["type"] for e in events]


@given(st.text(max_size=200))
def test_chunks_rejoin(text: str) -> None:
    assert "".join(chunk_text(text)) == text


def test_sse_crlf_and_comments() -> None:
    decoder = SSEDecoder()
    messages = decoder.feed(b': keepalive\r\nevent: x\r\ndata: {"a":1}\r\n\r\n')
    assert [(m.event, m.json()) for m in messages] == [("x", {"a": 1})]
    assert encode_event({"type": "x"}) == b'event: x\ndata: {"type":"x"}\n\n'


def test_virtual_clock_fires_in_deadline_order() -> None:
    clock = VirtualClock(start=1000.0)
    fired: list[str] = []
    clock.call_later(2, lambda: fired.append("b"))
    clock.call_later(1, lambda: fired.append("a"))
    cancelled = clock.call_later(1.5, lambda: fired.append("never"))
    cancelled.cancel()
    # A callback that schedules a timer already due runs in the same advance.
    clock.call_later(3, lambda: clock.call_later(0, lambda: fired.append("chained")))
    assert clock.advance(0.5) == 0
    assert clock.advance(10) == 4
    assert fired == ["a", "b", "chained"]
    assert clock.now() == 1010.5
    assert clock.pending() == 0


def test_real_clock_offset() -> None:
    clock = RealClock()
    before = clock.now()
    clock.advance(3600)
    assert clock.now() - before >= 3600


def test_ids_seeded_and_shaped() -> None:
    a, b = IdFactory(5, "s"), IdFactory(5, "s")
    shard = a.shard()
    assert shard == b.shard()
    rid = a.object_id("resp", shard, 1_777_325_441)
    assert rid == b.object_id("resp", shard, 1_777_325_441)
    assert len(rid) == 55 and rid[5:21] == shard and rid[21:31] == "0069efd581" and rid[35:39] == "8195"
    assert IdFactory(5, "other").shard() != shard
    call = a.call_id()
    assert call.startswith("call_") and len(call) == 29 and call[5:].isalnum()


def turn(text: str, **overrides: object) -> generator.TurnInput:
    values: dict[str, object] = {
        "context": [{"type": "message", "role": "user", "content": text}],
        "tools": (),
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "effort": None,
        "summary": None,
        "verbosity": "medium",
        "text_format": None,
        "uses_phase": False,
        "seed": 0,
    }
    values.update(overrides)
    return generator.TurnInput(**values)  # type: ignore[arg-type]


def message_text(plan: generator.Plan) -> str:
    return next(i.text for i in plan.items if isinstance(i, generator.MessagePlan))


def test_verbosity_orders_length() -> None:
    lengths = [
        len(message_text(generator.decide(turn("Explain tides", verbosity=v))))
        for v in ("low", "medium", "high")
    ]
    assert lengths == sorted(lengths) and len(set(lengths)) == 3


def test_effort_orders_reasoning_tokens() -> None:
    counts = []
    for effort in ("minimal", "low", "medium", "high", "xhigh", "max"):
        plan = generator.decide(turn("Plan a trip", effort=effort))
        counts.append(next(i.tokens for i in plan.items if isinstance(i, generator.ReasoningPlan)))
    assert counts == sorted(counts) and len(set(counts)) == len(counts)
    assert not any(
        isinstance(i, generator.ReasoningPlan) for i in generator.decide(turn("x", effort="none")).items
    )


def test_deterministic_plans() -> None:
    assert generator.decide(turn("same", effort="high", summary="auto")) == generator.decide(
        turn("same", effort="high", summary="auto")
    )


def test_auto_tool_policy_and_parallel_calls() -> None:
    tools = [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather forecast for a city",
            "parameters": {},
        },
        {"type": "function", "name": "get_time", "description": "Current clock time zone", "parameters": {}},
        {"type": "function", "name": "hidden", "defer_loading": True, "parameters": {}},
    ]
    plan = generator.decide(turn("What's the forecast and the time zone in Rome? hidden", tools=tools))
    assert [i.name for i in plan.items if isinstance(i, generator.CallPlan)] == ["get_weather", "get_time"]
    single = generator.decide(turn("forecast and time zone", tools=tools, parallel_tool_calls=False))
    assert [i.name for i in single.items if isinstance(i, generator.CallPlan)] == ["get_weather"]
    unrelated = generator.decide(turn("Tell me a joke", tools=tools))
    assert not any(isinstance(i, generator.CallPlan) for i in unrelated.items)


@given(
    st.recursive(
        st.sampled_from(
            [
                {"type": "string"},
                {"type": "integer"},
                {"type": "number"},
                {"type": "boolean"},
                {"type": "string", "enum": ["x", "y"]},
                {"type": ["string", "null"]},
            ]
        ),
        lambda children: st.one_of(
            st.builds(lambda item: {"type": "array", "items": item}, children),
            st.dictionaries(
                st.from_regex(r"[a-z]{1,8}", fullmatch=True), children, min_size=1, max_size=4
            ).map(
                lambda props: {
                    "type": "object",
                    "properties": props,
                    "required": sorted(props),
                    "additionalProperties": False,
                }
            ),
        ),
        max_leaves=10,
    )
)
def test_schema_values_validate(schema: dict[str, object]) -> None:
    value = generator.value_for_schema(schema, "Hello Paris", random.Random(0))
    assert _valid(value, schema), json.dumps([schema, value])


def _valid(value: object, schema: dict) -> bool:  # type: ignore[type-arg]
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "enum" in schema and value not in schema["enum"]:
        return False
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
        "array": lambda v: isinstance(v, list) and all(_valid(x, schema["items"]) for x in v),
        "object": lambda v: (
            isinstance(v, dict)
            and set(v) == set(schema["properties"])
            and all(_valid(v[k], s) for k, s in schema["properties"].items())
        ),
    }
    return any(checks[k](value) for k in kinds)  # type: ignore[index]


def test_journal_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from mockserver import engine as engine_module

    monkeypatch.setattr(engine_module, "JOURNAL_LIMIT", 3)
    engine = engine_module.Engine()
    for i in range(5):
        engine.record({"n": i}, "bounded")
    assert [e["n"] for e in engine.session("bounded").journal] == [2, 3, 4]


@given(seed=st.integers(), n=st.integers(1, 60), k=st.integers(0, 70), low=st.integers(-5, 5))
def test_draws_are_in_range_distinct_and_repeatable(seed: int, n: int, k: int, low: int) -> None:
    """The default model's SplitMix64 draws: ``sample`` gives distinct elements of the sequence, ``randint``
    stays in its closed range, and the same seed gives the same draws."""
    items = [f"s{i}" for i in range(n)]
    a, b = generator.Draws(seed), generator.Draws(seed)
    picked = a.sample(items, k)
    assert picked == b.sample(items, k)
    assert len(picked) == min(k, n) and len(set(picked)) == len(picked) and set(picked) <= set(items)
    value = a.randint(low, low + n)
    assert low <= value <= low + n and value == b.randint(low, low + n)
    assert a.choice(items) == b.choice(items) in items


def test_draws_cover_every_outcome_evenly() -> None:
    draws = generator.Draws(7)
    counts = [0] * 6
    for _ in range(6000):
        counts[draws.randint(1, 6) - 1] += 1
    assert min(counts) > 850 and max(counts) < 1150  # ~1000 each; a stuck or biased generator fails
