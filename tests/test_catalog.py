"""The model catalogue (DECISIONS 8; SPEC §8, §11, §13, §6.7)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from mockserver import catalog
from mockserver.catalog import (
    CACHE_RULES,
    DEFAULT_CATALOG,
    EFFORTS,
    Catalog,
    ModelInfo,
    effort_not_supported,
    extract_sdk_models,
    model_not_found,
    parameter_not_supported,
)

from sdk_versions import pinned_sdk_only


def _sdk_root() -> Path:
    spec = importlib.util.find_spec("openai")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent


def _info(name: str) -> ModelInfo:
    info = DEFAULT_CATALOG.lookup(name)
    assert info is not None, name
    return info


# --- names ------------------------------------------------------------------------------------------------


@pinned_sdk_only  # the catalogue is the SDK 3.51.0 model list (DECISIONS 8)
def test_every_sdk_model_literal_resolves() -> None:
    names = extract_sdk_models(_sdk_root())
    assert len(names) > 100
    assert "gpt-5.5" in names and "gpt-6-astra" in names and "o3-deep-research" in names
    unresolved = [n for n in names if DEFAULT_CATALOG.lookup(n) is None]
    assert unresolved == []


@pinned_sdk_only
def test_data_file_matches_the_installed_sdk() -> None:
    """The checked-in list is the SDK's (re-run ``python -m mockserver.catalog --refresh-sdk`` on upgrade)."""
    import openai

    data = json.loads(catalog.DATA_FILE.read_text(encoding="utf-8"))
    assert data["sdk_version"] == openai.__version__ == "3.51.0"
    assert data["sdk_models"] == extract_sdk_models(_sdk_root())


@pytest.mark.parametrize("name", ["gpt-5.3-codex", "gpt-5.4-2026-03-05", "gpt-5.2-chat", "gpt-5.6"])
def test_models_seen_in_real_traffic_resolve(name: str) -> None:
    assert DEFAULT_CATALOG.lookup(name) is not None


def test_dated_snapshot_resolves_to_its_model() -> None:
    snap = _info("gpt-5.5-2026-01-01")
    base = _info("gpt-5.5")
    assert snap.name == "gpt-5.5-2026-01-01"
    assert snap.family == base.family == "gpt-5.5"
    assert (snap.efforts, snap.default_effort, snap.context_window) == (
        base.efforts,
        base.default_effort,
        base.context_window,
    )
    assert snap.response_model == "gpt-5.5-2026-01-01"  # a snapshot echoes itself


@pytest.mark.parametrize(
    "name",
    [
        "gpt-5.2-proo",  # observed: model_not_found
        "gpt-5.5-2026-13-01",  # not a date
        "gpt-5.5-2026-02-30",
        "gpt-5.5-2026-04-23-2026-05-01",  # a snapshot of a snapshot
        "gpt-5.5-20260101",
        "GPT-5.5",
        "gpt-5.5 ",
        "",
        "claude-sonnet-4-6",
        "openai/gpt-oss-20b",
        "gpt-7",
    ],
)
def test_unknown_names(name: str) -> None:
    assert DEFAULT_CATALOG.lookup(name) is None


def test_lookup_of_non_string_is_none() -> None:
    assert DEFAULT_CATALOG.lookup(None) is None  # type: ignore[arg-type]


