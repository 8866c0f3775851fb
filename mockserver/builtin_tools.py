"""Built-in (hosted and client-side) tool calls: item shapes, default results and stream events.

A scripted reply lists built-in tool items in its ``output`` in a short JSON form (``{"type":
"web_search_call", "query": "..."}``); :func:`build_item` turns that form into the exact item real traffic
shows (SPEC §4.5, the "Hosted tools" recordings of ../shared/real-traffic), filling deterministic defaults
and honouring the ``include[]`` options that add sources, results and outputs. :func:`item_events` streams
each item with its event family (``response.web_search_call.searching``, ``...code.delta`` ...).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidRequest
from .generator import MessagePlan

__all__ = [
    "ITEM_TYPES",
    "TOOL_TYPES",
    "AnnotatedMessagePlan",
    "Context",
    "ToolItemPlan",
    "annotations_of",
    "build_item",
    "has_events",
    "item_events",
    "message_plan",
    "over_limit",
    "tool_names",
    "with_hint",
]

# Item type -> id prefix (observed: ws_, fs_, ci_, ig_, mcpl_, mcp_, mcpr_, sh_, sho_, apc_, lsh_; cu_ and
# ctc_ follow the SDK docs' examples).
ITEM_TYPES: dict[str, str] = {
    "web_search_call": "ws",
    "file_search_call": "fs",
    "code_interpreter_call": "ci",
    "image_generation_call": "ig",
    "mcp_list_tools": "mcpl",
    "mcp_call": "mcp",
    "mcp_approval_request": "mcpr",
    "shell_call": "sh",
    "shell_call_output": "sho",
    "local_shell_call": "lsh",
    "apply_patch_call": "apc",
    "computer_call": "cu",
    "custom_tool_call": "ctc",
}

# Tool type (request ``tools[].type``) -> the item type a call of it produces.
TOOL_TYPES: dict[str, str] = {
    "web_search": "web_search_call",
    "web_search_preview": "web_search_call",
    "web_search_2025_08_26": "web_search_call",
    "web_search_preview_2025_03_11": "web_search_call",
    "file_search": "file_search_call",
    "code_interpreter": "code_interpreter_call",
    "image_generation": "image_generation_call",
    "mcp": "mcp_call",
    "shell": "shell_call",
    "local_shell": "local_shell_call",
    "apply_patch": "apply_patch_call",
    "computer": "computer_call",
    "computer_use_preview": "computer_call",
    "custom": "custom_tool_call",
}

# A 1x1 transparent PNG: the deterministic default image (valid base64 any decoder accepts).
_PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


@dataclass(frozen=True, slots=True)
class ToolItemPlan:
    """A built-in tool item the model emits, in its short JSON form (see :func:`build_item`)."""

    spec: Mapping[str, Any]
    """``{"type": "<item type>", ...fields}``."""
    tokens: int = 16
    """Output tokens the call costs (the model writes the query/code/arguments)."""
    hint: str = ""
    """The latest user text, for default queries and commands (set by :func:`with_hint`)."""


# Items that are not calls of their own: they do not count against ``max_tool_calls``.
_NOT_CALLS = frozenset({"mcp_list_tools", "shell_call_output", "mcp_approval_request"})


def with_hint(plan: Any, text: str) -> None:
    """Give the plan's built-in tool items the user's text for their defaults."""
    plan.items = [dataclasses.replace(p, hint=text) if isinstance(p, ToolItemPlan) else p for p in plan.items]


def over_limit(output: Sequence[Mapping[str, Any]], item: Mapping[str, Any], limit: Any) -> bool:
    """Whether ``item`` would exceed ``max_tool_calls`` built-in calls in this response."""
    if not isinstance(limit, int) or item.get("type") in _NOT_CALLS:
        return False
    made = sum(1 for i in output if i.get("type") in ITEM_TYPES and i.get("type") not in _NOT_CALLS)
    return made >= limit


@dataclass
class Context:
    """What item builders read from the request."""

    request: Mapping[str, Any]
    new_id: Callable[[str], str]
    call_id: Callable[[], str]
    hint: str = ""
    """The latest user text (default queries, prompts and commands derive from it)."""
    last_call_id: str | None = None
    include: frozenset[str] = field(default_factory=frozenset)


def tool_names(tool: Mapping[str, Any]) -> tuple[str, ...]:
    """Names a ``tool_choice``/rule can refer to a tool by: its type, and its name or server label."""
    names = [str(tool.get("type"))]
    for key in ("name", "server_label"):
        if isinstance(tool.get(key), str):
            names.append(tool[key])
    return tuple(names)


def _tool(request: Mapping[str, Any], *types: str) -> Mapping[str, Any]:
    for tool in request.get("tools") or ():
        if isinstance(tool, Mapping) and tool.get("type") in types:
            return tool
    return {}


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def _arguments(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def build_item(spec: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    """The output item for a scripted built-in tool call, defaults filled deterministically.

    Raises:
        InvalidRequest: unknown item type or a field of the wrong kind.
    """
    kind = str(spec.get("type"))
    prefix = ITEM_TYPES.get(kind)
    if prefix is None:
        raise InvalidRequest(f"Unsupported scripted output item type '{kind}'.", param="reply")
    builder = _BUILDERS[kind]
    item = builder(spec, ctx)
    return {"id": str(spec.get("id") or ctx.new_id(prefix)), "type": kind, **item}


def _web_search(spec: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    given = spec.get("action")
    action: dict[str, Any]
    if isinstance(given, Mapping):  # the real item's shape (search, open_page, find_in_page)
        action = {k: v for k, v in given.items() if k != "sources"}
        query = str(given.get("query") or "")
        if given.get("type", "search") != "search":
            return {"status": spec.get("status", "completed"), "action": action}
        spec = {**spec, "sources": given.get("sources", spec.get("sources"))}
    else:
        query = str(spec.get("query") or ctx.hint[:80] or "search")
        action = {"type": "search", "queries": list(spec.get("queries") or [query]), "query": query}
    if "web_search_call.action.sources" in ctx.include:
        sources = spec.get("sources")
        if sources is None:
            slug = _digest("ws", query)[:8]
            sources = [{"type": "url", "url": f"https://example.com/{slug}"}]
        action["sources"] = list(sources)
    return {"status": spec.get("status", "completed"), "action": action}


def _file_search(spec: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    queries = list(spec.get("queries") or [ctx.hint[:80] or "search"])
    results = None
    if "file_search_call.results" in ctx.include:  # results are only returned when asked for (SDK docs)
        results = spec.get("results")
        if results is None:
            stores = _tool(ctx.request, "file_search").get("vector_store_ids") or ["vs_default"]
            digest = _digest("fs", queries[0], stores[0])
            results = [
                {
                    "attributes": {},
                    "file_id": f"file-{digest[:22]}",
                    "filename": "document.txt",
                    "score": 0.9,
                    "text": f"Passage relevant to: {queries[0]}",
                }
            ]
    return {"status": spec.get("status", "completed"), "queries": queries, "results": results}


def _code_interpreter(spec: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    code = str(spec.get("code") or f"print({ctx.hint[:60]!r})")
    container = _tool(ctx.request, "code_interpreter").get("container")
    container_id = spec.get("container_id") or (
        container if isinstance(container, str) else "cntr_" + _digest("ci", code)[:48]
    )
    outputs = None
    if "code_interpreter_call.outputs" in ctx.include:
        outputs = spec.get("outputs")
        if outputs is None:
            outputs = [{"type": "logs", "logs": ctx.hint[:60] + "\n"}]
    return {
        "status": spec.get("status", "completed"),
        "code": code,
        "container_id": container_id,
        "outputs": outputs,
    }


def _image_generation(spec: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    tool = _tool(ctx.request, "image_generation")
    return {
        "status": spec.get("status", "completed"),
        "background": spec.get(
            "background", "opaque" if tool.get("background") in (None, "auto") else tool["background"]
        ),
        "output_format": spec.get("output_format", tool.get("output_format") or "png"),
        "quality": spec.get("quality", "high" if tool.get("quality") in (None, "auto") else tool["quality"]),
        "result": spec.get("result", _PNG_1X1),
        "revised_prompt": spec.get("revised_prompt", ctx.hint or "An image."),
        "size": spec.get("size", "1024x1024" if tool.get("size") in (None, "auto") else tool["size"]),
    }


def _server_label(spec: Mapping[str, Any], ctx: Context) -> str:
    return str(spec.get("server_label") or _tool(ctx.request, "mcp").get("server_label") or "mcp")


def _mcp_list_tools(spec: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    tools = spec.get("tools")
    if tools is None:
        allowed = _tool(ctx.request, "mcp").get("allowed_tools")
        names = allowed if isinstance(allowed, list) and allowed else ["search"]
        tools = [
            {
                "annotations": {"read_only": False},
                "description": f"The {name} tool.",
                "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
                "name": str(name),
            }
            for name in names
        ]
    return {"server_label": _server_label(spec, ctx), "tools": list(tools)}


def _mcp_call(spec: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    error = spec.get("error")
    if isinstance(error, str):  # SDK McpToolCallError: a tool failure carries its content
        error = {"type": "mcp_tool_execution_error", "content": [{"type": "text", "text": error}]}
    return {
        "status": spec.get("status", "failed" if error else "completed"),
        "approval_request_id": spec.get("approval_request_id"),
        "arguments": _arguments(spec.get("arguments", {"query": ctx.hint[:80]})),
        "error": error,
        "name": str(spec.get("name") or "search"),
        "output": None if error else spec.get("output", f"Result for: {ctx.hint[:80]}"),
        "server_label": _server_label(spec, ctx),
    }


def _mcp_approval_request(spec: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    return {
        "arguments": _arguments(spec.get("arguments", {"query": ctx.hint[:80]})),
        "name": str(spec.get("name") or "search"),
        "server_label": _server_label(spec, ctx),
    }


def _shell_call(spec: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    call_id = str(spec.get("call_id") or ctx.call_id())
    ctx.last_call_id = call_id
    tool = _tool(ctx.request, "shell")
    environment = spec.get("environment")
    if environment is None:
        env = tool.get("environment")
        if isinstance(env, Mapping) and env.get("type") == "container_auto":
            environment = {
                "type": "container_reference",
                "container_id": "cntr_" + _digest("sh", call_id)[:32],
            }
        elif isinstance(env, Mapping) and env.get("type") == "container_reference":
            environment = dict(env)
        else:
            environment = {"type": "local"}
    raw_action = spec.get("action")
    given: Mapping[str, Any] = raw_action if isinstance(raw_action, Mapping) else {}
    commands = spec.get("commands") or given.get("commands") or _skill_commands(tool, ctx.hint)
    return {
        "status": spec.get("status", "completed"),
        "action": {
            "commands": [str(c) for c in commands],
            "max_output_length": spec.get("max_output_length", given.get("max_output_length")),
            "timeout_ms": spec.get("timeout_ms", given.get("timeout_ms")),
        },
        "call_id": call_id,
        "environment": environment,
    }


def _skill_commands(tool: Mapping[str, Any], hint: str) -> list[str]:
    """The default shell command: open the skill the user names (or the first), else echo the request.

    Skills (SDK ``ContainerAuto.skills`` / ``LocalEnvironment.skills``): hosted containers mount them under
    ``/home/oai/skills/<name>-<hash>`` (vercel openai-shell-skills.1 lists such a folder first); a local
    skill is read from its ``path``.
    """
    env = tool.get("environment")
    skills = (
        [s for s in (env.get("skills") or ()) if isinstance(s, Mapping)] if isinstance(env, Mapping) else []
    )
    if not skills:
        return ["echo " + json.dumps(hint[:40] or "ok")]
    low = hint.lower()
    named = [s for s in skills if str(s.get("name") or s.get("skill_id") or "").lower() in low]
    skill = (named or skills)[0]
    if isinstance(env, Mapping) and env.get("type") == "local":
        return [f"cat {skill.get('path', '.')}/SKILL.md"]
    name = str(skill.get("name") or skill.get("skill_id") or "skill")
    return [f"ls -R /home/oai/skills/{name}-{_digest('skill', name)[:32]}"]


def _shell_call_output(spec: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    output = spec.get("output")
    if output is None:
        output = [{"outcome": {"type": "exit", "exit_code": 0}, "stderr": "", "stdout": "ok\n"}]
    return {
        "status": spec.get("status", "completed"),
        "call_id": str(spec.get("call_id") or ctx.last_call_id or ctx.call_id()),
        "max_output_length": spec.get("max_output_length"),
        "output": list(output),
    }


def _local_shell_call(spec: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    given = spec.get("action")
    if isinstance(given, Mapping):
        action = dict(given)
    else:
        command = spec.get("command") or ["echo", ctx.hint[:40] or "ok"]
        action = {"type": "exec", "command": [str(c) for c in command], "env": dict(spec.get("env") or {})}
    return {
        "status": spec.get("status", "completed"),
        "action": action,
        "call_id": str(spec.get("call_id") or ctx.call_id()),
    }


def _apply_patch_call(spec: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    operation = spec.get("operation") or {
        "type": "create_file",
        "diff": "+" + (ctx.hint[:60] or "hello") + "\n",
        "path": "notes.md",
    }
    return {
        "status": spec.get("status", "completed"),
        "call_id": str(spec.get("call_id") or ctx.call_id()),
        "operation": dict(operation),
    }


def _computer_call(spec: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    item: dict[str, Any] = {
        "status": spec.get("status", "completed"),
        "call_id": str(spec.get("call_id") or ctx.call_id()),
        "pending_safety_checks": list(spec.get("pending_safety_checks") or []),
    }
    if "actions" in spec:  # GA computer tool: a batch of actions
        item["actions"] = list(spec["actions"])
    else:
        item["action"] = dict(spec.get("action") or {"type": "screenshot"})
    return item


def _custom_tool_call(spec: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
    name = spec.get("name") or _tool(ctx.request, "custom").get("name") or "custom"
    # ResponseCustomToolCall (output) has no status, unlike the stored ResponseCustomToolCallItem.
    return {
        "call_id": str(spec.get("call_id") or ctx.call_id()),
        "input": str(spec.get("input", ctx.hint)),
        "name": str(name),
    }


_BUILDERS: dict[str, Callable[[Mapping[str, Any], Context], dict[str, Any]]] = {
    "web_search_call": _web_search,
    "file_search_call": _file_search,
    "code_interpreter_call": _code_interpreter,
    "image_generation_call": _image_generation,
    "mcp_list_tools": _mcp_list_tools,
    "mcp_call": _mcp_call,
    "mcp_approval_request": _mcp_approval_request,
    "shell_call": _shell_call,
    "shell_call_output": _shell_call_output,
    "local_shell_call": _local_shell_call,
    "apply_patch_call": _apply_patch_call,
    "computer_call": _computer_call,
    "custom_tool_call": _custom_tool_call,
}


# --- stream events -------------------------------------------------------------------------------------

Obfuscator = Callable[[str], str]
Chunker = Callable[[str], list[str]]

_PHASES = {
    "web_search_call": ("in_progress", "searching", "completed"),
    "file_search_call": ("in_progress", "searching", "completed"),
}


def has_events(kind: Any) -> bool:
    """Whether :func:`item_events` streams this item type with its own event family."""
    return kind in _EVENTS


def item_events(
    item: Mapping[str, Any],
    index: int,
    obfuscate: Obfuscator | None,
    chunk: Chunker,
    partial_images: int = 0,
) -> list[dict[str, Any]]:
    """The events of one built-in tool item, from ``output_item.added`` to ``output_item.done``, without
    ``sequence_number`` (the caller numbers them). Shapes follow the recordings (SPEC §4.5)."""
    return _EVENTS[str(item["type"])](item, index, obfuscate, chunk, partial_images)


def _ev(kind: str, item: Mapping[str, Any], index: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "item_id": item["id"], "output_index": index, **fields}


def _added(item: Mapping[str, Any], index: int, shown: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "response.output_item.added", "output_index": index, "item": dict(shown)}


def _done(item: Mapping[str, Any], index: int) -> dict[str, Any]:
    return {"type": "response.output_item.done", "output_index": index, "item": dict(item)}


def _deltas(
    kind: str, text: str, base: Mapping[str, Any], obfuscate: Obfuscator | None, chunk: Chunker
) -> list[dict[str, Any]]:
    out = []
    for piece in chunk(text):
        event = {"type": kind, **base, "delta": piece}
        if obfuscate is not None:
            event["obfuscation"] = obfuscate(piece)
        out.append(event)
    return out


def _search_events(
    item: Mapping[str, Any], index: int, obf: Obfuscator | None, chunk: Chunker, _: int
) -> list[dict[str, Any]]:
    kind = str(item["type"])
    shown: dict[str, Any] = {"id": item["id"], "type": kind, "status": "in_progress"}
    if kind == "file_search_call":
        shown.update(queries=[], results=None)  # observed: queries fill in only at done
    family = "response." + kind
    return [
        _added(item, index, shown),
        *(_ev(f"{family}.{phase}", item, index) for phase in _PHASES[kind]),
        _done(item, index),
    ]


def _code_events(
    item: Mapping[str, Any], index: int, obf: Obfuscator | None, chunk: Chunker, _: int
) -> list[dict[str, Any]]:
    shown = {**item, "status": "in_progress", "code": "", "outputs": []}
    where = {"item_id": item["id"], "output_index": index}
    return [
        _added(item, index, shown),
        _ev("response.code_interpreter_call.in_progress", item, index),
        *_deltas("response.code_interpreter_call_code.delta", str(item["code"]), where, obf, chunk),
        _ev("response.code_interpreter_call_code.done", item, index, code=item["code"]),
        _ev("response.code_interpreter_call.interpreting", item, index),
        _ev("response.code_interpreter_call.completed", item, index),
        _done(item, index),
    ]


def _image_events(
    item: Mapping[str, Any], index: int, obf: Obfuscator | None, chunk: Chunker, partial: int
) -> list[dict[str, Any]]:
    out = [
        _added(item, index, {"id": item["id"], "type": item["type"], "status": "in_progress"}),
        _ev("response.image_generation_call.in_progress", item, index),
        _ev("response.image_generation_call.generating", item, index),
    ]
    for n in range(partial):  # the tool's partial_images (0-3); each carries the image so far
        out.append(
            _ev(
                "response.image_generation_call.partial_image",
                item,
                index,
                partial_image_index=n,
                partial_image_b64=item.get("result") or "",
                size=item.get("size"),
                quality=item.get("quality"),
                background=item.get("background"),
                output_format=item.get("output_format"),
            )
        )
    out.append(_ev("response.image_generation_call.completed", item, index))
    out.append(_done(item, index))
    return out


def _mcp_list_events(
    item: Mapping[str, Any], index: int, obf: Obfuscator | None, chunk: Chunker, _: int
) -> list[dict[str, Any]]:
    failed = item.get("error") is not None
    return [
        _added(item, index, {**item, "tools": []}),
        _ev("response.mcp_list_tools.in_progress", item, index),
        _ev("response.mcp_list_tools.failed" if failed else "response.mcp_list_tools.completed", item, index),
        _done(item, index),
    ]


def _mcp_call_events(
    item: Mapping[str, Any], index: int, obf: Obfuscator | None, chunk: Chunker, _: int
) -> list[dict[str, Any]]:
    arguments = str(item["arguments"])
    shown = {**item, "status": "in_progress", "arguments": "", "error": None, "output": None}
    where = {"item_id": item["id"], "output_index": index}
    failed = item.get("status") == "failed"
    return [
        _added(item, index, shown),
        _ev("response.mcp_call.in_progress", item, index),
        # observed: the arguments arrive in one delta
        *_deltas("response.mcp_call_arguments.delta", arguments, where, obf, lambda s: [s]),
        # observed (vercel openai-mcp-tool-approval.4): an approved call reports in_progress again
        *([_ev("response.mcp_call.in_progress", item, index)] if item.get("approval_request_id") else []),
        _ev("response.mcp_call_arguments.done", item, index, arguments=arguments),
        _ev("response.mcp_call.failed" if failed else "response.mcp_call.completed", item, index),
        _done(item, index),
    ]


def _shell_call_events(
    item: Mapping[str, Any], index: int, obf: Obfuscator | None, chunk: Chunker, _: int
) -> list[dict[str, Any]]:
    action = dict(item["action"])
    commands: Sequence[str] = action["commands"]
    out = [_added(item, index, {**item, "status": "in_progress", "action": {**action, "commands": []}})]
    for c_index, command in enumerate(commands):
        base = {"command_index": c_index, "output_index": index}  # observed: no item_id on these
        out.append({"type": "response.shell_call_command.added", "command": "", **base})
        out.extend(_deltas("response.shell_call_command.delta", command, base, obf, chunk))
        out.append({"type": "response.shell_call_command.done", "command": command, **base})
    out.append(_done(item, index))
    return out


def _shell_output_events(
    item: Mapping[str, Any], index: int, obf: Obfuscator | None, chunk: Chunker, _: int
) -> list[dict[str, Any]]:
    out = [_added(item, index, {**item, "output": []})]
    for c_index, entry in enumerate(item["output"]):
        delta = {k: entry[k] for k in ("stdout", "stderr") if entry.get(k)}
        base = {"command_index": c_index, "item_id": item["id"], "output_index": index}
        out.append(
            {"type": "response.shell_call_output_content.delta", **base, "delta": delta or {"stdout": ""}}
        )
        out.append({"type": "response.shell_call_output_content.done", **base, "output": [entry]})
    out.append(_done(item, index))
    return out


def _apply_patch_events(
    item: Mapping[str, Any], index: int, obf: Obfuscator | None, chunk: Chunker, _: int
) -> list[dict[str, Any]]:
    # Real traffic (vercel openai-apply-patch-tool.1) streams response.apply_patch_call_operation_diff.*
    # between added and done, but openai 3.51.0 has no such event types and its strict stream validation
    # rejects them, so only the item's added (diff still empty, as observed) and done are sent.
    operation = dict(item["operation"])
    if "diff" in operation:
        operation["diff"] = ""
    return [
        _added(item, index, {**item, "status": "in_progress", "operation": operation}),
        _done(item, index),
    ]


def _custom_events(
    item: Mapping[str, Any], index: int, obf: Obfuscator | None, chunk: Chunker, _: int
) -> list[dict[str, Any]]:
    where = {"item_id": item["id"], "output_index": index}
    return [
        _added(item, index, {**item, "input": ""}),
        *_deltas("response.custom_tool_call_input.delta", str(item["input"]), where, obf, chunk),
        _ev("response.custom_tool_call_input.done", item, index, input=item["input"]),
        _done(item, index),
    ]


_EVENTS: dict[
    str, Callable[[Mapping[str, Any], int, Obfuscator | None, Chunker, int], list[dict[str, Any]]]
] = {
    "web_search_call": _search_events,
    "file_search_call": _search_events,
    "code_interpreter_call": _code_events,
    "image_generation_call": _image_events,
    "mcp_list_tools": _mcp_list_events,
    "mcp_call": _mcp_call_events,
    "shell_call": _shell_call_events,
    "shell_call_output": _shell_output_events,
    "apply_patch_call": _apply_patch_events,
    "custom_tool_call": _custom_events,
}


# --- the default model's built-in tool policy (DECISIONS 15 extended to built-in tools) ------------------

# Words in the user's text that make ``tool_choice: "auto"`` use a built-in tool (chosen, DECISIONS 15).
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "web_search_call": ("search", "web", "latest", "news", "look up", "online"),
    "file_search_call": ("file", "document", "docs", "vector store"),
    "code_interpreter_call": ("python", "code", "calculate", "compute", "plot", "chart"),
    "image_generation_call": ("image", "picture", "draw", "photo", "illustration"),
    "shell_call": ("shell", "command", "terminal", "run "),
    "local_shell_call": ("shell", "command", "terminal", "run "),
    "apply_patch_call": ("patch", "edit", "modify", "create a file"),
    "computer_call": ("screen", "click", "browser", "screenshot"),
}

# Tools the server runs itself: the model answers in the same response. The others wait for the client.
_HOSTED = frozenset({"web_search_call", "file_search_call", "code_interpreter_call", "image_generation_call"})
_CLIENT_OUTPUTS = frozenset(
    {
        "shell_call_output",
        "local_shell_call_output",
        "apply_patch_call_output",
        "computer_call_output",
        "custom_tool_call_output",
        "mcp_approval_response",
    }
)
_TOOL_CHOICE_TYPES = frozenset(TOOL_TYPES) | {"mcp", "custom"}


def _builtin_tools(request: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [
        t
        for t in request.get("tools") or ()
        if isinstance(t, Mapping) and t.get("type") in TOOL_TYPES and not t.get("defer_loading")
    ]


def _choice_names(choice: Mapping[str, Any]) -> str:
    return str(choice.get("name") or choice.get("server_label") or choice.get("type"))


def _matches_choice(tool: Mapping[str, Any], choice: Mapping[str, Any]) -> bool:
    kind = choice.get("type")
    if kind in ("function", "custom"):
        return tool.get("type") == kind and tool.get("name") == choice.get("name")
    if kind == "mcp":
        return tool.get("type") == "mcp" and tool.get("server_label") == choice.get("server_label")
    return TOOL_TYPES.get(str(tool.get("type"))) == TOOL_TYPES.get(str(kind)) and kind in TOOL_TYPES


def check_tool_choice(request: Mapping[str, Any]) -> None:
    """The real errors for ``tool_choice`` forms that the ``tools`` do not allow (SPEC §16, DECISIONS 18).

    Observed: ``Tool choice 'web_search' not found in 'tools' parameter.`` (param ``tool_choice``); the
    same wording is used for every named tool, and for ``required`` without tools (chosen, docs/errors.md).

    Raises:
        InvalidRequest: the choice names a tool the request does not offer.
    """
    choice = request.get("tool_choice")
    tools = [t for t in request.get("tools") or () if isinstance(t, Mapping)]
    if choice == "required" and not tools:
        raise InvalidRequest(
            "Tool choice 'required' must be specified with 'tools' parameter.", param="tool_choice"
        )
    if not isinstance(choice, Mapping):
        return
    wanted = list(choice.get("tools") or ()) if choice.get("type") == "allowed_tools" else [choice]
    for entry in wanted:
        if not isinstance(entry, Mapping):
            continue
        if entry.get("type") not in _TOOL_CHOICE_TYPES and entry.get("type") != "function":
            continue
        if not any(_matches_choice(t, entry) for t in tools):
            raise InvalidRequest(
                f"Tool choice '{_choice_names(entry)}' not found in 'tools' parameter.", param="tool_choice"
            )


def _mentioned(tool: Mapping[str, Any], item_type: str, text: str) -> bool:
    low = text.lower()
    for key in ("name", "server_label"):
        value = tool.get(key)
        if isinstance(value, str) and (value.lower() in low or value.lower().replace("_", " ") in low):
            return True
    env = tool.get("environment")
    skills = env.get("skills") or () if isinstance(env, Mapping) else ()
    names = [*(tool.get("allowed_tools") or ()), *(k.get("name") for k in skills if isinstance(k, Mapping))]
    for name in names:
        if isinstance(name, str) and name.lower() in low:
            return True
    return any(word in low for word in _KEYWORDS.get(item_type, ()))


def _since_user(context: Sequence[Mapping[str, Any]]) -> list[str]:
    kinds: list[str] = []
    for item in reversed(context):
        if item.get("role") == "user" and item.get("type", "message") == "message":
            break
        kinds.append(str(item.get("type")))
    return kinds


def default_calls(
    request: Mapping[str, Any], context: Sequence[Mapping[str, Any]], text: str
) -> list[ToolItemPlan]:
    """Built-in tool calls the default model makes (empty: answer without them).

    Policy (DECISIONS 15, chosen for built-in tools): ``none`` never calls; ``required`` and a specific tool
    always call; ``auto`` (and ``allowed_tools`` in auto mode) calls a tool when the user's text mentions it
    (its name, server label or a keyword of its kind) and nothing was called since the user spoke.
    """
    tools = _builtin_tools(request)
    choice = request.get("tool_choice") or "auto"
    if not tools or choice == "none":
        return []
    mode = choice if isinstance(choice, str) else "auto"
    if isinstance(choice, Mapping):
        kind = choice.get("type")
        if kind == "allowed_tools":
            listed = [e for e in choice.get("tools") or () if isinstance(e, Mapping)]
            tools = [t for t in tools if any(_matches_choice(t, e) for e in listed)]
            mode = str(choice.get("mode", "auto"))
        elif kind in _TOOL_CHOICE_TYPES:
            tools = [t for t in tools if _matches_choice(t, choice)]
            mode = "required"
        else:
            return []  # a function choice: the function policy decides
    if not tools:
        return []
    since = _since_user(context)
    if mode != "required" and any(k in ITEM_TYPES or k in _CLIENT_OUTPUTS for k in since):
        return []
    picked = [t for t in tools if _mentioned(t, TOOL_TYPES[str(t.get("type"))], text)]
    if mode == "required" and not picked:
        picked = tools[:1]
    if not picked:
        return []
    if request.get("parallel_tool_calls") is False:
        picked = picked[:1]
    plans: list[ToolItemPlan] = []
    for tool in picked:
        plans.extend(_calls_for(tool, context, text))
    return plans


def _calls_for(
    tool: Mapping[str, Any], context: Sequence[Mapping[str, Any]], text: str
) -> list[ToolItemPlan]:
    kind = TOOL_TYPES[str(tool.get("type"))]
    if kind == "mcp_call":
        label = tool.get("server_label")
        out: list[ToolItemPlan] = []
        if not any(i.get("type") == "mcp_list_tools" and i.get("server_label") == label for i in context):
            out.append(ToolItemPlan({"type": "mcp_list_tools", "server_label": label}, hint=text))
        allowed = tool.get("allowed_tools")
        name = allowed[0] if isinstance(allowed, list) and allowed else "search"
        # require_approval defaults to "always" (SDK docs): the model asks before calling.
        needs = tool.get("require_approval", "always") != "never"
        spec = {"type": "mcp_approval_request" if needs else "mcp_call", "server_label": label, "name": name}
        out.append(ToolItemPlan(spec, hint=text))
        return out
    if kind == "custom_tool_call":
        return [ToolItemPlan({"type": kind, "name": tool.get("name")}, hint=text)]
    if kind == "shell_call":
        env = tool.get("environment")
        hosted = isinstance(env, Mapping) and env.get("type") in ("container_auto", "container_reference")
        call = ToolItemPlan({"type": kind}, hint=text)
        return [call, ToolItemPlan({"type": "shell_call_output"}, hint=text)] if hosted else [call]
    return [ToolItemPlan({"type": kind}, hint=text)]


def merge_default(plan: Any, calls: Sequence[ToolItemPlan]) -> None:
    """Put the default model's built-in calls into its plan: after reasoning; hosted calls (and a hosted
    shell) keep the answer that follows them, a client-side call ends the response (it waits for output)."""
    if not calls:
        return
    head = [p for p in plan.items if type(p).__name__ == "ReasoningPlan"]
    rest = [p for p in plan.items if type(p).__name__ != "ReasoningPlan"]
    waits = any(
        c.spec["type"] not in _HOSTED
        and c.spec["type"] not in ("mcp_list_tools", "mcp_call", "shell_call_output")
        and not (c.spec["type"] == "shell_call" and any(d.spec["type"] == "shell_call_output" for d in calls))
        for c in calls
    )
    plan.items = [*head, *calls] if waits else [*head, *calls, *rest]


# --- citations ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnnotatedMessagePlan(MessagePlan):
    """A scripted assistant message whose text carries annotations (``url_citation``, ``file_citation``...),
    as web and file search answers do; streamed as ``response.output_text.annotation.added``."""

    annotations: tuple[Mapping[str, Any], ...] = ()


def message_plan(text: str, phase: str | None, refusal: bool, item: Mapping[str, Any]) -> MessagePlan:
    """The plan of a scripted message item (annotated when it lists ``annotations``)."""
    annotations = item.get("annotations")
    if annotations and not refusal:
        return AnnotatedMessagePlan(text, phase, refusal, tuple(dict(a) for a in annotations))
    return MessagePlan(text, phase, refusal)


def annotations_of(planned: Any) -> list[dict[str, Any]]:
    """The ``annotations`` of an output_text part built from ``planned``."""
    return [dict(a) for a in getattr(planned, "annotations", ())]
