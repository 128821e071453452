"""The connection pool: stale keep-alive re-sends, warm-up, TLS session resumption, and what
each stream's metrics say about its connection. Real sockets, the simulated server."""

from __future__ import annotations

import ssl
from pathlib import Path

import anyio
import orjson
import pytest
from aiohttp import web

from groqstream import APIConnectionError, Client, ConfigError
from groqstream.testing import SimulatedServer
from rawserver import raw_server, sse_response
from tls_certs import server_context

MODEL = "llama-3.1-8b-instant"


def chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    obj = {"id": "c", "object": "chat.completion.chunk", "model": MODEL, "choices": [choice]}
    return b"data: " + orjson.dumps(obj) + b"\n\n"


CHUNK = chunk({"content": "ok"})
END = chunk({}, "stop") + b"data: [DONE]\n\n"


async def open_wide(srv: SimulatedServer, client: Client, width: int) -> list[str]:
    """Run `width` streams at once (the server holds them until all arrived), so the pool
    ends up with `width` idle connections; returns their texts."""
    texts: list[str] = []

    async def one(i: int) -> None:
        async with client.stream(model=MODEL, prompt=f"p{i}", max_tokens=4) as s:
            await s.until_done()
        texts.append(s.text)

    srv.hold()
    async with anyio.create_task_group() as tg:
        for i in range(width):
            tg.start_soon(one, i)
        with anyio.fail_after(60):
            while srv.stats.requests_held < width:
                await anyio.sleep(0.01)
        srv.release()
    return texts


# --- stale keep-alive --------------------------------------------------------------------------


@pytest.mark.parametrize("max_retries", [2, 0])
async def test_forty_requests_at_the_idle_cutoff_all_succeed_resent_at_once(
    max_retries: int,
) -> None:
    async with (
        SimulatedServer(ttft=0.001, tokens_per_second=5000, output_tokens=4) as srv,
        Client(base_url=srv.base_url, max_retries=max_retries) as client,
    ):
        await open_wide(srv, client, 40)
        assert srv.stats.connections_total == 40
        assert srv.idle_cutoff.expire() == 40  # the server closes all 40 as they are reused
        streams = []

        async def one(i: int) -> None:
            async with client.stream(model=MODEL, prompt=f"again {i}", max_tokens=4) as s:
                await s.until_done()
            streams.append(s)

        async with anyio.create_task_group() as tg:
            for i in range(40):
                tg.start_soon(one, i)
    assert len(streams) == 40 and all(s.finished and s.text for s in streams)
    assert srv.idle_cutoff.dropped == 40  # each met a closed connection, once
    assert all(s.attempts == 1 for s in streams)  # not a retry: max_retries untouched
    for s in streams:
        m = s.metrics
        assert m.stale_resend is True
        assert m.connection_reused is False  # the re-send went on a new connection
        assert m.connect_s is not None and m.connect_s >= 0
        assert m.tls_s is None  # plain HTTP


async def test_a_stale_resend_happens_at_most_once_then_the_retry_policy_decides() -> None:
    served = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal served
        served += 1
        if served > 1 and request.transport is not None:
            request.transport.abort()  # every request after the first: the socket is reset
        return await sse_response(request, CHUNK, END)

    async with raw_server(handler) as srv:
        async with Client(base_url=srv.base_url, max_retries=0) as client:
            async with client.stream(model=MODEL, prompt="first") as s:
                await s.until_done()
            assert s.metrics.connection_reused is False and not s.metrics.stale_resend
            with pytest.raises(APIConnectionError):
                async with client.stream(model=MODEL, prompt="second") as s2:
                    await s2.until_done()
        # second: on the pooled connection (reset), re-sent once on a new one (reset): no more
        assert len(srv.requests) == 3


async def test_a_disconnect_on_a_new_connection_is_a_retry_not_a_resend() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.transport is not None:
            request.transport.abort()
        return web.Response()

    async with raw_server(handler) as srv:
        async with Client(base_url=srv.base_url, max_retries=0) as client:
            with pytest.raises(APIConnectionError):
                await client.stream(model=MODEL, prompt="x").start()
        assert len(srv.requests) == 1


async def test_reused_connections_say_so_in_metrics(server: SimulatedServer) -> None:
    async with Client(base_url=server.base_url) as client:
        async with client.stream(model=MODEL, prompt="a", max_tokens=4) as first:
            await first.until_done()
        async with client.stream(model=MODEL, prompt="b", max_tokens=4) as second:
            await second.until_done()
        done = await client.complete(model=MODEL, prompt="c", max_tokens=4)
    m1, m2 = first.metrics, second.metrics
    assert m1.connection_reused is False and m1.connect_s is not None and m1.tls_s is None
    assert m1.ttft_s is not None and 0 <= m1.connect_s < m1.ttft_s  # the connect is inside TTFT
    assert m2.connection_reused is True and m2.connect_s is None and m2.tls_s is None
    assert not m1.stale_resend and not m2.stale_resend
    assert m1.to_dict()["connection_reused"] is False
    assert done.text


