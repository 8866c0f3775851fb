"""Record and replay HTTP and SSE on vcrpy: the cassette, its options, and :func:`use_cassette`.

vcrpy does the interception for requests, urllib3, http.client, aiohttp and tornado (its patchers,
driven by :class:`ResplayCassette`); :mod:`pytest_plugin.stubs` replaces its httpx / httpx2 stubs
with streaming ones. What resplay changes in vcrpy's ``Cassette``:

* matching is :mod:`pytest_plugin.matchers` (method, path, query, semantic JSON body, symbols bound
  across the test) instead of independent per-field matchers;
* each interaction plays once, the earliest unplayed match first, and interactions recorded during
  the run count as played;
* a request the cassette cannot answer in replay raises :class:`~pytest_plugin.errors.CassetteMismatch`
  naming the closest recorded request and the difference; every mismatch is also kept, so
  :meth:`ResplayCassette.verify` fails the test at teardown even if client code swallowed the error;
* ``record_mode="rewrite"`` (pytest-recording's name) records a fresh cassette and replaces the file
  only when the test passed; ``"all"`` re-records and merges by symbolic matching;
* files are readable, redacted and written atomically (serializer and persister).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vcr.cassette import Cassette
from vcr.patch import CassettePatcherBuilder
from vcr.record_mode import RecordMode
from vcr.request import Request as VcrRequest

from . import bodies, stubs
from .errors import CassetteMismatch, UnusedInteractions
from .matchers import Bindings, Normalised, compare, find_symbols, normalise, pair_symbols
from .persister import ResplayPersister
from .redaction import Redactor
from .serializers import ResplaySerializer

__all__ = ["RECORD_MODES", "CassetteOptions", "CassetteSession", "ResplayCassette", "use_cassette"]

RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")
"""pytest-recording's record modes; ``none`` (replay only) is the default."""

MATCH_PARTS = ("method", "path", "query", "body")


@dataclass(frozen=True)
class CassetteOptions:
    """How one cassette records, matches and redacts (marker keywords use these names)."""

    record_mode: str = "none"
    """One of :data:`RECORD_MODES`."""
    match_on: tuple[str, ...] = MATCH_PARTS
    """Parts compared: any of ``method``, ``path``, ``query``, ``body``."""
    ignore: tuple[str, ...] = ()
    """JSON body paths left out of matching (dotted, ``*`` for any key or index)."""
    allow_unused: bool = False
    """Do not fail the test when recorded interactions were never played."""
    allow_playback_repeats: bool = False
    """Let an interaction answer more than once (vcrpy's option)."""
    ignore_hosts: tuple[str, ...] = ()
    """``host`` or ``host:port`` whose traffic goes through unrecorded (the resplay fixture's server)."""
    redact_headers: tuple[str, ...] = ()
    """Extra header names whose values are redacted."""
    redact_values: tuple[str, ...] = ()
    """Extra literal secrets redacted wherever they occur."""
    redact_patterns: tuple[str, ...] = ()
    """Extra regular expressions of secrets."""

    def __post_init__(self) -> None:
        if self.record_mode not in RECORD_MODES:
            raise ValueError(
                f"record_mode must be one of {', '.join(RECORD_MODES)}, not {self.record_mode!r}"
            )
        unknown = set(self.match_on) - set(MATCH_PARTS)
        if unknown:
            raise ValueError(f"match_on: unknown parts {sorted(unknown)}; known: {', '.join(MATCH_PARTS)}")

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> CassetteOptions:
        """Build from marker / config keywords (sequences become tuples; unknown keys are an error)."""
        known = set(cls.__dataclass_fields__)
        unknown = set(options) - known - {"cassette"}
        if unknown:
            raise TypeError(f"unknown resplay cassette option(s): {', '.join(sorted(unknown))}")
        values = {
            k: (tuple(v) if isinstance(v, list | tuple | set | frozenset) else v)
            for k, v in options.items()
            if k in known
        }
        for key in (
            "match_on",
            "ignore",
            "ignore_hosts",
            "redact_headers",
            "redact_values",
            "redact_patterns",
        ):
            if isinstance(values.get(key), str):
                values[key] = (values[key],)
        return cls(**values)  # type: ignore[arg-type]


def response_document(response: Mapping[str, Any]) -> Any:
    """A recorded response's body as data: parsed JSON, or the list of SSE event payloads."""
    raw = (response.get("body") or {}).get("string")
    if raw is None:
        return None
    data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    coding = headers.get("content-encoding")
    if coding:
        decoded = bodies.decode_content(data, coding[0] if isinstance(coding, list) else str(coding))
        if decoded is None:
            return None
        data = decoded
    kind = headers.get("content-type", [""])
    if "text/event-stream" in (kind[0] if isinstance(kind, list) and kind else str(kind)):
        events = bodies.render_sse(data)
        if events is None:
            return None
        return [e.get("data") for e in events if "data" in e]
    try:
        return json.loads(data)
    except ValueError:
        return None


