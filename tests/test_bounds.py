"""Everything that lives as long as a Client or a fan-out is bounded by default: per-request
latency rows, loop-lag samples, TLS sessions per host; the unbounded options are opt-in and
named so, and an SLO that can no longer be answered exactly is a typed error."""

from __future__ import annotations

import ssl
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from groqstream import SLO, Client, ConfigError, FanOutOptions, GoodputUnknownError
from groqstream._tls import MAX_TLS_HOSTS, SessionCache, client_context
from groqstream.metrics import StreamMetrics, compute_metrics
from groqstream.report import MAX_REQUEST_ROWS, LatencyAccumulator, LatencySketch
from groqstream.testing import SimulatedServer

MS = 1_000_000
MODEL = "llama-3.1-8b-instant"


@dataclass
class R:
    metrics: StreamMetrics | None
    error: BaseException | None = None
    queue_wait_s: float = 0.0


def result(ttft_ms: int) -> R:
    return R(compute_metrics(0, (ttft_ms + 20) * MS, [ttft_ms * MS, (ttft_ms + 10) * MS]))


def test_per_request_rows_stop_at_their_bound_and_named_slos_stay_exact() -> None:
    named = SLO(ttft_ms=200)
    acc = LatencyAccumulator(max_request_rows=1000, slos=[named])
    for i in range(5000):
        acc.add(result(100 if i % 2 else 300))
    assert not acc.keeps_requests  # past 1,000 rows they were dropped
    assert acc.report(slo=named).good == 2500  # named up front: exact over all 5,000
    with pytest.raises(GoodputUnknownError, match="of 5,000 requests only the first 1,000") as info:
        acc.report(slo=SLO(ttft_ms=250))  # named later: refused, not answered from 1,000
    assert "unbounded_request_rows=True" in str(info.value)
    assert isinstance(info.value, ConfigError)


def test_within_the_bound_an_slo_named_later_is_still_exact() -> None:
    acc = LatencyAccumulator(max_request_rows=1000)
    for i in range(1000):
        acc.add(result(100 if i % 4 else 300))
    assert acc.keeps_requests
    assert acc.report(slo=SLO(ttft_ms=200)).good == 750


def test_unbounded_rows_are_opt_in_and_keep_everything() -> None:
    acc = LatencyAccumulator(max_request_rows=10, unbounded_request_rows=True)
    for i in range(500):
        acc.add(result(100 if i % 2 else 300))
    assert acc.keeps_requests and acc.max_request_rows is None
    assert acc.report(slo=SLO(ttft_ms=200)).good == 250


def test_the_default_bound_holds_memory_flat() -> None:
    acc = LatencyAccumulator()
    m = result(100).metrics
    assert m is not None
    for _ in range(MAX_REQUEST_ROWS):
        acc._add_metrics(m)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(200_000):
            acc._add_metrics(m)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert not acc.keeps_requests
    assert grown < 200_000  # 200k more requests kept no row (rows alone: 4.8 MB)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "10"])
def test_a_bad_row_bound_is_refused(bad: object) -> None:
    with pytest.raises(ConfigError, match="max_request_rows"):
        LatencyAccumulator(max_request_rows=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [SLO(ttft_ms=1), ["ttft:100"], (1,)])
def test_bad_slos_are_refused(bad: object) -> None:
    with pytest.raises(ConfigError, match="slos"):
        FanOutOptions(slos=bad)  # type: ignore[arg-type]


async def test_fan_out_counts_goodput_for_slos_named_up_front() -> None:
    named = SLO(ttft_ms=60_000)
    async with (
        SimulatedServer(ttft=0.001, tokens_per_second=5000, output_tokens=3) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        fan = client.fan_out(
            [f"p{i}" for i in range(30)], model=MODEL, slos=[named], max_request_rows=10
        )
        results = await fan.collect()
        assert all(r.ok for r in results)
        assert fan.report(named).good == 30
        with pytest.raises(GoodputUnknownError):
            fan.report(SLO(e2el_ms=60_000))


def test_loop_lag_samples_are_sketched_not_listed() -> None:
    lags = LatencySketch()
    for i in range(10_000):
        lags.add(0.001 if i % 100 else 0.05)
    acc = LatencyAccumulator()
    rep = acc.report(loop_lags=lags)
    assert rep.loop_lag_max_s == pytest.approx(0.05)
    assert rep.loop_lag_p99_s is not None and rep.loop_lag_p99_s <= 0.05
    empty = acc.report(loop_lags=LatencySketch())
    assert empty.loop_lag_max_s is None and empty.loop_lag_p99_s is None


class _FakeSession:
    has_ticket = True
    id = b"x"


class _FakeTLS:
    def __init__(self, host: str) -> None:
        self.server_hostname = host
        self.session = _FakeSession()

    def version(self) -> str:
        return "TLSv1.3"


def test_tls_sessions_are_kept_for_a_bounded_number_of_hosts() -> None:
    cache = SessionCache()
    for i in range(MAX_TLS_HOSTS * 3):
        assert cache.keep(_FakeTLS(f"host{i}.example"))
    assert len(cache) == MAX_TLS_HOSTS
    assert cache.get("host0.example") is None  # the oldest went first
    assert cache.get(f"host{MAX_TLS_HOSTS * 3 - 1}.example") is not None
    no_ticket = _FakeTLS("h")
    no_ticket.session.has_ticket = False
    assert not cache.keep(no_ticket)  # a TLS 1.3 session without its ticket cannot resume


def test_one_resuming_context_per_setting_per_process() -> None:
    ctx = client_context(True)
    assert client_context(True) is ctx and isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    off = client_context(False)
    assert off.verify_mode == ssl.CERT_NONE and not off.check_hostname


async def test_progress_ttft_looks_at_the_last_500_results_only() -> None:
    """A fan-out's progress line keeps the last 500 TTFTs, not one per request of its life:
    after 500 slow requests and 500 fast ones, its median is the fast ones' (with every
    TTFT kept it would sit between the two)."""
    async with (
        SimulatedServer(ttft=0.1, tokens_per_second=5000.0, output_tokens=2) as srv,
        Client(base_url=srv.base_url) as client,
    ):

        def prompts() -> Iterator[str]:
            for i in range(1000):
                if i == 500:
                    srv.ttft = 0.002  # from here on, the server answers fast
                yield f"p{i}"

        async with client.fan_out(prompts(), concurrency=50, model=MODEL, max_tokens=2) as run:
            done = [r async for r in run]
        assert len(done) == 1000 and all(r.ok for r in done)
        p50 = run.progress.p50_ttft_s
        assert p50 is not None and p50 < 0.03  # the slow half is out of the window (kept: ~0.05)
