"""pytest11 entry point ``resplay``: the option, the marker and the fixtures (nothing else).

Fixtures::

    resplay_server          session   MockServer on 127.0.0.1 (one per xdist worker), virtual clock
    resplay                 function  this test's session on it: scripting, journal, clients, check()
    openai_client           function  openai.OpenAI pointed at the test's session
    async_openai_client     function  openai.AsyncOpenAI pointed at the test's session
    resplay_cassette        autouse   the cassette of a test marked @pytest.mark.resplay, else None
    resplay_proxy           function  the cassette's local proxy (HTTP, SSE, WebSocket); OPENAI_BASE_URL set
    resplay_cassette_dir / resplay_cassette_name / resplay_cassette_config / resplay_server_options

Heavy imports (aiohttp, vcrpy, openai, the mock server) happen inside the fixtures that need them, so
installing resplay costs other test suites nothing at start-up.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import hooks

if TYPE_CHECKING:
    import openai

    from mockserver import MockServer

    from .fixtures import Resplay, ServerErrorLog
    from .http import ResplayCassette
    from .ws.proxy import ProxyServer

RECORD_MODES = ("none", "once", "new_episodes", "all", "rewrite")
_OUTCOME = pytest.StashKey[tuple[bool, type[BaseException] | None]]()
"""Per item: (call phase passed, the exception type that failed it)."""


# ------------------------------------------------------------------------------------ options
def _recording_owns_flag(pluginmanager: pytest.PytestPluginManager) -> bool:
    """Whether pytest-recording registers ``--record-mode`` in this run (DECISIONS 23).

    Plugin load order is not fixed, so looking at what is registered now is not enough: if the
    package is installed and not blocked (``-p no:recording``), it will register the flag itself.
    """
    if pluginmanager.has_plugin("recording") or pluginmanager.has_plugin("pytest_recording.plugin"):
        return True
    if pluginmanager.is_blocked("recording"):
        return False
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False  # not auto-loaded; an explicit -p would already be registered above
    return importlib.util.find_spec("pytest_recording") is not None


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("resplay", "resplay record/replay of OpenAI traffic")
    if not _recording_owns_flag(pluginmanager):
        group.addoption(
            "--record-mode",
            action="store",
            default=None,
            choices=RECORD_MODES,
            help='Cassette record mode (pytest-recording\'s values): default "none" (replay only).',
        )
    group.addoption(
        "--resplay-checklist",
        action="store_true",
        default=False,
        help="audit each test's resplay traffic against OpenAI's deployment checklist; report in the summary",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("resplay_checklist", False):
        from .checklist_summary import ChecklistSummary

        config.pluginmanager.register(ChecklistSummary(), "resplay-checklist")
    config.addinivalue_line(
        "markers",
        "resplay(cassette=None, record_mode=None, ignore=(), allow_unused=False, ...): "
        "record/replay this test's HTTP traffic in a resplay cassette.",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if call.when == "call":
        failure = call.excinfo.type if call.excinfo is not None else None
        item.stash[_OUTCOME] = (report.passed, failure)  # type: ignore[attr-defined]
    return report


def _outcome(item: pytest.Item) -> tuple[bool, type[BaseException] | None]:
    return item.stash.get(_OUTCOME, (False, None))


# ------------------------------------------------------------------------------------ server
@pytest.fixture(scope="session")
def resplay_server_options() -> dict[str, Any]:
    """Keyword arguments for the session's MockServer (override in a conftest)."""
    return {}


@pytest.fixture(scope="session")
def _resplay_error_log() -> Iterator[ServerErrorLog]:
    from .fixtures import ServerErrorLog

    log = ServerErrorLog()
    log.install()
    yield log
    log.uninstall()


@pytest.fixture(scope="session")
def resplay_server(
    resplay_server_options: dict[str, Any], _resplay_error_log: ServerErrorLog
) -> Iterator[MockServer]:
    """A resplay MockServer for the whole test session (one per xdist worker; virtual clock)."""
    from mockserver import MockServer

    with MockServer(**resplay_server_options) as server:
        yield server


def session_name(nodeid: str) -> str:
    """A stable, header-safe session name for a test: its name plus a hash of its node id."""
    tail = re.sub(r"[^A-Za-z0-9._-]+", "-", nodeid.rpartition("::")[2])[:48].strip("-")
    return f"{tail or 'test'}-{hashlib.sha1(nodeid.encode()).hexdigest()[:10]}"


@pytest.fixture
def resplay(
    request: pytest.FixtureRequest, resplay_server: MockServer, _resplay_error_log: ServerErrorLog
) -> Iterator[Resplay]:
    """This test's own session on the shared server: scripting, journal, clients; check() at teardown."""
    from .fixtures import Resplay

    handle = Resplay(resplay_server, session_name(request.node.nodeid), _resplay_error_log)
    handle.clear()
    yield handle
    passed, _ = _outcome(request.node)
    if request.config.getoption("resplay_checklist", False):
        # Sent with the teardown report, so the summary sees it under xdist too (checklist_summary.py).
        findings = [f.to_json() for f in handle.checklist()]
        request.node.user_properties.append(("resplay_checklist", findings))
    try:
        if passed:
            handle.check()
        else:
            # A failing test leaves replies queued for good reasons; server crashes still explain it.
            handle.allow_unused_replies = True
            handle.check()
    finally:
        resplay_server.reset(handle.session)


