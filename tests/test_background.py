"""Background mode over HTTP with the real openai 3.51.0 client, sync and async (SPEC §7, §2.2-2.4).

Jobs move on the session's virtual clock: the tests advance it between polls and never sleep.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import openai
import pytest

from mockserver import MockServer, TextReply
from mockserver.background import BackgroundTiming
from mockserver.sse import SSEDecoder

from fidelity import assert_faithful

TERMINAL = {"completed", "failed", "incomplete", "cancelled"}
QUESTION = "What is 2 + 2?"


@pytest.fixture
def client(server: MockServer) -> Iterator[openai.OpenAI]:
    """conftest's strict client, with a short timeout: a live stream that stalls fails instead of hanging."""
    with openai.OpenAI(
        base_url=server.base_url,
        api_key="sk-test",
        max_retries=0,
        timeout=20,
        _strict_response_validation=True,
    ) as c:
        yield c


@pytest.fixture
async def async_client(server: MockServer) -> AsyncIterator[openai.AsyncOpenAI]:
    """conftest's strict async client, with a short timeout."""
    async with openai.AsyncOpenAI(
        base_url=server.base_url,
        api_key="sk-test",
        max_retries=0,
        timeout=20,
        _strict_response_validation=True,
    ) as c:
        yield c


def job_of(server: MockServer, response_id: str) -> Any:
    with server.engine.lock:
        return server.engine.session().jobs[response_id]


