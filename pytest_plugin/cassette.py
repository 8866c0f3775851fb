"""The cassette file format (``format_version: 1``): a vcrpy-compatible skeleton with readable bodies.

::

    format_version: 1            # resplay's format (migrations.py upgrades older files)
    version: 1                   # vcrpy's cassette version: the skeleton below is vcrpy's
    interactions:
    - request:
        method: POST
        uri: https://api.openai.com/v1/responses
        headers: {content-type: [application/json], authorization: [REDACTED]}
        body: {json: {model: gpt-5, input: hi}}            # or {string: ...} or null
      response:
        status: {code: 200, message: OK}
        headers: {content-type: [text/event-stream; charset=utf-8]}
        body:
          sse:                                              # or {json: ...} or {string: ...}
          - event: response.created
            data: {type: response.created, sequence_number: 0, response: {...}}

Two representations meet here: *native* dicts, exactly what vcrpy's ``serialize``/``deserialize`` pass
(bodies as ``str``/``bytes``, headers as lists), and the *disk* document above. :func:`to_disk` renders
(decoding ``content-encoding``, redacting, parsing JSON and SSE) and :func:`from_disk` encodes back.
Rendering is exact: every readable body re-encodes to the bytes the wire carried (after decoding).
The module also holds the YAML reader and writer; it is pure.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

import yaml

from . import bodies
from .errors import CassetteFormatError
from .redaction import Redactor

__all__ = ["FORMAT_VERSION", "dump_yaml", "from_disk", "load_yaml", "to_disk"]

FORMAT_VERSION = 1
"""resplay's cassette format version (``format_version`` in the file)."""
VCR_VERSION = 1
"""vcrpy's cassette format version (``version`` in the file)."""

Native = dict[str, Any]


# ----------------------------------------------------------------------------------------- YAML
class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Safe dumper: block style for multi-line text, no anchors, key order kept."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Literal blocks keep multi-line text (instructions, prompts, raw streams) readable; the emitter
    # falls back to a quoted scalar by itself when the text cannot be a block (trailing spaces, ...).
    style = "|" if "\n" in value and len(value) > 1 else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader that degrades ``!!python/...`` tags (multidict headers of old cassettes) to data."""


def _python_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", _python_tag)


def dump_yaml(document: Mapping[str, Any]) -> str:
    """The YAML text of a disk document (UTF-8 kept, lines never folded, key order kept)."""
    return yaml.dump(
        dict(document),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=1 << 30,
        default_flow_style=False,
    )


class _Unusual(Exception):
    """The document needs the full loader (tags, anchors, merge keys, several documents, an error)."""


# The implicit scalar types of the safe loader; anything else (merge keys ``<<``, ``=``) takes the
# full loader.
_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp"))
_STR_TAG = "tag:yaml.org,2002:str"
_NO_KEY = object()
"""Marker: the mapping on top of the stack waits for its next key."""


def _load_events(text: str) -> Any:
    """The safe loader's result built straight from the parser's events, or :class:`_Unusual`.

    ``yaml.load`` composes a node tree, resolving and constructing every scalar in Python: about
    80% of a large cassette's replay (docs/performance.md). Cassettes are plain data (mappings,
    sequences, strings and a few numbers), so this builds the objects from the (C) parser's event
    stream in one loop, resolving each distinct plain scalar once. Whatever it does not handle
    exactly like the safe loader (explicit tags such as ``!!binary``, anchors and aliases, merge
    keys, collections as keys, several documents) raises :class:`_Unusual`, and so does any error:
    the caller then runs the full loader, which gives the same result or error as before.
    """
    loader = _Loader(text)
    try:
        if loader.yaml_path_resolvers:
            raise _Unusual
        get_event = loader.get_event
        resolve = loader.resolve
        constructors = loader.yaml_constructors
        plain: dict[str, Any] = {}  # plain scalar text -> its value (resolution depends on the text only)
        stack: list[list[Any]] = []  # [container, pending key] per open collection
        root: Any = None
        if type(get_event()) is not yaml.StreamStartEvent or type(get_event()) is not yaml.DocumentStartEvent:
            raise _Unusual
        while True:
            event = get_event()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                if event.anchor is not None or event.tag is not None:
                    raise _Unusual
                value: Any = event.value
                if event.implicit[0]:
                    try:
                        value = plain[value]
                    except KeyError:
                        tag = resolve(yaml.ScalarNode, value, event.implicit)
                        if tag != _STR_TAG:
                            if tag not in _PLAIN_TAGS:
                                raise _Unusual from None
                            value = constructors[tag](loader, yaml.ScalarNode(tag, value))
                        plain[event.value] = value
                # Quoted and block scalars without a tag are strings (no path resolvers).
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                if event.anchor is not None or event.tag is not None:
                    raise _Unusual
                value = {} if kind is yaml.MappingStartEvent else []
                if stack:
                    top = stack[-1]
                    if type(top[0]) is list:
                        top[0].append(value)
                    elif top[1] is _NO_KEY:
                        raise _Unusual  # a collection as a key: unhashable
                    else:
                        top[0][top[1]] = value
                        top[1] = _NO_KEY
                else:
                    root = value
                stack.append([value, _NO_KEY])
                continue
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                stack.pop()
                if stack:
                    continue
                break
            else:  # aliases, or a document that is not one node
                raise _Unusual
            if not stack:
                root = value
                break
            top = stack[-1]
            if type(top[0]) is list:
                top[0].append(value)
            elif top[1] is _NO_KEY:
                top[1] = value
            else:
                top[0][top[1]] = value
                top[1] = _NO_KEY
        if type(get_event()) is not yaml.DocumentEndEvent or type(get_event()) is not yaml.StreamEndEvent:
            raise _Unusual  # several documents: the full loader says so
        return root
    finally:
        loader.dispose()


def load_yaml(text: str, *, source: str = "<cassette>") -> dict[str, Any]:
    """Parse cassette YAML (the safe loader's semantics; plain data takes a fast path)."""
    try:
        document = _load_events(text)
    except Exception:  # anything unusual, errors included: the full loader decides
        try:
            document = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            raise CassetteFormatError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("interactions", []), list):
        raise CassetteFormatError(f"{source}: not a cassette (no 'interactions' list)")
    return document


