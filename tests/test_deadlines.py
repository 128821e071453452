"""Deadlines: absolute instants per attempt, each armed with the error kind it raises.

The pure part is checked with plain numbers; the kinds are checked over loopback against
faults that stall each stage (the elapsed-time bounds are loose: a busy machine only makes
the client later, never earlier)."""

from __future__ import annotations

import math

import pytest

from groqstream import (
    Client,
    FirstByteTimeout,
    IdleTimeout,
    Timeouts,
    TotalTimeout,
)
from groqstream._transport import Deadlines
from groqstream.models import KIMI_K2_INSTRUCT
from groqstream.testing import Fault, SimulatedServer

MODEL = KIMI_K2_INSTRUCT


def test_deadlines_are_instants_from_the_attempt_start() -> None:
    d = Deadlines.start(Timeouts(first_byte=2, idle=3, total=10), 100.0)
    assert (d.first_byte, d.total, d.idle) == (102.0, 110.0, 3)
    assert d.first() == (102.0, FirstByteTimeout)


def test_the_earlier_deadline_names_the_error() -> None:
    d = Deadlines.start(Timeouts(first_byte=20, total=5), 0.0)
    assert d.first() == (5.0, TotalTimeout)
    d = Deadlines.start(Timeouts(first_byte=None, total=None, idle=None), 0.0)
    assert d.first() == (math.inf, TotalTimeout)
    assert d.idle is None


def test_a_non_streaming_reply_is_bounded_by_total_only() -> None:
    d = Deadlines.start(Timeouts(first_byte=1, total=30), 0.0, stream=False)
    assert d.first() == (30.0, TotalTimeout)


async def stream_all(server: SimulatedServer, t: Timeouts, retries: int = 0) -> str:
    async with Client(base_url=server.base_url, timeout=t, max_retries=retries) as c:
        async with c.stream(model=MODEL, prompt="x") as s:
            await s.until_done()
    return s.text


async def test_slow_headers_are_a_first_byte_timeout(server: SimulatedServer) -> None:
    server.faults.append(Fault.delay_headers(3.0))
    with pytest.raises(FirstByteTimeout):
        await stream_all(server, Timeouts(first_byte=0.2, idle=0.05, total=30))


async def test_slow_headers_past_a_shorter_total_are_a_total_timeout(
    server: SimulatedServer,
) -> None:
    server.faults.append(Fault.delay_headers(3.0))
    with pytest.raises(TotalTimeout):
        await stream_all(server, Timeouts(first_byte=5, total=0.2), retries=2)
    assert server.stats.requests_total == 1  # a total timeout is never retried


async def test_before_the_first_token_idle_does_not_apply(server: SimulatedServer) -> None:
    """A first token 0.4 s after the headers is fine with idle=0.1 and first_byte=5; only
    first_byte bounds the wait for the first token."""
    server.faults.append(Fault.stall(after_chunks=0, seconds=0.4))
    text = await stream_all(server, Timeouts(first_byte=5, idle=0.1, total=30))
    assert text


async def test_a_stalled_first_token_is_a_first_byte_timeout_and_retried(
    server: SimulatedServer,
) -> None:
    server.faults.append(Fault.stall(after_chunks=0, seconds=3.0))
    text = await stream_all(server, Timeouts(first_byte=0.3, idle=0.1, total=30), retries=1)
    assert text  # the retry had no fault
    assert server.stats.requests_total == 2


async def test_a_stall_after_tokens_is_an_idle_timeout_with_the_text_kept(
    server: SimulatedServer,
) -> None:
    server.faults.append(Fault.stall(after_chunks=3, seconds=3.0))
    with pytest.raises(IdleTimeout) as info:
        await stream_all(server, Timeouts(first_byte=5, idle=0.2, total=30), retries=2)
    assert info.value.partial_text
    assert server.stats.requests_total == 1  # tokens had reached the user: not retried


async def test_total_bounds_a_stream_that_keeps_going(server: SimulatedServer) -> None:
    server.faults.append(Fault.stall(after_chunks=3, seconds=3.0, ping_interval=0.02))
    with pytest.raises(TotalTimeout):
        await stream_all(server, Timeouts(first_byte=5, idle=5, total=0.5), retries=2)
    assert server.stats.requests_total == 1
