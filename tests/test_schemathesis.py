"""Issue 12, bad input: schemathesis against the Responses operations of the published OpenAPI file.

The OpenAPI description (``../shared/reference/openapi/openai-openapi.yml``, v2.3.0, 2 MB, 61,000 lines)
is trimmed once to the ``/responses*`` paths and the components they reference (247 schemas, 260 KB),
patched where it contradicts the real API (``SPEC_PATCHES``), and cached as JSON in the temporary
directory: parsing the YAML costs 0.5-1 s, the cached subset about 10 ms, schemathesis' own loading 0.2 s.

Every operation is fuzzed in schemathesis' positive mode (schema-valid requests) and negative mode
(requests that break the schema) against a real ``MockServer`` on loopback that requires an API key.
Checks, on every answer:

* schemathesis' ``not_a_server_error``, ``content_type_conformance``, ``response_headers_conformance``,
  ``response_schema_conformance`` (every body, and every event of a stream, against the patched spec) and
  ``negative_data_rejection`` (a schema-invalid request must be a 4xx);
* ours: every error is OpenAI's envelope with a status the real API uses, a 401 only when the request
  did not carry our key, a schema-valid request refused only for a reason ``docs/openapi-gaps.md`` lists
  (``KNOWN_GAPS``), and every 2xx body or event also faithful to the SDK 3.51.0 models
  (``tests/fidelity.py``; the SDK wins over the file, DECISIONS 29).

Every exclusion names its entry in ``docs/openapi-gaps.md``. Positive requests are steered towards
success three times in four (a catalogue model, an input, JSON rather than form encoding, an existing
response id, sometimes ``stream: true``): left alone, nearly all of them stop at "missing model" or
"not found" and no 2xx body gets checked.
"""

from __future__ import annotations

import collections
import copy
import functools
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from openai.types.responses import input_token_count_params, response_compact_params, response_create_params
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import UnsupportedSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
)

from mockserver import MockServer
from mockserver.sse import SSEDecoder

from fidelity import assert_faithful
from realtraffic import shared_root
from sdk_versions import pinned_sdk_only

KEY = "sk-schemathesis"
AUTH = {"Authorization": f"Bearer {KEY}"}

OPERATIONS = (
    "POST /responses",
    "GET /responses/{response_id}",
    "DELETE /responses/{response_id}",
    "POST /responses/{response_id}/cancel",
    "GET /responses/{response_id}/input_items",
    "POST /responses/input_tokens",
    "POST /responses/compact",
)
"""Every Responses operation the v2.3.0 file describes (``test_the_spec_has_these_operations``)."""

FAST_EXAMPLES = 15
"""Examples per operation and mode in ``make test``: 7 x 2 x 15 = 210 requests."""
SLOW_EXAMPLES = 250
"""Examples per operation and mode under ``-m slow``."""

MODELS = ("gpt-5.5", "gpt-4.1", "gpt-5.1", "o3", "gpt-4o-mini", "gpt-5.4-2026-03-05")

# Statuses the real API answers on these paths: 400 validation, 401 auth, 404 unknown id or path,
# 413 body too large, 429 rate limit (405 and 5xx never: an unknown method is a 404 here, faults are off).
REAL_STATUSES = {400, 401, 404, 413, 429}

