"""WebSocket mode (SPEC §6): one connection's lanes, queues, cache, age cap and steering, with no I/O.

The adapter (:mod:`mockserver.web.ws`) is a pump around one :class:`WsConnection`::

    text / binary frame ──► receive_text() / receive_binary()
                              parse, dispatch on ``type``
                              response.create ─► lane (stream_id) ─► FIFO backlog (≤16 in flight)
                                                   └─► Engine.create(event, websocket=True,
                                                                     parent_lookup=connection cache)
                              response.steer  ─► accepted / pending / failed (SPEC §6.7)
    next_frame() ──► server event dicts, one at a time, lanes served round-robin; then Close

Foreground responses are computed whole inside :meth:`Engine.create`; a response is *in flight* from
its start until its terminal event has been handed to the adapter. That is what the lane rules count:
a ``response.create`` received while its lane has a response in flight waits behind it (DECISIONS 9), or
is refused under ``--ws-busy reject``. Every call must be made under ``Engine.lock``; the 60-minute cap
is a timer on the session clock, so ``POST /_resplay/clock/advance`` reaches it (SPEC §6.6).
"""

from __future__ import annotations

import logging
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from . import errors, validation
from .engine import Engine, Run, is_warmup
from .errors import APIError, InvalidRequest, PayloadTooLarge, ServerFault
from .events import TERMINAL_EVENTS
from .store import StoredResponse

__all__ = [
    "MAX_IN_FLIGHT",
    "MAX_NAMED_LANES",
    "MAX_PENDING_STEERS",
    "Close",
    "Outgoing",
    "WsConnection",
]

MAX_IN_FLIGHT = 16
"""Responses in flight per connection, across lanes; extra creates wait (SPEC §6.4)."""
MAX_NAMED_LANES = 32
"""Distinct ``stream_id`` values per connection; the default lane is not counted (SPEC §6.4)."""
MAX_PENDING_STEERS = 8
"""Accepted steers one response may hold before ``too_many_pending_steers`` (chosen, SPEC §16)."""

_FINISHED_KEPT = 4096
"""Finished responses remembered for steer answers (``response_already_completed``)."""
_logger = logging.getLogger("resplay")
_STREAM_ID = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_CLIENT_EVENTS = ("response.create", "response.steer")
_STEER_KEYS = frozenset({"type", "previous_response_id", "input"})
_STEER_PARTS = frozenset({"input_text", "input_image", "input_file"})


@dataclass(frozen=True, slots=True)
class Close:
    """The server closes the connection after the frames before it."""

    code: int
    """WebSocket close code (1000 at the age cap, SPEC §6.6)."""
    reason: str
    """Close reason (at most 123 bytes)."""


Outgoing = dict[str, Any] | Close
"""What :meth:`WsConnection.next_frame` hands to the adapter: a JSON-ready event or a close."""


@dataclass(eq=False, slots=True)
class _Steer:
    id: str
    target: str
    input: Any


@dataclass(eq=False, slots=True)
class _Active:
    """The response a lane is streaming."""

    run: Run
    event: dict[str, Any]
    """The ``response.create`` it came from (an automatic successor inherits its settings)."""
    cached: StoredResponse
    """What the connection-local cache keeps once the response is done (history flattened in)."""
    warmup: bool
    """``generate: false``: ``response.in_progress`` is skipped (created -> completed)."""
    sent: int = 0
    """How many of ``run.events`` were handed out (a paced run releases them over time)."""
    seq: int = 0
    """Next ``sequence_number`` of this response's stream (steer events take numbers too)."""
    steers: list[_Steer] = field(default_factory=list)
    unsubscribe: Callable[[], None] | None = None

    def has_frames(self) -> bool:
        return self.sent < len(self.run.events)


@dataclass(eq=False, slots=True)
class _Lane:
    stream_id: str | None
    out: deque[Outgoing] = field(default_factory=deque)
    """Frames that are not part of a running stream: errors, steer events, the final close."""
    active: _Active | None = None
    latest: StoredResponse | None = None
    """Connection-local cache: the lane's most recent response (SPEC §6.5)."""
    pending_steers: dict[str, list[_Steer]] = field(default_factory=dict)
    """Steers waiting for the client's tool output, keyed by the response they steer."""
    ready: bool = False
    """Whether the lane is in the send rotation."""

    def has_output(self) -> bool:
        return bool(self.out) or (self.active is not None and self.active.has_frames())


