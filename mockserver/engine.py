"""The Responses engine: a pure, synchronous, deterministic state machine (DECISIONS 1).

It owns sessions (DECISIONS 2), each with its clock, id source, queued replies and journal, and the
store. Adapters call :meth:`Engine.create` and friends with parsed JSON and get back plain values:
a :class:`Run` (the final ``Response`` plus its event stream) or a JSON-ready dict. Nothing here does
I/O, sleeps or knows about aiohttp; time only moves through the injected clocks.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import (
    background,
    builtin_tools,
    catalog,
    compaction,
    continuity,
    conversations,
    generator,
    prompt_cache,
    reasoning,
    references,
    rules,
    scenario,
    tokens,
    tool_search,
    validation,
)
from .catalog import Catalog, ModelInfo
from .clock import Clock, RealClock, VirtualClock
from .config import ServerConfig
from .containers import ContainerBook
from .conversations import ConversationBook
from .errors import InvalidRequest, NotFound, missing_required
from .events import stream_events
from .faults import FaultBook
from .files import FileBook
from .ids import IdFactory
from .latency import LatencyProfile, Pacer, offsets, pace
from .script import ErrorReply, FunctionCallsReply, OutputReply, Reply, TextReply
from .sealing import Sealer
from .store import RUNNING_STATUSES, Store, StoredResponse, open_store
from .vector_stores import VectorStoreBook
from .webhooks import Delivery, WebhookBook

__all__ = ["DEFAULT_SESSION", "Engine", "Run", "Session", "Turn", "is_warmup"]

DEFAULT_SESSION = "default"
JOURNAL_LIMIT = 10_000
"""Entries kept per session in the request journal (``GET /_resplay/requests``)."""

RENDERS_KEPT = 256
"""Turns per session whose prompt rendering is kept for a continuation (``Session.renders``): a chain's
tip is continued, so a few hundred cover many concurrent conversations; a miss renders the whole chain."""

# Models that emit the assistant ``phase`` (SPEC §10: gpt-5.3-codex and later).
_PHASE_FAMILIES = ("gpt-5.3", "gpt-5.4", "gpt-5.5", "gpt-5.6", "gpt-6")


def is_warmup(request: Mapping[str, Any]) -> bool:
    """``generate: false``, or ``prompt_cache_options.prewarm: true`` which forces it [SDK] (SPEC §6.2)."""
    cache_options = request.get("prompt_cache_options")
    prewarm = isinstance(cache_options, Mapping) and cache_options.get("prewarm") is True
    return request.get("generate") is False or prewarm


@dataclass
class Session:
    """Everything one ``x-resplay-session`` owns, besides its stored responses."""

    name: str
    clock: Clock
    ids: IdFactory
    replies: deque[Reply] = field(default_factory=deque)
    journal: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=JOURNAL_LIMIT))
    """The request journal; the oldest entries drop off past ``JOURNAL_LIMIT`` so a long-running
    server (a load target) keeps bounded memory."""
    jobs: dict[str, background.Job] = field(default_factory=dict)
    """Background jobs by response id (cancel and stream resume find them here)."""
    ledger: reasoning.Ledger = field(default_factory=reasoning.Ledger)
    """Reasoning items this session produced and the items that followed them (SPEC §8, DECISIONS 12)."""
    cache: prompt_cache.PromptCache = field(default_factory=prompt_cache.PromptCache)
    """Prompt-cache entries, overflow counters and remembered prefixes (SPEC §13, :mod:`.prompt_cache`)."""
    rules: rules.RuleBook = field(default_factory=rules.RuleBook)
    """Scripted rules and strict mode (see :mod:`.rules`); queued replies go first."""
    faults: FaultBook = field(default_factory=FaultBook)
    """Queued and armed faults, the chaos draw and a rule's latency override (see :mod:`.faults`)."""
    conversations: ConversationBook = field(default_factory=ConversationBook)
    """Conversations and their items (SPEC §2.8, :mod:`.conversations`)."""
    files: FileBook = field(default_factory=FileBook)
    """Uploaded files (``/v1/files``, :mod:`.files`)."""
    vector_stores: VectorStoreBook = field(default_factory=VectorStoreBook)
    """Vector stores and their attached files (:mod:`.vector_stores`)."""
    containers: ContainerBook = field(default_factory=ContainerBook)
    """Containers and their files (``/v1/containers``, :mod:`.containers`)."""
    webhooks: WebhookBook = field(default_factory=WebhookBook)
    """The session's webhook endpoint override and its deliveries (:mod:`.webhooks`)."""
    renders: OrderedDict[str, tokens.Progress] = field(default_factory=OrderedDict)
    """The latest turns' prompt renderings by response id, for their continuations (bounded)."""

    def remember_rendering(self, response_id: str, progress: tokens.Progress) -> None:
        """Keep a turn's rendering for a continuation; the least recently made go past ``RENDERS_KEPT``."""
        renders = self.renders
        renders[response_id] = progress
        if len(renders) > RENDERS_KEPT:
            renders.popitem(last=False)


@dataclass
class Turn:
    """One create request on its way through the pipeline (see :meth:`Engine.create`)."""

    request: dict[str, Any]
    state: Session
    model: ModelInfo
    effort: str | None
    parent: StoredResponse | None
    now: float
    shard: str
    response_id: str
    input_items: list[dict[str, Any]]
    context: list[dict[str, Any]]
    """Everything the model sees: the chain's items, then this request's input."""
    window: compaction.Window | None = None
    """Compaction view of the context (latest compaction item expanded, SPEC §12)."""
    carry: reasoning.Carry = field(default_factory=reasoning.Carry)
    """Reasoning the model continues from (SPEC §8)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Request headers as received (rule matchers get them lower-cased, :meth:`Engine._rule_request`)."""
    rendering: tokens.Progress | None = None
    """The prompt's rendering (``_materialize``), which per-item work over the context can go on from."""


