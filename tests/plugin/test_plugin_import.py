"""``resplay cassettes import``: third-party layouts, the CLI, and the real recordings of ../shared.

The real-traffic test imports every api.openai.com cassette of ../shared/real-traffic and replays it
with the openai SDK through :func:`pytest_plugin.use_cassette` (replay only, fail closed, every
interaction must play). The counts it asserts are the ones the README reports.
"""

from __future__ import annotations

import base64
import gzip
import json
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import openai
import pytest
from plugin_helpers import replay_with_sdk

from mockserver.cli import main as cli_main
from pytest_plugin import CassetteMismatch, UnusedInteractions, use_cassette
from pytest_plugin.cassette import load_yaml
from pytest_plugin.importer import import_cassette
from tests.conftest import shared_or_skip

BODY = {"id": "resp_68c2e8c147ac819491bcd667055eadbc02e845978fbbb592", "object": "response", "output": []}


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def load(path: Path) -> dict[str, Any]:
    return load_yaml(path.read_text())  # libyaml: pure-Python PyYAML would dominate the run time


def test_pydantic_ai_parsed_body(tmp_path: Path) -> None:
    source = write(
        tmp_path / "in.yaml",
        """
        interactions:
        - request:
            headers: {content-type: [application/json], authorization: [Bearer sk-live-0123456789abcdef]}
            method: POST
            parsed_body: {model: gpt-4o, input: [{role: user, content: Hi}], stream: false}
            uri: https://api.openai.com/v1/responses
          response:
            headers: {content-type: [application/json]}
            parsed_body:
              {id: resp_68c2e8c147ac819491bcd667055eadbc02e845978fbbb592, object: response, output: []}
            status: {code: 200, message: OK}
        version: 1
        """,
    )
    report = import_cassette(source, tmp_path / "out.yaml", environ={})
    assert report.ok and report.notes == ["pydantic-ai parsed_body"]
    interaction = load(tmp_path / "out.yaml")["interactions"][0]
    assert interaction["request"]["body"]["json"]["input"][0]["content"] == "Hi"
    assert interaction["request"]["headers"]["authorization"] == ["REDACTED"]
    assert interaction["response"]["body"]["json"] == BODY


def test_gzip_binary_legacy_httpx_and_crewai_placeholders(tmp_path: Path) -> None:
    packed = base64.b64encode(gzip.compress(json.dumps(BODY).encode())).decode()
    source = write(
        tmp_path / "in.yaml",
        f"""
        interactions:
        - request:
            body: '{{"model":"gpt-4.1","input":"hi"}}'
            headers:
              authorization: [AUTHORIZATION-XXX]
              User-Agent: [X-USER-AGENT-XXX]
              content-type: [application/json]
            method: POST
            uri: https://api.openai.com/v1/responses
          response:
            body:
              string: !!binary |
                {packed}
            headers:
              Content-Encoding: [gzip]
              Content-Type: [application/json]
              CF-RAY: [CF-RAY-XXX]
            status: {{code: 200, message: OK}}
        - request:
            body: null
            headers: {{}}
            method: GET
            uri: https://api.openai.com/v1/models
          response:
            status_code: 200
            http_version: HTTP/1.1
            headers: {{content-type: application/json}}
            content: '{{"object": "list", "data": []}}'
        version: 1
        """,
    )
    report = import_cassette(source, tmp_path / "out.yaml", environ={})
    assert report.ok, report.error
    assert report.notes == ["crewAI placeholder headers dropped", "gzip body decoded", "legacy httpx layout"]
    first, second = load(tmp_path / "out.yaml")["interactions"]
    headers = first["request"]["headers"]
    assert headers == {"authorization": ["REDACTED"], "content-type": ["application/json"]}
    assert {"CF-RAY", "Content-Encoding"}.isdisjoint(first["response"]["headers"])
    assert first["response"]["body"]["json"] == BODY
    assert second["response"]["status"] == {"code": 200, "message": "OK"}
    assert second["response"]["body"] == {"json": {"object": "list", "data": []}, "style": "spaced"}


def test_cli_imports_folders_and_reports_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src" / "deep"
    src.mkdir(parents=True)
    write(
        src / "ok.yaml",
        """
        interactions:
        - request: {body: null, headers: {}, method: GET, uri: 'https://api.openai.com/v1/models'}
          response: {body: {string: ''}, headers: {}, status: {code: 204, message: No Content}}
        version: 1
        """,
    )
    write(src / "ws.yaml", "interactions:\n- direction: sent\n  data: {}\n")
    write(src / "bad.yaml", "interactions: [\n")
    code = cli_main(["cassettes", "import", str(tmp_path / "src"), "-o", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 1
    assert (tmp_path / "out" / "deep" / "ok.yaml").is_file()
    assert "ok    " in out and "1 interactions" in out
    assert "WebSocket (Realtime) cassette" in err and "not valid YAML" in err

    assert cli_main(["cassettes", "import", "--in-place", str(src / "ok.yaml")]) == 0
    assert load(src / "ok.yaml")["format_version"] == 1


def test_imported_cassettes_replay_with_the_openai_sdk(tmp_path: Path) -> None:
    source = write(
        tmp_path / "in.yaml",
        f"""
        interactions:
        - request:
            body: '{{"model":"gpt-4.1","input":"hi"}}'
            headers: {{content-type: [application/json]}}
            method: POST
            uri: https://api.openai.com/v1/responses
          response:
            body: {{string: '{json.dumps(BODY)}'}}
            headers: {{content-type: [application/json]}}
            status: {{code: 200, message: OK}}
        version: 1
        """,
    )
    assert import_cassette(source, tmp_path / "out.yaml", environ={}).ok
    with (
        use_cassette(tmp_path / "out.yaml"),
        openai.OpenAI(api_key="sk-x1234567890", max_retries=0) as client,
    ):
        assert client.responses.create(model="gpt-4.1", input="hi").id == BODY["id"]
    with (
        pytest.raises(CassetteMismatch),
        use_cassette(tmp_path / "out.yaml"),
        openai.OpenAI(api_key="sk-x1234567890", max_retries=0) as client,
    ):
        client.responses.create(model="gpt-4.1", input="bye")
    with pytest.raises(UnusedInteractions), use_cassette(tmp_path / "out.yaml"):
        pass


# ------------------------------------------------------------------------------------ real traffic
def test_real_traffic_cassettes_import_and_replay(tmp_path: Path) -> None:
    root = shared_or_skip() / "real-traffic"
    sources = sorted(p for p in root.rglob("*.yaml"))
    verdicts: Counter[str] = Counter()
    failures = []
    client = openai.OpenAI(
        api_key="sk-replay-0123456789", base_url="https://api.openai.com/v1", max_retries=0
    )
    for index, source in enumerate(sources):
        report = import_cassette(source, tmp_path / f"{index}.yaml", environ={})
        if not report.ok:
            verdicts["not imported: " + (report.error or "")] += 1
            continue
        verdict = replay_with_sdk(tmp_path / f"{index}.yaml", client)
        verdicts[verdict] += 1
        if verdict not in ("clean", "another host", "multipart upload"):
            failures.append(f"{source.relative_to(root)}: {verdict}")
    client.close()
    # The README's figures (section "Imported real traffic"): keep them in step.
    assert failures == [], "\n".join(failures)
    assert verdicts == {
        "clean": 159,
        "another host": 8,
        "multipart upload": 6,
        "not imported: a WebSocket (Realtime) cassette, not HTTP interactions": 2,
    }
