"""The minimal Files API (issue 14) with the real openai client: upload, list, retrieve, content, delete."""

from __future__ import annotations

import openai
import pytest
from openai.types import FileDeleted, FileObject, VectorStore
from openai.types.vector_stores import VectorStoreFile

from mockserver import MockServer
from mockserver.errors import InvalidRequest
from mockserver.files import FileBook
from mockserver.ids import IdFactory

from fidelity import check_object


def test_upload_list_retrieve_content_delete(client: openai.OpenAI) -> None:
    up = client.files.create(file=("chart.png", b"\x89PNG fake bytes"), purpose="vision")
    assert up.id.startswith("file-") and len(up.id) == 27
    assert (up.filename, up.bytes, up.purpose, up.status) == ("chart.png", 15, "vision", "processed")
    raw = client.files.with_raw_response.retrieve(up.id).http_response.json()
    assert check_object(raw, FileObject) == []
    second = client.files.create(file=("notes.txt", b"hello"), purpose="user_data")
    assert [f.id for f in client.files.list()] == [second.id, up.id]
    assert [f.id for f in client.files.list(purpose="vision")] == [up.id]
    assert client.files.content(up.id).read() == b"\x89PNG fake bytes"
    deleted = client.files.with_raw_response.delete(up.id).http_response.json()
    assert check_object(deleted, FileDeleted) == [] and deleted["deleted"] is True
    with pytest.raises(openai.NotFoundError) as info:
        client.files.retrieve(up.id)
    assert info.value.body == {
        "message": f"No such File object: {up.id}",
        "type": "invalid_request_error",
        "param": "id",
        "code": None,
    }


def test_bad_purpose_and_expiry(client: openai.OpenAI, server: MockServer) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.files.create(file=("a.txt", b"x"), purpose="nonsense")  # type: ignore[arg-type]
    assert info.value.code == "invalid_value" and info.value.param == "purpose"
    up = client.files.create(
        file=("a.txt", b"x"), purpose="user_data", expires_after={"anchor": "created_at", "seconds": 3600}
    )
    assert up.expires_at == up.created_at + 3600


def test_files_are_per_session(server: MockServer) -> None:
    def make(session: str) -> openai.OpenAI:
        headers = {"x-resplay-session": session}
        return openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, default_headers=headers)

    with make("one") as one, make("two") as two:
        up = one.files.create(file=("a.txt", b"x"), purpose="assistants")
        with pytest.raises(openai.NotFoundError):
            two.files.retrieve(up.id)


def test_pure_book_requires_file_and_purpose() -> None:
    book = FileBook()
    ids = IdFactory(3)
    with pytest.raises(InvalidRequest):
        book.create(filename="a", data=None, purpose="vision", ids=ids, now=0.0)
    with pytest.raises(InvalidRequest):
        book.create(filename="a", data=b"", purpose=None, ids=ids, now=0.0)
    obj = book.create(filename=None, data=b"", purpose="batch", ids=ids, now=5.0)
    assert obj["id"] in book and obj["filename"] == "upload"


def test_vector_store_with_files(client: openai.OpenAI) -> None:
    up = client.files.create(file=("doc.txt", b"Paris is the capital of France."), purpose="assistants")
    store = client.vector_stores.create(name="test-file-search")
    assert store.id.startswith("vs_") and len(store.id) == 35 and store.status == "completed"
    raw = client.vector_stores.with_raw_response.retrieve(store.id).http_response.json()
    assert check_object(raw, VectorStore) == []
    attached = client.vector_stores.files.create(vector_store_id=store.id, file_id=up.id)
    assert (attached.id, attached.vector_store_id, attached.status) == (up.id, store.id, "completed")
    assert check_object(attached.model_dump(mode="json"), VectorStoreFile) == []
    again = client.vector_stores.retrieve(store.id)
    assert (again.file_counts.total, again.usage_bytes) == (1, 31)
    assert [f.id for f in client.vector_stores.files.list(vector_store_id=store.id)] == [up.id]
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.create(vector_store_id=store.id, file_id="file-missing")
    # the real file_search recording uses the store in a create
    tool = {"type": "file_search", "vector_store_ids": [store.id]}
    assert (
        client.responses.create(model="gpt-4o", input="Capital of France?", tools=[tool]).status
        == "completed"
    )
    assert client.vector_stores.files.delete(up.id, vector_store_id=store.id).deleted
    assert client.vector_stores.update(store.id, name="renamed").name == "renamed"
    assert [s.id for s in client.vector_stores.list()] == [store.id]
    assert client.vector_stores.delete(store.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve(store.id)
