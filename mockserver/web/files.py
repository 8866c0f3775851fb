"""``/v1/files``: thin handlers over :class:`..files.FileBook` (multipart upload, list, get, delete)."""

from __future__ import annotations

from aiohttp import web

from ..errors import InvalidRequest
from .crud import json_response, read_upload, session_state
from .http import _int_param
from .keys import ENGINE

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    """Register the Files endpoints the openai SDK's ``client.files`` calls."""
    r = app.router
    r.add_post("/v1/files", upload)
    r.add_get("/v1/files", list_files)
    r.add_get("/v1/files/{file_id}", retrieve)
    r.add_delete("/v1/files/{file_id}", delete)
    r.add_get("/v1/files/{file_id}/content", content)


async def upload(request: web.Request) -> web.StreamResponse:
    """``POST /v1/files``: multipart ``file``, ``purpose`` and optional ``expires_after[seconds]``."""
    if not request.content_type.startswith("multipart/"):
        raise InvalidRequest(
            "Invalid request: expected a multipart/form-data body with 'file' and 'purpose'."
        )
    filename, data, form = await read_upload(request)
    purpose = form.get("purpose")
    seconds = form.get("expires_after[seconds]")
    engine = request.app[ENGINE]
    with engine.lock:
        state = session_state(request)
        return json_response(
            state.files.create(
                filename=filename,
                data=data,
                purpose=purpose if isinstance(purpose, str) else None,
                ids=state.ids,
                now=state.clock.now(),
                expires_after_seconds=_int_param(seconds, "expires_after.seconds", 0, low=3600, high=2592000)
                if isinstance(seconds, str)
                else None,
            )
        )


async def list_files(request: web.Request) -> web.StreamResponse:
    """``GET /v1/files``."""
    query = request.query
    limit = _int_param(query.get("limit"), "limit", 10000, low=1, high=10000)
    order = query.get("order", "desc")
    engine = request.app[ENGINE]
    with engine.lock:
        book = session_state(request).files
        return json_response(
            book.list(purpose=query.get("purpose"), after=query.get("after"), limit=limit, order=order)
        )


async def retrieve(request: web.Request) -> web.StreamResponse:
    """``GET /v1/files/{file_id}``."""
    engine = request.app[ENGINE]
    with engine.lock:
        return json_response(session_state(request).files.get(request.match_info["file_id"]).object())


async def delete(request: web.Request) -> web.StreamResponse:
    """``DELETE /v1/files/{file_id}``."""
    engine = request.app[ENGINE]
    with engine.lock:
        return json_response(session_state(request).files.delete(request.match_info["file_id"]))


async def content(request: web.Request) -> web.StreamResponse:
    """``GET /v1/files/{file_id}/content``: the uploaded bytes."""
    engine = request.app[ENGINE]
    with engine.lock:
        data = session_state(request).files.get(request.match_info["file_id"]).data
    return web.Response(body=data, content_type="application/octet-stream")
