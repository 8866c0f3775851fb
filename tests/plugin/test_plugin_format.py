"""The pure parts of the plugin: readable bodies, the cassette format, migrations, matching, redaction."""

from __future__ import annotations

import gzip
import json
import stat
import zlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings, strategies as st

from mockserver.sse import encode_events
from pytest_plugin import bodies
from pytest_plugin.cassette import FORMAT_VERSION, dump_yaml, from_disk, load_yaml, to_disk
from pytest_plugin.errors import CassetteFormatError
from pytest_plugin.matchers import Bindings, compare, normalise, pair_symbols
from pytest_plugin.migrations import migrate
from pytest_plugin.redaction import REDACTED, Redactor, secret_env_values
from pytest_plugin.serializers import ResplaySerializer

EVENTS = [
    {
        "type": "response.created",
        "sequence_number": 0,
        "response": {"id": "resp_0a1b2c3d4e5f60718293", "n": 1.0},
    },
    {
        "type": "response.output_text.delta",
        "sequence_number": 1,
        "delta": 'Olá \u2028 "q"\n',
        "obfuscation": "x",
    },
    {"type": "response.completed", "sequence_number": 2, "response": {"id": "resp_0a1b2c3d4e5f60718293"}},
]


def native(response_body: bytes, content_type: str, **headers: str) -> dict[str, Any]:
    return {
        "version": 1,
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": "https://api.openai.com/v1/responses",
                    "body": b'{"model":"gpt-5","input":"hi"}',
                    "headers": {"content-type": ["application/json"]},
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"content-type": [content_type], **{k: [v] for k, v in headers.items()}},
                    "body": {"string": response_body},
                },
            }
        ],
    }


# ------------------------------------------------------------------------------------ bodies
def test_sse_body_is_a_readable_event_list_that_re_encodes_exactly() -> None:
    raw = encode_events(EVENTS)
    doc = to_disk(native(raw, "text/event-stream; charset=utf-8"))
    sse = doc["interactions"][0]["response"]["body"]["sse"]
    assert [e["event"] for e in sse] == [e["type"] for e in EVENTS]
    assert sse[1]["data"]["delta"] == EVENTS[1]["delta"]
    text = dump_yaml(doc)
    assert "response.output_text.delta" in text
    back = from_disk(load_yaml(text))
    assert back["interactions"][0]["response"]["body"]["string"] == raw


@pytest.mark.parametrize(
    "raw",
    [
        b'data: {"a":1}\n\ndata: [DONE]\n\n',  # data-only stream with a sentinel (chat completions style)
        b"event: ping\ndata: line one\ndata: line two\n\n",  # multi-line non-JSON data
        b'event: x\nid: 7\nretry: 100\ndata: {"b": 2}\n\n',  # id, retry and spaced JSON
    ],
)
def test_other_sse_shapes_round_trip(raw: bytes) -> None:
    events = bodies.render_sse(raw)
    assert events is not None
    assert bodies.encode_sse(events) == raw


def test_sse_that_cannot_be_reproduced_stays_a_string() -> None:
    raw = b"event: x\r\ndata: {}\r\n\r\n"  # CRLF line ends: the event list would re-encode with LF
    assert bodies.render_sse(raw) is None
    assert bodies.render(raw, "text/event-stream") == {"string": raw.decode()}


@pytest.mark.parametrize(
    ("raw", "style"),
    [
        (b'{"a":[1,2],"b":"\xc3\xa9"}', None),
        (b'{\n  "id": "resp_1",\n  "t": 1.0\n}', "indent2"),
        (b'{"a": 1, "b": "\\u00e9"}', "spaced-ascii"),
    ],
)
def test_json_bodies_keep_their_layout(raw: bytes, style: str | None) -> None:
    body = bodies.render(raw, "application/json")
    assert "json" in body
    assert body.get("style") == style
    assert bodies.encode(body) == raw


