"""Helpers for the plugin's own tests: an inner pytest project driven by pytester, and upstream servers.

The recording tests dogfood resplay: a ``MockServer`` plays the real API while an inner pytest run
records it; the server is then stopped and the inner run replays offline.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from plugin_helpers import Project

from mockserver import MockServer


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Project:
    """An empty inner pytest project in a temporary folder."""
    # Secrets of the outer environment must not leak into inner runs' redaction rules by surprise.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return Project(pytester)


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockServer]:
    """A resplay server standing in for api.openai.com; inner tests read its URL from UPSTREAM_URL."""
    with MockServer(seed=11) as server:
        monkeypatch.setenv("UPSTREAM_URL", server.base_url)
        yield server
