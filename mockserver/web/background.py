"""HTTP side of background mode (SPEC §7, §2.2, §2.4): cancel, and SSE that follows a running job.

A background stream cannot be written in one go: its :class:`~mockserver.background.Job` releases events
as the session clock moves (``advance`` or the real-clock ticker, in any thread). :func:`follow` writes
what exists, then waits for the job's listener, which only hops to this loop
(``loop.call_soon_threadsafe``). A client that goes away is noticed on the next write or within
:data:`PEER_CHECK` seconds, and its listener is removed; server shutdown wakes every follower.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from ..background import Job
from ..errors import InvalidRequest
from ..latency import Pacer
from ..sse import encode_events
from .keys import ENGINE, STREAMED
from .middleware import prepare_headers, remember_response, session_of

__all__ = ["PEER_CHECK", "add_routes", "cancel_response", "follow", "resume_stream"]

PEER_CHECK = 0.2
"""Seconds between checks that a waiting stream's client is still connected."""


@dataclass
class _Followers:
    """Streams waiting for events, woken all at once when the server shuts down."""

    wakes: set[asyncio.Event] = field(default_factory=set)
    closing: bool = False


_FOLLOWERS = web.AppKey("background_followers", _Followers)


def add_routes(app: web.Application) -> None:
    """Register ``POST /v1/responses/{id}/cancel`` and the shutdown hook of waiting streams."""
    app[_FOLLOWERS] = _Followers()
    app.router.add_post("/v1/responses/{response_id}/cancel", cancel_response)
    app.on_shutdown.append(_wake_followers)


async def _wake_followers(app: web.Application) -> None:
    followers = app[_FOLLOWERS]
    followers.closing = True
    for wake in list(followers.wakes):
        wake.set()


async def cancel_response(request: web.Request) -> web.StreamResponse:
    """``POST /v1/responses/{id}/cancel``: the cancelled (or already final) ``Response``."""
    engine = request.app[ENGINE]
    response_id = request.match_info["response_id"]
    remember_response(request, response_id)
    with engine.lock:
        body = orjson.dumps(engine.cancel(response_id, session=session_of(request)))
    return web.Response(body=body, content_type="application/json")


async def resume_stream(request: web.Request) -> web.StreamResponse:
    """``GET /v1/responses/{id}?stream=true[&starting_after=N][&include_obfuscation=B]`` (DECISIONS 6)."""
    response_id = request.match_info["response_id"]
    remember_response(request, response_id)
    starting_after = _starting_after(request.query.get("starting_after"))
    obfuscation = _bool(request.query.get("include_obfuscation"), "include_obfuscation")
    engine = request.app[ENGINE]
    with engine.lock:
        job = engine.follow(response_id, session=session_of(request))
    return await follow(request, job, cursor=starting_after + 1, obfuscation=obfuscation)


async def follow(
    request: web.Request, job: Job | Pacer, *, cursor: int = 0, obfuscation: bool | None = None
) -> web.StreamResponse:
    """Stream ``job``'s events from ``sequence_number == cursor`` to its terminal event, as they come.

    Args:
        request: The HTTP request to answer.
        job: The background job.
        cursor: First sequence number to send.
        obfuscation: Pad deltas (``None``: the job's default, set at create).
    """
    engine = request.app[ENGINE]
    followers = request.app[_FOLLOWERS]
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def listener() -> None:
        # Runs in whichever thread moves the clock, with the engine lock held: only hop to our loop.
        loop.call_soon_threadsafe(wake.set)

    request[STREAMED] = True
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
    response.headers["Cache-Control"] = "no-cache"
    prepare_headers(request, response)
    await response.prepare(request)
    with engine.lock:
        unsubscribe = job.subscribe(listener)
    followers.wakes.add(wake)
    try:
        while True:
            wake.clear()
            with engine.lock:
                batch = job.events_from(cursor, obfuscation)
                done = job.done
            if batch:
                cursor += len(batch)
                await response.write(encode_events(batch))
            if done:
                break
            if not await _wait(wake, request, followers):
                return response
    except ConnectionResetError:  # the client went away mid-write
        return response
    finally:
        followers.wakes.discard(wake)
        with engine.lock:
            unsubscribe()
    await response.write_eof()
    return response


async def _wait(wake: asyncio.Event, request: web.Request, followers: _Followers) -> bool:
    """Wait for the job's next release; ``False`` when the client left or the server is closing."""
    while not followers.closing:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(wake.wait(), PEER_CHECK)
            return not followers.closing
        transport = request.transport
        if transport is None or transport.is_closing():
            return False
    return False


def _starting_after(raw: str | None) -> int:
    if raw is None:
        return -1
    try:
        return max(int(raw), -1)
    except ValueError:
        raise InvalidRequest(
            "Invalid type for 'starting_after': expected an integer, but got a string instead.",
            param="starting_after",
            code="invalid_type",
        ) from None


def _bool(raw: str | None, name: str) -> bool | None:
    if raw is None:
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise InvalidRequest(
        f"Invalid type for '{name}': expected a boolean, but got a string instead.",
        param=name,
        code="invalid_type",
    )
