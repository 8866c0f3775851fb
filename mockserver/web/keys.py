"""Typed application keys (aiohttp ``web.AppKey``): state travels on the app, never in globals."""

from __future__ import annotations

from aiohttp import web

from ..engine import Engine
from ..ids import IdFactory

__all__ = [
    "BODY",
    "ENGINE",
    "RATE_HEADERS",
    "REQUEST_ID",
    "REQUEST_IDS",
    "RESPONSE_ID",
    "STREAMED",
    "WS_UPGRADED",
]

ENGINE = web.AppKey("engine", Engine)
"""The engine this application serves."""
REQUEST_IDS = web.AppKey("request_ids", IdFactory)
"""Source of ``x-request-id`` values."""

# Per-request storage (``web.RequestKey``): what the journal and header middleware read back.
BODY = web.RequestKey("body", object)
"""The parsed JSON body."""
RESPONSE_ID = web.RequestKey("response_id", str)
"""The response the request created or addressed."""
REQUEST_ID = web.RequestKey("request_id", str)
"""The ``x-request-id`` sent with the answer."""
STREAMED = web.RequestKey("streamed", bool)
"""The answer was an SSE stream."""
RATE_HEADERS = web.RequestKey("rate_headers", dict)
"""``x-ratelimit-*`` of this request's API key under rate-limit emulation (``web/faults.py``)."""
WS_UPGRADED = web.RequestKey("ws_upgraded", bool)
"""The request became a WebSocket-mode connection, which journals itself (``web/ws.py``)."""
