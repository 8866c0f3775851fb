"""The default deterministic model.

When no scripted reply is queued, this module decides what the emulated model "says", as a
:class:`Plan` of output items. The same request (and seed) always gives the same plan.

Behaviour it makes testable:

* ``text.verbosity`` sets the answer length: ``low`` < ``medium`` < ``high`` sentences.
* ``reasoning.effort`` sets reasoning: ``none`` gives no reasoning item; more effort gives more
  reasoning tokens (disjoint ranges, so the order always holds); ``reasoning.summary`` adds summary parts.
* Tools follow DECISIONS 15: ``required`` or a named tool always calls; ``none`` never; ``auto`` calls a
  tool whose name or a distinctive description word appears in the latest user text, and answers in
  text once every call made since that user turn has its output. Arguments satisfy the JSON schema.
* ``text.format`` ``json_schema`` yields JSON valid against the schema.
* Models that know ``phase`` put a ``commentary`` note before tool calls and mark answers ``final_answer``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "GENERATOR_VERSION",
    "CallPlan",
    "Draws",
    "MessagePlan",
    "Plan",
    "ReasoningPlan",
    "TurnInput",
    "decide",
    "last_user_text",
    "value_for_schema",
]

GENERATOR_VERSION = 1
"""Version of the default model's output (docs/default-model.md).

Within one version, the same request, ``--seed``, ``--secret`` and clock readings give byte-identical
response bodies and SSE streams in every resplay release. Any change to that output (wording, lengths,
token counts, item or event shapes, id layout, obfuscation) bumps it by one and is listed in CHANGELOG.md;
``tests/golden/`` holds the outputs of the current version and fails when they change without a bump.
A plain integer: it is an identity compared for equality, never ordered against release numbers, and it
names the goldens' folder (``tests/golden/v1/``)."""

_MASK64 = (1 << 64) - 1


class Draws:
    """The default model's deterministic choices: SplitMix64 (Steele, Lea and Flood, 2014) from one seed.

    ``random.Random(seed)`` initialises a 624-word Mersenne Twister state on every call (~5-12 µs, ~8% of
    a request's server CPU); the default model needs only a handful of draws per turn, which SplitMix64 gives
    for ~0.3 µs each. Same seed, same draws, on every platform and Python version.

    Args:
        seed: Any integer (reduced to 64 bits).
    """

    __slots__ = ("_state",)

    def __init__(self, seed: int) -> None:
        self._state = seed & _MASK64

    def _next(self) -> int:
        self._state = z = (self._state + 0x9E3779B97F4A7C15) & _MASK64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        """An integer in ``[0, n)`` (``n`` > 0; the modulo bias is below 2**-50 for the sizes used here)."""
        return self._next() % n

    def randint(self, low: int, high: int) -> int:
        """An integer in ``[low, high]``."""
        return low + self.below(high - low + 1)

    def choice(self, items: Sequence[Any]) -> Any:
        """One element of a non-empty sequence."""
        return items[self.below(len(items))]

    def sample(self, items: Sequence[Any], k: int) -> list[Any]:
        """``k`` distinct elements, in draw order (a partial Fisher-Yates shuffle)."""
        pool = list(items)
        k = min(k, len(pool))
        for i in range(k):
            j = i + self.below(len(pool) - i)
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]


# Reasoning tokens per effort: disjoint ranges, so "more effort -> more reasoning tokens" always holds.
REASONING_TOKENS: dict[str, tuple[int, int]] = {
    "minimal": (8, 23),
    "low": (48, 95),
    "medium": (160, 319),
    "high": (448, 895),
    "xhigh": (1024, 1791),
    "max": (2048, 3583),
}

SENTENCES_BY_VERBOSITY = {"low": 1, "medium": 3, "high": 7}

_SENTENCES = (
    "This answer comes from resplay's deterministic default model.",
    "The same request always receives the same reply, so tests can assert on it.",
    "Script a reply when a test needs specific content.",
    "Nothing here was produced by a real language model.",
    "Token counts in the usage block are exact for this text.",
    "Longer replies follow a higher text verbosity setting.",
    "Reasoning effort changes how many reasoning tokens are reported.",
    "Each sentence is chosen by a seeded generator from a fixed list.",
    "Stream events carry sequence numbers that start at zero.",
    "A previous_response_id chain carries earlier input and output forward.",
    "Function tools are called when the request makes that the natural next step.",
    "Structured outputs follow the JSON schema given in text.format.",
)

_SUMMARY_TITLES = ("Understanding the request", "Planning the answer", "Checking the details")

