"""Built-in tools: item shapes and event families (SDK models), defaults, include[], max_tool_calls and
every tool_choice form, over the real server with the openai client."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from mockserver import MockServer
from mockserver.builtin_tools import ITEM_TYPES as BUILTIN
from mockserver.script import OutputReply, reply_from_json

from fidelity import assert_faithful

# Each built-in tool: its request tool, the item type, and the tool-specific events a stream carries.
TOOLS: dict[str, tuple[dict[str, Any], str, list[str]]] = {
    "web_search": (
        {"type": "web_search"},
        "web_search_call",
        ["response.web_search_call.in_progress", "response.web_search_call.searching",
         "response.web_search_call.completed"],
    ),
    "file_search": (
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        "file_search_call",
        ["response.file_search_call.in_progress", "response.file_search_call.searching",
         "response.file_search_call.completed"],
    ),
    "code_interpreter": (
        {"type": "code_interpreter", "container": {"type": "auto"}},
        "code_interpreter_call",
        ["response.code_interpreter_call.in_progress", "response.code_interpreter_call_code.delta",
         "response.code_interpreter_call_code.done", "response.code_interpreter_call.interpreting",
         "response.code_interpreter_call.completed"],
    ),
    "image_generation": (
        {"type": "image_generation", "partial_images": 2},
        "image_generation_call",
        ["response.image_generation_call.in_progress", "response.image_generation_call.generating",
         "response.image_generation_call.partial_image", "response.image_generation_call.completed"],
    ),
    "mcp": (
        {"type": "mcp", "server_label": "wiki", "server_url": "https://example.com/mcp",
         "require_approval": "never"},
        "mcp_call",
        ["response.mcp_list_tools.in_progress", "response.mcp_list_tools.completed",
         "response.mcp_call.in_progress", "response.mcp_call_arguments.delta",
         "response.mcp_call_arguments.done", "response.mcp_call.completed"],
    ),
    "shell": (
        {"type": "shell", "environment": {"type": "container_auto"}},
        "shell_call",
        ["response.shell_call_command.added", "response.shell_call_command.delta",
         "response.shell_call_command.done", "response.shell_call_output_content.delta",
         "response.shell_call_output_content.done"],
    ),
    "apply_patch": (
        {"type": "apply_patch"},
        "apply_patch_call",
        [],
    ),
    "custom": (
        {"type": "custom", "name": "run_sql", "description": "Run SQL."},
        "custom_tool_call",
        ["response.custom_tool_call_input.delta", "response.custom_tool_call_input.done"],
    ),
    "computer": ({"type": "computer_use_preview", "display_width": 800, "display_height": 600,
                  "environment": "browser"}, "computer_call", []),
    "local_shell": ({"type": "local_shell"}, "local_shell_call", []),
}  # fmt: skip


@pytest.fixture(autouse=True)
def placeholder_ids(server: MockServer) -> Any:
    """These tests name placeholder vector stores (``vs_1``): switch the reference check off
    (``check_references``, tested in test_containers.py) for them, and back on after."""
    server.engine.config.check_references = False
    yield
    server.engine.config.check_references = True


@pytest.fixture
def lenient(server: MockServer) -> Any:
    """A client without strict validation: real web_search_call ``added`` items carry no ``action``, which
    the SDK's strict stream validation refuses (fidelity ALLOW_LIST); events are checked one by one below."""
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test-key", max_retries=0) as c:
        yield c


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_required_tool_streams_its_event_family(lenient: openai.OpenAI, name: str) -> None:
    tool, item_type, family = TOOLS[name]
    stream = lenient.responses.create(
        model="gpt-5.5", input="please help with this", tools=[tool], tool_choice="required", stream=True
    )
    events = [e.model_dump(mode="json", exclude_unset=True) for e in stream]
    for event in events:
        assert_faithful(event, kind="event")
    kinds = [e["type"] for e in events]
    ours = [k for k in kinds if k in family]
    collapsed = [k for i, k in enumerate(ours) if i == 0 or ours[i - 1] != k]  # one entry per delta run
    assert [k for k in collapsed if k in family] == [k for k in family if k in collapsed]
    assert set(collapsed) == set(family), (name, kinds)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    final = events[-1]["response"]
    assert_faithful(final, kind="response")
    types = [i["type"] for i in final["output"]]
    assert item_type in types
    # Items streamed in output_item.done equal the final output (non-streaming and streaming agree).
    assert [e["item"] for e in events if e["type"] == "response.output_item.done"] == final["output"]


