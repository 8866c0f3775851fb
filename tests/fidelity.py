"""Fidelity checker: does a JSON object we emit match the openai 3.51.0 SDK models exactly?

The SDK's models are lenient (``extra="allow"``, unions tried member by member), so a plain
``model_validate`` would let unknown or misspelt fields through. This module walks the JSON and the
model annotations side by side::

    JSON value ──► compiled node (cached per annotation / model)
                     _Model    required fields, undeclared keys (minus ALLOW_LIST), recurse
                     _Union    member chosen by its discriminator (``type``), else best fit
                     _List / _Dict / _Literal / _Scalar / _Any

and reports every problem as ``<json path>: <what>``, e.g. ``response.output[0].content[0].foo: unknown
field (not declared on ResponseOutputText)``. The top-level model chosen by the discriminator is also run
through ``model_validate(strict=True)`` as a safety net for anything the walker does not model.
"""

from __future__ import annotations

import fnmatch
import functools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, Union

import pydantic
from openai._models import BaseModel as SDKModel
from openai._utils import PropertyInfo
from openai.types.responses import (
    CompactedResponse,
    InputTokenCountResponse,
    Response,
    ResponseInputItem,
    ResponseItem,
    ResponseItemList,
    ResponseOutputItem,
    ResponseStreamEvent,
)
from openai.types.responses.responses_server_event import ResponsesServerEvent, ResponseWsErrorError

__all__ = [
    "ALLOW_LIST",
    "CompactedResponseAsSent",
    "Kind",
    "NestedSSEErrorEvent",
    "assert_faithful",
    "check_compacted",
    "check_deleted",
    "check_event",
    "check_input_items_list",
    "check_input_tokens",
    "check_item",
    "check_object",
    "check_response",
]

# Deviations from the SDK 3.51.0 models that real api.openai.com traffic shows and we may reproduce. Keys are
# "<SDK class name>.<json key>"; the class name is an fnmatch pattern matched against the model's MRO, so an
# SSE event's entry also covers its WebSocket subclass. An entry lets an undeclared key be present or, for a
# required key, be absent while the object's status is "in_progress". Each value cites the evidence.
# Verified against the installed SDK: Response declares top_logprobs, prompt_cache_retention,
# safety_identifier, completed_at, moderation and tool_usage, and ResponseOutputText declares logprobs, so
# they are not listed. Azure/OpenRouter/Copilot-only fields (content_filters, usage.cost, copilot_usage…)
# are not listed either (DECISIONS 22).
ALLOW_LIST: Final[Mapping[str, str]] = {
    "Response.store": "SPEC §3.1, §15.11; every api.openai.com Response recording carries it.",
    "Response.frequency_penalty": "SPEC §3.1, §15.11; api.openai.com responses since late 2025.",
    "Response.presence_penalty": "SPEC §3.1, §15.11; api.openai.com responses since late 2025.",
    "Response.billing": 'real-traffic README; {"payer": "developer"} on responses since late 2025.',
    "Response*DeltaEvent.obfuscation": "SPEC §4.2: random padding on *.delta events (since mid-2025).",
    "Logprob.bytes": "text delta/done logprobs carry bytes (as output_text's do): pydantic-ai *_logprobs_*.",
    "Result.vector_store_id": "file_search_call results: pydantic-ai *_file_search_tool_with_results.yaml.",
    "ImageGeneration.n": "echoed image_generation tool: pydantic-ai *_image_generation_jpeg, vercel.",
    "WebSearchTool.return_token_budget": "echoed web_search tool (2026): pydantic-ai *_web_search_tool_*.",
    "WebSearchTool.search_content_types": "echoed web_search tool (2026): pydantic-ai *_web_search_tool_*.",
    "ResponseFunctionWebSearch.action": (
        "SPEC §4.5: output_item.added carries the in_progress web_search_call without action (always)."
    ),
    "ResponseErrorEvent.error": (
        "DECISIONS 7 / SPEC §4.6: production nests the SSE error, "
        '{"type":"error","sequence_number","error":{type,code,message,param}} '
        "(vercel openai-error.1.chunks.txt): checked as NestedSSEErrorEvent."
    ),
    "CompactedResponse.output": (
        "SDK docstring: 'all user messages, followed by a single compaction item', yet typed "
        "ResponseOutputItem (assistant only); real /compact output (pydantic-ai *compact_messages*) "
        "holds role=user input_text messages: checked as ResponseItem."
    ),
}


