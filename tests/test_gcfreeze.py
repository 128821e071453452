"""The first client freezes the start-up state once per process, unless told not to."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

PROGRAM = textwrap.dedent(
    """
    import asyncio, gc
    calls = []
    real_freeze = gc.freeze
    gc.freeze = lambda: (calls.append(1), real_freeze())[1]
    import groqstream
    from groqstream._gcfreeze import frozen_by_groqstream
    from groqstream.testing import SimulatedServer

    async def main() -> None:
        assert gc.get_freeze_count() == 0 and not frozen_by_groqstream()
        async with SimulatedServer(ttft=0.001, tokens_per_second=5000.0) as srv:
            async with groqstream.Client(base_url=srv.base_url) as c:
                async with c.stream(prompt="hi", max_tokens=4) as s:
                    await s.until_done()
                first = gc.get_freeze_count()
                async with groqstream.Client(base_url=srv.base_url) as c2:
                    async with c2.stream(prompt="hi", max_tokens=4) as s:
                        await s.until_done()
        print(first, len(calls), frozen_by_groqstream())

    asyncio.run(main())
    """
)


def _run(env_value: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "GROQSTREAM_GC_FREEZE"}
    if env_value is not None:
        env["GROQSTREAM_GC_FREEZE"] = env_value
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_the_first_client_freezes_start_up_state_once() -> None:
    frozen, calls, flag = _run(None)
    assert int(frozen) > 10_000  # aiohttp, anyio, the standard library: all out of the walk
    assert calls == "1"  # the second client froze nothing more
    assert flag == "True"


@pytest.mark.parametrize("value", ["0", "false"])
def test_opting_out_leaves_the_collector_alone(value: str) -> None:
    frozen, calls, flag = _run(value)
    assert (frozen, calls, flag) == ("0", "0", "False")


async def test_the_library_never_replaces_the_users_event_loop() -> None:
    """uvloop is for the CLI and bench runners: a library user's loop stays theirs."""
    import asyncio

    import groqstream
    from groqstream.testing import SimulatedServer

    loop = asyncio.get_running_loop()
    policy = asyncio.get_event_loop_policy()
    async with SimulatedServer(ttft=0.001, tokens_per_second=5000.0) as srv:
        async with groqstream.Client(base_url=srv.base_url) as c:
            async with c.stream(prompt="hi", max_tokens=2) as s:
                await s.until_done()
    assert asyncio.get_running_loop() is loop
    assert asyncio.get_event_loop_policy() is policy
    assert type(policy).__module__.startswith("asyncio")
