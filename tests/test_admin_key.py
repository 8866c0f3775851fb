"""Issue 12, security: the admin API behind its own key (``--admin-key``, ``x-resplay-admin-key``)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from mockserver import MockServer

ADMIN_KEY = "adm-0123456789-secret"
HEADER = "x-resplay-admin-key"


@pytest.fixture(scope="module")
def guarded() -> Iterator[MockServer]:
    with MockServer(admin_key=ADMIN_KEY, api_key="sk-api") as server:
        yield server


def _root(server: MockServer) -> str:
    return server.base_url.removesuffix("/v1")


class _Answer:
    def __init__(self, status: int, text: str) -> None:
        self.status_code, self.text = status, text

    def json(self) -> Any:
        return json.loads(self.text)


def _call(method: str, url: str, headers: dict[str, str] | None = None, body: Any = None) -> _Answer:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"content-type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return _Answer(answer.status, answer.read().decode())
    except urllib.error.HTTPError as failed:
        return _Answer(failed.code, failed.read().decode())


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/_resplay/reset"),
        ("GET", "/_resplay/requests"),
        ("GET", "/_resplay/clock"),
        ("POST", "/_resplay/replies"),
        ("GET", "/_resplay/faults"),
    ],
)
@pytest.mark.parametrize("given", [None, "wrong-key", "sk-api", ADMIN_KEY + "x"])
def test_admin_calls_without_the_right_key_get_a_401_envelope(
    guarded: MockServer, method: str, path: str, given: str | None
) -> None:
    headers = {HEADER: given} if given is not None else {}
    answer = _call(method, _root(guarded) + path, headers, [] if method == "POST" else None)
    assert answer.status_code == 401
    error = answer.json()["error"]
    assert set(answer.json()) == {"error"}
    assert error["type"] == "invalid_request_error" and error["code"] == "invalid_admin_key"
    assert "x-resplay-admin-key" in error["message"]
    assert given is None or given not in answer.text  # the key tried is never echoed


def test_admin_calls_with_the_key_work_and_health_stays_open(guarded: MockServer) -> None:
    root = _root(guarded)
    assert _call("GET", root + "/_resplay/health").status_code == 200  # liveness probes need no secret
    assert _call("POST", root + "/_resplay/reset", {HEADER: ADMIN_KEY}).json() == {"reset": True}
    assert _call("GET", root + "/_resplay/clock", {HEADER: ADMIN_KEY}).status_code == 200


def test_the_api_keeps_its_own_key_and_the_admin_key_is_not_an_api_key(guarded: MockServer) -> None:
    with (
        openai.OpenAI(base_url=guarded.base_url, api_key=ADMIN_KEY, max_retries=0) as wrong,
        pytest.raises(openai.AuthenticationError),
    ):
        wrong.responses.create(model="gpt-5.5", input="hi")
    with openai.OpenAI(
        base_url=guarded.base_url, api_key="sk-api", max_retries=0, default_headers={HEADER: ADMIN_KEY}
    ) as right:
        assert right.responses.create(model="gpt-5.5", input="hi").status == "completed"
    # No secret in the journal: the admin key header is redacted like the bearer key.
    journal = _call("GET", _root(guarded) + "/_resplay/requests", {HEADER: ADMIN_KEY}).text
    assert ADMIN_KEY not in journal and "sk-api" not in journal


def test_without_admin_key_the_admin_api_is_open_and_no_admin_turns_it_off() -> None:
    with MockServer() as server:
        assert _call("POST", _root(server) + "/_resplay/reset").status_code == 200
    with MockServer(admin=False) as server:
        answer = _call("POST", _root(server) + "/_resplay/reset")
        assert answer.status_code == 404 and "error" in answer.json()


def test_no_secret_is_ever_in_the_config_repr() -> None:
    from mockserver.config import ServerConfig

    shown = repr(ServerConfig(admin_key=ADMIN_KEY, api_key="sk-api-secret", secret="blob-secret"))
    assert ADMIN_KEY not in shown and "sk-api-secret" not in shown and "blob-secret" not in shown
