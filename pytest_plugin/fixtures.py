"""The per-test handle behind the ``resplay`` fixture: one session of a shared ``MockServer``.

Every test gets its own session name (DECISIONS 2), sent as ``x-resplay-session`` by the clients the
handle builds, so tests never see each other's responses, scripts, journal or clock, even on one
server. Like pytest-httpserver's ``check_assertions()``, :meth:`Resplay.check` re-raises at teardown
what went wrong on the server side during the test:

* a handler crashed (the server logged the exception on the ``resplay`` or aiohttp logger);
* scripted replies were queued but never consumed (opt out with ``allow_unused_replies``);
* the engine recorded mismatches for the session (``Session.mismatches``, filled by strict scripting).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mockserver.web.middleware import SESSION_HEADER

from .errors import ResplayCheckError

if TYPE_CHECKING:
    import openai

    from mockserver import MockServer
    from mockserver.checklist import Finding
    from mockserver.rules import Matcher, ReplyLike, Rule
    from mockserver.script import FunctionCall, Reply

__all__ = ["SESSION_HEADER", "Resplay", "ServerErrorLog"]


class ServerErrorLog(logging.Handler):
    """Collects exceptions that aiohttp logs while serving (handler crashes) from any thread."""

    LOGGERS = ("resplay", "aiohttp.server", "aiohttp.web")

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self._lock = threading.Lock()
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        with self._lock:
            self.records.append(text)

    def mark(self) -> int:
        """A position to collect from later."""
        with self._lock:
            return len(self.records)

    def since(self, mark: int) -> list[str]:
        """Records logged after ``mark``."""
        with self._lock:
            return self.records[mark:]

    def install(self) -> None:
        """Attach to aiohttp's server loggers."""
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)

    def uninstall(self) -> None:
        """Detach from aiohttp's server loggers."""
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)