def test_json_with_an_unknown_layout_stays_a_string() -> None:
    raw = b'{"a":1,  "b":2}'
    assert bodies.render(raw, "application/json") == {"string": raw.decode()}


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_compressed_bodies_are_decoded_and_the_header_dropped(coding: str) -> None:
    raw = json.dumps({"id": "resp_1", "output": []}, indent=2).encode()
    if coding == "gzip":
        packed = gzip.compress(raw)
    elif coding == "deflate":
        packed = zlib.compress(raw)
    else:
        brotli = pytest.importorskip("brotli")
        packed = brotli.compress(raw)
    doc = to_disk(native(packed, "application/json", **{"content-encoding": coding, "content-length": "9"}))
    response = doc["interactions"][0]["response"]
    assert "content-encoding" not in response["headers"]
    assert response["headers"]["content-length"] == [str(len(raw))]
    assert response["body"]["json"]["id"] == "resp_1"
    assert from_disk(doc)["interactions"][0]["response"]["body"]["string"] == raw


def test_undecodable_binary_bodies_stay_binary() -> None:
    doc = to_disk(native(b"\x89PNG\x00\xff", "image/png"))
    text = dump_yaml(doc)
    assert "!!binary" in text
    assert from_disk(load_yaml(text))["interactions"][0]["response"]["body"]["string"] == b"\x89PNG\x00\xff"


# ------------------------------------------------------------------------------------ format and migrations
def test_file_carries_both_versions_and_the_vcrpy_skeleton() -> None:
    text = ResplaySerializer().serialize(native(b"{}", "application/json"))
    document = yaml.safe_load(text)
    assert document["format_version"] == FORMAT_VERSION
    assert document["version"] == 1
    interaction = document["interactions"][0]
    assert set(interaction) == {"request", "response"}
    assert set(interaction["request"]) == {"method", "uri", "headers", "body"}
    assert interaction["request"]["body"] == {"json": {"model": "gpt-5", "input": "hi"}}


def test_plain_vcrpy_cassettes_migrate_from_format_0() -> None:
    plain = {
        "version": 1,
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": "https://x/v1/responses",
                    "body": '{"a":1}',
                    "headers": {},
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"Content-Encoding": ["gzip"], "Content-Type": ["application/json"]},
                    "body": {"string": gzip.compress(b'{"id":"resp_1"}')},
                },
            }
        ],
    }
    migrated = migrate(plain)
    assert migrated["format_version"] == 1
    assert migrated["interactions"][0]["response"]["body"] == {"json": {"id": "resp_1"}}
    assert migrated["interactions"][0]["request"]["body"] == {"json": {"a": 1}}


def test_newer_format_versions_are_refused_clearly() -> None:
    with pytest.raises(CassetteFormatError, match="newer than this resplay"):
        migrate({"format_version": FORMAT_VERSION + 1, "interactions": []})
    with pytest.raises(CassetteFormatError, match="not a cassette"):
        load_yaml("- just a list")


# ------------------------------------------------------------------------------------ matching
def req(body: Any, uri: str = "http://h:1/v1/responses", method: str = "POST") -> Any:
    return normalise(method, uri, json.dumps(body).encode() if body is not None else None)


def test_identical_requests_match() -> None:
    diffs, _ = compare(
        req({"model": "gpt-5", "input": "hi"}), req({"input": "hi", "model": "gpt-5"}), Bindings()
    )
    assert diffs == []


def test_host_and_port_are_not_compared_but_path_and_query_are() -> None:
    assert (
        compare(req(None, "http://a:1/v1/x?b=2&a=1"), req(None, "https://b/v1/x?a=1&b=2"), Bindings())[0]
        == []
    )
    assert compare(req(None, "http://a/v1/x"), req(None, "http://a/v1/y"), Bindings())[0]
    assert compare(req(None, "http://a/v1/x?a=1"), req(None, "http://a/v1/x?a=2"), Bindings())[0]


def test_differences_are_listed_by_json_path() -> None:
    diffs, _ = compare(
        req({"input": [{"role": "user", "content": "hi"}], "model": "gpt-5"}),
        req({"input": [{"role": "user", "content": "hello"}], "model": "gpt-5", "store": False}),
        Bindings(),
    )
    assert 'body.input[0].content: recorded "hi", live "hello"' in diffs
    assert "body.store: not recorded, live false" in diffs


