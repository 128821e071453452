"""Sans-IO tests of `LatencyReport` and its bounded-memory `LatencyAccumulator`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from groqstream import SLO, LatencyReport
from groqstream.errors import ConfigError
from groqstream.metrics import StreamMetrics, compute_metrics
from groqstream.report import RELATIVE_ACCURACY, LatencyAccumulator

MS = 1_000_000


@dataclass
class R:
    metrics: StreamMetrics | None
    error: BaseException | None = None
    queue_wait_s: float = 0.0


def stream(start_ms: int, ttft_ms: int, gaps_ms: list[int]) -> StreamMetrics:
    out = [(start_ms + ttft_ms) * MS]
    for g in gaps_ms:
        out.append(out[-1] + g * MS)
    return compute_metrics(start_ms * MS, out[-1] + MS, out)


def test_report_sums_up_latencies_failures_and_goodput() -> None:
    results = [
        R(stream(0, 100, [10, 10, 10]), queue_wait_s=0.0),
        R(stream(5, 300, [20, 20]), queue_wait_s=0.2),
        R(stream(10, 50, []), queue_wait_s=0.1),  # one token: TPOT undefined
        R(None, error=TimeoutError()),
    ]
    rep = LatencyReport.from_results(results, slo=SLO(ttft_ms=200))
    assert (rep.count, rep.completed, rep.failed) == (4, 3, 1)
    assert rep.failures_by_kind == {"TimeoutError": 1}
    assert rep.ttft.count == 3 and rep.ttft.min == pytest.approx(0.05)
    assert rep.ttft.max == pytest.approx(0.3)
    assert rep.itl.count == 5 and rep.itl.p50 == pytest.approx(0.01)
    assert rep.tpot.count == 2  # the one-token stream has none
    assert rep.queue_wait.count == 4 and rep.queue_wait.max == pytest.approx(0.2)
    assert rep.good == 2  # TTFT 100 and 50 ms meet 200 ms; 300 ms does not
    # duration: first send (0 ms) to last end (305 + 40 + 1 ms)
    assert rep.duration_s == pytest.approx(0.346)
    assert rep.to_dict()["p99_ttft_ms"] == pytest.approx(rep.ttft.p99 * 1000)


def test_a_missing_value_fails_its_slo() -> None:
    rep = LatencyReport.from_results([R(stream(0, 10, []))], slo=SLO(tpot_ms=1000))
    assert rep.good == 0  # no TPOT with one token: the objective is not met


def test_itl_of_any_length_is_sketched_with_an_exact_count() -> None:
    acc = LatencyAccumulator()
    # 100 streams of 100 gaps each: gaps 1..100 ms, so every percentile is known exactly
    for i in range(100):
        acc.add(R(stream(i, 10, list(range(1, 101)))))
    rep = acc.report()
    assert rep.itl.count == 100 * 100
    assert rep.itl.min == pytest.approx(0.001) and rep.itl.max == pytest.approx(0.1)
    assert rep.itl.mean == pytest.approx(0.0505, rel=1e-12)  # exact, not sketched
    # numpy's percentiles of these gaps are 50.5 ms and 90.1 ms: within the stated accuracy
    assert rep.itl.p50 == pytest.approx(0.0505, rel=RELATIVE_ACCURACY)
    assert rep.itl.p90 == pytest.approx(0.0901, rel=RELATIVE_ACCURACY)
    assert rep.ttft.count == 100 and rep.e2el.count == 100


def test_goodput_for_an_slo_named_after_the_run_or_before_compacting() -> None:
    acc = LatencyAccumulator()
    for ttft in (100, 300, 50):
        acc.add(R(stream(0, ttft, [10])))
    slo = SLO(ttft_ms=200)
    assert acc.report(slo=slo).good == 2  # from the kept per-request latencies
    small = acc.compact([slo])
    assert not small.keeps_requests and small.report(slo=slo).good == 2
    with pytest.raises(ConfigError, match="before compacting"):
        small.report(slo=SLO(e2el_ms=1000))
    assert acc.keeps_requests  # compacting made a copy


def test_merged_accumulators_report_what_one_would() -> None:
    one, parts = LatencyAccumulator(), [LatencyAccumulator() for _ in range(3)]
    slo = SLO(ttft_ms=150)
    for i in range(300):
        r = R(stream(i, 20 + i, [1 + i % 7, 2, 3]), queue_wait_s=i / 1000)
        one.add(r)
        parts[i % 3].add(r)
    parts.append(LatencyAccumulator())  # an empty worker changes nothing
    parts[3].add(R(None, error=TimeoutError()))
    one.add(R(None, error=TimeoutError()))
    merged = LatencyAccumulator(keep_requests=False)
    for p in parts:
        merged.merge(p.compact([slo]))
    want, got = one.report(slo=slo), merged.report(slo=slo)
    assert got.to_dict() == want.to_dict() | {
        k: pytest.approx(v, rel=1e-9) for k, v in want.to_dict().items() if isinstance(v, float)
    }
    assert got.good == want.good == 131 and got.failures_by_kind == {"TimeoutError": 1}


def test_empty_report_is_nan_not_an_error() -> None:
    rep = LatencyAccumulator().report()
    assert rep.count == 0 and rep.duration_s == 0.0
    assert math.isnan(rep.ttft.p50) and rep.server_total is None
