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
    "array_above_max_length",
    "decimal_above_max",
    "decimal_below_min",
    "describe_json_type",
    "elide_name",
    "empty_array",
    "integer_above_max",
    "integer_below_min",
    "invalid_body",
    "invalid_id_characters",
    "invalid_id_prefix",
    "invalid_json_body",
    "invalid_stream_id",
    "invalid_type",
    "invalid_value",
    "missing_input",
    "missing_required",
    "mutually_exclusive",
    "object_above_max_properties",
    "one_of",
    "only_allowed_with",
    "property_name_above_max_length",
    "string_above_max_length",
    "string_below_min_length",
    "string_pattern_mismatch",
    "unknown_parameter",
    "unsupported_parameter",
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


# --- request-body validation (mockserver.validation) -----------------------------------------------


def one_of(values: Iterable[str]) -> str:
    """The ``expected`` words of an enum's ``invalid_type``: ``one of 'a', 'b', or 'c'`` (observed)."""
    return f"one of {_join_quoted(values, 'or')}"


def elide_name(name: str) -> str:
    """Shorten a long name to its first and last three characters, as the API does in some messages.

    Observed: a 70-character metadata key printed as ``'kkk...kkk'``, ``'previous_response_id'`` as
    ``'pre..._id'``, while ``'conversation'`` (12 characters) is printed whole.
    """
    return f"{name[:3]}...{name[-3:]}" if len(name) > 12 else name


def string_above_max_length(param: str, maximum: int, value: str) -> InvalidRequest:
    """Observed: ``Invalid 'text.format.name': string too long. Expected a string with maximum length
    64, but got a string with length 65 instead.``"""
    return InvalidRequest(
        f"Invalid '{param}': string too long. Expected a string with maximum length {maximum}, "
        f"but got a string with length {len(value)} instead.",
        param=param,
        code="string_above_max_length",
    )


def string_below_min_length(param: str, minimum: int, value: str) -> InvalidRequest:
    """Counterpart of :func:`string_above_max_length` (chosen wording, same style)."""
    return InvalidRequest(
        f"Invalid '{param}': string too short. Expected a string with minimum length {minimum}, "
        f"but got a string with length {len(value)} instead.",
        param=param,
        code="string_below_min_length",
    )


def string_pattern_mismatch(param: str, pattern: str) -> InvalidRequest:
    """Observed: ``Invalid 'tools[0].name': string does not match pattern. Expected a string that
    matches the pattern '^[a-zA-Z0-9_-]+$'.`` (code ``invalid_value`` as reported by one client)."""
    return InvalidRequest(
        f"Invalid '{param}': string does not match pattern. Expected a string that matches the "
        f"pattern '{pattern}'.",
        param=param,
        code="invalid_value",
    )


def empty_array(param: str, minimum: int = 1) -> InvalidRequest:
    """Observed (Chat Completions): ``Invalid 'messages': empty array. Expected an array with minimum
    length 1, but got an empty array instead.`` code ``empty_array``."""
    return InvalidRequest(
        f"Invalid '{param}': empty array. Expected an array with minimum length {minimum}, "
        "but got an empty array instead.",
        param=param,
        code="empty_array",
    )


def array_above_max_length(param: str, maximum: int, value: list[Any]) -> InvalidRequest:
    """Observed wording (Chat Completions ``tools``); the code is chosen."""
    return InvalidRequest(
        f"Invalid '{param}': array too long. Expected an array with maximum length {maximum}, "
        f"but got an array with length {len(value)} instead.",
        param=param,
        code="array_above_max_length",
    )


def object_above_max_properties(param: str, maximum: int, count: int) -> InvalidRequest:
    """Measured on ``metadata``: ``Invalid 'metadata': too many properties. Expected an object with at
    most 16 properties, but got an object with 17 properties instead.``"""
    return InvalidRequest(
        f"Invalid '{param}': too many properties. Expected an object with at most {maximum} "
        f"properties, but got an object with {count} properties instead.",
        param=param,
        code="object_above_max_properties",
    )


