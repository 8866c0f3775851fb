"""Micro-benchmark of :mod:`mockserver.validation` (prints µs per call; asserts nothing).

Usage::

    .venv/bin/python tools/bench_validation.py [--number N]

The target (docs/architecture.md, validation brief): a typical request, two messages and two function
tools, validates in well under 50 µs.
"""

from __future__ import annotations

import argparse
import copy
import sys
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mockserver import validation

TYPICAL: dict[str, Any] = {
    "model": "gpt-5.5",
    "instructions": "You are a helpful assistant.",
    "input": [
        {"role": "user", "content": "What is the weather in Paris and in Tokyo?"},
        {
            "type": "message",
            "role": "assistant",
            "id": "msg_0123456789abcdef0123456789abcdef0123456789abcdef",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Let me check.", "annotations": []}],
        },
    ],
    "tools": [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
                "additionalProperties": False,
            },
            "strict": True,
        },
        {
            "type": "function",
            "name": "get_time",
            "description": "Local time in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            "strict": False,
        },
    ],
    "tool_choice": "auto",
    "reasoning": {"effort": "low", "summary": "auto"},
    "text": {"verbosity": "medium"},
    "stream": True,
    "store": False,
    "include": ["reasoning.encrypted_content"],
}

MINIMAL: dict[str, Any] = {"model": "gpt-5.5", "input": "Hello!"}


def _bench(label: str, body: dict[str, Any], number: int, **kwargs: Any) -> None:
    validation.validate_create(copy.deepcopy(body), **kwargs)  # compile the schema first
    seconds = min(timeit.repeat(lambda: validation.validate_create(body, **kwargs), number=number, repeat=5))
    sys.stdout.write(f"{label:<40} {seconds / number * 1e6:8.2f} µs/op\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20_000, help="calls per timing round")
    args = parser.parse_args()
    start = timeit.default_timer()
    validation._compiled()
    sys.stdout.write(
        f"{'schema load + compile (once)':<40} {(timeit.default_timer() - start) * 1e3:8.2f} ms\n"
    )
    _bench("minimal create", MINIMAL, args.number)
    _bench("typical create (2 messages, 2 tools)", TYPICAL, args.number)
    _bench(
        "typical WebSocket response.create",
        {**TYPICAL, "type": "response.create"},
        args.number,
        websocket=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
