"""Compaction: the context folded into one sealed ``compaction`` item (SPEC §2.7, §12; DECISIONS 13).

Three ways to compact, one item format (``{"id": "cmp_…", "type": "compaction", "encrypted_content"}``):

* ``POST /v1/responses/compact``: output = the user messages of the window (ids kept, new ids for items sent
  without one) followed by the compaction item; not stored, its output starts a new chain (SPEC §6.5);
* ``context_management: [{"type": "compaction", "compact_threshold": N}]``: when the carried context (input
  plus output tokens) passes N, the response appends a compaction item to its own output (real traffic puts
  it last) and streams ``response.compaction.compacting`` for it;
* a final ``compaction_trigger`` input item: the response compacts at once and its output is the compaction
  item alone (chosen: the trigger carries no user turn to answer).

The sealed state is a bounded summary: counts, the last user requests and the last answer, shortened. It
renders as one short text whose token count is what the item costs as input (the ``_tokens`` hint of
:func:`mockserver.tokens.count_input`), so a compaction item counts far fewer tokens than the history it
replaced, and a 50-turn conversation stays under its threshold.

On input, :func:`expand` verifies every compaction blob (an edited one is 400 ``invalid_encrypted_content``)
and builds what the model sees: everything before the latest compaction item is dropped (the guide allows
clients to keep or prune it, SPEC §12), except the user messages a ``/compact`` output retained next to it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import tokens
from .catalog import ModelInfo
from .reasoning import Origin, invalid_encrypted_content
from .sealing import BlobError, Sealer

__all__ = ["PURPOSE", "Window", "expand", "seal", "threshold", "user_messages"]

PURPOSE = "compaction"
"""Sealing purpose of compaction blobs (a reasoning blob is not accepted in their place)."""

_KEEP_TURNS = 6  # user requests kept in the summary
_TURN_CHARS = 120
_ANSWER_CHARS = 200
_ITEM_OVERHEAD = 6  # structural tokens around the summary (chosen)


@dataclass
class Window:
    """What the model sees after compaction items are expanded."""

    items: list[dict[str, Any]]
    """The context: the latest compaction item (with its ``_tokens`` cost), the user messages retained next
    to it, then every later item; ``compaction_trigger`` items removed."""
    origins: list[Origin]
    """Origin of each item of ``items``."""
    state: dict[str, Any] | None = None
    """Sealed state of the latest compaction item, or ``None``."""
    forced: bool = False
    """The request's last input item is a ``compaction_trigger``."""
    threshold: int | None = None
    """``compact_threshold`` of ``context_management``, if any."""
    dropped: int = field(default=0)
    """How many context items the latest compaction item replaced in this request."""


def threshold(request: Mapping[str, Any]) -> int | None:
    """``compact_threshold`` of the request's ``context_management`` compaction entry, or ``None``."""
    for entry in request.get("context_management") or ():
        if isinstance(entry, Mapping) and entry.get("type") == "compaction":
            value = entry.get("compact_threshold")
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or "") for p in content if isinstance(p, Mapping))
    return ""


def _is_user(item: Mapping[str, Any]) -> bool:
    return item.get("type", "message") == "message" and item.get("role") == "user"


def _user_key(item: Mapping[str, Any]) -> str:
    return hashlib.blake2b(_text(item.get("content")).encode(), digest_size=12).hexdigest()


