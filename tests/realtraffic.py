"""Typed loader for the real recorded Responses API traffic in ``../shared/real-traffic``.

Every recording becomes one :class:`Interaction`, whatever its upstream format::

    vcrpy YAML v1 (traceloop, logfire, crewAI)  body as str or !!binary gzip/deflate
    pydantic-ai YAML                             JSON bodies pre-parsed under ``parsed_body:``
    vercel ``*.json``                            one response body, no request, no status
    vercel ``*.chunks.txt``                      one SSE ``data:`` JSON per line

The Realtime WebSocket cassettes of pydantic-ai are skipped (not the Responses API). The shape helpers
at the bottom (:func:`field_profile`, :func:`event_grammar`) implement DECISIONS 22: compare our output
with recordings from api.openai.com only, and call a field required when most recordings of a year carry it.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import os
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

__all__ = [
    "FieldProfile",
    "Host",
    "Interaction",
    "event_grammar",
    "field_profile",
    "grammar_matches",
    "iter_interactions",
    "iter_responses",
    "responses_interactions",
    "shared_root",
]

Host = Literal["api.openai.com", "azure", "other"]
JSON = dict[str, Any]
TERMINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")


def shared_root() -> Path:
    """Return the shared folder: ``$RESPLAY_SHARED`` or ``<workspace>/shared`` next to the repository."""
    env = os.environ.get("RESPLAY_SHARED")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared"
    return root.resolve()  # one spelling of every path, even when shared/ is reached through a link


@dataclass(frozen=True)
class Interaction:
    """One recorded HTTP exchange (or one vercel fixture, which records only the response)."""

    source: str
    """Folder name under real-traffic, e.g. ``pydantic__pydantic-ai``."""
    path: Path
    """The cassette or fixture file."""
    index: int
    """Position of the exchange in its file (vercel ``*.chunks.txt``: which concatenated stream)."""
    host: Host
    method: str
    url: str
    """URL path, e.g. ``/v1/responses`` (vercel fixtures: assumed ``/v1/responses``)."""
    query: str
    """Raw query string without ``?`` (``stream=true&starting_after=0``), empty if none."""
    request_json: JSON | None
    status: int | None
    """HTTP status; None where not recorded (vercel fixtures)."""
    response_json: JSON | None
    """The JSON body of a non-streaming response."""
    sse_events: list[JSON] | None = None
    """The ``data:`` payloads of a streamed response, in order (``[DONE]`` dropped)."""
    recorded_year: int | None = None

    @property
    def is_responses(self) -> bool:
        """Whether this is a ``/v1/responses`` family endpoint (create, retrieve, compact, input_tokens…)."""
        return re.search(r"/v1/responses(/|$)", self.url) is not None

    @property
    def response_objects(self) -> list[JSON]:
        """Response-like objects carried by this exchange: the JSON body, or every ``event.response``."""
        if self.sse_events is not None:
            return [e["response"] for e in self.sse_events if isinstance(e.get("response"), dict)]
        return [self.response_json] if self.response_json is not None else []


# ----------------------------------------------------------------------------- decoding helpers
class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader that degrades ``python/*`` tags (multidict header keys) to plain values."""


def _python_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        seq = loader.construct_sequence(node, deep=True)
        return seq[0] if len(seq) == 1 and isinstance(seq[0], str) else tuple(seq)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", _python_tag)


def _text(body: Any) -> Any:
    """Decode a recorded body: ``{string: …}`` wrappers, gzip/deflate bytes; parsed mappings pass through."""
    if isinstance(body, dict) and "string" in body:
        body = body["string"]
    if isinstance(body, bytes):
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        else:
            with contextlib.suppress(zlib.error):
                body = zlib.decompress(body)
        return body.decode("utf-8", "replace")
    return body


def _json(body: Any) -> Any:
    if isinstance(body, (dict, list)) or body is None:
        return body
    try:
        return json.loads(body) if body else None
    except (TypeError, ValueError):
        return None


def parse_sse(text: str) -> list[JSON]:
    """Parse ``event:``/``data:`` SSE text into the JSON payloads, in order (``[DONE]`` dropped)."""
    events: list[JSON] = []
    data: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif not line and data:
            payload = _json("\n".join(data))
            if isinstance(payload, dict):
                events.append(payload)
            data = []
    return events


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) and value else value)
    return None


def _host(netloc: str) -> Host:
    if netloc == "api.openai.com":
        return "api.openai.com"
    return "azure" if netloc.endswith(".azure.com") else "other"


