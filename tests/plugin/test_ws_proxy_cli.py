"""``resplay serve --record UPSTREAM_URL --cassette FILE`` and ``resplay serve --replay FILE``.

The proxy runs as its own process (as a user would start it) in front of a resplay ``MockServer`` that
stands in for the real API. A client records HTTP, SSE and WebSocket traffic through it; the upstream
is then stopped and the proxy serves the cassette alone. The opt-in ``node`` test does the same with
the official ``openai`` npm client (DECISIONS 26; ``.ci/node-tests`` installs Node 22 and the package).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml
from plugin_helpers import api_requests

from mockserver import MockServer

KEY = "sk-proj-proxycli0123456789abcdef"


@contextmanager
def proxy(*args: str, status: int = 0, stderr: list[str] | None = None) -> Iterator[str]:
    """``resplay serve ARGS --port 0`` in a child process; yields its base URL, stops it with SIGTERM.

    The process must exit with ``status``; its standard error is appended to ``stderr``.
    """
    with subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            line = child.stdout.readline()  # the ready line, printed once the port is bound
            assert line.startswith("resplay proxy listening on http://"), line
            yield line.split()[4]
        finally:
            child.send_signal(signal.SIGTERM)
            _, errors = child.communicate(timeout=30)
    if stderr is not None:
        stderr.append(errors)
    assert child.returncode == status, errors


def python_client(base_url: str) -> dict[str, Any]:
    """HTTP, SSE and a two-turn WebSocket session with the openai Python client."""
    client = openai.OpenAI(base_url=base_url, api_key=KEY, max_retries=0)
    out: dict[str, Any] = {}
    out["http"] = client.responses.create(model="gpt-5.5", input="Hello over HTTP.").output_text
    out["sse"] = [e.type for e in client.responses.create(model="gpt-5.5", input="Stream it.", stream=True)]
    finals = []
    with client.responses.connect() as conn:
        previous = None
        for text in ("Over a WebSocket.", "And a second turn."):
            conn.response.create(model="gpt-5.5", input=text, store=False, previous_response_id=previous)
            while (event := conn.recv()).type != "response.completed":
                assert event.type != "error", event
            previous = event.response.id  # type: ignore[union-attr]
            finals.append(event.response.output_text)  # type: ignore[union-attr]
    out["ws"] = finals
    return out


def test_record_any_client_through_the_cli_proxy_then_replay_offline(tmp_path: Path) -> None:
    path = tmp_path / "proxy.yaml"
    with MockServer(seed=8) as upstream:
        with proxy("--record", upstream.base_url, "--cassette", str(path)) as url:
            recorded = python_client(url)
        assert api_requests(upstream) == 5  # 2 HTTP requests, the upgrade and 2 WebSocket turns
    text = path.read_text()
    assert KEY not in text
    document = yaml.safe_load(text)
    assert [i["request"]["method"] for i in document["interactions"]] == ["POST", "POST"]
    assert "sse" in document["interactions"][1]["response"]["body"]  # readable stream
    (session,) = document["websockets"]
    assert session["request"]["headers"]["Authorization"] == ["REDACTED"]
    assert "x-resplay-upstream" not in {h.lower() for h in session["request"]["headers"]}
    assert [m["from"] for m in session["messages"]].count("client") == 2

    # The upstream is gone: the proxy answers from the cassette alone.
    with proxy("--replay", str(path)) as url:
        assert python_client(url) == recorded


def test_cli_replay_fails_closed_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("format_version: 1\nversion: 1\ninteractions: []\n")
    errors: list[str] = []
    with proxy("--replay", str(path), status=1, stderr=errors) as url:  # 1: a mismatch happened
        client = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0)
        with pytest.raises(openai.BadRequestError) as raised:
            client.responses.create(model="gpt-5.5", input="Not recorded.")
    assert raised.value.code == "cassette_mismatch"
    assert "no recorded interaction answers POST" in raised.value.message
    assert "no recorded interaction answers POST" in errors[0]


# --- the official openai npm client (opt-in) -----------------------------------------------------------

NODE_SCRIPT = r"""
const OpenAI = require("openai");
const { ResponsesWS } = require("openai/resources/responses/ws");

async function main() {
  const client = new OpenAI({ maxRetries: 0 });
  const out = {};
  out.http = (await client.responses.create({ model: "gpt-5.5", input: "Hello from Node." })).output_text;
  out.sse = [];
  const stream = await client.responses.create({ model: "gpt-5.5", input: "Stream to Node.", stream: true });
  for await (const event of stream) out.sse.push(event.type);
  const ws = new ResponsesWS(client);
  out.ws = await new Promise((resolve, reject) => {
    const finals = [];
    ws.on("error", reject);
    ws.on("response.completed", (event) => {
      finals.push(event.response.output_text);
      if (finals.length === 1) {
        ws.send({ type: "response.create", model: "gpt-5.5", input: "A second turn.", store: false,
                  previous_response_id: event.response.id });
      } else {
        ws.close({ code: 1000, reason: "" });
        resolve(finals);
      }
    });
    ws.send({ type: "response.create", model: "gpt-5.5", input: "Over a WebSocket.", store: false });
  });
  console.log(JSON.stringify(out));
}
main().catch((error) => { console.error(error); process.exit(1); });
"""


def run_node(script: Path, base_url: str) -> dict[str, Any]:
    node = os.environ["RESPLAY_NODE"]
    env = {**os.environ, "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": KEY}
    done = subprocess.run([node, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.node
def test_the_openai_npm_client_records_and_replays_through_the_proxy(tmp_path: Path) -> None:
    if not os.environ.get("RESPLAY_NODE") or not os.environ.get("NODE_PATH"):
        pytest.skip("needs RESPLAY_NODE (Node >= 22) and NODE_PATH (the openai package): run .ci/node-tests")
    script = tmp_path / "client.cjs"
    script.write_text(NODE_SCRIPT)
    path = tmp_path / "node.yaml"
    with MockServer(seed=3) as upstream, proxy("--record", upstream.base_url, "--cassette", str(path)) as url:
        recorded = run_node(script, url)
    assert recorded["sse"][0] == "response.created" and recorded["sse"][-1] == "response.completed"
    assert len(recorded["ws"]) == 2
    document = yaml.safe_load(path.read_text())
    assert len(document["interactions"]) == 2 and len(document["websockets"]) == 1
    assert document["interactions"][0]["request"]["headers"]["User-Agent"][0].startswith("OpenAI/JS")
    assert document["websockets"][0]["request"]["headers"]["Authorization"] == ["REDACTED"]
    with proxy("--replay", str(path)) as url:
        assert run_node(script, url) == recorded
