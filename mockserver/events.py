"""Stream events of one response, in the order real traffic shows (SPEC §4.3-4.6).

The engine builds the final output items once; this module derives every event from them, so the
non-streaming body, the SSE stream and the WebSocket frames can never disagree. Events are plain dicts
whose keys are the openai SDK's event fields, ``type`` and ``sequence_number`` first as on the wire.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

__all__ = ["TERMINAL_EVENTS", "chunk_text", "item_events", "response_snapshot", "stream_events"]

TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})

_TERMINAL_BY_STATUS = {
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
    "cancelled": "response.failed",
}

# Token-like pieces: a word with its leading space, a run of punctuation, or white space.
_PIECES = re.compile(r"\s*[\w']+|\s*[^\w\s]+|\s+", re.UNICODE)

Obfuscator = Callable[[str], str]
"""Returns the ``obfuscation`` padding for a delta (SPEC §4.2), or is ``None`` when disabled."""


def chunk_text(text: str) -> list[str]:
    """Split text into the token-sized deltas a stream carries (never empty for non-empty text)."""
    return _PIECES.findall(text) or ([text] if text else [])


def response_snapshot(final: Mapping[str, Any], status: str) -> dict[str, Any]:
    """The ``response`` of an early lifecycle event: the final object before any output exists."""
    snapshot = dict(final)
    snapshot["status"] = status
    snapshot["output"] = []
    snapshot["usage"] = None
    if "completed_at" in snapshot:
        snapshot["completed_at"] = None
    if "error" in snapshot:
        snapshot["error"] = None
    if "incomplete_details" in snapshot:
        snapshot["incomplete_details"] = None
    return snapshot


def stream_events(
    final: Mapping[str, Any],
    *,
    obfuscate: Obfuscator | None,
    queued: bool = False,
) -> Iterator[dict[str, Any]]:
    """Every event of a response, from ``response.created`` to its terminal event.

    Args:
        final: The final ``Response`` object (its ``status`` picks the terminal event).
        obfuscate: Padding source for deltas, or ``None`` (``include_obfuscation=false``).
        queued: Background responses start ``queued`` and emit ``response.queued`` (SPEC §4.6).
    """
    seq = 0

    def event(kind: str, **fields: Any) -> dict[str, Any]:
        nonlocal seq
        out = {"type": kind, "sequence_number": seq, **fields}
        seq += 1
        return out

    if queued:
        yield event("response.created", response=response_snapshot(final, "queued"))
        yield event("response.queued", response=response_snapshot(final, "queued"))
    else:
        yield event("response.created", response=response_snapshot(final, "in_progress"))
    yield event("response.in_progress", response=response_snapshot(final, "in_progress"))
    for index, item in enumerate(final["output"]):
        for kind, fields in item_events(item, index, obfuscate):
            yield event(kind, **fields)
    yield event(_TERMINAL_BY_STATUS.get(str(final.get("status")), "response.completed"), response=final)


def item_events(
    item: Mapping[str, Any], index: int, obfuscate: Obfuscator | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(type, fields) of the events that stream one output item."""
    kind = item.get("type")
    if kind == "message":
        yield from _message_events(item, index, obfuscate)
    elif kind == "reasoning":
        yield from _reasoning_events(item, index, obfuscate)
    elif kind == "function_call":
        yield from _function_call_events(item, index, obfuscate)
    elif kind == "compaction":
        # SPEC §12: the item, then response.compaction.compacting (no summary content), then done.
        yield "response.output_item.added", {"output_index": index, "item": dict(item)}
        yield "response.compaction.compacting", {"item_id": item["id"], "output_index": index}
        yield "response.output_item.done", {"output_index": index, "item": item}
    else:
        # Items without dedicated events (tool_search_call/output, ...): added + done only.
        yield "response.output_item.added", {"output_index": index, "item": _in_progress(item)}
        yield "response.output_item.done", {"output_index": index, "item": item}


def _in_progress(item: Mapping[str, Any]) -> dict[str, Any]:
    added = dict(item)
    if "status" in added:
        added["status"] = "in_progress"
    return added


def _delta(fields: dict[str, Any], delta: str, obfuscate: Obfuscator | None) -> dict[str, Any]:
    if obfuscate is not None:
        fields["obfuscation"] = obfuscate(delta)
    return fields


def _message_events(
    item: Mapping[str, Any], index: int, obfuscate: Obfuscator | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    item_id = item["id"]
    added: dict[str, Any] = {"id": item_id, "type": "message", "status": "in_progress", "content": []}
    added["role"] = item.get("role", "assistant")
    if "phase" in item:
        added["phase"] = item["phase"]  # observed on output_item.added already (SPEC §10)
    yield "response.output_item.added", {"output_index": index, "item": added}
    for c_index, part in enumerate(item["content"]):
        where = {"item_id": item_id, "output_index": index, "content_index": c_index}
        if part["type"] == "refusal":
            yield "response.content_part.added", {**where, "part": {"type": "refusal", "refusal": ""}}
            for piece in chunk_text(part["refusal"]):
                yield "response.refusal.delta", _delta({**where, "delta": piece}, piece, obfuscate)
            yield "response.refusal.done", {**where, "refusal": part["refusal"]}
        else:
            empty = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
            yield "response.content_part.added", {**where, "part": empty}
            for piece in chunk_text(part["text"]):
                yield (
                    "response.output_text.delta",
                    _delta({**where, "delta": piece, "logprobs": []}, piece, obfuscate),
                )
            yield "response.output_text.done", {**where, "text": part["text"], "logprobs": []}
        # response.content_part.done: once per part, after its last delta (SPEC §4.3)
        yield "response.content_part.done", {**where, "part": part}
    yield "response.output_item.done", {"output_index": index, "item": item}


def _reasoning_events(
    item: Mapping[str, Any], index: int, obfuscate: Obfuscator | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    item_id = item["id"]
    added = {k: v for k, v in item.items() if k not in ("summary", "status")}
    added["summary"] = []
    if "status" in item:
        added["status"] = "in_progress"
    yield "response.output_item.added", {"output_index": index, "item": added}
    # Without summaries the reasoning item is added then done, with no delta events (SPEC §4.4).
    for s_index, part in enumerate(item.get("summary") or ()):
        where = {"item_id": item_id, "output_index": index, "summary_index": s_index}
        yield "response.reasoning_summary_part.added", {**where, "part": {"type": "summary_text", "text": ""}}
        for piece in chunk_text(part["text"]):
            yield "response.reasoning_summary_text.delta", _delta({**where, "delta": piece}, piece, obfuscate)
        yield "response.reasoning_summary_text.done", {**where, "text": part["text"]}
        yield "response.reasoning_summary_part.done", {**where, "part": part}
    yield "response.output_item.done", {"output_index": index, "item": item}


def _function_call_events(
    item: Mapping[str, Any], index: int, obfuscate: Obfuscator | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    item_id = item["id"]
    added = dict(item)
    added["status"] = "in_progress"
    added["arguments"] = ""
    yield "response.output_item.added", {"output_index": index, "item": added}
    where = {"item_id": item_id, "output_index": index}
    for piece in chunk_text(item["arguments"]):
        yield "response.function_call_arguments.delta", _delta({**where, "delta": piece}, piece, obfuscate)
    yield "response.function_call_arguments.done", {**where, "arguments": item["arguments"]}
    yield "response.output_item.done", {"output_index": index, "item": item}
