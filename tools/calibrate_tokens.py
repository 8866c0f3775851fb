"""Calibrate and check resplay's token counts against the usage recorded in real traffic (DECISIONS 16).

Walks the vcrpy cassettes under ``<shared>/real-traffic`` (``$RESPLAY_SHARED`` or ``../shared`` next to the
repository), keeps the exchanges with **api.openai.com** whose response (JSON body, or the terminal event
of an SSE stream) carries ``usage.input_tokens`` (``/v1/responses/input_tokens`` answers carry it at the
top level), renders each recorded request with :func:`mockserver.tokens.count_input` and compares.

Excluded, and counted in the report:

* requests with ``previous_response_id`` or ``conversation`` (the prior context is not in the recording);
* requests with ``input_image`` / ``input_file`` parts (their cost depends on pixels / pages resplay does
  not decode; :data:`~mockserver.tokens.IMAGE_TOKENS` and :data:`~mockserver.tokens.FILE_TOKENS` are chosen
  constants, their error is printed separately for information);
* ``reasoning.mode: "pro"`` (a hidden preamble, :data:`~mockserver.tokens.PRO_MODE_TOKENS`, measured from
  the only such recording);
* recordings whose ``input_tokens`` is 0 (hand-edited cassettes);
* exact duplicates (same request body and same usage), which several projects record more than once.

Usage::

    python tools/calibrate_tokens.py             # per-recording table + summary with the current constants
    python tools/calibrate_tokens.py --fit       # also fit the constants (least squares + integer search)
    python tools/calibrate_tokens.py --verify-tokenizer   # quicktok vs tiktoken on the traffic corpus
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import gzip
import hashlib
import json
import os
import statistics
import sys
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mockserver import catalog, tokens  # noqa: E402


def _say(*parts: object) -> None:
    """Write one line to stdout (the tool's report)."""
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")


def shared_root() -> Path:
    """``$RESPLAY_SHARED`` or the ``shared`` folder beside the repository (DECISIONS 25)."""
    env = os.environ.get("RESPLAY_SHARED")
    return Path(env) if env else REPO.parent / "shared"


# --- reading the recordings --------------------------------------------------------------------------------


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader that turns python/* tags (aiohttp header keys in some cassettes) into plain values."""


def _python_tag(loader: Any, suffix: str, node: Any) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_scalar(node)


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", _python_tag)


def _text(body: Any) -> Any:
    """A recorded body as str, or the pre-parsed mapping (pydantic-ai ``parsed_body``)."""
    if isinstance(body, Mapping) and "string" in body:
        return _text(body["string"])
    if isinstance(body, bytes):
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        else:
            with contextlib.suppress(zlib.error):
                body = zlib.decompress(body)
        return body.decode("utf-8", "replace")
    return body


def _json_or_none(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _sse_terminal(text: str) -> dict[str, Any] | None:
    """The ``response`` of the last terminal event of an SSE body."""
    found: dict[str, Any] | None = None
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        data = _json_or_none(line[5:].strip())
        if isinstance(data, dict) and data.get("type") in (
            "response.completed",
            "response.incomplete",
            "response.failed",
        ):
            resp = data.get("response")
            if isinstance(resp, dict):
                found = resp
    return found


@dataclass
class Recording:
    """One recorded request with the ``input_tokens`` the real API reported for it."""

    file: str
    index: int
    endpoint: str
    request: dict[str, Any]
    input_tokens: int
    output_types: list[str] = field(default_factory=list)
    created_at: float | None = None
    reasoning_hints: dict[str, int] = field(default_factory=dict)
    excluded: str | None = None
    predicted: int = 0
    text_tokens: int = 0
    markers: dict[str, int] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return str(self.request.get("model"))

    @property
    def error_pct(self) -> float:
        return 100.0 * (self.predicted - self.input_tokens) / max(1, self.input_tokens)


def iter_recordings(root: Path) -> Iterator[Recording]:
    """Every api.openai.com Responses exchange under ``root`` whose answer reports ``input_tokens``."""
    for path in sorted(root.rglob("*.yaml")):
        try:
            with path.open("rb") as fh:
                doc = yaml.load(fh, Loader=_Loader)
        except yaml.YAMLError:
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("interactions"), list):
            continue
        found: list[Recording] = []
        hints: dict[str, int] = {}
        for index, inter in enumerate(doc["interactions"]):
            if not isinstance(inter, dict) or "request" not in inter:
                continue
            rq, rs = inter.get("request") or {}, inter.get("response") or {}
            uri = str(rq.get("uri") or "")
            if "://api.openai.com/" not in uri or "/responses" not in uri:
                continue
            request = _json_or_none(_text(rq.get("parsed_body", rq.get("body"))))
            if not isinstance(request, dict) or not isinstance(request.get("model"), str):
                continue
            body = _text(rs.get("parsed_body", rs.get("body")))
            answer = _json_or_none(body)
            if answer is None and isinstance(body, str):
                answer = _sse_terminal(body)
            if not isinstance(answer, dict):
                continue
            hints.update(_reasoning_hints(answer))
            endpoint = uri.split("api.openai.com", 1)[1].split("?", 1)[0]
            usage = answer.get("usage")
            count = usage.get("input_tokens") if isinstance(usage, dict) else None
            if count is None and endpoint.endswith("/input_tokens"):
                count = answer.get("input_tokens")
            if not isinstance(count, int) or endpoint.endswith("/compact"):
                continue
            output = answer.get("output") if isinstance(answer.get("output"), list) else []
            types = [str(o.get("type")) for o in output if isinstance(o, dict)]
            created = answer.get("created_at")
            found.append(
                Recording(
                    str(path.relative_to(root)),
                    index,
                    endpoint,
                    request,
                    count,
                    types,
                    float(created) if isinstance(created, (int, float)) else None,
                )
            )
        for rec in found:
            rec.reasoning_hints = hints
            yield rec


def _reasoning_hints(response: Mapping[str, Any]) -> dict[str, int]:
    """Reasoning item id -> hidden reasoning tokens, from a recorded response's usage.

    When a response has several reasoning items their tokens are split evenly (the split is unknown).
    """
    usage = response.get("usage")
    details = usage.get("output_tokens_details") if isinstance(usage, Mapping) else None
    total = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
    output = response.get("output")
    if not isinstance(total, int) or not isinstance(output, list):
        return {}
    ids = [o["id"] for o in output if isinstance(o, Mapping) and o.get("type") == "reasoning" and o.get("id")]
    return {str(i): total // len(ids) for i in ids} if ids else {}


HOSTED_CALLS = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "code_interpreter_call",
        "image_generation_call",
        "mcp_call",
        "tool_search_call",
    }
)
"""Output items of tools the server runs inside the response: each run is another internal model call,
and ``usage.input_tokens`` sums the inputs of all of them."""


LAUNCH_ERA_END = 1743465600.0  # 2025-04-01T00:00:00Z
"""Recordings made before this (the Responses API's launch month, March 2025) carry a hidden preamble the
API no longer adds: "1+1?" on gpt-4o cost 29 input tokens on 2025-03-10 and 11 from 2025-04 on; a strict
function tool cost ~200 more. They do not describe today's API."""


def _exclusion(rec: Recording) -> str | None:
    req = rec.request
    if req.get("previous_response_id") or req.get("conversation"):
        return "previous_response_id/conversation (prior context not recorded)"
    if rec.input_tokens <= 0:
        return "input_tokens is 0 (edited cassette)"
    if rec.created_at is not None and rec.created_at < LAUNCH_ERA_END:
        return "launch-era recording (March 2025: extra hidden preamble since removed)"
    if '"compaction"' in json.dumps(req.get("input")):
        return "foreign compaction item (opaque; COMPACTION_TOKENS_PER_CHAR measured on these)"
    if (req.get("reasoning") or {}).get("mode") == "pro":
        return "reasoning.mode=pro (hidden preamble, PRO_MODE_TOKENS)"
    blob = json.dumps(req.get("input"))
    if '"input_image"' in blob or '"input_file"' in blob:
        return "input_image/input_file (pixels/pages not decoded; chosen constants)"
    items = request_items(req)
    search_calls = {str(i.get("id")) for i in items if i.get("type") == "tool_search_call"}
    if search_calls and not any(i.get("type") == "tool_search_output" for i in items):
        return "server-side items referenced but not sent (tool_search_call without its output)"
    if HOSTED_CALLS.intersection(rec.output_types):
        return "a hosted tool ran inside the response (usage sums several internal model calls)"
    return None


def load(root: Path) -> list[Recording]:
    """All recordings, de-duplicated, with ``excluded`` set where they cannot be rendered fully."""
    seen: set[str] = set()
    out: list[Recording] = []
    for rec in iter_recordings(root):
        key = hashlib.sha256(json.dumps([rec.request, rec.input_tokens], sort_keys=True).encode()).hexdigest()
        if key in seen:
            continue
        seen.add(key)
        rec.excluded = _exclusion(rec)
        out.append(rec)
    return out


# --- rendering a recorded request --------------------------------------------------------------------------


def request_items(request: Mapping[str, Any], hints: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """The request's ``input`` as a list of items (a string is one user message).

    Reasoning items produced by a recorded response get its reasoning token count as their ``_tokens``
    hint, as the engine does for its own items.
    """
    value = request.get("input")
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list):
        return []
    items = [dict(item) for item in value if isinstance(item, Mapping)]
    for item in items:
        if item.get("type") == "reasoning" and hints and str(item.get("id")) in hints:
            item["_tokens"] = hints[str(item.get("id"))]
    return items


def render(rec: Recording) -> None:
    """Fill ``predicted``, ``text_tokens`` and ``markers`` of a recording with the current constants."""
    req = rec.request
    info = catalog.DEFAULT_CATALOG.lookup(rec.model)
    encoding = info.encoding if info else "o200k_base"
    style = info.token_style if info else "harmony"
    text_cfg = req.get("text") if isinstance(req.get("text"), Mapping) else {}
    reasoning_cfg = req.get("reasoning") if isinstance(req.get("reasoning"), Mapping) else {}
    context = reasoning_cfg.get("context") if isinstance(reasoning_cfg, Mapping) else None
    if context not in ("current_turn", "all_turns"):
        context = (info.reasoning_context if info else None) or "current_turn"
    kwargs: dict[str, Any] = {
        "instructions": req.get("instructions") if isinstance(req.get("instructions"), str) else None,
        "tools": [t for t in req.get("tools") or [] if isinstance(t, Mapping)],
        "items": request_items(req, rec.reasoning_hints),
        "encoding": encoding,
        "style": style,
        "text_format": text_cfg.get("format") if isinstance(text_cfg, Mapping) else None,
        "reasoning_context": context,
    }
    rec.predicted = tokens.count_input(**kwargs)
    rec.text_tokens, rec.markers = tokens.input_breakdown(**kwargs)


def style_of(rec: Recording) -> str:
    info = catalog.DEFAULT_CATALOG.lookup(rec.model)
    return info.token_style if info else "harmony"


# --- fitting -----------------------------------------------------------------------------------------------


def _params(recs: Sequence[Recording]) -> list[tuple[str, str]]:
    """The (style, key) / ("builtin", type) constants the recordings exercise."""
    found: set[tuple[str, str]] = set()
    for rec in recs:
        for key in rec.markers:
            if key.startswith("="):
                continue
            if key.startswith("builtin:"):
                found.add(("builtin", key[8:]))
            else:
                found.add((style_of(rec), key))
    return sorted(found)


def _get(param: tuple[str, str]) -> int:
    group, key = param
    if group == "builtin":
        return tokens.BUILTIN_TOOL_TOKENS.get(key, 300)
    return tokens.OVERHEADS[group][key]


def _set(param: tuple[str, str], value: int) -> None:
    group, key = param
    if group == "builtin":
        tokens.BUILTIN_TOOL_TOKENS[key] = value
    else:
        tokens.OVERHEADS[group][key] = value


def _predict(rec: Recording, values: Mapping[tuple[str, str], int]) -> int:
    total = rec.text_tokens
    style = style_of(rec)
    for key, n in rec.markers.items():
        if key.startswith("="):
            total += n * int(key[1:])
        elif key.startswith("builtin:"):
            total += n * values.get(("builtin", key[8:]), 300)
        else:
            total += n * values.get((style, key), tokens.OVERHEADS[style][key])
    return total


def _loss(recs: Sequence[Recording], values: Mapping[tuple[str, str], int]) -> float:
    """Mean absolute relative error, with a small pull towards exactness on tiny requests."""
    errs = [abs(_predict(r, values) - r.input_tokens) / r.input_tokens for r in recs]
    return sum(errs) / len(errs)


def fit(recs: Sequence[Recording], *, rounds: int = 6) -> dict[tuple[str, str], int]:
    """Integer coordinate descent on the mean absolute % error, from the current constants.

    Least squares on relative error would chase the few large hosted-tool requests; minimizing the mean
    absolute percentage error directly is robust and the parameter count is small.
    """
    params = _params(recs)
    values = {p: _get(p) for p in params}
    best = _loss(recs, values)
    for _ in range(rounds):
        improved = False
        for p in params:
            span = max(8, values[p] // 4)
            for step in (span, span // 2, 8, 4, 2, 1):
                for sign in (1, -1):
                    while True:
                        trial = dict(values)
                        trial[p] = max(0, values[p] + sign * step)
                        if trial[p] == values[p]:
                            break
                        loss = _loss(recs, trial)
                        if loss + 1e-12 < best:
                            best, values, improved = loss, trial, True
                        else:
                            break
        if not improved:
            break
    for p, v in values.items():
        _set(p, v)
    return values


def param_uses(recs: Sequence[Recording]) -> dict[tuple[str, str], int]:
    """How many recordings exercise each fitted constant."""
    uses: dict[tuple[str, str], int] = {}
    for rec in recs:
        for key in rec.markers:
            if key.startswith("="):
                continue
            param = ("builtin", key[8:]) if key.startswith("builtin:") else (style_of(rec), key)
            uses[param] = uses.get(param, 0) + 1
    return uses


def _fold_of(rec: Recording, folds: int) -> int:
    return int(hashlib.sha256(rec.file.encode()).hexdigest(), 16) % folds


def cross_validate(recs: Sequence[Recording], folds: int = 5) -> str:
    """Grouped k-fold cross-validation (all recordings of one cassette in the same fold): fit on k-1 folds,
    measure on the held-out one. Restores the constants afterwards."""
    saved = ({k: dict(v) for k, v in tokens.OVERHEADS.items()}, dict(tokens.BUILTIN_TOOL_TOKENS))
    errors: list[float] = []
    try:
        for fold in range(folds):
            test = [r for r in recs if _fold_of(r, folds) == fold]
            train = [r for r in recs if _fold_of(r, folds) != fold]
            values = fit(train)
            errors.extend(abs(_predict(r, values) - r.input_tokens) / r.input_tokens * 100 for r in test)
            for group, table in saved[0].items():
                tokens.OVERHEADS[group].update(table)
            tokens.BUILTIN_TOOL_TOKENS.clear()
            tokens.BUILTIN_TOOL_TOKENS.update(saved[1])
    finally:
        for group, table in saved[0].items():
            tokens.OVERHEADS[group].update(table)
        tokens.BUILTIN_TOOL_TOKENS.clear()
        tokens.BUILTIN_TOOL_TOKENS.update(saved[1])
    within = sum(1 for e in errors if e <= 3.0)
    return (
        f"{folds}-fold cross-validation (grouped by cassette), held-out error over {len(errors)} recordings: "
        f"mean {statistics.fmean(errors):.2f}%, median {statistics.median(errors):.2f}%, "
        f"max {max(errors):.2f}%, "
        f"within ±3%: {within}/{len(errors)}"
    )


# --- report ------------------------------------------------------------------------------------------------


@dataclass
class Summary:
    included: int
    excluded: dict[str, int]
    mean_abs_pct: float
    median_abs_pct: float
    max_abs_pct: float
    within_3pct: int
    by_family: dict[str, tuple[int, float, float]]


def summarize(recs: Sequence[Recording]) -> Summary:
    used = [r for r in recs if r.excluded is None]
    excluded: dict[str, int] = {}
    for r in recs:
        if r.excluded is not None:
            excluded[r.excluded] = excluded.get(r.excluded, 0) + 1
    errs = [abs(r.error_pct) for r in used]
    fams: dict[str, list[float]] = {}
    for r in used:
        info = catalog.DEFAULT_CATALOG.lookup(r.model)
        fams.setdefault(info.family if info else "?", []).append(abs(r.error_pct))
    return Summary(
        included=len(used),
        excluded=excluded,
        mean_abs_pct=statistics.fmean(errs) if errs else 0.0,
        median_abs_pct=statistics.median(errs) if errs else 0.0,
        max_abs_pct=max(errs) if errs else 0.0,
        within_3pct=sum(1 for e in errs if e <= 3.0),
        by_family={k: (len(v), statistics.fmean(v), max(v)) for k, v in sorted(fams.items())},
    )


def evaluate(root: Path | None = None) -> tuple[list[Recording], Summary]:
    """Load, render and summarize with the constants currently in :mod:`mockserver.tokens`."""
    recs = load(root or shared_root() / "real-traffic")
    for rec in recs:
        render(rec)
    return recs, summarize(recs)


def _print_report(recs: Sequence[Recording], summary: Summary, *, verbose: bool) -> None:
    if verbose:
        _say(f"{'err%':>7} {'real':>6} {'ours':>6}  {'model':22} recording")
        for r in sorted(recs, key=lambda r: (r.excluded is not None, -abs(r.error_pct))):
            flag = f"  [excluded: {r.excluded}]" if r.excluded else ""
            _say(
                f"{r.error_pct:7.1f} {r.input_tokens:6d} {r.predicted:6d}  {r.model:22} "
                f"{r.file}#{r.index}{flag}"
            )
    _say()
    _say(f"recordings with usage.input_tokens (api.openai.com, de-duplicated): {len(recs)}")
    for reason, n in sorted(summary.excluded.items()):
        _say(f"  excluded {n:3d}: {reason}")
    _say(
        f"included {summary.included}: mean |err| {summary.mean_abs_pct:.2f}%, "
        f"median {summary.median_abs_pct:.2f}%, "
        f"max {summary.max_abs_pct:.2f}%, within ±3%: {summary.within_3pct}/{summary.included}"
    )
    for fam, (n, mean, mx) in summary.by_family.items():
        _say(f"  {fam:14} n={n:3d} mean |err| {mean:6.2f}%  max {mx:6.2f}%")


# --- tokenizer verification --------------------------------------------------------------------------------


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            out.append(k)
            _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)


@functools.lru_cache(maxsize=2)
def traffic_corpus(root: Path) -> list[str]:
    """Every string of every recorded request and response (bodies, SSE payloads, fixtures), de-duplicated."""
    out: list[str] = []
    for path in sorted(root.rglob("*")):
        if path.suffix == ".yaml":
            try:
                with path.open("rb") as fh:
                    doc = yaml.load(fh, Loader=_Loader)
            except yaml.YAMLError:
                continue
            for inter in (doc or {}).get("interactions") or [] if isinstance(doc, dict) else []:
                if not isinstance(inter, dict):
                    continue
                for side in ("request", "response"):
                    part = inter.get(side) or {}
                    body = (
                        _text(part.get("parsed_body", part.get("body"))) if isinstance(part, dict) else None
                    )
                    if isinstance(body, str):
                        out.append(body)
                        for line in body.splitlines():
                            _strings(
                                _json_or_none(line[5:].strip() if line.startswith("data:") else line), out
                            )
                    _strings(_json_or_none(body), out)
        elif path.suffix in (".json", ".txt") and path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            out.append(text)
            for line in text.splitlines():
                _strings(_json_or_none(line), out)
    return list(dict.fromkeys(s for s in out if s))


STRESS_TEXTS: tuple[str, ...] = (
    "hello world",
    "Hello, world!",
    " ",
    "\n",
    "\r\n",
    "\t\t",
    "a\u00a0b \u3000x \u2009thin",
    "DON'T I'M YOU'LL they're We'VE it's",
    "HTTPServer XMLHttpRequest camelCaseWords snake_case_words SCREAMING_CASE",
    "1234567890 3.14159 1e-10 -42 \u0663\u0664\u0665 1,000,000",
    "h\u00e9llo caf\u00e9 na\u00efve co\u00f6perate",
    "e\u0301 a\u0308 o\u0302 (NFD: combining marks must not be normalized)",
    "\u00c5 A\u030a \u212b (three kinds of A-ring)",
    "\ufb01 ligature, \u01c5 titlecase \u01c4\u01c5\u01c6",
    "\U0001f600\U0001f603 \U0001f44d\U0001f3fd \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 "
    "\U0001f3f3\ufe0f\u200d\U0001f308 \U0001f1eb\U0001f1f7\U0001f1ef\U0001f1f5 \u2764\ufe0f\u200d\U0001f525",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059\u3002 \u4e2d\u6587\uff0c\u6807\u70b9\u3002",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8 \u1100\u1161\u11a8 (conjoining jamo)",
    "\u0420\u0443\u0441\u0441\u043a\u0438\u0439 \u0422\u0415\u041a\u0421\u0422 "
    "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u05e2\u05d1\u05e8\u05d9\u05ea "
    "\u0939\u093f\u0928\u094d\u0926\u0940 \u0e44\u0e17\u0e22",
    "def f(x):\n    return x ** 2  # comment\n\n\nclass A:\n\tpass\n",
    "for (int i = 0; i < n; ++i) { a[i] += b[i]; }\r\n",
    '{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}',
    "<|endoftext|> <|endofprompt|> <|fim_prefix|> are plain text here",
    "   leading and trailing   ",
    "line1\n\n\nline2   \n  ",
    "x" * 3000,
    "ab" * 1500,
    "\U0001f642" * 300,
    " " * 700,
    "\n" * 200,
    "a\u200bb\u200cc\u200dd\ufeffe",
    "https://example.com/path?q=1&r=2#frag /usr/local/bin//x C:\\Users\\me",
    "$$\\frac{a}{b}$$ \u2211\u222b\u221a\u221e \u2264\u2265\u2260",
    "\U0010ffff\U000e0001\x00\x01\x7f control and edge code points",
)
"""Unicode, emoji, code and whitespace samples for the tokenizer cross-check."""


def fuzz_texts(n: int = 2000, seed: int = 1234) -> list[str]:
    """Seeded random strings from many Unicode blocks, mixed with whitespace, digits and contractions."""
    import random

    rng = random.Random(seed)
    blocks = [
        (0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
        (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x3040, 0x30FF), (0x4E00, 0x4FFF),
        (0xAC00, 0xAD00), (0x1F300, 0x1F6FF), (0x1F900, 0x1F9FF), (0x2000, 0x206F), (0xFE00, 0xFE0F),
        (0x10000, 0x1007F),
    ]  # fmt: skip
    glue = [" ", "\n", "\r\n", "\t", "  ", "\u00a0", "'s", "'T", "123", "1234567"]
    out: list[str] = []
    for _ in range(n):
        parts: list[str] = []
        for _ in range(rng.randint(1, 40)):
            if rng.random() < 0.25:
                parts.append(rng.choice(glue))
            else:
                lo, hi = rng.choice(blocks)
                parts.append("".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 8))))
        out.append("".join(parts))
    return out


def reference_encoding(name: str) -> Any:
    """A ``tiktoken.Encoding`` built offline from quicktok's rank table and tiktoken's own pattern.

    tiktoken cannot download its BPE files here; its ``tiktoken_ext.openai_public`` constructor is called
    with the loader replaced by quicktok's ranks, so pattern and special tokens are tiktoken's. The rank
    table itself is checked separately against tiktoken's published sha256 (:func:`rank_table_sha256`).
    """
    import tiktoken
    from tiktoken_ext import openai_public

    ranks = rank_table(name)
    original = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = lambda *a, **k: ranks
    try:
        spec = getattr(openai_public, name)()
    finally:
        openai_public.load_tiktoken_bpe = original
    return tiktoken.Encoding(
        name=f"{name}-reference",
        pat_str=spec["pat_str"],
        mergeable_ranks=spec["mergeable_ranks"],
        special_tokens=spec["special_tokens"],
    )


@functools.lru_cache(maxsize=4)
def rank_table(name: str) -> dict[bytes, int]:
    """quicktok's mergeable ranks (bytes -> rank) for ``name``, read through its public API."""
    enc = tokens._encoder(name)
    ranks: dict[bytes, int] = {}
    rank = 0
    while True:
        try:
            if enc.is_special_token(rank):  # type: ignore[attr-defined]
                break
            ranks[enc.decode_single_token_bytes(rank)] = rank  # type: ignore[attr-defined]
        except KeyError:
            break
        rank += 1
    return ranks


def rank_table_sha256(name: str) -> str:
    """sha256 of quicktok's ranks written in the ``.tiktoken`` file format (``base64 rank\\n`` lines)."""
    ranks = rank_table(name)
    data = b"".join(base64.b64encode(tok) + b" " + str(rank).encode() + b"\n" for tok, rank in ranks.items())
    return hashlib.sha256(data).hexdigest()


def _verify(root: Path) -> int:
    import inspect
    import re

    from tiktoken_ext import openai_public

    corpus = [*traffic_corpus(root), *STRESS_TEXTS, *fuzz_texts()]
    _say(
        f"corpus: {len(corpus)} distinct strings, {sum(map(len, corpus))} characters "
        f"(real traffic + {len(STRESS_TEXTS)} stress samples + seeded fuzz)"
    )
    bad = 0
    for name in tokens.ENCODINGS:
        expected = re.search(r'expected_hash="([0-9a-f]+)"', inspect.getsource(getattr(openai_public, name)))
        digest = rank_table_sha256(name)
        ok_hash = expected is not None and digest == expected.group(1)
        ref = reference_encoding(name)
        mismatches = 0
        n_tokens = 0
        for text in corpus:
            ours = tokens.encode(text, name)
            theirs = ref.encode_ordinary(text)
            n_tokens += len(theirs)
            if ours != theirs or tokens.decode(ours, name) != text:
                mismatches += 1
        bad += mismatches + (0 if ok_hash else 1)
        _say(
            f"{name}: rank table sha256 {'matches' if ok_hash else 'DIFFERS from'} tiktoken's hash; "
            f"{n_tokens} tokens, {mismatches} mismatching strings"
        )
    return 1 if bad else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="real-traffic folder")
    parser.add_argument("--fit", action="store_true", help="fit the constants and print them")
    parser.add_argument("--quiet", action="store_true", help="summary only")
    parser.add_argument("--cv", action="store_true", help="grouped 5-fold cross-validation of the fit")
    parser.add_argument("--verify-tokenizer", action="store_true", help="compare quicktok with tiktoken")
    args = parser.parse_args(argv)
    root = args.root or shared_root() / "real-traffic"
    if not root.is_dir():
        sys.stderr.write(f"no real-traffic folder at {root}\n")
        return 2
    if args.verify_tokenizer:
        return _verify(root)
    recs, summary = evaluate(root)
    if args.fit:
        used = [r for r in recs if r.excluded is None]
        values = fit(used)
        for rec in recs:
            render(rec)
        summary = summarize(recs)
        _say("fitted constants (n = included recordings using them):")
        uses = param_uses(used)
        for (group, key), value in sorted(values.items()):
            _say(f"  {group:8} {key:22} {value:6d}  n={uses.get((group, key), 0)}")
    if args.cv:
        _say(cross_validate([r for r in recs if r.excluded is None]))
    _print_report(recs, summary, verbose=not args.quiet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
