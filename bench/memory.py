"""Section 6: memory per stored response with 100k responses stored.

A fresh interpreter (``python -m bench.memory``) creates N small responses through ``Engine.create``
(validation, ids, token counts, store all on) and reports the growth of its resident set after a full
collection, divided by N. The baseline is the size of the same ``Response`` as compact JSON: what a
store that kept serialized bytes would need. The HTTP journal (one entry per request, kept until
reset) is not part of the figure; it is measured separately per request.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time

from .report import Report, Row, ratio
from .servers import ROOT, _env

__all__ = ["measure", "run_memory"]

BODY = {"model": "gpt-4.1-mini", "input": "hello"}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(count: int) -> dict[str, float]:
    """Create ``count`` responses in this process; bytes per stored response and per JSON body."""
    import orjson

    from mockserver.config import ServerConfig
    from mockserver.engine import Engine

    engine = Engine(ServerConfig(seed=1, clock="real"))
    sample = engine.create(dict(BODY))  # warm caches (token memo, catalogue) before the baseline
    json_bytes = len(orjson.dumps(sample.response))
    engine.reset()
    gc.collect()
    before = _rss_bytes()
    started = time.perf_counter()
    for _ in range(count):
        engine.create(dict(BODY))
    elapsed = time.perf_counter() - started
    gc.collect()
    after = _rss_bytes()
    stored = engine.store.count()
    return {
        "count": stored,
        "bytes_per_response": (after - before) / max(1, stored),
        "json_bytes": json_bytes,
        "create_us": elapsed / count * 1e6,
    }


def run_memory(report: Report, count: int = 100_000) -> None:
    """Measure section 6 in a child process and add its row."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.memory", str(count)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    per = data["bytes_per_response"]
    report.add(
        Row(
            6,
            f"memory per stored response, {int(data['count']):,} stored, KB (baseline: its compact JSON)",
            f"{per / 1024:.2f}",
            f"{data['json_bytes'] / 1024:.2f}",
            ratio(per, data["json_bytes"]),
        )
    )
    report.note(
        f"Section 6: {int(data['count']):,} `Engine.create` calls in a fresh process "
        f"({data['create_us']:.0f} µs each, no HTTP); resident-set growth after `gc.collect()`."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory")
    parser.add_argument("count", type=int, nargs="?", default=100_000)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.count)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
