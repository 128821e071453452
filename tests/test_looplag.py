"""Stamps state their own error: the loop-lag bound per stream, and the TTFT split.

`LagTrace` is sans-IO (fed instants); the stream tests block a real event loop while a real
stream from the simulated server is open and check that its stated bound widens.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import pytest

from groqstream import Client, StreamMetrics
from groqstream._looplag import PERIOD_S, monitor_for
from groqstream.metrics import LAG_SUSPECT_S, LagTrace
from groqstream.report import LatencyAccumulator
from groqstream.testing import SimulatedServer

MS = 1_000_000


def test_trace_answers_the_worst_lateness_since_an_instant() -> None:
    t = LagTrace(period_ns=2 * MS)
    for at, late in [(10, 1), (20, 9), (30, 2), (40, 5), (50, 0), (60, 3)]:
        t.add(at * MS, late * MS)
    assert t.worst_since(0) == 9 * MS
    assert t.worst_since(20 * MS) == 9 * MS
    assert t.worst_since(21 * MS) == 5 * MS
    assert t.worst_since(41 * MS) == 3 * MS
    assert t.worst_since(61 * MS) == 0
    # the bound adds one period: a stall shorter than that can hide between two samples
    assert t.bound_since(41 * MS) == pytest.approx(0.005)
    assert t.bound_since(61 * MS, late_now_ns=7 * MS) == pytest.approx(0.009)


def test_trace_keeps_only_possible_maxima_and_forgets_past_its_horizon() -> None:
    t = LagTrace(period_ns=MS, horizon_ns=1000 * MS)
    for i in range(100_000):  # rising lateness: each sample outranks all before it
        t.add(i * MS, i)
    assert len(t) == 1
    t2 = LagTrace(period_ns=MS, horizon_ns=1000 * MS)
    for i in range(100_000):  # falling lateness: all would be maxima, the horizon bounds them
        t2.add(i * MS, 10**9 - i)
    assert len(t2) <= 1001
    assert t2.worst_since(0) == 10**9 - (100_000 - 1001)  # the oldest kept sample


async def _stream_metrics(client: Client, block_s: float) -> StreamMetrics:
    loop = asyncio.get_running_loop()
    async with client.stream(prompt="hi", max_tokens=40) as s:
        if block_s:
            loop.call_soon(time.sleep, block_s)  # the loop stalls while the stream is open
        await s.until_done()
    return s.metrics


async def test_a_stalled_loop_widens_the_stated_bound_and_marks_the_stream() -> None:
    async with SimulatedServer(ttft=0.01, tokens_per_second=400.0) as srv:
        async with Client(base_url=srv.base_url) as client:
            calm = await _stream_metrics(client, 0.0)
            stalled = await _stream_metrics(client, 0.25)
    assert calm.loop_lag_s is not None and stalled.loop_lag_s is not None
    assert calm.loop_lag_s >= PERIOD_S  # never claims better than one sampling period
    assert stalled.loop_lag_s >= 0.25 - PERIOD_S
    assert stalled.loop_lag_s > calm.loop_lag_s
    assert stalled.lag_suspect and stalled.to_dict()["lag_suspect"] is True
    assert stalled.loop_lag_s > LAG_SUSPECT_S


async def test_the_monitor_runs_only_while_streams_are_open(server: SimulatedServer) -> None:
    loop = asyncio.get_running_loop()
    async with Client(base_url=server.base_url) as client:
        async with client.stream(prompt="hi") as s:
            monitor = monitor_for(loop)
            assert monitor.open == 1 and monitor.running
            await s.until_done()
        assert monitor.open == 0
        for _ in range(200):  # it stops at its next tick
            if not monitor.running:
                break
            await asyncio.sleep(PERIOD_S)
        assert not monitor.running
        async with client.stream(prompt="hi") as s:  # and starts again with the next stream
            assert monitor.running
            s.close()
        assert monitor.open == 0


async def test_ttft_is_split_into_queue_prompt_and_network() -> None:
    async with SimulatedServer(ttft=0.02, queue_time=0.01, tokens_per_second=1000.0) as srv:
        async with Client(base_url=srv.base_url) as client:
            m = await _stream_metrics(client, 0.0)
    split = m.ttft_split()
    assert split is not None and m.ttft_s is not None
    assert split["queue"] == pytest.approx(0.01)
    assert split["prompt"] == m.server_prompt_s
    assert sum(split.values()) == pytest.approx(m.ttft_s)
    assert split["tls"] == 0.0  # plain HTTP
    assert split["connect"] == (m.connect_s or 0.0)
    assert m.to_dict()["ttft_network_client_s"] == pytest.approx(split["network"])


def test_no_split_without_server_timings() -> None:
    m = StreamMetrics(
        ttft_s=0.1, itl_s=[], tpot_s=None, e2el_s=0.2, output_tokens=1,
        output_tokens_per_s=None, chunks=1,
    )  # fmt: skip
    assert m.ttft_split() is None and m.ttft_network_client_s is None
    assert not m.lag_suspect  # no bound known: nothing claimed


def _metrics(lag: float) -> StreamMetrics:
    return StreamMetrics(
        ttft_s=0.1, itl_s=[0.01], tpot_s=0.01, e2el_s=0.2, output_tokens=2,
        output_tokens_per_s=10.0, chunks=2, loop_lag_s=lag,
    )  # fmt: skip


@dataclass
class _Done:
    metrics: StreamMetrics
    error: BaseException | None = None


def test_a_report_counts_and_warns_about_streams_stamped_late() -> None:
    acc = LatencyAccumulator()
    for lag in (0.002, 0.003, 0.040):
        acc.add(_Done(_metrics(lag)))
    other = LatencyAccumulator()
    other.add(_Done(_metrics(0.009)))
    acc.merge(other)
    report = acc.report()
    assert report.lag_suspect == 2
    assert report.stamp_lag is not None and report.stamp_lag.max == pytest.approx(0.040, rel=0.02)
    d = report.to_dict()
    assert d["lag_suspect_requests"] == 2
    assert d["max_stamp_lag_ms"] == pytest.approx(40.0, rel=0.02)
    assert any("2 of 4 requests have stamps that may be over 5 ms late" in w for w in d["warnings"])
    assert "stamp error bound" in report.to_markdown()
