"""``tool_search``: deferred tools, hosted and client-executed search, namespaces (SPEC §11).

Tools with ``defer_loading: true`` (top-level functions, or functions inside a ``namespace``) are invisible
to the model and cost no input tokens (:mod:`mockserver.tokens`) until a ``tool_search_output`` in the
context loads them. The default model searches when the latest user text matches a deferred tool that is
not loaded yet (the same word rule as DECISIONS 15) and no search happened since that user message:

* **hosted** (``execution`` omitted or ``server``): the response holds a ``tool_search_call``
  (``arguments: {"paths": [...]}``, ``call_id: null``) and a ``tool_search_output`` with the loaded
  definitions, then the model goes on with what it loaded (a loaded top-level function is called in the
  namespace of its own name, as recorded);
* **client** (``execution: "client"``): the response ends with a ``tool_search_call`` (``execution:
  "client"``, a ``call_id``, arguments filled from the tool's ``parameters``); the client answers with a
  ``tool_search_output`` of the same ``call_id`` and the tools it chose, and the model continues with them
  (called in the default namespace, as recorded).

Ranking is deterministic: a deferred tool scores 3 when its name appears in the text, plus one per shared
distinctive word of its name and description (namespace members also count their namespace's words); the
best five with a positive score load, best first, ties in request order.

Errors: ``defer_loading`` without a ``tool_search`` tool, ``tool_search`` on a model before gpt-5.4
(chosen, DECISIONS 18), a ``function_call`` of a namespaced function sent back without its ``namespace`` and
an input item whose id is already in the context (observed wordings, vercel fixtures).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import generator
from .catalog import ModelInfo
from .errors import InvalidRequest

__all__ = [
    "MAX_LOADED",
    "SearchPlan",
    "check",
    "decide",
    "echo_tools",
    "output_items",
    "rank",
    "scripted",
    "search_tool",
    "visible_tools",
]

MAX_LOADED = 5
"""Most tools (or namespaces) one hosted search loads (chosen)."""


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """A tool search in a plan: the call item, and for hosted searches the output item with the tools."""

    execution: str
    arguments: Mapping[str, Any]
    tools: tuple[Mapping[str, Any], ...] | None = None
    """Loaded tools: emit a ``tool_search_output`` too (``None``: the call only)."""
    call: bool = True
    """Emit the ``tool_search_call`` (a scripted output item alone sets it ``False``)."""
    call_id: str | None = None

    @property
    def tokens(self) -> int:
        """Output tokens the search costs (its arguments; chosen: about four characters a token)."""
        return max(1, len(json.dumps(self.arguments)) // 4) if self.call else 0


# --- looking at the request ----------------------------------------------------------------------------


def search_tool(tools: Iterable[Any]) -> Mapping[str, Any] | None:
    """The request's ``tool_search`` tool, if any."""
    return next((t for t in tools if isinstance(t, Mapping) and t.get("type") == "tool_search"), None)


def _deferred(tool: Mapping[str, Any]) -> bool:
    return bool(tool.get("defer_loading"))


def _strip(tool: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in tool.items() if k != "defer_loading"}


