"""resplay's pytest plugin: a resplay server per test, and record/replay of OpenAI HTTP and SSE traffic.

::

    plugin.py       pytest11 entry point: --record-mode, the resplay marker, the fixtures
    fixtures.py     Resplay: one test's session on the shared MockServer (scripting, journal, check)
    http.py         ResplayCassette (vcrpy's Cassette, resplay's rules), CassetteOptions, use_cassette
    stubs.py        streaming httpx2 / httpx interceptors (SSE reaches the client while recording)
    # pure
    cassette.py     the file format (format_version 1): readable bodies, YAML reader and writer
    bodies.py       gzip/br decoding, JSON layouts, SSE as a list of events (exact re-encoding)
    matchers.py     method, path, query, semantic JSON body; ids bound symbolically
    redaction.py    secret headers, secret environment values, sk-... keys
    migrations.py   convert_0_1 (any vcrpy cassette) ...
    serializers.py  persister.py  importer.py  errors.py  hooks.py
    ws/             WebSocket sessions in the same cassette; the local recording proxy (``resplay serve
                    --record/--replay``) for any client; strict per-lane replay

Names are imported lazily so that loading the plugin stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cassette import FORMAT_VERSION
    from .errors import (
        CassetteFormatError,
        CassetteMismatch,
        ResplayCheckError,
        ResplayError,
        UnusedInteractions,
    )
    from .fixtures import Resplay
    from .http import RECORD_MODES, CassetteOptions, ResplayCassette, use_cassette
    from .importer import import_cassette

__all__ = [
    "FORMAT_VERSION",
    "RECORD_MODES",
    "CassetteFormatError",
    "CassetteMismatch",
    "CassetteOptions",
    "Resplay",
    "ResplayCassette",
    "ResplayCheckError",
    "ResplayError",
    "UnusedInteractions",
    "import_cassette",
    "use_cassette",
]

_WHERE = {
    "FORMAT_VERSION": "cassette",
    "RECORD_MODES": "http",
    "CassetteOptions": "http",
    "ResplayCassette": "http",
    "use_cassette": "http",
    "Resplay": "fixtures",
    "import_cassette": "importer",
    "CassetteFormatError": "errors",
    "CassetteMismatch": "errors",
    "ResplayCheckError": "errors",
    "ResplayError": "errors",
    "UnusedInteractions": "errors",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_plugin' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
