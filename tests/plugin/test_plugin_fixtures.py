"""The plugin's fixtures, in inner pytest runs: resplay_server, resplay, openai clients, check(), xdist."""

from __future__ import annotations

import json

import pytest
from plugin_helpers import Project

pytest_plugins = ["pytester"]


def test_fixtures_script_the_server_per_test(project: Project) -> None:
    project.write(
        "test_fix.py",
        """
        import json, pathlib
        import openai, pytest
        from mockserver import MockServer

        PORTS = []

        def test_text(resplay, openai_client, resplay_server):
            assert isinstance(resplay_server, MockServer)
            assert resplay.server is resplay_server
            assert openai_client.base_url == resplay.base_url + "/"
            assert openai_client.websocket_base_url == resplay.websocket_base_url
            resplay.queue_text("Paris.")
            reply = openai_client.responses.create(model="gpt-5", input="Capital of France?")
            assert reply.output_text == "Paris."
            [entry] = resplay.journal
            assert entry["body"]["input"] == "Capital of France?"
            assert entry["headers"]["x-resplay-session"] == resplay.session
            PORTS.append(resplay_server.port)

        def test_function_call_then_error(resplay, openai_client):
            assert resplay.journal == []  # a fresh session: nothing from the previous test
            resplay.queue_function_call("get_weather", {"city": "Paris"}, call_id="call_fixed1234")
            resplay.queue_error(429, "Slow down", type="requests", code="rate_limit_exceeded")
            tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
            first = openai_client.responses.create(model="gpt-5", input="weather?", tools=[tool])
            assert first.output[0].type == "function_call" and first.output[0].call_id == "call_fixed1234"
            with pytest.raises(openai.RateLimitError):
                openai_client.responses.create(model="gpt-5", input="again")
            PORTS.append(resplay.server.port)

        async def test_async_client_and_clock(resplay, async_openai_client):
            resplay.queue_text("async hello")
            reply = await async_openai_client.responses.create(model="gpt-5", input="hi")
            assert reply.output_text == "async hello"
            before = reply.created_at
            resplay.advance(60)
            later = await async_openai_client.responses.create(model="gpt-5", input="hi")
            assert later.created_at >= before + 60

        def test_clients_built_by_hand(resplay):
            with resplay.client(max_retries=1) as client:
                resplay.queue_text("by hand")
                assert client.responses.create(model="gpt-5", input="x").output_text == "by hand"
            assert resplay.headers == {"x-resplay-session": resplay.session}

        def test_one_server_per_session():
            assert len(set(PORTS)) == 1
        """,
    )
    project.run().assert_outcomes(passed=5)


def test_server_options_come_from_a_conftest_fixture(project: Project) -> None:
    project.write(
        "conftest.py",
        """
        import pytest

        @pytest.fixture(scope="session")
        def resplay_server_options():
            return {"seed": 5, "api_key": "sk-only-this-key-1234"}
        """,
    )
    project.write(
        "test_opts.py",
        """
        import openai, pytest

        def test_key(resplay, openai_client):
            assert resplay.server.config.seed == 5
            assert openai_client.responses.create(model="gpt-5", input="x").id.startswith("resp_")
            with resplay.client(api_key="sk-wrong-key-123456") as wrong:
                with pytest.raises(openai.AuthenticationError):
                    wrong.responses.create(model="gpt-5", input="x")
        """,
    )
    project.run().assert_outcomes(passed=1)


def test_check_reraises_server_side_problems_at_teardown(project: Project) -> None:
    project.write(
        "test_check.py",
        """
        import openai, pytest

        def test_unused_reply(resplay):
            resplay.queue_text("never asked for")

        def test_unused_reply_allowed(resplay):
            resplay.allow_unused_replies = True
            resplay.queue_text("never asked for")

        def test_server_crash(resplay, openai_client, monkeypatch):
            def boom(*args, **kwargs):
                raise RuntimeError("engine exploded")
            monkeypatch.setattr(resplay.server.engine, "retrieve", boom)
            with pytest.raises(openai.InternalServerError):
                openai_client.responses.retrieve("resp_0123456789abcdef0123")

        def test_clean(resplay, openai_client):
            openai_client.responses.create(model="gpt-5", input="x")
            resplay.check()
            assert resplay.problems() == []
        """,
    )
    result = project.run()
    result.assert_outcomes(passed=4, errors=2)
    output = result.stdout.str()
    assert "ERROR at teardown of test_unused_reply " in output
    assert "1 queued reply was never used: TextReply" in output
    assert "ERROR at teardown of test_server_crash" in output
    assert "RuntimeError: engine exploded" in output


