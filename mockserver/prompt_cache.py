"""Prompt-cache accounting: ``usage.input_tokens_details.cached_tokens`` as a function of the traffic.

SPEC §13, DECISIONS 14 and 17. The cacheable prefix is the canonical rendering of a request (tools,
instructions, then the input items, in order; :func:`mockserver.tokens.render_pieces`) without the reply
priming. Its *marks* are the token positions where a cached block may end: the end of the developer block,
the end of every item, and every explicit ``prompt_cache_breakpoint`` on a content block. Each mark has a
digest of everything before it (model and rendering), so two requests share a cached block exactly when
they share that mark's digest.

Per session (DECISIONS 2) a :class:`PromptCache` holds entries keyed by ``(model, prompt_cache_key,
digest)`` that expire on the session clock (no timers: an entry is simply dead once ``now`` passes its
deadline, so advancing the virtual clock expires it). Per model family (``ModelInfo.cache_rule``):

==========  =================================================================================================
legacy      gpt-5.4 and earlier: a prefix of at least 1,024 tokens; the longest cached mark counts, rounded
            down to a multiple of 128. ``prompt_cache_retention``: ``in_memory`` lives 10 minutes after its
            last use (at most 1 hour), ``24h`` 24 hours. Writes are not reported (``cache_write_tokens`` 0).
gpt55       gpt-5.5: implicit breakpoints every 2,048 tokens, so the longest cached mark counts rounded down
            to a multiple of 2,048, then hidden (reasoning) tokens are taken out and the rest rounded down
            to 128. Retention is always ``24h``. Writes are not reported.
gpt56plus   gpt-5.6 and later: exact counts at breakpoints only. ``prompt_cache_options.mode`` ``implicit``
            (default) writes the implicit breakpoint (end of the input), the end of the developer block
            (chosen) and the latest explicit ones, four at most;
            ``explicit`` writes the latest 4 explicit ones and nothing without them. A lookup tries the latest
            80 explicit breakpoints, and in implicit mode also the implicit one, the 20 latest earlier message
            endings and the end of the developer block. A breakpoint needs 1,024 visible tokens. Each write
            lives ``ttl`` (the breakpoint's, else ``prompt_cache_options.ttl``, else ``30m``) after its last
            use. ``cache_write_tokens`` counts the tokens written beyond the cached prefix.
==========  =================================================================================================

Overflow (DECISIONS 14, deployment checklist): a *route* is the model, the ``prompt_cache_key`` and the
digest of the prefix's first 256 tokens (or its whole prefix when shorter). When more than
:data:`ROUTE_RATE` requests of one route arrive within :data:`ROUTE_WINDOW` seconds, the share
``(n - 15) / n`` of them lands on a cold machine: it neither reads nor fills the warm cache. Which
requests do is decided by a hash of the route and the request's rank, so runs repeat exactly.

``prompt_cache_options.comparison_response_id`` adds ``prompt_cache_diagnostics`` (gpt-5.6 and later): the
compared response's prefix is remembered per session, and the first difference names the miss reason.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from . import tokens
from .catalog import ModelInfo

__all__ = [
    "MIN_TOKENS",
    "ROUTE_RATE",
    "ROUTE_WINDOW",
    "Mark",
    "Outcome",
    "Prefix",
    "PromptCache",
    "annotate",
    "prefix_of",
]

MIN_TOKENS = 1024
"""Shortest cacheable prefix (visible tokens), every family (SPEC §13)."""
STEP = 128
"""Granularity of ``cached_tokens`` before gpt-5.6 (SPEC §13)."""
GPT55_INTERVAL = 2048
"""gpt-5.5's implicit breakpoint interval (SPEC §13, DECISIONS 17)."""
ROUTE_RATE = 15
"""Requests per minute one prefix + ``prompt_cache_key`` route takes before overflowing (DECISIONS 14)."""
ROUTE_WINDOW = 60.0
ROUTE_PREFIX_TOKENS = 256
"""Requests are routed by the hash of about the first 256 tokens of the prefix (SPEC §13, older guide)."""
MAX_EXPLICIT_LOOKUP = 80  # "up to the latest 80 breakpoints" [SDK] (SPEC §15.7)
MAX_MESSAGE_ENDINGS = 20  # "up to 20 earlier eligible message endings" [DOC D-PC-NEW]
MAX_WRITES = 4  # "Each request can write up to four breakpoints" [SDK]
TTL_SECONDS = {"30m": 30 * 60.0, "12h": 12 * 3600.0}
IN_MEMORY_IDLE = 10 * 60.0  # in_memory: "about 5-10 minutes of inactivity, up to one hour" (chosen: 10 min)
IN_MEMORY_MAX = 3600.0
RETENTION_24H = 24 * 3600.0
_MAX_ENTRIES = 100_000  # per session; expired entries are pruned first, then the oldest
_MAX_ROUTES = 10_000  # per session, before idle routes are forgotten
_MAX_REMEMBERED = 4096  # responses remembered for diagnostics, per session
_HIDDEN_PREFIX = "<|reasoning_tokens:"