def raw_json(server: MockServer, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    with httpx2.Client(base_url=server.url, headers={"authorization": "Bearer sk-test"}) as http:
        answer = http.request(method, path, **kwargs)
        return answer.status_code, answer.json()


def raw_stream(server: MockServer, path: str, **params: Any) -> list[dict[str, Any]]:
    """A whole SSE answer (only for streams that end without the clock moving)."""
    with httpx2.Client(base_url=server.url, headers={"authorization": "Bearer sk-test"}) as http:
        answer = http.get(path, params=params)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/event-stream")
        decoder = SSEDecoder()
        events = [m.json() for m in decoder.feed(answer.content) + decoder.flush()]
    for event in events:
        assert_faithful(event, kind="event")
    return events


def poll(client: openai.OpenAI, server: MockServer, response_id: str, step: float = 0.25) -> list[str]:
    """The polling loop every background client writes: retrieve, and advance the clock between polls."""
    statuses: list[str] = []
    for _ in range(100):
        raw = client.responses.with_raw_response.retrieve(response_id)
        assert_faithful(json.loads(raw.text), kind="response")
        statuses.append(raw.parse().status or "")
        if statuses[-1] in TERMINAL:
            return statuses
        server.advance(step)
    raise AssertionError(f"still {statuses[-1]} after 100 polls")


def phases(statuses: list[str]) -> list[str]:
    return [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s]


# --- create and poll --------------------------------------------------------------------------------


def test_create_returns_queued_then_polls_to_completed(client: openai.OpenAI, server: MockServer) -> None:
    raw = client.responses.with_raw_response.create(model="gpt-4o", input=QUESTION, background=True)
    created = raw.parse()
    assert created.status == "queued" and created.background is True
    assert created.output == [] and created.usage is None and created.completed_at is None
    assert_faithful(json.loads(raw.text), kind="response")
    statuses = poll(client, server, created.id)
    # DECISIONS 11: queued for 1 s, in_progress for 2 s: 0.25 s polls see 4 queued and 8 in_progress.
    assert phases(statuses) == ["queued", "in_progress", "completed"]
    assert statuses.count("queued") == 4 and statuses.count("in_progress") == 8
    final = client.responses.retrieve(created.id)
    assert final.output_text.startswith("You asked: 'What is 2 + 2?'")
    assert final.usage is not None and final.usage.output_tokens > 0
    assert final.completed_at == final.created_at + 3


async def test_async_create_and_poll(async_client: openai.AsyncOpenAI, server: MockServer) -> None:
    created = await async_client.responses.create(model="gpt-4o", input=QUESTION, background=True)
    assert created.status == "queued"
    seen = []
    while True:
        current = await async_client.responses.retrieve(created.id)
        seen.append(current.status)
        if current.status in TERMINAL:
            break
        server.advance(0.5)
    assert phases([s or "" for s in seen]) == ["queued", "in_progress", "completed"]
    assert current.output_text.startswith("You asked")


def test_get_shows_output_produced_so_far(client: openai.OpenAI, server: MockServer) -> None:
    server.queue(TextReply("first"))
    server.queue_function_calls([{"name": "a", "arguments": {}}, {"name": "b", "arguments": {}}])
    client.responses.create(model="gpt-4o", input="warm up")  # takes the first reply
    tools: Any = [{"type": "function", "name": n, "parameters": {"type": "object"}} for n in "ab"]
    created = client.responses.create(model="gpt-4o", input="go", tools=tools, background=True)
    server.advance(1.0)
    running = client.responses.retrieve(created.id)
    assert running.status == "in_progress" and running.output == []
    # Two calls of 4 events each (added, delta, done, item done) spread over 2 s: the first call's
    # output_item.done is released at 1.0 + 2 * 4/9 s.
    server.advance(1.0)
    running = client.responses.retrieve(created.id)
    assert running.status == "in_progress"
    assert [getattr(i, "name", None) for i in running.output] == ["a"]
    assert running.usage is None
    server.advance(1.0)
    done = client.responses.retrieve(created.id)
    assert done.status == "completed" and [getattr(i, "name", None) for i in done.output] == ["a", "b"]


def test_store_omitted_is_accepted_and_store_false_rejected(client: openai.OpenAI) -> None:
    accepted = client.responses.create(model="gpt-4o", input="hi", background=True, store=True)
    assert (
        accepted.status == "queued"
        and client.responses.create(model="gpt-4o", input="hi", background=True).status == "queued"
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="gpt-4o", input="hi", background=True, store=False)
    assert caught.value.body == {
        "message": "Background responses require 'store' to be true: 'background=true' cannot be used "
        "with 'store=false'.",
        "type": "invalid_request_error",
        "param": "store",
        "code": None,
    }


async def test_async_store_false_rejected(async_client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await async_client.responses.create(model="gpt-4o", input="hi", background=True, store=False)
    assert caught.value.status_code == 400 and caught.value.param == "store"


@pytest.fixture(scope="module")
def allow_server() -> Iterator[MockServer]:
    with MockServer(seed=3, background_store_policy="allow") as server:
        yield server


def test_allow_policy_keeps_store_false_ten_minutes(allow_server: MockServer) -> None:
    allow_server.reset()
    with openai.OpenAI(base_url=allow_server.base_url, api_key="sk", max_retries=0) as client:
        created = client.responses.create(model="gpt-4o", input="hi", background=True, store=False)
        assert created.status == "queued"
        assert phases(poll(client, allow_server, created.id)) == ["queued", "in_progress", "completed"]
        with pytest.raises(openai.BadRequestError) as caught:  # never chainable (DECISIONS 19)
            client.responses.create(model="gpt-4o", input="more", previous_response_id=created.id)
        assert caught.value.code == "previous_response_not_found"
        second = client.responses.create(model="gpt-4o", input="hi", background=True, store=False)
        assert client.responses.cancel(second.id).status == "cancelled"
        allow_server.advance(600)
        for gone in (created.id, second.id):
            with pytest.raises(openai.NotFoundError):
                client.responses.retrieve(gone)


async def test_async_allow_policy(allow_server: MockServer) -> None:
    allow_server.reset()
    async with openai.AsyncOpenAI(base_url=allow_server.base_url, api_key="sk", max_retries=0) as client:
        created = await client.responses.create(model="gpt-4o", input="hi", background=True, store=False)
        allow_server.advance(3)
        assert (await client.responses.retrieve(created.id)).status == "completed"
        allow_server.advance(597)
        with pytest.raises(openai.NotFoundError):
            await client.responses.retrieve(created.id)


def test_store_false_job_running_at_expiry_ends_first(allow_server: MockServer) -> None:
    allow_server.reset()
    allow_server.queue(TextReply("slow", background=BackgroundTiming(queued=500, in_progress=200)))
    with openai.OpenAI(base_url=allow_server.base_url, api_key="sk", max_retries=0) as client:
        created = client.responses.create(model="gpt-4o", input="hi", background=True, store=False)
        allow_server.advance(650)
        assert client.responses.retrieve(created.id).status == "in_progress"
        allow_server.advance(50)
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(created.id)


def test_chaining_waits_for_the_job(client: openai.OpenAI, server: MockServer) -> None:
    created = client.responses.create(model="gpt-4o", input="hi", background=True)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="gpt-4o", input="more", previous_response_id=created.id)
    assert caught.value.code == "previous_response_not_found"
    server.advance(3)
    chained = client.responses.create(model="gpt-4o", input="more", previous_response_id=created.id)
    assert chained.previous_response_id == created.id and chained.status == "completed"


# --- timing -----------------------------------------------------------------------------------------


def test_reply_timing_overrides_the_default(client: openai.OpenAI, server: MockServer) -> None:
    server.queue(TextReply("slow one", background=BackgroundTiming(queued=5, in_progress=10)))
    slow = client.responses.create(model="gpt-4o", input="hi", background=True)
    statuses = poll(client, server, slow.id, step=1)
    assert statuses.count("queued") == 5 and statuses.count("in_progress") == 10
    # The same through the admin API's JSON form.
    answer = httpx2.post(
        server.url + "/_resplay/replies", json={"text": "fast", "background": {"queued": 0, "in_progress": 0}}
    )
    assert answer.status_code == 200
    fast = client.responses.create(model="gpt-4o", input="hi", background=True)
    assert fast.status == "queued"  # the create answers before any timer fires
    server.advance(0)
    assert client.responses.retrieve(fast.id).output_text == "fast"
    bad = httpx2.post(server.url + "/_resplay/replies", json={"text": "x", "background": {"queued": -1}})
    assert bad.status_code == 400


def test_config_sets_default_phases() -> None:
    with (
        MockServer(background_queued=0.5, background_in_progress=0.5) as server,
        openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=20) as client,
    ):
        created = client.responses.create(model="gpt-4o", input="hi", background=True)
        statuses = poll(client, server, created.id, step=0.25)
        assert statuses.count("queued") == 2 and statuses.count("in_progress") == 2