@dataclass(eq=False, slots=True)
class _Create:
    lane: _Lane
    event: dict[str, Any]
    entry: dict[str, Any] | None
    steers: list[_Steer] = field(default_factory=list)
    """Steer input this create carries (automatic successor or a create after ``steer.pending``)."""


class WsConnection:
    """The state machine of one WebSocket-mode connection.

    Args:
        engine: The engine; its config gives ``ws_max_age``, ``ws_busy`` and the frame size limit
            (``max_body_bytes``, as for HTTP bodies).
        session: Session name (``x-resplay-session`` of the upgrade request).
        journal: ``path``, ``query`` and (redacted) ``headers`` for the journal entries of this
            connection's client events.
        on_wake: Called when a clock timer (the age cap) produced output while the adapter may be
            idle; it may run on another thread, still under ``Engine.lock``.

    Example:
        >>> conn = WsConnection(engine)
        >>> conn.receive_text('{"type": "response.create", "model": "gpt-5.5", "input": "hi"}')
        >>> frames = conn.drain()  # response.created ... response.completed
    """

    def __init__(
        self,
        engine: Engine,
        session: str | None = None,
        *,
        journal: Mapping[str, Any] | None = None,
        on_wake: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        state = engine.session(session)
        self._session = state.name
        self._clock = state.clock
        self._ids = state.ids
        self._journal = dict(journal or {"path": "/v1/responses", "query": {}, "headers": {}})
        self.on_wake = on_wake
        config = engine.config
        self._max_age = float(config.ws_max_age)
        self._reject_busy = config.ws_busy == "reject"
        self._max_frame = int(config.max_body_bytes)
        self._opened = self._clock.now()
        self._cap_passed = False
        self._cap_timer = self._clock.call_at(self._opened + self._max_age, self._on_cap)
        self._default = _Lane(None)
        self._control = _Lane(None)
        self._named: dict[str, _Lane] = {}
        self._backlog: deque[_Create] = deque()
        self._ready: deque[_Lane] = deque()
        self._finished: dict[str, tuple[_Lane, str, int]] = {}
        """Responses this connection completed: id -> (lane, model, next sequence number)."""
        self._closing = False
        self.closed = False
        """``True`` once the close was handed out or :meth:`close` was called."""

    # --- adapter interface ----------------------------------------------------------------------

    def receive_text(self, text: str) -> None:
        """Handle one client text frame (a JSON client event)."""
        if self._closing:
            return
        entry = self._record(None)
        if len(text) > self._max_frame // 4 and len(text.encode("utf-8", "surrogatepass")) > self._max_frame:
            self._reject(self._control, entry, _frame_too_large(self._max_frame))
            return
        try:
            event = orjson.loads(text)
        except orjson.JSONDecodeError:
            self._reject(self._control, entry, _invalid_json())
            return
        if not isinstance(event, dict):
            self._reject(self._control, entry, errors.invalid_body(event))
            return
        entry["body"] = event
        kind = event.get("type")
        try:
            if kind == "response.create":
                self._on_create(event, entry)
            elif kind == "response.steer":
                self._on_steer(event, entry)
        except Exception:
            self._reject(self._control, entry, _our_fault(str(kind)))
            return
        if kind in _CLIENT_EVENTS:
            return
        if "type" not in event or kind is None:
            self._reject(self._control, entry, errors.missing_required("type"))
        elif not isinstance(kind, str):
            self._reject(self._control, entry, errors.invalid_type("type", "a string", kind))
        else:
            self._reject(self._control, entry, errors.invalid_value("type", kind, _CLIENT_EVENTS))

    def receive_binary(self, data: bytes) -> None:
        """Handle one client binary frame: refused with an error event, the connection stays usable."""
        if self._closing:
            return
        entry = self._record(None)
        if len(data) > self._max_frame:
            self._reject(self._control, entry, _frame_too_large(self._max_frame))
        else:
            self._reject(self._control, entry, _binary_frame())

    def next_frame(self) -> Outgoing | None:
        """The next frame to send, or ``None`` when there is nothing to send now.

        Lanes with output take turns, one frame each, so the events of concurrent lanes interleave.
        Handing out a response's terminal event ends its flight: the lane's next create starts.
        """
        while self._ready and not self.closed:
            lane = self._ready.popleft()
            lane.ready = False
            item = self._take(lane)
            if lane.has_output():
                self._mark_ready(lane)
            if item is not None:
                return item
        return None

    def drain(self) -> list[Outgoing]:
        """Every frame available now (for tests and in-process drivers)."""
        frames: list[Outgoing] = []
        while (item := self.next_frame()) is not None:
            frames.append(item)
        return frames

    def close(self) -> None:
        """The connection ended (either side): cancel the cap timer and drop every queue and cache."""
        self._cap_timer.cancel()
        self._closing = True
        self.closed = True
        self._backlog.clear()
        self._ready.clear()
        for lane in self._lanes():
            lane.out.clear()
            if lane.active is not None and lane.active.unsubscribe is not None:
                lane.active.unsubscribe()
            lane.active = None
            lane.latest = None
            lane.pending_steers.clear()

    @property
    def in_flight(self) -> int:
        """Responses started and not yet finished (their terminal event not handed out)."""
        return sum(1 for lane in self._lanes() if lane.active is not None)

    @property
    def queued(self) -> int:
        """Creates accepted and waiting for their lane or for a free slot."""
        return len(self._backlog)

    @property
    def age(self) -> float:
        """Seconds since the connection opened, on the session clock."""
        return self._clock.now() - self._opened

    # --- response.create ------------------------------------------------------------------------

    def _on_create(self, event: dict[str, Any], entry: dict[str, Any]) -> None:
        stream_id = event.get("stream_id")
        if stream_id is not None and (not isinstance(stream_id, str) or not _STREAM_ID.fullmatch(stream_id)):
            # SPEC §6.4: documented without a top-level stream_id.
            self._reject(self._control, entry, errors.invalid_stream_id())
            return
        if self._expired():
            self._expire(entry)
            return
        lane = self._named.get(stream_id) if stream_id is not None else self._default
        if stream_id is not None and lane is None and len(self._named) >= MAX_NAMED_LANES:
            self._reject(self._control, entry, _stream_limit(), stream_id=stream_id)
            return
        target = lane if lane is not None else _Lane(stream_id)
        try:
            validation.validate_create(event, websocket=True)
        except APIError as exc:
            self._reject(target, entry, exc)
            return
        if lane is None:
            lane = self._named[str(stream_id)] = target
        if self._reject_busy and self._busy(lane):
            self._reject(lane, entry, _lane_busy(stream_id))
            return
        if self._busy(lane):
            # The create waits for its lane (SPEC §6.4); the checklist auditor reads it (issue 13).
            entry["queued"] = True
        self._backlog.append(_Create(lane, event, entry))
        self._schedule()

    def _schedule(self) -> None:
        """Start every backlog entry whose lane is idle, oldest first, while slots are free."""
        if self._expired():
            if self.in_flight == 0:
                self._expire()
            return
        blocked: set[int] = set()
        index = 0
        while index < len(self._backlog):
            create = self._backlog[index]
            lane_key = id(create.lane)
            if lane_key in blocked or create.lane.active is not None or self.in_flight >= MAX_IN_FLIGHT:
                blocked.add(lane_key)  # FIFO per lane: nothing behind a waiting create may pass it
                index += 1
                continue
            del self._backlog[index]
            self._start(create)
            if create.lane.active is not None:
                blocked.add(lane_key)

    def _start(self, create: _Create) -> None:
        lane, event = create.lane, create.event
        previous = event.get("previous_response_id")
        pending = lane.pending_steers.pop(previous, None) if isinstance(previous, str) else None
        if pending:
            # SPEC §6.7: queued steer input is prepended, in submission order, to the explicit create.
            create.steers.extend(pending)
            event = {**event, "input": _steer_items(pending) + _as_items(event.get("input"))}
        try:
            try:
                run = self._engine.create(
                    event,
                    session=self._session,
                    websocket=True,
                    parent_lookup=self._parent_lookup(event),
                    headers=self._journal.get("headers"),  # the handshake's, for rule matchers (.rules)
                )
            except APIError:
                raise
            except Exception as bug:
                raise _our_fault("response.create") from bug
        except APIError as exc:
            if isinstance(previous, str) and lane.latest is not None and lane.latest.id == previous:
                # SPEC §6.5: a failed same-lane continuation evicts its parent (cross-lane forks keep it).
                lane.latest = None
            self._reject(lane, create.entry, exc)
            for steer in create.steers:
                self._steer_failed(lane, steer, "successor_creation_failed", _successor_failed(steer, exc))
            return
        active = lane.active = _Active(run, event, self._cache_record(run), is_warmup(event))
        if not run.done:
            # A run that releases its events over time (latency) wakes the lane as they come.
            active.unsubscribe = run.subscribe(lambda: self._released(lane))
        if create.entry is not None:
            create.entry.update(status=200, response_id=run.id)
        self._mark_ready(lane)

    def _released(self, lane: _Lane) -> None:
        self._mark_ready(lane)
        if self.on_wake is not None:
            self.on_wake()

    def _take(self, lane: _Lane) -> Outgoing | None:
        if lane.out:
            item = lane.out.popleft()
            if isinstance(item, Close):
                self.close()
            return item
        active = lane.active
        if active is None or not active.has_frames():
            return None
        frame = dict(active.run.events[active.sent])
        active.sent += 1
        if active.warmup and frame["type"] == "response.in_progress":
            # generate=false warm-up: created -> completed, nothing in between (SPEC §6.2, chosen).
            return self._take(lane)
        frame["sequence_number"] = active.seq
        active.seq += 1
        if lane.stream_id is not None:
            frame["stream_id"] = lane.stream_id  # SPEC §6.3: echoed on every event of a named lane
        if frame["type"] in TERMINAL_EVENTS:
            self._finish(lane, active)
        return frame

    def _finish(self, lane: _Lane, active: _Active) -> None:
        """A response's terminal event went out: cache it, apply steers, start what waits."""
        lane.active = None
        if active.unsubscribe is not None:
            active.unsubscribe()
        lane.latest = active.cached
        self._finished[active.run.id] = (lane, str(active.event.get("model")), active.seq)
        if len(self._finished) > _FINISHED_KEPT:
            del self._finished[next(iter(self._finished))]
        if active.steers:
            self._after_steered(lane, active)
        self._schedule()

    # --- connection-local cache (SPEC §6.5) -----------------------------------------------------

    def _cached(self, response_id: str) -> StoredResponse | None:
        for lane in self._lanes():
            if lane.latest is not None and lane.latest.id == response_id:
                return lane.latest
        return None

    def _parent_lookup(self, event: Mapping[str, Any]) -> Callable[[str], StoredResponse | None]:
        stateless = event.get("store") is False

        def lookup(response_id: str) -> StoredResponse | None:
            found = self._cached(response_id)
            if found is None and stateless:
                # SPEC §6.5: with store=false only the connection cache is consulted; same observed
                # wording as the HTTP answer (SPEC §5).
                raise InvalidRequest(
                    f"Previous response with id '{response_id}' not found.",
                    param="previous_response_id",
                    code="previous_response_not_found",
                )
            return found

        return lookup

    def _cache_record(self, run: Run) -> StoredResponse:
        """The cache entry of ``run``: its whole history as input, so ``store=false`` chains stay whole.

        The engine rebuilds a chain by walking parents through the store; ``store=false`` ancestors are
        not there, so the cache keeps one flattened record per lane instead of a chain of them.
        """
        record = run.record
        history: list[dict[str, Any]] = []
        if record.parent_id is not None:
            parent = self._cached(record.parent_id)
            if parent is not None:
                history = [*parent.input_items, *parent.response["output"]]
            else:
                history = list(self._stored_history(record.parent_id))
        return StoredResponse(
            response=record.response,
            input_items=history + record.input_items,
            parent_id=None,
            stored=record.stored,
            meta=record.meta,
        )

    def _stored_history(self, response_id: str) -> Iterator[dict[str, Any]]:
        chain: list[StoredResponse] = []
        node = self._engine.store.get(self._session, response_id)
        while node is not None:
            chain.append(node)
            node = self._engine.store.get(self._session, node.parent_id) if node.parent_id else None
        for link in reversed(chain):
            yield from link.input_items
            yield from link.response["output"]

    # --- response.steer (SPEC §6.7) -------------------------------------------------------------

    def _on_steer(self, event: dict[str, Any], entry: dict[str, Any]) -> None:
        extra = next((k for k in event if k not in _STEER_KEYS), None)
        target = event.get("previous_response_id")
        problem: APIError | None = None
        if extra is not None:
            # The event accepts only type, previous_response_id and input [SDK steer()].
            problem = errors.unknown_parameter(extra)
        elif target is None:
            problem = errors.missing_required("previous_response_id")
        elif not isinstance(target, str):
            problem = errors.invalid_type("previous_response_id", "a string", target)
        elif "input" not in event:
            problem = errors.missing_required("input")
        if problem is not None:
            self._reject(self._control, entry, problem)
            return
        assert isinstance(target, str)
        entry.update(status=200, response_id=target)
        steer = _Steer(
            self._ids.object_id("steer", _shard(target), self._clock.now()), target, event["input"]
        )
        active_lane = next(
            (lane for lane in self._lanes() if lane.active and lane.active.run.id == target), None
        )
        if active_lane is not None and active_lane.active is not None:
            active = active_lane.active
            failure = self._steer_problem(steer, str(active.event.get("model")), active.event)
            if failure is None and len(active.steers) >= MAX_PENDING_STEERS:
                failure = ("too_many_pending_steers", _too_many_steers(target))
            if failure is not None:
                self._steer_failed(active_lane, steer, *failure)
                return
            active.steers.append(steer)
            # response.steer.accepted: the server owns the input; not applied yet.
            self._push(active_lane, self._steer_event(active_lane, "response.steer.accepted", steer, active))
            return
        finished = self._finished.get(target)
        if finished is not None:
            lane, model, _ = finished
            failure = self._steer_problem(steer, model, {}) or (
                "response_already_completed",
                _already_completed(target),
            )
            self._steer_failed(lane, steer, *failure)
            return
        stored = self._engine.store.get(self._session, target)
        if stored is not None and stored.stored:
            failure = self._steer_problem(steer, str(stored.response.get("model")), {}) or (
                "response_not_active",
                _not_active(target),
            )
            self._steer_failed(self._control, steer, *failure)
            return
        self._steer_failed(self._control, steer, "response_not_found", _steer_target_missing(target))

    def _steer_problem(self, steer: _Steer, model: str, request: Mapping[str, Any]) -> tuple[str, str] | None:
        if not _valid_steer_input(steer.input):
            return "invalid_input", _invalid_steer_input()
        info = self._engine.catalog.lookup(model)
        if info is None or not info.steering:
            return "steering_not_supported", _steering_unsupported(model)
        if request.get("conversation") is not None:
            return (
                "steering_not_supported",
                "Steering is not supported for responses bound to a conversation.",
            )
        if request.get("context_management"):
            return (
                "steering_not_supported",
                "Steering is not supported for responses that use automatic compaction.",
            )
        return None

    def _after_steered(self, lane: _Lane, active: _Active) -> None:
        """Apply the steers a response accepted while it ran (SPEC §6.7)."""
        output = active.run.response["output"]
        calls = [item for item in output if item.get("type") == "function_call"]
        if calls:
            # The response stopped for client tool output: the steers wait for the explicit create.
            required = [
                {"type": "function_call_output", "call_id": c["call_id"], "name": c["name"]} for c in calls
            ]
            for steer in active.steers:
                pending = self._steer_event(lane, "response.steer.pending", steer, active)
                pending.update(reason="waiting_for_required_input", required_input=required)
                self._push(lane, pending)
            lane.pending_steers.setdefault(active.run.id, []).extend(active.steers)
            return
        # Normal completion, then an automatic successor that inherits the settings (chosen over
        # stopping early with incomplete/steered, which the guide allows but does not require).
        inherited = {
            k: v for k, v in active.event.items() if k not in ("input", "previous_response_id", "generate")
        }
        successor = {**inherited, "previous_response_id": active.run.id, "input": _steer_items(active.steers)}
        self._backlog.appendleft(_Create(lane, successor, None, list(active.steers)))

    def _steer_event(self, lane: _Lane, kind: str, steer: _Steer, active: _Active) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": kind,
            "sequence_number": active.seq,
            "steer": {"id": steer.id, "previous_response_id": steer.target},
        }
        active.seq += 1
        if lane.stream_id is not None:
            event["stream_id"] = lane.stream_id
        return event

    def _steer_failed(self, lane: _Lane, steer: _Steer, code: str, message: str) -> None:
        seq = 0
        active = lane.active
        if active is not None and active.run.id == steer.target:
            seq = active.seq
            active.seq += 1
        elif steer.target in self._finished:
            finished_lane, model, seq = self._finished[steer.target]
            self._finished[steer.target] = (finished_lane, model, seq + 1)
        event: dict[str, Any] = {
            "type": "response.steer.failed",
            "sequence_number": seq,
            "error": {"code": code, "message": message, "type": "invalid_request_error"},
            "steer": {"input": _echo(steer.input), "previous_response_id": steer.target, "id": steer.id},
        }
        if lane.stream_id is not None:
            event["stream_id"] = lane.stream_id
        self._push(lane, event)

    # --- the 60-minute cap (SPEC §6.6) ----------------------------------------------------------

    def _on_cap(self) -> None:
        """Timer at ``opened + ws_max_age``: an idle connection is closed now, a busy one when idle."""
        self._cap_passed = True
        if self.closed:
            return
        if self.in_flight == 0:
            self._expire()
            if self.on_wake is not None:
                self.on_wake()

    def _expired(self) -> bool:
        # The timer may lag under the real clock (ticker); the age check does not.
        return self._cap_passed or self._clock.now() - self._opened >= self._max_age

    def _expire(self, entry: dict[str, Any] | None = None) -> None:
        """The documented error event, then close 1000 (SPEC §6.6); queued creates are dropped."""
        if self._closing:
            return
        self._closing = True
        limit = _connection_limit(self._max_age)
        for dropped in [*self._backlog, _Create(self._control, {}, entry)]:
            if dropped.entry is not None:
                dropped.entry.update(status=limit.status, error=limit.error_object())
        self._backlog.clear()
        self._push(self._control, _error_frame(limit, None))
        self._push(self._control, Close(1000, "WebSocket connection age limit reached"))

    # --- helpers --------------------------------------------------------------------------------

    def _lanes(self) -> Iterator[_Lane]:
        yield self._default
        yield from self._named.values()
        yield self._control

    def _busy(self, lane: _Lane) -> bool:
        return lane.active is not None or any(c.lane is lane for c in self._backlog)

    def _mark_ready(self, lane: _Lane) -> None:
        if not lane.ready and lane.has_output():
            lane.ready = True
            self._ready.append(lane)

    def _push(self, lane: _Lane, item: Outgoing) -> None:
        lane.out.append(item)
        self._mark_ready(lane)

    def _reject(
        self, lane: _Lane, entry: dict[str, Any] | None, error: APIError, *, stream_id: str | None = None
    ) -> None:
        """Answer a client event with a ``ResponseWsError`` frame (SPEC §6.3) and journal it."""
        if entry is not None:
            entry.update(status=error.status, error=error.error_object())
        self._push(lane, _error_frame(error, stream_id if stream_id is not None else lane.stream_id))

    def _record(self, body: Any) -> dict[str, Any]:
        """Journal one client event (transport ``ws``); the entry is completed in place later."""
        entry: dict[str, Any] = {
            "time": time.time(),
            "method": "WS",
            "path": self._journal.get("path", "/v1/responses"),
            "query": self._journal.get("query", {}),
            "transport": "ws",
            "status": None,
            "headers": self._journal.get("headers", {}),
            "body": body,
            "response_id": None,
            "error": None,
        }
        self._engine.record(entry, self._session)
        return entry


