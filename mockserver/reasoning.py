"""Encrypted reasoning: reasoning state the client carries between turns (SPEC §8, DECISIONS 12 and 13).

A reasoning item the engine produces is sealed (:mod:`.sealing`) into ``encrypted_content`` when the request
asks for it (``include: ["reasoning.encrypted_content"]``) or runs stateless (``store: false``, SPEC §8). The
blob holds the reasoning state: model and family, effort, summary, hidden token count, the id of the item
that followed it, and a fingerprint of the context it was produced from.

When reasoning items come back in ``input`` (or through a ``previous_response_id`` chain), :func:`inspect`
opens them and decides what the model continues from::

    blob does not verify                      -> 400 invalid_encrypted_content (SPEC §8 wording)
    no blob, id unknown or from store=false   -> 404 "Item with id 'rs_…' not found. …" (observed)
    not followed by the item it produced      -> 400 "… without its required following item." (observed)
    output item sent by id without its rs_    -> 400 "… without its required 'reasoning' item" (DECISIONS 12)
    other model family / edited prefix        -> withheld, listed in ``input_transformations`` (SDK 3.51)
    earlier turn (reasoning.context current_turn) -> not used (silently, as the real API drops them)
    otherwise                                 -> active: its hidden tokens count as input tokens and the
                                                 default model's answer says it continued from them

Items that followed a reasoning item but come back as plain content (no id) are allowed (DECISIONS 12):
the reasoning item was dropped between turns, which :func:`inspect` reports as a journal note for the
checklist auditor. The per-session :class:`Ledger` remembers what this server produced, to recognise
those items and to serve ``store=true`` reasoning items sent back by id without a blob.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from . import generator, tokens
from .catalog import ModelInfo
from .errors import InvalidRequest, NotFound
from .sealing import BlobError, Sealer, abbreviate

__all__ = [
    "INCLUDE",
    "PURPOSE",
    "Carry",
    "Ledger",
    "Origin",
    "continue_plan",
    "fingerprint",
    "inspect",
    "invalid_encrypted_content",
    "origins",
    "seal_output",
    "wants_blobs",
]

PURPOSE = "reasoning"
"""Sealing purpose of reasoning blobs (a compaction blob is not accepted in their place)."""

INCLUDE = "reasoning.encrypted_content"

Origin = Literal["history", "input", "input_by_id"]
"""Where a context item came from: the ``previous_response_id`` chain, or this request's ``input`` (sent
without / with an ``id``)."""

_LEDGER_LIMIT = 20_000


def invalid_encrypted_content(item_id: Any, blob: Any) -> InvalidRequest:
    """400 ``invalid_encrypted_content``, ``param: null`` (SPEC §8, observed wording).

    The newer wording names the item; without an id the older one abbreviates the blob (first and last four
    characters).
    """
    if isinstance(item_id, str) and item_id:
        message = (
            f"The encrypted content for item {item_id} could not be verified. "
            "Reason: Encrypted content could not be decrypted or parsed."
        )
    else:
        message = f"The encrypted content {abbreviate(str(blob))} could not be verified."
    return InvalidRequest(message, param=None, code="invalid_encrypted_content")


def _not_persisted(item_id: str) -> NotFound:
    # Observed (opencode#7724, oh-my-pi#41): 404 for a reasoning item sent by id, its response not stored.
    return NotFound(
        f"Item with id '{item_id}' not found. Items are not persisted when `store` is set to false. "
        "Try again with `store` set to true, or remove this item from your input.",
        param="input",
    )


def wants_blobs(request: Mapping[str, Any]) -> bool:
    """Whether reasoning items get ``encrypted_content``: requested in ``include``, or ``store: false``
    (stateless mode returns it by default, SPEC §8 / CONFLICT 15.1)."""
    include = request.get("include") or ()
    return INCLUDE in include or request.get("store") is False


def origins(history_length: int, raw_input: Any) -> list[Origin]:
    """The origin of every context item: ``history_length`` chain items, then this request's input."""
    out: list[Origin] = ["history"] * history_length
    if isinstance(raw_input, str):
        out.append("input")
    elif isinstance(raw_input, list):
        for item in raw_input:
            by_id = isinstance(item, Mapping) and isinstance(item.get("id"), str) and bool(item["id"])
            out.append("input_by_id" if by_id else "input")
    return out


