"""Conversations (SPEC §2.8): durable item lists a response can be bound to, kept per session.

``POST /v1/conversations`` creates one (optionally with up to 20 items and ``metadata``); the items
sub-resource lists, adds, retrieves and deletes items. A create with ``conversation`` sees the
conversation's items before its own input, and once it completes its input and output items are
appended (SPEC §2.8, observed in pydantic-ai ``test_openai_conversation_id_*``). Everything here is
pure state: the engine (:meth:`mockserver.engine.Engine._prepare` / ``_launch``) and the adapter
(:mod:`mockserver.web.conversations`) call it under the engine lock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .errors import InvalidRequest, NotFound
from .ids import IdFactory

__all__ = [
    "MAX_ITEMS_PER_CALL",
    "Conversation",
    "ConversationBook",
    "Normaliser",
    "binder",
    "conversation_id",
    "new_conversation_id",
]

MAX_ITEMS_PER_CALL = 20
"""``items`` accepted per create / items-create call (SPEC §2.8, SDK docstring)."""
_MAX_METADATA = 16

Normaliser = Callable[[list[Any]], list[dict[str, Any]]]
"""Turns raw input items into stored items with ids (the engine's input normalisation)."""


def new_conversation_id(ids: IdFactory, now: float) -> str:
    """``conv_`` + 48 hex digits, the length of the real ids (layout chosen, like ``resp_`` ids)."""
    return f"conv_{int(now) & 0xFFFFFFFF:08x}{ids.hex(8)}8190{ids.hex(28)}"


def conversation_id(value: Any, param: str = "conversation") -> str | None:
    """The id of a create's ``conversation`` (``"conv_…"`` or ``{"id": "conv_…"}``); ``None`` if absent.

    Raises:
        InvalidRequest: a wrong type or an id that does not begin with ``conv`` (the observed wording of
            :func:`mockserver.errors.invalid_id_prefix`).
    """
    if value is None:
        return None
    if isinstance(value, Mapping):
        param = f"{param}.id"
        value = value.get("id")
        if value is None:
            raise errors.missing_required(param)
    if not isinstance(value, str):
        raise errors.invalid_type(param, "a string", value)
    if not value.startswith("conv"):
        raise errors.invalid_id_prefix(param, value, "conv")
    return value


def not_found(conv_id: str) -> NotFound:
    """404 for an unknown (or deleted) conversation; wording chosen (docs/errors.md) after
    ``Response with id '…' not found.``"""
    return NotFound(f"Conversation with id '{conv_id}' not found.", type="invalid_request_error")


@dataclass
class Conversation:
    """One conversation: its object fields and its items, oldest first."""

    id: str
    created_at: int
    metadata: dict[str, str]
    items: list[dict[str, Any]] = field(default_factory=list)

    def object(self) -> dict[str, Any]:
        """The SDK ``Conversation`` object."""
        return {
            "id": self.id,
            "object": "conversation",
            "created_at": self.created_at,
            "metadata": dict(self.metadata),
        }


class ConversationBook:
    """The conversations of one session, by id."""

    def __init__(self) -> None:
        self._conversations: dict[str, Conversation] = {}

    def __len__(self) -> int:
        return len(self._conversations)

    # --- the /v1/conversations resource -------------------------------------------------------------

    def create(self, body: Any, *, ids: IdFactory, now: float, normalise: Normaliser) -> dict[str, Any]:
        """``POST /v1/conversations``: ``{"items"?: [...≤20], "metadata"?: {...}}``."""
        if body is None:
            body = {}
        if not isinstance(body, Mapping):
            raise errors.invalid_body(body)
        _only(body, ("items", "metadata"))
        metadata = _metadata(body.get("metadata"))
        raw = _items(body.get("items"), "items", required=False)
        conv = Conversation(new_conversation_id(ids, now), int(now), metadata)
        conv.items = normalise(raw)
        self._conversations[conv.id] = conv
        return conv.object()

    def get(self, conv_id: str) -> Conversation:
        """The conversation, or 404."""
        conv = self._conversations.get(conv_id)
        if conv is None:
            raise not_found(conv_id)
        return conv

    def update(self, conv_id: str, body: Any) -> dict[str, Any]:
        """``POST /v1/conversations/{id}``: replace ``metadata`` (required, as in the SDK)."""
        conv = self.get(conv_id)
        if not isinstance(body, Mapping):
            raise errors.invalid_body(body)
        _only(body, ("metadata",))
        if "metadata" not in body:
            raise errors.missing_required("metadata")
        conv.metadata = _metadata(body["metadata"])
        return conv.object()

    def delete(self, conv_id: str) -> dict[str, Any]:
        """``DELETE /v1/conversations/{id}``; its items go with it."""
        self.get(conv_id)
        del self._conversations[conv_id]
        return {"id": conv_id, "object": "conversation.deleted", "deleted": True}

    # --- the items sub-resource ---------------------------------------------------------------------

    def add_items(self, conv_id: str, body: Any, *, normalise: Normaliser) -> dict[str, Any]:
        """``POST /v1/conversations/{id}/items``: append up to 20 items; answers the added ones as a list."""
        conv = self.get(conv_id)
        if not isinstance(body, Mapping):
            raise errors.invalid_body(body)
        _only(body, ("items",))
        added = normalise(_items(body.get("items"), "items", required=True))
        conv.items.extend(added)
        return _page(added, has_more=False)

    def list_items(
        self, conv_id: str, *, after: str | None = None, limit: int = 20, order: str = "desc"
    ) -> dict[str, Any]:
        """``GET /v1/conversations/{id}/items`` (``after``, ``limit`` 1..100, ``order``; default desc)."""
        conv = self.get(conv_id)
        items = conv.items if order == "asc" else list(reversed(conv.items))
        start = 0
        if after is not None:
            ids = [i.get("id") for i in items]
            if after not in ids:
                raise InvalidRequest(
                    f"Invalid 'after': no item with id '{after}' in this list.", param="after"
                )
            start = ids.index(after) + 1
        window = items[start:]
        return _page(window[:limit], has_more=len(window) > limit)

    def item(self, conv_id: str, item_id: str) -> dict[str, Any]:
        """``GET /v1/conversations/{id}/items/{item_id}``."""
        for it in self.get(conv_id).items:
            if it.get("id") == item_id:
                return it
        raise _item_not_found(item_id)

    def delete_item(self, conv_id: str, item_id: str) -> dict[str, Any]:
        """``DELETE /v1/conversations/{id}/items/{item_id}``: answers the conversation (SDK typing)."""
        conv = self.get(conv_id)
        for index, it in enumerate(conv.items):
            if it.get("id") == item_id:
                del conv.items[index]
                return conv.object()
        raise _item_not_found(item_id)

    # --- binding responses --------------------------------------------------------------------------

    def history(self, conv_id: str) -> list[dict[str, Any]]:
        """The items a bound create sees before its own input (SPEC §2.8)."""
        return list(self.get(conv_id).items)

    def append(self, conv_id: str, items: list[dict[str, Any]]) -> None:
        """Append a finished response's input and output; a conversation deleted meanwhile is skipped."""
        conv = self._conversations.get(conv_id)
        if conv is not None:
            conv.items.extend(items)


def _item_not_found(item_id: str) -> NotFound:
    # Chosen wording (docs/errors.md), the same pattern as responses.
    return NotFound(f"Item with id '{item_id}' not found.", type="invalid_request_error")


def _page(items: list[dict[str, Any]], *, has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": items,
        "first_id": items[0].get("id") if items else None,
        "last_id": items[-1].get("id") if items else None,
        "has_more": has_more,
    }


def _only(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in body:
        if key not in allowed:
            raise errors.unknown_parameter(key)


def _items(raw: Any, param: str, *, required: bool) -> list[Any]:
    if raw is None:
        if required:
            raise errors.missing_required(param)
        return []
    if not isinstance(raw, list):
        raise errors.invalid_type(param, "an array", raw)
    if len(raw) > MAX_ITEMS_PER_CALL:
        raise errors.array_above_max_length(param, MAX_ITEMS_PER_CALL, raw)
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise errors.invalid_type(f"{param}[{index}]", "an object", item)
    return raw


def _metadata(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise errors.invalid_type("metadata", "an object", raw)
    if len(raw) > _MAX_METADATA:
        raise errors.object_above_max_properties("metadata", _MAX_METADATA, len(raw))
    for key, value in raw.items():
        if not isinstance(value, str):
            raise errors.invalid_type(f"metadata.{key}", "a string", value)
    return dict(raw)


def binder(
    request: Mapping[str, Any],
    book: ConversationBook,
    record: Any,
    input_items: list[dict[str, Any]],
) -> Callable[[], None] | None:
    """Bind a create to its ``conversation`` (SPEC §2.8), or ``None`` when it names none.

    Echoes ``conversation: {"id"}`` on the response now and returns the call that appends the request's
    input and the response's output to the conversation once the response is ``completed`` or
    ``incomplete`` (failed and cancelled responses add nothing, chosen). The call is idempotent, so it can
    listen to a background job's every release.

    Args:
        request: The validated create body.
        book: The session's conversations.
        record: The :class:`mockserver.store.StoredResponse` being launched.
        input_items: The request's normalised input items.
    """
    conv_id = conversation_id(request.get("conversation"))
    if conv_id is None:
        return None
    response: dict[str, Any] = record.response
    response["conversation"] = {"id": conv_id}
    done = False

    def bind() -> None:
        nonlocal done
        if done or response.get("status") not in ("completed", "incomplete", "failed", "cancelled"):
            return
        done = True
        if response.get("status") in ("completed", "incomplete"):
            book.append(conv_id, [*input_items, *response.get("output", [])])

    return bind
