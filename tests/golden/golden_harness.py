"""Golden outputs of the default model: the request corpus, the runner and the readable golden format.

Every case runs in its own session (``x-resplay-session: golden-<case>``) of one in-process server with a
fixed seed, a fixed secret and a virtual clock pinned to :data:`GOLDEN_EPOCH`, so that a case's ids depend
only on that case (adding a case never changes another's file) and nothing reads the wall clock.

A golden file is JSON, indented, one per case: the requests, then each answer's status and its body. JSON
bodies keep the server's key order and SSE streams are stored as a list of ``{"event", "data"}`` frames;
:func:`render` checks that re-encoding the stored form with ``orjson`` (what the server uses) gives back the
exact wire bytes, and stores the raw text instead where it would not. So two renderings are equal exactly
when the wire bytes are equal, and a mismatch diffs readably.

Nothing is normalised: ``created_at``, the time digits inside ids and the Fernet timestamp of encrypted
reasoning come from the pinned virtual clock; ids and ``obfuscation`` padding come from the seed (padding is
seeded by the response id, ``engine._obfuscator``); encrypted blobs from the fixed secret and seeded IVs
(DECISIONS 13).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from mockserver import MockServer
from mockserver.generator import GENERATOR_VERSION

GOLDEN_ROOT = Path(__file__).resolve().parent
CURRENT_VERSION = str(GENERATOR_VERSION)
"""The generator version whose goldens the test compares against (``mockserver.generator``)."""
SEED = 7
SECRET = "resplay-golden-secret"
API_KEY = "sk-golden"
GOLDEN_EPOCH = 1_780_000_000.0
"""2026-05-28T20:26:40Z: the virtual clock's frozen start (the default would be the wall time at start)."""

# --- the corpus --------------------------------------------------------------------------------------------

WEATHER: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather at a specific location",
    "parameters": {
        "type": "object",
        "properties": {
            "location": {"type": "string", "description": "The city, e.g. Paris"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location", "unit"],
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
RECIPE_SCHEMA: dict[str, Any] = {
    "type": "json_schema",
    "name": "recipe",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "servings": {"type": "integer"},
            "vegetarian": {"type": "boolean"},
            "ingredients": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "grams": {"type": "number"}},
                    "required": ["name", "grams"],
                    "additionalProperties": False,
                },
            },
            "difficulty": {"type": "string", "enum": ["easy", "medium", "hard"]},
            "notes": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["title", "servings", "vegetarian", "ingredients", "difficulty", "notes"],
        "additionalProperties": False,
    },
}

PREV = "$previous_response_id"
"""In a step's body: replaced by the id of the case's latest response."""
PREV_OUTPUT = "$previous_output"
"""As an ``input`` list element: replaced by the latest response's output items (stateless replay)."""
PREV_CALL_ID = "$previous_call_id"
"""Replaced by the ``call_id`` of the latest response's first function call."""
PREV_OBJECT = "$previous_object_id"
"""Replaced by the id of the latest object answered (e.g. a vector store the case created)."""


@dataclass(frozen=True)
class Case:
    """One golden case: steps run in order in a fresh session.

    A step is ``{"post": body}`` (``POST /v1/responses``; with ``"path"``, elsewhere), ``{"get": "<path>"}``
    (``$previous_response_id`` substituted) or ``{"advance": seconds}`` (the session's virtual clock).
    """

    name: str
    steps: tuple[Mapping[str, Any], ...]


def _post(**body: Any) -> dict[str, Any]:
    return {"post": body}


def _one(name: str, **body: Any) -> Case:
    return Case(name, (_post(**body),))


M = "gpt-5.5"
DEFERRED = [{"type": "tool_search"}, {**WEATHER, "defer_loading": True}, {**EMAIL, "defer_loading": True}]
NO_REASONING = {"effort": "none"}

