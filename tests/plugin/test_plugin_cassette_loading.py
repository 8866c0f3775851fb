"""Loading a cassette for replay: fast, exactly what it was, and never rewritten (docs/performance.md).

``load_yaml`` builds plain documents straight from the parser's events and hands anything unusual to
``yaml.load``; these tests compare the two on documents that exercise every scalar type, the shapes
that must fall back, broken files, generated data and the repository's own cassettes. Reading and
matching cassettes must not import the mock server (its package imports lazily).
"""

from __future__ import annotations

import datetime
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml
from hypothesis import given, settings, strategies as st
from plugin_helpers import replay_with_sdk
from strategies import json_values

from pytest_plugin import cassette
from pytest_plugin.cassette import dump_yaml, load_yaml
from pytest_plugin.errors import CassetteFormatError

ROOT = Path(__file__).resolve().parents[2]


def same(a: Any, b: Any) -> bool:
    """Equal with the same types and key order (``1 == 1.0 == True`` would hide a wrong type)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def full(text: str) -> Any:
    return yaml.load(text, Loader=cassette._Loader)


PLAIN = """\
format_version: 1
interactions:
- request: {method: POST, uri: 'https://x/v1/responses', body: null}
  response:
    status: {code: 200, message: OK}
    body:
      sse:
      - event: response.created
        data: {type: response.created, sequence_number: 0, n: 1.0, ok: true}
scalars:
  ints: [0, -7, +3, 0x1F, 0o17, 017, 0b101, 1_000, '12', "13", 190:20:30]
  floats: [1.5, -0.0, 1e3, 6.8523015e+5, .inf, -.Inf, .nan, 1_0.5, 190:20:30.15]
  bools: [yes, No, on, OFF, true, False, y, n]
  nulls: [~, null, Null, '', "~"]
  times: [2001-12-14, 2001-12-14t21:59:43.10-05:00, 2001-12-14 21:59:43.10, '2001-12-14']
  strings: [plain text, "quoted: yes", 'single', "é \\u2028 \\t", '1.5', "true"]
  block: |
    line one
      line two
  folded: >-
    folded
    text
  dup: 1
  dup: 2
  7: int key
  1.5: float key
  null: null key
  true: bool key
  empty_map: {}
  empty_list: []
  nested: [[1, [2, {a: [3]}]], {b: {c: {}}}]