def test_hosted_call_is_followed_by_an_answer_client_call_waits(client: openai.OpenAI) -> None:
    hosted = client.responses.create(
        model="gpt-5.5", input="search the web for cats", tools=[{"type": "web_search"}]
    )
    assert [i.type for i in hosted.output][-2:] == ["web_search_call", "message"]
    waiting = client.responses.create(
        model="gpt-5.5", input="apply a patch", tools=[{"type": "apply_patch"}], tool_choice="required"
    )
    assert waiting.output[-1].type == "apply_patch_call"
    assert waiting.output_text == ""


def test_auto_calls_only_when_mentioned_and_none_never(client: openai.OpenAI) -> None:
    tools: Any = [{"type": "web_search"}, {"type": "code_interpreter", "container": {"type": "auto"}}]
    plain = client.responses.create(model="gpt-5.5", input="hello there", tools=tools)
    assert [i.type for i in plain.output if i.type != "reasoning"] == ["message"]
    both = client.responses.create(model="gpt-5.5", input="search and calculate", tools=tools)
    assert {"web_search_call", "code_interpreter_call"} <= {i.type for i in both.output}
    none = client.responses.create(
        model="gpt-5.5", input="search and calculate", tools=tools, tool_choice="none"
    )
    assert not {"web_search_call", "code_interpreter_call"} & {i.type for i in none.output}


def test_specific_and_allowed_tools_choices(client: openai.OpenAI) -> None:
    mcp = {"type": "mcp", "server_label": "wiki", "server_url": "https://example.com/mcp"}
    tools: Any = [{"type": "web_search"}, {"type": "image_generation"}, mcp]
    specific = client.responses.create(
        model="gpt-5.5", input="hi", tools=tools, tool_choice={"type": "image_generation"}
    )
    assert [i.type for i in specific.output if i.type.endswith("_call")] == ["image_generation_call"]
    approval = client.responses.create(
        model="gpt-5.5", input="hi", tools=tools, tool_choice={"type": "mcp", "server_label": "wiki"}
    )
    # require_approval defaults to "always": list the tools, then ask for approval (and stop).
    assert [i.type for i in approval.output if i.type != "reasoning"] == [
        "mcp_list_tools",
        "mcp_approval_request",
    ]
    allowed = client.responses.create(
        model="gpt-5.5",
        input="search for this image",
        tools=tools,
        tool_choice={"type": "allowed_tools", "mode": "auto", "tools": [{"type": "web_search"}]},
    )
    assert [i.type for i in allowed.output if i.type.endswith("_call")] == ["web_search_call"]


