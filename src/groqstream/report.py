"""`LatencyReport`: many streams' metrics summed up the way vLLM's and genai-perf's reports are.

Sans-IO: it is built from finished results (anything with `.metrics`, `.error` and optionally
`.queue_wait_s`) and prints as JSON-ready dicts with vLLM field names or as Markdown.
"""

from __future__ import annotations

import copy
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ddsketch.ddsketch import BaseDDSketch
from ddsketch.mapping import LogarithmicMapping
from ddsketch.store import CollapsingLowestDenseStore

from ._stats import mean, percentile, std
from .errors import ConfigError, GoodputUnknownError
from .metrics import LAG_SUSPECT_S, StreamMetrics

__all__ = [
    "RELATIVE_ACCURACY",
    "SLO",
    "Distribution",
    "LatencyAccumulator",
    "LatencyReport",
    "LatencySketch",
]

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
    stamp_lag: Distribution | None = None
    lag_suspect: int = 0

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
        if self.lag_suspect:
            worst = self.stamp_lag.max * 1000 if self.stamp_lag is not None else 0.0
            out.append(
                f"{self.lag_suspect} of {self.completed} requests have stamps that may be over "
                f"{LAG_SUSPECT_S * 1000:g} ms late, the event loop having lagged while they ran "
                f"(worst bound {worst:.1f} ms): their TTFT/ITL may be that much too high"
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
        if self.stamp_lag is not None:
            d.update(self.stamp_lag.ms_fields("stamp_lag"))
        d["lag_suspect_requests"] = self.lag_suspect
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
            ("stamp error bound (loop lag)", self.stamp_lag),
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

#: The sketches' relative accuracy: a reported percentile is within ±1% of the true value
#: at that rank (p99 TTFT of 200 ms: 198–202 ms), finer than the run-to-run noise of any
#: latency measurement, at a few hundred bins (~10 KB) per latency whatever the run's size.
RELATIVE_ACCURACY = 0.01
_BIN_LIMIT = 2048  # γ^2048 ≈ 5e17: covers nanoseconds to years, so bins never collapse
_FLUSH_AT = 4096


class LatencySketch:
    """One latency's distribution in bounded memory, mergeable across processes.

    Count, mean, standard deviation, min and max are exact (Welford/Chan); percentiles come
    from a DDSketch with `RELATIVE_ACCURACY`, so each is within ±1% of the sample value at
    that rank (``sorted(values)[floor(q * (n - 1))]``), clamped to [min, max]. Values are
    buffered and folded into the sketch in bulk, so `add` costs an `array.append`.
    """

    def __init__(self) -> None:
        self._mapping = LogarithmicMapping(RELATIVE_ACCURACY)
        self._dd = BaseDDSketch(
            mapping=self._mapping,
            store=CollapsingLowestDenseStore(_BIN_LIMIT),
            negative_store=CollapsingLowestDenseStore(_BIN_LIMIT),
            zero_count=0.0,
        )
        self.count = 0
        self._mean = 0.0
        self._m2 = 0.0
        self.min = math.inf
        self.max = -math.inf
        self._buf = array("d")

    def add(self, value: float) -> None:
        """Take one value (seconds)."""
        self._buf.append(value)
        if len(self._buf) >= _FLUSH_AT:
            self._flush()

    def extend(self, values: Iterable[float]) -> None:
        """Take many values."""
        self._buf.extend(values)
        if len(self._buf) >= _FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        buf = self._buf
        n = len(buf)
        if not n:
            return
        self._buf = array("d")
        mean_b = math.fsum(buf) / n
        lo, hi = min(buf), max(buf)
        self._combine(n, mean_b, math.fsum([(x - mean_b) ** 2 for x in buf]), lo, hi)
        key, value, tiny = self._mapping.key, self._mapping.value, self._mapping.min_possible
        if lo > tiny:  # the usual case: counting keys in C is most of the cost
            keys = Counter(map(key, buf))
        else:
            keys = Counter(map(key, [x for x in buf if x > tiny]))
            for x in buf:
                if x <= tiny:  # zero or negative: DDSketch's own zero count / negative store
                    self._dd.add(x)
        add = self._dd.add
        for k, c in keys.items():
            add(value(k), float(c))  # a bin's representative maps back to that bin

    def _combine(self, n: int, mean: float, m2: float, lo: float, hi: float) -> None:
        """Chan et al.'s parallel update of count, mean and sum of squared deviations."""
        total = self.count + n
        delta = mean - self._mean
        self._m2 += m2 + delta * delta * self.count * n / total
        self._mean += delta * n / total
        self.count = total
        self.min = min(self.min, lo)
        self.max = max(self.max, hi)

    def merge(self, other: LatencySketch) -> None:
        """Add every value `other` holds (it is left unchanged)."""
        other._flush()
        self._flush()
        if other.count:
            self._combine(other.count, other._mean, other._m2, other.min, other.max)
            self._dd.merge(other._dd)

    def quantile(self, q: float) -> float:
        """The value at quantile `q` (0–1), interpolated linearly between the two samples
        around rank q·(n−1) as numpy's (and vLLM's) percentiles are, each sample within the
        relative accuracy; NaN when empty."""
        self._flush()
        n = self.count
        if not n:
            return math.nan
        rank = q * (n - 1)
        lo = math.floor(rank)
        low = self._sample(lo)
        frac = rank - lo
        if frac <= 0 or lo + 1 >= n:
            return low
        return low + (self._sample(lo + 1) - low) * frac

    def _sample(self, k: int) -> float:
        """The k-th smallest sample (0-based), within the relative accuracy."""
        n = self.count
        q = min(1.0, (k + 0.5) / (n - 1)) if n > 1 else 0.0  # mid-rank: safe from float error
        v = self._dd.get_quantile_value(q)
        return self.min if v is None else min(self.max, max(self.min, float(v)))

    def distribution(self) -> Distribution:
        """The summary a report prints."""
        self._flush()
        if not self.count:
            return Distribution.of(())
        q = self.quantile
        return Distribution(
            count=self.count,
            mean=self._mean,
            std=math.sqrt(max(0.0, self._m2) / self.count),
            min=self.min,
            max=self.max,
            p50=q(0.50),
            p90=q(0.90),
            p95=q(0.95),
            p99=q(0.99),
        )

    def __getstate__(self) -> dict[str, Any]:
        self._flush()
        return self.__dict__.copy()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


_SKETCHED = ("ttft", "tpot", "itl", "e2el", "queue_wait", "server_total", "stamp_lag")


MAX_REQUEST_ROWS = 100_000
"""Completed requests whose TTFT/TPOT/E2EL an accumulator keeps by default (24 bytes each:
2.4 MB), for goodput under an SLO named after the run."""


def _lag_figures(lags: Iterable[float] | LatencySketch | None) -> tuple[float | None, float | None]:
    """The worst and the p99 event-loop lag of the samples (None, None without any)."""
    if isinstance(lags, LatencySketch):
        p99 = lags.quantile(0.99)  # (flushes the buffered samples first)
        return (lags.max, p99) if lags.count else (None, None)
    ordered = sorted(lags) if lags is not None else []
    if not ordered:
        return None, None
    return ordered[-1], percentile(ordered, 99)


class LatencyAccumulator:
    """What a `LatencyReport` needs of many results, in bounded memory, mergeable.

    Every latency goes into a `LatencySketch` (exact count/mean/min/max, percentiles within
    `RELATIVE_ACCURACY`), inter-token latencies included, whatever the number of tokens.
    Goodput is counted as results arrive for every SLO in `slos` (named up front: exact in
    any run length). So that an SLO can also be chosen after the run, the first
    `max_request_rows` completed requests' TTFT, TPOT and E2EL are kept in `array`s (24
    bytes each); past that bound they are dropped, and goodput for an SLO not named up front
    raises `GoodputUnknownError` rather than answer from part of the run.
    `unbounded_request_rows=True` keeps every row (ten million requests: 240 MB);
    `keep_requests=False` keeps none. `compact(slos)` counts goodput for given SLOs and drops
    the arrays: that is the form sent between processes, and `merge` adds one accumulator
    into another.
    """

    def __init__(
        self,
        *,
        keep_requests: bool = True,
        max_request_rows: int = MAX_REQUEST_ROWS,
        unbounded_request_rows: bool = False,
        slos: Iterable[SLO] = (),
    ) -> None:
        if isinstance(max_request_rows, bool) or not isinstance(max_request_rows, int):
            raise ConfigError(f"max_request_rows must be an int >= 0, got {max_request_rows!r}")
        if max_request_rows < 0:
            raise ConfigError(f"max_request_rows must be an int >= 0, got {max_request_rows!r}")
        self.max_request_rows: int | None = None if unbounded_request_rows else max_request_rows
        self.count = 0
        self.completed = 0
        self.kinds: Counter[str] = Counter()
        self.input_tokens = 0
        self.output_tokens = 0
        self.first_start_ns: int | None = None
        self.last_end_ns: int | None = None
        self.ttft = LatencySketch()
        self.tpot = LatencySketch()
        self.itl = LatencySketch()
        self.e2el = LatencySketch()
        self.queue_wait = LatencySketch()
        self.server_total = LatencySketch()
        self.stamp_lag = LatencySketch()  # each stream's loop-lag bound (its stamps' error)
        self.lag_suspect = 0  # streams whose bound exceeded LAG_SUSPECT_S
        self.good_by_slo: dict[SLO, int] = {slo: 0 for slo in slos if not slo.empty}
        self._rows: tuple[array[float], array[float], array[float]] | None = (
            (array("d"), array("d"), array("d")) if keep_requests else None
        )
        self._rows_dropped = False  # at the bound (not by compact or merge)

    @property
    def keeps_requests(self) -> bool:
        """True while per-request TTFT/TPOT/E2EL are kept (goodput for any SLO)."""
        return self._rows is not None

    def add(self, r: _ResultLike) -> None:
        """Take one finished result into account (its metrics, error and queue wait)."""
        self.count += 1
        wait = getattr(r, "queue_wait_s", None)
        if isinstance(wait, (int, float)):
            self.queue_wait.add(float(wait))
        if r.error is not None:
            self.kinds[getattr(r.error, "kind", type(r.error).__name__)] += 1
            return
        if r.metrics is not None:
            self._add_metrics(r.metrics)

    def _add_metrics(self, m: StreamMetrics) -> None:
        self.completed += 1
        if m.ttft_s is not None:
            self.ttft.add(m.ttft_s)
        if m.tpot_s is not None:
            self.tpot.add(m.tpot_s)
        self.e2el.add(m.e2el_s)
        if m.server_total_s is not None:
            self.server_total.add(m.server_total_s)
        if m.loop_lag_s is not None:
            self.stamp_lag.add(m.loop_lag_s)
            self.lag_suspect += m.loop_lag_s > LAG_SUSPECT_S
        self.itl.extend(m.itl_s)
        self.input_tokens += m.prompt_tokens or 0
        self.output_tokens += m.output_tokens
        if self.first_start_ns is None or m.start_ns < self.first_start_ns:
            self.first_start_ns = m.start_ns
        if self.last_end_ns is None or m.end_ns > self.last_end_ns:
            self.last_end_ns = m.end_ns
        if self._rows is not None:
            self._keep_row(m)
        for slo in self.good_by_slo:
            if slo.met_by(m):
                self.good_by_slo[slo] += 1

    def _keep_row(self, m: StreamMetrics) -> None:
        """Keep one request's TTFT/TPOT/E2EL, up to `max_request_rows`."""
        assert self._rows is not None
        ttft, tpot, e2el = self._rows
        if self.max_request_rows is not None and len(e2el) >= self.max_request_rows:
            self._rows = None  # at the bound: exact goodput only for SLOs named up front
            self._rows_dropped = True
            return
        ttft.append(_NAN if m.ttft_s is None else m.ttft_s)
        tpot.append(_NAN if m.tpot_s is None else m.tpot_s)
        e2el.append(m.e2el_s)

    def count_goodput(self, slo: SLO) -> int:
        """Count (from now on, and from the kept requests so far) who meets `slo`; the count
        survives `compact` and `merge`. Returns the count so far."""
        if slo not in self.good_by_slo:
            if self._rows is None and self.completed:
                raise GoodputUnknownError(self._unknown_why(slo))
            self.good_by_slo[slo] = self._good_from_rows(slo)
        return self.good_by_slo[slo]

    def compact(self, slos: Iterable[SLO] = ()) -> LatencyAccumulator:
        """A copy without the per-request arrays (sketches and counters only, a few KB), with
        goodput counted for `slos`: the form a worker sends to be merged."""
        for slo in slos:
            if not slo.empty:
                self.count_goodput(slo)
        rows, self._rows = self._rows, None
        try:
            return copy.deepcopy(self)
        finally:
            self._rows = rows

    def merge(self, other: LatencyAccumulator) -> None:
        """Add `other`'s requests to this one. Per-request arrays survive only if both keep
        them; goodput stays known for the SLOs both have counted (an accumulator with no
        requests yet counts as having counted any). `first_start_ns` and
        `last_end_ns` are merged too, but are only comparable within one process: pass
        `duration_s` to `report` for results from many."""
        if self._rows is not None and other._rows is not None:
            for column, more in zip(self._rows, other._rows, strict=True):
                column.extend(more)
        else:
            self._rows = None
        mine, theirs = self.good_by_slo, other.good_by_slo
        if not self.count:  # nothing counted yet: adopt the other's SLOs
            mine = {slo: 0 for slo in theirs} | mine
        if not other.count:
            theirs = {slo: 0 for slo in mine} | theirs
        self.good_by_slo = {slo: n + theirs[slo] for slo, n in mine.items() if slo in theirs}
        self.count += other.count
        self.completed += other.completed
        self.lag_suspect += other.lag_suspect
        self.kinds.update(other.kinds)
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        for name in ("first_start_ns", "last_end_ns"):
            pick = min if name == "first_start_ns" else max
            values = [v for v in (getattr(self, name), getattr(other, name)) if v is not None]
            setattr(self, name, pick(values) if values else None)
        for name in _SKETCHED:
            getattr(self, name).merge(getattr(other, name))

    def report(
        self,
        *,
        duration_s: float | None = None,
        slo: SLO | None = None,
        loop_lags: Iterable[float] | LatencySketch | None = None,
    ) -> LatencyReport:
        """The report of everything added so far (`loop_lags`: event-loop lag samples, or a
        sketch of them)."""
        slo = slo or SLO()
        if duration_s is None:
            first, last = self.first_start_ns, self.last_end_ns
            duration_s = (last - first) / 1e9 if first is not None and last is not None else 0.0
        lag_max, lag_p99 = _lag_figures(loop_lags)
        server_total = self.server_total.distribution()
        stamp_lag = self.stamp_lag.distribution()
        return LatencyReport(
            count=self.count,
            completed=self.completed,
            failed=sum(self.kinds.values()),
            failures_by_kind=dict(self.kinds),
            duration_s=duration_s,
            total_input_tokens=self.input_tokens,
            total_output_tokens=self.output_tokens,
            ttft=self.ttft.distribution(),
            itl=self.itl.distribution(),
            tpot=self.tpot.distribution(),
            e2el=self.e2el.distribution(),
            queue_wait=self.queue_wait.distribution(),
            slo=slo,
            good=0 if slo.empty else self.count_goodput(slo),
            loop_lag_max_s=lag_max,
            loop_lag_p99_s=lag_p99,
            server_total=server_total if server_total.count else None,
            stamp_lag=stamp_lag if stamp_lag.count else None,
            lag_suspect=self.lag_suspect,
        )

    def _unknown_why(self, slo: SLO) -> str:
        if self._rows_dropped and self.max_request_rows is not None:
            return (
                f"cannot count goodput for {slo} exactly: it was not named up front, and of "
                f"{self.completed:,} requests only the first {self.max_request_rows:,} had "
                "their latencies kept (max_request_rows); name it up front "
                "(fan_out(..., slos=[slo])) or pass unbounded_request_rows=True"
            )
        return (
            f"cannot count goodput for {slo} after the per-request latencies were dropped: "
            "name the SLO before compacting"
        )

    def _good_from_rows(self, slo: SLO) -> int:
        """How many kept requests meet every objective."""
        if self._rows is None:
            return 0
        rows = zip(*self._rows, strict=True)
        return sum(1 for ttft, tpot, e2el in rows if slo.met(ttft, tpot, e2el))
