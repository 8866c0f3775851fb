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

__version__ = "0.1.0"

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
