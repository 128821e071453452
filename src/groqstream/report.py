"""`LatencyReport`: many streams' metrics summed up the way vLLM's and genai-perf's reports are.

Sans-IO: it is built from finished results (anything with `.metrics`, `.error` and optionally
`.queue_wait_s`) and prints as JSON-ready dicts with vLLM field names or as Markdown.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._stats import mean, percentile, std
from .metrics import StreamMetrics

__all__ = ["SLO", "Distribution", "LatencyReport"]

PERCENTILES = (50, 90, 95, 99)
LOOP_LAG_WARN_S = 0.010


class _ResultLike(Protocol):
    @property
    def metrics(self) -> StreamMetrics | None: ...

    @property
    def error(self) -> BaseException | None: ...


@dataclass(frozen=True, slots=True)
class Distribution:
    """Summary statistics of one latency, in seconds."""

    count: int
    mean: float
    std: float
    min: float
    max: float
    p50: float
    p90: float
    p95: float
    p99: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Distribution:
        """Summarise values (NaN everywhere when there are none)."""
        v = sorted(values)
        if not v:
            nan = math.nan
            return cls(0, nan, nan, nan, nan, nan, nan, nan, nan)
        return cls(
            count=len(v),
            mean=mean(v),
            std=std(v),
            min=v[0],
            max=v[-1],
            p50=percentile(v, 50),
            p90=percentile(v, 90),
            p95=percentile(v, 95),
            p99=percentile(v, 99),
        )

    def ms_fields(self, name: str) -> dict[str, float | None]:
        """vLLM-style fields in milliseconds: `mean_ttft_ms`, `median_ttft_ms`, `p99_ttft_ms`…"""

        def ms(x: float) -> float | None:
            return None if math.isnan(x) else x * 1000

        out = {
            f"mean_{name}_ms": ms(self.mean),
            f"median_{name}_ms": ms(self.p50),
            f"std_{name}_ms": ms(self.std),
            f"min_{name}_ms": ms(self.min),
            f"max_{name}_ms": ms(self.max),
        }
        for p in PERCENTILES:
            out[f"p{p}_{name}_ms"] = ms(getattr(self, f"p{p}"))
        return out


@dataclass(frozen=True, slots=True)
class SLO:
    """Service-level objectives in seconds; a request meets them if it meets every one given."""

    ttft: float | None = None
    tpot: float | None = None
    e2el: float | None = None

    @classmethod
    def parse(cls, text: str) -> SLO:
        """Parse the CLI form ``ttft:500,tpot:50`` (milliseconds)."""
        values: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, ms = part.partition(":")
            if key not in ("ttft", "tpot", "e2el") or not ms:
                raise ValueError(f"bad SLO {part!r}: use ttft:MS, tpot:MS or e2el:MS")
            values[key] = float(ms) / 1000
        return cls(**values)

    def met_by(self, m: StreamMetrics) -> bool:
        """True if a stream's metrics meet every objective given."""
        for limit, value in ((self.ttft, m.ttft_s), (self.tpot, m.tpot_s), (self.e2el, m.e2el_s)):
            if limit is not None and (value is None or value > limit):
                return False
        return True

    @property
    def empty(self) -> bool:
        """True if no objective is set."""
        return self.ttft is None and self.tpot is None and self.e2el is None


