"""hypothesis over HTTP: random request bodies, valid and invalid, never give a 5xx.

Every non-2xx answer must be OpenAI's envelope ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from strategies import json_values

from mockserver import MockServer

JSON = json_values(text=20, keys=12, width=4, leaves=12)

FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "model": st.sampled_from(["gpt-5.5", "gpt-4.1", "gpt-5.1", "o3", "nope"]) | JSON,
    "input": st.text(max_size=40)
    | st.lists(
        st.fixed_dictionaries(
            {
                "role": st.sampled_from(["user", "assistant", "system", "developer", "bad"]),
                "content": st.text(max_size=20) | JSON,
            }
        ),
        max_size=3,
    )
    | JSON,
    "instructions": st.text(max_size=20) | JSON,
    "stream": st.booleans() | JSON,
    "store": st.booleans() | JSON,
    "temperature": st.floats(-1, 3) | JSON,
    "max_output_tokens": st.integers(-5, 200) | JSON,
    "reasoning": st.fixed_dictionaries(
        {},
        optional={
            "effort": st.sampled_from(["none", "low", "minimal", "xhigh", "max", "bogus"]),
            "summary": st.sampled_from(["auto", "concise", "x"]),
        },
    )
    | JSON,
    "text": st.fixed_dictionaries({}, optional={"verbosity": st.sampled_from(["low", "high", "loud"])})
    | JSON,
    "tools": st.lists(
        st.fixed_dictionaries(
            {"type": st.sampled_from(["function", "web_search", "x"]), "name": st.text(max_size=8)}
        ),
        max_size=2,
    )
    | JSON,
    "tool_choice": st.sampled_from(["auto", "none", "required", "sometimes"]) | JSON,
    "previous_response_id": st.text(max_size=30) | JSON,
    "metadata": st.dictionaries(st.text(max_size=70), st.text(max_size=10), max_size=3) | JSON,
    "bogus_field": JSON,
}

BODIES = st.fixed_dictionaries({}, optional=FIELDS) | JSON


@pytest.fixture(scope="module")
def http() -> Iterator[httpx2.Client]:
    with (
        MockServer(seed=1) as server,
        httpx2.Client(
            base_url=server.base_url, headers={"authorization": "Bearer sk-fuzz"}, timeout=10
        ) as client,
    ):
        yield client


def assert_envelope(response: httpx2.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES)
def test_create_never_5xx(http: httpx2.Client, body: Any) -> None:
    assert_envelope(http.post("/responses", content=json.dumps(body)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES)
def test_input_tokens_never_5xx(http: httpx2.Client, body: Any) -> None:
    assert_envelope(http.post("/responses/input_tokens", content=json.dumps(body)))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    raw=st.binary(max_size=64),
    path=st.sampled_from(["/responses", "/responses/resp_x/input_items?limit=abc"]),
)
def test_garbage_never_5xx(http: httpx2.Client, raw: bytes, path: str) -> None:
    method = "POST" if path == "/responses" else "GET"
    assert_envelope(http.request(method, path, content=raw))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    query=st.dictionaries(
        st.sampled_from(["limit", "order", "after", "before", "stream", "include[]"]),
        st.text(max_size=8),
        max_size=4,
    )
)
def test_query_strings_never_5xx(http: httpx2.Client, query: dict[str, str]) -> None:
    created = http.post("/responses", json={"model": "gpt-5.5", "input": "hi"}).json()
    assert_envelope(http.get(f"/responses/{created['id']}/input_items", params=query))
    assert_envelope(http.get(f"/responses/{created['id']}", params=query))
