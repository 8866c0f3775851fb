"""Exact token counts of a canonical rendering of a request (DECISIONS 16).

Text is tokenized exactly with the model's encoding (``o200k_base`` or ``cl100k_base``) by the
``quicktok-v1`` package, whose rank tables and output were checked against a second implementation
(``docs/tokens.md``). The request is rendered the way the real models frame a prompt, and what cannot
be seen from outside (special tokens, hidden tool preambles, image tiles) is counted with constants
calibrated on the ``usage.input_tokens`` of the real traffic (``tools/calibrate_tokens.py``).

Canonical rendering (see :func:`render_canonical`)::

    <|start|>developer<|message|>{instructions}{tools}{text format}<|end|>   only when any of the three
    <|start|>{role}<|message|>{content}<|end|>                               one per message
    <|start|>assistant to=functions.{name}<|message|>{arguments}<|call|>     function_call
    <|start|>functions.{name}<|message|>{output}<|end|>                      function_call_output
    ...
    <|start|>assistant                                                       reply priming

``{tools}`` renders function tools as TypeScript declarations (the openai-harmony layout), built-in
tools as one fixed-cost marker each; tools with ``defer_loading: true`` cost nothing until a
``tool_search_output`` loads them (SPEC §11). Every ``<|...|>`` marker costs the constant of its name in
:data:`OVERHEADS` for the model's token style (``harmony`` for o-series / gpt-5+, ``chatml`` for
gpt-4o / gpt-4.1 / gpt-4 / gpt-3.5; ``ModelInfo.token_style``); all other text is tokenized.

Reasoning items count only their visible summary / reasoning text: the hidden reasoning tokens of earlier
responses are not re-billed unless the engine passes them as ``extra_tokens``. Compaction items are
opaque: they cost their ``_tokens`` hint (set by the engine), else :data:`COMPACTION_DEFAULT_TOKENS`.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

__all__ = [
    "BREAKPOINT_LABEL",
    "BUILTIN_TOOL_TOKENS",
    "COMPACTION_DEFAULT_TOKENS",
    "COMPACTION_TOKENS_PER_CHAR",
    "ENCODINGS",
    "FILE_TOKENS",
    "IMAGE_TOKENS",
    "OVERHEADS",
    "PRO_MODE_TOKENS",
    "Progress",
    "Rendering",
    "TokenizerUnavailable",
    "count_input",
    "count_text",
    "decode",
    "encode",
    "input_breakdown",
    "preload",
    "render_canonical",
    "render_chain",
    "render_pieces",
    "render_tool",
    "rendered_tokens",
]

ENCODINGS: tuple[str, ...] = ("o200k_base", "cl100k_base")

# --- calibrated constants (tools/calibrate_tokens.py; docs/tokens.md) --------------------------------------

OVERHEADS: dict[str, dict[str, int]] = {
    # Fitted by tools/calibrate_tokens.py --fit (mean |error| minimized); n = recordings using the key.
    "harmony": {
        "message": 4,  # <|start|>{role}<|message|>...<|end|>        n=46, exact on every plain chat
        "assistant_header": 2,  # <|channel|>final on assistant history
        "priming": 2,  # <|start|>assistant
        "developer": 4,  # the developer message holding instructions / tools / format
        "tools": 11,  # "# Tools" / namespace framing, once
        "instructions_and_tools": 3,
        "function": 0,  # per function tool, besides its TypeScript text
        "format": 2,  # json_schema text format, besides "{name}\n{compact schema}" (chosen = chatml)
        "function_call": 18,  # n=6
        "function_call_output": 6,
        "tool_call": 222,  # hosted tool call items replayed (mcp_list_tools, ...), n=2: rough
        "tool_output": 6,  # chosen (no data)
        "reasoning": 0,
        "tool_search_call": 16,  # n=2: rough
        "tool_search_output": 6,  # n=2: rough
    },
    "chatml": {
        "message": 4,  # <|im_start|>{role}<|im_sep|>...<|im_end|>     n=95, exact on every plain chat
        "assistant_header": 0,
        "priming": 3,  # <|im_start|>assistant<|im_sep|>
        "developer": 4,
        "tools": 4,
        "instructions_and_tools": 13,
        "function": 1,
        "format": 2,  # besides "{name}\n{compact schema}", n=7
        "function_call": 8,
        "function_call_output": 6,
        "tool_call": 8,  # chosen (no data)
        "tool_output": 6,  # chosen (no data)
        "reasoning": 0,
        "tool_search_call": 8,  # chosen (no data: tool_search needs gpt-5.4+)
        "tool_search_output": 6,  # chosen (no data)
    },
}
"""Fixed token costs of the structural markers, per token style (docs/tokens.md has the table)."""

BUILTIN_TOOL_TOKENS: dict[str, int] = {
    "web_search": 8500,  # rough: recordings with one search land at 8,200-8,600 (not fitted)
    "web_search_preview": 300,  # rough: 312 with one search on gpt-4o-mini (not fitted)
    "file_search": 800,  # fitted, n=1
    "code_interpreter": 389,  # fitted, n=1
    "image_generation": 300,  # chosen (no usable recording)
    "computer_use_preview": 300,  # chosen
    "computer": 300,  # chosen
    "mcp": 381,  # fitted, n=2 (the server's tool list comes as mcp_list_tools items)
    "local_shell": 300,  # chosen
    "shell": 300,  # chosen
    "apply_patch": 300,  # chosen
    "tool_search": 97,  # fitted, n=2
}
"""Hidden preamble cost of each built-in tool (its own instructions the model sees); unknown types cost
``300`` (chosen)."""
_BUILTIN_DEFAULT = 300

IMAGE_TOKENS: dict[str, int] = {"low": 85, "high": 765, "auto": 765, "original": 765}
"""Fixed cost of one ``input_image`` per ``detail``: the documented gpt-4o tile formula, 85 base tokens plus
170 per 512-px tile, for a 1024x1024 image at high detail (4 tiles = 765) and 85 at low detail. The real
cost depends on the image's size and the model; resplay does not decode images (chosen, docs/tokens.md)."""