def _year(response: JSON | None, events: list[JSON] | None, date: str | None) -> int | None:
    """Year from the response's ``created_at`` (body or first event carrying one), else the Date header."""
    objs = [response] if response else [e.get("response") for e in events or ()]
    for obj in objs:
        if isinstance(obj, dict) and isinstance(obj.get("created_at"), (int, float)):
            return datetime.fromtimestamp(obj["created_at"], tz=timezone.utc).year
    try:
        return parsedate_to_datetime(date).year if date else None
    except (TypeError, ValueError):
        return None


# ----------------------------------------------------------------------------- per-format readers
def _read_yaml(source: str, path: Path) -> Iterator[Interaction]:
    with path.open("rb") as fh:
        doc = yaml.load(fh, Loader=_Loader)
    exchanges = (doc.get("interactions") or []) if isinstance(doc, dict) else []
    if exchanges and "direction" in exchanges[0]:
        return  # pydantic-ai Realtime WebSocket cassette: not the Responses API
    for index, exchange in enumerate(exchanges):
        req, resp = exchange.get("request") or {}, exchange.get("response") or {}
        parts = urlsplit(req.get("uri") or "")
        body = _text(resp.get("parsed_body", resp.get("body", resp.get("content"))))
        ctype = _header(resp.get("headers"), "content-type") or ""
        streamed = "event-stream" in ctype or (isinstance(body, str) and body.startswith(("event:", "data:")))
        events = parse_sse(body) if streamed and isinstance(body, str) else None
        parsed = None if streamed else _json(body)
        response_json = parsed if isinstance(parsed, dict) else None
        request_json = _json(_text(req.get("parsed_body", req.get("body"))))
        yield Interaction(
            source=source,
            path=path,
            index=index,
            host=_host(parts.netloc),
            method=str(req.get("method") or "?"),
            url=parts.path,
            query=parts.query,
            request_json=request_json if isinstance(request_json, dict) else None,
            status=(resp.get("status") or {}).get("code") or resp.get("status_code"),
            response_json=response_json,
            sse_events=events,
            recorded_year=_year(response_json, events, _header(resp.get("headers"), "date")),
        )


def _vercel_host(path: Path) -> Host:
    # The fixtures record no URL: azure/ fixtures come from Azure, github-copilot-* from a Copilot proxy
    # (ids like "capture-id-1"); the rest are OpenAI's own fixtures from api.openai.com.
    if "azure" in path.parts:
        return "azure"
    return "other" if path.name.startswith("github-copilot") else "api.openai.com"


def _split_streams(events: list[JSON]) -> list[list[JSON]]:
    """Split concatenated streams: some fixtures hold several turns, each starting at ``response.created``."""
    streams: list[list[JSON]] = []
    for event in events:
        if not streams or (event.get("type") == "response.created" and event.get("sequence_number") == 0):
            streams.append([])
        streams[-1].append(event)
    return streams


def _read_vercel(source: str, path: Path) -> Iterator[Interaction]:
    text = path.read_text(encoding="utf-8")
    if path.name.endswith(".chunks.txt"):
        events = [json.loads(line) for line in text.splitlines() if line.strip()]
        bodies: list[tuple[JSON | None, list[JSON] | None]] = [(None, s) for s in _split_streams(events)]
    else:
        bodies = [(json.loads(text), None)]
    for index, (response_json, sse_events) in enumerate(bodies):
        yield Interaction(
            source=source,
            path=path,
            index=index,
            host=_vercel_host(path),
            method="POST",
            url="/v1/responses",
            query="",
            request_json=None,
            status=None,
            response_json=response_json,
            sse_events=sse_events,
            recorded_year=_year(response_json, sse_events, None),
        )


@functools.cache
def _load(root: Path) -> tuple[Interaction, ...]:
    found: list[Interaction] = []
    for src in sorted(p for p in root.iterdir() if p.is_dir() and "__" in p.name):
        for path in sorted(src.rglob("*")):
            if path.name.endswith((".yaml", ".yml")):
                found.extend(_read_yaml(src.name, path))
            elif path.name.endswith((".chunks.txt", ".json")) and src.name == "vercel__ai":
                found.extend(_read_vercel(src.name, path))
    return tuple(found)


