"""Azure OpenAI paths (issue 14): the same API under the URL layouts Azure clients use.

The openai SDK's ``AzureOpenAI`` sends Responses calls to ``{endpoint}/openai/responses?api-version=…``
(also when built with ``azure_deployment``: ``/responses`` is not a deployment endpoint in the SDK), the
Azure "v1" API is ``{endpoint}/openai/v1/responses`` (plain ``OpenAI(base_url=…/openai/v1/)``), and older
deployment-style code calls ``{endpoint}/openai/deployments/{deployment}/…``. Every ``/v1/…`` route is
mirrored under those three prefixes with the same handler, so state, sessions and errors are shared. The
``api-key`` header is accepted by :func:`.middleware.authenticate`; ``api-version`` is accepted with any
value and not required (chosen: resplay emulates the OpenAI API, not Azure's versioning).
"""

from __future__ import annotations

from aiohttp import web

__all__ = ["PREFIXES", "add_routes", "api_path"]

PREFIXES = ("/openai/v1", "/openai", "/openai/deployments/{deployment}")
"""Where each ``/v1`` path is mirrored (``/v1/responses`` → ``/openai/responses`` …)."""


def api_path(path: str) -> str | None:
    """The ``/v1`` path a request path stands for (``/openai/deployments/d/responses`` → ``/v1/responses``),
    or ``None`` outside the API. Middlewares that act on API calls (faults, rate limits) use it, so the Azure
    aliases get the same treatment as ``/v1``."""
    if path == "/v1" or path.startswith("/v1/"):
        return path
    if path.startswith("/openai/deployments/"):
        _, _, rest = path[len("/openai/deployments/") :].partition("/")
        return "/v1/" + rest
    for prefix in ("/openai/v1", "/openai"):
        if path == prefix or path.startswith(prefix + "/"):
            return "/v1" + path[len(prefix) :]
    return None


def add_routes(app: web.Application) -> None:
    """Mirror the ``/v1`` routes registered so far (call it after them, before the catch-all)."""
    mirrored: list[tuple[str, str, web.AbstractRoute]] = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if not isinstance(path, str) or not path.startswith("/v1/"):
            continue
        for prefix in PREFIXES:
            mirrored.append((route.method, prefix + path[len("/v1") :], route))
    for method, path, route in mirrored:
        app.router.add_route(method, path, route.handler)