FILE_TOKENS: int = 256
"""Fixed cost of one ``input_file`` besides its file name (chosen: the real cost is the extracted text plus
page images, which resplay does not compute)."""

COMPACTION_DEFAULT_TOKENS: int = 256
"""Cost of a ``compaction`` item with neither a ``_tokens`` hint nor ``encrypted_content`` (chosen)."""

COMPACTION_TOKENS_PER_CHAR: float = 0.11
"""Without a ``_tokens`` hint a compaction item costs ``len(encrypted_content) * 0.11``: measured on the two
real compaction items recorded (541 tokens for 4,772 characters, 578 for 5,260; pydantic-ai
``test_openai_responses_compact_stateful_mode*.yaml``)."""

PRO_MODE_TOKENS: int = 1531
"""Hidden input added by ``reasoning.mode: "pro"`` (measured once: gpt-5.6-sol, 1,549 vs 18 input tokens for
the same one-line prompt). Not added by :func:`count_input`; the engine may pass it as ``extra_tokens``."""

# --- tokenizer backend -------------------------------------------------------------------------------------

_QUICKTOK_DIST = "quicktok-v1"
_SELF_TEST = {"o200k_base": ("hello world", [24912, 2375]), "cl100k_base": ("hello world", [15339, 1917])}


class TokenizerUnavailable(RuntimeError):
    """The ``quicktok`` import is missing or is not the ``quicktok-v1`` tokenizer."""


class _Tokenizer(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int], errors: str = "replace") -> str: ...

    def count(self, text: str) -> int: ...


_encoders: dict[str, _Tokenizer] = {}
_encoders_lock = threading.Lock()


def _check_backend() -> Any:
    """Import ``quicktok`` and make sure it is the ``quicktok-v1`` wheel.

    An unrelated PyPI package is also imported as ``quicktok`` (DECISIONS 16): check the distribution
    name, the API and a known encoding before trusting it.
    """
    from importlib import metadata

    try:
        dist_version = metadata.version(_QUICKTOK_DIST)
    except metadata.PackageNotFoundError as exc:
        raise TokenizerUnavailable(
            f"resplay needs the '{_QUICKTOK_DIST}' package (import name 'quicktok'): "
            f"pip install '{_QUICKTOK_DIST}>=0.4,<0.5'. An unrelated package named 'quicktok' is not it."
        ) from exc
    try:
        import quicktok
    except ImportError as exc:  # pragma: no cover - broken install
        raise TokenizerUnavailable(
            f"'{_QUICKTOK_DIST}' {dist_version} is installed but 'quicktok' fails to import"
        ) from exc
    if not callable(getattr(quicktok, "get_encoding", None)) or not hasattr(quicktok, "Tokenizer"):
        raise TokenizerUnavailable(
            f"the imported 'quicktok' ({getattr(quicktok, '__file__', '?')}) is not the '{_QUICKTOK_DIST}' "
            "tokenizer (no get_encoding/Tokenizer): uninstall the unrelated 'quicktok' package and "
            f"reinstall '{_QUICKTOK_DIST}'"
        )
    module_version = str(getattr(quicktok, "__version__", ""))
    if module_version != dist_version:
        raise TokenizerUnavailable(
            f"'quicktok' module version {module_version!r} differs from the installed '{_QUICKTOK_DIST}' "
            f"{dist_version!r}: another package shadows it; reinstall '{_QUICKTOK_DIST}'"
        )
    return quicktok


def _encoder(encoding: str) -> _Tokenizer:
    enc = _encoders.get(encoding)
    if enc is not None:
        return enc
    if encoding not in _SELF_TEST:
        raise ValueError(f"unknown encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}")
    with _encoders_lock:
        enc = _encoders.get(encoding)
        if enc is None:
            quicktok = _check_backend()
            loaded: _Tokenizer = quicktok.get_encoding(encoding)
            sample, expected = _SELF_TEST[encoding]
            if list(loaded.encode_ordinary(sample)) != expected:
                raise TokenizerUnavailable(f"quicktok's {encoding} fails the self-test on {sample!r}")
            _encoders[encoding] = enc = loaded
    return enc


def preload(encodings: Iterable[str] = ENCODINGS) -> None:
    """Load the encoders now (about a second for o200k_base) instead of on the first request."""
    for name in encodings:
        _encoder(name)


def preload_in_background() -> None:
    """Start :func:`preload` on a daemon thread, once per process.

    Servers call this at start so that start-up stays in milliseconds while the encoders load; a request
    that needs an encoder before it is ready waits for it on the loader's lock.
    """
    global _preloading
    with _preload_lock:  # not the loader's lock: that one is held for the whole load
        if _preloading:
            return
        _preloading = True
    threading.Thread(target=preload, name="resplay-tokenizer-preload", daemon=True).start()