CASES: tuple[Case, ...] = (
    # Plain text.
    _one("text_plain_gpt41", model="gpt-4.1", input="Hello there, how are you?"),
    _one("text_verbosity_low", model=M, input="Tell me about tests.", reasoning=NO_REASONING,
         text={"verbosity": "low"}),
    _one("text_verbosity_medium", model=M, input="Tell me about tests.", reasoning=NO_REASONING,
         text={"verbosity": "medium"}),
    _one("text_verbosity_high", model=M, input="Tell me about tests.", reasoning=NO_REASONING,
         text={"verbosity": "high"}),
    _one("text_instructions_messages", model="gpt-4.1-mini", instructions="Answer briefly.",
         input=[{"role": "developer", "content": "Be kind."},
                {"role": "user", "content": [{"type": "input_text", "text": "What is resplay?"}]}],
         metadata={"suite": "golden"}, temperature=0.2, top_p=0.9, user="golden-user"),
    # Reasoning efforts and summaries.
    _one("reasoning_none", model=M, input="Think about it.", reasoning={"effort": "none"}),
    _one("reasoning_minimal_gpt5", model="gpt-5", input="Think about it.", reasoning={"effort": "minimal"}),
    _one("reasoning_low", model=M, input="Think about it.", reasoning={"effort": "low"}),
    _one("reasoning_medium_default", model=M, input="Think about it."),
    _one("reasoning_high", model=M, input="Think about it.", reasoning={"effort": "high"}),
    _one("reasoning_xhigh", model=M, input="Think about it.", reasoning={"effort": "xhigh"}),
    _one("reasoning_max_gpt56", model="gpt-5.6", input="Think about it.", reasoning={"effort": "max"}),
    _one("reasoning_summary_auto", model=M, input="Explain.",
         reasoning={"effort": "medium", "summary": "auto"}),
    _one("reasoning_summary_detailed", model=M, input="Explain.",
         reasoning={"effort": "high", "summary": "detailed"}),
    # Function tools, phase (gpt-5.3+), tool_choice.
    _one("tools_required_phase", model=M, input="Please help.", tools=[WEATHER, EMAIL],
         tool_choice="required"),
    _one("tools_auto_by_name_gpt41", model="gpt-4.1", input="What is the weather in Paris?", tools=[WEATHER]),
    _one("tools_auto_no_match", model=M, input="Tell me a joke.", tools=[WEATHER], reasoning=NO_REASONING),
    _one("tools_named_choice", model=M, input="Hi.", tools=[WEATHER, EMAIL],
         tool_choice={"type": "function", "name": "send_email"}),
    _one("tools_none_choice", model=M, input="Weather in Paris?", tools=[WEATHER], tool_choice="none"),
    Case("tools_call_then_output_chain", (
        _post(model=M, input="What is the weather in Paris?", tools=[WEATHER], reasoning={"effort": "low"}),
        _post(model=M, previous_response_id=PREV, tools=[WEATHER], reasoning={"effort": "low"},
              input=[{"type": "function_call_output", "call_id": PREV_CALL_ID, "output": "{\"temp\": 21}"}]),
    )),
    # Structured outputs.
    _one("json_schema_strict", model=M, input="A recipe please.", text={"format": RECIPE_SCHEMA},
         reasoning=NO_REASONING),
    _one("json_object", model="gpt-4.1", input="Return JSON with a key 'ok'.",
         text={"format": {"type": "json_object"}}),
    # Budgets.
    _one("max_output_tokens_incomplete", model=M, input="Tell me everything.", max_output_tokens=20,
         reasoning={"effort": "low"}, text={"verbosity": "high"}),
    _one("max_output_tokens_text_cut", model="gpt-4.1", input="Tell me everything.", max_output_tokens=16),
    # previous_response_id chains.
    Case("previous_response_chain", (
        _post(model=M, input="My name is Ada.", reasoning={"effort": "low"}),
        _post(model=M, input="What is my name?", previous_response_id=PREV, reasoning={"effort": "low"}),
        _post(model=M, input="And again?", previous_response_id=PREV, reasoning={"effort": "low"}),
        {"get": "/v1/responses/" + PREV + "/input_items"},
        {"get": "/v1/responses/" + PREV},
    )),
    # Streams.
    _one("stream_text_obfuscated", model=M, input="Stream me a reply.", stream=True, reasoning=NO_REASONING),
    _one("stream_text_no_obfuscation", model=M, input="Stream me a reply.", stream=True,
         stream_options={"include_obfuscation": False}, reasoning=NO_REASONING, text={"verbosity": "high"}),
    _one("stream_reasoning_summary_tools", model=M, input="Please help.", stream=True, tools=[WEATHER],
         tool_choice="required", reasoning={"effort": "medium", "summary": "auto"}),
    _one("stream_json_schema", model="gpt-4.1", input="A recipe please.", stream=True,
         text={"format": RECIPE_SCHEMA}),
    _one("stream_incomplete", model="gpt-4.1", input="Tell me everything.", stream=True,
         max_output_tokens=16),
    # Built-in tools.
    _one("builtin_web_search", model=M, input="search the web for cats", tools=[{"type": "web_search"}],
         include=["web_search_call.action.sources"]),
    Case("builtin_file_code_stream", (
        {"post": {"name": "docs"}, "path": "/v1/vector_stores"},  # file_search needs a real store id
        _post(model=M, input="search my files and run some code", stream=True,
              tools=[{"type": "file_search", "vector_store_ids": [PREV_OBJECT]},
                     {"type": "code_interpreter", "container": {"type": "auto"}}], tool_choice="required"),
    )),
    _one("builtin_image_generation_stream", model=M, input="draw a cat", stream=True,
         tools=[{"type": "image_generation", "partial_images": 2}]),
    _one("builtin_mcp_custom", model=M, input="ask the wiki and run_sql",
         tools=[{"type": "mcp", "server_label": "wiki", "server_url": "https://example.com/mcp",
                 "require_approval": "never"},
                {"type": "custom", "name": "run_sql", "description": "Run SQL."}]),
    # tool_search (hosted, deferred tools).
    _one("tool_search_hosted", model=M, input="What is the weather in Paris?",
         tools=DEFERRED),
    _one("tool_search_hosted_stream", model=M, input="Send an email to bob", stream=True,
         tools=DEFERRED),
    # store=false and encrypted reasoning, carried back by the client.
    Case("store_false_encrypted_reasoning", (
        _post(model=M, input="hello", store=False, reasoning={"effort": "low", "summary": "auto"},
              include=["reasoning.encrypted_content"]),
        _post(model=M, store=False, reasoning={"effort": "low"}, include=["reasoning.encrypted_content"],
              input=[{"role": "user", "content": "hello"}, PREV_OUTPUT,
                     {"role": "user", "content": "and now?"}]),
    )),
    # Background: queued -> in_progress -> completed on the virtual clock (DECISIONS 11).
    Case("background_lifecycle", (
        _post(model=M, input="Work on this in the background.", background=True, reasoning={"effort": "low"}),
        {"advance": 1.5},
        {"get": "/v1/responses/" + PREV},
        {"advance": 2.0},
        {"get": "/v1/responses/" + PREV},
    )),
)  # fmt: skip


