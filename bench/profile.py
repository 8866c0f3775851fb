"""Where a loaded resplay server spends its time: ``python -m bench.profile [--mode json|sse]``.

Starts resplay in its own process, loads it (wrk, or the aiohttp generator) at 32 connections, samples
it with py-spy (``pip install py-spy``) and prints the functions with the largest inclusive and self
shares of the samples. The profiles quoted in ``docs/performance.md`` come from here.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .http_load import BODY_JSON, BODY_SSE, HEADERS, probe
from .loadgen import run_load, wrk_path
from .servers import start_bench_server

_FRAME = re.compile(r"(.*) \((.*?):\d+\)$")


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match.group(2)
    for marker in ("site-packages/", "/lib/python3", "/work/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match.group(1)} ({path.split('/', 1)[-1] if path.startswith('.') else path})"


def aggregate(raw: str) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    """Collapsed stacks (py-spy ``--format raw``) -> (samples, inclusive counts, self counts)."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        for frame in set(frames):
            inclusive[frame] += n
        if frames:
            own[frames[-1]] += n
    return total, inclusive, own


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--mode", choices=("json", "sse"), default="json")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 2
    server = start_bench_server("resplay", loop=args.loop)
    out = Path(tempfile.mkdtemp(prefix="resplay-profile-")) / "stacks.txt"
    body = BODY_SSE if args.mode == "sse" else BODY_JSON
    tool = "wrk" if wrk_path() else "aiohttp"
    try:
        probe(server, stream=args.mode == "sse")  # loads the tokenizer (about a second) before sampling
        load = threading.Thread(
            target=run_load,
            args=(server.url + "/v1/responses", body, HEADERS),
            kwargs={"connections": 32, "duration": args.seconds + 3, "tool": tool},
        )
        load.start()
        subprocess.run(
            [
                spy,
                "record",
                "-p",
                str(server.process.pid),
                "-d",
                str(int(args.seconds)),
                "-r",
                "400",
                "-f",
                "raw",
                "-o",
                str(out),
            ],
            capture_output=True,
            check=True,
            timeout=args.seconds + 60,
        )
        load.join()
    finally:
        server.stop()
    total, inclusive, own = aggregate(out.read_text())
    print(f"{total} samples, {args.mode}, {tool}, 32 connections")
    print("inclusive:")
    for name, n in inclusive.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {name}")
    print("self:")
    for name, n in own.most_common(args.top // 2):
        print(f"  {100 * n / total:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