def request_body(request: VcrRequest) -> bytes | None:
    """A recorded or live request's body as bytes (vcrpy keeps files, iterators and aiohttp's ``json=``)."""
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, Mapping | list):
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    chunks = list(body)
    return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in chunks)


class ResplayCassette(Cassette):  # type: ignore[misc]
    """vcrpy's ``Cassette`` with resplay's matching, ordering, errors and file format.

    Args:
        path: Cassette file.
        options: Recording, matching and redaction options.
        environ: Environment whose secret-looking variables are redacted (``os.environ`` by default).
    """

    def __init__(
        self, path: str | os.PathLike[str], options: CassetteOptions, environ: Mapping[str, str] | None = None
    ) -> None:
        self.options = options
        self.redactor = Redactor.build(
            os.environ if environ is None else environ,
            headers=options.redact_headers,
            values=options.redact_values,
            patterns=options.redact_patterns,
        )
        mode = (
            RecordMode.NEW_EPISODES if options.record_mode == "rewrite" else RecordMode(options.record_mode)
        )
        super().__init__(
            str(path),
            serializer=ResplaySerializer(self.redactor, source=str(path)),
            persister=ResplayPersister,
            record_mode=mode,
            match_on=(),
            before_record_request=self._filter,
            allow_playback_repeats=options.allow_playback_repeats,
            skip_patchers=("httpx", "httpx2"),
        )
        self.bindings = Bindings()
        self.mismatches: list[str] = []
        """Every fail-closed message raised so far (re-raised by :meth:`verify`)."""
        self._recorded_cache: dict[int, Normalised] = {}
        self._last_normalised: tuple[tuple[CassetteOptions, str, str, bytes | None], Normalised] | None = None
        self._unplayed_from: tuple[object, int] = (None, 0)
        self._pending: dict[int, dict[str, str]] = {}
        self._loading = False
        self.pumps: set[Any] = set()
        """Running aiohttp recording pumps (kept referenced until they finish)."""
        self.verifiers: list[Callable[[], None]] = []
        """Extra teardown checks run by :meth:`verify` (the WebSocket sessions', :mod:`pytest_plugin.ws`)."""

    def _load(self) -> None:
        self._loading = True
        try:
            super()._load()
        finally:
            self._loading = False

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], options: CassetteOptions, environ: Mapping[str, str] | None = None
    ) -> ResplayCassette:
        """Create and load (``rewrite`` starts empty; the file is replaced on save)."""
        cassette = cls(path, options, environ)
        if options.record_mode != "rewrite":
            cassette._load()
        return cassette

    # --- filtering and normalisation -------------------------------------------------------------

    def _filter(self, request: VcrRequest) -> VcrRequest | None:
        parts = urlsplit(request.uri)
        host = parts.hostname or ""
        if host in self.options.ignore_hosts or f"{host}:{parts.port}" in self.options.ignore_hosts:
            return None
        return request

    def _normalise(self, request: VcrRequest) -> Normalised:
        # vcrpy asks twice per request (``can_play_response_for``, then ``play_response``): the last
        # result is kept, keyed by everything it depends on (the redactor is fixed per cassette).
        key = (self.options, request.method, request.uri, request_body(request))
        last = self._last_normalised
        if last is not None and last[0][0] is key[0] and last[0][1:] == key[1:]:
            return last[1]
        full = normalise(*key[1:], ignore=self.options.ignore, redact=self.redactor.text)
        parts = self.options.match_on
        found = Normalised(
            full.method if "method" in parts else "",
            full.path if "path" in parts else (),
            full.query if "query" in parts else (),
            full.body if "body" in parts else None,
        )
        self._last_normalised = (key, found)
        return found

    def _recorded(self, index: int) -> Normalised:
        found = self._recorded_cache.get(index)
        if found is None:
            found = self._recorded_cache[index] = self._normalise(self.data[index][0])
        return found

    # --- matching (vcrpy hooks) ------------------------------------------------------------------

    def _responses(self, request: VcrRequest) -> Iterator[tuple[int, Any]]:
        request = self._before_record_request(request)
        if request is None:
            return
        live = self._normalise(request)
        start = 0 if self.allow_playback_repeats else self._first_unplayed()
        for index in range(start, len(self.data)):
            if self.play_counts[index] and not self.allow_playback_repeats:
                continue
            response = self.data[index][1]
            # Only "does it match?" here: the first difference settles it (the message lists them).
            diffs, pending = compare(self._recorded(index), live, self.bindings, limit=1)
            if not diffs:
                self._pending[index] = pending
                yield index, response

    def _first_unplayed(self) -> int:
        """The lowest index not played yet: interactions mostly play in order, so the scan for a
        match starts there instead of skipping every played one again (O(n) per request)."""
        counts = self.play_counts
        low = self._unplayed_from[1] if self._unplayed_from[0] is counts else 0
        while low < len(self.data) and counts[low]:
            low += 1
        self._unplayed_from = (counts, low)  # vcrpy's rewind() replaces the Counter: start again then
        return low

    def play_response(self, request: VcrRequest) -> Any:
        """The earliest unplayed interaction matching ``request``; binds its symbols."""
        for index, response in self._responses(request):
            if self.play_counts[index] == 0 or self.allow_playback_repeats:
                if self.play_counts[index] == 0 and index < self._loaded_count:
                    self._played_interactions.append((self.data[index][0], response))
                self.play_counts[index] += 1
                self.bindings.commit(self._pending.pop(index, {}))
                document = response_document(response)
                self.bindings.commit({s: s for s in find_symbols(document)})
                return response
        raise self.mismatch(request)

    def append(self, request: VcrRequest, response: Any) -> None:
        """Record an interaction; it counts as played (the network answered it)."""
        before = len(self.data)
        super().append(request, response)
        if len(self.data) > before and not self._loading:
            self.play_counts[before] = 1
            document = response_document(self.data[before][1])
            self.bindings.commit({s: s for s in find_symbols(document)})

    def find_requests_with_most_matches(self, request: VcrRequest) -> list[tuple[Any, list[str], list[Any]]]:
        """The closest recorded requests (vcrpy's error message uses this); the mismatch is kept."""
        closest = self._closest(request)
        self.mismatches.append(self._message(request, closest))
        return [
            (self.data[index][0], [], [("request", "\n".join(diffs))] if diffs else [])
            for index, diffs in closest[:3]
        ]

    def _closest(self, request: VcrRequest) -> list[tuple[int, list[str]]]:
        live = self._normalise(request)
        scored = []
        for index in range(len(self.data)):
            diffs, _ = compare(self._recorded(index), live, self.bindings)
            if not diffs and self.play_counts[index] and not self.allow_playback_repeats:
                diffs = ["(this interaction matches but was already played: each plays once)"]
            scored.append((index, diffs))
        scored.sort(key=lambda item: (len(item[1]), item[0]))
        return scored

    # --- the stubs' interface --------------------------------------------------------------------

    def lookup(self, request: VcrRequest) -> dict[str, Any] | None:
        """The recorded response for ``request``, or ``None`` to send it to the network.

        Raises:
            CassetteMismatch: replay only, and nothing recorded answers it.
        """
        if self.can_play_response_for(request):
            response: dict[str, Any] = self.play_response(request)
            return response
        if self.write_protected and self.filter_request(request):
            raise self.mismatch(request)
        return None

    def records(self, request: VcrRequest) -> bool:
        """Whether traffic of ``request`` is recorded (ignored hosts pass through unrecorded)."""
        return self.filter_request(request) is not None

    def mismatch(self, request: VcrRequest) -> CassetteMismatch:
        """The fail-closed error for ``request`` (also kept for :meth:`verify`)."""
        message = self._message(request, self._closest(request))
        self.mismatches.append(message)
        return CassetteMismatch(message)

    def _message(self, request: VcrRequest, closest: Sequence[tuple[int, list[str]]]) -> str:
        mode = self.options.record_mode
        path = self._path
        lines = [f"resplay: no recorded interaction answers {request.method} {request.uri}"]
        body = request.body
        if isinstance(body, bytes | str) and body:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            text = self.redactor.text(text)
            lines.append(f"  body: {text[:300]}{'…' if len(text) > 300 else ''}")
        if not self.rewound and not self.data:
            lines.append(f"Cassette {path} does not exist (record_mode {mode!r} does not record).")
        else:
            played = sum(1 for i in range(len(self.data)) if self.play_counts[i])
            lines.append(
                f"Cassette {path}: {len(self.data)} interactions, {played} played; record_mode {mode!r}."
            )
        if closest:
            index, diffs = closest[0]
            recorded = self.data[index][0]
            lines.append(f"Closest recorded request (#{index}): {recorded.method} {recorded.uri}")
            lines.extend(f"  {d}" for d in diffs)
        lines.append(
            "To record it: --record-mode=once (new cassette), new_episodes (add to it) "
            "or rewrite (start over)."
        )
        return "\n".join(lines)

    # --- teardown --------------------------------------------------------------------------------

    def unused(self) -> list[int]:
        """Indexes of loaded interactions never played."""
        return [i for i in range(self._loaded_count) if self.play_counts[i] == 0]

    def verify(self) -> None:
        """Fail if a mismatch happened (even if swallowed) or, in replay, interactions went unused.

        Raises:
            CassetteMismatch: a request found no recorded answer during the test.
            UnusedInteractions: recorded interactions were never played (unless ``allow_unused``).
        """
        if self.mismatches:
            raise CassetteMismatch(self.mismatches[0])
        # Only a pure replay (none, or once with an existing file) checks: recording modes may drop or
        # replace interactions on purpose.
        replaying = self.rewound and self.options.record_mode in ("none", "once")
        unused = self.unused()
        if replaying and unused and not self.options.allow_unused:
            listed = "\n".join(f"  #{i}: {self.data[i][0].method} {self.data[i][0].uri}" for i in unused[:10])
            raise UnusedInteractions(
                f"resplay: {len(unused)} recorded interaction(s) of {self._path} were never played:\n"
                f"{listed}\n"
                "Re-record with --record-mode=rewrite, or pass allow_unused=True to the resplay marker."
            )
        for check in self.verifiers:
            check()

    def _rerecorded_interactions(self) -> list[tuple[Any, Any]]:
        """``all`` mode: new recordings replace the old ones they match (symbolically), in order."""
        loaded = self.data[: self._loaded_count]
        recorded = self.data[self._loaded_count :]
        bindings = Bindings()
        consumed: set[int] = set()
        for request, response in recorded:
            live = self._normalise(request)
            for index in range(len(loaded)):
                if index in consumed:
                    continue
                diffs, pending = compare(self._recorded(index), live, bindings)
                if not diffs:
                    consumed.add(index)
                    bindings.commit(pending)
                    bindings.commit(
                        pair_symbols(response_document(loaded[index][1]), response_document(response))
                    )
                    break
        if self.drop_unused_requests:
            return list(recorded)
        return [pair for i, pair in enumerate(loaded) if i not in consumed] + list(recorded)