@dataclass(frozen=True, slots=True)
class Mark:
    """A position where a cached block may end."""

    tokens: int
    """Tokens of the prefix up to here."""
    hidden: int
    """Of those, hidden reasoning tokens (not "visible", SPEC §13)."""
    digest: str
    """Digest of the model and the rendering up to here."""
    kind: str
    """``developer``, ``message``, ``item`` (other item ends) or ``explicit`` (a content breakpoint)."""
    ttl: str | None = None
    """An explicit breakpoint's own ``ttl``."""

    @property
    def visible(self) -> int:
        """Tokens without the hidden ones."""
        return self.tokens - self.hidden


@dataclass(frozen=True, slots=True)
class Prefix:
    """The cacheable prefix of one request."""

    total: int
    """Input tokens of the request (the prefix plus the reply priming)."""
    marks: tuple[Mark, ...]
    route: str
    """Digest of the routing prefix (about the first 256 tokens)."""


def prefix_of(
    *,
    model: ModelInfo,
    instructions: str | None,
    tools: Sequence[Mapping[str, Any]],
    items: Sequence[Mapping[str, Any]],
    text_format: Mapping[str, Any] | None,
    reasoning_context: str,
    rendered: tokens.Rendering | None = None,
    progress: tokens.Progress | None = None,
) -> Prefix:
    """Render a request and digest its prefix at every mark (same arguments as ``tokens.count_input``).

    ``rendered`` is the request's :func:`tokens.render_pieces` when the caller has it already (the engine
    renders each prompt once, for ``usage.input_tokens`` and for this digest). ``progress`` is the
    :func:`tokens.render_chain` progress that made ``rendered``: the digest then goes on from where its base
    turn's digest stopped (kept with it) instead of hashing the whole chain again, and is kept for the next.
    """
    pieces, boundaries = rendered or tokens.render_pieces(
        instructions=instructions,
        tools=tools,
        items=items,
        encoding=model.encoding,
        style=model.token_style,
        text_format=text_format,
        reasoning_context=reasoning_context,
    )
    seed = f"{model.response_model}\x00{model.encoding}"
    # The base's digest is valid only if this rendering went on from the base's (same pieces first).
    base = progress.inherited.pop("prefix", None) if progress is not None and progress.resumed else None
    ends = dict(boundaries)  # several boundaries at one piece (items that render nothing): the last wins
    # Every rendered item ends with a boundary, so a base with pieces has a mark where it ended.
    if isinstance(base, _Digested) and base.seed == seed and base.end_kind and base.pieces < len(pieces):
        digest, count, hidden = base.digest.copy(), base.count, base.hidden
        marks, route, start = list(base.marks), base.route, base.pieces
        end_kind = ends.get(start, base.end_kind)
        if end_kind != base.end_kind:
            # New items that render nothing (an earlier turn's reasoning) end where the base ended: its last
            # mark (an explicit breakpoint's comes before it) takes the kind of the last boundary there, as
            # digesting the whole rendering would give.
            last = marks[-1]
            marks[-1] = Mark(last.tokens, last.hidden, last.digest, end_kind, last.ttl)
    else:
        digest = hashlib.blake2b(seed.encode(), digest_size=16)
        marks, route, count, hidden, start = [], None, 0, 0, 0
    for index in range(start, len(pieces) - 1):  # the last piece is the reply priming
        text, cost = pieces[index]
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
        count += cost
        if text.startswith(_HIDDEN_PREFIX):
            hidden += cost
        if text.startswith(tokens.BREAKPOINT_LABEL):
            ttl = text[len(tokens.BREAKPOINT_LABEL) : -2] or None
            marks.append(Mark(count, hidden, digest.hexdigest(), "explicit", ttl))
        kind = ends.get(index + 1)
        if kind is not None:
            marks.append(Mark(count, hidden, digest.hexdigest(), kind))
        if route is None and count >= ROUTE_PREFIX_TOKENS:
            route = digest.hexdigest()
    if progress is not None:  # nothing updates this digest again: a continuation copies it first
        end = max(len(pieces) - 1, 0)
        progress.followers["prefix"] = _Digested(
            seed, digest, count, hidden, marks, route, end, ends.get(end)
        )
        progress.inherited.pop("prefix", None)
    total = count + (pieces[-1][1] if pieces else 0)
    return Prefix(total, tuple(marks), route or digest.hexdigest())