@pytest.mark.parametrize(
    ("tools", "choice", "message"),
    [
        # observed (vercel openai-allowed-tools-web-search-error.1.json)
        ([{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}],
         {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "web_search"}]},
         "Tool choice 'web_search' not found in 'tools' parameter."),
        ([{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}],
         {"type": "web_search_preview"}, "Tool choice 'web_search_preview' not found in 'tools' parameter."),
        ([{"type": "web_search"}],
         {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "file_search"}]},
         "Tool choice 'file_search' not found in 'tools' parameter."),
        ([{"type": "web_search"}], {"type": "function", "name": "nope"},
         "Tool choice 'nope' not found in 'tools' parameter."),
        ([{"type": "web_search"}], {"type": "mcp", "server_label": "x"},
         "Tool choice 'x' not found in 'tools' parameter."),
        ([], "required", "Tool choice 'required' must be specified with 'tools' parameter."),
    ],
)  # fmt: skip
def test_invalid_tool_choice_combinations(
    client: openai.OpenAI, tools: Any, choice: Any, message: str
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.5", input="hi", tools=tools, tool_choice=choice)
    assert info.value.status_code == 400
    body: Any = info.value.body
    assert body["message"] == message
    assert body["param"] == "tool_choice"
    assert body["type"] == "invalid_request_error"


def test_include_options_add_sources_results_outputs(client: openai.OpenAI) -> None:
    tools: Any = [
        {"type": "web_search"},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {"type": "code_interpreter", "container": {"type": "auto"}},
    ]
    ask = "search the file and calculate"
    bare = client.responses.create(model="gpt-5.5", input=ask, tools=tools)
    by_type = {i.type: i.model_dump(mode="json", exclude_unset=True) for i in bare.output}
    assert "sources" not in by_type["web_search_call"]["action"]
    assert by_type["file_search_call"]["results"] is None
    assert by_type["code_interpreter_call"]["outputs"] is None
    full = client.responses.create(
        model="gpt-5.5",
        input=ask,
        tools=tools,
        include=[
            "web_search_call.action.sources",
            "file_search_call.results",
            "code_interpreter_call.outputs",
        ],
    )
    by_type = {i.type: i.model_dump(mode="json", exclude_unset=True) for i in full.output}
    assert by_type["web_search_call"]["action"]["sources"][0]["type"] == "url"
    assert by_type["file_search_call"]["results"][0]["file_id"].startswith("file-")
    assert by_type["code_interpreter_call"]["outputs"][0]["type"] == "logs"
    assert_faithful(full.model_dump(mode="json", exclude_unset=True), kind="response")


def test_max_tool_calls_caps_built_in_calls(server: MockServer, client: openai.OpenAI) -> None:
    server.queue(OutputReply(({"type": "web_search_call"},) * 3 + ({"type": "message", "text": "done"},)))
    capped = client.responses.create(
        model="gpt-5.5", input="search", tools=[{"type": "web_search"}], max_tool_calls=2
    )
    assert [i.type for i in capped.output] == ["web_search_call", "web_search_call", "message"]
    assert capped.max_tool_calls == 2


def test_scripted_results_and_deterministic_defaults(server: MockServer, client: openai.OpenAI) -> None:
    reply = OutputReply(
        (
            {"type": "mcp_call", "server_label": "wiki", "name": "ask", "arguments": {"q": 1},
             "output": "42"},
            {"type": "shell_call", "commands": ["ls"]},
            {"type": "shell_call_output", "output": [
                {"outcome": {"type": "exit", "exit_code": 1}, "stdout": "", "stderr": "boom"}]},
            {"type": "mcp_call", "server_label": "wiki", "name": "bad", "error": "server down"},
        )
    )  # fmt: skip
    server.queue(reply)
    first = client.responses.create(model="gpt-5.5", input="go", stream=True)
    events = [e.model_dump(mode="json", exclude_unset=True) for e in first]
    output = events[-1]["response"]["output"]
    assert output[0]["output"] == "42" and output[0]["arguments"] == '{"q":1}'
    assert output[2]["call_id"] == output[1]["call_id"]  # the output answers the call before it
    assert output[2]["output"][0]["stderr"] == "boom"
    assert output[3]["status"] == "failed" and output[3]["output"] is None
    assert "response.mcp_call.failed" in [e["type"] for e in events]
    for event in events:
        assert_faithful(event, kind="event")
    # Defaults are deterministic: the same request on a fresh session gives the same items but ids.
    again = []
    for session in ("a", "b"):
        answer = client.responses.create(
            model="gpt-5.5",
            input="draw a cat",
            tools=[{"type": "image_generation"}],
            extra_headers={"x-resplay-session": session},
        )
        again.append([{k: v for k, v in i.model_dump().items() if k != "id"} for i in answer.output])
    assert again[0] == again[1]


def test_unknown_scripted_item_type_is_rejected(server: MockServer, client: openai.OpenAI) -> None:
    server.queue(OutputReply(({"type": "teleport_call"},)))
    with pytest.raises(openai.BadRequestError, match="teleport_call"):
        client.responses.create(model="gpt-5.5", input="go")


def test_shell_skills_open_the_named_skill(client: openai.OpenAI) -> None:
    inline = {
        "type": "inline",
        "name": "island-rescue",
        "description": "Rescue plans.",
        "source": {"type": "base64", "media_type": "application/zip", "data": "UEsDBA=="},
    }
    hosted: Any = {"type": "shell", "environment": {"type": "container_auto", "skills": [inline]}}
    answer = client.responses.create(model="gpt-5.5", input="use island-rescue", tools=[hosted])
    call, output = [i for i in answer.output if i.type in ("shell_call", "shell_call_output")]
    assert call.action.commands[0].startswith("ls -R /home/oai/skills/island-rescue-")  # type: ignore[union-attr]
    assert call.environment.type == "container_reference"  # type: ignore[union-attr]
    assert output.call_id == call.call_id  # type: ignore[union-attr]
    assert answer.output[-1].type == "message"  # hosted: the answer follows in the same response
    local: Any = {
        "type": "shell",
        "environment": {
            "type": "local",
            "skills": [{"name": "lint", "description": "Lint.", "path": "/s/lint"}],
        },
    }
    waiting = client.responses.create(model="gpt-5.5", input="run the lint skill", tools=[local])
    assert waiting.output[-1].type == "shell_call"  # local: the client runs it and answers
    assert waiting.output[-1].action.commands == ["cat /s/lint/SKILL.md"]  # type: ignore[union-attr]


def test_streams_match_the_recorded_hosted_tool_streams(server: MockServer) -> None:
    """The vercel recordings of every hosted tool (responses without their requests): their output is
    scripted, and our stream must have the recorded event grammar (SPEC §4.5)."""
    from test_real_traffic_shapes import SUPPORTED_ITEMS, interleaved, mirror, recorded_output

    from realtraffic import event_grammar, responses_interactions, shared_root

    if not shared_root().is_dir():
        pytest.skip(f"../shared is not present at {shared_root()} (set RESPLAY_SHARED)")
    # SDK 3.51.0 has no apply_patch_call_operation_diff events (docs/errors.md): compare without them.
    sdk_less = (
        "response.apply_patch_call_operation_diff.delta",
        "response.apply_patch_call_operation_diff.done",
    )
    compared = set()
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
        for interaction in responses_interactions(openai_only=True):
            output = recorded_output(interaction)
            if interaction.request_json is not None or interaction.sse_events is None or not output:
                continue
            kinds = {item["type"] for item in output}
            if not kinds & set(BUILTIN) or not kinds <= SUPPORTED_ITEMS | set(BUILTIN):
                continue
            if interleaved(interaction.sse_events):
                continue
            final = interaction.response_objects[-1]
            server.queue(reply_from_json(mirror(output)))
            tools = [{k: v for k, v in t.items() if k != "n"} for t in final.get("tools") or []]
            # The request is not recorded: infer partial_images (default 0) from the partial images sent.
            partial = sum(
                e.get("type") == "response.image_generation_call.partial_image"
                for e in interaction.sse_events
            )
            for tool in tools:
                if tool["type"] == "image_generation" and partial:
                    tool["partial_images"] = partial
            stream = client.responses.create(model="gpt-5.5", input="x", tools=tools, stream=True)
            ours = event_grammar(e.model_dump(mode="json", exclude_unset=True) for e in stream)
            theirs = [k for k in event_grammar(interaction.sse_events) if k.rstrip("+") not in sdk_less]
            assert [k.rstrip("+") for k in ours] == [k.rstrip("+") for k in theirs], interaction.path.name
            compared |= kinds & set(BUILTIN)
    assert len(compared) >= 8, compared


@pytest.mark.parametrize(
    ("choice", "item_type"),
    [
        ({"type": "shell"}, "shell_call"),
        ({"type": "apply_patch"}, "apply_patch_call"),
        ({"type": "custom", "name": "sql"}, "custom_tool_call"),
        (
            {"type": "allowed_tools", "mode": "required", "tools": [{"type": "custom", "name": "sql"}]},
            "custom_tool_call",
        ),
        ({"type": "function", "name": "f"}, "function_call"),
    ],
)
def test_every_specific_tool_choice_form(client: openai.OpenAI, choice: Any, item_type: str) -> None:
    tools: Any = [
        {"type": "shell", "environment": {"type": "local"}},
        {"type": "apply_patch"},
        {"type": "custom", "name": "sql"},
        {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}},
    ]
    answer = client.responses.create(model="gpt-5.5", input="hello", tools=tools, tool_choice=choice)
    assert [i.type for i in answer.output if i.type not in ("reasoning", "message")] == [item_type]
    assert answer.tool_choice.type == choice["type"]  # type: ignore[union-attr]