def test_model_not_found_error_is_the_observed_one() -> None:
    err = model_not_found("gpt-5.2-proo")
    assert err.status == 400
    assert err.envelope() == {
        "error": {
            "message": "The requested model 'gpt-5.2-proo' does not exist.",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }
    with pytest.raises(type(err)) as exc:
        DEFAULT_CATALOG.require("gpt-5.2-proo")
    assert exc.value.code == "model_not_found"


def test_extra_models_behave_like_gpt_5_5() -> None:
    cat = Catalog(["my-finetune", "gpt-4o"])
    custom = cat.lookup("my-finetune")
    assert custom is not None
    assert custom.family == "custom"
    ref = _info("gpt-5.5")
    assert (custom.efforts, custom.default_effort, custom.cache_rule, custom.encoding) == (
        ref.efforts,
        ref.default_effort,
        ref.cache_rule,
        ref.encoding,
    )
    assert cat.lookup("my-finetune-2026-01-01") is not None
    assert cat.lookup("gpt-4o") == DEFAULT_CATALOG.lookup("gpt-4o")  # known names keep their capabilities
    assert "my-finetune" in cat.names() and "my-finetune" not in DEFAULT_CATALOG.names()
    assert DEFAULT_CATALOG.lookup("my-finetune") is None


@pinned_sdk_only
def test_names_sorted_and_complete() -> None:
    names = DEFAULT_CATALOG.names()
    assert names == sorted(names)
    assert set(extract_sdk_models(_sdk_root())) <= set(names)
    assert "gpt-5.2-proo" not in names


def test_lookup_is_cached() -> None:
    assert DEFAULT_CATALOG.lookup("gpt-5.5-2026-01-01") is DEFAULT_CATALOG.lookup("gpt-5.5-2026-01-01")


# --- capabilities ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "efforts", "default"),
    [
        # SPEC §8
        ("gpt-5.5", ("none", "low", "medium", "high", "xhigh"), "medium"),
        ("gpt-5.1", ("none", "low", "medium", "high"), "none"),
        ("gpt-5.6-sol", ("none", "low", "medium", "high", "xhigh", "max"), "medium"),
        ("gpt-5.6", ("none", "low", "medium", "high", "xhigh", "max"), "medium"),
        ("o3", ("low", "medium", "high"), "medium"),
        ("o4-mini", ("low", "medium", "high"), "medium"),
        # SDK ReasoningEffort docstring: pre-5.1 default medium, no none; gpt-5-pro high only
        ("gpt-5", ("minimal", "low", "medium", "high"), "medium"),
        ("gpt-5-pro", ("high",), "high"),
        # observed defaults in real traffic
        ("gpt-5.2", ("none", "low", "medium", "high", "xhigh"), "none"),
        ("gpt-5.4", ("none", "low", "medium", "high", "xhigh"), "none"),
        ("gpt-5.2-chat", ("medium",), "medium"),
    ],
)
def test_efforts(name: str, efforts: tuple[str, ...], default: str) -> None:
    info = _info(name)
    assert info.reasoning
    assert info.efforts == efforts
    assert info.default_effort == default


def test_minimal_is_rejected_on_gpt_5_5_and_gpt_5_1() -> None:
    assert "minimal" not in _info("gpt-5.5").efforts  # SPEC §8 recommendation
    err = effort_not_supported(_info("gpt-5.1"), "minimal")
    assert err.error_object() == {
        "message": "Unsupported value: 'minimal' is not supported with the 'gpt-5.1' model. "
        "Supported values are: 'none', 'low', 'medium', and 'high'.",
        "type": "invalid_request_error",
        "param": "reasoning.effort",
        "code": "unsupported_value",
    }


@pytest.mark.parametrize("name", ["gpt-4o", "gpt-4.1", "gpt-4o-mini", "gpt-4", "gpt-3.5-turbo"])
def test_non_reasoning_models_reject_effort_and_accept_temperature(name: str) -> None:
    info = _info(name)
    assert not info.reasoning and info.efforts == () and info.default_effort is None
    assert info.reasoning_context is None
    assert info.temperature and info.accepts_sampling(None)
    err = effort_not_supported(info, "low")
    assert err.message == "Unsupported parameter: 'reasoning.effort' is not supported with this model."
    assert err.param == "reasoning.effort"


def test_temperature_error_is_the_observed_one() -> None:
    # vercel fixture reasoning-model-temperature-error.json: code null.
    assert parameter_not_supported("temperature").error_object() == {
        "message": "Unsupported parameter: 'temperature' is not supported with this model.",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": None,
    }


