"""Azure OpenAI URL layouts and the ``api-key`` header, driven by the SDK's ``AzureOpenAI`` (issue 14)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import openai
import pytest

from mockserver import MockServer

from fidelity import check_response


def _endpoint(server: MockServer) -> str:
    return str(server.base_url).rstrip("/").removesuffix("/v1")


@pytest.fixture
def azure(server: MockServer) -> Iterator[openai.AzureOpenAI]:
    with openai.AzureOpenAI(
        azure_endpoint=_endpoint(server), api_key="azure-key", api_version="2025-04-01-preview", max_retries=0
    ) as c:
        yield c


def _last_request(server: MockServer) -> dict[str, object]:
    with server.engine.lock:
        journal = server.engine.session().journal
        return dict(journal[-1])


def test_azure_client_responses_round_trip(azure: openai.AzureOpenAI, server: MockServer) -> None:
    created = azure.responses.create(model="gpt-4.1", input="hello from azure")
    assert created.status == "completed"
    assert check_response(created.model_dump(mode="json", exclude_unset=True)) == []
    entry = _last_request(server)
    assert entry["path"] == "/openai/responses"
    headers = {str(k).lower(): v for k, v in dict(entry["headers"]).items()}  # type: ignore[call-overload]
    assert "api-key" in headers and "authorization" not in headers
    assert azure.responses.retrieve(created.id).id == created.id
    items = azure.responses.input_items.list(created.id)
    assert items.data and items.data[0].type == "message"
    with azure.responses.stream(model="gpt-4.1", input="stream it") as stream:
        assert stream.get_final_response().status == "completed"
    assert azure.responses.delete(created.id) is None


def test_azure_deployment_client_and_models(server: MockServer) -> None:
    with openai.AzureOpenAI(
        azure_endpoint=_endpoint(server),
        azure_deployment="my-gpt",
        api_key="azure-key",
        api_version="2025-04-01-preview",
        max_retries=0,
    ) as dep:
        assert dep.responses.create(model="gpt-4.1", input="hi").status == "completed"
        assert any(m.id == "gpt-4.1" for m in dep.models.list().data)


def test_azure_v1_base_url_with_plain_client(server: MockServer) -> None:
    base = _endpoint(server) + "/openai/v1/"
    with openai.OpenAI(base_url=base, api_key="azure-key", max_retries=0) as v1:
        first = v1.responses.create(model="gpt-5.5", input="hi")
        conv = v1.conversations.create()
        v1.responses.create(model="gpt-5.5", input="again", conversation=conv.id)
        assert len(v1.conversations.items.list(conv.id).data) >= 2
    assert _last_request(server)["path"].startswith("/openai/v1/")  # type: ignore[union-attr]
    # same session state as /v1
    with openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as plain:
        assert plain.responses.retrieve(first.id).id == first.id


def test_azure_without_key_is_401(server: MockServer) -> None:
    req = urllib.request.Request(
        _endpoint(server) + "/openai/responses?api-version=preview",
        data=json.dumps({"model": "gpt-4.1", "input": "hi"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req)
    assert info.value.code == 401
    req.add_header("api-key", "azure-key")
    with urllib.request.urlopen(req) as ok:
        assert json.loads(ok.read())["object"] == "response"


async def test_async_azure_deployment_path(server: MockServer) -> None:
    async with openai.AsyncAzureOpenAI(
        azure_endpoint=_endpoint(server), api_key="azure-key", api_version="preview", max_retries=0
    ) as az:
        created = await az.responses.create(model="gpt-4.1", input="hi")
        assert created.status == "completed"
        unknown = az.with_options(base_url=_endpoint(server) + "/openai/deployments/dep1/")
        assert (await unknown.responses.retrieve(created.id)).id == created.id
        assert _last_request(server)["path"] == f"/openai/deployments/dep1/responses/{created.id}"
        with pytest.raises(openai.NotFoundError):
            await az.responses.retrieve("resp_missing")


def test_azure_paths_get_faults_and_rate_limits(azure: openai.AzureOpenAI, server: MockServer) -> None:
    # A header fault and a queued fault hit the Azure aliases as they hit /v1 (web/faults.py inject).
    with pytest.raises(openai.InternalServerError):
        azure.responses.create(
            model="gpt-4.1", input="hi", extra_headers={"x-resplay-fault": "http;status=503"}
        )
    server.queue_fault("http;status=429;retry_after_ms=1")
    with pytest.raises(openai.RateLimitError):
        azure.responses.create(model="gpt-4.1", input="hi")
    assert azure.responses.create(model="gpt-4.1", input="hi").status == "completed"
    assert [e["status"] for e in server.journal()][-3:] == [503, 429, 200]


def test_azure_paths_are_rate_limited() -> None:
    with (
        MockServer(seed=3, rate_limit_rpm=1) as limited,
        openai.AzureOpenAI(
            azure_endpoint=_endpoint(limited), api_key="azure-key", api_version="preview", max_retries=0
        ) as az,
    ):
        first = az.responses.with_raw_response.create(model="gpt-4.1", input="hi")
        assert first.headers["x-ratelimit-remaining-requests"] == "0"
        with pytest.raises(openai.RateLimitError):
            az.responses.create(model="gpt-4.1", input="hi")
        # One budget per key whatever the path: the /openai/v1 alias is refused too.
        with (
            openai.OpenAI(
                base_url=_endpoint(limited) + "/openai/v1/", api_key="azure-key", max_retries=0
            ) as v1,
            pytest.raises(openai.RateLimitError),
        ):
            v1.responses.create(model="gpt-4.1", input="hi")
