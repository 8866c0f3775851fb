"""Shared pieces of the small CRUD endpoints (Files, Vector Stores, Containers, issue 14): cursor pages,
request bodies and metadata. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import errors
from .errors import InvalidRequest

__all__ = ["body_object", "metadata", "page"]


def page(
    objects: Sequence[Mapping[str, Any]], *, limit: int, order: str = "desc", after: str | None = None
) -> dict[str, Any]:
    """One cursor page of ``objects`` (given oldest first): ``{"object": "list", "data", "first_id",
    "last_id", "has_more"}``, newest first unless ``order`` is ``asc``, starting after the id ``after``.

    Raises:
        InvalidRequest: ``after`` is not an id of the list (chosen wording, docs/errors.md).
    """
    items = list(objects)
    if order != "asc":
        items.reverse()
    if after is not None:
        ids = [o["id"] for o in items]
        if after not in ids:
            raise InvalidRequest(f"Invalid 'after': no item with id '{after}' in this list.", param="after")
        items = items[ids.index(after) + 1 :]
    data = [dict(o) for o in items[:limit]]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": len(items) > limit,
    }


def body_object(body: Any) -> Mapping[str, Any]:
    """A JSON body that must be an object (a missing body is an empty one)."""
    if body is None:
        return {}
    if not isinstance(body, Mapping):
        raise errors.invalid_body(body)
    return body


def metadata(raw: Any) -> dict[str, str]:
    """``metadata``: an object of strings (``None``: empty)."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
        raise errors.invalid_type("metadata", "an object of strings", raw)
    return dict(raw)
