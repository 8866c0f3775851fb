"""resplay answers the requests of the real reasoning and compaction recordings with their shapes.

Each recorded conversation is replayed in order against resplay: the recorded assistant texts are
scripted as the model's replies (so token counts, and thus compaction thresholds, match), and every id or
blob of an earlier recorded answer that a later request refers to is replaced by resplay's own (blobs are
bound to the server secret). resplay's answers must have the recorded field sets, output item types,
item key sets, event grammars and error bodies (DECISIONS 22). The one intended difference: resplay emits
``response.compaction.compacting`` (SDK 3.51.0), which recordings from before it existed do not carry.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from mockserver import MockServer
from mockserver.sse import SSEDecoder

from fidelity import assert_faithful
from realtraffic import Interaction, event_grammar, iter_interactions, shared_root

P = "pydantic__pydantic-ai/tests/models/cassettes/test_openai_responses/"
V = "vercel__ai/packages/openai/src/responses/__fixtures__/"


@pytest.fixture(scope="module")
def recorded() -> dict[str, list[Interaction]]:
    root = shared_root() / "real-traffic"
    if not root.is_dir():
        pytest.skip(f"../shared is not present at {root} (set RESPLAY_SHARED)")
    by_file: dict[str, list[Interaction]] = {}
    for interaction in iter_interactions(root):
        relative = interaction.path.resolve().relative_to(root.resolve()).as_posix()
        by_file.setdefault(relative, []).append(interaction)
    return by_file


@pytest.fixture
def http() -> Iterator[tuple[MockServer, httpx2.Client]]:
    with (
        MockServer(seed=0) as server,
        httpx2.Client(
            base_url=server.base_url, headers={"authorization": "Bearer sk-test"}, timeout=30
        ) as client,
    ):
        yield server, client


class Replayer:
    """Sends recorded requests to resplay, substituting recorded ids and blobs by resplay's own."""

    def __init__(self, server: MockServer, client: httpx2.Client) -> None:
        self.server = server
        self.client = client
        self.ours: dict[str, str] = {}

    def substitute(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.ours.get(value, value)
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        if isinstance(value, dict):
            return {k: self.substitute(v) for k, v in value.items()}
        return value

    def substitute_message(self, message: str) -> str:
        for theirs, mine in self.ours.items():
            message = message.replace(theirs, mine)
        return message

    def learn(self, theirs: dict[str, Any], mine: dict[str, Any]) -> None:
        """Map the recorded answer's ids and blobs to ours (outputs must line up item by item)."""
        self.ours[theirs["id"]] = mine["id"]
        assert [i["type"] for i in mine["output"]] == [i["type"] for i in theirs["output"]]
        for their_item, my_item in zip(theirs["output"], mine["output"], strict=True):
            for key in ("id", "encrypted_content", "call_id"):
                if isinstance(their_item.get(key), str):
                    self.ours[their_item[key]] = my_item[key]

    def learn_events(self, theirs: list[dict[str, Any]], mine: list[dict[str, Any]]) -> None:
        """Also map the item copies of ``output_item.added/done`` (real blobs differ between the copies)."""
        for their_item, my_item in zip(_items(theirs), _items(mine), strict=True):
            if isinstance(their_item.get("encrypted_content"), str):
                self.ours[their_item["encrypted_content"]] = my_item["encrypted_content"]

    def script(self, theirs: dict[str, Any]) -> None:
        """Queue the recorded answer's output as resplay's next reply."""
        items: list[dict[str, Any]] = []
        usage = theirs.get("usage") or {}
        for item in theirs["output"]:
            if item["type"] == "message":
                items.append(
                    {"type": "message", "text": item["content"][0]["text"], "phase": item.get("phase")}
                )
            elif item["type"] == "reasoning":
                tokens = (usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 64
                items.append(
                    {"type": "reasoning", "summary": [s["text"] for s in item["summary"]], "tokens": tokens}
                )
            elif item["type"] == "function_call":
                items.append({"type": "function_call", "name": item["name"], "arguments": item["arguments"]})
        self.client.post(self.server.url + "/_resplay/replies", json={"output": items}).raise_for_status()

    def send(self, interaction: Interaction) -> httpx2.Response:
        body = self.substitute(interaction.request_json)
        path = interaction.url.removeprefix("/v1")
        final = interaction.response_objects[-1] if interaction.response_objects else None
        if path == "/responses" and interaction.status == 200 and final is not None:
            self.script(final)
        return self.client.post(path, json=body)


def _items(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e["item"] for e in events if e["type"] in ("response.output_item.added", "response.output_item.done")
    ]


def events_of(answer: httpx2.Response) -> list[dict[str, Any]]:
    decoder = SSEDecoder()
    return [m.json() for m in decoder.feed(answer.content) + decoder.flush()]


def without_compacting(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] != "response.compaction.compacting"]


def same_item_shapes(mine: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Same output item types and, item by item, the recorded keys (``phase`` and ``status`` are optional)."""
    assert [i["type"] for i in mine["output"]] == [i["type"] for i in theirs["output"]]
    for my_item, their_item in zip(mine["output"], theirs["output"], strict=True):
        assert set(their_item) - {"phase", "status"} <= set(my_item), (their_item["type"], sorted(my_item))
        assert set(my_item) <= set(their_item) | {"phase", "status"}, (their_item["type"], sorted(my_item))
        prefix = their_item["id"].split("_")[0]
        assert my_item["id"].startswith(prefix + "_")
        if "encrypted_content" in their_item:
            assert my_item["encrypted_content"].startswith("gAAAAA")


def replay(recorded: dict[str, list[Interaction]], name: str, http: tuple[MockServer, httpx2.Client]) -> int:
    """Replay one recorded conversation; returns how many exchanges were compared."""
    server, client = http
    replayer = Replayer(server, client)
    compared = 0
    for interaction in recorded[name]:
        answer = replayer.send(interaction)
        assert answer.status_code == interaction.status, (Path(name).name, interaction.index, answer.text)
        if interaction.status != 200:
            mine, theirs = answer.json()["error"], interaction.response_json["error"]  # type: ignore[index]
            assert set(mine) == set(theirs)
            assert {k: mine[k] for k in ("type", "param", "code")} == {
                k: theirs[k] for k in ("type", "param", "code")
            }
            assert mine["message"] == replayer.substitute_message(theirs["message"])
            compared += 1
            continue
        theirs = interaction.response_objects[-1]
        if interaction.sse_events is not None:
            events = events_of(answer)
            for event in events:
                assert_faithful(event, kind="event")
            assert event_grammar(without_compacting(events)) == event_grammar(interaction.sse_events)
            replayer.learn_events(interaction.sse_events, events)
            mine = events[-1]["response"]
        else:
            mine = answer.json()
        assert_faithful(
            mine, kind="compacted" if theirs.get("object") == "response.compaction" else "response"
        )
        assert set(theirs) <= set(mine) | {"prompt_cache_retention"}, sorted(set(theirs) - set(mine))
        assert set(theirs["usage"]) <= set(mine["usage"])
        same_item_shapes(mine, theirs)
        replayer.learn(theirs, mine)
        compared += 1
    return compared


@pytest.mark.parametrize(
    "name",
    [
        P + "test_openai_responses_compact_messages_direct.yaml",
        P + "test_openai_responses_compact_messages.yaml",
        P + "test_openai_responses_compact_with_instructions.yaml",
        P + "test_openai_responses_compact_with_auto_previous_response_id.yaml",
        P + "test_openai_responses_compact_with_auto_previous_response_id_chain.yaml",
        P + "test_openai_responses_compact_stateful_mode.yaml",
        P + "test_openai_responses_compact_stateful_mode_stream.yaml",
        P + "test_openai_responses_thinking_with_modified_history.yaml",
    ],
)
def test_recorded_conversation(
    recorded: dict[str, list[Interaction]], http: tuple[MockServer, httpx2.Client], name: str
) -> None:
    assert replay(recorded, name, http) == len(recorded[name])


def _vercel_request(final: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A request that asks for what a vercel fixture (responses only) recorded."""
    body: dict[str, Any] = {"model": final["model"].rsplit("-2025", 1)[0], "store": final["store"], **extra}
    if final.get("reasoning", {}).get("effort"):
        body["reasoning"] = {k: v for k, v in final["reasoning"].items() if v is not None}
    if final.get("tools"):
        body["tools"] = final["tools"]
    return body


def test_vercel_reasoning_encrypted_content(
    recorded: dict[str, list[Interaction]], http: tuple[MockServer, httpx2.Client]
) -> None:
    server, client = http
    replayer = Replayer(server, client)
    stream = recorded[V + "openai-reasoning-encrypted-content.1.chunks.txt"][0]
    assert stream.sse_events is not None
    final = stream.response_objects[-1]
    replayer.script(final)
    answer = client.post(
        "/responses",
        json=_vercel_request(final, input="Compute 12+7, then times 3, then times 10.", stream=True),
    )
    events = events_of(answer)
    assert event_grammar(events) == event_grammar(stream.sse_events)
    for event in events:
        assert_faithful(event, kind="event")
    for my_item, their_item in zip(_items(events), _items(stream.sse_events), strict=True):
        assert set(my_item) == set(their_item), my_item["type"]
    same_item_shapes(events[-1]["response"], final)
    body = recorded[V + "openai-reasoning-encrypted-content.1.json"][0].response_json
    assert body is not None
    replayer.script(body)
    plain = client.post("/responses", json=_vercel_request(body, input="What was the final result?")).json()
    assert_faithful(plain, kind="response")
    same_item_shapes(plain, body)


def test_vercel_compaction(
    recorded: dict[str, list[Interaction]], http: tuple[MockServer, httpx2.Client]
) -> None:
    server, client = http
    replayer = Replayer(server, client)
    stream = recorded[V + "openai-compaction.1.chunks.txt"][0]
    assert stream.sse_events is not None
    final = stream.response_objects[-1]
    replayer.script(final)
    history = " ".join(
        f"Testing note {i}: unit, integration and end-to-end tests differ." for i in range(200)
    )
    body = _vercel_request(
        final,
        input=history,
        stream=True,
        context_management=[{"type": "compaction", "compact_threshold": 1000}],
    )
    events = events_of(client.post("/responses", json=body))
    for event in events:
        assert_faithful(event, kind="event")
    assert event_grammar(without_compacting(events)) == event_grammar(stream.sse_events)
    compacting = [e for e in events if e["type"] == "response.compaction.compacting"]
    assert len(compacting) == 1 and compacting[0]["output_index"] == 1
    same_item_shapes(events[-1]["response"], final)
