"""resplay's replies to the requests of the real background-mode cassettes match them in shape.

Each pydantic-ai ``test_background_mode_*`` cassette is replayed against resplay in order: the creates
(JSON and SSE), the polls (the virtual clock is moved until the job has the recorded status) and the
``starting_after`` resume. Compared with the recording (DECISIONS 22): the status, the top-level field
set (fields most recordings of the year carry are required; lifecycle objects must not carry fields the
real ones lack, such as ``billing`` before completion), the event grammar and the first sequence number.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

import httpx2
import pytest

from mockserver import MockServer
from mockserver.sse import SSEDecoder

from fidelity import assert_faithful
from realtraffic import (
    FieldProfile,
    Interaction,
    event_grammar,
    field_profile,
    iter_interactions,
    iter_responses,
    responses_interactions,
    shared_root,
)

# When a background job has reached each status, in seconds after its create (DECISIONS 11 defaults).
REACHED = {"queued": 0.0, "in_progress": 1.0, "completed": 3.0}


def cassettes() -> dict[str, list[Interaction]]:
    if not shared_root().is_dir():  # DECISIONS 25
        pytest.skip(f"../shared is not present at {shared_root()} (set RESPLAY_SHARED)")
    found: defaultdict[str, list[Interaction]] = defaultdict(list)
    for interaction in iter_interactions():
        if interaction.path.name.startswith("test_background_mode_"):
            found[interaction.path.name].append(interaction)
    assert len(found) >= 7, sorted(found)
    return {name: sorted(found[name], key=lambda i: i.index) for name in sorted(found)}


def mirror(output: list[dict[str, Any]]) -> dict[str, Any]:
    """The recorded output as a scripted reply (``POST /_resplay/replies``)."""
    items: list[dict[str, Any]] = []
    for item in output:
        if item["type"] == "function_call":
            items.append({"type": "function_call", "name": item["name"], "arguments": item["arguments"]})
        elif item["type"] == "reasoning":
            items.append({"type": "reasoning", "summary": [s["text"] for s in item.get("summary") or ()]})
        else:
            items.append({"type": "message", "text": item["content"][0]["text"]})
    return {"output": items}


def decode(data: bytes) -> list[dict[str, Any]]:
    decoder = SSEDecoder()
    return [m.json() for m in decoder.feed(data) + decoder.flush()]


class Replayer:
    """Sends one cassette's requests to resplay and compares each answer with the recorded one."""

    def __init__(
        self, server: MockServer, http: httpx2.Client, cassette: list[Interaction], profile: FieldProfile
    ) -> None:
        self.server, self.http, self.cassette, self.profile = server, http, cassette, profile
        self.ours: dict[str, str] = {}
        self.elapsed = 0.0
        """Seconds the session clock moved since the cassette started."""
        self.created: dict[str, float] = {}
        self.compared = 0

    def final_output(self, recorded_id: str) -> list[dict[str, Any]] | None:
        for interaction in reversed(self.cassette):
            for obj in reversed(interaction.response_objects):
                if obj.get("id") == recorded_id and obj.get("status") == "completed":
                    return list(obj["output"])
        return None

    def compare(self, ours: dict[str, Any], recorded: dict[str, Any]) -> None:
        assert_faithful(ours, kind="response")
        assert ours["status"] == recorded["status"]
        assert ours["background"] is True and ours["object"] == "response"
        year = datetime.fromtimestamp(recorded["created_at"], tz=timezone.utc).year
        missing = (self.profile.required(year) & set(recorded)) - set(ours)
        assert not missing, (recorded["status"], sorted(missing))
        if recorded["status"] in ("queued", "in_progress"):
            # Lifecycle objects carry no billing, usage or output yet (and no completed_at).
            assert "billing" not in ours and "billing" not in recorded
            assert ours["usage"] is None and ours["completed_at"] is None and ours["output"] == []
        self.compared += 1

    def compare_events(self, ours: list[dict[str, Any]], recorded: list[dict[str, Any]]) -> None:
        for event in ours:
            assert_faithful(event, kind="event")
        strip = [t.rstrip("+") for t in event_grammar(ours)]
        assert strip == [t.rstrip("+") for t in event_grammar(recorded)]
        assert ours[0]["sequence_number"] == recorded[0]["sequence_number"]
        for mine, theirs in zip(ours, recorded, strict=False):
            if isinstance(theirs.get("response"), dict):
                self.compare(mine["response"], theirs["response"])
        assert not any("obfuscation" in e for e in ours)  # none in real background streams
        assert not any("obfuscation" in e for e in recorded)

    def advance(self, seconds: float) -> None:
        self.server.advance(seconds)
        self.elapsed += seconds

    def advance_to(self, our_id: str, status: str) -> None:
        wait = self.created[our_id] + REACHED[status] - self.elapsed
        if wait > 0:
            self.advance(wait)

    def run(self) -> None:
        for interaction in self.cassette:
            if interaction.method == "POST":
                self.create(interaction)
            else:
                self.get(interaction)

    def create(self, interaction: Interaction) -> None:
        body = dict(interaction.request_json or {})
        recorded = interaction.response_objects[0]
        output = self.final_output(recorded["id"])
        if output is not None:
            self.http.post(self.server.url + "/_resplay/replies", json=mirror(output)).raise_for_status()
        if interaction.sse_events is None:
            answer = self.http.post("/responses", json=body)
            assert answer.status_code == 200, answer.text
            ours = answer.json()
            self.compare(ours, interaction.response_json or {})
        else:
            with self.http.stream("POST", "/responses", json=body) as answer:
                chunks = answer.iter_bytes()
                events = decode(next(chunks))  # created + queued, before the clock moves
                assert [e["type"] for e in events] == ["response.created", "response.queued"]
                self.advance(REACHED["completed"])
                events += decode(b"".join(chunks))
            self.compare_events(events, interaction.sse_events)
            ours = events[0]["response"]
        self.ours[recorded["id"]] = ours["id"]
        self.created[ours["id"]] = self.elapsed - (REACHED["completed"] if interaction.sse_events else 0.0)

    def get(self, interaction: Interaction) -> None:
        recorded_id = interaction.url.rsplit("/", 1)[-1]
        our_id = self.ours[recorded_id]
        query = dict(part.split("=", 1) for part in interaction.query.split("&") if part)
        if interaction.sse_events is None:
            recorded = interaction.response_json or {}
            self.advance_to(our_id, recorded["status"])
            answer = self.http.get(f"/responses/{our_id}", params=query)
            assert answer.status_code == 200, answer.text
            self.compare(answer.json(), recorded)
        else:
            answer = self.http.get(f"/responses/{our_id}", params=query)
            assert answer.status_code == 200, answer.text
            self.compare_events(decode(answer.content), interaction.sse_events)


def test_background_cassettes_match_in_shape() -> None:
    selected = cassettes()
    recordings = [i for i in responses_interactions(openai_only=True) if i.host == "api.openai.com"]
    profile = field_profile(iter_responses(recordings))
    compared = 0
    with (
        MockServer(seed=5, models=("gpt-5.6-sol",)) as server,
        httpx2.Client(base_url=server.base_url, headers={"authorization": "Bearer sk"}, timeout=10) as http,
    ):
        for name, cassette in selected.items():
            server.reset()
            replayer = Replayer(server, http, cassette, profile)
            try:
                replayer.run()
            except AssertionError as exc:
                raise AssertionError(f"{name}: {exc}") from exc
            compared += replayer.compared
    assert compared >= 20, compared


@pytest.mark.parametrize("status", ["queued", "in_progress"])
def test_recorded_lifecycle_objects_carry_no_billing(status: str) -> None:
    """Sanity check on the recordings the comparison relies on: no ``billing`` before completion."""
    objects = [
        obj
        for cassette in cassettes().values()
        for interaction in cassette
        for obj in interaction.response_objects
        if obj.get("status") == status
    ]
    assert objects and not any("billing" in obj for obj in objects)
