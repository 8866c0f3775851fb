"""``resplay serve`` as a child process, for tests that need a real server process (restart, SIGKILL,
several processes sharing a store)."""

from __future__ import annotations

import re
import subprocess
import sys

READY = re.compile(r"^resplay listening on http://127\.0\.0\.1:(\d+)/v1$")
"""The CLI's one ready line (issue 2)."""


def spawn(*args: str) -> subprocess.Popen[str]:
    """Start ``resplay serve --port 0 ARGS…``; read its port with :func:`ready_port`.

    Starting several before reading any lets their interpreters boot in parallel.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ready_port(proc: subprocess.Popen[str]) -> int:
    """Wait for the ready line and return the port; a process that prints anything else is killed and its
    stderr shown."""
    assert proc.stdout is not None
    line = proc.stdout.readline().rstrip("\n")
    match = READY.match(line)
    if not match:
        proc.kill()
        raise AssertionError(f"{line!r} {proc.communicate()[1]}")
    return int(match.group(1))
