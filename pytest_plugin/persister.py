"""A vcrpy persister that writes cassettes atomically (temporary file, fsync, rename).

An interrupted run (Ctrl-C, a crash, a full disk) leaves either the old cassette or the new one,
never half a file. Reading goes through vcrpy's ``deserialize`` so the serializer decides the format.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.serialize import deserialize, serialize

__all__ = ["ResplayPersister", "atomic_write"]


def atomic_write(path: str | os.PathLike[str], text: str) -> None:
    """Replace ``path`` with ``text`` atomically, creating parent folders.

    The file keeps the mode it had; a new one gets 0644, as vcrpy's plain ``open()`` gives with the usual
    umask (``mkstemp`` alone would leave a private 0600 file).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        mode = 0o644
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


class ResplayPersister:
    """vcrpy persister interface: ``load_cassette`` / ``save_cassette``."""

    @classmethod
    def load_cassette(cls, cassette_path: str | os.PathLike[str], serializer: Any) -> Any:
        """Read and deserialize; a missing or empty file is vcrpy's ``CassetteNotFoundError``."""
        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError()
        text = path.read_text(encoding="utf-8")
        if not text.strip():
            raise CassetteNotFoundError()
        return deserialize(text, serializer)

    @staticmethod
    def save_cassette(cassette_path: str | os.PathLike[str], cassette_dict: Any, serializer: Any) -> None:
        """Serialize and write atomically."""
        atomic_write(cassette_path, serialize(cassette_dict, serializer))
