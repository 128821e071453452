"""`gc.freeze()` only when the process asks: never by default in a library user's process,
once on the first client with GROQSTREAM_GC_FREEZE=1, once per call to
`freeze_startup_state()`, and in the CLI unless GROQSTREAM_GC_FREEZE=0."""

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


@pytest.mark.parametrize("value", [None, "0", "False", "junk"])
def test_a_library_user_s_collector_is_left_alone_by_default(value: str | None) -> None:
    frozen, calls, flag = _run(value)
    assert (frozen, calls, flag) == ("0", "0", "False")


@pytest.mark.parametrize("value", ["1", "TRUE", "yes"])
def test_opting_in_freezes_start_up_state_once_on_the_first_client(value: str) -> None:
    frozen, calls, flag = _run(value)
    assert int(frozen) > 10_000  # aiohttp, anyio, the standard library: all out of the walk
    assert calls == "1"  # the second client froze nothing more
    assert flag == "True"


def test_a_service_freezes_when_its_start_up_is_done() -> None:
    code = (
        "import gc, groqstream\n"
        "assert groqstream.freeze_startup_state() is True\n"
        "assert groqstream.freeze_startup_state() is False\n"  # once per process
        "print(gc.get_freeze_count())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "GROQSTREAM_GC_FREEZE"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 10_000


def test_the_command_line_freezes_after_its_imports_unless_told_not_to() -> None:
    code = (
        "import gc, sys\n"
        "from groqstream.cli.main import main\n"
        "rc = main(['demo', '--tps', '5000', '--ttft', '0.001', '--output-tokens', '4'])\n"
        "print(rc, gc.get_freeze_count() > 10_000)\n"
    )
    for value, frozen in ((None, "True"), ("0", "False")):
        env = {k: v for k, v in os.environ.items() if k != "GROQSTREAM_GC_FREEZE"}
        if value is not None:
            env["GROQSTREAM_GC_FREEZE"] = value
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.split()[-2:] == ["0", frozen]


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