class Resplay:
    """One test's view of the shared server: scripting, journal, clients and ``check()``.

    Args:
        server: The running server (session-scoped).
        session: This test's session name.
        errors: The server error log shared by the test session.
    """

    def __init__(self, server: MockServer, session: str, errors: ServerErrorLog | None = None) -> None:
        self.server = server
        self.session = session
        self.allow_unused_replies = False
        """Set to ``True`` when a test queues replies it may not consume."""
        self._errors = errors
        self._mark = errors.mark() if errors is not None else 0

    # --- addresses and clients -------------------------------------------------------------------

    @property
    def headers(self) -> dict[str, str]:
        """The header that selects this test's session: pass it as ``default_headers``."""
        return {SESSION_HEADER: self.session}

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.server.url

    @property
    def base_url(self) -> str:
        """The openai client's ``base_url``."""
        return self.server.base_url

    @property
    def websocket_base_url(self) -> str:
        """The openai client's ``websocket_base_url``."""
        return self.server.websocket_base_url

    def client_options(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for ``openai.OpenAI`` / ``AsyncOpenAI`` pointed at this session."""
        headers = {**self.headers, **dict(overrides.pop("default_headers", None) or {})}
        options: dict[str, Any] = {
            "base_url": self.base_url,
            "websocket_base_url": self.websocket_base_url,
            "api_key": self.server.config.api_key or "sk-resplay-test",
            "max_retries": 0,
            "default_headers": headers,
        }
        options.update(overrides)
        return options

    def client(self, **overrides: Any) -> openai.OpenAI:
        """A sync openai client for this session (no retries)."""
        import openai

        return openai.OpenAI(**self.client_options(**overrides))

    def async_client(self, **overrides: Any) -> openai.AsyncOpenAI:
        """An async openai client for this session (no retries)."""
        import openai

        return openai.AsyncOpenAI(**self.client_options(**overrides))

    # --- scripting -------------------------------------------------------------------------------

    def queue(self, reply: Reply) -> None:
        """Queue a reply for this session's next create (FIFO)."""
        self.server.queue(reply, session=self.session)

    def queue_text(self, text: str, *, phase: str | None = None) -> None:
        """Queue an assistant message."""
        self.server.queue_text(text, phase=phase, session=self.session)

    def queue_function_call(
        self,
        name: str,
        arguments: str | Mapping[str, Any] = "{}",
        *,
        call_id: str | None = None,
        commentary: str | None = None,
    ) -> None:
        """Queue one function call."""
        self.server.queue_function_call(
            name, arguments, call_id=call_id, commentary=commentary, session=self.session
        )

    def queue_function_calls(self, calls: Sequence[FunctionCall | Mapping[str, Any]]) -> None:
        """Queue several parallel function calls in one response."""
        self.server.queue_function_calls(calls, session=self.session)

    def queue_error(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Queue an HTTP error answer in OpenAI's envelope."""
        self.server.queue_error(
            status, message, type=type, code=code, param=param, headers=headers, session=self.session
        )

    def rule(
        self,
        matcher: Matcher,
        reply: ReplyLike | Sequence[ReplyLike] | None,
        *,
        times: int | str | None = "default",
        name: str | None = None,
        fault: Any = None,
        latency: Any = None,
    ) -> Rule:
        """Add a scripting rule for this test (see :mod:`mockserver.rules`); one-shot by default,
        ``times=None`` permanent, a list of replies ordered. One-shot rules left unused fail ``check()``."""
        return self.server.rule(
            matcher, reply, times=times, name=name, fault=fault, latency=latency, session=self.session
        )

    def strict(self, enabled: bool = True) -> None:
        """Strict mode: a request no rule answers gets a 400 and fails the test at ``check()``."""
        self.server.strict(enabled, session=self.session)

    def load_scenario(self, text: str) -> int:
        """Replace this test's rules with a YAML/JSON scenario (see :mod:`mockserver.scenario`)."""
        return self.server.load_scenario(text, session=self.session)

    def advance(self, seconds: float) -> int:
        """Move this session's virtual clock forward; returns how many timers fired."""
        return self.server.advance(seconds, session=self.session)

    # --- state -----------------------------------------------------------------------------------

    @property
    def journal(self) -> list[dict[str, Any]]:
        """Every API request this session received (``GET /_resplay/requests``'s entries)."""
        return self.server.journal(session=self.session)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Alias of :attr:`journal`."""
        return self.journal

    def checklist(self, *, missed_only: bool = False) -> list[Finding]:
        """This test's traffic audited against the deployment checklist (:mod:`mockserver.checklist`).

        Args:
            missed_only: Keep only the findings whose status is ``missed``.
        """
        findings = self.server.checklist(session=self.session)
        return [f for f in findings if f.status == "missed"] if missed_only else findings

    def clear(self) -> None:
        """Forget this session's state (responses, replies, journal, clock) and collected errors."""
        self.server.reset(self.session)
        if self._errors is not None:
            self._mark = self._errors.mark()

    def problems(self) -> list[str]:
        """Server-side problems of this test so far (what :meth:`check` raises)."""
        found: list[str] = []
        if self._errors is not None:
            found.extend(f"server error: {text}" for text in self._errors.since(self._mark))
        with self.server.engine.lock:
            state = self.server.engine.session(self.session)
            replies = list(state.replies)
            mismatches = list(getattr(state, "mismatches", ()))
            book = getattr(state, "rules", None)
            unmatched = list(book.unmatched) if book is not None else []
            unused = [r.describe() for r in book.unused()] if book is not None else []
        found.extend(f"mismatch: {m}" for m in mismatches)
        # Strict mode (mockserver.rules): each request no rule matched is a failure of this test.
        found.extend(f"strict mode: no rule matched request {line}" for line in unmatched)
        if unused and not self.allow_unused_replies:
            found.append("scripted rules never used: " + ", ".join(unused))
        if replies and not self.allow_unused_replies:
            found.append(
                f"{len(replies)} queued repl{'y was' if len(replies) == 1 else 'ies were'} never used: "
                + ", ".join(type(r).__name__ for r in replies)
                + " (set resplay.allow_unused_replies = True if that is intended)"
            )
        return found

    def check(self) -> None:
        """Raise :class:`ResplayCheckError` listing the server-side problems of this test, if any."""
        found = self.problems()
        if found:
            raise ResplayCheckError(
                "resplay found server-side problems:\n" + "\n".join(f"- {p}" for p in found)
            )
