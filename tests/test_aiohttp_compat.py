"""Both ways of reading "all bytes available now" from aiohttp, against a real socket.

The fast branch drains aiohttp's private buffer in one join; the public branch uses
`readany()`. Every test here runs through both, so neither can rot unnoticed.
"""

from __future__ import annotations

import aiohttp
import pytest

from groqstream import Client, StreamInterrupted
from groqstream import _aiohttp_compat as compat
from groqstream import stream as stream_module
from groqstream.models import DEFAULT_MODEL, KIMI_K2_INSTRUCT
from groqstream.testing import Fault, SimulatedServer


@pytest.fixture(params=["fast", "public"])
def branch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "public":
        monkeypatch.setattr(stream_module, "read_available", compat.read_available_public)
    else:
        assert compat.FAST, "the fast drain is off for this aiohttp: check CHECKED"
        monkeypatch.setattr(stream_module, "read_available", compat._read_fast)
    return str(request.param)


def test_the_installed_aiohttp_is_one_the_fast_branch_was_checked_against() -> None:
    """If aiohttp's internals change shape (or a release outside CHECKED is installed), the
    stream silently uses the public branch: this makes that visible."""
    assert compat.CHECKED[0] <= compat._version() <= compat.CHECKED[1], aiohttp.__version__
    assert compat.FAST
    assert compat.read_available is compat._read_fast


async def test_large_fast_streams_keep_pooling_and_flow_control_right(branch: str) -> None:
    """20,000 chunks as fast as the server can send, three times: whole text, one connection,
    no stall (flow control resumes reading)."""
    async with SimulatedServer(ttft=0, tokens_per_second=0, output_tokens=20_000) as server:
        async with Client(base_url=server.base_url) as client:
            for _ in range(3):
                async with client.stream(model=KIMI_K2_INSTRUCT, prompt="big") as s:
                    n = sum(1 for _ in [d async for d in s if d.content])
                assert n == 20_000
                assert len(s.text.split()) == 20_000
            assert server.stats.connections_total == 1


async def test_paced_stream_and_a_cut_are_read_the_same(branch: str) -> None:
    async with SimulatedServer(ttft=0.001, tokens_per_second=4000, output_tokens=40) as server:
        async with Client(base_url=server.base_url, max_retries=0) as client:
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
            await server.wait_idle()


async def test_socket_reads_are_sized_to_stay_off_mmap() -> None:
    """asyncio's 256 KiB read buffer is mapped and unmapped on every read; streams ask for
    64 KiB (on asyncio's selector transports, the ones with a `max_size`).

    The reply lasts 0.5 s, so the response is still open when `start()` returns even on a loaded
    machine (a reply short enough to arrive in the first read would already be released)."""
    async with SimulatedServer(ttft=0.001, tokens_per_second=100, output_tokens=50) as server:
        async with Client(base_url=server.base_url) as client:
            async with client.stream(model=DEFAULT_MODEL, prompt="size") as s:
                resp = s._resp
                assert resp is not None
                assert resp.connection is not None
                transport = resp.connection.transport
                assert transport is not None
                if hasattr(type(transport), "max_size"):
                    assert transport.max_size == compat.READ_SIZE  # type: ignore[attr-defined]
                await s.until_done()
            assert s.finished