_ANY = r"\S+ \S+"  # "METHOD /path"
KNOWN_GAPS: tuple[tuple[str, str], ...] = (
    # (docs/openapi-gaps.md entry, regex over "METHOD /path status code param message") for a
    # schema-valid request that the real API (and so resplay) refuses.
    ("G3 required parameters", r"^POST \S+ 400 missing_required_parameter (model|input|None) "),
    ("G4 model catalogue", r"^POST \S+ 400 model_not_found model "),
    ("G5 closed objects", rf"^{_ANY} 400 unknown_parameter "),
    ("G6 id formats", rf"^{_ANY} 400 invalid_value \S*(previous_response_id|conversation|\bid)\S* "),
    ("G6 id formats", rf"^{_ANY} 400 None \S*(previous_response_id|conversation)\S* "),
    ("G7 unknown ids", rf"^{_ANY} 404 "),
    ("G7 unknown ids", rf"^{_ANY} 400 previous_response_not_found "),
    ("G7 unknown ids", r"^GET \S+ 400 None (after|before) Invalid '\w+': no item with id "),
    ("G8 form bodies", r"^POST \S+ 400 None None We could not parse the JSON body"),
    ("G9 optional bodies", r"^POST \S+ 400 invalid_type None Invalid body: expected a JSON object"),
    ("G10 bounds", rf"^{_ANY} 400 (integer|decimal)_(below_min|above_max)_value "),
    ("G10 bounds", rf"^{_ANY} 400 (empty_array|array_above_max_length|string_(above|below)_m\w+_length) "),
    ("G10 bounds", r"^POST \S+ 400 invalid_value \S+ Invalid '\S+': string does not match pattern"),
    (
        "G11 integers",
        r"^POST \S+ 400 invalid_type \S+ Invalid type .*: expected an integer, but got a decimal",
    ),
    (
        "G12 cross-field rules",
        r"^POST \S+ 400 None (stream_options|store) The '\w+' parameter is only allowed ",
    ),
    ("G12 cross-field rules", r"^POST \S+ 400 None store Background responses require 'store' to be true"),
    # Item rules: a content part of another role, a call output without its call, compaction_trigger last.
    ("G12 cross-field rules", r"^POST \S+ 400 (invalid_value|None) input(\[\d+\](\.content\[\d+\])?)? "),
    ("G12 cross-field rules", r"^POST \S+ 400 mutually_exclusive_parameters "),
    ("G12 cross-field rules", r"^POST \S+ 400 None (temperature|top_p|reasoning\.effort) Unsupported param"),
    ("G12 cross-field rules", r"^POST \S+ 400 unsupported_value reasoning\.effort "),
    ("G12 cross-field rules", r"^GET \S+ 400 None stream "),
    ("G12 cross-field rules", r"^POST \S+/cancel 400 None None Cannot cancel a synchronous response"),
    (
        "G12 cross-field rules",
        r"^POST \S+ 400 None tool_choice Tool choice '.*' (not found in|must be specified with) 'tools' ",
    ),
    ("G16 encrypted content", r"^POST \S+ 400 invalid_encrypted_content None The encrypted content "),
)


# --- the trimmed spec --------------------------------------------------------------------------------


def _refs(node: Any, components: dict[str, dict[str, Any]], found: set[tuple[str, str]]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            _, _, kind, name = ref.split("/", 3)
            if (kind, name) not in found:
                found.add((kind, name))
                _refs(components[kind][name], components, found)
        for value in node.values():
            _refs(value, components, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, components, found)


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _without_discriminator(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != "discriminator"}


_ERROR_RESPONSE = {"$ref": "#/components/schemas/ErrorResponse"}
_EVENTS = {
    # OpenAPI 3.2's way to say "each SSE event's data is one JSON ResponseStreamEvent" (G17).
    "itemSchema": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "event": {"type": "string"},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": "#/components/schemas/ResponseStreamEvent"},
            },
        },
    }
}
_JSON_SCHEMA = ("content", "application/json", "schema")

_PROPS = ("components", "schemas", "ModelResponseProperties", "properties")

SPEC_PATCHES: tuple[tuple[str, tuple[str, ...], Any], ...] = (
    # (docs/openapi-gaps.md entry, where in the subset, the edit): each relaxes one spec statement that
    # real traffic (or SDK 3.51.0, DECISIONS 29) contradicts, so every other check keeps its bite.
    ("G2", ("paths", "/responses/{response_id}", "delete", "responses", "404", *_JSON_SCHEMA),
     lambda _: _ERROR_RESPONSE),
    ("G2", ("paths", "/responses/{response_id}/cancel", "post", "responses", "404", *_JSON_SCHEMA),
     lambda _: _ERROR_RESPONSE),
    ("G13", (*_PROPS, "safety_identifier"), _nullable),
    ("G13", (*_PROPS, "prompt_cache_key"), _nullable),
    ("G13", (*_PROPS, "user"), _nullable),
    ("G13", ("components", "schemas", "Response", "allOf", "2", "properties", "usage"), _nullable),
    ("G14", ("components", "schemas", "ItemResource"), _without_discriminator),
    ("G15", ("components", "schemas", "CompactResource", "properties", "output", "items"),
     lambda schema: {"anyOf": [schema, {"$ref": "#/components/schemas/ItemResource"}]}),
    ("G17", ("paths", "/responses", "post", "responses", "200", "content", "text/event-stream"),
     lambda _: _EVENTS),
    ("G17", ("paths", "/responses/{response_id}", "get", "responses", "200", "content"),
     lambda content: {**content, "text/event-stream": _EVENTS}),
    ("G18", (*_PROPS, "prompt_cache_retention", "anyOf", "0", "enum"),
     lambda values: ["in_memory" if v == "in-memory" else v for v in values]),
    ("G18", ("components", "schemas", "WebSearchActionFind", "properties", "type", "enum"),
     lambda values: ["find_in_page" if v == "find" else v for v in values]),
)  # fmt: skip


