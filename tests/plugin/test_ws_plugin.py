"""WebSocket sessions through the pytest plugin: the marker, ``--record-mode``, and ``resplay_proxy``.

An inner pytest run records against a resplay upstream (``UPSTREAM_URL``), the upstream is stopped,
and the inner run replays offline. HTTP, SSE and WebSocket traffic land in one cassette file.
"""

from __future__ import annotations

import json

import pytest
import yaml
from plugin_helpers import Project, api_requests

from mockserver import MockServer

pytest_plugins = ["pytester"]

MIXED = """
    import json, os, pathlib
    import openai, pytest

    @pytest.mark.resplay
    def test_mixed(resplay_proxy):
        # In process: HTTP goes through vcrpy's patches, the socket through the in-process proxy.
        direct = openai.OpenAI(base_url=os.environ["UPSTREAM_URL"], api_key="sk-test-0123456789abcdef",
                               max_retries=0)
        text = direct.responses.create(model="gpt-5.5", input="Over HTTP.").output_text
        with direct.responses.connect() as conn:
            conn.response.create(model="gpt-5.5", input="Over a WebSocket.", store=False)
            while (event := conn.recv()).type != "response.completed":
                pass
        # Through the proxy, as another process would (OPENAI_BASE_URL points at it).
        assert os.environ["OPENAI_BASE_URL"] == resplay_proxy.base_url
        proxied = openai.OpenAI(api_key="sk-test-0123456789abcdef", max_retries=0)
        kinds = [e.type for e in proxied.responses.create(model="gpt-5.5", input="Streamed.", stream=True)]
        out = [text, event.response.output_text, kinds]
        pathlib.Path("out-" + os.environ["RUN"] + ".json").write_text(json.dumps(out))
"""


def test_one_cassette_holds_http_sse_and_websocket_sessions(
    project: Project, upstream: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("test_mixed.py", MIXED)
    monkeypatch.setenv("RESPLAY_UPSTREAM_URL", upstream.base_url)  # where resplay_proxy forwards to
    monkeypatch.setenv("RUN", "rec")
    project.run("--record-mode=once").assert_outcomes(passed=1)
    document = yaml.safe_load(project.cassette("test_mixed", "test_mixed").read_text())
    assert [i["request"]["uri"].rsplit("/", 2)[-2:] for i in document["interactions"]] == [
        ["v1", "responses"],
        ["v1", "responses"],
    ]  # recorded once each: the client -> proxy leg is not recorded again
    assert "sse" in document["interactions"][1]["response"]["body"]
    assert len(document["websockets"]) == 1
    recorded = api_requests(upstream)

    upstream.stop()
    monkeypatch.setenv("RUN", "replay")
    project.run().assert_outcomes(passed=1)
    replayed = json.loads((project.path / "out-replay.json").read_text())
    assert replayed == json.loads((project.path / "out-rec.json").read_text())
    assert recorded == 4  # HTTP, the upgrade, one WebSocket turn, the proxied stream


def test_a_changed_websocket_turn_fails_the_test_with_the_diff(
    project: Project, upstream: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    test = """
        import os, openai, pytest

        @pytest.mark.resplay
        def test_ws():
            client = openai.OpenAI(base_url=os.environ["UPSTREAM_URL"], api_key="sk-x01234567", max_retries=0)
            with client.responses.connect() as conn:
                conn.response.create(model="gpt-5.5", input=os.environ["TEXT"])
                for event in conn:
                    if event.type in ("response.completed", "error"):
                        break
    """
    project.write("test_ws.py", test)
    monkeypatch.setenv("TEXT", "hello")
    project.run("--record-mode=once").assert_outcomes(passed=1)
    monkeypatch.setenv("TEXT", "hullo")
    result = project.run()
    result.assert_outcomes(passed=1, errors=1)  # the test swallowed the error event: teardown fails it
    output = result.stdout.str()
    assert "CassetteMismatch: resplay: WebSocket response.create frame on the default lane" in output
    assert 'frame.input: recorded "hello", live "hullo"' in output
