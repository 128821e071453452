"""The stream's reads against a real socket, over plain HTTP and over groqstream's own TLS
layer: large fast streams (bulk reads that start and end mid-chunk, flow control pausing and
resuming the socket), paced ones (one chunk per read), a cut mid-stream, and the socket read
size."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from groqstream import Client, StreamInterrupted
from groqstream._pool import READ_SIZE
from groqstream.models import DEFAULT_MODEL, KIMI_K2_INSTRUCT
from groqstream.testing import Fault, SimulatedServer
from tls_certs import server_context


@pytest.fixture(params=["http", "https"])
def scheme(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def serving(scheme: str, tls_files: tuple[Path, Path]) -> Any:
    """Make a `SimulatedServer` and the `verify=` its clients need, for the scheme."""

    def make(**kw: Any) -> tuple[SimulatedServer, bool | str]:
        if scheme == "http":
            return SimulatedServer(**kw), True
        ctx = server_context(tls_files)
        return SimulatedServer(ssl_context=ctx, **kw), str(tls_files[0])

    return make


async def deltas_of(client: Client, model: str, prompt: str) -> AsyncIterator[str]:
    async with client.stream(model=model, prompt=prompt) as s:
        async for d in s:
            if d.content:
                yield d.content


async def test_large_fast_streams_keep_pooling_and_flow_control_right(serving: Any) -> None:
    """20,000 chunks as fast as the server can send, three times: whole text, one connection,
    no stall (the reader pauses the socket past its high-water mark and resumes it)."""
    server, verify = serving(ttft=0, tokens_per_second=0, output_tokens=20_000)
    async with server, Client(base_url=server.base_url, verify=verify) as client:
        for _ in range(3):
            n = 0
            text = []
            async for piece in deltas_of(client, KIMI_K2_INSTRUCT, "big"):
                n += 1
                text.append(piece)
            assert n == 20_000
            assert len("".join(text).split()) == 20_000
        assert server.stats.connections_total == 1


async def test_paced_stream_and_a_cut_are_read_the_same(serving: Any) -> None:
    server, verify = serving(ttft=0.001, tokens_per_second=4000, output_tokens=40)
    async with server, Client(base_url=server.base_url, verify=verify, max_retries=0) as client:
        async with client.stream(model=DEFAULT_MODEL, prompt="paced") as s:
            deltas = [d async for d in s]
        assert s.finished
        assert "".join(d.content for d in deltas) == s.text
        assert len(s.text.split()) == 40
        server.faults.append(Fault.cut(after_chunks=25))
        with pytest.raises(StreamInterrupted) as info:
            async with client.stream(model=DEFAULT_MODEL, prompt="cut") as s2:
                async for _ in s2:
                    pass
        assert info.value.partial_text
        assert len(info.value.partial_text.split()) < 40
        await server.wait_idle()


async def test_socket_reads_are_sized_to_stay_off_mmap() -> None:
    """asyncio's 256 KiB read buffer is mapped and unmapped on every read; plain-HTTP
    connections ask for 64 KiB (on asyncio's selector transports, the ones with a
    `max_size`). The reply lasts 0.5 s, so the response is still open when `start()`
    returns even on a loaded machine."""
    async with SimulatedServer(ttft=0.001, tokens_per_second=100, output_tokens=50) as server:
        async with Client(base_url=server.base_url) as client:
            async with client.stream(model=DEFAULT_MODEL, prompt="size") as s:
                resp = s._resp
                assert resp is not None
                transport = resp._conn.transport
                assert transport is not None
                if hasattr(type(transport), "max_size"):
                    assert transport.max_size == READ_SIZE  # type: ignore[attr-defined]
                await s.until_done()
            assert s.finished


async def test_the_tls_layer_is_groqstreams_own_and_verifies(tls_files: tuple[Path, Path]) -> None:
    """Over https the connection runs TLS itself (an `ssl.SSLObject` on memory buffers, not
    asyncio's TLS transport), verifies the server's certificate and name, and speaks TLS 1.2+
    with the ALPN protocol http/1.1."""
    ctx = server_context(tls_files)
    ctx.set_alpn_protocols(["http/1.1"])
    async with SimulatedServer(ttft=0.001, output_tokens=4, ssl_context=ctx) as server:
        async with Client(base_url=server.base_url, verify=str(tls_files[0])) as client:
            async with client.stream(model=DEFAULT_MODEL, prompt="tls") as s:
                resp = s._resp
                assert resp is not None
                tls = resp.ssl_object
                assert isinstance(tls, ssl.SSLObject)
                assert tls.server_hostname == "127.0.0.1"
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
                assert tls.selected_alpn_protocol() == "http/1.1"
                assert tls.getpeercert()  # verified, so the certificate is known
                await s.until_done()
            assert s.text