# --- frames -----------------------------------------------------------------------------------------


def _error_frame(error: APIError, stream_id: str | None) -> dict[str, Any]:
    """``ResponseWsError``: request-level errors have no ``sequence_number`` (null), SPEC §6.3."""
    inner: dict[str, Any] = {
        "type": error.type,
        "code": error.code,
        "message": error.message,
        "param": error.param,
    }
    if error.headers:
        inner["headers"] = dict(error.headers)
    frame: dict[str, Any] = {"type": "error", "status": error.status}
    if stream_id is not None:
        frame["stream_id"] = stream_id
    frame["sequence_number"] = None
    frame["error"] = inner
    return frame


def _as_items(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return list(value)


def _steer_items(steers: list[_Steer]) -> list[Any]:
    items: list[Any] = []
    for steer in steers:
        items.extend(_as_items(steer.input))
    return items


def _echo(value: Any) -> Any:
    """Steer input handed back in ``steer.failed``, items typed as the SDK models them."""
    if not isinstance(value, list):
        return value
    return [
        {"type": "message", **item} if isinstance(item, dict) and "type" not in item else item
        for item in value
    ]


def _valid_steer_input(value: Any) -> bool:
    """A non-empty string, or a non-empty list of user messages / function call outputs [SDK]."""
    if isinstance(value, str):
        return bool(value.strip())
    if not isinstance(value, list) or not value:
        return False
    for item in value:
        if not isinstance(item, dict):
            return False
        kind = item.get("type", "message")
        if kind == "function_call_output":
            if "output" not in item:
                return False
            continue
        if kind != "message" or item.get("role") != "user":
            return False
        if not _valid_steer_content(item.get("content")):
            return False
    return True


def _valid_steer_content(content: Any) -> bool:
    if isinstance(content, str):
        return bool(content)
    return (
        isinstance(content, list)
        and bool(content)
        and all(isinstance(p, dict) and p.get("type") in _STEER_PARTS for p in content)
    )


def _shard(response_id: str) -> str:
    """The 16-hex shard of a real-looking id (``resp_<shard>00...``), reused for its steer ids."""
    body = response_id.partition("_")[2]
    return body[:16] if len(body) >= 16 else "0" * 16


# --- chosen wordings (listed in docs/errors.md) -------------------------------------------------------


def _our_fault(what: str) -> ServerFault:
    """A bug of ours: logged, answered like the HTTP 500 (observed wording), the connection kept."""
    _logger.exception("resplay: unhandled error on WebSocket %s", what)
    return ServerFault("The server had an error while processing your request. Sorry about that!")


def _invalid_json() -> InvalidRequest:
    return InvalidRequest(
        "We could not parse the JSON of your WebSocket message. Each text frame must hold one JSON client "
        'event, such as {"type": "response.create", ...}.',
        code="invalid_json",
    )


def _binary_frame() -> InvalidRequest:
    return InvalidRequest(
        "Binary WebSocket frames are not supported. Send each client event as a JSON text frame.",
        code="unsupported_frame_type",
    )


def _frame_too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"WebSocket message too large: the maximum is {limit} bytes.", code="request_too_large"
    )