@dataclass(frozen=True, slots=True)
class _Digested:
    """Where :func:`prefix_of` stopped on a rendering (kept on its :class:`tokens.Progress`)."""

    seed: str
    digest: Any  # a hashlib.blake2b object
    count: int
    hidden: int
    marks: list[Mark]
    route: str | None
    pieces: int
    """Pieces digested: every piece of the rendering but the reply priming."""
    end_kind: str | None
    """The kind of the boundary where the digested pieces end (the last mark's), if there is one."""


@dataclass(slots=True)
class _Entry:
    expires: float
    keep: float
    """Seconds a use extends the entry by."""
    hard: float
    """Never alive after this (``in_memory``: one hour after the write)."""


@dataclass(frozen=True, slots=True)
class _Signature:
    """What diagnostics compare (SDK ``PromptCacheDiagnosticsCacheMiss.reason``)."""

    model: str
    key: str | None
    tools: str
    text_format: str
    effort: str | None
    verbosity: str
    service_tier: str
    compactions: int
    marks: tuple[Mark, ...]
    reusable: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """The cache's effect on one response."""

    cached: int = 0
    written: int = 0
    written_30m: int = 0
    written_12h: int = 0
    cold: bool = False
    """The request overflowed to a cold machine (DECISIONS 14)."""
    write_details: bool = False
    """Report ``cache_write_tokens_details`` (a ``12h`` lifetime was asked for; chosen)."""
    options: dict[str, Any] | None = None
    """``prompt_cache_options`` as the response echoes them (gpt-5.6 and later, when sent)."""
    diagnostics: dict[str, Any] | None = None


