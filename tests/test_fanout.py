"""fan_out against the simulated server: bounds, order, isolation, rate limits, cancellation."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

from groqstream import Client, FanOut, LatencyReport, Progress, RateLimitError, Result
from groqstream.models import GPT_OSS_120B
from groqstream.models import KIMI_K2_INSTRUCT as KIMI
from groqstream.ratelimit import RateLimitGate
from groqstream.report import SLO
from groqstream.testing import Fault, SimulatedServer


async def run_wide(srv: SimulatedServer, fan: FanOut, width: int) -> list[Result]:
    """Collect `fan` while the server holds the first requests: wait until `width` are in
    flight (however slowly a busy machine gets there), check no more arrive, release them."""
    results: list[Result] = []

    async def collect() -> None:
        results.extend(await fan.collect())

    srv.hold()
    async with anyio.create_task_group() as tg:
        tg.start_soon(collect)
        with anyio.fail_after(60):
            while srv.stats.requests_held < width:
                await anyio.sleep(0.01)
        await anyio.sleep(0.1)
        assert srv.stats.requests_total == width  # the bound: nobody else got in
        srv.release()
    return results


async def test_two_thousand_requests_at_concurrency_200_all_present_in_order() -> None:
    async with (
        SimulatedServer(ttft=0.05, tokens_per_second=2000, output_tokens=8) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        prompts = [f"prompt {i}" for i in range(2000)]
        fan = client.fan_out(prompts, concurrency=200, model=KIMI, max_tokens=8)
        results = await run_wide(srv, fan, 200)  # it really runs 200 wide, and no wider
        assert [r.index for r in results] == list(range(2000))
        assert all(r.ok and r.text for r in results)
        assert [r.request["messages"][-1]["content"] for r in results] == prompts
        # run_wide saw all 200 in flight at once (and nobody else): never wider after that.
        # (Not "== 200": on a loaded box the first released stream may end before the
        # server has woken the 200th.)
        assert srv.stats.streams_peak <= 200
        assert srv.stats.requests_total == 2000
        report = fan.report()
        assert report.completed == 2000 and report.failed == 0
        assert report.ttft.count == 2000 and report.request_throughput > 0


async def test_results_arrive_as_they_complete() -> None:
    async with (
        SimulatedServer(ttft=0.001, tokens_per_second=2000) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        # the long one takes 0.5 s of paced sends; the short ones a few ms
        reqs = [{"messages": [{"role": "user", "content": "slow"}], "max_tokens": 1000}] + [
            {"messages": [{"role": "user", "content": f"q{i}"}], "max_tokens": 2} for i in range(5)
        ]
        order = [r.index async for r in client.fan_out(reqs, concurrency=6, model=KIMI)]
    assert order[-1] == 0  # the long one finished last


async def test_concurrency_bound_is_never_exceeded() -> None:
    async with (
        SimulatedServer(ttft=0.02, tokens_per_second=500, output_tokens=10) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        fan = client.fan_out((f"p{i}" for i in range(100)), concurrency=7, model=KIMI)
        results = await run_wide(srv, fan, 7)
    assert len(results) == 100
    assert srv.stats.streams_peak == 7


async def test_request_dict_fields_win_over_defaults() -> None:
    async with (
        SimulatedServer(ttft=0, tokens_per_second=0) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        reqs: list[str | dict[str, Any]] = [
            "plain",
            {"prompt": "own model", "model": GPT_OSS_120B, "temperature": 0.9},
            {"messages": [{"role": "system", "content": "own"}, {"role": "user", "content": "x"}]},
        ]
        res = await client.fan_out(
            reqs, model=KIMI, system="default system", temperature=0.1
        ).collect()
    b0, b1, b2 = (r.request for r in res)
    assert b0["model"] == KIMI and b0["temperature"] == 0.1
    assert b0["messages"][0] == {"role": "system", "content": "default system"}
    assert b1["model"] == GPT_OSS_120B and b1["temperature"] == 0.9
    assert b2["messages"][0] == {"role": "system", "content": "own"} and len(b2["messages"]) == 2


async def test_async_iterable_input() -> None:
    async def gen() -> AsyncIterator[str]:
        for i in range(30):
            await asyncio.sleep(0)
            yield f"a{i}"

    async with (
        SimulatedServer(ttft=0, tokens_per_second=0) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        res = await client.fan_out(gen(), concurrency=5, model=KIMI).collect()
    assert [r.index for r in res] == list(range(30))


async def test_input_is_consumed_lazily_and_breaking_out_leaks_nothing() -> None:
    pulled = 0

    def infinite() -> Iterator[str]:
        nonlocal pulled
        for i in itertools.count():
            pulled += 1
            yield f"p{i}"

    async with SimulatedServer(ttft=0.001, tokens_per_second=2000, output_tokens=5) as srv:
        async with Client(base_url=srv.base_url) as client:
            got = 0
            async with client.fan_out(infinite(), concurrency=4, model=KIMI) as results:
                async for _ in results:
                    got += 1
                    if got == 20:
                        break
            assert pulled <= 20 + 4 + 1
        await srv.wait_idle(timeout=5)


async def test_one_failure_stays_isolated() -> None:
    async with (
        SimulatedServer(ttft=0, tokens_per_second=0) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        reqs: list[object] = [f"ok {i}" for i in range(10)]
        reqs[3] = {"prompt": "bad", "sim_fault": {"kind": "status", "status": 400}}
        reqs[7] = {"prompt": "broken", "sim_fault": {"kind": "malformed_json", "after_chunks": 2}}
        res = await client.fan_out(reqs, model=KIMI, max_retries=0).collect()  # type: ignore[arg-type]
    failed = {r.index: r.error.kind for r in res if r.error}
    assert failed == {3: "BadRequestError", 7: "MalformedChunkError"}
    assert all(r.ok for i, r in enumerate(res) if i not in (3, 7))
    report = LatencyReport.from_results(res)
    assert report.failures_by_kind == {"BadRequestError": 1, "MalformedChunkError": 1}


async def test_mid_stream_cut_is_retried_whole() -> None:
    async with (
        SimulatedServer(ttft=0, tokens_per_second=0) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        srv.faults.append(Fault.cut(after_chunks=3))
        [r] = await client.fan_out(["x"], model=KIMI).collect()
    assert r.ok and r.attempts == 2
    assert len(r.text.split()) == 48  # the whole text, not the partial one


async def test_429_with_retry_after_is_waited_out_by_the_whole_run() -> None:
    async with SimulatedServer(ttft=0.001, tokens_per_second=5000, output_tokens=4) as srv:
        async with Client(base_url=srv.base_url, max_retries=0) as client:
            start = time.perf_counter_ns()  # before the throttle starts: a true lower bound
            srv.throttle(0.6, retry_after=0.3)
            res = await client.fan_out(
                [f"p{i}" for i in range(40)], concurrency=8, model=KIMI
            ).collect()
        assert all(r.ok for r in res)  # no failed results, even with max_retries=0
        assert sum(1 for r in res if r.rate_limit_wait_s > 0) >= 1
        # after the first 429s, nobody kept hammering: within the pause, no new request
        throttled = [r for r in srv.requests if r.status == 429]
        assert len(throttled) <= 8 * 3  # a few waves of at most `concurrency`, not a storm
        ok_times = [(r.received_ns - start) / 1e9 for r in srv.requests if r.status == 200]
        assert min(ok_times) >= 0.6 - 0.001


async def test_rate_limit_wait_cap_fails_the_request() -> None:
    async with SimulatedServer() as srv, Client(base_url=srv.base_url) as client:
        srv.throttle(10, retry_after=0.2)
        [r] = await client.fan_out(["x"], model=KIMI, max_rate_limit_wait=0.5).collect()
    assert isinstance(r.error, RateLimitError)
    # it waited out the server's 0.2 s twice, then gave up rather than pass the 0.5 s cap
    assert r.rate_limit_wait_s == pytest.approx(0.4)
    assert r.attempts == 3


async def test_requests_per_minute_budget_paces_sends() -> None:
    """1,200/min = 20/s with a one-second burst of 20: the first 20 go at once, request n > 20
    no sooner than (n - 20) / 20 s after the start. Judged by the server's receive stamps:
    the lower bounds hold however busy the machine is; the burst is told by the gate's own
    answers (no wait for any of the first 16), not by a wall clock."""
    waits: list[float] = []

    class Recording(RateLimitGate):
        def reserve(self, tokens: int, now: float) -> float:
            wait = super().reserve(tokens, now)
            waits.append(wait)
            return wait

    async with (
        SimulatedServer(ttft=0, tokens_per_second=0, output_tokens=2) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        gate = Recording(requests_per_minute=1200)
        await client.fan_out(
            [f"p{i}" for i in range(16)], concurrency=16, model=KIMI, gate=gate
        ).collect()
    assert len(srv.requests) == 16 and waits == [0.0] * 16  # the burst: nobody was held back
    async with (
        SimulatedServer(ttft=0, tokens_per_second=0, output_tokens=2) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        start = time.perf_counter_ns()
        await client.fan_out(
            [f"p{i}" for i in range(40)], concurrency=40, model=KIMI, requests_per_minute=1200
        ).collect()
        sent = sorted((r.received_ns - start) / 1e9 for r in srv.requests)
    assert len(sent) == 40
    assert all(sent[n - 1] >= (n - 20) / 20 - 0.001 for n in range(21, 41))  # never faster
    assert sent[-1] < 5  # and not stalled (about 1 s: loose for a busy machine)


async def test_cancelling_the_consumer_leaves_no_open_connection() -> None:
    async with SimulatedServer(ttft=0.001, tokens_per_second=50, output_tokens=500) as srv:
        async with Client(base_url=srv.base_url) as client:

            async def consume() -> None:
                await client.fan_out(
                    [f"p{i}" for i in range(100)], concurrency=20, model=KIMI
                ).collect()

            async with anyio.create_task_group() as tg:
                tg.start_soon(consume)
                with anyio.fail_after(30):  # cancel once all 20 are streaming, however slow
                    while srv.stats.streams_active < 20:
                        await anyio.sleep(0.01)
                tg.cancel_scope.cancel()
            await srv.wait_idle(timeout=10)
            assert srv.stats.connections_open == 0
            assert srv.stats.streams_cancelled == 20


async def test_progress_callback_and_report() -> None:
    seen: list[Progress] = []
    async with (
        SimulatedServer(ttft=0.05, tokens_per_second=500, output_tokens=10) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        fan = client.fan_out(
            [f"p{i}" for i in range(60)], concurrency=10, model=KIMI, on_progress=seen.append
        )
        await fan.collect()
    assert seen[-1].finished and seen[-1].done == 60 and seen[-1].total == 60
    assert seen[-1].p50_ttft_s is not None and seen[-1].tokens_per_s > 0
    assert len(seen) >= 2
    r = fan.report(SLO(ttft_ms=1000))
    d = r.to_dict()
    assert d["completed"] == 60 and d["request_goodput"] and d["p99_ttft_ms"] > 0
    assert d["mean_queue_wait_ms"] is not None and d["loop_lag_max_ms"] is not None
    assert "| TTFT |" in r.to_markdown()


async def test_input_iterator_errors_reach_the_consumer() -> None:
    def bad() -> Iterator[str]:
        yield "a"
        raise ValueError("input broke")

    async with (
        SimulatedServer(ttft=0, tokens_per_second=0) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        with pytest.raises(ValueError, match="input broke"):
            await client.fan_out(bad(), model=KIMI).collect()