# Words too common to say which tool a request means (shared by tool search, mockserver.tool_search).
_STOPWORD_TEXT = (
    "a an and are as at be by call can could do does for from get gets given has have how in into is it "
    "its look lookup of on or please returns set sets that the this to tool tools use used uses what when "
    "which will with you your"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True, slots=True)
class ReasoningPlan:
    """A reasoning item: its token count and summary texts."""

    tokens: int
    summaries: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MessagePlan:
    """An assistant message."""

    text: str
    phase: str | None = None
    refusal: bool = False


@dataclass(frozen=True, slots=True)
class CallPlan:
    """A function call."""

    name: str
    arguments: str
    call_id: str | None = None
    namespace: str | None = None


PlanItem = ReasoningPlan | MessagePlan | CallPlan


@dataclass(slots=True)
class Plan:
    """Ordered output items of one response."""

    items: list[PlanItem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TurnInput:
    """What the default model looks at for one turn."""

    context: Sequence[Mapping[str, Any]]
    """Every item the model sees, oldest first: the chain's items and this request's input."""
    tools: Sequence[Mapping[str, Any]]
    tool_choice: Any
    parallel_tool_calls: bool
    effort: str | None
    """Effective reasoning effort, or ``None`` for models without reasoning."""
    summary: str | None
    verbosity: str
    text_format: Mapping[str, Any] | None
    uses_phase: bool
    seed: int


def decide(turn: TurnInput) -> Plan:
    """Plan the output of one turn (deterministic in ``turn``)."""
    user_text = last_user_text(turn.context)
    rng = Draws(_digest(turn.seed, user_text, len(turn.context)))
    plan = Plan()
    if turn.effort is not None and turn.effort != "none":
        low, high = REASONING_TOKENS.get(turn.effort, REASONING_TOKENS["medium"])
        summaries: tuple[str, ...] = ()
        if turn.summary:
            count = 1 if turn.summary == "concise" else 2
            summaries = tuple(_summary(i, user_text, rng) for i in range(count))
        plan.items.append(ReasoningPlan(rng.randint(low, high), summaries))

    calls = _choose_calls(turn, user_text, rng)
    if calls:
        if turn.uses_phase:
            names = ", ".join(c.name for c in calls)
            plan.items.append(MessagePlan(f"I'll call {names} to answer this.", phase="commentary"))
        plan.items.extend(calls)
        return plan

    text = _answer(turn, user_text, rng)
    plan.items.append(MessagePlan(text, phase="final_answer" if turn.uses_phase else None))
    return plan


def last_user_text(context: Sequence[Mapping[str, Any]]) -> str:
    """Text of the latest user message in ``context`` ('' when there is none)."""
    for item in reversed(context):
        if item.get("role") == "user" and item.get("type", "message") == "message":
            return _content_text(item.get("content"))
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            str(part.get("text", "")) for part in content if isinstance(part, Mapping) and "text" in part
        )
    return ""


def _digest(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "big")


def _summary(index: int, user_text: str, rng: Draws) -> str:
    topic = _shorten(user_text, 60) or "the request"
    title = _SUMMARY_TITLES[index % len(_SUMMARY_TITLES)]
    return f"**{title}**\n\nI am working out how to respond to {topic!r}. {rng.choice(_SENTENCES)}"


def _answer(turn: TurnInput, user_text: str, rng: Draws) -> str:
    fmt = turn.text_format or {}
    if fmt.get("type") == "json_schema":
        return json.dumps(value_for_schema(fmt.get("schema") or {}, user_text, rng), separators=(",", ":"))
    if fmt.get("type") == "json_object":
        return json.dumps({"answer": _shorten(user_text, 80) or "ok"}, separators=(",", ":"))
    outputs = _pending_outputs(turn.context)
    if outputs:
        joined = "; ".join(_shorten(o, 120) for o in outputs)
        # No second full stop after an output that ends a sentence ("Rain in Oslo.." before version 1's
        # release; found by the framework compatibility tests).
        head = f"Here is what the tools returned: {joined}{'' if joined.endswith(('.', '!', '?')) else '.'}"
    elif user_text:
        head = f"You asked: {_shorten(user_text, 200)!r}."
    else:
        head = "Hello from resplay."
    count = SENTENCES_BY_VERBOSITY.get(turn.verbosity, 3)
    body = rng.sample(_SENTENCES, count)
    return " ".join([head, *body])


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pending_outputs(context: Sequence[Mapping[str, Any]]) -> list[str]:
    """Outputs of tool calls made since the latest user message."""
    out: list[str] = []
    for item in reversed(context):
        if item.get("role") == "user":
            break
        if item.get("type") == "function_call_output":
            output = item.get("output")
            out.append(output if isinstance(output, str) else _content_text(output))
    out.reverse()
    return out