def test_ids_bind_symbolically_one_to_one() -> None:
    bindings = Bindings()
    recorded = req({"previous_response_id": "resp_aaaa1111bbbb2222"})
    diffs, pending = compare(recorded, req({"previous_response_id": "resp_cccc3333dddd4444"}), bindings)
    assert diffs == []
    bindings.commit(pending)
    # The same recorded id must keep standing for the same live id ...
    diffs, _ = compare(recorded, req({"previous_response_id": "resp_eeee5555ffff6666"}), bindings)
    assert diffs
    # ... and another recorded id cannot take a live id that is already bound.
    other = req({"previous_response_id": "resp_9999aaaa8888bbbb"})
    diffs, _ = compare(other, req({"previous_response_id": "resp_cccc3333dddd4444"}), bindings)
    assert diffs
    # Prefixes must agree: a message id never stands for a response id.
    assert compare(recorded, req({"previous_response_id": "msg_cccc3333dddd4444"}), Bindings())[0]


def test_ids_in_paths_bind_too() -> None:
    bindings = Bindings()
    _, pending = compare(req({"x": "resp_aaaa1111bbbb2222"}), req({"x": "resp_cccc3333dddd4444"}), bindings)
    bindings.commit(pending)
    get = normalise("GET", "http://h/v1/responses/resp_aaaa1111bbbb2222", None)
    live = normalise("GET", "http://h/v1/responses/resp_cccc3333dddd4444", None)
    assert compare(get, live, bindings)[0] == []


def test_tool_names_that_look_like_ids_are_not_symbols() -> None:
    diffs, _ = compare(req({"tool": "call_weatherapi"}), req({"tool": "call_otherthing"}), Bindings())
    assert diffs


def test_uuids_and_timestamps_are_volatile() -> None:
    recorded = req(
        {"metadata": {"run": "0f8fad5b-d9cb-469f-a165-70867728950e", "at": "2025-01-01T10:00:00Z"}}
    )
    live = req(
        {"metadata": {"run": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "at": "2026-03-04T05:06:07.123+02:00"}}
    )
    assert compare(recorded, live, Bindings())[0] == []


def test_ignore_paths_with_wildcards() -> None:
    one = normalise(
        "POST", "/v1/r", b'{"input":[{"id":"a","t":1},{"id":"b","t":2}],"m":1}', ignore=("input.*.id", "m")
    )
    two = normalise(
        "POST", "/v1/r", b'{"input":[{"id":"x","t":1},{"id":"y","t":2}],"m":2}', ignore=("input.*.id", "m")
    )
    assert compare(one, two, Bindings())[0] == []


def test_pair_symbols_walks_two_documents_in_parallel() -> None:
    old = {"id": "resp_aaaa1111bbbb2222", "output": [{"id": "msg_aaaa1111bbbb2222"}]}
    new = {"id": "resp_cccc3333dddd4444", "output": [{"id": "msg_cccc3333dddd4444"}]}
    assert pair_symbols(old, new) == {
        "resp_aaaa1111bbbb2222": "resp_cccc3333dddd4444",
        "msg_aaaa1111bbbb2222": "msg_cccc3333dddd4444",
    }


# ------------------------------------------------------------------------------------ redaction
def test_secret_headers_env_values_and_keys_are_redacted() -> None:
    env = {
        "OPENAI_API_KEY": "sk-proj-abcdefghijklmnop",
        "GITHUB_TOKEN": "ghp_0123456789abcdef",
        "HOME": "/root",
    }
    assert set(secret_env_values(env)) == {"OPENAI_API_KEY", "GITHUB_TOKEN"}
    redactor = Redactor.build(env)
    headers = redactor.header_map(
        {"Authorization": ["Bearer x"], "Cookie": ["a=b"], "x-other": ["ghp_0123456789abcdef"]}
    )
    assert headers == {"Authorization": [REDACTED], "Cookie": [REDACTED], "x-other": [REDACTED]}
    assert redactor.text("key sk-svcacct-ZZZZZZZZZZZZ in text") == "key sk-REDACTED in text"
    assert redactor.text(redactor.text("sk-abcdefghijkl")) == "sk-REDACTED"  # idempotent


