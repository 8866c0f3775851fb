"""resplay's own cassettes (``cassettes/`` at the repository root), replayed offline on every run.

``cassettes/test_plugin_cassettes/`` was recorded from a resplay server standing in for the API;
``cassettes/imported/`` holds a few real api.openai.com recordings imported from ../shared/real-traffic
(see its README). Re-record the first with::

    .venv/bin/pytest tests/plugin/test_plugin_cassettes.py --record-mode=rewrite
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from plugin_helpers import replay_with_sdk

from mockserver import MockServer

ROOT = Path(__file__).resolve().parents[2] / "cassettes"
IMPORTED = sorted((ROOT / "imported").glob("*.yaml"))
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(autouse=True)
def _needs_the_plugin(pytestconfig: pytest.Config) -> None:
    if not pytestconfig.pluginmanager.has_plugin("resplay"):
        pytest.skip("the resplay plugin is disabled (-p no:resplay)")


@pytest.fixture(scope="module")
def resplay_cassette_dir() -> Path:
    """Our own cassettes live at the repository root, not next to the tests."""
    return ROOT / "test_plugin_cassettes"


@pytest.fixture(scope="module")
def api_base_url(pytestconfig: pytest.Config) -> Iterator[str]:
    """A resplay server as "the API" while recording; an unreachable address while replaying."""
    if (pytestconfig.getoption("--record-mode", default=None) or "none") == "none":
        yield "http://127.0.0.1:9/v1"
        return
    with MockServer(seed=7) as server:
        yield server.base_url


@pytest.fixture
def api(api_base_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=api_base_url, api_key="sk-resplay-cassettes-0000", max_retries=0) as client:
        yield client


@pytest.mark.resplay
def test_text_answer(api: openai.OpenAI) -> None:
    reply = api.responses.create(model="gpt-5", input="Say hello in French.")
    assert reply.status == "completed" and reply.output_text


@pytest.mark.resplay
def test_streamed_answer(api: openai.OpenAI) -> None:
    events = list(api.responses.create(model="gpt-5", input="Count to three.", stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))


@pytest.mark.resplay
def test_previous_response_id_chain(api: openai.OpenAI) -> None:
    first = api.responses.create(model="gpt-5", input="Remember the number 42.")
    second = api.responses.create(model="gpt-5", input="Which number?", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert api.responses.retrieve(second.id).id == second.id
    items = api.responses.input_items.list(second.id)
    assert items.data


@pytest.mark.resplay
def test_function_call_round_trip(api: openai.OpenAI) -> None:
    call = api.responses.create(
        model="gpt-5",
        input="What is the weather in Paris? Use get_weather.",
        tools=[WEATHER],
        tool_choice="required",
    )
    [item] = [i for i in call.output if i.type == "function_call"]
    answer = api.responses.create(
        model="gpt-5",
        previous_response_id=call.id,
        tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": item.call_id, "output": '{"temp_c": 21}'}],
    )
    assert answer.output_text


@pytest.mark.resplay
async def test_async_stream(api_base_url: str) -> None:
    async with openai.AsyncOpenAI(
        base_url=api_base_url, api_key="sk-resplay-cassettes-0000", max_retries=0
    ) as c:
        kinds = [e.type async for e in await c.responses.create(model="gpt-5", input="Hi", stream=True)]
    assert kinds[-1] == "response.completed"


@pytest.mark.parametrize("cassette", IMPORTED, ids=[p.stem for p in IMPORTED])
def test_imported_real_recordings_replay(cassette: Path) -> None:
    with openai.OpenAI(api_key="sk-replay-0123456789", base_url="https://api.openai.com/v1") as client:
        assert replay_with_sdk(cassette, client) == "clean"
