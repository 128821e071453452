"""What runs inside a Ray worker process: one event loop, one `Client`, one `fan_out` over
a shard of the job (many streams at once, never one Ray task per request)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from .._transport import Timeouts
from ..batch import run_batch
from ..bench.output import level_start_ns, request_row
from ..bench.runner import SweepConfig, run_sweep
from ..client import Client
from ..fanout import Progress
from ..report import SLO, LatencyAccumulator
from .limits import DistributedGate, WorkerProgress
from .shards import ShardLock, shard_counts

__all__ = ["BenchShare", "ShardOutcome", "ShardSpec", "WorkerOutcome", "run_bench_share"]

T = TypeVar("T")
_PROGRESS_EVERY = 0.5


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """How each worker builds its `Client`. The API key is not here: workers read it from
    their own environment (`GROQ_API_KEY` for Groq, see `groqstream.client.api_key_env`), so
    it never travels through Ray."""

    base_url: str | None = None
    timeout: Timeouts | float | None = None
    max_retries: int = 2
    headers: dict[str, str] | None = None

    def client(self, concurrency: int) -> Client:
        """A client sized for `concurrency` streams."""
        return Client(
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            headers=self.headers,
            max_connections=max(100, concurrency),
        )


@dataclass(frozen=True, slots=True)
class WorkerOutcome:
    """What a worker sends back: counts, its mergeable figures, its event loop's lag, when
    it ran (wall clock, for the job's duration), the CPU time its process spent, and where."""

    worker: int
    latency: LatencyAccumulator
    started: float
    ended: float
    loop_lag_max_s: float | None
    loop_lag_p99_s: float | None
    cpu_s: float = 0.0
    pid: int = field(default_factory=os.getpid)
    node: str = field(default_factory=lambda: _node_id())
    rows: tuple[dict[str, Any], ...] = ()  # a bench share's requests.jsonl rows (bounded)
    rows_t0: float = 0.0  # wall-clock time its rows' start_ms count from


@dataclass(frozen=True, slots=True)
class ShardOutcome(WorkerOutcome):
    """A batch shard's outcome (this attempt's figures; its files hold every attempt's)."""

    succeeded: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class ShardSpec:
    """One batch shard: which lines, where its results go, how to send them."""

    index: int
    input: Path
    byte_range: tuple[int, int]
    output: Path
    lock: Path
    model: str | None
    concurrency: int
    requests_per_minute: float | None
    tokens_per_minute: float | None
    client: ClientOptions
    slo: SLO


def _node_id() -> str:
    """The Ray node this process runs on ("" outside Ray)."""
    try:
        import ray

        return str(ray.get_runtime_context().get_node_id())
    except Exception:
        return ""


def run_loop(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a worker's coroutine on uvloop when installed (the `fast` extra), else asyncio."""
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return asyncio.run(main())
    result: T = uvloop.run(main())
    return result


class _ProgressPusher:
    """Keeps a worker's latest `Progress` and sends it to the coordinator every half second
    (piggy-backed on the gate's sync loop: no extra task)."""

    def __init__(self, coordinator: Any, worker: int, skipped: int) -> None:
        self._coord = coordinator
        self._worker = worker
        self._skipped = skipped
        self._latest: Progress | None = None
        self._sent = 0.0

    def __call__(self, p: Progress) -> None:
        self._latest = p
        if p.finished:
            self.push()

    def push(self) -> None:
        now = time.monotonic()
        p = self._latest
        if p is None or (now - self._sent < _PROGRESS_EVERY and not p.finished):
            return
        self._sent = now
        report = WorkerProgress(self._worker, os.getpid(), self._skipped, p)
        self._coord.put_progress.remote(report)


def run_shard(spec: ShardSpec, coordinator: Any) -> ShardOutcome:
    """A Ray task's body: own the shard (waiting out a previous attempt), then run it with
    the resumable single-process runner, skipping what earlier attempts wrote."""
    with ShardLock(spec.lock, _node_id()):
        return run_loop(lambda: _shard(spec, coordinator))


async def _shard(spec: ShardSpec, coordinator: Any) -> ShardOutcome:
    skipped = sum(shard_counts(spec.output))
    push = _ProgressPusher(coordinator, spec.index, skipped)
    started, cpu = time.time(), time.process_time()
    async with (
        spec.client.client(spec.concurrency) as client,
        DistributedGate(
            coordinator,
            requests_per_minute=spec.requests_per_minute,
            tokens_per_minute=spec.tokens_per_minute,
            concurrency=spec.concurrency,
            on_sync=push.push,
        ) as gate,
    ):
        summary = await run_batch(
            spec.input,
            spec.output,
            client=client,
            model=spec.model,
            concurrency=spec.concurrency,
            byte_range=spec.byte_range,
            gate=gate,
            on_progress=push,
        )
    assert summary.latency is not None
    return ShardOutcome(
        worker=spec.index,
        latency=summary.latency.compact([spec.slo]),
        started=started,
        ended=time.time(),
        loop_lag_max_s=summary.report.loop_lag_max_s,
        loop_lag_p99_s=summary.report.loop_lag_p99_s,
        cpu_s=time.process_time() - cpu,
        succeeded=summary.succeeded,
        failed=summary.failed,
    )


MAX_ROWS_PER_WORKER = 200_000  # per-request rows a bench share sends back, at most


@dataclass(frozen=True, slots=True)
class BenchShare:
    """One worker's part of one bench level: its concurrency, requests and arrival rate."""

    worker: int
    level: int
    config: SweepConfig
    client: ClientOptions


def run_bench_share(share: BenchShare, coordinator: Any) -> WorkerOutcome:
    """A Ray task's body: this worker's part of a bench level through `run_sweep`."""
    return run_loop(lambda: _bench_share(share, coordinator))


async def _bench_share(share: BenchShare, coordinator: Any) -> WorkerOutcome:
    push = _ProgressPusher(coordinator, share.worker, 0)
    cfg = share.config
    cpu = time.process_time()
    async with share.client.client(cfg.concurrency[0]) as client:

        def progress(level: int, p: Progress) -> None:
            push(p)
            push.push()

        (lv,) = await run_sweep(client, cfg, on_progress=progress)
    ended = time.time()
    acc = LatencyAccumulator()
    for r in lv.results:
        acc.add(r)
    t0 = level_start_ns(lv.results)
    rows = tuple(request_row(share.level, r, t0) for r in lv.results[:MAX_ROWS_PER_WORKER])
    return WorkerOutcome(
        worker=share.worker,
        latency=acc.compact([cfg.slo]),
        started=ended - lv.report.duration_s,
        ended=ended,
        loop_lag_max_s=lv.report.loop_lag_max_s,
        loop_lag_p99_s=lv.report.loop_lag_p99_s,
        cpu_s=time.process_time() - cpu,
        rows=rows,
        rows_t0=ended - (time.perf_counter_ns() - t0) / 1e9 if t0 else ended,
    )


def split_level(cfg: SweepConfig, level: int, workers: int) -> list[SweepConfig]:
    """One level of a sweep cut into per-worker configs: concurrency and requests divided
    as evenly as they go, the arrival rate in proportion (a sum of Poisson processes is the
    Poisson process of the summed rate), a different seed each."""
    out = []
    n = max(1, min(workers, level))
    for k in range(n):
        conc = level // n + (k < level % n)
        reqs = cfg.requests // n + (k < cfg.requests % n)
        if conc < 1 or reqs < 1:
            continue
        rate = None if cfg.rate is None else cfg.rate * conc / level
        out.append(
            replace(
                cfg,
                concurrency=[conc],
                requests=reqs,
                rate=rate,
                seed=cfg.seed + 1_000_003 * k,
            )
        )
    return out
