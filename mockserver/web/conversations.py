"""The Conversations API (SPEC §2.8): thin handlers over :class:`..conversations.ConversationBook`."""

from __future__ import annotations

import functools
from typing import Any

import orjson
from aiohttp import web

from ..conversations import ConversationBook, Normaliser
from ..engine import Engine, Session
from ..errors import InvalidRequest
from .http import _int_param
from .keys import ENGINE
from .middleware import read_json, session_of

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    """Register ``/v1/conversations`` and its items sub-resource."""
    r = app.router
    r.add_post("/v1/conversations", create)
    r.add_get("/v1/conversations/{conv}", retrieve)
    r.add_post("/v1/conversations/{conv}", update)
    r.add_delete("/v1/conversations/{conv}", delete)
    r.add_get("/v1/conversations/{conv}/items", list_items)
    r.add_post("/v1/conversations/{conv}/items", create_items)
    r.add_get("/v1/conversations/{conv}/items/{item}", retrieve_item)
    r.add_delete("/v1/conversations/{conv}/items/{item}", delete_item)


def _state(request: web.Request) -> tuple[Engine, Session, ConversationBook, Normaliser]:
    engine = request.app[ENGINE]
    state = engine.session(session_of(request))
    return engine, state, state.conversations, functools.partial(engine.normalise_items, state=state)


def _json(body: Any) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def _body(request: web.Request) -> Any:
    return await read_json(request) if request.can_read_body else None


async def create(request: web.Request) -> web.StreamResponse:
    """``POST /v1/conversations``."""
    body = await _body(request)
    engine, state, book, normalise = _state(request)
    with engine.lock:
        return _json(book.create(body, ids=state.ids, now=state.clock.now(), normalise=normalise))


async def retrieve(request: web.Request) -> web.StreamResponse:
    """``GET /v1/conversations/{id}``."""
    engine, _, book, _ = _state(request)
    with engine.lock:
        return _json(book.get(request.match_info["conv"]).object())


async def update(request: web.Request) -> web.StreamResponse:
    """``POST /v1/conversations/{id}`` (metadata)."""
    body = await _body(request)
    engine, _, book, _ = _state(request)
    with engine.lock:
        return _json(book.update(request.match_info["conv"], body))


async def delete(request: web.Request) -> web.StreamResponse:
    """``DELETE /v1/conversations/{id}``."""
    engine, _, book, _ = _state(request)
    with engine.lock:
        return _json(book.delete(request.match_info["conv"]))


async def list_items(request: web.Request) -> web.StreamResponse:
    """``GET /v1/conversations/{id}/items`` with ``after``, ``limit``, ``order``."""
    query = request.query
    limit = _int_param(query.get("limit"), "limit", 20, low=1, high=100)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest(
            f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
            param="order",
            code="invalid_value",
        )
    engine, _, book, _ = _state(request)
    with engine.lock:
        return _json(
            book.list_items(request.match_info["conv"], after=query.get("after"), limit=limit, order=order)
        )


async def create_items(request: web.Request) -> web.StreamResponse:
    """``POST /v1/conversations/{id}/items``."""
    body = await _body(request)
    engine, _, book, normalise = _state(request)
    with engine.lock:
        return _json(book.add_items(request.match_info["conv"], body, normalise=normalise))


async def retrieve_item(request: web.Request) -> web.StreamResponse:
    """``GET /v1/conversations/{id}/items/{item_id}``."""
    engine, _, book, _ = _state(request)
    with engine.lock:
        return _json(book.item(request.match_info["conv"], request.match_info["item"]))


async def delete_item(request: web.Request) -> web.StreamResponse:
    """``DELETE /v1/conversations/{id}/items/{item_id}``: answers the conversation."""
    engine, _, book, _ = _state(request)
    with engine.lock:
        return _json(book.delete_item(request.match_info["conv"], request.match_info["item"]))