def test_real_clock_moves_jobs_without_advancing() -> None:
    with (
        MockServer(clock="real", background_queued=0.05, background_in_progress=0.1) as server,
        openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=20) as client,
    ):
        stream = client.responses.create(model="gpt-4o", input="hi", background=True, stream=True)
        kinds = [event.type for event in stream]  # the ticker releases events as real time passes
        assert kinds[:3] == ["response.created", "response.queued", "response.in_progress"]
        assert kinds[-1] == "response.completed"


def test_a_failing_timer_does_not_stop_the_ticker(caplog: pytest.LogCaptureFixture) -> None:
    """A timer callback that raises (a bug, a store outage in a job step) is logged; the real-clock ticker
    goes on firing the others, so later background jobs still finish."""

    def explode() -> None:
        raise RuntimeError("boom")

    with (
        MockServer(clock="real", background_queued=0.01, background_in_progress=0.01) as server,
        openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=20) as client,
    ):
        with server.engine.lock:
            server.engine.session().clock.call_later(0.0, explode)
        stream = client.responses.create(model="gpt-4o", input="hi", background=True, stream=True)
        assert [event.type for event in stream][-1] == "response.completed"
    assert any("a timer callback failed" in r.getMessage() and r.exc_info for r in caplog.records)


# --- streams ----------------------------------------------------------------------------------------


def test_stream_follows_the_job(client: openai.OpenAI, server: MockServer) -> None:
    stream = client.responses.create(model="gpt-4o", input=QUESTION, background=True, stream=True)
    events = iter(stream)
    created, queued = next(events), next(events)
    assert (created.type, created.sequence_number) == ("response.created", 0)
    assert created.response.status == "queued" and queued.type == "response.queued"
    server.advance(1)
    running = next(events)
    assert running.type == "response.in_progress" and running.response.status == "in_progress"
    server.advance(2)
    rest = list(events)
    assert rest[-1].type == "response.completed"
    sequence = [e.sequence_number for e in (created, queued, running, *rest)]
    assert sequence == list(range(len(sequence)))
    # Observed in every real background stream: no obfuscation padding by default.
    assert not any(getattr(e, "obfuscation", None) for e in rest)
    # The stored log replays byte for byte, and every event is faithful to the SDK models.
    replay = raw_stream(server, f"/v1/responses/{created.response.id}", stream="true")
    assert [e["sequence_number"] for e in replay] == sequence
    assert [e["type"] for e in replay][:3] == ["response.created", "response.queued", "response.in_progress"]