class NestedSSEErrorEvent(SDKModel):
    """The SSE ``error`` event as production sends it (DECISIONS 7), not as the SDK models it."""

    type: Literal["error"]
    sequence_number: int
    error: ResponseWsErrorError


class CompactedResponseAsSent(CompactedResponse):
    """``CompactedResponse`` whose output may hold the user messages it really returns (see ALLOW_LIST)."""

    output: list[ResponseItem]  # type: ignore[assignment]


Kind = Literal[
    "response", "item", "input_item", "stored_item", "event", "ws_event",
    "input_items_list", "deleted", "input_tokens", "compacted",
]  # fmt: skip


class _Problems(list[str]):
    """Problem messages, plus whether an ALLOW_LIST absence was used (the pydantic net cannot know it)."""

    exempt = False


# ----------------------------------------------------------------------------- compiled nodes
_ALL = frozenset({"null", "array", "object", "scalar"})


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    return "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "scalar"


class _Node:
    kinds: frozenset[str] = _ALL
    """JSON kinds the node can accept: narrows a union to the members worth trying."""
    name = "any"

    def check(self, value: Any, path: str, out: _Problems) -> None:
        raise NotImplementedError


class _Any(_Node):
    def check(self, value: Any, path: str, out: _Problems) -> None:
        pass


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


class _Scalar(_Node):
    kinds = frozenset({"scalar"})

    def __init__(self, tp: type) -> None:
        self.tp = tp
        self.name = tp.__name__

    def check(self, value: Any, path: str, out: _Problems) -> None:
        ok = isinstance(value, self.tp) and not (isinstance(value, bool) and self.tp is not bool)
        if self.tp is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok:
            out.append(f"{path}: expected {self.tp.__name__}, got {_kind(value)} {value!r:.60}")


class _None(_Node):
    kinds, name = frozenset({"null"}), "null"

    def check(self, value: Any, path: str, out: _Problems) -> None:
        if value is not None:
            out.append(f"{path}: expected null, got {_kind(value)}")


class _Literal(_Node):
    kinds = frozenset({"scalar"})

    def __init__(self, values: tuple[Any, ...]) -> None:
        self.values = values
        self.name = " | ".join(map(repr, values))

    def check(self, value: Any, path: str, out: _Problems) -> None:
        if not any(value == v and type(value) is type(v) for v in self.values):
            out.append(f"{path}: {value!r:.60} is not one of {list(self.values)}")


class _List(_Node):
    kinds, name = frozenset({"array"}), "array"

    def __init__(self, item: _Node) -> None:
        self.item = item

    def check(self, value: Any, path: str, out: _Problems) -> None:
        if not isinstance(value, list):
            out.append(f"{path}: expected array, got {_kind(value)}")
            return
        for i, v in enumerate(value):
            self.item.check(v, f"{path}[{i}]", out)


class _Dict(_Node):
    kinds, name = frozenset({"object"}), "object"

    def __init__(self, item: _Node) -> None:
        self.item = item

    def check(self, value: Any, path: str, out: _Problems) -> None:
        if not isinstance(value, dict):
            out.append(f"{path}: expected object, got {_kind(value)}")
            return
        for k, v in value.items():
            self.item.check(v, f"{path}.{k}", out)


def _allowed_extras(model: type[pydantic.BaseModel]) -> frozenset[str]:
    names = [c.__name__ for c in model.__mro__ if issubclass(c, SDKModel)]
    return frozenset(
        key.rpartition(".")[2]
        for key in ALLOW_LIST
        if any(fnmatch.fnmatchcase(n, key.rpartition(".")[0]) for n in names)
    )


