"""`LatencyReport`: many streams' metrics summed up the way vLLM's and genai-perf's reports are.

Sans-IO: it is built from finished results (anything with `.metrics`, `.error` and optionally
`.queue_wait_s`) and prints as JSON-ready dicts with vLLM field names or as Markdown.
"""

from __future__ import annotations

import math
import random
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ._stats import mean, percentile, std
from .metrics import StreamMetrics

__all__ = ["SLO", "Distribution", "LatencyAccumulator", "LatencyReport"]

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


_SLO_KEYS = ("ttft", "tpot", "e2el")


@dataclass(frozen=True, slots=True, init=False)
class SLO:
    """Service-level objectives in milliseconds, as the CLI's ``--goodput ttft:500,tpot:50``
    and vLLM's ``--goodput`` take them: ``SLO(ttft_ms=500, tpot_ms=50)``. A request meets
    them if it meets every one given. `ttft`, `tpot` and `e2el` read them in seconds."""

    ttft_ms: float | None
    tpot_ms: float | None
    e2el_ms: float | None

    def __init__(
        self,
        *,
        ttft_ms: float | None = None,
        tpot_ms: float | None = None,
        e2el_ms: float | None = None,
        **seconds: Any,
    ) -> None:
        if seconds:
            given = ", ".join(f"{k}={v!r}" for k, v in seconds.items())
            raise TypeError(
                f"SLO takes milliseconds, with the unit in the name: SLO(ttft_ms=500, "
                f"tpot_ms=50), not SLO({given})"
            )
        for key, value in (("ttft_ms", ttft_ms), ("tpot_ms", tpot_ms), ("e2el_ms", e2el_ms)):
            if value is not None and not value > 0:
                raise ValueError(f"SLO {key} must be a positive number of milliseconds")
            object.__setattr__(self, key, None if value is None else float(value))

    @classmethod
    def parse(cls, text: str) -> SLO:
        """Parse the CLI form ``ttft:500,tpot:50`` (milliseconds, as vLLM's ``--goodput``)."""
        values: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, _, ms = part.partition(":")
            key = key.strip()
            try:
                value = float(ms)
            except ValueError:
                value = math.nan
            if key not in _SLO_KEYS or not value > 0 or math.isinf(value):
                raise ValueError(
                    f"bad SLO {part!r}: use ttft:MS, tpot:MS or e2el:MS with a positive "
                    "number of milliseconds, e.g. ttft:500,tpot:50"
                )
            values[f"{key}_ms"] = value
        if not values:
            raise ValueError(f"no SLO in {text!r}: use e.g. ttft:500,tpot:50 (milliseconds)")
        return cls(**values)

    @property
    def ttft(self) -> float | None:
        """The TTFT objective in seconds."""
        return None if self.ttft_ms is None else self.ttft_ms / 1000

    @property
    def tpot(self) -> float | None:
        """The TPOT objective in seconds."""
        return None if self.tpot_ms is None else self.tpot_ms / 1000

    @property
    def e2el(self) -> float | None:
        """The E2EL objective in seconds."""
        return None if self.e2el_ms is None else self.e2el_ms / 1000

    def met_by(self, m: StreamMetrics) -> bool:
        """True if a stream's metrics meet every objective given."""
        return self.met(m.ttft_s, m.tpot_s, m.e2el_s)

    def met(self, ttft: float | None, tpot: float | None, e2el: float | None) -> bool:
        """True if these latencies (in seconds) meet every objective given; a missing one
        (None or NaN) fails its objective."""
        for limit, value in ((self.ttft, ttft), (self.tpot, tpot), (self.e2el, e2el)):
            if limit is not None and (value is None or not value <= limit):
                return False
        return True

    @property
    def empty(self) -> bool:
        """True if no objective is set."""
        return self.ttft_ms is None and self.tpot_ms is None and self.e2el_ms is None

    def to_ms_dict(self) -> dict[str, float]:
        """The objectives given, in milliseconds: ``{"ttft": 500.0, "tpot": 50.0}``."""
        return {k: v for k in _SLO_KEYS if (v := getattr(self, f"{k}_ms")) is not None}


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
        acc = LatencyAccumulator()
        for r in results:
            acc.add(r)
        return acc.report(duration_s=duration_s, slo=slo, loop_lags=loop_lags)

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


_NAN = math.nan


