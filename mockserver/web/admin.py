"""The admin API under ``/_resplay`` (reset, clock, journal, health, queued replies).

Every admin call takes the same ``x-resplay-session`` header as the API (DECISIONS 2).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from .. import __version__
from ..checklist import audit, report
from ..errors import InvalidRequest
from ..generator import GENERATOR_VERSION
from ..scenario import load_scenario as parse_scenario
from ..script import reply_from_json
from .keys import ENGINE
from .middleware import read_json, session_of

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    """Register ``/_resplay/*``."""
    app.router.add_get("/_resplay/health", health)
    app.router.add_post("/_resplay/reset", reset)
    app.router.add_post("/_resplay/clock/advance", advance)
    app.router.add_get("/_resplay/clock", clock)
    app.router.add_get("/_resplay/requests", requests)
    app.router.add_get("/_resplay/checklist", checklist)
    app.router.add_post("/_resplay/replies", queue_replies)
    app.router.add_post("/_resplay/scenario", load_scenario)
    app.router.add_get("/_resplay/scenario", scenario_status)


def _json(body: Any) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def health(request: web.Request) -> web.StreamResponse:
    """``GET /_resplay/health``: liveness, resplay's version and the default model's generator version."""
    return _json({"status": "ok", "version": __version__, "generator_version": GENERATOR_VERSION})


async def reset(request: web.Request) -> web.StreamResponse:
    """``POST /_resplay/reset``: forget the session's state (``?all=true``: every session)."""
    engine = request.app[ENGINE]
    everything = request.query.get("all", "").lower() in ("1", "true")
    with engine.lock:
        engine.reset(None if everything else (session_of(request) or "default"))
    return _json({"reset": True})


async def advance(request: web.Request) -> web.StreamResponse:
    """``POST /_resplay/clock/advance`` with ``{"seconds": N}``: move the session clock, fire timers."""
    body = await read_json(request)
    seconds = body.get("seconds") if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise InvalidRequest("'seconds' must be a non-negative number.", param="seconds")
    engine = request.app[ENGINE]
    with engine.lock:
        fired = engine.advance(float(seconds), session_of(request))
        now = engine.session(session_of(request)).clock.now()
    return _json({"now": now, "fired": fired})


async def clock(request: web.Request) -> web.StreamResponse:
    """``GET /_resplay/clock``: the session clock's time."""
    engine = request.app[ENGINE]
    with engine.lock:
        return _json({"now": engine.session(session_of(request)).clock.now()})


async def requests(request: web.Request) -> web.StreamResponse:
    """``GET /_resplay/requests``: the session's request journal, credentials redacted.

    Schema (fixed): ``{"object": "list", "data": [{"time", "method", "path", "query", "transport",
    "status", "headers", "body", "response_id", "error"}]}``.
    """
    engine = request.app[ENGINE]
    with engine.lock:
        data = list(engine.session(session_of(request)).journal)
    return _json({"object": "list", "data": data})


async def checklist(request: web.Request) -> web.StreamResponse:
    """``GET /_resplay/checklist``: the session's journal audited against the deployment checklist.

    Schema: ``{"object": "resplay.checklist", "missed": N, "ok": N, "findings": [{"id", "item",
    "checklist_item", "status", "impact", "summary", "evidence", "evidence_count"}]}`` (issue 13).
    """
    engine = request.app[ENGINE]
    with engine.lock:
        data = list(engine.session(session_of(request)).journal)
    return _json(report(audit(data)))


async def queue_replies(request: web.Request) -> web.StreamResponse:
    """``POST /_resplay/replies``: queue replies (one object or a list) for the session's next creates."""
    body = await read_json(request)
    replies = [reply_from_json(r) for r in (body if isinstance(body, list) else [body])]
    engine = request.app[ENGINE]
    with engine.lock:
        for reply in replies:
            engine.queue_reply(reply, session_of(request))
        queued = len(engine.session(session_of(request)).replies)
    return _json({"queued": queued})


async def load_scenario(request: web.Request) -> web.StreamResponse:
    """``POST /_resplay/scenario``: replace the session's rules with a scenario (YAML or JSON body).

    Answers ``{"rules": N, "strict": bool}``; a bad file is a 400 whose message names the line.
    """
    text = await request.text()
    scenario = parse_scenario(text)
    engine = request.app[ENGINE]
    with engine.lock:
        engine.session(session_of(request)).rules.replace(scenario.rules, strict=scenario.strict)
    return _json({"rules": len(scenario.rules), "strict": scenario.strict})


async def scenario_status(request: web.Request) -> web.StreamResponse:
    """``GET /_resplay/scenario``: the session's rules (name, uses left) and strict-mode misses."""
    engine = request.app[ENGINE]
    with engine.lock:
        book = engine.session(session_of(request)).rules
        rules = [{"name": r.describe(), "used": r.used, "times": r.times, "live": r.live} for r in book.rules]
        return _json({"strict": book.strict, "rules": rules, "unmatched": list(book.unmatched)})