def _stream_limit() -> InvalidRequest:
    # Documented verbatim (SPEC §6.4).
    return InvalidRequest(
        "This WebSocket connection has reached its maximum number of distinct stream IDs "
        f"({MAX_NAMED_LANES}). Reuse an existing stream_id or open a new WebSocket connection.",
        param="stream_id",
        code="websocket_stream_limit_reached",
    )


def _connection_limit(max_age: float) -> InvalidRequest:
    # Documented verbatim for the default 60 minutes (SPEC §6.6); other --ws-max-age values adapt it.
    minutes = f"{max_age / 60:g} minutes" if max_age != 60 else "1 minute"
    return InvalidRequest(
        f"Responses websocket connection limit reached ({minutes}). "
        "Create a new websocket connection to continue.",
        code="websocket_connection_limit_reached",
    )


def _lane_busy(stream_id: str | None) -> InvalidRequest:
    lane = f"stream '{stream_id}'" if stream_id is not None else "this connection"
    return InvalidRequest(
        f"A response is already in progress on {lane}. Wait for its terminal event before sending the next "
        "response.create (the server runs with --ws-busy reject).",
        param="stream_id" if stream_id is not None else None,
        code="websocket_stream_busy",
    )


def _invalid_steer_input() -> str:
    return (
        "Invalid 'input': steering input must be a non-empty string or a non-empty array of user messages "
        "(input_text, input_image or input_file content) or function_call_output items."
    )


def _steering_unsupported(model: str) -> str:
    return f"Steering is not supported with the model '{model}'."


def _too_many_steers(target: str) -> str:
    return (
        f"Response '{target}' already has {MAX_PENDING_STEERS} pending steers. Wait for a successor to start "
        "before steering again."
    )


def _already_completed(target: str) -> str:
    return (
        f"Response '{target}' has already completed. Continue it with a response.create that sets "
        f"previous_response_id to '{target}'."
    )


def _not_active(target: str) -> str:
    return f"Response '{target}' is not active on this WebSocket connection."


def _steer_target_missing(target: str) -> str:
    return f"Response with id '{target}' not found."


def _successor_failed(steer: _Steer, error: APIError) -> str:
    return f"The steered continuation of response '{steer.target}' could not be created: {error.message}"
