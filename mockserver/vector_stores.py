"""Minimal Vector Stores (issue 14): stores and their attached files, per session, so that apps which build a
store before using ``file_search`` (pydantic-ai's ``file_search_tool`` recording) get real-looking answers.

Nothing is indexed: an attached file is ``completed`` at once (chosen; the live API answers ``in_progress``
first), ``usage_bytes`` is the file's size. Pure state, called by :mod:`mockserver.web.vector_stores`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .crud import body_object, metadata, page
from .errors import NotFound
from .files import FileBook
from .ids import IdFactory

__all__ = ["VectorStore", "VectorStoreBook", "new_vector_store_id"]

_STATIC = {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400}}
"""The default chunking strategy, as recorded."""


def new_vector_store_id(ids: IdFactory, now: float) -> str:
    """``vs_`` + 32 hex digits, the observed layout (``vs_6931d72a43048191bbe7518b93c1d8ed``)."""
    return f"vs_{int(now) & 0xFFFFFFFF:08x}{ids.hex(4)}8191{ids.hex(16)}"


@dataclass
class VectorStore:
    """One store and the ``vector_store.file`` objects attached to it, by file id."""

    id: str
    name: str
    created_at: int
    metadata: dict[str, str]
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def object(self) -> dict[str, Any]:
        """The SDK ``VectorStore`` object."""
        return {
            "id": self.id,
            "object": "vector_store",
            "created_at": self.created_at,
            "name": self.name,
            "metadata": dict(self.metadata),
            "status": "completed",
            "usage_bytes": sum(int(f["usage_bytes"]) for f in self.files.values()),
            "file_counts": {
                "in_progress": 0,
                "completed": len(self.files),
                "failed": 0,
                "cancelled": 0,
                "total": len(self.files),
            },
            "last_active_at": self.created_at,
            "expires_after": None,
            "expires_at": None,
        }


class VectorStoreBook:
    """The vector stores of one session."""

    def __init__(self) -> None:
        self._stores: dict[str, VectorStore] = {}

    def __contains__(self, store_id: object) -> bool:
        return store_id in self._stores

    def create(self, body: Any, *, ids: IdFactory, now: float, files: FileBook) -> dict[str, Any]:
        """``POST /v1/vector_stores`` (``name``, ``metadata``, ``file_ids``; other fields are ignored)."""
        body = body_object(body)
        store = VectorStore(
            new_vector_store_id(ids, now),
            str(body.get("name") or ""),
            int(now),
            metadata(body.get("metadata")),
        )
        file_ids = body.get("file_ids") or []
        if not isinstance(file_ids, list):
            raise errors.invalid_type("file_ids", "an array", file_ids)
        for file_id in file_ids:
            self._attach(store, file_id, files, now)
        self._stores[store.id] = store
        return store.object()

    def get(self, store_id: str) -> VectorStore:
        """The store, or 404 (wording chosen, docs/errors.md)."""
        store = self._stores.get(store_id)
        if store is None:
            raise NotFound(f"No such vector store: '{store_id}'.", type="invalid_request_error")
        return store

    def update(self, store_id: str, body: Any) -> dict[str, Any]:
        """``POST /v1/vector_stores/{id}`` (``name``, ``metadata``)."""
        store = self.get(store_id)
        body = body_object(body)
        if body.get("name") is not None:
            store.name = str(body["name"])
        if "metadata" in body:
            store.metadata = metadata(body["metadata"])
        return store.object()

    def delete(self, store_id: str) -> dict[str, Any]:
        """``DELETE /v1/vector_stores/{id}``."""
        self.get(store_id)
        del self._stores[store_id]
        return {"id": store_id, "object": "vector_store.deleted", "deleted": True}

    def list(self, *, limit: int = 20, order: str = "desc") -> dict[str, Any]:
        """``GET /v1/vector_stores``."""
        return page([s.object() for s in self._stores.values()], limit=limit, order=order)

    def attach(self, store_id: str, body: Any, *, files: FileBook, now: float) -> dict[str, Any]:
        """``POST /v1/vector_stores/{id}/files`` (``file_id``, optional ``attributes``)."""
        store = self.get(store_id)
        body = body_object(body)
        if body.get("file_id") is None:
            raise errors.missing_required("file_id")
        attached = self._attach(store, body["file_id"], files, now)
        if isinstance(body.get("attributes"), Mapping):
            attached["attributes"] = dict(body["attributes"])
        return attached

    def file(self, store_id: str, file_id: str) -> dict[str, Any]:
        """``GET /v1/vector_stores/{id}/files/{file_id}``."""
        found = self.get(store_id).files.get(file_id)
        if found is None:
            raise NotFound(f"No such File object: {file_id}", type="invalid_request_error", param="id")
        return found

    def list_files(self, store_id: str, *, limit: int = 20, order: str = "desc") -> dict[str, Any]:
        """``GET /v1/vector_stores/{id}/files``."""
        return page(list(self.get(store_id).files.values()), limit=limit, order=order)

    def detach(self, store_id: str, file_id: str) -> dict[str, Any]:
        """``DELETE /v1/vector_stores/{id}/files/{file_id}`` (the file itself stays)."""
        self.file(store_id, file_id)
        del self.get(store_id).files[file_id]
        return {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}

    @staticmethod
    def _attach(store: VectorStore, file_id: Any, files: FileBook, now: float) -> dict[str, Any]:
        if not isinstance(file_id, str):
            raise errors.invalid_type("file_id", "a string", file_id)
        size = len(files.get(file_id).data)  # 404 for an unknown file
        attached = {
            "id": file_id,
            "object": "vector_store.file",
            "created_at": int(now),
            "vector_store_id": store.id,
            "status": "completed",
            "usage_bytes": size,
            "last_error": None,
            "attributes": {},
            "chunking_strategy": _STATIC,
        }
        store.files[file_id] = attached
        return attached
