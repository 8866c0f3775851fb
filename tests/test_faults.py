"""Faults, rate limits and latency profiles (issue 10), driven by the real openai 3.51.0 client.

Each fault is shown with the SDK's real retry or reconnect behaviour against it: ``max_retries`` and the
``retry-after-ms`` the server sends (the SDK honours it, so ``retry_after_ms=1`` keeps retries instant);
faults the SDK retries without a retry header (timeouts, dropped connections) use a tiny initial backoff.
Breadth (grammar, event rewriting, buckets, pacing) is checked on the pure modules.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from websockets.exceptions import ConnectionClosedError

from mockserver import MockServer, faults, latency
from mockserver.errors import APIError
from mockserver.faults import Fault, parse
from mockserver.ratelimit import RateLimiter

from fidelity import assert_faithful

FAULT = "x-resplay-fault"


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK's own backoff (0.5 s, doubling) applies when no retry header comes (timeouts, drops).
    monkeypatch.setattr("openai._base_client.INITIAL_RETRY_DELAY", 0.001)


def _client(server: MockServer, retries: int, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=server.base_url,
        websocket_base_url=server.websocket_base_url,
        api_key="sk-test-key",
        max_retries=retries,
        **kw,
    )


def _queue(server: MockServer, *specs: str | dict[str, Any]) -> None:
    server.queue_fault(*specs)


def _statuses(server: MockServer) -> list[int]:
    return [e["status"] for e in server.journal() if e["path"] == "/v1/responses"]


# --- the grammar (DECISIONS 20) ---------------------------------------------------------------------


def test_compact_and_json_forms_are_one_grammar() -> None:
    pairs = [
        ("http;status=429;retry_after=2", {"kind": "http", "status": 429, "retry_after": 2}),
        ("sse_cut;after_events=5", {"kind": "sse_cut", "after_events": 5}),
        ("stream_error;code=server_error", {"kind": "stream_error", "code": "server_error"}),
        ("ws_close;code=1011", {"kind": "ws_close", "code": 1011}),
        ("delay;ms=500", {"kind": "delay", "ms": 500}),
        ("tcp_drop", {"kind": "tcp_drop"}),
    ]
    for compact, obj in pairs:
        assert parse(compact) == parse(obj) == parse(parse(obj).to_json())


@pytest.mark.parametrize(
    "bad",
    ["", "explode", "http", "http;status=200", "http;status=abc", "ws_close;code=x", "delay;ms=-1",
     "tcp_drop;colour=red", "http;status"],
)  # fmt: skip
def test_bad_faults_are_400_invalid_fault(bad: str) -> None:
    with pytest.raises(APIError) as info:
        parse(bad)
    assert info.value.status == 400 and info.value.code == "invalid_fault"


def test_bad_header_is_an_envelope(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-5.5", input="hi", extra_headers={FAULT: "explode"})
    assert info.value.code == "invalid_fault" and info.value.param == FAULT


def test_stream_error_events_follow_the_vercel_fixture() -> None:
    events = [{"type": "response.created", "sequence_number": 0, "response": {"id": "resp_1"}}] * 3
    events += [{"type": "response.completed", "sequence_number": 3, "response": {"id": "resp_1"}}]
    out, failed = faults.stream_fault_events(events, parse("stream_error;code=insufficient_quota"))
    assert [e["type"] for e in out] == ["response.created", "response.created", "error", "response.failed"]
    assert [e["sequence_number"] for e in out] == [0, 1, 2, 3]
    assert out[2]["error"]["type"] == "insufficient_quota" and out[2]["error"]["param"] is None
    # ResponseError.code is a closed Literal in SDK 3.51.0: the failed response reports server_error.
    assert failed is not None and failed["status"] == "failed" and failed["error"]["code"] == "server_error"
    cut, none = faults.stream_fault_events(events, parse("sse_cut;after_events=2"))
    assert len(cut) == 2 and none is None


# --- http faults -----------------------------------------------------------------------------------------


def test_429_is_retried_until_the_sdk_gives_up(server: MockServer) -> None:
    client = _client(server, retries=2)
    with pytest.raises(openai.RateLimitError) as info:
        client.responses.create(
            model="gpt-5.5", input="hi", extra_headers={FAULT: "http;status=429;retry_after_ms=1"}
        )
    headers = info.value.response.headers
    assert headers["retry-after-ms"] == "1" and headers["retry-after"] == "1"
    assert headers["x-ratelimit-remaining-requests"] == "0" and headers["x-ratelimit-limit-requests"]
    assert info.value.code == "rate_limit_exceeded" and info.value.type == "requests"
    assert _statuses(server) == [429, 429, 429]  # one attempt plus max_retries


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (500, "The server had an error while processing your request. Sorry about that!"),
        (502, "Bad gateway."),
        (503, "The engine is currently overloaded, please try again later."),
    ],
)
def test_5xx_first_attempt_then_the_retry_succeeds(server: MockServer, status: int, message: str) -> None:
    # times=1 on a header fault: only x-stainless-retry-count 0 is hit, so the SDK's retry gets through.
    client = _client(server, retries=1)
    spec = f"http;status={status};retry_after_ms=1;times=1"
    assert (
        client.responses.create(model="gpt-5.5", input="hi", extra_headers={FAULT: spec}).status
        == "completed"
    )
    assert _statuses(server) == [status, 200]
    assert server.journal()[0]["error"]["message"] == message
    with pytest.raises(openai.InternalServerError) as info:
        _client(server, retries=0).responses.create(model="gpt-5.5", input="hi", extra_headers={FAULT: spec})
    assert info.value.status_code == status and info.value.body["message"] == message  # type: ignore[index]


def test_admin_queue_list_and_clear(server: MockServer, client: openai.OpenAI) -> None:
    def admin(method: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(server.url + "/_resplay/faults", data=data, method=method)
        with urllib.request.urlopen(req) as answer:
            return json.loads(answer.read())

    body = [{"kind": "http", "status": 500, "retry_after_ms": 1}, "http;status=503;retry_after_ms=1;times=2"]
    assert admin("POST", body) == {"queued": 2}
    assert [(f["status"], f["left"]) for f in admin("GET")["data"]] == [(500, 1), (503, 2)]
    assert _client(server, retries=3).responses.create(model="gpt-5.5", input="hi").status == "completed"
    assert _statuses(server) == [500, 503, 503, 200]
    admin("POST", "tcp_drop")
    assert admin("DELETE") == {"cleared": 1}
    assert client.responses.create(model="gpt-5.5", input="hi").status == "completed"


# --- delays and timeouts ----------------------------------------------------------------------------------


def test_timeout_then_the_retry_succeeds(server: MockServer) -> None:
    client = _client(server, retries=1, timeout=0.2)
    started = time.perf_counter()
    answer = client.responses.create(model="gpt-5.5", input="hi", extra_headers={FAULT: "timeout;times=1"})
    assert answer.status == "completed" and time.perf_counter() - started < 3
    with pytest.raises(openai.APITimeoutError):
        _client(server, retries=0, timeout=0.2).responses.create(
            model="gpt-5.5", input="hi", extra_headers={FAULT: "timeout"}
        )
    # The held requests the client gave up on are journalled as such (status null).
    _until(lambda: len([e for e in server.journal() if e["status"] is None]) == 2)
    assert {e["error"]["code"] for e in server.journal() if e["status"] is None} == {"client_disconnected"}


def _until(condition: Any) -> None:
    """A barrier on server state (not a sleep through emulated time): wait until ``condition()``."""
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "server state not reached"
        time.sleep(0.002)


def _timers(server: MockServer) -> int:
    with server.engine.lock:
        return server.engine.session().clock.pending()


def test_delay_moves_with_the_virtual_clock(server: MockServer, client: openai.OpenAI) -> None:
    result: dict[str, Any] = {}
    worker = threading.Thread(
        target=lambda: result.setdefault(
            "r", client.responses.create(model="gpt-5.5", input="hi", extra_headers={FAULT: "delay;ms=5000"})
        )
    )
    worker.start()
    _until(lambda: _timers(server) == 1)  # the delay's timer is on the session clock
    server.advance(4.9)
    assert _timers(server) == 1 and worker.is_alive()  # the clock has not reached it yet
    server.advance(0.2)
    worker.join(5)
    assert result["r"].status == "completed"


# --- connection and stream faults ---------------------------------------------------------------------


def test_tcp_drop_is_a_connection_error_the_sdk_retries(server: MockServer) -> None:
    with pytest.raises(openai.APIConnectionError):
        _client(server, retries=0).responses.create(
            model="gpt-5.5", input="hi", extra_headers={FAULT: "tcp_drop"}
        )
    _queue(server, "tcp_drop")
    assert _client(server, retries=1).responses.create(model="gpt-5.5", input="hi").status == "completed"
    dropped = [e for e in server.journal() if e["status"] is None]
    assert [e["error"]["code"] for e in dropped] == ["tcp_drop", "tcp_drop"]


def test_tcp_drop_mid_stream(client: openai.OpenAI) -> None:
    seen: list[str] = []
    stream = client.responses.create(
        model="gpt-5.5", input="hi", stream=True, extra_headers={FAULT: "tcp_drop;after_events=3"}
    )
    with pytest.raises(openai.APIConnectionError):
        seen.extend(event.type for event in stream)
    assert seen == ["response.created", "response.in_progress", "response.output_item.added"]


def test_sse_cut_leaves_the_stream_without_its_terminal_event(client: openai.OpenAI) -> None:
    with client.responses.stream(
        model="gpt-5.5", input="hi", extra_headers={FAULT: "sse_cut;after_events=4"}
    ) as stream:
        assert len(list(stream)) == 4
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            stream.get_final_response()


def test_stream_error_raises_in_the_sdk_and_fails_the_response(
    server: MockServer, client: openai.OpenAI
) -> None:
    with pytest.raises(openai.APIError) as info:
        list(
            client.responses.create(
                model="gpt-5.5", input="hi", stream=True, extra_headers={FAULT: "stream_error"}
            )
        )
    assert info.value.message == "Sorry, something went wrong." and info.value.code == "server_error"
    # On the wire: created, in_progress, the nested error, then response.failed (DECISIONS 7).
    req = urllib.request.Request(
        server.base_url + "/responses",
        data=json.dumps({"model": "gpt-5.5", "input": "hi", "stream": True}).encode(),
        headers={"Authorization": "Bearer sk-x", "Content-Type": "application/json", FAULT: "stream_error"},
    )
    with urllib.request.urlopen(req) as answer:
        events = [
            json.loads(line[6:]) for line in answer.read().decode().splitlines() if line.startswith("data: ")
        ]
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "error",
        "response.failed",
    ]
    for event in events:
        assert_faithful(event, "event")
    assert client.responses.retrieve(events[-1]["response"]["id"]).status == "failed"


# --- WebSocket mode (DECISIONS 28: the SDK reconnects only with on_reconnecting=) --------------------------


def _ws_rollout(server: MockServer, fault: str | None) -> tuple[list[int], list[str]]:
    """One create; on reconnect, the create is sent again (the SDK queues it until the new socket is up)."""
    if fault is not None:
        _queue(server, fault)
    codes: list[int] = []
    kinds: list[str] = []
    box: dict[str, Any] = {}

    def reconnecting(event: Any) -> None:
        codes.append(event.close_code)
        box["conn"].response.create(model="gpt-5.5", input="again")

    with _client(server, 0).responses.connect(
        on_reconnecting=reconnecting, max_retries=2, initial_delay=0.001
    ) as conn:
        box["conn"] = conn
        conn.response.create(model="gpt-5.5", input="hi")
        for event in conn:
            kinds.append(event.type)
            if event.type == "response.completed":
                break
    return codes, kinds


@pytest.mark.parametrize("code", [1011, 1012, 1013])
def test_ws_close_codes_the_sdk_reconnects_after(server: MockServer, code: int) -> None:
    codes, kinds = _ws_rollout(server, f"ws_close;code={code};after_events=2")
    assert codes == [code]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.created"]
    assert kinds[-1] == "response.completed"


def test_ws_close_1000_ends_quietly_and_1008_raises(server: MockServer) -> None:
    codes, kinds = _ws_rollout(server, "ws_close;code=1000;after_events=2")
    assert codes == [] and kinds == ["response.created", "response.in_progress"]
    with pytest.raises(ConnectionClosedError) as info:
        _ws_rollout(server, "ws_close;code=1008")
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008


def test_ws_tcp_drop_is_1006_and_reconnects(server: MockServer) -> None:
    codes, kinds = _ws_rollout(server, "tcp_drop;after_events=1")
    assert codes == [1006] and kinds[-1] == "response.completed"


def test_ws_stream_error_and_http_fault_frames(server: MockServer) -> None:
    _queue(server, "stream_error", "http;status=429;retry_after_ms=5")
    with _client(server, 0).responses.connect() as conn:
        conn.response.create(model="gpt-5.5", input="hi")
        frames = []
        while not frames or frames[-1]["type"] != "response.failed":
            frames.append(json.loads(conn.recv_bytes()))
        conn.response.create(model="gpt-5.5", input="hi")
        limited = json.loads(conn.recv_bytes())
    assert [f["type"] for f in frames] == [
        "response.created",
        "response.in_progress",
        "error",
        "response.failed",
    ]
    assert frames[2]["status"] == 500 and frames[2]["sequence_number"] == 2
    assert limited["status"] == 429 and limited["error"]["headers"]["retry-after-ms"] == "5"
    for frame in [*frames, limited]:
        assert_faithful(frame, "ws_event")


def test_slow_stream_holds_mid_stream_until_the_clock_moves(
    server: MockServer, client: openai.OpenAI
) -> None:
    stream = iter(
        client.responses.create(
            model="gpt-5.5", input="hi", stream=True, extra_headers={FAULT: "delay;ms=2000;after_events=2"}
        )
    )
    assert [next(stream).type, next(stream).type] == ["response.created", "response.in_progress"]
    _until(lambda: _timers(server) == 1)  # the rest waits for 2 s of session time
    server.advance(2)
    assert [event.type for event in stream][-1] == "response.completed"


async def test_async_client_retries_and_reconnects(server: MockServer) -> None:
    async with openai.AsyncOpenAI(
        base_url=server.base_url, websocket_base_url=server.websocket_base_url, api_key="sk-a", max_retries=1
    ) as client:
        spec = "http;status=429;retry_after_ms=1;times=1"
        answer = await client.responses.create(model="gpt-5.5", input="hi", extra_headers={FAULT: spec})
        assert answer.status == "completed" and _statuses(server) == [429, 200]
        _queue(server, "ws_close;code=1013;after_events=1")
        codes: list[int] = []
        tasks: list[asyncio.Task[None]] = []
        box: dict[str, Any] = {}

        def reconnecting(event: Any) -> None:
            # The callback is sync; the create it schedules is queued by the SDK until the new socket is up.
            codes.append(event.close_code)
            tasks.append(
                asyncio.get_running_loop().create_task(
                    box["conn"].response.create(model="gpt-5.5", input="again")
                )
            )

        async with client.responses.connect(
            on_reconnecting=reconnecting, max_retries=2, initial_delay=0.001
        ) as conn:
            box["conn"] = conn
            await conn.response.create(model="gpt-5.5", input="hi")
            async for event in conn:
                if event.type == "response.completed":
                    break
        await asyncio.gather(*tasks)
        assert codes == [1013]


def test_rate_limit_over_websocket() -> None:
    with MockServer(seed=2, rate_limit_rpm=1) as server:
        with _client(server, 0).responses.connect() as conn:
            conn.response.create(model="gpt-5.5", input="hi")
            for event in conn:
                if event.type == "response.completed":
                    break
            conn.response.create(model="gpt-5.5", input="hi", stream_id="lane")
            refused = json.loads(conn.recv_bytes())
        assert refused["status"] == 429 and refused["stream_id"] == "lane"
        assert (
            refused["error"]["code"] == "rate_limit_exceeded" and refused["error"]["headers"]["retry-after"]
        )
        assert_faithful(refused, "ws_event")
        assert [e["status"] for e in server.journal() if e["method"] == "WS"] == [200, 429]


# --- chaos --------------------------------------------------------------------------------------------------


def test_chaos_is_seeded_and_the_sdk_rides_through_it() -> None:
    def run() -> list[int]:
        with MockServer(seed=5, chaos_rate=0.5, chaos_faults=("http;status=503;retry_after_ms=1",)) as server:
            client = _client(server, retries=5)
            for _ in range(6):
                assert client.responses.create(model="gpt-5.5", input="hi").status == "completed"
            return _statuses(server)

    first = run()
    assert 503 in first and first == run()


# --- rate limits --------------------------------------------------------------------------------------------


def test_rate_limit_headers_count_down_then_429_then_refill() -> None:
    with MockServer(seed=1, rate_limit_rpm=3) as server:
        raw = _client(server, retries=0).responses.with_raw_response
        left = [
            raw.create(model="gpt-5.5", input="hi").headers["x-ratelimit-remaining-requests"]
            for _ in range(3)
        ]
        assert left == ["2", "1", "0"]
        with pytest.raises(openai.RateLimitError) as info:
            raw.create(model="gpt-5.5", input="hi")
        assert info.value.code == "rate_limit_exceeded" and info.value.type == "requests"
        assert info.value.body["message"].startswith(
            "Rate limit reached for gpt-5.5 in organization org-resplay "
        )  # type: ignore[index]
        assert info.value.response.headers["retry-after"] == "20"  # 60 s / 3 requests
        # Another key has its own budget; the virtual clock refills this one.
        other = openai.OpenAI(base_url=server.base_url, api_key="sk-other", max_retries=0)
        assert other.responses.create(model="gpt-5.5", input="hi").status == "completed"
        server.advance(20)
        assert raw.create(model="gpt-5.5", input="hi").headers["x-ratelimit-remaining-requests"] == "0"


def test_token_budget_and_request_too_large() -> None:
    limiter = RateLimiter(tpm=1000)
    assert limiter.admit("k", 0.0, 600).error is None
    short = limiter.admit("k", 0.0, 600).error
    assert short is not None and short.type == "tokens" and "Requested 600" in short.message
    assert short.headers["retry-after-ms"] == "12000"  # 200 tokens at 1000/min
    huge = limiter.admit("k", 0.0, 5000).error
    assert huge is not None and huge.message.startswith("Request too large")
    assert huge.headers["x-should-retry"] == "false"
    assert limiter.admit("k", 60.0, 600).headers["x-ratelimit-remaining-tokens"] == "400"


# --- latency profiles ---------------------------------------------------------------------------------------


def _events(reasoning: int = 0) -> list[dict[str, Any]]:
    final = {"usage": {"output_tokens_details": {"reasoning_tokens": reasoning}}}
    out: list[dict[str, Any]] = [{"type": "response.created"}, {"type": "response.in_progress"}]
    if reasoning:
        out.append({"type": "response.output_item.done", "item": {"type": "reasoning"}})
    out += [{"type": "response.output_text.delta", "delta": "x"}] * 10
    return [*out, {"type": "response.completed", "response": final}]


def test_profiles_time_to_first_token_speed_and_rehydration() -> None:
    events = _events()
    assert latency.offsets(
        events, latency.INSTANT, model="gpt-5.5", effort=None, rehydrate_tokens=5000, seed="s"
    ) == [0.0] * len(events)
    real = latency.profile("realistic")

    def end(**kw: Any) -> float:
        args: dict[str, Any] = {"model": "gpt-5.5", "effort": "low", "rehydrate_tokens": None, "seed": "s"}
        return latency.offsets(kw.pop("events", events), real, **{**args, **kw})[-1]

    times = latency.offsets(events, real, model="gpt-5.5", effort="low", rehydrate_tokens=None, seed="s")
    assert times == sorted(times) and times[0] > 0
    assert end(rehydrate_tokens=4000) > end()  # HTTP continuation vs WebSocket cache hit
    assert end(effort="high") > end(effort="low")
    assert end(model="gpt-5-nano") < end()
    assert end(events=_events(reasoning=400)) > end() + 3  # 400 reasoning tokens at ~80/s
    assert end(seed="a") == end(seed="a") != end(seed="b")  # seeded jitter
    custom = latency.profile_from_json({"base": "realistic", "ttft": 0.0, "jitter": 0, "rehydrate": 0})
    assert custom.name == "custom" and custom.ttft == 0.0


@pytest.fixture
def paced() -> Iterator[MockServer]:
    with MockServer(seed=3, latency="realistic") as server:
        yield server


def test_realistic_latency_on_the_virtual_clock(paced: MockServer) -> None:
    client = _client(paced, retries=0)
    stream = iter(client.responses.create(model="gpt-5.5", input="Say hello.", stream=True))
    assert _timers(paced) == 1  # headers are out; the events wait for the session clock
    paced.advance(0.5)  # past the request overhead, before the first token
    assert [next(stream).type, next(stream).type] == ["response.created", "response.in_progress"]
    assert _timers(paced) == 1
    paced.advance(60)
    kinds = [event.type for event in stream]
    assert kinds[-1] == "response.completed" and "response.output_text.delta" in kinds
    # Non-streamed creates answer once the run is done.
    worker = threading.Thread(target=lambda: client.responses.create(model="gpt-5.5", input="Hi."))
    worker.start()
    _until(lambda: _timers(paced) == 1)
    assert worker.is_alive()
    paced.advance(60)
    worker.join(5)
    assert not worker.is_alive()


def test_realistic_latency_over_websocket(paced: MockServer) -> None:
    with _client(paced, retries=0).responses.connect() as conn:
        baseline = _timers(paced)  # the connection's 60-minute cap timer
        conn.response.create(model="gpt-5.5", input="Say hello.")
        _until(lambda: _timers(paced) == baseline + 1)  # the run's events wait for the clock
        paced.advance(60)
        frames = []
        for event in conn:
            frames.append(event.type)
            if event.type == "response.completed":
                break
    assert frames[:2] == ["response.created", "response.in_progress"]


def test_fault_dataclass_applies_to_transports() -> None:
    assert not Fault("ws_close", code=1011).applies_to("sse")
    assert Fault("stream_error").applies_to("ws") and not Fault("stream_error").applies_to("http")
    assert Fault("http", status=500).applies_to("http")


def test_http_continuation_rehydrates_and_a_websocket_cache_hit_does_not() -> None:
    from mockserver import Engine, ServerConfig
    from mockserver.wsmode import WsConnection

    engine = Engine(ServerConfig(seed=4, clock="virtual", latency="realistic"))
    clock = engine.session().clock

    def first_release(create: Any) -> float:
        """Seconds from the create to its first event (response.created): overhead plus rehydration."""
        start = clock.now()
        create()
        deadline = clock.next_deadline()
        assert deadline is not None
        return deadline - start

    parent = engine.create({"model": "gpt-5.5", "input": "hi"})
    engine.advance(60)
    http = first_release(
        lambda: engine.create({"model": "gpt-5.5", "input": "more", "previous_response_id": parent.id})
    )
    engine.advance(60)
    conn = WsConnection(engine)
    conn.receive_text(json.dumps({"type": "response.create", "model": "gpt-5.5", "input": "hi"}))
    engine.advance(60)
    first = [f for f in conn.drain() if isinstance(f, dict)][-1]["response"]["id"]
    cached = json.dumps(
        {"type": "response.create", "model": "gpt-5.5", "input": "more", "previous_response_id": first}
    )
    ws = first_release(lambda: conn.receive_text(cached))
    assert ws == pytest.approx(0.03) and http >= ws + 0.2  # overhead vs overhead + rehydration
    conn.close()
