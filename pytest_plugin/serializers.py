"""vcrpy serializer for resplay's cassette format (``vcr.register_serializer("resplay", ...)`` works too).

vcrpy hands a serializer its native cassette dict (``{"version": 1, "interactions": [...]}`` with
string bodies) and expects the same back. This one writes the readable format of
:mod:`pytest_plugin.cassette`, redacting on the way out (the last step before disk), and reads any
format version, migrating older files (:mod:`pytest_plugin.migrations`). WebSocket sessions ride
along in :attr:`ResplaySerializer.websockets` (vcrpy's dict has no place for them). Pure.
"""

from __future__ import annotations

from typing import Any

from .cassette import dump_yaml, from_disk, load_yaml, to_disk
from .migrations import migrate
from .redaction import Redactor
from .ws.session import WsSession, sessions_from_disk, sessions_to_disk

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
        self.websockets: list[WsSession] = []
        """The cassette's WebSocket sessions (``websockets:`` in the file; :mod:`pytest_plugin.ws`)."""

    def serialize(self, cassette_dict: dict[str, Any]) -> str:
        """vcrpy native dict -> YAML text."""
        document = to_disk(cassette_dict, self.redactor)
        if self.websockets:
            document["websockets"] = sessions_to_disk(self.websockets, self.redactor)
        return dump_yaml(document)

    def deserialize(self, cassette_string: str) -> dict[str, Any]:
        """YAML text of any format version -> vcrpy native dict."""
        document = migrate(load_yaml(cassette_string, source=self.source))
        self.websockets = sessions_from_disk(document.get("websockets"))
        return from_disk(document)
