"""Background responses: jobs that move queued -> in_progress -> terminal on the session clock (SPEC §7).

A background create (``background=true``) answers at once with status ``queued``; a :class:`Job` then
releases the response's events over time through timers on the session's :class:`~mockserver.clock.Clock`
(DECISIONS 1 and 3), so the virtual clock moves it with ``advance`` and the real clock with the adapter's
ticker. Nothing here sleeps or does I/O::

    t0                      t0 + queued                                   t0 + queued + in_progress
    |  response.created     |  response.in_progress   item events ...     |  response.completed
    |  response.queued      |  (spread evenly over the in_progress phase) |  (or .incomplete / .failed)
    status: queued          status: in_progress, output grows item by item status: terminal

``GET /v1/responses/{id}`` shows the record's current object (the output items finished so far);
``POST .../cancel`` ends a running job ``cancelled`` (:meth:`Job.cancel`); a background response created
with ``stream=true`` keeps its event log, which ``GET ...?stream=true&starting_after=N`` replays and then
follows (:func:`resume`).

Listeners (:meth:`Job.subscribe`) are called from whichever thread moves the clock, with the engine lock
held: an adapter must only hop to its own loop there (``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .clock import Clock, Timer
from .errors import APIError, InvalidRequest
from .events import response_snapshot, stream_events
from .script import ErrorReply, Reply
from .store import Store, StoredResponse, StoreUnavailable

__all__ = [
    "RESUME_WINDOW",
    "STORE_FALSE_RETENTION",
    "BackgroundTiming",
    "Job",
    "JobSpec",
    "cancel",
    "cancel_stored",
    "check_store",
    "obfuscate",
    "prepare",
    "resume",
    "timing_from_json",
]

STORE_FALSE_RETENTION = 600.0
"""Seconds a ``store=false`` background response stays pollable under the ``allow`` policy (DECISIONS 19)."""

RESUME_WINDOW = 300.0
"""A background stream can be resumed for 5 minutes after its creation (observed: openai-python#2828)."""

MIRROR_POLL = 0.1
"""Seconds between reads of a job that another process runs, while a stream here follows it (issue 12)."""

TERMINAL_STATUSES = frozenset({"completed", "failed", "incomplete", "cancelled"})
_TERMINAL_EVENTS = {"completed": "response.completed", "incomplete": "response.incomplete"}
"""The terminal event of an early end by status; ``failed`` and ``cancelled`` end ``response.failed``."""

# ``ResponseError.code`` is a closed Literal in SDK 3.51.0: codes outside it are reported as server_error.
_RESPONSE_ERROR_CODES = frozenset(
    {
        "server_error", "rate_limit_exceeded", "invalid_prompt", "data_residency_mismatch",
        "bio_policy", "misalignment_policy_violation", "vector_store_timeout", "invalid_image",
        "invalid_image_format", "invalid_base64_image", "invalid_image_url", "image_too_large",
        "image_too_small", "image_parse_error", "image_content_policy_violation", "invalid_image_mode",
        "image_file_too_large", "unsupported_image_media_type", "empty_image_file",
        "failed_to_download_image", "image_file_not_found",
    }
)  # fmt: skip

_PAD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True, slots=True)
class BackgroundTiming:
    """How long each phase of a background job lasts, in seconds of the session clock (DECISIONS 11).

    The defaults come from ``ServerConfig.background_queued`` / ``background_in_progress``; a queued reply
    can carry its own (``TextReply(..., background=BackgroundTiming(5, 10))``).
    """

    queued: float = 1.0
    """Time from the create to ``in_progress``."""
    in_progress: float = 2.0
    """Time from ``in_progress`` to the terminal event; the output events are spread evenly over it."""

    def __post_init__(self) -> None:
        for name in ("queued", "in_progress"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"background timing '{name}' must be a non-negative number, got {value!r}")


def timing_from_json(data: Any) -> BackgroundTiming:
    """``{"queued": 1, "in_progress": 2}`` (either key optional) as a :class:`BackgroundTiming`.

    Raises:
        InvalidRequest: not an object, or a value that is not a non-negative number.
    """
    if not isinstance(data, Mapping):
        raise InvalidRequest('\'background\' must be an object like {"queued": 1, "in_progress": 2}.')
    unknown = set(data) - {"queued", "in_progress"}
    if unknown:
        raise InvalidRequest(f"Unknown background timing key(s): {', '.join(sorted(unknown))}.")
    try:
        return BackgroundTiming(**{k: data[k] for k in ("queued", "in_progress") if k in data})
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from exc


