"""README "Supported versions" agrees with pyproject.toml and the CI scripts that test it (issue 14)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11+ (tomllib)")

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXTRAS = PYPROJECT["project"]["optional-dependencies"]


def table_row(name: str) -> list[str]:
    section = README.split("## Supported versions", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == name:
            return cells
    raise AssertionError(f"no {name!r} row in README 'Supported versions'")


def requirement(requirements: list[str], package: str) -> str:
    """The version specifier of ``package`` (extras stripped) in a requirement list."""
    for entry in requirements:
        found = re.fullmatch(rf"{re.escape(package)}(\[[^\]]*\])?\s*([<>=!~,.\d\s]+)", entry)
        if found:
            return found.group(2).replace(" ", "")
    raise AssertionError(f"{package} not in {requirements}")


def test_openai_range_matches_the_extra_and_the_sdk_matrix() -> None:
    specifier = requirement(EXTRAS["openai"], "openai")
    row = table_row("openai SDK (Python)")
    assert f"`{specifier}`" in row[1]
    matrix = (ROOT / ".ci" / "sdk-matrix").read_text(encoding="utf-8")
    versions = re.search(r"RESPLAY_SDK_VERSIONS:-([\d. ]+)\}", matrix)
    assert versions is not None
    oldest, newest = versions.group(1).split()
    assert specifier.startswith(f">={oldest.removesuffix('.0')},")  # the range starts at the oldest tested
    assert oldest in row[2] and newest in row[2]
    pinned = requirement(EXTRAS["test"], "openai")
    assert pinned.startswith("==") and pinned[2:] in row[2]


def test_websockets_and_python_ranges() -> None:
    websockets = requirement(PYPROJECT["project"]["dependencies"], "websockets")
    row = table_row("websockets")
    assert f"`{websockets}`" in row[1]
    matrix = (ROOT / ".ci" / "sdk-matrix").read_text(encoding="utf-8")
    oldest = re.search(r"RESPLAY_OLDEST_WEBSOCKETS:-([\d.]+)\}", matrix)
    assert oldest is not None and oldest.group(1) in row[2]
    assert websockets.startswith(f">={oldest.group(1).split('.')[0]},")  # the floor is what the matrix tests
    python = PYPROJECT["project"]["requires-python"]
    assert python.startswith(">=") and table_row("Python")[1].startswith(python[2:] + "+")


def test_framework_ranges_match_the_compat_extra() -> None:
    for package in ("openai-agents", "pydantic-ai-slim", "langchain-openai"):
        specifier = requirement(EXTRAS["compat"], package)
        name = "pydantic-ai-slim[openai]" if package == "pydantic-ai-slim" else package
        assert f"`{specifier}`" in table_row(name)[1], package