class _Model(_Node):
    kinds = frozenset({"object"})

    def __init__(self, model: type[pydantic.BaseModel]) -> None:
        self.model = model
        self.name = model.__name__
        self._fields: dict[str, tuple[_Node, bool]] | None = None  # filled lazily: models recurse
        self.extras = _allowed_extras(model)

    @property
    def fields(self) -> dict[str, tuple[_Node, bool]]:
        if self._fields is None:
            self._fields = {
                f.alias or name: (_compile(_field_type(f)), f.is_required())
                for name, f in self.model.model_fields.items()
            }
        return self._fields

    def check(self, value: Any, path: str, out: _Problems) -> None:
        name = self.model.__name__
        if not isinstance(value, dict):
            out.append(f"{path}: expected {name} object, got {_kind(value)}")
            return
        for key, (node, required) in self.fields.items():
            if key in value:
                node.check(value[key], f"{path}.{key}", out)
            elif required and key in self.extras and value.get("status") == "in_progress":
                out.exempt = True
            elif required:
                out.append(f"{path}.{key}: missing required field of {name}")
        for key in (k for k in value if k not in self.fields and k not in self.extras):
            out.append(f"{path}.{key}: unknown field (not declared on {name})")


class _Union(_Node):
    """A union; object values pick their model member by the discriminator key (``type``)."""

    def __init__(self, members: list[Any], discriminator: str | None) -> None:
        self.models = [m for m in members if _is_model(m)]
        self.others = [_compile(m) for m in members if not _is_model(m)]
        self.key = discriminator or (
            "type" if self.models and all("type" in m.model_fields for m in self.models) else None
        )
        self.by_tag: dict[Any, list[type[pydantic.BaseModel]]] = {}
        self.untagged: list[type[pydantic.BaseModel]] = []  # members whose tag field is optional
        for m in self.models if self.key else ():
            f = m.model_fields[self.key]
            for tag in _literals(f.annotation):
                self.by_tag.setdefault(tag, []).append(m)
            if not f.is_required():
                self.untagged.append(m)

    def candidates(self, value: dict[str, Any]) -> list[type[pydantic.BaseModel]]:
        """Model members that may describe ``value``, chosen by its discriminator."""
        if self.key is None:
            return self.models
        if self.key not in value:
            return self.untagged
        return self.by_tag.get(value[self.key], [])

    def check(self, value: Any, path: str, out: _Problems) -> None:
        if isinstance(value, dict) and self.models:
            nodes: list[_Node] = [_compile(m) for m in self.candidates(value)]
            nodes += [n for n in self.others if isinstance(n, (_Dict, _Any))]
            if not nodes:
                tag, expected = value.get(self.key or "", "<missing>"), sorted(self.by_tag)
                out.append(f"{path}.{self.key}: unknown {self.key} {tag!r:.60} (expected one of {expected})")
                return
        else:
            nodes = self.others
        _best(nodes, value, path, out)


def _best(nodes: list[_Node], value: Any, path: str, out: _Problems) -> None:
    """Check ``value`` against the first node it fits; if none fits, report the closest one."""
    fitting = [n for n in nodes if _json_kind(value) in n.kinds]
    if not fitting:
        expected = " | ".join(n.name for n in nodes) or "nothing"
        out.append(f"{path}: expected {expected}, got {_kind(value)} {value!r:.60}")
        return
    nodes = fitting
    results = []
    for node in nodes:
        problems = _Problems()
        node.check(value, path, problems)
        if not problems:
            out.exempt |= problems.exempt
            return
        results.append(problems)
    best = min(results, key=len)
    out.extend(best)
    out.exempt |= best.exempt


# ----------------------------------------------------------------------------- compiling annotations
def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def _literals(tp: Any) -> list[Any]:
    """Literal values inside ``tp`` (through Optional / Union)."""
    if typing.get_origin(tp) is Literal:
        return list(typing.get_args(tp))
    if typing.get_origin(tp) in (Union, types.UnionType):
        return [v for a in typing.get_args(tp) for v in _literals(a)]
    return []


