"""Derive the request-body schema snapshot ``mockserver/data/create_schema.json`` from the openai SDK.

Dev-only script: the runtime package never imports ``openai`` (a test-only dependency), so the request
schemas are snapshotted here and walked by :mod:`mockserver.validation` at run time.

Usage::

    .venv/bin/python tools/gen_schema.py            # rewrite the snapshot
    .venv/bin/python tools/gen_schema.py --check    # exit 1 if the snapshot is stale

What it does:

1. Walks the SDK 3.51.0 param ``TypedDict`` s of the four request bodies (SPEC §2.1, §2.6, §2.7, §6.2):
   ``ResponseCreateParams`` (streaming and non-streaming merged: ``stream`` is an optional bool),
   ``InputTokenCountParams``, ``ResponseCompactParams`` and the WebSocket ``response.create`` client
   event (``ResponsesClientEventParam`` member ``ResponseCreate``).
2. Turns every ``TypedDict`` into a *closed* object (unknown keys are rejected), ``Literal`` s into
   enums, and unions of ``TypedDict`` s into unions discriminated by ``type``.
3. Applies the rules the real API enforces that the types do not carry (the ``CONSTRAINTS`` and the
   overrides below, each with its source: the OpenAPI file v2.3.0, SPEC, DECISIONS, or recorded /
   measured real traffic).
4. Merges structurally identical definitions (the SDK repeats many shapes module by module) and
   writes the result with sorted keys, one definition per line, so regenerating is byte-identical.

The snapshot format (``"format": 1``) is a small dialect, not JSON Schema; every node is a dict
with ``"t"``:

* ``str`` (``enum``, ``min``, ``max``, ``pat``, ``prefix``, ``idchars``), ``int`` / ``num``
  (``ge``, ``le``), ``bool``, ``any``;
* ``list`` (``items``, ``min``, ``max``, ``label``), ``map`` (``values``, ``max_props``,
  ``key_max``: a JSON object with free keys);
* ``obj`` (``props``, ``order``, ``req``): closed object, props checked in ``order``;
* ``ref`` (``ref``): a named definition in ``defs``;
* ``union`` (``of``): members told apart by JSON type (string / object / array / ...);
* ``tagged`` (``tag``, ``map``, ``values``, ``default``, ``alt``, ``err``, ``universe``):
  objects discriminated by ``tag``.

Any node may carry ``"null": true`` (JSON ``null`` accepted) and ``"label"`` (the words used in
``invalid_type`` messages).
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Union

import typing_extensions

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "mockserver" / "data" / "create_schema.json"
EXPECTED_SDK = "3.51.0"
FORMAT = 1

Node = dict[str, Any]
_QUALIFIERS = (typing_extensions.Required, typing_extensions.NotRequired)  # typing.* on 3.11+

# --- the four request bodies ------------------------------------------------------------------------

#: The order in which the real API reports faults of top-level create fields. Measured against
#: api.openai.com (third-party probe of 2026-08-30, 31 keys by comparison sort): it is neither
#: alphabetical nor the SDK's order. SDK fields the probe did not cover follow in SDK order.
CREATE_FIELD_ORDER = [
    "model",
    "input",
    "previous_response_id",
    "prompt",
    "moderation",
    "include",
    "tools",
    "tool_choice",
    "metadata",
    "text",
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "parallel_tool_calls",
    "stream",
    "stream_options",
    "background",
    "max_output_tokens",
    "max_tool_calls",
    "reasoning",
    "user",
    "safety_identifier",
    "prompt_cache_options",
    "prompt_cache_key",
    "prompt_cache_retention",
    "truncation",
    "instructions",
    "store",
    "service_tier",
    "top_logprobs",
    "context_management",
]

#: ``text.format.type`` lists its values in this order in the real message (measured).
TEXT_FORMAT_ORDER = ["json_object", "text", "json_schema"]

#: The role order of the real ``Invalid value`` message for a message item's role (measured).
ROLE_ORDER = ["assistant", "system", "developer", "user"]

# --- rules the SDK types do not carry ----------------------------------------------------------------
#
# Keyed by TypedDict class name (applies to every class of that name, whatever its module; the SDK
# repeats shapes) or by a root body name. Each entry: prop -> constraint. A constraint with
# ``kind`` applies to that member of a union (e.g. the string form of ``input``).

_TOP = {
    # OpenAPI ModelResponseProperties / CreateModelResponseProperties.
    "temperature": {"ge": 0, "le": 2},
    "top_p": {"ge": 0, "le": 1},
    "top_logprobs": {"ge": 0, "le": 20},
    # Not in OpenAPI 2.3.0; observed: "integer below minimum value. Expected a value >= 16".
    "max_output_tokens": {"ge": 16},
    # Measured: "max_tool_calls" floor is 1.
    "max_tool_calls": {"ge": 1},
    # SDK docstrings (SPEC §2.1): metadata <= 16 pairs, key <= 64, value <= 512 chars.
    "metadata": {"max_props": 16, "key_max": 64, "value_max": 512},
    # SDK docstring: "maximum length of 128 characters".
    "safety_identifier": {"max": 128},
    # Observed: "Invalid 'prompt_cache_key': string too long. Expected ... maximum length 64".
    "prompt_cache_key": {"max": 64},
    # OpenAPI TokenCountsBody / CompactResponseMethodPublicBody: string input maxLength 10485760.
    "input": {"kind": "str", "max": 10485760},
    # SPEC §5, observed: malformed id message.
    "previous_response_id": {"idchars": True},
}

CONSTRAINTS: dict[str, dict[str, dict[str, Any]]] = {
    "CreateBody": _TOP,
    "WsCreateBody": _TOP,
    "InputTokensBody": {
        "input": _TOP["input"],
        "previous_response_id": _TOP["previous_response_id"],
        # SPEC §2.6: personality <= 64 chars.
        "personality": {"max": 64},
    },
    "CompactBody": {
        "input": _TOP["input"],
        "previous_response_id": _TOP["previous_response_id"],
        "prompt_cache_key": _TOP["prompt_cache_key"],
    },
    # SPEC §12 / D-WSEV: compact_threshold >= 1000 (DECISIONS 18: the error is chosen);
    # SDK docstring: "Currently only 'compaction' is supported".
    "ContextManagement": {"type": {"enum": ["compaction"]}, "compact_threshold": {"ge": 1000}},
    "ResponseCreateContextManagement": {"type": {"enum": ["compaction"]}, "compact_threshold": {"ge": 1000}},
    # SPEC §9 and observed: "string too long ... maximum length 64" and "string does not match pattern".
    "ResponseFormatTextJSONSchemaConfigParam": {"name": {"max": 64, "pat": "^[a-zA-Z0-9_-]+$"}},
    # Observed on /responses: "Invalid 'tools[0].name': string does not match pattern. Expected a
    # string that matches the pattern '^[a-zA-Z0-9_-]+$'."; length 64 as for text.format.name.
    "FunctionToolParam": {"name": {"max": 64, "pat": "^[a-zA-Z0-9_-]+$"}},
    # OpenAPI InputTextContentParam / InputImageContentParamAutoParam / InputFileContentParam.
    "ResponseInputTextParam": {"text": {"max": 10485760}},
    "ResponseInputTextContentParam": {"text": {"max": 10485760}},
    "ResponseInputImageParam": {"image_url": {"max": 20971520}},
    "ResponseInputImageContentParam": {"image_url": {"max": 20971520}},
    "ResponseInputFileParam": {"file_data": {"max": 33554432}},
    "ResponseInputFileContentParam": {"file_data": {"max": 33554432}},
    # OpenAPI *ItemParam call_id: minLength 1, maxLength 64; outputs maxLength 10485760.
    "FunctionCallOutput": {"call_id": {"min": 1, "max": 64}, "output": {"kind": "str", "max": 10485760}},
    "ComputerCallOutput": {"call_id": {"min": 1, "max": 64}},
    "ShellCall": {"call_id": {"min": 1, "max": 64}},
    "ShellCallOutput": {"call_id": {"min": 1, "max": 64}},
    "ApplyPatchCall": {"call_id": {"min": 1, "max": 64}},
    "ApplyPatchCallOutput": {"call_id": {"min": 1, "max": 64}, "output": {"max": 10485760}},
    "ApplyPatchCallOperationCreateFile": {"path": {"min": 1}, "diff": {"max": 10485760}},
    "ApplyPatchCallOperationDeleteFile": {"path": {"min": 1}},
    "ApplyPatchCallOperationUpdateFile": {"path": {"min": 1}, "diff": {"max": 10485760}},
    "ResponseCompactionItemParamParam": {"encrypted_content": {"max": 10485760}},
    "ResponseFunctionShellCallOutputContentParam": {"stdout": {"max": 10485760}, "stderr": {"max": 10485760}},
    # Observed (2026-08): "Invalid 'input[26].id': string too long. Expected a string with maximum
    # length 64" and "Invalid 'input[137].id': 'item_…'. Expected an ID that begins with 'rs'."
    "ResponseReasoningItemParam": {"id": {"max": 64, "prefix": "rs"}},
    # OpenAPI ImageGenTool / FileSearchTool ranking / CodeInterpreterContainerAuto.
    "ImageGeneration": {"output_compression": {"ge": 0, "le": 100}, "partial_images": {"ge": 0, "le": 3}},
    "ToolImageGeneration": {"output_compression": {"ge": 0, "le": 100}, "partial_images": {"ge": 0, "le": 3}},
    "FileSearchToolParam": {"max_num_results": {"ge": 1, "le": 50}},
    "RankingOptions": {"score_threshold": {"ge": 0, "le": 1}},
    "CodeInterpreterContainerCodeInterpreterToolAuto": {"file_ids": {"max": 50}},
    "ToolCodeInterpreterContainerCodeInterpreterToolAuto": {"file_ids": {"max": 50}},
    # SDK `object`; observed: "Invalid type for 'input[N].arguments': expected an object, but got a
    # string instead." for a tool_search_call replayed with string arguments.
    "ToolSearchCall": {"arguments": {"replace": {"t": "map", "values": {"t": "any"}}}},
    # Chosen (DECISIONS 18): an allowed_tools choice must name at least one tool.
    "ToolChoiceAllowedParam": {"tools": {"min": 1}},
}

#: Fields the real API does not know although the SDK declares them (observed wins here):
#: ``status`` on a reasoning input item answers "Unknown parameter: 'input[1].status'." even when
#: null (openai/openai-python#3008, 1jehuang/jcode#1028); real reasoning output items carry none.
REMOVED_FIELDS = {"ResponseReasoningItemParam": ["status"]}

#: Fields the real API knows although SDK 3.51.0 does not declare them: ``presence_penalty`` and
#: ``frequency_penalty`` are accepted top-level keys (measured key set; the Response echoes them,
#: SPEC §15.11). Range as in Chat Completions.
EXTRA_TOP_FIELDS = {
    "presence_penalty": {"t": "num", "ge": -2, "le": 2},
    "frequency_penalty": {"t": "num", "ge": -2, "le": 2},
}

#: SDK-required fields the real API accepts without: ``detail`` of an ``input_image`` part (ten
#: recorded crewAI requests to api.openai.com omit it and got 200), ``annotations`` of an
#: ``output_text`` part sent back as input (clients such as the Vercel AI SDK omit it).
#: ``Required[Optional[X]]`` fields inside a body are all treated as optional (a recorded request
#: carries function tools without ``strict``).
RELAXED_REQUIRED = {
    "ResponseInputImageParam": ["detail"],
    "ResponseInputImageContentParam": ["detail"],
    "ResponseOutputTextParam": ["annotations"],
}

# --- type walking ------------------------------------------------------------------------------------


class Walker:
    """Converts SDK annotations into snapshot nodes, collecting ``TypedDict`` s as definitions."""

    def __init__(self) -> None:
        self.defs: dict[str, Node] = {}
        self.names: dict[type, str] = {}

    # naming: class name, module-qualified on collision (merged again structurally at the end)
    def name_of(self, cls: type) -> str:
        if cls in self.names:
            return self.names[cls]
        name = cls.__name__
        if name in self.names.values():
            name = f"{name}@{cls.__module__.rsplit('.', 1)[-1]}"
        self.names[cls] = name
        return name

    def ref(self, cls: type) -> Node:
        name = self.name_of(cls)
        if name not in self.defs:
            self.defs[name] = {}  # placeholder against recursion
            self.defs[name] = self.obj(cls, name)
        return {"t": "ref", "ref": name}

    def obj(
        self, cls: type, name: str, hints: Mapping[str, Any] | None = None, *, root: bool = False
    ) -> Node:
        if hints is None:
            hints = typing.get_type_hints(cls, include_extras=True)
        total = getattr(cls, "__total__", False)
        removed = REMOVED_FIELDS.get(cls.__name__, [])
        relaxed = RELAXED_REQUIRED.get(cls.__name__, [])
        props: dict[str, Node] = {}
        req: list[str] = []
        for key, tp in hints.items():
            if key in removed:
                continue
            required = total
            origin = typing.get_origin(tp)
            if origin is typing_extensions.Required:
                required, tp = True, typing.get_args(tp)[0]
            elif origin is typing_extensions.NotRequired:
                required, tp = False, typing.get_args(tp)[0]
            node = self.conv(tp)
            if node.get("null") and not root:
                # Required[Optional[X]] inside the body: treated as optional (a recorded request
                # omits function tools' `strict`). Top-level required fields stay required.
                required = False
            if required and key not in relaxed:
                req.append(key)
            props[key] = node
        for key, rule in CONSTRAINTS.get(cls.__name__, {}).items():
            if key not in props:
                raise SystemExit(f"constraint on unknown field {cls.__name__}.{key}")
            props[key] = constrain(props[key], rule)
        return {"t": "obj", "props": props, "order": list(props), "req": req}

    def conv(self, tp: Any) -> Node:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin in (typing.Annotated, typing_extensions.Annotated):
            return self.conv(args[0])
        if origin in _QUALIFIERS:
            return self.conv(args[0])
        if origin in (Union, types.UnionType):
            members = [a for a in args if a is not type(None)]
            nullable = len(members) != len(args)
            node = self.union(members)
            if nullable:
                node = {**node, "null": True}
            return node
        if origin in (Literal, typing_extensions.Literal):
            values = [a for a in args if a is not None]
            if not all(isinstance(v, str) for v in values):
                raise SystemExit(f"non-string Literal: {tp!r}")
            node = {"t": "str", "enum": list(dict.fromkeys(values))}
            return {**node, "null": True} if None in args else node
        if origin in (list, Iterable, Sequence) or _is_seq_not_str(origin):
            return {"t": "list", "items": self.conv(args[0])}
        if origin in (dict, Mapping):
            if args[0] is not str:
                raise SystemExit(f"non-str dict key: {tp!r}")
            return {"t": "map", "values": self.conv(args[1])}
        if typing_extensions.is_typeddict(tp):
            return self.ref(tp)
        if tp is str:
            return {"t": "str"}
        if tp is bool:
            return {"t": "bool"}
        if tp is int:
            return {"t": "int"}
        if tp is float:
            return {"t": "num"}
        if tp is object or tp is Any:
            return {"t": "any"}
        if tp is type(None):
            return {"t": "any", "null": True}
        raise SystemExit(f"unsupported annotation: {tp!r}")

    def union(self, members: list[Any]) -> Node:
        if len(members) == 1:
            return self.conv(members[0])
        dicts = [m for m in members if typing_extensions.is_typeddict(m)]
        others = [self.conv(m) for m in members if not typing_extensions.is_typeddict(m)]
        nodes: list[Node] = []
        if dicts:
            nodes.append(self.tagged(dicts) if len(dicts) > 1 else self.ref(dicts[0]))
        # merge scalar members of the same JSON kind (str | Literal[...] is an open string)
        strs = [n for n in others if n["t"] == "str"]
        if strs:
            if any("enum" not in n for n in strs):
                nodes.append({"t": "str"})
            else:
                nodes.append({"t": "str", "enum": list(dict.fromkeys(v for n in strs for v in n["enum"]))})
        rest = [n for n in others if n["t"] != "str"]
        if any(n["t"] == "any" for n in rest):
            return {"t": "any"}  # e.g. CompoundFilter.filters: Union[ComparisonFilter, object]
        kinds = ["obj" if n["t"] in ("ref", "tagged", "map", "obj") else n["t"] for n in [*nodes, *rest]]
        if len(set(kinds)) != len(kinds):
            raise SystemExit(f"ambiguous union members: {members!r}")
        nodes.extend(rest)
        null = any(n.pop("null", False) for n in nodes)
        node = nodes[0] if len(nodes) == 1 else {"t": "union", "of": nodes}
        return {**node, "null": True} if null else node

    def tagged(self, classes: list[type]) -> Node:
        mapping: dict[str, list[type]] = {}
        optional_tag: list[type] = []
        for cls in classes:
            hints = typing.get_type_hints(cls, include_extras=True)
            tp = hints.get("type")
            if tp is None:
                raise SystemExit(f"union member without a `type`: {cls!r}")
            if typing.get_origin(tp) is not typing_extensions.Required:
                optional_tag.append(cls)
            lit = _literal_values(tp)
            for value in lit:
                mapping.setdefault(value, []).append(cls)
        node: Node = {"t": "tagged", "tag": "type", "map": {}, "values": list(mapping)}
        message_family = {"EasyInputMessageParam", "Message", "ResponseOutputMessageParam"}
        for value, group in mapping.items():
            names = {c.__name__ for c in group}
            if len(group) == 1:
                node["map"][value] = self.ref(group[0])
            elif value == "message" and names <= message_family:
                node["map"][value] = self.messages(group)
            else:
                raise SystemExit(f"ambiguous tag {value!r}: {names}")
        if any(c.__name__ in message_family for c in optional_tag):
            # An input item union. SPEC §2.1: a message may omit `type` (EasyInputMessage {role,
            # content}); a bare {id} (optionally typed) is an item reference (OpenAPI
            # ItemReferenceParam). Measured: an unknown `type` is reported at `input[i]` and lists
            # the item types alphabetically (other unions: at `.type`, in SDK order).
            node["default"] = node["map"]["message"]
            node["values"] = sorted(node["values"])
            node["err"] = "self"
            refs = [c for c in optional_tag if c.__name__ == "ItemReference"]
            if refs:
                node["alt"] = {"keys": ["id", "type"], "node": self.ref(refs[0])}
        elif len(optional_tag) == 1:
            node["default"] = self.ref(optional_tag[0])
        elif optional_tag:
            raise SystemExit(f"several members with optional tags: {optional_tag}")
        return node

    def messages(self, group: list[type]) -> Node:
        """The message family, merged per role as the real API does (measured): any message may
        carry ``type``, ``role``, ``content``, ``status`` and ``id``; ``phase`` is for assistant
        messages only (SPEC §10: elsewhere it is an unknown parameter); assistant list content is
        ``output_text`` / ``refusal``, other roles' is ``input_text`` / ``input_image`` /
        ``input_file``."""
        by_name = {c.__name__: c for c in group}
        easy = typing.get_type_hints(by_name["EasyInputMessageParam"], include_extras=True)
        out = typing.get_type_hints(by_name["ResponseOutputMessageParam"], include_extras=True)
        msg = typing.get_type_hints(by_name["Message"], include_extras=True)

        def strip(tp: Any) -> Any:
            return typing.get_args(tp)[0] if typing.get_origin(tp) in _QUALIFIERS else tp

        content_in = self.conv(strip(easy["content"]))  # str | list of input parts
        out_parts = self.conv(strip(out["content"]))  # list of output parts
        status = self.conv(strip(msg["status"]))
        phase = self.conv(strip(easy["phase"]))
        universe = list(content_in["of"][1]["items"]["values"]) if content_in["t"] == "union" else []
        universe += [v for v in out_parts["items"]["values"] if v not in universe]
        content_in["of"][1]["items"].update(err="self", universe=universe)
        out_parts["items"].update(err="self", universe=universe)
        content_out = {"t": "union", "of": [{"t": "str"}, out_parts]}
        roles_in = [r for r in _literal_values(strip(easy["role"])) if r != "assistant"]
        common = {"type": {"t": "str", "enum": ["message"]}, "status": status, "id": {"t": "str"}}
        self.defs["InputMessage"] = {
            "t": "obj",
            "props": {"role": {"t": "str", "enum": roles_in}, "content": content_in, **common},
            "order": ["type", "role", "content", "status", "id"],
            "req": ["role", "content"],
        }
        self.defs["AssistantMessage"] = {
            "t": "obj",
            "props": {
                "role": {"t": "str", "enum": ["assistant"]},
                "content": content_out,
                **common,
                "phase": phase,
            },
            "order": ["type", "role", "content", "status", "id", "phase"],
            "req": ["role", "content"],
        }
        return {
            "t": "tagged",
            "tag": "role",
            "map": {
                r: {"t": "ref", "ref": "AssistantMessage" if r == "assistant" else "InputMessage"}
                for r in ROLE_ORDER
            },
            "values": ROLE_ORDER,
            "err": "self",
            "missing": "value",
        }


def _literal_values(tp: Any) -> list[str]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in _QUALIFIERS:
        return _literal_values(args[0])
    if origin in (Union, types.UnionType):
        return [v for a in args if a is not type(None) for v in _literal_values(a)]
    if origin in (Literal, typing_extensions.Literal):
        return [a for a in args if isinstance(a, str)]
    raise SystemExit(f"tag is not a Literal: {tp!r}")


def _is_seq_not_str(origin: Any) -> bool:
    return getattr(origin, "__name__", "") == "SequenceNotStr"


def constrain(node: Node, rule: Mapping[str, Any]) -> Node:
    """Apply one constraint to a property node (to the matching member of a union)."""
    rule = dict(rule)
    if "replace" in rule:
        return {**rule["replace"], **({"null": True} if node.get("null") else {})}
    kind = rule.pop("kind", None)
    if node["t"] == "union":
        members = node["of"]
        idx = [i for i, m in enumerate(members) if m["t"] == (kind or members[i]["t"])]
        if kind is None:
            raise SystemExit(f"constraint on a union needs a kind: {rule}")
        if len(idx) != 1:
            raise SystemExit(f"no single {kind} member in union")
        members = list(members)
        members[idx[0]] = constrain(members[idx[0]], rule)
        return {**node, "of": members}
    if kind is not None and node["t"] != kind:
        raise SystemExit(f"constraint kind {kind} on a {node['t']} node")
    node = dict(node)
    if node["t"] == "map":
        value_max = rule.pop("value_max", None)
        if value_max is not None:
            node["values"] = {**node["values"], "max": value_max}
    if node["t"] in ("int", "num") and ("min" in rule or "max" in rule):
        raise SystemExit("use ge/le on numbers")
    node.update(rule)
    return node


# --- roots -------------------------------------------------------------------------------------------


def build() -> dict[str, Any]:
    import openai
    from openai.types.responses import (
        input_token_count_params,
        response_compact_params,
        response_create_params,
        responses_client_event_param,
    )

    if openai.__version__ != EXPECTED_SDK:
        raise SystemExit(f"openai {openai.__version__} installed, the snapshot is of {EXPECTED_SDK}")

    walker = Walker()
    roots = {}

    def root(name: str, cls: type, *, patch: Mapping[str, Any] = {}, order: list[str] | None = None) -> None:
        hints = dict(typing.get_type_hints(cls, include_extras=True))
        hints.update(patch)
        walker.names[cls] = name
        node = walker.obj(cls, name, hints, root=True)
        for key, rule in CONSTRAINTS.get(name, {}).items():
            node["props"][key] = constrain(node["props"][key], rule)
        if name in ("CreateBody", "WsCreateBody"):
            for key, extra in EXTRA_TOP_FIELDS.items():
                node["props"][key] = dict(extra)
            # Measured: a missing `model` is the first fault reported ("Missing required parameter:
            # 'model'."), although the SDK leaves it optional.
            node["req"] = ["model", *node["req"]]
        if "input" in node["props"]:
            _label(node["props"]["input"], "input items")
        if order is not None:
            rest = [k for k in node["props"] if k not in order]
            node["order"] = [k for k in order if k in node["props"]] + rest
        walker.defs[name] = node
        roots[name] = {"t": "ref", "ref": name}

    root(
        "CreateBody",
        response_create_params.ResponseCreateParamsNonStreaming,
        # streaming and non-streaming merged: `stream` is an optional bool
        patch={"stream": bool | None},
        order=CREATE_FIELD_ORDER,
    )
    root("WsCreateBody", responses_client_event_param.ResponseCreate, order=["type", *CREATE_FIELD_ORDER])
    root("InputTokensBody", input_token_count_params.InputTokenCountParams)
    root("CompactBody", response_compact_params.ResponseCompactParams)

    for node in _walk_all(walker.defs):
        if node.get("t") == "tagged" and set(node.get("values", [])) == set(TEXT_FORMAT_ORDER):
            node["values"] = list(TEXT_FORMAT_ORDER)

    defs = dedupe(walker.defs, keep={r["ref"] for r in roots.values()})
    return {
        "format": FORMAT,
        "generator": "tools/gen_schema.py",
        "sdk": {"package": "openai", "version": EXPECTED_SDK},
        "roots": {
            "create": "CreateBody",
            "ws_create": "WsCreateBody",
            "input_tokens": "InputTokensBody",
            "compact": "CompactBody",
        },
        "removed_fields": REMOVED_FIELDS,
        "relaxed_required": RELAXED_REQUIRED,
        "extra_fields": sorted(EXTRA_TOP_FIELDS),
        "defs": defs,
    }


def _label(node: Node, items_label: str) -> None:
    for member in node.get("of", [node]):
        if member["t"] == "list":
            member["label"] = items_label


def _walk_all(defs: Mapping[str, Node]) -> Iterable[Node]:
    stack: list[Any] = list(defs.values())
    seen: set[int] = set()
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            if id(cur) in seen:
                continue
            seen.add(id(cur))
            yield cur
            stack.extend(cur.values())
        elif isinstance(cur, list):
            stack.extend(cur)


def dedupe(defs: dict[str, Node], keep: set[str]) -> dict[str, Node]:
    """Merge structurally identical definitions (until a fixpoint); drop unreachable ones."""
    defs = json.loads(json.dumps(defs))
    while True:
        canon: dict[str, str] = {}
        rename: dict[str, str] = {}
        for name in sorted(defs, key=lambda n: (n not in keep, "@" in n, len(n), n)):
            key = json.dumps(defs[name], sort_keys=True)
            if key in canon and name not in keep:
                rename[name] = canon[key]
            else:
                canon.setdefault(key, name)
        if not rename:
            break
        for name in rename:
            del defs[name]
        for node in _walk_all(defs):
            if node.get("t") == "ref" and node["ref"] in rename:
                node["ref"] = rename[node["ref"]]
    reachable: set[str] = set()
    stack = sorted(keep)
    while stack:
        name = stack.pop()
        if name in reachable:
            continue
        reachable.add(name)
        stack.extend(n["ref"] for n in _walk_all({name: defs[name]}) if n.get("t") == "ref")
    return {name: defs[name] for name in sorted(reachable)}


def render(snapshot: Mapping[str, Any]) -> str:
    """Deterministic text: sorted keys, compact, one definition per line."""
    head = {k: v for k, v in snapshot.items() if k != "defs"}
    lines = ["{"]
    for key in sorted(head):
        lines.append(f"{json.dumps(key)}:{json.dumps(head[key], sort_keys=True, separators=(',', ':'))},")
    lines.append('"defs":{')
    names = sorted(snapshot["defs"])
    for i, name in enumerate(names):
        sep = "," if i < len(names) - 1 else ""
        body = json.dumps(snapshot["defs"][name], sort_keys=True, separators=(",", ":"))
        lines.append(f"{json.dumps(name)}:{body}{sep}")
    lines.append("}}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the snapshot is stale")
    parser.add_argument("--output", type=Path, default=SNAPSHOT)
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            sys.stderr.write(f"{args.output} is stale: run tools/gen_schema.py\n")
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {args.output} ({len(text)} bytes)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
