"""The model catalogue: which model names exist and what each one can do (DECISIONS 8).

Known names are, and only are (DECISIONS 8):

* the model literals of openai-python 3.51.0 (``ChatModel``, ``ResponsesModel`` and ``AllModels`` in
  ``openai/types/shared/*.py``), extracted by ``python -m mockserver.catalog --refresh-sdk`` and checked
  into ``data/models.json`` (the runtime never imports ``openai``);
* the models seen in the real traffic under ``../shared/real-traffic`` (``gpt-5.3-codex``,
  ``gpt-5.4-2026-03-05``, ``gpt-5.2-chat``, the ``gpt-5.6`` alias, ...);
* dated snapshots ``<known>-YYYY-MM-DD`` of an undated known name (``gpt-5.5-2026-01-01``);
* extra names given with ``--model`` / ``ServerConfig.models``: generic gpt-5.5-like models.

Anything else is unknown: the engine answers 400 ``model_not_found`` (:func:`model_not_found`, wording
observed in real traffic).

Capabilities live in one table (``data/models.json``): family rules (an ordered list of regular
expressions, first match wins) give each name a family; the family gives the capabilities; per-model
overrides adjust single fields. The sources of every value are in the JSON's ``$sources`` and in
``docs/tokens.md``; values no source settles are marked *chosen* there.
"""

from __future__ import annotations

import ast
import datetime as _dt
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mockserver.errors import InvalidRequest

__all__ = [
    "CACHE_RULES",
    "DEFAULT_CATALOG",
    "EFFORTS",
    "TOKEN_STYLES",
    "Catalog",
    "ModelInfo",
    "effort_not_supported",
    "model_not_found",
    "parameter_not_supported",
]

DATA_FILE = Path(__file__).with_name("data") / "models.json"

EFFORTS: tuple[str, ...] = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
"""Every ``reasoning.effort`` of SDK 3.51.0, in increasing order [SDK:types/shared/reasoning_effort.py]."""

CACHE_RULES: tuple[str, ...] = ("gpt56plus", "gpt55", "legacy")
"""Prompt-cache rule families (SPEC §13, DECISIONS 17).

``gpt56plus``: 1,024-token minimum, exact ``cached_tokens``, explicit breakpoints.
``gpt55``: implicit breakpoints every 2,048 tokens, counts rounded down to a multiple of 128.
``legacy``: 1,024-token minimum, hits in 128-token steps.
"""

TOKEN_STYLES: tuple[str, ...] = ("chatml", "harmony")
"""How a model's prompt is framed, which sets the per-message overheads of :mod:`mockserver.tokens`.

``chatml`` (gpt-3.5, gpt-4, gpt-4o, gpt-4.1) and ``harmony`` (o-series, gpt-5 and later) differ by one
token of reply priming and by the channel header of assistant messages (measured on real traffic, see
``docs/tokens.md``).
"""

