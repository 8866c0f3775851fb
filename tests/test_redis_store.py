"""Issue 12, shared state: the Redis store (``--store redis://HOST:PORT/DB``).

A real ``redis-server`` (Debian's package; ``.ci/run`` installs it) runs on a free loopback port for the
test session; without the binary these tests skip with the reason. The headline test starts two real
``resplay serve`` processes on one Redis and drives them alternately with the openai client; the rest
check the store contract against the memory and SQLite stores, the cross-process rules, the key
namespace and the outage answers.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest

pytest.importorskip("redis", reason="the redis client is not installed (pip install 'resplay[redis]')")

import redis
from serve_process import ready_port, spawn

from mockserver import MockServer
from mockserver.clock import VirtualClock
from mockserver.config import ServerConfig
from mockserver.engine import Engine
from mockserver.errors import InvalidRequest
from mockserver.redis_store import RedisStore
from mockserver.store import RESTART_MESSAGE, Store, StoredResponse, open_store

from fidelity import assert_faithful

MODEL = "gpt-5.5"


# ------------------------------------------------------------------------------------ redis-server


@dataclass
class RedisServer:
    """One ``redis-server`` child on loopback, without persistence."""

    proc: subprocess.Popen[str]
    port: int

    def url(self, prefix: str | None = None, db: int = 0) -> str:
        query = f"?prefix={prefix}" if prefix else ""
        return f"redis://127.0.0.1:{self.port}/{db}{query}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=db)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.communicate(timeout=10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_redis(port: int | None = None) -> RedisServer:
    """Start ``redis-server`` and return once it accepts connections (its own log line says so)."""
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "redis-server is not on PATH (Debian: apt-get install redis-server; .ci/run installs it)"
        if os.environ.get("RESPLAY_REQUIRE_REDIS"):  # set by .ci/run: in CI these tests must run
            pytest.fail(reason)
        pytest.skip(reason)
    port = port or _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line)
        if "Ready to accept connections" in line:
            return RedisServer(proc, port)
    proc.wait(timeout=10)
    raise AssertionError("redis-server did not start:\n" + "".join(seen[-20:]))


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole test session (per xdist worker); killed at the end."""
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture
def url(redis_server: RedisServer) -> str:
    """A fresh key namespace per test, so tests never see each other's keys."""
    return redis_server.url(prefix=f"t{uuid.uuid4().hex[:12]}")


# --------------------------------------------------------------------------- two resplay processes


def _serve(store: str, *extra: str) -> subprocess.Popen[str]:
    return spawn("--store", store, *extra)


def _ready(proc: subprocess.Popen[str]) -> int:
    return ready_port(proc)


