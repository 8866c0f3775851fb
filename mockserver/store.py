"""Where responses live: a store interface keyed by session (DECISIONS 2) and the memory backend.

A :class:`StoredResponse` keeps what the API can later serve: the ``Response`` object, this request's
input items (for ``GET /input_items``), the parent id (so a ``previous_response_id`` chain is rebuilt
by walking parents instead of copying history into every record) and, for background streams, the
event log. Backends (memory, :mod:`.sqlite_store`, :mod:`.redis_store`) implement :class:`Store`;
:func:`open_store` picks one from ``--store``. ``--max-stored-responses`` bounds each session: the
oldest finished response goes first (running background jobs are never evicted, so they end instead of
vanishing).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from .errors import ServerFault

__all__ = [
    "RESTART_MESSAGE",
    "RUNNING_STATUSES",
    "MemoryStore",
    "Store",
    "StoreUnavailable",
    "StoredResponse",
    "fail_lost_job",
    "open_store",
    "record_from_json",
    "record_to_json",
]

RUNNING_STATUSES = ("queued", "in_progress")
"""Statuses of a background job still running: such records are never evicted."""


class StoreUnavailable(ServerFault):
    """503 ``server_error``: the store's backend (Redis) cannot be reached; the request may be retried.

    A backend outage is a server error, not a bug of ours (500) nor the client's (4xx); the wording and
    the code ``store_unavailable`` are chosen (docs/errors.md).

    Args:
        where: The backend without credentials (``redis://127.0.0.1:6379/0``).
        cause: What the client library reported.
    """

    status = 503

    def __init__(self, where: str, cause: BaseException) -> None:
        super().__init__(
            f"The response store is unavailable ({where}: {cause}). Please retry your request.",
            code="store_unavailable",
            headers={"retry-after": "1"},
        )
        self.where = where
        self.reason = " ".join(str(cause).split())
        """The client library's message on one line."""


@dataclass(slots=True)
class StoredResponse:
    """A response as the store keeps it."""

    response: dict[str, Any]
    """The ``Response`` object as last served (status changes in place for background jobs)."""
    input_items: list[dict[str, Any]]
    """This request's input items, normalised and with ids (``GET /input_items``)."""
    parent_id: str | None = None
    """``previous_response_id`` of the request; the chain is walked through it."""
    stored: bool = True
    """``store`` of the request: ``False`` responses are neither retrievable nor chainable over HTTP."""
    events: list[dict[str, Any]] | None = None
    """Event log kept for background responses created with ``stream=true`` (resume, SPEC §2.2)."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Engine bookkeeping (token counts, request flags) that is never served."""

    @property
    def id(self) -> str:
        """The response id."""
        return str(self.response["id"])


# --- shared by the persistent stores (SQLite, Redis) -------------------------------------------------

RESTART_MESSAGE = "The server restarted before this background response finished."
"""``error.message`` of a background response whose job was lost with its process (chosen)."""


def fail_lost_job(record: StoredResponse) -> None:
    """End the record of a background job that was lost with its process: ``failed`` with
    :data:`RESTART_MESSAGE`, and a ``response.failed`` event so resumed streams see the end too."""
    failed = {
        **record.response,
        "status": "failed",
        "error": {"code": "server_error", "message": RESTART_MESSAGE},
    }
    record.response = failed
    if record.events is not None:
        record.events.append(
            {"type": "response.failed", "sequence_number": len(record.events), "response": failed}
        )


def record_to_json(record: StoredResponse) -> bytes:
    """Serialise a record with orjson (every field is plain JSON)."""
    return orjson.dumps(
        {
            "response": record.response,
            "input_items": record.input_items,
            "parent_id": record.parent_id,
            "stored": record.stored,
            "events": record.events,
            "meta": record.meta,
        }
    )


def record_from_json(raw: bytes | str) -> StoredResponse:
    """The record :func:`record_to_json` wrote."""
    data = orjson.loads(raw)
    return StoredResponse(
        response=data["response"],
        input_items=data["input_items"],
        parent_id=data.get("parent_id"),
        stored=data.get("stored", True),
        events=data.get("events"),
        meta=data.get("meta") or {},
    )


class Store(Protocol):
    """Storage backend for responses, partitioned by session."""

    def put(self, session: str, record: StoredResponse) -> None:
        """Insert or replace a response."""

    def get(self, session: str, response_id: str) -> StoredResponse | None:
        """The response, or ``None``."""

    def delete(self, session: str, response_id: str) -> bool:
        """Remove a response; ``True`` when it existed."""

    def clear(self, session: str | None = None) -> None:
        """Forget one session, or every session."""

    def count(self, session: str | None = None) -> int:
        """How many responses one session (or all) holds."""

    lost: list[tuple[str, dict[str, Any]]]
    """(session, response) of background jobs the store ended ``failed`` because their process was lost
    (:func:`fail_lost_job`), not yet reported: the engine takes them at start for their webhooks."""
    on_lost: Callable[[str, dict[str, Any]], None] | None
    """Set by the engine once it has taken :attr:`lost`: later lost jobs are reported through it."""
    sweep_every: float | None
    """Seconds between two :meth:`sweep` calls the server makes; ``None``: the store needs none."""

    def sweep(self) -> int:
        """End the jobs of processes that are gone (reported through :attr:`on_lost`); how many ended."""


class MemoryStore:
    """The default backend: dictionaries in process memory.

    Args:
        max_per_session: Keep at most this many responses per session, evicting the oldest finished one
            first (insertion order; a put of an existing id keeps its place); ``None``: unbounded.
    """

    def __init__(self, *, max_per_session: int | None = None) -> None:
        self._sessions: dict[str, dict[str, StoredResponse]] = {}
        self.lost: list[tuple[str, dict[str, Any]]] = []  # jobs die only with this process: never filled
        self.on_lost: Callable[[str, dict[str, Any]], None] | None = None
        self.sweep_every: float | None = None
        self.max_per_session = max_per_session

    def sweep(self) -> int:
        """Nothing to do: jobs live and die with this process."""
        return 0

    def put(self, session: str, record: StoredResponse) -> None:
        responses = self._sessions.setdefault(session, {})
        responses[record.id] = record
        if self.max_per_session is not None and len(responses) > self.max_per_session:
            excess = len(responses) - self.max_per_session
            finished = (
                rid for rid, r in responses.items() if r.response.get("status") not in RUNNING_STATUSES
            )
            doomed = list(itertools.islice(finished, excess))
            for rid in doomed:
                del responses[rid]

    def get(self, session: str, response_id: str) -> StoredResponse | None:
        responses = self._sessions.get(session)
        return None if responses is None else responses.get(response_id)

    def delete(self, session: str, response_id: str) -> bool:
        responses = self._sessions.get(session)
        return responses is not None and responses.pop(response_id, None) is not None

    def clear(self, session: str | None = None) -> None:
        if session is None:
            self._sessions.clear()
        else:
            self._sessions.pop(session, None)

    def count(self, session: str | None = None) -> int:
        if session is not None:
            return len(self._sessions.get(session, ()))
        return sum(len(r) for r in self._sessions.values())


def open_store(spec: str = "memory", *, max_per_session: int | None = None) -> Store:
    """The backend ``--store`` names: ``memory``, ``sqlite:PATH`` or ``redis://HOST:PORT/DB``.

    Raises:
        ValueError: an unknown scheme or an empty path.
        StoreUnavailable: Redis cannot be reached.
    """
    if spec == "memory":
        return MemoryStore(max_per_session=max_per_session)
    if spec.startswith("sqlite:") and spec[len("sqlite:") :]:
        from .sqlite_store import SqliteStore  # imported only when asked for

        return SqliteStore(spec[len("sqlite:") :], max_per_session=max_per_session)
    if spec.startswith(("redis://", "rediss://")):
        try:
            from .redis_store import RedisStore  # needs the optional ``redis`` extra
        except ModuleNotFoundError as exc:
            if exc.name != "redis":
                raise
            message = "--store redis://... needs the redis client: pip install 'resplay[redis]'"
            raise ValueError(message) from exc
        return RedisStore(spec, max_per_session=max_per_session)
    raise ValueError(f"unknown store {spec!r}: use 'memory', 'sqlite:PATH' or 'redis://HOST:PORT/DB'")
