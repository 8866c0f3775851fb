"""``/v1/containers``: thin handlers over :class:`..containers.ContainerBook` (``client.containers`` and
``client.containers.files``, including ``.files.content``)."""

from __future__ import annotations

from aiohttp import web

from .crud import json_response, optional_json, paging, read_upload, session_state
from .keys import ENGINE

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    """Register the container endpoints the openai SDK calls."""
    r = app.router
    r.add_post("/v1/containers", create)
    r.add_get("/v1/containers", list_containers)
    r.add_get("/v1/containers/{cntr}", retrieve)
    r.add_delete("/v1/containers/{cntr}", delete)
    r.add_post("/v1/containers/{cntr}/files", create_file)
    r.add_get("/v1/containers/{cntr}/files", list_files)
    r.add_get("/v1/containers/{cntr}/files/{file_id}", retrieve_file)
    r.add_delete("/v1/containers/{cntr}/files/{file_id}", delete_file)
    r.add_get("/v1/containers/{cntr}/files/{file_id}/content", file_content)


async def create(request: web.Request) -> web.StreamResponse:
    """``POST /v1/containers``."""
    body = await optional_json(request)
    with request.app[ENGINE].lock:
        state = session_state(request)
        return json_response(
            state.containers.create(body, ids=state.ids, now=state.clock.now(), files=state.files)
        )


async def list_containers(request: web.Request) -> web.StreamResponse:
    """``GET /v1/containers`` (``after``, ``limit``, ``order``, ``name``)."""
    limit, order, after = paging(request)
    with request.app[ENGINE].lock:
        state = session_state(request)
        return json_response(
            state.containers.list(
                now=state.clock.now(), limit=limit, order=order, after=after, name=request.query.get("name")
            )
        )


async def retrieve(request: web.Request) -> web.StreamResponse:
    """``GET /v1/containers/{id}``."""
    with request.app[ENGINE].lock:
        state = session_state(request)
        return json_response(state.containers.get(request.match_info["cntr"]).object(state.clock.now()))


async def delete(request: web.Request) -> web.StreamResponse:
    """``DELETE /v1/containers/{id}``."""
    with request.app[ENGINE].lock:
        return json_response(session_state(request).containers.delete(request.match_info["cntr"]))


async def create_file(request: web.Request) -> web.StreamResponse:
    """``POST /v1/containers/{id}/files``: multipart ``file``, or JSON ``{"file_id": ...}``."""
    filename: str | None = None
    data: bytes | None = None
    file_id = None
    if request.content_type.startswith("multipart/"):
        filename, data, form = await read_upload(request)
        file_id = form.get("file_id")
    else:
        body = await optional_json(request)
        file_id = body.get("file_id") if isinstance(body, dict) else None
    with request.app[ENGINE].lock:
        state = session_state(request)
        return json_response(
            state.containers.add_file(
                request.match_info["cntr"],
                filename=filename,
                data=data,
                file_id=file_id,
                files=state.files,
                ids=state.ids,
                now=state.clock.now(),
            )
        )


async def list_files(request: web.Request) -> web.StreamResponse:
    """``GET /v1/containers/{id}/files``."""
    limit, order, after = paging(request)
    with request.app[ENGINE].lock:
        book = session_state(request).containers
        found = book.list_files(request.match_info["cntr"], limit=limit, order=order, after=after)
        return json_response(found)


async def retrieve_file(request: web.Request) -> web.StreamResponse:
    """``GET /v1/containers/{id}/files/{file_id}``."""
    with request.app[ENGINE].lock:
        book = session_state(request).containers
        return json_response(book.file(request.match_info["cntr"], request.match_info["file_id"]).object())


async def delete_file(request: web.Request) -> web.StreamResponse:
    """``DELETE /v1/containers/{id}/files/{file_id}``."""
    with request.app[ENGINE].lock:
        book = session_state(request).containers
        return json_response(book.delete_file(request.match_info["cntr"], request.match_info["file_id"]))


async def file_content(request: web.Request) -> web.StreamResponse:
    """``GET /v1/containers/{id}/files/{file_id}/content``: the file's bytes."""
    with request.app[ENGINE].lock:
        book = session_state(request).containers
        data = book.file(request.match_info["cntr"], request.match_info["file_id"]).data
    return web.Response(body=data, content_type="application/octet-stream")
