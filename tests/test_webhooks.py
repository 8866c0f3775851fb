"""Webhooks of background responses (issue 14): signed ``response.*`` events that ``client.webhooks.unwrap``
accepts, sent to a loopback aiohttp receiver started in the test; virtual clock, no sleeps."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
import pytest
from aiohttp import web
from openai.types.webhooks import (
    ResponseCancelledWebhookEvent,
    ResponseCompletedWebhookEvent,
    ResponseFailedWebhookEvent,
    ResponseIncompleteWebhookEvent,
)

from mockserver import MockServer
from mockserver.cli import build_parser
from mockserver.config import ServerConfig
from mockserver.webhooks import RETRY_DELAYS, Delivery, WebhookTarget, sign

SECRET = "whsec_" + base64.b64encode(b"resplay-webhook-test-key").decode()
MODELS: dict[str, type[Any]] = {
    "response.completed": ResponseCompletedWebhookEvent,
    "response.failed": ResponseFailedWebhookEvent,
    "response.cancelled": ResponseCancelledWebhookEvent,
    "response.incomplete": ResponseIncompleteWebhookEvent,
}


@dataclass
class Receiver:
    """A loopback webhook endpoint: records every POST; answers ``statuses`` in turn, then 200."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    hold: asyncio.Event | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append((await request.read(), dict(request.headers)))
        self._arrived.set()
        if self.hold is not None:
            await self.hold.wait()
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    async def next(self, count: int) -> tuple[bytes, dict[str, str]]:
        """Wait until ``count`` deliveries have arrived; the last one."""
        while len(self.received) < count:
            self._arrived.clear()
            await asyncio.wait_for(self._arrived.wait(), 5)
        return self.received[count - 1]


@asynccontextmanager
async def receiver(**options: Any) -> AsyncIterator[Receiver]:
    recv = Receiver(**options)
    app = web.Application()
    app.router.add_post("/hook", recv.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    recv.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield recv
    finally:
        if recv.hold is not None:
            recv.hold.set()
        await runner.cleanup()


def unwrap(client: openai.AsyncOpenAI, delivery: tuple[bytes, dict[str, str]], response_id: str) -> Any:
    body, headers = delivery
    event = client.webhooks.unwrap(body, headers, secret=SECRET)
    assert event.data.id == response_id and event.object == "event"
    # Exactly the SDK model's fields (strict: no extra keys, the right event model).
    model = MODELS[event.type]
    assert type(event) is model
    assert set(event.model_dump(exclude_unset=True)) == set(model.model_fields)
    assert event.id.startswith("evt_") and len(event.id) == 36
    assert headers["webhook-id"].startswith("wh_") and headers["User-Agent"].startswith("OpenAI/1.0")
    return event


async def test_completed_webhook_is_signed_and_unwraps(
    async_client: openai.AsyncOpenAI, server: MockServer
) -> None:
    async with receiver() as recv:
        # The admin endpoint, per session (DECISIONS 2): this one is the default session.
        async with httpx2.AsyncClient(base_url=server.url) as admin:
            answer = await admin.post("/_resplay/webhook", json={"url": recv.url, "secret": SECRET})
            assert answer.json() == {"endpoint": {"url": recv.url}}
        created = await async_client.responses.create(model="gpt-4o", input="hi", background=True)
        server.advance(3)
        delivery = await recv.next(1)
        event = unwrap(async_client, delivery, created.id)
        final = await async_client.responses.retrieve(created.id)
        assert event.type == "response.completed" and event.created_at == final.completed_at
        assert abs(int(delivery[1]["webhook-timestamp"]) - time.time()) < 60  # wall time, not the clock
        wrong = "whsec_" + base64.b64encode(b"another key").decode()
        with pytest.raises(openai.InvalidWebhookSignatureError):
            async_client.webhooks.unwrap(delivery[0], delivery[1], secret=wrong)
        tampered = delivery[0].replace(b"completed", b"cancelled")
        with pytest.raises(openai.InvalidWebhookSignatureError):
            async_client.webhooks.unwrap(tampered, delivery[1], secret=SECRET)
        # Foreground responses send none (webhooks are for background responses), streamed or not.
        await async_client.responses.create(model="gpt-4o", input="hi")
        stream = await async_client.responses.create(model="gpt-4o", input="hi", stream=True)
        async for _ in stream:
            pass
        server.advance(10)
        async with httpx2.AsyncClient(base_url=server.url) as admin:
            listed = (await admin.get("/_resplay/webhook")).json()
        assert listed["endpoint"] == {"url": recv.url} and "secret" not in str(listed)
        [only] = listed["deliveries"]  # the engine queues a delivery only for background jobs
        assert only["event"]["data"]["id"] == created.id and only["url"] == recv.url
        assert len(recv.received) == 1


async def test_cancelled_failed_and_incomplete_jobs_send_their_events(
    async_client: openai.AsyncOpenAI, server: MockServer
) -> None:
    async with receiver() as recv:
        server.set_webhook(recv.url, SECRET)
        cancelled = await async_client.responses.create(model="gpt-4o", input="hi", background=True)
        await async_client.responses.cancel(cancelled.id)
        event = unwrap(async_client, await recv.next(1), cancelled.id)
        assert event.type == "response.cancelled"
        # A scripted 5xx fails the job in the background (the faults' error grammar, docs/errors.md).
        server.queue_error(500, "The server had an error while processing your request.", type="server_error")
        failed = await async_client.responses.create(model="gpt-4o", input="hi", background=True)
        server.advance(3)
        event = unwrap(async_client, await recv.next(2), failed.id)
        assert event.type == "response.failed"
        server.queue_text("word " * 400)
        cut = await async_client.responses.create(
            model="gpt-4o", input="hi", background=True, max_output_tokens=16
        )
        server.advance(3)
        event = unwrap(async_client, await recv.next(3), cut.id)
        assert event.type == "response.incomplete"
        assert (await async_client.responses.retrieve(cut.id)).status == "incomplete"
        assert [d["event"]["type"] for d in server.webhook_deliveries()] == [
            "response.cancelled",
            "response.failed",
            "response.incomplete",
        ]


async def test_a_failed_delivery_is_retried_on_the_session_clock(
    async_client: openai.AsyncOpenAI, server: MockServer
) -> None:
    async with receiver(statuses=[500, 302]) as recv:
        server.set_webhook(recv.url, SECRET)
        created = await async_client.responses.create(model="gpt-4o", input="hi", background=True)
        server.advance(3)
        first = await recv.next(1)
        assert len(recv.received) == 1  # the retry waits for the session clock
        server.advance(RETRY_DELAYS[0])
        second = await recv.next(2)
        server.advance(RETRY_DELAYS[1])  # a redirect is a failure too, as in the real API
        third = await recv.next(3)
        assert first[1]["webhook-id"] == second[1]["webhook-id"] == third[1]["webhook-id"]
        assert first[0] == third[0]
        unwrap(async_client, third, created.id)
        # Each attempt is recorded before the next starts (the 200 lands just after the receiver answers).
        assert [a["status"] for a in server.webhook_deliveries()[0]["attempts"]][:2] == [500, 302]


async def test_server_flags_session_override_and_shutdown() -> None:
    async with receiver(hold=asyncio.Event()) as recv:
        server = MockServer(seed=4, webhook_url=recv.url, webhook_secret=SECRET)
        async with server, openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client:
            server.set_webhook(None, session="quiet")  # this session sends none
            quiet = client.with_options(default_headers={"x-resplay-session": "quiet"})
            await quiet.responses.create(model="gpt-4o", input="hi", background=True)
            server.advance(3, session="quiet")
            assert server.webhook_deliveries(session="quiet") == []
            created = await client.responses.create(model="gpt-4o", input="hi", background=True)
            server.advance(3)
            unwrap(client, await recv.next(1), created.id)  # the receiver holds its answer
            # Leaving the block stops the server with that attempt in flight: it is cancelled and awaited.
        left = [t for t in asyncio.all_tasks() if "Deliverer" in getattr(t.get_coro(), "__qualname__", "")]
        assert left == []
        assert server.webhook_deliveries()[0]["state"] == "pending"


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="secret"):
        ServerConfig(webhook_url="http://127.0.0.1:1/hook")
    with pytest.raises(ValueError, match="base64"):
        ServerConfig(webhook_url="http://127.0.0.1:1/hook", webhook_secret="whsec_!!!")
    with pytest.raises(ValueError, match="URL"):
        ServerConfig(webhook_url="ftp://host/hook", webhook_secret=SECRET)
    args = build_parser().parse_args(
        ["serve", "--webhook-url", "http://127.0.0.1:9/hook", "--webhook-secret", SECRET]
    )
    assert (args.webhook_url, args.webhook_secret) == ("http://127.0.0.1:9/hook", SECRET)
    assert SECRET not in repr(ServerConfig(webhook_url="http://127.0.0.1:9/hook", webhook_secret=SECRET))


