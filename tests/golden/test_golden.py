"""The default model's output is frozen per generator version (docs/default-model.md).

Every corpus case (``golden_harness.CASES``) is sent to an in-process server (seed, secret and virtual
clock fixed) and its whole answer, JSON bodies and SSE byte streams, must equal the golden file of the
current ``GENERATOR_VERSION`` byte for byte. A mismatch means the default model's output changed: either
that is a bug (an optimisation must keep output byte-identical), or it is intended and needs a version
bump, a CHANGELOG entry and ``python -m tests.golden.regen``.
"""

from __future__ import annotations

import difflib

import pytest
from golden_harness import CASES, CURRENT_VERSION, GOLDEN_ROOT, golden_dir, run_all

HOW_TO_REGENERATE = (
    "If this change to the default model's output is intended: bump GENERATOR_VERSION in "
    "mockserver/generator.py, list the change in CHANGELOG.md, then run `.venv/bin/python -m "
    "tests.golden.regen`. Regenerating without a version bump is not allowed: users pin a seed and expect "
    "byte-identical output from every release with the same generator version (docs/default-model.md)."
)
MAX_DIFF_LINES = 60


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return {case.name: text for case, text in run_all()}


def test_the_current_version_has_goldens() -> None:
    folder = golden_dir(CURRENT_VERSION)
    assert folder.is_dir(), f"no goldens for generator version {CURRENT_VERSION}. {HOW_TO_REGENERATE}"
    on_disk = {p.stem for p in folder.glob("*.json")}
    names = {case.name for case in CASES}
    assert on_disk == names, (
        f"golden files and corpus cases differ: missing {sorted(names - on_disk)}, "
        f"stale {sorted(on_disk - names)}. New cases: `.venv/bin/python -m tests.golden.regen` adds their "
        "files without a version bump."
    )
    # Only the current version's folder is kept (git has the older ones).
    assert [p.name for p in GOLDEN_ROOT.glob("v*") if p.is_dir()] == [folder.name]


def test_output_is_byte_identical_to_the_goldens(rendered: dict[str, str]) -> None:
    folder = golden_dir(CURRENT_VERSION)
    report: list[str] = []
    for name, text in rendered.items():
        path = folder / f"{name}.json"
        if not path.exists():
            continue  # reported by test_the_current_version_has_goldens
        expected = path.read_text(encoding="utf-8")
        if expected != text:
            diff = list(
                difflib.unified_diff(
                    expected.splitlines(), text.splitlines(), f"golden v{CURRENT_VERSION}/{name}.json", "now",
                    n=2, lineterm="",
                )
            )  # fmt: skip
            cut = diff[:MAX_DIFF_LINES] + ([f"... {len(diff) - MAX_DIFF_LINES} more diff lines"] if
                                           len(diff) > MAX_DIFF_LINES else [])  # fmt: skip
            report.append("\n".join(cut))
    if report:
        pytest.fail(
            f"the default model's output changed in {len(report)} of {len(rendered)} golden cases while "
            f"GENERATOR_VERSION stays {CURRENT_VERSION}:\n\n"
            + "\n\n".join(report)
            + "\n\n"
            + HOW_TO_REGENERATE,
            pytrace=False,
        )


def test_rendering_is_lossless_and_stable(rendered: dict[str, str]) -> None:
    """The readable form re-encodes to the wire bytes (checked while rendering); a second run of a few cases
    on a fresh server gives the same text (nothing leaks from the wall clock or the OS's randomness)."""
    sample = [c for c in CASES if c.name in ("stream_text_obfuscated", "store_false_encrypted_reasoning",
                                             "background_lifecycle")]  # fmt: skip
    assert len(sample) == 3
    again = dict((case.name, text) for case, text in run_all(sample))
    assert again == {name: rendered[name] for name in again}
    assert all('"sse_raw"' not in text and '"body_raw"' not in text for text in rendered.values())
