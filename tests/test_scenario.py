"""Scenario files (YAML and JSON): loading over ``POST /_resplay/scenario`` and ``--scenario``, every reply
form, and bad files whose errors name the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from mockserver import MockServer
from mockserver.cli import main
from mockserver.scenario import ScenarioError, load_scenario

SCENARIO = """\
strict: true
rules:
  - name: weather call
    match:
      input_contains: weather
      not: {last_item: function_call_output}
    reply:
      function_calls:
        - {name: get_weather, arguments: {city: Paris}, call_id: call_w1}
  - name: weather answer
    match: {last_item: function_call_output, turn: 1}
    reply: {text: "It is sunny."}
  - name: search
    match:
      any:
        - {tool: web_search}
        - {input_regex: "^search"}
    reply:
      output:
        - {type: web_search_call, query: cats}
        - {type: message, text: Found cats.}
  - name: greetings
    match: {model: gpt-5.5, metadata: {tenant: a}, headers: {x-team: red}}
    replies:
      - {text: one}
      - {text: two}
  - name: refuse
    match: {input_contains: forbidden}
    times: permanent
    reply: {output: [{type: message, text: "No.", refusal: true}]}
  - name: fail
    match: {input_contains: explode}
    reply: {error: {status: 503, message: Overloaded, type: server_error}}
"""


def _post(server: MockServer, text: str, session: str | None = None) -> httpx2.Response:
    headers = {"x-resplay-session": session} if session else {}
    return httpx2.post(server.url + "/_resplay/scenario", content=text.encode(), headers=headers)


def test_scenario_over_http_drives_every_reply_kind(server: MockServer, client: openai.OpenAI) -> None:
    loaded = _post(server, SCENARIO)
    assert loaded.status_code == 200 and loaded.json() == {"rules": 6, "strict": True}
    tools: Any = [
        {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    ]
    first = client.responses.create(model="gpt-5.5", input="weather?", tools=tools)
    call = first.output[-1]
    assert call.type == "function_call" and call.call_id == "call_w1"
    second = client.responses.create(
        model="gpt-5.5",
        previous_response_id=first.id,
        tools=tools,
        input=[{"type": "function_call_output", "call_id": "call_w1", "output": "sunny"}],
    )
    assert second.output_text == "It is sunny."
    found = client.responses.create(model="gpt-5.5", input="search now")
    assert [i.type for i in found.output] == ["web_search_call", "message"]
    greet: Any = {
        "model": "gpt-5.5",
        "input": "hi",
        "metadata": {"tenant": "a"},
        "extra_headers": {"x-team": "red"},
    }
    assert [client.responses.create(**greet).output_text for _ in range(2)] == ["one", "two"]
    for _ in range(2):
        refused = client.responses.create(model="gpt-5.5", input="forbidden")
        assert refused.output[0].content[0].type == "refusal"  # type: ignore[union-attr]
    with pytest.raises(openai.InternalServerError) as info:
        client.responses.create(model="gpt-5.5", input="explode")
    assert info.value.status_code == 503
    with pytest.raises(openai.BadRequestError, match="no scripted rule matched"):  # strict
        client.responses.create(model="gpt-5.5", input="hi")
    status = httpx2.get(server.url + "/_resplay/scenario").json()
    assert status["strict"] is True
    assert status["unmatched"] == ["model='gpt-5.5' turn=0 input='hi'"]
    assert [r["name"] for r in status["rules"] if r["live"]] == ["refuse"]


def test_json_scenario_is_accepted_and_sessions_are_separate(
    server: MockServer, client: openai.OpenAI
) -> None:
    doc = {"rules": [{"match": {"input_contains": "ping"}, "reply": {"text": "pong"}, "times": 2}]}
    assert _post(server, json.dumps(doc, indent=2), session="s1").status_code == 200
    s1 = {"x-resplay-session": "s1"}
    assert client.responses.create(model="gpt-5.5", input="ping", extra_headers=s1).output_text == "pong"
    assert client.responses.create(model="gpt-5.5", input="ping").output_text != "pong"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("rules:\n  - reply: {text: hi}\n    match: {colour: red}\n", 3, "unknown matcher 'colour'"),
        ("rules:\n  - match: {model: gpt-5.5}\n", 2, "exactly one of 'reply' or 'replies'"),
        ("strict: yes please\n", 1, "strict must be bool"),
        ("rules:\n  - reply: {text: a}\n    times: 0\n", 3, "positive integer or 'permanent'"),
        ("rules:\n  - reply: {output: [{type: teleport}]}\n", 2, "unsupported output item type 'teleport'"),
        ("rules:\n  - reply: {nothing: 1}\n", 2, "needs one of"),
        ("rules:\n  - reply: {text: a}\n  - match: {input_regex: '('}\n    reply: {text: b}\n", 3, "regular"),
        ("rules: [\n", 2, "not valid YAML/JSON"),
        ('{\n  "rules": [\n    {"reply": {"text": "a"}, "when": 1}\n  ]\n}\n', 3, "unknown key 'when'"),
        ("colour: red\n", 1, "unknown top-level key"),
        ("", 1, "empty"),
    ],
)
def test_bad_scenarios_name_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(text)
    assert info.value.message.startswith(f"line {line}: "), info.value.message
    assert fragment in info.value.message


def test_bad_scenario_over_http_is_a_400(server: MockServer) -> None:
    answer = _post(server, "rules:\n  - match: {colour: red}\n    reply: {text: a}\n")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_scenario"
    assert error["message"].startswith("line 2: unknown matcher 'colour'")


def test_scenario_file_for_every_session_and_cli_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("rules:\n  - times: permanent\n    reply: {text: scripted}\n")
    with MockServer(scenario=str(path)) as server, openai.OpenAI(base_url=server.base_url, api_key="sk") as c:
        for session in ("x", "y"):
            answer = c.responses.create(
                model="gpt-5.5", input="q", extra_headers={"x-resplay-session": session}
            )
            assert answer.output_text == "scripted"
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - reply: {text: a}\n    times: -1\n")
    assert main(["serve", "--port", "0", "--scenario", str(bad)]) == 2
    assert f"{bad}: line 3:" in capsys.readouterr().err


def test_rule_faults_and_latency(server: MockServer, client: openai.OpenAI) -> None:
    text = """