def _admin(port: int, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/_resplay/{path}",
        data=json.dumps(body or {}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
        return json.loads(answer.read())


def _client(port: int) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key="sk-test",
        max_retries=0,
        _strict_response_validation=True,
    )


def test_two_processes_on_one_redis_serve_one_client_alternately(url: str) -> None:
    # The same --seed on purpose: each process mixes its own number into the seeded ids (no collisions).
    options = ("--clock", "virtual", "--seed", "7")
    procs = [_serve(url, *options) for _ in range(2)]  # both boot at once (about 1 s)
    try:
        port_a, port_b = (_ready(p) for p in procs)
        with _client(port_a) as a, _client(port_b) as b:
            first = a.responses.create(model=MODEL, input="Remember the number 42.")
            second = b.responses.create(
                model=MODEL,
                previous_response_id=first.id,
                input=[{"role": "user", "content": "And 43."}, {"role": "user", "content": "And 44."}],
            )
            assert second.previous_response_id == first.id
            # B walked A's record: the chain's tokens are counted (more than the new input alone).
            alone = b.responses.input_tokens.count(
                model=MODEL,
                input=[{"role": "user", "content": "And 43."}, {"role": "user", "content": "And 44."}],
            ).input_tokens
            assert second.usage is not None and second.usage.input_tokens > alone
            assert a.responses.retrieve(second.id).model_dump(mode="json") == second.model_dump(mode="json")
            items = b.responses.input_items.list(second.id, order="asc")
            assert [i.content[0].text for i in items.data] == ["And 43.", "And 44."]  # type: ignore[union-attr]
            assert (
                a.responses.input_items.list(first.id).data[0].id
                == b.responses.input_items.list(first.id).data[0].id
            )

            # WebSocket mode on B continues A's stored HTTP response, and A serves what B's socket made.
            ws_client = openai.OpenAI(
                base_url=f"http://127.0.0.1:{port_b}/v1",
                websocket_base_url=f"ws://127.0.0.1:{port_b}/v1",
                api_key="sk-test",
                max_retries=0,
            )
            with ws_client.responses.connect() as conn:
                conn.response.create(model=MODEL, input="And over a socket?", previous_response_id=second.id)
                ended = next(e for e in conn if e.type in ("response.completed", "error"))
            assert ended.type == "response.completed"
            over_ws = a.responses.retrieve(ended.response.id)  # type: ignore[union-attr]
            assert over_ws.previous_response_id == second.id and over_ws.output_text

            a.responses.delete(first.id)
            with pytest.raises(openai.NotFoundError):
                b.responses.retrieve(first.id)
            with pytest.raises(openai.BadRequestError) as unchained:
                b.responses.create(model=MODEL, input="x", previous_response_id=first.id)
            assert unchained.value.code == "previous_response_not_found"

            # A background job runs in A; B polls it through the store as A's clock moves it.
            job = a.responses.create(model=MODEL, input="Write a haiku.", background=True)
            assert b.responses.retrieve(job.id).status == "queued"
            _admin(port_a, "clock/advance", {"seconds": 1.5})
            assert b.responses.retrieve(job.id).status == "in_progress"
            _admin(port_a, "clock/advance", {"seconds": 5})
            done = b.responses.retrieve(job.id)
            assert done.status == "completed" and done.output_text
            assert a.responses.retrieve(job.id).model_dump(mode="json") == done.model_dump(mode="json")

            # A cancel sent to B ends the job running in A; A stops it and a resumed stream on A ends.
            doomed = a.responses.create(model=MODEL, input="Write a long poem.", background=True, stream=True)
            doomed_id = next(iter(doomed)).response.id  # type: ignore[union-attr]
            doomed.close()
            _admin(port_a, "clock/advance", {"seconds": 1.5})
            cancelled = b.responses.cancel(doomed_id)
            assert cancelled.status == "cancelled"
            assert a.responses.retrieve(doomed_id).status == "cancelled"
            events = list(a.responses.retrieve(doomed_id, stream=True))
            assert events[-1].type == "response.failed"
            assert events[-1].response.status == "cancelled"  # type: ignore[union-attr]
            assert [e.sequence_number for e in events] == list(range(len(events)))
            _admin(port_a, "clock/advance", {"seconds": 10})  # A's timers must not revive it
            raw = b.responses.with_raw_response.retrieve(doomed_id).http_response.json()
            assert raw["status"] == "cancelled"
            assert_faithful(raw)

            ids = [first.id, second.id, job.id, doomed_id]
            assert len(set(ids)) == len(ids)

            # A stops (SIGTERM) with a job still running: B then serves it ended, never running forever.
            orphan = a.responses.create(model=MODEL, input="Never finished.", background=True)
            procs[0].terminate()
            procs[0].communicate(timeout=10)
            ended = b.responses.with_raw_response.retrieve(orphan.id).http_response.json()
            assert ended["status"] == "failed"
            assert ended["error"] == {"code": "server_error", "message": RESTART_MESSAGE}
            assert_faithful(ended)
    finally:
        for proc in procs:
            proc.terminate()
            proc.communicate(timeout=10)
    assert [p.returncode for p in procs] == [0, 0]


def test_jobs_of_a_sigkilled_process_end_failed_once_its_lease_expires(
    url: str, redis_server: RedisServer
) -> None:
    """SIGKILL leaves no chance to fail its jobs, so the survivors do it once the dead process's lease is
    gone: a poll on B then reads ``failed`` with the restart wording, and the failure is stored for all."""
    prefix = url.rsplit("prefix=", 1)[1]
    leased = f"{url}&lease=30"
    a = _serve(leased, "--clock", "virtual")
    port_a = _ready(a)  # A opens the namespace first: generation 0
    # B has a webhook endpoint (nothing listens there; the delivery is what counts): the lost job's
    # response.failed event must be queued by the process that ended it.
    hook = f"http://127.0.0.1:{_free_port()}/hook"
    b = _serve(leased, "--clock", "virtual", "--webhook-url", hook, "--webhook-secret", "whsec_dGVzdA==")
    try:
        port_b = _ready(b)
        keys = redis_server.client()
        assert 0 < keys.pttl(f"{prefix}:alive:0") <= 30_000 and keys.exists(f"{prefix}:alive:1")
        with _client(port_a) as client_a, _client(port_b) as client_b:
            job = client_a.responses.create(model=MODEL, input="Write a haiku.", background=True)
            a.kill()  # SIGKILL: A's job stays queued in Redis
            a.communicate(timeout=10)
            assert client_b.responses.retrieve(job.id).status == "queued"  # A's lease still runs
            keys.delete(f"{prefix}:alive:0")  # what 30 s without renewal would do
            lost = client_b.responses.retrieve(job.id)
            assert lost.status == "failed" and lost.error is not None
            assert lost.error.message == RESTART_MESSAGE
            _admin(port_b, "clock/advance", {"seconds": 60})
            assert client_b.responses.retrieve(job.id).status == "failed"
            with urllib.request.urlopen(f"http://127.0.0.1:{port_b}/_resplay/webhook", timeout=10) as page:
                deliveries = json.loads(page.read())["deliveries"]
            assert [(d["event"]["type"], d["event"]["data"]["id"]) for d in deliveries] == [
                ("response.failed", job.id)
            ]
    finally:
        for proc in (a, b):
            if proc.poll() is None:
                proc.terminate()
            proc.communicate(timeout=10)
    assert not keys.exists(f"{prefix}:alive:1")  # B gave its lease up on SIGTERM


class _Hooks(http.server.ThreadingHTTPServer):
    """A loopback webhook endpoint in a thread: keeps each POST and signals its arrival."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.arrived = threading.Event()
        hooks = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                hooks.received.append((body, dict(self.headers.items())))
                hooks.arrived.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


def test_a_survivor_ends_a_sigkilled_processs_jobs_and_sends_their_webhooks_unpolled(
    url: str, redis_server: RedisServer
) -> None:
    """Nobody polls the job: B's sweep finds A's expired lease, stores the job ``failed`` and delivers its
    signed ``response.failed`` webhook, as the real API notifies a failed background response."""
    prefix = url.rsplit("prefix=", 1)[1]
    secret = "whsec_dGVzdA=="
    hooks = _Hooks()
    a = _serve(f"{url}&lease=30", "--clock", "virtual")
    b = _serve(f"{url}&lease=30&sweep=0.1", "--clock", "virtual", "--webhook-url", hooks.url,
               "--webhook-secret", secret)  # fmt: skip
    try:
        port_a, _ = _ready(a), _ready(b)
        keys = redis_server.client()
        with _client(port_a) as client_a:
            job = client_a.responses.create(model=MODEL, input="Write a haiku.", background=True)
        a.kill()  # SIGKILL: A's job stays queued in Redis
        a.communicate(timeout=10)
        assert not hooks.arrived.wait(0.5)  # A's lease still runs: B leaves the job alone
        assert keys.hget(f"{prefix}:s:default:status", job.id) == b"queued"
        (owner,) = keys.hgetall(f"{prefix}:running").values()  # A's generation (A and B started together)
        keys.delete(f"{prefix}:alive:{owner.decode()}")  # what 30 s without renewal would do
        assert hooks.arrived.wait(15), "no webhook for the lost job"
        body, headers = hooks.received[0]
        event = openai.OpenAI(api_key="k", webhook_secret=secret).webhooks.unwrap(body, headers)
        assert (event.type, event.data.id) == ("response.failed", job.id)
        assert keys.hget(f"{prefix}:s:default:status", job.id) == b"failed"  # stored, before any read
    finally:
        hooks.shutdown()
        hooks.server_close()
        for proc in (a, b):
            if proc.poll() is None:
                proc.terminate()
            proc.communicate(timeout=10)
    assert len(hooks.received) == 1


def test_unreachable_redis_is_a_one_line_start_up_error() -> None:
    port = _free_port()  # nothing listens there
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mockserver",
            "serve",
            "--port",
            "0",
            "--store",
            f"redis://127.0.0.1:{port}/0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"resplay: cannot reach the store at redis://127.0.0.1:{port}/0: ")


# ------------------------------------------------------------------------- the store contract


def _record(response_id: str, status: str = "completed", **meta: Any) -> StoredResponse:
    return StoredResponse(
        response={"id": response_id, "status": status, "output": []}, input_items=[], meta=dict(meta)
    )


@pytest.fixture(params=["memory", "sqlite", "redis"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "memory":
        return open_store("memory", max_per_session=3)
    if request.param == "sqlite":
        return open_store(f"sqlite:{tmp_path / 'c.db'}", max_per_session=3)
    return open_store(request.getfixturevalue("url"), max_per_session=3)


def test_every_backend_keeps_the_same_contract(any_store: Store) -> None:
    store = any_store
    assert store.sweep() == 0  # no other process's job to end
    assert (store.sweep_every is None) == (not isinstance(store, RedisStore))
    assert store.get("a", "resp_1") is None
    store.put("a", _record("resp_1", tokens=3))
    got = store.get("a", "resp_1")
    assert got is not None and got.meta == {"tokens": 3} and got.response["status"] == "completed"
    assert store.get("b", "resp_1") is None  # sessions stay apart
    assert store.delete("a", "resp_1") is True
    assert store.delete("a", "resp_1") is False
    store.put("a", _record("resp_job", "in_progress"))
    for n in range(5):
        store.put("a", _record(f"resp_{n}"))
    store.put("b", _record("resp_b"))
    # Oldest first, a running job never evicted, a re-put keeps its age.
    assert [store.get("a", f"resp_{n}") is not None for n in range(5)] == [False, False, False, True, True]
    assert store.get("a", "resp_job") is not None
    store.put("a", _record("resp_3"))
    store.put("a", _record("resp_5"))
    assert store.get("a", "resp_3") is None and store.get("a", "resp_4") is not None
    assert (store.count("a"), store.count("b"), store.count()) == (3, 1, 4)
    store.clear("a")
    assert (store.count("a"), store.count()) == (0, 1)
    store.clear()
    assert store.count() == 0 and store.get("b", "resp_b") is None


def _response(store: RedisStore, response_id: str) -> dict[str, Any]:
    record = store.get("s", response_id)
    assert record is not None
    return record.response


def test_status_rules_make_cross_process_ends_race_free(url: str) -> None:
    store = RedisStore(url)
    store.put("s", _record("resp_a", "in_progress"))
    store.put("s", _record("resp_a", "cancelled"))  # a cancel from another process
    for late in ("in_progress", "completed", "failed"):  # the owner's later steps lose
        store.put("s", _record("resp_a", late))
        assert _response(store, "resp_a")["status"] == "cancelled"
    store.put("s", _record("resp_b", "completed"))
    store.put("s", _record("resp_b", "cancelled"))  # too late: the job had finished
    store.put("s", _record("resp_b", "queued"))  # a finished record never runs again
    assert _response(store, "resp_b")["status"] == "completed"
    store.put("s", _record("resp_b", "failed"))  # a stream fault may still fail a finished response
    assert _response(store, "resp_b")["status"] == "failed"


def test_closing_a_store_fails_only_its_own_jobs_still_running(url: str) -> None:
    mine, theirs = RedisStore(url), RedisStore(url)
    mine.put("s", _record("resp_run", "in_progress"))
    mine.put("s", _record("resp_cancelled", "queued"))
    mine.put("s", _record("resp_done", "in_progress"))
    mine.put("s", _record("resp_done", "completed"))
    theirs.put("s", _record("resp_cancelled", "cancelled"))  # a cancel from another process came first
    theirs.put("s", _record("resp_other", "in_progress"))  # another process's job: not ours to end
    mine.close()
    status = {
        rid: _response(theirs, rid) for rid in ("resp_run", "resp_cancelled", "resp_done", "resp_other")
    }
    assert {rid: r["status"] for rid, r in status.items()} == {
        "resp_run": "failed",
        "resp_cancelled": "cancelled",
        "resp_done": "completed",
        "resp_other": "in_progress",
    }
    assert status["resp_run"]["error"] == {"code": "server_error", "message": RESTART_MESSAGE}


def test_a_sweep_ends_the_jobs_of_processes_whose_lease_is_gone(url: str, redis_server: RedisServer) -> None:
    """No read needed: the sweep finds a dead owner's running jobs in every session, ends them ``failed``
    once and reports them for their webhooks; a live owner's job and finished ones are left alone."""
    prefix = url.rsplit("prefix=", 1)[1]
    dead, live, sweeper = RedisStore(url), RedisStore(url), RedisStore(url)
    dead.put("s", _record("resp_lost", "in_progress"))
    dead.put("t", _record("resp_lost_too", "queued"))
    dead.put("s", _record("resp_done", "in_progress"))
    dead.put("s", _record("resp_done", "completed"))
    dead.put("s", _record("resp_gone", "in_progress"))
    assert dead.delete("s", "resp_gone")
    live.put("s", _record("resp_live", "in_progress"))
    keys = redis_server.client()
    assert len(keys.hkeys(f"{prefix}:running")) == 3  # running jobs only: done and deleted ones left it
    assert sweeper.sweep() == 0  # every owner still holds its lease
    dead._stop.set()  # as after SIGKILL: no more renewals...
    dead._heart.join(timeout=5)
    keys.delete(f"{prefix}:alive:{dead.generation}")  # ...and the lease runs out
    assert sweeper.sweep() == 2
    assert sorted((session, r["id"], r["status"]) for session, r in sweeper.lost) == [
        ("s", "resp_lost", "failed"),
        ("t", "resp_lost_too", "failed"),
    ]
    lost = sweeper.get("t", "resp_lost_too")
    assert lost is not None and lost.response["error"]["message"] == RESTART_MESSAGE
    assert {rid: _response(live, rid)["status"] for rid in ("resp_lost", "resp_live", "resp_done")} == {
        "resp_lost": "failed",
        "resp_live": "in_progress",
        "resp_done": "completed",
    }
    assert sweeper.sweep() == 0  # ended once: nothing of the dead process is left to find
    assert len(sweeper.lost) == 2 and len(keys.hkeys(f"{prefix}:running")) == 1
    live.clear("s")  # a reset forgets the session's running jobs too
    assert keys.hkeys(f"{prefix}:running") == []


@pytest.mark.parametrize("sweep", ["0", "abc", "1e9"])
def test_a_bad_sweep_interval_is_refused_before_connecting(sweep: str) -> None:
    with pytest.raises(ValueError, match="bad Redis sweep interval"):
        RedisStore(f"redis://127.0.0.1:1/0?sweep={sweep}")  # port 1: nothing listens, never reached


def test_an_unchanged_record_is_the_same_object_and_a_changed_one_is_reread(url: str) -> None:
    mine, theirs = RedisStore(url), RedisStore(url)
    record = _record("resp_1", "in_progress")
    mine.put("s", record)
    assert mine.get("s", "resp_1") is record  # like the memory store: identity holds in its process
    theirs.put("s", _record("resp_1", "cancelled"))
    fresh = mine.get("s", "resp_1")
    assert fresh is not record and fresh is not None and fresh.response["status"] == "cancelled"


# ------------------------------------------------------------------ engines sharing one namespace


def _engine(store: str, **options: Any) -> Engine:
    return Engine(
        ServerConfig(clock="virtual", store=store, **options),
        clock_factory=lambda: VirtualClock(1_771_352_836),
    )


def test_seeded_ids_never_collide_and_the_first_process_keeps_memory_ids(url: str) -> None:
    memory = _engine("memory", seed=3).create({"model": MODEL, "input": "x"}).record
    a, b = _engine(url, seed=3), _engine(url, seed=3)
    first = a.create({"model": MODEL, "input": "x"}).record
    other = b.create({"model": MODEL, "input": "x"}).record
    assert first.id == memory.id  # a fresh namespace's first process: the memory store's sequence
    assert other.id != first.id
    assert {i["id"] for i in other.response["output"]}.isdisjoint(i["id"] for i in first.response["output"])
    assert a.retrieve(other.id) == other.response and b.retrieve(first.id) == first.response


def test_a_cancel_through_another_process_answers_what_a_local_cancel_answers(url: str) -> None:
    request = {"model": MODEL, "input": "Write a long poem.", "background": True, "stream": True}
    local = _engine("memory", seed=5)
    job = local.create(request)
    local.advance(2.0)
    expected = local.cancel(job.id)
    a, b = _engine(url, seed=5), _engine(url, seed=5)  # A is the namespace's first: the same ids
    remote = a.create(request)
    assert remote.id == job.id
    a.advance(2.0)
    assert b.cancel(remote.id) == expected  # same fields, same order, same output so far
    assert list(b.cancel(remote.id)) == list(expected)
    a.advance(1.0)  # A's next step adopts the end
    assert a.retrieve(remote.id) == expected
    assert remote.job is not None and remote.job.done
    assert remote.job.events_from(0, obfuscation=False) == job.job.events_from(0, obfuscation=False)  # type: ignore[union-attr]


def test_cancel_after_the_owner_finished_answers_the_finished_response(url: str) -> None:
    a, b = _engine(url), _engine(url)
    run = a.create({"model": MODEL, "input": "hi", "background": True})
    a.advance(10)
    assert b.cancel(run.id)["status"] == "completed"
    assert a.retrieve(run.id)["status"] == "completed"


def test_a_stream_resumed_on_another_process_follows_the_job_to_its_end(url: str) -> None:
    a, b = _engine(url), _engine(url)
    run = a.create({"model": MODEL, "input": "Write a haiku.", "background": True, "stream": True})
    mirror = b.follow(run.id)
    woken: list[int] = []
    mirror.subscribe(lambda: woken.append(len(mirror.events)))
    assert not mirror.done and len(mirror.events) == 2  # created, queued
    a.advance(1.0)  # the queued phase ends: in_progress
    b.advance(0.1)  # B reads the store on its own clock
    assert woken == [3] and not mirror.done  # + in_progress
    a.advance(5)
    b.advance(0.1)
    assert mirror.done
    assert mirror.events_from(0, obfuscation=False) == run.job.events_from(0, obfuscation=False)  # type: ignore[union-attr]
    assert mirror.events[-1]["type"] == "response.completed"
    assert b.session().clock.pending() == 0  # polling stopped


LONG_PROMPT = "Here is the project's long shared context. " * 300  # well over 1,024 tokens


def _cached(engine: Engine, session: str = "default") -> int:
    request = {"model": MODEL, "input": LONG_PROMPT, "prompt_cache_key": "k"}
    usage = engine.create(request, session=session).response["usage"]
    return int(usage["input_tokens_details"]["cached_tokens"])


def test_a_prefix_cached_through_one_process_is_a_hit_through_the_other(url: str) -> None:
    alone = _engine("memory"), _engine("memory")
    assert (_cached(alone[0]), _cached(alone[1])) == (0, 0)  # separate processes, separate caches
    a, b = _engine(url), _engine(url)
    assert _cached(a) == 0
    hit = _cached(b)
    assert hit > 1024 and hit % 128 == 0
    assert _cached(a, "other") == 0  # sessions stay apart
    a.reset("default")  # a reset clears the shared cache too, for every process
    assert _cached(b) == 0


def test_encrypted_reasoning_from_one_process_opens_in_the_other(url: str) -> None:
    a, b = _engine(url), _engine(url)
    request: dict[str, Any] = {
        "model": MODEL,
        "input": "What is 2+2?",
        "store": False,
        "reasoning": {"effort": "low"},
        "include": ["reasoning.encrypted_content"],
    }
    output = a.create(request).response["output"]
    assert any(i.get("encrypted_content") for i in output)
    again = b.create(
        {
            **request,
            "input": [
                {"role": "user", "content": "What is 2+2?"},
                *output,
                {"role": "user", "content": "And 3+3?"},
            ],
        }
    )
    assert again.response["status"] == "completed"
    # An explicit --secret still wins over the shared one: such a process cannot open the blob.
    with pytest.raises(InvalidRequest, match="could not be verified"):
        _engine(url, secret="mine").create(
            {**request, "input": [{"role": "user", "content": "What is 2+2?"}, *output]}
        )


# ------------------------------------------------------------------------------ reset and outages


def _reset(server: MockServer, everything: bool = False) -> None:
    suffix = "?all=true" if everything else ""
    request = urllib.request.Request(
        f"{server.base_url[:-3]}/_resplay/reset{suffix}", data=b"", method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def test_reset_clears_only_resplays_keys_of_its_namespace(redis_server: RedisServer) -> None:
    raw = redis_server.client()
    raw.set("someone:else", "keep me")
    ours, theirs = redis_server.url(prefix="reset-ours"), redis_server.url(prefix="reset-theirs")
    with (
        MockServer(store=ours) as server,
        MockServer(store=theirs) as neighbour,
        openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client,
        openai.OpenAI(base_url=neighbour.base_url, api_key="k", max_retries=0) as other,
    ):
        kept = client.responses.create(model=MODEL, input="x", extra_headers={"x-resplay-session": "keep"})
        dropped = client.responses.create(model=MODEL, input="y")
        next_door = other.responses.create(model=MODEL, input="z")
        _reset(server)  # the default session only
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(dropped.id)
        assert client.responses.retrieve(kept.id, extra_headers={"x-resplay-session": "keep"}).id == kept.id
        _reset(server, everything=True)
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(kept.id, extra_headers={"x-resplay-session": "keep"})
        assert other.responses.retrieve(next_door.id).id == next_door.id
    assert raw.get("someone:else") == b"keep me"
    assert not list(raw.scan_iter(match="reset-ours:s:*"))
    assert list(raw.scan_iter(match="reset-theirs:s:*"))
    raw.close()


def test_redis_outage_answers_503_server_error_and_the_server_recovers() -> None:
    own = start_redis()  # this test kills its Redis: not the shared one
    try:
        with (
            MockServer(store=own.url()) as server,
            openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client,
        ):
            before = client.responses.create(model=MODEL, input="x")
            job = client.responses.create(model=MODEL, input="y", background=True)
            own.stop()
            for call in (
                lambda: client.responses.retrieve(before.id),
                lambda: client.responses.create(model=MODEL, input="z"),
                lambda: client.responses.cancel(job.id),
            ):
                with pytest.raises(openai.InternalServerError) as failed:
                    call()
                assert failed.value.status_code == 503
                body = failed.value.response.json()
                assert body["error"]["type"] == "server_error"
                assert body["error"]["code"] == "store_unavailable"
                assert set(body["error"]) == {"message", "type", "param", "code"}
                assert failed.value.response.headers["retry-after"] == "1"
            assert server.advance(10) > 0  # the job's steps survive the outage (no crash, no 500)
            own = start_redis(own.port)  # back, empty (no persistence)
            with pytest.raises(openai.NotFoundError):
                client.responses.retrieve(before.id)
            assert client.responses.create(model=MODEL, input="again").status == "completed"
    finally:
        own.stop()


@pytest.mark.parametrize("lease", ["0", "abc", "1e9"])
def test_a_bad_lease_is_refused_before_connecting(lease: str) -> None:
    with pytest.raises(ValueError, match="bad Redis lease"):
        RedisStore(f"redis://127.0.0.1:1/0?lease={lease}")  # port 1: nothing listens, never reached
