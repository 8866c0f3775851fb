"""Webhook delivery (``mockserver.webhooks``): POSTs signed ``response.*`` events, and ``/_resplay/webhook``.

The engine reports a background job's terminal transition through ``Engine.on_webhook`` (engine lock held,
on whichever thread moved the clock); :class:`Deliverer` hops to the serving loop and POSTs in a task of
its own, so no request waits for a webhook. A failed attempt (non-2xx, redirect, connection error or
:data:`ATTEMPT_TIMEOUT`) schedules the next one on the **session clock** at the time
``mockserver.webhooks.Delivery.record`` gives (under the virtual clock, ``advance`` releases it; when that
time has already passed the retry starts at once). At shutdown the tasks in flight are cancelled and
awaited, and timers left in the clock find the deliverer closed: nothing leaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from ..engine import Engine
from ..webhooks import USER_AGENT, Delivery, WebhookTarget, sign
from .crud import json_response
from .keys import ENGINE
from .middleware import read_json, session_of

__all__ = ["ATTEMPT_TIMEOUT", "Deliverer", "add_routes"]

ATTEMPT_TIMEOUT = 10.0
"""Wall-clock seconds an endpoint has to answer one attempt (chosen; the real API asks for a quick 2xx)."""


class Deliverer:
    """Sends the deliveries of one app; owns its client session and its tasks."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        self._closed = False

    def submit(self, delivery: Delivery) -> None:
        """Start an attempt; callable from any thread (it only hops to the serving loop)."""
        if self._closed:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            self._loop.call_soon_threadsafe(self._start, delivery)

    def _start(self, delivery: Delivery) -> None:
        if self._closed or delivery.state != "pending":
            return
        task = self._loop.create_task(self._attempt(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attempt(self, delivery: Delivery) -> None:
        status: int | None = None
        error: str | None = None
        timestamp = int(time.time())  # wall time: receivers check it against theirs (5-minute window)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **sign(delivery.target.secret, delivery.webhook_id, timestamp, delivery.body),
        }
        try:
            if self._http is None:
                self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT))
            async with self._http.post(
                delivery.target.url, data=delivery.body, headers=headers, allow_redirects=False
            ) as answer:
                status = answer.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        with self._engine.lock:
            due = delivery.record(status, error, float(timestamp))
            if due is None or self._closed:
                return
            state = next((s for s in self._engine.sessions() if s.name == delivery.session), None)
            if state is None or not any(d is delivery for d in state.webhooks.deliveries):
                return  # the session was reset: its deliveries went with it
            clock = state.clock
            if due > clock.now():
                clock.call_at(due, lambda: self.submit(delivery))
                return
        self._start(delivery)

    async def close(self) -> None:
        """Cancel the attempts in flight and close the client session."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()


_DELIVERER = web.AppKey("webhook_deliverer", Deliverer)


def add_routes(app: web.Application) -> None:
    """The deliverer's lifetime and, with the admin API, ``/_resplay/webhook``."""
    app.cleanup_ctx.append(_lifetime)
    if app[ENGINE].config.admin:
        app.router.add_get("/_resplay/webhook", status)
        app.router.add_post("/_resplay/webhook", configure)
        app.router.add_delete("/_resplay/webhook", clear)


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    engine = app[ENGINE]
    deliverer = app[_DELIVERER] = Deliverer(engine)
    with engine.lock:
        engine.on_webhook = deliverer.submit
        # Deliveries the engine queued before the app served (jobs a store failed at open: a SQLite restart).
        for session in engine.sessions():
            for delivery in session.webhooks.deliveries:
                if delivery.state == "pending" and not delivery.attempts:
                    deliverer.submit(delivery)
    yield
    with engine.lock:
        if engine.on_webhook == deliverer.submit:
            engine.on_webhook = None
    await deliverer.close()


def _describe(target: WebhookTarget | None) -> dict[str, Any] | None:
    return None if target is None else {"url": target.url}  # the secret is never shown


async def status(request: web.Request) -> web.StreamResponse:
    """``GET /_resplay/webhook``: the endpoint in force for the session and its deliveries.

    Schema: ``{"endpoint": {"url"} | null, "deliveries": [{"webhook_id", "url", "event", "state",
    "attempts": [{"time", "status", "error"}]}]}``; ``state`` is ``pending``, ``delivered`` or ``failed``.
    """
    engine = request.app[ENGINE]
    with engine.lock:
        book = engine.session(session_of(request)).webhooks
        return json_response(
            {
                "endpoint": _describe(book.target(engine.webhook_target)),
                "deliveries": [d.to_json() for d in book.deliveries],
            }
        )


async def configure(request: web.Request) -> web.StreamResponse:
    """``POST /_resplay/webhook`` ``{"url", "secret"}``: the session's own endpoint (``{"url": null}``:
    none for this session)."""
    target = WebhookTarget.from_json(await read_json(request))
    engine = request.app[ENGINE]
    with engine.lock:
        engine.session(session_of(request)).webhooks.configure(target)
    return json_response({"endpoint": _describe(target)})


async def clear(request: web.Request) -> web.StreamResponse:
    """``DELETE /_resplay/webhook``: back to the server's ``--webhook-url`` (or none)."""
    engine = request.app[ENGINE]
    with engine.lock:
        book = engine.session(session_of(request)).webhooks
        book.clear()
        return json_response({"endpoint": _describe(book.target(engine.webhook_target))})
