"""The plugin's hook specification (``pytest_addhooks`` registers it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .http import ResplayCassette


@pytest.hookspec
def pytest_resplay_configure(config: pytest.Config, cassette: ResplayCassette) -> None:
    """Called once a test's cassette is loaded and the HTTP libraries are patched.

    Like pytest-recording's ``pytest_recording_configure``: adjust the cassette (its ``options``,
    ``redactor``), register extra patches, or log what a test replays.
    """