@dataclass
class PromptCache:
    """One session's prompt cache, overflow counters and remembered prefixes (pure; time is passed in)."""

    entries: OrderedDict[tuple[str, str | None, str], _Entry] = field(default_factory=OrderedDict)
    traffic: dict[tuple[str, str | None, str], deque[float]] = field(default_factory=dict)
    ranks: dict[tuple[str, str | None, str], int] = field(default_factory=dict)
    remembered: OrderedDict[str, _Signature] = field(default_factory=OrderedDict)
    writes: int = 0

    @staticmethod
    def uses_state(request: Mapping[str, Any], *, model: ModelInfo, input_tokens: int) -> bool:
        """Whether :meth:`account` reads or writes the state for this request: a long enough prompt, a
        ``comparison_response_id``, or a gpt-5.6+ model (it remembers every signature). Keep in step with
        :meth:`account`; a shared store saves its round trips when this is false."""
        options = request.get("prompt_cache_options")
        comparison = options.get("comparison_response_id") if isinstance(options, Mapping) else None
        return input_tokens >= MIN_TOKENS or bool(comparison) or model.cache_rule == "gpt56plus"

    def to_json(self) -> dict[str, Any]:
        """The whole state as plain JSON (a shared store keeps it between processes, issue 12)."""
        return {
            "entries": [[list(k), e.expires, e.keep, e.hard] for k, e in self.entries.items()],
            "traffic": [[list(k), list(w)] for k, w in self.traffic.items()],
            "ranks": [[list(k), n] for k, n in self.ranks.items()],
            "remembered": [[rid, asdict(sig)] for rid, sig in self.remembered.items()],
            "writes": self.writes,
        }

    def load_json(self, data: Mapping[str, Any] | None) -> None:
        """Replace the state with one :meth:`to_json` wrote (``None``: empty)."""
        data = data or {}
        self.entries = OrderedDict(
            ((k[0], k[1], k[2]), _Entry(expires, keep, hard))
            for k, expires, keep, hard in data.get("entries", ())
        )
        self.traffic = {(k[0], k[1], k[2]): deque(w) for k, w in data.get("traffic", ())}
        self.ranks = {(k[0], k[1], k[2]): int(n) for k, n in data.get("ranks", ())}
        self.remembered = OrderedDict(
            (rid, _Signature(**{**sig, "marks": tuple(Mark(**m) for m in sig["marks"])}))
            for rid, sig in data.get("remembered", ())
        )
        self.writes = int(data.get("writes", 0))

    def account(
        self,
        request: Mapping[str, Any],
        *,
        model: ModelInfo,
        context: Sequence[Mapping[str, Any]],
        input_tokens: int,
        reasoning_context: str,
        effort: str | None,
        now: float,
        response_id: str,
        rendered: tokens.Rendering | None = None,
        progress: tokens.Progress | None = None,
    ) -> Outcome:
        """Look the request's prefix up, write what the family writes, and remember it for diagnostics.

        Args:
            request: The validated create body.
            model: Its model.
            context: Everything the model sees (as ``tokens.count_input`` gets it).
            input_tokens: ``usage.input_tokens`` already counted (short prompts skip the rendering).
            reasoning_context: Effective ``reasoning.context``.
            effort: Effective reasoning effort.
            now: Session clock time.
            response_id: The new response's id (remembered for ``comparison_response_id``).
            rendered: The context's :func:`tokens.render_pieces`, if already made (not rendered twice).
            progress: The :func:`tokens.render_chain` progress that made ``rendered`` (see :func:`prefix_of`).
        """
        options = request.get("prompt_cache_options")
        options = options if isinstance(options, Mapping) else {}
        comparison = options.get("comparison_response_id")
        key = request.get("prompt_cache_key")
        key = key if isinstance(key, str) else None
        prefix: Prefix | None = None
        if input_tokens >= MIN_TOKENS or comparison or (model.cache_rule == "gpt56plus" and options):
            prefix = prefix_of(
                model=model,
                instructions=request.get("instructions"),
                tools=request.get("tools") or (),
                items=context,
                text_format=(request.get("text") or {}).get("format"),
                reasoning_context=reasoning_context,
                rendered=rendered,
                progress=progress,
            )
        outcome = Outcome()
        if prefix is not None and input_tokens >= MIN_TOKENS:
            outcome = self._lookup_and_write(prefix, request, options, model, key, now)
        # Only gpt-5.6+ diagnoses misses (SPEC §13), so only its responses need a remembered signature.
        signature = (
            _signature(request, model, key, effort, context, prefix)
            if model.cache_rule == "gpt56plus"
            else None
        )
        echo: dict[str, Any] | None = None
        diagnostics: dict[str, Any] | None = None
        if model.cache_rule == "gpt56plus" and options:
            echo = {"mode": options.get("mode") or "implicit", "ttl": options.get("ttl") or "30m"}
            if comparison is not None:
                echo["comparison_response_id"] = comparison
        if comparison:
            diagnostics = self._diagnose(str(comparison), signature, outcome, model, prefix)
        if signature is not None:
            self._remember(response_id, signature)
        if echo is None and diagnostics is None:
            return outcome
        return Outcome(
            outcome.cached,
            outcome.written,
            outcome.written_30m,
            outcome.written_12h,
            outcome.cold,
            outcome.write_details,
            echo,
            diagnostics,
        )

    # --- lookup and write ------------------------------------------------------------------------------

    def _lookup_and_write(
        self,
        prefix: Prefix,
        request: Mapping[str, Any],
        options: Mapping[str, Any],
        model: ModelInfo,
        key: str | None,
        now: float,
    ) -> Outcome:
        name = model.response_model
        cold = self._overflows((name, key, prefix.route), now)
        rule = model.cache_rule
        if rule == "gpt56plus":
            return self._breakpoints(prefix, options, name, key, now, cold)
        # legacy / gpt55: the whole prompt is cached; the longest cached mark counts.
        retention = "24h" if rule == "gpt55" else str(request.get("prompt_cache_retention") or "24h")
        eligible = [m for m in prefix.marks if m.visible >= MIN_TOKENS]
        hit: Mark | None = None
        if not cold:
            for mark in reversed(eligible):
                if self._alive((name, key, mark.digest), now):
                    hit = mark
                    break
        cached = 0
        if hit is not None:
            if rule == "gpt55":
                # Implicit breakpoints every 2,048 tokens; hidden tokens excluded, rounded down to 128.
                block = hit.tokens // GPT55_INTERVAL * GPT55_INTERVAL
                cached = max(0, block - hit.hidden) // STEP * STEP
            else:
                cached = hit.tokens // STEP * STEP
        if not cold:
            if retention == "in_memory":
                keep, hard = IN_MEMORY_IDLE, now + IN_MEMORY_MAX
            else:
                keep, hard = RETENTION_24H, now + RETENTION_24H
            for mark in eligible:
                self._write((name, key, mark.digest), now, keep, hard)
        return Outcome(cached=cached, cold=cold)

    def _breakpoints(
        self, prefix: Prefix, options: Mapping[str, Any], name: str, key: str | None, now: float, cold: bool
    ) -> Outcome:
        """gpt-5.6 and later: exact counts at breakpoints (SPEC §13)."""
        mode = options.get("mode") or "implicit"
        default_ttl = str(options.get("ttl") or "30m")
        explicit = [m for m in prefix.marks if m.kind == "explicit"]
        items = [m for m in prefix.marks if m.kind in ("message", "item")]
        implicit = items[-1] if items and mode == "implicit" else None
        candidates: list[Mark] = list(explicit[-MAX_EXPLICIT_LOOKUP:])
        if mode == "implicit":
            endings = [m for m in items[:-1] if m.kind == "message"][-MAX_MESSAGE_ENDINGS:]
            candidates.extend(endings)
            candidates.extend(m for m in prefix.marks if m.kind == "developer")
            if implicit is not None:
                candidates.append(implicit)
        candidates = [m for m in candidates if m.visible >= MIN_TOKENS]
        hit = 0
        if not cold:
            for mark in sorted(candidates, key=lambda m: m.tokens, reverse=True):
                if self._alive((name, key, mark.digest), now):
                    hit = mark.tokens
                    break
        writes = explicit[-(MAX_WRITES - 1) :] if implicit is not None else explicit[-MAX_WRITES:]
        planned = [(m, m.ttl or default_ttl) for m in writes]
        if implicit is not None:
            planned.append((implicit, default_ttl))
            # Chosen: the implicit write also keeps the end of the initial developer block (a lookup
            # candidate, SPEC §13), so a stable instructions + tools prefix is reused as input changes.
            developer = next((m for m in prefix.marks if m.kind == "developer"), None)
            if developer is not None and len(planned) < MAX_WRITES:
                planned.append((developer, default_ttl))
        planned = sorted(
            ((m, ttl if ttl in TTL_SECONDS else "30m") for m, ttl in planned if m.visible >= MIN_TOKENS),
            key=lambda pair: pair[0].tokens,
        )
        written = {"30m": 0, "12h": 0}
        covered = hit
        for mark, ttl in planned:
            # Tokens past what is cached already are written once, with the lifetime of the breakpoint
            # that ends them.
            if mark.tokens > covered:
                written[ttl] += mark.tokens - covered
                covered = mark.tokens
            if not cold:
                seconds = TTL_SECONDS[ttl]
                self._write((name, key, mark.digest), now, seconds, float("inf"))
        asked_12h = default_ttl == "12h" or any(ttl == "12h" for _, ttl in planned)
        return Outcome(
            cached=hit,
            written=written["30m"] + written["12h"],
            written_30m=written["30m"],
            written_12h=written["12h"],
            cold=cold,
            write_details=asked_12h,
        )

    def _overflows(self, route: tuple[str, str | None, str], now: float) -> bool:
        """DECISIONS 14: above 15 requests a minute on one route, a deterministic share goes cold."""
        if route not in self.traffic and len(self.traffic) >= _MAX_ROUTES:
            # Bound the counters of a long-lived session: forget routes idle for a whole window.
            for idle in [r for r, w in self.traffic.items() if not w or w[-1] <= now - ROUTE_WINDOW]:
                del self.traffic[idle]
                self.ranks.pop(idle, None)
        window = self.traffic.setdefault(route, deque())
        while window and window[0] <= now - ROUTE_WINDOW:
            window.popleft()
        window.append(now)
        rank = self.ranks.get(route, 0) + 1
        self.ranks[route] = rank
        n = len(window)
        if n <= ROUTE_RATE:
            return False
        draw = hashlib.blake2b(f"{route}|{rank}".encode(), digest_size=8).digest()
        return int.from_bytes(draw, "big") / 2.0**64 < (n - ROUTE_RATE) / n

    def _alive(self, key: tuple[str, str | None, str], now: float) -> bool:
        entry = self.entries.get(key)
        if entry is None:
            return False
        if now >= entry.expires or now >= entry.hard:
            del self.entries[key]
            return False
        return True

    def _write(self, key: tuple[str, str | None, str], now: float, keep: float, hard: float) -> None:
        entry = self.entries.get(key)
        if entry is not None and now < entry.expires and now < entry.hard:
            # A use refreshes the entry (in_memory: idle time; breakpoints: their minimum lifetime).
            entry.expires = max(entry.expires, now + keep)
            self.entries.move_to_end(key)
            return
        self.entries[key] = _Entry(now + keep, keep, hard)
        self.entries.move_to_end(key)
        self.writes += 1
        if len(self.entries) > _MAX_ENTRIES:
            for stale in [k for k, e in self.entries.items() if now >= e.expires or now >= e.hard]:
                del self.entries[stale]
            while len(self.entries) > _MAX_ENTRIES:
                self.entries.popitem(last=False)

    # --- diagnostics -----------------------------------------------------------------------------------

    def _remember(self, response_id: str, signature: _Signature) -> None:
        self.remembered[response_id] = signature
        while len(self.remembered) > _MAX_REMEMBERED:
            self.remembered.popitem(last=False)

    def _diagnose(
        self,
        comparison: str,
        signature: _Signature | None,
        outcome: Outcome,
        model: ModelInfo,
        prefix: Prefix | None,
    ) -> dict[str, Any]:
        """``prompt_cache_diagnostics`` (SDK 3.51.0 ``Response.prompt_cache_diagnostics``)."""
        if signature is None or model.cache_rule != "gpt56plus":
            return {"type": "unavailable"}
        before = self.remembered.get(comparison)
        if before is None:
            return {"type": "comparison_response_not_found"}
        if outcome.cached > 0:
            return {"type": "cache_hit"}
        reason = _first_difference(before, signature)
        if reason is None:
            # Same prefix but no hit: expired, overflowed or too short; nothing the reasons name (chosen).
            return {"type": "unavailable"}
        total = prefix.total if prefix is not None else 0
        shared = {m.digest for m in before.marks}
        common = max((m.tokens for m in signature.marks if m.digest in shared), default=0)
        if reason != "input_changed":
            common = 0  # the model, key, tools or settings change everything after the start
        miss: dict[str, Any] = {
            "type": "cache_miss",
            "reason": reason,
            "cache_missed_tokens": max(0, total - common),
        }
        miss["comparison_reusable_tokens"] = before.reusable
        return miss


