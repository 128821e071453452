"""`Router` over real loopback sockets against two or three `SimulatedServer`s: hedging,
losers closed (as the server sees it), failover, 429 rest, breakers, and the callers that
take "anything with stream()" (fan-out, run_batch, the bench runner).

Timing is judged from the server's own stamps (`RequestRecord.received_ns`, `ended_ns`)
against the client's, with tolerances that hold on a loaded two-core box; the strict
figures are in benchmarks/router_bench.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from groqstream import (
    BadRequestError,
    Breaker,
    CapacityExceededError,
    Client,
    ConfigError,
    Endpoint,
    Hedge,
    InternalServerError,
    MissingAPIKeyError,
    NoEndpointAvailable,
    RateLimitError,
    Router,
    StreamInterrupted,
    run_batch,
)
from groqstream.bench.runner import SweepConfig, run_sweep
from groqstream.client import StreamSource
from groqstream.stream import DeltaStream
from groqstream.testing import Fault, SimulatedServer, SlowTail

MODEL = "llama-3.1-8b-instant"
LOOSE = 1.0  # seconds: far above what a healthy run takes, far below the delays it rules out


@pytest.fixture
async def fast() -> AsyncIterator[SimulatedServer]:
    async with SimulatedServer(ttft=0.005, tokens_per_second=2000.0, output_tokens=12, seed=1) as s:
        yield s


@pytest.fixture
async def other() -> AsyncIterator[SimulatedServer]:
    async with SimulatedServer(ttft=0.005, tokens_per_second=2000.0, output_tokens=12, seed=2) as s:
        yield s


def stalled(seed: int = 3) -> SimulatedServer:
    """Every request's first chunk comes 100 × 0.02 s = 2 s late."""
    return SimulatedServer(
        ttft=0.02, tokens_per_second=2000.0, output_tokens=12, seed=seed,
        slow_tail=SlowTail(1.0, 100.0),
    )  # fmt: skip


def router(*servers: SimulatedServer, **kw: object) -> Router:
    eps = [Endpoint(s.base_url, name=n) for s, n in zip(servers, "abc", strict=False)]
    return Router(eps, default_model=MODEL, **kw)  # type: ignore[arg-type]


async def direct_text(server: SimulatedServer, prompt: str) -> str:
    async with Client(base_url=server.base_url) as c, c.stream(model=MODEL, prompt=prompt) as s:
        return (await s.until_done()).text