rules:
  - match: {input_contains: busy}
    fault: "http;status=429;retry_after=2"
  - match: {input_contains: cut}
    fault: {kind: sse_cut, after_events: 3}
    reply: {text: "a long answer that will not arrive in full"}
"""
    assert _post(server, text).status_code == 200
    with pytest.raises(openai.RateLimitError) as info:
        client.responses.create(model="gpt-5.5", input="busy?")
    assert info.value.response.headers["retry-after"] == "2"
    raw = httpx2.post(
        server.base_url + "/responses",
        json={"model": "gpt-5.5", "input": "cut it", "stream": True},
        headers={"authorization": "Bearer sk-test"},
    )
    assert raw.text.count("data: ") == 3  # the stream stops after 3 events, no terminal event
    assert "response.completed" not in raw.text


def test_rule_latency_paces_the_run() -> None:
    from mockserver import rules as R
    from mockserver.engine import Engine
    from mockserver.latency import Pacer

    engine = Engine()
    engine.session().rules.add(R.Rule.of(R.any_request(), "slow", latency=_profile("realistic")))
    run = engine.create({"model": "gpt-5.5", "input": "hi"})
    assert isinstance(run.job, Pacer) and not run.done
    assert isinstance(engine.create({"model": "gpt-5.5", "input": "hi"}).job, type(None))  # one-shot


def _profile(name: str) -> Any:
    from mockserver.latency import profile_from_json

    return profile_from_json(name)


def test_bad_fault_in_scenario_names_the_line() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario("rules:\n  - match: {model: x}\n    fault: {kind: meteor}\n")
    assert info.value.message.startswith("line 3: fault: ")
    assert "meteor" in info.value.message
