"""Issue 12, storage: the SQLite backend survives SIGKILL; per-session limits evict oldest first.

The crash test kills a real ``resplay serve --store sqlite:PATH`` process and restarts it on the same
file; the rest drives the pure engine (breadth) and a ``MockServer`` (eviction over HTTP).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import openai
import pytest
from serve_process import ready_port, spawn

from mockserver import MockServer
from mockserver.config import ServerConfig
from mockserver.engine import Engine
from mockserver.errors import NotFound
from mockserver.sqlite_store import RESTART_MESSAGE, SqliteStore, record_from_json, record_to_json
from mockserver.store import MemoryStore, Store, StoredResponse, open_store

from fidelity import assert_faithful


def _serve(db: Path) -> tuple[subprocess.Popen[str], int]:
    # No --seed: a seeded restart would hand out the same ids again (README, "Persistence").
    proc = spawn("--clock", "virtual", "--store", f"sqlite:{db}")
    return proc, ready_port(proc)


def _advance(port: int, seconds: float) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/_resplay/clock/advance",
        data=json.dumps({"seconds": seconds}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def _client(port: int) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test", max_retries=0)


def test_sigkill_then_restart_serves_every_completed_response_chain_and_input_items(tmp_path: Path) -> None:
    db = tmp_path / "state" / "resplay.db"
    proc, port = _serve(db)
    try:
        with _client(port) as client:
            first = client.responses.create(model="gpt-5.5", input="Remember the number 42.")
            second = client.responses.create(
                model="gpt-5.5",
                previous_response_id=first.id,
                input=[{"role": "user", "content": "And 43."}, {"role": "user", "content": "And 44."}],
            )
            other = client.responses.create(
                model="gpt-5.5", input="in another session", extra_headers={"x-resplay-session": "other"}
            )
            gone = client.responses.create(model="gpt-5.5", input="deleted before the crash")
            client.responses.delete(gone.id)
            running = client.responses.create(model="gpt-5.5", input="slow", background=True)
            _advance(port, 1.5)  # ``running`` is in_progress now
            queued = client.responses.create(model="gpt-5.5", input="slower", background=True)
            assert client.responses.retrieve(running.id).status == "in_progress"
            assert queued.status == "queued"
            before = {r.id: client.responses.retrieve(r.id).model_dump(mode="json") for r in (first, second)}
            items_before = client.responses.input_items.list(second.id).model_dump(mode="json")
            tokens_before = client.responses.input_tokens.count(
                model="gpt-5.5", previous_response_id=second.id, input="next"
            ).input_tokens
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    proc, port = _serve(db)
    try:
        with _client(port) as client:
            for response_id, dumped in before.items():
                assert client.responses.retrieve(response_id).model_dump(mode="json") == dumped
            assert client.responses.input_items.list(second.id).model_dump(mode="json") == items_before
            assert len(items_before["data"]) == 2
            # The whole chain is still walked: the same count, and a continuation is accepted.
            assert (
                client.responses.input_tokens.count(
                    model="gpt-5.5", previous_response_id=second.id, input="next"
                ).input_tokens
                == tokens_before
            )
            third = client.responses.create(model="gpt-5.5", previous_response_id=second.id, input="next")
            assert third.status == "completed"
            assert (
                client.responses.retrieve(other.id, extra_headers={"x-resplay-session": "other"}).status
                == "completed"
            )
            with pytest.raises(openai.NotFoundError):
                client.responses.retrieve(other.id)  # sessions stay apart
            with pytest.raises(openai.NotFoundError):
                client.responses.retrieve(gone.id)  # a delete is durable too
            for job in (running, queued):
                raw = client.responses.with_raw_response.retrieve(job.id).http_response.json()
                assert_faithful(raw)
                assert raw["status"] == "failed"
                assert raw["error"] == {"code": "server_error", "message": RESTART_MESSAGE}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)
    assert proc.returncode == 0


# ------------------------------------------------------------------------------------- pure engine


def _engine(db: Path, **options: Any) -> Engine:
    return Engine(ServerConfig(clock="virtual", store=f"sqlite:{db}", **options))


def test_orphaned_background_stream_ends_with_response_failed_on_reopen(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    engine = _engine(db)
    run = engine.create({"model": "gpt-5.5", "input": "hi", "background": True, "stream": True})
    engine.advance(1.5)
    response_id = run.record.id
    engine.store.close()  # type: ignore[attr-defined]  # the process "dies": its job is gone

    reopened = _engine(db)
    assert isinstance(reopened.store, SqliteStore) and reopened.store.recovered == 1
    events = reopened.follow(response_id).events_from(0, obfuscation=False)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["status"] == "failed"
    for event in events:
        assert_faithful(event, "event")
    assert reopened.retrieve(response_id)["status"] == "failed"
    # Recovery happens once: a third open finds nothing left running.
    assert SqliteStore(db).recovered == 0


def test_finished_background_job_is_persisted_in_its_terminal_state(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    engine = _engine(db)
    run = engine.create({"model": "gpt-5.5", "input": "hi", "background": True})
    engine.advance(10)
    assert engine.retrieve(run.record.id)["status"] == "completed"
    assert _engine(db).retrieve(run.record.id) == engine.retrieve(run.record.id)


def test_record_round_trips_through_orjson() -> None:
    record = StoredResponse(
        response={"id": "resp_1", "status": "completed", "output": [{"x": "é"}]},
        input_items=[{"id": "msg_1"}],
        parent_id="resp_0",
        stored=False,
        events=[{"type": "response.created", "sequence_number": 0}],
        meta={"input_tokens": 3, "stream": True},
    )
    assert record_from_json(record_to_json(record)) == record


def test_open_store_names_its_backends(tmp_path: Path) -> None:
    assert isinstance(open_store("memory"), MemoryStore)
    assert isinstance(open_store(f"sqlite:{tmp_path / 'x.db'}"), SqliteStore)
    for bad in ("sqlite:", "redis:localhost", "mem"):
        with pytest.raises(ValueError, match="unknown store"):
            open_store(bad)


def test_cli_rejects_a_bad_store_before_binding() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--store", "postgres://x"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "bad --store" in done.stderr


# ------------------------------------------------------------------------------------------ limits


def _record(response_id: str, status: str = "completed") -> StoredResponse:
    return StoredResponse(response={"id": response_id, "status": status, "output": []}, input_items=[])


@pytest.fixture(params=["memory", "sqlite"])
def bounded(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    spec = "memory" if request.param == "memory" else f"sqlite:{tmp_path / 'b.db'}"
    return open_store(spec, max_per_session=3)


def test_limit_evicts_oldest_first_per_session(bounded: Store) -> None:
    for n in range(5):
        bounded.put("a", _record(f"resp_{n}"))
    bounded.put("b", _record("resp_b"))
    assert [bounded.get("a", f"resp_{n}") is not None for n in range(5)] == [False, False, True, True, True]
    assert bounded.count("a") == 3 and bounded.count("b") == 1
    # Re-putting a record (a background job's update) keeps its age and evicts nothing.
    bounded.put("a", _record("resp_2"))
    assert bounded.count("a") == 3
    bounded.put("a", _record("resp_5"))
    assert bounded.get("a", "resp_2") is None and bounded.get("a", "resp_3") is not None


def test_limit_never_evicts_a_running_background_job(bounded: Store) -> None:
    bounded.put("a", _record("resp_job", "in_progress"))
    for n in range(4):
        bounded.put("a", _record(f"resp_{n}"))
    assert bounded.get("a", "resp_job") is not None
    assert bounded.get("a", "resp_0") is None


def test_limit_over_http_evicted_responses_are_404_and_unchainable() -> None:
    with (
        MockServer(max_stored_responses=2) as server,
        openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client,
    ):
        ids = [client.responses.create(model="gpt-5.5", input=f"n{n}").id for n in range(3)]
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(ids[0])
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.create(model="gpt-5.5", input="x", previous_response_id=ids[0])
        assert caught.value.code == "previous_response_not_found"
        assert client.responses.retrieve(ids[2]).id == ids[2]


def test_limit_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_stored_responses"):
        ServerConfig(max_stored_responses=0)


def test_engine_delete_is_durable(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    engine = _engine(db)
    response_id = engine.create({"model": "gpt-5.5", "input": "x"}).record.id
    engine.delete(response_id)
    with pytest.raises(NotFound):
        _engine(db).retrieve(response_id)


def test_seeded_engine_reopening_a_file_never_reuses_an_earlier_boots_ids(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    first = Engine(ServerConfig(clock="virtual", seed=9, store=f"sqlite:{db}"))
    old = first.create({"model": "gpt-5.5", "input": "first boot"}).record.id
    fresh = Engine(ServerConfig(clock="virtual", seed=9)).create({"model": "gpt-5.5", "input": "x"}).record.id
    assert fresh == old  # a fresh file keeps the seeded ids reproducible
    again = Engine(ServerConfig(clock="virtual", seed=9, store=f"sqlite:{db}"))
    new = again.create({"model": "gpt-5.5", "input": "second boot"}).record.id
    assert new != old
    assert again.retrieve(old)["output"] == first.retrieve(old)["output"]