async def test_async_stream_follows_the_job(async_client: openai.AsyncOpenAI, server: MockServer) -> None:
    stream = await async_client.responses.create(model="gpt-4o", input=QUESTION, background=True, stream=True)
    events = stream.__aiter__()
    first = [await events.__anext__(), await events.__anext__()]
    assert [e.type for e in first] == ["response.created", "response.queued"]
    server.advance(3)
    rest = [event async for event in events]
    assert rest[0].type == "response.in_progress" and rest[-1].type == "response.completed"
    assert [e.sequence_number for e in first + rest] == list(range(len(first) + len(rest)))


def test_resume_after_drop_with_starting_after(client: openai.OpenAI, server: MockServer) -> None:
    stream = client.responses.create(model="gpt-4o", input=QUESTION, background=True, stream=True)
    events = iter(stream)
    seen = [next(events), next(events)]
    server.advance(2)  # the job is half way: in_progress and some deltas released
    seen += [next(events) for _ in range(3)]
    stream.close()  # the client drops the stream
    response_id, last = seen[0].response.id, seen[-1].sequence_number
    resumed = client.responses.retrieve(response_id, stream=True, starting_after=last)
    resumed_events = iter(resumed)
    more = [next(resumed_events) for _ in range(3)]  # released already: no clock move needed
    server.advance(1)
    more += list(resumed_events)
    sequence = [e.sequence_number for e in seen + more]
    assert sequence == list(range(len(sequence))), "a resumed stream lost or repeated an event"
    assert more[-1].type == "response.completed"
    full = client.responses.retrieve(response_id)
    assert more[-1].response.output_text == full.output_text


async def test_async_resume_with_starting_after(async_client: openai.AsyncOpenAI, server: MockServer) -> None:
    stream = await async_client.responses.create(model="gpt-4o", input=QUESTION, background=True, stream=True)
    first = await stream.__aiter__().__anext__()
    await stream.close()
    server.advance(3)
    resumed = await async_client.responses.retrieve(first.response.id, stream=True, starting_after=0)
    rest = [event async for event in resumed]
    assert rest[0].type == "response.queued" and rest[0].sequence_number == 1
    assert rest[-1].type == "response.completed"


def test_sdk_stream_helper_resumes_from_zero(client: openai.OpenAI, server: MockServer) -> None:
    stream = client.responses.create(model="gpt-4o", input=QUESTION, background=True, stream=True)
    response_id = next(iter(stream)).response.id
    stream.close()
    server.advance(1.5)
    # client.responses.stream(response_id=...) sends GET ?stream=true without starting_after and drops
    # events <= starting_after itself (SPEC §2.2): the server must replay from 0, then follow the job.
    with client.responses.stream(response_id=response_id, starting_after=4) as resumed:
        events = iter(resumed)
        first = next(events)
        assert first.sequence_number == 5
        server.advance(2)
        rest = list(events)
        final = resumed.get_final_response()
    assert rest[-1].type == "response.completed" and final.status == "completed"
    assert final.output_text == client.responses.retrieve(response_id).output_text
    resumes = [e["query"] for e in server.journal() if e["method"] == "GET" and e["query"]]
    assert resumes == [{"stream": "true"}]


async def test_async_sdk_stream_helper(async_client: openai.AsyncOpenAI, server: MockServer) -> None:
    stream = await async_client.responses.create(model="gpt-4o", input=QUESTION, background=True, stream=True)
    response_id = (await stream.__aiter__().__anext__()).response.id
    await stream.close()
    server.advance(3)
    async with async_client.responses.stream(response_id=response_id) as resumed:
        kinds = [event.type async for event in resumed]
        final = await resumed.get_final_response()
    assert kinds[:2] == ["response.created", "response.queued"] and kinds[-1] == "response.completed"
    assert final.output_text.startswith("You asked")


def test_resume_is_only_for_background_streams(client: openai.OpenAI, server: MockServer) -> None:
    foreground = client.responses.create(model="gpt-4o", input="hi")
    polled = client.responses.create(model="gpt-4o", input="hi", background=True)
    for response_id in (foreground.id, polled.id):
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.retrieve(response_id, stream=True)
        assert caught.value.param == "stream"
        assert "if you created it with `stream=true`" in caught.value.message
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_" + "0" * 50, stream=True)
    streamed = client.responses.create(model="gpt-4o", input="hi", background=True, stream=True)
    response_id = next(iter(streamed)).response.id
    streamed.close()
    server.advance(301)  # observed: resuming is refused 5 minutes after creation (openai-python#2828)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.retrieve(response_id, stream=True, starting_after=3)
    assert caught.value.body["message"] == (
        "This response can no longer be streamed because it is more than 5 minutes old."
    )
    query = {"stream": "true", "starting_after": "x"}
    status, body = raw_json(server, "GET", f"/v1/responses/{response_id}", params=query)
    assert status == 400 and body["error"]["param"] == "starting_after"


