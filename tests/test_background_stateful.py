"""Seeded stateful tests of background mode: many concurrent jobs, random cancels, polls and resumes.

Properties (issue 4 acceptance): every job ends in exactly one terminal status, and no stream reader that
drops its connection and resumes (``starting_after`` or the SDK's replay-from-0-and-filter) loses or
repeats an event. The big run (1,000 jobs) drives the pure engine; a smaller one drives the same rules
over HTTP with real SSE connections.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, Phase, settings, strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from mockserver import Engine, MockServer, ServerConfig, TextReply
from mockserver.background import BackgroundTiming, Job
from mockserver.errors import InvalidRequest
from mockserver.script import ErrorReply
from mockserver.sse import SSEDecoder

TERMINAL = ("completed", "failed", "incomplete", "cancelled")
TERMINAL_EVENTS = ("response.completed", "response.failed", "response.incomplete")
ORDER = {"queued": 0, "in_progress": 1, **dict.fromkeys(TERMINAL, 2)}
JOBS = 1000
HTTP_JOBS = 40


def make_replies(rng: random.Random, engine: Engine, count: int) -> list[dict[str, Any]]:
    """Random request options, queuing the replies they need (timings, 5xx failures, long outputs)."""
    requests = []
    for index in range(count):
        timing = BackgroundTiming(rng.choice((0, 0.5, 1, 2, 5)), rng.choice((0, 1, 2, 4, 8, 16)))
        roll = rng.random()
        if roll < 0.08:
            engine.queue_reply(ErrorReply(500, f"boom {index}", "server_error", background=timing))
        else:
            words = " ".join(f"w{index}x{k}" for k in range(rng.randint(1, 12)))
            engine.queue_reply(TextReply(words, background=timing))
        body: dict[str, Any] = {"model": "gpt-4o", "input": f"job {index}", "background": True}
        body["stream"] = rng.random() < 0.6
        if rng.random() < 0.05:
            body["max_output_tokens"] = 16  # some end incomplete
        requests.append(body)
    return requests


@dataclass
class Reader:
    """A stream client: the events it got, and what its job's listener told it."""

    response_id: str
    got: list[dict[str, Any]] = field(default_factory=list)
    notified: int = 0
    """How many times the job's listener was called."""
    checked: tuple[int, int] = (0, 0)
    """(notifications, released events) at the last look: more events later need more notifications."""
    unsubscribe: Any = None

    @property
    def last(self) -> int:
        return self.got[-1]["sequence_number"] if self.got else -1


