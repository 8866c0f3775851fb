"""Which openai SDK the suite runs against, for ``.ci/sdk-matrix`` (README "Supported versions").

The test extra pins ``openai==3.51.0``: the ground truth for field names. ``.ci/sdk-matrix`` also runs the
core suite against the oldest and newest supported SDKs. Two kinds of tests cannot pass there, and say so:

* ``pinned_sdk_only``: they compare resplay's generated data (model catalog, request-schema snapshot, the
  fidelity allow-list of real-traffic drift) with the pinned SDK itself, so any other version differs.
* ``requires_sdk(version, feature)``: they read a field that older SDKs do not model (the strict client
  rejects or drops it). resplay still sends it; an older client just does not see it.
"""

from __future__ import annotations

import re

import openai
import pytest

PINNED = (3, 51, 0)
"""The test extra's ``openai`` pin (pyproject.toml)."""


def _parse(version: str) -> tuple[int, int, int]:
    found = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if found is None:
        raise ValueError(f"unparseable openai version {version!r}")
    major, minor, patch = found.groups()
    return int(major), int(minor), int(patch)


INSTALLED = _parse(openai.__version__)


def _text(version: tuple[int, int, int]) -> str:
    return ".".join(map(str, version))


pinned_sdk_only = pytest.mark.skipif(
    INSTALLED != PINNED,
    reason=f"compares generated data with the pinned openai {_text(PINNED)} (installed {openai.__version__})",
)


def requires_sdk(version: str, feature: str) -> pytest.MarkDecorator:
    """Skip where the installed SDK is older than ``version``, which added ``feature``."""
    return pytest.mark.skipif(
        _parse(version) > INSTALLED,
        reason=f"openai {openai.__version__} predates {feature} (added in {version})",
    )