_preloading = False
_preload_lock = threading.Lock()


def _clean(text: str) -> str:
    """Replace lone surrogates (valid in a JSON string, not in UTF-8) by U+FFFD, as tiktoken does."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def encode(text: str, encoding: str = "o200k_base") -> list[int]:
    """Token ids of ``text``; special-token strings are plain text (tiktoken's ``encode_ordinary``)."""
    return list(_encoder(encoding).encode_ordinary(_clean(text)))


def decode(tokens: list[int], encoding: str = "o200k_base") -> str:
    """Text of ``tokens``; a token that splits a UTF-8 character decodes to U+FFFD (used to truncate
    output at ``max_output_tokens``)."""
    return _encoder(encoding).decode(tokens, "replace")


# --- memoized counting -------------------------------------------------------------------------------------

_MEMO_MIN_CHARS = 16  # shorter strings are cheaper to count than to look up
_MEMO_MAX_CHARS = 1 << 20  # a single cached string is at most 1 MiB of characters
_MEMO_BUDGET_CHARS = 32 << 20  # all cached strings together: at most 32 Mi characters


class _CountMemo:
    """LRU of token counts keyed by ``(encoding, text)``, bounded by the total size of the keys."""

    def __init__(self, budget: int) -> None:
        self._data: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._size = 0
        self._budget = budget
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> int | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: tuple[str, str], value: int) -> None:
        with self._lock:
            if key in self._data:
                return
            self._data[key] = value
            self._size += len(key[1])
            while self._size > self._budget and self._data:
                (_, old), _ = self._data.popitem(last=False)
                self._size -= len(old)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._size = 0


_memo = _CountMemo(_MEMO_BUDGET_CHARS)


def count_text(text: str, encoding: str = "o200k_base") -> int:
    """Exact number of tokens of ``text`` (memoized for repeated strings: tool schemas, instructions,
    conversation history)."""
    if not text:
        return 0
    n = len(text)
    if n < _MEMO_MIN_CHARS or n > _MEMO_MAX_CHARS:
        return int(_encoder(encoding).count(_clean(text)))
    key = (encoding, text)
    cached = _memo.get(key)
    if cached is not None:
        return cached
    value = int(_encoder(encoding).count(_clean(text)))
    _memo.put(key, value)
    return value


# --- canonical rendering -----------------------------------------------------------------------------------

BREAKPOINT_LABEL = "<|prompt_cache_breakpoint:"
"""Label prefix of the zero-cost piece of an explicit ``prompt_cache_breakpoint`` (then its ttl, ``|>``)."""

Piece = tuple[str, str | None]
"""One piece of a rendering: ``(text, None)`` is tokenized; ``(label, key)`` costs ``OVERHEADS[style][key]``
(or a fixed amount encoded in ``key``, see :func:`_piece_cost`)."""

_MESSAGE_ROLES = frozenset({"user", "assistant", "system", "developer"})
_TOOL_CALL_TYPES = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "computer_call",
        "image_generation_call",
        "local_shell_call",
        "shell_call",
        "apply_patch_call",
        "mcp_call",
        "mcp_list_tools",
        "mcp_approval_request",
        "custom_tool_call",
        "program",
    }
)
_TOOL_OUTPUT_TYPES = frozenset(
    {
        "computer_call_output",
        "local_shell_call_output",
        "shell_call_output",
        "apply_patch_call_output",
        "mcp_approval_response",
        "custom_tool_call_output",
        "program_output",
    }
)
_SKIP_KEYS = frozenset({"id", "type", "status", "call_id", "created_by", "encrypted_content"})


def _marker(key: str, label: str | None = None) -> Piece:
    return (label or f"<|{key}|>", key)


def _fixed(label: str, tokens: int) -> Piece:
    return (f"<|{label}:{tokens}|>", f"={tokens}")


def _piece_cost(key: str, style: Mapping[str, int]) -> int:
    if key.startswith("="):
        return int(key[1:])
    if key.startswith("builtin:"):
        return BUILTIN_TOOL_TOKENS.get(key[8:], _BUILTIN_DEFAULT)
    return style[key]


