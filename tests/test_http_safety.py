"""What a code review of groqstream's own HTTP/1.1 client found, each held by a test over real
loopback sockets: pool accounting under warm-up, cancellation and lost connections; request
lines and headers that cannot be injected or framed twice; TLS only for https; TLS sessions
kept whatever became of the connection; gzip of several members; heads with bare LFs or two
framings; and how the base URL becomes the Host header and request target."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import ssl
import struct
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest

from groqstream import APIConnectionError, Client, ConfigError, RateLimitError, Timeouts
from groqstream._h1 import HTTPProtocolError, body_for, parse_head
from groqstream._pool import Pool
from groqstream._transport import Deadlines, Transport
from test_pool_h1 import (
    END,
    MODEL,
    SSE_HEAD,
    TIMEOUTS,
    Peer,
    chunk,
    event,
    serving,
    stream_text,
    wire_server,
)
from tls_certs import server_context

LAST = b"0\r\n\r\n"


# --- pool accounting -------------------------------------------------------------------------


def pool_for(base_url: str, cls: type[Pool], *, limit: int) -> Pool:
    """A plain-HTTP pool to `base_url`'s host, made in the running loop."""
    host, port = base_url.split("//")[1].split("/")[0].split(":")
    return cls(
        host=host, port=int(port), ssl_context=None, limit=limit,
        keepalive_idle=60, dns_ttl=60, connect_timeout=5,
    )  # fmt: skip


async def test_warm_up_counts_against_max_connections() -> None:
    # Pool.warm opens through `open()`, not `_open_counted()`: its opens are not in `_opening`,
    # so requests made meanwhile open their own and the pool ends over `limit`.
    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        await peer.send(SSE_HEAD + chunk(event("hel")))
        await asyncio.sleep(0.3)
        await peer.send(chunk(END) + LAST)

    async with wire_server(serving(respond)) as srv:
        async with Client(
            base_url=srv.base_url, max_retries=0, timeout=TIMEOUTS, max_connections=2
        ) as c:
            async with anyio.create_task_group() as tg:
                tg.start_soon(c.warm, 2)
                tg.start_soon(stream_text, c, "a")
                tg.start_soon(stream_text, c, "b")
            assert len(c.transport.pool) <= 2
    assert srv.max_open <= 2


async def test_warm_up_cancelled_by_a_cancel_scope_leaks_no_connection() -> None:
    # anyio re-delivers cancellation at every await: the second gather in warm()'s `finally`
    # is cancelled too, and a connection that had opened is never released nor closed.
    class SlowSecond(Pool):
        n = 0

        async def open(self) -> Any:
            self.n += 1
            if self.n > 1:
                await asyncio.sleep(30)
            return await super().open()

    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        pass

    async with wire_server(serving(respond)) as srv:
        pool = pool_for(srv.base_url, SlowSecond, limit=2)
        try:
            with anyio.move_on_after(0.3):
                await pool.warm(2)
            assert len(pool) == pool.idle  # each opened one is idle, or closed
        finally:
            await pool.aclose()


async def test_a_fresh_connection_lost_before_its_request_fails_at_once() -> None:
    # The server resets each connection at once (from a thread, so the reset is in before the
    # client's loop looks). On 3.10/3.11 `wait_for` adds a loop turn between the connect and
    # `Pool.open` counting the connection, so `connection_lost` can run first; the request is
    # then written to a dead transport and waits for a head that never comes (until `total`).
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)

    def rst() -> None:
        while True:
            try:
                s, _ = lsock.accept()
            except OSError:
                return
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()

    threading.Thread(target=rst, daemon=True).start()
    port = lsock.getsockname()[1]
    timeouts = Timeouts(connect=5.0, first_byte=3.0, idle=3.0, total=4.0)
    try:
        async with Client(
            base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, timeout=timeouts
        ) as c:
            for _ in range(100):
                with anyio.fail_after(2), pytest.raises(APIConnectionError):
                    await c.complete(model=MODEL, prompt="x")
    finally:
        lsock.close()


async def test_send_on_a_connection_already_lost_fails_at_once() -> None:
    # The same defect, deterministically.
    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        pass

    async with wire_server(serving(respond)) as srv:
        pool = pool_for(srv.base_url, Pool, limit=1)
        conn = await pool.open()
        assert conn.transport is not None
        conn.transport.abort()
        await conn.lost
        try:
            with anyio.fail_after(2), pytest.raises(ConnectionError):
                await conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
        finally:
            await pool.aclose()


# --- what goes on the wire -------------------------------------------------------------------


