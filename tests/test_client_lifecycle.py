"""A `Client` made outside `async with` (module level, a FastAPI lifespan, a class attribute):
its pool opens on first use, in that use's event loop; `aclose()` closes it; a client dropped
with its pool open warns like aiohttp's session; a second event loop gets a typed error."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from groqstream import Client, ConfigError, WrongEventLoopError
from groqstream.models import KIMI_K2_INSTRUCT
from groqstream.testing import SimulatedServer

MODEL = KIMI_K2_INSTRUCT


async def test_a_client_outside_async_with_opens_its_pool_at_first_use(
    server: SimulatedServer,
) -> None:
    c = Client(base_url=server.base_url)
    assert not c.transport.is_open  # nothing opened by the constructor
    try:
        async with c.stream(model=MODEL, prompt="one", max_tokens=4) as s:
            await s.until_done()
        assert s.text
        assert c.transport.is_open
        done = await c.complete(model=MODEL, prompt="two", max_tokens=4)
        assert done.text
        assert server.stats.connections_total == 1  # one pool: the connection was reused
        results = await c.fan_out(["three", "four"], model=MODEL, max_tokens=4).collect()
        assert [r.ok for r in results] == [True, True]
        assert server.stats.requests_total == 4
    finally:
        await c.aclose()
    assert not c.transport.is_open
    with pytest.raises(ConfigError, match="closed"):
        await c.complete(model=MODEL, prompt="x")


async def test_async_with_still_works_after_a_lazy_first_use(server: SimulatedServer) -> None:
    c = Client(base_url=server.base_url)
    await c.complete(model=MODEL, prompt="lazy", max_tokens=4)
    async with c:
        await c.complete(model=MODEL, prompt="inside", max_tokens=4)
    assert not c.transport.is_open
    assert server.stats.requests_total == 2


async def test_a_client_dropped_with_its_pool_open_warns(server: SimulatedServer) -> None:
    clients = [Client(base_url=server.base_url)]
    await clients[0].complete(model=MODEL, prompt="x", max_tokens=4)
    pool = clients[0].transport.pool  # kept, so only the Client is collected here
    with pytest.warns(ResourceWarning, match="unclosed Client"):
        clients.clear()  # the last reference: collected (and warning) right here
    await pool.aclose()


async def test_a_client_never_used_or_closed_does_not_warn(server: SimulatedServer) -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        c = Client(base_url=server.base_url)
        del c
        gc.collect()
        c2 = Client(base_url=server.base_url)
        await c2.complete(model=MODEL, prompt="x", max_tokens=4)
        await c2.aclose()
        del c2
        gc.collect()
    assert [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)] == []


async def test_a_client_used_from_a_second_event_loop_says_so(server: SimulatedServer) -> None:
    c = Client(base_url=server.base_url)
    await c.complete(model=MODEL, prompt="first loop", max_tokens=4)

    async def from_another_loop() -> None:
        await c.complete(model=MODEL, prompt="second loop", max_tokens=4)

    with pytest.raises(WrongEventLoopError, match="another event loop"):
        await asyncio.to_thread(asyncio.run, from_another_loop())
    assert server.stats.requests_total == 1
    await c.aclose()  # the first loop can still close it


MODULE_LEVEL = textwrap.dedent(
    """
    import asyncio
    import groqstream

    client = groqstream.Client()  # module level: no event loop runs yet

    async def main() -> None:
        kimi = "moonshotai/kimi-k2-instruct"
        async with client.stream(model=kimi, prompt="hi", max_tokens=5) as s:
            async for delta in s:
                pass
        print("TEXT", repr(s.text))
        await client.aclose()

    asyncio.run(main())
    """
)


async def test_a_module_level_client_streams_once_in_python_c(
    server: SimulatedServer, tmp_path: Path
) -> None:
    env = {**os.environ, "GROQSTREAM_BASE_URL": server.base_url, "GROQSTREAM_API_KEY": "test"}
    cmd = [sys.executable, "-W", "error::ResourceWarning", "-c", MODULE_LEVEL]
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    assert out.decode().startswith("TEXT '") and out.decode().strip() != "TEXT ''"
    assert b"Warning" not in err
    assert server.stats.requests_total == 1