def test_sessions_stay_apart_under_xdist(project: Project) -> None:
    project.write(
        "test_par.py",
        """
        import json, os, pathlib
        import pytest

        @pytest.mark.parametrize("n", range(6))
        def test_isolated(resplay, openai_client, n):
            resplay.queue_text(f"answer {n}")
            assert openai_client.responses.create(model="gpt-5", input=str(n)).output_text == f"answer {n}"
            assert len(resplay.journal) == 1
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            pathlib.Path(f"port-{n}.json").write_text(json.dumps([worker, resplay.server.port]))
        """,
    )
    result = project.pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-n", "2", "-q"
    )
    result.assert_outcomes(passed=6)
    seen = {tuple(json.loads((project.path / f"port-{n}.json").read_text())) for n in range(6)}
    workers = {worker for worker, _ in seen}
    assert workers == {"gw0", "gw1"}
    # One server per worker: each worker always used the same port, and the two differ.
    ports = {worker: {port for w, port in seen if w == worker} for worker in workers}
    assert all(len(p) == 1 for p in ports.values())
    assert ports["gw0"] != ports["gw1"]


@pytest.mark.parametrize("style", ["sync", "async", "aiohttp"])
def test_sse_reaches_the_client_while_recording(project: Project, style: str) -> None:
    """The recording stub tees the stream: the first event arrives before the upstream finishes."""
    project.write(
        "conftest.py",
        """
        import asyncio, threading
        import pytest
        from aiohttp import web
        from mockserver.sse import encode_event

        class Upstream:
            def __init__(self):
                self.gate = threading.Event()
                self.released_by_client = None

            async def handle(self, request):
                response = web.StreamResponse(headers={"content-type": "text/event-stream"})
                await response.prepare(request)
                base = {"id": "resp_0a1b2c3d4e5f6a7b8c9d", "object": "response", "created_at": 1,
                        "status": "in_progress", "model": "gpt-5", "output": [], "tools": [],
                        "parallel_tool_calls": True, "tool_choice": "auto"}
                await response.write(encode_event({"type": "response.created", "sequence_number": 0,
                                                   "response": base}))
                loop = asyncio.get_running_loop()
                # Waits for the client to have seen the first event (a timeout means it was buffered).
                self.released_by_client = await loop.run_in_executor(None, self.gate.wait, 5)
                done = dict(base, status="completed")
                await response.write(encode_event({"type": "response.completed", "sequence_number": 1,
                                                   "response": done}))
                await response.write_eof()
                return response

        @pytest.fixture
        def upstream():
            up = Upstream()
            app = web.Application()
            app.router.add_post("/v1/responses", up.handle)
            loop = asyncio.new_event_loop()
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            up.url = "http://127.0.0.1:%d/v1" % site._server.sockets[0].getsockname()[1]
            thread = threading.Thread(target=loop.run_forever, daemon=True)
            thread.start()
            yield up
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.run_until_complete(runner.cleanup())
            loop.close()
        """,
    )
    project.write(
        "test_stream.py",
        """
        import openai, pytest

        @pytest.mark.resplay
        def test_sync(upstream):
            with openai.OpenAI(base_url=upstream.url, api_key="sk-t123456789", max_retries=0) as c:
                kinds = []
                for event in c.responses.create(model="gpt-5", input="x", stream=True):
                    kinds.append(event.type)
                    upstream.gate.set()
            assert kinds == ["response.created", "response.completed"]
            assert upstream.released_by_client is True

        @pytest.mark.resplay
        async def test_async(upstream):
            async with openai.AsyncOpenAI(base_url=upstream.url, api_key="sk-t123456789", max_retries=0) as c:
                kinds = []
                async for event in await c.responses.create(model="gpt-5", input="x", stream=True):
                    kinds.append(event.type)
                    upstream.gate.set()
            assert kinds == ["response.created", "response.completed"]
            assert upstream.released_by_client is True

        @pytest.mark.resplay
        async def test_aiohttp(upstream):
            http = openai.DefaultAioHttpClient()
            async with openai.AsyncOpenAI(base_url=upstream.url, api_key="sk-t123456789", max_retries=0,
                                          http_client=http) as c:
                kinds = []
                async for event in await c.responses.create(model="gpt-5", input="x", stream=True):
                    kinds.append(event.type)
                    upstream.gate.set()
            assert kinds == ["response.created", "response.completed"]
            assert upstream.released_by_client is True
        """,
    )
    project.run("--record-mode=once", "-k", f"test_{style}").assert_outcomes(passed=1)
    text = project.cassette("test_stream", f"test_{style}").read_text()
    assert "- event: response.completed" in text
    project.run("-k", f"test_{style}").assert_outcomes(failed=1)  # replay: the gate is never opened
    project.write(
        "test_stream.py",
        project.path.joinpath("test_stream.py")
        .read_text()
        .replace("assert upstream.released_by_client is True", "pass"),
    )
    project.run("-k", f"test_{style}").assert_outcomes(passed=1)  # but the recorded stream replays