def _json(value: Any) -> str:
    # orjson renders the same compact, non-ASCII-preserving JSON about 10x faster (tool schemas are rendered
    # on every request); the stdlib takes what orjson refuses (lone surrogates, huge integers).
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _content_pieces(content: Any) -> list[Piece]:
    """A message's content: a string, or a list of content parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [(content, None)]
    if not isinstance(content, list):
        return [(_json(content), None)]
    pieces: list[Piece] = []
    texts: list[str] = []

    def flush() -> None:
        if texts:
            pieces.append(("".join(texts), None))
            texts.clear()

    for part in content:
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
            texts.append(str(part.get("text") or ""))
        elif kind == "refusal":
            texts.append(str(part.get("refusal") or ""))
        elif kind == "input_image":
            flush()
            detail = str(part.get("detail") or "auto")
            pieces.append(_fixed(f"image:{detail}", IMAGE_TOKENS.get(detail, IMAGE_TOKENS["auto"])))
        elif kind == "input_file":
            flush()
            name = part.get("filename")
            if isinstance(name, str) and name:
                texts.append(name)
                flush()
            pieces.append(_fixed("file", FILE_TOKENS))
        elif kind == "input_audio":
            flush()
            pieces.append(_fixed("audio", FILE_TOKENS))
        else:
            texts.append(_json({k: v for k, v in part.items() if k != "type"}))
        breakpoint_ = part.get("prompt_cache_breakpoint")
        if isinstance(breakpoint_, Mapping):
            # An explicit prompt-cache breakpoint ends a cacheable block, so the text is tokenized up to it
            # (the recorded gpt-5.6 write of 4,012 of 4,020 tokens ends exactly there); it costs nothing.
            flush()
            ttl = breakpoint_.get("ttl")
            pieces.append((f"{BREAKPOINT_LABEL}{ttl if isinstance(ttl, str) else ''}|>", "=0"))
    flush()
    return pieces


def _message(role: str, content: Any) -> list[Piece]:
    # "message" covers <|start|>, the role (one token for every role), <|message|> and <|end|>.
    pieces: list[Piece] = [(f"<|start|>{role}<|message|>", "message")]
    if role == "assistant":
        pieces.append(("<|channel|>final", "assistant_header"))
    pieces.extend(_content_pieces(content))
    pieces.append(("<|end|>", "=0"))
    return pieces


def _output_text(output: Any) -> list[Piece]:
    if isinstance(output, str):
        return [(output, None)]
    return _content_pieces(output)


def _hint(item: Mapping[str, Any]) -> int | None:
    """The engine's ``_tokens`` hint of an item (its true hidden size), when present and valid."""
    hint = item.get("_tokens")
    if isinstance(hint, int) and not isinstance(hint, bool) and hint >= 0:
        return hint
    return None


def _item_pieces(
    item: Mapping[str, Any], style: str, call_names: Mapping[str, str], *, render_reasoning: bool
) -> list[Piece]:
    kind = item.get("type")
    role = item.get("role")
    if (kind is None or kind == "message") and isinstance(role, str):
        if role == "developer" and isinstance(item.get("tools"), list):  # additional_tools style item
            return [_marker("developer"), *_tools_pieces(item["tools"], style)]
        return _message(role if role in _MESSAGE_ROLES else "user", item.get("content"))
    if kind == "additional_tools":
        tools = item.get("tools")
        return [_marker("developer"), *_tools_pieces(tools if isinstance(tools, list) else [], style)]
    if kind == "function_call":
        name = str(item.get("name") or "")
        namespace = item.get("namespace")
        full = f"{namespace}.{name}" if isinstance(namespace, str) and namespace else name
        return [_marker("function_call"), (full, None), (str(item.get("arguments") or ""), None)]
    if kind == "function_call_output":
        name = call_names.get(str(item.get("call_id")), "")
        return [_marker("function_call_output"), (name, None), *_output_text(item.get("output"))]
    if kind == "reasoning":
        # Earlier turns' reasoning is dropped by the model (reasoning.context current_turn): its summary
        # is not billed (measured: gpt-5, 314 tokens with or without a long summary in the history).
        # In the current turn the hidden chain of thought is re-rendered: the engine passes its size as
        # ``_tokens``; without it the visible summary / reasoning text stands in for it.
        if not render_reasoning:
            return []
        hint = _hint(item)
        if hint is not None:
            return [_marker("reasoning"), _fixed("reasoning_tokens", hint)]
        pieces: list[Piece] = [_marker("reasoning")]
        pieces.extend(_content_pieces(item.get("summary")))
        pieces.extend(_content_pieces(item.get("content")))
        return pieces
    if kind == "compaction":
        hint = _hint(item)
        if hint is None:
            blob = item.get("encrypted_content")
            hint = (
                round(len(blob) * COMPACTION_TOKENS_PER_CHAR)
                if isinstance(blob, str) and blob
                else COMPACTION_DEFAULT_TOKENS
            )
        return [_fixed("compaction", hint)]
    if kind == "tool_search_call":
        return [_marker("tool_search_call"), (_json(item.get("arguments")), None)]
    if kind == "tool_search_output":
        tools = item.get("tools")
        return [
            _marker("tool_search_output"),
            *_tools_pieces(tools if isinstance(tools, list) else [], style, loaded=True),
        ]
    if kind in ("item_reference", "compaction_trigger", "configuration_update"):
        return []
    if kind in _TOOL_OUTPUT_TYPES or (isinstance(kind, str) and kind.endswith("_output")):
        body = item.get("output")
        pieces = [_marker("tool_output")]
        pieces.extend(_output_text(body) if body is not None else [(_json(_visible(item)), None)])
        return pieces
    if kind in _TOOL_CALL_TYPES or (isinstance(kind, str) and kind.endswith("_call")):
        return [_marker("tool_call"), (_json(_visible(item)), None)]
    return [(_json(_visible(item)), None)] if isinstance(kind, str) else []


def _visible(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _SKIP_KEYS and not k.startswith("_")}


# --- tools as TypeScript (openai-harmony layout) ------------------------------------------------------------


def _ts_type(schema: Any, root: Mapping[str, Any], indent: str, depth: int) -> str:
    if depth > 12 or not isinstance(schema, Mapping):
        return "any"
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = _resolve_ref(ref, root)
        return _ts_type(target, root, indent, depth + 1) if target is not None else ref.rsplit("/", 1)[-1]
    if "enum" in schema and isinstance(schema["enum"], list):
        return " | ".join(_json(v) for v in schema["enum"]) or "never"
    if "const" in schema:
        return _json(schema["const"])
    for union in ("anyOf", "oneOf"):
        options = schema.get(union)
        if isinstance(options, list) and options:
            return " | ".join(_ts_type(o, root, indent, depth + 1) for o in options)
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(_ts_type({**schema, "type": k}, root, indent, depth + 1) for k in kind)
    if kind == "object" or "properties" in schema:
        return _ts_object(schema, root, indent, depth)
    if kind == "array":
        inner = _ts_type(schema.get("items"), root, indent, depth + 1)
        return f"Array<{inner}>" if " " in inner else f"{inner}[]"
    if kind in ("integer", "number"):
        return "number"
    if kind in ("string", "boolean", "null"):
        return str(kind)
    return "any"


