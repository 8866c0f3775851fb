"""``resplay`` command line: ``resplay serve`` starts the emulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import ipaddress
import signal
import sys
from collections.abc import Coroutine, Sequence
from typing import Any

from aiohttp import web

from . import __version__, tokens
from .config import ServerConfig
from .engine import Engine
from .generator import GENERATOR_VERSION
from .scenario import ScenarioError, load_scenario_file
from .store import Store, StoreUnavailable, open_store
from .web import make_app

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (flags mirror ``ServerConfig`` fields, DECISIONS 4)."""
    parser = argparse.ArgumentParser(prog="resplay", description="Offline OpenAI Responses API emulator.")
    # The default model's output version too: it is what pins output across releases (docs/default-model.md).
    shown = f"resplay {__version__} (default model generator {GENERATOR_VERSION})"
    parser.add_argument("--version", action="version", version=shown)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the mock server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8700, help="0 picks a free port")
    serve.add_argument("--seed", type=int, default=None, help="seed for reproducible ids")
    serve.add_argument("--api-key", default=None, help="accept only this bearer key (env RESPLAY_API_KEY)")
    serve.add_argument("--clock", choices=("real", "virtual"), default="real")
    serve.add_argument("--clock-start", type=_seconds, default=None, help="virtual clock start (epoch s)")
    serve.add_argument("--no-admin", dest="admin", action="store_false", help="turn off /_resplay/*")
    serve.add_argument("--model", dest="models", action="append", default=[], help="extra model name")
    serve.add_argument("--secret", default=None, help="blob encryption secret (env RESPLAY_SECRET)")
    serve.add_argument("--max-body-bytes", type=int, default=16 * 1024 * 1024)
    serve.add_argument("--ws-max-age", type=float, default=3600.0)
    serve.add_argument("--ws-busy", choices=("queue", "reject"), default="queue")
    serve.add_argument("--background-store-policy", choices=("reject", "allow"), default="reject")
    serve.add_argument("--background-queued", type=_seconds, default=1.0, help="seconds queued")
    serve.add_argument("--background-in-progress", type=_seconds, default=2.0, help="seconds in progress")
    serve.add_argument("--scenario", default=None, help="YAML/JSON scenario file of scripted rules")
    # Persistence and limits (issue 12).
    serve.add_argument("--store", default="memory", help="memory, sqlite:PATH or redis://HOST:PORT/DB")
    serve.add_argument("--max-stored-responses", type=int, default=None, help="per session; oldest evicted")
    serve.add_argument("--admin-key", default=None, help="key for /_resplay/* (env RESPLAY_ADMIN_KEY)")
    # Unhappy paths (mockserver.faults, .latency, .ratelimit): all emulation, off by default.
    serve.add_argument("--latency", choices=("instant", "realistic"), default="instant")
    serve.add_argument("--latency-scale", type=float, default=1.0, help="multiply emulated durations")
    serve.add_argument("--chaos-rate", type=float, default=0.0, help="share of creates given a random fault")
    serve.add_argument("--chaos-fault", dest="chaos_faults", action="append", default=[], help="chaos pool")
    serve.add_argument("--rate-limit-rpm", type=int, default=None, help="requests per minute per API key")
    serve.add_argument("--rate-limit-tpm", type=int, default=None, help="tokens per minute per API key")
    serve.add_argument(
        "--no-check-references",
        dest="check_references",
        action="store_false",
        help="accept unknown file, vector store and container ids in creates",
    )
    # Webhooks of background responses (mockserver.webhooks).
    serve.add_argument("--webhook-url", default=None, help="POST signed response.* webhooks here")
    serve.add_argument("--webhook-secret", default=None, help="whsec_... (env RESPLAY_WEBHOOK_SECRET)")
    # Proxy mode (issue 7): record any client's HTTP, SSE and WebSocket traffic, or serve a cassette.
    serve.add_argument("--record", metavar="UPSTREAM_URL", default=None, help="proxy to it, recording")
    serve.add_argument("--cassette", metavar="FILE", default=None, help="cassette written by --record")
    serve.add_argument("--replay", metavar="FILE", default=None, help="serve a cassette (strict, offline)")
    cassettes = commands.add_parser("cassettes", help="manage record/replay cassettes")
    cassette_commands = cassettes.add_subparsers(dest="cassettes_command", required=True)
    cassette_commands.add_parser("import", help="convert third-party vcrpy cassettes to resplay's format")
    commands.add_parser("checklist", help="audit a cassette folder against the deployment checklist")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``resplay`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["cassettes", "import"]:
        # Delegated, and imported only here: the importer needs neither aiohttp nor the engine.
        from pytest_plugin.importer import main as import_main

        return import_main(argv[2:])
    if argv[:1] == ["checklist"]:
        from .checklist import main as checklist_main  # issue 13; reads cassettes, needs no server

        return checklist_main(argv[1:])
    args = vars(build_parser().parse_args(argv))
    args.pop("command")
    proxy = {name: args.pop(name) for name in ("record", "cassette", "replay")}
    if proxy["record"] or proxy["replay"]:
        # Delegated to the plugin's proxy, imported only here (vcrpy and the recorder are not needed
        # to serve the emulator).
        from pytest_plugin.ws.proxy import serve_cassette

        return serve_cassette(**proxy, host=args["host"], port=args["port"])
    args["models"] = tuple(args["models"])
    args["chaos_faults"] = tuple(args["chaos_faults"])
    try:
        config = ServerConfig(**args)
    except ValueError as exc:
        print(f"resplay: {exc}", file=sys.stderr)
        return 2
    if not (
        config.store == "memory"
        or (config.store.startswith("sqlite:") and len(config.store) > 7)
        or config.store.startswith(("redis://", "rediss://"))
    ):
        print(
            f"resplay: bad --store {config.store!r}: use memory, sqlite:PATH or redis://HOST:PORT/DB",
            file=sys.stderr,
        )
        return 2
    if config.scenario is not None:
        try:  # fail fast, before binding, with the file's line in the message
            load_scenario_file(config.scenario)
        except (OSError, ScenarioError) as exc:
            print(f"resplay: bad --scenario: {getattr(exc, 'message', exc)}", file=sys.stderr)
            return 2
    try:  # before binding: an unreachable Redis is one line and exit 1, not a traceback (issue 12)
        store = open_store(config.store, max_per_session=config.max_stored_responses)
    except ValueError as exc:
        print(f"resplay: bad --store: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"resplay: cannot reach the store at {exc.where}: {exc.reason}", file=sys.stderr)
        return 1
    try:
        _run(_serve(config, store))
    except OSError as exc:
        print(f"resplay: cannot listen on {config.host}:{config.port}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


async def _serve(config: ServerConfig, store: Store | None = None) -> None:
    if not _is_loopback(config.host):
        print(
            f"resplay: warning: listening on {config.host}, reachable from other hosts; "
            "use --api-key or bind 127.0.0.1",
            file=sys.stderr,
        )
    tokens.preload_in_background()
    runner = web.AppRunner(make_app(Engine(config, store=store)), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
    await site.start()
    host, port = runner.addresses[0][:2]  # asyncio's or uvloop's server alike
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    shown = f"[{host}]" if ":" in host else host
    print(f"resplay listening on http://{shown}:{port}/v1", flush=True)
    tune_collector()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        close = getattr(store, "close", None)
        if close is not None:  # a shared store fails this process's running jobs for the others (issue 12)
            close()


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run the server on uvloop when it is installed (optional, ~15% less loop overhead), else asyncio."""
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def tune_collector() -> None:
    """Tune the garbage collector for the dedicated server process (``resplay serve``).

    1. Put everything alive once the server listens (modules, tables, the app) out of the collector's
       reach (``gc.freeze``): every full collection otherwise rescans those ~40k objects.
    2. Collect the young generation every 50,000 allocations instead of 700, and the older ones 50 and 100
       times less often. A request allocates a few hundred tracked objects and the store keeps most of
       them, so default thresholds ran a collection every couple of requests and full ones that rescanned
       every stored response: measured ~15-20 µs of CPU per request and p99 pauses of 35-45 ms at 32
       connections; with these thresholds -7% CPU and p99 ~12 ms (docs/performance.md). Garbage cycles
       are still collected, a few hundred requests later.

    Only for the dedicated server process: ``MockServer`` never does it, as the heap there is the user's.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def _seconds(raw: str) -> float:
    """A non-negative number of seconds (argparse type)."""
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {raw!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 seconds, got {raw}")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
