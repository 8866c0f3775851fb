"""Record and replay through the plugin, end to end with pytester.

Each test records an inner pytest run against a local resplay server (the stand-in for the real API),
stops or ignores that server, and replays offline: record modes, chains, streaming, fail-closed errors,
unused interactions, redaction, and the shared ``--record-mode`` flag.
"""

from __future__ import annotations

import json
import re

import pytest
from plugin_helpers import Project, api_requests

from mockserver import MockServer

pytest_plugins = ["pytester"]

CHAT = """
    import json, os, pathlib
    import openai, pytest

    def client():
        return openai.OpenAI(base_url=os.environ.get("UPSTREAM_URL", "http://127.0.0.1:9/v1"),
                             api_key="sk-test-0123456789abcdef", max_retries=0)

    @pytest.mark.resplay
    def test_chat():
        c = client()
        first = c.responses.create(model="gpt-5", input="{first}")
        second = c.responses.create(model="gpt-5", input="and then?", previous_response_id=first.id)
        events = list(c.responses.create(model="gpt-5", input="stream it", stream=True,
                                         previous_response_id=second.id))
        assert [e.type for e in events][0] == "response.created"
        assert events[-1].type == "response.completed"
        assert c.responses.retrieve(second.id).id == second.id
        items = c.responses.input_items.list(second.id)
        assert items.data
        {extra}
        out = dict(ids=[first.id, second.id, events[-1].response.id], text=second.output_text)
        pathlib.Path("out-" + os.environ.get("RUN", "x") + ".json").write_text(json.dumps(out))
"""


def chat(first: str = "hello", extra: str = "") -> str:
    return CHAT.replace("{first}", first).replace("{extra}", extra)


def outputs(project: Project, run: str) -> dict[str, object]:
    result: dict[str, object] = json.loads((project.path / f"out-{run}.json").read_text())
    return result


def record(project: Project, monkeypatch: pytest.MonkeyPatch, mode: str = "once", run: str = "rec") -> None:
    monkeypatch.setenv("RUN", run)
    project.run(f"--record-mode={mode}").assert_outcomes(passed=1)


