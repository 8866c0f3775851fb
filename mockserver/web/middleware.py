"""Cross-cutting HTTP behaviour: error envelopes, authentication, API headers and the journal."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from ..errors import APIError, AuthenticationFailed, InvalidRequest, NotFound, PayloadTooLarge, ServerFault
from .keys import BODY, ENGINE, RATE_HEADERS, REQUEST_ID, REQUEST_IDS, RESPONSE_ID, STREAMED, WS_UPGRADED

__all__ = [
    "ADMIN_KEY_HEADER",
    "SESSION_HEADER",
    "authenticate",
    "envelope_errors",
    "error_response",
    "header_text",
    "invalid_url",
    "journal_headers",
    "prepare_headers",
    "read_json",
    "remember_response",
    "session_of",
]

SESSION_HEADER = "x-resplay-session"
ADMIN_KEY_HEADER = "x-resplay-admin-key"
logger = logging.getLogger("resplay")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# The real API's wording for a body that is not JSON.
_NOT_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
    "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "
    "If you have trouble figuring out how to fix this, please contact us through our help center at "
    "help.openai.com.)"
)
# SPEC §1.4, observed verbatim.
_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using "
    "Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if "
    "you're accessing the API from your browser and are prompted for a username and password. You can "
    "obtain an API key from https://platform.openai.com/account/api-keys."
)

# Chosen wording (docs/errors.md): the admin API is resplay's own, so there is no observed body to copy.
_BAD_ADMIN_KEY = (
    "Missing or incorrect admin key: send the key given to --admin-key in the x-resplay-admin-key header."
)

_REDACTED_HEADERS = frozenset(
    {"authorization", "api-key", "cookie", "openai-organization", "openai-project", ADMIN_KEY_HEADER}
)


def session_of(request: web.Request) -> str | None:
    """The session named by ``x-resplay-session`` (DECISIONS 2), or ``None`` for the default."""
    name = request.headers.get(SESSION_HEADER)
    return header_text(name) if name else None


def header_text(value: str) -> str:
    """A header value as encodable text.

    aiohttp keeps non-UTF-8 header bytes as lone surrogates, which neither ``str.encode`` nor orjson accept
    (a fuzzed ``x-resplay-session`` crashed the session's id seeding, issue 12): those bytes are read as
    latin-1 instead, so the value stays a stable, distinct name.
    """
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("latin-1")
    return value


async def read_json(request: web.Request) -> Any:
    """Parse the JSON body (kept for the journal); non-JSON and oversized bodies become API errors."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise _too_large(request) from exc
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(_NOT_JSON) from exc
    request[BODY] = body
    return body


def _too_large(request: web.Request) -> PayloadTooLarge:
    # Chosen wording (docs/errors.md): the real API's limit and message are not documented.
    limit = request.app[ENGINE].config.max_body_bytes
    return PayloadTooLarge(f"Request body too large: the maximum is {limit} bytes.", code="request_too_large")


def remember_response(request: web.Request, response_id: str) -> None:
    """Tag the journal entry of ``request`` with the response it created or read."""
    request[RESPONSE_ID] = response_id


def error_response(error: APIError) -> web.Response:
    """The HTTP answer for an :class:`APIError`: OpenAI's envelope with the real status."""
    return web.Response(
        body=orjson.dumps(error.envelope()),
        status=error.status,
        content_type="application/json",
        headers=error.headers,
    )


@web.middleware
async def envelope_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into OpenAI's envelope; add the API's headers; journal ``/v1`` calls."""
    started = time.perf_counter()
    error: APIError | None = None
    try:
        response = await handler(request)
    except APIError as exc:
        error = exc
    except web.HTTPRequestEntityTooLarge:
        error = _too_large(request)
    except web.HTTPException as exc:
        error = APIError(exc.reason or "Error", status=exc.status)
    except ConnectionError:
        # The client went away while its answer was being written (a stream it stopped reading): not a bug
        # of ours, and nobody is left to answer. Journal what was sent (streams start with 200) and let
        # aiohttp drop the connection quietly, as it does for premature disconnects.
        if request.path.startswith(("/v1", "/openai")) and not request.get(WS_UPGRADED):
            _journal(request, 200, None)
        raise
    except Exception:
        # A bug of ours: answer like the real API's 500 and keep serving (never a bare 500 page).
        logger.exception("resplay: unhandled error on %s %s", request.method, request.path)
        error = ServerFault("The server had an error while processing your request. Sorry about that!")
    if error is not None:
        response = error_response(error)
    if not response.prepared:
        _api_headers(request, response, started)
    api_call = request.path.startswith("/v1") or request.path.startswith("/openai")
    if api_call and not request.get(WS_UPGRADED):  # a WebSocket connection journals itself
        _journal(request, response.status, error)
    return response


def _api_headers(request: web.Request, response: web.StreamResponse, started: float) -> None:
    """SPEC §1.3: the headers every API answer carries (rate limits are fixed until faults exist)."""
    headers = response.headers
    request_id = request.get(REQUEST_ID)
    if request_id is None:
        request_id = request[REQUEST_ID] = request.app[REQUEST_IDS].request_id()
    headers["x-request-id"] = request_id
    headers["openai-processing-ms"] = str(max(1, int((time.perf_counter() - started) * 1000)))
    headers["openai-version"] = "2020-10-01"
    headers["openai-organization"] = "resplay"
    # Rate-limit emulation counts down per key (web/faults.py); an error's own headers win.
    for name, value in (request.get(RATE_HEADERS) or _RATE_LIMIT_HEADERS).items():
        headers.setdefault(name, value)


_RATE_LIMIT_HEADERS = {
    "x-ratelimit-limit-requests": "30000",
    "x-ratelimit-limit-tokens": "150000000",
    "x-ratelimit-remaining-requests": "29999",
    "x-ratelimit-remaining-tokens": "149999000",
    "x-ratelimit-reset-requests": "2ms",
    "x-ratelimit-reset-tokens": "0s",
}


def prepare_headers(request: web.Request, response: web.StreamResponse) -> None:
    """API headers for a streamed answer, which must be set before ``prepare``."""
    _api_headers(request, response, time.perf_counter())


def journal_headers(request: web.Request) -> dict[str, str]:
    """The request's headers as the journal keeps them: lower-cased, credentials redacted."""
    # Hot path (every request): header names repeat, so each name's journal key is worked out once
    # (3x faster with the SDK's 17 headers, docs/performance.md).
    keys = _JOURNAL_KEYS
    out: dict[str, str] = {}
    for name, value in request.headers.items():
        key = keys.get(name)
        if key is None:
            key = _journal_key(name)
        if key:
            out[key] = "REDACTED" if key in _REDACTED_HEADERS else header_text(value)
    return out


_JOURNAL_KEYS: dict[str, str] = {}
"""Header name -> its journal key (lower case), or ``""`` for names the journal leaves out."""


def _journal_key(name: str) -> str:
    lower = name.lower()
    key = "" if lower.startswith("x-stainless") else lower
    if len(_JOURNAL_KEYS) < 4096:  # bounded: clients may send any names
        _JOURNAL_KEYS[name] = key
    return key


def _journal(request: web.Request, status: int, error: APIError | None) -> None:
    engine = request.app[ENGINE]
    headers = journal_headers(request)
    entry: dict[str, Any] = {
        "time": time.time(),
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "transport": "sse" if request.get(STREAMED) else "http",
        "status": status,
        "headers": headers,
        "body": request.get(BODY),
        "response_id": request.get(RESPONSE_ID),
        "error": error.error_object() if error is not None else None,
    }
    with engine.lock:
        engine.record(entry, session_of(request))


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bearer auth on the API (SPEC §1.4); the admin API has its own key (``--admin-key``, issue 12)."""
    if request.path.startswith("/_resplay"):
        admin_key = request.app[ENGINE].config.admin_key
        if admin_key is not None and request.path != "/_resplay/health":
            given = request.headers.get(ADMIN_KEY_HEADER, "")
            # Constant-time compare; the given key is never echoed (no secret in logs or bodies).
            # surrogateescape: non-UTF-8 header bytes arrive as lone surrogates (found by the header fuzz).
            if not hmac.compare_digest(
                given.encode(errors="surrogateescape"), admin_key.encode(errors="surrogateescape")
            ):
                raise AuthenticationFailed(_BAD_ADMIN_KEY, code="invalid_admin_key")
        return await handler(request)
    expected = request.app[ENGINE].config.api_key
    header = request.headers.get("authorization", "")
    key = header[7:].strip() if header[:7].lower() == "bearer " else request.headers.get("api-key", "")
    if not key:
        raise AuthenticationFailed(_NO_KEY)
    if expected is not None and key != expected:
        masked = f"{key[:8]}{'*' * max(0, len(key) - 12)}{key[-4:]}" if len(key) > 12 else "****"
        raise AuthenticationFailed(
            f"Incorrect API key provided: {masked}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )
    return await handler(request)


async def invalid_url(request: web.Request) -> web.StreamResponse:
    """Unknown paths: the real API answers ``Invalid URL (METHOD /path)`` with 404."""
    raise NotFound(f"Invalid URL ({request.method} {request.path})")
