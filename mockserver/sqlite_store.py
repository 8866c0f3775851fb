"""The SQLite store backend (``--store sqlite:PATH``): responses that survive a killed server.

Every :meth:`SqliteStore.put` is one autocommitted upsert in WAL mode, so a record is on disk once the
call returns; a process killed with SIGKILL loses nothing it had answered (``synchronous=NORMAL`` in WAL
only risks the last transactions on an *OS* crash or power loss, not on a process kill).

Records are also kept in process memory, keyed like :class:`~mockserver.store.MemoryStore`: the engine
and background jobs hold live :class:`StoredResponse` objects and compare them by identity, and reads
never pay for a query. The file is read only for records this process has not seen (after a restart).

On open, background responses the file still shows ``queued`` or ``in_progress`` had their job die with
the previous process: they end ``failed`` with a ``server_error`` (chosen wording, docs/errors.md), and a
stream log gets the matching ``response.failed`` event, so pollers and resumed streams see an end instead
of a response that vanished or never finishes (issue 12).

One process per file: two servers sharing a file would each trust their own memory. A seeded server
(``--seed``) reopening a file draws a new id sequence per boot (:attr:`SqliteStore.generation`), so
ids stay reproducible for a fresh file and never overwrite an earlier boot's records.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .store import (  # the record codec and lost-job ending are shared with the Redis store
    RESTART_MESSAGE,
    RUNNING_STATUSES,
    StoredResponse,
    fail_lost_job,
    record_from_json,
    record_to_json,
)

__all__ = ["RESTART_MESSAGE", "SqliteStore", "fail_lost_job", "record_from_json", "record_to_json"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    id TEXT NOT NULL,
    status TEXT,
    record BLOB NOT NULL,
    UNIQUE (session, id)
)
"""


class SqliteStore:
    """Responses in one SQLite file (WAL), partitioned by session like every :class:`~mockserver.store.Store`.

    Args:
        path: The database file; created (with its parent directory) when missing.
        max_per_session: Keep at most this many responses per session, evicting the oldest finished
            one first (see :class:`~mockserver.store.MemoryStore`); ``None``: unbounded.
    """

    def __init__(self, path: str | Path, *, max_per_session: int | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_per_session = max_per_session
        # The engine lock serialises callers, but they come from several threads (loop, test thread).
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._db.execute("CREATE TABLE IF NOT EXISTS boots (n INTEGER PRIMARY KEY AUTOINCREMENT)")
        self.generation: int = (
            self._db.execute("INSERT INTO boots DEFAULT VALUES RETURNING n").fetchone()[0] - 1
        )
        """How many times this file was opened before: a seeded engine starts a new id sequence per boot."""
        self._live: dict[tuple[str, str], StoredResponse] = {}
        self.lost: list[tuple[str, dict[str, Any]]] = []
        """(session, response) of each job this store ended ``failed`` because its process was lost; the
        engine takes them (their ``response.failed`` webhooks) and then listens on :attr:`on_lost`."""
        self.on_lost: Callable[[str, dict[str, Any]], None] | None = None
        self.sweep_every: float | None = None
        """One process owns the file, so its lost jobs are found when it reopens, not by sweeping."""
        self.recovered = self._fail_orphaned_jobs()
        """How many running background responses the previous process left behind (now ``failed``)."""

    # --- Store protocol ------------------------------------------------------------------------------

    def put(self, session: str, record: StoredResponse) -> None:
        status = record.response.get("status")
        with self._lock:
            self._db.execute(
                "INSERT INTO responses (session, id, status, record) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (session, id) DO UPDATE SET status = excluded.status, record = excluded.record",
                (session, record.id, status, record_to_json(record)),
            )
            self._live[(session, record.id)] = record
            if self.max_per_session is not None:
                self._evict(session)

    def get(self, session: str, response_id: str) -> StoredResponse | None:
        key = (session, response_id)
        with self._lock:
            record = self._live.get(key)
            if record is not None:
                return record
            row = self._db.execute(
                "SELECT record FROM responses WHERE session = ? AND id = ?", key
            ).fetchone()
            if row is None:
                return None
            record = self._live[key] = record_from_json(row[0])
            return record

    def delete(self, session: str, response_id: str) -> bool:
        with self._lock:
            self._live.pop((session, response_id), None)
            cursor = self._db.execute(
                "DELETE FROM responses WHERE session = ? AND id = ?", (session, response_id)
            )
            return cursor.rowcount > 0

    def clear(self, session: str | None = None) -> None:
        with self._lock:
            if session is None:
                self._live.clear()
                self._db.execute("DELETE FROM responses")
            else:
                self._live = {k: v for k, v in self._live.items() if k[0] != session}
                self._db.execute("DELETE FROM responses WHERE session = ?", (session,))

    def count(self, session: str | None = None) -> int:
        with self._lock:
            if session is None:
                row = self._db.execute("SELECT COUNT(*) FROM responses").fetchone()
            else:
                row = self._db.execute(
                    "SELECT COUNT(*) FROM responses WHERE session = ?", (session,)
                ).fetchone()
            return int(row[0])

    def sweep(self) -> int:
        """Nothing to do: a lost process's jobs are ended when the file is reopened."""
        return 0

    def close(self) -> None:
        """Close the database connection (records already put stay on disk)."""
        with self._lock:
            self._db.close()

    # --- internals -----------------------------------------------------------------------------------

    def _evict(self, session: str) -> None:
        """Oldest first, skipping running background jobs (they must end, not vanish; issue 12)."""
        assert self.max_per_session is not None
        excess = self._db.execute("SELECT COUNT(*) FROM responses WHERE session = ?", (session,)).fetchone()[
            0
        ]
        excess -= self.max_per_session
        if excess <= 0:
            return
        rows = self._db.execute(
            "SELECT seq, id FROM responses WHERE session = ? AND (status IS NULL OR status NOT IN (?, ?)) "
            "ORDER BY seq LIMIT ?",
            (session, *RUNNING_STATUSES, excess),
        ).fetchall()
        for seq, response_id in rows:
            self._db.execute("DELETE FROM responses WHERE seq = ?", (seq,))
            self._live.pop((session, response_id), None)

    def _fail_orphaned_jobs(self) -> int:
        rows = self._db.execute(
            "SELECT seq, session, record FROM responses WHERE status IN (?, ?)", RUNNING_STATUSES
        ).fetchall()
        for seq, session, raw in rows:
            record = record_from_json(raw)
            fail_lost_job(record)
            self._db.execute(
                "UPDATE responses SET status = ?, record = ? WHERE seq = ?",
                ("failed", record_to_json(record), seq),
            )
            self.lost.append((session, record.response))
        return len(rows)