@dataclass
class CassetteSession:
    """One cassette in use: interception installed on :meth:`start`, saved and checked on :meth:`stop`.

    Args:
        path: Cassette file.
        options: Cassette options.
        environ: Environment for secret redaction (``os.environ`` by default).
    """

    path: Path
    options: CassetteOptions = field(default_factory=CassetteOptions)
    environ: Mapping[str, str] | None = None
    cassette: ResplayCassette | None = None
    _stack: contextlib.ExitStack | None = None

    def start(self) -> ResplayCassette:
        """Load the cassette and patch the HTTP libraries."""
        cassette = ResplayCassette.open(self.path, self.options, self.environ)
        stack = contextlib.ExitStack()
        try:
            for patcher in CassettePatcherBuilder(cassette).build():
                stack.enter_context(patcher)
            for patcher in stubs.patchers(cassette):
                stack.enter_context(patcher)
            from .ws.intercept import intercept  # WebSocket connections go through a local proxy

            stack.enter_context(intercept(cassette))
        except BaseException:
            stack.close()
            raise
        self.cassette, self._stack = cassette, stack
        return cassette

    def stop(self, *, passed: bool = True) -> None:
        """Unpatch and save (``rewrite`` and ``all`` keep the old file when the test failed)."""
        if self._stack is not None:
            self._stack.close()
            self._stack = None
        cassette = self.cassette
        if cassette is None:
            return
        if passed or self.options.record_mode not in ("rewrite", "all"):
            cassette._save(force=self.options.record_mode == "rewrite" and passed)


@contextlib.contextmanager
def use_cassette(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    options: CassetteOptions | None = None,
    **keywords: Any,
) -> Iterator[ResplayCassette]:
    """Record or replay every HTTP call made inside the block.

    Args:
        path: Cassette file (created when recording).
        environ: Environment for secret redaction (``os.environ`` by default).
        options: Full options; keywords (``record_mode="once"``, ``ignore=[...]``, ...) override them.

    Raises:
        CassetteMismatch: in replay, a request the cassette cannot answer (also re-raised on exit).
        UnusedInteractions: on exit, recorded interactions that were never played.

    Example:
        >>> with use_cassette("cassettes/chat.yaml", record_mode="once"):
        ...     client.responses.create(model="gpt-5", input="hi")
    """
    base = options or CassetteOptions()
    merged = CassetteOptions.from_mapping({**asdict(base), **keywords}) if keywords else base
    session = CassetteSession(Path(path), merged, environ)
    cassette = session.start()
    passed = False
    try:
        yield cassette
        passed = True
    finally:
        session.stop(passed=passed)
    cassette.verify()