async def test_async_resume_errors(async_client: openai.AsyncOpenAI) -> None:
    foreground = await async_client.responses.create(model="gpt-4o", input="hi")
    with pytest.raises(openai.BadRequestError):
        await async_client.responses.retrieve(foreground.id, stream=True)
    with pytest.raises(openai.NotFoundError):
        await async_client.responses.retrieve("resp_" + "1" * 50, stream=True)


def test_include_obfuscation(client: openai.OpenAI, server: MockServer) -> None:
    stream = client.responses.create(model="gpt-4o", input=QUESTION, background=True, stream=True)
    response_id = next(iter(stream)).response.id
    stream.close()
    server.advance(3)
    path = f"/v1/responses/{response_id}"
    plain = raw_stream(server, path, stream="true")
    padded = raw_stream(server, path, stream="true", include_obfuscation="true")
    again = raw_stream(server, path, stream="true", include_obfuscation="true", starting_after=5)
    deltas = [e for e in padded if e["type"].endswith(".delta")]
    assert deltas and all(len(e["delta"]) + len(e["obfuscation"]) in (16, 32) for e in deltas)
    assert not any("obfuscation" in e for e in plain)
    assert again == padded[6:], "padding must repeat exactly on every replay"
    # stream_options.include_obfuscation=true at create turns it on for the live stream and replays.
    live = client.responses.create(
        model="gpt-4o",
        input=QUESTION,
        background=True,
        stream=True,
        stream_options={"include_obfuscation": True},
    )
    live_events = iter(live)
    live_id = next(live_events).response.id
    server.advance(3)
    live_deltas = [e for e in live_events if e.type == "response.output_text.delta"]
    assert live_deltas and all(getattr(e, "obfuscation", "") for e in live_deltas)
    replay = raw_stream(server, f"/v1/responses/{live_id}", stream="true")
    assert all("obfuscation" in e for e in replay if e["type"].endswith(".delta"))
    bare = raw_stream(server, f"/v1/responses/{live_id}", stream="true", include_obfuscation="false")
    assert not any("obfuscation" in e for e in bare)


# --- cancel -----------------------------------------------------------------------------------------