def refused_url() -> str:
    """A loopback port nobody listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/openai/v1"


# --- hedging ---------------------------------------------------------------------------------


async def test_a_hedge_wins_over_a_slow_primary_and_the_loser_is_closed(
    fast: SimulatedServer,
) -> None:
    async with stalled() as slow, router(slow, fast, hedge=Hedge(after=0.05, max_extra=1.0)) as r:
        async with r.stream(prompt="tail") as s:
            deltas = [d async for d in s]
        assert s.endpoint == "b" and s.hedged and s.failovers == 0 and s.attempts == 2
        assert s.finished and s.text == "".join(d.content for d in deltas)
        assert s.text == await direct_text(fast, "tail")  # one endpoint's text, whole, once
        await slow.wait_idle()
        (lost,) = slow.requests
        assert lost.outcome == "client_disconnected" and lost.content_chunks_sent == 0
        first_delta = s.metrics.output_ns[0]
        assert 0 < lost.ended_ns - first_delta < LOOSE * 1e9  # closed right after the win
        # the caller's TTFT counts from its request, not from the hedge's
        assert s.metrics.ttft_s is not None and s.metrics.ttft_s >= 0.05
        assert s.stream is not None
        own = s.stream.metrics.ttft_s
        assert own is not None and s.metrics.ttft_s > own
        a, b = r.stats()
        assert (b.hedges_started, b.hedges_won, b.hedges_cancelled) == (1, 1, 0)
        assert (a.requests, a.won, b.won) == (1, 0, 1)


async def test_a_primary_that_answers_first_cancels_the_hedge(fast: SimulatedServer) -> None:
    async with (
        SimulatedServer(ttft=0.3, tokens_per_second=2000.0, output_tokens=12, seed=1) as primary,
        stalled() as slow_hedge,
        router(primary, slow_hedge, hedge=Hedge(after=0.02, max_extra=1.0)) as r,
    ):
        async with r.stream(prompt="x") as s:
            await s.until_done()
        assert s.endpoint == "a" and s.hedged
        assert s.text == await direct_text(primary, "x")
        await slow_hedge.wait_idle()
        (hedge,) = slow_hedge.requests
        assert hedge.outcome == "client_disconnected"
        assert 0 < hedge.ended_ns - s.metrics.output_ns[0] < LOOSE * 1e9
        assert r.stats()[1].hedges_cancelled == 1


async def test_no_hedge_when_the_first_delta_comes_in_time(
    fast: SimulatedServer, other: SimulatedServer
) -> None:
    async with router(fast, other, hedge=Hedge(after=1.0, max_extra=1.0)) as r:
        for i in range(5):
            async with r.stream(prompt=f"q{i}") as s:
                await s.until_done()
            assert s.endpoint == "a" and not s.hedged and s.attempts == 1
    assert other.requests == []


async def test_nothing_is_hedged_once_a_delta_reached_the_caller(
    fast: SimulatedServer, other: SimulatedServer
) -> None:
    fast.faults.append(Fault.stall(after_chunks=2, seconds=1.5))  # far past the hedge delay
    async with router(fast, other, hedge=Hedge(after=0.3, max_extra=1.0)) as r:
        async with r.stream(prompt="stall") as s:
            await s.until_done()
    assert s.endpoint == "a" and not s.hedged
    assert s.text == await direct_text(fast, "stall")
    assert other.requests == []


async def test_a_mid_stream_failure_stays_the_streams_error_with_its_partial_text(
    fast: SimulatedServer, other: SimulatedServer
) -> None:
    fast.faults.append(Fault.cut(after_chunks=3))
    async with router(fast, other, hedge=Hedge(after=0.3, max_extra=1.0)) as r:
        with pytest.raises(StreamInterrupted) as info:
            async with r.stream(prompt="cut") as s:
                async for _ in s:
                    pass
    whole = await direct_text(fast, "cut")
    assert info.value.partial_text and whole.startswith(info.value.partial_text)
    assert info.value.partial_text != whole
    assert other.requests == []


async def test_the_budget_keeps_hedges_within_max_extra(fast: SimulatedServer) -> None:
    async with (
        stalled() as slow,
        router(slow, fast, hedge=Hedge(after=0.01, max_extra=0.25, burst=1, min_delay=0.0)) as r,
    ):
        results = await r.fan_out([f"q{i}" for i in range(8)], concurrency=8).collect()
    hedged = sum(x.hedged for x in results)
    assert 1 <= hedged <= 3  # 8 requests × 0.25 + a burst of 1, though all 8 waited
    assert len(fast.requests) == hedged


async def test_adaptive_hedging_cuts_a_slow_tail(other: SimulatedServer) -> None:
    """5 % of the primary's requests are 40× slow: the p95 hedge catches them."""
    async with (
        SimulatedServer(
            ttft=0.01, tokens_per_second=5000.0, output_tokens=4, slow_tail=SlowTail(0.05, 40.0)
        ) as tail,
        router(tail, other, hedge=Hedge("p95", min_samples=10)) as r,
    ):
        results = await r.fan_out([f"q{i}" for i in range(200)], concurrency=4).collect()
    assert all(x.ok for x in results)
    hedged = [x for x in results if x.hedged]
    assert len(hedged) <= 0.05 * 200 + 2
    slow = sum(rec.ttft_factor > 1 for rec in tail.requests)
    assert slow == 10
    won_by_hedge = sum(x.endpoint == "b" for x in results)
    assert won_by_hedge >= slow // 2  # most of the tail (those after warm-up) was caught


# --- failover --------------------------------------------------------------------------------


