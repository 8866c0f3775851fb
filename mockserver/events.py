"""Stream events of one response, in the order real traffic shows (SPEC §4.3-4.6).

The engine builds the final output items once; this module derives every event from them, so the
non-streaming body, the SSE stream and the WebSocket frames can never disagree. Events are plain dicts
whose keys are the openai SDK's event fields, ``type`` and ``sequence_number`` first as on the wire.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from . import builtin_tools

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
) -> list[dict[str, Any]]:
    """Every event of a response, from ``response.created`` to its terminal event.

    Args:
        final: The final ``Response`` object (its ``status`` picks the terminal event).
        obfuscate: Padding source for deltas, or ``None`` (``include_obfuscation=false``).
        queued: Background responses start ``queued`` and emit ``response.queued`` (SPEC §4.6).
    """
    # Hot path (every streamed response): each event is built once as a dict display with ``type`` and
    # ``sequence_number`` first, instead of fields merged into a new dict per event (docs/performance.md).
    out: list[dict[str, Any]] = []
    if queued:
        out.append(
            {"type": "response.created", "sequence_number": 0, "response": response_snapshot(final, "queued")}
        )
        out.append(
            {"type": "response.queued", "sequence_number": 1, "response": response_snapshot(final, "queued")}
        )
    else:
        created = response_snapshot(final, "in_progress")
        out.append({"type": "response.created", "sequence_number": 0, "response": created})
    seq = len(out)
    out.append(
        {
            "type": "response.in_progress",
            "sequence_number": seq,
            "response": response_snapshot(final, "in_progress"),
        }
    )
    seq += 1
    for index, item in enumerate(final["output"]):
        seq = _item_events(item, index, obfuscate, out, seq, final.get("tools") or ())
    terminal = _TERMINAL_BY_STATUS.get(str(final.get("status")), "response.completed")
    out.append({"type": terminal, "sequence_number": seq, "response": final})
    return out


def item_events(
    item: Mapping[str, Any], index: int, obfuscate: Obfuscator | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(type, fields) of the events that stream one output item (without ``sequence_number``)."""
    events: list[dict[str, Any]] = []
    _item_events(item, index, obfuscate, events, 0)
    for event in events:
        fields = dict(event)
        kind = fields.pop("type")
        del fields["sequence_number"]
        yield kind, fields


def _item_events(
    item: Mapping[str, Any],
    index: int,
    obfuscate: Obfuscator | None,
    out: list[dict[str, Any]],
    seq: int,
    tools: Sequence[Mapping[str, Any]] = (),
) -> int:
    """Append the events of one output item to ``out``, numbered from ``seq``; returns the next number."""
    kind = item.get("type")
    if kind == "message":
        return _message_events(item, index, obfuscate, out, seq)
    if kind == "reasoning":
        return _reasoning_events(item, index, obfuscate, out, seq)
    if kind == "function_call":
        return _function_call_events(item, index, obfuscate, out, seq)
    if builtin_tools.has_events(kind):
        # Built-in tools' event families (SPEC §4.5), built in builtin_tools and numbered here.
        partial = next(
            (t.get("partial_images") or 0 for t in tools if t.get("type") == "image_generation"), 0
        )
        for event in builtin_tools.item_events(item, index, obfuscate, chunk_text, partial):
            kind_of = event.pop("type")
            out.append({"type": kind_of, "sequence_number": seq, **event})
            seq += 1
        return seq
    if kind == "compaction":
        # SPEC §12: the item, then response.compaction.compacting (no summary content), then done.
        out.append(
            {
                "type": "response.output_item.added",
                "sequence_number": seq,
                "output_index": index,
                "item": dict(item),
            }
        )
        out.append(
            {
                "type": "response.compaction.compacting",
                "sequence_number": seq + 1,
                "item_id": item["id"],
                "output_index": index,
            }
        )
        seq += 2
    else:
        # Items without dedicated events (tool_search_call/output, ...): added + done only.
        out.append(
            {
                "type": "response.output_item.added",
                "sequence_number": seq,
                "output_index": index,
                "item": _in_progress(item),
            }
        )
        seq += 1
    out.append(
        {"type": "response.output_item.done", "sequence_number": seq, "output_index": index, "item": item}
    )
    return seq + 1


