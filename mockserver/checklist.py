"""The deployment-checklist auditor (issue 13): which best practices an application's traffic misses.

Input is a sequence of journal entries (``GET /_resplay/requests``: ``{"time", "method", "path", "query",
"transport", "status", "headers", "body", "response_id", "error"}``, WebSocket client events with
``method: "WS"``, continuity notes with ``transport: "note"``), or cassettes turned into such entries by
:func:`entries_from_cassette`. Output is a list of :class:`Finding`: one per checklist check that the
traffic gives evidence for, ``ok`` or ``missed``, with the request labels that show it and the
checklist's expected impact (``reference/deployment-checklist.md``). A check with no relevant traffic is
left out rather than reported ``ok``.

The module is pure (no I/O but :func:`audit_path`, which reads a cassette folder for ``resplay checklist``).

Example:
    >>> findings = audit(server.journal())
    >>> [f.id for f in findings if f.status == "missed"]
    ['reasoning_effort_unset', 'text_verbosity_unset']
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = [
    "ITEMS",
    "Finding",
    "audit",
    "audit_path",
    "entries_from_cassette",
    "format_text",
    "main",
    "report",
]

Status = Literal["ok", "missed"]
Entries = Sequence[Mapping[str, Any]]

ITEMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "responses_api": ("Use the Responses API", ("quality", "cost", "latency", "reliability")),
    "reasoning_effort": ("Set up reasoning.effort", ("quality", "cost", "latency")),
    "text_verbosity": ("Set up text.verbosity", ("quality", "cost", "latency")),
    "phase": ("Set up the assistant phase parameter", ("quality", "cost")),
    "tool_search": ("Use tool_search", ("cost", "latency")),
    "builtin_tools": ("Leverage built-in tools", ("quality",)),
    "compaction": ("Leverage compaction", ("cost",)),
    "prompt_cache_key": ("Use prompt_cache_key", ("latency", "cost")),
    "encrypted_content": ("Use reasoning.encrypted_content", ("quality", "latency")),
    "background": ("Use background=True", ("resumability",)),
    "websocket": ("Use WebSocket mode", ("latency",)),
}
"""Checklist item key -> (its heading in the checklist, its expected impact)."""

MAX_EVIDENCE = 10
"""Evidence labels kept per finding (``evidence_count`` tells how many there were)."""
LARGE_CATALOGUE = 20
"""Function tools in one request above which the checklist advises ``tool_search`` (issue 13)."""
LARGE_NAMESPACE = 10
"""Functions in one namespace above which the checklist advises splitting it ("under about 10")."""
CACHE_PREFIX_CHARS = 4096
"""A shared prefix this long (about 1,024 tokens at ~4 characters a token) is what prompt caching serves."""
CACHE_KEY_RPM = 15
"""Requests per minute per prefix and ``prompt_cache_key`` above which the cache overflows."""
LONG_CHAIN = 10
"""Turns of one conversation from which compaction is expected (chosen: the checklist names no number)."""
WS_TOOL_CALLS = 20
"""Tool calls in one HTTP rollout from which WebSocket mode is "roughly 40% faster"."""

_BUILTIN_NAMES = re.compile(
    r"^(web_?search|search_(the_)?web|browse(_web)?|file_?search|code_?interpreter|run_python|python_exec\w*|"
    r"generate_image|image_generation|apply_patch|shell|run_shell|computer_use)$",
    re.IGNORECASE,
)
"""Custom function names that duplicate a built-in tool (checklist: "Leverage built-in tools")."""


@dataclass(frozen=True)
class Finding:
    """One check's verdict.

    Attributes:
        id: Stable check id, e.g. ``reasoning_effort_unset``.
        item: Checklist item key (see :data:`ITEMS`).
        status: ``ok`` (the practice is followed) or ``missed``.
        summary: One line saying what was seen.
        evidence: Labels of the requests that show it (response id, else ``#index METHOD path``).
        evidence_count: How many requests showed it (``evidence`` keeps the first :data:`MAX_EVIDENCE`).
    """

    id: str
    item: str
    status: Status
    summary: str
    evidence: tuple[str, ...] = ()
    evidence_count: int = 0

    @property
    def heading(self) -> str:
        """The checklist item's heading."""
        return ITEMS[self.item][0]

    @property
    def impact(self) -> tuple[str, ...]:
        """The checklist's expected impact of the item."""
        return ITEMS[self.item][1]

    def to_json(self) -> dict[str, Any]:
        """The JSON form served by ``GET /_resplay/checklist``."""
        return {
            "id": self.id,
            "item": self.item,
            "checklist_item": self.heading,
            "status": self.status,
            "impact": list(self.impact),
            "summary": self.summary,
            "evidence": list(self.evidence),
            "evidence_count": self.evidence_count,
        }


@dataclass(frozen=True)
class _Request:
    index: int
    label: str
    entry: Mapping[str, Any]
    body: Mapping[str, Any]

    @property
    def websocket(self) -> bool:
        return self.entry.get("method") == "WS"


# ------------------------------------------------------------------------------------------ helpers
def _label(index: int, entry: Mapping[str, Any]) -> str:
    source = entry.get("source")
    rid = entry.get("response_id")
    where = f"#{index} {entry.get('method')} {entry.get('path')}"
    base = rid if isinstance(rid, str) and rid else where
    return f"{source}: {base}" if source else base


def _creates(entries: Sequence[Mapping[str, Any]]) -> list[_Request]:
    """``POST /v1/responses`` bodies and WebSocket ``response.create`` events, in order."""
    found = []
    for index, entry in enumerate(entries):
        body = entry.get("body")
        if not isinstance(body, Mapping):
            continue
        path = str(entry.get("path") or "")
        if entry.get("method") == "WS":
            if body.get("type") != "response.create":
                continue
        elif entry.get("method") != "POST" or not re.search(r"/responses/?$", path):
            continue
        found.append(_Request(index, _label(index, entry), entry, body))
    return found


def _is_reasoning_model(model: Any) -> bool:
    """Models that take ``reasoning.effort`` and ``text.verbosity`` (gpt-5 family, o-series, codex)."""
    return isinstance(model, str) and re.match(r"^(gpt-[5-9]|gpt-\d{2}|o\d|codex)", model) is not None


def _wants_phase(model: Any) -> bool:
    """Checklist: preserve ``phase`` "for new models like gpt-5.3-codex and later"."""
    if not isinstance(model, str):
        return False
    match = re.match(r"^gpt-(\d+)(?:\.(\d+))?", model)
    if match is None:
        return False
    major, minor = int(match.group(1)), int(match.group(2) or 0)
    return major > 5 or (major == 5 and minor >= 3)


def _dig(body: Mapping[str, Any], *keys: str) -> Any:
    value: Any = body
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _input_items(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = body.get("input")
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def _tools(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    tools = body.get("tools")
    return [t for t in tools if isinstance(t, Mapping)] if isinstance(tools, list) else []


def _functions(tools: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Function tools, namespace members included."""
    for tool in tools:
        if tool.get("type") == "function":
            yield tool
        elif tool.get("type") == "namespace":
            members = tool.get("tools")
            if isinstance(members, list):
                yield from (m for m in members if isinstance(m, Mapping) and m.get("type") == "function")


def _finding(item: str, fid: str, missed: Sequence[str], summary_missed: str, summary_ok: str) -> Finding:
    if missed:
        return Finding(fid, item, "missed", summary_missed, tuple(missed[:MAX_EVIDENCE]), len(missed))
    return Finding(fid, item, "ok", summary_ok)


# ------------------------------------------------------------------------------------------- checks
def _check_chat_completions(
    entries: Sequence[Mapping[str, Any]], creates: Sequence[_Request]
) -> list[Finding]:
    chat = [_label(i, e) for i, e in enumerate(entries) if "/chat/completions" in str(e.get("path") or "")]
    if not chat and not creates:
        return []
    return [
        _finding(
            "responses_api",
            "chat_completions_used",
            chat,
            f"{len(chat)} Chat Completions request(s) where the Responses API would serve",
            "every model call goes through the Responses API",
        )
    ]


def _check_reasoning(creates: Sequence[_Request]) -> list[Finding]:
    relevant = [r for r in creates if _is_reasoning_model(r.body.get("model"))]
    if not relevant:
        return []
    efforts = [_dig(r.body, "reasoning", "effort") for r in relevant]
    unset = [r.label for r, e in zip(relevant, efforts, strict=True) if e is None]
    findings = [
        _finding(
            "reasoning_effort",
            "reasoning_effort_unset",
            unset if len(unset) == len(relevant) else [],
            f"reasoning.effort never set on {len(relevant)} reasoning-model request(s): the default is used",
            "reasoning.effort is chosen per request",
        )
    ]
    chosen = [e for e in efforts if e is not None]
    if len(chosen) >= 2:
        everywhere = all(e == "xhigh" for e in chosen)
        findings.append(
            _finding(
                "reasoning_effort",
                "reasoning_effort_xhigh_everywhere",
                [r.label for r, e in zip(relevant, efforts, strict=True) if e == "xhigh"]
                if everywhere
                else [],
                f"reasoning.effort is xhigh on all {len(chosen)} requests that set it: reserve it for tasks "
                "where evals show the latency is worth it",
                "reasoning.effort varies with the task",
            )
        )
    verbosity = [r.label for r in relevant if _dig(r.body, "text", "verbosity") is None]
    findings.append(
        _finding(
            "text_verbosity",
            "text_verbosity_unset",
            verbosity if len(verbosity) == len(relevant) else [],
            f"text.verbosity never set on {len(relevant)} reasoning-model request(s)",
            "text.verbosity is set",
        )
    )
    return findings


def _check_phase(creates: Sequence[_Request]) -> list[Finding]:
    missing: list[str] = []
    resent = 0
    for request in creates:
        if not _wants_phase(request.body.get("model")):
            continue
        assistant = [
            i
            for i in _input_items(request.body)
            if i.get("role") == "assistant" and i.get("type", "message") == "message"
        ]
        resent += len(assistant)
        if any(i.get("phase") is None for i in assistant):
            missing.append(request.label)
    if not resent:
        return []
    return [
        _finding(
            "phase",
            "assistant_phase_dropped",
            missing,
            f"{len(missing)} request(s) resend assistant messages without their phase",
            "assistant messages are resent with their phase",
        )
    ]


def _check_tools(creates: Sequence[_Request]) -> list[Finding]:
    large: list[str] = []
    big_namespace: list[str] = []
    duplicates: list[str] = []
    any_large = any_namespace = any_function = False
    for request in creates:
        tools = _tools(request.body)
        functions = list(_functions(tools))
        any_function = any_function or bool(functions)
        if len(functions) > LARGE_CATALOGUE:
            any_large = True
            searched = any(t.get("type") == "tool_search" for t in tools)
            deferred = any(f.get("defer_loading") for f in functions)
            if not (searched and deferred):
                large.append(request.label)
        for tool in tools:
            if tool.get("type") == "namespace":
                any_namespace = True
                members = tool.get("tools")
                if isinstance(members, list) and len(members) > LARGE_NAMESPACE:
                    big_namespace.append(request.label)
                    break
        if any(_BUILTIN_NAMES.match(str(f.get("name") or "")) for f in functions):
            duplicates.append(request.label)
    findings = []
    if any_large:
        findings.append(
            _finding(
                "tool_search",
                "large_catalogue_without_tool_search",
                large,
                f"{len(large)} request(s) send over {LARGE_CATALOGUE} functions without tool_search and "
                "defer_loading",
                "large tool catalogues are deferred behind tool_search",
            )
        )
    if any_namespace:
        findings.append(
            _finding(
                "tool_search",
                "namespace_too_large",
                big_namespace,
                f"{len(big_namespace)} request(s) carry a namespace of over {LARGE_NAMESPACE} functions",
                f"namespaces stay under about {LARGE_NAMESPACE} functions",
            )
        )
    if any_function:
        findings.append(
            _finding(
                "builtin_tools",
                "custom_function_duplicates_builtin",
                duplicates,
                f"{len(duplicates)} request(s) define a custom function that duplicates a built-in tool",
                "no custom function duplicates a built-in tool",
            )
        )
    return findings


def _prefix(body: Mapping[str, Any]) -> str:
    """The prompt as the cache sees it, roughly: tools, instructions, then the input items."""
    head = json.dumps([body.get("tools"), body.get("instructions")], sort_keys=True, default=str)
    items = body.get("input")
    return head + json.dumps(items, sort_keys=True, default=str)


def _check_prompt_cache(creates: Sequence[_Request]) -> list[Finding]:
    groups: dict[str, list[_Request]] = defaultdict(list)
    for request in creates:
        text = _prefix(request.body)
        if len(text) >= CACHE_PREFIX_CHARS:
            groups[text[:CACHE_PREFIX_CHARS]].append(request)
    shared = [g for g in groups.values() if len(g) >= 2]
    if not shared:
        return []
    unkeyed = [r.label for g in shared for r in g if not r.body.get("prompt_cache_key")]
    findings = [
        _finding(
            "prompt_cache_key",
            "shared_prefix_without_prompt_cache_key",
            unkeyed,
            f"{len(unkeyed)} request(s) share a 1,024-token-plus prefix without a prompt_cache_key",
            "requests sharing a long prefix set prompt_cache_key",
        )
    ]
    hot: list[str] = []
    for group in shared:
        by_key: dict[str, list[float]] = defaultdict(list)
        for r in group:
            key, when = r.body.get("prompt_cache_key"), r.entry.get("time")
            if isinstance(key, str) and key and isinstance(when, int | float):
                by_key[key].append(float(when))
        for key, times in by_key.items():
            times.sort()
            if any(times[i + CACHE_KEY_RPM] - times[i] < 60.0 for i in range(len(times) - CACHE_KEY_RPM)):
                hot.append(f"prompt_cache_key={key!r} ({len(times)} requests)")
    if hot or any(r.body.get("prompt_cache_key") for g in shared for r in g):
        findings.append(
            _finding(
                "prompt_cache_key",
                "prompt_cache_key_overloaded",
                hot,
                f"{len(hot)} prefix/prompt_cache_key pair(s) above about {CACHE_KEY_RPM} requests per minute",
                f"no prefix/prompt_cache_key pair exceeds about {CACHE_KEY_RPM} requests per minute",
            )
        )
    return findings


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _file(entry: Mapping[str, Any]) -> str:
    return str(entry.get("source") or "").rpartition("[")[0]


def _check_early_change(creates: Sequence[_Request]) -> list[Finding]:
    """Consecutive requests whose long tools+instructions differ only in a small span near the start."""
    early: list[str] = []
    compared = False
    for before, after in itertools.pairwise(creates):
        if _file(before.entry) != _file(after.entry):
            continue  # two cassettes are two runs, not one request after another
        a = json.dumps(
            [before.body.get("tools"), before.body.get("instructions")], sort_keys=True, default=str
        )
        b = json.dumps([after.body.get("tools"), after.body.get("instructions")], sort_keys=True, default=str)
        if min(len(a), len(b)) < CACHE_PREFIX_CHARS:
            continue
        compared = True
        if a == b:
            continue
        head = _common_prefix(a, b)
        tail = _common_prefix(a[head:][::-1], b[head:][::-1])
        if head < CACHE_PREFIX_CHARS and head + tail >= max(CACHE_PREFIX_CHARS, 0.9 * min(len(a), len(b))):
            early.append(after.label)
    if not compared:
        return []
    return [
        _finding(
            "prompt_cache_key",
            "cache_prefix_changes_early",
            early,
            f"{len(early)} request(s) change a small span early in long, otherwise identical "
            "tools/instructions (a timestamp or id?), which defeats the prompt cache: put what varies last",
            "long tools/instructions stay stable from one request to the next",
        )
    ]


def _check_compaction(entries: Entries, creates: Sequence[_Request]) -> list[Finding]:
    findings = []
    sent = [r for r in creates if any(i.get("type") == "compaction" for i in _input_items(r.body))]
    if sent:
        edited = [r.label for r in sent if _dig(r.entry, "error", "code") == "invalid_encrypted_content"]
        findings.append(
            _finding(
                "compaction",
                "compaction_item_edited",
                edited,
                f"{len(edited)} request(s) sent a compaction item that was edited (rejected as "
                "invalid_encrypted_content): pass it forward as-is",
                "compaction items are passed forward as returned",
            )
        )
    compacts = any(str(e.get("path") or "").endswith("/responses/compact") for e in entries)
    depth: dict[str, int] = {}
    long_chains: list[str] = []
    managed = compacts or bool(sent)
    for request in creates:
        if request.body.get("context_management"):
            managed = True
        previous = request.body.get("previous_response_id")
        turns = depth.get(previous, 0) + 1 if isinstance(previous, str) else 1
        turns = max(turns, sum(1 for i in _input_items(request.body) if i.get("role") == "user"))
        rid = request.entry.get("response_id")
        if isinstance(rid, str):
            depth[rid] = turns
        if turns == LONG_CHAIN:
            long_chains.append(request.label)
    if long_chains:
        findings.append(
            _finding(
                "compaction",
                "long_chain_without_compaction",
                [] if managed else long_chains,
                f"{len(long_chains)} conversation(s) reached {LONG_CHAIN} turns and nothing was compacted "
                "(no context_management, /responses/compact or compaction item)",
                "long conversations are compacted",
            )
        )
    return findings


def _check_reasoning_continuity(
    entries: Sequence[Mapping[str, Any]], creates: Sequence[_Request]
) -> list[Finding]:
    findings = []
    stateless = [
        r for r in creates if r.body.get("store") is False and _is_reasoning_model(r.body.get("model"))
    ]
    if stateless:
        missing = [
            r.label for r in stateless if "reasoning.encrypted_content" not in (r.body.get("include") or ())
        ]
        findings.append(
            _finding(
                "encrypted_content",
                "store_false_without_encrypted_content",
                missing,
                f"{len(missing)} store=false request(s) do not include reasoning.encrypted_content: "
                "reasoning cannot be round-tripped",
                "store=false requests include reasoning.encrypted_content",
            )
        )
    dropped = [
        _label(i, e)
        for i, e in enumerate(entries)
        if e.get("transport") == "note" and _dig(e, "note", "kind") == "reasoning_dropped"
    ]
    round_trips = any(i.get("type") == "reasoning" for r in creates for i in _input_items(r.body))
    if dropped or round_trips:
        findings.append(
            _finding(
                "encrypted_content",
                "reasoning_items_dropped",
                dropped,
                f"{len(dropped)} turn(s) dropped reasoning items of the previous turn",
                "reasoning items are round-tripped",
            )
        )
    return findings


def _long_running(body: Mapping[str, Any]) -> bool:
    """Requests that may take minutes (chosen: deep-research models and ``xhigh`` effort)."""
    model = body.get("model")
    return (isinstance(model, str) and "deep-research" in model) or _dig(
        body, "reasoning", "effort"
    ) == "xhigh"


def _check_background(creates: Sequence[_Request]) -> list[Finding]:
    findings = []
    slow = [r for r in creates if _long_running(r.body)]
    if slow:
        findings.append(
            _finding(
                "background",
                "long_running_without_background",
                [r.label for r in slow if r.body.get("background") is not True],
                "long-running request(s) (deep research or xhigh effort) hold the connection open instead of "
                "running with background=True",
                "long-running requests run in the background",
            )
        )
    background = [r for r in creates if r.body.get("background") is True]
    if not background:
        return findings
    return [
        *findings,
        _finding(
            "background",
            "background_without_store",
            [r.label for r in background if r.body.get("store") is False],
            "background=True sent with store=false: background requires store=True",
            "background requests are stored",
        ),
    ]


def _check_websocket(creates: Sequence[_Request]) -> list[Finding]:
    chain: dict[str, int] = {}
    worst: tuple[int, str] | None = None
    any_tools = False
    for request in creates:
        outputs = sum(
            1 for i in _input_items(request.body) if str(i.get("type", "")).endswith("_call_output")
        )
        previous = request.body.get("previous_response_id")
        total = outputs + (chain.get(previous, 0) if isinstance(previous, str) else 0)
        rid = request.entry.get("response_id")
        if isinstance(rid, str):
            chain[rid] = total
        if outputs:
            any_tools = True
        if not request.websocket and total >= WS_TOOL_CALLS and (worst is None or total > worst[0]):
            worst = (total, request.label)
    if not any_tools:
        return []
    return [
        _finding(
            "websocket",
            "tool_heavy_http_loop",
            [worst[1]] if worst is not None else [],
            f"an HTTP rollout ran {worst[0] if worst else 0} tool calls: WebSocket mode is roughly 40% "
            f"faster from {WS_TOOL_CALLS}",
            f"tool loops over HTTP stay under {WS_TOOL_CALLS} calls, or use WebSocket mode",
        )
    ]


def _check_lanes(creates: Sequence[_Request]) -> list[Finding]:
    """Creates queued on a busy lane without continuing anything: parallel work sent to one lane."""
    on_ws = [r for r in creates if r.websocket]
    if not on_ws:
        return []
    queued = [r.label for r in on_ws if r.entry.get("queued") and not r.body.get("previous_response_id")]
    return [
        _finding(
            "websocket",
            "websocket_lane_queued",
            queued,
            f"{len(queued)} WebSocket create(s) queued behind another on the same lane: one connection "
            "runs one response at a time per lane; use named lanes (stream_id) or more connections",
            "WebSocket creates never wait for an unrelated response on their lane",
        )
    ]


def audit(entries: Iterable[Mapping[str, Any]]) -> list[Finding]:
    """Audit journal entries (or :func:`entries_from_cassette` output) against the deployment checklist.

    Args:
        entries: Journal entries in the order they were made.

    Returns:
        One finding per check the traffic gives evidence for, in checklist order.
    """
    seen = list(entries)
    creates = _creates(seen)
    return [
        *_check_chat_completions(seen, creates),
        *_check_reasoning(creates),
        *_check_phase(creates),
        *_check_tools(creates),
        *_check_prompt_cache(creates),
        *_check_early_change(creates),
        *_check_compaction(seen, creates),
        *_check_reasoning_continuity(seen, creates),
        *_check_background(creates),
        *_check_websocket(creates),
        *_check_lanes(creates),
    ]


def report(findings: Sequence[Finding], **extra: Any) -> dict[str, Any]:
    """The JSON report: ``{"object": "resplay.checklist", "missed": N, "ok": N, "findings": [...]}``."""
    missed = sum(1 for f in findings if f.status == "missed")
    return {
        "object": "resplay.checklist",
        **extra,
        "missed": missed,
        "ok": len(findings) - missed,
        "findings": [f.to_json() for f in findings],
    }


def format_text(findings: Sequence[Finding]) -> str:
    """Human-readable lines, missed first (the pytest summary and ``resplay checklist``)."""
    if not findings:
        return "no traffic the checklist applies to"
    lines = []
    for f in sorted(findings, key=lambda f: f.status != "missed"):
        mark = "MISSED" if f.status == "missed" else "ok    "
        lines.append(f"{mark} {f.id} [{f.heading}; {', '.join(f.impact)}]: {f.summary}")
        if f.evidence:
            more = (
                f" (+{f.evidence_count - len(f.evidence)} more)" if f.evidence_count > len(f.evidence) else ""
            )
            lines.append(f"       evidence: {', '.join(f.evidence)}{more}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- cassettes
class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader that degrades ``python/*`` tags (vcrpy multidict header keys) to plain values."""


def _python_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", _python_tag)


def _decode(body: Any) -> Any:
    """A recorded body as JSON or text: resplay ``{json}``/``{sse}``, vcrpy ``{string}``."""
    if isinstance(body, Mapping):
        if "json" in body:
            return body["json"]
        if "sse" in body:
            return {"sse": body["sse"]}
        body = body.get("string")
    if isinstance(body, bytes):
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        else:
            with contextlib.suppress(zlib.error):
                body = zlib.decompress(body)
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            return json.loads(body) if body.strip() else None
        except ValueError:
            return body
    return body


def _response_id(body: Any) -> str | None:
    if isinstance(body, Mapping):
        if isinstance(body.get("sse"), list):
            for event in body["sse"]:
                data = event.get("data") if isinstance(event, Mapping) else None
                rid = _dig(data, "response", "id") if isinstance(data, Mapping) else None
                if isinstance(rid, str):
                    return rid
        rid = body.get("id")
        return rid if isinstance(rid, str) else None
    if isinstance(body, str):
        match = re.search(r'"(resp_[A-Za-z0-9]+)"', body)
        return match.group(1) if match else None
    return None


def entries_from_cassette(document: Mapping[str, Any], source: str = "") -> list[dict[str, Any]]:
    """Journal-like entries for a cassette's interactions (resplay format or third-party vcrpy YAML).

    Args:
        document: The parsed cassette (``{"interactions": [{"request", "response"}]}``).
        source: A label prefixed to the evidence (the file name).
    """
    entries: list[dict[str, Any]] = []
    for index, interaction in enumerate(document.get("interactions") or []):
        if not isinstance(interaction, Mapping):
            continue
        request = interaction.get("request") or {}
        response = interaction.get("response") or {}
        uri = str(request.get("uri") or "")
        path = re.sub(r"^[a-z]+://[^/]+", "", uri).split("?", 1)[0]
        status = response.get("status")
        entries.append(
            {
                "time": None,
                "method": str(request.get("method") or "").upper(),
                "path": path,
                "query": {},
                "transport": "http",
                "status": status.get("code") if isinstance(status, Mapping) else status,
                "headers": {},
                "body": request["parsed_body"] if "parsed_body" in request else _decode(request.get("body")),
                "response_id": _response_id(
                    response["parsed_body"] if "parsed_body" in response else _decode(response.get("body"))
                ),
                "error": None,
                "source": f"{source}[{index}]" if source else f"[{index}]",
            }
        )
    return entries


def audit_path(path: str | Path) -> tuple[list[Finding], int]:
    """Audit every YAML cassette under ``path`` (a file or a folder) as one application's traffic.

    Returns:
        The findings and how many cassette files were read (files that are not cassettes are skipped).
    """
    root = Path(path)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml"))
    entries: list[dict[str, Any]] = []
    read = 0
    for file in files:
        try:
            document = yaml.load(file.read_text(encoding="utf-8"), Loader=_Loader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if not isinstance(document, Mapping) or not isinstance(document.get("interactions"), list):
            continue
        read += 1
        label = str(file.relative_to(root)) if root.is_dir() else file.name
        entries.extend(entries_from_cassette(document, label))
    return audit(entries), read


def main(argv: Sequence[str]) -> int:
    """``resplay checklist PATH [--json] [--fail-on-missed]``: audit a cassette file or folder.

    Returns:
        The exit status: 0, or 1 with ``--fail-on-missed`` when a check is missed, 2 for a bad path.
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="resplay checklist",
        description="Audit recorded cassettes against OpenAI's deployment checklist.",
    )
    parser.add_argument("path", help="a cassette file or a folder of them (searched recursively)")
    parser.add_argument("--json", action="store_true", help="print the JSON report")
    parser.add_argument("--fail-on-missed", action="store_true", help="exit 1 when a check is missed")
    args = parser.parse_args(list(argv))
    if not Path(args.path).exists():
        sys.stderr.write(f"resplay checklist: no such file or folder: {args.path}\n")
        return 2
    findings, files = audit_path(args.path)
    if args.json:
        sys.stdout.write(json.dumps(report(findings, cassettes=files), indent=2) + "\n")
    else:
        sys.stdout.write(f"{files} cassette(s) under {args.path}\n{format_text(findings)}\n")
    missed = any(f.status == "missed" for f in findings)
    return 1 if missed and args.fail_on_missed else 0
