"""Scenario files: rules written in YAML or JSON, so clients in any language can script resplay.

Schema (every key optional unless marked)::

    strict: false                 # unmatched requests get a 400 (and fail the test at check())
    rules:                        # earlier rules win
      - name: weather             # shown in reports
        match:                    # all keys must hold (omitted: matches every request)
          model: gpt-5.5
          input_contains: weather
          input_regex: "\\bParis\\b"
          last_item: function_call_output
          tool: get_weather        # a tool's name, type or MCP server label
          turn: 0                  # position in the previous_response_id chain
          metadata: {tenant: a}
          headers: {x-team: blue}
          any: [{...}, {...}]      # at least one of these matchers
          not: {...}               # this matcher must fail
        reply: {text: "Sunny."}    # one of reply / replies (ordered); optional with a fault or latency
        times: 1                   # default 1 (or len(replies)); "permanent" or null: always
        fault: "http;status=429"   # optional: a fault for the matched request (DECISIONS 20 grammar)
        latency: realistic         # optional: a latency profile (name or object) for the matched request

A reply is any form ``POST /_resplay/replies`` accepts (:func:`mockserver.script.reply_from_json`):
``{text}``, ``{function_calls: [...]}``, ``{error: {status, message, ...}}``, ``{output: [items]}`` where
items include reasoning, refusals and built-in tool calls (``{type: web_search_call, query: ...}``).

Errors name the line (PyYAML node marks; JSON is parsed by the same loader, so its lines count too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from . import builtin_tools, faults, rules as scripting
from .errors import APIError, InvalidRequest
from .latency import profile_from_json
from .script import reply_from_json

__all__ = ["Scenario", "ScenarioError", "load_scenario", "load_scenario_file"]


class ScenarioError(InvalidRequest):
    """A scenario file that does not follow the schema; the message starts with ``line N:``."""


@dataclass
class Scenario:
    """A parsed scenario: the rules and the strict flag."""

    rules: list[scripting.Rule]
    strict: bool

    def book(self) -> scripting.RuleBook:
        """A fresh :class:`RuleBook` holding these rules."""
        return scripting.RuleBook(list(self.rules), self.strict)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _fail(node: yaml.Node, message: str) -> ScenarioError:
    return ScenarioError(f"line {_line(node)}: {message}", param="scenario", code="invalid_scenario")


def _plain(node: yaml.Node) -> Any:
    """A node as plain Python (keys and values as the safe loader builds them)."""
    return yaml.SafeLoader("").construct_object(node, deep=True)


def _mapping(node: yaml.Node, what: str) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(node, f"{what} must be a mapping")
    out: dict[str, yaml.Node] = {}
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            raise _fail(key, f"{what}: keys must be strings")
        out[str(key.value)] = value
    return out


def _scalar(node: yaml.Node, kinds: tuple[type, ...], what: str) -> Any:
    value = _plain(node)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise _fail(node, f"{what} must be {names}, got {type(value).__name__}")
    return value


_OUTPUT_TYPES = frozenset({"message", "reasoning", "function_call", *builtin_tools.ITEM_TYPES})


def _matcher(node: yaml.Node) -> scripting.Matcher:
    fields = _mapping(node, "match")
    parts: list[scripting.Matcher] = []
    for key, value in fields.items():
        if key == "model":
            parts.append(scripting.model(_scalar(value, (str,), "match.model")))
        elif key == "input_contains":
            parts.append(scripting.input_contains(_scalar(value, (str,), "match.input_contains")))
        elif key == "input_regex":
            pattern = _scalar(value, (str,), "match.input_regex")
            try:
                parts.append(scripting.input_matches(pattern))
            except Exception as exc:  # re.error
                raise _fail(value, f"match.input_regex is not a valid regular expression: {exc}") from exc
        elif key == "last_item":
            parts.append(scripting.last_item(_scalar(value, (str,), "match.last_item")))
        elif key == "tool":
            parts.append(scripting.has_tool(_scalar(value, (str,), "match.tool")))
        elif key == "turn":
            parts.append(scripting.turn(_scalar(value, (int,), "match.turn")))
        elif key == "metadata":
            for meta_key, meta_value in _mapping(value, "match.metadata").items():
                parts.append(scripting.metadata(meta_key, _plain(meta_value)))
        elif key == "headers":
            for name, header_value in _mapping(value, "match.headers").items():
                parts.append(scripting.header(name, str(_plain(header_value))))
        elif key == "any":
            if not isinstance(value, yaml.SequenceNode) or not value.value:
                raise _fail(value, "match.any must be a non-empty list of matchers")
            alternatives = [_matcher(v) for v in value.value]
            combined = alternatives[0]
            for alternative in alternatives[1:]:
                combined = combined | alternative
            parts.append(combined)
        elif key == "not":
            parts.append(~_matcher(value))
        else:
            known = "model, input_contains, input_regex, last_item, tool, turn, metadata, headers, any, not"
            raise _fail(value, f"unknown matcher '{key}' (expected one of: {known})")
    if not parts:
        return scripting.any_request()
    result = parts[0]
    for part in parts[1:]:
        result = result & part
    return result


def _reply(node: yaml.Node) -> Any:
    _mapping(node, "reply")
    data = _plain(node)
    try:
        reply = reply_from_json(data)
    except APIError as exc:
        raise _fail(node, exc.message) from exc
    for item in getattr(reply, "items", ()):
        kind = item.get("type", "message")
        if kind not in _OUTPUT_TYPES:
            raise _fail(
                node,
                f"unsupported output item type '{kind}' "
                f"(expected one of: {', '.join(sorted(_OUTPUT_TYPES))})",
            )
    return reply


_RULE_KEYS = ("name", "match", "reply", "replies", "times", "fault", "latency")


def _rule(node: yaml.Node, index: int) -> scripting.Rule:
    fields = _mapping(node, f"rules[{index}]")
    unknown = set(fields) - set(_RULE_KEYS)
    if unknown:
        key = sorted(unknown)[0]
        raise _fail(fields[key], f"rules[{index}]: unknown key '{key}' (expected {', '.join(_RULE_KEYS)})")
    fault = _extra(fields, "fault", faults.parse)
    latency = _extra(fields, "latency", profile_from_json)
    has_reply = ("reply" in fields) + ("replies" in fields)
    if has_reply > 1 or (has_reply == 0 and fault is None and latency is None):
        raise _fail(node, f"rules[{index}] needs exactly one of 'reply' or 'replies' (or a fault or latency)")
    matcher = _matcher(fields["match"]) if "match" in fields else scripting.any_request()
    replies: list[Any] = []
    if "reply" in fields:
        replies = [_reply(fields["reply"])]
    elif "replies" in fields:
        listing = fields["replies"]
        if not isinstance(listing, yaml.SequenceNode) or not listing.value:
            raise _fail(listing, f"rules[{index}].replies must be a non-empty list")
        replies = [_reply(r) for r in listing.value]
    times: int | str | None = "default"
    if "times" in fields:
        raw = _plain(fields["times"])
        if raw is None or raw == "permanent":
            times = None
        elif isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1:
            times = raw
        else:
            raise _fail(fields["times"], f"rules[{index}].times must be a positive integer or 'permanent'")
    name = _scalar(fields["name"], (str,), "name") if "name" in fields else None
    return scripting.Rule.of(matcher, replies or None, times=times, name=name, fault=fault, latency=latency)


def _extra(fields: dict[str, yaml.Node], key: str, parse: Any) -> Any:
    """A rule's ``fault`` (DECISIONS 20 grammar) or ``latency`` (a profile), parsed by its module."""
    if key not in fields:
        return None
    try:
        return parse(_plain(fields[key]))
    except APIError as exc:
        raise _fail(fields[key], f"{key}: {exc.message}") from exc


