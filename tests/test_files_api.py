"""The minimal Files API (issue 14) with the real openai client: upload, list, retrieve, content, delete."""

from __future__ import annotations

import openai
import pytest
from openai.types import FileDeleted, FileObject

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