# ----------------------------------------------------------------------------- public iteration
def iter_interactions(root: Path | str | None = None) -> Iterator[Interaction]:
    """Yield every recorded exchange under ``root`` (default: ``shared_root() / "real-traffic"``).

    Files are parsed once per process and cached.

    Args:
        root: The real-traffic folder.

    Raises:
        FileNotFoundError: If the folder does not exist.
    """
    folder = Path(root) if root is not None else shared_root() / "real-traffic"
    if not folder.is_dir():
        raise FileNotFoundError(folder)
    yield from _load(folder.resolve())


def responses_interactions(root: Path | str | None = None, *, openai_only: bool = False) -> list[Interaction]:
    """Return the ``/v1/responses`` family exchanges (create, retrieve, compact, input_tokens…).

    Args:
        root: The real-traffic folder (see :func:`iter_interactions`).
        openai_only: Keep only recordings from api.openai.com (DECISIONS 22).
    """
    return [
        i
        for i in iter_interactions(root)
        if i.is_responses and (not openai_only or i.host == "api.openai.com")
    ]


def iter_responses(interactions: Iterable[Interaction]) -> Iterator[JSON]:
    """Yield each final Response object: non-streaming ``object: "response"`` bodies and terminal events."""
    for i in interactions:
        if i.sse_events is not None:
            for event in i.sse_events:
                if event.get("type") in TERMINAL_EVENTS and isinstance(event.get("response"), dict):
                    yield event["response"]
        elif i.response_json is not None and i.response_json.get("object") == "response":
            yield i.response_json


# ----------------------------------------------------------------------------- shape helpers
@dataclass(frozen=True)
class FieldProfile:
    """How often each top-level field appears in recorded Response objects, per year of ``created_at``."""

    counts: Mapping[int, Counter[str]]
    totals: Mapping[int, int]

    @property
    def latest_year(self) -> int:
        """The most recent year with recordings."""
        return max(self.totals)

    def required(self, year: int | None = None) -> frozenset[str]:
        """Fields carried by more than half of the recordings of ``year`` (default: the latest year)."""
        y = self.latest_year if year is None else year
        return frozenset(k for k, n in self.counts[y].items() if 2 * n > self.totals[y])

    def optional(self, year: int | None = None) -> frozenset[str]:
        """Fields seen in some recording of any year but not required in ``year``: older fields that newer
        recordings dropped, and fields only some responses carry."""
        seen = frozenset().union(*self.counts.values())
        return seen - self.required(year)


def field_profile(objs: Iterable[Mapping[str, Any]]) -> FieldProfile:
    """Profile the top-level fields of Response objects (those without ``created_at`` are ignored).

    Args:
        objs: Response objects, e.g. ``iter_responses(responses_interactions(openai_only=True))``.
    """
    counts: defaultdict[int, Counter[str]] = defaultdict(Counter)
    totals: Counter[int] = Counter()
    for obj in objs:
        created = obj.get("created_at")
        if isinstance(created, (int, float)):
            year = datetime.fromtimestamp(created, tz=timezone.utc).year
            counts[year].update(obj.keys())
            totals[year] += 1
    return FieldProfile(counts=dict(counts), totals=dict(totals))


def _is_delta(kind: str) -> bool:
    return kind.endswith(".delta")


def event_grammar(events: Iterable[Mapping[str, Any] | str]) -> list[str]:
    """Collapse a stream into its grammar: consecutive events of one type become one token.

    A token ends in ``+`` when the run had more than one event or the type is a ``*.delta`` (the number of
    deltas depends on the text, not on the shape). Grammars are accepted as input too (idempotent).

    Args:
        events: Event dicts (their ``type``), event type strings, or grammar tokens.

    Returns:
        E.g. ``["response.created", "response.in_progress", ..., "response.output_text.delta+", ...]``.
    """
    runs: list[tuple[str, bool]] = []
    for event in events:
        raw = event if isinstance(event, str) else str(event.get("type"))
        kind, plus = raw.removesuffix("+"), raw.endswith("+")
        if runs and runs[-1][0] == kind:
            runs[-1] = (kind, True)
        else:
            runs.append((kind, plus or _is_delta(kind)))
    return [kind + "+" if plus else kind for kind, plus in runs]


def grammar_matches(
    ours: Sequence[Mapping[str, Any] | str], recorded: Sequence[Mapping[str, Any] | str]
) -> bool:
    """Whether two streams (or grammars) have the same grammar, ignoring how many times a run repeats."""
    strip = [t.removesuffix("+") for t in event_grammar(ours)]
    return strip == [t.removesuffix("+") for t in event_grammar(recorded)]