class EngineJobs(RuleBasedStateMachine):
    """1,000 background jobs on one engine and its virtual clock, 200 stream clients among them."""

    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(ServerConfig(seed=11, clock="virtual"))
        self.ids: list[str] = []
        self.streamed: list[str] = []
        self.history: dict[str, list[str]] = {}
        self.readers: list[Reader] = []
        self.foreground: list[str] = []
        self.outputs: dict[str, list[list[str]]] = {}
        self.rng = random.Random(0)

    @initialize(seed=st.integers(0, 2**32))
    def create_jobs(self, seed: int) -> None:
        self.rng = random.Random(seed)
        for body in make_replies(self.rng, self.engine, JOBS):
            run = self.engine.create(body)
            assert run.response["status"] == "queued" and not run.done
            self.ids.append(run.id)
            self.history[run.id] = ["queued"]
            if body["stream"]:
                self.streamed.append(run.id)
                if len(self.readers) < 200:  # the create's own stream: it has created + queued
                    reader = Reader(run.id, got=list(run.events))
                    self.readers.append(reader)
                    self.subscribe(reader)
        for _ in range(5):
            self.foreground.append(self.engine.create({"model": "gpt-4o", "input": "hi"}).id)

    def job(self, response_id: str) -> Job:
        return self.engine.session().jobs[response_id]

    # --- rules ------------------------------------------------------------------------------------

    @rule(seconds=st.sampled_from((0.0, 0.05, 0.1, 0.25, 0.5, 1.0)))
    def advance(self, seconds: float) -> None:
        self.engine.advance(seconds)
        for reader in self.readers:  # every release reached every subscribed listener
            self.check_notified(reader)

    @rule(index=st.integers(0, JOBS - 1))
    def poll(self, index: int) -> None:
        response_id = self.ids[index]
        response = self.engine.retrieve(response_id)
        self.observe(response_id, response)
        if response["status"] not in TERMINAL:
            assert response["usage"] is None
        self.outputs.setdefault(response_id, []).append([item["id"] for item in response["output"]])

    @rule(index=st.integers(0, JOBS - 1))
    def cancel(self, index: int) -> None:
        response_id = self.ids[index]
        before = self.engine.retrieve(response_id)
        after = self.engine.cancel(response_id)
        if before["status"] in TERMINAL:
            assert after == before, "cancelling a finished job must return it unchanged"
        else:
            assert after["status"] == "cancelled"
        assert self.engine.cancel(response_id) == after, "cancel is idempotent"
        self.observe(response_id, after)

    @rule(index=st.integers(0, 4))
    def cancel_foreground(self, index: int) -> None:
        with pytest.raises(InvalidRequest, match="synchronous"):
            self.engine.cancel(self.foreground[index])

    @rule(index=st.integers(0, 10_000))
    def open_stream(self, index: int) -> None:
        """A new client reads a stream from 0 (the SDK's resume helper replays from the start)."""
        reader = Reader(self.streamed[index % len(self.streamed)])
        self.readers.append(reader)
        self.subscribe(reader)

    @rule(index=st.integers(0, 10_000), take=st.integers(1, 12))
    def read(self, index: int, take: int) -> None:
        """A connected client reads up to ``take`` of the events released so far."""
        reader = self.readers[index % len(self.readers)]
        self.check_notified(reader)
        reader.got.extend(self.job(reader.response_id).events_from(reader.last + 1)[:take])

    @rule(index=st.integers(0, 10_000), from_zero=st.booleans(), take=st.integers(0, 12))
    def drop_and_resume(self, index: int, from_zero: bool, take: int) -> None:
        """The connection drops; the client resumes with ``starting_after`` or replays from 0 and filters."""
        reader = self.readers[index % len(self.readers)]
        self.resume(reader, from_zero, take)

    # --- helpers and checks -----------------------------------------------------------------------

    def resume(self, reader: Reader, from_zero: bool, take: int) -> None:
        reader.unsubscribe()
        job = self.engine.follow(reader.response_id)
        if from_zero:
            batch = [e for e in job.events_from(0) if e["sequence_number"] > reader.last]
        else:
            batch = job.events_from(reader.last + 1)
        reader.got.extend(batch[:take])
        self.subscribe(reader)

    def subscribe(self, reader: Reader) -> None:
        def listener() -> None:
            reader.notified += 1

        reader.unsubscribe = self.engine.follow(reader.response_id).subscribe(listener)
        reader.checked = (reader.notified, len(self.job(reader.response_id).events))

    def check_notified(self, reader: Reader) -> None:
        released = len(self.job(reader.response_id).events)
        notified, known = reader.checked
        if released > known:
            assert reader.notified > notified, "a release did not notify a subscribed listener"
        reader.checked = (reader.notified, released)

    def observe(self, response_id: str, response: dict[str, Any]) -> None:
        status = response["status"]
        seen = self.history[response_id]
        assert ORDER[status] >= ORDER[seen[-1]], f"status went back: {seen[-1]} -> {status}"
        if seen[-1] in TERMINAL:
            assert status == seen[-1], f"a second terminal status: {seen[-1]} -> {status}"
        seen.append(status)

    @invariant()
    def readers_never_skip_or_repeat(self) -> None:
        for reader in self.readers:
            got = reader.got
            assert not got or got[-1]["sequence_number"] == len(got) - 1, "lost or repeated an event"

    def teardown(self) -> None:
        if not self.ids:
            return
        self.engine.advance(60)  # longer than any job's phases
        for response_id in self.ids:
            job = self.job(response_id)
            response = self.engine.retrieve(response_id)
            self.observe(response_id, response)
            assert response["status"] in TERMINAL and job.done
            kinds = [e["type"] for e in job.events]
            assert sum(k in TERMINAL_EVENTS for k in kinds) == 1 and kinds[-1] in TERMINAL_EVENTS
            assert job.events[-1]["response"]["status"] == response["status"]
            assert [e["sequence_number"] for e in job.events] == list(range(len(job.events)))
            assert len({s for s in self.history[response_id] if s in TERMINAL}) == 1
            final = [item["id"] for item in response["output"]]
            for seen in self.outputs.get(response_id, ()):  # GET showed the output produced so far
                assert seen == final[: len(seen)]
        for reader in self.readers:
            # Finish in small pieces, dropping and resuming in between, as a flaky client would.
            while reader.last < len(self.job(reader.response_id).events) - 1:
                self.check_notified(reader)
                self.resume(reader, self.rng.random() < 0.5, self.rng.randint(1, 5))
            assert reader.got == self.job(reader.response_id).events, "a resumed stream lost or repeated"
            reader.unsubscribe()
        assert all(self.job(r).listener_count == 0 for r in self.streamed)


