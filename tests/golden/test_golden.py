"""The default model's output is frozen per generator version (docs/default-model.md).

Every corpus case (``golden_harness.CASES``) is sent to an in-process server (seed, secret and virtual
clock fixed) and its whole answer, JSON bodies and SSE byte streams, must equal the golden file of the
current ``GENERATOR_VERSION`` byte for byte. A mismatch means the default model's output changed: either
that is a bug (an optimisation must keep output byte-identical), or it is intended and needs a version
bump, a CHANGELOG entry and ``python -m tests.golden.regen``.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
from golden_harness import CASES, CURRENT_VERSION, GOLDEN_ROOT, golden_dir, run_all
from regen import regenerate

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


def test_regen_refuses_to_change_a_version_and_writes_a_bump(
    rendered: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m tests.golden.regen``: changing the current version's goldens needs a bump."""
    old = tmp_path / "v1"
    shutil.copytree(golden_dir(CURRENT_VERSION), old)
    tampered = old / "text_verbosity_low.json"
    tampered.write_text("{}\n", encoding="utf-8")  # as if the output had changed since these were written
    assert regenerate(tmp_path, "1", rendered) == 1
    assert tampered.read_text(encoding="utf-8") == "{}\n"  # nothing written
    assert "refusing: 1 golden file(s)" in capsys.readouterr().err
    # A new case alone is not a change: its file is added to the current version.
    (old / "text_verbosity_low.json").write_text(rendered["text_verbosity_low"], encoding="utf-8")
    (old / "text_plain_gpt41.json").unlink()
    assert regenerate(tmp_path, "1", rendered) == 0
    assert (old / "text_plain_gpt41.json").read_text(encoding="utf-8") == rendered["text_plain_gpt41"]
    # The bump: a new folder with every case, the old one removed, the changed cases listed.
    tampered.write_text("{}\n", encoding="utf-8")
    assert regenerate(tmp_path, "2", rendered) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v2"]
    assert {p.stem for p in (tmp_path / "v2").glob("*.json")} == set(rendered)
    assert "changed since v1: text_verbosity_low (removing v1" in capsys.readouterr().out
