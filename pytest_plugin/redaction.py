"""Redaction: secrets never reach a cassette file.

Three nets, applied to every string of an interaction (URI, header values, bodies, parsed JSON and
SSE events alike) by the serializer, the last step before disk:

1. headers by name (``authorization``, ``api-key``, cookies, ``openai-organization`` /
   ``openai-project``, ...): the value becomes ``REDACTED``;
2. the values of secret-looking environment variables (``OPENAI_API_KEY``, ``*_TOKEN``, ``*_SECRET``…),
   plus any extra values the test names: replaced wherever they occur, also JSON-escaped;
3. patterns: ``sk-…`` keys (``sk-proj-…``, ``sk-svcacct-…``) anywhere become ``sk-REDACTED``.

Replacement is idempotent, so the matcher can redact the live request the same way and compare it
with the recorded one. This module is pure (the environment is passed in).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_HEADERS", "REDACTED", "Redactor", "secret_env_values"]

REDACTED = "REDACTED"

DEFAULT_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "cookie",
        "set-cookie",
        "openai-organization",
        "openai-project",
    }
)

DEFAULT_PATTERNS = (r"(?<![A-Za-z0-9_\-])sk-[A-Za-z0-9_\-]{8,}",)
"""OpenAI secret keys: ``sk-`` then the key body (legacy, ``sk-proj-``, ``sk-svcacct-``, ``sk-admin-``).

Not inside a longer token: base64url blobs (``encrypted_content``, images) contain ``sk-`` by chance,
and redacting there would corrupt the recording.
"""

_ENV_NAME = re.compile(
    r"(?i)(^|_)(API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|PRIVATE_KEY|ACCESS_KEY|CREDENTIALS?|AUTH)($|_)"
)
_MIN_SECRET = 8
"""Shorter environment values (``TOKEN=1``) would redact innocent text everywhere."""


def secret_env_values(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment variables whose names look secret, with values long enough to be secrets."""
    return {
        name: value
        for name, value in environ.items()
        if _ENV_NAME.search(name) and len(value.strip()) >= _MIN_SECRET
    }


@dataclass(frozen=True)
class Redactor:
    """Replaces secrets in strings, header maps and nested JSON.

    Args:
        headers: Header names (case-insensitive) whose values are replaced whole.
        values: Literal secrets to replace wherever they occur (env values and extras).
        patterns: Regular expressions of secrets (default: ``sk-…`` keys).
    """

    headers: frozenset[str] = DEFAULT_HEADERS
    values: tuple[str, ...] = ()
    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    _compiled: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", frozenset(h.lower() for h in self.headers))
        literals: set[str] = set()
        for value in self.values:
            if value:
                literals.add(value)
                literals.add(json.dumps(value)[1:-1])  # as it appears inside a JSON string
                literals.add(json.dumps(value, ensure_ascii=False)[1:-1])
        # Longest first, so that a secret containing another one is replaced whole.
        parts = [re.escape(v) for v in sorted(literals, key=len, reverse=True)] + list(self.patterns)
        compiled = re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None
        object.__setattr__(self, "_compiled", compiled)

    @classmethod
    def build(
        cls,
        environ: Mapping[str, str],
        *,
        headers: Iterable[str] = (),
        values: Iterable[str] = (),
        patterns: Iterable[str] = (),
    ) -> Redactor:
        """The default redactor plus extra headers, values and patterns, with ``environ``'s secrets."""
        return cls(
            headers=DEFAULT_HEADERS | {h.lower() for h in headers},
            values=tuple(secret_env_values(environ).values()) + tuple(values),
            patterns=DEFAULT_PATTERNS + tuple(patterns),
        )

    def text(self, value: str) -> str:
        """``value`` with every secret replaced."""
        if self._compiled is None:
            return value
        return self._compiled.sub(_replacement, value)

    def data(self, value: bytes) -> bytes:
        """Bytes with every secret replaced (UTF-8 text; other bytes are scanned as Latin-1)."""
        try:
            return self.text(value.decode("utf-8")).encode("utf-8")
        except UnicodeDecodeError:
            return self.text(value.decode("latin-1")).encode("latin-1")

    def tree(self, value: Any) -> Any:
        """A copy of nested JSON-like data (dicts, lists, strings, bytes) with every secret replaced."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes | bytearray):
            return self.data(bytes(value))
        if isinstance(value, Mapping):
            return {self.text(k) if isinstance(k, str) else k: self.tree(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.tree(v) for v in value]
        return value

    def header_map(self, headers: Mapping[str, Any]) -> dict[str, Any]:
        """Headers with secret headers replaced whole and secrets removed from the others."""
        out: dict[str, Any] = {}
        for name, value in headers.items():
            if name.lower() in self.headers:
                out[name] = [REDACTED] * len(value) if isinstance(value, list | tuple) else REDACTED
            else:
                out[name] = self.tree(value)
        return out


def _replacement(match: re.Match[str]) -> str:
    return "sk-" + REDACTED if match.group(0).startswith("sk-") else REDACTED