def test_retry_schedule_is_bounded_and_signing_matches_the_sdk() -> None:
    target = WebhookTarget("http://127.0.0.1:9/hook", "plain-secret")
    delivery = Delivery("wh_1", {"id": "evt_1"}, target, "default", created_at=100.0)
    dues = [delivery.record(503, None, 0.0) for _ in range(len(RETRY_DELAYS) + 1)]
    assert dues == [101.0, 103.0, 107.0, 115.0, 131.0, None] and delivery.state == "failed"
    # A non-whsec secret is used as its bytes, as the SDK's verify_signature does.
    headers = sign("plain-secret", "wh_1", int(time.time()), delivery.body)
    with openai.OpenAI(api_key="k", base_url="http://127.0.0.1:9") as sdk:
        sdk.webhooks.verify_signature(delivery.body, headers, secret="plain-secret")


async def test_a_job_lost_with_its_process_sends_its_failed_webhook(tmp_path: Any) -> None:
    """A restart on the same SQLite file ends the jobs the previous process left running ``failed``
    (issue 12); like any failed background response they get their ``response.failed`` webhook."""
    db = f"sqlite:{tmp_path / 'resplay.db'}"
    async with receiver() as recv:
        first = MockServer(store=db)
        async with first, openai.AsyncOpenAI(base_url=first.base_url, api_key="k", max_retries=0) as client:
            job = await client.responses.create(model="gpt-4o", input="hi", background=True)
            assert job.status == "queued"  # virtual clock: still running when the process goes
        assert recv.received == []
        second = MockServer(store=db, webhook_url=recv.url, webhook_secret=SECRET)
        async with second, openai.AsyncOpenAI(base_url=second.base_url, api_key="k", max_retries=0) as client:
            event = unwrap(client, await recv.next(1), job.id)
            assert event.type == "response.failed"
            assert (await client.responses.retrieve(job.id)).status == "failed"
            assert [d["state"] for d in second.webhook_deliveries()] == ["delivered"]
