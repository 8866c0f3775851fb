"""``GET /v1/models`` and ``GET /v1/models/{id}`` with the real openai client (issue 14)."""

from __future__ import annotations

import openai
import pytest
from openai.types import Model

from mockserver import MockServer
from mockserver.catalog import Catalog
from mockserver.model_objects import DEFAULT_CREATED, list_models, model_object, retrieve_model

from fidelity import check_object


def test_list_models_is_the_catalogue(client: openai.OpenAI, server: MockServer) -> None:
    page = client.models.list()
    names = [m.id for m in page.data]
    assert names == Catalog().names()
    assert "gpt-5.5" in names and "gpt-4o" in names
    raw = client.models.with_raw_response.list()
    body = raw.http_response.json()
    assert body["object"] == "list"
    for obj in body["data"][:50]:
        assert check_object(obj, Model) == []


def test_every_listed_model_is_accepted_by_create(client: openai.OpenAI) -> None:
    name = client.models.list().data[0].id
    assert client.models.retrieve(name).id == name
    assert client.responses.create(model=name, input="hi").model.startswith(name)


def test_retrieve_known_and_dated_snapshot(client: openai.OpenAI) -> None:
    model = client.models.retrieve("gpt-4o")
    assert (model.id, model.object, model.owned_by, model.created) == (
        "gpt-4o",
        "model",
        "system",
        DEFAULT_CREATED,
    )
    snap = client.models.retrieve("gpt-4o-2024-08-06")
    assert snap.created == 1722902400  # 2024-08-06T00:00:00Z


def test_unknown_model_is_404_model_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("gpt-nope")
    assert info.value.status_code == 404
    assert info.value.body == {
        "message": "The model 'gpt-nope' does not exist",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }


async def test_async_models_health_check(async_client: openai.AsyncOpenAI) -> None:
    page = await async_client.models.list()
    assert len(page.data) > 10
    assert (await async_client.models.retrieve("gpt-5.5")).id == "gpt-5.5"


def test_pure_helpers_extra_models() -> None:
    catalog = Catalog(["my-finetune"])
    assert model_object("my-finetune")["created"] == DEFAULT_CREATED
    assert "my-finetune" in [m["id"] for m in list_models(catalog)["data"]]
    assert retrieve_model(catalog, "my-finetune")["id"] == "my-finetune"
