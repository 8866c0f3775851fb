"""Exact token counts (DECISIONS 16): the tokenizer cross-checked against two other implementations, the
canonical rendering's rules, and the calibration error on the real traffic."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from mockserver import tokens
from mockserver.tokens import count_input, count_text, decode, encode, render_canonical

REPO = Path(__file__).resolve().parents[1]

# tiktoken's published sha256 of the official rank files (tiktoken_ext/openai_public.py).
OFFICIAL_SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}
# tiktoken's split patterns (tiktoken_ext/openai_public.py), for the pure-Python reference below.
PATTERNS = {
    "cl100k_base": r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"""
    r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""",
    "o200k_base": "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ),
}


def _load_tool() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("calibrate_tokens", REPO / "tools" / "calibrate_tokens.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("calibrate_tokens", module)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()
TRAFFIC = tool.shared_root() / "real-traffic"
needs_shared = pytest.mark.skipif(
    not TRAFFIC.is_dir(), reason=f"real traffic not found at {TRAFFIC} (set RESPLAY_SHARED; DECISIONS 25)"
)


# --- a second, independent BPE: pure Python over the same ranks --------------------------------------------


class ReferenceBPE:
    """Textbook byte-pair encoding (tiktoken's ``_educational`` algorithm): split with the encoding's
    pattern, then merge the lowest-ranked adjacent pair until none is in the table."""

    def __init__(self, encoding: str) -> None:
        regex = pytest.importorskip("regex")
        self.ranks: dict[bytes, int] = tool.rank_table(encoding)
        self.pattern = regex.compile(PATTERNS[encoding])

    def _merge(self, piece: bytes) -> list[int]:
        if piece in self.ranks:
            return [self.ranks[piece]]
        parts = [piece[i : i + 1] for i in range(len(piece))]
        while len(parts) > 1:
            best: tuple[int, int] | None = None
            for i in range(len(parts) - 1):
                rank = self.ranks.get(parts[i] + parts[i + 1])
                if rank is not None and (best is None or rank < best[0]):
                    best = (rank, i)
            if best is None:
                break
            i = best[1]
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        return [self.ranks[p] for p in parts]

    def encode(self, text: str) -> list[int]:
        return [t for m in self.pattern.findall(text) for t in self._merge(m.encode("utf-8"))]


@pytest.fixture(scope="module", params=["o200k_base", "cl100k_base"])
def reference(request: pytest.FixtureRequest) -> tuple[str, ReferenceBPE]:
    return request.param, ReferenceBPE(request.param)


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_rank_table_is_the_official_one(encoding: str) -> None:
    """quicktok's ranks, written in the .tiktoken format, hash to tiktoken's published sha256."""
    assert tool.rank_table_sha256(encoding) == OFFICIAL_SHA256[encoding]
    ranks = tool.rank_table(encoding)
    assert len(ranks) == {"o200k_base": 199_998, "cl100k_base": 100_256}[encoding]
    data = b"".join(base64.b64encode(t) + b" " + str(r).encode() + b"\n" for t, r in list(ranks.items())[:3])
    assert hashlib.sha256(data).hexdigest()  # the format helper itself is exercised


@pytest.mark.parametrize(
    ("encoding", "text", "ids"),
    [
        ("o200k_base", "hello world", [24912, 2375]),
        ("cl100k_base", "hello world", [15339, 1917]),
        ("o200k_base", "", []),
    ],
)
def test_known_ids(encoding: str, text: str, ids: list[int]) -> None:
    assert encode(text, encoding) == ids
    assert count_text(text, encoding) == len(ids)
    if text:
        assert ReferenceBPE(encoding).encode(text) == ids


def test_matches_reference_bpe_on_stress_and_fuzz(reference: tuple[str, ReferenceBPE]) -> None:
    encoding, ref = reference
    corpus = [t for t in (*tool.STRESS_TEXTS, *tool.fuzz_texts(300, seed=7)) if len(t) <= 1500]
    assert len(corpus) > 300
    for text in corpus:
        assert encode(text, encoding) == ref.encode(text), repr(text[:60])


@needs_shared
def test_matches_reference_bpe_on_real_traffic_sample(reference: tuple[str, ReferenceBPE]) -> None:
    encoding, ref = reference
    corpus = [t for t in tool.traffic_corpus(TRAFFIC) if len(t) <= 1500]
    sample = corpus[:: max(1, len(corpus) // 400)]
    assert len(sample) >= 300
    for text in sample:
        assert encode(text, encoding) == ref.encode(text), repr(text[:60])


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_matches_tiktoken_built_offline_from_the_same_ranks(encoding: str) -> None:
    pytest.importorskip("tiktoken")
    ref = tool.reference_encoding(encoding)
    corpus = [*tool.STRESS_TEXTS, *tool.fuzz_texts(1000, seed=99)]
    if TRAFFIC.is_dir():
        corpus += tool.traffic_corpus(TRAFFIC)
    for text in corpus:
        assert encode(text, encoding) == ref.encode_ordinary(text), repr(text[:60])


# --- the tokenizer API -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [*tool.STRESS_TEXTS, *tool.fuzz_texts(200, seed=3)])
def test_decode_encode_round_trip(text: str) -> None:
    for encoding in tokens.ENCODINGS:
        assert decode(encode(text, encoding), encoding) == text


def test_no_unicode_normalization() -> None:
    assert encode("e\u0301") != encode("\u00e9")  # NFD and NFC differ, as in tiktoken


def test_special_token_strings_are_plain_text() -> None:
    ids = encode("<|endoftext|>")
    assert 199_999 not in ids and len(ids) > 1


def test_lone_surrogates_become_replacement_characters() -> None:
    assert encode("a\ud800b") == encode("a\ufffdb")
    assert count_text("x\udfff" * 10) == count_text("x\ufffd" * 10)


def test_decode_of_a_split_character_replaces() -> None:
    ids = encode("\U0001f600")
    assert len(ids) >= 1
    assert decode(ids[:1] if len(ids) > 1 else ids) in ("\U0001f600", "\ufffd")


def test_unknown_encoding() -> None:
    with pytest.raises(ValueError, match="unknown encoding"):
        count_text("x", "p50k_base")


def test_counting_is_deterministic_and_memoized() -> None:
    text = "A tool description that repeats on every request. " * 20
    first = count_text(text)
    tokens._memo.clear()
    assert count_text(text) == first == len(encode(text))
    assert tokens._memo.get(("o200k_base", text)) == first
    assert count_text(text) == first


def test_memo_is_bounded() -> None:
    memo = tokens._CountMemo(budget=100)
    for i in range(50):
        memo.put(("o200k_base", f"{i:040d}"), i)
    assert memo._size <= 100
    assert memo.get(("o200k_base", f"{49:040d}")) == 49
    assert memo.get(("o200k_base", f"{0:040d}")) is None


def test_wrong_quicktok_package_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    fake = types.ModuleType("quicktok")
    fake.__version__ = "9.9.9"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "quicktok", fake)
    with pytest.raises(tokens.TokenizerUnavailable, match="not the 'quicktok-v1'"):
        tokens._check_backend()

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    with pytest.raises(tokens.TokenizerUnavailable, match="pip install"):
        tokens._check_backend()


def test_shadowed_quicktok_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import quicktok

    monkeypatch.setattr(quicktok, "__version__", "0.0.1")
    with pytest.raises(tokens.TokenizerUnavailable, match="shadows"):
        tokens._check_backend()


# --- the canonical rendering -------------------------------------------------------------------------------


def _user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": text}


WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "City name"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


@pytest.mark.parametrize(
    ("style", "expected"),
    [("harmony", 4 + 2), ("chatml", 4 + 3)],  # per message + reply priming, measured exactly
)
def test_plain_message_overheads(style: str, expected: int) -> None:
    text = "What is the capital of France?"
    n = count_input(instructions=None, tools=[], items=[_user(text)], style=style)
    assert n == count_text(text) + expected
    with_instructions = count_input(instructions="Be brief.", tools=[], items=[_user(text)], style=style)
    assert with_instructions == n + count_text("Be brief.") + 4


def test_recorded_examples_exactly() -> None:
    # gpt-4o, 2025-09: "What is the capital of France?" -> 14; gpt-5: "Say hello" -> 8.
    assert (
        count_input(
            instructions=None, tools=[], items=[_user("What is the capital of France?")], style="chatml"
        )
        == 14
    )
    assert count_input(instructions=None, tools=[], items=[_user("Say hello")], style="harmony") == 8


def test_string_and_part_list_content_cost_the_same() -> None:
    as_string = count_input(instructions=None, tools=[], items=[_user("hello there")])
    as_parts = count_input(
        instructions=None,
        tools=[],
        items=[{"role": "user", "content": [{"type": "input_text", "text": "hello there"}]}],
    )
    assert as_string == as_parts


def test_deferred_tools_cost_nothing() -> None:
    items = [_user("hi")]
    base = count_input(instructions=None, tools=[], items=items)
    deferred = {**WEATHER, "defer_loading": True}
    assert count_input(instructions=None, tools=[deferred], items=items) == base
    namespace = {"type": "namespace", "name": "weather", "description": "d", "tools": [deferred]}
    assert count_input(instructions=None, tools=[namespace], items=items) == base
    assert count_input(instructions=None, tools=[WEATHER], items=items) > base


def test_tool_search_output_loads_deferred_tools() -> None:
    deferred = {**WEATHER, "defer_loading": True}
    search = {"type": "tool_search"}
    call = {"type": "tool_search_call", "arguments": {"queries": ["weather"]}, "execution": "server"}
    output = {"type": "tool_search_output", "tools": [deferred], "execution": "server"}
    before = count_input(instructions=None, tools=[search, deferred], items=[_user("hi"), call])
    after = count_input(instructions=None, tools=[search, deferred], items=[_user("hi"), call, output])
    assert after - before >= count_text(tokens.render_tool(WEATHER))


def test_builtin_tools_cost_their_constant() -> None:
    items = [_user("hi")]
    with_search = count_input(instructions=None, tools=[{"type": "web_search"}], items=items)
    with_files = count_input(instructions=None, tools=[{"type": "file_search"}], items=items)
    assert (
        with_search - with_files
        == tokens.BUILTIN_TOOL_TOKENS["web_search"] - tokens.BUILTIN_TOOL_TOKENS["file_search"]
    )


def test_function_tools_render_as_typescript() -> None:
    text = tokens.render_tool(WEATHER)
    assert text == (
        "// Get the weather for a city.\ntype get_weather = (_: {\n// City name\ncity: string,\n}) => any;\n"
    )
    no_params = tokens.render_tool({"type": "function", "name": "ping", "parameters": {"type": "object"}})
    assert no_params == "type ping = () => any;\n"


def test_json_schema_refs_enums_and_unions() -> None:
    schema = {
        "type": "object",
        "$defs": {"Unit": {"enum": ["c", "f"]}},
        "properties": {
            "unit": {"$ref": "#/$defs/Unit"},
            "days": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["unit"],
    }
    text = tokens.render_tool({"type": "function", "name": "f", "parameters": schema})
    assert 'unit: "c" | "f",' in text
    assert "days?: number | null, // default: null" in text
    assert "tags?: string[]," in text


def test_function_call_round_trip_counts_name_arguments_and_output() -> None:
    call = {
        "type": "function_call",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }
    out = {"type": "function_call_output", "call_id": "call_1", "output": "sunny, 21C"}
    base = count_input(instructions=None, tools=[WEATHER], items=[_user("Weather in Paris?")])
    full = count_input(instructions=None, tools=[WEATHER], items=[_user("Weather in Paris?"), call, out])
    costs = tokens.OVERHEADS["harmony"]
    expected = (
        costs["function_call"]
        + count_text("get_weather")
        + count_text('{"city":"Paris"}')
        + costs["function_call_output"]
        + count_text("get_weather")
        + count_text("sunny, 21C")
    )
    assert full - base == expected


def test_text_format_json_schema_counts_the_core_schema() -> None:
    fmt = {
        "type": "json_schema",
        "name": "Person",
        "schema": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
            "additionalProperties": False,
        },
        "strict": True,
    }
    base = count_input(instructions=None, tools=[], items=[_user("x")], style="chatml")
    with_format = count_input(
        instructions=None, tools=[], items=[_user("x")], style="chatml", text_format=fmt
    )
    core = 'Person\n{"type":"object","properties":{"name":{"type":"string"}}}'
    assert with_format - base == tokens.OVERHEADS["chatml"]["developer"] + tokens.OVERHEADS["chatml"][
        "format"
    ] + count_text(core)


def test_earlier_reasoning_is_not_billed_current_reasoning_is() -> None:
    reasoning = {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Thinking about it. " * 20}],
    }
    answer = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Done."}]}
    history = [_user("first"), reasoning, answer, _user("second")]
    without = [_user("first"), answer, _user("second")]
    # current_turn: reasoning before the last user message is dropped (measured on gpt-5)
    assert count_input(instructions=None, tools=[], items=history) == count_input(
        instructions=None, tools=[], items=without
    )
    # all_turns renders it
    assert count_input(
        instructions=None, tools=[], items=history, reasoning_context="all_turns"
    ) > count_input(instructions=None, tools=[], items=without)
    # in the current turn the hidden reasoning tokens (the engine's _tokens hint) are billed
    call = {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}
    hinted = {**reasoning, "_tokens": 1792}
    a = count_input(instructions=None, tools=[], items=[_user("q"), hinted, call])
    b = count_input(instructions=None, tools=[], items=[_user("q"), call])
    assert a - b == 1792 + tokens.OVERHEADS["harmony"]["reasoning"]


def test_compaction_replaces_earlier_items() -> None:
    long_history = [
        _user("tell me a story " * 200),
        {"role": "assistant", "content": "once upon a time " * 200},
    ]
    compaction = {"type": "compaction", "encrypted_content": "gAAAA" + "x" * 995, "_tokens": 540}
    items = [*long_history, compaction, _user("What is 2+2?")]
    n = count_input(instructions=None, tools=[], items=items, style="chatml")
    assert n == 540 + count_input(instructions=None, tools=[], items=[_user("What is 2+2?")], style="chatml")
    # without a hint the blob length stands in for it
    unhinted = {"type": "compaction", "encrypted_content": "x" * 4772}
    m = count_input(instructions=None, tools=[], items=[unhinted], style="chatml")
    assert m == round(4772 * tokens.COMPACTION_TOKENS_PER_CHAR) + tokens.OVERHEADS["chatml"]["priming"]


def test_images_and_files_cost_documented_constants() -> None:
    def image(detail: str) -> dict[str, Any]:
        return {
            "role": "user",
            "content": [{"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": detail}],
        }

    low = count_input(instructions=None, tools=[], items=[image("low")])
    high = count_input(instructions=None, tools=[], items=[image("high")])
    assert high - low == tokens.IMAGE_TOKENS["high"] - tokens.IMAGE_TOKENS["low"]
    file_item = {"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}
    empty = {"role": "user", "content": []}
    assert (
        count_input(instructions=None, tools=[], items=[file_item])
        - count_input(instructions=None, tools=[], items=[empty])
        == tokens.FILE_TOKENS
    )


def test_extra_tokens_and_determinism() -> None:
    items = [
        _user("hi"),
        {"type": "item_reference", "id": "msg_1"},
        {"type": "web_search_call", "action": {}},
    ]
    a = count_input(instructions="x", tools=[WEATHER, {"type": "web_search"}], items=items)
    b = count_input(instructions="x", tools=[WEATHER, {"type": "web_search"}], items=items)
    assert a == b
    assert (
        count_input(instructions="x", tools=[WEATHER], items=items, extra_tokens=1531)
        == count_input(instructions="x", tools=[WEATHER], items=items) + 1531
    )


def test_render_canonical_shows_every_piece() -> None:
    text = render_canonical(instructions="Be brief.", tools=[WEATHER], items=[_user("Weather in Paris?")])
    assert "Be brief." in text and "type get_weather" in text and "Weather in Paris?" in text
    assert text.startswith("<|developer|>") and text.endswith("<|priming|>")


def test_input_breakdown_adds_up() -> None:
    kwargs: dict[str, Any] = {"instructions": "Be brief.", "tools": [WEATHER], "items": [_user("Weather?")]}
    text_tokens, markers = tokens.input_breakdown(**kwargs)
    costs = tokens.OVERHEADS["harmony"]
    fixed = sum(n * tokens._piece_cost(k, costs) for k, n in markers.items())
    assert text_tokens + fixed == count_input(**kwargs)


def test_unknown_style() -> None:
    with pytest.raises(ValueError, match="token style"):
        count_input(instructions=None, tools=[], items=[], style="llama")


# --- calibration on the real traffic -----------------------------------------------------------------------


@needs_shared
def test_calibration_error_on_recorded_requests() -> None:
    """Measured with tools/calibrate_tokens.py (docs/tokens.md): 141 recordings, median 0.00%, mean 1.74%,
    114 within ±3%. The bounds leave a little room for data additions, none for a regression."""
    _, summary = tool.evaluate(TRAFFIC)
    assert summary.included >= 130
    assert summary.median_abs_pct <= 1.0
    assert summary.mean_abs_pct <= 3.0
    assert summary.within_3pct >= 0.75 * summary.included
    # plain chats (no tools, no items beyond messages) are exact
    assert summary.max_abs_pct < 25.0


def test_loaded_namespace_renders_its_deferred_functions() -> None:
    deferred = {**WEATHER, "defer_loading": True}
    namespace = {"type": "namespace", "name": "weather", "description": "d", "tools": [deferred]}
    assert tokens.render_tool(namespace) == ""
    assert "type get_weather" in tokens.render_tool(namespace, include_deferred=True)
    output = {"type": "tool_search_output", "tools": [namespace], "execution": "server"}
    with_output = count_input(instructions=None, tools=[namespace], items=[_user("hi"), output])
    assert with_output > count_input(instructions=None, tools=[namespace], items=[_user("hi")])


def test_preload() -> None:
    tokens.preload()
    assert set(tokens.ENCODINGS) <= set(tokens._encoders)
