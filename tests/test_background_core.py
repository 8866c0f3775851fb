"""The pure background-job core (mockserver.background) without HTTP: timing, listeners, replay."""

from __future__ import annotations

import pytest

from mockserver import BackgroundTiming, Engine, ServerConfig, TextReply
from mockserver.background import Job, obfuscate, resume, timing_from_json
from mockserver.errors import InvalidRequest
from mockserver.store import StoredResponse


def engine() -> Engine:
    return Engine(ServerConfig(seed=3, clock="virtual"))


def test_timing_validation() -> None:
    assert timing_from_json({"queued": 2}) == BackgroundTiming(2, 2.0)
    for bad in ({"queued": -1}, {"in_progress": "x"}, {"queued": True}, {"later": 1}, [1]):
        with pytest.raises(InvalidRequest):
            timing_from_json(bad)


def test_events_are_spread_over_the_in_progress_phase() -> None:
    e = engine()
    e.queue_reply(TextReply("one two three", background=BackgroundTiming(queued=1, in_progress=4)))
    run = e.create({"model": "gpt-4o", "input": "hi", "background": True, "stream": True})
    assert [ev["type"] for ev in run.events] == ["response.created", "response.queued"]
    assert run.job is not None and not run.done
    released = []
    for _ in range(12):
        e.advance(0.5)
        released.append(len(run.events))
    # Nothing more while queued, then a steady trickle (never everything at once), terminal at 1 + 4 s.
    assert released[0] == 2 and released[1] == 3
    assert released == sorted(released)
    assert len(set(released[1:10])) >= 5
    assert run.done and released[9] == len(run.events) and run.events[-1]["type"] == "response.completed"
    assert e.retrieve(run.id)["completed_at"] - e.retrieve(run.id)["created_at"] == 5


def test_a_failing_listener_is_dropped_and_the_job_goes_on() -> None:
    e = engine()
    run = e.create({"model": "gpt-4o", "input": "hi", "background": True})
    calls: list[str] = []

    def broken() -> None:
        raise RuntimeError("event loop is closed")

    run.subscribe(broken)
    unsubscribe = run.subscribe(lambda: calls.append("ok"))
    assert run.job is not None and run.job.listener_count == 2
    e.advance(1)
    assert run.job.listener_count == 1 and calls == ["ok"]
    unsubscribe()
    unsubscribe()  # idempotent
    e.advance(5)
    assert run.job.listener_count == 0 and calls == ["ok"] and run.done


def test_foreground_runs_are_done_and_never_notify() -> None:
    run = engine().create({"model": "gpt-4o", "input": "hi"})
    assert run.done and run.job is None
    run.subscribe(lambda: pytest.fail("a foreground run notified"))()


def test_replay_of_a_stored_log_without_its_job() -> None:
    e = engine()
    run = e.create({"model": "gpt-4o", "input": "hi", "background": True, "stream": True})
    e.advance(3)
    record = e.store.get("default", run.id)
    assert record is not None and record.events is run.events
    copy = StoredResponse(record.response, record.input_items, events=list(record.events))
    job = resume(copy, None, now=record.response["created_at"] + 10)
    assert isinstance(job, Job) and job.done and job.events_from(5) == run.events[5:]
    with pytest.raises(InvalidRequest, match="5 minutes"):
        resume(copy, None, now=record.response["created_at"] + 301)


def test_obfuscation_depends_only_on_id_and_sequence() -> None:
    event = {"type": "response.output_text.delta", "sequence_number": 7, "delta": "Hello"}
    padded = obfuscate(event, "resp_1")
    assert padded == obfuscate(dict(event), "resp_1") and len(padded["obfuscation"]) == 11
    assert obfuscate(event, "resp_2")["obfuscation"] != padded["obfuscation"]
    assert "obfuscation" not in obfuscate({"type": "response.output_text.done", "text": "x"}, "resp_1")


def test_latency_profile_adds_its_per_token_time() -> None:
    # DECISIONS 11: 1 s queued + 2 s in progress, plus the profile's time; `instant` adds nothing.
    paced = Engine(ServerConfig(seed=3, clock="virtual", latency="realistic"))
    text = " ".join(f"word{i}" for i in range(200))
    paced.queue_reply(TextReply(text))
    run = paced.create({"model": "gpt-4o", "input": "hi", "background": True, "stream": True})
    assert run.response["status"] == "queued"
    paced.advance(3)
    assert not run.done and paced.retrieve(run.id)["status"] == "in_progress"
    paced.advance(120)
    assert run.done and paced.retrieve(run.id)["status"] == "completed"
    instant = engine()
    instant.queue_reply(TextReply(text))
    quick = instant.create({"model": "gpt-4o", "input": "hi", "background": True})
    instant.advance(3)
    assert quick.done
