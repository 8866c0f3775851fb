"""Write the golden files of the current generator version: ``python -m tests.golden.regen``.

Regenerating is only allowed together with a generator version bump (docs/default-model.md): goldens of a
version are frozen, because users pin a seed and expect byte-identical output from every resplay release
that reports the same generator version. So this script

* writes every file into ``tests/golden/v<GENERATOR_VERSION>/`` when that folder does not exist yet (a
  bump: the previous version's folder is removed, git keeps it, and the cases that changed are listed for
  the CHANGELOG entry);
* into an existing folder, only adds the files of new cases (a new case changes nobody's output) and
  refuses to change an existing file, unless ``--amend-unreleased`` says the version was never released.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as ``-m tests.golden.regen`` or a script

from golden_harness import CURRENT_VERSION, GOLDEN_ROOT, run_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.golden.regen", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--amend-unreleased",
        action="store_true",
        help="rewrite changed files of the current version (only if no release has shipped it)",
    )
    args = parser.parse_args(argv)
    rendered = {case.name: text for case, text in run_all()}
    return regenerate(GOLDEN_ROOT, CURRENT_VERSION, rendered, amend_unreleased=args.amend_unreleased)


def regenerate(root: Path, version: str, rendered: dict[str, str], *, amend_unreleased: bool = False) -> int:
    """Write ``rendered`` (case name -> golden text) as version ``version``'s goldens under ``root``.

    Returns the exit status: 1, writing nothing, when existing files of ``version`` would change without
    ``amend_unreleased``.
    """
    target = root / f"v{version}"
    bump = not target.exists()
    previous = sorted(p for p in root.glob("v*") if p.is_dir() and p != target)
    changed = [n for n, t in rendered.items() if (target / f"{n}.json").exists() and _read(target, n) != t]
    if changed and not bump and not amend_unreleased:
        print(
            f"refusing: {len(changed)} golden file(s) of generator version {version} would change "
            f"({', '.join(changed)}).\nBump GENERATOR_VERSION in mockserver/generator.py (and add a "
            "CHANGELOG entry) instead; --amend-unreleased only if this version was never released.",
            file=sys.stderr,
        )
        return 1
    target.mkdir(parents=True, exist_ok=True)
    stale = {p.stem for p in target.glob("*.json")} - set(rendered)
    for name in stale:
        (target / f"{name}.json").unlink()
    written = 0
    for name, text in rendered.items():
        path = target / f"{name}.json"
        if not path.exists() or _read(target, name) != text:
            path.write_text(text, encoding="utf-8", newline="\n")
            written += 1
    print(f"generator version {version}: wrote {written} file(s), removed {len(stale)} in {target}")
    for old in previous:
        differing = [n for n, t in rendered.items() if (old / f"{n}.json").exists() and _read(old, n) != t]
        listed = ", ".join(differing) or "none"
        print(f"changed since {old.name}: {listed} (removing {old.name}; git keeps it)")
        shutil.rmtree(old)
    return 0


def _read(folder: Path, name: str) -> str:
    return (folder / f"{name}.json").read_text(encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
