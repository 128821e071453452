"""The sweep: one `fan_out` per concurrency level, with an optional arrival process."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from ..client import StreamSource
from ..fanout import Progress, Result
from ..report import SLO, LatencyReport
from .workload import arrival_gaps, synthetic_prompt

__all__ = ["LevelResult", "SweepConfig", "run_sweep"]


@dataclass(frozen=True, slots=True)
class SweepConfig:
    """What to run: the levels, how many requests per level, their shape and arrival."""

    model: str
    concurrency: list[int]
    requests: int = 200
    input_tokens: int = 128
    output_tokens: int = 128
    rate: float | None = None
    burstiness: float = 1.0
    duration: float | None = None
    slo: SLO = field(default_factory=SLO)
    seed: int = 0


@dataclass(slots=True)
class LevelResult:
    """One concurrency level's results and their report. `rows` holds the level's
    per-request rows (`requests.jsonl`) when they were made elsewhere (a level run on Ray
    workers ships rows, not results); None: they are made from `results`."""

    concurrency: int
    results: list[Result]
    report: LatencyReport
    rows: list[dict[str, Any]] | None = None

    def server_split(self) -> dict[str, float] | None:
        """Mean E2EL split into the server's own total time and the rest (network + queue +
        client), when the server reports its timings; None otherwise."""
        pairs = [
            (r.metrics.e2el_s, r.metrics.server_total_s)
            for r in self.results
            if r.metrics is not None and r.metrics.server_total_s is not None
        ]
        if not pairs:
            return None
        e2el = sum(p[0] for p in pairs) / len(pairs)
        srv = sum(p[1] for p in pairs) / len(pairs)
        return {
            "e2el_ms": e2el * 1000,
            "server_ms": srv * 1000,
            "network_queue_ms": (e2el - srv) * 1000,
        }

    def ttft_split(self) -> dict[str, float] | None:
        """Mean TTFT split into connect, TLS, the server's queue, its prompt processing and the
        rest (network + client), in ms, over the requests whose server gave those timings
        (Groq's `x_groq.usage`); None otherwise."""
        splits = [
            s for r in self.results if r.metrics is not None and (s := r.metrics.ttft_split())
        ]
        if not splits:
            return None
        n = len(splits)
        parts = ("connect", "tls", "queue", "prompt", "network")
        return {f"{k}_ms": sum(s[k] for s in splits) * 1000 / n for k in parts}


async def _requests(cfg: SweepConfig, level: int) -> AsyncIterator[dict[str, Any]]:
    gaps = arrival_gaps(cfg.rate, cfg.burstiness, seed=cfg.seed + level)
    start = time.monotonic()
    i = 0
    while i < cfg.requests:
        if cfg.duration is not None and time.monotonic() - start >= cfg.duration:
            return
        gap = next(gaps)
        if gap > 0:
            await anyio.sleep(gap)
        yield {
            "prompt": synthetic_prompt(cfg.input_tokens, cfg.seed * 1_000_003 + level * 10_007 + i),
            "max_tokens": cfg.output_tokens,
        }
        i += 1


async def run_sweep(
    client: StreamSource,
    cfg: SweepConfig,
    *,
    on_progress: Callable[[int, Progress], None] | None = None,
    on_level: Callable[[LevelResult], None] | None = None,
) -> list[LevelResult]:
    """Run every level in turn (a short warm-up first) and return their results.

    `on_progress(level, progress)` is called as a level runs; `on_level(result)` as soon as
    a level finishes, so a caller can print its row at once (and keep the finished levels
    when the sweep is interrupted).
    """
    await client.complete(model=cfg.model, prompt="warm up", max_tokens=1)
    levels = []
    for level in cfg.concurrency:

        def progress(p: Progress, level: int = level) -> None:
            if on_progress is not None:
                on_progress(level, p)

        fan = client.fan_out(
            _requests(cfg, level),
            concurrency=level,
            model=cfg.model,
            on_progress=progress,
            slos=() if cfg.slo.empty else (cfg.slo,),
        )
        results = await fan.collect()
        lv = LevelResult(level, results, fan.report(cfg.slo))
        levels.append(lv)
        if on_level is not None:
            on_level(lv)
    return levels
