"""Strict replay of one recorded WebSocket connection, with no I/O (the proxy pumps it).

The rules (issue 7):

* **Lanes.** A client frame belongs to the lane named by its ``stream_id`` (none: the default lane,
  DECISIONS 9). It is checked against the next recorded client frame *of that lane*, so concurrent
  lanes may interleave differently from the recording.
* **Matching** is the HTTP matcher's (:mod:`pytest_plugin.matchers`): semantic JSON, ``ignore`` paths,
  timestamps, and server ids bound symbolically. Ids in the server frames replayed so far are bound to
  themselves, so a ``previous_response_id`` or ``call_id`` chain over ``store=false`` replays exactly.
  The bindings are the cassette's, shared with its HTTP interactions.
* **Release order.** A recorded server frame is released once every client frame recorded before it has
  been received; frames go out in recorded order. Frames recorded before any client frame go out at once.
* **Close.** When every frame is consumed and the server closed the recording, the replay closes with
  the recorded code and reason (1011/1012/1013 make the SDK reconnect, 1000 ends: SPEC §6.6).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from ..matchers import Bindings, Normalised, compare, find_symbols, normalise
from .session import WsMessage, WsSession

__all__ = ["ReplayMismatch", "SessionReplay"]


class ReplayMismatch(Exception):
    """A client frame the recording does not expect (the message says where and why)."""


def _lane_name(lane: str | None) -> str:
    return "the default lane" if lane is None else f"lane {lane!r}"


class SessionReplay:
    """The replay state of one connection.

    Args:
        session: The recorded connection.
        bindings: Symbol bindings (the cassette's, shared with HTTP matching).
        ignore: JSON paths left out of matching (the cassette's ``ignore`` option).
        redact: The cassette's redaction, applied to live frames before comparing.
        label: How messages name this session (``"cassettes/x.yaml, websocket #0"``).
    """

    def __init__(
        self,
        session: WsSession,
        bindings: Bindings,
        *,
        ignore: Sequence[str] = (),
        redact: Callable[[str], str] | None = None,
        label: str = "websocket",
    ) -> None:
        self.session = session
        self.bindings = bindings
        self.ignore = tuple(ignore)
        self.redact = redact
        self.label = label
        self._next = 0
        """Index of the first message not yet released (server) or received (client)."""
        self._received: set[int] = set()
        self._lanes: dict[str | None, deque[int]] = {}
        for index, message in enumerate(session.messages):
            if message.from_client:
                self._lanes.setdefault(message.stream_id, deque()).append(index)
        self.frames_received = 0

    # --- the pump's interface ----------------------------------------------------------------------

    def start(self) -> list[WsMessage]:
        """Server frames recorded before the first client frame."""
        return self._release()

    def receive(self, data: str | bytes) -> list[WsMessage]:
        """Check a live client frame; returns the server frames it releases.

        Raises:
            ReplayMismatch: the frame is not the next recorded one of its lane.
        """
        self.frames_received += 1
        live = WsMessage(True, data)
        lane = live.stream_id
        queue = self._lanes.get(lane)
        if not queue:
            raise ReplayMismatch(
                self._headline(live, lane) + f"\n{self.label}: no recorded client frame is left on "
                f"{_lane_name(lane)} ({self.remaining_client_frames()} left on other lanes)."
            )
        index = queue[0]
        recorded = self.session.messages[index]
        diffs, pending = compare(self._normalise(recorded.data), self._normalise(data), self.bindings)
        if diffs:
            raise ReplayMismatch(
                self._headline(live, lane)
                + f"\n{self.label}: recorded client frame #{index} of {_lane_name(lane)} differs:\n"
                + "\n".join("  " + d.replace("body", "frame", 1) for d in diffs)
            )
        queue.popleft()
        self.bindings.commit(pending)
        self._received.add(index)
        return self._release()

    @property
    def done(self) -> bool:
        """Every recorded frame was received or released."""
        return self._next >= len(self.session.messages)

    @property
    def server_close(self) -> tuple[int, str] | None:
        """The close to send now: the recorded one, once done, if the server closed the recording."""
        if self.done and self.session.closed_by == "server" and self.session.close_code is not None:
            return self.session.close_code, self.session.close_reason
        return None

    def remaining_client_frames(self) -> int:
        """Recorded client frames not received yet."""
        return sum(len(queue) for queue in self._lanes.values())

    # --- internals ---------------------------------------------------------------------------------

    def _release(self) -> list[WsMessage]:
        out: list[WsMessage] = []
        messages = self.session.messages
        while self._next < len(messages):
            message = messages[self._next]
            if message.from_client:
                if self._next not in self._received:
                    break
            else:
                out.append(message)
                # Ids the client now knows stand for themselves (matchers.Bindings).
                self.bindings.commit({s: s for s in find_symbols(message.parsed)})
            self._next += 1
        return out

    def _normalise(self, data: str | bytes) -> Normalised:
        return normalise("WS", "/", data, ignore=self.ignore, redact=self.redact)

    def _headline(self, live: WsMessage, lane: str | None) -> str:
        text = live.data if isinstance(live.data, str) else repr(live.data)
        if self.redact is not None:
            text = self.redact(text)
        parsed = live.parsed
        kind = parsed.get("type") if isinstance(parsed, dict) else None
        what = f"{kind} frame" if isinstance(kind, str) else "frame"
        shown = text if len(text) <= 300 else text[:300] + "…"
        headline = f"resplay: WebSocket {what} on {_lane_name(lane)} does not match the recording"
        return f"{headline}\n  frame: {shown}"