# --- running -----------------------------------------------------------------------------------------------


def golden_server() -> MockServer:
    """A started server whose every session clock is pinned to :data:`GOLDEN_EPOCH`."""
    # The virtual clock would start at the wall time (so created_at looks real): pin it instead. Reference
    # checks (mockserver.references) are validation, not the default model: off, so that they never move the
    # goldens. The key is explicit so that a RESPLAY_API_KEY in the environment cannot make every case a 401.
    return MockServer(
        seed=SEED, secret=SECRET, clock_start=GOLDEN_EPOCH, check_references=False, api_key=API_KEY
    ).start()


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy


def _send(
    server: MockServer, session: str, method: str, path: str, body: Any = None
) -> tuple[int, str, bytes]:
    request = urllib.request.Request(
        server.url + path,
        data=None if body is None else orjson.dumps(body),
        method=method,
        headers={"authorization": f"Bearer {API_KEY}", "content-type": "application/json",
                 "x-resplay-session": session},
    )  # fmt: skip
    try:
        with _OPENER.open(request, timeout=30) as answer:
            return answer.status, answer.headers.get("content-type", ""), answer.read()
    except urllib.error.HTTPError as exc:  # 4xx: the envelope is part of the golden
        return exc.code, exc.headers.get("content-type", ""), exc.read()


