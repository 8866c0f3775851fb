"""Minimal Containers (issue 14): ``/v1/containers`` and their files, per session, so that code that creates
a container for ``code_interpreter`` (``tools=[{"type": "code_interpreter", "container": "cntr_…"}]``) gets
real-looking objects, and a request naming an unknown or expired container is refused as the API does.

Nothing runs: a container is bookkeeping (``status`` ``running`` until it has been idle for its
``expires_after.minutes``, 20 by default as documented, then ``expired``); its files are bytes kept under
``/mnt/data/<name>``. Pure state, called by :mod:`mockserver.web.containers` under the engine lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .crud import body_object, page
from .errors import InvalidRequest, NotFound
from .files import FileBook
from .ids import IdFactory

__all__ = ["MEMORY_LIMITS", "Container", "ContainerBook", "ContainerFile"]

MEMORY_LIMITS = ("1g", "4g", "16g", "64g")
"""``memory_limit`` values the SDK 3.51.0 accepts; ``1g`` by default."""
DEFAULT_IDLE_MINUTES = 20
"""A container expires after 20 idle minutes unless ``expires_after`` says otherwise (documented)."""


def _id(prefix: str, ids: IdFactory, now: float, tail: int) -> str:
    """The observed layouts: ``cntr_68c2e6f380d881908a57a82d394434ff02f484f5344062e9`` (48 hex) and
    ``cfile_68c2e7084ab48191a67824aa1f4c90f1`` (32 hex): time first, then ``8190``/``8191``."""
    return f"{prefix}_{int(now) & 0xFFFFFFFF:08x}{ids.hex(4)}8191{ids.hex(tail)}"


@dataclass
class ContainerFile:
    """One file inside a container."""

    id: str
    container_id: str
    path: str
    data: bytes
    created_at: int
    source: str = "user"

    def object(self) -> dict[str, Any]:
        """The SDK ``FileCreateResponse`` / ``FileRetrieveResponse`` (``container.file``)."""
        return {
            "id": self.id,
            "object": "container.file",
            "bytes": len(self.data),
            "container_id": self.container_id,
            "created_at": self.created_at,
            "path": self.path,
            "source": self.source,
        }


@dataclass
class Container:
    """One container and its files, by id."""

    id: str
    name: str
    created_at: int
    last_active_at: int
    idle_minutes: int
    memory_limit: str
    network_policy: dict[str, Any] | None = None
    files: dict[str, ContainerFile] = field(default_factory=dict)

    def expired(self, now: float) -> bool:
        """Idle for longer than ``expires_after.minutes``."""
        return now > self.last_active_at + self.idle_minutes * 60

    def object(self, now: float) -> dict[str, Any]:
        """The SDK ``ContainerCreateResponse`` / ``ContainerRetrieveResponse`` object."""
        body: dict[str, Any] = {
            "id": self.id,
            "object": "container",
            "created_at": self.created_at,
            "status": "expired" if self.expired(now) else "running",
            "expires_after": {"anchor": "last_active_at", "minutes": self.idle_minutes},
            "last_active_at": self.last_active_at,
            "memory_limit": self.memory_limit,
            "name": self.name,
        }
        if self.network_policy is not None:
            body["network_policy"] = self.network_policy
        return body


class ContainerBook:
    """The containers of one session, in creation order."""

    def __init__(self) -> None:
        self._containers: dict[str, Container] = {}

    def __contains__(self, container_id: object) -> bool:
        return container_id in self._containers

    def create(self, body: Any, *, ids: IdFactory, now: float, files: FileBook) -> dict[str, Any]:
        """``POST /v1/containers`` (``name``; ``expires_after``, ``file_ids``, ``memory_limit``,
        ``network_policy``; ``skills`` is accepted and ignored)."""
        body = body_object(body)
        name = body.get("name")
        if name is None:
            raise errors.missing_required("name")
        if not isinstance(name, str):
            raise errors.invalid_type("name", "a string", name)
        memory = body.get("memory_limit", "1g")
        if memory not in MEMORY_LIMITS:
            raise errors.invalid_value("memory_limit", memory, MEMORY_LIMITS)
        policy = body.get("network_policy")
        if policy is not None and not isinstance(policy, Mapping):
            raise errors.invalid_type("network_policy", "an object", policy)
        container = Container(
            _id("cntr", ids, now, 32),
            name,
            int(now),
            int(now),
            _idle_minutes(body.get("expires_after")),
            str(memory),
            dict(policy) if policy is not None else None,
        )
        file_ids = body.get("file_ids") or []
        if not isinstance(file_ids, list):
            raise errors.invalid_type("file_ids", "an array", file_ids)
        for index, file_id in enumerate(file_ids):
            self._copy(container, file_id, files, ids, now, param=f"file_ids[{index}]")
        self._containers[container.id] = container
        return container.object(now)

    def get(self, container_id: str) -> Container:
        """The container, or 404 (wording chosen, docs/errors.md)."""
        found = self._containers.get(container_id)
        if found is None:
            raise NotFound(f"Container with id '{container_id}' not found.", type="invalid_request_error")
        return found

    def delete(self, container_id: str) -> dict[str, Any]:
        """``DELETE /v1/containers/{id}``."""
        self.get(container_id)
        del self._containers[container_id]
        return {"id": container_id, "object": "container.deleted", "deleted": True}

    def list(
        self,
        *,
        now: float,
        limit: int = 20,
        order: str = "desc",
        after: str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """``GET /v1/containers`` (``after``, ``limit``, ``order``, ``name``)."""
        found = [c.object(now) for c in self._containers.values() if name is None or c.name == name]
        return page(found, limit=limit, order=order, after=after)

    def adopt(self, container_id: str, *, now: float) -> None:
        """A ``code_interpreter_call`` ran in ``container_id``: with ``container: {"type": "auto"}`` the API
        creates that container, which later requests can name and ``/v1/containers`` can show; keep it
        (name ``auto``, chosen), or mark a known one active."""
        found = self._containers.get(container_id)
        if found is None:
            found = Container(container_id, "auto", int(now), int(now), DEFAULT_IDLE_MINUTES, "1g")
            self._containers[container_id] = found
        found.last_active_at = int(now)

    def use(self, container_id: str, *, now: float, param: str) -> None:
        """A request names the container in a ``code_interpreter`` tool: it must exist and not have expired;
        using it keeps it alive (``last_active_at``).

        Raises:
            InvalidRequest: unknown or deleted (chosen wording), or expired (observed: "Container is
                expired.", code null).
        """
        found = self._containers.get(container_id)
        if found is None:
            raise InvalidRequest(f"Container with id '{container_id}' not found.", param=param)
        if found.expired(now):
            raise InvalidRequest("Container is expired.")
        found.last_active_at = int(now)

    # --- files ---------------------------------------------------------------------------------

    def add_file(
        self,
        container_id: str,
        *,
        filename: str | None,
        data: bytes | None,
        file_id: Any,
        files: FileBook,
        ids: IdFactory,
        now: float,
    ) -> dict[str, Any]:
        """``POST /v1/containers/{id}/files``: a multipart ``file``, or a JSON ``file_id`` (copied from
        Files)."""
        container = self.get(container_id)
        if data is not None:
            added = self._put(container, filename or "upload", data, ids, now)
        elif file_id is not None:
            added = self._copy(container, file_id, files, ids, now, param="file_id")
        else:
            raise errors.missing_required("file")
        return added.object()

    def file(self, container_id: str, file_id: str) -> ContainerFile:
        """A file of the container, or 404 (wording chosen)."""
        found = self.get(container_id).files.get(file_id)
        if found is None:
            raise NotFound(f"Container file with id '{file_id}' not found.", type="invalid_request_error")
        return found

    def list_files(
        self, container_id: str, *, limit: int = 20, order: str = "desc", after: str | None = None
    ) -> dict[str, Any]:
        """``GET /v1/containers/{id}/files``."""
        found = [f.object() for f in self.get(container_id).files.values()]
        return page(found, limit=limit, order=order, after=after)

    def delete_file(self, container_id: str, file_id: str) -> dict[str, Any]:
        """``DELETE /v1/containers/{id}/files/{file_id}``."""
        self.file(container_id, file_id)
        del self.get(container_id).files[file_id]
        return {"id": file_id, "object": "container.file.deleted", "deleted": True}

    @staticmethod
    def _put(container: Container, name: str, data: bytes, ids: IdFactory, now: float) -> ContainerFile:
        added = ContainerFile(_id("cfile", ids, now, 16), container.id, f"/mnt/data/{name}", data, int(now))
        container.files[added.id] = added
        return added

    def _copy(
        self, container: Container, file_id: Any, files: FileBook, ids: IdFactory, now: float, *, param: str
    ) -> ContainerFile:
        if not isinstance(file_id, str):
            raise errors.invalid_type(param, "a string", file_id)
        stored = files.get(file_id)  # 404 for an unknown file
        return self._put(container, stored.filename, stored.data, ids, now)


def _idle_minutes(raw: Any) -> int:
    if raw is None:
        return DEFAULT_IDLE_MINUTES
    if not isinstance(raw, Mapping):
        raise errors.invalid_type("expires_after", "an object", raw)
    if raw.get("anchor") != "last_active_at":
        raise errors.invalid_value("expires_after.anchor", raw.get("anchor"), ("last_active_at",))
    minutes = raw.get("minutes")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
        raise errors.invalid_type("expires_after.minutes", "a positive integer", minutes)
    return minutes
