"""Every bad input gets a clear, typed error: status codes, protocol faults, cuts, stalls."""

from __future__ import annotations

import contextlib
import socket
import time

import pytest

from groqstream import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    Client,
    ConnectTimeout,
    ContentTypeError,
    FirstByteTimeout,
    GroqStreamError,
    IdleTimeout,
    InternalServerError,
    MalformedChunkError,
    MissingAPIKeyError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTooLargeError,
    StreamInterrupted,
    Timeouts,
    TotalTimeout,
    UnprocessableEntityError,
)
from groqstream.models import KIMI_K2_INSTRUCT as KIMI
from groqstream.testing import Fault, SimulatedServer

SECRET = "gsk_live_SUPERSECRET_0123456789"


async def drain(client: Client, **kw: object) -> str:
    async with client.stream(model=KIMI, prompt="hello", **kw) as s:  # type: ignore[arg-type]
        async for _ in s:
            pass
    return s.text


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (413, RequestTooLargeError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (503, InternalServerError),
    ],
)
async def test_status_errors_are_typed(
    server: SimulatedServer, status: int, cls: type[APIStatusError]
) -> None:
    async with Client(base_url=server.base_url, max_retries=0) as client:
        server.faults.append(Fault.status(status, message=f"nope {status}", retry_after=7))
        with pytest.raises(cls) as info:
            await drain(client)
    err = info.value
    assert err.status == status
    assert "nope" in err.message
    assert err.request_id and err.request_id.startswith("req_")
    assert err.retry_after == 7
    assert isinstance(err.body, dict) and "error" in err.body
    assert err.retryable == (status in (429, 500, 503))


async def test_html_error_page_from_a_proxy(server: SimulatedServer) -> None:
    async with Client(base_url=server.base_url, max_retries=0) as client:
        server.faults.append(Fault.html(status=200))
        with pytest.raises(ContentTypeError) as info:
            await drain(client)
        assert info.value.content_type == "text/html"
        assert "<html" in info.value.body.lower()
        server.faults.append(Fault.html(status=502))
        with pytest.raises(InternalServerError) as info2:
            await drain(client)
        assert info2.value.status == 502 and "html" in str(info2.value.body).lower()


async def test_malformed_json_in_a_chunk(client: Client, server: SimulatedServer) -> None:
    server.faults.append(Fault.malformed_json(after_chunks=3))
    got = []
    with pytest.raises(MalformedChunkError) as info:
        async with client.stream(model=KIMI, prompt="hello") as s:
            async for d in s:
                got.append(d.content)
    assert '"content":"oops' in info.value.line
    assert len(got) == 3  # the deltas before the bad line still reached the user
    assert info.value.partial_text == "".join(got)


@pytest.mark.parametrize("as_event", [False, True])
async def test_error_object_inside_the_stream(
    client: Client, server: SimulatedServer, as_event: bool
) -> None:
    server.faults.append(
        Fault.stream_error(
            after_chunks=2,
            error_type="invalid_request_error",
            code="tool_use_failed",
            as_event=as_event,
        )
    )
    with pytest.raises(BadRequestError) as info:
        await drain(client)
    assert info.value.in_stream and info.value.code == "tool_use_failed"
    assert info.value.partial_text  # two chunks had arrived


async def test_connection_cut_mid_stream_keeps_partial_text(
    client: Client, server: SimulatedServer
) -> None:
    server.faults.append(Fault.cut(after_chunks=5))
    got = []
    with pytest.raises(StreamInterrupted) as info:
        async with client.stream(model=KIMI, prompt="hello") as s:
            async for d in s:
                got.append(d.content)
    assert len(got) == 5
    assert info.value.partial_text == "".join(got) != ""
    assert server.stats.requests_total == 1  # no retry once deltas reached the user


async def test_body_ending_before_finish_is_an_interruption(
    client: Client, server: SimulatedServer
) -> None:
    server.faults.append(Fault.end_early(after_chunks=4))
    with pytest.raises(StreamInterrupted) as info:
        await drain(client)
    assert info.value.partial_text and info.value.chunks >= 4