def _resolve_ref(ref: str, root: Mapping[str, Any]) -> Any:
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for part in ref[2:].split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _ts_object(schema: Mapping[str, Any], root: Mapping[str, Any], indent: str, depth: int) -> str:
    props = schema.get("properties")
    if not isinstance(props, Mapping) or not props:
        return "object"
    required = schema.get("required")
    req = set(required) if isinstance(required, list) else set()
    outer = indent
    if depth > 0:  # nested objects are indented by two spaces per level
        indent += "  "
    lines = ["{"]
    for key, sub in props.items():
        sub_map = sub if isinstance(sub, Mapping) else {}
        desc = sub_map.get("description")
        if isinstance(desc, str) and desc:
            lines.extend(f"{indent}// {line}" for line in desc.splitlines() or [""])
        optional = "" if key in req else "?"
        line = f"{indent}{key}{optional}: {_ts_type(sub_map, root, indent, depth + 1)},"
        if "default" in sub_map:
            line += f" // default: {_json(sub_map['default'])}"
        lines.append(line)
    lines.append(f"{outer}}}")
    return "\n".join(lines)


def _function_ts(name: str, description: Any, parameters: Any) -> str:
    head = f"// {description}\n" if isinstance(description, str) and description else ""
    if (
        isinstance(parameters, Mapping)
        and isinstance(parameters.get("properties"), Mapping)
        and parameters["properties"]
    ):
        return f"{head}type {name} = (_: {_ts_object(parameters, parameters, '', 0)}) => any;\n"
    return f"{head}type {name} = () => any;\n"


def render_tool(tool: Mapping[str, Any], *, include_deferred: bool = False) -> str:
    """The text one function / custom / namespace tool contributes (TypeScript declarations).

    Built-in tools render as an empty string: they cost :data:`BUILTIN_TOOL_TOKENS` instead. Deferred
    functions inside a namespace are left out unless ``include_deferred`` (a ``tool_search_output``
    loaded them).
    """
    kind = tool.get("type")
    if kind == "function":
        return _function_ts(str(tool.get("name") or ""), tool.get("description"), tool.get("parameters"))
    if kind == "custom":
        fmt = tool.get("format")
        grammar = ""
        if isinstance(fmt, Mapping) and fmt.get("type") == "grammar":
            grammar = f"// {fmt.get('syntax', 'grammar')}:\n{fmt.get('definition', '')}\n"
        head = f"// {tool['description']}\n" if isinstance(tool.get("description"), str) else ""
        return f"{head}{grammar}type {tool.get('name', '')} = (FREEFORM) => any;\n"
    if kind == "namespace":
        inner = [
            t
            for t in tool.get("tools") or []
            if isinstance(t, Mapping) and (include_deferred or not t.get("defer_loading"))
        ]
        if not inner:  # a namespace of deferred functions costs nothing until they are loaded
            return ""
        desc = tool.get("description")
        head = f"// {desc}\n" if isinstance(desc, str) and desc else ""
        body = "\n".join(render_tool(t, include_deferred=include_deferred) for t in inner)
        return f"## {tool.get('name', '')}\n\n{head}namespace {tool.get('name', '')} {{\n\n{body}\n}}\n"
    return ""


_tool_text_memo: OrderedDict[str, str] = OrderedDict()
_tool_text_lock = threading.Lock()


def _tool_text(tool: Mapping[str, Any], include_deferred: bool = False) -> str:
    key = ("+" if include_deferred else "-") + _json(tool)
    with _tool_text_lock:
        text = _tool_text_memo.get(key)
        if text is not None:
            _tool_text_memo.move_to_end(key)
            return text
    text = render_tool(tool, include_deferred=include_deferred)
    with _tool_text_lock:
        _tool_text_memo[key] = text
        if len(_tool_text_memo) > 1024:
            _tool_text_memo.popitem(last=False)
    return text


def _tools_pieces(tools: Iterable[Any], style: str, *, loaded: bool = False) -> list[Piece]:
    """Function tools as TypeScript, built-in tools as fixed markers; deferred tools cost 0 unless
    ``loaded`` (a ``tool_search_output`` brings them in)."""
    pieces: list[Piece] = []
    for tool in tools:
        if not isinstance(tool, Mapping):
            continue
        if tool.get("defer_loading") and not loaded:
            continue
        kind = str(tool.get("type") or "")
        if kind in ("function", "custom"):
            pieces.append(_marker("function"))
            pieces.append((_tool_text(tool), None))
        elif kind == "namespace":
            text = _tool_text(tool, loaded)
            if text:
                pieces.append(_marker("function"))
                pieces.append((text, None))
        else:
            pieces.append((f"<|{kind or 'tool'}|>", f"builtin:{kind}"))
    return pieces


_SCHEMA_NOISE = frozenset({"additionalProperties", "required"})