async def test_a_path_with_cr_lf_or_space_is_percent_encoded_not_injected() -> None:
    # Batch and file ids come from server replies and state files; yarl used to quote them.
    seen: list[bytes] = []

    async def handler(peer: Peer) -> None:
        seen.append(await peer.reader.read(65536))
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 2\r\n\r\n{}")  # fmt: skip

    async with wire_server(handler) as srv:
        t = Transport(
            base_url=srv.base_url, api_key="sk-x", headers=None, timeouts=TIMEOUTS,
            max_connections=None,
        )  # fmt: skip
        bid = "b1 HTTP/1.1\r\nX-Injected: 1\r\n\r\nDELETE /v1/files/f1"
        try:
            deadlines = Deadlines.start(t.timeouts, asyncio.get_running_loop().time())
            resp = await t.request("GET", f"/batches/{bid}", deadlines=deadlines)
            resp.close()
        finally:
            await t.aclose()
    assert not any(b"\r\nX-Injected" in s or b"\nDELETE" in s for s in seen), seen
    line = seen[0].split(b"\r\n", 1)[0]
    sent = b"b1%20HTTP/1.1%0D%0AX-Injected:%201%0D%0A%0D%0ADELETE%20/v1/files/f1"
    assert line == b"GET /v1/batches/" + sent + b" HTTP/1.1"


@pytest.mark.parametrize("name", ["Content-Length", "Transfer-Encoding"])
def test_framing_headers_from_the_caller_are_refused(name: str) -> None:
    # Else the request carries two framings (the caller's and request_bytes' Content-Length).
    with pytest.raises(ConfigError):
        Client(base_url="https://api.example/v1", api_key="k", headers={name: "5"})


def test_a_header_that_cannot_be_encoded_is_a_config_error_that_does_not_carry_it() -> None:
    # Values go out UTF-8 encoded, as aiohttp sent them; a lone surrogate cannot be.
    Client(base_url="https://api.example/v1", api_key="gsk_SECRET", headers={"X-U": "名前"})
    with pytest.raises(ConfigError) as info:
        Client(base_url="https://api.example/v1", api_key="gsk_SECRET\ud800")
    assert "SECRET" not in repr(info.value) and "SECRET" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        Client(base_url="https://api.example/v1", api_key="gsk_SECRET_é")
    assert "SECRET" not in repr(info.value) and "SECRET" not in str(info.value)


async def test_an_sslcontext_is_not_used_for_an_http_base_url() -> None:
    # aiohttp used `ssl=` for https:// URLs only; a shared context with a local http server
    # now sends a ClientHello to the plain port.
    first: list[bytes] = []

    async def handler(peer: Peer) -> None:
        first.append(await peer.reader.read(5))

    async with wire_server(handler) as srv:
        async with Client(
            base_url=srv.base_url, verify=ssl.create_default_context(), max_retries=0,
            timeout=TIMEOUTS,
        ) as c:  # fmt: skip
            with pytest.raises(APIConnectionError):
                await c.complete(model=MODEL, prompt="x")
    assert first and not first[0].startswith(b"\x16\x03"), first


# --- responses -------------------------------------------------------------------------------


def test_a_multi_member_gzip_body_is_read_whole() -> None:
    body = gzip.compress(b'{"a":') + gzip.compress(b"1}")
    parsed = parse_head(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    assert parsed is not None
    reader = body_for(parsed[0])
    assert reader.feed(body) == b'{"a":1}'


def test_a_line_that_is_not_a_field_is_refused_even_beside_a_bare_lf() -> None:
    # A bare LF makes one line two regex matches, which hides a non-field line from the count.
    with pytest.raises(HTTPProtocolError):
        parse_head(b"HTTP/1.1 200 OK\r\nA: b\nContent-Length: 0\r\nnot a field\r\n\r\n")


def test_both_content_length_and_chunked_do_not_keep_the_connection() -> None:
    parsed = parse_head(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
    )
    assert parsed is not None
    assert not parsed[0].keep_alive


# --- TLS sessions (9db3175) --------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["close", "429"])
async def test_a_new_connections_session_is_kept_even_if_it_is_not_reused(
    tls_files: tuple[Path, Path], answer: str
) -> None:
    # Sessions are kept in Pool.release() only: a server answering `Connection: close`, or an
    # error status (the response is closed), never lets a later connection resume.
    async def serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await r.readuntil(b"\r\n\r\n")
        if answer == "close":
            w.write(SSE_HEAD.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
            w.write(chunk(event("hi")) + chunk(END) + LAST)
        else:
            w.write(b"HTTP/1.1 429 Too Many\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\n\r\n{}")  # fmt: skip
        await w.drain()
        w.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_context(tls_files))
    port = server.sockets[0].getsockname()[1]
    try:
        async with Client(
            base_url=f"https://127.0.0.1:{port}/v1", verify=str(tls_files[0]), max_retries=0,
            timeout=TIMEOUTS,
        ) as c:  # fmt: skip
            for _ in range(2):
                with contextlib.suppress(RateLimitError):
                    await stream_text(c)
            assert len(c.transport._ssl.sessions) == 1  # type: ignore[union-attr]
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("base_url", "host"),
    [
        ("https://api.groq.com/openai/v1", "api.groq.com"),
        ("https://api.groq.com:443/openai/v1", "api.groq.com"),  # the default port: left out
        ("http://127.0.0.1:8000/v1", "127.0.0.1:8000"),
        ("http://[::1]:8000/v1", "[::1]:8000"),
        ("https://bücher.example/v1", "xn--bcher-kva.example"),  # IDNA, as yarl sent it
    ],
)
def test_the_host_header_is_what_the_server_expects(base_url: str, host: str) -> None:
    t = Transport(
        base_url=base_url, api_key=None, headers=None, timeouts=TIMEOUTS, max_connections=None
    )
    assert t._headers["Host"] == host


