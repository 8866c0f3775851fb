"""Typed application keys (aiohttp ``web.AppKey``): state travels on the app, never in globals."""

from __future__ import annotations

from aiohttp import web

from ..engine import Engine
from ..ids import IdFactory

__all__ = ["ENGINE", "REQUEST_IDS"]

ENGINE = web.AppKey("engine", Engine)
"""The engine this application serves."""
REQUEST_IDS = web.AppKey("request_ids", IdFactory)
"""Source of ``x-request-id`` values."""