def _loads(context: Sequence[Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    """(execution, tool) for every tool a ``tool_search_output`` in the context loaded."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    for item in context:
        if item.get("type") == "tool_search_output":
            execution = str(item.get("execution") or "server")
            for tool in item.get("tools") or ():
                if isinstance(tool, Mapping):
                    out.append((execution, tool))
    return out


def _wrapper(function: Mapping[str, Any]) -> dict[str, Any]:
    """A loaded top-level function lives in a namespace of its own name (recorded echo and calls)."""
    description = function.get("description")
    return {
        "type": "namespace",
        "name": function.get("name"),
        "description": description if isinstance(description, str) else "",
        "tools": [_strip(function)],
    }


def _loaded_views(
    context: Sequence[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]], set[str]]:
    """(namespaces to add, plain functions by name (client loads), names loaded in any form)."""
    spaces: dict[str, dict[str, Any]] = {}
    plain: dict[str, dict[str, Any]] = {}
    names: set[str] = set()
    for execution, tool in _loads(context):
        kind = tool.get("type")
        name = str(tool.get("name") or "")
        if kind == "namespace":
            space = spaces.setdefault(
                name,
                {
                    "type": "namespace",
                    "name": name,
                    "description": tool.get("description") or "",
                    "tools": [],
                },
            )
            for member in tool.get("tools") or ():
                if isinstance(member, Mapping) and member.get("name") not in {
                    m.get("name") for m in space["tools"]
                }:
                    space["tools"].append(_strip(member))
                    names.add(f"{name}.{member.get('name')}")
        elif kind in ("function", "custom"):
            names.add(name)
            if execution == "client":
                plain[name] = _strip(tool)
            spaces.setdefault(name, _wrapper(tool))
    return list(spaces.values()), plain, names


def visible_tools(tools: Sequence[Mapping[str, Any]], context: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The tools the model can call: the request's, plus what searches in the context loaded.

    Deferred tools stay in the list (the default model skips them); loaded ones are added as the recorded
    responses show them: hosted loads as namespaces, client loads also as plain functions.
    """
    if search_tool(tools) is None:
        return list(tools)
    spaces, plain, _ = _loaded_views(context)
    out: list[Any] = [plain.get(str(t.get("name")), t) if t.get("type") == "function" else t for t in tools]
    out.extend(plain[name] for name in plain if name not in {t.get("name") for t in tools})
    out.extend(s for s in spaces if s["name"] not in plain)  # client loads are called without namespace
    return out


def echo_tools(
    tools: Sequence[Mapping[str, Any]],
    context: Sequence[Mapping[str, Any]],
    echo: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> list[dict[str, Any]]:
    """``response.tools`` of a request with ``tool_search`` (recorded order): function tools first, then the
    other tools (``tool_search`` with ``description``/``parameters`` null), then loaded namespaces. A
    function a hosted search loaded leaves its place for its namespace; a client-loaded one stays, plain."""
    spaces, plain, names = _loaded_views(context)
    functions: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for tool in tools:
        kind = tool.get("type")
        name = str(tool.get("name") or "")
        if kind == "function":
            if name in plain:
                functions.append(echo(plain[name]))
            elif not (name in names and _deferred(tool)):
                functions.append(echo(tool))
        elif kind == "tool_search":
            shown: dict[str, Any] = {"type": "tool_search", "description": tool.get("description")}
            if tool.get("execution") is not None:
                shown["execution"] = tool["execution"]
            shown["parameters"] = tool.get("parameters")
            others.append(shown)
        else:
            others.append(echo(tool))
    return functions + others + [dict(space) for space in spaces]


# --- checks ---------------------------------------------------------------------------------------------


def check(
    request: Mapping[str, Any],
    model: ModelInfo,
    history: Sequence[Mapping[str, Any]],
    input_items: Sequence[Mapping[str, Any]],
) -> None:
    """The request-level tool-search errors (see the module docstring).

    Raises:
        InvalidRequest: the first problem.
    """
    tools = [t for t in request.get("tools") or () if isinstance(t, Mapping)]
    search = search_tool(tools)
    if search is not None and not model.tool_search:
        # SPEC §11: tool_search exists from gpt-5.4 on (chosen wording, docs/errors.md).
        raise InvalidRequest(
            f"The 'tool_search' tool is not supported with the model '{model.name}'. "
            "Tool search requires gpt-5.4 or later.",
            param="tools",
            code="unsupported_value",
        )
    if search is None:
        for index, tool in enumerate(tools):
            members = tool.get("tools") if tool.get("type") == "namespace" else None
            deferred = _deferred(tool) or any(isinstance(m, Mapping) and _deferred(m) for m in members or ())
            if deferred:
                # SPEC §11 [UNDOC] recommends 400 param "tools" (chosen wording, docs/errors.md).
                raise InvalidRequest(
                    f"Invalid 'tools[{index}]': tools with 'defer_loading: true' require a 'tool_search' "
                    "tool in 'tools'.",
                    param="tools",
                )
    raw = request.get("input")
    sent = raw if isinstance(raw, list) else []
    # The history's ids are collected only when the input sends an id of its own (O(chain) otherwise).
    sends_ids = any(
        isinstance(i, Mapping) and isinstance(i.get("id"), str) and i.get("type") != "item_reference"
        for i in sent
    )
    seen = {str(i["id"]) for i in history if isinstance(i.get("id"), str)} if sends_ids else set()
    for item in sent:
        item_id = item.get("id") if isinstance(item, Mapping) else None
        if isinstance(item_id, str) and item.get("type") != "item_reference":
            if item_id in seen:
                # Observed (vercel openai-tool-search-duplicate-item-error.1.json).
                raise InvalidRequest(
                    f"Duplicate item found with id {item_id}. Remove duplicate items from your input and "
                    "try again.",
                    param="input",
                )
            seen.add(item_id)
    _check_namespaces(tools, [*history, *input_items], len(history))


def _check_namespaces(
    tools: Sequence[Mapping[str, Any]], context: Sequence[Mapping[str, Any]], offset: int
) -> None:
    """A call of a namespaced function needs its ``namespace`` (observed: vercel
    ``openai-missing-function-call-namespace-error.1.json``)."""
    default: set[str] = set()
    namespaced: set[str] = set()
    for tool in tools:
        if tool.get("type") == "function":
            (namespaced if _deferred(tool) else default).add(str(tool.get("name")))
        elif tool.get("type") == "namespace":
            namespaced.update(str(m.get("name")) for m in tool.get("tools") or () if isinstance(m, Mapping))
    if not namespaced:
        return  # nothing namespaced: no call can lack its namespace (and no need to scan the context)
    _, plain, _ = _loaded_views(context)
    default.update(plain)
    if not namespaced - default:
        return
    for index in range(offset, len(context)):
        item = context[index]
        if item.get("type") != "function_call" or item.get("namespace"):
            continue
        name = str(item.get("name"))
        if name in namespaced and name not in default:
            raise InvalidRequest(
                f"Missing namespace for function_call '{name}'. It does not exist in the default namespace. "
                "Round-trip the model's function_call item with its namespace field included.",
                param=f"input[{index - offset}].namespace",
            )


# --- the default model's search ---------------------------------------------------------------------------


def _score(tool: Mapping[str, Any], text: str, words: frozenset[str], extra: str = "") -> int:
    name = str(tool.get("name") or "")
    mentioned = bool(name) and (
        name.lower() in text.lower() or name.replace("_", " ").lower() in text.lower()
    )
    description = tool.get("description") if isinstance(tool.get("description"), str) else ""
    own = generator.words(name.replace("_", " ")) | generator.words(str(description)) | generator.words(extra)
    return (3 if mentioned else 0) + len(own & words)


def rank(
    tools: Sequence[Mapping[str, Any]], text: str, loaded: set[str]
) -> list[tuple[str, Mapping[str, Any]]]:
    """Deferred, not yet loaded tools matching ``text``, best first: ``(path, tool to load)``.

    A namespace loads as a copy holding only its matching deferred members (its path is its name).
    """
    words = generator.words(text)
    scored: list[tuple[int, int, str, Mapping[str, Any]]] = []
    for order, tool in enumerate(tools):
        kind = tool.get("type")
        if kind == "function" and _deferred(tool) and str(tool.get("name")) not in loaded:
            score = _score(tool, text, words)
            if score > 0:
                scored.append((-score, order, str(tool.get("name")), tool))
        elif kind == "namespace":
            space = str(tool.get("name") or "")
            context = f"{space.replace('_', ' ')} {tool.get('description') or ''}"
            hits = [
                (_score(m, text, words, context), m)
                for m in tool.get("tools") or ()
                if isinstance(m, Mapping) and _deferred(m) and f"{space}.{m.get('name')}" not in loaded
            ]
            hits = [
                (s, m) for s, m in hits if s > len(generator.words(context) & words)
            ]  # the member itself matched
            if hits:
                best = max(s for s, _ in hits)
                copy = {**tool, "tools": [m for _, m in hits]}
                scored.append((-best, order, space, copy))
    scored.sort(key=lambda entry: (entry[0], entry[1]))
    return [(path, tool) for _, _, path, tool in scored[:MAX_LOADED]]


def _searched_since_user(context: Sequence[Mapping[str, Any]]) -> bool:
    for item in reversed(context):
        if item.get("role") == "user" and item.get("type", "message") == "message":
            return False
        if item.get("type") in ("tool_search_call", "tool_search_output"):
            return True
    return False


def _client_arguments(search: Mapping[str, Any], text: str, seed: int) -> dict[str, Any]:
    """Arguments for a client-executed search: the tool's ``parameters`` filled with the user's request."""
    goal = " ".join(text.split())[:200] or "the user's request"
    schema = search.get("parameters")
    if not isinstance(schema, Mapping) or not isinstance(schema.get("properties"), Mapping):
        return {"query": goal}
    values: dict[str, Any] = {}
    rng = generator.Draws(seed)
    for name, sub in schema["properties"].items():
        sub_map = sub if isinstance(sub, Mapping) else {}
        values[name] = (
            goal
            if sub_map.get("type", "string") == "string" and "enum" not in sub_map
            else (generator.value_for_schema(sub_map, text, rng))
        )
    return values


def decide(turn: generator.TurnInput) -> generator.Plan:
    """The default model's plan with tool search: search first when a deferred tool is needed, then (hosted)
    go on with the loaded tools; otherwise :func:`generator.decide` over the visible tools."""
    search = search_tool(turn.tools)
    if search is None:
        return generator.decide(turn)  # nothing to search: the request's tools are the visible ones
    visible = visible_tools(turn.tools, turn.context)
    if search is None or turn.tool_choice == "none" or _searched_since_user(turn.context):
        return generator.decide(dataclasses.replace(turn, tools=visible))
    text = generator.last_user_text(turn.context)
    _, _, loaded = _loaded_views(turn.context)
    found = rank(turn.tools, text, loaded)
    client = search.get("execution") == "client"
    if not found and not (client and text and not any(_deferred(t) for t in turn.tools)):
        return generator.decide(dataclasses.replace(turn, tools=visible))
    if client:
        plan = generator.decide(dataclasses.replace(turn, tools=(), text_format=None))
        reasoning_items = [p for p in plan.items if isinstance(p, generator.ReasoningPlan)]
        planned = SearchPlan("client", _client_arguments(search, text, turn.seed))
        return generator.Plan([*reasoning_items, planned])  # type: ignore[list-item]
    tools = tuple(
        _wrapper(t) if t.get("type") == "function" else {**t, "tools": [_strip(m) for m in t["tools"]]}
        for _, t in found
    )
    loaded_tools = tuple(t for _, t in found)
    planned = SearchPlan("server", {"paths": [path for path, _ in found]}, loaded_tools)
    plan = generator.decide(dataclasses.replace(turn, tools=[*visible, *tools]))
    # Recorded hosted searches go straight from the loaded tools to the call (no commentary message).
    plan.items = [
        p for p in plan.items if not (isinstance(p, generator.MessagePlan) and p.phase == "commentary")
    ]
    at = next(
        (i for i, p in enumerate(plan.items) if not isinstance(p, generator.ReasoningPlan)), len(plan.items)
    )
    plan.items.insert(at, planned)  # type: ignore[arg-type]
    return plan


def scripted(item: Mapping[str, Any]) -> SearchPlan:
    """A scripted reply's ``tool_search_call`` / ``tool_search_output`` item (``OutputReply``)."""
    execution = str(item.get("execution") or "server")
    if item.get("type") == "tool_search_output":
        tools = tuple(t for t in item.get("tools") or () if isinstance(t, Mapping))
        return SearchPlan(execution, {}, tools, call=False, call_id=item.get("call_id"))
    arguments = item.get("arguments")
    return SearchPlan(
        execution, arguments if isinstance(arguments, Mapping) else {}, None, call_id=item.get("call_id")
    )


def output_items(
    planned: SearchPlan, new_id: Callable[[str], str], new_call_id: Callable[[], str]
) -> list[dict[str, Any]]:
    """The output items of a planned search, in the recorded field order."""
    call_id = planned.call_id
    if call_id is None and planned.execution == "client" and planned.call:
        call_id = new_call_id()
    out: list[dict[str, Any]] = []
    if planned.call:
        out.append(
            {
                "id": new_id("tsc"),
                "type": "tool_search_call",
                "status": "completed",
                "arguments": dict(planned.arguments),
                "call_id": call_id,
                "execution": planned.execution,
            }
        )
    if planned.tools is not None:
        out.append(
            {
                "id": new_id("tso"),
                "type": "tool_search_output",
                "status": "completed",
                "call_id": call_id,
                "execution": planned.execution,
                "tools": [dict(t) for t in planned.tools],
            }
        )
    return out