def _digest(value: Any) -> str:
    try:  # orjson: the same canonical bytes for hashing, much faster; the stdlib takes what it refuses
        data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
        data = text.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def _signature(
    request: Mapping[str, Any],
    model: ModelInfo,
    key: str | None,
    effort: str | None,
    context: Sequence[Mapping[str, Any]],
    prefix: Prefix | None,
) -> _Signature:
    text_cfg = request.get("text") or {}
    marks = prefix.marks if prefix is not None else ()
    return _Signature(
        model=model.response_model,
        key=key,
        tools=_digest(request.get("tools") or []),
        text_format=_digest(text_cfg.get("format") or {"type": "text"}),
        effort=effort,
        verbosity=str(text_cfg.get("verbosity") or "medium"),
        service_tier=str(request.get("service_tier") or "auto"),
        compactions=sum(1 for item in context if item.get("type") == "compaction"),
        marks=marks,
        reusable=max((m.tokens for m in marks if m.visible >= MIN_TOKENS), default=0),
    )


def _first_difference(before: _Signature, now: _Signature) -> str | None:
    """The SDK's miss reasons, checked in its order."""
    checks = (
        ("model_changed", before.model != now.model),
        ("prompt_cache_key_changed", before.key != now.key),
        ("tools_changed", before.tools != now.tools),
        ("text_format_changed", before.text_format != now.text_format),
        ("reasoning_effort_changed", before.effort != now.effort),
        ("verbosity_changed", before.verbosity != now.verbosity),
        ("context_compacted", now.compactions > before.compactions),
        ("service_tier_changed", before.service_tier != now.service_tier),
    )
    for reason, changed in checks:
        if changed:
            return reason
    eligible = [m for m in before.marks if m.visible >= MIN_TOKENS]
    if not eligible:
        return None  # the compared prompt was too short to be cached
    if eligible[-1].digest not in {m.digest for m in now.marks}:
        return "input_changed"
    return None