def _calls_since_user(context: Sequence[Mapping[str, Any]]) -> tuple[set[str], set[str]]:
    """(call_ids made, call_ids answered) since the latest user message."""
    made: set[str] = set()
    answered: set[str] = set()
    for item in reversed(context):
        if item.get("role") == "user":
            break
        kind = item.get("type")
        if kind == "function_call":
            made.add(str(item.get("call_id")))
        elif kind == "function_call_output":
            answered.add(str(item.get("call_id")))
    return made, answered


def _function_tools(tools: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], str | None]]:
    """(function tool, namespace) pairs the model can see (deferred tools are not loaded)."""
    out: list[tuple[Mapping[str, Any], str | None]] = []
    for tool in tools:
        if tool.get("type") == "function" and not tool.get("defer_loading"):
            out.append((tool, None))
        elif tool.get("type") == "namespace":
            for member in tool.get("tools") or ():
                if member.get("type") == "function" and not member.get("defer_loading"):
                    out.append((member, str(tool.get("name"))))
    return out


_WORD = re.compile(r"[a-z0-9]+")


@functools.lru_cache(maxsize=4096)
def words(text: str) -> frozenset[str]:
    """Distinctive words of a text: lower-case, over two letters, not a stop word (cached: tool
    descriptions repeat on every request). The default model and tool search both match tools with it."""
    return frozenset(w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOPWORDS)


def _choose_calls(turn: TurnInput, user_text: str, rng: Draws) -> list[CallPlan]:
    functions = _function_tools(turn.tools)
    choice = turn.tool_choice
    if not functions or choice == "none":
        return []
    allowed = functions
    mode = choice if isinstance(choice, str) else "auto"
    if isinstance(choice, Mapping):
        kind = choice.get("type")
        if kind == "function":
            allowed = [f for f in functions if f[0].get("name") == choice.get("name")]
            mode = "required"
        elif kind == "allowed_tools":
            names = {t.get("name") for t in choice.get("tools") or () if isinstance(t, Mapping)}
            allowed = [f for f in functions if f[0].get("name") in names]
            mode = str(choice.get("mode", "auto"))
        else:
            return []
    if not allowed:
        return []
    if mode != "required" and _calls_since_user(turn.context)[0]:
        # auto: once the calls made since the user spoke have their outputs, answer in text.
        return []
    matched = [f for f in allowed if _mentioned(f[0], user_text)]
    if mode == "required" and not matched:
        matched = allowed[:1]
    picked = matched if turn.parallel_tool_calls else matched[:1]
    return [
        CallPlan(
            name=str(tool.get("name")),
            arguments=json.dumps(
                value_for_schema(tool.get("parameters") or {}, user_text, rng), separators=(",", ":")
            ),
            namespace=namespace,
        )
        for tool, namespace in picked
    ]


def _mentioned(tool: Mapping[str, Any], user_text: str) -> bool:
    text = user_text.lower()
    name = str(tool.get("name", "")).lower()
    if name and (name in text or name.replace("_", " ") in text):
        return True
    description = tool.get("description")
    if not isinstance(description, str):
        return False
    return bool(words(description) & words(user_text))


def value_for_schema(schema: Mapping[str, Any], hint: str, rng: Draws, depth: int = 0) -> Any:
    """A JSON value valid against ``schema`` (the strict-mode subset of JSON Schema).

    Args:
        schema: The JSON schema.
        hint: Text to draw string values from (the user's words), for readable arguments.
        rng: Seeded generator.
        depth: Recursion depth (guards self-referencing schemas).
    """
    if depth > 8:
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if options:
            non_null = [o for o in options if isinstance(o, Mapping) and o.get("type") != "null"]
            return value_for_schema((non_null or options)[0], hint, rng, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        props: Mapping[str, Any] = schema.get("properties") or {}
        return {name: value_for_schema(sub, hint, rng, depth + 1) for name, sub in props.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [value_for_schema(schema.get("items") or {}, hint, rng, depth + 1) for _ in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string_from(hint, rng)


def _string_from(hint: str, rng: Draws) -> str:
    capitalised = [w.strip(".,;:!?\"'()") for w in hint.split() if w[:1].isupper()]
    capitalised = [w for w in capitalised[1:] if w] or [w for w in capitalised if w]
    if capitalised:
        return capitalised[-1]
    found = sorted(words(hint))
    return rng.choice(found) if found else "example"