_DATE_SUFFIX = re.compile(r"^(?P<base>.+)-(?P<date>\d{4}-\d{2}-\d{2})$")
_CUSTOM_FAMILY = "custom"
_CUSTOM_TEMPLATE = "gpt-5.5"  # extra names behave like gpt-5.5 (DECISIONS 8, task brief)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Capabilities of one model name.

    Attributes:
        name: The name as requested (a dated snapshot keeps its date).
        family: Family key of ``models.json`` (``gpt-5.5``, ``o-series``, ``custom``, ...).
        reasoning: Whether the model reasons (has ``reasoning`` items and reasoning tokens).
        efforts: Accepted ``reasoning.effort`` values, in increasing order; empty when the parameter is
            rejected.
        default_effort: Effort used when the request names none (``None`` for non-reasoning models).
        context_window: Input plus output tokens the model accepts.
        max_output_tokens: Largest ``max_output_tokens`` (and the default budget).
        encoding: Tokenizer: ``o200k_base`` or ``cl100k_base`` (gpt-4 / gpt-3.5 era).
        cache_rule: One of :data:`CACHE_RULES` (SPEC §13, DECISIONS 17).
        tool_search: Whether the ``tool_search`` tool is supported (gpt-5.4 and later, SPEC §11).
        steering: Whether ``response.steer`` is supported (GPT-6 family only, SPEC §6.7).
        temperature: Whether ``temperature`` / ``top_p`` are accepted at any effort. Models whose
            efforts include ``none`` also accept them when the effective effort is ``none`` (observed:
            gpt-5.6-sol with ``effort: "none"`` and ``temperature: 0.5``); see :meth:`accepts_sampling`.
        response_model: What ``response.model`` echoes: aliases report their snapshot (observed:
            ``gpt-4o`` -> ``gpt-4o-2024-08-06``, ``gpt-5.6`` -> ``gpt-5.6-sol``).
        token_style: One of :data:`TOKEN_STYLES`, for :func:`mockserver.tokens.count_input`.
        reasoning_context: Default ``reasoning.context`` (``all_turns`` for gpt-5.6 and later,
            ``current_turn`` before, ``None`` without reasoning; SPEC §8).
    """

    name: str
    family: str
    reasoning: bool
    efforts: tuple[str, ...]
    default_effort: str | None
    context_window: int
    max_output_tokens: int
    encoding: str
    cache_rule: str
    tool_search: bool
    steering: bool
    temperature: bool
    response_model: str = ""
    token_style: str = "harmony"
    reasoning_context: str | None = None

    def __post_init__(self) -> None:
        if not self.response_model:
            object.__setattr__(self, "response_model", self.name)

    def effective_effort(self, requested: str | None) -> str | None:
        """The effort a request runs with: the requested one, else the model's default."""
        return requested if requested is not None else self.default_effort

    def accepts_sampling(self, effort: str | None = None) -> bool:
        """Whether ``temperature`` / ``top_p`` are accepted for a request with this ``effort``.

        Non-reasoning models always accept them; reasoning models only when their effective effort is
        ``none`` (which only gpt-5.1 and later offer). Real error otherwise:
        ``Unsupported parameter: 'temperature' is not supported with this model.`` (vercel fixture
        ``reasoning-model-temperature-error.json``).
        """
        if self.temperature:
            return True
        return "none" in self.efforts and self.effective_effort(effort) == "none"


class Catalog:
    """Name resolution and capabilities, backed by ``data/models.json``.

    Args:
        extra_models: Extra custom names (``--model`` flag, ``ServerConfig.models``); each behaves like a
            generic gpt-5.5 (family ``custom``). Names already known keep their real capabilities.
        data: Parsed catalogue data; defaults to ``data/models.json`` (tests may pass their own).
    """

    def __init__(self, extra_models: Iterable[str] = (), *, data: Mapping[str, Any] | None = None) -> None:
        raw = data if data is not None else _load_data()
        self._families: dict[str, dict[str, Any]] = {k: dict(v) for k, v in raw["families"].items()}
        self._rules: list[tuple[re.Pattern[str], str]] = [
            (re.compile(pattern), family) for pattern, family in raw["rules"]
        ]
        self._overrides: dict[str, dict[str, Any]] = {k: dict(v) for k, v in raw["overrides"].items()}
        explicit_serves: dict[str, str] = dict(raw.get("serves", {}))
        sdk_models: list[str] = list(raw["sdk_models"])
        traffic_models: list[str] = list(raw.get("traffic_models", ()))
        known = list(dict.fromkeys([*sdk_models, *traffic_models]))
        for name in known:
            if self._family_of(name) is None:
                raise ValueError(f"models.json: no family rule matches known model {name!r}")
        for fam in self._families.values():
            _check_family(fam)
        self._known: frozenset[str] = frozenset(known)
        self._extra: frozenset[str] = frozenset(n for n in extra_models if n and n not in self._known)
        self._serves = _auto_serves(known)
        self._serves.update(explicit_serves)
        self._names = sorted(self._known | self._extra)
        self._lookup = functools.lru_cache(maxsize=4096)(self._resolve)

    def lookup(self, name: str) -> ModelInfo | None:
        """Resolve a model name, or ``None`` when it is unknown (the engine then raises
        :func:`model_not_found`).

        Dated snapshots ``<known>-YYYY-MM-DD`` of an undated known name resolve to that name's
        capabilities (DECISIONS 8); results are cached.
        """
        if not isinstance(name, str):
            return None
        return self._lookup(name)

    def require(self, name: str) -> ModelInfo:
        """Like :meth:`lookup`, but raise the real 400 ``model_not_found`` for an unknown name."""
        info = self.lookup(name)
        if info is None:
            raise model_not_found(name)
        return info

    def names(self) -> list[str]:
        """All explicitly known names (SDK, real traffic, extra), sorted. Snapshots are open-ended and
        not listed."""
        return list(self._names)

    # -- internals ------------------------------------------------------------------------------------

    def _resolve(self, name: str) -> ModelInfo | None:
        if name in self._known:
            return self._build(name, name, self._family_of(name) or _CUSTOM_TEMPLATE)
        if name in self._extra:
            return self._build(name, name, _CUSTOM_TEMPLATE, family_label=_CUSTOM_FAMILY)
        m = _DATE_SUFFIX.match(name)
        if m is None or not _valid_date(m.group("date")):
            return None
        base = m.group("base")
        if _DATE_SUFFIX.match(base) is not None:  # a snapshot of a snapshot is not a model
            return None
        if base in self._known:
            info = self._build(base, name, self._family_of(base) or _CUSTOM_TEMPLATE)
        elif base in self._extra:
            info = self._build(base, name, _CUSTOM_TEMPLATE, family_label=_CUSTOM_FAMILY)
        else:
            return None
        return info

    def _family_of(self, name: str) -> str | None:
        for pattern, family in self._rules:
            if pattern.fullmatch(name):
                return family
        return None

    def _build(self, base: str, name: str, family: str, *, family_label: str | None = None) -> ModelInfo:
        caps: dict[str, Any] = dict(self._families[family])
        if family_label is None:
            # A known dated name inherits the overrides of its undated name, then applies its own.
            m = _DATE_SUFFIX.match(base)
            if m is not None and m.group("base") in self._known:
                caps.update(self._overrides.get(m.group("base"), {}))
            caps.update(self._overrides.get(base, {}))
        reasoning = bool(caps["reasoning"])
        efforts: tuple[str, ...] = tuple(caps.get("efforts") or ()) if reasoning else ()
        default_effort: str | None = caps.get("default_effort") if efforts else None
        if name == base:
            response_model = self._serves.get(base, base)
        else:
            response_model = name  # a dated snapshot echoes itself
        return ModelInfo(
            name=name,
            family=family_label or family,
            reasoning=reasoning,
            efforts=efforts,
            default_effort=default_effort,
            context_window=int(caps["context_window"]),
            max_output_tokens=int(caps["max_output_tokens"]),
            encoding=str(caps["encoding"]),
            cache_rule=str(caps["cache_rule"]),
            tool_search=bool(caps["tool_search"]),
            steering=bool(caps["steering"]),
            temperature=bool(caps["temperature"]),
            response_model=response_model,
            token_style=str(caps["token_style"]),
            reasoning_context=caps.get("reasoning_context") if reasoning else None,
        )


