"""Real-looking, seeded ids (DECISIONS 5, SPEC §3.3).

Observed shape (2025-2026 traffic): ``resp_`` + 50 hex characters made of a 16-hex shard shared by a
response and all of its items, ``00``, the creation time as 8 hex digits, 4 random hex digits, the
literal ``8195`` and 16 random hex digits, e.g.::

    resp_094ebefab06f6c10 00 69efd581 4cd8 8195 8cfa10878ca4446d
    msg_094ebefab06f6c10  00 69efd583 02b4 8195 87854b18d82b5690

``call_`` ids are ``call_`` + 24 alphanumerics. With a seed every id comes from a seeded generator, so
the same requests give byte-identical ids; without one, from the OS's randomness.
"""

from __future__ import annotations

import os
import random
import string

__all__ = ["IdFactory"]

_ALNUM = string.ascii_letters + string.digits


class IdFactory:
    """Source of object ids and other random-looking strings.

    Args:
        seed: Seed for reproducible ids; ``None`` seeds from the OS's randomness once (a fast generator
            afterwards: ``SystemRandom`` would make a system call for every id).
        namespace: Mixed into the seed so that sessions get independent, repeatable sequences.
    """

    def __init__(self, seed: int | None = None, namespace: str = "") -> None:
        self.rng: random.Random = (
            random.Random(os.urandom(16)) if seed is None else random.Random(f"{seed}:{namespace}")
        )

    def hex(self, n: int) -> str:
        """``n`` random lowercase hex digits."""
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def alnum(self, n: int) -> str:
        """``n`` random letters and digits."""
        choice = self.rng.choice
        return "".join(choice(_ALNUM) for _ in range(n))

    def shard(self) -> str:
        """A new 16-hex shard: one per response, shared by its items."""
        return self.hex(16)

    def object_id(self, prefix: str, shard: str, now: float) -> str:
        """An id such as ``resp_…``/``msg_…``/``rs_…``/``fc_…`` in the observed 50-hex layout."""
        return f"{prefix}_{shard}00{int(now) & 0xFFFFFFFF:08x}{self.hex(4)}8195{self.hex(16)}"

    def call_id(self) -> str:
        """A function-call id: ``call_`` + 24 alphanumerics."""
        return "call_" + self.alnum(24)

    def request_id(self) -> str:
        """An ``x-request-id`` value: ``req_`` + 32 hex."""
        return "req_" + self.hex(32)
