"""The blob format (mockserver.sealing): Fernet layout, determinism, canonical encoding, no key leaks."""

from __future__ import annotations

import base64
import random
import zlib

import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings, strategies as st

from mockserver.sealing import BlobError, Sealer, _derive, abbreviate

PAYLOAD = {"id": "rs_0123", "summary": ["Thinking about it"], "tokens": 128, "next": "msg_4567"}
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="


def seal(
    sealer: Sealer, payload: dict[str, object] = PAYLOAD, *, seed: int = 1, purpose: str = "reasoning"
) -> str:
    return sealer.seal(purpose, payload, now=1_771_352_836, random_bytes=random.Random(seed).randbytes)


def test_tokens_follow_the_fernet_spec() -> None:
    sealer = Sealer("team-secret")
    token = seal(sealer)
    # Real blobs start with gAAAAA: version 0x80, then a big-endian timestamp (2026 -> 0x69...).
    assert token.startswith("gAAAAABp")
    signing, encryption = _derive(b"team-secret")
    plain = Fernet(base64.urlsafe_b64encode(signing + encryption)).decrypt(token.encode())
    assert b'"tokens":128' in zlib.decompress(plain)
    assert sealer.open("reasoning", token) == PAYLOAD


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    assert seal(Sealer("s")) == seal(Sealer("s"))
    assert seal(Sealer("s"), seed=1) != seal(Sealer("s"), seed=2)


def test_portable_across_instances_with_the_same_secret_only() -> None:
    token = seal(Sealer("shared"))
    assert Sealer("shared").open("reasoning", token) == PAYLOAD
    with pytest.raises(BlobError):
        Sealer("other").open("reasoning", token)


def test_unset_secret_is_random_per_process_and_stable_within_it() -> None:
    token = seal(Sealer(None))
    assert Sealer(None).open("reasoning", token) == PAYLOAD
    with pytest.raises(BlobError):
        Sealer("").open("reasoning", token)


def test_purpose_is_bound() -> None:
    token = seal(Sealer("s"), purpose="reasoning")
    with pytest.raises(BlobError):
        Sealer("s").open("compaction", token)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1],  # truncated
        lambda t: t[:-4],
        lambda t: t + "=",  # extra padding
        lambda t: t.rstrip("="),  # missing padding
        lambda t: t + "A",
        lambda t: " " + t,
        lambda t: t.replace("-", "+").replace("_", "/"),  # standard alphabet
        lambda t: "",
        lambda t: t[:40],
    ],
)
def test_malformed_tokens_are_rejected(mangle: object) -> None:
    token = seal(Sealer("s"))
    bad = mangle(token)  # type: ignore[operator]
    if bad == token:
        pytest.skip("mangler left this token unchanged")
    with pytest.raises(BlobError):
        Sealer("s").open("reasoning", bad)


@pytest.mark.parametrize("value", [None, 42, ["gAAAA"], {"a": 1}, "gAAAAé"])
def test_non_string_values_are_rejected(value: object) -> None:
    with pytest.raises(BlobError):
        Sealer("s").open("reasoning", value)


SEALER = Sealer("hypothesis")
TOKENS = [seal(SEALER, {**PAYLOAD, "n": n}, seed=n) for n in range(4)]


@settings(max_examples=400, deadline=None)
@given(which=st.integers(0, 3), position=st.integers(0, 10_000), replacement=st.sampled_from(ALPHABET))
def test_every_single_character_change_is_rejected(which: int, position: int, replacement: str) -> None:
    # DECISIONS 13: plain Fernet accepts several last-character variants; canonical checking does not.
    token = TOKENS[which]
    position %= len(token)
    if token[position] == replacement:
        replacement = "A" if replacement != "A" else "B"
    bad = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(BlobError):
        SEALER.open("reasoning", bad)


@settings(max_examples=400, deadline=None)
@given(which=st.integers(0, 3), byte=st.integers(0, 10_000), bit=st.integers(0, 7))
def test_every_bit_flip_of_the_decoded_token_is_rejected(which: int, byte: int, bit: int) -> None:
    raw = bytearray(base64.urlsafe_b64decode(TOKENS[which]))
    raw[byte % len(raw)] ^= 1 << bit
    with pytest.raises(BlobError):
        SEALER.open("reasoning", base64.urlsafe_b64encode(bytes(raw)).decode())


def test_a_token_opened_before_opens_from_memory_and_any_change_is_still_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Clients resend their blobs every turn: a verified token is not decrypted again, but the memo is keyed
    by the exact token and purpose, so a changed token or another purpose goes through every check."""
    from mockserver import sealing

    sealer = Sealer("memo")
    token = seal(sealer)
    first = sealer.open("reasoning", token)
    first["tokens"] = -1  # a caller changing its copy changes nothing for the next caller
    verified: list[str] = []
    real_verify = Sealer._verify

    def counting(self: Sealer, purpose: str, token: str) -> dict[str, object]:
        verified.append(token)
        return real_verify(self, purpose, token)

    monkeypatch.setattr(Sealer, "_verify", counting)
    assert sealer.open("reasoning", token) == PAYLOAD and verified == []  # from memory
    with pytest.raises(BlobError):
        sealer.open("compaction", token)  # another purpose: checked, and refused
    bad = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    with pytest.raises(BlobError):
        sealer.open("reasoning", bad)
    assert verified == [token, bad]
    with pytest.raises(BlobError):
        Sealer("another secret").open("reasoning", token)  # the memo is per key
    monkeypatch.setattr(sealing, "OPENED_KEPT", 2)
    others = [seal(sealer, {**PAYLOAD, "n": n}, seed=n) for n in range(3)]
    for other in others:
        sealer.open("reasoning", other)
    verified.clear()
    sealer.open("reasoning", token)  # pushed out by the three newer ones: verified again
    assert verified == [token]


def test_no_key_material_in_repr_or_errors() -> None:
    secret = "sk-resplay-secret-material-0123456789"
    sealer = Sealer(secret)
    signing, encryption = _derive(secret.encode())
    texts = [repr(sealer), str(vars(sealer) if hasattr(sealer, "__dict__") else "")]
    for bad in ("", "x" * 200, seal(Sealer("other"))):
        try:
            sealer.open("reasoning", bad)
        except BlobError as exc:
            texts.append(str(exc))
    joined = "\n".join(texts)
    for needle in (
        secret,
        signing.hex(),
        encryption.hex(),
        base64.urlsafe_b64encode(signing + encryption).decode(),
    ):
        assert needle not in joined


def test_abbreviation_is_first_and_last_four() -> None:
    assert abbreviate("gAAAAABpzfWYTCgQc90=") == "gAAA...c90="