def _field_type(f: pydantic.fields.FieldInfo) -> Any:
    # pydantic moves a field's top-level Annotated metadata (e.g. PropertyInfo(discriminator=...)) here.
    meta = [m for m in f.metadata if isinstance(m, PropertyInfo)]
    return typing.Annotated[(f.annotation, *meta)] if meta else f.annotation


_CACHE: dict[Any, _Node] = {}


def _compile(tp: Any) -> _Node:
    """Compile an annotation into a checking node, once per annotation (``_Problems`` is hot: cache)."""
    try:
        return _CACHE[tp]
    except KeyError:
        node = _CACHE[tp] = _build(tp)
        return node


def _build(tp: Any, discriminator: str | None = None) -> _Node:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        info = [a for a in args[1:] if isinstance(a, PropertyInfo) and a.discriminator]
        return _build(args[0], info[0].discriminator if info else discriminator)
    if hasattr(tp, "__value__"):  # TypeAliasType
        return _build(tp.__value__, discriminator)
    if origin in (Union, types.UnionType):
        flat: list[Any] = []
        for a in args:
            inner = typing.get_args(a)[0] if typing.get_origin(a) is typing.Annotated else a
            is_union = typing.get_origin(inner) in (Union, types.UnionType)
            flat.extend(typing.get_args(inner) if is_union else [inner])
        return _Union(flat, discriminator)
    if origin is Literal:
        return _Literal(args)
    if origin in (list, typing.List, typing.Sequence, typing.Iterable):  # noqa: UP006
        return _List(_compile(args[0]) if args else _Any())
    if origin in (dict, typing.Dict, typing.Mapping):  # noqa: UP006
        return _Dict(_compile(args[1]) if args else _Any())
    if _is_model(tp):
        return _Model(tp)
    if tp is type(None) or tp is None:
        return _None()
    if tp in (str, int, float, bool):
        return _Scalar(tp)
    return _Any()  # object / Any / anything the SDK does not constrain


# ----------------------------------------------------------------------------- pydantic safety net
def _pydantic_problems(model: type[pydantic.BaseModel], obj: Any, root: str) -> list[str]:
    try:
        model.model_validate(obj, strict=True)
    except pydantic.ValidationError as exc:
        return [
            root
            + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"])
            + f": {e['msg']} (pydantic)"
            for e in exc.errors()
        ]
    return []


def _check(obj: Any, tp: Any, root: str) -> list[str]:
    """Walk ``obj`` against ``tp``, then ``model_validate`` the chosen model if the walk saw no type error."""
    node = _compile(tp)
    out = _Problems()
    node.check(obj, root, out)
    if isinstance(node, _Union) and isinstance(obj, dict):
        models = node.candidates(obj)
        model = models[0] if len(models) == 1 else None
    else:
        model = node.model if isinstance(node, _Model) else None
    if model is not None and not out.exempt and all(": unknown field" in p for p in out):
        out += _pydantic_problems(model, obj, root)
    return list(out)


# ----------------------------------------------------------------------------- public entry points
def check_object(obj: dict[str, Any], model: type[pydantic.BaseModel], *, root: str = "object") -> list[str]:
    """Check ``obj`` against any SDK model (or union alias).

    Args:
        obj: The JSON object as sent on the wire.
        model: An SDK model class, or a union type alias such as ``ResponseOutputItem``.
        root: Name of the object in the reported paths.

    Returns:
        One message per problem, ``"<path>: <problem>"``; empty when the object is faithful.
    """
    return _check(obj, model, root)


def check_response(obj: dict[str, Any]) -> list[str]:
    """Check a ``Response`` object (``POST``/``GET /v1/responses``, terminal events)."""
    return _check(obj, Response, "response")


