"""Tests of the real-traffic loader (tests/realtraffic.py) against ../shared/real-traffic."""

from __future__ import annotations

import gzip
import zlib
from collections import Counter
from pathlib import Path

import pytest

from realtraffic import (
    Interaction,
    _text,
    event_grammar,
    field_profile,
    grammar_matches,
    iter_interactions,
    iter_responses,
    parse_sse,
    responses_interactions,
    shared_root,
)

REAL = shared_root() / "real-traffic"
needs_shared = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"{REAL} is absent: real-traffic tests need ../shared (DECISIONS 25)"
)

# (all interactions, /v1/responses family) per source. vercel: 70 fixture files, of which three
# *.chunks.txt concatenate several streams (4 + 4 + 2), each counted as one interaction.
EXPECTED = {
    "crewAIInc__crewAI": (41, 38),
    "pydantic__logfire": (15, 15),
    "pydantic__pydantic-ai": (196, 170),
    "traceloop__openllmetry": (85, 69),
    "vercel__ai": (77, 77),
}
# Fixtures that upstream trimmed to an excerpt, so their sequence numbers have gaps by construction.
TRIMMED = {
    "openai-phase.1.chunks.txt": "vercel kept 17 of ~55 events",
    "openai-error-null-code.1.chunks.txt": "vercel kept only the error event (sequence_number 2)",
}


@pytest.fixture(scope="module")
def interactions() -> list[Interaction]:
    """Every recorded interaction (parsed once per process)."""
    return list(iter_interactions(REAL))


@needs_shared
def test_counts_per_source(interactions: list[Interaction]) -> None:
    rows = Counter((i.source, i.is_responses, i.sse_events is not None) for i in interactions)
    print(f"\n{'source':24} {'all':>5} {'resp':>5} {'sse':>5} {'json':>5}  hosts / years")
    found = {}
    for src in sorted({i.source for i in interactions}):
        mine = [i for i in interactions if i.source == src]
        resp = sum(n for (s, r, _), n in rows.items() if s == src and r)
        sse = sum(n for (s, r, streamed), n in rows.items() if s == src and r and streamed)
        hosts = dict(Counter(i.host for i in mine if i.is_responses))
        years = dict(Counter(i.recorded_year for i in mine if i.is_responses))
        print(f"{src:24} {len(mine):5} {resp:5} {sse:5} {resp - sse:5}  {hosts} {years}")
        found[src] = (len(mine), resp)
    assert found == EXPECTED


@needs_shared
def test_gzip_bodies_are_decoded(interactions: list[Interaction]) -> None:
    gzipped = [p for p in REAL.rglob("*.yaml") if "!!binary" in p.read_text(encoding="utf-8")]
    assert len(gzipped) >= 10
    decoded = [i for i in interactions if i.path in gzipped and i.is_responses]
    assert decoded
    for i in decoded:
        assert i.response_json is not None or i.sse_events, f"{i.path.name}#{i.index} not decoded"
        assert i.response_json is None or i.response_json.get("object") == "response"


def test_text_decodes_gzip_and_deflate() -> None:
    body = b'{"object": "response"}'
    assert _text(gzip.compress(body)) == body.decode()
    assert _text(zlib.compress(body)) == body.decode()
    assert _text({"string": body}) == body.decode()
    assert _text({"object": "response"}) == {"object": "response"}


@needs_shared
def test_formats_are_understood(interactions: list[Interaction]) -> None:
    for i in interactions:
        if i.source == "vercel__ai":
            assert i.request_json is None
            assert i.status is None
        else:  # vcrpy: str bodies, pydantic-ai parsed_body, crewAI placeholders in headers only
            assert i.method in {"GET", "POST", "DELETE"}
            assert i.url.startswith(("/v1/", "/openai/v1/", "/api/v1/"))
        if i.is_responses and i.method == "POST" and i.source != "vercel__ai":
            assert i.request_json is not None, f"{i.path.name}#{i.index}: request body not parsed"
        if i.is_responses and i.status in (200, None):
            assert i.response_json is not None or i.sse_events, f"{i.path.name}#{i.index}: empty body"


