"""The engine's hooks for state the client carries: encrypted reasoning and compaction (SPEC §8, §12).

:meth:`Engine._prepare <mockserver.engine.Engine._prepare>` calls :func:`prepare` (verify blobs, expand the
latest compaction item, select the reasoning the model continues from); ``_materialize`` calls
:func:`finish` (seal reasoning items, compact when the threshold is passed or a trigger asks, remember what
was produced, journal dropped reasoning); ``Engine.compact`` calls :func:`compact`. Keeping the glue here
keeps the engine's edits to one line per hook.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from . import compaction, generator, reasoning, tokens
from .catalog import ModelInfo
from .sealing import Sealer

if TYPE_CHECKING:
    from .engine import Session, Turn

__all__ = ["compact", "finish", "prepare"]


_CONTINUITY_TYPES = frozenset({"reasoning", "compaction", "compaction_trigger"})
"""Item types that :func:`prepare` opens, expands or removes."""


def _random_bytes(state: Session) -> Callable[[int], bytes]:
    """IVs from the session's id generator: seeded under ``--seed`` (DECISIONS 13)."""
    return lambda n: bytes.fromhex(state.ids.hex(2 * n))


def prepare(
    request: Mapping[str, Any],
    history: Sequence[dict[str, Any]],
    input_items: Sequence[dict[str, Any]],
    *,
    model: ModelInfo,
    state: Session,
    sealer: Sealer,
) -> tuple[list[dict[str, Any]], compaction.Window, reasoning.Carry]:
    """What the model sees for a turn, after compaction and reasoning checks.

    Returns:
        (context, window, carry): the context without withheld reasoning items, the compaction window and
        the carried reasoning.

    Raises:
        APIError: invalid blobs, orphan reasoning, items without their reasoning (see :mod:`.reasoning`).
    """
    context = [*history, *input_items]
    origins = reasoning.origins(len(history), request.get("input"))
    reasoning_cfg = request.get("reasoning") or {}
    if not state.ledger and not any(item.get("type") in _CONTINUITY_TYPES for item in context):
        # Nothing to carry (most turns of models without reasoning): no blob to open, no compaction to
        # expand, and an empty ledger means no item can have left its reasoning behind. Same result as
        # the full path below, without its passes over the context.
        window = compaction.Window(
            items=list(context), origins=origins, threshold=compaction.threshold(request)
        )
        carry = reasoning.Carry(
            reasoning_context=reasoning_cfg.get("context") or model.reasoning_context or "current_turn"
        )
        return context, window, carry
    window = compaction.expand(context, origins, request, sealer)
    carry = reasoning.inspect(
        context,
        origins,
        window.items,
        window.origins,
        model=model,
        sealer=sealer,
        ledger=state.ledger,
        reasoning_context=reasoning_cfg.get("context") or model.reasoning_context,
    )
    # Withheld reasoning is not seen; the rest costs its hidden tokens where the model renders it
    # (``_tokens`` hints on copies; tokens.count_input applies reasoning.context).
    withheld = carry.withheld_ids
    seen: list[dict[str, Any]] = []
    for item in window.items:
        item_id = item.get("id")
        if item.get("type") == "reasoning" and isinstance(item_id, str):
            if item_id in withheld:
                continue
            if item_id in carry.hidden:
                item = {**item, "_tokens": carry.hidden[item_id]}
        seen.append(item)
    return seen, window, carry


def _tokens_by_item(plan: generator.Plan, total: int) -> list[int]:
    """Hidden tokens of each planned reasoning item, capped like ``_build_output`` caps the total."""
    out: list[int] = []
    left = total
    for planned in plan.items:
        if isinstance(planned, generator.ReasoningPlan):
            used = min(planned.tokens, left)
            out.append(used)
            left -= used
    return out


def finish(
    turn: Turn,
    plan: generator.Plan,
    output: list[dict[str, Any]],
    reasoning_tokens: int,
    carried_tokens: int,
    sealer: Sealer,
) -> int:
    """Seal the turn's reasoning, compact when due, remember both; returns the added output tokens.

    Args:
        turn: The turn being materialised.
        plan: Its plan (per-item reasoning tokens).
        output: Its output items (changed in place: ``encrypted_content``, a trailing compaction item).
        reasoning_tokens: Reasoning tokens the output spent.
        carried_tokens: Input plus output tokens of the turn, compared with ``compact_threshold``.
        sealer: Seals the blobs.
    """
    request, state, model = turn.request, turn.state, turn.model
    random_bytes = _random_bytes(state)
    states = reasoning.seal_output(
        output,
        _tokens_by_item(plan, reasoning_tokens),
        model=model,
        effort=turn.effort,
        response_id=turn.response_id,
        context=turn.context,
        blobs=reasoning.wants_blobs(request),
        sealer=sealer,
        now=turn.now,
        random_bytes=random_bytes,
        rendering=turn.rendering,
    )
    added = 0
    window = turn.window
    if window is not None and (
        window.forced or (window.threshold is not None and carried_tokens > window.threshold)
    ):
        item, added = compaction.seal(
            window,
            output,
            replaced_tokens=carried_tokens,
            retain_users=False,
            model=model,
            item_id=state.ids.object_id("cmp", turn.shard, turn.now),
            sealer=sealer,
            now=turn.now,
            random_bytes=random_bytes,
        )
        output.append(item)
    state.ledger.register(output, states, stored=request.get("store") is not False)
    note = turn.carry.note(turn.response_id, turn.now)
    if note is not None:
        state.journal.append(note)
    return added


def compact(turn: Turn, sealer: Sealer) -> tuple[list[dict[str, Any]], int, int]:
    """``POST /v1/responses/compact``: (output, input tokens, output tokens) of the compacted window.

    The output is the window's user messages (normalised input items keep their ids; items sent without one
    got new ids with this response's shard, as real traffic shows) followed by the new compaction item.
    """
    window = turn.window
    assert window is not None
    request = turn.request
    input_tokens = tokens.count_input(
        instructions=request.get("instructions"),
        tools=(),
        items=turn.context,
        encoding=turn.model.encoding,
        style=turn.model.token_style,
        reasoning_context=turn.carry.reasoning_context,
    )
    item, cost = compaction.seal(
        window,
        (),
        replaced_tokens=input_tokens,
        retain_users=True,
        model=turn.model,
        item_id=turn.state.ids.object_id("cmp", turn.shard, turn.now),
        sealer=sealer,
        now=turn.now,
        random_bytes=_random_bytes(turn.state),
    )
    users = [_as_listed(u) for u in compaction.user_messages(turn.context)]
    return [*users, item], input_tokens, cost


def _as_listed(item: Mapping[str, Any]) -> dict[str, Any]:
    """A user message as ``/compact`` output shows it (``ResponseInputMessageItem``: id, content, role,
    status, type)."""
    content = item.get("content")
    if isinstance(content, str):
        content = [{"type": "input_text", "text": content}]
    return {
        "id": item.get("id"),
        "type": "message",
        "status": item.get("status") or "completed",
        "content": content,
        "role": "user",
    }
