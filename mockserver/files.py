"""A minimal Files API (issue 14): uploads kept per session so apps that upload first (crewAI, pydantic-ai)
get real ``file-…`` ids back, can list, retrieve, download and delete them.

Only the bookkeeping is emulated: the content is kept as bytes and never interpreted. Pure state, called by
:mod:`mockserver.web.files` under the engine lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import errors
from .crud import page
from .errors import NotFound
from .ids import IdFactory

__all__ = ["PURPOSES", "FileBook", "StoredFile", "new_file_id"]

PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
"""Upload purposes the SDK 3.51.0 ``FilePurpose`` accepts."""


def new_file_id(ids: IdFactory) -> str:
    """``file-`` + 22 letters and digits (the observed layout, e.g. ``file-QX5LFLLtXActF4s7S62qPm``)."""
    return "file-" + ids.alnum(22)


@dataclass
class StoredFile:
    """One upload: its ``FileObject`` fields and its bytes."""

    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int
    expires_at: int | None = None

    def object(self) -> dict[str, Any]:
        """The SDK ``FileObject`` (status ``processed`` at once: nothing is processed here)."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
        }


class FileBook:
    """The uploads of one session, by id, in upload order."""

    def __init__(self) -> None:
        self._files: dict[str, StoredFile] = {}

    def __contains__(self, file_id: object) -> bool:
        return file_id in self._files

    def create(
        self,
        *,
        filename: str | None,
        data: bytes | None,
        purpose: str | None,
        ids: IdFactory,
        now: float,
        expires_after_seconds: int | None = None,
    ) -> dict[str, Any]:
        """``POST /v1/files`` (multipart ``file`` and ``purpose``)."""
        if data is None:
            raise errors.missing_required("file")
        if purpose is None:
            raise errors.missing_required("purpose")
        if purpose not in PURPOSES:
            raise errors.invalid_value("purpose", purpose, PURPOSES)
        expires = int(now) + expires_after_seconds if expires_after_seconds is not None else None
        stored = StoredFile(new_file_id(ids), filename or "upload", purpose, data, int(now), expires)
        self._files[stored.id] = stored
        return stored.object()

    def get(self, file_id: str) -> StoredFile:
        """The upload, or 404 ``No such File object: file-…`` (wording chosen, docs/errors.md)."""
        stored = self._files.get(file_id)
        if stored is None:
            raise NotFound(f"No such File object: {file_id}", type="invalid_request_error", param="id")
        return stored

    def delete(self, file_id: str) -> dict[str, Any]:
        """``DELETE /v1/files/{id}``."""
        self.get(file_id)
        del self._files[file_id]
        return {"id": file_id, "object": "file", "deleted": True}

    def list(
        self, *, purpose: str | None = None, after: str | None = None, limit: int = 10000, order: str = "desc"
    ) -> dict[str, Any]:
        """``GET /v1/files`` (``purpose``, ``after``, ``limit``, ``order``; newest first by default)."""
        files = [f.object() for f in self._files.values() if purpose is None or f.purpose == purpose]
        return page(files, limit=limit, order=order, after=after)
