"""Section 5: replaying a 200-interaction cassette, resplay's plugin vs vcrpy + pytest-recording.

One test makes 200 openai-client calls (every fourth one streamed) against a resplay server process.
It is recorded twice (``record_mode=once``): through resplay's plugin (``@pytest.mark.resplay``, with
``-p no:recording``) and through pytest-recording (``@pytest.mark.vcr``, with ``-p no:resplay``). Then
each cassette is replayed offline (``--record-mode=none``, server stopped) in a fresh pytest process;
the figure is the test's own time (setup + call + teardown, from the JUnit report: cassette load, 200
matched replays, verification), the median of a few runs. pytest-recording matches on vcrpy's default
(method, scheme, host, port, path, query); resplay matches the JSON body semantically as well.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from .report import Report, Row, ratio
from .servers import _env, start_bench_server

__all__ = ["run_replay"]

_TEST = """
import os

import openai
import pytest

N = int(os.environ["BENCH_N"])
MARK = pytest.mark.resplay if "{plugin}" == "resplay" else pytest.mark.vcr


@MARK
def test_replay():
    client = openai.OpenAI(base_url=os.environ["BENCH_BASE_URL"], api_key="sk-bench", max_retries=0)
    for i in range(N):
        if i % 4 == 3:
            events = list(client.responses.create(model="gpt-4.1-mini", input=f"question {{i}}", stream=True))
            assert events[-1].type == "response.completed"
        else:
            response = client.responses.create(model="gpt-4.1-mini", input=f"question {{i}}")
            assert response.status == "completed"
"""


def _pytest(folder: Path, plugin: str, mode: str, base_url: str, count: int) -> tuple[float, float]:
    """Run the plugin's test file; returns (test seconds from JUnit, process wall seconds)."""
    blocked = ["-p", "no:recording"] if plugin == "resplay" else ["-p", "no:resplay"]
    junit = folder / f"junit-{plugin}.xml"
    env = _env()
    env.update({"BENCH_N": str(count), "BENCH_BASE_URL": base_url})
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"test_{plugin}.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-p",
            "no:randomly",
            *blocked,
            f"--record-mode={mode}",
            f"--junitxml={junit}",
            "-o",
            "junit_duration_report=total",
            "-W",
            "ignore::DeprecationWarning",
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).splitlines()
        why = next(
            (x for x in reversed(lines) if x.startswith(("E ", "ERROR", "FAILED"))),
            lines[-1] if lines else "",
        )
        raise RuntimeError(f"the {plugin} run (record mode {mode}) failed: {why.strip()[:300]}")
    case = ET.parse(junit).getroot().find(".//testcase")
    assert case is not None
    return float(case.get("time", "0")), wall


def run_replay(report: Report, *, count: int = 200, repeat: int = 3) -> None:
    """Measure section 5 and add its row (skipped with a note where a plugin is missing)."""
    missing = [name for name in ("pytest_plugin", "pytest_recording", "vcr") if _find(name) is None]
    if missing:
        report.note(f"Section 5 skipped: {', '.join(missing)} not importable.")
        return
    folder = Path(tempfile.mkdtemp(prefix="resplay-bench-replay-"))
    try:
        (folder / "pytest.ini").write_text("[pytest]\n")
        for plugin in ("resplay", "vcr"):
            (folder / f"test_{plugin}.py").write_text(_TEST.format(plugin=plugin))
        server = start_bench_server("resplay")
        base_url = server.url + "/v1"
        try:
            for plugin in ("resplay", "vcr"):
                _pytest(folder, plugin, "once", base_url, count)
        finally:
            server.stop()
        # Replays run with the server gone: a request that is not answered from the cassette fails.
        times: dict[str, list[float]] = {"resplay": [], "vcr": []}
        walls: dict[str, list[float]] = {"resplay": [], "vcr": []}
        for _ in range(repeat):
            for plugin in ("resplay", "vcr"):
                test_s, wall_s = _pytest(folder, plugin, "none", base_url, count)
                times[plugin].append(test_s)
                walls[plugin].append(wall_s)
        sizes = {
            p: sum(f.stat().st_size for f in (folder / "cassettes" / f"test_{p}").glob("*")) for p in times
        }
    except RuntimeError as exc:
        report.note(f"Section 5 failed: {exc}")
        return
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    ours, base = statistics.median(times["resplay"]), statistics.median(times["vcr"])
    report.add(
        Row(
            5,
            f"replay of a {count}-interaction cassette: test time, ms (baseline: vcrpy + pytest-recording)",
            f"{ours * 1000:.0f}",
            f"{base * 1000:.0f}",
            ratio(ours, base),
        )
    )
    wall_ours, wall_base = statistics.median(walls["resplay"]), statistics.median(walls["vcr"])
    report.add(
        Row(
            5,
            "same, whole pytest process wall time, ms",
            f"{wall_ours * 1000:.0f}",
            f"{wall_base * 1000:.0f}",
            ratio(wall_ours, wall_base),
        )
    )
    report.note(
        f"Section 5: cassette sizes {sizes['resplay'] / 1024:.0f} KB (resplay, readable YAML) vs "
        f"{sizes['vcr'] / 1024:.0f} KB (vcrpy); median of {repeat} replays each."
    )


def _find(module: str) -> object | None:
    import importlib.util

    try:
        return importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None


if __name__ == "__main__":  # pragma: no cover - manual runs
    r = Report()
    run_replay(r, count=int(os.environ.get("BENCH_N", "200")))
    print(r.markdown())