def _schema_core(schema: Any) -> Any:
    """A JSON schema without ``additionalProperties`` / ``required`` (strict mode implies them): what the
    model sees of a ``json_schema`` text format (measured: compact JSON of this, plus the format's name,
    matches four recorded schemas within one token)."""
    if isinstance(schema, Mapping):
        return {k: _schema_core(v) for k, v in schema.items() if k not in _SCHEMA_NOISE}
    if isinstance(schema, list):
        return [_schema_core(v) for v in schema]
    return schema


def _format_pieces(text_format: Mapping[str, Any] | None) -> list[Piece]:
    if not isinstance(text_format, Mapping):
        return []
    kind = text_format.get("type")
    if kind == "json_schema":
        desc = text_format.get("description")
        head = f"// {desc}\n" if isinstance(desc, str) and desc else ""
        body = _json(_schema_core(text_format.get("schema")))
        return [_marker("format"), (f"{text_format.get('name', '')}\n{head}{body}", None)]
    if kind == "json_object":
        return [_marker("format")]
    return []


def _render(
    instructions: str | None,
    tools: Sequence[Mapping[str, Any]],
    items: Sequence[Mapping[str, Any]],
    style: str,
    text_format: Mapping[str, Any] | None,
    reasoning_context: str = "current_turn",
    marks: list[tuple[int, str]] | None = None,
) -> list[Piece]:
    if style not in OVERHEADS:
        raise ValueError(f"unknown token style {style!r}; expected one of {', '.join(OVERHEADS)}")
    pieces: list[Piece] = []
    tool_pieces = _tools_pieces(tools, style)
    format_pieces = _format_pieces(text_format)
    has_tools = any(key is not None for _, key in tool_pieces)
    if instructions or tool_pieces or format_pieces:
        pieces.append(_marker("developer"))
        if isinstance(instructions, str) and instructions:
            pieces.append((instructions, None))
        if has_tools:
            pieces.append(_marker("tools"))
            if isinstance(instructions, str) and instructions:
                # Instructions and tools together cost a little more than apart (measured on chatml).
                pieces.append(_marker("instructions_and_tools"))
            pieces.extend(tool_pieces)
        pieces.extend(format_pieces)
        if marks is not None:
            marks.append((len(pieces), "developer"))
    call_names: dict[str, str] = {}
    # The latest compaction item replaces everything before it (SPEC §12; measured: 552 input tokens for
    # compaction + one question, against 1,500 for the full history it replaced).
    for index in range(len(items) - 1, -1, -1):
        item = items[index]
        if isinstance(item, Mapping) and item.get("type") == "compaction":
            for earlier in items[:index]:
                if isinstance(earlier, Mapping) and earlier.get("type") == "function_call":
                    call_names[str(earlier.get("call_id"))] = str(earlier.get("name") or "")
            items = items[index:]
            break
    last_user = -1
    for index, item in enumerate(items):
        if (
            isinstance(item, Mapping)
            and item.get("role") == "user"
            and item.get("type", "message") == "message"
        ):
            last_user = index
    all_turns = reasoning_context == "all_turns"
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "function_call" and item.get("call_id") is not None:
            call_names[str(item["call_id"])] = str(item.get("name") or "")
        pieces.extend(_item_pieces(item, style, call_names, render_reasoning=all_turns or index > last_user))
        if marks is not None:  # item ends: prompt-cache breakpoint candidates (prompt_cache.py)
            is_message = item.get("type", "message") == "message" and isinstance(item.get("role"), str)
            marks.append((len(pieces), "message" if is_message else "item"))
    pieces.append(_marker("priming"))
    return pieces


def _count_pieces(pieces: Sequence[Piece], encoding: str, style: str) -> int:
    costs = OVERHEADS[style]
    total = 0
    for text, key in pieces:
        if key is None:
            total += count_text(text, encoding)
        else:
            total += _piece_cost(key, costs)
    return total


def input_breakdown(
    *,
    instructions: str | None,
    tools: Sequence[Mapping[str, Any]],
    items: Sequence[Mapping[str, Any]],
    encoding: str = "o200k_base",
    style: str = "harmony",
    text_format: Mapping[str, Any] | None = None,
    reasoning_context: str = "current_turn",
) -> tuple[int, dict[str, int]]:
    """What :func:`count_input` adds up: the tokens of the rendered text, and how often each marker
    occurs (``message``, ``builtin:web_search``, ``=256`` for a fixed cost of 256, ...).

    ``tools/calibrate_tokens.py`` fits :data:`OVERHEADS` and :data:`BUILTIN_TOOL_TOKENS` from it.
    """
    text_tokens = 0
    markers: dict[str, int] = {}
    for text, key in _render(instructions, tools, items, style, text_format, reasoning_context):
        if key is None:
            text_tokens += count_text(text, encoding)
        else:
            markers[key] = markers.get(key, 0) + 1
    return text_tokens, markers


