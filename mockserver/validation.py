"""Request-body validation: every body is checked the way api.openai.com checks it, before the engine.

The schema is a snapshot of the openai SDK 3.51.0 param types (``data/create_schema.json``, written by
``tools/gen_schema.py``; the runtime never imports ``openai``). On first use it is compiled once into
closures, so a typical request costs a few microseconds::

    create_schema.json --compile--> check(value, path)  (one closure per node, refs shared)
          validate_create / validate_input_tokens / validate_compact
              1. body is a JSON object
              2. required parameters present        (create: `model`, then `input`)
              3. no unknown top-level parameter      (first unknown key in body order)
              4. fields, in the API's order          (create: the measured order; nested: SDK order)
              5. cross-field rules                   (stream_options, id formats, exclusive fields,
                                                      empty input, compaction_trigger position)

Everything is reported as :class:`~mockserver.errors.InvalidRequest` (400 ``invalid_request_error``)
with the real API's ``message``, ``param`` path (``input[1].status``, ``reasoning.effort``,
``tools[0].parameters``, ``text.format.schema``) and ``code``, first problem only.

Rules, and where they come from (SPEC §1.2, §2, §14, §16; DECISIONS 18 and 29):

* Objects are closed: an unknown key, even with a ``null`` value, is ``unknown_parameter``
  (openai/openai-python#3008). Within an object the order is: missing required keys, unknown keys,
  then each field (measured the same on the top level and inside input items).
* ``null`` on an optional field means "omitted" (measured on the OpenAI surfaces); on a required field
  it is ``invalid_type`` ("but got null instead"). Quirk kept from measurement: ``model: null`` and
  ``input: null`` on create answer "expected a string, but got an object instead".
* ``model`` is required on create (measured, although the SDK leaves it optional); an empty one
  counts as missing. ``input`` is required too unless a ``prompt`` template is given (chosen);
  present but empty (``[]``/``""``) with no ``previous_response_id``, ``prompt`` or ``conversation``
  it is the measured "One of "input" or …" error.
* Message items: EasyInputMessage, Message and ResponseOutputMessage merged per role as the API does
  (measured: any message may carry ``type``, ``role``, ``content``, ``status``, ``id``); ``phase`` only
  on assistant messages, elsewhere ``unknown_parameter`` at ``input[i].phase`` (SPEC §10). A wrong
  item ``type`` or ``role`` is ``invalid_value`` at ``input[i]``; a content part of the wrong role is
  ``invalid_value`` at ``input[i].content[j]`` ("Supported values are: 'output_text' and 'refusal'.").
* Numeric ranges (temperature 0–2, top_p 0–1, top_logprobs 0–20, max_output_tokens >= 16, ...),
  string lengths, ``metadata`` limits, patterns, id prefixes: see ``tools/gen_schema.py``.

Chosen where nothing was observed (DECISIONS 18; listed in ``docs/errors.md``):

* a body that is not an object: "Invalid body: expected a JSON object, but got an array instead."
  (``code: invalid_type``, ``param: null``);
* ``stream_options`` without ``stream: true`` over HTTP: "The 'stream_options' parameter is only
  allowed when 'stream' is enabled." (``param: stream_options``, no code; the wording Chat uses for
  ``top_logprobs`` without ``logprobs``);
* ``compaction_trigger`` not last: "Invalid 'input[i]': a 'compaction_trigger' item must be the final
  input item." (``invalid_value``);
* WebSocket ``background: true``: ``unsupported_parameter`` (SPEC §6.2); ``stream`` is accepted and
  ignored there; ``stream_id`` is checked with the documented ``invalid_stream_id`` error;
* ``compact_threshold`` < 1000: the ordinary ``integer_below_min_value``; too short strings:
  ``string_below_min_length``; an empty ``allowed_tools.tools``: ``empty_array``.

Observed (third-party measurement against api.openai.com) and mirrored:
``previous_response_id`` with ``conversation`` is "Mutually exclusive parameters: ''. Ensure you are
only providing one of: 'pre..._id' or 'conversation'." with ``param: null`` and code
``mutually_exclusive_parameters``; it is reported after all field checks.

Model existence, reasoning-effort support per model and chain lookups belong to the engine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from . import errors
from .errors import InvalidRequest

__all__ = ["SNAPSHOT_PATH", "sdk_version", "validate_compact", "validate_create", "validate_input_tokens"]

SNAPSHOT_PATH = Path(__file__).resolve().parent / "data" / "create_schema.json"
"""The schema snapshot written by ``tools/gen_schema.py``."""

Check = Callable[[Any, str], None]
"""A compiled node: raises :class:`InvalidRequest` for ``value`` found at ``path``."""

_ID_CHARS = re.compile(r"[A-Za-z0-9_-]*")
_STREAM_ID = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_KIND_ORDER = ("str", "list", "obj", "int", "num", "bool")


# --- public API --------------------------------------------------------------------------------------


def validate_create(body: object, *, websocket: bool = False) -> dict[str, Any]:
    """Validate a ``POST /v1/responses`` body or a WebSocket ``response.create`` event.

    Args:
        body: The parsed JSON body (or the whole WebSocket event, ``type`` included).
        websocket: Validate as a WebSocket ``response.create`` event: ``type`` is required,
            ``stream_id`` and ``generate`` are allowed, ``background`` is refused (SPEC §6.2).

    Returns:
        ``body`` itself, unchanged.

    Raises:
        InvalidRequest: The first problem, in the real API's order and wording.
    """
    compiled = _compiled()
    root = compiled.ws_create if websocket else compiled.create
    obj = _require_object(body)
    # 2. required parameters first (measured: `model` beats an unknown key, then `input`)
    model = obj.get("model", _MISSING)
    if model is _MISSING or (type(model) is str and not model.strip()):
        raise errors.missing_required("model")
    if model is None:
        raise _null_as_object("model")
    if "input" not in obj and obj.get("prompt") is None:
        raise errors.missing_required("input")
    if obj.get("input", _MISSING) is None:
        raise _null_as_object("input")
    _check_root(root, obj)
    _cross_create(obj, websocket=websocket)
    return obj


def validate_input_tokens(body: object) -> dict[str, Any]:
    """Validate a ``POST /v1/responses/input_tokens`` body (SPEC §2.6).

    Args:
        body: The parsed JSON body.

    Returns:
        ``body`` itself, unchanged.

    Raises:
        InvalidRequest: The first problem, in the real API's order and wording.
    """
    obj = _require_object(body)
    _check_root(_compiled().input_tokens, obj)
    _check_exclusive(obj)
    return obj


def validate_compact(body: object) -> dict[str, Any]:
    """Validate a ``POST /v1/responses/compact`` body (SPEC §2.7).

    Args:
        body: The parsed JSON body.

    Returns:
        ``body`` itself, unchanged.

    Raises:
        InvalidRequest: The first problem, in the real API's order and wording.
    """
    obj = _require_object(body)
    _check_root(_compiled().compact, obj)
    return obj


def sdk_version() -> str:
    """The openai SDK version the schema snapshot was generated from."""
    return str(_load_snapshot()["sdk"]["version"])


# --- top level and cross-field rules -----------------------------------------------------------------

_MISSING: Any = object()


def _require_object(body: object) -> dict[str, Any]:
    if type(body) is not dict:
        raise errors.invalid_body(body)
    return body


def _null_as_object(param: str) -> InvalidRequest:
    # Measured quirk of the create surface: null is described as a failed string, worded "an object".
    return InvalidRequest(
        f"Invalid type for '{param}': expected a string, but got an object instead.",
        param=param,
        code="invalid_type",
    )


def _check_root(root: _Obj, obj: dict[str, Any]) -> None:
    for key in root.req:
        if key not in obj:
            raise errors.missing_required(key)
    if not root.known.issuperset(obj):
        for key in obj:
            if key not in root.known:
                if key == "messages":
                    # Observed: its own sentence, no param.
                    raise InvalidRequest(
                        "Unsupported parameter: 'messages'. In the Responses API, this parameter has moved "
                        "to 'input'. Try again with the new parameter. See the API documentation for more "
                        "information: https://platform.openai.com/docs/api-reference/responses/create.",
                        code="unsupported_parameter",
                    )
                raise errors.unknown_parameter(key)
    try:  # fast path in body order; on a failure, re-run in the API's order for the first error
        props = root.props
        for key, item in obj.items():
            check, null_ok = props[key]
            if item is None and null_ok:
                continue
            check(item, key)
    except InvalidRequest:
        _fields_in_order(root, obj, "")
        raise


def _cross_create(obj: dict[str, Any], *, websocket: bool) -> None:
    if websocket:
        if obj.get("background") is True:
            # SPEC §6.2: "background is not supported over WebSocket" (error wording chosen).
            raise errors.unsupported_parameter(
                "background", "Unsupported parameter: 'background' is not supported in WebSocket mode."
            )
        stream_id = obj.get("stream_id")
        if stream_id is not None and not _STREAM_ID.fullmatch(stream_id):
            raise errors.invalid_stream_id()  # SPEC §6.4
    elif obj.get("stream_options") is not None and obj.get("stream") is not True:
        # SDK: "Only set this when you set `stream: true`." (wording chosen)
        raise errors.only_allowed_with("stream_options", "stream")
    _check_exclusive(obj)
    # Measured: reported after the field checks and the exclusive pair.
    value = obj.get("input")
    if (value == "" or value == []) and all(
        obj.get(k) is None for k in ("previous_response_id", "prompt", "conversation")
    ):
        raise errors.missing_input()


def _check_exclusive(obj: Mapping[str, Any]) -> None:
    # SPEC §2.8 / SDK: "Cannot be used in conjunction with `conversation`."
    if obj.get("previous_response_id") is not None and obj.get("conversation") is not None:
        raise errors.mutually_exclusive("previous_response_id", "conversation")


def _check_input_list(items: list[Any], path: str) -> None:
    """SDK: ``compaction_trigger`` "Must be the final input item" (error chosen)."""
    last = len(items) - 1
    for i, item in enumerate(items):
        if i != last and type(item) is dict and item.get("type") == "compaction_trigger":
            param = f"{path}[{i}]"
            raise InvalidRequest(
                f"Invalid '{param}': a 'compaction_trigger' item must be the final input item.",
                param=param,
                code="invalid_value",
            )


# --- compiled schema ---------------------------------------------------------------------------------


class _Obj(NamedTuple):
    """A compiled closed object: what the top level needs to run the phases itself."""

    req: tuple[str, ...]
    known: frozenset[str]
    props: dict[str, tuple[Check, bool]]
    """key -> (check, null accepted)."""
    order: tuple[str, ...]


class _Compiled(NamedTuple):
    create: _Obj
    ws_create: _Obj
    input_tokens: _Obj
    compact: _Obj


@lru_cache(maxsize=1)
def _load_snapshot() -> dict[str, Any]:
    with SNAPSHOT_PATH.open(encoding="utf-8") as fh:
        snapshot: dict[str, Any] = json.load(fh)
    return snapshot


@lru_cache(maxsize=1)
def _compiled() -> _Compiled:
    snapshot = _load_snapshot()
    compiler = _Compiler(snapshot["defs"])
    roots = snapshot["roots"]
    return _Compiled(
        create=compiler.root(roots["create"]),
        ws_create=compiler.root(roots["ws_create"]),
        input_tokens=compiler.root(roots["input_tokens"]),
        compact=compiler.root(roots["compact"]),
    )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _fields_in_order(spec: _Obj, value: dict[str, Any], path: str) -> None:
    """Check the fields of ``value`` in declared order (the order errors are reported in)."""
    props = spec.props
    for key in spec.order:
        if key in value:
            item = value[key]
            check, null_ok = props[key]
            if item is None:
                if null_ok:
                    continue
                check(item, _join(path, key))  # raises invalid_type "got null"
            else:
                check(item, _join(path, key))


class _Compiler:
    """Turns snapshot nodes into closures; definitions are compiled once and shared."""

    def __init__(self, defs: Mapping[str, Any]) -> None:
        self.defs = defs
        self.done: dict[str, Check] = {}
        self.busy: set[str] = set()
        self.objs: dict[str, _Obj] = {}

    def root(self, name: str) -> _Obj:
        self.ref(name)
        return self.objs[name]

    def ref(self, name: str) -> Check:
        if name in self.done:
            return self.done[name]
        if name in self.busy:  # recursive definition: late-bound trampoline
            done = self.done

            def late(value: Any, path: str) -> None:
                done[name](value, path)

            return late
        self.busy.add(name)
        check = self.node(self.defs[name], name)
        self.busy.discard(name)
        self.done[name] = check
        return check

    def node(self, node: Mapping[str, Any], name: str | None = None) -> Check:
        kind = node["t"]
        if kind == "ref":
            return self.ref(node["ref"])
        if kind == "obj":
            return self.obj(node, name)
        if kind == "str":
            return _str_check(node)
        if kind in ("int", "num"):
            return _number_check(node)
        if kind == "bool":
            return _bool_check
        if kind == "any":
            return _any_check
        if kind == "list":
            return self.list(node)
        if kind == "map":
            return self.map(node)
        if kind == "union":
            return self.union(node)
        if kind == "tagged":
            return self.tagged(node)
        raise ValueError(f"unknown schema node {kind!r}")

    def obj(self, node: Mapping[str, Any], name: str | None) -> Check:
        req = tuple(node["req"])
        props = {k: (self.node(v), k not in req or bool(v.get("null"))) for k, v in node["props"].items()}
        spec = _Obj(req, frozenset(props), props, tuple(node["order"]))
        if name is not None:
            self.objs[name] = spec
        known = spec.known
        is_input_owner = "input" in props and name is not None and name.endswith("Body")

        def check(value: Any, path: str) -> None:
            if type(value) is not dict:
                raise errors.invalid_type(path, "an object", value)
            for key in req:
                if key not in value:
                    raise errors.missing_required(_join(path, key))
            if not known.issuperset(value):
                for key in value:
                    if key not in known:
                        raise errors.unknown_parameter(_join(path, key))
            try:
                # fast path in body order; on a failure, re-run in declared order for the first error
                for key, item in value.items():
                    chk, null_ok = props[key]
                    if item is None and null_ok:
                        continue
                    chk(item, _join(path, key))
            except InvalidRequest:
                _fields_in_order(spec, value, path)
                raise

        if is_input_owner:
            # compaction_trigger position, checked at the `input` slot (after the items themselves)
            input_check, input_null = props["input"]

            def input_then_position(value: Any, path: str) -> None:
                input_check(value, path)
                if type(value) is list:
                    _check_input_list(value, path)

            props["input"] = (input_then_position, input_null)
        return check

    def list(self, node: Mapping[str, Any]) -> Check:
        item_node = node["items"]
        item = self.node(item_node)
        item_null = bool(item_node.get("null"))
        lo, hi = node.get("min"), node.get("max")
        label = _label(node)

        def check(value: Any, path: str) -> None:
            if type(value) is not list:
                raise errors.invalid_type(path, label, value)
            if lo is not None and len(value) < lo:
                raise errors.empty_array(path, lo)
            if hi is not None and len(value) > hi:
                raise errors.array_above_max_length(path, hi, value)
            for i, x in enumerate(value):
                if x is None and item_null:
                    continue
                item(x, f"{path}[{i}]")

        return check

    def map(self, node: Mapping[str, Any]) -> Check:
        values_node = node["values"]
        values = self.node(values_node)
        values_null = bool(values_node.get("null"))
        max_props, key_max = node.get("max_props"), node.get("key_max")
        plain_any = values_node["t"] == "any" and max_props is None and key_max is None

        if plain_any:

            def check_any(value: Any, path: str) -> None:
                if type(value) is not dict:
                    raise errors.invalid_type(path, "an object", value)

            return check_any

        def check(value: Any, path: str) -> None:
            if type(value) is not dict:
                raise errors.invalid_type(path, "an object", value)
            if max_props is not None and len(value) > max_props:
                raise errors.object_above_max_properties(path, max_props, len(value))
            for key, item in value.items():
                if key_max is not None and len(key) > key_max:
                    raise errors.property_name_above_max_length(path, key, key_max)
                if item is None and values_null:
                    continue
                values(item, _join(path, key))

        return check

    def union(self, node: Mapping[str, Any]) -> Check:
        members = sorted(node["of"], key=lambda m: _KIND_ORDER.index(_kind(m)))
        table: dict[type, Check] = {}
        for member in members:
            check = self.node(member)
            for py in _PY_TYPES[_kind(member)]:
                table.setdefault(py, check)
        label = "one of " + _join_words([_label(m, article=i == 0) for i, m in enumerate(members)])

        def check_union(value: Any, path: str) -> None:
            check = table.get(type(value))
            if check is None:
                raise errors.invalid_type(path, label, value)
            check(value, path)

        return check_union

    def tagged(self, node: Mapping[str, Any]) -> Check:
        tag = node["tag"]
        table = {value: self.node(sub) for value, sub in node["map"].items()}
        values: list[str] = node["values"]
        at_self = node.get("err") == "self"
        universe = frozenset(node.get("universe", ()))
        universe_list = list(node.get("universe", ()))
        default = self.node(node["default"]) if "default" in node else None
        alt = node.get("alt")
        alt_keys = frozenset(alt["keys"]) if alt else frozenset()
        alt_first = alt["keys"][0] if alt else ""
        alt_check = self.node(alt["node"]) if alt else None
        missing_as_value = node.get("missing") == "value"

        def check(value: Any, path: str) -> None:
            if type(value) is not dict:
                raise errors.invalid_type(path, "an object", value)
            found = value.get(tag)
            if found is None:
                if alt_check is not None and alt_first in value and alt_keys.issuperset(value):
                    return alt_check(value, path)
                if default is not None:
                    return default(value, path)
                if missing_as_value:
                    raise errors.invalid_value(path, "", values)
                raise errors.missing_required(_join(path, tag))
            if type(found) is not str:
                raise errors.invalid_type(_join(path, tag), errors.one_of(values), found)
            sub = table.get(found)
            if sub is None:
                if universe and found not in universe:
                    raise errors.invalid_value(_join(path, tag), found, universe_list)
                raise errors.invalid_value(path if at_self else _join(path, tag), found, values)
            sub(value, path)

        return check


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "list": (list,),
    "obj": (dict,),
    "int": (int,),
    "num": (int, float),
    "bool": (bool,),
}


def _kind(node: Mapping[str, Any]) -> str:
    kind = str(node["t"])
    if kind in ("ref", "map", "tagged", "obj"):
        return "obj"
    if kind in ("any", "union"):
        raise ValueError(f"a {kind} node cannot be a union member")
    return kind


def _label(node: Mapping[str, Any], *, article: bool = True) -> str:
    """The ``expected ...`` words of an ``invalid_type`` message (observed style)."""
    kind = node["t"]
    if kind == "str":
        return errors.one_of(node["enum"]) if "enum" in node else "a string"
    if kind == "int":
        return "an integer"
    if kind == "num":
        return "a decimal"
    if kind == "bool":
        return "a boolean"
    if kind == "list":
        words = node.get("label") or _items_words(node["items"])
        # in a union the array loses its article: "one of a string or array of objects"
        return f"an array of {words}" if article else f"array of {words}"
    return "an object"


def _items_words(item: Mapping[str, Any]) -> str:
    kind = item["t"]
    if kind == "str":
        if "enum" in item:
            # measured on `include`: members elided in the type message
            return errors.one_of(errors.elide_name(v) for v in item["enum"])
        return "strings"
    return {"int": "integers", "num": "decimals", "bool": "booleans", "list": "arrays"}.get(kind, "objects")


def _join_words(words: list[str]) -> str:
    if len(words) <= 2:
        return " or ".join(words)
    return ", ".join(words[:-1]) + f", or {words[-1]}"


# --- leaf checks -------------------------------------------------------------------------------------


def _any_check(value: Any, path: str) -> None:
    return None


def _bool_check(value: Any, path: str) -> None:
    if type(value) is not bool:
        raise errors.invalid_type(path, "a boolean", value)


def _str_check(node: Mapping[str, Any]) -> Check:
    enum: list[str] | None = node.get("enum")
    lo: int | None = node.get("min")
    hi: int | None = node.get("max")
    pattern: str | None = node.get("pat")
    prefix: str | None = node.get("prefix")
    idchars = bool(node.get("idchars"))
    if enum is None and lo is None and hi is None and pattern is None and prefix is None and not idchars:

        def check_plain(value: Any, path: str) -> None:
            if type(value) is not str:
                raise errors.invalid_type(path, "a string", value)

        return check_plain
    if enum is not None:
        members = frozenset(enum)
        label = errors.one_of(enum)

        def check_enum(value: Any, path: str) -> None:
            if type(value) is not str:
                raise errors.invalid_type(path, label, value)
            if value not in members:
                raise errors.invalid_value(path, value, enum)

        return check_enum
    regex = re.compile(pattern) if pattern is not None else None

    def check(value: Any, path: str) -> None:
        if type(value) is not str:
            raise errors.invalid_type(path, "a string", value)
        if hi is not None and len(value) > hi:
            raise errors.string_above_max_length(path, hi, value)
        if lo is not None and len(value) < lo:
            raise errors.string_below_min_length(path, lo, value)
        if regex is not None and pattern is not None and not regex.search(value):
            raise errors.string_pattern_mismatch(path, pattern)
        if idchars and not _ID_CHARS.fullmatch(value):
            raise errors.invalid_id_characters(path, value)
        if prefix is not None and not value.startswith(prefix):
            raise errors.invalid_id_prefix(path, value, prefix)

    return check


def _number_check(node: Mapping[str, Any]) -> Check:
    integer = node["t"] == "int"
    accepted: tuple[type, ...] = (int,) if integer else (int, float)
    label = "an integer" if integer else "a decimal"
    ge: float | None = node.get("ge")
    le: float | None = node.get("le")
    below: Callable[[str, Any, Any], InvalidRequest] = (
        errors.integer_below_min if integer else errors.decimal_below_min
    )
    above: Callable[[str, Any, Any], InvalidRequest] = (
        errors.integer_above_max if integer else errors.decimal_above_max
    )

    def check(value: Any, path: str) -> None:
        if type(value) not in accepted:
            raise errors.invalid_type(path, label, value)
        if ge is not None and value < ge:
            raise below(path, ge, value)
        if le is not None and value > le:
            raise above(path, le, value)

    return check