def property_name_above_max_length(param: str, key: str, maximum: int) -> InvalidRequest:
    """Measured on ``metadata``: the message elides the key, ``param`` carries it whole."""
    return InvalidRequest(
        f"Invalid property name in '{param}': '{elide_name(key)}' is too long. Expected a string with "
        f"maximum length {maximum}, but got a string with length {len(key)} instead.",
        param=f"{param}.{key}",
        code="property_name_above_max_length",
    )


def invalid_id_prefix(param: str, value: str, prefix: str) -> InvalidRequest:
    """Observed: ``Invalid 'input[137].id': 'item_7bf5…'. Expected an ID that begins with 'rs'.``
    (code chosen)."""
    return InvalidRequest(
        f"Invalid '{param}': '{value}'. Expected an ID that begins with '{prefix}'.",
        param=param,
        code="invalid_value",
    )


def invalid_id_characters(param: str, value: str) -> InvalidRequest:
    """Observed (SPEC §5): ``Invalid 'previous_response_id': '<value>'. Expected an ID that contains
    letters, numbers, underscores, or dashes, but this value contained additional characters.``
    (code chosen)."""
    return InvalidRequest(
        f"Invalid '{param}': '{value}'. Expected an ID that contains letters, numbers, underscores, "
        "or dashes, but this value contained additional characters.",
        param=param,
        code="invalid_value",
    )


def unsupported_parameter(param: str, message: str | None = None) -> InvalidRequest:
    """``Unsupported parameter: 'x' is not supported with this model.`` (observed wording)."""
    return InvalidRequest(
        message or f"Unsupported parameter: '{param}' is not supported with this model.",
        param=param,
        code="unsupported_parameter",
    )


def mutually_exclusive(first: str, second: str) -> InvalidRequest:
    """Measured for ``previous_response_id`` + ``conversation``, quirks included (empty quotes, elided
    name, ``param: null``)."""
    return InvalidRequest(
        f"Mutually exclusive parameters: ''. Ensure you are only providing one of: "
        f"{_join_quoted([elide_name(first), elide_name(second)], 'or')}.",
        code="mutually_exclusive_parameters",
    )


def missing_input() -> InvalidRequest:
    """Measured: an empty ``input`` with nothing else to answer, ``param: null``."""
    return InvalidRequest(
        "One of \"input\" or \"previous_response_id\" or 'prompt' or 'conversation' must be provided.",
        code="missing_required_parameter",
    )


def only_allowed_with(param: str, other: str, state: str = "enabled") -> InvalidRequest:
    """``The 'stream_options' parameter is only allowed when 'stream' is enabled.`` — chosen, in the
    wording measured for Chat's ``top_logprobs`` without ``logprobs`` (no code)."""
    return InvalidRequest(f"The '{param}' parameter is only allowed when '{other}' is {state}.", param=param)


def invalid_stream_id() -> InvalidRequest:
    """WebSocket ``stream_id`` (SPEC §6.4, documented verbatim)."""
    return InvalidRequest(
        "The 'stream_id' field must be a non-empty string with at most 256 characters and may only "
        "contain letters, numbers, underscores, hyphens, and periods.",
        param="stream_id",
        code="invalid_stream_id",
    )


def invalid_body(value: Any) -> InvalidRequest:
    """A JSON body that is not an object (chosen wording, DECISIONS 18)."""
    return InvalidRequest(
        f"Invalid body: expected a JSON object, but got {describe_json_type(value)} instead.",
        code="invalid_type",
    )


def invalid_json_body() -> InvalidRequest:
    """A body that is not JSON at all (observed wording, ``param`` and ``code`` null)."""
    return InvalidRequest(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
        "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
        "valid JSON. If you have trouble figuring out how to fix this, please contact us through our "
        "help center at help.openai.com.)"
    )


def _join_quoted(values: Iterable[str], conjunction: str) -> str:
    """``'a', 'b', or 'c'`` — the API's list punctuation in type messages."""
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    if len(quoted) == 2:
        return f"{quoted[0]} {conjunction} {quoted[1]}"
    return ", ".join(quoted[:-1]) + f", {conjunction} {quoted[-1]}"