@dataclass(frozen=True, slots=True)
class LatencyReport:
    """Aggregate latency and throughput of many requests.

    Latencies cover successful requests only; the client-side wait for a concurrency slot
    (`queue_wait`) is kept apart from them, and `loop_lag_max_s` says how late the client's
    own event loop ran (if high, the client was the bottleneck and latencies are inflated).
    """

    count: int
    completed: int
    failed: int
    failures_by_kind: dict[str, int]
    duration_s: float
    total_input_tokens: int
    total_output_tokens: int
    ttft: Distribution
    itl: Distribution
    tpot: Distribution
    e2el: Distribution
    queue_wait: Distribution
    slo: SLO = field(default_factory=SLO)
    good: int = 0
    loop_lag_max_s: float | None = None
    loop_lag_p99_s: float | None = None
    server_total: Distribution | None = None

    @classmethod
    def from_results(
        cls,
        results: Iterable[_ResultLike],
        *,
        duration_s: float | None = None,
        slo: SLO | None = None,
        loop_lags: Iterable[float] | None = None,
    ) -> LatencyReport:
        """Summarise finished results. `duration_s` defaults to the span from the first
        request sent to the last stream ended; `loop_lags` are event-loop lag samples."""
        slo = slo or SLO()
        ms: list[StreamMetrics] = []
        kinds: Counter[str] = Counter()
        waits: list[float] = []
        count = 0
        for r in results:
            count += 1
            wait = getattr(r, "queue_wait_s", None)
            if isinstance(wait, (int, float)):
                waits.append(float(wait))
            if r.error is not None:
                kinds[getattr(r.error, "kind", type(r.error).__name__)] += 1
            elif r.metrics is not None:
                ms.append(r.metrics)
        if duration_s is None:
            duration_s = (
                (max(m.end_ns for m in ms) - min(m.start_ns for m in ms)) / 1e9 if ms else 0.0
            )
        lags = sorted(loop_lags) if loop_lags is not None else []
        server_totals = [m.server_total_s for m in ms if m.server_total_s is not None]
        return cls(
            count=count,
            completed=len(ms),
            failed=sum(kinds.values()),
            failures_by_kind=dict(kinds),
            duration_s=duration_s,
            total_input_tokens=sum(m.prompt_tokens or 0 for m in ms),
            total_output_tokens=sum(m.output_tokens for m in ms),
            ttft=Distribution.of(m.ttft_s for m in ms if m.ttft_s is not None),
            itl=Distribution.of(x for m in ms for x in m.itl_s),
            tpot=Distribution.of(m.tpot_s for m in ms if m.tpot_s is not None),
            e2el=Distribution.of(m.e2el_s for m in ms),
            queue_wait=Distribution.of(waits),
            slo=slo,
            good=sum(1 for m in ms if slo.met_by(m)),
            loop_lag_max_s=lags[-1] if lags else None,
            loop_lag_p99_s=percentile(lags, 99) if lags else None,
            server_total=Distribution.of(server_totals) if server_totals else None,
        )

    @property
    def request_throughput(self) -> float:
        """Completed requests per second."""
        return self.completed / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def output_throughput(self) -> float:
        """Output tokens per second across all requests."""
        return self.total_output_tokens / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def request_goodput(self) -> float | None:
        """Requests per second meeting the SLOs (None when no SLO is set)."""
        if self.slo.empty:
            return None
        return self.good / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def client_bound(self) -> bool:
        """True if the event loop lagged enough that the client itself skewed the figures."""
        return self.loop_lag_p99_s is not None and self.loop_lag_p99_s > LOOP_LAG_WARN_S

    def warnings(self) -> list[str]:
        """Human-readable caveats about the figures."""
        out = []
        if self.client_bound:
            out.append(
                f"the client's event loop lagged (p99 {self.loop_lag_p99_s * 1000:.1f} ms, "  # type: ignore[operator]
                f"max {(self.loop_lag_max_s or 0) * 1000:.1f} ms): the client was a bottleneck "
                "and latencies include its delay"
            )
        if self.failed:
            out.append(f"{self.failed} of {self.count} requests failed")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures with vLLM's benchmark field names (`p99_ttft_ms`, …)."""
        d: dict[str, Any] = {
            "count": self.count,
            "completed": self.completed,
            "failed": self.failed,
            "failures_by_kind": self.failures_by_kind,
            "duration": self.duration_s,
            "total_input_tokens": self.total_input_tokens,
            "total_output_tokens": self.total_output_tokens,
            "request_throughput": self.request_throughput,
            "request_goodput": self.request_goodput,
            "output_throughput": self.output_throughput,
            "total_token_throughput": (
                (self.total_input_tokens + self.total_output_tokens) / self.duration_s
                if self.duration_s > 0
                else 0.0
            ),
            "goodput_slo_ms": {
                k: v * 1000
                for k, v in (
                    ("ttft", self.slo.ttft),
                    ("tpot", self.slo.tpot),
                    ("e2el", self.slo.e2el),
                )
                if v is not None
            },
        }
        for name in ("ttft", "tpot", "itl", "e2el", "queue_wait"):
            d.update(getattr(self, name).ms_fields(name))
        if self.server_total is not None:
            d.update(self.server_total.ms_fields("server_total"))
        d["loop_lag_max_ms"] = None if self.loop_lag_max_s is None else self.loop_lag_max_s * 1000
        d["loop_lag_p99_ms"] = None if self.loop_lag_p99_s is None else self.loop_lag_p99_s * 1000
        d["warnings"] = self.warnings()
        return d

    def to_markdown(self) -> str:
        """A Markdown summary: totals, then one row per latency with its percentiles."""
        rows = [
            "| requests | ok | failed | duration | req/s | output tok/s |"
            + (" goodput req/s |" if self.request_goodput is not None else ""),
            "|---:|---:|---:|---:|---:|---:|"
            + ("---:|" if self.request_goodput is not None else ""),
            f"| {self.count} | {self.completed} | {self.failed} | {self.duration_s:.2f} s "
            f"| {self.request_throughput:.1f} | {self.output_throughput:,.0f} |"
            + (f" {self.request_goodput:.1f} |" if self.request_goodput is not None else ""),
            "",
            "| metric (ms) | mean | std | min | p50 | p90 | p95 | p99 | max |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        named: list[tuple[str, Distribution | None]] = [
            ("TTFT", self.ttft),
            ("ITL", self.itl),
            ("TPOT", self.tpot),
            ("E2EL", self.e2el),
            ("queue wait (client)", self.queue_wait),
            ("server total", self.server_total),
        ]
        for label, dist in named:
            if dist is None or dist.count == 0:
                continue
            cells = [
                dist.mean,
                dist.std,
                dist.min,
                dist.p50,
                dist.p90,
                dist.p95,
                dist.p99,
                dist.max,
            ]
            rows.append(f"| {label} | " + " | ".join(f"{c * 1000:.2f}" for c in cells) + " |")
        if self.failures_by_kind:
            rows += [
                "",
                "Failures: "
                + ", ".join(f"{k} × {v}" for k, v in sorted(self.failures_by_kind.items())),
            ]
        rows += [f"\n> warning: {w}" for w in self.warnings() if "failed" not in w]
        return "\n".join(rows)

    def summary(self) -> Mapping[str, Any]:
        """The few figures a progress line or a log line wants."""
        return {
            "completed": self.completed,
            "failed": self.failed,
            "req_s": self.request_throughput,
            "p50_ttft_ms": self.ttft.p50 * 1000 if self.ttft.count else None,
        }
