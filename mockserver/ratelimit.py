"""Rate-limit emulation per API key: requests and tokens per minute (SPEC §1.3, §1.4).

Each key has two buckets that refill continuously (``limit / 60`` per second) up to their limit, the
way the real ``x-ratelimit-reset-*`` headers count back to a full budget. A request takes one request
and its estimated tokens; when a bucket cannot pay, the answer is the real 429 body (SPEC §1.4) with
``retry-after``/``retry-after-ms`` set to the time until it can. Pure: the caller passes ``now`` (the
session clock), so the virtual clock refills the buckets with ``advance``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import RateLimited
from .faults import format_duration

__all__ = ["Admission", "RateLimiter", "estimate_tokens"]

_VISIT = "Visit https://platform.openai.com/account/rate-limits to learn more."
_ORG = "org-resplay"


def estimate_tokens(text_chars: int, max_output_tokens: int | None) -> int:
    """The admission estimate: about 4 characters per input token plus the requested output budget."""
    return max(1, math.ceil(text_chars / 4)) + (max_output_tokens or 0)


@dataclass
class _Bucket:
    limit: int
    level: float
    at: float

    def refill(self, now: float) -> None:
        if self.limit <= 0:
            return
        self.level = min(float(self.limit), self.level + max(0.0, now - self.at) * self.limit / 60.0)
        self.at = max(self.at, now)

    def wait_for(self, amount: float) -> float:
        """Seconds until the bucket holds ``amount``."""
        return max(0.0, (amount - self.level) * 60.0 / self.limit)

    def reset(self) -> float:
        """Seconds until the bucket is full again."""
        return (self.limit - self.level) * 60.0 / self.limit


@dataclass(frozen=True, slots=True)
class Admission:
    """The outcome of :meth:`RateLimiter.admit`: the headers to send, and an error when refused."""

    headers: dict[str, str]
    error: RateLimited | None = None


@dataclass
class RateLimiter:
    """Requests-per-minute and tokens-per-minute budgets per API key.

    Args:
        rpm: Requests per minute (``None``: unlimited, headers show the default budget).
        tpm: Tokens per minute (``None``: unlimited).
    """

    rpm: int | None = None
    tpm: int | None = None
    _keys: dict[str, tuple[_Bucket, _Bucket]] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        """Whether any limit is set."""
        return bool(self.rpm) or bool(self.tpm)

    def _buckets(self, key: str, now: float) -> tuple[_Bucket, _Bucket]:
        found = self._keys.get(key)
        if found is None:
            rpm, tpm = self.rpm or 0, self.tpm or 0
            found = self._keys[key] = (_Bucket(rpm, float(rpm), now), _Bucket(tpm, float(tpm), now))
            if len(self._keys) > 10000:  # bounded: clients may send any keys
                del self._keys[next(iter(self._keys))]
        for bucket in found:
            bucket.refill(now)
        return found

    def admit(self, key: str, now: float, tokens: int = 0, *, model: str | None = None) -> Admission:
        """Charge one request of ``tokens`` estimated tokens to ``key`` at ``now``.

        Returns the ``x-ratelimit-*`` headers as they are after the charge, or the 429 (nothing charged).
        """
        requests, budget = self._buckets(key, now)
        where = f"for {model} in organization {_ORG}" if model else f"in organization {_ORG}"
        error: RateLimited | None = None
        if requests.limit and requests.level < 1:
            wait = requests.wait_for(1)
            error = RateLimited(
                f"Rate limit reached {where} on requests per min (RPM): Limit {requests.limit}, Used "
                f"{requests.limit - math.floor(requests.level)}, Requested 1. Please try again in "
                f"{format_duration(wait)}. {_VISIT}",
                type="requests",
                code="rate_limit_exceeded",
            )
        elif budget.limit and tokens > budget.limit:
            # Observed (SPEC §1.4): a request larger than the whole budget can never pass.
            error = RateLimited(
                f"Request too large {where} on tokens per min (TPM): Limit {budget.limit}, Requested "
                f"{tokens}. The input or output tokens must be reduced in order to run successfully. "
                f"{_VISIT}",
                type="tokens",
                code="rate_limit_exceeded",
            )
            wait = 0.0
        elif budget.limit and budget.level < tokens:
            wait = budget.wait_for(tokens)
            error = RateLimited(
                f"Rate limit reached {where} on tokens per min (TPM): Limit {budget.limit}, Used "
                f"{budget.limit - math.floor(budget.level)}, Requested {tokens}. Please try again in "
                f"{format_duration(wait)}. {_VISIT}",
                type="tokens",
                code="rate_limit_exceeded",
            )
        else:
            wait = 0.0
            if requests.limit:
                requests.level -= 1
            if budget.limit:
                budget.level -= tokens
        headers = self.headers(requests, budget)
        if error is not None:
            if wait > 0:
                headers["retry-after"] = str(max(1, math.ceil(wait)))
                headers["retry-after-ms"] = str(max(1, round(wait * 1000)))
            else:
                headers["x-should-retry"] = "false"  # retrying cannot help a request above the budget
            error.headers.update(headers)
        return Admission(headers, error)

    @staticmethod
    def headers(requests: _Bucket, budget: _Bucket) -> dict[str, str]:
        """``x-ratelimit-*`` for the buckets' current levels (SPEC §1.3)."""
        out: dict[str, str] = {}
        for name, bucket, default in (("requests", requests, 30000), ("tokens", budget, 150000000)):
            if bucket.limit:
                out[f"x-ratelimit-limit-{name}"] = str(bucket.limit)
                out[f"x-ratelimit-remaining-{name}"] = str(max(0, math.floor(bucket.level)))
                out[f"x-ratelimit-reset-{name}"] = format_duration(bucket.reset())
            else:
                out[f"x-ratelimit-limit-{name}"] = str(default)
                out[f"x-ratelimit-remaining-{name}"] = str(default)
                out[f"x-ratelimit-reset-{name}"] = "0s"
        return out
