"""tool_search (SPEC §11): deferred tools, hosted and client-executed search, namespaces, the real errors.

End to end with openai 3.51.0 over the real server; shapes compared with the recorded tool-search traffic
(pydantic-ai ``test_tool_search/*.yaml``, vercel ``openai-tool-search.1.*``, ``openai-client-tool-search.*``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from mockserver.sse import SSEDecoder

from fidelity import assert_faithful
from realtraffic import event_grammar, shared_root

WEATHER: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather at a specific location",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string", "description": "The city, e.g. Paris"}},
        "required": ["location"],
        "additionalProperties": False,
    },
    "strict": True,
}
EMAIL: dict[str, Any] = {
    "type": "function",
    "name": "send_email",
    "description": "Send an email to a recipient",
    "parameters": {
        "type": "object",
        "properties": {"to": {"type": "string"}, "body": {"type": "string"}},
        "required": ["to", "body"],
        "additionalProperties": False,
    },
    "strict": True,
}
CRM: dict[str, Any] = {
    "type": "namespace",
    "name": "crm",
    "description": "Customer records",
    "tools": [
        {**EMAIL, "name": "create_widget", "description": "Create a widget order for a customer"},
        {
            **EMAIL,
            "name": "delete_customer",
            "description": "Delete a customer account",
            "defer_loading": True,
        },
    ],
}
DEFERRED = [{"type": "tool_search"}, {**WEATHER, "defer_loading": True}, {**EMAIL, "defer_loading": True}]
FIXTURES = Path("real-traffic/vercel__ai/packages/openai/src/responses/__fixtures__")
PYDANTIC = Path("real-traffic/pydantic__pydantic-ai/tests/cassettes/test_tool_search")


def _shared(relative: Path) -> Path:
    path = shared_root() / relative
    if not path.exists():
        pytest.skip(f"../shared is not present at {shared_root()} (set RESPLAY_SHARED)")
    return path


def _dump(obj: Any) -> dict[str, Any]:
    return obj.model_dump(mode="json", exclude_unset=True)  # type: ignore[no-any-return]


def test_hosted_search_loads_then_calls(client: openai.OpenAI) -> None:
    first = client.responses.create(model="gpt-5.4", input="What is the weather in Paris?", tools=DEFERRED)
    assert_faithful(_dump(first), kind="response")
    assert [i.type for i in first.output] == ["tool_search_call", "tool_search_output", "function_call"]
    call, loaded, fc = first.output
    assert (
        call.type == "tool_search_call" and loaded.type == "tool_search_output" and fc.type == "function_call"
    )
    assert (call.execution, call.call_id, call.arguments) == ("server", None, {"paths": ["get_weather"]})
    assert [t.name for t in loaded.tools] == ["get_weather"]  # type: ignore[union-attr]
    assert (fc.name, fc.namespace, json.loads(fc.arguments)) == (
        "get_weather",
        "get_weather",
        {"location": "Paris"},
    )
    assert call.id.startswith("tsc_") and loaded.id.startswith("tso_")
    # echo as recorded: functions, then tool_search with null description/parameters
    assert [t.type for t in first.tools] == ["function", "function", "tool_search"]
    # stateless continuation: the loaded tool is callable and its output answers the user
    history: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    history += [_dump(i) for i in first.output]
    history.append({"type": "function_call_output", "call_id": fc.call_id, "output": "18C and sunny"})
    second = client.responses.create(model="gpt-5.4", input=history, tools=DEFERRED)
    assert second.output_text.startswith("Here is what the tools returned: 18C and sunny")
    # loaded function: its place goes to a namespace of its own name at the end (recorded echo)
    assert [(t.type, getattr(t, "name", None)) for t in second.tools] == [
        ("function", "send_email"),
        ("tool_search", None),
        ("namespace", "get_weather"),
    ]
    assert_faithful(_dump(second), kind="response")
    # a chained follow-up sees the loaded tool too and does not search again
    chained = client.responses.create(
        model="gpt-5.4", previous_response_id=second.id, input="And the weather in Rome?", tools=DEFERRED
    )
    calls = [i for i in chained.output if i.type != "message"]  # (a commentary note may come first)
    assert [i.type for i in calls] == ["function_call"]
    assert calls[0].namespace == "get_weather"  # type: ignore[union-attr]


def test_no_match_no_search(client: openai.OpenAI) -> None:
    r = client.responses.create(model="gpt-5.4", input="Tell me a joke", tools=DEFERRED)
    assert [i.type for i in r.output] == ["message"]


def test_namespace_members_load_with_their_namespace(client: openai.OpenAI) -> None:
    tools = [{"type": "tool_search"}, CRM]
    r = client.responses.create(model="gpt-5.5", input="Please delete account 42", tools=tools)
    assert [i.type for i in r.output if i.type != "reasoning"] == [
        "tool_search_call",
        "tool_search_output",
        "function_call",
    ]
    calls = [i for i in r.output if i.type == "function_call"]
    assert (calls[0].name, calls[0].namespace) == ("delete_customer", "crm")
    loaded = next(i for i in r.output if i.type == "tool_search_output")
    assert [(t.type, [m.name for m in t.tools]) for t in loaded.tools] == [("namespace", ["delete_customer"])]  # type: ignore[union-attr]
    assert_faithful(_dump(r), kind="response")


def test_client_executed_search_end_to_end(client: openai.OpenAI) -> None:
    search = {
        "type": "tool_search",
        "execution": "client",
        "description": "Search for available tools based on what the user needs.",
        "parameters": {
            "type": "object",
            "properties": {"goal": {"type": "string", "description": "What the user is trying to do"}},
            "required": ["goal"],
            "additionalProperties": False,
        },
    }
    tools = [{**WEATHER, "defer_loading": True}, search]
    question = "What's the weather in San Francisco?"
    first = client.responses.create(model="gpt-5.4", input=question, tools=tools)
    assert_faithful(_dump(first), kind="response")
    (call,) = first.output
    assert call.type == "tool_search_call" and call.execution == "client"
    assert call.call_id is not None and call.call_id.startswith("call_")
    assert call.arguments == {"goal": question}
    # the client runs the search and answers with what it loads
    answer = {
        "type": "tool_search_output",
        "call_id": call.call_id,
        "execution": "client",
        "status": "completed",
        "tools": [WEATHER],
    }
    second = client.responses.create(
        model="gpt-5.4", input=[{"role": "user", "content": question}, _dump(call), answer], tools=tools
    )
    (fc,) = [i for i in second.output if i.type != "message"]  # (a commentary note may come first)
    assert (
        fc.type == "function_call" and fc.name == "get_weather" and fc.namespace is None
    )  # default namespace
    assert [(t.type, getattr(t, "name", None)) for t in second.tools] == [
        ("function", "get_weather"),
        ("tool_search", None),
        ("namespace", "get_weather"),
    ]
    assert_faithful(_dump(second), kind="response")


def test_deferred_tools_save_input_tokens(client: openai.OpenAI) -> None:
    eager = [{"type": "tool_search"}, WEATHER, EMAIL]
    question = "Tell me a joke"
    plain = client.responses.create(model="gpt-5.4", input=question, tools=eager)
    deferred = client.responses.create(model="gpt-5.4", input=question, tools=DEFERRED)
    saved = plain.usage.input_tokens - deferred.usage.input_tokens  # type: ignore[union-attr]
    assert saved > 40  # both schemas' TypeScript declarations
    none = client.responses.create(model="gpt-5.4", input=question, tools=[{"type": "tool_search"}])
    assert deferred.usage.input_tokens == none.usage.input_tokens  # type: ignore[union-attr]
    # once loaded, the tool costs again: the tool_search_output carries its definition
    loaded = client.responses.create(model="gpt-5.4", input="What is the weather in Paris?", tools=DEFERRED)
    history = [
        {"role": "user", "content": "What is the weather in Paris?"},
        *(_dump(i) for i in loaded.output[:2]),
    ]
    after = client.responses.create(model="gpt-5.4", input=history, tools=DEFERRED)
    counted = client.responses.input_tokens.count(model="gpt-5.4", input=history, tools=DEFERRED)  # type: ignore[arg-type]
    assert counted.input_tokens == after.usage.input_tokens  # type: ignore[union-attr]
    before = client.responses.input_tokens.count(model="gpt-5.4", input=history[:1], tools=DEFERRED)  # type: ignore[arg-type]
    assert after.usage.input_tokens > before.input_tokens + 20  # type: ignore[union-attr]


def _error(client: openai.OpenAI, **body: Any) -> openai.BadRequestError:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(**body)
    return info.value


def test_errors(client: openai.OpenAI) -> None:
    err = _error(client, model="gpt-5.4", input="hi", tools=[{**WEATHER, "defer_loading": True}])
    assert err.status_code == 400 and err.param == "tools" and "tool_search" in err.message  # chosen
    err = _error(client, model="gpt-4o", input="hi", tools=[{"type": "tool_search"}])
    assert (err.param, err.code) == ("tools", "unsupported_value")  # chosen: tool_search needs gpt-5.4+
    # observed: a namespaced call sent back without its namespace
    history = [
        {"role": "user", "content": "make a widget"},
        {"type": "function_call", "call_id": "call_1", "name": "create_widget", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "ok"},
    ]
    err = _error(client, model="gpt-5.4", input=history, tools=[CRM, {"type": "tool_search"}])
    assert err.body["message"] == (  # type: ignore[index]
        "Missing namespace for function_call 'create_widget'. It does not exist in the default namespace. "
        "Round-trip the model's function_call item with its namespace field included."
    )
    assert (err.param, err.code) == ("input[1].namespace", None)
    # observed: an item already in the chain sent again
    first = client.responses.create(model="gpt-5.4", input="What is the weather in Paris?", tools=DEFERRED)
    again = _dump(first.output[0])
    answer = {"type": "function_call_output", "call_id": first.output[-1].call_id, "output": "18C"}  # type: ignore[union-attr]
    err = _error(
        client, model="gpt-5.4", previous_response_id=first.id, input=[again, answer], tools=DEFERRED
    )
    assert err.body["message"] == (  # type: ignore[index]
        f"Duplicate item found with id {again['id']}. Remove duplicate items from your input and try again."
    )
    assert (err.param, err.code) == ("input", None)


def test_recorded_error_envelopes_match() -> None:
    for name, param in (
        ("openai-tool-search-duplicate-item-error.1.json", "input"),
        ("openai-missing-function-call-namespace-error.1.json", "input[3].namespace"),
    ):
        recorded = json.loads(_shared(FIXTURES / name).read_text())["error"]
        assert (recorded["type"], recorded["param"], recorded["code"]) == (
            "invalid_request_error",
            param,
            None,
        )


def _keys(item: dict[str, Any]) -> set[str]:
    return set(item) - {"created_by"}


def test_shapes_match_the_recordings(client: openai.OpenAI) -> None:
    hosted = json.loads(_shared(FIXTURES / "openai-tool-search.1.json").read_text())
    client_first = json.loads(_shared(FIXTURES / "openai-client-tool-search.1.json").read_text())
    ours = client.responses.create(model="gpt-5.4", input="What is the weather in Paris?", tools=DEFERRED)
    recorded = {i["type"]: i for i in hosted["output"]}
    for item in ours.output:
        dumped = _dump(item)
        assert _keys(dumped) - {"namespace"} == _keys(recorded[item.type]) - {"namespace"}, item.type
    assert [i["type"] for i in hosted["output"]] == [i.type for i in ours.output]
    assert [t["type"] for t in hosted["tools"]][-1] == ours.tools[-1].type == "tool_search"
    assert set(hosted["tools"][-1]) == set(_dump(ours)["tools"][-1])
    (client_call,) = client_first["output"]
    assert client_call["execution"] == "client" and client_call["call_id"].startswith("call_")


def test_streamed_search_matches_the_recorded_grammar(client: openai.OpenAI) -> None:
    cassette = yaml.safe_load(_shared(PYDANTIC / "test_openai_native_tool_search_streaming.yaml").read_text())
    interaction = cassette["interactions"][0]
    body = {k: v for k, v in interaction["request"]["parsed_body"].items() if k != "include"}
    decoder = SSEDecoder()
    recorded = [
        m.json() for m in decoder.feed(interaction["response"]["body"]["string"].encode()) + decoder.flush()
    ]
    with client.responses.with_streaming_response.create(**body) as raw:
        data = raw.read()
    decoder = SSEDecoder()
    events = [m.json() for m in decoder.feed(data) + decoder.flush()]
    for event in events:
        assert_faithful(event, kind="event")
    assert [t.rstrip("+") for t in event_grammar(events)] == [t.rstrip("+") for t in event_grammar(recorded)]
    final = events[-1]["response"]
    assert [i["type"] for i in final["output"]] == ["tool_search_call", "tool_search_output", "function_call"]


def test_streamed_call_is_added_without_arguments(client: openai.OpenAI) -> None:
    with client.responses.stream(
        model="gpt-5.4", input="What is the weather in Paris?", tools=DEFERRED
    ) as stream:
        added = [e.item for e in stream if e.type == "response.output_item.added"]
    assert added[0].type == "tool_search_call" and added[0].arguments == {}  # as recorded
    assert added[1].type == "tool_search_output" and added[1].status == "in_progress"