# --- fingerprints ------------------------------------------------------------------------------------------


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text") or part.get("refusal") or "")
            for part in content
            if isinstance(part, Mapping)
        )
    return ""


def _digest(text: str, size: int = 16) -> str:
    return hashlib.blake2b(text.encode(), digest_size=size).hexdigest()


def fingerprint(items: Sequence[Mapping[str, Any]], progress: tokens.Progress | None = None) -> str:
    """Fingerprint of the context a reasoning item was produced from.

    Only what the client authors and resends verbatim counts (user, system and developer texts, and
    compaction blobs), so the same conversation sent statelessly, as plain strings or content lists, with or
    without ids, or through a ``previous_response_id`` chain gives the same value.

    Args:
        items: The context.
        progress: The turn's rendering of ``items`` (``tokens.render_chain``): the parts of the items its
            base covered are taken from there and this turn's are kept for the next, so a chained turn
            looks only at its new items (each turn looked at the whole chain).
    """
    if (
        progress is None
        or len(progress.items) != len(items)
        or (items and progress.items[-1] is not items[-1])
    ):
        return _digest("\x1e".join(_parts(items)))
    inherited = progress.inherited.pop("fingerprint", None)
    if inherited is not None:
        done, earlier = inherited
        parts = earlier + _parts(items[done:])
    else:
        parts = _parts(items)
    progress.followers["fingerprint"] = (len(items), parts)
    return _digest("\x1e".join(parts))


def _parts(items: Sequence[Mapping[str, Any]]) -> list[str]:
    parts: list[str] = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "message" and item.get("role") in ("user", "system", "developer"):
            parts.append(f"{item.get('role')}:{_text(item.get('content'))}")
        elif kind == "compaction":
            parts.append("cmp:" + _digest(str(item.get("encrypted_content"))))
    return parts