def test_cancel_paths(client: openai.OpenAI, server: MockServer) -> None:
    running = client.responses.create(model="gpt-4o", input=QUESTION, background=True)
    server.advance(1.5)
    raw = client.responses.with_raw_response.cancel(running.id)
    cancelled = raw.parse()
    assert_faithful(json.loads(raw.text), kind="response")
    assert cancelled.status == "cancelled" and cancelled.usage is None
    assert client.responses.cancel(running.id).status == "cancelled"  # idempotent
    server.advance(10)
    assert client.responses.retrieve(running.id).status == "cancelled"  # nothing moves it on
    finished = client.responses.create(model="gpt-4o", input=QUESTION, background=True)
    server.advance(3)
    before = client.responses.retrieve(finished.id)
    after = client.responses.cancel(finished.id)
    assert after.status == "completed" and after == before  # returned unchanged
    foreground = client.responses.create(model="gpt-4o", input="hi")
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.cancel(foreground.id)
    assert caught.value.body == {
        "message": "Cannot cancel a synchronous response.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.cancel("resp_" + "2" * 50)
    assert missing.value.body["message"] == f"Response with id 'resp_{'2' * 50}' not found."


async def test_async_cancel_paths(async_client: openai.AsyncOpenAI, server: MockServer) -> None:
    queued = await async_client.responses.create(model="gpt-4o", input="hi", background=True)
    assert (await async_client.responses.cancel(queued.id)).status == "cancelled"
    assert (await async_client.responses.cancel(queued.id)).status == "cancelled"
    foreground = await async_client.responses.create(model="gpt-4o", input="hi")
    with pytest.raises(openai.BadRequestError):
        await async_client.responses.cancel(foreground.id)
    with pytest.raises(openai.NotFoundError):
        await async_client.responses.cancel("resp_" + "3" * 50)


def test_cancelled_stream_ends_with_its_terminal_event(client: openai.OpenAI, server: MockServer) -> None:
    stream = client.responses.create(model="gpt-4o", input=QUESTION, background=True, stream=True)
    events = iter(stream)
    head = [next(events), next(events)]
    server.advance(2)
    head += [next(events) for _ in range(4)]
    client.responses.cancel(head[0].response.id)  # while this stream is open
    tail = list(events)
    assert tail[-1].type == "response.failed" and tail[-1].response.status == "cancelled"
    sequence = [e.sequence_number for e in head + tail]
    assert sequence == list(range(len(sequence)))
    replay = raw_stream(server, f"/v1/responses/{head[0].response.id}", stream="true")
    assert [e["type"] for e in replay][-1] == "response.failed"
    assert replay[-1]["response"]["status"] == "cancelled" and replay[-1]["response"]["error"] is None
    with client.responses.stream(response_id=head[0].response.id) as resumed:
        list(resumed)
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            resumed.get_final_response()


def test_scripted_server_error_fails_the_job(client: openai.OpenAI, server: MockServer) -> None:
    server.queue_error(500, "The server had an error while processing your request.", type="server_error")
    created = client.responses.create(model="gpt-4o", input="hi", background=True)
    assert created.status == "queued"
    assert phases(poll(client, server, created.id)) == ["queued", "in_progress", "failed"]
    failed = client.responses.retrieve(created.id)
    assert failed.error is not None and failed.error.code == "server_error" and failed.output == []
    assert client.responses.cancel(created.id) == failed  # a failed job is final too
    # DECISIONS 7: the stream carries the nested error event, then response.failed.
    server.queue_error(503, "Overloaded.", type="server_error", code="server_overloaded")
    stream = client.responses.create(model="gpt-4o", input="hi", background=True, stream=True)
    response_id = next(iter(stream)).response.id
    stream.close()
    server.advance(3)
    replay = raw_stream(server, f"/v1/responses/{response_id}", stream="true")
    assert [e["type"] for e in replay][-2:] == ["error", "response.failed"]
    assert replay[-2]["error"] == {
        "message": "Overloaded.",
        "type": "server_error",
        "param": None,
        "code": "server_overloaded",
    }
    assert replay[-1]["response"]["error"]["code"] == "server_error"  # the SDK's closed code list
    # A 4xx reply still answers the create itself.
    server.queue_error(429, "Rate limit reached.", type="requests", code="rate_limit_exceeded")
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="gpt-4o", input="hi", background=True)


async def test_async_scripted_failure(async_client: openai.AsyncOpenAI, server: MockServer) -> None:
    server.queue_error(500, "boom", type="server_error")
    created = await async_client.responses.create(model="gpt-4o", input="hi", background=True)
    server.advance(3)
    failed = await async_client.responses.retrieve(created.id)
    assert failed.status == "failed" and failed.error is not None and failed.error.message == "boom"


def test_delete_of_a_running_job(client: openai.OpenAI, server: MockServer) -> None:
    created = client.responses.create(model="gpt-4o", input="hi", background=True)
    client.responses.delete(created.id)
    server.advance(3)  # the job's later phases must not bring the record back
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


# --- disconnects ------------------------------------------------------------------------------------


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    """Wait for a server-side effect of a disconnect (the server notices within PEER_CHECK seconds)."""
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return True
        done.wait(0.01)
    return bool(predicate())


def test_dropped_stream_leaves_no_listener(client: openai.OpenAI, server: MockServer) -> None:
    stream = client.responses.create(model="gpt-4o", input=QUESTION, background=True, stream=True)
    response_id = next(iter(stream)).response.id
    job = job_of(server, response_id)
    assert job.listener_count == 1
    resumed = client.responses.retrieve(response_id, stream=True)
    next(iter(resumed))
    assert job.listener_count == 2
    stream.close()
    resumed.close()
    assert wait_for(lambda: job.listener_count == 0), "a dropped stream left its listener behind"
    server.advance(3)  # the job still completes with nobody listening
    assert client.responses.retrieve(response_id).status == "completed"


def test_stream_open_at_shutdown_ends() -> None:
    with MockServer() as server:
        http = httpx2.Client(base_url=server.base_url, headers={"authorization": "Bearer sk"}, timeout=10)
        with http.stream(
            "POST", "/responses", json={"model": "gpt-4o", "input": "hi", "background": True, "stream": True}
        ) as answer:
            first = next(answer.iter_bytes())
            assert first.startswith(b"event: response.created")
            server.stop()  # must not hang on the waiting stream (aiohttp waits for running handlers)
        http.close()
