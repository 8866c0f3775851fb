"""Compatibility tests: real agent frameworks (openai-agents, pydantic-ai, langchain-openai) against resplay.

They need the ``compat`` extra (``pip install -e '.[test,compat]'``; ``.ci/compat`` does it in its own venv)
and are marked ``compat``. ``make test`` deselects them (``-m "not compat"``): this folder is then not even
collected, so the frameworks' absence costs nothing there. Selected without the frameworks installed, each
module skips with the missing package named.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mockserver import MockServer


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # `-m "not slow and not node and not compat"` (make test) deselects every test here: do not import the
    # frameworks at all, so a venv without them shows no "could not import" skips.
    if "not compat" in (config.getoption("markexpr") or ""):
        return True
    return None


@pytest.fixture
def journal(server: MockServer) -> Callable[[], list[dict[str, Any]]]:
    """A callable giving the default session's journal of API requests (admin calls and notes left out)."""

    def requests() -> list[dict[str, Any]]:
        return [
            entry
            for entry in server.journal()
            if entry["transport"] != "note" and not str(entry["path"]).startswith("/_resplay")
        ]

    return requests