class LatencyAccumulator:
    """What a `LatencyReport` needs of many results, kept in bounded, compact memory.

    Per request it keeps four floats in `array`s (32 bytes; ten million requests cost about
    320 MB, not the results themselves); inter-token latencies, one per token, are kept
    exactly up to `itl_cap` values and then as a uniform reservoir sample of that size, so
    ITL percentiles of very long runs are estimates while their count stays exact.
    """

    def __init__(self, *, itl_cap: int = 2_000_000, seed: int = 0) -> None:
        self.count = 0
        self.kinds: Counter[str] = Counter()
        self.input_tokens = 0
        self.output_tokens = 0
        self.first_start_ns: int | None = None
        self.last_end_ns: int | None = None
        self._ttft = array("d")
        self._tpot = array("d")
        self._e2el = array("d")
        self._server_total = array("d")
        self._waits = array("d")
        self._itl = array("d")
        self._itl_seen = 0
        self._itl_cap = itl_cap
        self._rng = random.Random(seed)

    def add(self, r: _ResultLike) -> None:
        """Take one finished result into account (its metrics, error and queue wait)."""
        self.count += 1
        wait = getattr(r, "queue_wait_s", None)
        if isinstance(wait, (int, float)):
            self._waits.append(float(wait))
        if r.error is not None:
            self.kinds[getattr(r.error, "kind", type(r.error).__name__)] += 1
            return
        m = r.metrics
        if m is None:
            return
        self._ttft.append(_NAN if m.ttft_s is None else m.ttft_s)
        self._tpot.append(_NAN if m.tpot_s is None else m.tpot_s)
        self._e2el.append(m.e2el_s)
        self._server_total.append(_NAN if m.server_total_s is None else m.server_total_s)
        self.input_tokens += m.prompt_tokens or 0
        self.output_tokens += m.output_tokens
        if self.first_start_ns is None or m.start_ns < self.first_start_ns:
            self.first_start_ns = m.start_ns
        if self.last_end_ns is None or m.end_ns > self.last_end_ns:
            self.last_end_ns = m.end_ns
        self._add_itl(m.itl_s)

    def _add_itl(self, values: list[float]) -> None:
        room = self._itl_cap - len(self._itl)
        if len(values) <= room:
            self._itl.extend(values)
            self._itl_seen += len(values)
            return
        self._itl.extend(values[:room])
        self._itl_seen += room
        randrange, itl, cap = self._rng.randrange, self._itl, self._itl_cap
        for x in values[room:]:  # Algorithm R: each value kept with probability cap / seen
            self._itl_seen += 1
            j = randrange(self._itl_seen)
            if j < cap:
                itl[j] = x

    def report(
        self,
        *,
        duration_s: float | None = None,
        slo: SLO | None = None,
        loop_lags: Iterable[float] | None = None,
    ) -> LatencyReport:
        """The report of everything added so far."""
        slo = slo or SLO()
        completed = len(self._e2el)
        if duration_s is None:
            first, last = self.first_start_ns, self.last_end_ns
            duration_s = (last - first) / 1e9 if first is not None and last is not None else 0.0
        lags = sorted(loop_lags) if loop_lags is not None else []
        server_totals = [x for x in self._server_total if x == x]
        itl = Distribution.of(self._itl)
        if self._itl_seen > len(self._itl):
            itl = replace(itl, count=self._itl_seen)
        return LatencyReport(
            count=self.count,
            completed=completed,
            failed=sum(self.kinds.values()),
            failures_by_kind=dict(self.kinds),
            duration_s=duration_s,
            total_input_tokens=self.input_tokens,
            total_output_tokens=self.output_tokens,
            ttft=Distribution.of(x for x in self._ttft if x == x),
            itl=itl,
            tpot=Distribution.of(x for x in self._tpot if x == x),
            e2el=Distribution.of(self._e2el),
            queue_wait=Distribution.of(self._waits),
            slo=slo,
            good=self._good(slo),
            loop_lag_max_s=lags[-1] if lags else None,
            loop_lag_p99_s=percentile(lags, 99) if lags else None,
            server_total=Distribution.of(server_totals) if server_totals else None,
        )

    def _good(self, slo: SLO) -> int:
        """How many completed requests meet every objective."""
        rows = zip(self._ttft, self._tpot, self._e2el, strict=True)
        return sum(1 for ttft, tpot, e2el in rows if slo.met(ttft, tpot, e2el))
