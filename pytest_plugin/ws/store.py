"""The WebSocket half of a cassette: which sessions replay, which are recorded, and the teardown check.

The sessions live in the cassette's serializer (:attr:`ResplaySerializer.websockets`), so they are
loaded, migrated, redacted and written atomically together with the HTTP interactions, in one file.
Connections are served by the proxy thread; a lock keeps the bookkeeping consistent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..errors import UnusedInteractions
from .replayer import SessionReplay
from .session import WsSession

if TYPE_CHECKING:
    from ..http import ResplayCassette

__all__ = ["WsCassette"]


class WsCassette:
    """WebSocket sessions of one cassette: replay them in order, record new ones.

    Which connections replay follows the cassette's record mode (pytest-recording's values):
    ``none`` replays only (fail closed); ``once`` replays an existing file and records a new one;
    ``new_episodes`` replays while recorded sessions are left, then records; ``all`` and ``rewrite``
    record every connection (``all`` replaces the old sessions one for one, ``rewrite`` starts empty).

    Args:
        cassette: The HTTP cassette this belongs to (its options, redactor, bindings, mismatches).
        on_change: Called after a session is recorded (the CLI proxy saves the file then).
    """

    def __init__(self, cassette: ResplayCassette, on_change: Callable[[], None] | None = None) -> None:
        self.cassette = cassette
        self.on_change = on_change
        self.loaded: list[WsSession] = list(cassette._serializer.websockets)
        self.recorded: list[WsSession] = []
        self.replays: dict[int, SessionReplay] = {}
        """Loaded session index -> its replay, for every session a connection took."""
        self.lock = threading.Lock()

    @property
    def path(self) -> str:
        """The cassette file (for messages)."""
        return str(self.cassette._path)

    def records(self) -> bool:
        """Whether the next connection is recorded (else it replays)."""
        mode = self.cassette.options.record_mode
        if mode == "none":
            return False
        if mode == "once":
            return not self.cassette.rewound
        if mode == "new_episodes":
            return self._next_index(None) is None
        return True

    def _next_index(self, path: str | None) -> int | None:
        for index, session in enumerate(self.loaded):
            if index in self.replays:
                continue
            if path is None or urlsplit(session.uri).path.rstrip("/") == path.rstrip("/"):
                return index
        return None

    def take(self, path: str) -> SessionReplay | None:
        """The replay of the next unplayed session recorded on ``path`` (``None``: nothing left)."""
        with self.lock:
            index = self._next_index(path)
            if index is None:
                return None
            replay = SessionReplay(
                self.loaded[index],
                self.cassette.bindings,
                ignore=self.cassette.options.ignore,
                redact=self.cassette.redactor.text,
                label=f"{self.path}, websocket #{index}",
            )
            self.replays[index] = replay
            return replay

    def add(self, session: WsSession) -> None:
        """Keep a recorded session (the file is written when the cassette saves)."""
        with self.lock:
            self.recorded.append(session)
            if self.cassette.options.record_mode == "all":
                # Re-recorded connections replace the old ones in order; the rest stay.
                kept = self.recorded + self.loaded[len(self.recorded) :]
            else:
                kept = self.loaded + self.recorded
            self.cassette._serializer.websockets = kept
            self.cassette.dirty = True
        if self.on_change is not None:
            self.on_change()

    def fail(self, message: str) -> None:
        """Keep a fail-closed message: :meth:`ResplayCassette.verify` raises it at teardown."""
        with self.lock:
            self.cassette.mismatches.append(message)

    def no_session_message(self, uri: str) -> str:
        """Why a connection found nothing to replay."""
        mode = self.cassette.options.record_mode
        left = len(self.loaded) - len(self.replays)
        if not self.cassette.rewound:
            where = f"Cassette {self.path} does not exist (record_mode {mode!r} does not record)."
        else:
            where = (
                f"Cassette {self.path}: {len(self.loaded)} websocket session(s), "
                f"{left} unplayed (none on this path); record_mode {mode!r}."
            )
        return (
            f"resplay: no recorded WebSocket session answers {uri}\n{where}\n"
            "To record it: --record-mode=once (new cassette), new_episodes (add to it) "
            "or rewrite (start over)."
        )

    def unused(self) -> list[str]:
        """Loaded sessions never replayed, or replayed only in part."""
        out = []
        for index, session in enumerate(self.loaded):
            replay = self.replays.get(index)
            if replay is None:
                out.append(f"  websocket #{index}: {session.uri} (never connected)")
            elif replay.remaining_client_frames():
                out.append(
                    f"  websocket #{index}: {session.uri} "
                    f"({replay.remaining_client_frames()} recorded client frame(s) never sent)"
                )
        return out

    def verify(self) -> None:
        """In a pure replay, fail when recorded sessions went unplayed (unless ``allow_unused``).

        Raises:
            UnusedInteractions: sessions or client frames of the recording were never replayed.
        """
        options = self.cassette.options
        replaying = self.cassette.rewound and options.record_mode in ("none", "once")
        unused = self.unused()
        if replaying and unused and not options.allow_unused:
            raise UnusedInteractions(
                f"resplay: {len(unused)} recorded WebSocket session(s) of {self.path} were not replayed "
                "in full:\n" + "\n".join(unused[:10]) + "\n"
                "Re-record with --record-mode=rewrite, or pass allow_unused=True to the resplay marker."
            )