def _load_data() -> dict[str, Any]:
    with DATA_FILE.open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def _valid_date(text: str) -> bool:
    try:
        _dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _auto_serves(known: Sequence[str]) -> dict[str, str]:
    """Undated name -> its latest dated snapshot among the known names (``response.model`` echo)."""
    latest: dict[str, str] = {}
    for name in known:
        m = _DATE_SUFFIX.match(name)
        if m and m.group("base") in known:
            base = m.group("base")
            if base not in latest or name > latest[base]:
                latest[base] = name
    return latest


def _check_family(fam: Mapping[str, Any]) -> None:
    efforts = fam.get("efforts", [])
    if any(e not in EFFORTS for e in efforts):
        raise ValueError(f"models.json: unknown effort in {efforts!r}")
    if fam.get("default_effort") is not None and fam["default_effort"] not in efforts:
        raise ValueError(f"models.json: default effort {fam['default_effort']!r} not in {efforts!r}")
    if fam.get("cache_rule") not in CACHE_RULES:
        raise ValueError(f"models.json: unknown cache rule {fam.get('cache_rule')!r}")
    if fam.get("token_style") not in TOKEN_STYLES:
        raise ValueError(f"models.json: unknown token style {fam.get('token_style')!r}")


# -- errors in the real wording ---------------------------------------------------------------------------


def model_not_found(name: str) -> InvalidRequest:
    """Observed verbatim (pydantic-ai ``test_model_name_suggestion[openai-responses].yaml``)::

    400 {"message": "The requested model 'gpt-5.2-proo' does not exist.", "type": "invalid_request_error",
         "param": "model", "code": "model_not_found"}
    """
    return InvalidRequest(
        f"The requested model '{name}' does not exist.", param="model", code="model_not_found"
    )


def parameter_not_supported(param: str) -> InvalidRequest:
    """``Unsupported parameter: 'temperature' is not supported with this model.``

    Observed verbatim with ``param: "temperature"`` and ``code: null`` (vercel fixture
    ``reasoning-model-temperature-error.json``); the same wording is used for ``top_p`` and for
    ``reasoning.effort`` on a model without reasoning (chosen, same style, DECISIONS 18).
    """
    return InvalidRequest(f"Unsupported parameter: '{param}' is not supported with this model.", param=param)


