"""aiohttp adapters: HTTP/SSE handlers, the admin API and (later) WebSocket mode.

Each handler parses the request, calls the engine under its lock and encodes the result. The
engine and per-app helpers travel on the application through ``web.AppKey`` (no module globals).
"""

from __future__ import annotations

from .app import ENGINE, make_app

__all__ = ["ENGINE", "make_app"]