# --- pool settings and warm-up -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"keepalive_idle": 0},
        {"keepalive_idle": -1.0},
        {"keepalive_idle": True},
        {"dns_ttl": 0},
        {"dns_ttl": "10"},
        {"prewarm": -1},
        {"prewarm": 1.5},
        {"verify": 3},
        {"verify": "/no/such/ca.pem"},
    ],
)
def test_bad_pool_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Client(base_url="https://example.invalid/v1", api_key="k", **kwargs)  # type: ignore[arg-type]


async def test_bad_warm_counts_are_refused(client: Client) -> None:
    for n in (-1, 2.0, True, "3"):
        with pytest.raises(ConfigError, match="warm-up"):
            await client.warm(n)  # type: ignore[arg-type]


async def test_prewarm_opens_connections_before_traffic_and_streams_pay_nothing(
    server: SimulatedServer,
) -> None:
    async with Client(base_url=server.base_url, prewarm=3) as client:
        assert server.stats.connections_total == 0  # connections carry no request yet
        texts = await open_wide(server, client, 3)
        assert server.stats.connections_total == 3  # the warmed ones, nothing new
        await client.warm(5)  # two more, the three idle ones are counted
        async with client.stream(model=MODEL, prompt="x", max_tokens=2) as s:
            await s.until_done()
    assert len(texts) == 3
    assert s.metrics.connection_reused is True and s.metrics.connect_s is None


async def test_warming_an_unreachable_server_is_a_typed_error() -> None:
    async with SimulatedServer() as srv:
        url = srv.base_url
    async with Client(base_url=url) as client:
        with pytest.raises(APIConnectionError, match="cannot connect"):
            await client.warm(2)
    with pytest.raises(APIConnectionError):
        async with Client(base_url=url, prewarm=1):
            pass


# --- TLS: session resumption and handshake times ---------------------------------------------


async def two_connections(client: Client, srv: SimulatedServer) -> list[object]:
    """One stream on a new connection; then two at once: one reuses it, one opens a second."""
    async with client.stream(model=MODEL, prompt="first", max_tokens=4) as s:
        await s.until_done()
    await open_wide(srv, client, 2)
    return [s]


async def https_resumption(files: tuple[Path, Path]) -> list[tuple[bool | None, ...]]:
    """(connection_reused, tls_resumed, has connect_s, has tls_s) of each stream over HTTPS."""
    seen: list[tuple[bool | None, ...]] = []
    async with (
        SimulatedServer(ttft=0.001, output_tokens=4, ssl_context=server_context(files)) as srv,
        Client(base_url=srv.base_url, verify=str(files[0])) as client,
    ):
        assert srv.base_url.startswith("https://")

        async def one(i: int) -> None:
            async with client.stream(model=MODEL, prompt=f"p{i}", max_tokens=4) as s:
                await s.until_done()
            m = s.metrics
            seen.append((m.connection_reused, m.tls_resumed, m.connect_s is not None,
                         m.tls_s is not None and m.tls_s > 0))  # fmt: skip

        await one(0)
        srv.hold()
        async with anyio.create_task_group() as tg:
            tg.start_soon(one, 1)
            tg.start_soon(one, 2)
            with anyio.fail_after(30):
                while srv.stats.requests_held < 2:
                    await anyio.sleep(0.01)
            srv.release()
    return seen


async def test_a_second_tls_connection_resumes_the_first_ones_session(
    tls_files: tuple[Path, Path],
) -> None:
    seen = await https_resumption(tls_files)
    assert seen[0] == (False, False, True, True)  # full handshake, both times measured
    later = sorted(seen[1:], key=lambda t: bool(t[0]))
    assert later[0] == (False, True, True, True)  # the new connection resumed the session
    assert later[1] == (True, None, False, False)  # the pooled one paid nothing


def test_tls_resumption_works_on_uvloop_too(tls_files: tuple[Path, Path]) -> None:
    uvloop = pytest.importorskip("uvloop")
    seen = uvloop.run(https_resumption(tls_files))
    later = sorted(seen[1:], key=lambda t: bool(t[0]))
    assert later[0] == (False, True, True, True)


