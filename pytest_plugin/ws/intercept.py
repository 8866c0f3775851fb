"""The in-process seam: while a cassette is in use, WebSocket clients connect through a local proxy.

The openai SDK opens its sockets with ``websockets.sync.client.connect`` (imported at call time) and,
async, with ``openai.lib._websocket._WebSocketConnect``, a *subclass* of
``websockets.asyncio.client.connect`` created at import time (STYLE §8.3). Replacing a module symbol
would miss the subclass (DECISIONS 21), so this module wraps the sync function and the base class's
``__init__``, which every subclass inherits. Either way the socket URL is rewritten to the proxy
(started on first use, in a thread of the test process) and the original origin travels in the
``x-resplay-upstream`` header; the proxy records or replays the connection in the cassette.

Hosts in the cassette's ``ignore_hosts`` (the ``resplay`` fixture's own server) connect directly.
Clients the patch cannot reach (other processes, other languages) use :func:`router_for`'s proxy through
``OPENAI_BASE_URL`` / ``websocket_base_url`` (the ``resplay_proxy`` fixture).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from unittest import mock
from urllib.parse import urlsplit

import websockets.asyncio.client as async_client
import websockets.sync.client as sync_client
from websockets.datastructures import Headers

from .store import WsCassette

if TYPE_CHECKING:
    from ..http import ResplayCassette
    from .proxy import ProxyServer

__all__ = ["UPSTREAM_HEADER", "Router", "UpstreamConnect", "default_upstream", "intercept", "router_for"]

UPSTREAM_HEADER = "x-resplay-upstream"
"""Carries the origin a rewritten connection was meant for (``wss://api.openai.com``)."""

_ACTIVE: dict[int, Router] = {}
"""id(cassette) -> its router, while the cassette is in use."""


class UpstreamConnect(async_client.connect):
    """``websockets``' connect for the proxy's own upstream leg (never routed back to a proxy)."""


def default_upstream() -> str:
    """Where the proxy sends HTTP it cannot attribute: ``RESPLAY_UPSTREAM_URL``, ``OPENAI_BASE_URL``
    or the real API."""
    return (
        os.environ.get("RESPLAY_UPSTREAM_URL")
        or os.environ.get("OPENAI_BASE_URL")
        or "https://api.openai.com/v1"
    )


class Router:
    """One cassette's proxy (started on first use) and the URL rewriting towards it.

    Args:
        cassette: The cassette in use.
    """

    def __init__(self, cassette: ResplayCassette) -> None:
        self.cassette = cassette
        self.store = WsCassette(cassette)
        self._proxy: ProxyServer | None = None
        self._lock = threading.Lock()

    @property
    def started(self) -> bool:
        """Whether the proxy is running."""
        return self._proxy is not None

    def proxy(self, upstream: str | None = None) -> ProxyServer:
        """The running proxy (started now if needed, forwarding unattributed HTTP to ``upstream``)."""
        with self._lock:
            if self._proxy is None:
                from .proxy import ProxyServer  # aiohttp is imported only when a proxy is needed

                proxy = ProxyServer(upstream=upstream or default_upstream(), store=self.store).start()
                # Clients pointed at the proxy must not be recorded as well: the proxy records.
                options = self.cassette.options
                self.cassette.options = dataclasses.replace(
                    options, ignore_hosts=(*options.ignore_hosts, f"127.0.0.1:{proxy.port}")
                )
                self._proxy = proxy
            return self._proxy

    def route(self, uri: str, headers: Any) -> tuple[str, Any]:
        """The URI and headers a client should connect with (unchanged for ignored hosts)."""
        parts = urlsplit(str(uri))
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "wss" else 80)
        ignored = self.cassette.options.ignore_hosts
        if host in ignored or f"{host}:{port}" in ignored or _is_proxy(host, port):
            return uri, headers
        proxy = self.proxy()
        routed = Headers(headers) if headers is not None else Headers()
        routed[UPSTREAM_HEADER] = f"{parts.scheme}://{parts.netloc}"
        query = f"?{parts.query}" if parts.query else ""
        target = f"ws://127.0.0.1:{proxy.port}{parts.path or '/'}{query}"
        return target, routed

    def close(self) -> None:
        """Stop the proxy (open connections are closed with 1001)."""
        with self._lock:
            proxy, self._proxy = self._proxy, None
        if proxy is not None:
            proxy.stop()


def _is_proxy(host: str, port: int) -> bool:
    return host == "127.0.0.1" and any(
        r._proxy is not None and r._proxy.port == port for r in list(_ACTIVE.values())
    )


def router_for(cassette: ResplayCassette) -> Router:
    """The router of a cassette in use.

    Raises:
        LookupError: the cassette is not in use.
    """
    return _ACTIVE[id(cassette)]


def _current() -> Router | None:
    return next(reversed(_ACTIVE.values()), None)


_SYNC_CONNECT = sync_client.connect
_ASYNC_INIT = async_client.connect.__init__


def _routed_sync_connect(uri: str, *args: Any, **kwargs: Any) -> Any:
    router = _current()
    if router is not None:
        uri, kwargs["additional_headers"] = router.route(uri, kwargs.get("additional_headers"))
    return _SYNC_CONNECT(uri, *args, **kwargs)


def _routed_async_init(self: async_client.connect, uri: str, *args: Any, **kwargs: Any) -> None:
    router = _current()
    if router is not None and not isinstance(self, UpstreamConnect):
        uri, kwargs["additional_headers"] = router.route(uri, kwargs.get("additional_headers"))
    _ASYNC_INIT(self, uri, *args, **kwargs)


@contextlib.contextmanager
def intercept(cassette: ResplayCassette) -> Iterator[Router]:
    """Route WebSocket connections made inside the block through ``cassette``'s proxy."""
    router = Router(cassette)
    cassette.verifiers.append(router.store.verify)
    _ACTIVE[id(cassette)] = router
    try:
        with (
            mock.patch.object(sync_client, "connect", _routed_sync_connect),
            mock.patch.object(async_client.connect, "__init__", _routed_async_init),
        ):
            yield router
    finally:
        _ACTIVE.pop(id(cassette), None)
        router.close()
