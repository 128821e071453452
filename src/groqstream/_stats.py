"""Small, dependency-free statistics shared by metrics reports and the CLI."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["mean", "percentile", "std"]


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile (0–100) of already sorted values, interpolated linearly as numpy's
    default does; NaN for no values."""
    n = len(sorted_values)
    if n == 0:
        return math.nan
    if n == 1:
        return float(sorted_values[0])
    rank = (n - 1) * p / 100.0
    lo = math.floor(rank)
    hi = min(lo + 1, n - 1)
    frac = rank - lo
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac)


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean; NaN for no values."""
    return math.fsum(values) / len(values) if values else math.nan


def std(values: Sequence[float]) -> float:
    """Population standard deviation (as numpy.std); NaN for no values."""
    if not values:
        return math.nan
    m = mean(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / len(values))