def _in_progress(item: Mapping[str, Any]) -> dict[str, Any]:
    added = dict(item)
    if "status" in added:
        added["status"] = "in_progress"
    if added.get("type") == "tool_search_call":
        added["arguments"] = {}  # recorded: the search's arguments appear on output_item.done only (SPEC §11)
    return added


def _message_events(
    item: Mapping[str, Any], index: int, obfuscate: Obfuscator | None, out: list[dict[str, Any]], seq: int
) -> int:
    item_id = item["id"]
    added: dict[str, Any] = {"id": item_id, "type": "message", "status": "in_progress", "content": []}
    added["role"] = item.get("role", "assistant")
    if "phase" in item:
        added["phase"] = item["phase"]  # observed on output_item.added already (SPEC §10)
    append = out.append
    append(
        {"type": "response.output_item.added", "sequence_number": seq, "output_index": index, "item": added}
    )
    seq += 1
    for c_index, part in enumerate(item["content"]):
        if part["type"] == "refusal":
            refusal = part["refusal"]
            append(
                {
                    "type": "response.content_part.added",
                    "sequence_number": seq,
                    "item_id": item_id,
                    "output_index": index,
                    "content_index": c_index,
                    "part": {"type": "refusal", "refusal": ""},
                }
            )
            seq += 1
            seq = _deltas(
                append,
                seq,
                "response.refusal.delta",
                item_id,
                index,
                ("content_index", c_index),
                refusal,
                obfuscate,
            )
            append(
                {
                    "type": "response.refusal.done",
                    "sequence_number": seq,
                    "item_id": item_id,
                    "output_index": index,
                    "content_index": c_index,
                    "refusal": refusal,
                }
            )
        else:
            text = part["text"]
            append(
                {
                    "type": "response.content_part.added",
                    "sequence_number": seq,
                    "item_id": item_id,
                    "output_index": index,
                    "content_index": c_index,
                    "part": {"type": "output_text", "annotations": [], "logprobs": [], "text": ""},
                }
            )
            seq += 1
            # Citations (web/file search answers): each annotation.added follows the delta that completes
            # the cited span (real traffic: test_openai_include_raw_annotations_streaming.yaml).
            pending = list(enumerate(part.get("annotations") or ()))
            written = 0
            for piece in _split_at_citations(chunk_text(text), pending):
                delta = {
                    "type": "response.output_text.delta",
                    "sequence_number": seq,
                    "item_id": item_id,
                    "output_index": index,
                    "content_index": c_index,
                    "delta": piece,
                    "logprobs": [],
                }
                if obfuscate is not None:
                    delta["obfuscation"] = obfuscate(piece)
                append(delta)
                seq += 1
                written += len(piece)
                while pending and _cited_up_to(pending[0][1]) <= written:
                    seq = _annotation_event(pending.pop(0), item_id, index, c_index, out, seq)
            while pending:
                seq = _annotation_event(pending.pop(0), item_id, index, c_index, out, seq)
            append(
                {
                    "type": "response.output_text.done",
                    "sequence_number": seq,
                    "item_id": item_id,
                    "output_index": index,
                    "content_index": c_index,
                    "text": text,
                    "logprobs": [],
                }
            )
        # response.content_part.done: once per part, after its last delta (SPEC §4.3)
        append(
            {
                "type": "response.content_part.done",
                "sequence_number": seq + 1,
                "item_id": item_id,
                "output_index": index,
                "content_index": c_index,
                "part": part,
            }
        )
        seq += 2
    append({"type": "response.output_item.done", "sequence_number": seq, "output_index": index, "item": item})
    return seq + 1


def _cited_up_to(annotation: Mapping[str, Any]) -> float:
    """Where a citation's event goes: after ``end_index`` (url citations) or ``index`` (file citations);
    container file citations come after the whole text (vercel openai-code-interpreter-tool.1)."""
    if annotation.get("type") == "container_file_citation":
        return float("inf")
    end = annotation.get("end_index", annotation.get("index"))
    return int(end) if isinstance(end, int) else 0


def _split_at_citations(pieces: list[str], pending: list[tuple[int, Mapping[str, Any]]]) -> list[str]:
    """Cut the deltas where citations end (the model emits a citation at a token boundary)."""
    cuts = sorted({c for _, a in pending if 0 < (c := _cited_up_to(a)) < float("inf")})
    if not cuts:
        return pieces
    out: list[str] = []
    start = 0
    for piece in pieces:
        end = start + len(piece)
        inner = [int(c) - start for c in cuts if start < c < end]
        for offset, cut in zip([0, *inner], [*inner, len(piece)], strict=True):
            out.append(piece[offset:cut])
        start = end
    return out


