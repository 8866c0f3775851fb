"""resplay's mock server: an offline, faithful emulator of the OpenAI Responses API.

Core and adapters::

    HTTP JSON / SSE / WebSocket          mockserver.web  (aiohttp: parse, call, encode)
                 |
    mockserver.engine.Engine             pure, synchronous, deterministic state machine
      validation · catalog · tokens · generator · script · events · store · clock · ids
                 |
    mockserver.server.MockServer         in-process lifecycle (thread or current loop)
    mockserver.cli                       `resplay serve`

The core never imports aiohttp or asyncio; clock and ids are injected, so the same requests and
seed give byte-identical output.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .background import BackgroundTiming
    from .config import ServerConfig
    from .engine import Engine
    from .errors import APIError
    from .script import ErrorReply, FunctionCall, FunctionCallsReply, TextReply
    from .server import MockServer

__all__ = [
    "APIError",
    "BackgroundTiming",
    "Engine",
    "ErrorReply",
    "FunctionCall",
    "FunctionCallsReply",
    "MockServer",
    "ServerConfig",
    "TextReply",
    "__version__",
]

# The names are imported on first use (PEP 562): ``import mockserver.sse`` (the pytest plugin's
# cassette reader) then costs the SSE module, not the whole server with aiohttp and the engine.
_WHERE = {
    "APIError": "errors",
    "BackgroundTiming": "background",
    "Engine": "engine",
    "ErrorReply": "script",
    "FunctionCall": "script",
    "FunctionCallsReply": "script",
    "MockServer": "server",
    "ServerConfig": "config",
    "TextReply": "script",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'mockserver' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
