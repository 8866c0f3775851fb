"""WebSocket mode vs HTTP under the ``realistic`` latency profile: a 20-tool-call rollout, openai SDK.

The same agent loop runs twice against one in-process resplay server on the real clock: the model calls
a tool 20 times, then answers. Over HTTP every turn is ``client.responses.create(...,
previous_response_id=...)`` (streamed, read to the end); over WebSocket every turn is a
``response.create`` on one ``client.responses.connect()`` connection. Under ``realistic`` an HTTP
continuation pays the emulated state rehydration that a connection-local cache hit avoids (SPEC §6.5).

This measures resplay's *emulation* (``mockserver/latency.py``), not the real API: the printed ratio
shows that the profile reproduces the effect OpenAI reports (WebSocket up to about 40% faster on long
tool-call rollouts), nothing more. ``--scale`` shrinks every emulated duration (default 0.1: a turn takes
a tenth of its emulated time) so the run takes seconds; the ratio does not depend on it beyond the
client's own overhead.

Run: ``python -m bench.ws_vs_http_realistic [--calls 20] [--scale 0.1] [--effort low] [--model gpt-5.5]``
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import openai

from mockserver import FunctionCall, FunctionCallsReply, MockServer, TextReply

__all__ = ["main", "measure", "rollout", "run_realistic"]

TOOL: dict[str, Any] = {
    "type": "function",
    "name": "read_file",
    "description": "Read one file of the repository.",
    "parameters": {
        "type": "object",
        "properties": {"path": {"type": "string"}},
        "required": ["path"],
        "additionalProperties": False,
    },
    "strict": True,
}


def _script(server: MockServer, calls: int, session: str) -> None:
    for n in range(calls):
        server.queue(
            FunctionCallsReply((FunctionCall("read_file", {"path": f"src/mod{n}.py"}),)), session=session
        )
    server.queue(TextReply("Done: every file was read."), session=session)


def _output(call: Any) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call.call_id, "output": "x = 1\n" * 40}


def rollout(server: MockServer, transport: str, *, calls: int, model: str, effort: str) -> float:
    """Seconds the rollout takes over ``transport`` (``http`` or ``ws``)."""
    session = f"bench-{transport}-{time.monotonic_ns()}"
    _script(server, calls, session)
    client = openai.OpenAI(
        base_url=server.base_url,
        websocket_base_url=server.websocket_base_url,
        api_key="sk-bench",
        max_retries=0,
        default_headers={"x-resplay-session": session},
    )
    settings: dict[str, Any] = {"model": model, "tools": [TOOL], "reasoning": {"effort": effort}}
    prompt = "Read every module under src/ and summarise them."
    started = time.perf_counter()
    if transport == "http":
        previous: str | None = None
        next_input: Any = prompt
        for _ in range(calls + 1):
            final = None
            stream = client.responses.create(
                input=next_input, previous_response_id=previous, stream=True, **settings
            )
            for event in stream:
                if event.type == "response.completed":
                    final = event.response
            assert final is not None
            previous = final.id
            next_input = [_output(item) for item in final.output if item.type == "function_call"]
    else:
        with client.responses.connect(extra_headers={"x-resplay-session": session}) as conn:
            conn.response.create(input=prompt, **settings)
            turns = 0
            for event in conn:
                if event.type == "error":
                    raise RuntimeError(json.dumps(event.to_dict()))
                if event.type != "response.completed":
                    continue
                turns += 1
                calls_made = [item for item in event.response.output if item.type == "function_call"]
                if not calls_made:
                    break
                conn.response.create(
                    input=[_output(c) for c in calls_made], previous_response_id=event.response.id, **settings
                )
            assert turns == calls + 1, turns
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed


def measure(*, calls: int, scale: float, effort: str, model: str, rounds: int) -> tuple[float, float]:
    """Best-of-``rounds`` seconds of the rollout over HTTP and over WebSocket (alternating)."""
    times: dict[str, list[float]] = {"http": [], "ws": []}
    with MockServer(seed=1, clock="real", latency="realistic", latency_scale=scale) as server:
        for _ in range(rounds):
            for transport in ("http", "ws"):
                times[transport].append(rollout(server, transport, calls=calls, model=model, effort=effort))
    return min(times["http"]), min(times["ws"])


def run_realistic(report: Any, *, rounds: int = 2, calls: int = 20, scale: float = 0.1) -> None:
    """Add the bench table's row (section 3 of ``python -m bench``): the rollout's WebSocket/HTTP ratio."""
    from .report import Row, ratio

    http, ws = measure(calls=calls, scale=scale, effort="low", model="gpt-5.5", rounds=rounds)
    report.add(
        Row(
            3,
            f"{calls}-tool-call openai SDK rollout, `--latency realistic` x{scale} (emulation): seconds "
            "(baseline: HTTP stream + previous_response_id; lower is better)",
            f"{ws:.2f}",
            f"{http:.2f}",
            ratio(ws, http),
        )
    )
    report.note(
        "Section 3, realistic rollout: emulated latency (mockserver/latency.py), not a measurement of the "
        "real API; bench/ws_vs_http_realistic.py."
    )


def main(argv: list[str] | None = None) -> int:
    """Run both rollouts (alternating, ``--rounds`` each) and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--effort", default="low")
    parser.add_argument("--model", default="gpt-5.5")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    http, ws = measure(
        calls=args.calls, scale=args.scale, effort=args.effort, model=args.model, rounds=args.rounds
    )
    emulated = 1 / args.scale if args.scale else 0.0
    print(f"{args.calls}-tool-call rollout, {args.model} effort={args.effort}, realistic x{args.scale}")
    print(f"  HTTP (SSE + previous_response_id): {http:.2f} s  (emulated {http * emulated:.1f} s)")
    print(f"  WebSocket mode:                    {ws:.2f} s  (emulated {ws * emulated:.1f} s)")
    print(
        f"  WebSocket / HTTP = {ws / http:.2f}  ->  WebSocket {100 * (1 - ws / http):.0f}% faster (emulation)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
