"""Streaming interceptors for httpx2 (the openai SDK's transport) and httpx, in vcrpy's style.

vcrpy 9.4 ships httpx2 stubs, but they read the whole response before the client sees a byte, so a
recorded SSE stream would reach the test only after it ended. These stubs tee the stream instead:
each chunk goes to the client as it arrives and into the cassette when the stream is closed. Replay
and fail-closed behave as vcrpy's (the cassette decides; a mismatch raises at once).

The patched methods are the transports' ``handle_request`` / ``handle_async_request``, captured here
at import time the way ``vcr.patch`` captures them, so nested cassettes never wrap a wrapper.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Callable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any
from unittest import mock

from vcr.request import Request as VcrRequest

if TYPE_CHECKING:
    from .http import ResplayCassette

__all__ = ["patchers"]

_ORIGINALS: dict[str, tuple[ModuleType, Any, Any]] = {}
for _name in ("httpx2", "httpx"):
    try:
        _module = importlib.import_module(_name)
    except ImportError:  # pragma: no cover - depends on what is installed
        continue
    _ORIGINALS[_name] = (
        _module,
        _module.HTTPTransport.handle_request,
        _module.AsyncHTTPTransport.handle_async_request,
    )

Finish = Callable[[bytes], None]


def _response_dict(response: Any, content: bytes) -> dict[str, Any]:
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.multi_items():
        headers.setdefault(name, []).append(value)
    return {
        "status": {"code": response.status_code, "message": response.reason_phrase},
        "headers": headers,
        "body": {"string": content},
    }


def _replayed(httpx: ModuleType, recorded: dict[str, Any]) -> Any:
    status = recorded["status"]
    message = status.get("message")
    return httpx.Response(
        status["code"],
        headers=[(name, value) for name, values in recorded["headers"].items() for value in values],
        stream=httpx.ByteStream(recorded["body"]["string"] or b""),
        extensions={"reason_phrase": message.encode("ascii", "replace")} if message else None,
    )


def _tee_classes(httpx: ModuleType) -> tuple[type, type]:
    class TeeStream(httpx.SyncByteStream):  # type: ignore[misc,name-defined]
        """Passes chunks through as they arrive; hands the whole body to ``finish`` once."""

        def __init__(self, stream: Any, finish: Finish) -> None:
            self._stream = stream
            self._finish: Finish | None = finish
            self._chunks: list[bytes] = []

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self._stream:
                self._chunks.append(chunk)
                yield chunk
            self._done()

        def close(self) -> None:
            try:
                self._stream.close()
            finally:
                self._done()

        def _done(self) -> None:
            if self._finish is not None:
                finish, self._finish = self._finish, None
                finish(b"".join(self._chunks))

    class AsyncTeeStream(httpx.AsyncByteStream):  # type: ignore[misc,name-defined]
        """Async twin of ``TeeStream``."""

        def __init__(self, stream: Any, finish: Finish) -> None:
            self._stream = stream
            self._finish: Finish | None = finish
            self._chunks: list[bytes] = []

        async def __aiter__(self) -> AsyncIterator[bytes]:
            async for chunk in self._stream:
                self._chunks.append(chunk)
                yield chunk
            self._done()

        async def aclose(self) -> None:
            try:
                await self._stream.aclose()
            finally:
                self._done()

        def _done(self) -> None:
            if self._finish is not None:
                finish, self._finish = self._finish, None
                finish(b"".join(self._chunks))

    return TeeStream, AsyncTeeStream


def _recorder(cassette: ResplayCassette, vcr_request: VcrRequest, response: Any) -> Finish:
    def finish(content: bytes) -> None:
        cassette.append(vcr_request, _response_dict(response, content))

    return finish


class _PumpProtocol:
    """Stands in for the connection behind the tee's ``StreamReader`` (the pump feeds it; readers wait).

    ``connected`` must be true, or aiohttp refuses to wait for data that has not arrived yet.
    """

    _reading_paused = False
    connected = True

    def pause_reading(self) -> None:
        """Nothing to pause: the pump reads the real connection at its own pace."""

    def resume_reading(self, resume_parser: bool = True) -> None:
        """See :meth:`pause_reading`."""


async def _aiohttp_record_response(cassette: ResplayCassette, vcr_request: VcrRequest, response: Any) -> None:
    """Streaming replacement of vcrpy's aiohttp ``record_response`` (which reads the whole body first).

    A pump copies the network stream into a fresh ``StreamReader`` that the client reads as chunks
    arrive, and records the body at the end. aiohttp has already undone ``content-encoding``, so the
    recorded headers drop it.
    """
    import asyncio

    from aiohttp import streams
    from vcr.stubs.aiohttp_stubs import _serialize_headers

    original = response.content
    loop = asyncio.get_running_loop()
    tee = streams.StreamReader(_PumpProtocol(), 2**22, loop=loop)  # type: ignore[arg-type]
    response.content = tee
    headers = {
        k: v for k, v in _serialize_headers(response.headers).items() if k.lower() != "content-encoding"
    }

    async def pump() -> None:
        chunks: list[bytes] = []
        try:
            async for chunk in original.iter_any():
                chunks.append(chunk)
                tee.feed_data(chunk)
        except Exception as exc:  # the connection broke or the client closed early: keep what came
            tee.set_exception(exc)
        finally:
            tee.feed_eof()
            body = b"".join(chunks)
            status = {"code": response.status, "message": response.reason}
            cassette.append(vcr_request, {"status": status, "headers": headers, "body": {"string": body}})

    task = loop.create_task(pump())
    cassette.pumps.add(task)
    task.add_done_callback(cassette.pumps.discard)


def patchers(cassette: ResplayCassette) -> Iterator[contextlib.AbstractContextManager[Any]]:
    """``mock.patch`` objects routing httpx2 / httpx transports through ``cassette``, and streaming
    recording for vcrpy's aiohttp interceptor."""
    try:
        import vcr.stubs.aiohttp_stubs as aiohttp_stubs
    except ImportError:  # pragma: no cover - aiohttp is a dependency of resplay
        pass
    else:
        yield mock.patch.object(aiohttp_stubs, "record_response", _aiohttp_record_response)
    for httpx, handle, handle_async in _ORIGINALS.values():
        tee, async_tee = _tee_classes(httpx)

        def handle_request(
            self: Any, request: Any, *, _httpx: ModuleType = httpx, _orig: Any = handle, _tee: type = tee
        ) -> Any:
            body = b"".join(request.stream)
            request.stream = _httpx.ByteStream(body)
            vcr_request = VcrRequest(request.method, str(request.url), body, dict(request.headers))
            recorded = cassette.lookup(vcr_request)
            if recorded is not None:
                return _replayed(_httpx, recorded)
            response = _orig(self, request)
            if cassette.records(vcr_request):
                response.stream = _tee(response.stream, _recorder(cassette, vcr_request, response))
            return response

        async def handle_async_request(
            self: Any,
            request: Any,
            *,
            _httpx: ModuleType = httpx,
            _orig: Any = handle_async,
            _tee: type = async_tee,
        ) -> Any:
            body = b"".join([part async for part in request.stream])
            request.stream = _httpx.ByteStream(body)
            vcr_request = VcrRequest(request.method, str(request.url), body, dict(request.headers))
            recorded = cassette.lookup(vcr_request)
            if recorded is not None:
                return _replayed(_httpx, recorded)
            response = await _orig(self, request)
            if cassette.records(vcr_request):
                response.stream = _tee(response.stream, _recorder(cassette, vcr_request, response))
            return response

        yield mock.patch.object(httpx.HTTPTransport, "handle_request", handle_request)
        yield mock.patch.object(httpx.AsyncHTTPTransport, "handle_async_request", handle_async_request)
