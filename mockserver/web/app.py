"""Application factory: routes, middlewares and the real-clock ticker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from ..engine import Engine
from ..ids import IdFactory
from ..store import StoreUnavailable
from . import (
    admin,
    azure,
    background,
    containers,
    conversations,
    faults,
    files,
    http,
    middleware,
    models,
    vector_stores,
    webhooks,
    ws,
)
from .keys import ENGINE, REQUEST_IDS

__all__ = ["ENGINE", "REQUEST_IDS", "make_app"]

_TICKER = web.AppKey("ticker", asyncio.Task[None])
_SWEEPER = web.AppKey("sweeper", asyncio.Task[None])


def make_app(engine: Engine) -> web.Application:
    """Build the aiohttp application that serves ``engine``.

    Args:
        engine: The engine to serve; its config decides the admin API, body limit and api key.
    """
    config = engine.config
    app = web.Application(
        client_max_size=config.max_body_bytes,
        middlewares=[middleware.envelope_errors, middleware.authenticate, faults.inject],
    )
    app[ENGINE] = engine
    app[REQUEST_IDS] = IdFactory(config.seed, "x-request-id")
    http.add_routes(app)
    ws.add_routes(app)  # WebSocket mode: the upgrade of GET /v1/responses (SPEC §6)
    background.add_routes(app)
    faults.add_routes(app)  # rate limits, chaos pool, /_resplay/faults
    models.add_routes(app)  # GET /v1/models[/{id}] from the catalogue
    conversations.add_routes(app)  # /v1/conversations (SPEC §2.8)
    files.add_routes(app)  # /v1/files, per session (issue 14)
    vector_stores.add_routes(app)  # /v1/vector_stores[/{id}/files], per session
    containers.add_routes(app)  # /v1/containers[/{id}/files], per session
    webhooks.add_routes(app)  # background responses' response.* webhooks, /_resplay/webhook
    if config.admin:
        admin.add_routes(app)
    azure.add_routes(app)  # the same API under /openai/v1, /openai and /openai/deployments/{d}
    app.router.add_route("*", "/{tail:.*}", middleware.invalid_url)
    app.cleanup_ctx.append(_ticker)
    app.cleanup_ctx.append(_sweeper)
    return app


logger = logging.getLogger("resplay")


async def _ticker(app: web.Application) -> AsyncIterator[None]:
    """Fire the engine's timers when their deadlines pass (real clock; virtual clocks never pass them)."""
    engine = app[ENGINE]
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()

    def scheduled(_: float) -> None:
        loop.call_soon_threadsafe(wake.set)

    engine.on_clock_schedule = scheduled
    for session in engine.sessions():
        session.clock.on_schedule = scheduled

    async def run() -> None:
        while True:
            with engine.lock:
                try:
                    engine.fire_due()
                except Exception:
                    # A failing timer (a bug, or a store outage inside a job step) must not stop the
                    # ticker: every later background job, latency pace and webhook retry would stall.
                    # The failed timer was taken off the heap before it ran, so the rest go on.
                    logger.exception("resplay: a timer callback failed; the other timers keep running")
                delay = engine.next_deadline()
            wake.clear()
            timeout = None if delay is None else max(delay, 0.0)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)

    app[_TICKER] = asyncio.create_task(run())
    yield
    app[_TICKER].cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await app[_TICKER]


async def _sweeper(app: web.Application) -> AsyncIterator[None]:
    """Let a shared store end the jobs of processes that are gone (``Store.sweep``), every ``sweep_every`` s.

    A liveness check on the wall clock, like the Redis lease it reads: it runs under a virtual clock too.
    """
    engine = app[ENGINE]
    every = engine.store.sweep_every
    if every is None:
        yield
        return

    async def run() -> None:
        while True:
            await asyncio.sleep(every)
            with engine.lock:
                try:
                    engine.store.sweep()
                except StoreUnavailable as exc:  # an outage: one line a round, the next round tries again
                    logger.warning("resplay: could not sweep the store for lost jobs: %s", exc.message)
                except Exception:
                    # A bug must not end the sweeping either.
                    logger.exception("resplay: sweeping the store for lost jobs failed; retrying later")

    app[_SWEEPER] = asyncio.create_task(run())
    yield
    app[_SWEEPER].cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await app[_SWEEPER]
