"""The default model's generator version is visible everywhere a user pins it (docs/default-model.md).

``GET /_resplay/health``, ``resplay --version``, the README, docs/default-model.md and the CHANGELOG all
name the current ``GENERATOR_VERSION``, so a bump that forgets one of them fails here; the golden outputs of
that version are checked by ``tests/golden/``.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from mockserver import MockServer, ServerConfig, __version__
from mockserver.cli import build_parser, main
from mockserver.generator import GENERATOR_VERSION

ROOT = Path(__file__).resolve().parent.parent


def test_health_reports_the_generator_version(server: MockServer) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(server.url + "/_resplay/health", timeout=10) as answer:
        body = json.loads(answer.read())
    assert body == {"status": "ok", "version": __version__, "generator_version": GENERATOR_VERSION}
    assert isinstance(body["generator_version"], int) and body["generator_version"] >= 1


def test_cli_version_names_the_generator_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    expected = f"resplay {__version__} (default model generator {GENERATOR_VERSION})"
    assert capsys.readouterr().out.strip() == expected


def test_docs_name_the_current_generator_version() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    policy = (ROOT / "docs" / "default-model.md").read_text(encoding="utf-8")
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"generator version {GENERATOR_VERSION}" in readme
    assert f"The current generator version is **{GENERATOR_VERSION}**" in policy
    # Every version ever used is introduced by a CHANGELOG line, the current one included.
    assert re.search(rf"[Gg]enerator version {GENERATOR_VERSION}\b", changelog)


def _stream(server: MockServer) -> bytes:
    request = urllib.request.Request(
        server.base_url + "/responses",
        data=json.dumps(
            {"model": "gpt-5.5", "input": "hi", "stream": True, "reasoning": {"effort": "low"}}
        ).encode(),
        headers={"content-type": "application/json", "authorization": "Bearer k"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as answer:
        return bytes(answer.read())


def test_clock_start_makes_two_servers_byte_identical() -> None:
    """The promise's "same clock readings": with ``clock_start`` pinned, created_at and the time digits of ids
    repeat, so two separate seeded servers stream the same bytes (docs/default-model.md)."""
    streams = []
    for _ in range(2):
        with MockServer(seed=11, secret="s", clock_start=1_780_000_000) as server:
            streams.append(_stream(server))
    assert streams[0] == streams[1]
    assert b'"created_at":1780000000' in streams[0] and b"resp_" in streams[0]
    assert f"{1_780_000_000:08x}".encode() in streams[0]  # the time digits inside the ids


def test_clock_start_is_checked_and_reachable_from_the_cli() -> None:
    with pytest.raises(ValueError, match="virtual clock"):
        ServerConfig(clock="real", clock_start=1.0)
    with pytest.raises(ValueError, match="epoch"):
        ServerConfig(clock="virtual", clock_start=2.0**40)
    args = build_parser().parse_args(["serve", "--clock", "virtual", "--clock-start", "1780000000"])
    assert args.clock_start == 1_780_000_000.0