def test_sampling_params_on_reasoning_models() -> None:
    assert not _info("o3").accepts_sampling(None)
    assert not _info("gpt-5").accepts_sampling("minimal")
    assert not _info("gpt-5.5").accepts_sampling(None)  # default medium
    assert _info("gpt-5.5").accepts_sampling("none")
    assert _info("gpt-5.6-sol").accepts_sampling("none")  # observed: temperature 0.5 with effort none
    assert _info("gpt-5.2").accepts_sampling(None)  # default none


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("gpt-4o", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("o1", "o200k_base"),
        ("gpt-5.5", "o200k_base"),
        ("gpt-6-astra", "o200k_base"),
    ],
)
def test_encodings(name: str, encoding: str) -> None:
    assert _info(name).encoding == encoding


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("gpt-6-astra", "gpt56plus"),
        ("gpt-5.6-terra", "gpt56plus"),
        ("gpt-5.5", "gpt55"),
        ("gpt-5.5-pro", "gpt55"),
        ("gpt-5.4", "legacy"),
        ("gpt-4o", "legacy"),
        ("o3", "legacy"),
    ],
)
def test_cache_rules(name: str, rule: str) -> None:
    assert _info(name).cache_rule == rule  # SPEC §13, DECISIONS 17


def test_tool_search_from_gpt_5_4_and_steering_only_on_gpt_6() -> None:
    for name in DEFAULT_CATALOG.names():
        info = _info(name)
        assert info.cache_rule in CACHE_RULES
        assert all(e in EFFORTS for e in info.efforts)
        assert info.steering == info.family.startswith("gpt-6"), name  # SPEC §6.7
    assert _info("gpt-5.4").tool_search and _info("gpt-5.4-mini").tool_search  # SPEC §11
    assert _info("gpt-5.5").tool_search and _info("gpt-6-luna").tool_search
    assert not _info("gpt-5.3-codex").tool_search and not _info("gpt-5.2").tool_search
    assert not _info("gpt-4.1").tool_search
    assert _info("gpt-6.1-sol").steering and not _info("gpt-5.6-sol").steering


def test_context_windows_and_output_limits() -> None:
    assert (_info("gpt-5.6-sol").context_window, _info("gpt-5.6-sol").max_output_tokens) == (
        1_050_000,
        128_000,
    )
    assert _info("gpt-4o").context_window == 128_000
    assert _info("gpt-4").context_window == 8_192
    assert _info("gpt-4.1").context_window == 1_047_576
    for name in DEFAULT_CATALOG.names():
        info = _info(name)
        assert 0 < info.max_output_tokens <= info.context_window, name


def test_response_model_echo() -> None:
    # observed in real traffic
    assert _info("gpt-4o").response_model == "gpt-4o-2024-08-06"
    assert _info("gpt-5").response_model == "gpt-5-2025-08-07"
    assert _info("gpt-5.4").response_model == "gpt-5.4-2026-03-05"
    assert _info("gpt-5.5").response_model == "gpt-5.5-2026-04-23"
    assert _info("gpt-5.6").response_model == "gpt-5.6-sol"
    assert _info("gpt-5.6-sol").response_model == "gpt-5.6-sol"
    assert _info("o4-mini").response_model == "o4-mini-2025-04-16"


def test_reasoning_context_defaults() -> None:
    assert _info("gpt-5.6-sol").reasoning_context == "all_turns"  # SPEC §8
    assert _info("gpt-6-astra").reasoning_context == "all_turns"
    assert _info("gpt-5.5").reasoning_context == "current_turn"
    assert _info("o3").reasoning_context == "current_turn"


def test_token_styles() -> None:
    assert _info("gpt-4o").token_style == "chatml"
    assert _info("gpt-4.1-mini").token_style == "chatml"
    assert _info("o3-mini").token_style == "harmony"
    assert _info("gpt-5.5").token_style == "harmony"


def test_runtime_does_not_import_openai() -> None:
    source = Path(catalog.__file__).read_text(encoding="utf-8")
    assert "import openai" not in source and "from openai" not in source


def test_bad_data_is_rejected() -> None:
    data = json.loads(catalog.DATA_FILE.read_text(encoding="utf-8"))
    data["families"]["gpt-5.5"] = {**data["families"]["gpt-5.5"], "default_effort": "minimal"}
    with pytest.raises(ValueError, match="default effort"):
        Catalog(data=data)
    data = json.loads(catalog.DATA_FILE.read_text(encoding="utf-8"))
    data["rules"] = [r for r in data["rules"] if r[1] != "gpt-4o"]
    with pytest.raises(ValueError, match="no family rule"):
        Catalog(data=data)
