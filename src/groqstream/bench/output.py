"""Writers for `groqstream bench --out DIR`: vLLM-named JSON, one JSONL line per request, and
the HTML report.

`bench.json` holds the run's header (`meta`: date, target, model, workload, SLOs in ms, client
version) and every level's figures; `c<N>.json` one level's; `requests.jsonl` one line per
request (latencies in ms). `report.html` is drawn from these files (see `runs.load_run`), so
`groqstream report DIR --html` rebuilds exactly the same page later.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import platform
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from .._version import __version__
from ..fanout import Result
from ..report import LatencyReport
from .runner import LevelResult, SweepConfig

__all__ = [
    "bench_meta",
    "level_json",
    "level_rows",
    "level_start_ns",
    "request_row",
    "summary_fields",
    "write_outputs",
]

_JSON = orjson.OPT_INDENT_2


def summary_fields(
    report: LatencyReport,
    *,
    concurrency: int,
    base_url: str,
    model: str | None,
    num_prompts: int,
) -> dict[str, Any]:
    """A run's figures with vLLM benchmark_serving's field names (`p99_ttft_ms`,
    `request_throughput`, `max_concurrency`, ...): what `bench` writes per level and `batch`
    writes as its `--report`."""
    d = report.to_dict()
    d.update(
        {
            "backend": "groqstream",
            "base_url": base_url,
            "model_id": model,
            "max_concurrency": concurrency,
            "num_prompts": num_prompts,
            "latency_unit": "ms",
        }
    )
    return d


def level_json(cfg: SweepConfig, lv: LevelResult, base_url: str) -> dict[str, Any]:
    """One level's figures with vLLM benchmark_serving's field names, plus ours."""
    d = summary_fields(
        lv.report,
        concurrency=lv.concurrency,
        base_url=base_url,
        model=cfg.model,
        num_prompts=lv.report.count,
    )
    d.update(
        {
            "request_rate": cfg.rate if cfg.rate is not None else "inf",
            "burstiness": cfg.burstiness,
            "input_tokens_requested": cfg.input_tokens,
            "output_tokens_requested": cfg.output_tokens,
            "server_split_ms": lv.server_split(),
            "ttft_split_ms": lv.ttft_split(),
        }
    )
    return d


def _event_loop() -> str:
    try:
        module = type(asyncio.get_running_loop()).__module__
    except RuntimeError:
        return "asyncio"
    return "uvloop" if module.startswith("uvloop") else "asyncio"


def bench_meta(
    cfg: SweepConfig, base_url: str, *, simulated: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The header of a run: when, against what, with which workload and SLOs, by which client."""
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "base_url": base_url,
        "model_id": cfg.model,
        "concurrency": list(cfg.concurrency),
        "requests_per_level": cfg.requests,
        "input_tokens": cfg.input_tokens,
        "output_tokens": cfg.output_tokens,
        "request_rate": cfg.rate,
        "burstiness": cfg.burstiness,
        "duration_limit_s": cfg.duration,
        "slo_ms": cfg.slo.to_ms_dict(),
        "latency_unit": "ms",
        "client": f"groqstream {__version__}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "event_loop": _event_loop(),
        "simulated_server": simulated,
    }


def _ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1000, 3)


def request_row(level: int, r: Result, t0_ns: int) -> dict[str, Any]:
    """One request's line of `requests.jsonl` (`start_ms` counted from `t0_ns`)."""
    m = r.metrics
    return {
        "concurrency": level,
        "index": r.index,
        "ok": r.error is None,
        "error": None if r.error is None else {"kind": r.error.kind, "message": str(r.error)},
        "attempts": r.attempts,
        "queue_wait_ms": _ms(r.queue_wait_s),
        "start_ms": round((m.start_ns - t0_ns) / 1e6, 3) if m else None,
        "ttft_ms": _ms(m.ttft_s) if m else None,
        "tpot_ms": _ms(m.tpot_s) if m else None,
        "e2el_ms": _ms(m.e2el_s) if m else None,
        "itl_ms": [round(x * 1000, 3) for x in m.itl_s] if m else [],
        "prompt_tokens": m.prompt_tokens if m else None,
        "output_tokens": m.output_tokens if m else None,
        "server_total_ms": _ms(m.server_total_s) if m else None,
        "server_queue_ms": _ms(m.server_queue_s) if m else None,
        "server_prompt_ms": _ms(m.server_prompt_s) if m else None,
        "connect_ms": _ms(m.connect_s) if m else None,
        "tls_ms": _ms(m.tls_s) if m else None,
        "ttft_network_client_ms": _ms(m.ttft_network_client_s) if m else None,
        "loop_lag_ms": _ms(m.loop_lag_s) if m else None,
        "lag_suspect": m.lag_suspect if m else False,
        "finish_reason": r.finish_reason,
        "request_id": r.request_id,
    }


def level_start_ns(results: Sequence[Result]) -> int:
    """When the first of `results` was sent (`perf_counter_ns`; 0 if none was)."""
    starts = [r.metrics.start_ns for r in results if r.metrics is not None]
    return min(starts) if starts else 0


def level_rows(lv: LevelResult) -> Iterator[dict[str, Any]]:
    """A level's `requests.jsonl` rows: those it carries, else made from its results."""
    if lv.rows is not None:
        yield from lv.rows
        return
    t0 = level_start_ns(lv.results)
    for r in lv.results:
        yield request_row(lv.concurrency, r, t0)


def write_outputs(
    out: Path,
    cfg: SweepConfig,
    levels: Sequence[LevelResult],
    base_url: str,
    *,
    meta: dict[str, Any] | None = None,
    html: bool = True,
) -> list[Path]:
    """Write c<N>.json per level, bench.json, requests.jsonl and (with `html`, which needs
    the `report` extra) report.html; return the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    per_level = [level_json(cfg, lv, base_url) for lv in levels]
    written = []
    for lv, d in zip(levels, per_level, strict=True):
        p = out / f"c{lv.concurrency}.json"
        p.write_bytes(orjson.dumps(d, option=_JSON))
        written.append(p)
    combined = {
        "meta": meta if meta is not None else bench_meta(cfg, base_url),
        "base_url": base_url,
        "model_id": cfg.model,
        "concurrency": [lv.concurrency for lv in levels],
        "levels": per_level,
    }
    (out / "bench.json").write_bytes(orjson.dumps(combined, option=_JSON))
    with (out / "requests.jsonl").open("wb") as f:
        for lv in levels:
            for row in level_rows(lv):
                f.write(orjson.dumps(row) + b"\n")
    written += [out / "bench.json", out / "requests.jsonl"]
    if html:
        from .html import write_report
        from .runs import load_run

        written.append(write_report([load_run(out)], out / "report.html"))
    return written
