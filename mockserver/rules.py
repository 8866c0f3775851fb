"""Scripting rules: a matcher plus the reply it gives (one-shot, permanent or ordered).

Matchers look at the parsed request and its chain and compose with ``&``, ``|`` and ``~`` (respx-style)::

    rule = Rule(model("gpt-5.5") & input_contains("weather") & ~last_item("function_call_output"),
                FunctionCallsReply((FunctionCall("get_weather", {"city": "Paris"}),)))

Each session (DECISIONS 2) owns a :class:`RuleBook`. For every create the engine takes, in order: the next
queued reply (a queued reply is a one-shot rule of the highest priority), else the first live rule that
matches, else the default deterministic model, or, in strict mode, an error that ``check()`` reports.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from .errors import APIError, InvalidRequest
from .script import OutputReply, Reply, reply_from_json

__all__ = [
    "CallableReply",
    "Matcher",
    "Request",
    "Rule",
    "RuleBook",
    "any_request",
    "has_tool",
    "header",
    "input_contains",
    "input_matches",
    "last_item",
    "metadata",
    "model",
    "reasoning",
    "refusal",
    "turn",
    "unmatched_error",
    "where",
]


@dataclass(frozen=True)
class Request:
    """What matchers and callable replies see of one create request."""

    body: Mapping[str, Any]
    """The validated request body."""
    chain: Sequence[Mapping[str, Any]]
    """Every item the model sees: the earlier responses' items, then this request's input."""
    input_items: Sequence[Mapping[str, Any]]
    """This request's input items (normalised)."""
    turn: int
    """How many responses precede this one in its ``previous_response_id`` chain (0: a new conversation)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Request headers, names lower-cased (over WebSocket: the handshake's, credentials redacted)."""
    faults: Any = None
    """The session's :class:`~mockserver.faults.FaultBook` (a matching rule arms its fault and latency)."""

    @property
    def model(self) -> str:
        """The requested model name."""
        return str(self.body.get("model"))

    @property
    def text(self) -> str:
        """The text of the latest user message ("" when there is none)."""
        for item in reversed(self.chain):
            if item.get("type", "message") == "message" and item.get("role") in ("user", None):
                content = item.get("content")
                if isinstance(content, str):
                    return content
                if isinstance(content, list):
                    return "".join(
                        str(p.get("text", "")) for p in content if isinstance(p, Mapping) and "text" in p
                    )
        return ""

    @property
    def last_item_type(self) -> str | None:
        """Type of the last input item (e.g. ``function_call_output`` when a tool result arrived)."""
        return str(self.input_items[-1].get("type", "message")) if self.input_items else None


class Matcher:
    """A predicate over a :class:`Request`; compose with ``&``, ``|`` and ``~``.

    Args:
        test: The predicate.
        description: How the matcher shows in reprs and strict-mode errors.
    """

    def __init__(self, test: Callable[[Request], bool], description: str) -> None:
        self._test = test
        self.description = description

    def __call__(self, request: Request) -> bool:
        return bool(self._test(request))

    def __and__(self, other: Matcher) -> Matcher:
        return Matcher(lambda r: self(r) and other(r), f"({self.description} & {other.description})")

    def __or__(self, other: Matcher) -> Matcher:
        return Matcher(lambda r: self(r) or other(r), f"({self.description} | {other.description})")

    def __invert__(self) -> Matcher:
        return Matcher(lambda r: not self(r), f"~{self.description}")

    def __repr__(self) -> str:
        return f"Matcher({self.description})"


def any_request() -> Matcher:
    """Matches every request."""
    return Matcher(lambda r: True, "any")


def model(name: str) -> Matcher:
    """The requested model is ``name`` (or a dated snapshot of it)."""
    return Matcher(lambda r: r.model == name or r.model.startswith(name + "-20"), f"model={name!r}")


def input_contains(text: str, *, case_sensitive: bool = False) -> Matcher:
    """The latest user text contains ``text``."""
    if case_sensitive:
        return Matcher(lambda r: text in r.text, f"input_contains={text!r}")
    low = text.lower()
    return Matcher(lambda r: low in r.text.lower(), f"input_contains={text!r}")


