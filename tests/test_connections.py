"""Nothing leaked: abandoned, broken-off and cancelled streams close their connections."""

from __future__ import annotations

import asyncio
import contextlib

import anyio

from groqstream import Client
from groqstream.models import KIMI_K2_INSTRUCT as KIMI
from groqstream.testing import SimulatedServer


async def test_two_hundred_abandoned_streams_leave_no_connection_open() -> None:
    # 20 tokens/s: even a busy machine notices a hang-up long before ten more tokens are due
    async with SimulatedServer(ttft=0.001, tokens_per_second=20.0, output_tokens=500) as server:
        async with Client(base_url=server.base_url) as client:
            for i in range(200):
                async with client.stream(model=KIMI, prompt=f"abandon {i}") as s:
                    async for _ in s:
                        break  # walk away after the first delta
            await server.wait_idle(timeout=5.0)
            assert server.stats.connections_open == 0
            assert server.stats.streams_active == 0
            assert server.stats.streams_cancelled == 200
            # the server stopped generating: far fewer tokens than 200 × 500 were sent
            assert server.stats.tokens_sent < 200 * 10


async def test_leaving_the_block_mid_stream_closes_at_once() -> None:
    async with SimulatedServer(ttft=0.001, tokens_per_second=100.0, output_tokens=1000) as server:
        async with Client(base_url=server.base_url) as client:
            async with client.stream(model=KIMI, prompt="long") as s:
                n = 0
                async for _ in s:
                    n += 1
                    if n == 3:
                        break
            with anyio.fail_after(2):
                await server.wait_idle()
            assert server.requests[-1].outcome == "client_disconnected"


async def test_cancelled_consumer_closes_the_connection() -> None:
    async with SimulatedServer(ttft=0.001, tokens_per_second=50.0, output_tokens=1000) as server:
        async with Client(base_url=server.base_url) as client:
            got = []

            async def consume() -> None:
                async with client.stream(model=KIMI, prompt="cancel me") as s:
                    async for d in s:
                        got.append(d)

            task = asyncio.create_task(consume())
            with anyio.fail_after(30):  # cancel mid-stream, however slowly it got going
                while len(got) < 2:
                    await asyncio.sleep(0.005)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            assert got  # it was mid-stream
            await server.wait_idle(timeout=2.0)
            assert server.stats.streams_cancelled == 1


async def test_cancel_scope_timeout_around_iteration_without_context_manager() -> None:
    """Iterating a stream without `async with` still closes it when cancelled."""
    async with SimulatedServer(ttft=0.001, tokens_per_second=50.0, output_tokens=1000) as server:
        async with Client(base_url=server.base_url) as client:
            with anyio.move_on_after(0.2):
                async for _ in client.stream(model=KIMI, prompt="no with"):
                    pass
            await server.wait_idle(timeout=2.0)
            assert server.stats.connections_open == 0


async def test_cancel_during_retry_backoff() -> None:
    from groqstream.testing import Fault

    async with SimulatedServer() as server:
        server.faults.append(Fault.status(503, retry_after=30))
        async with Client(base_url=server.base_url) as client:
            with anyio.move_on_after(0.3) as scope:
                async with client.stream(model=KIMI, prompt="x") as s:
                    await s.until_done()
            assert scope.cancelled_caught
        await server.wait_idle(timeout=2.0)