@needs_shared
def test_recorded_year_is_derived() -> None:
    created = [i for i in responses_interactions(REAL, openai_only=True) if i.response_objects]
    assert all(i.recorded_year in (2025, 2026) for i in created if "created_at" in i.response_objects[0])
    assert {i.recorded_year for i in created} >= {2025, 2026}


@needs_shared
def test_sse_sequence_numbers_start_at_0_and_step_by_1() -> None:
    checked = 0
    for i in responses_interactions(REAL):
        events = i.sse_events or []
        numbers = [e.get("sequence_number") for e in events]
        if not numbers or None in numbers or i.path.name in TRIMMED:
            continue  # 2025-03 streams have no sequence_number (SPEC §4.1)
        query = dict(p.split("=", 1) for p in i.query.split("&") if p)
        start = int(query.get("starting_after", -1)) + 1  # a resumed stream continues after N
        assert numbers == list(range(start, start + len(numbers))), f"{i.path.name}#{i.index}"
        assert (start == 0) == (numbers[0] == 0 and events[0]["type"] == "response.created")
        checked += 1
    assert checked >= 80


@needs_shared
def test_vercel_chunk_files_parse() -> None:
    files = sorted(REAL.glob("vercel__ai/**/*.chunks.txt"))
    assert len(files) == 32
    streams = [i for i in iter_interactions(REAL) if i.path.name.endswith(".chunks.txt")]
    assert {i.path for i in streams} == set(files)
    for i in streams:
        assert i.sse_events
        assert all(isinstance(e.get("type"), str) for e in i.sse_events)
        if i.path.name not in TRIMMED:
            assert i.sse_events[0]["type"] == "response.created", i.path.name


def test_parse_sse_keeps_order_and_drops_done() -> None:
    text = 'event: a\ndata: {"type": "a"}\n\ndata: {"type":\ndata: "b"}\n\ndata: [DONE]\n\n'
    assert parse_sse(text) == [{"type": "a"}, {"type": "b"}]


def test_event_grammar_collapses_runs() -> None:
    kinds = ["response.created", "response.output_text.delta", "response.output_text.delta", "x.done"]
    assert event_grammar([{"type": k} for k in kinds]) == [
        "response.created",
        "response.output_text.delta+",
        "x.done",
    ]
    assert event_grammar(["response.output_text.delta"]) == ["response.output_text.delta+"]
    assert event_grammar(event_grammar(kinds)) == event_grammar(kinds)
    assert grammar_matches(kinds, ["response.created", "response.output_text.delta", "x.done"])
    assert not grammar_matches(kinds, ["response.created", "x.done"])


@needs_shared
def test_event_grammar_of_a_recorded_text_stream() -> None:
    stream = next(
        i
        for i in responses_interactions(REAL)
        if i.path.name == "test_responses_streaming.yaml" and i.sse_events
    )
    assert event_grammar(stream.sse_events or []) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta+",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]


def test_field_profile_uses_the_latest_year() -> None:
    y2025, y2026 = 1_740_000_000, 1_770_000_000
    objs = (
        [{"created_at": y2025, "old": 1}] * 3
        + [{"created_at": y2026, "new": 1}] * 2
        + [{"created_at": y2026}]
    )
    profile = field_profile(objs)
    assert profile.totals == {2025: 3, 2026: 3}
    assert profile.required() == {"created_at", "new"}
    assert profile.optional() == {"old"}
    assert profile.required(2025) == {"created_at", "old"}


@needs_shared
def test_field_profile_of_openai_recordings() -> None:
    profile = field_profile(iter_responses(responses_interactions(REAL, openai_only=True)))
    required = profile.required()
    # Fields the SDK does not declare but every recent api.openai.com response carries (SPEC §15.11).
    assert {"store", "billing", "frequency_penalty", "presence_penalty", "completed_at"} <= required
    assert {"id", "object", "created_at", "status", "model", "output", "usage", "tools"} <= required
    assert "store" in profile.required(2025)
    assert "billing" not in profile.required(2025)


def test_missing_root_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(iter_interactions(tmp_path / "nowhere"))
