"""Server configuration: one object whose fields are the CLI flags in snake_case (DECISIONS 4)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from .errors import APIError
from .latency import LatencyProfile, profile
from .webhooks import WebhookTarget

__all__ = ["ServerConfig"]

ClockKind = Literal["real", "virtual"]


@dataclass
class ServerConfig:
    """Everything ``resplay serve`` and ``MockServer(**kwargs)`` accept.

    Environment variables fill the secrets when the fields are unset: ``RESPLAY_API_KEY``,
    ``RESPLAY_SECRET``, ``RESPLAY_ADMIN_KEY`` and ``RESPLAY_WEBHOOK_SECRET``.
    """

    host: str = "127.0.0.1"
    """Interface to bind; loopback by default."""
    port: int = 8700
    """TCP port; ``0`` picks a free one."""
    seed: int | None = None
    """Seed for ids and generated content; ``None`` gives random ids (content stays deterministic)."""
    api_key: str | None = field(default=None, repr=False)  # a secret: never in reprs or logs (issue 12)
    """When set, only ``Authorization: Bearer <api_key>`` is accepted; otherwise any bearer key."""
    clock: ClockKind = "real"
    """``real`` follows wall time; ``virtual`` stands still until advanced."""
    clock_start: float | None = None
    """Where every session's virtual clock starts, in seconds since the epoch; ``None``: the wall time when
    the session is created, rounded down. Pinning it makes ``created_at``, the time digits of ids and the blob
    timestamps repeat too, so a seeded run is byte-identical across runs (docs/default-model.md)."""
    admin: bool = True
    """Serve the ``/_resplay/*`` admin API."""
    models: tuple[str, ...] = ()
    """Extra model names accepted besides the catalogue (DECISIONS 8)."""
    max_body_bytes: int = 16 * 1024 * 1024
    """Requests with larger bodies get 413."""
    secret: str | None = field(default=None, repr=False)  # key material: never in reprs or logs
    """Key material for encrypted reasoning and compaction blobs (random per process when unset)."""
    ws_max_age: float = 3600.0
    """WebSocket connection age cap in seconds (SPEC §6.6)."""
    ws_busy: Literal["queue", "reject"] = "queue"
    """What a ``response.create`` on a busy WebSocket lane gets (DECISIONS 9)."""
    background_store_policy: Literal["reject", "allow"] = "reject"
    """``reject``: ``background=true`` with ``store=false`` is a 400 (DECISIONS 10); ``allow``: accepted and
    pollable for about 10 minutes, never chainable (DECISIONS 19)."""
    background_queued: float = 1.0
    """Seconds a background job stays ``queued`` (DECISIONS 11)."""
    background_in_progress: float = 2.0
    """Seconds a background job stays ``in_progress`` before its terminal event (DECISIONS 11)."""
    scenario: str | None = None
    """Path of a scenario file (YAML/JSON rules) every session starts with (see ``mockserver.scenario``)."""
    latency: str = "instant"
    """Pacing of foreground responses: ``instant`` or ``realistic`` (emulated, ``mockserver.latency``)."""
    latency_scale: float = 1.0
    """Multiplies every emulated duration (``0.1``: ten times faster)."""
    chaos_rate: float = 0.0
    """Share of creates that get a random fault, drawn with the seed (``mockserver.faults``)."""
    chaos_faults: tuple[str, ...] = ()
    """Faults chaos draws from (compact form); empty: ``faults.CHAOS_DEFAULT``."""
    rate_limit_rpm: int | None = None
    """Requests per minute per API key (``None``: unlimited, fixed headers)."""
    rate_limit_tpm: int | None = None
    """Estimated tokens per minute per API key (``None``: unlimited)."""
    store: str = "memory"
    """Where responses live (issue 12): ``memory``, ``sqlite:PATH`` (WAL; survives a killed server) or
    ``redis://HOST:PORT/DB[?prefix=NAME]`` (shared by several processes, ``mockserver.redis_store``)."""
    max_stored_responses: int | None = None
    """Responses kept per session; beyond it the oldest finished one is evicted (``None``: unbounded)."""
    admin_key: str | None = field(default=None, repr=False)  # a secret: never in reprs or logs
    """When set, ``/_resplay/*`` (but health) needs header ``x-resplay-admin-key`` with this value.

    Env ``RESPLAY_ADMIN_KEY`` fills it when unset."""
    check_references: bool = True
    """Refuse creates that name an unknown file, vector store or container by id, as the API does
    (``mockserver.references``); ``False`` accepts placeholder ids."""
    webhook_url: str | None = None
    """Where background responses' ``response.*`` webhooks are POSTed (``mockserver.webhooks``)."""
    webhook_secret: str | None = field(default=None, repr=False)  # a secret: never in reprs or logs
    """Signing secret of those webhooks (``whsec_<base64>``). Env ``RESPLAY_WEBHOOK_SECRET`` fills it."""
    extra: dict[str, object] = field(default_factory=dict)
    """Options of later features, by name."""

    def __post_init__(self) -> None:
        if self.api_key is None:
            self.api_key = os.environ.get("RESPLAY_API_KEY") or None
        if self.secret is None:
            self.secret = os.environ.get("RESPLAY_SECRET") or None
        if self.admin_key is None:
            self.admin_key = os.environ.get("RESPLAY_ADMIN_KEY") or None
        if self.webhook_secret is None:
            self.webhook_secret = os.environ.get("RESPLAY_WEBHOOK_SECRET") or None
        if self.webhook_url is not None:
            try:
                WebhookTarget(self.webhook_url, self.webhook_secret or "")
            except APIError as exc:
                raise ValueError(f"webhook: {exc.message}") from None
        if self.max_stored_responses is not None and self.max_stored_responses < 1:
            raise ValueError("max_stored_responses must be >= 1")
        self.models = tuple(self.models)
        if not (self.background_queued >= 0 and self.background_in_progress >= 0):
            raise ValueError("background_queued and background_in_progress must be >= 0 seconds")
        self.chaos_faults = tuple(self.chaos_faults)
        if self.clock_start is not None and self.clock != "virtual":
            raise ValueError("clock_start needs the virtual clock (--clock virtual)")
        if self.clock_start is not None and not 0 <= self.clock_start < 2**32:
            raise ValueError("clock_start must be seconds since the epoch, within 0 .. 2**32")

    def webhook_target(self) -> WebhookTarget | None:
        """The server-wide webhook endpoint (``--webhook-url``), or ``None``."""
        if self.webhook_url is None:
            return None
        return WebhookTarget(self.webhook_url, self.webhook_secret or "")

    def latency_profile(self) -> LatencyProfile:
        """The :class:`~mockserver.latency.LatencyProfile` named by ``latency`` and ``latency_scale``."""
        return profile(self.latency, self.latency_scale)
