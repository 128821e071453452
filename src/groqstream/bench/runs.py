"""A finished `bench` run read back from its directory: the header, each level's figures and
each request's line — what the HTML report and `groqstream report` are drawn from.

`requests.jsonl` is required; `bench.json` adds the header and the figures measured live
(wall-clock duration, event-loop lag). Without it, each level's figures are recomputed from
the request lines (duration from the first send to the last end).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..report import SLO, Distribution, LatencySketch
from .fmt import is_number

__all__ = ["Level", "Run", "RunLoadError", "load_run", "summary_from_rows"]


class RunLoadError(Exception):
    """A directory that does not hold a readable bench run (the message says what is wrong)."""


@dataclass
class Level:
    """One concurrency level: its vLLM-named figures and its request lines."""

    concurrency: int
    summary: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def values(self, key: str) -> list[float]:
        """A latency (`ttft_ms`, `tpot_ms`, `e2el_ms`) of every successful request, in ms."""
        return [float(r[key]) for r in self.rows if r.get("ok") and is_number(r.get(key))]

    def itl(self) -> list[float]:
        """Every inter-token gap of the successful requests, in ms."""
        return [float(x) for r in self.rows if r.get("ok") for x in r.get("itl_ms") or ()]

    def mean_of(self, key: str) -> float | None:
        """The mean of a per-request count (`prompt_tokens`, `output_tokens`), if known."""
        vals = self.values(key)
        return sum(vals) / len(vals) if vals else None


@dataclass
class Run:
    """A bench run: its directory, display name, header and levels."""

    path: Path
    name: str
    meta: dict[str, Any]
    levels: list[Level]

    def slo(self) -> SLO:
        """The run's SLOs (milliseconds in the header)."""
        given = self.meta.get("slo_ms") or {}
        return SLO(**{f"{k}_ms": v for k, v in given.items() if k in ("ttft", "tpot", "e2el")})


def _read_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                row = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                raise RunLoadError(
                    f"{path}: line {lineno}: not valid JSON ({e.msg} at column {e.colno})"
                ) from None
            if not isinstance(row, dict) or not isinstance(row.get("concurrency"), int):
                raise RunLoadError(f"{path}: line {lineno}: not a groqstream bench request line")
            yield row


def _seconds(values: Iterable[Any]) -> list[float]:
    return [float(v) / 1000 for v in values if is_number(v)]


def _meets(slo: SLO, row: Mapping[str, Any]) -> bool:
    def s(key: str) -> float | None:
        v = row.get(key)
        return float(v) / 1000 if is_number(v) else None

    return slo.met(s("ttft_ms"), s("tpot_ms"), s("e2el_ms"))


def summary_from_rows(
    rows: list[dict[str, Any]], concurrency: int, slo: SLO | None = None
) -> dict[str, Any]:
    """A level's vLLM-named figures recomputed from its request lines (no event-loop lag:
    that is measured live only)."""
    ok = [r for r in rows if r.get("ok")]
    kinds: dict[str, int] = defaultdict(int)
    for r in rows:
        if not r.get("ok"):
            kinds[str((r.get("error") or {}).get("kind", "error"))] += 1
    spans = [
        (r["start_ms"], r["start_ms"] + r["e2el_ms"])
        for r in ok
        if is_number(r.get("start_ms")) and is_number(r.get("e2el_ms"))
    ]
    duration = (max(e for _, e in spans) - min(s for s, _ in spans)) / 1000 if spans else 0.0
    out_tokens = sum(int(r.get("output_tokens") or 0) for r in ok)
    slo = slo or SLO()

    def per_s(n: float) -> float:
        return n / duration if duration > 0 else 0.0

    good = sum(1 for r in ok if _meets(slo, r))
    d: dict[str, Any] = {
        "max_concurrency": concurrency,
        "count": len(rows),
        "completed": len(ok),
        "failed": len(rows) - len(ok),
        "failures_by_kind": dict(kinds),
        "duration": duration,
        "total_output_tokens": out_tokens,
        "request_throughput": per_s(len(ok)),
        "output_throughput": per_s(out_tokens),
        "request_goodput": None if slo.empty else per_s(good),
        "goodput_slo_ms": slo.to_ms_dict(),
        "loop_lag_p99_ms": None,
        "loop_lag_max_ms": None,
        "latency_unit": "ms",
    }
    for name in ("ttft", "tpot", "e2el", "queue_wait"):
        d.update(_sketched(_seconds(r.get(f"{name}_ms") for r in ok)).ms_fields(name))
    itl = _seconds(x for r in ok for x in r.get("itl_ms") or ())
    d.update(_sketched(itl).ms_fields("itl"))
    return d


def _sketched(values: Iterable[float]) -> Distribution:
    """The summary the live run printed: from the same sketch, so the figures agree."""
    sketch = LatencySketch()
    sketch.extend(values)
    return sketch.distribution()


def _bench_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as e:
        raise RunLoadError(f"{path}: not valid JSON ({e.msg})") from None
    return data if isinstance(data, dict) else {}


def load_run(path: Path, name: str | None = None) -> Run:
    """Read a `bench --out` directory (`RunLoadError` if it is not one)."""
    if not path.is_dir():
        raise RunLoadError(f"{path} is not a directory")
    jsonl = path / "requests.jsonl"
    if not jsonl.exists():
        raise RunLoadError(
            f"no requests.jsonl in {path}: is it a directory written by groqstream bench --out?"
        )
    bench = _bench_json(path / "bench.json")
    meta: dict[str, Any] = dict(bench.get("meta") or {})
    meta.setdefault("base_url", bench.get("base_url"))
    meta.setdefault("model_id", bench.get("model_id"))
    saved: Mapping[int, dict[str, Any]] = {
        d["max_concurrency"]: d
        for d in bench.get("levels") or ()
        if isinstance(d, dict) and isinstance(d.get("max_concurrency"), int)
    }
    by_level: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in _read_rows(jsonl):
        by_level[row["concurrency"]].append(row)
    if not by_level:
        raise RunLoadError(f"{jsonl} holds no requests")
    run = Run(path, name or path.resolve().name, meta, [])
    slo = run.slo()
    for c in sorted(by_level):
        rows = by_level[c]
        summary = saved.get(c) or summary_from_rows(rows, c, slo)
        run.levels.append(Level(c, summary, rows))
    return run