async def test_a_server_that_refuses_resumption_costs_a_full_handshake_only(
    tls_files: tuple[Path, Path],
) -> None:
    ctx = server_context(tls_files)
    ctx.options |= ssl.OP_NO_TICKET
    ctx.num_tickets = 0
    async with (
        SimulatedServer(ttft=0.001, output_tokens=4, ssl_context=ctx) as srv,
        Client(base_url=srv.base_url, verify=str(tls_files[0])) as client,
    ):
        await open_wide(srv, client, 1)
        await open_wide(srv, client, 2)
        assert srv.stats.connections_total == 2


async def test_a_callers_own_context_is_used_as_is(tls_files: tuple[Path, Path]) -> None:
    mine = ssl.create_default_context(cafile=str(tls_files[0]))
    async with (
        SimulatedServer(ttft=0.001, output_tokens=4, ssl_context=server_context(tls_files)) as srv,
        Client(base_url=srv.base_url, verify=mine) as client,
    ):
        async with client.stream(model=MODEL, prompt="x", max_tokens=2) as s:
            await s.until_done()
    assert type(mine) is ssl.SSLContext
    m = s.metrics
    assert m.connection_reused is False and m.tls_resumed is False
    assert m.connect_s is not None and m.connect_s > 0  # the handshake timed apart from it,
    assert m.tls_s is not None and m.tls_s > 0  # since groqstream runs it, whatever the context


async def test_prewarm_over_tls_takes_the_handshake_out_of_the_first_token(
    tls_files: tuple[Path, Path],
) -> None:
    async with (
        SimulatedServer(ttft=0.001, output_tokens=4, ssl_context=server_context(tls_files)) as srv,
        Client(base_url=srv.base_url, verify=str(tls_files[0]), prewarm=2) as client,
    ):
        async with client.stream(model=MODEL, prompt="x", max_tokens=2) as s:
            await s.until_done()
    assert s.metrics.connection_reused is True and s.metrics.tls_s is None


async def test_complete_is_resent_at_once_too() -> None:
    async with (
        SimulatedServer(ttft=0.001, tokens_per_second=5000, output_tokens=4) as srv,
        Client(base_url=srv.base_url, max_retries=0) as client,
    ):
        first = await client.complete(model=MODEL, prompt="a", max_tokens=4)
        assert srv.idle_cutoff.expire() == 1
        second = await client.complete(model=MODEL, prompt="b", max_tokens=4)
    assert first.text and second.text
    assert srv.idle_cutoff.dropped == 1 and srv.stats.connections_total == 2


async def forty_at_the_cutoff() -> tuple[int, int, int]:
    """(finished, re-sent, dropped by the server) for 40 streams that all meet a closed
    pooled connection, with max_retries=0."""
    async with (
        SimulatedServer(ttft=0.001, tokens_per_second=5000, output_tokens=4) as srv,
        Client(base_url=srv.base_url, max_retries=0) as client,
    ):
        await open_wide(srv, client, 40)
        srv.idle_cutoff.expire()
        resent: list[bool] = []

        async def one(i: int) -> None:
            async with client.stream(model=MODEL, prompt=f"x{i}", max_tokens=4) as s:
                await s.until_done()
            resent.append(s.metrics.stale_resend)

        async with anyio.create_task_group() as tg:
            for i in range(40):
                tg.start_soon(one, i)
    return len(resent), sum(resent), srv.idle_cutoff.dropped


def test_the_stale_resend_works_on_uvloop_too() -> None:
    uvloop = pytest.importorskip("uvloop")
    assert uvloop.run(forty_at_the_cutoff()) == (40, 40, 40)


async def test_ttft_over_https_splits_into_connect_tls_queue_prompt_and_network(
    tls_files: tuple[Path, Path],
) -> None:
    async with (
        SimulatedServer(
            ttft=0.02, queue_time=0.005, output_tokens=4, ssl_context=server_context(tls_files)
        ) as srv,
        Client(base_url=srv.base_url, verify=str(tls_files[0])) as client,
    ):
        async with client.stream(model=MODEL, prompt="first", max_tokens=4) as s:
            await s.until_done()
        async with client.stream(model=MODEL, prompt="again", max_tokens=4) as again:
            await again.until_done()
    first, second = s.metrics.ttft_split(), again.metrics.ttft_split()
    assert first is not None and second is not None
    assert first["connect"] > 0 and first["tls"] > 0  # a new connection: both paid in TTFT
    assert first["queue"] == pytest.approx(0.005)
    assert sum(first.values()) == pytest.approx(s.metrics.ttft_s)
    assert second["connect"] == 0 and second["tls"] == 0  # the pooled connection: nothing
    assert sum(second.values()) == pytest.approx(again.metrics.ttft_s)