_KEY_CHARS = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _cassette_carrying(env_secret: str, key: str) -> dict[str, Any]:
    """A two-interaction cassette with both secrets in every place a secret can hide."""
    everywhere = f"a {env_secret} b {key} c"
    events = [{"type": "response.output_text.delta", "sequence_number": 0, "delta": everywhere}]
    return {
        "version": 1,
        "interactions": [
            {
                "request": {
                    "method": "POST",
                    "uri": f"https://api.openai.com/v1/responses?api-key={env_secret}&k={key}",
                    "body": json.dumps({"input": everywhere, "metadata": {everywhere: everywhere}}).encode(),
                    "headers": {
                        "authorization": [f"Bearer {key}"],
                        "api-key": [env_secret],
                        "openai-organization": ["org-1"],
                        "x-custom": [everywhere],
                    },
                },
                "response": {
                    "status": {"code": 401, "message": "Unauthorized"},
                    "headers": {"content-type": ["text/event-stream"], "set-cookie": [f"s={env_secret}"]},
                    "body": {"string": encode_events(events)},
                },
            },
            {
                "request": {"method": "GET", "uri": "https://x/v1/models", "body": everywhere, "headers": {}},
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"content-type": ["application/json"], "content-encoding": ["gzip"]},
                    "body": {"string": gzip.compress(json.dumps({"error": everywhere}).encode())},
                },
            },
        ],
    }


_PLACEHOLDER_SECRET = "PLACEHOLDERSECRETVALUE"
# What the cassette says around its secrets: header names, event types, "sk-REDACTED" itself. A
# generated "secret" that is a piece of this text (hypothesis once drew "openai-organ", part of the
# header name openai-organization) is found in any cassette, redacted or not, so it proves nothing.
_SKELETON = ResplaySerializer(Redactor.build({"MY_SECRET": _PLACEHOLDER_SECRET})).serialize(
    _cassette_carrying(_PLACEHOLDER_SECRET, "sk-" + _PLACEHOLDER_SECRET)
)


def test_the_skeleton_holds_no_placeholder_so_the_assumption_below_is_sound() -> None:
    assert _PLACEHOLDER_SECRET not in _SKELETON
    assert "openai-organization" in _SKELETON and "sk-REDACTED" in _SKELETON


@settings(max_examples=60, deadline=None)
@given(
    env_secret=st.text(_KEY_CHARS, min_size=12, max_size=40),
    key_body=st.text(_KEY_CHARS, min_size=8, max_size=48),
    env_name=st.sampled_from(
        ["OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "ACME_TOKEN", "MY_SECRET", "DB_PASSWORD"]
    ),
)
def test_no_generated_secret_ever_lands_in_a_cassette(env_secret: str, key_body: str, env_name: str) -> None:
    key = "sk-" + key_body
    secrets = [env_secret, key]
    assume(all(secret not in _SKELETON for secret in secrets))
    cassette = _cassette_carrying(env_secret, key)
    text = ResplaySerializer(Redactor.build({env_name: env_secret})).serialize(cassette)
    loaded = from_disk(load_yaml(text))
    replayed = json.dumps(loaded, default=lambda b: b.decode("utf-8", "replace"))
    for secret in secrets:
        assert secret not in text
        assert secret not in replayed


def test_plain_vcrpy_replays_a_resplay_cassette_through_the_serializer() -> None:
    """The skeleton is vcrpy's: vcrpy itself replays our files once it knows the serializer."""
    import openai
    import vcr

    path = Path(__file__).resolve().parents[2] / "cassettes/test_plugin_cassettes/test_text_answer.yaml"
    uri = load_yaml(path.read_text())["interactions"][0]["request"]["uri"]
    recorder = vcr.VCR(record_mode="none", serializer="resplay", match_on=["method", "path"])
    recorder.register_serializer("resplay", ResplaySerializer())
    with (
        recorder.use_cassette(str(path)),
        openai.OpenAI(base_url=uri.rsplit("/", 1)[0], api_key="sk-x0123456789", max_retries=0) as client,
    ):
        assert client.responses.create(model="gpt-5", input="Say hello in French.").output_text


def test_atomic_write_gives_a_new_cassette_0644_and_keeps_an_existing_mode(tmp_path: Path) -> None:
    """Cassettes are written through a temporary file; they must not come out private (mkstemp's 0600)."""
    from pytest_plugin.persister import atomic_write

    fresh = tmp_path / "new" / "cassette.yaml"
    atomic_write(fresh, "a: 1\n")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644 and fresh.read_text() == "a: 1\n"
    fresh.chmod(0o640)
    atomic_write(fresh, "a: 2\n")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640 and fresh.read_text() == "a: 2\n"
