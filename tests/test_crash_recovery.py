"""Issue 12, crash recovery figures (``slow``): SIGKILL a loaded SQLite server, restart it, count.

``tests/test_persistence.py`` proves the behaviour on a handful of responses; this one measures it at a
size worth reporting (README, "Robustness"): 1,000 stored responses in 4 sessions (a quarter of them in
``previous_response_id`` chains), 60 background jobs still queued or running, one deleted response; then
SIGKILL, a restart on the same file, and a count of what came back. Loopback only, bounded.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
from serve_process import ready_port, spawn

from mockserver.store import RESTART_MESSAGE

pytestmark = pytest.mark.slow

SESSIONS = ("default", "alice", "bob", "carol")
STORED = 1000
JOBS = 60


def _serve(db: Path) -> tuple[subprocess.Popen[str], int, float]:
    """Start ``resplay serve`` on ``db``; return it, its port and the seconds until its ready line."""
    started = time.perf_counter()
    proc = spawn("--clock", "virtual", "--store", f"sqlite:{db}")
    port = ready_port(proc)
    return proc, port, time.perf_counter() - started


def _post(http: httpx2.Client, session: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post(path, content=json.dumps(body), headers={"x-resplay-session": session})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_sigkill_with_1000_stored_responses_and_60_running_jobs(tmp_path: Path) -> None:
    db = tmp_path / "resplay.db"
    proc, port, cold = _serve(db)
    stored: dict[str, tuple[str, dict[str, Any]]] = {}
    jobs: list[tuple[str, str]] = []
    try:
        with httpx2.Client(
            base_url=f"http://127.0.0.1:{port}/v1", headers={"authorization": "Bearer sk-x"}
        ) as h:
            parent: dict[str, str | None] = dict.fromkeys(SESSIONS)
            for n in range(STORED):
                session = SESSIONS[n % len(SESSIONS)]
                body: dict[str, Any] = {"model": "gpt-5.5", "input": f"message {n}"}
                if n % 4 == 0 and parent[session] is not None:
                    body["previous_response_id"] = parent[session]
                made = _post(h, session, "/responses", body)
                parent[session] = made["id"]
                stored[made["id"]] = (session, made)
            for n in range(JOBS):
                session = SESSIONS[n % len(SESSIONS)]
                job = _post(
                    h, session, "/responses", {"model": "gpt-5.5", "input": f"job {n}", "background": True}
                )
                jobs.append((session, job["id"]))
            gone_id, (gone_session, _) = next(iter(stored.items()))
            assert (
                h.delete(f"/responses/{gone_id}", headers={"x-resplay-session": gone_session}).status_code
                == 200
            )
            del stored[gone_id]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    size_mb = db.stat().st_size / 1e6 + sum(p.stat().st_size for p in tmp_path.glob("resplay.db-*")) / 1e6

    proc, port, warm = _serve(db)
    try:
        with httpx2.Client(
            base_url=f"http://127.0.0.1:{port}/v1", headers={"authorization": "Bearer sk-x"}
        ) as h:
            started = time.perf_counter()
            recovered = 0
            for response_id, (session, before) in stored.items():
                answer = h.get(f"/responses/{response_id}", headers={"x-resplay-session": session})
                recovered += answer.status_code == 200 and answer.json() == before
            read_all = time.perf_counter() - started
            failed = 0
            for session, job_id in jobs:
                job = h.get(f"/responses/{job_id}", headers={"x-resplay-session": session}).json()
                failed += job["status"] == "failed" and job["error"]["message"] == RESTART_MESSAGE
            deleted = h.get(f"/responses/{gone_id}", headers={"x-resplay-session": gone_session}).status_code
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)

    print(
        f"\ncrash recovery: {recovered}/{len(stored)} stored responses identical after SIGKILL, "
        f"{failed}/{JOBS} orphaned background jobs failed, deleted one {deleted}; "
        f"ready line {cold * 1000:.0f} ms on an empty file, "
        f"{warm * 1000:.0f} ms on the {size_mb:.1f} MB one; "
        f"reading all back {read_all:.2f} s"
    )
    assert recovered == len(stored) == STORED - 1
    assert failed == JOBS
    assert deleted == 404
