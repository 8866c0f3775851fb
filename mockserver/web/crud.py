"""Shared handler pieces of the small CRUD endpoints (``web/files.py``, ``vector_stores.py``,
``containers.py``): JSON answers, optional JSON bodies, list paging and the session's state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from ..engine import Session
from .http import _int_param
from .keys import ENGINE
from .middleware import read_json, session_of

__all__ = ["json_response", "optional_json", "paging", "read_upload", "session_state"]


def json_response(body: Any) -> web.Response:
    """``body`` as an ``application/json`` answer (orjson, like every API answer)."""
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def optional_json(request: web.Request) -> Any:
    """The JSON body, or ``None`` when there is none."""
    return await read_json(request) if request.can_read_body else None


def paging(request: web.Request, *, default: int = 20, high: int = 100) -> tuple[int, str, str | None]:
    """``limit`` (checked against ``1..high``), ``order`` (``asc`` / ``desc``) and ``after`` of a list."""
    query = request.query
    order = "asc" if query.get("order") == "asc" else "desc"
    return _int_param(query.get("limit"), "limit", default, low=1, high=high), order, query.get("after")


def session_state(request: web.Request) -> Session:
    """The request's session (call it with the engine lock held)."""
    return request.app[ENGINE].session(session_of(request))


async def read_upload(request: web.Request) -> tuple[str | None, bytes | None, Mapping[str, Any]]:
    """A multipart body's ``file`` part (its filename and bytes; ``None`` when absent) and every field."""
    form = await request.post()
    upload = form.get("file")
    if isinstance(upload, web.FileField):
        return upload.filename, upload.file.read(), form
    if isinstance(upload, str):
        return None, upload.encode(), form
    return None, None, form