TestEngineJobs = EngineJobs.TestCase
TestEngineJobs.settings = settings(
    max_examples=5,
    stateful_step_count=150,
    derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking 1,000 jobs takes minutes
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- the same rules end to end over HTTP ---------------------------------------------------------------


def read_events(answer: Any, count: int | None) -> list[dict[str, Any]]:
    """Read ``count`` SSE events (``None``: to the end of the stream) from a streaming httpx2 answer."""
    decoder = SSEDecoder()
    events: list[dict[str, Any]] = []
    for chunk in answer.iter_bytes():
        events += [m.json() for m in decoder.feed(chunk)]
        if count is not None and len(events) >= count:
            break
    if count is None:
        events += [m.json() for m in decoder.flush()]
    assert count is None or len(events) == count
    return events


class HttpJobs(RuleBasedStateMachine):
    """Background jobs over real HTTP: SSE connections dropped mid-stream and resumed."""

    server: MockServer

    def __init__(self) -> None:
        super().__init__()
        self.server.reset()
        self.http = httpx2.Client(
            base_url=self.server.url, headers={"authorization": "Bearer sk-test"}, timeout=5
        )
        self.ids: list[str] = []
        self.streamed: list[str] = []
        self.got: dict[str, list[dict[str, Any]]] = {}
        self.terminal: dict[str, set[str]] = {}

    def available(self, response_id: str) -> int:
        with self.server.engine.lock:
            job = self.server.engine.session().jobs[response_id]
            return len(job.events) if not job.done else -1

    @initialize(seed=st.integers(0, 2**32))
    def create_jobs(self, seed: int) -> None:
        with self.server.engine.lock:
            bodies = make_replies(random.Random(seed), self.server.engine, HTTP_JOBS)
        for body in bodies:
            if body["stream"]:
                with self.http.stream("POST", "/v1/responses", json=body) as answer:
                    events = read_events(answer, 2)  # created + queued, then the client drops
                response_id = events[0]["response"]["id"]
                self.streamed.append(response_id)
                self.got[response_id] = events
            else:
                response_id = self.http.post("/v1/responses", json=body).json()["id"]
            self.ids.append(response_id)
            self.terminal[response_id] = set()

    @rule(seconds=st.sampled_from((0.25, 0.5, 1.0, 2.0)))
    def advance(self, seconds: float) -> None:
        self.http.post("/_resplay/clock/advance", json={"seconds": seconds}).raise_for_status()

    @rule(index=st.integers(0, HTTP_JOBS - 1))
    def poll(self, index: int) -> None:
        status = self.http.get(f"/v1/responses/{self.ids[index]}").json()["status"]
        if status in TERMINAL:
            self.terminal[self.ids[index]].add(status)

    @rule(index=st.integers(0, HTTP_JOBS - 1))
    def cancel(self, index: int) -> None:
        answer = self.http.post(f"/v1/responses/{self.ids[index]}/cancel")
        assert answer.status_code == 200
        self.terminal[self.ids[index]].add(answer.json()["status"])

    @precondition(lambda self: self.streamed)
    @rule(index=st.integers(0, 10_000), from_zero=st.booleans())
    def resume(self, index: int, from_zero: bool) -> None:
        """Reconnect, read what the job has released so far, and drop the connection again."""
        response_id = self.streamed[index % len(self.streamed)]
        got = self.got[response_id]
        last = got[-1]["sequence_number"] if got else -1
        available = self.available(response_id)
        params = {"stream": "true"} if from_zero else {"stream": "true", "starting_after": str(last)}
        start = 0 if from_zero else last + 1
        count = None if available < 0 else available - start
        if count == 0:
            return
        with self.http.stream("GET", f"/v1/responses/{response_id}", params=params) as answer:
            assert answer.status_code == 200
            events = read_events(answer, count)
        got.extend(e for e in events if e["sequence_number"] > last)

    def teardown(self) -> None:
        try:
            if not self.ids:
                return
            self.advance(30)
            for response_id in self.ids:
                status = self.http.get(f"/v1/responses/{response_id}").json()["status"]
                assert status in TERMINAL
                self.terminal[response_id].add(status)
                assert len(self.terminal[response_id]) == 1, self.terminal[response_id]
            for response_id in self.streamed:
                got = self.got[response_id]
                with self.http.stream(
                    "GET",
                    f"/v1/responses/{response_id}",
                    params={"stream": "true", "starting_after": str(got[-1]["sequence_number"])},
                ) as answer:
                    got += read_events(answer, None)
                full = self.http.get(f"/v1/responses/{response_id}", params={"stream": "true"})
                decoder = SSEDecoder()
                replay = [m.json() for m in decoder.feed(full.content) + decoder.flush()]
                assert got == replay, "a resumed stream lost or repeated an event"
                assert got[-1]["type"] in TERMINAL_EVENTS
                assert sum(e["type"] in TERMINAL_EVENTS for e in got) == 1
        finally:
            self.http.close()


def test_http_jobs(server: MockServer) -> None:
    HttpJobs.server = server
    run_state_machine_as_test(
        HttpJobs,
        settings=settings(
            max_examples=3,
            stateful_step_count=60,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    # The machine's rules assert the invariants (one terminal status, resumed streams neither lose nor repeat
    # events); here: its last example really drove background creates and stream resumes over HTTP.
    journal = server.journal()
    creates = [e for e in journal if e["method"] == "POST" and e["path"] == "/v1/responses"]
    resumes = [e for e in journal if e["method"] == "GET" and e["query"].get("stream") == "true"]
    assert creates
    assert all(e["body"]["background"] is True for e in creates)
    assert resumes
