"""The built wheel works on its own (issue 14): build, install into a fresh venv, serve and test from it.

The wheel is built offline with the build backend already installed (``--no-build-isolation``); the fresh
venv gets only the wheel, and reaches the third-party dependencies through a ``.pth`` line to this venv's
site-packages (no index is contacted). A check makes sure ``mockserver`` is imported from the fresh venv and
not from the working tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import openai
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the resplay wheel installed; yields its bin/ folder (one test uses it: under xdist
    a shared fixture would be built once per worker)."""
    pytest.importorskip(
        "hatchling", reason="the build backend (hatchling, in the test extra) is needed offline"
    )
    work = tmp_path_factory.mktemp("wheel")
    out = work / "dist"
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
        ],
        check=True,
        env=env,
        timeout=300,
    )
    wheels = list(out.glob("resplay-*.whl"))
    assert len(wheels) == 1, wheels
    target = work / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    bindir = target / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheels[0])],
        check=True,
        env=env,
        timeout=300,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Dependencies only: a plain path line, so this venv's editable .pth (the working tree) is not processed.
    Path(purelib, "zz_resplay_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return bindir


def _run(bindir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bindir / "python"), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _imported_from(fresh: Path, tmp_path: Path) -> tuple[str, str]:
    """(``mockserver.__file__``, whether the package data file exists) as the fresh venv sees them."""
    done = _run(fresh, "-c", "import mockserver, pytest_plugin; print(mockserver.__file__)", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = _run(fresh, "-c", "import mockserver.catalog as c; print(c.DATA_FILE.is_file())", cwd=tmp_path)
    return done.stdout.strip(), data.stdout.strip()


def _serve_and_create(fresh: Path, tmp_path: Path) -> str:
    """Run the wheel's ``resplay serve --port 0`` and return the status of one create against it."""
    proc = subprocess.Popen(
        [str(fresh / "resplay"), "serve", "--port", "0", "--seed", "3"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("resplay listening on http://"), (
            line,
            proc.stderr.read() if proc.poll() else "",
        )
        base = line.split()[-1]
        with openai.OpenAI(base_url=base, api_key="sk-wheel", max_retries=0) as client:
            assert any(m.id == "gpt-5.5" for m in client.models.list().data)
            return client.responses.create(model="gpt-5.5", input="hi from the wheel").status
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _run_plugin_test(fresh: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a test that uses the plugin's ``openai_client`` fixture with the wheel's pytest plugin."""
    (tmp_path / "test_inner.py").write_text(
        "def test_inner(openai_client):\n"
        "    r = openai_client.responses.create(model='gpt-5.5', input='hi')\n"
        "    assert r.status == 'completed'\n"
    )
    return _run(fresh, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_inner.py", cwd=tmp_path)


def test_wheel_in_a_fresh_venv(fresh: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Build, install, import from the venv (not the tree), ``resplay serve --port 0``, a plugin test."""
    module_file, has_data = _imported_from(fresh, tmp_path_factory.mktemp("imports"))
    assert str(fresh.parent) in module_file
    assert str(ROOT) not in module_file
    assert has_data == "True"  # package data (models.json) is in the wheel
    assert _serve_and_create(fresh, tmp_path_factory.mktemp("serve")) == "completed"
    inner = _run_plugin_test(fresh, tmp_path_factory.mktemp("plugin"))
    assert inner.returncode == 0, inner.stdout + inner.stderr
    assert "1 passed" in inner.stdout