async def test_a_498_fails_over_at_once(fast: SimulatedServer, other: SimulatedServer) -> None:
    fast.faults.append(Fault.capacity_exceeded())
    async with router(fast, other, hedge=None) as r, r.stream(prompt="flex") as s:
        await s.until_done()
    assert s.endpoint == "b" and s.failovers == 1 and not s.hedged
    (refused,), (served,) = fast.requests, other.requests
    assert s.text == await direct_text(other, "flex")
    assert refused.status == 498
    assert served.received_ns - refused.received_ns < LOOSE * 1e9  # no backoff in between


async def test_a_refused_connection_fails_over(other: SimulatedServer) -> None:
    eps = [Endpoint(refused_url(), name="down"), Endpoint(other.base_url, name="up")]
    async with Router(eps, default_model=MODEL, hedge=None) as r, r.stream(prompt="x") as s:
        await s.until_done()
    assert s.endpoint == "up" and s.failovers == 1
    assert r.stats()[0].failures == 1


async def test_a_429_rests_its_endpoint_for_the_retry_after(
    fast: SimulatedServer, other: SimulatedServer
) -> None:
    fast.faults.append(Fault.status(429, retry_after=30))
    async with router(fast, other, hedge=None) as r:
        for i in range(3):
            async with r.stream(prompt=f"q{i}") as s:
                await s.until_done()
            assert s.endpoint == "b"
        assert r.stats()[0].breaker == "closed"  # resting, not broken
    assert len(fast.requests) == 1 and len(other.requests) == 3


async def test_a_request_error_is_not_failed_over(
    fast: SimulatedServer, other: SimulatedServer
) -> None:
    fast.faults.append(Fault.status(400, message="bad"))
    async with router(fast, other) as r:
        with pytest.raises(BadRequestError):
            async with r.stream(prompt="x"):
                pass
    assert other.requests == []


async def test_failover_off_raises_the_first_error(
    fast: SimulatedServer, other: SimulatedServer
) -> None:
    fast.faults.append(Fault.capacity_exceeded())
    async with router(fast, other, failover=False, hedge=None) as r:
        with pytest.raises(CapacityExceededError):
            await r.stream(prompt="x").__aenter__()
    assert other.requests == []


async def test_when_every_endpoint_fails_the_last_error_is_raised(
    fast: SimulatedServer, other: SimulatedServer
) -> None:
    fast.faults.append(Fault.capacity_exceeded())
    other.faults.append(Fault.capacity_exceeded())
    async with router(fast, other, hedge=None) as r:
        with pytest.raises(CapacityExceededError):
            async with r.stream(prompt="x"):
                pass


async def test_complete_fails_over(fast: SimulatedServer, other: SimulatedServer) -> None:
    fast.faults.append(Fault.capacity_exceeded())
    async with router(fast, other) as r:
        done = await r.complete(prompt="hello")
    assert done.endpoint == "b" and done.failovers == 1 and done.text


# --- breakers --------------------------------------------------------------------------------


async def test_a_dead_endpoint_gets_only_breaker_probes(other: SimulatedServer) -> None:
    async with SimulatedServer(ttft=0.005) as dead:
        for _ in range(100):
            dead.faults.append(Fault.status(503))
        brk = Breaker(failures=2, cooldown=60.0)
        async with router(dead, other, hedge=None, breaker=brk) as r:
            for i in range(6):
                async with r.stream(prompt=f"q{i}") as s:
                    await s.until_done()
                assert s.endpoint == "b"
            assert len(dead.requests) == 2  # the two failures that opened it, then nothing
            assert r.stats()[0].breaker == "open"
            health = r._lanes[0].health
            assert health.breaker is not None
            health.breaker.reopen_at = 0.0  # the cool-down is over
            async with r.stream(prompt="probe") as s:
                await s.until_done()
            assert len(dead.requests) == 3  # one probe; it failed: open again
            assert s.endpoint == "b" and r.stats()[0].breaker == "open"
            for i in range(3):
                async with r.stream(prompt=f"again {i}") as s:
                    await s.until_done()
            assert len(dead.requests) == 3


