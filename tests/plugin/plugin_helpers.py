"""Shared helpers of the plugin's tests (importable: ``tests/plugin`` is on ``sys.path``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import vcr.stubs.aiohttp_stubs  # noqa: F401

# Imported here, in the outer process, so that pytester's in-process runs find them loaded: modules
# first imported inside an inner run are dropped after it, then re-imported (and assertion-rewritten,
# since pytest_plugin is a plugin package) by the next run.
from mockserver import MockServer

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
filterwarnings =
    error
    ignore::DeprecationWarning
    ignore::ResourceWarning
    ignore::pytest.PytestUnraisableExceptionWarning
"""


class Project:
    """An inner pytest project: write test files, run pytest in-process, read cassettes."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester
        pytester.makefile(".ini", pytest=textwrap.dedent(INI))

    @property
    def path(self) -> Path:
        return self.pytester.path

    def write(self, name: str, source: str) -> Path:
        path = self.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        return path

    def run(self, *args: str) -> pytest.RunResult:
        # hypothesis' plugin would re-import (and rewrite) its ~70 modules in every inner run.
        return self.pytester.runpytest("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-q", *args)

    def cassette(self, module: str, test: str) -> Path:
        return self.path / "cassettes" / module / f"{test}.yaml"


def api_requests(server: MockServer) -> int:
    """How many API requests reached ``server`` in any session (0 proves replay stayed offline)."""
    with server.engine.lock:
        return sum(len(s.journal) for s in server.engine.sessions())