def check_item(obj: dict[str, Any], *, kind: Literal["output", "input", "stored"] = "output") -> list[str]:
    """Check an item, choosing its model by ``type``.

    Args:
        obj: The item.
        kind: ``output`` (``ResponseOutputItem``: ``response.output[]``, ``output_item.*`` events),
            ``input`` (``ResponseInputItem``: request ``input[]``) or ``stored`` (``ResponseItem``:
            ``GET …/input_items``).
    """
    tp = {"output": ResponseOutputItem, "input": ResponseInputItem, "stored": ResponseItem}[kind]
    return _check(obj, tp, "item")


def check_event(obj: dict[str, Any], *, transport: Literal["sse", "ws"] = "sse") -> list[str]:
    """Check a stream event, choosing its model by ``type``.

    Args:
        obj: The event (an SSE ``data:`` payload or a WebSocket text frame).
        transport: ``sse`` checks against ``ResponseStreamEvent`` (an ``error`` event may use the nested
            production shape, see ``ALLOW_LIST``); ``ws`` against ``ResponsesServerEvent`` (``stream_id``,
            ``ResponseWsError``).
    """
    nested = transport == "sse" and obj.get("type") == "error" and "error" in obj
    if nested and "ResponseErrorEvent.error" in ALLOW_LIST:
        return _check(obj, NestedSSEErrorEvent, "event")
    return _check(obj, ResponseStreamEvent if transport == "sse" else ResponsesServerEvent, "event")


def check_input_items_list(obj: dict[str, Any]) -> list[str]:
    """Check a ``GET /v1/responses/{id}/input_items`` body (``ResponseItemList``)."""
    return _check(obj, ResponseItemList, "list")


def check_input_tokens(obj: dict[str, Any]) -> list[str]:
    """Check a ``POST /v1/responses/input_tokens`` body (``InputTokenCountResponse``)."""
    return _check(obj, InputTokenCountResponse, "input_tokens")


def check_compacted(obj: dict[str, Any]) -> list[str]:
    """Check a ``POST /v1/responses/compact`` body (``CompactedResponse``)."""
    as_sent = "CompactedResponse.output" in ALLOW_LIST
    return _check(obj, CompactedResponseAsSent if as_sent else CompactedResponse, "compacted")


def check_deleted(obj: dict[str, Any]) -> list[str]:
    """Check a ``DELETE /v1/responses/{id}`` body by hand.

    The SDK has no model for it (it returns None); SPEC §2.3 picks
    ``{"id": "resp_…", "object": "response.deleted", "deleted": true}``.
    """
    want: dict[str, Callable[[Any], bool]] = {
        "id": lambda v: isinstance(v, str) and v.startswith("resp_"),
        "object": lambda v: v == "response.deleted",
        "deleted": lambda v: v is True,
    }
    out = [f"deleted.{k}: missing required field" for k in want if k not in obj]
    out += [
        f"deleted.{k}: unexpected value {obj[k]!r:.60}"
        for k, ok in want.items()
        if k in obj and not ok(obj[k])
    ]
    return out + [f"deleted.{k}: unknown field" for k in obj if k not in want]


_CHECKS: Final[Mapping[str, Callable[[dict[str, Any]], list[str]]]] = {
    "response": check_response,
    "item": check_item,
    "input_item": functools.partial(check_item, kind="input"),
    "stored_item": functools.partial(check_item, kind="stored"),
    "event": check_event,
    "ws_event": functools.partial(check_event, transport="ws"),
    "input_items_list": check_input_items_list,
    "deleted": check_deleted,
    "input_tokens": check_input_tokens,
    "compacted": check_compacted,
}


def assert_faithful(obj: dict[str, Any], kind: Kind = "response") -> None:
    """Assert that ``obj`` is faithful to the SDK models.

    Args:
        obj: The JSON object.
        kind: Which check to run (``response``, ``item``, ``event``, ``ws_event``, ``compacted``, …).

    Raises:
        AssertionError: Listing every problem found.
    """
    problems = _CHECKS[kind](obj)
    if problems:
        raise AssertionError(f"{len(problems)} fidelity problem(s) in {kind}:\n  " + "\n  ".join(problems))
