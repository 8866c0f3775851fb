"""Blobs cannot be forged and never expose the key (DECISIONS 13), tested through the real server.

hypothesis edits one character (or one bit of the decoded token) of a reasoning or a compaction blob the
server produced and sends it back with the real openai client: every edit is a 400
``invalid_encrypted_content``. Then a full session of both features runs with a known secret, and neither
the secret nor the keys derived from it appear in any response, SSE stream, WebSocket frame, journal entry
or log record.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mockserver import MockServer
from mockserver.sealing import _derive

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ ."
LONG = "Keep these notes: " + " ".join(f"note{i} covers topic {i % 13}" for i in range(250))
THRESHOLD: Any = [{"type": "compaction", "compact_threshold": 1000}]
QUESTION = "What is the weather in Paris?"
TOOL: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}


@pytest.fixture(scope="module")
def blob_server() -> Iterator[MockServer]:
    with MockServer(seed=11, secret="blob-security") as server:
        yield server


@pytest.fixture(scope="module")
def http(blob_server: MockServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=blob_server.base_url, api_key="sk-test", max_retries=0) as client:
        yield client


@pytest.fixture(scope="module")
def contexts(http: openai.OpenAI) -> dict[str, tuple[list[dict[str, Any]], int]]:
    """A valid stateless context per blob kind, and the index of the item whose blob gets edited."""
    first = http.responses.create(
        model="gpt-5.5", input=QUESTION, tools=[TOOL], reasoning={"effort": "low"}, store=False
    )
    call = next(i for i in first.output if i.type == "function_call")
    reasoning = [
        {"role": "user", "content": QUESTION},
        *(i.model_dump(exclude_none=True) for i in first.output),
        {"type": "function_call_output", "call_id": call.call_id, "output": "21C"},
    ]
    compacted = http.responses.create(model="gpt-5.5", input=LONG, context_management=THRESHOLD, store=False)
    item = compacted.output[-1].model_dump(exclude_none=True)
    assert item["type"] == "compaction"
    compaction = [item, {"role": "user", "content": "And then?"}]
    for items in (reasoning, compaction):  # both contexts are accepted as they are
        assert (
            http.responses.create(model="gpt-5.5", input=items, tools=[TOOL], store=False).status
            == "completed"
        )  # type: ignore[arg-type]
    return {"reasoning": (reasoning, 1), "compaction": (compaction, 0)}


def rejected(http: openai.OpenAI, items: list[dict[str, Any]]) -> dict[str, Any]:
    with pytest.raises(openai.BadRequestError) as info:
        http.responses.create(model="gpt-5.5", input=items, tools=[TOOL], store=False)  # type: ignore[arg-type]
    assert isinstance(info.value.body, dict)
    return info.value.body


def with_blob(context: tuple[list[dict[str, Any]], int], blob: str) -> list[dict[str, Any]]:
    items, index = context
    edited = [dict(i) for i in items]
    edited[index]["encrypted_content"] = blob
    return edited


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["reasoning", "compaction"]),
    position=st.integers(0, 100_000),
    char=st.sampled_from(ALPHABET),
)
def test_any_character_edit_is_rejected(
    http: openai.OpenAI,
    contexts: dict[str, tuple[list[dict[str, Any]], int]],
    kind: str,
    position: int,
    char: str,
) -> None:
    items, index = contexts[kind]
    blob = items[index]["encrypted_content"]
    position %= len(blob)
    if blob[position] == char:
        char = "A" if char != "A" else "B"
    body = rejected(http, with_blob(contexts[kind], blob[:position] + char + blob[position + 1 :]))
    assert body["code"] == "invalid_encrypted_content" and body["param"] is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["reasoning", "compaction"]), byte=st.integers(0, 100_000), bit=st.integers(0, 7))
def test_any_bit_flip_is_rejected(
    http: openai.OpenAI, contexts: dict[str, tuple[list[dict[str, Any]], int]], kind: str, byte: int, bit: int
) -> None:
    items, index = contexts[kind]
    raw = bytearray(base64.urlsafe_b64decode(items[index]["encrypted_content"]))
    raw[byte % len(raw)] ^= 1 << bit
    body = rejected(http, with_blob(contexts[kind], base64.urlsafe_b64encode(bytes(raw)).decode()))
    assert body["code"] == "invalid_encrypted_content"


@pytest.mark.parametrize("cut", [1, 4, 33, 100])
def test_truncations_are_rejected(
    http: openai.OpenAI, contexts: dict[str, tuple[list[dict[str, Any]], int]], cut: int
) -> None:
    for kind in ("reasoning", "compaction"):
        items, index = contexts[kind]
        blob = items[index]["encrypted_content"]
        assert rejected(http, with_blob(contexts[kind], blob[:-cut]))["code"] == "invalid_encrypted_content"


def test_no_key_material_anywhere(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    secret = "resplay-test-secret-9f8e7d6c5b4a"
    signing, encryption = _derive(secret.encode())
    needles = [
        secret,
        signing.hex(),
        encryption.hex(),
        base64.urlsafe_b64encode(signing + encryption).decode().rstrip("="),
        base64.b64encode(secret.encode()).decode().rstrip("="),
    ]
    seen: list[str] = []
    caplog.set_level(logging.DEBUG)
    with (
        MockServer(seed=3, secret=secret) as server,
        openai.OpenAI(
            base_url=server.base_url,
            websocket_base_url=server.websocket_base_url,
            api_key="sk-test",
            max_retries=0,
        ) as client,
    ):
        seen.append(repr(server.config))
        first = client.responses.with_raw_response.create(
            model="gpt-5.5",
            input=QUESTION,
            tools=[TOOL],
            reasoning={"effort": "low", "summary": "auto"},
            store=False,
        )
        seen.append(first.text)
        parsed = first.parse()
        call = next(i for i in parsed.output if i.type == "function_call")
        items = [
            {"role": "user", "content": QUESTION},
            *(i.model_dump(exclude_none=True) for i in parsed.output),
            {"type": "function_call_output", "call_id": call.call_id, "output": "21C"},
        ]
        streamed = client.responses.with_raw_response.create(
            model="gpt-5.5",
            input=items,
            tools=[TOOL],
            store=False,
            stream=True,
            context_management=THRESHOLD,  # type: ignore[arg-type]
        )
        seen.append(streamed.http_response.read().decode())
        seen.append(client.responses.with_raw_response.compact(model="gpt-5.5", input=LONG).text)
        seen.append(
            client.responses.with_raw_response.create(
                model="gpt-5.5", input=LONG, context_management=THRESHOLD, stream=True
            )
            .http_response.read()
            .decode()
        )
        items[1]["encrypted_content"] = items[1]["encrypted_content"][:-5]
        try:
            client.responses.create(model="gpt-5.5", input=items, tools=[TOOL], store=False)  # type: ignore[arg-type]
        except openai.BadRequestError as exc:
            seen.append(json.dumps(exc.body))
        with client.responses.connect() as connection:
            connection.response.create(model="gpt-5.5", input=LONG, store=False, context_management=THRESHOLD)
            while True:
                frame = connection.recv_bytes().decode()
                seen.append(frame)
                if json.loads(frame)["type"] in ("response.completed", "error"):
                    break
        seen.append(httpx2.get(server.url + "/_resplay/requests").text)  # the admin journal, as served
        seen.append(json.dumps(server.journal(), default=str))
    seen.extend(record.getMessage() for record in caplog.records)
    out, err = capfd.readouterr()
    seen.extend([out, err])
    everything = "\n".join(seen)
    assert "gAAAAA" in everything  # the blobs themselves are there
    for needle in needles:
        assert needle not in everything
