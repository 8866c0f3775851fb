"""``/v1/vector_stores``: thin handlers over :class:`..vector_stores.VectorStoreBook`."""

from __future__ import annotations

from aiohttp import web

from .crud import json_response, optional_json, paging, session_state
from .keys import ENGINE

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    """Register the vector store endpoints (``client.vector_stores`` and ``.files``)."""
    r = app.router
    r.add_post("/v1/vector_stores", create)
    r.add_get("/v1/vector_stores", list_stores)
    r.add_get("/v1/vector_stores/{vs}", retrieve)
    r.add_post("/v1/vector_stores/{vs}", update)
    r.add_delete("/v1/vector_stores/{vs}", delete)
    r.add_post("/v1/vector_stores/{vs}/files", attach)
    r.add_get("/v1/vector_stores/{vs}/files", list_files)
    r.add_get("/v1/vector_stores/{vs}/files/{file_id}", retrieve_file)
    r.add_delete("/v1/vector_stores/{vs}/files/{file_id}", detach)


async def create(request: web.Request) -> web.StreamResponse:
    """``POST /v1/vector_stores``."""
    body = await optional_json(request)
    engine = request.app[ENGINE]
    with engine.lock:
        state = session_state(request)
        return json_response(
            state.vector_stores.create(body, ids=state.ids, now=state.clock.now(), files=state.files)
        )


async def list_stores(request: web.Request) -> web.StreamResponse:
    """``GET /v1/vector_stores``."""
    limit, order, _ = paging(request)
    engine = request.app[ENGINE]
    with engine.lock:
        return json_response(session_state(request).vector_stores.list(limit=limit, order=order))


async def retrieve(request: web.Request) -> web.StreamResponse:
    """``GET /v1/vector_stores/{id}``."""
    engine = request.app[ENGINE]
    with engine.lock:
        return json_response(session_state(request).vector_stores.get(request.match_info["vs"]).object())


async def update(request: web.Request) -> web.StreamResponse:
    """``POST /v1/vector_stores/{id}``."""
    body = await optional_json(request)
    engine = request.app[ENGINE]
    with engine.lock:
        return json_response(session_state(request).vector_stores.update(request.match_info["vs"], body))


async def delete(request: web.Request) -> web.StreamResponse:
    """``DELETE /v1/vector_stores/{id}``."""
    engine = request.app[ENGINE]
    with engine.lock:
        return json_response(session_state(request).vector_stores.delete(request.match_info["vs"]))


async def attach(request: web.Request) -> web.StreamResponse:
    """``POST /v1/vector_stores/{id}/files``."""
    body = await optional_json(request)
    engine = request.app[ENGINE]
    with engine.lock:
        state = session_state(request)
        return json_response(
            state.vector_stores.attach(
                request.match_info["vs"], body, files=state.files, now=state.clock.now()
            )
        )


async def list_files(request: web.Request) -> web.StreamResponse:
    """``GET /v1/vector_stores/{id}/files``."""
    limit, order, _ = paging(request)
    engine = request.app[ENGINE]
    with engine.lock:
        book = session_state(request).vector_stores
        return json_response(book.list_files(request.match_info["vs"], limit=limit, order=order))


async def retrieve_file(request: web.Request) -> web.StreamResponse:
    """``GET /v1/vector_stores/{id}/files/{file_id}``."""
    engine = request.app[ENGINE]
    with engine.lock:
        book = session_state(request).vector_stores
        return json_response(book.file(request.match_info["vs"], request.match_info["file_id"]))


async def detach(request: web.Request) -> web.StreamResponse:
    """``DELETE /v1/vector_stores/{id}/files/{file_id}``."""
    engine = request.app[ENGINE]
    with engine.lock:
        book = session_state(request).vector_stores
        return json_response(book.detach(request.match_info["vs"], request.match_info["file_id"]))