@pytest.fixture
def openai_client(resplay: Resplay) -> Iterator[openai.OpenAI]:
    """A sync openai client pointed at this test's resplay session (no retries)."""
    pytest.importorskip("openai")
    with resplay.client() as client:
        yield client


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - depends on the user's plugins

    @pytest.fixture
    def async_openai_client(resplay: Resplay) -> openai.AsyncOpenAI:
        """An async openai client pointed at this test's resplay session (no retries)."""
        pytest.importorskip("openai")
        return resplay.async_client()

else:

    @pytest_asyncio.fixture
    async def async_openai_client(resplay: Resplay) -> AsyncIterator[openai.AsyncOpenAI]:  # type: ignore[misc]
        """An async openai client pointed at this test's resplay session (no retries)."""
        pytest.importorskip("openai")
        async with resplay.async_client() as client:
            yield client


# ------------------------------------------------------------------------------------ cassettes
@pytest.fixture(scope="module")
def resplay_cassette_dir(request: pytest.FixtureRequest) -> Path:
    """Folder of this module's cassettes: cassettes/<module name> next to the test file (DECISIONS 24)."""
    path = Path(request.node.path)
    return path.parent / "cassettes" / path.stem


@pytest.fixture
def resplay_cassette_name(request: pytest.FixtureRequest) -> str:
    """This test's cassette file name without suffix (Class.test_name, unsafe characters replaced)."""
    name = request.node.name
    if request.cls is not None:
        name = f"{request.cls.__name__}.{name}"
    return re.sub(r"[<>?%*:|\"'/\\]", "-", name)


@pytest.fixture
def resplay_cassette_config() -> dict[str, Any]:
    """Cassette options shared by tests (override in a conftest); markers win over it."""
    return {}


def _marker_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    # Precedence, lowest first: resplay_cassette_config < module/class markers < the test's marker
    # < --record-mode on the command line (pytest-recording's order for the flag).
    options: dict[str, Any] = dict(request.getfixturevalue("resplay_cassette_config"))
    for marker in reversed(list(request.node.iter_markers("resplay"))):
        if marker.args:
            options["cassette"] = marker.args[0]
        options.update(marker.kwargs)
    cli = request.config.getoption("--record-mode", default=None)
    if cli:
        options["record_mode"] = cli
    options.setdefault("record_mode", "none")
    return options


@pytest.fixture(autouse=True)
def resplay_cassette(request: pytest.FixtureRequest) -> Iterator[ResplayCassette | None]:
    """The cassette of a test marked @pytest.mark.resplay (None for unmarked tests)."""
    if request.node.get_closest_marker("resplay") is None:
        yield None
        return
    from .errors import CassetteMismatch
    from .http import CassetteOptions, CassetteSession

    options = _marker_options(request)
    cassette_option = options.pop("cassette", None)
    folder: Path = request.getfixturevalue("resplay_cassette_dir")
    if cassette_option:
        path = Path(cassette_option)
        path = path if path.is_absolute() else folder / path
    else:
        path = folder / f"{request.getfixturevalue('resplay_cassette_name')}.yaml"
    if "resplay_server" in request.fixturenames:
        # The test also talks to the fixture server: that traffic is not part of the recording.
        server: MockServer = request.getfixturevalue("resplay_server")
        options["ignore_hosts"] = (*options.get("ignore_hosts", ()), f"{server.config.host}:{server.port}")
    session = CassetteSession(path, CassetteOptions.from_mapping(options))
    cassette = session.start()
    try:
        request.config.hook.pytest_resplay_configure(config=request.config, cassette=cassette)
    except BaseException:
        session.stop(passed=False)
        raise
    yield cassette
    passed, failure = _outcome(request.node)
    session.stop(passed=passed)
    if passed:
        cassette.verify()
    elif cassette.mismatches and not (failure and issubclass(failure, CassetteMismatch)):
        # The client swallowed the fail-closed error and the test failed later: say why.
        raise CassetteMismatch(cassette.mismatches[0])


@pytest.fixture
def resplay_proxy(resplay_cassette: ResplayCassette | None, monkeypatch: pytest.MonkeyPatch) -> ProxyServer:
    """The cassette's local recording proxy, for clients that patching cannot reach (DECISIONS 21).

    Other processes and languages record and replay through it: ``OPENAI_BASE_URL`` is set to its
    ``base_url`` for the test (child processes inherit it); pass ``websocket_base_url`` where a client
    needs it. Requests go to ``RESPLAY_UPSTREAM_URL``, else the previous ``OPENAI_BASE_URL``, else the
    real API. In-process openai clients need no proxy: their WebSocket connections are routed to it.
    """
    if resplay_cassette is None:
        raise pytest.UsageError("resplay_proxy needs a cassette: mark the test with @pytest.mark.resplay")
    from .ws.intercept import router_for

    proxy = router_for(resplay_cassette).proxy()
    monkeypatch.setenv("OPENAI_BASE_URL", proxy.base_url)
    return proxy