def _patch(subset: dict[str, Any], where: tuple[str, ...], edit: Any) -> None:
    node: Any = subset
    for key in where[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = int(where[-1]) if isinstance(node, list) else where[-1]
    node[last] = edit(copy.deepcopy(node[last]))  # KeyError / IndexError: the spec moved, re-check the gap


def _build_subset(spec: dict[str, Any]) -> dict[str, Any]:
    paths = {p: v for p, v in spec["paths"].items() if p == "/responses" or p.startswith("/responses/")}
    found: set[tuple[str, str]] = set()
    _refs(paths, spec["components"], found)
    components: dict[str, dict[str, Any]] = collections.defaultdict(dict)
    for kind, name in sorted(found):
        components[kind][name] = spec["components"][kind][name]
    components["securitySchemes"] = spec["components"]["securitySchemes"]
    subset = copy.deepcopy(
        {
            "openapi": spec["openapi"],
            "info": spec["info"],
            # Never the internet: every call passes the MockServer's base_url, and this placeholder (the
            # discard port on loopback) is what anything that forgot to would reach.
            "servers": [{"url": "http://127.0.0.1:9/v1"}],
            "security": spec["security"],
            "paths": paths,
            "components": dict(components),
        }
    )
    for _, where, edit in SPEC_PATCHES:
        _patch(subset, where, edit)
    # Patches may name components the paths did not (ErrorResponse): bring them and theirs in.
    found = set()
    _refs(subset["paths"], spec["components"], found)
    _refs(subset["components"], spec["components"], found)
    for kind, name in sorted(found):
        if name not in subset["components"].setdefault(kind, {}):
            subset["components"][kind][name] = copy.deepcopy(spec["components"][kind][name])
    return subset


@functools.lru_cache(maxsize=1)
def responses_subset() -> dict[str, Any]:
    """The ``/responses*`` paths of the published file, the components they reference, ``SPEC_PATCHES``.

    Parsing the 2 MB YAML takes 0.5-1 s, so the subset (260 KB of JSON) is cached in the temporary
    directory under a hash of the spec and of this file (a new spec or a new patch rebuilds it): later
    runs and the other xdist worker read it in about 10 ms.
    """
    path = shared_root() / "reference" / "openapi" / "openai-openapi.yml"
    if not path.is_file():
        pytest.skip(f"the OpenAPI file is not present at {path} (set RESPLAY_SHARED, DECISIONS 25)")
    raw = path.read_bytes()
    digest = hashlib.sha256(raw + Path(__file__).read_bytes()).hexdigest()[:16]
    cached = Path(tempfile.gettempdir()) / f"resplay-openapi-responses-{digest}.json"
    try:
        return dict(json.loads(cached.read_bytes()))
    except (OSError, ValueError):
        pass
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    subset = _build_subset(yaml.load(raw, Loader=loader))
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(subset), encoding="utf-8")
    os.replace(partial, cached)  # atomic: the other worker reads either nothing or all of it
    return subset


@functools.lru_cache(maxsize=1)
def _schema() -> Any:
    # schemathesis edits what it is given (key stringification, bundling): hand it a copy.
    schema = schemathesis.openapi.from_dict(copy.deepcopy(responses_subset()))
    # Read whole streams (the default stops after a few events): every event is validated (G17).
    schema.config.max_stream_events = 10_000
    return schema


def _operation(label: str) -> Any:
    operation = _schema().find_operation_by_label(label)
    assert operation is not None, label
    return operation


# --- the server under test ---------------------------------------------------------------------------


