"""``Model`` objects of ``GET /v1/models`` and ``GET /v1/models/{id}`` built from the catalogue.

Apps use these endpoints as health checks and to discover names; the answers come from the same
catalogue that accepts or rejects ``model`` on create (DECISIONS 8), so a listed name is always usable.
"""

from __future__ import annotations

import calendar
import re
from typing import Any

from .catalog import Catalog
from .errors import NotFound

__all__ = [
    "DEFAULT_CREATED",
    "OWNED_BY",
    "list_models",
    "model_not_found_404",
    "model_object",
    "retrieve_model",
]

DEFAULT_CREATED = 1_735_689_600
"""``created`` of a model whose name carries no date (2025-01-01T00:00:00Z, chosen: stable across runs)."""
OWNED_BY = "system"
"""``owned_by`` of every catalogue model (the value the real API gives OpenAI's own models)."""

_DATE = re.compile(r"-(\d{4})-(\d{2})-(\d{2})$")


def model_object(name: str) -> dict[str, Any]:
    """The SDK ``Model`` object for a known ``name``.

    ``created`` is the snapshot date for dated names (``gpt-4o-2024-08-06``), else :data:`DEFAULT_CREATED`.
    """
    return {"id": name, "object": "model", "created": _created(name), "owned_by": OWNED_BY}


def list_models(catalog: Catalog) -> dict[str, Any]:
    """The ``SyncPage[Model]`` body of ``GET /v1/models``: every explicitly known name, sorted."""
    return {"object": "list", "data": [model_object(name) for name in catalog.names()]}


def retrieve_model(catalog: Catalog, name: str) -> dict[str, Any]:
    """``GET /v1/models/{name}``: the model, also for dated snapshots the catalogue resolves.

    Raises:
        NotFound: 404 ``model_not_found`` for a name the catalogue does not know.
    """
    if catalog.lookup(name) is None:
        raise model_not_found_404(name)
    return model_object(name)


def model_not_found_404(name: str) -> NotFound:
    """404 for ``GET /v1/models/{name}``; wording *chosen* after the real answer (docs/errors.md)::

    {"message": "The model 'gpt-foo' does not exist", "type": "invalid_request_error",
     "param": "model", "code": "model_not_found"}
    """
    return NotFound(
        f"The model '{name}' does not exist",
        type="invalid_request_error",
        param="model",
        code="model_not_found",
    )


def _created(name: str) -> int:
    m = _DATE.search(name)
    if m is None:
        return DEFAULT_CREATED
    year, month, day = (int(g) for g in m.groups())
    try:
        return calendar.timegm((year, month, day, 0, 0, 0, 0, 0, 0))
    except (ValueError, OverflowError):  # pragma: no cover - the catalogue validates dates
        return DEFAULT_CREATED
