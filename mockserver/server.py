"""``MockServer``: the emulator in-process, in a background thread or in the caller's event loop.

``with MockServer() as server:`` runs it on a private event loop in a daemon thread;
``async with MockServer() as server:`` runs it in the current loop. Either way it binds 127.0.0.1 on a
free port, starts in milliseconds and uses the virtual clock by default (DECISIONS 3).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from aiohttp import web

from . import faults, tokens
from .checklist import Finding, audit
from .config import ServerConfig
from .engine import Engine
from .latency import LatencyProfile, profile_from_json
from .rules import Matcher, ReplyLike, Rule, RuleBook
from .scenario import load_scenario
from .script import ErrorReply, FunctionCall, FunctionCallsReply, Reply, TextReply
from .web import make_app
from .webhooks import WebhookTarget

__all__ = ["MockServer"]


class MockServer:
    """A running resplay server.

    Args:
        config: Full configuration; keyword arguments override its fields.
        **options: ``ServerConfig`` fields (``seed``, ``api_key``, ``clock``, ``models``, ...).
            In-process defaults differ from the CLI: ``port=0`` and ``clock="virtual"``.

    Example:
        >>> with MockServer(seed=1) as server:
        ...     client = openai.OpenAI(base_url=server.base_url, api_key="sk-test")
    """

    def __init__(self, config: ServerConfig | None = None, **options: Any) -> None:
        if config is None:
            options.setdefault("port", 0)
            options.setdefault("clock", "virtual")
            config = ServerConfig(**options)
        elif options:
            config = ServerConfig(**{**config.__dict__, **options})
        self.config = config
        self.engine = Engine(config)
        tokens.preload_in_background()
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    # --- addresses ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` (no path)."""
        if self.port is None:
            raise RuntimeError("MockServer is not running")
        return f"http://{self.config.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The openai client's ``base_url``: ``http://HOST:PORT/v1``."""
        return self.url + "/v1"

    @property
    def ws_url(self) -> str:
        """WebSocket-mode URL: ``ws://HOST:PORT/v1/responses``."""
        return "ws" + self.url[4:] + "/v1/responses"

    @property
    def websocket_base_url(self) -> str:
        """The openai client's ``websocket_base_url``: ``ws://HOST:PORT/v1``."""
        return "ws" + self.base_url[4:]

    # --- lifecycle in the caller's loop ------------------------------------------------------------

    async def start_async(self) -> MockServer:
        """Start in the running event loop."""
        runner = web.AppRunner(make_app(self.engine), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.config.host, self.config.port, reuse_address=True)
            await site.start()
            # runner.addresses works on asyncio's and uvloop's servers alike (a test suite's loop may be
            # either; asserting asyncio's Server class failed on uvloop).
            self.port = int(runner.addresses[0][1])
        except BaseException:
            await runner.cleanup()  # a failed start (port taken, ...) leaves no server or task behind
            raise
        self._runner = runner
        return self

    async def stop_async(self) -> None:
        """Stop serving and close every connection."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> MockServer:
        return await self.start_async()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop_async()

    # --- lifecycle in a thread ---------------------------------------------------------------------

    def start(self) -> MockServer:
        """Start on a private event loop in a daemon thread; returns once the port is bound."""
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start_async())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop_async())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="resplay-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop the background server and join its thread."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._thread = None
        self._loop = None

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- scripting and state -----------------------------------------------------------------------

    def queue(self, reply: Reply, *, session: str | None = None) -> None:
        """Queue a reply for the session's next create (FIFO)."""
        with self.engine.lock:
            self.engine.queue_reply(reply, session)

    def queue_text(self, text: str, *, phase: str | None = None, session: str | None = None) -> None:
        """Queue an assistant message."""
        self.queue(TextReply(text, phase), session=session)

    def queue_function_call(
        self,
        name: str,
        arguments: str | Mapping[str, Any] = "{}",
        *,
        call_id: str | None = None,
        commentary: str | None = None,
        session: str | None = None,
    ) -> None:
        """Queue one function call."""
        self.queue(FunctionCallsReply((FunctionCall(name, arguments, call_id),), commentary), session=session)

    def queue_function_calls(
        self, calls: Sequence[FunctionCall | Mapping[str, Any]], *, session: str | None = None
    ) -> None:
        """Queue several parallel function calls in one response."""
        built = tuple(c if isinstance(c, FunctionCall) else FunctionCall(**c) for c in calls)
        self.queue(FunctionCallsReply(built), session=session)

    def queue_error(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        session: str | None = None,
    ) -> None:
        """Queue an HTTP error answer in OpenAI's envelope."""
        self.queue(ErrorReply(status, message, type, code, param, dict(headers or {})), session=session)

    def rule(
        self,
        matcher: Matcher,
        reply: ReplyLike | Sequence[ReplyLike] | None,
        *,
        times: int | str | None = "default",
        name: str | None = None,
        fault: Any = None,
        latency: Any = None,
        session: str | None = None,
    ) -> Rule:
        """Add a scripting rule (see :mod:`mockserver.rules`): one-shot by default, ``times=None`` for
        permanent, a list of replies for an ordered rule. Queued replies still go first. ``fault`` (JSON or
        ``kind;key=value``, DECISIONS 20) and ``latency`` (a profile name or object) apply to matches."""
        if fault is not None and not isinstance(fault, faults.Fault):
            fault = faults.parse(fault)
        if latency is not None and not isinstance(latency, LatencyProfile):
            latency = profile_from_json(latency)
        built = Rule.of(matcher, reply, times=times, name=name, fault=fault, latency=latency)
        with self.engine.lock:
            self.engine.session(session).rules.add(built)
        return built

    def strict(self, enabled: bool = True, *, session: str | None = None) -> None:
        """Strict mode: a request no rule or queued reply answers gets a 400 and is logged as unmatched."""
        with self.engine.lock:
            self.engine.session(session).rules.strict = enabled

    def load_scenario(self, text: str, *, session: str | None = None) -> int:
        """Replace the session's rules with a YAML/JSON scenario (see :mod:`mockserver.scenario`);
        returns the number of rules. Raises :class:`ScenarioError` naming the line of a bad file."""
        parsed = load_scenario(text)
        with self.engine.lock:
            self.engine.session(session).rules.replace(parsed.rules, strict=parsed.strict)
        return len(parsed.rules)

    def rulebook(self, *, session: str | None = None) -> RuleBook:
        """The session's rules, strict flag and unmatched log."""
        with self.engine.lock:
            return self.engine.session(session).rules

    def queue_fault(self, *specs: str | Mapping[str, Any], session: str | None = None) -> None:
        """Queue faults for the session's next creates (DECISIONS 20 grammar, as ``POST /_resplay/faults``).

        Example:
            >>> server.queue_fault("http;status=503;retry_after_ms=1", {"kind": "ws_close", "code": 1011})
        """
        parsed = [faults.parse(spec) for spec in specs]
        with self.engine.lock:
            book = self.engine.session(session).faults
            for fault in parsed:
                book.push(fault)

    def set_webhook(self, url: str | None, secret: str | None = None, *, session: str | None = None) -> None:
        """Send the session's background-response webhooks to ``url`` signed with ``secret``
        (``url=None``: none for this session), as ``POST /_resplay/webhook`` (:mod:`mockserver.webhooks`).

        Example:
            >>> server.set_webhook("http://127.0.0.1:9000/hook", "whsec_" + base64.b64encode(b"k").decode())
        """
        target = WebhookTarget.from_json({"url": url, "secret": secret})
        with self.engine.lock:
            self.engine.session(session).webhooks.configure(target)

    def webhook_deliveries(self, *, session: str | None = None) -> list[dict[str, Any]]:
        """The session's webhook deliveries and their attempts (as ``GET /_resplay/webhook`` lists them)."""
        with self.engine.lock:
            return [d.to_json() for d in self.engine.session(session).webhooks.deliveries]

    def advance(self, seconds: float, *, session: str | None = None) -> int:
        """Move the session clock forward and fire due timers."""
        with self.engine.lock:
            return self.engine.advance(seconds, session)

    def reset(self, session: str | None = None) -> None:
        """Forget a session's state (``None``: every session)."""
        with self.engine.lock:
            self.engine.reset(session)

    def journal(self, *, session: str | None = None) -> list[dict[str, Any]]:
        """The session's request journal (as ``GET /_resplay/requests`` serves it)."""
        with self.engine.lock:
            return list(self.engine.session(session).journal)

    def checklist(self, *, session: str | None = None) -> list[Finding]:
        """Audit the session's journal against the deployment checklist (:mod:`mockserver.checklist`)."""
        return audit(self.journal(session=session))