@dataclass
class Api:
    server: MockServer
    http: requests.Session
    pool: list[str] = field(default_factory=list)
    """Ids of stored responses that stay (GET / input_items); DELETE and cancel get fresh ones."""

    def create(self, **body: Any) -> str:
        url = f"{self.server.base_url}/responses"
        with self.http.post(url, json=body, headers=AUTH, timeout=10, stream=True) as answer:
            assert answer.status_code == 200, answer.text
            if not body.get("stream"):
                return str(answer.json()["id"])
            # A background stream runs on the virtual clock: read its first event only.
            data = next(line for line in answer.iter_lines() if line.startswith(b"data: "))
            return str(json.loads(data[6:])["response"]["id"])

    def fresh_id(self, label: str, rnd: Any) -> str:
        if label.startswith("POST /responses/{response_id}/cancel"):
            # Cancellable: a background job (virtual clock: it stays queued), sometimes a finished one.
            background = rnd.draw(st.sampled_from([True, False]), label="background")
            return self.create(model="gpt-5.5", input="to cancel", background=background)
        return self.create(model="gpt-4.1", input="to delete")


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    responses_subset()  # skip early, with the reason, where ../shared is absent
    with MockServer(seed=12, api_key=KEY) as server, requests.Session() as http:
        result = Api(server, http)
        # Finished before the rest: GET ?stream=true replays its events (DECISIONS 6) and ends.
        replayable = result.create(model="gpt-5.5", input="replayable", background=True, stream=True)
        server.advance(10)
        result.pool = [
            replayable,
            result.create(model="gpt-4.1", input="Say hi."),
            result.create(
                model="gpt-5.5",
                input=[{"role": "user", "content": "one"}, {"role": "user", "content": "two"}],
                instructions="Be brief.",
            ),
            result.create(
                model="gpt-5.5",
                input="calls a tool",
                tool_choice="required",
                tools=[{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
            ),
            result.create(model="gpt-5.5", input="slow", background=True),  # stays queued
        ]
        yield result


# --- checks ------------------------------------------------------------------------------------------


def _error_key(label: str, answer: Any) -> str:
    method, path = label.split(" ", 1)
    error = answer.json()["error"]
    return f"{method} {path} {answer.status_code} {error['code']} {error['param']} {error['message']}"


def assert_real_error(label: str, answer: Any, mode: GenerationMode) -> None:
    """Every 4xx is the OpenAI envelope with a real status; a valid request fails only for a known gap."""
    assert answer.status_code < 500, answer.text
    if answer.status_code < 400:
        return
    assert answer.status_code in REAL_STATUSES, answer.text
    assert answer.headers["content-type"][0].startswith("application/json"), answer.headers
    body = answer.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    assert isinstance(body["error"]["type"], str), body
    if answer.status_code == 401:
        # Only a request that did not carry our key (negative mode drops or mangles Authorization).
        assert answer.request.headers.get("Authorization") != AUTH["Authorization"], body
        return
    if mode is GenerationMode.POSITIVE:
        key = _error_key(label, answer)
        if re.split(r"[.\[]", body["error"]["param"] or "")[0] in newer_fields(label):
            return  # G20: a field the file lacks, generated as a random extra key, checked by its SDK type
        assert any(re.search(pattern, key) for _, pattern in KNOWN_GAPS), (
            f"a schema-valid request was refused for a reason docs/openapi-gaps.md does not list:\n{key}"
        )


SDK_PARAMS: dict[str, type] = {
    "POST /responses": response_create_params.ResponseCreateParamsBase,
    "POST /responses/input_tokens": input_token_count_params.InputTokenCountParams,
    "POST /responses/compact": response_compact_params.ResponseCompactParams,
}


def _spec_properties(schema: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        schema = responses_subset()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    found = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        found |= _spec_properties(part)
    return found


@functools.cache
def newer_fields(label: str) -> frozenset[str]:
    """Body fields of SDK 3.51.0's params that the v2.3.0 file does not know (G20); none off the POSTs."""
    if label not in SDK_PARAMS:
        return frozenset()
    method, path = label.split(" ", 1)
    body = responses_subset()["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]
    sdk = {name for cls in SDK_PARAMS[label].__mro__ for name in getattr(cls, "__annotations__", {})}
    return frozenset(sdk - _spec_properties(body["schema"]))


FIDELITY_KIND = {
    "POST /responses": "response",
    "GET /responses/{response_id}": "response",
    "DELETE /responses/{response_id}": "deleted",
    "POST /responses/{response_id}/cancel": "response",
    "GET /responses/{response_id}/input_items": "input_items_list",
    "POST /responses/input_tokens": "input_tokens",
    "POST /responses/compact": "compacted",
}


TERMINAL_EVENTS = {"response.completed", "response.incomplete", "response.failed"}


def assert_sdk_faithful(label: str, answer: Any) -> None:
    """A 2xx body (or each of its events) also matches SDK 3.51.0's models, which win (DECISIONS 29)."""
    if not 200 <= answer.status_code < 300:
        return
    if answer.headers["content-type"][0].startswith("text/event-stream"):
        assert not answer.stream_cut_short
        decoder = SSEDecoder()
        events = [*decoder.feed(answer.content), *decoder.flush()]
        if label == "POST /responses":  # a replay (GET) may start after the last event: none left
            assert events and events[-1].event in TERMINAL_EVENTS, answer.text[-300:]
        for event in events:
            assert_faithful(event.json(), "event")
    else:
        assert_faithful(answer.json(), FIDELITY_KIND[label])  # type: ignore[arg-type]


CHECKS = [
    not_a_server_error,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,  # against the patched subset (SPEC_PATCHES)
    negative_data_rejection,
]
"""schemathesis' checks that run. Not run: ``status_code_conformance`` (G1: the spec documents only 200,
and 404 on two operations, while the real API also answers 400, 401 and 429 with envelopes: replaced by
``REAL_STATUSES``), ``positive_data_acceptance`` (replaced by the narrower ``KNOWN_GAPS`` rule), and the
stateful or auth probes that re-send requests (``ignored_auth``, ``use_after_free``, ...)."""


# --- steering ----------------------------------------------------------------------------------------


def _steer(api: Api, label: str, case: Any, mode: GenerationMode, data: Any) -> None:
    """Steer most positive cases towards success, so that 2xx bodies get checked too.

    Left alone, nearly every schema-valid create stops at "missing model" (G3) or an unknown id (G7).
    One case in four stays as generated; the others get a catalogue model (and an input, and JSON),
    some keeping only two of the generated fields, some with ``stream: true``; ids are swapped for ones
    that exist (a fresh one for DELETE and cancel, which use it up).
    """
    if mode is not GenerationMode.POSITIVE:
        _steer_negative(case, label, data)
        return
    how = data.draw(
        st.sampled_from(["model", "model and two fields", "streamed", "as generated"]), label="steer"
    )
    if how == "as generated":
        return
    if label.startswith("POST") and "{" not in label:
        if not isinstance(case.body, dict):
            case.body = {}
        case.media_type = "application/json"  # G8: not the form encoding the spec also lists
        if how in ("model and two fields", "streamed") and len(case.body) > 2:
            keep = data.draw(st.lists(st.sampled_from(sorted(case.body)), max_size=2, unique=True))
            for key in set(case.body) - set(keep):
                del case.body[key]
        case.body["model"] = data.draw(st.sampled_from(MODELS), label="model")
        if label != "POST /responses/input_tokens" and not case.body.get("input"):
            case.body["input"] = "Hello."
        if how == "streamed" and label == "POST /responses":
            case.body["stream"] = True  # the spec's text/event-stream answer: each event is validated
        if case.body.get("stream") and case.body.get("background"):
            # A background stream follows the job, which waits for the virtual clock: never ends here.
            del case.body["background"]
    if "response_id" in (case.path_parameters or {}):
        if label.startswith(("DELETE", "POST /responses/{response_id}/cancel")):
            case.path_parameters["response_id"] = api.fresh_id(label, data)
        else:
            case.path_parameters["response_id"] = data.draw(st.sampled_from(api.pool), label="id")


def _steer_negative(case: Any, label: str, data: Any) -> None:
    """Half of the schema-invalid bodies get a model, so the invalid part is what answers.

    The file requires nothing, so an absent ``model`` is never the mutation. Ids are left as generated:
    swapped for existing ones, the GET query strings would reach resplay's lenient query parsing (G21).
    """
    if not data.draw(st.booleans(), label="steer"):
        return
    if (
        isinstance(case.body, dict)
        and label.startswith("POST")
        and "{" not in label
        and "model" not in case.body
    ):
        case.body["model"] = data.draw(st.sampled_from(MODELS), label="model")


def _run(api: Api, label: str, mode: GenerationMode, examples: int) -> collections.Counter[int]:
    operation = _operation(label)
    statuses: collections.Counter[int] = collections.Counter()

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def one(case: Any, data: Any) -> None:
        _steer(api, label, case, mode, data)
        answer = case.call(base_url=api.server.base_url, session=api.http, headers=AUTH, timeout=10)
        statuses[answer.status_code] += 1
        try:
            assert_real_error(label, answer, mode)
            assert_sdk_faithful(label, answer)
        except AssertionError as exc:
            exc.add_note(f"Reproduce with:\n    {case.as_curl_command(headers=AUTH)}")
            raise
        case.validate_response(
            answer,
            checks=CHECKS,
            headers=AUTH,
            transport_kwargs={"base_url": api.server.base_url, "session": api.http, "headers": AUTH},
        )

    for attempt in range(3):
        try:
            one()
            break
        except UnsupportedSchema:
            # schemathesis 4.32's negative mode now and then cannot build the complement of a nested
            # schema ("a `not` whose complement is not spelled out"; 1 of 5 runs of 300 create examples
            # here). What already ran counts; with too little, a new run draws other mutations.
            if sum(statuses.values()) >= examples // 2:
                break
            if attempt == 2:
                raise
    return statuses


# --- tests -------------------------------------------------------------------------------------------


def test_the_spec_has_these_operations() -> None:
    labels = {result.ok().label for result in _schema().get_all_operations()}
    assert labels == set(OPERATIONS)


def test_the_subset_is_self_contained_and_patched() -> None:
    subset = responses_subset()
    found: set[tuple[str, str]] = set()
    _refs(subset, subset["components"], found)  # a component the subset lacks raises KeyError
    assert {("schemas", "Response"), ("schemas", "CreateResponse"), ("schemas", "ErrorResponse")} <= found
    assert subset["servers"] == [{"url": "http://127.0.0.1:9/v1"}]
    schemas = subset["components"]["schemas"]
    assert schemas["ItemResource"].get("discriminator") is None  # G14
    assert "in_memory" in json.dumps(
        schemas["ModelResponseProperties"]["properties"]["prompt_cache_retention"]
    )
    assert len(json.dumps(subset)) < 400_000  # of the 2 MB file


@pinned_sdk_only  # G20 is computed from the installed SDK's params
def test_the_fields_newer_than_the_file_are_the_known_ones() -> None:
    # G20, as of SDK 3.51.0 and file v2.3.0: a new SDK or file changes these, and docs/openapi-gaps.md.
    assert newer_fields("POST /responses") == {
        "access_programs", "context_management", "image", "moderation", "prompt_cache_options",
    }  # fmt: skip
    assert newer_fields("POST /responses/input_tokens") == {"personality"}
    assert newer_fields("POST /responses/compact") == {
        "image", "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention", "service_tier",
    }  # fmt: skip
    assert newer_fields("GET /responses/{response_id}") == frozenset()


def test_every_gap_the_test_leans_on_is_documented() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "openapi-gaps.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^## (G\d+)\b", doc, flags=re.MULTILINE))
    used = (
        {name.split()[0] for name, _ in KNOWN_GAPS}
        | {gap for gap, _, _ in SPEC_PATCHES}
        | {"G1", "G20", "G21"}
    )
    assert used <= headings, sorted(used - headings)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("label", OPERATIONS)
def test_schemathesis(api: Api, label: str, mode: GenerationMode) -> None:
    statuses = _run(api, label, mode, FAST_EXAMPLES)
    assert sum(statuses.values()) >= FAST_EXAMPLES // 2, statuses
    assert max(statuses) < 500, statuses


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("label", OPERATIONS)
def test_schemathesis_slow(api: Api, label: str, mode: GenerationMode) -> None:
    statuses = _run(api, label, mode, SLOW_EXAMPLES)
    shown = dict(sorted(statuses.items()))
    print(f"\nschemathesis {label} {mode}: {sum(statuses.values())} requests, statuses {shown}")
    assert sum(statuses.values()) >= SLOW_EXAMPLES // 2, statuses
    assert max(statuses) < 500, statuses
    if mode is GenerationMode.POSITIVE:
        assert any(200 <= status < 300 for status in statuses), "steering never reached a 2xx to check"
