"""Webhooks for background responses (issue 14): signed ``response.*`` events when a job ends.

The real API sends a webhook when a **background** response reaches a terminal status, to the endpoints
configured for the project (the SDK's ``ResponseCompletedWebhookEvent`` and friends: "Sent when a
background response has been completed"). Foreground responses send none. resplay does the same, to one
endpoint per session: the server's ``--webhook-url`` / ``--webhook-secret``, or a session's own endpoint set
with ``POST /_resplay/webhook``.

Delivery follows the Standard Webhooks layout the openai SDK verifies (``openai/lib/_webhooks.py``): headers
``webhook-id`` (the same on every retry), ``webhook-timestamp`` (Unix seconds of the attempt) and
``webhook-signature`` ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, keyed with the base64-decoded part
of a ``whsec_…`` secret (any other secret is used as its UTF-8 bytes, as the SDK does).

Retries (chosen, docs/webhooks section of the README): the real API retries a non-2xx answer, a redirect
or a timeout with exponential backoff for up to 72 hours; resplay retries :data:`RETRY_DELAYS` after the
event, on the session clock (so the virtual clock moves retries with ``advance``), then marks the delivery
``failed``. This module is pure: it builds events, signs them and keeps the delivery book; the aiohttp
adapter (``web/webhooks.py``) does the POSTs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson

from .errors import InvalidRequest
from .ids import IdFactory

__all__ = [
    "EVENT_TYPES",
    "RETRY_DELAYS",
    "USER_AGENT",
    "Delivery",
    "WebhookBook",
    "WebhookTarget",
    "sign",
]

EVENT_TYPES = {
    "completed": "response.completed",
    "failed": "response.failed",
    "cancelled": "response.cancelled",
    "incomplete": "response.incomplete",
}
"""Terminal status of a background response → its webhook event type (SDK 3.51.0 ``types/webhooks``)."""

RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)
"""Seconds after the event at which a failed delivery is tried again (cumulative: 1, 3, 7, 15, 31 s); six
attempts in all. Chosen: bounded and short so a test or a local run sees the end; the real API keeps
trying for up to 72 hours."""

USER_AGENT = "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)"
"""The ``user-agent`` of the real deliveries (as published with a sample delivery)."""

DELIVERY_LIMIT = 1000
"""Deliveries remembered per session (``GET /_resplay/webhook``); older ones drop off."""


@dataclass(frozen=True)
class WebhookTarget:
    """Where a session's webhooks go and the secret that signs them.

    Raises:
        InvalidRequest: not an ``http(s)`` URL, or an empty / badly encoded ``whsec_`` secret.
    """

    url: str
    secret: str = field(repr=False)  # a secret: never in reprs or logs

    def __post_init__(self) -> None:
        if not isinstance(self.url, str) or urlsplit(self.url).scheme not in ("http", "https"):
            raise InvalidRequest("The webhook 'url' must be an http:// or https:// URL.", param="url")
        if not isinstance(self.secret, str) or not self.secret:
            raise InvalidRequest("A webhook 'secret' is required (e.g. whsec_<base64>).", param="secret")
        _key(self.secret)

    @classmethod
    def from_json(cls, body: Any) -> WebhookTarget | None:
        """``{"url": ..., "secret": ...}`` (``{"url": null}``: webhooks off for the session)."""
        if not isinstance(body, Mapping):
            raise InvalidRequest('Expected an object like {"url": "http://...", "secret": "whsec_..."}.')
        if body.get("url") is None:
            return None
        return cls(body["url"], body.get("secret"))  # type: ignore[arg-type]  # checked in __post_init__


def _key(secret: str) -> bytes:
    """The HMAC key of ``secret``: the SDK decodes what follows ``whsec_`` as base64."""
    if not secret.startswith("whsec_"):
        return secret.encode()
    try:
        return base64.b64decode(secret[6:], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(
            "The webhook 'secret' must be 'whsec_' followed by base64.", param="secret"
        ) from None


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one delivery attempt (what ``client.webhooks.unwrap`` checks)."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


@dataclass
class Delivery:
    """One webhook event on its way to the endpoint, and every attempt so far."""

    webhook_id: str
    event: dict[str, Any]
    target: WebhookTarget
    session: str
    created_at: float
    """Session-clock time of the terminal transition; retries are due :data:`RETRY_DELAYS` after it."""
    body: bytes = b""
    attempts: list[dict[str, Any]] = field(default_factory=list)
    state: Literal["pending", "delivered", "failed"] = "pending"

    def __post_init__(self) -> None:
        if not self.body:
            self.body = orjson.dumps(self.event)

    def record(self, status: int | None, error: str | None, at: float) -> float | None:
        """Note an attempt's outcome (``status`` ``None``: no answer); returns when the next attempt is due
        on the session clock, or ``None`` once delivered (2xx) or out of retries (``failed``)."""
        self.attempts.append({"time": at, "status": status, "error": error})
        if status is not None and 200 <= status < 300:
            self.state = "delivered"
            return None
        retries = len(self.attempts) - 1
        if retries >= len(RETRY_DELAYS):
            self.state = "failed"
            return None
        return self.created_at + sum(RETRY_DELAYS[: retries + 1])

    def to_json(self) -> dict[str, Any]:
        """What ``GET /_resplay/webhook`` lists (the secret never appears)."""
        return {
            "webhook_id": self.webhook_id,
            "url": self.target.url,
            "event": self.event,
            "state": self.state,
            "attempts": list(self.attempts),
        }


def _event_id(prefix: str, ids: IdFactory, now: float) -> str:
    """``evt_`` / ``wh_`` + 32 hex, time first (published sample: ``wh_685342e6c53c8190a1be43f081506c52``)."""
    return f"{prefix}_{int(now) & 0xFFFFFFFF:08x}{ids.hex(4)}8190{ids.hex(16)}"


_UNSET: Any = object()


class WebhookBook:
    """A session's webhook endpoint (when it overrides the server's) and its deliveries."""

    def __init__(self) -> None:
        self._override: WebhookTarget | None = _UNSET
        self.deliveries: deque[Delivery] = deque(maxlen=DELIVERY_LIMIT)

    def configure(self, target: WebhookTarget | None) -> None:
        """Use ``target`` for this session (``None``: send nothing, whatever the server's flags say)."""
        self._override = target

    def clear(self) -> None:
        """Forget the session's endpoint: the server's ``--webhook-url`` applies again."""
        self._override = _UNSET

    def target(self, default: WebhookTarget | None) -> WebhookTarget | None:
        """The endpoint in force: the session's own, else ``default`` (the server's)."""
        return default if self._override is _UNSET else self._override

    def settled(
        self,
        response: Mapping[str, Any],
        *,
        default: WebhookTarget | None,
        ids: IdFactory,
        now: float,
        session: str,
    ) -> Delivery | None:
        """A background response reached a terminal status: its delivery, or ``None`` (no endpoint)."""
        target = self.target(default)
        kind = EVENT_TYPES.get(str(response.get("status")))
        if target is None or kind is None:
            return None
        event = {
            "id": _event_id("evt", ids, now),
            "object": "event",
            "created_at": int(now),
            "type": kind,
            "data": {"id": response["id"]},
        }
        delivery = Delivery(_event_id("wh", ids, now), event, target, session, now)
        self.deliveries.append(delivery)
        return delivery