def test_record_once_then_replay_offline(
    project: Project, upstream: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("test_chat.py", chat())
    record(project, monkeypatch)
    path = project.cassette("test_chat", "test_chat")
    text = path.read_text()
    assert text.startswith("format_version: 1\nversion: 1\n")
    assert "sse:" in text and "json:" in text  # readable SSE and JSON bodies
    assert 'data: {"type"' not in text  # not one opaque blob
    recorded = api_requests(upstream)
    assert recorded == 5

    upstream.stop()  # the "real API" is gone: replay must not need it
    monkeypatch.setenv("RUN", "replay")
    project.run().assert_outcomes(passed=1)
    assert outputs(project, "replay") == outputs(project, "rec")


def test_fail_closed_names_the_closest_request_and_the_difference(
    project: Project, upstream: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("test_chat.py", chat())
    record(project, monkeypatch)
    before = api_requests(upstream)

    project.write("test_chat.py", chat(first="hullo"))
    result = project.run()
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "CassetteMismatch: resplay: no recorded interaction answers POST" in output
    assert "Closest recorded request (#0): POST" in output
    assert 'body.input: recorded "hello", live "hullo"' in output
    assert "--record-mode=once" in output
    assert "Connection error" not in output  # the SDK did not swallow and retry it
    assert api_requests(upstream) == before  # and nothing reached the network


def test_a_missing_cassette_fails_closed(project: Project, upstream: MockServer) -> None:
    project.write("test_chat.py", chat())
    result = project.run()
    result.assert_outcomes(failed=1)
    assert "does not exist (record_mode 'none' does not record)" in result.stdout.str()
    assert api_requests(upstream) == 0


def test_no_silent_network_through_any_http_library(project: Project, upstream: MockServer) -> None:
    project.write(
        "test_libs.py",
        """
        import asyncio, os
        import aiohttp, httpx2, openai, pytest, requests
        from vcr.errors import CannotOverwriteExistingCassetteException

        URL = os.environ["UPSTREAM_URL"]

        @pytest.mark.resplay
        def test_every_library_is_blocked():
            with pytest.raises(BaseException) as info:
                httpx2.post(URL + "/responses", json={"model": "gpt-5", "input": "x"})
            assert "resplay: no recorded interaction" in str(info.value)
            with pytest.raises(CannotOverwriteExistingCassetteException):
                requests.post(URL + "/responses", json={"model": "gpt-5", "input": "x"})

            async def both():
                async with aiohttp.ClientSession() as session:
                    with pytest.raises(CannotOverwriteExistingCassetteException):
                        await session.post(URL + "/responses", json={"model": "gpt-5", "input": "x"})
                async with openai.AsyncOpenAI(base_url=URL, api_key="sk-x1234567890", max_retries=0) as c:
                    with pytest.raises(BaseException, match="resplay: no recorded"):
                        await c.responses.create(model="gpt-5", input="x")
            asyncio.run(both())
        """,
    )
    result = project.run()
    # Swallowed mismatches still fail the test at teardown (fail closed).
    result.assert_outcomes(passed=1, errors=1)
    assert "CassetteMismatch" in result.stdout.str()
    assert api_requests(upstream) == 0


def test_once_refuses_new_requests_new_episodes_adds_them(
    project: Project, upstream: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("test_chat.py", chat())
    record(project, monkeypatch)
    path = project.cassette("test_chat", "test_chat")
    grown = chat(extra='c.responses.create(model="gpt-5", input="one more")')
    project.write("test_chat.py", grown)

    project.run("--record-mode=once").assert_outcomes(failed=1)  # the cassette exists: replay only
    record(project, monkeypatch, "new_episodes", run="grown")
    assert path.read_text().count("- request:") == 6
    upstream.stop()
    monkeypatch.setenv("RUN", "replay")
    project.run().assert_outcomes(passed=1)
    assert outputs(project, "replay") == outputs(project, "grown")


def test_all_rerecords_a_chain_in_place_thanks_to_symbolic_ids(
    project: Project, upstream: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("test_chat.py", chat())
    record(project, monkeypatch)
    path = project.cassette("test_chat", "test_chat")
    old = path.read_text()
    upstream.stop()

    with MockServer(seed=99) as other:  # the "API" now hands out different ids
        monkeypatch.setenv("UPSTREAM_URL", other.base_url)
        record(project, monkeypatch, "all", run="again")
    new = path.read_text()
    # Every request of the chain matched its old interaction despite the new ids: replaced, not added.
    assert new.count("- request:") == old.count("- request:") == 5
    first_old = re.search(r"resp_[0-9a-f]{40,}", old)
    assert first_old is not None and first_old.group(0) not in new
    monkeypatch.setenv("RUN", "replay")
    project.run().assert_outcomes(passed=1)
    assert outputs(project, "replay") == outputs(project, "again")


def test_rewrite_starts_over_and_keeps_the_old_file_when_the_test_fails(
    project: Project, upstream: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("test_chat.py", chat())
    record(project, monkeypatch)
    path = project.cassette("test_chat", "test_chat")
    old = path.read_text()

    project.write("test_chat.py", chat(first="changed", extra="assert False, 'broken test'"))
    project.run("--record-mode=rewrite").assert_outcomes(failed=1)
    assert path.read_text() == old  # a failed rewrite never clobbers a good cassette
    assert not [p for p in path.parent.iterdir() if p.name != path.name]  # no temporary files left

    project.write("test_chat.py", chat(first="changed"))
    record(project, monkeypatch, "rewrite", run="new")
    assert '"changed"' in path.read_text() or "input: changed" in path.read_text()
    assert "input: hello" not in path.read_text()


def test_each_interaction_plays_once_in_order(
    project: Project, upstream: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write(
        "test_twice.py",
        """
        import json, os, pathlib
        import openai, pytest

        @pytest.mark.resplay
        def test_twice():
            c = openai.OpenAI(base_url=os.environ["UPSTREAM_URL"], api_key="sk-t123456789", max_retries=0)
            ids = [c.responses.create(model="gpt-5", input="same").id for _ in range(2)]
            assert ids[0] != ids[1]
            if os.environ["RUN"] == "third":
                c.responses.create(model="gpt-5", input="same")
            pathlib.Path("ids-" + os.environ["RUN"]).write_text(json.dumps(ids))
        """,
    )
    monkeypatch.setenv("RUN", "rec")
    project.run("--record-mode=once").assert_outcomes(passed=1)
    monkeypatch.setenv("RUN", "replay")
    project.run().assert_outcomes(passed=1)
    assert (project.path / "ids-replay").read_text() == (project.path / "ids-rec").read_text()
    monkeypatch.setenv("RUN", "third")
    result = project.run()
    result.assert_outcomes(failed=1)
    assert "matches but was already played" in result.stdout.str()


def test_unused_interactions_fail_at_teardown_unless_allowed(
    project: Project, upstream: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("test_chat.py", chat())
    record(project, monkeypatch)
    cassette = project.cassette("test_chat", "test_chat")
    shorter = """
        import os, openai, pytest

        @pytest.mark.resplay({options})
        def test_chat():
            c = openai.OpenAI(base_url=os.environ["UPSTREAM_URL"], api_key="sk-t123456789", max_retries=0)
            c.responses.create(model="gpt-5", input="hello")
    """
    project.write("test_chat.py", shorter.replace("{options}", ""))
    result = project.run()
    result.assert_outcomes(passed=1, errors=1)
    assert "4 recorded interaction(s)" in result.stdout.str() and "never played" in result.stdout.str()
    project.write("test_chat.py", shorter.replace("{options}", "allow_unused=True"))
    project.run().assert_outcomes(passed=1)
    assert cassette.read_text().count("- request:") == 5  # replay never rewrites the file


def test_marker_cassette_paths_options_and_hook(
    project: Project, upstream: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write(
        "conftest.py",
        """
        import pytest

        CALLS = []

        def pytest_resplay_configure(config, cassette):
            CALLS.append(cassette.path)

        @pytest.fixture
        def resplay_cassette_config():
            return {"ignore": ["metadata"]}
        """,
    )
    project.write(
        "test_paths.py",
        """
        import os, uuid, openai, pytest
        from conftest import CALLS

        def call():
            c = openai.OpenAI(base_url=os.environ["UPSTREAM_URL"], api_key="sk-t123456789", max_retries=0)
            return c.responses.create(model="gpt-5", input="hi", metadata={"run": os.environ["RUN"]})

        @pytest.mark.resplay("shared/custom.yaml")
        def test_named():
            call()
            assert CALLS[-1].endswith(os.path.join("shared", "custom.yaml"))

        @pytest.mark.resplay
        class TestGroup:
            def test_in_class(self):
                call()

            @pytest.mark.parametrize("n", [1])
            def test_param(self, n):
                call()
        """,
    )
    monkeypatch.setenv("RUN", "first")
    project.run("--record-mode=once").assert_outcomes(passed=3)
    folder = project.path / "cassettes" / "test_paths"
    assert sorted(p.name for p in folder.rglob("*.yaml")) == [
        "TestGroup.test_in_class.yaml",
        "TestGroup.test_param[1].yaml",
        "custom.yaml",
    ]
    assert (folder / "shared" / "custom.yaml").is_file()
    upstream.stop()
    monkeypatch.setenv("RUN", "second")  # metadata differs, but the config ignores it
    project.run().assert_outcomes(passed=3)


def test_secrets_never_reach_the_cassette(
    project: Project, upstream: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-proj-SECRETSECRET0123456789abcdef"
    token = "tok_9f8e7d6c5b4a39281706"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("ACME_SERVICE_TOKEN", token)
    project.write(
        "test_secret.py",
        f"""
        import os, openai, pytest

        @pytest.mark.resplay
        def test_secret():
            c = openai.OpenAI(base_url=os.environ["UPSTREAM_URL"], max_retries=0,
                              organization="org-private", project="proj_private",
                              default_headers={{"x-acme": os.environ["ACME_SERVICE_TOKEN"]}})
            r = c.responses.create(model="gpt-5", input="my token is {token}, key {key}")
            assert r.output
        """,
    )
    project.run("--record-mode=once").assert_outcomes(passed=1)
    text = project.cassette("test_secret", "test_secret").read_text()
    for secret in (key, token, "org-private", "proj_private"):
        assert secret not in text
    assert "authorization:\n      - REDACTED" in text
    upstream.stop()
    project.run().assert_outcomes(passed=1)  # the redacted live request still matches


@pytest.mark.parametrize("recording_plugin", ["-p no:recording", ""])
def test_one_record_mode_flag_with_or_without_pytest_recording(
    project: Project, upstream: MockServer, monkeypatch: pytest.MonkeyPatch, recording_plugin: str
) -> None:
    args = recording_plugin.split()
    help_text = project.run(*args, "--help").stdout.str()
    assert help_text.count("--record-mode") == 1
    owner = "recording:" if not args else "resplay record/replay of OpenAI traffic:"
    assert owner in help_text
    project.write("test_chat.py", chat())
    monkeypatch.setenv("RUN", "rec")
    project.run(*args, "--record-mode=once").assert_outcomes(passed=1)
    upstream.stop()
    monkeypatch.setenv("RUN", "replay")
    project.run(*args).assert_outcomes(passed=1)


def test_the_fixture_server_is_not_recorded(
    project: Project, upstream: MockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write(
        "test_both.py",
        """
        import os, openai, pytest

        @pytest.mark.resplay
        def test_both(openai_client, resplay):
            resplay.queue_text("scripted")
            assert openai_client.responses.create(model="gpt-5", input="x").output_text == "scripted"
            c = openai.OpenAI(base_url=os.environ["UPSTREAM_URL"], api_key="sk-t123456789", max_retries=0)
            c.responses.create(model="gpt-5", input="recorded")
        """,
    )
    project.run("--record-mode=once").assert_outcomes(passed=1)
    text = project.cassette("test_both", "test_both").read_text()
    assert text.count("- request:") == 1 and "input: recorded" in text
    upstream.stop()
    project.run().assert_outcomes(passed=1)