def annotate(response: dict[str, Any], outcome: Outcome) -> None:
    """Write the outcome into a ``Response``: usage details, and the echoed options and diagnostics after
    ``prompt_cache_key`` (the field order real traffic shows)."""
    usage = response.get("usage")
    if isinstance(usage, dict):
        details: dict[str, Any] = {"cached_tokens": outcome.cached, "cache_write_tokens": outcome.written}
        if outcome.write_details:
            details["cache_write_tokens_details"] = {
                "ttl_30m_tokens": outcome.written_30m,
                "ttl_12h_tokens": outcome.written_12h,
            }
        usage["input_tokens_details"] = details
    if outcome.options is None and outcome.diagnostics is None:
        return
    extra: dict[str, Any] = {}
    if outcome.diagnostics is not None:
        extra["prompt_cache_diagnostics"] = outcome.diagnostics
    if outcome.options is not None:
        extra["prompt_cache_options"] = outcome.options
    items = list(response.items())
    response.clear()
    for name, value in items:
        if name == "prompt_cache_key":  # diagnostics, key, options: alphabetical, as recorded
            if "prompt_cache_diagnostics" in extra:
                response["prompt_cache_diagnostics"] = extra.pop("prompt_cache_diagnostics")
            response[name] = value
            if "prompt_cache_options" in extra:
                response["prompt_cache_options"] = extra.pop("prompt_cache_options")
            continue
        response[name] = value
    response.update(extra)