def _annotation_event(
    numbered: tuple[int, Mapping[str, Any]],
    item_id: str,
    index: int,
    c_index: int,
    out: list[dict[str, Any]],
    seq: int,
) -> int:
    a_index, annotation = numbered
    out.append(
        {
            "type": "response.output_text.annotation.added",
            "sequence_number": seq,
            "annotation": dict(annotation),
            "annotation_index": a_index,
            "content_index": c_index,
            "item_id": item_id,
            "output_index": index,
        }
    )
    return seq + 1


def _reasoning_events(
    item: Mapping[str, Any], index: int, obfuscate: Obfuscator | None, out: list[dict[str, Any]], seq: int
) -> int:
    item_id = item["id"]
    added = {k: v for k, v in item.items() if k not in ("summary", "status")}
    added["summary"] = []
    if "status" in item:
        added["status"] = "in_progress"
    append = out.append
    append(
        {"type": "response.output_item.added", "sequence_number": seq, "output_index": index, "item": added}
    )
    seq += 1
    # Without summaries the reasoning item is added then done, with no delta events (SPEC §4.4).
    for s_index, part in enumerate(item.get("summary") or ()):
        text = part["text"]
        append(
            {
                "type": "response.reasoning_summary_part.added",
                "sequence_number": seq,
                "item_id": item_id,
                "output_index": index,
                "summary_index": s_index,
                "part": {"type": "summary_text", "text": ""},
            }
        )
        seq += 1
        seq = _deltas(
            append,
            seq,
            "response.reasoning_summary_text.delta",
            item_id,
            index,
            ("summary_index", s_index),
            text,
            obfuscate,
        )
        where = {"item_id": item_id, "output_index": index, "summary_index": s_index}
        append(
            {"type": "response.reasoning_summary_text.done", "sequence_number": seq, **where, "text": text}
        )
        append(
            {
                "type": "response.reasoning_summary_part.done",
                "sequence_number": seq + 1,
                **where,
                "part": part,
            }
        )
        seq += 2
    append({"type": "response.output_item.done", "sequence_number": seq, "output_index": index, "item": item})
    return seq + 1


def _function_call_events(
    item: Mapping[str, Any], index: int, obfuscate: Obfuscator | None, out: list[dict[str, Any]], seq: int
) -> int:
    item_id = item["id"]
    arguments = item["arguments"]
    added = dict(item)
    added["status"] = "in_progress"
    added["arguments"] = ""
    append = out.append
    append(
        {"type": "response.output_item.added", "sequence_number": seq, "output_index": index, "item": added}
    )
    seq += 1
    seq = _deltas(
        append, seq, "response.function_call_arguments.delta", item_id, index, None, arguments, obfuscate
    )
    append(
        {
            "type": "response.function_call_arguments.done",
            "sequence_number": seq,
            "item_id": item_id,
            "output_index": index,
            "arguments": arguments,
        }
    )
    append(
        {"type": "response.output_item.done", "sequence_number": seq + 1, "output_index": index, "item": item}
    )
    return seq + 2


def _deltas(
    append: Callable[[dict[str, Any]], None],
    seq: int,
    kind: str,
    item_id: str,
    index: int,
    slot: tuple[str, int] | None,
    text: str,
    obfuscate: Obfuscator | None,
) -> int:
    """Append one ``*.delta`` event per token-sized piece of ``text``; returns the next sequence number.

    Keys keep the wire order: ``type``, ``sequence_number``, ``item_id``, ``output_index``, the part's own
    index (``content_index`` / ``summary_index``) when it has one, ``delta``, then ``obfuscation``.
    """
    for piece in chunk_text(text):
        delta: dict[str, Any] = {
            "type": kind,
            "sequence_number": seq,
            "item_id": item_id,
            "output_index": index,
        }
        if slot is not None:
            delta[slot[0]] = slot[1]
        delta["delta"] = piece
        if obfuscate is not None:
            delta["obfuscation"] = obfuscate(piece)
        append(delta)
        seq += 1
    return seq