def effort_not_supported(info: ModelInfo, effort: str) -> InvalidRequest:
    """The error for a ``reasoning.effort`` the model does not take.

    Reasoning model, unsupported value: observed verbatim (SPEC §8, openai-agents-python#2089)::

        Unsupported value: 'minimal' is not supported with the 'gpt-5.1' model. Supported values are:
        'none', 'low', 'medium', and 'high'.   (param reasoning.effort, code unsupported_value)

    Model without reasoning (or without an effort knob): :func:`parameter_not_supported`.
    """
    if not info.efforts:
        return parameter_not_supported("reasoning.effort")
    return InvalidRequest(
        f"Unsupported value: '{effort}' is not supported with the '{info.name}' model. "
        f"Supported values are: {_join_quoted(info.efforts)}.",
        param="reasoning.effort",
        code="unsupported_value",
    )


def _join_quoted(values: Sequence[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    if len(quoted) == 2:
        return f"{quoted[0]} and {quoted[1]}"
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


# -- SDK extraction (maintenance only; never runs in the server) ------------------------------------------

SDK_MODEL_FILES: tuple[str, ...] = (
    "types/shared/chat_model.py",
    "types/shared/responses_model.py",
    "types/shared/all_models.py",
)


def extract_sdk_models(sdk_root: Path) -> list[str]:
    """Read the model literals from an installed openai SDK **without importing it** (AST walk).

    Args:
        sdk_root: The ``openai`` package folder.

    Returns:
        Every string literal inside the ``Literal[...]`` of ``ChatModel``, ``ResponsesModel`` and
        ``AllModels``, de-duplicated, in file order.
    """
    names: list[str] = []
    for rel in SDK_MODEL_FILES:
        tree = ast.parse((sdk_root / rel).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Subscript)
                and isinstance(node.value, ast.Name)
                and node.value.id == "Literal"
            ):
                for const in ast.walk(node.slice):
                    if isinstance(const, ast.Constant) and isinstance(const.value, str):
                        names.append(const.value)
    return list(dict.fromkeys(names))


def _sdk_root() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("openai")  # locates the package without importing it
    if spec is None or spec.origin is None:
        raise SystemExit("openai is not installed in this environment")
    return Path(spec.origin).parent


def _sdk_version(root: Path) -> str:
    text = (root / "_version.py").read_text(encoding="utf-8")
    m = re.search(r"__version__\s*=\s*['\"]([^'\"]+)['\"]", text)
    return m.group(1) if m else "unknown"


def _refresh_sdk_models(path: Path = DATA_FILE) -> None:
    root = _sdk_root()
    data = json.loads(path.read_text(encoding="utf-8"))
    data["sdk_version"] = _sdk_version(root)
    data["sdk_models"] = extract_sdk_models(root)
    path.write_text(dump_data(data), encoding="utf-8")


def dump_data(data: Mapping[str, Any]) -> str:
    """Serialize catalogue data the way ``models.json`` is kept: one entry per line, diff-friendly."""

    def one(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    out = ["{"]
    top = list(data.items())
    for i, (key, value) in enumerate(top):
        comma = "," if i < len(top) - 1 else ""
        if isinstance(value, Mapping) and value:
            out.append(f" {one(key)}: {{")
            sub = list(value.items())
            for j, (k, v) in enumerate(sub):
                out.append(f"  {one(k)}: {one(v)}" + ("," if j < len(sub) - 1 else ""))
            out.append(" }" + comma)
        elif isinstance(value, list) and value:
            out.append(f" {one(key)}: [")
            for j, v in enumerate(value):
                out.append(f"  {one(v)}" + ("," if j < len(value) - 1 else ""))
            out.append(" ]" + comma)
        else:
            out.append(f" {one(key)}: {one(value)}{comma}")
    out.append("}")
    return "\n".join(out) + "\n"


DEFAULT_CATALOG: Catalog = Catalog()
"""The catalogue without extra names."""


if __name__ == "__main__":  # pragma: no cover - maintenance entry point
    import sys

    if "--refresh-sdk" in sys.argv[1:]:
        _refresh_sdk_models()
        sys.stdout.write(f"updated {DATA_FILE}\n")
    else:
        for model in DEFAULT_CATALOG.names():
            sys.stdout.write(f"{DEFAULT_CATALOG.require(model)}\n")
