"""Two or more bench runs side by side: each later run's key figures against the first
(the baseline), level by level, as a change in percent that says which way is better."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .fmt import is_number, ms, rate
from .runs import Run

__all__ = ["METRICS", "Change", "Metric", "changes", "compare_table"]


@dataclass(frozen=True, slots=True)
class Metric:
    """A figure worth comparing: its label, vLLM field, whether higher is better, format."""

    label: str
    key: str
    higher_is_better: bool
    latency: bool


METRICS = (
    Metric("req/s", "request_throughput", True, False),
    Metric("out tok/s", "output_throughput", True, False),
    Metric("TTFT p50 ms", "median_ttft_ms", False, True),
    Metric("TTFT p99 ms", "p99_ttft_ms", False, True),
    Metric("ITL p50 ms", "median_itl_ms", False, True),
    Metric("TPOT p50 ms", "median_tpot_ms", False, True),
    Metric("E2EL p99 ms", "p99_e2el_ms", False, True),
)


@dataclass(frozen=True, slots=True)
class Change:
    """One figure at one level: baseline value, other run's value, change and its verdict."""

    metric: Metric
    base: Any
    other: Any

    @property
    def percent(self) -> float | None:
        """(other − base) / base in percent; None when either is unknown or base is 0."""
        if not (is_number(self.base) and is_number(self.other)) or self.base == 0:
            return None
        return float((self.other - self.base) / self.base * 100)

    @property
    def better(self) -> bool | None:
        """True if the other run is better here, False if worse, None if unchanged/unknown
        (within 1 %)."""
        p = self.percent
        if p is None or abs(p) < 1:
            return None
        return (p > 0) == self.metric.higher_is_better

    def cells(self) -> tuple[str, str, str]:
        """Baseline, other and change, formatted."""
        fmt = ms if self.metric.latency else rate
        p = self.percent
        return fmt(self.base), fmt(self.other), "–" if p is None else f"{p:+.1f} %"


def changes(base: Run, other: Run) -> list[tuple[int, list[Change]]]:
    """Per concurrency level present in both runs: every metric's change."""
    theirs = {lv.concurrency: lv for lv in other.levels}
    out = []
    for lv in base.levels:
        o = theirs.get(lv.concurrency)
        if o is not None:
            out.append(
                (
                    lv.concurrency,
                    [Change(m, lv.summary.get(m.key), o.summary.get(m.key)) for m in METRICS],
                )
            )
    return out


def compare_table(runs: Sequence[Run]) -> str:
    """A Markdown table: for each later run and each shared level, every metric as
    `baseline → other (change)`."""
    base = runs[0]
    lines = []
    for other in runs[1:]:
        lines.append(f"{other.name} against {base.name} (change; + is higher):")
        lines.append("| c | " + " | ".join(m.label for m in METRICS) + " |")
        lines.append("|---:|" + "---:|" * len(METRICS))
        rows = changes(base, other)
        for level, cs in rows:
            cells = []
            for c in cs:
                b, o, p = c.cells()
                cells.append(f"{b} → {o} ({p})")
            lines.append(f"| {level} | " + " | ".join(cells) + " |")
        if not rows:
            lines.append("(no concurrency level in common)")
        lines.append("")
    return "\n".join(lines).rstrip()