"""

UNUSUAL = {
    "binary": "body: !!binary aGVsbG8=\n",
    "explicit str tag": "a: !!str 12\n",
    "non-specific tag": "a: ! 12\n",
    "python tag": "headers: !!python/tuple [a, b]\n",
    "anchor and alias": "a: &x [1, 2]\nb: *x\n",
    "merge key": "base: &b {x: 1}\nc:\n  <<: *b\n  y: 2\n",
    "set": "s: !!set {a, b}\n",
    "omap": "o: !!omap [{a: 1}, {b: 2}]\n",
    "complex key": "? [a, b]\n: c\n",
    "mapping key": "? {a: 1}\n: c\n",
    "value key": "=: 1\n",
    "bad timestamp": "t: 2001-02-30\n",
    "two documents": "a: 1\n---\nb: 2\n",
    "empty": "",
    "comments only": "# nothing\n",
    "scalar root": "just text\n",
    "list root": "- 1\n- 2\n",
    "syntax error": "a: [1, 2\nb: 3\n",
    "tab indent": "a:\n\tb: 1\n",
    "duplicate anchor": "a: &x 1\nb: &x 2\n",
    "undefined alias": "a: *nope\n",
}


def test_plain_documents_take_the_fast_path_and_equal_the_safe_loader() -> None:
    fast = cassette._load_events(PLAIN)
    assert same(fast, full(PLAIN))
    # Spot checks that the comparison is not vacuous: YAML 1.1 types, key order, last duplicate wins.
    assert fast["scalars"]["ints"][:6] == [0, -7, 3, 31, "0o17", 15]  # 0o is not YAML 1.1
    assert fast["scalars"]["ints"][-1] == 685230  # sexagesimal
    assert fast["scalars"]["bools"] == [True, False, True, False, True, False, "y", "n"]
    assert isinstance(fast["scalars"]["times"][0], datetime.date)
    assert fast["scalars"]["strings"][1] == "quoted: yes"
    assert list(fast["scalars"])[-6:] == [1.5, None, True, "empty_map", "empty_list", "nested"]
    assert fast["scalars"]["dup"] == 2


@pytest.mark.parametrize("name", sorted(UNUSUAL))
def test_unusual_documents_fall_back_to_the_safe_loader(name: str) -> None:
    text = UNUSUAL[name]
    try:
        expected: Any = full(text)
    except Exception as exc:  # the same error must reach the caller
        expected = exc
    if name not in ("list root", "scalar root"):
        with pytest.raises(Exception):  # noqa: B017 - any reason to refuse the fast path will do
            cassette._load_events(text)
    if isinstance(expected, dict):
        assert same(load_yaml(text), expected)
    elif isinstance(expected, yaml.YAMLError):
        with pytest.raises(CassetteFormatError) as caught:
            load_yaml(text, source="c.yaml")
        assert str(caught.value) == f"c.yaml: not valid YAML: {expected}"
    elif isinstance(expected, Exception):
        with pytest.raises(type(expected)) as other:
            load_yaml(text)
        assert str(other.value) == str(expected)
    else:  # not a mapping: not a cassette, as before
        with pytest.raises(CassetteFormatError, match="not a cassette"):
            load_yaml(text)


JSON_LIKE = json_values(text=30, keys=10, width=4, leaves=25, bound=2**70)


@settings(max_examples=150, deadline=None)
@given(JSON_LIKE)
def test_generated_documents_read_back_identically(data: Any) -> None:
    text = dump_yaml({"interactions": [], "data": data})
    assert same(cassette._load_events(text), full(text))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab01:.-+_ex~!&*?[]{},#|>'\"\n\t yY", max_size=40))
def test_arbitrary_text_gives_the_safe_loaders_result_or_error(text: str) -> None:
    try:
        expected: Any = full(text)
    except Exception as exc:
        expected = exc
    try:
        got: Any = cassette._load_events(text)
    except Exception:
        return  # refused: load_yaml runs the safe loader itself
    assert not isinstance(expected, Exception), f"fast path accepted what the safe loader refuses: {text!r}"
    assert same(got, expected)


def test_every_cassette_in_the_repository_reads_the_same() -> None:
    files = sorted((ROOT / "cassettes").rglob("*.yaml"))
    assert files, "the repository's cassettes are missing"
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert same(load_yaml(text), full(text)), path


def test_replaying_a_cassette_does_not_import_the_server() -> None:
    code = (
        "import sys\n"
        "import pytest_plugin.http, pytest_plugin.bodies, pytest_plugin.serializers, mockserver.sse\n"
        "from pytest_plugin.bodies import render_sse\n"
        "assert render_sse(b'event: a\\ndata: {}\\n\\n') == [{'event': 'a', 'data': {}}]\n"
        "print(sorted(m for m in sys.modules if m.startswith('mockserver')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['mockserver', 'mockserver.sse']"
    # The lazy names still resolve, for ``from mockserver import MockServer`` and attribute access.
    import mockserver

    assert mockserver.MockServer.__name__ == "MockServer"
    with pytest.raises(AttributeError):
        _ = mockserver.NoSuchName  # type: ignore[attr-defined]


IMPORTED = sorted(p.stem for p in (ROOT / "cassettes" / "imported").glob("*.yaml"))


@pytest.mark.parametrize("name", IMPORTED)
def test_a_replay_leaves_the_cassette_file_untouched(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.yaml"
    shutil.copyfile(ROOT / "cassettes" / "imported" / f"{name}.yaml", path)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = path.read_bytes()
    client = openai.OpenAI(base_url="https://api.openai.com/v1", api_key="sk-test", max_retries=0)
    assert replay_with_sdk(path, client) == "clean"
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == 1_000_000_000  # not even rewritten with the same bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no cache or temporary files