def load_scenario(text: str) -> Scenario:
    """Parse and validate a scenario (YAML or JSON text).

    Raises:
        ScenarioError: the text is not valid YAML/JSON or breaks the schema (the message names the line).
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ScenarioError(
            f"line {line}: not valid YAML/JSON: {exc.problem or exc}",
            param="scenario",
            code="invalid_scenario",
        ) from exc
    if root is None:
        raise ScenarioError("line 1: the scenario is empty", param="scenario", code="invalid_scenario")
    fields = _mapping(root, "the scenario")
    unknown = set(fields) - {"strict", "rules"}
    if unknown:
        key = sorted(unknown)[0]
        raise _fail(fields[key], f"unknown top-level key '{key}' (expected strict, rules)")
    strict = _scalar(fields["strict"], (bool,), "strict") if "strict" in fields else False
    listing = fields.get("rules")
    built: list[scripting.Rule] = []
    if listing is not None:
        if not isinstance(listing, yaml.SequenceNode):
            raise _fail(listing, "rules must be a list")
        built = [_rule(node, i) for i, node in enumerate(listing.value)]
    return Scenario(built, bool(strict))


def load_scenario_file(path: str) -> Scenario:
    """Read and parse a scenario file (see :func:`load_scenario`); errors are prefixed with the path."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        return load_scenario(text)
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc.message}", param="scenario", code="invalid_scenario") from exc