# ------------------------------------------------------------------------------- native <-> disk
def _header(headers: Mapping[str, Any], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            if isinstance(value, list | tuple):
                return str(value[0]) if value else ""
            return str(value)
    return ""


def _set_header(headers: dict[str, Any], name: str, value: str | None) -> None:
    for key in list(headers):
        if key.lower() == name:
            if value is None:
                del headers[key]
            else:
                headers[key] = [value] if isinstance(headers[key], list | tuple) else value


def _as_bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, Mapping | list):  # aiohttp's json= / data= as vcrpy hands it over
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raise CassetteFormatError(f"unexpected body type {type(value).__name__}")


def _decoded(headers: dict[str, Any], raw: bytes | None) -> bytes | None:
    """Undo ``content-encoding`` and drop the header (the replay then serves plain bytes)."""
    coding = _header(headers, "content-encoding")
    if raw is None or not coding:
        return raw
    plain = bodies.decode_content(raw, coding)
    if plain is None:
        return raw  # unknown coding, or br without the brotli package: kept as recorded
    _set_header(headers, "content-encoding", None)
    return plain


def _render_body(headers: dict[str, Any], raw: bytes | None, redactor: Redactor | None) -> dict[str, Any]:
    if raw is not None and redactor is not None:
        raw = redactor.data(raw)
    if raw is not None and _header(headers, "content-length"):
        _set_header(headers, "content-length", str(len(raw)))
    return bodies.render(raw, _header(headers, "content-type"))


def to_disk(native: Mapping[str, Any], redactor: Redactor | None = None) -> dict[str, Any]:
    """Render vcrpy's native cassette dict as the readable, redacted disk document."""
    interactions = []
    for interaction in native.get("interactions") or []:
        request = interaction["request"]
        response = copy.deepcopy(interaction["response"])
        req_headers = dict(request.get("headers") or {})
        req_raw = _decoded(req_headers, _as_bytes(request.get("body")))
        resp_headers = dict(response.get("headers") or {})
        resp_raw = _decoded(resp_headers, _as_bytes((response.get("body") or {}).get("string")))
        if redactor is not None:
            req_headers = redactor.header_map(req_headers)
            resp_headers = redactor.header_map(resp_headers)
        req_body: dict[str, Any] | None = _render_body(req_headers, req_raw, redactor)
        if req_body == {"string": None} or req_body == {"string": ""}:
            req_body = None
        uri = str(request["uri"])
        status = response.get("status") or {}
        interactions.append(
            {
                "request": {
                    "method": request["method"],
                    "uri": redactor.text(uri) if redactor is not None else uri,
                    "headers": req_headers,
                    "body": req_body,
                },
                "response": {
                    "status": {"code": status.get("code"), "message": status.get("message")},
                    "headers": resp_headers,
                    "body": _render_body(resp_headers, resp_raw, redactor),
                },
            }
        )
    document: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "version": native.get("version", VCR_VERSION),
        "interactions": interactions,
    }
    if native.get("metadata"):
        metadata = native["metadata"]
        document["metadata"] = redactor.tree(metadata) if redactor is not None else metadata
    return document


def from_disk(document: Mapping[str, Any]) -> Native:
    """vcrpy's native cassette dict from a disk document of the current format."""
    interactions = []
    for index, interaction in enumerate(document.get("interactions") or []):
        try:
            request, response = interaction["request"], interaction["response"]
            req_body = request.get("body")
            native_req = {
                "method": request["method"],
                "uri": request["uri"],
                "body": bodies.encode(req_body) if isinstance(req_body, Mapping) else _as_bytes(req_body),
                "headers": dict(request.get("headers") or {}),
            }
            native_resp = {
                "status": dict(response.get("status") or {}),
                "headers": dict(response.get("headers") or {}),
                "body": {"string": bodies.encode(response.get("body") or {"string": b""}) or b""},
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise CassetteFormatError(f"interaction {index}: {exc!r}") from exc
        interactions.append({"request": native_req, "response": native_resp})
    native: Native = {"version": document.get("version", VCR_VERSION), "interactions": interactions}
    if document.get("metadata"):
        native["metadata"] = document["metadata"]
    return native