async def test_a_healed_endpoint_is_closed_by_its_probe(
    fast: SimulatedServer, other: SimulatedServer
) -> None:
    fast.faults.extend([Fault.status(500), Fault.status(500)])
    async with router(fast, other, hedge=None, breaker=Breaker(failures=2, cooldown=0.0)) as r:
        for i in range(3):
            async with r.stream(prompt=f"q{i}") as s:
                await s.until_done()
        assert [x.endpoint for x in [s]] == ["a"]  # 2 failures, open, probe succeeded
        assert r.stats()[0].breaker == "closed"


async def test_every_endpoint_resting_says_when_one_comes_back(
    fast: SimulatedServer, other: SimulatedServer
) -> None:
    fast.faults.append(Fault.status(429, retry_after=30))
    other.faults.append(Fault.status(429, retry_after=20))
    async with router(fast, other, hedge=None, max_retries=0) as r:
        with pytest.raises(RateLimitError):
            async with r.stream(prompt="x"):
                pass
        with pytest.raises(NoEndpointAvailable) as info:
            async with r.stream(prompt="y"):
                pass
    assert info.value.retry_after is not None and 15 < info.value.retry_after <= 20
    assert len(fast.requests) == len(other.requests) == 1


async def test_whole_passes_are_retried_after_every_endpoint_failed(
    fast: SimulatedServer, other: SimulatedServer
) -> None:
    fast.faults.append(Fault.status(500))
    other.faults.append(Fault.status(500))
    async with router(fast, other, hedge=None, max_retries=1) as r:
        r.retry_policy = r.retry_policy.__class__(max_retries=1, initial=0.0)
        async with r.stream(prompt="x") as s:
            await s.until_done()
    assert s.endpoint == "a" and s.attempts == 3


async def test_retries_exhausted_raise_the_last_error(
    fast: SimulatedServer, other: SimulatedServer
) -> None:
    fast.faults.append(Fault.status(500))
    other.faults.append(Fault.status(500))
    async with router(fast, other, hedge=None, max_retries=0) as r:
        with pytest.raises(InternalServerError):
            async with r.stream(prompt="x"):
                pass


# --- cancellation, keys, models --------------------------------------------------------------


async def test_cancelling_while_both_attempts_wait_closes_both() -> None:
    async with (
        stalled(1) as a,
        stalled(2) as b,
        router(a, b, hedge=Hedge(after=0.01, max_extra=1.0, min_delay=0.0)) as r,
    ):
        s = r.stream(prompt="x")
        task = asyncio.get_running_loop().create_task(s.start())
        while len(a.requests) + len(b.requests) < 2 or b.stats.streams_active < 1:
            await asyncio.sleep(0.005)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await a.wait_idle()
        await b.wait_idle()
    assert [x.outcome for x in a.requests + b.requests] == ["client_disconnected"] * 2


async def test_each_endpoint_gets_its_own_model(fast: SimulatedServer) -> None:
    eps = [Endpoint(fast.base_url, model="openai/gpt-oss-20b")]
    async with Router(eps) as r:
        async with r.stream(prompt="x", model=MODEL) as s:
            await s.until_done()
        await r.complete(prompt="y")
    assert [rec.body["model"] for rec in fast.requests] == ["openai/gpt-oss-20b"] * 2


def test_keys_follow_the_clients_per_provider_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="GROQ_API_KEY"):
        Router([Endpoint("https://api.groq.com/openai/v1")])
    monkeypatch.setenv("GROQ_API_KEY", "gsk_from_env")
    r = Router([Endpoint("https://api.groq.com/openai/v1"), Endpoint("http://127.0.0.1:1/v1")])
    assert "gsk_from_env" not in repr(r) and "gsk_from_env" not in repr(r.endpoints)