class Run:
    """One created response: its final object and (lazily) its event stream.

    Foreground responses finish inside :meth:`Engine.create`; later features (background jobs,
    latency) release events over time through :meth:`subscribe`.
    """

    def __init__(
        self, record: StoredResponse, *, obfuscation: bool, job: background.Job | Pacer | None = None
    ) -> None:
        self.record = record
        self.response = record.response
        """The response as the create answers it (``queued`` for a background run)."""
        self._obfuscation = obfuscation
        self._events: list[dict[str, Any]] | None = None
        self.job = job
        """The background job releasing this run's events over time; ``None`` for foreground runs."""

    @property
    def done(self) -> bool:
        """Whether every event exists (foreground: at once; background: after the terminal event)."""
        return self.job is None or self.job.done

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` when events are released (see :meth:`background.Job.subscribe`); returns the
        unsubscribe call. A foreground run is complete already, so its listener is never called."""
        return self.job.subscribe(listener) if self.job is not None else _nothing

    @property
    def id(self) -> str:
        """The response id."""
        return self.record.id

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every stream event, ``response.created`` first (built on first use); a background run's events
        released so far (the list grows as its job runs)."""
        if self.job is not None:
            return self.job.events
        if self._events is None:
            self._events = list(
                stream_events(self.response, obfuscate=_obfuscator(self.id) if self._obfuscation else None)
            )
        return self._events


def _nothing() -> None:
    """Unsubscribe from a run that never notifies."""


# Byte -> alphanumeric padding character (the slight bias towards the first 8 is irrelevant for padding).
_PAD_TABLE = bytes(
    ord("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[i % 62]) for i in range(256)
)


def _obfuscator(seed: str) -> Callable[[str], str]:
    """Padding for deltas: observed ``len(delta) + len(obfuscation) == 16`` on short deltas (SPEC §4.2).

    The characters come from SHAKE-128 of ``seed`` (an XOF: a longer digest extends a shorter one), so
    they are deterministic; seeding a ``random.Random`` per response cost ~12 µs and ``choices`` ~4 µs
    per delta (docs/performance.md).
    """
    xof = hashlib.shake_128(seed.encode())
    pool = ""
    used = 0

    def pad(delta: str) -> str:
        nonlocal pool, used
        size = 16 - len(delta) % 16
        if used + size > len(pool):
            pool = xof.digest(max(512, 2 * len(pool))).translate(_PAD_TABLE).decode("ascii")
        used += size
        return pool[used - size : used]

    return pad


class Engine:
    """I/O-free implementation of the Responses API.

    Args:
        config: Server configuration (seed, clock kind, extra models, ...).
        store: Where responses are kept; by default ``config.store`` (memory) via :func:`.store.open_store`.
        catalog: The model catalogue; built from ``config.models`` by default.
        clock_factory: Makes each session's clock; by default ``config.clock`` picks real or virtual.
    """

    def __init__(
        self,
        config: ServerConfig | None = None,
        *,
        store: Store | None = None,
        catalog: Catalog | None = None,
        clock_factory: Callable[[], Clock] | None = None,
    ) -> None:
        self.config = config or ServerConfig()
        self.store: Store = (
            store
            if store is not None
            else open_store(self.config.store, max_per_session=self.config.max_stored_responses)
        )
        self.catalog = catalog or Catalog(self.config.models)
        if clock_factory is None:
            start = self.config.clock_start  # None: each virtual clock starts at the wall time
            clock_factory = (lambda: VirtualClock(start)) if self.config.clock == "virtual" else RealClock
        self._clock_factory = clock_factory
        self._sessions: dict[str, Session] = {}
        self.lock = threading.RLock()
        """Held by adapters and in-process callers around every engine call (the engine is not re-entrant
        across threads: ``MockServer`` scripts it from the test thread while the loop thread serves)."""
        self.on_clock_schedule: Callable[[float], None] | None = None
        """Forwarded to every session clock: lets the real-clock ticker wake up for new deadlines."""
        self.webhook_target = self.config.webhook_target()
        """The server-wide webhook endpoint (``--webhook-url``); a session may override it."""
        self.on_webhook: Callable[[Delivery], None] | None = None
        """Called (engine lock held, any thread) with each new webhook delivery: the adapter POSTs it."""
        # A shared store (Redis) hands out one secret, so processes open each other's blobs (issue 12).
        self.sealer = Sealer(self.config.secret or getattr(self.store, "shared_secret", None))
        """Seals encrypted reasoning and compaction blobs with the server secret (DECISIONS 13)."""
        self.latency: LatencyProfile = self.config.latency_profile()
        """How foreground responses are paced (``--latency``, :mod:`.latency`)."""
        self.scenario: rules.RuleBook | None = (
            scenario.load_scenario_file(self.config.scenario).book() if self.config.scenario else None
        )
        """Rules every new session starts with (``resplay serve --scenario FILE``), copied per session."""
        # Background jobs a store ended because their process was lost (a SQLite restart, a SIGKILLed Redis
        # owner) failed like any other: they get their response.failed webhooks too (:mod:`.webhooks`).
        for name, response in self.store.lost:
            self._lost_job(name, response)
        self.store.lost.clear()
        self.store.on_lost = self._lost_job

    # --- sessions --------------------------------------------------------------------------------

    def session(self, name: str | None = None) -> Session:
        """The session called ``name`` (created on first use)."""
        name = name or DEFAULT_SESSION
        found = self._sessions.get(name)
        if found is None:
            clock = self._clock_factory()
            clock.on_schedule = self.on_clock_schedule
            # A persistent store reopened by a seeded server: a new id sequence per boot, so the records of
            # earlier boots are never overwritten (``SqliteStore.generation``, issue 12).
            generation = getattr(self.store, "generation", 0)
            namespace = f"{name}~{generation}" if generation else name
            found = Session(name, clock, IdFactory(self.config.seed, namespace))
            shared_cache = getattr(self.store, "prompt_cache", None)
            if shared_cache is not None:  # a shared store (Redis) keeps the prompt cache too (issue 12)
                found.cache = shared_cache(name)
            if self.scenario is not None:
                found.rules = self.scenario.copy()
            self._sessions[name] = found
        return found

    def sessions(self) -> list[Session]:
        """Every session created so far."""
        return list(self._sessions.values())

    def reset(self, session: str | None = None) -> None:
        """Forget one session's state (responses, replies, journal, clock), or every session's."""
        if session is None:
            self._sessions.clear()
            self.store.clear()
        else:
            self._sessions.pop(session, None)
            self.store.clear(session)

    def advance(self, seconds: float, session: str | None = None) -> int:
        """Move a session's clock forward, firing due timers; returns how many fired."""
        return self.session(session).clock.advance(seconds)

    def next_deadline(self) -> float | None:
        """Earliest pending timer deadline over all sessions, in real time (for the ticker)."""
        deadlines = [
            d - s.clock.now()
            for s in self._sessions.values()
            if not isinstance(s.clock, VirtualClock) and (d := s.clock.next_deadline()) is not None
        ]
        return min(deadlines) if deadlines else None

    def fire_due(self) -> int:
        """Fire due timers in every session (called by the real-clock ticker)."""
        return sum(s.clock.fire_due() for s in list(self._sessions.values()))

    def queue_reply(self, reply: Reply, session: str | None = None) -> None:
        """Queue the next reply of a session's model (FIFO)."""
        self.session(session).replies.append(reply)

    def record(self, entry: dict[str, Any], session: str | None = None) -> None:
        """Append an entry to a session's request journal."""
        self.session(session).journal.append(entry)

    # --- create ----------------------------------------------------------------------------------

    def create(
        self,
        body: Any,
        *,
        session: str | None = None,
        websocket: bool = False,
        parent_lookup: Callable[[str], StoredResponse | None] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Run:
        """Create a response (``POST /v1/responses`` or WebSocket ``response.create``).

        The pipeline is ``validate -> _prepare -> _plan -> _materialize -> _launch``; features hook
        into the step they change (background jobs into ``_launch``, encrypted reasoning into
        ``_prepare`` and ``_materialize``, warm-ups and compaction into ``_plan``).

        Args:
            body: The parsed JSON body.
            session: Session name.
            websocket: Validate as a WebSocket ``response.create`` event.
            parent_lookup: Resolves ``previous_response_id`` before the store (the WebSocket
                connection-local cache, SPEC §6.5).

        Raises:
            APIError: validation, model, chain or scripted errors, before any event exists.
        """
        request = validation.validate_create(body, websocket=websocket)
        builtin_tools.check_tool_choice(request)
        background.check_store(request, self.config.background_store_policy)
        state = self.session(session)
        if self.config.check_references:  # files, vector stores, containers named by id must exist
            references.check(
                request,
                files=state.files,
                vector_stores=state.vector_stores,
                containers=state.containers,
                now=state.clock.now(),
            )
        turn = self._prepare(request, state, parent_lookup)
        turn.headers = headers or {}
        # Background (SPEC §7): take the timing, and a scripted 5xx that fails the job later, before _plan.
        job = background.prepare(
            request,
            turn.state.replies,
            policy=self.config.background_store_policy,
            default=background.BackgroundTiming(
                self.config.background_queued, self.config.background_in_progress
            ),
        )
        plan = self._plan(turn) if job is None or job.failure is None else generator.Plan()
        record = self._materialize(turn, plan)
        for item in record.response.get("output") or ():  # auto containers exist from now on (.containers)
            if item.get("type") == "code_interpreter_call" and isinstance(item.get("container_id"), str):
                turn.state.containers.adopt(item["container_id"], now=turn.now)
        return self._launch(turn, record, job)

    def _prepare(
        self,
        request: dict[str, Any],
        state: Session,
        parent_lookup: Callable[[str], StoredResponse | None] | None,
    ) -> Turn:
        """Resolve the model, effort and chain; normalise the input; check the context."""
        model = self._model(request)
        effort = self._effort(request, model)
        parent = self._parent(request, state, parent_lookup)
        now = state.clock.now()
        shard = state.ids.shard()
        input_items = self._input_items(request.get("input"), state, shard, now)
        history = list(self._chain(parent, state.name)) if parent is not None else []
        conv_id = conversations.conversation_id(request.get("conversation"))
        if conv_id is not None:  # SPEC §2.8: the conversation's items come first
            history = state.conversations.history(conv_id)
        _check_tool_pairs(history + input_items)
        tool_search.check(request, model, history, input_items)  # SPEC §11
        # Compaction and encrypted reasoning (SPEC §8, §12): verify blobs, expand, pick what carries over.
        context, window, carry = continuity.prepare(
            request, history, input_items, model=model, state=state, sealer=self.sealer
        )
        return Turn(
            request=request,
            state=state,
            model=model,
            effort=effort,
            parent=parent,
            now=now,
            shard=shard,
            response_id=state.ids.object_id("resp", shard, now),
            input_items=input_items,
            context=context,
            window=window,
            carry=carry,
        )

    def _plan(self, turn: Turn) -> generator.Plan:
        """What the model says: the next queued reply, else the default model."""
        state, request, model = turn.state, turn.request, turn.model
        if is_warmup(request):
            return generator.Plan()  # warm-up: state only, no output, no queued reply used (SPEC §6.2)
        if turn.window is not None and turn.window.forced:
            return generator.Plan()  # final compaction_trigger: the output is the compaction item (SPEC §12)
        # A queued reply is a one-shot rule of the highest priority; then the session's rules (.rules).
        if state.replies:
            reply: Reply | None = state.replies.popleft()
        elif state.rules.active:
            # Only a session with rules pays for the matchers' view (a walk up the chain for its depth).
            reply = state.rules.pick(self._rule_request(turn))
        else:
            reply = None
        if isinstance(reply, ErrorReply):
            raise reply.to_error()
        if reply is not None:
            planned = _plan_from_reply(reply, model)
            builtin_tools.with_hint(planned, generator.last_user_text(turn.context))
            return planned
        text_cfg = request.get("text") or {}
        reasoning_cfg = request.get("reasoning") or {}
        plan = tool_search.decide(  # generator.decide, searching deferred tools first (SPEC §11)
            generator.TurnInput(
                context=turn.context,
                tools=request.get("tools") or (),
                tool_choice=request.get("tool_choice") or "auto",
                parallel_tool_calls=request.get("parallel_tool_calls") is not False,
                effort=turn.effort,
                summary=reasoning_cfg.get("summary") or reasoning_cfg.get("generate_summary"),
                verbosity=text_cfg.get("verbosity") or "medium",
                text_format=text_cfg.get("format"),
                uses_phase=model.name.startswith(_PHASE_FAMILIES),
                seed=self.config.seed or 0,
            )
        )
        if not any(isinstance(p, generator.CallPlan) for p in plan.items):
            user_text = generator.last_user_text(turn.context)
            builtin_tools.merge_default(plan, builtin_tools.default_calls(request, turn.context, user_text))
        return reasoning.continue_plan(plan, turn.carry, text_cfg.get("format"))

    def _rule_request(self, turn: Turn) -> rules.Request:
        """The view of this turn that rule matchers and callable replies get."""
        depth, node = 0, turn.parent
        while node is not None:
            depth += 1
            node = self.store.get(turn.state.name, node.parent_id) if node.parent_id else None
        headers = {k.lower(): v for k, v in turn.headers.items()}
        return rules.Request(turn.request, turn.context, turn.input_items, depth, headers, turn.state.faults)

    def _materialize(self, turn: Turn, plan: generator.Plan) -> StoredResponse:
        """Output items with ids, usage and the ``Response`` object, wrapped in a store record."""
        request = turn.request
        output, output_tokens, reasoning_tokens, truncated = self._build_output(
            plan, request, turn.model, turn.state, turn.shard, turn.now
        )
        # The prompt is rendered once: its pieces give usage.input_tokens (they add up to
        # tokens.count_input) and the prompt-cache prefix digests below. A chained turn goes on from its
        # parent's rendering (its context is the parent's, the parent's output and the new input) rather
        # than rendering the whole chain again; tokens.render_chain renders it all when that does not hold.
        parent = turn.parent
        rendered, progress = tokens.render_chain(
            instructions=request.get("instructions"),
            tools=request.get("tools") or (),
            items=turn.context,
            encoding=turn.model.encoding,
            style=turn.model.token_style,
            text_format=(request.get("text") or {}).get("format"),
            reasoning_context=turn.carry.reasoning_context,
            base=turn.state.renders.get(parent.id) if parent is not None else None,
        )
        turn.state.remember_rendering(turn.response_id, progress)
        turn.rendering = progress
        input_tokens = tokens.rendered_tokens(rendered, progress)
        output_tokens += continuity.finish(
            turn, plan, output, reasoning_tokens, input_tokens + output_tokens, self.sealer
        )
        usage = _usage(input_tokens, output_tokens, reasoning_tokens)
        status = "incomplete" if truncated else "completed"
        response = self._response_object(
            request, turn.model, turn.effort, turn.response_id, turn.now, output, usage, status, turn.parent
        )
        # Prompt caching (SPEC §13) and the echo of tools a tool search loaded (SPEC §11).
        prompt_cache.annotate(
            response,
            turn.state.cache.account(
                request,
                model=turn.model,
                context=turn.context,
                input_tokens=input_tokens,
                reasoning_context=turn.carry.reasoning_context,
                effort=turn.effort,
                now=turn.now,
                response_id=turn.response_id,
                rendered=rendered,
                progress=progress,
            ),
        )
        if tool_search.search_tool(request.get("tools") or ()) is not None:
            response["tools"] = tool_search.echo_tools(request.get("tools") or (), turn.context, _echo_tool)
        if turn.carry.withheld:
            response["input_transformations"] = turn.carry.withheld  # SDK 3.51.0 (SPEC §8)
        return StoredResponse(
            response=response,
            input_items=turn.input_items,
            parent_id=turn.parent.id if turn.parent is not None else None,
            stored=request.get("store") is not False,
            meta={"input_tokens": input_tokens, "stream": bool(request.get("stream"))},
        )

    def _launch(self, turn: Turn, record: StoredResponse, job: background.JobSpec | None = None) -> Run:
        """Store the record (when ``store`` allows) and start its run; foreground runs are done at once,
        background ones become a :class:`background.Job` on the session clock (SPEC §7)."""
        include_obfuscation = (turn.request.get("stream_options") or {}).get("include_obfuscation", True)
        profile = turn.state.faults.take_latency() or self.latency
        bind = conversations.binder(turn.request, turn.state.conversations, record, turn.input_items)
        started = None
        if job is not None:
            state = turn.state
            # store=false (policy allow): pollable, cancellable ~10 minutes, never chainable (DECISIONS 19).
            record.meta["pollable"] = True
            started = background.Job(
                record,
                job,
                clock=state.clock,
                store=self.store,
                session=state.name,
                jobs=state.jobs,
                keep_log=bool(turn.request.get("stream")),
                # Observed: real background streams carry no padding unless asked for explicitly.
                obfuscation=(turn.request.get("stream_options") or {}).get("include_obfuscation") is True,
                retention=None if record.stored else background.STORE_FALSE_RETENTION,
                # DECISIONS 11: the phases plus the latency profile's per-token time (none when instant).
                pacing=None
                if profile.instant
                else functools.partial(
                    offsets,
                    prof=profile,
                    model=turn.model.name,
                    effort=turn.effort,
                    rehydrate_tokens=None,
                    seed=turn.response_id,
                ),
                on_settle=functools.partial(self._settled, state),
            )
        if record.stored or started is not None:
            self.store.put(turn.state.name, record)
        if bind is not None:  # SPEC §2.8: input and output join the conversation once the response is done
            if started is None:
                bind()
            else:
                started.subscribe(bind)
        run = Run(record, obfuscation=include_obfuscation is not False, job=started)
        if started is None and not profile.instant:
            # Paced foreground run (mockserver.latency): a continuation rehydrates its state unless it came
            # from the WebSocket connection-local cache, whose records are not the store's (SPEC §6.5).
            parent = turn.parent
            hydrated = parent is not None and self.store.get(turn.state.name, parent.id) is parent
            run.job = pace(
                run.events,
                profile,
                turn.state.clock,
                model=turn.model.name,
                effort=turn.effort,
                rehydrate_tokens=int(parent.meta.get("input_tokens", 0)) if hydrated and parent else None,
                seed=turn.response_id,
            )
        return run

    def _lost_job(self, session: str, response: dict[str, Any]) -> None:
        """A store ended a lost process's job ``failed``: settle it like a job of ours (its webhook)."""
        self._settled(self.session(session), response)

    def _settled(self, state: Session, final: dict[str, Any]) -> None:
        """A background job ended: queue its webhook when the session has an endpoint (:mod:`.webhooks`)."""
        delivery = state.webhooks.settled(
            final, default=self.webhook_target, ids=state.ids, now=state.clock.now(), session=state.name
        )
        if delivery is not None and self.on_webhook is not None:
            self.on_webhook(delivery)

    def input_tokens(self, body: Any, *, session: str | None = None) -> dict[str, Any]:
        """``POST /v1/responses/input_tokens``: exactly the ``usage.input_tokens`` a create would report."""
        request = validation.validate_input_tokens(body)
        state = self.session(session)
        model = self._model(request)
        self._effort(request, model)
        parent = self._parent(request, state, None)
        now = state.clock.now()
        items = self._input_items(request.get("input"), IdFactory(0), "0" * 16, now)
        history = list(self._chain(parent, state.name)) if parent is not None else []
        context, _, carry = continuity.prepare(
            request, history, items, model=model, state=state, sealer=self.sealer
        )
        count = tokens.count_input(
            instructions=request.get("instructions"),
            tools=request.get("tools") or (),
            items=context,
            encoding=model.encoding,
            style=model.token_style,
            text_format=(request.get("text") or {}).get("format"),
            reasoning_context=carry.reasoning_context,
        )
        return {"object": "response.input_tokens", "input_tokens": count}

    def compact(self, body: Any, *, session: str | None = None) -> dict[str, Any]:
        """``POST /v1/responses/compact`` (SPEC §2.7): the user messages plus one compaction item.

        Not stored; its output starts a new chain (SPEC §6.5). See :mod:`.compaction`.
        """
        request = validation.validate_compact(body)
        turn = self._prepare(request, self.session(session), None)
        output, input_tokens, output_tokens = continuity.compact(turn, self.sealer)
        return {
            "id": turn.response_id,
            "object": "response.compaction",
            "created_at": int(turn.now),
            "output": output,
            "usage": _usage(input_tokens, output_tokens, 0),
        }

    # --- read / delete ---------------------------------------------------------------------------

    def retrieve(self, response_id: str, *, session: str | None = None) -> dict[str, Any]:
        """``GET /v1/responses/{id}``: the stored ``Response``.

        Raises:
            NotFound: unknown, deleted or ``store=false`` response.
        """
        return self._stored(response_id, session).response

    def delete(self, response_id: str, *, session: str | None = None) -> dict[str, Any]:
        """``DELETE /v1/responses/{id}`` (SPEC §2.3: ``object: "response.deleted"``)."""
        name = self.session(session).name
        self._stored(response_id, name)
        self.store.delete(name, response_id)
        return {"id": response_id, "object": "response.deleted", "deleted": True}

    def cancel(self, response_id: str, *, session: str | None = None) -> dict[str, Any]:
        """``POST /v1/responses/{id}/cancel``: a running background job ends ``cancelled`` (SPEC §2.4).

        Idempotent; a finished background response comes back unchanged.

        Raises:
            NotFound: unknown or not visible response.
            InvalidRequest: not a background response.
        """
        record = self._stored(response_id, session)
        state = self.session(session)
        job = state.jobs.get(record.id)
        if job is None and record.response.get("status") in RUNNING_STATUSES:
            # A job another process runs (a shared store, issue 12): end it through the store.
            return background.cancel_stored(record, self.store, state.name)
        if job is not None:
            job.sync(record)  # ended through another process already?
        return background.cancel(record, job)

    def follow(self, response_id: str, *, session: str | None = None) -> background.Job:
        """The job a ``GET /v1/responses/{id}?stream=true`` replays and follows (DECISIONS 6).

        Raises:
            NotFound: unknown or not visible response.
            InvalidRequest: not a background response created with ``stream=true``, or too old.
        """
        record = self._stored(response_id, session)
        state = self.session(session)
        job = state.jobs.get(record.id)
        if job is not None:
            job.sync(record)  # ended through another process (shared store)?
        return background.resume(
            record,
            job,
            now=state.clock.now(),
            # Still running with no job here: another process runs it (shared store); follow the store.
            elsewhere=functools.partial(
                background.Job.mirror, store=self.store, session=state.name, clock=state.clock
            ),
        )

    def input_items(
        self,
        response_id: str,
        *,
        session: str | None = None,
        after: str | None = None,
        before: str | None = None,
        limit: int = 20,
        order: str = "desc",
    ) -> dict[str, Any]:
        """``GET /v1/responses/{id}/input_items``: this request's input items, paginated (SPEC §2.5)."""
        record = self._stored(response_id, session)
        items = record.input_items if order == "asc" else list(reversed(record.input_items))
        ids = [i["id"] for i in items]
        start = 0
        end = len(items)
        if after is not None:
            if after not in ids:
                raise InvalidRequest(
                    f"Invalid 'after': no item with id '{after}' in this list.", param="after"
                )
            start = ids.index(after) + 1
        if before is not None:
            if before not in ids:
                raise InvalidRequest(
                    f"Invalid 'before': no item with id '{before}' in this list.", param="before"
                )
            end = ids.index(before)
        window = items[start:end]
        page = window[:limit]
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(window) > limit,
        }

    def _stored(self, response_id: str, session: str | None) -> StoredResponse:
        record = self.store.get(self.session(session).name, response_id)
        if record is None or not (record.stored or record.meta.get("pollable")):
            # Observed wording for unknown / not stored ids (SPEC §2.2).
            raise NotFound(f"Response with id '{response_id}' not found.")
        return record

    # --- create helpers --------------------------------------------------------------------------

    def _model(self, request: Mapping[str, Any]) -> ModelInfo:
        name = request.get("model")
        if name is None or (isinstance(name, str) and not name.strip()):
            # Only /input_tokens (SDK: optional) and /compact (SDK: required, nullable) get here without
            # one (create's validation refuses it first). Nothing public shows the API counting or
            # compacting without a model, so: create's "Missing required parameter: 'model'." (chosen,
            # docs/openapi-gaps.md G3), no longer "The requested model 'None' does not exist."
            raise missing_required("model")
        model = self.catalog.lookup(name) if isinstance(name, str) else None
        if model is None:
            # Observed: 400 model_not_found, not 404 (real-traffic README).
            raise catalog.model_not_found(str(name))
        return model

    def _effort(self, request: Mapping[str, Any], model: ModelInfo) -> str | None:
        """The effective reasoning effort; rejects efforts and sampling parameters the model refuses."""
        requested = (request.get("reasoning") or {}).get("effort")
        if requested is not None and requested not in model.efforts:
            # Observed verbatim for gpt-5.1 + 'minimal' (SPEC §8); models without reasoning refuse the knob.
            raise catalog.effort_not_supported(model, str(requested))
        effort = model.effective_effort(requested) if model.reasoning else None
        if not model.accepts_sampling(effort):
            # Sampling parameters are refused while a reasoning model reasons; with effort "none" they are
            # accepted (real traffic: gpt-5.6 reasoning_off_keeps_sampling_params).
            for param in ("temperature", "top_p"):
                if request.get(param) is not None:
                    raise catalog.parameter_not_supported(param)
        return effort

    def _parent(
        self,
        request: Mapping[str, Any],
        state: Session,
        lookup: Callable[[str], StoredResponse | None] | None,
    ) -> StoredResponse | None:
        previous = request.get("previous_response_id")
        if previous is None:
            return None
        record = lookup(previous) if lookup is not None else None
        if record is None:
            stored = self.store.get(state.name, previous)
            record = stored if stored is not None and stored.stored else None
        if record is None or record.response.get("status") in ("queued", "in_progress"):
            # Observed body (SPEC §5); non-terminal parents answer the same (SPEC §5, chosen).
            raise InvalidRequest(
                f"Previous response with id '{previous}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
        return record

    def _chain(self, record: StoredResponse, session: str) -> Iterator[dict[str, Any]]:
        """Every item a chained request sees: ancestors' input and output, oldest first (SPEC §5)."""
        chain: list[StoredResponse] = []
        node: StoredResponse | None = record
        while node is not None:
            chain.append(node)
            node = self.store.get(session, node.parent_id) if node.parent_id else None
        for link in reversed(chain):
            yield from link.input_items
            yield from link.response["output"]

    def normalise_items(self, raw: list[Any], state: Session) -> list[dict[str, Any]]:
        """Input items as stored (typed, with ids, string content expanded), sharing a new shard; used by
        the conversation items endpoints (:mod:`.conversations`)."""
        return self._input_items(raw, state, state.ids.shard(), state.clock.now())

    def _input_items(
        self, raw: Any, state: Session | IdFactory, shard: str, now: float
    ) -> list[dict[str, Any]]:
        ids = state.ids if isinstance(state, Session) else state
        if raw is None:
            return []
        if isinstance(raw, str):
            raw = [{"role": "user", "content": raw}]
        return [_normalise_item(item, ids, shard, now) for item in raw]

    def _build_output(
        self,
        plan: generator.Plan,
        request: Mapping[str, Any],
        model: ModelInfo,
        state: Session,
        shard: str,
        now: float,
    ) -> tuple[list[dict[str, Any]], int, int, bool]:
        """Output items with ids; returns (items, output tokens, reasoning tokens, truncated)."""
        budget = request.get("max_output_tokens")
        ids = state.ids
        output: list[dict[str, Any]] = []
        spent = 0
        reasoning_tokens = 0
        for planned in plan.items:
            left = None if budget is None else budget - spent
            if left is not None and left <= 0:
                return output, spent, reasoning_tokens, True
            if isinstance(planned, generator.ReasoningPlan):
                used = planned.tokens if left is None else min(planned.tokens, left)
                reasoning_tokens += used
                spent += used
                output.append(
                    {
                        "id": ids.object_id("rs", shard, now),
                        "type": "reasoning",
                        "summary": [{"type": "summary_text", "text": t} for t in planned.summaries],
                    }
                )
                if left is not None and planned.tokens >= left:
                    return output, spent, reasoning_tokens, True
            elif isinstance(planned, builtin_tools.ToolItemPlan):
                item = builtin_tools.build_item(
                    planned.spec, tool_context(request, ids, shard, now, planned, output)
                )
                if builtin_tools.over_limit(output, item, request.get("max_tool_calls")):
                    continue  # max_tool_calls: later built-in calls are not made (SDK docs)
                spent += planned.tokens
                output.append(item)
            elif isinstance(planned, tool_search.SearchPlan):
                spent += planned.tokens
                output.extend(
                    tool_search.output_items(planned, lambda p: ids.object_id(p, shard, now), ids.call_id)
                )
            elif isinstance(planned, generator.MessagePlan):
                text, used, cut = _fit(planned.text, left, model.encoding)
                spent += used
                part: dict[str, Any] = (
                    {"type": "refusal", "refusal": text}
                    if planned.refusal
                    else {
                        "type": "output_text",
                        "annotations": builtin_tools.annotations_of(planned),
                        "logprobs": [],
                        "text": text,
                    }
                )
                message: dict[str, Any] = {
                    "id": ids.object_id("msg", shard, now),
                    "type": "message",
                    "status": "incomplete" if cut else "completed",
                    "content": [part],
                    "role": "assistant",
                }
                if planned.phase is not None:
                    message["phase"] = planned.phase
                output.append(message)
                if cut:
                    return output, spent, reasoning_tokens, True
            else:
                used = tokens.count_text(planned.arguments, model.encoding)
                spent += used
                call: dict[str, Any] = {
                    "id": ids.object_id("fc", shard, now),
                    "type": "function_call",
                    "status": "completed",
                    "arguments": planned.arguments,
                    "call_id": planned.call_id or ids.call_id(),
                    "name": planned.name,
                }
                if planned.namespace is not None:
                    call["namespace"] = planned.namespace
                output.append(call)
        return output, spent, reasoning_tokens, False

    def _response_object(
        self,
        request: Mapping[str, Any],
        model: ModelInfo,
        effort: str | None,
        response_id: str,
        now: float,
        output: list[dict[str, Any]],
        usage: dict[str, Any],
        status: str,
        parent: StoredResponse | None,
    ) -> dict[str, Any]:
        """The ``Response`` object, fields in the order real traffic shows (SPEC §3.1)."""
        reasoning_cfg = request.get("reasoning") or {}
        text_cfg = request.get("text") or {}
        reasoning: dict[str, Any] = {
            "effort": effort,
            "summary": reasoning_cfg.get("summary") or reasoning_cfg.get("generate_summary"),
        }
        for key in ("context", "mode"):
            if key in reasoning_cfg:
                reasoning[key] = reasoning_cfg[key]
        response: dict[str, Any] = {
            "id": response_id,
            "object": "response",
            "created_at": int(now),
            "status": status,
            "background": bool(request.get("background")),
            "billing": {"payer": "developer"},
            "completed_at": int(now) if status == "completed" else None,
            "error": None,
            "frequency_penalty": 0.0,
            "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
            "instructions": request.get("instructions"),
            "max_output_tokens": request.get("max_output_tokens"),
            "max_tool_calls": request.get("max_tool_calls"),
            "metadata": request.get("metadata") or {},
            "model": model.response_model,  # the dated snapshot that served it, as real traffic echoes
            "moderation": None,
            "output": output,
            "parallel_tool_calls": request.get("parallel_tool_calls") is not False,
            "presence_penalty": 0.0,
            "previous_response_id": parent.id if parent is not None else None,
            "prompt_cache_key": request.get("prompt_cache_key"),
            "prompt_cache_retention": request.get("prompt_cache_retention") or "24h",
            "reasoning": reasoning,
            "safety_identifier": request.get("safety_identifier"),
            "service_tier": _service_tier(request.get("service_tier")),
            "store": request.get("store") is not False,
            "temperature": request.get("temperature") if request.get("temperature") is not None else 1.0,
            "text": {
                "format": text_cfg.get("format") or {"type": "text"},
                "verbosity": text_cfg.get("verbosity") or "medium",
            },
            "tool_choice": request.get("tool_choice") or "auto",
            "tools": [_echo_tool(t) for t in request.get("tools") or ()],
            "top_logprobs": request.get("top_logprobs") or 0,
            "top_p": request.get("top_p") if request.get("top_p") is not None else 1.0,
            "truncation": request.get("truncation") or "disabled",
            "usage": usage,
            "user": request.get("user"),
        }
        return response


# --- pure helpers -----------------------------------------------------------------------------------

_ITEM_PREFIX = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
    "compaction": "cmp",
    "tool_search_call": "tsc",
    "tool_search_output": "tso",
    "custom_tool_call": "ctc",
    "custom_tool_call_output": "ctco",
}

# Item types whose SDK models require ``status`` in listings (``ResponseItem`` union).
_STATUS_REQUIRED = frozenset(
    {
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "tool_search_call",
        "tool_search_output",
    }
)


def _normalise_item(item: Mapping[str, Any], ids: IdFactory, shard: str, now: float) -> dict[str, Any]:
    """An input item as ``GET /input_items`` lists it: typed, with an id and string content expanded."""
    out = dict(item)
    kind = out.setdefault("type", "message")
    if kind == "message":
        role = out.get("role")
        content = out.get("content")
        if isinstance(content, str):
            if role == "assistant":
                out["content"] = [{"type": "output_text", "text": content, "annotations": []}]
            else:
                out["content"] = [{"type": "input_text", "text": content}]
        out.setdefault("status", "completed")
    elif kind in _STATUS_REQUIRED:
        out.setdefault("status", "completed")
    if "id" not in out or out["id"] is None:
        prefix = _ITEM_PREFIX.get(kind, kind.split("_")[0][:4])
        out = {"id": ids.object_id(prefix, shard, now), **out}
    return out


def _check_tool_pairs(context: Sequence[Mapping[str, Any]]) -> None:
    """Every function call needs its output and every output its call (SPEC §5, observed wording)."""
    calls: list[str] = []
    outputs: set[str] = set()
    for item in context:
        kind = item.get("type")
        if kind == "function_call":
            calls.append(str(item.get("call_id")))
        elif kind == "function_call_output":
            call_id = str(item.get("call_id"))
            if call_id not in calls:
                raise InvalidRequest(
                    f"No tool call found for function call output with call_id {call_id}.", param="input"
                )
            outputs.add(call_id)
    for call_id in calls:
        if call_id not in outputs:
            raise InvalidRequest(f"No tool output found for function call {call_id}.", param="input")


def _plan_from_reply(reply: TextReply | FunctionCallsReply | OutputReply, model: ModelInfo) -> generator.Plan:
    plan = generator.Plan()
    uses_phase = model.name.startswith(_PHASE_FAMILIES)
    if isinstance(reply, OutputReply):
        for item in reply.items:
            kind = item.get("type", "message")
            if kind == "reasoning":
                summaries = tuple(str(s) for s in item.get("summary") or ())
                plan.items.append(generator.ReasoningPlan(int(item.get("tokens", 64)), summaries))
            elif kind == "function_call":
                arguments = item.get("arguments", "{}")
                if not isinstance(arguments, str):
                    arguments = json.dumps(arguments, separators=(",", ":"))
                plan.items.append(
                    generator.CallPlan(
                        str(item["name"]), arguments, item.get("call_id"), item.get("namespace")
                    )
                )
            elif kind == "message":
                plan.items.append(
                    builtin_tools.message_plan(
                        str(item.get("text", "")), item.get("phase"), bool(item.get("refusal")), item
                    )
                )
            elif kind in builtin_tools.ITEM_TYPES:
                plan.items.append(builtin_tools.ToolItemPlan(item))  # type: ignore[arg-type]
            elif kind in ("tool_search_call", "tool_search_output"):
                plan.items.append(tool_search.scripted(item))  # type: ignore[arg-type]
            else:
                raise InvalidRequest(f"Unsupported scripted output item type '{kind}'.", param="reply")
        return plan
    if isinstance(reply, TextReply):
        phase = reply.phase or ("final_answer" if uses_phase else None)
        plan.items.append(generator.MessagePlan(reply.text, phase=phase))
        return plan
    if reply.commentary:
        plan.items.append(generator.MessagePlan(reply.commentary, phase="commentary" if uses_phase else None))
    for call in reply.calls:
        arguments = (
            call.arguments
            if isinstance(call.arguments, str)
            else json.dumps(call.arguments, separators=(",", ":"))
        )
        plan.items.append(generator.CallPlan(call.name, arguments, call.call_id, call.namespace))
    return plan


def tool_context(
    request: Mapping[str, Any],
    ids: IdFactory,
    shard: str,
    now: float,
    planned: builtin_tools.ToolItemPlan,
    output: Sequence[Mapping[str, Any]],
) -> builtin_tools.Context:
    """What a built-in tool item builder reads: the request, id sources and the ``include[]`` options."""
    return builtin_tools.Context(
        request,
        new_id=lambda prefix: ids.object_id(prefix, shard, now),
        call_id=ids.call_id,
        hint=planned.hint,
        # a shell_call_output answers the shell_call just before it
        last_call_id=next(
            (i.get("call_id") for i in reversed(output) if i.get("type") == "shell_call"), None
        ),
        include=frozenset(request.get("include") or ()),
    )


def _fit(text: str, budget: int | None, encoding: str) -> tuple[str, int, bool]:
    """Cut ``text`` to ``budget`` tokens; returns (text, tokens, was cut)."""
    count = tokens.count_text(text, encoding)
    if budget is None or count <= budget:
        return text, count, False
    return tokens.decode(tokens.encode(text, encoding)[:budget], encoding), budget, True


def _usage(input_tokens: int, output_tokens: int, reasoning_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }


def _service_tier(requested: Any) -> str:
    # The response shows the tier actually used; fast/priority show as priority (SPEC §2.1, 15.9).
    if requested in (None, "auto", "default"):
        return "default"
    return "priority" if requested == "fast" else str(requested)


def _echo_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """Tools as the response echoes them: function tools with ``description`` and ``strict`` filled."""
    if tool.get("type") != "function":
        return dict(tool)
    echoed = {
        "type": "function",
        "description": None,
        "name": tool.get("name"),
        "parameters": None,
        "strict": True,
    }
    echoed.update(tool)
    return echoed
