"""Smoke test of the benchmark harness (``bench/``): it still runs end to end and prints its table.

``python -m bench --smoke`` starts resplay and the bare handler in their own processes, sends a few
requests of each kind and renders the table. No timing is asserted (speed targets live in
``make bench`` only); the test fails when the harness rots: a server that no longer starts, an answer
that is no longer a complete response, a table that lost its rows.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_smoke_run_prints_every_http_row_next_to_its_baseline() -> None:
    done = _bench("--smoke", "--no-readme")
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout
    assert "Machine: " in table and "cores" in table
    rows = [line for line in table.splitlines() if line.startswith("| 1 ") or line.startswith("| 2 ")]
    # Sections 1 and 2 at one connection: a req/s row and a latency row each.
    assert len(rows) == 4, table
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        resplay, baseline, ratio = cells[2], cells[3], cells[4]
        assert re.fullmatch(r"[\d,.]+( / [\d.]+)?", resplay), row
        assert re.fullmatch(r"[\d,.]+( / [\d.]+)?", baseline), row
        assert ratio.endswith("×"), row
    # The streamed answer was checked as a full stream (event count in the label).
    assert re.search(r"stream create \((\d+) events", table)


def test_memory_probe_stores_every_response() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from bench.memory import measure
    finally:
        sys.path.remove(str(ROOT))
    data = measure(50)
    assert data["count"] == 50
    assert data["json_bytes"] > 500  # a full Response object, not an error envelope
    assert data["create_us"] > 0


def test_update_readme_replaces_only_the_marked_block(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from bench.report import README_BEGIN, README_END, update_readme
    finally:
        sys.path.remove(str(ROOT))
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{README_BEGIN}\nold table\n{README_END}\n\nafter\n")
    assert update_readme(readme, "| new |\n")
    assert readme.read_text() == f"# x\n\n{README_BEGIN}\n| new |\n{README_END}\n\nafter\n"
    (tmp_path / "plain.md").write_text("no markers\n")
    assert not update_readme(tmp_path / "plain.md", "| new |\n")


@pytest.mark.parametrize("body", ['{"input":"]]"}', '{"input":"]=]"}'])
def test_wrk_script_quotes_any_body(body: str) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from bench.loadgen import wrk_script
    finally:
        sys.path.remove(str(ROOT))
    script = wrk_script(body.encode(), {"Content-Type": "application/json"})
    line = next(x for x in script.splitlines() if x.startswith("wrk.body"))
    opening = re.match(r"wrk\.body = \[(=*)\[", line)
    assert opening is not None
    level = opening.group(1)
    assert line == f"wrk.body = [{level}[{body}]{level}]"
    assert f"]{level}]" not in body