@dataclass(slots=True)
class JobSpec:
    """What :func:`prepare` decided for a background create before its response exists."""

    timing: BackgroundTiming
    """Phase durations of this job."""
    failure: APIError | None = None
    """A scripted 5xx reply: the job is accepted, then fails in the background."""


# ----------------------------------------------------------------------------------- create-time checks


def check_store(request: Mapping[str, Any], policy: str) -> None:
    """DECISIONS 10: ``background=true`` with an explicit ``store=false`` is a 400 unless policy ``allow``.

    ``store`` omitted means ``store=true`` and is accepted. The message is chosen (docs/errors.md).
    """
    if request.get("background") is True and request.get("store") is False and policy != "allow":
        raise InvalidRequest(
            "Background responses require 'store' to be true: 'background=true' cannot be used with "
            "'store=false'.",
            param="store",
        )


def prepare(
    request: Mapping[str, Any],
    replies: deque[Reply],
    *,
    policy: str,
    default: BackgroundTiming,
) -> JobSpec | None:
    """The job spec of a create, or ``None`` for a foreground one; call it before the reply is taken.

    Checks the ``store`` policy, takes the timing from the next queued reply when it carries one, and
    takes a queued 5xx :class:`~mockserver.script.ErrorReply` off the queue: a background job accepted by
    the API fails later (status ``failed``), while 4xx replies stay synchronous answers to the create
    (chosen, docs/errors.md).

    Raises:
        InvalidRequest: ``store=false`` under the ``reject`` policy.
    """
    if request.get("background") is not True:
        return None
    check_store(request, policy)
    upcoming = replies[0] if replies else None
    timing = getattr(upcoming, "background", None)
    spec = JobSpec(timing if isinstance(timing, BackgroundTiming) else default)
    if isinstance(upcoming, ErrorReply) and upcoming.status >= 500:
        replies.popleft()
        spec.failure = upcoming.to_error()
    return spec


# ----------------------------------------------------------------------------------------------- jobs


