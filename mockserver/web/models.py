"""``GET /v1/models`` and ``GET /v1/models/{model}`` (see :mod:`mockserver.model_objects`)."""

from __future__ import annotations

import orjson
from aiohttp import web

from ..model_objects import list_models, retrieve_model
from .keys import ENGINE

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    """Register the models endpoints (the SDK's ``client.models.list()`` / ``.retrieve()``)."""
    app.router.add_get("/v1/models", list_all)
    app.router.add_get("/v1/models/{model:.+}", retrieve_one)


async def list_all(request: web.Request) -> web.StreamResponse:
    """``GET /v1/models``: a ``SyncPage[Model]`` of the catalogue."""
    return _json(list_models(request.app[ENGINE].catalog))


async def retrieve_one(request: web.Request) -> web.StreamResponse:
    """``GET /v1/models/{model}``: one ``Model``, or 404 ``model_not_found``."""
    return _json(retrieve_model(request.app[ENGINE].catalog, request.match_info["model"]))


def _json(body: object) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")
