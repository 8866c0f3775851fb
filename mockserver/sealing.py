"""Opaque blobs: authenticated encryption of server state handed to the client (SPEC §8, §12).

Encrypted reasoning (``encrypted_content`` on reasoning items) and compaction items carry state the
client must send back untouched. resplay seals that state with the server secret so that it round-trips
(also across server instances that share the secret) and cannot be forged or edited.

Token layout: the Fernet spec, which is what real blobs look like (``gAAAAA…``)::

    0x80 | timestamp (8 bytes, big endian) | IV (16) | AES-128-CBC(PKCS7(payload)) | HMAC-SHA256 (32)

URL-safe base64 with padding. The 32-byte Fernet key (16 bytes signing, 16 bytes encryption) is derived
from the secret with HKDF-SHA256. ``cryptography``'s ``Fernet`` class draws a random IV and reads the wall
clock, so tokens are built here from its primitives instead: the IV comes from the caller's (seeded) random
source and the timestamp from the session clock, which makes blobs byte-identical under ``--seed``
(DECISIONS 13). A token is accepted only in its canonical encoding (decode, re-encode, compare), so every
single-character change is rejected; plain Fernet accepts several variants of the last character.

The payload is compact JSON, zlib-compressed, tagged with a ``purpose`` so that a reasoning blob cannot be
replayed as a compaction blob. Key material never leaves :class:`Sealer` (not in ``repr``, errors or blobs).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["BlobError", "Sealer", "abbreviate", "process_secret"]

_VERSION = 0x80
_HEADER = struct.Struct(">BQ")  # version, timestamp
_IV_BYTES = 16
_MAC_BYTES = 32
_MIN_TOKEN_BYTES = _HEADER.size + _IV_BYTES + 16 + _MAC_BYTES  # one AES block at least
_INFO = b"resplay blob v1"

OPENED_KEPT = 8192
"""Verified tokens a :class:`Sealer` remembers (least recently opened go first); ~1 KB each."""

_process_secret: bytes | None = None
_process_lock = threading.Lock()


def process_secret() -> bytes:
    """The per-process random secret used when no ``--secret`` / ``RESPLAY_SECRET`` is set."""
    global _process_secret
    with _process_lock:
        if _process_secret is None:
            _process_secret = os.urandom(32)
        return _process_secret


class BlobError(ValueError):
    """A blob that is not one of ours: malformed, truncated, tampered, foreign key or wrong purpose.

    The message never contains key material; it says which check failed (for logs, not for clients).
    """


def abbreviate(blob: str) -> str:
    """The observed abbreviation of a blob in error messages: first and last four characters (SPEC §8)."""
    return f"{blob[:4]}...{blob[-4:]}" if len(blob) > 8 else blob


def _derive(secret: bytes) -> tuple[bytes, bytes]:
    key = HKDF(algorithm=SHA256(), length=32, salt=None, info=_INFO).derive(secret)
    return key[:16], key[16:]


class Sealer:
    """Seals and opens blobs with one server secret.

    Args:
        secret: The server secret (``ServerConfig.secret``); ``None`` uses :func:`process_secret`.
            Servers with the same secret open each other's blobs.
    """

    __slots__ = ("_encryption_key", "_opened", "_signing_key")

    def __init__(self, secret: str | bytes | None) -> None:
        raw = process_secret() if secret is None else secret.encode() if isinstance(secret, str) else secret
        self._signing_key, self._encryption_key = _derive(raw)
        self._opened: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        """Tokens this sealer verified, with their payloads (bounded, :data:`OPENED_KEPT`)."""

    def __repr__(self) -> str:
        return "Sealer(<secret hidden>)"

    def seal(
        self,
        purpose: str,
        payload: Mapping[str, Any],
        *,
        now: float,
        random_bytes: Callable[[int], bytes],
    ) -> str:
        """Encrypt and sign ``payload`` for ``purpose``.

        Args:
            purpose: What the blob is for (``reasoning``, ``compaction``); :meth:`open` must name the same.
            payload: JSON-ready state.
            now: Timestamp written into the token (the session clock, seconds).
            random_bytes: Source of the IV (the session's seeded generator under ``--seed``).

        Returns:
            The token, URL-safe base64 (``gAAAAA…``).
        """
        body = json.dumps(
            {"p": purpose, "s": payload}, separators=(",", ":"), sort_keys=True, ensure_ascii=False
        )
        plain = zlib.compress(body.encode(), 9)
        iv = random_bytes(_IV_BYTES)
        padder = padding.PKCS7(algorithms.AES.block_size).padder()
        padded = padder.update(plain) + padder.finalize()
        encryptor = Cipher(algorithms.AES(self._encryption_key), modes.CBC(iv)).encryptor()
        cipher = encryptor.update(padded) + encryptor.finalize()
        signed = _HEADER.pack(_VERSION, max(0, int(now))) + iv + cipher
        mac = hmac.new(self._signing_key, signed, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(signed + mac).decode("ascii")

    def open(self, purpose: str, token: Any) -> dict[str, Any]:
        """Verify and decrypt a token made by :meth:`seal` with the same secret and ``purpose``.

        Args:
            purpose: The purpose the token must have been sealed for.
            token: The blob as the client sent it (any JSON value; only canonical strings pass).

        Returns:
            The payload.

        Raises:
            BlobError: on any failure (never reveals which key was expected).
        """
        if not isinstance(token, str) or not token.isascii():
            raise BlobError("not an ASCII string")
        # A client resends its reasoning and compaction blobs on every turn (stateless loops resend them
        # all): a token verified before is the same bytes under the same key, so it opens without decrypting
        # again. Any change to a token is a different key here and goes through every check below.
        known = self._opened.get((purpose, token))
        if known is not None:
            self._opened.move_to_end((purpose, token))
            return dict(known)
        payload = self._verify(purpose, token)
        self._opened[(purpose, token)] = payload
        if len(self._opened) > OPENED_KEPT:
            self._opened.popitem(last=False)
        return dict(payload)

    def _verify(self, purpose: str, token: str) -> dict[str, Any]:
        """:meth:`open` without the memo: every check, then the payload."""
        try:
            data = base64.urlsafe_b64decode(token)
        except (binascii.Error, ValueError) as exc:
            raise BlobError("not base64") from exc
        # Canonical encoding only (DECISIONS 13): non-alphabet characters, missing or extra padding and
        # non-zero trailing bits all decode to the same bytes but re-encode differently.
        if base64.urlsafe_b64encode(data).decode("ascii") != token:
            raise BlobError("not canonical base64")
        if len(data) < _MIN_TOKEN_BYTES or data[0] != _VERSION:
            raise BlobError("truncated or wrong version")
        signed, mac = data[:-_MAC_BYTES], data[-_MAC_BYTES:]
        expected = hmac.new(self._signing_key, signed, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise BlobError("signature mismatch")
        iv = signed[_HEADER.size : _HEADER.size + _IV_BYTES]
        cipher = signed[_HEADER.size + _IV_BYTES :]
        if len(cipher) % 16:
            raise BlobError("ciphertext is not whole blocks")
        try:
            decryptor = Cipher(algorithms.AES(self._encryption_key), modes.CBC(iv)).decryptor()
            padded = decryptor.update(cipher) + decryptor.finalize()
            unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
            plain = unpadder.update(padded) + unpadder.finalize()
            body = json.loads(zlib.decompress(plain))
        except (ValueError, zlib.error) as exc:  # a bug or a forged MAC: still never a 500
            raise BlobError("payload does not decode") from exc
        if not isinstance(body, dict) or body.get("p") != purpose or not isinstance(body.get("s"), dict):
            raise BlobError("wrong purpose")
        payload: dict[str, Any] = body["s"]
        return payload