def input_matches(pattern: str | re.Pattern[str]) -> Matcher:
    """The latest user text matches the regular expression (``re.search``)."""
    compiled = re.compile(pattern)
    return Matcher(lambda r: compiled.search(r.text) is not None, f"input_matches={compiled.pattern!r}")


def last_item(kind: str) -> Matcher:
    """The last input item has this type (``function_call_output``, ``mcp_approval_response``, ...)."""
    return Matcher(lambda r: r.last_item_type == kind, f"last_item={kind!r}")


def has_tool(name: str) -> Matcher:
    """The request offers a tool with this name, type (``web_search``) or MCP server label."""

    def test(r: Request) -> bool:
        for tool in r.body.get("tools") or ():
            if isinstance(tool, Mapping) and name in (
                tool.get("type"),
                tool.get("name"),
                tool.get("server_label"),
            ):
                return True
        return False

    return Matcher(test, f"has_tool={name!r}")


def turn(index: int) -> Matcher:
    """The response is the ``index``-th of its chain (0: no ``previous_response_id``)."""
    return Matcher(lambda r: r.turn == index, f"turn={index}")


_ANY = object()


def metadata(key: str, value: Any = _ANY) -> Matcher:
    """``metadata[key]`` is set (to ``value`` when given)."""

    def test(r: Request) -> bool:
        meta = r.body.get("metadata") or {}
        return key in meta and (value is _ANY or meta[key] == value)

    return Matcher(test, f"metadata[{key!r}]" + ("" if value is _ANY else f"={value!r}"))


def header(name: str, value: str | None = None) -> Matcher:
    """The HTTP header is present (and equals ``value`` when given)."""
    low = name.lower()
    return Matcher(
        lambda r: low in r.headers and (value is None or r.headers[low] == value),
        f"header[{low!r}]" + ("" if value is None else f"={value!r}"),
    )


def where(predicate: Callable[[Request], bool], description: str = "where(...)") -> Matcher:
    """Any Python predicate over the :class:`Request`."""
    return Matcher(predicate, description)


# --- replies -------------------------------------------------------------------------------------------

ReplyResult: TypeAlias = "Reply | str | Mapping[str, Any]"


@dataclass(frozen=True)
class CallableReply:
    """A reply computed per request: ``fn(request)`` returns a reply, a text, or a reply's JSON form."""

    fn: Callable[[Request], ReplyResult]


ReplyLike: TypeAlias = "Reply | CallableReply | str | Mapping[str, Any] | Callable[[Request], ReplyResult]"


def refusal(text: str) -> OutputReply:
    """A reply whose message is a refusal."""
    return OutputReply(({"type": "message", "text": text, "refusal": True},))


def reasoning(*summaries: str, then: str | None = None, tokens: int = 64) -> OutputReply:
    """A reasoning item (with these summaries), optionally followed by a text answer."""
    items: list[Mapping[str, Any]] = [{"type": "reasoning", "summary": list(summaries), "tokens": tokens}]
    if then is not None:
        items.append({"type": "message", "text": then})
    return OutputReply(tuple(items))


def _resolve(reply: ReplyLike, request: Request) -> Reply:
    if isinstance(reply, CallableReply):
        reply = reply.fn(request)
    elif callable(reply) and not isinstance(reply, type):
        reply = reply(request)
    if isinstance(reply, str):
        return reply_from_json({"text": reply})
    if isinstance(reply, Mapping):
        return reply_from_json(reply)
    return reply  # type: ignore[return-value]