class Job:
    """One background response on its way to a terminal status.

    Args:
        record: The store record; its ``response`` is the final object as the engine built it, and is
            replaced by the visible (queued) snapshot here.
        spec: Timing and scripted failure.
        clock: The session clock that schedules the phases.
        store: Where the record lives; it is put again at every visible change (for non-memory backends).
        session: The record's session name in ``store``.
        jobs: The session's job registry; the job adds itself and leaves it when its record expires.
        keep_log: Keep the event log on the record (``stream=true`` creates, resumable later).
        obfuscation: Whether streams of this job pad deltas unless a resume says otherwise.
        retention: Seconds after which the record is deleted (``store=false`` under the ``allow``
            policy), or ``None`` to keep it.
        pacing: Extra release time of each scripted event, in seconds (the latency profile's
            per-token time, :func:`mockserver.latency.offsets`), added to the phases (DECISIONS 11).
        on_settle: Called once with the final response when the job reaches a terminal status
            (completed, incomplete, failed or cancelled): the engine queues its webhook there.
    """

    def __init__(
        self,
        record: StoredResponse,
        spec: JobSpec,
        *,
        clock: Clock,
        store: Store,
        session: str,
        jobs: dict[str, Job],
        keep_log: bool,
        obfuscation: bool,
        retention: float | None = None,
        pacing: Callable[[list[dict[str, Any]]], list[float]] | None = None,
        on_settle: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.record = record
        self._on_settle = on_settle
        self.id = record.id
        self._replayed = False
        self.obfuscation = obfuscation
        """Default for streams of this job: observed background streams carry no ``obfuscation``."""
        self.events: list[dict[str, Any]] = []
        """Events released so far; ``events[n]["sequence_number"] == n``."""
        self._clock = clock
        self._store = store
        self._session = session
        self._jobs = jobs
        self._listeners: list[Callable[[], None]] = []
        self._timer: Timer | None = None
        self._expire_when_done = False
        self._final = record.response
        if spec.failure is not None:
            self._final = _failed(self._final, spec.failure)
        self._script = _script(self._final, spec.failure)
        self._deadlines = _deadlines(len(self._script), clock.now(), spec.timing)
        if pacing is not None:  # created and queued stay at once; both lists never decrease
            extra = pacing(self._script)
            self._deadlines[2:] = [d + e for d, e in zip(self._deadlines[2:], extra[2:], strict=True)]
        self._next = 0
        self._output: list[dict[str, Any]] = []
        record.response = _early(self._final, "queued")
        if keep_log:
            record.events = self.events
        jobs[self.id] = self
        if retention is not None:
            clock.call_later(retention, self._expire)
        # created + queued now, the rest by timers: the create answers ``queued`` even with zero phases.
        for event in self._script[:2]:
            self._release(event)
        self._next = 2
        self._timer = clock.call_at(self._deadlines[2], self._release_due)

    @classmethod
    def replay(cls, record: StoredResponse) -> Job:
        """A finished job rebuilt from a stored event log (a record whose live job is gone)."""
        job = cls.__new__(cls)
        job.record, job.id, job.obfuscation, job._replayed = record, record.id, False, True
        job.events = list(record.events or ())
        job._listeners, job._timer, job._next, job._script = [], None, 0, []
        job._on_settle = None
        return job

    @classmethod
    def mirror(cls, record: StoredResponse, *, store: Store, session: str, clock: Clock) -> Job:
        """A job that another process runs, followed through a shared store (issue 12).

        Its events are the stored log, read again every :data:`MIRROR_POLL` seconds of ``clock`` (the
        real clock's ticker moves it) until the record ends or goes, or nobody listens any more.
        """
        job = cls.replay(record)
        job._replayed = False
        job._store, job._session, job._clock = store, session, clock
        job._timer = clock.call_later(MIRROR_POLL, job._poll)
        return job

    # --- state ---------------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """The visible status: ``queued``, ``in_progress`` or a terminal one."""
        return str(self.record.response.get("status"))

    @property
    def done(self) -> bool:
        """Whether the terminal event has been released (no event will follow)."""
        return self._replayed or self.status in TERMINAL_STATUSES

    @property
    def listener_count(self) -> int:
        """How many listeners are subscribed (a stream that went away must leave none)."""
        return len(self._listeners)

    def events_from(self, cursor: int, obfuscation: bool | None = None) -> list[dict[str, Any]]:
        """Events from ``sequence_number == cursor`` on, padded if ``obfuscation`` (default: the job's)."""
        batch = self.events[max(cursor, 0) :]
        if self.obfuscation if obfuscation is None else obfuscation:
            return [obfuscate(event, self.id) for event in batch]
        return batch

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` whenever events are released or the job ends; returns the unsubscribe call.

        The listener runs in the thread that moves the clock, with the engine lock held: it must only
        signal (e.g. ``loop.call_soon_threadsafe(event.set)``). One that raises is dropped.
        """
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # --- transitions ---------------------------------------------------------------------------

    def cancel(self) -> dict[str, Any]:
        """End a running job ``cancelled`` (idempotent); returns the response as it now is.

        Streams end with ``response.failed`` carrying the cancelled response: SDK 3.51.0 has no
        cancellation event, and ``response.failed`` is its only terminal event for an unsuccessful end
        (chosen, docs/errors.md).
        """
        if self.done:
            return self.record.response
        cancelled = _cancelled(self._final, self._output)
        self._end(cancelled)
        return cancelled

    def sync(self, stored: StoredResponse | None) -> bool:
        """Adopt an end that another process wrote to a shared store (a cancel sent there, issue 12).

        ``stored`` is the store's current record. With an unshared store it is this job's own record and
        nothing happens; a different record whose status is terminal ends this job with that response.
        Returns whether the job ended here.
        """
        if stored is None or stored is self.record or self.done:
            return False
        final = stored.response
        if final.get("status") not in TERMINAL_STATUSES:
            return False
        self._end(final)
        return True

    def _end(self, final: dict[str, Any]) -> None:
        """Stop the timers and release the terminal event of an early end (cancel)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        kind = _TERMINAL_EVENTS.get(str(final.get("status")), "response.failed")
        self._append({"type": kind, "sequence_number": 0, "response": final})
        self._script, self._deadlines, self._next = [], [], 0
        self._settle(final)

    def _poll(self) -> None:
        """One read of a mirrored job (:meth:`mirror`): new events out, and stop once it ended."""
        self._timer = None
        fresh: list[dict[str, Any]] = []
        try:
            stored = self._store.get(self._session, self.id)
        except StoreUnavailable:
            stored = self.record  # unchanged: read again next time
        if stored is None:
            self._replayed = True  # deleted meanwhile: nothing more will come
        else:
            fresh = (stored.events or [])[len(self.events) :]
            self.events.extend(fresh)
            self.record = stored
        if self.done or fresh:
            self._notify()
        if not self.done and self._listeners:
            self._timer = self._clock.call_later(MIRROR_POLL, self._poll)

    def _release_due(self) -> None:
        self._timer = None
        if self.sync(self._read()):  # cancelled through another process (shared store): stop here
            return
        now = self._clock.now()
        released = False
        while self._next < len(self._script) and self._deadlines[self._next] <= now:
            self._release(self._script[self._next])
            self._next += 1
            released = True
        if self._next < len(self._script):
            self._timer = self._clock.call_at(self._deadlines[self._next], self._release_due)
        if released and not self.done:
            self._persist()
            self._notify()

    def _release(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "response.in_progress":
            self.record.response = _early(self._final, "in_progress")
        elif kind == "response.output_item.done":
            self._output.append(event["item"])
            self.record.response = {**self.record.response, "output": list(self._output)}
        elif event is self._script[-1]:
            final = event["response"]
            if final.get("status") == "completed":
                final["completed_at"] = int(self._clock.now())
            self._append(event)
            self._settle(final)
            return
        self._append(event)

    def _append(self, event: dict[str, Any]) -> None:
        event["sequence_number"] = len(self.events)
        self.events.append(event)

    def _settle(self, final: dict[str, Any]) -> None:
        self.record.response = final
        self._persist()
        self._notify()
        if self._on_settle is not None:
            self._on_settle(final)
        if self._expire_when_done:
            self._forget()

    def _read(self) -> StoredResponse | None:
        """The store's current record (``None`` when gone or the store is unreachable)."""
        try:
            return self._store.get(self._session, self.id)
        except StoreUnavailable:
            return None

    def _persist(self) -> None:
        try:
            # Put only while the record is still there: a DELETEd response must not come back.
            if self._store.get(self._session, self.id) is not None:
                self._store.put(self._session, self.record)
        except StoreUnavailable:
            # Redis down (issue 12): the job goes on in memory and the next step puts the whole record
            # again; the terminal put is retried every second, so pollers elsewhere still see the end.
            if self.done:
                self._clock.call_later(1.0, self._persist)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:  # e.g. its event loop is closed: drop it, the job goes on
                if listener in self._listeners:
                    self._listeners.remove(listener)

    def _expire(self) -> None:
        # DECISIONS 19: pollable and cancellable for about 10 minutes, then gone (a job still running
        # then goes once it ends, so a poller always sees its terminal status first).
        if self.done:
            self._forget()
        else:
            self._expire_when_done = True

    def _forget(self) -> None:
        self._jobs.pop(self.id, None)
        try:
            self._store.delete(self._session, self.id)
        except StoreUnavailable:
            self._clock.call_later(1.0, self._forget)


# ------------------------------------------------------------------------------- cancel and resume


def cancel(record: StoredResponse, job: Job | None) -> dict[str, Any]:
    """``POST /v1/responses/{id}/cancel`` on a visible record (SPEC §2.4).

    Raises:
        InvalidRequest: the response was not created with ``background=true`` (chosen wording, SPEC §2.4).
    """
    if not record.response.get("background"):
        raise InvalidRequest("Cannot cancel a synchronous response.")
    if job is None:
        return record.response
    return job.cancel()


def cancel_stored(record: StoredResponse, store: Store, session: str) -> dict[str, Any]:
    """``POST .../cancel`` of a background job that runs in another process sharing the store (issue 12).

    Writes the ``cancelled`` response (and, for a stream log, its ``response.failed``) to the store; the
    owning process adopts it on its next step (:meth:`Job.sync`). When the store refuses because the job
    ended first (:mod:`.redis_store`'s status rules), the cancel answers that end, as a cancel of a
    finished job does.

    Raises:
        InvalidRequest: the response was not created with ``background=true``.
    """
    if not record.response.get("background"):
        raise InvalidRequest("Cannot cancel a synchronous response.")
    cancelled = _cancelled(_final_of(record.response), record.response.get("output") or [])
    record.response = cancelled
    if record.events is not None:
        record.events.append(
            {"type": "response.failed", "sequence_number": len(record.events), "response": cancelled}
        )
    store.put(session, record)
    current = store.get(session, record.id)
    return current.response if current is not None else cancelled


def resume(
    record: StoredResponse,
    job: Job | None,
    *,
    now: float,
    elsewhere: Callable[[StoredResponse], Job] | None = None,
) -> Job:
    """The job whose events ``GET /v1/responses/{id}?stream=true`` replays (DECISIONS 6).

    ``elsewhere`` makes the job of a record still running without a job here: one that another process
    runs (a shared store, :meth:`Job.mirror`); otherwise the stored log is replayed as it is.

    Raises:
        InvalidRequest: not a background response created with ``stream=true`` (documented wording,
            SPEC §2.2), or created more than :data:`RESUME_WINDOW` seconds ago (observed wording).
    """
    if not record.response.get("background") or record.events is None:
        raise InvalidRequest(
            "You can only start a new stream from a background response if you created it with "
            "`stream=true`.",
            param="stream",
        )
    if now - float(record.response.get("created_at") or now) > RESUME_WINDOW:
        raise InvalidRequest(
            "This response can no longer be streamed because it is more than 5 minutes old.", param="stream"
        )
    if job is not None:
        return job
    if elsewhere is not None and record.response.get("status") in ("queued", "in_progress"):
        return elsewhere(record)
    return Job.replay(record)


def obfuscate(event: Mapping[str, Any], seed: str) -> dict[str, Any]:
    """``event`` with the ``obfuscation`` padding on a delta (SPEC §4.2), the same on every replay.

    The padding depends only on ``seed`` (the response id) and the event's sequence number, so a
    resumed stream repeats exactly the bytes of the first one.
    """
    delta = event.get("delta")
    if not isinstance(delta, str) or not str(event.get("type", "")).endswith(".delta"):
        return dict(event)
    rng = random.Random(f"{seed}:{event.get('sequence_number')}")
    return {**event, "obfuscation": "".join(rng.choices(_PAD_ALPHABET, k=16 - len(delta) % 16))}


# ------------------------------------------------------------------------------------------ helpers


def _early(final: Mapping[str, Any], status: str) -> dict[str, Any]:
    """The object while queued / in progress, as real traffic shows it: no output, usage or billing yet,
    and the requested service tier (``auto``) until the job runs (pydantic-ai background cassettes)."""
    snapshot = response_snapshot(final, status)
    snapshot.pop("billing", None)
    if snapshot.get("service_tier") == "default":
        snapshot["service_tier"] = "auto"
    return snapshot


def _final_of(visible: Mapping[str, Any]) -> dict[str, Any]:
    """The final object's fields back from a visible queued / in-progress one (inverse of :func:`_early`):
    ``billing`` after ``background`` again, and the tier that serves it (``auto`` runs as ``default``)."""
    final: dict[str, Any] = {}
    for key, value in visible.items():
        final[key] = value
        if key == "background":
            final["billing"] = {"payer": "developer"}
    if final.get("service_tier") == "auto":
        final["service_tier"] = "default"
    return final


def _cancelled(final: Mapping[str, Any], output: list[dict[str, Any]]) -> dict[str, Any]:
    """The response of a job cancelled with ``output`` finished so far (SPEC §2.4)."""
    cancelled = dict(final)
    cancelled.update(
        status="cancelled",
        output=list(output),
        usage=None,
        completed_at=None,
        error=None,
        incomplete_details=None,
    )
    return cancelled


def _failed(final: Mapping[str, Any], error: APIError) -> dict[str, Any]:
    code = error.code if error.code in _RESPONSE_ERROR_CODES else "server_error"
    failed = dict(final)
    failed.update(
        status="failed",
        output=[],
        usage=None,
        completed_at=None,
        incomplete_details=None,
        error={"code": code, "message": error.message},
    )
    return failed


def _script(final: dict[str, Any], failure: APIError | None) -> list[dict[str, Any]]:
    """Every event the job will release, in order; lifecycle snapshots shaped like real background ones."""
    events = list(stream_events(final, obfuscate=None, queued=True))
    for event, status in zip(events[:3], ("queued", "queued", "in_progress"), strict=True):
        event["response"] = _early(final, status)
    if failure is not None:
        # DECISIONS 7: an in-stream failure is an ``error`` event (nested shape), then ``response.failed``.
        events.insert(-1, {"type": "error", "sequence_number": 0, "error": failure.error_object()})
    return events


def _deadlines(count: int, start: float, timing: BackgroundTiming) -> list[float]:
    """When each scripted event is released: created + queued at once, in_progress after the queued
    phase, the events between spread evenly over the in_progress phase, the terminal one at its end."""
    running = start + timing.queued
    middle = max(count - 4, 0)
    deadlines = [start, start, running]
    deadlines += [running + timing.in_progress * (k + 1) / (middle + 1) for k in range(middle)]
    deadlines.append(running + timing.in_progress)
    return deadlines[:count]