def _follower_keys(item: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Ways a later request can refer to an output item: by id, by call_id, by its text as plain content."""
    keys: list[tuple[str, str]] = []
    if isinstance(item.get("id"), str):
        keys.append(("id", item["id"]))
    if item.get("type") == "function_call" and isinstance(item.get("call_id"), str):
        keys.append(("call", item["call_id"]))
    if item.get("type", "message") == "message" and item.get("role") == "assistant":
        text = _text(item.get("content"))
        if text:
            keys.append(("text", _digest(text)))
    return keys


# --- the ledger --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Produced:
    state: dict[str, Any]
    stored: bool
    keys: list[tuple[str, str]]


class Ledger:
    """What one session's responses produced: reasoning states and the items that followed them.

    Bounded (oldest entries are forgotten first); checks that need a forgotten entry are skipped.
    """

    def __init__(self, limit: int = _LEDGER_LIMIT) -> None:
        self._limit = limit
        self._produced: OrderedDict[str, _Produced] = OrderedDict()
        self._followers: dict[tuple[str, str], str] = {}

    def __len__(self) -> int:
        return len(self._produced)

    def register(
        self, output: Sequence[Mapping[str, Any]], states: Sequence[dict[str, Any]], *, stored: bool
    ) -> None:
        """Remember the reasoning items of one response (``states`` in output order) and their followers."""
        by_id = {state["id"]: state for state in states}
        for index, item in enumerate(output):
            state = by_id.get(item.get("id"))
            if item.get("type") != "reasoning" or state is None:
                continue
            # Every item produced after it, up to the next reasoning item, needs it (a commentary message
            # and the calls that follow it alike; observed for messages and function calls).
            keys: list[tuple[str, str]] = []
            for follower in output[index + 1 :]:
                if follower.get("type") in ("reasoning", "compaction"):
                    break
                keys.extend(_follower_keys(follower))
            self._produced[state["id"]] = _Produced(state, stored, keys)
            for key in keys:
                self._followers[key] = state["id"]
        while len(self._produced) > self._limit:
            _, old = self._produced.popitem(last=False)
            for key in old.keys:
                self._followers.pop(key, None)

    def produced(self, reasoning_id: str) -> tuple[dict[str, Any], bool] | None:
        """(state, stored) of a reasoning item this session produced, or ``None``."""
        found = self._produced.get(reasoning_id)
        return None if found is None else (found.state, found.stored)

    def produced_with(self, reasoning_id: str, item: Mapping[str, Any]) -> bool:
        """Whether ``item``, sent as plain content (no id), is one this reasoning item was followed by (same
        ``call_id`` or assistant text)."""
        found = self._produced.get(reasoning_id)
        if found is None:
            return False
        return any(key in found.keys for key in _follower_keys(item) if key[0] != "id")

    def followed(self, item: Mapping[str, Any], *, by_id: bool) -> str | None:
        """Id of the reasoning item that ``item`` followed when it was produced, or ``None``.

        Args:
            item: A context item.
            by_id: Look it up by its ``id`` (sent by id), else by ``call_id`` or text (sent as plain content).
        """
        for kind, value in _follower_keys(item):
            if (kind == "id") == by_id and (found := self._followers.get((kind, value))) is not None:
                return found
        return None


# --- carrying reasoning into a turn ------------------------------------------------------------------------


@dataclass
class Carry:
    """What a turn takes from the reasoning items in its context."""

    active: list[dict[str, Any]] = field(default_factory=list)
    """Sealed states of the reasoning items the model continues from."""
    withheld: list[dict[str, Any]] = field(default_factory=list)
    """``input_transformations`` entries: reasoning inputs withheld from the model (SDK 3.51.0)."""
    dropped: list[dict[str, Any]] = field(default_factory=list)
    """Output items resent as plain content without the reasoning item they followed."""
    hidden: dict[str, int] = field(default_factory=dict)
    """Hidden reasoning tokens of every opened reasoning item of the window, by id (the ``_tokens`` hint of
    :func:`mockserver.tokens.count_input`, which renders them per ``reasoning_context``)."""
    reasoning_context: str = "current_turn"
    """The effective ``reasoning.context`` (SPEC §8)."""

    @property
    def hidden_tokens(self) -> int:
        """Hidden reasoning tokens of the active items (re-rendered, so billed as input tokens)."""
        return sum(int(state.get("tokens") or 0) for state in self.active)

    @property
    def withheld_ids(self) -> frozenset[str]:
        """Ids of the withheld reasoning items."""
        return frozenset(entry["id"] for entry in self.withheld)

    def note(self, response_id: str, now: float) -> dict[str, Any] | None:
        """The journal entry recording dropped reasoning items, or ``None``.

        It has the journal's fixed keys (``transport: "note"``, no request fields) plus ``note``.
        """
        if not self.dropped:
            return None
        return {
            "time": now,
            "method": None,
            "path": None,
            "query": {},
            "transport": "note",
            "status": None,
            "headers": {},
            "body": None,
            "response_id": response_id,
            "error": None,
            "note": {"kind": "reasoning_dropped", "items": list(self.dropped)},
        }


def _open(item: Mapping[str, Any], origin: Origin, sealer: Sealer, ledger: Ledger) -> dict[str, Any] | None:
    """The sealed state of a reasoning item; raises for bad blobs and unknown ids sent by the client."""
    item_id = item.get("id")
    blob = item.get("encrypted_content")
    if blob is not None:
        try:
            state = sealer.open(PURPOSE, blob)
        except BlobError:
            if origin == "history":
                return None  # our own stored output under another secret: nothing to continue from
            raise invalid_encrypted_content(item_id, blob) from None
        if isinstance(item_id, str) and item_id and state.get("id") != item_id:
            # The blob is genuine but belongs to another item (SPEC §8: "for item rs_…").
            raise invalid_encrypted_content(item_id, blob)
        return state
    produced = ledger.produced(item_id) if isinstance(item_id, str) else None
    if origin == "history":
        return produced[0] if produced is not None else None
    if produced is None or not produced[1]:
        raise _not_persisted(str(item_id))
    return produced[0]


def inspect(
    context: Sequence[Mapping[str, Any]],
    context_origins: Sequence[Origin],
    window: Sequence[Mapping[str, Any]],
    window_origins: Sequence[Origin],
    *,
    model: ModelInfo,
    sealer: Sealer,
    ledger: Ledger,
    reasoning_context: str | None,
) -> Carry:
    """Open, check and select the reasoning items of a turn (see the module docstring).

    Args:
        context: Every item of the turn (chain history, then this request's input).
        context_origins: :func:`origins` of ``context``. Every blob the client sent is verified, also those
            before the latest compaction item.
        window: What the model sees (after compaction, :func:`mockserver.compaction.expand`).
        window_origins: Origins of ``window`` items.
        model: The turn's model (reasoning is reused only within its family, SPEC §8).
        sealer: Opens the blobs.
        ledger: The session's ledger.
        reasoning_context: ``reasoning.context`` in effect (``all_turns`` keeps earlier turns' reasoning).

    Raises:
        InvalidRequest: invalid blob, reasoning without its following item, item without its reasoning.
        NotFound: a reasoning item sent by id without a blob that this server did not store.
    """
    for item, origin in zip(context, context_origins, strict=True):
        if origin != "history" and item.get("type") == "reasoning":
            _open(item, origin, sealer, ledger)

    carry = Carry(reasoning_context=reasoning_context or "current_turn")
    seen: set[str] = set()
    last_user = max(
        (
            i
            for i, item in enumerate(window)
            if item.get("type", "message") == "message" and item.get("role") == "user"
        ),
        default=-1,
    )
    # The fingerprint of window[:index] for each reasoning item the client sent, from parts gathered in one
    # pass (fingerprinting each prefix anew was O(n) per item: O(n^2) for a stateless loop resending all).
    parts: list[str] = []
    parted = 0
    for index, (item, origin) in enumerate(zip(window, window_origins, strict=True)):
        kind = item.get("type", "message")
        if kind == "reasoning":
            item_id = str(item.get("id"))
            seen.add(item_id)
            state = _open(item, origin, sealer, ledger)
            if state is None:
                continue
            carry.hidden[item_id] = int(state.get("tokens") or 0)
            if origin != "history":
                _check_follower(item_id, state, window, window_origins, index, ledger)
            reason = None
            if state.get("family") != model.family:
                reason = "model_mismatch"
            elif origin != "history":
                parts += _parts(window[parted:index])
                parted = index
                if state.get("prefix") != _digest("\x1e".join(parts)):  # fingerprint(window[:index])
                    reason = "prefix_mismatch"
            if reason is not None:
                carry.withheld.append(
                    {"id": item_id, "action": "removed", "reason": reason, "type": "reasoning"}
                )
            elif reasoning_context == "all_turns" or index > last_user:
                carry.active.append(state)
            continue
        if origin == "history":
            continue
        by_id = origin == "input_by_id"
        followed = ledger.followed(item, by_id=by_id)
        if followed is None or followed in seen:
            continue
        if by_id:
            # DECISIONS 12 (observed wording, continuedev#12620).
            raise InvalidRequest(
                f"Item '{item.get('id')}' of type '{kind}' was provided without its required "
                f"'reasoning' item: '{followed}'.",
                param="input",
            )
        carry.dropped.append({"reasoning_id": followed, "item_type": kind, "index": index})
    return carry


def _check_follower(
    item_id: str,
    state: Mapping[str, Any],
    window: Sequence[Mapping[str, Any]],
    window_origins: Sequence[Origin],
    index: int,
    ledger: Ledger,
) -> None:
    """SPEC §8, observed verbatim: a reasoning item must be followed by the item it produced.

    Stateless exception: when the response that produced the reasoning item was not stored
    (``store: false``), nothing can be referred to by id on the next turn, so clients resend the
    following item as plain content without its id (langchain-openai drops ``msg_`` ids under
    ``store=False``, langchain#38372; others strip every id) and the API accepts it. The follower is
    then recognised by its text or ``call_id``. A stored reasoning item followed by an id-less item stays
    the observed 400 (pydantic-ai's ``thinking_with_modified_history`` cassette).
    """
    expected = state.get("next")
    if not expected:
        return
    following = window[index + 1] if index + 1 < len(window) else None
    if following is not None and following.get("id") == expected:
        return
    if following is not None and window_origins[index + 1] == "input":  # sent without an id
        produced = ledger.produced(item_id)
        if produced is not None and not produced[1] and ledger.produced_with(item_id, following):
            return
    raise InvalidRequest(
        f"Item '{item_id}' of type 'reasoning' was provided without its required following item.",
        param="input",
    )


# --- producing reasoning -----------------------------------------------------------------------------------


def seal_output(
    output: list[dict[str, Any]],
    tokens_by_item: Sequence[int],
    *,
    model: ModelInfo,
    effort: str | None,
    response_id: str,
    context: Sequence[Mapping[str, Any]],
    blobs: bool,
    sealer: Sealer,
    now: float,
    random_bytes: Callable[[int], bytes],
    rendering: tokens.Progress | None = None,
) -> list[dict[str, Any]]:
    """Seal the state of every reasoning item of ``output`` (in place when ``blobs``); returns the states.

    Args:
        output: The response's output items (reasoning items gain ``encrypted_content`` after ``type``).
        tokens_by_item: Hidden reasoning tokens of each reasoning item, in order.
        model: The response's model.
        effort: Effective reasoning effort.
        response_id: The response id.
        context: What the model saw (for the prefix fingerprint).
        blobs: Whether to put ``encrypted_content`` on the items (:func:`wants_blobs`).
        sealer: Seals the blobs.
        now: Session clock time.
        random_bytes: IV source (the session's seeded generator).
        rendering: The turn's rendering of ``context`` (see :func:`fingerprint`).
    """
    prefix: str | None = None  # fingerprinted once, and only when there is reasoning to seal (O(context))
    states: list[dict[str, Any]] = []
    counts = iter(tokens_by_item)
    for index, item in enumerate(output):
        if item.get("type") != "reasoning":
            continue
        if prefix is None:
            prefix = fingerprint(context, rendering)
        following = output[index + 1] if index + 1 < len(output) else None
        state = {
            "v": 1,
            "id": item["id"],
            "response": response_id,
            "model": model.name,
            "family": model.family,
            "effort": effort,
            "summary": [part.get("text", "") for part in item.get("summary") or ()],
            "tokens": next(counts, 0),
            "prefix": prefix,
            "next": following.get("id") if following is not None else None,
        }
        states.append(state)
        if blobs:
            blob = sealer.seal(PURPOSE, state, now=now, random_bytes=random_bytes)
            rebuilt = {"id": item["id"], "type": "reasoning", "encrypted_content": blob}
            rebuilt.update((k, v) for k, v in item.items() if k not in rebuilt)
            item.clear()
            item.update(rebuilt)
    return states


def continue_plan(
    plan: generator.Plan, carry: Carry, text_format: Mapping[str, Any] | None
) -> generator.Plan:
    """Make continuation observable: the final answer says which reasoning it continued from.

    Only the default model's plain-text final answer changes (structured output and scripted replies never).
    """
    if not carry.active or (text_format or {}).get("type") in ("json_schema", "json_object"):
        return plan
    for position in range(len(plan.items) - 1, -1, -1):
        planned = plan.items[position]
        if (
            isinstance(planned, generator.MessagePlan)
            and not planned.refusal
            and planned.phase != "commentary"
        ):
            count = len(carry.active)
            sentence = (
                f" Continuing from {count} earlier reasoning item{'s' if count > 1 else ''} "
                f"({carry.hidden_tokens} reasoning tokens)."
            )
            plan.items[position] = dataclasses.replace(planned, text=planned.text + sentence)
            break
    return plan
