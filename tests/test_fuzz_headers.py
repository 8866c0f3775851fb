"""Issue 12, bad input: hypothesis request headers never give a 5xx; every error is OpenAI's envelope.

Fuzzes the headers the server reads (auth, session, content type, admin key, idempotency, OpenAI's
client headers) on create, retrieve, input_items and the admin API, over a real server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from mockserver import MockServer

# Header values as HTTP carries them: visible latin-1, no CR/LF (the client refuses those).
VALUE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40)
NAMES = st.sampled_from(
    [
        "authorization",
        "api-key",
        "x-resplay-session",
        "x-resplay-admin-key",
        "content-type",
        "content-encoding",
        "accept",
        "accept-encoding",
        "openai-beta",
        "openai-organization",
        "openai-project",
        "idempotency-key",
        "x-stainless-retry-count",
        "x-stainless-timeout",
        "x-request-id",
    ]
)
HEADERS = st.dictionaries(NAMES, VALUE, max_size=5)
AUTHS = st.sampled_from(["Bearer sk-fuzz", "bearer sk-fuzz", "Basic x", "Bearer", ""]) | VALUE


@pytest.fixture(scope="module")
def http() -> Iterator[tuple[httpx2.Client, str]]:
    with MockServer(seed=2, admin_key="adm") as server, httpx2.Client(timeout=10) as client:
        root = server.base_url.removesuffix("/v1")
        created = client.post(
            server.base_url + "/responses",
            json={"model": "gpt-5.5", "input": "hi"},
            headers={"authorization": "Bearer sk-fuzz"},
        ).json()
        yield client, f"{root}|{created['id']}"


def assert_envelope(response: httpx2.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}, body
        assert set(body["error"]) == {"message", "type", "param", "code"}, body
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(headers=HEADERS, auth=AUTHS, target=st.integers(0, 4))
def test_fuzzed_headers_never_5xx(
    http: tuple[httpx2.Client, str], headers: dict[str, str], auth: str, target: int
) -> None:
    client, where = http
    root, response_id = where.split("|")
    # Sent as latin-1 bytes: non-ASCII header bytes are legal on the wire and must not break the server.
    raw = {
        name: value.strip(" \t").encode("latin-1")
        for name, value in {"authorization": auth, **headers}.items()
    }
    body = json.dumps({"model": "gpt-5.5", "input": "hello"}).encode()
    if target == 0:
        answer = client.post(root + "/v1/responses", content=body, headers=raw)
    elif target == 1:
        answer = client.get(f"{root}/v1/responses/{response_id}", headers=raw)
    elif target == 2:
        answer = client.get(f"{root}/v1/responses/{response_id}/input_items", headers=raw)
    elif target == 3:
        answer = client.post(root + "/v1/responses/input_tokens", content=body, headers=raw)
    else:
        answer = client.get(root + "/_resplay/requests", headers=raw)
    assert_envelope(answer)


def test_non_utf8_session_header_is_a_distinct_session_and_the_journal_still_serves(
    http: tuple[httpx2.Client, str],
) -> None:
    # Found by the fuzz above: these bytes reached the session's id seeding as lone surrogates (a 500).
    client, where = http
    root = where.split("|")[0]
    session = {"x-resplay-session": b"\x80caf\xe9", "authorization": b"Bearer sk-fuzz"}
    created = client.post(root + "/v1/responses", json={"model": "gpt-5.5", "input": "hi"}, headers=session)
    assert created.status_code == 200, created.text
    assert client.get(f"{root}/v1/responses/{created.json()['id']}", headers=session).status_code == 200
    elsewhere = client.get(
        f"{root}/v1/responses/{created.json()['id']}", headers={"authorization": "Bearer k"}
    )
    assert elsewhere.status_code == 404
    journal = client.get(root + "/_resplay/requests", headers={**session, "x-resplay-admin-key": b"adm"})
    assert journal.status_code == 200
    assert journal.json()["data"][-1]["headers"]["x-resplay-session"] == "\x80café"


def test_non_utf8_admin_key_header_is_a_401_not_a_500(http: tuple[httpx2.Client, str]) -> None:
    client, where = http
    answer = client.get(where.split("|")[0] + "/_resplay/requests", headers={"x-resplay-admin-key": b"\x80"})
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "invalid_admin_key"
