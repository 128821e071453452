"""Ways a consumer stops a stream early, shared by the hook tests and the OpenTelemetry tests."""

from __future__ import annotations

import asyncio

import pytest

from groqstream import Client
from groqstream.testing import SimulatedServer


def slow_server() -> SimulatedServer:
    """A server slow enough that a consumer can stop a stream in the middle."""
    return SimulatedServer(ttft=0.01, tokens_per_second=200.0, output_tokens=60)


async def cancel_mid_stream(client: Client, model: str) -> None:
    """Read a stream in a task and cancel the task once a delta arrived."""
    got_one = asyncio.Event()

    async def read() -> None:
        async with client.stream(model=model, prompt="hi") as s:
            async for _ in s:
                got_one.set()

    task = asyncio.create_task(read())
    await got_one.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
