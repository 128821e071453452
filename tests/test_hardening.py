"""Hostile servers and careless callers: every unhappy path bounded, typed and tested.

Each test talks over real loopback sockets to `SimulatedServer` or, where the bytes on the
wire must be exactly hostile, to a scripted aiohttp server (`rawserver.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ssl
import time
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from aiohttp import web

from groqstream import (
    APIConnectionError,
    CapacityExceededError,
    Client,
    ConfigError,
    ContentTypeError,
    EventTooLargeError,
    GroqStreamError,
    IdleTimeout,
    InternalServerError,
    MalformedChunkError,
    RedirectError,
    RetryPolicy,
    Timeouts,
)
from groqstream.models import DEFAULT_MODEL, KIMI_K2_INSTRUCT
from groqstream.sse import DEFAULT_MAX_EVENT_BYTES, SSEDecoder
from groqstream.testing import Fault, SimulatedServer
from rawserver import raw_server, sse_response
from tls_certs import server_context

MODEL = KIMI_K2_INSTRUCT
MiB = 1024 * 1024


def chunk(content: str | None = None, **choice: Any) -> bytes:
    delta = {"content": content} if content is not None else {}
    ch = {"index": 0, "delta": delta, "finish_reason": None, **choice}
    obj = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": MODEL, "choices": [ch]}
    return b"data: " + orjson.dumps(obj) + b"\n\n"


END = chunk(finish_reason="stop") + b"data: [DONE]\n\n"


# --- bounded memory --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start",
    [b'data: {"choices":[{"delta":{"content":"', b"data: garbage", b": an endless comment"],
    ids=["json", "garbage", "comment"],
)
async def test_an_endless_line_fails_at_the_limit(start: bytes) -> None:
    sent = [0]

    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(chunk("hello"))
        await resp.write(start)
        piece = b"a" * 65536
        with pytest.raises((ConnectionResetError, asyncio.CancelledError)):
            while sent[0] < 50 * MiB:  # no newline, ever
                await resp.write(piece)
                sent[0] += len(piece)
        return resp

    async with raw_server(endless) as srv:
        async with Client(base_url=srv.base_url, max_event_bytes=MiB) as c:
            with pytest.raises(EventTooLargeError) as info:
                async with c.stream(model=MODEL, prompt="x") as s:
                    await s.until_done()
    assert info.value.partial_text == "hello"
    assert info.value.limit == MiB
    assert len(info.value.line) <= 4097
    assert sent[0] < 8 * MiB  # the client hung up soon after the limit, not at 50 MB


async def test_the_default_limit_ends_a_50_mb_line() -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b'data: {"x":"')
        piece = b"b" * 65536
        with pytest.raises((ConnectionResetError, asyncio.CancelledError)):
            for _ in range(800):  # 50 MiB
                await resp.write(piece)
        return resp

    async with raw_server(endless) as srv, Client(base_url=srv.base_url) as c:
        with pytest.raises(EventTooLargeError) as info:
            async with c.stream(model=MODEL, prompt="x") as s:
                await s.until_done()
    assert info.value.limit == DEFAULT_MAX_EVENT_BYTES == 4 * MiB


TEN_MB_LINE = chunk("z" * 10_000_000)


async def test_a_10_mb_data_line_is_refused_by_default() -> None:
    async def big(request: web.Request) -> web.StreamResponse:
        with contextlib.suppress(ConnectionResetError, asyncio.CancelledError):
            return await sse_response(request, chunk("hi"), TEN_MB_LINE, END)
        return web.Response()

    async with raw_server(big) as srv, Client(base_url=srv.base_url) as c:
        with pytest.raises(EventTooLargeError) as info:
            async with c.stream(model=MODEL, prompt="x") as s:
                await s.until_done()
    assert info.value.partial_text == "hi"
    assert info.value.limit == 4 * MiB


async def test_a_10_mb_data_line_passes_when_the_bound_is_raised() -> None:
    async def big(request: web.Request) -> web.StreamResponse:
        return await sse_response(request, chunk("hi"), TEN_MB_LINE, END)

    async with (
        raw_server(big) as srv,
        Client(base_url=srv.base_url, max_event_bytes=16 * MiB) as c,
        c.stream(model=MODEL, prompt="x") as s,
    ):
        await s.until_done()
    assert s.text == "hi" + "z" * 10_000_000


def test_a_long_line_costs_linear_time_not_quadratic() -> None:
    """32 MiB in 1 KiB reads: joined once (milliseconds), not copied per read (which would
    move ~16 GiB; minutes). The bound is hundreds of times the real cost."""
    dec = SSEDecoder(max_event_bytes=64 * MiB)
    piece = b"x" * 1024
    t = time.process_time()
    assert dec.feed_payloads(b"data: ") == []
    for _ in range(32 * 1024):
        assert dec.feed_payloads(piece) == []
    assert dec.pending_bytes == 32 * MiB + 6
    assert dec.feed_payloads(b"\n\n") == [b"x" * (32 * MiB)]
    assert time.process_time() - t < 10.0


def test_a_complete_event_over_the_limit_in_one_read_is_refused() -> None:
    dec = SSEDecoder(max_event_bytes=1000)
    assert dec.feed_payloads(b"data: " + b"y" * 500 + b"\n\n") == [b"y" * 500]
    with pytest.raises(EventTooLargeError):
        dec.feed_payloads(b"data: ok\n\ndata: " + b"z" * 2000 + b"\n\n")
    dec = SSEDecoder(max_event_bytes=1000)
    with pytest.raises(EventTooLargeError):
        dec.feed(b"event: e\ndata: " + b"z" * 2000 + b"\n\n")


async def test_errors_keep_a_bounded_snippet_not_the_whole_body() -> None:
    huge = b"<html><body>" + b"w" * MiB + b"</body></html>"

    async def handler(request: web.Request) -> web.StreamResponse:
        kind = request.path.split("/")[1]
        if kind == "malformed":
            return await sse_response(request, chunk("a"), b"data: {" + b"q" * MiB + b"\n\n")
        if kind == "html200":
            return web.Response(body=huge, content_type="text/html")
        return web.Response(body=huge, status=500, content_type="text/html")

    async with raw_server(handler) as srv:
        for kind, exc in [
            ("malformed", MalformedChunkError),
            ("html200", ContentTypeError),
            ("html500", InternalServerError),
        ]:
            base = srv.base_url.replace("/v1", f"/{kind}/v1")
            async with Client(base_url=base, max_retries=0) as c:
                with pytest.raises(exc) as info:
                    async with c.stream(model=MODEL, prompt=kind) as s:
                        await s.until_done()
            err: Any = info.value
            kept = getattr(err, "line", None) or getattr(err, "body", "")
            assert len(str(kept)) <= 4097, kind
            assert len(str(err)) < 2000, kind


# --- liveness -----------------------------------------------------------------------------


async def test_a_slow_drip_of_a_valid_chunk_is_alive_for_the_idle_timeout() -> None:
    """Bytes of an event still arriving count as the server being alive: a chunk dripped one
    byte every 10 ms for ~1.5 s outlives a 0.4 s idle timeout and still succeeds."""
    dripped = chunk(" dripped")

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(chunk("first"))
        for i in range(len(dripped)):
            await asyncio.sleep(0.01)
            await resp.write(dripped[i : i + 1])
        await resp.write(END)
        return resp

    timeouts = Timeouts(connect=2, first_byte=5, idle=0.4, total=30)
    async with raw_server(handler) as srv, Client(base_url=srv.base_url, timeout=timeouts) as c:
        async with c.stream(model=MODEL, prompt="drip") as s:
            await s.until_done()
    assert s.text == "first dripped"
    assert s.finished


async def test_pings_alone_do_not_keep_a_stalled_stream_alive(server: SimulatedServer) -> None:
    server.faults.append(Fault.stall(after_chunks=2, seconds=5, ping_interval=0.05))
    timeouts = Timeouts(connect=2, first_byte=5, idle=0.3, total=30)
    async with Client(base_url=server.base_url, timeout=timeouts) as c:
        with pytest.raises(IdleTimeout):
            async with c.stream(model=MODEL, prompt="x") as s:
                await s.until_done()


# --- typed errors for wrongly shaped chunks, from every entry point ------------------------


BAD_CHUNK = b'data: {"id":"c","choices":{"0":{"delta":{"content":"x"}}}}\n\n'


async def _bad_shape_server(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    if not body.get("stream"):
        reply = {"id": "c", "choices": [{"message": "not an object"}]}
        return web.json_response(reply)
    return await sse_response(request, chunk("good"), BAD_CHUNK, END)


async def test_wrongly_shaped_chunks_are_typed_from_stream_complete_and_fan_out() -> None:
    async with raw_server(_bad_shape_server) as srv, Client(base_url=srv.base_url) as c:
        with pytest.raises(MalformedChunkError) as info:
            async with c.stream(model=MODEL, prompt="x") as s:
                await s.until_done()
        assert info.value.partial_text == "good"
        assert "choices" in str(info.value)
        with pytest.raises(MalformedChunkError):
            await c.complete(model=MODEL, prompt="x")
        [r] = await c.fan_out(["x"], model=MODEL).collect()
        assert isinstance(r.error, MalformedChunkError)
        assert r.text == "good"
        assert len(srv.requests) == 3  # a malformed reply is not retried


# --- statuses ---------------------------------------------------------------------------------


async def test_capacity_exceeded_498_fails_fast_unless_the_policy_retries_it(
    server: SimulatedServer,
) -> None:
    flex = Fault.status(498, error_type="capacity_exceeded", code="capacity_exceeded")
    async with Client(base_url=server.base_url) as c:
        server.faults.append(flex)
        with pytest.raises(CapacityExceededError) as info:
            await c.complete(model=MODEL, prompt="x", service_tier="flex")
        assert info.value.status == 498
        assert server.stats.requests_total == 1
        assert server.requests[-1].body["service_tier"] == "flex"
    policy = RetryPolicy(retry_capacity=True, initial=0.01)
    async with Client(base_url=server.base_url, retry_policy=policy) as c:
        server.faults.append(flex)
        async with c.stream(model=MODEL, prompt="x", service_tier="flex") as s:
            await s.until_done()
        assert s.attempts == 2
        assert s.finished


@pytest.mark.parametrize("status", [501, 505])
async def test_501_and_505_are_not_retried(server: SimulatedServer, status: int) -> None:
    async with Client(base_url=server.base_url) as c:
        server.faults.append(Fault.status(status))
        with pytest.raises(InternalServerError) as info:
            await c.complete(model=MODEL, prompt="x")
    assert not info.value.retryable
    assert server.stats.requests_total == 1


async def test_an_html_error_page_is_reduced_to_its_text(server: SimulatedServer) -> None:
    async with Client(base_url=server.base_url, max_retries=0) as c:
        server.faults.append(Fault.html(status=502))
        with pytest.raises(InternalServerError) as info:
            await c.complete(model=MODEL, prompt="x")
    message = info.value.message
    assert "502 Bad Gateway" in message
    assert "nginx" in message
    assert "<" not in message
    assert len(message) < 500


# --- security -------------------------------------------------------------------------------


SECRET = "gsk_live_SECRET_9876543210"


@pytest.mark.parametrize("bad", ["\r\nX-Injected: 1", "\n", "\x00", "\x7f", "tab\there"])
async def test_control_characters_in_keys_and_headers_are_refused_before_connecting(
    server: SimulatedServer, bad: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Client(api_key=SECRET + bad, base_url=server.base_url)
    assert SECRET not in str(info.value)
    with pytest.raises(ConfigError):
        Client(base_url=server.base_url, headers={"X-Team": "a" + bad})
    async with Client(base_url=server.base_url) as c:
        with pytest.raises(ConfigError):
            c.stream(model=MODEL, prompt="x", extra_headers={"X-Trace": "t" + bad})
        with pytest.raises(ConfigError):
            await c.complete(model=MODEL, prompt="x", extra_headers={"X-Trace": "t" + bad})
    assert server.stats.connections_total == 0


async def test_extra_headers_per_call_are_sent(server: SimulatedServer) -> None:
    async with Client(base_url=server.base_url) as c:
        async with c.stream(model=MODEL, prompt="x", extra_headers={"X-Trace": "abc"}) as s:
            await s.until_done()
    assert server.requests[-1].headers["X-Trace"] == "abc"


def test_a_key_never_goes_over_cleartext_to_another_host() -> None:
    with pytest.raises(ConfigError) as info:
        Client(api_key=SECRET, base_url="http://inference.example.com/v1")
    assert "allow_insecure_http" in str(info.value)
    assert SECRET not in str(info.value)
    Client(api_key=SECRET, base_url="https://inference.example.com/v1")
    Client(api_key=SECRET, base_url="http://127.0.0.1:9/v1")
    Client(api_key=SECRET, base_url="http://localhost:9/v1")
    Client(api_key=SECRET, base_url="http://inference.example.com/v1", allow_insecure_http=True)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_never_followed(status: int) -> None:
    async def elsewhere(request: web.Request) -> web.StreamResponse:
        return web.Response(text="should never be reached")

    async with raw_server(elsewhere) as other:

        async def redirect(request: web.Request) -> web.StreamResponse:
            raise web.HTTPException(headers={"Location": other.base_url + "/chat/completions"})

        async def handler(request: web.Request) -> web.StreamResponse:
            exc = web.HTTPException(headers={"Location": other.base_url + "/chat/completions"})
            exc.set_status(status)
            raise exc

        async with raw_server(handler) as srv:
            async with Client(api_key=SECRET, base_url=srv.base_url, headers={"X-T": "1"}) as c:
                with pytest.raises(RedirectError) as info:
                    await c.complete(model=MODEL, prompt="secret prompt")
                with pytest.raises(RedirectError):
                    async with c.stream(model=MODEL, prompt="secret prompt") as s:
                        await s.until_done()
    assert info.value.status == status
    assert info.value.location == other.base_url + "/chat/completions"
    assert other.base_url in str(info.value)
    assert other.requests == []  # not the body, not the key, not the headers
    assert len(srv.requests) == 2  # and not retried


@pytest.fixture
def tls_context(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    return server_context(tls_files)


async def test_tls_is_verified_unless_explicitly_turned_off(tls_context: ssl.SSLContext) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await sse_response(request, chunk("over tls"), END)

    async with raw_server(handler, ssl_context=tls_context) as srv:
        assert srv.base_url.startswith("https://")
        async with Client(api_key=SECRET, base_url=srv.base_url, max_retries=0) as c:
            with pytest.raises(APIConnectionError) as info:
                async with c.stream(model=MODEL, prompt="x") as s:
                    await s.until_done()
        assert "cert" in str(info.value).lower() or "ssl" in str(info.value).lower()
        assert srv.requests == []
        async with Client(api_key=SECRET, base_url=srv.base_url, verify=False) as c:
            async with c.stream(model=MODEL, prompt="x") as s:
                await s.until_done()
        assert s.text == "over tls"


# --- careless callers -------------------------------------------------------------------------


async def test_a_closed_client_fails_at_once_saying_so(server: SimulatedServer) -> None:
    c = Client(base_url=server.base_url)
    async with c:
        await c.complete(model=MODEL, prompt="x")
    with pytest.raises(ConfigError, match="closed"):
        await c.complete(model=MODEL, prompt="x")
    with pytest.raises(ConfigError, match="closed"):
        c.stream(model=MODEL, prompt="x")
    with pytest.raises(ConfigError, match="closed"):
        c.fan_out(["x"], model=MODEL)
    with pytest.raises(ConfigError, match="closed"):
        async with c:
            pass
    assert server.stats.requests_total == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"messages": "hello"},
        {"messages": []},
        {"messages": [{"content": "no role"}]},
        {"prompt": 42},
        {"prompt": "x", "model": ""},
        {"prompt": "x", "model": "   "},
        {"prompt": "x", "max_tokens": "5"},
        {"prompt": "x", "max_tokens": 2.5},
        {"prompt": "x", "max_tokens": True},
        {"prompt": "x", "max_tokens": 0},
        {"prompt": "x", "max_completion_tokens": -1},
        {"prompt": "x", "system": 3},
        {"prompt": "x", "messages": [{"role": "user", "content": "both"}]},
    ],
)
async def test_careless_calls_are_config_errors_before_connecting(
    server: SimulatedServer, kwargs: dict[str, Any]
) -> None:
    async with Client(base_url=server.base_url) as c:
        with pytest.raises(ConfigError):
            c.stream(**kwargs)
        with pytest.raises(ConfigError):
            await c.complete(**kwargs)
        [r] = await c.fan_out([dict(kwargs)]).collect()
        assert isinstance(r.error, ConfigError)
    assert server.stats.connections_total == 0


@pytest.mark.parametrize(
    "make",
    [
        lambda: Timeouts(total=-1),
        lambda: Timeouts(idle=0),
        lambda: Timeouts(connect="5"),  # type: ignore[arg-type]
        lambda: Client(base_url="http://127.0.0.1:9/v1", timeout=-3),
        lambda: Client(base_url="http://127.0.0.1:9/v1", max_retries=-1),
        lambda: Client(base_url="http://127.0.0.1:9/v1", max_event_bytes=0),
        lambda: Client(base_url="http://127.0.0.1:9/v1", default_model=""),
        lambda: Client(base_url="ftp://127.0.0.1/v1"),
        lambda: Client(base_url="http:///v1"),
        lambda: Client(base_url="http://127.0.0.1:9/v1", max_connections=0),
        lambda: RetryPolicy(max_retries=-1),
        lambda: RetryPolicy(jitter=2),
    ],
)
def test_bad_configuration_is_a_config_error(make: Any) -> None:
    with pytest.raises(ConfigError):
        make()


async def test_bad_fan_out_options_are_config_errors(server: SimulatedServer) -> None:
    async with Client(base_url=server.base_url) as c:
        for bad in ({"concurrency": 0}, {"concurrency": "8"}, {"requests_per_minute": -1}):
            with pytest.raises(ConfigError):
                c.fan_out(["x"], model=MODEL, **bad)


# --- clean lifecycle of fan-out ---------------------------------------------------------------


async def test_fan_out_frees_everything_on_every_exit_path(server: SimulatedServer) -> None:
    """Never iterated, broken out of without `aclose`, cancelled, completed: no stream,
    task or socket is left behind (the suite turns ResourceWarning into an error, and the
    collected garbage is checked here, inside the test)."""
    async with Client(base_url=server.base_url) as c:
        c.fan_out(["never"] * 3, model=MODEL)  # never iterated
        fan = c.fan_out([f"p{i}" for i in range(20)], model=MODEL, concurrency=4)
        async for _ in fan:
            break  # broken out of, no aclose()
        del fan
        with anyio.move_on_after(0.05):
            await c.fan_out([f"q{i}" for i in range(50)], model=MODEL, concurrency=8).collect()
        results = await c.fan_out(["done"] * 5, model=MODEL).collect()
        assert all(r.ok for r in results)
        for _ in range(3):
            gc.collect()
            await asyncio.sleep(0.05)
        assert server.stats.streams_active == 0
    await server.wait_idle(timeout=5)
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert not [t for t in tasks if "FanOut" in repr(t)]


async def test_every_error_a_public_call_raises_is_a_groqstream_error(
    server: SimulatedServer,
) -> None:
    async with Client(base_url=server.base_url, max_retries=0) as c:
        for fault in (Fault.cut(2), Fault.malformed_json(1), Fault.status(500), Fault.html(200)):
            server.faults.append(fault)
            with pytest.raises(GroqStreamError):
                async with c.stream(model=DEFAULT_MODEL, prompt="x") as s:
                    await s.until_done()


async def test_a_stream_made_before_its_client_closed_cannot_reopen_the_pool(
    server: SimulatedServer,
) -> None:
    async with Client(base_url=server.base_url) as c:
        s = c.stream(model=MODEL, prompt="late")
    with pytest.raises(ConfigError, match="closed"):
        async with s:
            pass
    assert server.stats.requests_total == 0
