"""Clocks with scheduled wake-ups (DECISIONS 1 and 3).

The engine never sleeps. It asks a :class:`Clock` for the time and schedules timers on it; the
adapter (or a test) moves time forward and the clock fires every timer whose deadline has passed,
in deadline order. Two clocks share this behaviour:

* :class:`VirtualClock` stands still until :meth:`Clock.advance` is called (the default for
  ``MockServer()`` and the pytest fixtures), so background phases and the WebSocket 60-minute cap
  are reached without sleeping.
* :class:`RealClock` follows ``time.time()``; the aiohttp adapter runs a small ticker task that calls
  :meth:`Clock.fire_due` when the next deadline comes. ``advance`` adds an offset (DECISIONS 3).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Clock", "RealClock", "Timer", "VirtualClock"]


@dataclass(order=True)
class Timer:
    """A scheduled callback; cancel it with :meth:`cancel`."""

    deadline: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        """Prevent the callback from running (it stays in the heap until popped)."""
        self.cancelled = True


class Clock:
    """Base clock: current time plus a heap of timers.

    Args:
        start: Initial offset added to the underlying time source.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._offset = start
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self.on_schedule: Callable[[float], None] | None = None
        """Hook for the adapter's ticker: called with the new deadline when a timer is scheduled."""

    def _source(self) -> float:
        raise NotImplementedError

    def now(self) -> float:
        """Current time in seconds since the epoch (virtual or real plus offset)."""
        return self._source() + self._offset

    def call_at(self, deadline: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` once the clock reaches ``deadline``."""
        timer = Timer(deadline, next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        if self.on_schedule is not None:
            self.on_schedule(deadline)
        return timer

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` after ``delay`` seconds of this clock's time."""
        return self.call_at(self.now() + delay, callback)

    def next_deadline(self) -> float | None:
        """Deadline of the earliest pending timer, or ``None``."""
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0].deadline if self._timers else None

    def fire_due(self) -> int:
        """Run every timer whose deadline has passed, earliest first; return how many ran.

        Timers scheduled by a callback for a time already passed run in the same call, so a chain
        of phases (queued -> in_progress -> completed) completes in one advance.
        """
        fired = 0
        while self._timers:
            top = self._timers[0]
            if top.cancelled:
                heapq.heappop(self._timers)
                continue
            if top.deadline > self.now():
                break
            heapq.heappop(self._timers)
            top.callback()
            fired += 1
        return fired

    def advance(self, seconds: float) -> int:
        """Move time forward by ``seconds`` and fire what became due; return how many fired."""
        if seconds < 0:
            raise ValueError("cannot move the clock backwards")
        self._offset += seconds
        return self.fire_due()

    def pending(self) -> int:
        """Number of timers not yet fired or cancelled."""
        return sum(1 for t in self._timers if not t.cancelled)


class VirtualClock(Clock):
    """A clock that stands still until advanced.

    Args:
        start: The frozen time, seconds since the epoch. Defaults to the real time at creation,
            rounded down to a whole second, so ``created_at`` values look real.
    """

    def __init__(self, start: float | None = None) -> None:
        super().__init__(float(int(time.time())) if start is None else start)

    def _source(self) -> float:
        return 0.0


class RealClock(Clock):
    """Wall-clock time (``time.time()``) plus any offset added with :meth:`advance`."""

    def _source(self) -> float:
        return time.time()
