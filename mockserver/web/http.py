"""HTTP and SSE handlers of the Responses API (SPEC §2, §4).

Each handler parses, calls the engine under its lock, and encodes: JSON for plain calls, one SSE
frame per event for ``stream=true``.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ..errors import InvalidRequest
from ..latency import Pacer
from ..sse import encode_events
from .background import follow, resume_stream
from .faults import answer, armed_fault, wait_done
from .keys import ENGINE, STREAMED
from .middleware import prepare_headers, read_json, remember_response, session_of

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    """Register the ``/v1/responses`` family."""
    app.router.add_post("/v1/responses", create_response)
    app.router.add_post("/v1/responses/input_tokens", count_input_tokens)
    app.router.add_post("/v1/responses/compact", compact_response)
    app.router.add_get("/v1/responses/{response_id}", retrieve_response)
    app.router.add_delete("/v1/responses/{response_id}", delete_response)
    app.router.add_get("/v1/responses/{response_id}/input_items", list_input_items)


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


async def create_response(request: web.Request) -> web.StreamResponse:
    """``POST /v1/responses``: the final ``Response`` as JSON, or its events as SSE."""
    body = await read_json(request)
    engine = request.app[ENGINE]
    with engine.lock:
        run = engine.create(body, session=session_of(request), headers=request.headers)
        stream = run.record.meta["stream"]
        payload = encode_events(run.events) if stream else orjson.dumps(run.response)
    remember_response(request, run.id)
    fault = armed_fault(request, engine)
    if fault is not None:  # a fault acting on the answer (mockserver.faults)
        return await answer(request, run, fault, stream)
    if not stream:
        if isinstance(run.job, Pacer):  # latency profile: answer once the run is done
            await wait_done(request, run)
        return web.Response(body=payload, content_type="application/json")
    if run.job is not None:  # background: events come out as its job releases them (SPEC §7)
        return await follow(request, run.job)
    request[STREAMED] = True
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
    response.headers["Cache-Control"] = "no-cache"
    prepare_headers(request, response)
    await response.prepare(request)
    await response.write(payload)
    await response.write_eof()
    return response


async def retrieve_response(request: web.Request) -> web.StreamResponse:
    """``GET /v1/responses/{id}``; ``stream=true`` only for background streams (DECISIONS 6)."""
    response_id = request.match_info["response_id"]
    if _flag(request.query.get("stream")):
        # Only background responses created with stream=true can be streamed again (400 otherwise).
        return await resume_stream(request)
    engine = request.app[ENGINE]
    remember_response(request, response_id)
    with engine.lock:
        return _json(engine.retrieve(response_id, session=session_of(request)))


async def delete_response(request: web.Request) -> web.StreamResponse:
    """``DELETE /v1/responses/{id}``."""
    engine = request.app[ENGINE]
    response_id = request.match_info["response_id"]
    remember_response(request, response_id)
    with engine.lock:
        return _json(engine.delete(response_id, session=session_of(request)))


async def list_input_items(request: web.Request) -> web.StreamResponse:
    """``GET /v1/responses/{id}/input_items`` with ``after``, ``before``, ``limit``, ``order``."""
    query = request.query
    limit = _int_param(query.get("limit"), "limit", 20, low=1, high=100)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest(
            f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
            param="order",
            code="invalid_value",
        )
    engine = request.app[ENGINE]
    response_id = request.match_info["response_id"]
    remember_response(request, response_id)
    with engine.lock:
        page = engine.input_items(
            response_id,
            session=session_of(request),
            after=query.get("after"),
            before=query.get("before"),
            limit=limit,
            order=order,
        )
    return _json(page)


async def count_input_tokens(request: web.Request) -> web.StreamResponse:
    """``POST /v1/responses/input_tokens``."""
    body = await read_json(request)
    engine = request.app[ENGINE]
    with engine.lock:
        return _json(engine.input_tokens(body, session=session_of(request)))


async def compact_response(request: web.Request) -> web.StreamResponse:
    """``POST /v1/responses/compact`` (SPEC §2.7): a ``response.compaction`` object, never stored."""
    body = await read_json(request)
    engine = request.app[ENGINE]
    with engine.lock:
        compacted = engine.compact(body, session=session_of(request))
    remember_response(request, compacted["id"])
    return _json(compacted)


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def _int_param(raw: str | None, name: str, default: int, *, low: int, high: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(
            f"Invalid type for '{name}': expected an integer, but got a string instead.",
            param=name,
            code="invalid_type",
        ) from None
    if not low <= value <= high:
        raise InvalidRequest(
            f"Invalid '{name}': integer {'below minimum' if value < low else 'above maximum'} value. "
            f"Expected a value {'>=' if value < low else '<='} {low if value < low else high}, "
            f"but got {value} instead.",
            param=name,
            code="integer_below_min_value" if value < low else "integer_above_max_value",
        )
    return value