@dataclass
class Rule:
    """A matcher and its replies.

    Args:
        matcher: Which requests the rule answers.
        replies: One reply, or several given in order (an ordered rule: each match takes the next).
        times: How many requests the rule answers; ``None`` is permanent (an ordered permanent rule
            repeats its last reply). Defaults to 1, or to the number of ordered replies.
        name: Shown in strict-mode and unused-rule reports.
        fault: A fault (:func:`mockserver.faults.parse`, DECISIONS 20) applied to the matched request.
        latency: A latency profile (:func:`mockserver.latency.profile_from_json`) for the matched request.

    A rule with a fault or latency and no reply lets the default model answer under them.
    """

    matcher: Matcher
    replies: tuple[ReplyLike, ...]
    times: int | None = 1
    name: str | None = None
    used: int = 0
    fault: Any = None
    latency: Any = None

    @classmethod
    def of(
        cls,
        matcher: Matcher,
        reply: ReplyLike | Sequence[ReplyLike] | None,
        *,
        times: int | str | None = "default",
        name: str | None = None,
        fault: Any = None,
        latency: Any = None,
    ) -> Rule:
        """Build a rule; a list/tuple ``reply`` makes an ordered rule; ``None`` (with a fault or latency)
        lets the default model answer."""
        replies: tuple[ReplyLike, ...] = (
            () if reply is None else tuple(reply) if isinstance(reply, list | tuple) else (reply,)  # type: ignore[assignment]
        )
        if not replies and fault is None and latency is None:
            raise ValueError("a rule needs at least one reply, a fault or a latency")
        count = (len(replies) or 1) if times == "default" else times
        if count is not None and not isinstance(count, int):
            raise ValueError("times must be an int or None")
        return cls(matcher, replies, count, name, 0, fault, latency)

    @property
    def live(self) -> bool:
        """Whether the rule still answers."""
        return self.times is None or self.used < self.times

    def take(self, request: Request) -> Reply | None:
        """The reply for this match (counts the use; arms the rule's fault and latency)."""
        self.used += 1
        if request.faults is not None:
            if self.fault is not None:
                request.faults.arm(self.fault)
            if self.latency is not None:
                request.faults.latency = self.latency
        if not self.replies:
            return None
        return _resolve(self.replies[min(self.used - 1, len(self.replies) - 1)], request)

    def describe(self) -> str:
        """Name or matcher description."""
        return self.name or self.matcher.description


@dataclass
class RuleBook:
    """A session's rules, strict flag and the requests strict mode rejected."""

    rules: list[Rule] = field(default_factory=list)
    strict: bool = False
    unmatched: list[str] = field(default_factory=list)
    """One line per request that no rule matched in strict mode (``check()`` reports them)."""

    @property
    def active(self) -> bool:
        """Whether :meth:`pick` can do anything but return ``None`` (rules, or strict mode)."""
        return bool(self.rules) or self.strict

    def add(self, rule: Rule) -> Rule:
        """Append a rule (earlier rules win)."""
        self.rules.append(rule)
        return rule

    def replace(self, rules: Iterable[Rule], *, strict: bool | None = None) -> None:
        """Swap in a new rule set (a scenario file), keeping the unmatched log."""
        self.rules = list(rules)
        if strict is not None:
            self.strict = strict

    def clear(self) -> None:
        """Forget every rule and the unmatched log."""
        self.rules.clear()
        self.unmatched.clear()

    def unused(self) -> list[Rule]:
        """Non-permanent rules that still had replies left."""
        return [r for r in self.rules if r.times is not None and r.live]

    def pick(self, request: Request) -> Reply | None:
        """The reply of the first live matching rule; ``None`` lets the default model answer.

        Raises:
            APIError: strict mode and no rule matched (400 ``resplay_unmatched_request``, chosen).
        """
        for rule in self.rules:
            if rule.live and rule.matcher(request):
                return rule.take(request)
        if self.strict:
            line = f"model={request.model!r} turn={request.turn} input={request.text[:80]!r}"
            self.unmatched.append(line)
            raise unmatched_error(line)
        return None

    def copy(self) -> RuleBook:
        """A fresh book with the same rules, usage counts reset (each session gets its own)."""
        fresh = [Rule(r.matcher, r.replies, r.times, r.name, 0, r.fault, r.latency) for r in self.rules]
        return RuleBook(fresh, self.strict)


def unmatched_error(summary: str) -> APIError:
    """The error strict mode answers (chosen: 400 so clients do not retry it, docs/errors.md)."""
    return InvalidRequest(
        f"resplay strict mode: no scripted rule matched this request ({summary}).",
        code="resplay_unmatched_request",
    )