async def test_idle_timeout_on_a_stalled_stream_despite_pings(server: SimulatedServer) -> None:
    t = Timeouts(connect=2, first_byte=5, idle=0.3, total=60)
    server.faults.append(Fault.stall(after_chunks=3, seconds=30.0, ping_interval=0.05))
    async with Client(base_url=server.base_url, timeout=t) as client:
        start = time.monotonic()
        with pytest.raises(IdleTimeout) as info:
            await drain(client)
        elapsed = time.monotonic() - start
    # pings did not count as progress; the bound is loose for a busy machine, yet far below
    # the 30 s stall and the 60 s total that would end the stream without the idle timer
    assert 0.3 <= elapsed < 10
    assert info.value.partial_text
    await server.wait_idle()


async def test_first_byte_timeout_is_retried_then_raised(server: SimulatedServer) -> None:
    t = Timeouts(connect=2, first_byte=0.2, idle=5, total=30)
    for _ in range(3):
        server.faults.append(Fault.delay_headers(30.0))
    async with Client(base_url=server.base_url, timeout=t, max_retries=1) as client:
        with pytest.raises(FirstByteTimeout):
            await drain(client)
    assert server.stats.requests_total == 2


async def test_first_byte_timeout_covers_a_slow_first_token(server: SimulatedServer) -> None:
    t = Timeouts(connect=2, first_byte=0.2, idle=5, total=30)
    server.faults.append(Fault.stall(after_chunks=0, seconds=30.0))
    async with Client(base_url=server.base_url, timeout=t, max_retries=0) as client:
        with pytest.raises(FirstByteTimeout):
            await drain(client)


async def test_total_timeout(server: SimulatedServer) -> None:
    t = Timeouts(connect=2, first_byte=5, idle=5, total=0.3)
    server.faults.append(Fault.stall(after_chunks=2, seconds=30.0, ping_interval=0.01))
    async with Client(base_url=server.base_url, timeout=t) as client:
        start = time.monotonic()
        with pytest.raises(TotalTimeout):
            await drain(client)
    assert time.monotonic() - start < 10  # loose for a busy machine; the stall lasts 30 s


async def test_connection_refused_is_a_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with Client(base_url=f"http://127.0.0.1:{port}/v1", max_retries=0) as client:
        with pytest.raises(APIConnectionError) as info:
            await drain(client)
    assert "cannot connect" in str(info.value)


async def test_retry_on_429_then_success(server: SimulatedServer) -> None:
    server.faults.append(Fault.status(429, retry_after=0.3))
    async with Client(base_url=server.base_url) as client:
        start = time.monotonic()
        async with client.stream(model=KIMI, prompt="retry me") as s:
            await s.until_done()
        elapsed = time.monotonic() - start
    assert s.attempts == 2 and s.finished and s.text
    assert elapsed >= 0.3  # retry-after was honoured
    assert server.stats.status_counts.get(429) == 1


async def test_retry_after_ms_is_honoured(server: SimulatedServer) -> None:
    server.faults.append(Fault.status(503, retry_after_ms=150))
    async with Client(base_url=server.base_url) as client:
        start = time.monotonic()
        await drain(client)
    assert time.monotonic() - start >= 0.15


async def test_in_stream_rate_limit_before_first_delta_is_retried(server: SimulatedServer) -> None:
    server.faults.append(
        Fault.stream_error(after_chunks=0, error_type="tokens", code="rate_limit_exceeded")
    )
    async with Client(base_url=server.base_url) as client:
        async with client.stream(model=KIMI, prompt="hi") as s:
            await s.until_done()
    assert s.attempts == 2 and s.finished


async def test_no_retry_after_the_first_delta(client: Client, server: SimulatedServer) -> None:
    server.faults.append(Fault.stream_error(after_chunks=3, error_type="internal_server_error"))
    with pytest.raises(InternalServerError) as info:
        await drain(client)
    assert server.stats.requests_total == 1
    assert info.value.partial_text


