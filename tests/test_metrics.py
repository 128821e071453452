"""Sans-IO tests of the per-stream metrics definitions."""

from __future__ import annotations

import math

import pytest

from groqstream._stats import mean, percentile, std
from groqstream.metrics import compute_metrics
from groqstream.types import Usage

MS = 1_000_000  # ns


def test_definitions_follow_vllm_and_genai_perf() -> None:
    # sent at 0; tokens at 50, 60, 60 (same read), 80 ms; end at 90 ms
    m = compute_metrics(0, 90 * MS, [50 * MS, 60 * MS, 60 * MS, 80 * MS])
    assert m.ttft_s == pytest.approx(0.050)
    assert m.itl_s == pytest.approx([0.010, 0.0, 0.020])
    assert m.e2el_s == pytest.approx(0.090)
    assert m.output_tokens == 4  # no usage: one per output chunk
    assert m.tpot_s == pytest.approx((0.090 - 0.050) / 3)
    assert m.output_tokens_per_s == pytest.approx(4 / 0.040)
    assert m.chunks == 4


def test_output_tokens_come_from_usage_when_given() -> None:
    usage = Usage(completion_tokens=9, total_time=0.07, queue_time=0.001)
    m = compute_metrics(0, 100 * MS, [40 * MS, 100 * MS], usage)
    assert m.output_tokens == 9
    assert m.tpot_s == pytest.approx(0.060 / 8)
    assert m.server_total_s == 0.07
    assert m.network_s == pytest.approx(0.03)


def test_no_output_leaves_ttft_undefined() -> None:
    m = compute_metrics(0, 10 * MS, [])
    assert m.ttft_s is None and m.tpot_s is None and m.output_tokens_per_s is None
    assert m.itl_s == []
    assert m.to_dict()["e2el_s"] == pytest.approx(0.01)


def test_percentiles_match_numpy_linear_interpolation() -> None:
    vals = sorted([1.0, 2.0, 3.0, 4.0, 10.0])
    assert percentile(vals, 50) == 3.0
    assert percentile(vals, 90) == pytest.approx(7.6)
    assert percentile(vals, 0) == 1.0 and percentile(vals, 100) == 10.0
    assert math.isnan(percentile([], 50))
    assert mean([1.0, 3.0]) == 2.0
    assert std([1.0, 3.0]) == 1.0
