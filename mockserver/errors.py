"""Errors the emulated API answers with, and their OpenAI envelope.

Every failure the engine or an adapter reports is an :class:`APIError`. Adapters turn it into
``{"error": {"message", "type", "param", "code"}}`` with the HTTP status (SPEC §1.2), into an SSE
``error`` event, or into a WebSocket ``ResponseWsError`` frame (SPEC §6.3).

The helpers below build the messages in the real API's wording. Where the wording was observed in
real traffic the helper says so; where resplay had to choose (SPEC §16, DECISIONS 18) the choice is
listed in ``docs/errors.md`` and marked *chosen*.

Hierarchy::

    APIError
    ├── InvalidRequest          400 invalid_request_error
    ├── AuthenticationFailed    401
    ├── NotFound                404
    ├── PayloadTooLarge         413
    ├── RateLimited             429
    └── ServerFault             5xx
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "APIError",
    "AuthenticationFailed",
    "InvalidRequest",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServerFault",
    "decimal_above_max",
    "decimal_below_min",
    "describe_json_type",
    "integer_above_max",
    "integer_below_min",
    "invalid_type",
    "invalid_value",
    "missing_required",
    "unknown_parameter",
]


class APIError(Exception):
    """An error answer of the Responses API.

    Args:
        message: Human-readable text, in the real API's wording where known.
        status: HTTP status code (also ``status`` of a WebSocket error frame).
        type: OpenAI error ``type`` (``invalid_request_error``, ``server_error``, ...).
        param: The request field at fault, as a dotted/indexed path, or ``None``.
        code: Machine-readable ``code`` or ``None``.
        headers: Extra HTTP headers to send with the error (``retry-after``, ...).
    """

    status: int = 400
    default_type: str = "invalid_request_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.type = type or self.default_type
        self.param = param
        self.code = code
        self.headers: dict[str, str] = dict(headers or {})

    def error_object(self) -> dict[str, Any]:
        """The inner ``error`` object: ``{"message", "type", "param", "code"}``."""
        return {"message": self.message, "type": self.type, "param": self.param, "code": self.code}

    def envelope(self) -> dict[str, Any]:
        """The HTTP body: ``{"error": {...}}`` (SPEC §1.2)."""
        return {"error": self.error_object()}

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}({self.status}, code={self.code!r}, param={self.param!r}, {self.message!r})"


class InvalidRequest(APIError):
    """400 ``invalid_request_error``: the request is malformed or not allowed."""

    status = 400


class AuthenticationFailed(APIError):
    """401: missing or wrong API key (SPEC §1.4)."""

    status = 401


class NotFound(APIError):
    """404: the addressed object does not exist (or is not visible)."""

    status = 404


class PayloadTooLarge(APIError):
    """413: the request body is larger than the configured limit."""

    status = 413


class RateLimited(APIError):
    """429: rate or quota limit reached."""

    status = 429
    default_type = "requests"


class ServerFault(APIError):
    """5xx: an (injected) server-side failure."""

    status = 500
    default_type = "server_error"


# --- message builders (wording from real traffic unless marked chosen) -------------------------------


def describe_json_type(value: Any) -> str:
    """Name a JSON value's type the way the API's ``invalid_type`` messages do."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "an unsupported value"


def unknown_parameter(param: str) -> InvalidRequest:
    """``Unknown parameter: 'input[1].status'.`` (observed: openai-python#3008)."""
    return InvalidRequest(f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


def missing_required(param: str) -> InvalidRequest:
    """``Missing required parameter: 'input[0].arguments'.`` (observed in real traffic)."""
    return InvalidRequest(
        f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter"
    )


def invalid_type(param: str, expected: str, value: Any) -> InvalidRequest:
    """``Invalid type for 'x': expected a string, but got an integer instead.``"""
    return InvalidRequest(
        f"Invalid type for '{param}': expected {expected}, but got {describe_json_type(value)} instead.",
        param=param,
        code="invalid_type",
    )


def invalid_value(param: str, value: Any, supported: Iterable[str]) -> InvalidRequest:
    """``Invalid value: 'x'. Supported values are: 'a', 'b', and 'c'.``"""
    return InvalidRequest(
        f"Invalid value: {_quote(value)}. Supported values are: {_join_supported(supported)}.",
        param=param,
        code="invalid_value",
    )


def decimal_below_min(param: str, minimum: float, value: Any) -> InvalidRequest:
    """Observed verbatim: ``Invalid 'temperature': decimal below minimum value. Expected a value >= 0,
    but got -1 instead.`` (pydantic-ai ``test_openai_responses_model_http_error``)."""
    return InvalidRequest(
        f"Invalid '{param}': decimal below minimum value. Expected a value >= {_num(minimum)}, "
        f"but got {_num(value)} instead.",
        param=param,
        code="decimal_below_min_value",
    )


def decimal_above_max(param: str, maximum: float, value: Any) -> InvalidRequest:
    """Counterpart of :func:`decimal_below_min` (chosen wording, same style)."""
    return InvalidRequest(
        f"Invalid '{param}': decimal above maximum value. Expected a value <= {_num(maximum)}, "
        f"but got {_num(value)} instead.",
        param=param,
        code="decimal_above_max_value",
    )


def integer_below_min(param: str, minimum: int, value: Any) -> InvalidRequest:
    """``Invalid 'max_output_tokens': integer below minimum value. ...`` (chosen, same style)."""
    return InvalidRequest(
        f"Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, "
        f"but got {_num(value)} instead.",
        param=param,
        code="integer_below_min_value",
    )


def integer_above_max(param: str, maximum: int, value: Any) -> InvalidRequest:
    """``Invalid 'top_logprobs': integer above maximum value. ...`` (chosen, same style)."""
    return InvalidRequest(
        f"Invalid '{param}': integer above maximum value. Expected a value <= {maximum}, "
        f"but got {_num(value)} instead.",
        param=param,
        code="integer_above_max_value",
    )


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _quote(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def _join_supported(values: Iterable[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    if len(quoted) == 2:
        return f"{quoted[0]} and {quoted[1]}"
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"
