"""`LatencySketch`: exact moments, percentiles within the stated relative accuracy, merges
that lose nothing, and a size that does not grow with the number of values."""

from __future__ import annotations

import math
import pickle
import random
from collections.abc import Callable

import pytest

from groqstream._stats import percentile
from groqstream.report import RELATIVE_ACCURACY, LatencySketch

QUANTILES = (0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0)

Draw = Callable[[random.Random], float]
SHAPES: dict[str, Draw] = {
    "lognormal ITL": lambda r: r.lognormvariate(math.log(0.004), 0.6),
    "bimodal TTFT": lambda r: r.gauss(0.08, 0.005) if r.random() < 0.9 else r.gauss(2.0, 0.3),
    "with zeros": lambda r: 0.0 if r.random() < 0.2 else r.expovariate(100.0),
    "heavy tail": lambda r: 0.001 * r.paretovariate(1.2),
}


def rank_value(values: list[float], q: float) -> float:
    """numpy's (and vLLM's) percentile: linear between the samples around rank q (n - 1).
    The sketch gets each of those two samples within its relative accuracy, so the
    interpolation between them is within it too."""
    return percentile(sorted(values), q * 100)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("n", [1, 7, 5_000, 60_000])
def test_every_quantile_is_within_the_relative_accuracy(shape: str, n: int) -> None:
    rng = random.Random(f"{shape}/{n}")
    values = [max(0.0, SHAPES[shape](rng)) for _ in range(n)]
    sk = LatencySketch()
    for v in values[: n // 2]:
        sk.add(v)
    sk.extend(values[n // 2 :])
    for q in QUANTILES:
        want = rank_value(values, q)
        assert sk.quantile(q) == pytest.approx(want, rel=RELATIVE_ACCURACY, abs=1e-300), q
    d = sk.distribution()
    assert d.count == n
    assert (d.min, d.max) == (min(values), max(values))  # exact, not sketched
    assert d.mean == pytest.approx(math.fsum(values) / n, rel=1e-9)
    m = math.fsum(values) / n
    assert d.std == pytest.approx(math.sqrt(math.fsum((v - m) ** 2 for v in values) / n), rel=1e-6)


def test_merging_parts_is_the_same_as_adding_everything() -> None:
    rng = random.Random(3)
    values = [rng.lognormvariate(-3, 1.0) for _ in range(30_000)]
    whole, parts = LatencySketch(), [LatencySketch() for _ in range(4)]
    whole.extend(values)
    for v in values:
        parts[rng.randrange(4)].add(v)
    merged = LatencySketch()
    for p in parts:
        merged.merge(pickle.loads(pickle.dumps(p)))  # as it travels between processes
    assert merged.distribution().count == whole.distribution().count
    for q in QUANTILES:
        assert merged.quantile(q) == whole.quantile(q)  # same bins: merging loses nothing
    assert merged.distribution().mean == pytest.approx(whole.distribution().mean, rel=1e-12)


def test_size_does_not_grow_with_the_number_of_values() -> None:
    rng = random.Random(5)
    sk = LatencySketch()
    sk.extend(rng.uniform(0.001, 10.0) for _ in range(10_000))
    small = len(pickle.dumps(sk))
    sk.extend(rng.uniform(0.001, 10.0) for _ in range(200_000))
    assert len(pickle.dumps(sk)) < small * 1.2 < 40_000  # bins cover the range, not the count


def test_an_empty_sketch_is_nan() -> None:
    sk = LatencySketch()
    assert math.isnan(sk.quantile(0.5)) and sk.distribution().count == 0
    sk.merge(LatencySketch())
    assert sk.distribution().count == 0