def user_messages(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The user messages of ``items`` (as normalised input items, ids included)."""
    return [dict(item) for item in items if _is_user(item)]


def _open(item: Mapping[str, Any], origin: Origin, sealer: Sealer) -> dict[str, Any]:
    blob = item.get("encrypted_content")
    try:
        return sealer.open(PURPOSE, blob)
    except BlobError:
        # Items sent without an id got one from the server; the message names only ids the client sent.
        raise invalid_encrypted_content(item.get("id") if origin != "input" else None, blob) from None


def expand(
    context: Sequence[dict[str, Any]],
    context_origins: Sequence[Origin],
    request: Mapping[str, Any],
    sealer: Sealer,
) -> Window:
    """Verify the compaction items of a turn and build the window the model sees.

    Args:
        context: Chain history then this request's input (normalised items).
        context_origins: Origin of each item.
        request: The validated request (``context_management``, the raw ``input``).
        sealer: Opens the blobs.

    Raises:
        InvalidRequest: a compaction blob that does not verify (``invalid_encrypted_content``).
    """
    states = {
        index: _open(item, origin, sealer)
        for index, (item, origin) in enumerate(zip(context, context_origins, strict=True))
        if item.get("type") == "compaction"
    }
    raw = request.get("input")
    forced = (
        isinstance(raw, list)
        and bool(raw)
        and isinstance(raw[-1], Mapping)
        and raw[-1].get("type") == "compaction_trigger"
    )
    pairs = [(item, origin) for item, origin in zip(context, context_origins, strict=True)]
    window = Window(items=[], origins=[], forced=forced, threshold=threshold(request))
    if states:
        latest = max(states)
        state = window.state = states[latest]
        retained = set(state.get("retained") or ())
        before = [
            (item, origin)
            for item, origin in pairs[:latest]
            if _is_user(item) and _user_key(item) in retained
        ]
        window.dropped = latest - len(before)
        # The model sees the compaction item's summary: it costs its sealed token count (SPEC §12). It
        # leads the window (the retained user messages follow it), as tokens.count_input expects.
        cost = int(state.get("cost") or tokens.COMPACTION_DEFAULT_TOKENS)
        pairs = [
            ({**context[latest], "_tokens": cost}, context_origins[latest]),
            *before,
            *pairs[latest + 1 :],
        ]
    for item, origin in pairs:
        if item.get("type") != "compaction_trigger":
            window.items.append(item)
            window.origins.append(origin)
    return window


def seal(
    window: Window,
    produced: Sequence[Mapping[str, Any]],
    *,
    replaced_tokens: int,
    retain_users: bool,
    model: ModelInfo,
    item_id: str,
    sealer: Sealer,
    now: float,
    random_bytes: Callable[[int], bytes],
) -> tuple[dict[str, Any], int]:
    """Fold ``window`` (and this response's ``produced`` output) into a new compaction item.

    Args:
        window: The turn's window.
        produced: Output items of this response that precede the compaction item.
        replaced_tokens: Tokens of the context being replaced (input plus output so far).
        retain_users: ``/compact``: the user messages go into the output next to the item, not into it.
        model: The model (its encoding prices the summary).
        item_id: The new ``cmp_…`` id.
        sealer: Seals the blob.
        now: Session clock time.
        random_bytes: IV source (the session's seeded generator).

    Returns:
        The compaction item and its token cost (output tokens now, input tokens when sent back).
    """
    previous = window.state or {}
    folded = [item for item in window.items if item.get("type") != "compaction"]
    users = [item for item in folded if _is_user(item)]
    turns = list(previous.get("turns") or ())
    if not retain_users:
        turns.extend(_shorten(_text(u.get("content")), _TURN_CHARS) for u in users)
    turns = turns[-_KEEP_TURNS:]
    answers = [
        _text(item.get("content"))
        for item in [*folded, *produced]
        if item.get("type", "message") == "message" and item.get("role") == "assistant"
    ]
    last = _shorten(answers[-1], _ANSWER_CHARS) if answers else str(previous.get("last") or "")
    count = int(previous.get("items") or 0) + len(folded) + len(produced)
    summary = f"Compacted context: {count} earlier items, {replaced_tokens} tokens."
    if turns:
        summary += " The user asked: " + "; ".join(repr(t) for t in turns) + "."
    if last:
        summary += f" Last answer: {last!r}."
    cost = tokens.count_text(summary, model.encoding) + _ITEM_OVERHEAD
    state = {
        "v": 1,
        "id": item_id,
        "model": model.name,
        "family": model.family,
        "turns": turns,
        "retained": [_user_key(u) for u in users] if retain_users else [],
        "items": count,
        "tokens": replaced_tokens,
        "last": last,
        "summary": summary,
        "cost": cost,
        "at": int(now),
    }
    blob = sealer.seal(PURPOSE, state, now=now, random_bytes=random_bytes)
    return {"id": item_id, "type": "compaction", "encrypted_content": blob}, cost


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
