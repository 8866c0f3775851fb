"""The WebSocket part of the cassette format and the strict replay rules, on the pure modules."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest

from pytest_plugin.cassette import dump_yaml, load_yaml
from pytest_plugin.errors import CassetteFormatError
from pytest_plugin.matchers import Bindings
from pytest_plugin.redaction import Redactor
from pytest_plugin.serializers import ResplaySerializer
from pytest_plugin.ws.replayer import ReplayMismatch, SessionReplay
from pytest_plugin.ws.session import WsMessage, WsSession, sessions_from_disk, sessions_to_disk

SECRET = "sk-proj-abcdefghijklmnop0123"


def client(body: dict[str, Any]) -> WsMessage:
    return WsMessage(True, json.dumps(body, separators=(",", ":")))


def server(body: dict[str, Any]) -> WsMessage:
    return WsMessage(False, json.dumps(body, separators=(",", ":")))


def create(text: str, lane: str | None = None, previous: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "response.create", "model": "gpt-5.5", "input": text}
    if lane is not None:
        body["stream_id"] = lane
    if previous is not None:
        body["previous_response_id"] = previous
    return body


def done(rid: str, lane: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "response.completed", "response": {"id": rid}}
    if lane is not None:
        body["stream_id"] = lane
    return body


RID_A = "resp_0a1b2c3d4e5f60718293a4b5c6d7e8f9"
RID_B = "resp_9f8e7d6c5b4a30291807f6e5d4c3b2a1"


def test_sessions_round_trip_exactly_and_redact_secrets() -> None:
    session = WsSession(
        uri="wss://api.openai.com/v1/responses",
        headers={"Authorization": [f"Bearer {SECRET}"], "User-Agent": ["OpenAI/Python 3.51.0"]},
        messages=[
            WsMessage(True, '{"type": "response.create", "input": "key ' + SECRET + '"}', 0.0),
            WsMessage(False, json.dumps(done(RID_A, "a"), indent=2), 0.0123456),
            WsMessage(False, "not json", None),
            WsMessage(False, b"\x00\x01binary", 0.5),
        ],
        close_code=1012,
        close_reason="service restart",
        closed_by="server",
    )
    disk = sessions_to_disk([session], Redactor.build({}))
    text = dump_yaml({"format_version": 1, "version": 1, "interactions": [], "websockets": disk})
    assert SECRET not in text
    (back,) = sessions_from_disk(load_yaml(text)["websockets"])
    assert back.headers["Authorization"] == ["REDACTED"]
    assert back.messages[0].data == '{"type": "response.create", "input": "key sk-REDACTED"}'  # layout kept
    assert [m.data for m in back.messages[1:]] == [m.data for m in session.messages[1:]]
    assert [m.t for m in back.messages] == [0.0, 0.012, None, 0.5]
    assert (back.close_code, back.close_reason, back.closed_by) == (1012, "service restart", "server")
    assert disk[0]["messages"][1]["stream_id"] == "a" and disk[0]["messages"][1]["style"] == "indent2"


def test_the_serializer_keeps_websockets_beside_interactions() -> None:
    serializer = ResplaySerializer(Redactor.build({}))
    serializer.websockets = [WsSession("ws://h/v1/responses", messages=[client(create("hi"))])]
    text = serializer.serialize({"version": 1, "interactions": []})
    reader = ResplaySerializer()
    assert reader.deserialize(text) == {"version": 1, "interactions": []}
    assert [m.data for m in reader.websockets[0].messages] == [client(create("hi")).data]


@pytest.mark.parametrize(
    "bad", [{"request": {}}, [{"messages": [{"from": "nobody", "json": {}}], "request": {"uri": "x"}}], "x"]
)
def test_broken_sessions_are_a_format_error(bad: Any) -> None:
    with pytest.raises(CassetteFormatError):
        sessions_from_disk(bad if isinstance(bad, list | str) else [bad])


def test_server_frames_wait_for_the_client_frames_before_them() -> None:
    hello = server({"type": "session.hello"})
    session = WsSession(
        "ws://h/v1/responses",
        messages=[
            hello,
            client(create("one")),
            server(done(RID_A)),
            client(create("two", previous=RID_A)),
            server(done(RID_B)),
        ],
        close_code=1011,
        closed_by="server",
    )
    replay = SessionReplay(session, Bindings())
    assert replay.start() == [hello]
    assert [m.parsed["response"]["id"] for m in replay.receive(client(create("one")).data)] == [RID_A]
    assert replay.server_close is None
    # The id the client got back stands for itself: another id in its place is a mismatch.
    with pytest.raises(ReplayMismatch, match="previous_response_id"):
        replay.receive(client(create("two", previous=RID_B)).data)
    assert len(replay.receive(client(create("two", previous=RID_A)).data)) == 1
    assert replay.done and replay.server_close == (1011, "")


def test_each_lane_is_checked_against_its_own_next_frame() -> None:
    session = WsSession(
        "ws://h/v1/responses",
        messages=[
            client(create("rome", "a")),
            client(create("oslo", "b")),
            server(done(RID_A, "a")),
            server(done(RID_B, "b")),
        ],
    )
    replay = SessionReplay(session, Bindings())
    assert replay.receive(client(create("oslo", "b")).data) == []  # lane a's create came first
    assert len(replay.receive(client(create("rome", "a")).data)) == 2
    assert replay.done and replay.server_close is None  # the client closed the recording
    with pytest.raises(ReplayMismatch, match="no recorded client frame is left on lane 'a'"):
        replay.receive(client(create("again", "a")).data)


def test_symbols_bind_one_to_one_and_ignore_paths_apply() -> None:
    recorded_call = "call_ab12cd34ef56gh78ij90kl12"
    session = WsSession(
        "ws://h/v1/responses",
        messages=[
            client({**create("x"), "metadata": {"run": "1"}, "input": [{"call_id": recorded_call}]}),
            client({**create("y"), "input": [{"call_id": recorded_call}]}),
        ],
    )
    replay = SessionReplay(session, Bindings(), ignore=("metadata",))
    live_call = "call_zz99yy88xx77ww66vv55uu44"
    replay.receive(client({**create("x"), "metadata": {"run": "2"}, "input": [{"call_id": live_call}]}).data)
    other = "call_qq11rr22ss33tt44uu55vv66"
    with pytest.raises(ReplayMismatch, match=r"frame\.input\[0\]\.call_id"):
        replay.receive(client({**create("y"), "input": [{"call_id": other}]}).data)


def test_close_codes_are_written_as_plain_integers() -> None:
    # aiohttp reports close codes as an IntEnum, which YAML's safe dumper refuses.
    code = enum.IntEnum("Code", {"GOING_AWAY": 1001}).GOING_AWAY
    disk = sessions_to_disk([WsSession("ws://h/v1/responses", close_code=code)])
    assert type(disk[0]["close"]["code"]) is int
    assert "1001" in dump_yaml({"websockets": disk})


def test_sk_inside_a_base64_blob_is_not_a_key() -> None:
    # An encrypted_content blob that happens to contain "sk-" must reach the cassette intact.
    blob = "gAAAAABrBy7O5Ptn75YHQqNaGIvFI1gJZ4F1yC3RqZ-zlQHEN_lMynjlgvN_ACmMdwra2Fwh93zzEjSUsk-nFt2kq0vBxx"
    redactor = Redactor.build({})
    assert redactor.text(json.dumps({"encrypted_content": blob})) == json.dumps({"encrypted_content": blob})
    assert redactor.text(f"Bearer {SECRET}") == "Bearer sk-REDACTED"