def count_input(
    *,
    instructions: str | None,
    tools: Sequence[Mapping[str, Any]],
    items: Sequence[Mapping[str, Any]],
    encoding: str = "o200k_base",
    style: str = "harmony",
    text_format: Mapping[str, Any] | None = None,
    reasoning_context: str = "current_turn",
    extra_tokens: int = 0,
) -> int:
    """``usage.input_tokens`` of a request: exact tokens of its canonical rendering.

    Args:
        instructions: Top-level ``instructions`` (not carried over by ``previous_response_id``, SPEC §2.1).
        tools: The request's ``tools``; deferred tools (``defer_loading: true``) cost 0.
        items: The whole context as Responses items (history first, then the new input), JSON dicts.
        encoding: ``ModelInfo.encoding``.
        style: ``ModelInfo.token_style`` (``harmony`` or ``chatml``).
        text_format: ``text.format`` of the request; a ``json_schema`` format adds its schema.
        reasoning_context: Effective ``reasoning.context``: with ``current_turn`` (the default before
            gpt-5.6) reasoning items before the last user message cost nothing; with ``all_turns`` every
            reasoning item is rendered. A reasoning item costs its ``_tokens`` hint (the hidden
            reasoning tokens, which the engine knows), else its visible summary text.
        extra_tokens: Tokens the engine knows and the rendering cannot see (re-rendered reasoning,
            ``reasoning.mode: "pro"``, ...).

    Returns:
        The token count; deterministic for equal arguments.
    """
    pieces = _render(instructions, tools, items, style, text_format, reasoning_context)
    return _count_pieces(pieces, encoding, style) + max(0, int(extra_tokens))


def render_canonical(
    *,
    instructions: str | None,
    tools: Sequence[Mapping[str, Any]],
    items: Sequence[Mapping[str, Any]],
    style: str = "harmony",
    text_format: Mapping[str, Any] | None = None,
    reasoning_context: str = "current_turn",
) -> str:
    """The canonical rendering :func:`count_input` counts, as text (for debugging and docs).

    Markers ``<|key|>`` cost ``OVERHEADS[style][key]`` and ``<|label:N|>`` cost ``N`` tokens; all other text
    is tokenized piece by piece (pieces are joined with newlines here only for readability).
    """
    pieces = _render(instructions, tools, items, style, text_format, reasoning_context)
    return "\n".join(text for text, _ in pieces)


Rendering = tuple[list[tuple[str, int]], list[tuple[int, str]]]
"""What :func:`render_pieces` returns: counted pieces and block boundaries."""


def render_pieces(
    *,
    instructions: str | None,
    tools: Sequence[Mapping[str, Any]],
    items: Sequence[Mapping[str, Any]],
    encoding: str = "o200k_base",
    style: str = "harmony",
    text_format: Mapping[str, Any] | None = None,
    reasoning_context: str = "current_turn",
) -> Rendering:
    """The rendering :func:`count_input` counts, piece by piece, with its block boundaries.

    Returns:
        ``(pieces, marks)``: every piece as ``(text or marker label, tokens)`` (the tokens add up to
        :func:`count_input`), and ``(piece index, kind)`` after the developer block (``developer``) and after
        each rendered item (``message`` or ``item``). :mod:`mockserver.prompt_cache` hashes prefixes with it.
    """
    marks: list[tuple[int, str]] = []
    pieces = _render(instructions, tools, items, style, text_format, reasoning_context, marks)
    counted, _, _ = _count(pieces, encoding, style, 0)
    return counted, marks


@dataclass(slots=True, eq=False)
class Progress:
    """A rendering stopped after its items, before the reply priming: :func:`render_chain` goes on from it.

    A chained turn's context is its parent's context, the parent's output and its own input, so the
    engine keeps each turn's progress and renders only what a child adds (a turn at chain depth 60 was
    O(chain): ~85% of its time went into rendering and digesting the whole history again).
    """

    key: tuple[Any, ...]
    """What the developer block and every item's pieces depend on besides the items themselves."""
    items: list[Any]
    """The items rendered, as given (a continuation must start with equal items)."""
    counted: list[tuple[str, int]]
    """Counted pieces without the reply priming."""
    marks: list[tuple[int, str]]
    call_names: dict[str, str]
    last_user: int
    """Index of the last user message in ``items`` (-1: none)."""
    rendered_reasoning: bool
    """A reasoning item after ``last_user`` was rendered (a new user message would unrender it)."""
    moved: int
    """The message-overhead token carried to the next ``<|end|>`` (see :func:`render_pieces`)."""
    tokens: int
    """Tokens of ``counted``."""
    resumable: bool = True
    """False after a compaction item (it drops what came before it, so items do not simply add up)."""
    resumed: bool = False
    """This rendering went on from its base's (its pieces start with the base's pieces)."""
    followers: dict[str, Any] = field(default_factory=dict)
    """State that work over the same items keeps with them, by name: ``prefix`` (the prompt-cache digest,
    ``prompt_cache.prefix_of``; valid only where :attr:`resumed`), ``fingerprint`` (the reasoning prefix
    fingerprint's parts, ``reasoning.fingerprint``; valid wherever the items extend the base's)."""
    inherited: dict[str, Any] = field(default_factory=dict)
    """The :attr:`followers` of the base this progress's items extend, to go on from; each consumer takes
    its own out (not the base itself: a chain of progresses would keep every ancestor's lists alive)."""


