"""``python -m bench``: run the suite, print the table, write it into README.md.

Usage::

    python -m bench                  # the whole suite (~3-4 min on 2 cores), README updated
    python -m bench --quick          # shorter runs, 32 connections only (~1 min)
    python -m bench --only 1,2       # some sections
    python -m bench --smoke          # sections 1-2, a few requests each (tests/test_bench_smoke.py)
    python -m bench --no-readme      # print only

Sections: 1 non-streaming create, 2 streaming create, 3 WebSocket turns, 4 start-up, 5 cassette
replay, 6 memory per stored response.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .http_load import HttpConfig, run_http
from .loadgen import wrk_path
from .report import Report, update_readme
from .servers import ROOT, aimock_install

ALL = (1, 2, 3, 4, 5, 6)


def _install_wrk(report: Report) -> bool:
    """Install Debian's wrk when we are root on a Debian-like system (bounded); ``False`` otherwise."""
    if wrk_path() is not None:
        return True
    apt = shutil.which("apt-get")
    if apt is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    print("installing wrk (apt-get install wrk) ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        [apt, "install", "-y", "-q", "wrk"],
        [apt, "update", "-q"],
        [apt, "install", "-y", "-q", "wrk"],
    ):
        try:
            subprocess.run(command, capture_output=True, timeout=300, check=False, env=env)
        except subprocess.SubprocessError:
            break
        if wrk_path() is not None:
            return True
    report.note("wrk could not be installed with apt-get.")
    return False


Section = Callable[[Report], None]


def _sections(args: argparse.Namespace, tool: str, use_aimock: bool) -> list[tuple[int, Section]]:
    """Each section's runner, in order (sections 1 and 2 share one run)."""

    def http(report: Report) -> None:
        print("sections 1-2: HTTP create under load", flush=True)
        if args.smoke:
            config = HttpConfig(
                connections=(1,), duration=5, warmup=0, tool=tool, uvloop=False, aimock=False, requests=10
            )
        elif args.quick:
            config = HttpConfig(connections=(32,), duration=2, warmup=0.5, tool=tool, aimock=use_aimock)
        else:
            config = HttpConfig(tool=tool, aimock=use_aimock)
        run_http(report, config)

    def ws(report: Report) -> None:
        from .ws_turns import run_deep, run_ws

        print("section 3: WebSocket turns", flush=True)
        run_ws(report, loops=3 if args.quick else 10)
        run_deep(report, loops=1 if args.quick else 3)
        from .ws_vs_http_realistic import run_realistic

        run_realistic(report, rounds=1 if args.quick else 2)  # the same loop under emulated latency

    def startup(report: Report) -> None:
        from .startup import run_startup

        print("section 4: start-up", flush=True)
        aimock = aimock_install() if use_aimock else None
        run_startup(report, repeat=5 if args.quick else 20, cli_repeat=2 if args.quick else 5, aimock=aimock)

    def replay(report: Report) -> None:
        from .replay import run_replay

        print("section 5: cassette replay", flush=True)
        run_replay(report, repeat=1 if args.quick else 2)

    def memory(report: Report) -> None:
        from .memory import run_memory

        print("section 6: memory per stored response", flush=True)
        run_memory(report, count=20_000 if args.quick else 100_000)

    # Sections 1 and 2 come from one run: registered under 1, and under 2 when 1 is not asked for.
    first = 1 if 1 in _wanted(args) else 2
    return [(first, http), (3, ws), (4, startup), (5, replay), (6, memory)]


def _wanted(args: argparse.Namespace) -> tuple[int, ...]:
    return tuple(int(s) for s in args.only.split(",") if s.strip()) or ALL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, 32 connections only")
    parser.add_argument(
        "--smoke", action="store_true", help="a few requests per figure (keeps the harness alive)"
    )
    parser.add_argument("--only", default="", help="comma-separated section numbers (default: all)")
    parser.add_argument("--no-readme", action="store_true", help="do not write the table into README.md")
    parser.add_argument("--no-aimock", action="store_true", help="skip aimock (no npm install)")
    parser.add_argument("--generator", choices=("auto", "wrk", "aiohttp"), default="auto")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args(argv)
    sections = _wanted(args)
    if args.smoke:
        sections = tuple(s for s in sections if s in (1, 2))

    report = Report()
    started = time.perf_counter()
    if args.smoke:
        tool = "aiohttp-inline"
    elif args.generator == "aiohttp" or (args.generator == "auto" and not _install_wrk(report)):
        tool = "aiohttp"
        report.note(
            "wrk not found: the load generator is an aiohttp client in its own process (slower, so "
            "absolute figures are lower; ratios still compare like with like)."
        )
    else:
        tool = "wrk"
    report.generator = {
        "wrk": "wrk (1 thread, Lua script), closed loop",
        "aiohttp": "aiohttp client in its own process, closed loop",
        "aiohttp-inline": "aiohttp client in the bench process (smoke mode)",
    }[tool]

    use_aimock = not (args.no_aimock or args.smoke)
    for section, run in _sections(args, tool, use_aimock):
        if section not in sections:
            continue
        try:
            run(report)
        except Exception as exc:  # one broken section must not hide the others' figures
            if args.smoke:
                raise
            report.note(f"Section {section} failed: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
    if (1 in sections) != (2 in sections):
        dropped = 2 if 1 in sections else 1
        report.rows = [r for r in report.rows if r.section != dropped]
    report.rows.sort(key=lambda r: r.section)
    report.note(f"Whole run: {time.perf_counter() - started:.0f} s.")

    table = report.markdown()
    print()
    print(table)
    full = sections == ALL and not (args.quick or args.smoke)
    if not args.no_readme and full:
        if update_readme(args.readme, table):
            print(f"table written into {args.readme}")
        else:
            print(f"{args.readme} has no bench markers: table not written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
