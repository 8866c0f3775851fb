"""vcrpy serializer for resplay's cassette format (``vcr.register_serializer("resplay", ...)`` works too).

vcrpy hands a serializer its native cassette dict (``{"version": 1, "interactions": [...]}`` with
string bodies) and expects the same back. This one writes the readable format of
:mod:`pytest_plugin.cassette`, redacting on the way out (the last step before disk), and reads any
format version, migrating older files (:mod:`pytest_plugin.migrations`). Pure.
"""

from __future__ import annotations

from typing import Any

from .cassette import dump_yaml, from_disk, load_yaml, to_disk
from .migrations import migrate
from .redaction import Redactor

__all__ = ["ResplaySerializer"]


class ResplaySerializer:
    """Readable, redacted YAML cassettes.

    Args:
        redactor: Applied to every interaction before it is written; ``None`` writes as is.
        source: Name used in error messages (the cassette path).
    """

    def __init__(self, redactor: Redactor | None = None, source: str = "<cassette>") -> None:
        self.redactor = redactor
        self.source = source

    def serialize(self, cassette_dict: dict[str, Any]) -> str:
        """vcrpy native dict -> YAML text."""
        return dump_yaml(to_disk(cassette_dict, self.redactor))

    def deserialize(self, cassette_string: str) -> dict[str, Any]:
        """YAML text of any format version -> vcrpy native dict."""
        return from_disk(migrate(load_yaml(cassette_string, source=self.source)))