def render_chain(
    *,
    instructions: str | None,
    tools: Sequence[Mapping[str, Any]],
    items: Sequence[Mapping[str, Any]],
    encoding: str = "o200k_base",
    style: str = "harmony",
    text_format: Mapping[str, Any] | None = None,
    reasoning_context: str = "current_turn",
    base: Progress | None = None,
) -> tuple[Rendering, Progress]:
    """:func:`render_pieces`, going on from ``base`` when ``items`` extend what ``base`` rendered.

    Same result as :func:`render_pieces` in every case: ``base`` is used only when the developer block
    (instructions, tools, text format), the model's style and encoding and ``reasoning.context`` are
    equal, ``items`` start with items equal to ``base.items``, neither holds a compaction item, and no
    new user message turns off reasoning that ``base`` rendered; otherwise everything is rendered.

    Returns:
        ``(rendering, progress)``: the rendering as :func:`render_pieces` gives it, and the progress to
        continue a later turn from.
    """
    key = (instructions, tools, text_format, style, encoding, reasoning_context)
    all_turns = reasoning_context == "all_turns"
    extends = base is not None and _extends(base, items)
    resumed = _resume(base, key, items, all_turns) if base is not None and extends else None
    if resumed is None:
        rendering, fresh = _render_all(key, items, all_turns)
        if base is not None and extends:
            fresh.inherited = dict(base.followers)  # the items still extend: per-item work can go on
        return rendering, fresh
    assert base is not None
    last_user, rendered_reasoning = resumed
    start = len(base.items)
    call_names = dict(base.call_names)
    offset = len(base.counted)
    pieces: list[Piece] = []
    marks = list(base.marks)
    for index in range(start, len(items)):
        item = items[index]
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type")
        if kind == "function_call" and item.get("call_id") is not None:
            call_names[str(item["call_id"])] = str(item.get("name") or "")
        render_reasoning = all_turns or index > last_user
        if kind == "reasoning" and render_reasoning:
            rendered_reasoning = True
        pieces.extend(_item_pieces(item, style, call_names, render_reasoning=render_reasoning))
        is_message = item.get("type", "message") == "message" and isinstance(item.get("role"), str)
        marks.append((offset + len(pieces), "message" if is_message else "item"))
    counted, moved, total = _count(pieces, encoding, style, base.moved)
    progress = Progress(
        key,
        list(items),
        base.counted + counted,
        marks,
        call_names,
        last_user,
        rendered_reasoning,
        moved,
        base.tokens + total,
        resumed=True,
        inherited=dict(base.followers),
    )
    return _primed(progress, style), progress


def _extends(base: Progress, items: Sequence[Mapping[str, Any]]) -> bool:
    """``items`` start with items equal to ``base.items`` (the same objects, or equal copies)."""
    done = base.items
    if len(items) < len(done):
        return False
    return all(old is new or old == new for old, new in zip(done, items, strict=False))


def _resume(
    base: Progress, key: tuple[Any, ...], items: Sequence[Mapping[str, Any]], all_turns: bool
) -> tuple[int, bool] | None:
    """``(last_user, rendered_reasoning)`` for continuing ``base`` with ``items`` (which extend it), or
    ``None`` when the rendering must start over."""
    done = base.items
    if not base.resumable or base.key != key:
        return None
    last_user = base.last_user
    rendered_reasoning = base.rendered_reasoning
    for index in range(len(done), len(items)):
        item = items[index]
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type")
        if kind == "compaction":
            return None
        if item.get("role") == "user" and item.get("type", "message") == "message":
            last_user = index
    if last_user != base.last_user:
        if rendered_reasoning and not all_turns:
            return None  # reasoning that came after the old last user message is no longer rendered
        rendered_reasoning = False
    return last_user, rendered_reasoning


def _render_all(
    key: tuple[Any, ...], items: Sequence[Mapping[str, Any]], all_turns: bool
) -> tuple[Rendering, Progress]:
    instructions, tools, text_format, style, encoding, reasoning_context = key
    marks: list[tuple[int, str]] = []
    pieces = _render(instructions, tools, items, style, text_format, reasoning_context, marks)
    pieces.pop()  # the reply priming: _primed adds it
    counted, moved, total = _count(pieces, encoding, style, 0)
    call_names: dict[str, str] = {}
    last_user = -1
    resumable = True
    rendered_reasoning = False
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type")
        if kind == "reasoning":
            rendered_reasoning = True  # until a later user message
        elif kind == "compaction":
            resumable = False
        elif kind == "function_call" and item.get("call_id") is not None:
            call_names[str(item["call_id"])] = str(item.get("name") or "")
        elif item.get("role") == "user" and item.get("type", "message") == "message":
            last_user = index
            rendered_reasoning = False
    progress = Progress(
        key, list(items), counted, marks, call_names, last_user, rendered_reasoning, moved, total, resumable
    )
    return _primed(progress, style), progress


def _count(
    pieces: Sequence[Piece], encoding: str, style: str, moved: int
) -> tuple[list[tuple[str, int]], int, int]:
    """Counted pieces (as :func:`render_pieces` counts them), the carried token and their total."""
    costs = OVERHEADS[style]
    counted: list[tuple[str, int]] = []
    total = 0
    for text, key in pieces:
        cost = count_text(text, encoding) if key is None else _piece_cost(key, costs)
        if key == "message" and cost > 0:
            # One token of the message overhead is its <|end|>: a breakpoint inside the message comes before
            # it (measured: the recorded gpt-5.6 write is 3 + the block's 4,009 tokens = 4,012).
            cost, moved = cost - 1, 1
        elif text == "<|end|>" and moved:
            cost, moved = cost + moved, 0
        counted.append((text, cost))
        total += cost
    return counted, moved, total


def _primed(progress: Progress, style: str) -> Rendering:
    # The reply priming is a marker: no text to count, and the carried message token never reaches it.
    return [*progress.counted, ("<|priming|>", OVERHEADS[style]["priming"])], progress.marks


def rendered_tokens(rendering: Rendering, progress: Progress) -> int:
    """``usage.input_tokens`` of ``rendering`` (made with ``progress``) without summing every piece."""
    return progress.tokens + rendering[0][-1][1]