@pytest.mark.parametrize(
    ("endpoints", "kwargs", "match"),
    [
        ([], {}, "non-empty"),
        (["http://127.0.0.1:1/v1", "http://127.0.0.1:1/v1"], {}, "names must differ"),
        (["http://127.0.0.1:1/v1"], {"breaker": 3}, "Breaker"),
        (["http://127.0.0.1:1/v1"], {"hedge": "soon"}, "quantile"),
        ([42], {}, "Endpoint"),
    ],
)
def test_bad_routers_are_refused(
    endpoints: list[object], kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        Router(endpoints, **kwargs)  # type: ignore[arg-type]


async def test_a_closed_router_stream_cannot_start(fast: SimulatedServer) -> None:
    async with router(fast) as r:
        s = r.stream(prompt="x")
        s.close()
        with pytest.raises(ConfigError, match="closed before it started"):
            await s.start()
    assert fast.requests == []


async def test_iterating_without_async_with_starts_the_stream(fast: SimulatedServer) -> None:
    async with router(fast) as r:
        s = r.stream(prompt="plain")
        text = "".join([d.content async for d in s])
        s.close()
    assert text == s.text == await direct_text(fast, "plain")


# --- the callers that take "anything with stream()" ---------------------------------------------


async def test_fan_out_results_say_where_they_were_served(
    fast: SimulatedServer, other: SimulatedServer
) -> None:
    fast.faults.append(Fault.capacity_exceeded())
    async with router(fast, other, hedge=None) as r:
        src: StreamSource = r
        results = await src.fan_out(["a", "b", "c"], concurrency=1).collect()
    assert [x.ok for x in results] == [True] * 3
    assert [(x.endpoint, x.failovers) for x in results] == [("b", 1), ("a", 0), ("a", 0)]
    assert all(x.metrics is not None and x.metrics.ttft_s for x in results)


async def test_run_batch_takes_a_router(
    tmp_path: Path, fast: SimulatedServer, other: SimulatedServer
) -> None:
    lines = [
        {"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
         "body": {"model": MODEL, "messages": [{"role": "user", "content": f"q{i}"}]}}
        for i in range(4)
    ]  # fmt: skip
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(orjson.dumps(x) for x in lines) + b"\n")
    fast.faults.append(Fault.capacity_exceeded())
    async with router(fast, other, hedge=None) as r:
        summary = await run_batch(src, tmp_path / "out.jsonl", client=r, concurrency=1)
    assert summary.succeeded == 4 and summary.failed == 0
    assert len(other.requests) == 1


async def test_the_bench_runner_takes_a_router(
    fast: SimulatedServer, other: SimulatedServer
) -> None:
    cfg = SweepConfig(model=MODEL, concurrency=[2], requests=6, input_tokens=8, output_tokens=4)
    async with router(fast, other) as r:
        (level,) = await run_sweep(r, cfg)
    assert len(level.results) == 6 and all(x.endpoint == "a" for x in level.results)


async def test_a_routed_stream_is_a_delta_stream(fast: SimulatedServer) -> None:
    async with router(fast) as r:
        s: DeltaStream = r.stream(prompt="x")
        async with s:
            await s.until_done()
        assert s.finished and s.usage is not None and s.finish_reason
        assert s.request_id and s.model and s.headers and s.tool_calls == []
        assert s.reasoning is None and s.endpoint == "a"


# --- the simulator's slow tail ---------------------------------------------------------------


def test_slow_tail_is_an_exact_share_in_every_block() -> None:
    tail = SlowTail(0.05, 20.0, seed=4)
    draws = [tail.draw() for _ in range(2000)]
    assert tail.slow == draws.count(20.0) == 100
    assert set(draws) == {1.0, 20.0}
    assert all(draws[i : i + 20].count(20.0) == 1 for i in range(0, 2000, 20))
    again = SlowTail(0.05, seed=4)
    assert [again.draw() for _ in range(40)] == draws[:40]  # repeatable
    never = SlowTail(0.0)
    assert all(never.draw() == 1.0 for _ in range(100))


@pytest.mark.parametrize("kwargs", [{"fraction": 1.5}, {"factor": 0.5}, {"factor": float("inf")}])
def test_slow_tail_refuses_what_cannot_be(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        SlowTail(**kwargs)  # type: ignore[arg-type]