async def test_retries_give_up_after_max_retries(server: SimulatedServer) -> None:
    for _ in range(5):
        server.faults.append(Fault.status(500))
    async with Client(base_url=server.base_url, max_retries=2) as client:
        with pytest.raises(InternalServerError):
            await drain(client)
    assert server.stats.requests_total == 3


async def test_client_errors_are_not_retried(server: SimulatedServer) -> None:
    server.faults.append(Fault.status(400))
    async with Client(base_url=server.base_url, max_retries=3) as client:
        with pytest.raises(BadRequestError):
            await drain(client)
    assert server.stats.requests_total == 1


def test_missing_key_fails_fast_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    monkeypatch.delenv("GROQSTREAM_BASE_URL", raising=False)
    with pytest.raises(MissingAPIKeyError, match="GROQ_API_KEY"):
        Client()
    Client(base_url="http://127.0.0.1:8000/v1")  # loopback needs no key
    Client(base_url="http://localhost:8000/v1")


def test_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQSTREAM_BASE_URL", "http://127.0.0.1:1234/v1/")
    assert Client().base_url == "http://127.0.0.1:1234/v1"


async def test_api_key_never_leaks(
    server: SimulatedServer, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    srv = SimulatedServer(api_key="other-key")
    async with srv, Client(api_key=SECRET, base_url=srv.base_url, max_retries=0) as client:
        assert SECRET not in repr(client)
        with pytest.raises(AuthenticationError) as info:
            await drain(client)
        assert srv.requests[-1].headers.get("Authorization") == "<redacted>"
    texts = [
        repr(client),
        str(info.value),
        repr(info.value),
        repr(info.value.body),
        repr(info.value.headers),
        caplog.text,
    ]
    assert all(SECRET not in t for t in texts)
    assert all("SUPERSECRET" not in t for t in texts)


async def test_key_is_sent_as_bearer(server: SimulatedServer) -> None:
    srv = SimulatedServer(api_key=SECRET)
    async with srv, Client(api_key=SECRET, base_url=srv.base_url) as client:
        assert await drain(client)
    assert srv.requests[-1].authorized


def test_every_error_is_a_groqstream_error() -> None:
    for cls in (
        StreamInterrupted,
        IdleTimeout,
        ContentTypeError,
        MalformedChunkError,
        RateLimitError,
        MissingAPIKeyError,
    ):
        assert issubclass(cls, GroqStreamError)


async def test_connect_timeout_against_a_full_accept_queue() -> None:
    """A listener whose backlog is full drops our SYN: the connect phase must time out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):
            f = socket.socket()
            f.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                f.connect(("127.0.0.1", port))
            fillers.append(f)
        t = Timeouts(connect=0.3, first_byte=30, idle=30, total=60)
        async with Client(base_url=f"http://127.0.0.1:{port}/v1", timeout=t, max_retries=0) as c:
            start = time.monotonic()
            with pytest.raises(ConnectTimeout) as info:
                await drain(c)
        assert time.monotonic() - start < 10  # loose for a busy machine; next timer: 30 s
        assert info.value.timeout == 0.3 and info.value.retryable
    finally:
        for f in fillers:
            f.close()
        listener.close()


async def test_404_names_the_url_and_a_missing_v1(server: SimulatedServer) -> None:
    base = server.base_url.removesuffix("/v1")  # .../openai: the classic mistake
    async with Client(base_url=base) as c:
        with pytest.raises(NotFoundError) as info:
            await drain(c)
    text = str(info.value)
    assert f"POST {base}/chat/completions" in text
    assert "does not end in /v1" in text
    async with Client(base_url=server.base_url + "/nowhere/v1") as c:
        with pytest.raises(NotFoundError) as info:
            await drain(c)
    assert "/nowhere/v1/chat/completions" in str(info.value)
    assert "does not end in /v1" not in str(info.value)
