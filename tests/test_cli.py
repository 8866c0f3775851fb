"""``resplay serve``: the ready line, ``--port 0``, clean shutdown on SIGINT/SIGTERM."""

from __future__ import annotations

import gc
import re
import signal
import subprocess
import sys

import openai
import pytest

from mockserver import MockServer

READY = re.compile(r"^resplay listening on http://127\.0\.0\.1:(\d+)/v1$")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_one_ready_line_and_stops_cleanly(sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--seed", "3", "--clock", "virtual"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().rstrip("\n")
        match = READY.match(line)
        assert match, line
        port = int(match.group(1))
        with openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0) as client:
            assert client.responses.create(model="gpt-5.5", input="ping").status == "completed"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out == ""  # exactly one line on stdout
    assert "Traceback" not in err


def test_serve_warns_when_not_loopback() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("resplay listening on http://0.0.0.0:")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert "warning: listening on 0.0.0.0" in err


def test_two_in_process_servers_get_their_own_ports() -> None:
    with MockServer() as a, MockServer() as b:
        assert a.port != b.port
        assert a.ws_url == f"ws://127.0.0.1:{a.port}/v1/responses"
        assert b.base_url == f"http://127.0.0.1:{b.port}/v1"
    assert a.port is not None  # stop() keeps the last address for messages


def test_the_server_process_tunes_its_collector_and_mockserver_leaves_it_alone() -> None:
    """``resplay serve`` freezes its start-up heap and raises the collection thresholds (its process is
    its own); ``MockServer`` runs inside the user's process and must not touch either."""
    code = (
        "import gc; from mockserver.cli import tune_collector; tune_collector(); "
        "print(gc.get_threshold(), gc.get_freeze_count() > 1000)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["(50000,", "50,", "100)", "True"]

    before = (gc.get_threshold(), gc.get_freeze_count())
    with MockServer():
        pass
    assert (gc.get_threshold(), gc.get_freeze_count()) == before
