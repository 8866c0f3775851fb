"""Minimal Containers (issue 14) with the real openai client, and the reference check of creates: file ids,
vector store ids and code-interpreter containers must exist (mockserver.references)."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai.types import ContainerCreateResponse, ContainerListResponse, ContainerRetrieveResponse
from openai.types.containers import FileCreateResponse, FileListResponse, FileRetrieveResponse

from mockserver import MockServer

from fidelity import check_object, check_response


def _raw(call: Any) -> dict[str, Any]:
    data: dict[str, Any] = call.http_response.json()
    return data


def test_container_crud(client: openai.OpenAI, server: MockServer) -> None:
    made = client.containers.with_raw_response.create(
        name="analysis", memory_limit="4g", expires_after={"anchor": "last_active_at", "minutes": 30}
    )
    raw = _raw(made)
    assert check_object(raw, ContainerCreateResponse) == []
    box = made.parse()
    assert box.id.startswith("cntr_") and len(box.id) == 53 and box.status == "running"
    assert (box.name, box.memory_limit, box.object) == ("analysis", "4g", "container")
    assert box.expires_after is not None and box.expires_after.minutes == 30
    other = client.containers.create(name="scratch")
    assert other.memory_limit == "1g" and other.expires_after and other.expires_after.minutes == 20
    got = _raw(client.containers.with_raw_response.retrieve(box.id))
    assert check_object(got, ContainerRetrieveResponse) == [] and got["id"] == box.id
    listed = client.containers.list()
    assert [c.id for c in listed] == [other.id, box.id]
    assert all(check_object(c.model_dump(exclude_unset=True), ContainerListResponse) == [] for c in listed)
    first = client.containers.list(order="asc", limit=1)
    assert [c.id for c in first.data] == [box.id] and first.has_more is True
    assert [c.id for c in client.containers.list(name="scratch")] == [other.id]
    assert [c.id for c in client.containers.list(after=other.id)] == [box.id]
    deleted = _raw(client.containers.with_raw_response.delete(box.id))
    assert deleted == {"id": box.id, "object": "container.deleted", "deleted": True}
    with pytest.raises(openai.NotFoundError) as info:
        client.containers.retrieve(box.id)
    assert info.value.body == {
        "message": f"Container with id '{box.id}' not found.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.BadRequestError):
        client.containers.create(name="x", memory_limit="2g")  # type: ignore[arg-type]
    # Idle past expires_after: expired (20 minutes by default, documented).
    server.advance(21 * 60)
    assert client.containers.retrieve(other.id).status == "expired"


def test_container_files(client: openai.OpenAI) -> None:
    upload = client.files.create(file=("data.csv", b"a,b\n1,2\n"), purpose="user_data")
    box = client.containers.create(name="files", file_ids=[upload.id])
    [copied] = client.containers.files.list(box.id).data
    assert (copied.path, copied.bytes, copied.source) == ("/mnt/data/data.csv", 8, "user")
    made = client.containers.files.with_raw_response.create(box.id, file=("notes.txt", b"hello"))
    assert check_object(_raw(made), FileCreateResponse) == []
    added = made.parse()
    assert added.id.startswith("cfile_") and len(added.id) == 38 and added.container_id == box.id
    from_id = client.containers.files.create(box.id, file_id=upload.id)
    assert from_id.path == "/mnt/data/data.csv"
    got = _raw(client.containers.files.with_raw_response.retrieve(added.id, container_id=box.id))
    assert check_object(got, FileRetrieveResponse) == [] and got["path"] == "/mnt/data/notes.txt"
    listed = client.containers.files.list(box.id, order="asc")
    assert [f.id for f in listed] == [copied.id, added.id, from_id.id]
    assert all(check_object(f.model_dump(exclude_unset=True), FileListResponse) == [] for f in listed)
    content = client.containers.files.content.retrieve(added.id, container_id=box.id)
    assert content.read() == b"hello"
    assert client.containers.files.delete(added.id, container_id=box.id) is None
    with pytest.raises(openai.NotFoundError):
        client.containers.files.retrieve(added.id, container_id=box.id)
    with pytest.raises(openai.NotFoundError):  # copying an unknown upload
        client.containers.files.create(box.id, file_id="file-missing")
    with pytest.raises(openai.NotFoundError):
        client.containers.files.list("cntr_missing")


def test_code_interpreter_container_is_checked(client: openai.OpenAI, server: MockServer) -> None:
    box = client.containers.create(name="ci")
    tool: Any = {"type": "code_interpreter", "container": box.id}
    used = client.responses.create(
        model="gpt-5.5", input="run some code", tools=[tool], tool_choice="required"
    )
    assert check_response(used.model_dump(mode="json", exclude_unset=True)) == []
    [call] = [item for item in used.output if item.type == "code_interpreter_call"]
    assert call.container_id == box.id
    unknown: Any = [{"type": "web_search"}, {"type": "code_interpreter", "container": "cntr_missing"}]
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.5", input="run code", tools=unknown)
    assert info.value.body == {
        "message": "Container with id 'cntr_missing' not found.",
        "type": "invalid_request_error",
        "param": "tools[1].container",
        "code": None,
    }
    # Using a container keeps it alive; idle for longer than its 20 minutes, it has expired (observed 400).
    server.advance(15 * 60)
    client.responses.create(model="gpt-5.5", input="again", tools=[tool])
    server.advance(15 * 60)
    assert client.containers.retrieve(box.id).status == "running"
    server.advance(6 * 60)
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.5", input="once more", tools=[tool])
    assert info.value.body == {
        "message": "Container is expired.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    # An auto container is created by the call that runs in it, and can be named by later requests.
    ran = client.responses.create(
        model="gpt-5.5",
        input="run code",
        tools=[{"type": "code_interpreter", "container": {"type": "auto"}}],
        tool_choice="required",
    )
    [auto_call] = [item for item in ran.output if item.type == "code_interpreter_call"]
    assert client.containers.retrieve(auto_call.container_id).status == "running"
    reuse: Any = {"type": "code_interpreter", "container": auto_call.container_id}
    assert client.responses.create(model="gpt-5.5", input="again", tools=[reuse]).status == "completed"
    auto: Any = {"type": "code_interpreter", "container": {"type": "auto", "file_ids": ["file-missing"]}}
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.5", input="run code", tools=[auto])
    assert info.value.param == "tools[0].container.file_ids[0]"  # type: ignore[attr-defined]


def test_file_ids_and_vector_stores_are_checked(client: openai.OpenAI) -> None:
    part: Any = {"type": "input_file", "file_id": "file-missing"}
    message: Any = [{"role": "user", "content": [{"type": "input_text", "text": "read it"}, part]}]
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.5", input=message)
    assert info.value.body == {
        "message": "File with id 'file-missing' not found.",
        "type": "invalid_request_error",
        "param": "input[0].content[1].file_id",
        "code": None,
    }
    upload = client.files.create(file=("doc.pdf", b"%PDF-1.4 fake"), purpose="user_data")
    part["file_id"] = upload.id
    assert client.responses.create(model="gpt-5.5", input=message).status == "completed"
    image: Any = [
        {"role": "user", "content": [{"type": "input_image", "file_id": "file-nope", "detail": "auto"}]}
    ]
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-5.5", input=image)
    search: Any = {"type": "file_search", "vector_store_ids": ["vs_missing"]}
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.5", input="search my files", tools=[search])
    assert info.value.body["message"] == "Vector store with id 'vs_missing' not found."  # type: ignore[index]
    store = client.vector_stores.create(name="docs", file_ids=[upload.id])
    search["vector_store_ids"] = [store.id]
    found = client.responses.create(
        model="gpt-5.5", input="search my files", tools=[search], tool_choice="required"
    )
    assert "file_search_call" in [item.type for item in found.output]


def test_the_check_can_be_switched_off() -> None:
    with (
        MockServer(check_references=False) as server,
        openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client,
    ):
        tools: Any = [
            {"type": "file_search", "vector_store_ids": ["vs_1"]},
            {"type": "code_interpreter", "container": "cntr_placeholder"},
        ]
        assert client.responses.create(model="gpt-5.5", input="hi", tools=tools).status == "completed"
