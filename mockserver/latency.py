"""Latency profiles and paced runs: *emulated* timing, never a promise about the real API.

A :class:`LatencyProfile` turns a finished response into release times for its stream events:

    t0 + overhead (+ rehydration)            response.created, response.in_progress
    ... + time to first token                first item events
    ... + tokens / tokens-per-second         each delta, each reasoning item (its reasoning tokens)
    end                                      terminal event

``instant`` (the default) releases everything at once. ``realistic`` takes the time to first token and
tokens per second from the model family and the reasoning effort, with seeded jitter; an HTTP
continuation (``previous_response_id``) pays a state rehydration cost that a WebSocket connection-local
cache hit avoids (SPEC §6.5). A :class:`Pacer` releases the events through timers on the session clock
(DECISIONS 3: latency never moves the clock), so under the virtual clock ``advance`` releases them and no
test sleeps. Pure module; the adapters follow a paced run like a background job (same listener API).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .clock import Clock, Timer
from .errors import InvalidRequest

__all__ = [
    "INSTANT",
    "PROFILES",
    "LatencyProfile",
    "Pacer",
    "offsets",
    "pace",
    "profile",
    "profile_from_json",
]


@dataclass(frozen=True, slots=True)
class LatencyProfile:
    """How long a response takes to stream (all times in seconds of the session clock).

    ``ttft`` and ``tokens_per_second`` of ``None`` take the model's values from the realistic table.
    """

    name: str = "instant"
    overhead: float = 0.0
    """Request overhead before ``response.created`` (routing, queueing)."""
    ttft: float | None = 0.0
    """Time to first token after ``response.created`` (effort multiplies it under ``realistic``)."""
    tokens_per_second: float | None = math.inf
    """Output speed, reasoning tokens included."""
    rehydrate: float = 0.0
    """Extra time of a continuation whose state is loaded from storage (HTTP ``previous_response_id``)."""
    rehydrate_per_1k: float = 0.0
    """Extra rehydration time per 1,000 input tokens of the continued context."""
    jitter: float = 0.0
    """Relative spread of ``ttft`` and speed (seeded per response id)."""
    scale: float = 1.0
    """Multiplies every duration (``0.1``: ten times faster, for benchmarks on the real clock)."""

    @property
    def instant(self) -> bool:
        """Whether every event is released at once."""
        return (
            self.overhead == 0
            and self.ttft == 0
            and self.tokens_per_second == math.inf
            and self.rehydrate == 0
            and self.rehydrate_per_1k == 0
        ) or self.scale == 0


INSTANT = LatencyProfile()

# Model family -> (time to first token, tokens per second) at effort "none": emulation figures in the
# range public measurements show for these model sizes, not measurements of the real API.
_FAMILY_SPEED: dict[str, tuple[float, float]] = {
    "nano": (0.25, 180.0),
    "mini": (0.35, 140.0),
    "gpt-4": (0.40, 90.0),
    "gpt-5": (0.45, 80.0),
    "gpt-6": (0.60, 70.0),
}
_EFFORT_TTFT = {None: 1.0, "none": 1.0, "minimal": 1.1, "low": 1.25, "medium": 1.5, "high": 2.0}

PROFILES: dict[str, LatencyProfile] = {
    "instant": INSTANT,
    "realistic": LatencyProfile(
        name="realistic",
        overhead=0.03,
        ttft=None,
        tokens_per_second=None,
        rehydrate=0.2,
        rehydrate_per_1k=0.02,
        jitter=0.1,
    ),
}


def profile(name: str, scale: float = 1.0) -> LatencyProfile:
    """A named profile (``instant`` or ``realistic``), scaled.

    Raises:
        ValueError: unknown name or negative scale.
    """
    if name not in PROFILES:
        raise ValueError(f"unknown latency profile {name!r}; expected one of {', '.join(PROFILES)}")
    if scale < 0:
        raise ValueError("latency scale must not be negative")
    return replace(PROFILES[name], scale=scale)


def profile_from_json(data: Mapping[str, Any] | str) -> LatencyProfile:
    """A custom profile (for scripted rules): a name, or ``{"base": "realistic", "ttft": 0.2, ...}``.

    Raises:
        InvalidRequest: unknown base or key, or a value that is not a non-negative number.
    """
    if isinstance(data, str):
        data = {"base": data}
    if not isinstance(data, Mapping):
        raise InvalidRequest("A latency profile must be a name or a JSON object.", param="latency")
    base = data.get("base", "instant")
    if base not in PROFILES:
        raise InvalidRequest(f"Unknown latency profile '{base}'.", param="latency")
    keys = {"overhead", "ttft", "tokens_per_second", "rehydrate", "rehydrate_per_1k", "jitter", "scale"}
    values: dict[str, float] = {}
    for key, value in data.items():
        if key == "base":
            continue
        if key not in keys:
            raise InvalidRequest(f"Unknown latency key '{key}'.", param="latency")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise InvalidRequest(f"Latency '{key}' must be a non-negative number.", param="latency")
        values[key] = float(value)
    return replace(PROFILES[base], name="custom", **values)


def _speed(model: str, effort: str | None, prof: LatencyProfile) -> tuple[float, float]:
    ttft, tps = _FAMILY_SPEED["gpt-5"]
    for marker in ("nano", "mini", "gpt-4", "gpt-6"):
        if marker in model:
            ttft, tps = _FAMILY_SPEED[marker]
            break
    ttft *= _EFFORT_TTFT.get(effort, 2.5)  # xhigh / max think longest before the first token
    return (prof.ttft if prof.ttft is not None else ttft), (
        prof.tokens_per_second if prof.tokens_per_second is not None else tps
    )


def offsets(
    events: Sequence[Mapping[str, Any]],
    prof: LatencyProfile,
    *,
    model: str,
    effort: str | None,
    rehydrate_tokens: int | None,
    seed: str,
) -> list[float]:
    """Release time of each event, in seconds after the create.

    Args:
        events: The response's stream events, ``response.created`` first.
        prof: The profile.
        model: Model name (picks the family's speed).
        effort: Effective reasoning effort.
        rehydrate_tokens: Input tokens of a continuation loaded from storage, or ``None`` when there is
            nothing to rehydrate (a new chain, or a WebSocket connection-local cache hit).
        seed: Jitter seed (the response id).
    """
    if prof.instant:
        return [0.0] * len(events)
    ttft, tps = _speed(model, effort, prof)
    if prof.jitter:
        rng = random.Random(seed)
        ttft *= 1 + rng.uniform(-prof.jitter, prof.jitter)
        tps *= 1 + rng.uniform(-prof.jitter, prof.jitter)
    per_token = 0.0 if tps == math.inf or tps <= 0 else 1.0 / tps
    start = prof.overhead
    if rehydrate_tokens is not None:
        start += prof.rehydrate + prof.rehydrate_per_1k * rehydrate_tokens / 1000.0
    out: list[float] = []
    now = start
    first = True
    for event in events:
        kind = str(event.get("type", ""))
        if kind not in ("response.created", "response.in_progress", "response.queued") and first:
            now += ttft or 0.0
            first = False
        if kind.endswith(".delta"):
            now += per_token  # deltas are token-sized (events.chunk_text)
        elif kind == "response.output_item.done" and (event.get("item") or {}).get("type") == "reasoning":
            now += per_token * _reasoning_tokens(events, event)
        elif kind == "response.function_call_arguments.done" and not _has_deltas(events):
            now += per_token * max(1, len(str(event.get("arguments", ""))) // 4)
        out.append(now * prof.scale)
    return out


def _reasoning_tokens(events: Sequence[Mapping[str, Any]], done: Mapping[str, Any]) -> int:
    """Reasoning tokens of one reasoning item: the usage's reasoning tokens split over the items."""
    final = events[-1].get("response") or {}
    usage = final.get("usage") or {}
    total = int((usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0)
    items = sum(
        1
        for e in events
        if e.get("type") == "response.output_item.done" and (e.get("item") or {}).get("type") == "reasoning"
    )
    return total // max(items, 1)


def _has_deltas(events: Sequence[Mapping[str, Any]]) -> bool:
    return any(str(e.get("type", "")).endswith("arguments.delta") for e in events)


def pace(
    events: Sequence[dict[str, Any]],
    prof: LatencyProfile,
    clock: Clock,
    *,
    model: str,
    effort: str | None,
    rehydrate_tokens: int | None,
    seed: str,
) -> Pacer:
    """A :class:`Pacer` releasing ``events`` on ``clock`` as ``prof`` says (see :func:`offsets`)."""
    release_at = offsets(
        events, prof, model=model, effort=effort, rehydrate_tokens=rehydrate_tokens, seed=seed
    )
    return Pacer(events, release_at, clock)


class Pacer:
    """Releases a foreground run's events at their offsets through timers on the session clock.

    It offers what adapters use of a background job (``events``, ``done``, ``subscribe``,
    ``events_from``), so SSE, JSON and WebSocket adapters follow it the same way. Listeners run in the
    thread that moves the clock, under the engine lock: they must only signal.
    """

    def __init__(self, events: Sequence[dict[str, Any]], release_at: Sequence[float], clock: Clock) -> None:
        self._all = list(events)
        self._offsets = list(release_at)
        self.events: list[dict[str, Any]] = []
        """Events released so far."""
        self._clock = clock
        self._start = clock.now()
        self._listeners: list[Callable[[], None]] = []
        self._timer: Timer | None = None
        self._release_due()

    @property
    def done(self) -> bool:
        """Whether every event has been released."""
        return len(self.events) == len(self._all)

    @property
    def finishes_at(self) -> float:
        """Clock time of the last event."""
        return self._start + (self._offsets[-1] if self._offsets else 0.0)

    def events_from(self, cursor: int, obfuscation: bool | None = None) -> list[dict[str, Any]]:
        """Released events from ``sequence_number == cursor`` on (padding was decided at create)."""
        return self.events[max(cursor, 0) :]

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` when events are released; returns the unsubscribe call."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _release_due(self) -> None:
        self._timer = None
        now = self._clock.now()
        released = False
        while len(self.events) < len(self._all) and self._start + self._offsets[len(self.events)] <= now:
            self.events.append(self._all[len(self.events)])
            released = True
        if not self.done:
            self._timer = self._clock.call_at(
                self._start + self._offsets[len(self.events)], self._release_due
            )
        if released:
            for listener in list(self._listeners):
                try:
                    listener()
                except Exception:  # e.g. its loop is closed: drop it
                    self.unsubscribe_all(listener)

    def unsubscribe_all(self, listener: Callable[[], None]) -> None:
        """Remove ``listener`` wherever it is."""
        while listener in self._listeners:
            self._listeners.remove(listener)