def _substitute(value: Any, last: Mapping[str, Any] | None, last_object: str | None = None) -> Any:
    if isinstance(value, str):
        if value == PREV_OBJECT:
            assert last_object is not None, "no earlier object in this case"
            return last_object
        if PREV in value:
            assert last is not None, "no earlier response in this case"
            return value.replace(PREV, str(last["id"]))
        if value == PREV_CALL_ID:
            assert last is not None
            return next(i["call_id"] for i in last["output"] if i["type"] == "function_call")
        return value
    if isinstance(value, list):
        out: list[Any] = []
        for element in value:
            if element == PREV_OUTPUT:
                assert last is not None
                out.extend(last["output"])
            else:
                out.append(_substitute(element, last, last_object))
        return out
    if isinstance(value, dict):
        return {k: _substitute(v, last, last_object) for k, v in value.items()}
    return value


def run_case(server: MockServer, case: Case) -> dict[str, Any]:
    """Run one case in its own session; the golden document (see :func:`render`)."""
    session = "golden-" + case.name
    steps: list[dict[str, Any]] = []
    last: dict[str, Any] | None = None
    last_object: str | None = None
    for step in case.steps:
        if "advance" in step:
            server.advance(float(step["advance"]), session=session)
            steps.append({"advance": step["advance"]})
            continue
        if "post" in step:
            method, path = "POST", str(step.get("path", "/v1/responses"))
            body = _substitute(step["post"], last, last_object)
        else:
            method, path, body = "GET", _substitute(step["get"], last), None
        status, content_type, raw = _send(server, session, method, path, body)
        record: dict[str, Any] = {"request": {"method": method, "path": path}}
        if body is not None:
            record["request"]["body"] = body
        record["status"] = status
        record["content_type"] = content_type
        record.update(_readable(content_type, raw))
        steps.append(record)
        final = _final_response(record)
        if final is not None:
            last = final
        if isinstance(record.get("body"), dict) and isinstance(record["body"].get("id"), str):
            last_object = record["body"]["id"]
    return {"case": case.name, "seed": SEED, "clock_start": GOLDEN_EPOCH, "steps": steps}


def _final_response(record: Mapping[str, Any]) -> dict[str, Any] | None:
    if "body" in record and isinstance(record["body"], dict) and record["body"].get("object") == "response":
        return dict(record["body"])
    for frame in reversed(record.get("sse", ())):
        response = frame["data"].get("response")
        if isinstance(response, dict):
            return response
    return None


def _readable(content_type: str, raw: bytes) -> dict[str, Any]:
    """The body in readable form, or the raw text where the readable form would not re-encode exactly."""
    if content_type.startswith("text/event-stream"):
        frames = []
        for chunk in raw.split(b"\n\n")[:-1]:
            head, _, data = chunk.partition(b"\ndata: ")
            frames.append({"event": head.removeprefix(b"event: ").decode(), "data": orjson.loads(data)})
        readable: dict[str, Any] = {"sse": frames}
        if _reencode(json.loads(json.dumps(readable))) == raw:
            return readable
        return {"sse_raw": raw.decode()}
    if content_type.startswith("application/json"):
        body = orjson.loads(raw)
        if orjson.dumps(json.loads(json.dumps(body, ensure_ascii=False))) == raw:
            return {"body": body}
    return {"body_raw": raw.decode()}


def _reencode(readable: Mapping[str, Any]) -> bytes:
    return b"".join(
        b"event: " + f["event"].encode() + b"\ndata: " + orjson.dumps(f["data"]) + b"\n\n"
        for f in readable["sse"]
    )


def render(document: Mapping[str, Any]) -> str:
    """The golden file's text: indented JSON, non-ASCII kept, bodies in wire key order, newline at the end."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def golden_dir(version: str) -> Path:
    """Where the goldens of a generator version live: ``tests/golden/v<version>/``."""
    return GOLDEN_ROOT / f"v{version}"


def run_all(cases: Sequence[Case] = CASES) -> Iterator[tuple[Case, str]]:
    """Every case's rendered golden text, on one fresh server."""
    server = golden_server()
    try:
        for case in cases:
            yield case, render(run_case(server, case))
    finally:
        server.stop()