@pytest.mark.parametrize("base_url", ["https://a.example/v1?x=1", "https://a.example/v1#f"])
def test_a_base_url_with_a_query_or_fragment_is_refused(base_url: str) -> None:
    with pytest.raises(ConfigError, match="query or fragment"):
        Client(base_url=base_url, api_key="k")


async def test_a_path_prefix_with_a_space_is_percent_encoded() -> None:
    seen: list[bytes] = []

    async def handler(peer: Peer) -> None:
        seen.append(await peer.reader.read(65536))
        body = b'{"object":"list","data":[]}'
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%b" % (len(body), body))  # fmt: skip

    async with wire_server(handler) as srv:
        t = Transport(
            base_url=srv.base_url.replace("/v1", "/my api/v1"), api_key=None, headers=None,
            timeouts=TIMEOUTS, max_connections=None,
        )  # fmt: skip
        try:
            deadlines = Deadlines.start(t.timeouts, asyncio.get_running_loop().time())
            resp = await t.request("GET", "/models", deadlines=deadlines)
            resp.close()
        finally:
            await t.aclose()
    assert seen[0].startswith(b"GET /my%20api/v1/models HTTP/1.1\r\n")
    assert b"\r\nAccept: */*\r\n" in seen[0]


async def test_an_address_that_never_answers_costs_a_stagger_not_the_connect_timeout() -> None:
    """Happy Eyeballs: the host's second address is tried 0.25 s after the first while the
    first still hangs (a broken IPv6 route). The first here is a listening socket whose
    accept queue is full, so the kernel drops further SYNs: a connect to it hangs."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    fillers = []
    with contextlib.suppress(OSError):
        for _ in range(4):  # fill the accept queue (never accepted)
            f = socket.socket()
            f.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                f.connect(hole.getsockname())
            fillers.append(f)

    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        body = b'{"id":"c1","object":"chat.completion","created":1,"model":"m","choices":[]}'
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%b" % (len(body), body))  # fmt: skip

    try:
        async with wire_server(serving(respond)) as srv:
            pool = pool_for(srv.base_url, Pool, limit=0)
            real = srv.base_url.split("//")[1].split("/")[0].split(":")
            pool._dns = (
                float("inf"),
                [(socket.AF_INET, hole.getsockname()), (socket.AF_INET, (real[0], int(real[1])))],
            )
            try:
                with anyio.fail_after(3):  # the connect timeout is 5 s
                    conn = await pool.open()
                assert conn.transport is not None
                assert conn.transport.get_extra_info("peername")[1] == int(real[1])
                conn.close()
            finally:
                await pool.aclose()
    finally:
        for f in fillers:
            f.close()
        hole.close()


async def test_connections_opening_at_once_share_one_dns_lookup() -> None:
    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        await peer.send(SSE_HEAD + chunk(event("hi")))
        await asyncio.sleep(0.2)
        await peer.send(chunk(END) + LAST)

    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo
    lookups: list[object] = []

    async def counted(*args: Any, **kw: Any) -> Any:
        lookups.append(args[0])
        return await real(*args, **kw)

    async with wire_server(serving(respond)) as srv:
        base = srv.base_url.replace("127.0.0.1", "localhost")
        loop.getaddrinfo = counted  # type: ignore[method-assign]
        try:
            async with Client(base_url=base, max_retries=0, timeout=TIMEOUTS) as c:
                async with anyio.create_task_group() as tg:
                    for _ in range(8):
                        tg.start_soon(stream_text, c)
                assert len(c.transport.pool) == 8
        finally:
            del loop.getaddrinfo
    assert lookups == ["localhost"]
