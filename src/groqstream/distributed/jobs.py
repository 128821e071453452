"""The driver side: plan the job, start the coordinator and the workers on Ray, show one
progress line, merge the shards' files and the workers' sketches at the end."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import anyio.to_thread
import orjson

from .._transport import Timeouts
from ..batch import BatchInputError, BatchSummary, errors_path_for, write_json
from ..bench.runner import LevelResult, SweepConfig
from ..errors import ConfigError, GroqStreamError
from ..fanout import Progress
from ..report import SLO, LatencyAccumulator, LatencyReport
from ._ray import ray_session
from .limits import Coordinator
from .progress import job_progress
from .shards import (
    ShardPlan,
    check_shard,
    find_duplicates,
    merge_shards,
    shard_counts,
    shards_dir_for,
)
from .worker import (
    BenchShare,
    ClientOptions,
    ShardOutcome,
    ShardSpec,
    WorkerOutcome,
    run_bench_share,
    run_shard,
    split_level,
)

__all__ = ["DistributedBatchSummary", "DistributedLevel", "run_batch", "run_sweep"]

log = logging.getLogger("groqstream.distributed")

T = TypeVar("T")
_POLL = 0.5
_CANCEL_WAIT = 30.0


@dataclass(frozen=True, slots=True)
class DistributedBatchSummary(BatchSummary):
    """A `BatchSummary` plus what each worker's final attempt did."""

    workers: tuple[ShardOutcome, ...] = ()


@dataclass(slots=True)
class DistributedLevel(LevelResult):
    """One bench level run by many workers: `results` is empty (workers send sketches and
    per-request rows, not results); the report is merged from their sketches, with each
    worker's loop lag kept, and `rows` from their rows."""

    workers: tuple[WorkerOutcome, ...] = ()


def _merged_report(
    outcomes: Sequence[WorkerOutcome], slo: SLO
) -> tuple[LatencyReport, LatencyAccumulator]:
    """One report from the workers' sketches: duration from the first worker's start to the
    last one's end (wall clock), loop lag the worst worker's (each checked its own loop)."""
    acc = LatencyAccumulator(keep_requests=False)
    for o in outcomes:
        acc.merge(o.latency)
    started = min((o.started for o in outcomes), default=0.0)
    ended = max((o.ended for o in outcomes), default=0.0)
    report = acc.report(duration_s=max(0.0, ended - started), slo=slo)
    lag_max = [o.loop_lag_max_s for o in outcomes if o.loop_lag_max_s is not None]
    lag_p99 = [o.loop_lag_p99_s for o in outcomes if o.loop_lag_p99_s is not None]
    report = dataclasses.replace(
        report,
        loop_lag_max_s=max(lag_max) if lag_max else None,
        loop_lag_p99_s=max(lag_p99) if lag_p99 else None,
    )
    return report, acc


def _unwrap(e: BaseException) -> BaseException:
    """A Ray task's error as the worker raised it, when it was one of ours."""
    cause = getattr(e, "cause", None)
    return cause if isinstance(cause, GroqStreamError) else e


def _ticker(
    on_progress: Callable[[Progress], None] | None,
    *,
    workers: int,
    total: int | None,
    skipped: dict[int, int],
) -> Callable[..., None] | None:
    """What turns the coordinator's reports into `on_progress` calls for one job (None when
    nobody listens, so the coordinator is not asked); its clock starts now."""
    if on_progress is None:
        return None
    started = time.monotonic()
    report = on_progress

    def tick(reports: dict[int, Any], finished: bool = False) -> None:
        elapsed = time.monotonic() - started
        report(
            job_progress(
                reports,
                workers=workers,
                total=total,
                skipped=skipped,
                elapsed_s=elapsed,
                finished=finished,
            )
        )

    return tick


async def _gather(
    ray: ModuleType,
    refs: list[Any],
    coordinator: Any,
    on_tick: Callable[[dict[int, Any]], None] | None,
) -> list[Any]:
    """Wait for every task, feeding the coordinator's progress reports to `on_tick`. If the
    wait is cancelled, so are the tasks (their processes killed, as a driver's death would):
    a later run resumes their shards."""
    futures = [asyncio.wrap_future(r.future()) for r in refs]
    pending: set[asyncio.Future[Any]] = set(futures)
    try:
        while pending:
            _, pending = await asyncio.wait(pending, timeout=_POLL)
            if on_tick is not None:
                on_tick(await coordinator.progress.remote())
    except BaseException:
        for ref, fut in zip(refs, futures, strict=True):
            if not fut.done():
                with contextlib.suppress(Exception):
                    ray.cancel(ref, force=True)
        if pending:  # until their processes are gone: nothing runs on behind a stopped job
            await asyncio.wait(pending, timeout=_CANCEL_WAIT)
        raise
    errors = [e for e in (f.exception() for f in futures) if e is not None]
    if errors:
        cause = _unwrap(errors[0])
        if cause is not errors[0]:
            raise cause from None
        raise GroqStreamError(f"a worker failed after its retries: {errors[0]}") from errors[0]
    return [f.result() for f in futures]


def _remote(ray: ModuleType, fn: Callable[..., T], **options: Any) -> Any:
    return ray.remote(**options)(fn)


@contextlib.contextmanager
def _coordinator(ray: ModuleType, rpm: float | None, tpm: float | None) -> Iterator[Any]:
    """The job's coordinator actor (no CPU of its own), killed when the job ends."""
    actor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(Coordinator).remote(
        rpm, tpm
    )
    try:
        yield actor
    finally:
        ray.kill(actor)


def _written(shards: list[Path]) -> tuple[list[int], int]:
    """Results each shard holds already (output and errors), and the failures among them."""
    counts = [shard_counts(p) for p in shards]
    return [ok + bad for ok, bad in counts], sum(bad for _, bad in counts)


def _cluster_cpus(ray: ModuleType) -> int:
    """One worker per CPU of the Ray instance (this machine's cores, or the cluster's)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking file work off the event loop."""
    return await anyio.to_thread.run_sync(fn, *args)


async def _validate(ray: ModuleType, plan: ShardPlan) -> int:
    """Check every shard in parallel, then duplicates across shards; the total requests."""
    check = _remote(ray, check_shard, num_cpus=1)
    refs = [check.remote(plan.input, r) for r in plan.ranges]
    checked = await asyncio.gather(*(asyncio.wrap_future(r.future()) for r in refs))
    problems = [p for _, _, probs in checked for p in probs]
    if not problems:
        problems = await _in_thread(find_duplicates, plan.input, [h for _, h, _ in checked])
    if problems:
        raise BatchInputError(problems)
    return sum(count for count, _, _ in checked)


def _without_nulls(value: Any) -> Any:
    """Arrow gives every row every key any row has (null where absent): drop those again,
    so a request carries only the parameters its own row set."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_without_nulls(v) for v in value]
    return value


def _spool(dataset: Any, path: Path) -> None:
    """Write a `ray.data.Dataset` of Batch API rows to JSONL once, streaming."""
    tmp = path.with_name(path.name + ".tmp")
    option = orjson.OPT_SERIALIZE_NUMPY
    with tmp.open("wb") as f:
        for row in dataset.iter_rows():
            f.write(orjson.dumps(_without_nulls(dict(row)), option=option) + b"\n")
    os.replace(tmp, path)


def _plan(source: Any, out: Path, directory: Path, workers: int | None, default: int) -> ShardPlan:
    """This job's plan: the saved one when resuming (same input, same shards), else a new
    one over `workers` shards (`default` if not given)."""
    plan = ShardPlan.load(directory)
    if plan is None and out.exists() and out.stat().st_size:
        raise ConfigError(
            f"{out} exists but was not written by a distributed run: resume it without "
            "--workers, or choose another output"
        )
    if isinstance(source, Path):
        src = source
    else:  # a ray.data.Dataset: spooled beside the shards, once
        src = directory / "input.jsonl"
        if plan is None:
            directory.mkdir(parents=True, exist_ok=True)
            _spool(source, src)
    if plan is not None:
        plan.check_same_input(src)
        if workers is not None and workers != len(plan.ranges):
            log.warning(
                "resuming with the job's %d shards (it began with that many workers), not %d",
                len(plan.ranges),
                workers,
            )
        return dataclasses.replace(plan, input=src.resolve())  # the same file, maybe moved
    return ShardPlan.split(src, workers or default)


async def run_batch(
    input: str | os.PathLike[str] | Any,
    output: str | os.PathLike[str],
    *,
    workers: int | None = None,
    concurrency_per_worker: int = 64,
    ray_address: str | None = None,
    base_url: str | None = None,
    model: str | None = None,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    report_path: str | os.PathLike[str] | None = None,
    slo: SLO | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    client_timeout: Timeouts | float | None = None,
    max_retries: int = 2,
    headers: dict[str, str] | None = None,
    max_worker_retries: int = 3,
    num_cpus: int | None = None,
) -> DistributedBatchSummary:
    """Run a Batch API file (or a `ray.data.Dataset` of its rows) on Ray, exactly once.

    The input is cut into `workers` byte ranges (default: one per Ray CPU); each worker runs
    the resumable single-process runner over its range with `concurrency_per_worker`
    streams, writing `out.shards/shard-N.jsonl`. RPM/TPM and the server's rate-limit
    signals hold for the whole job. A worker that dies is retried by Ray and resumes its
    shard; re-running the same call after a crash resumes every shard. At the end the
    shards are merged into `output` and its errors file, in the single-process format.
    `ray_address` joins a cluster (`ray start --head`); otherwise a local Ray instance
    uses this machine's cores (`num_cpus` of them if given).
    """
    out = Path(output)
    directory = shards_dir_for(out)
    source = Path(input) if isinstance(input, (str, os.PathLike)) else input
    opts = ClientOptions(base_url, client_timeout, max_retries, headers)
    slo = slo or SLO()
    with ray_session(ray_address, num_cpus=num_cpus) as ray:
        plan = await _in_thread(_plan, source, out, directory, workers, _cluster_cpus(ray))
        total = await _validate(ray, plan)
        plan.save(directory)
        shards = plan.shard_paths(directory)
        done, failed_before = await _in_thread(_written, shards)
        before = dict(enumerate(done))
        tick = _ticker(on_progress, workers=len(plan.ranges), total=total, skipped=before)
        with _coordinator(ray, requests_per_minute, tokens_per_minute) as coord:
            specs = [
                ShardSpec(
                    index=i,
                    input=plan.input,
                    byte_range=r,
                    output=shards[i],
                    lock=shards[i].with_suffix(".lock"),
                    model=model,
                    concurrency=concurrency_per_worker,
                    requests_per_minute=requests_per_minute,
                    tokens_per_minute=tokens_per_minute,
                    client=opts,
                    slo=slo,
                )
                for i, r in enumerate(plan.ranges)
            ]
            task = _remote(ray, run_shard, num_cpus=1, max_retries=max_worker_retries)

            outcomes: list[ShardOutcome] = await _gather(
                ray, [task.remote(s, coord) for s in specs], coord, tick
            )
            if tick is not None:
                tick(await coord.progress.remote(), finished=True)
    succeeded, failed = await _in_thread(merge_shards, plan, directory, out, total)
    report, merged = _merged_report(outcomes, slo)
    if report_path is not None:
        await _in_thread(write_json, Path(report_path), report.to_dict())
    skipped = sum(before.values())
    return DistributedBatchSummary(
        total=total,
        skipped=skipped,
        succeeded=succeeded - (skipped - failed_before),
        failed=failed - failed_before,
        output_path=out,
        errors_path=errors_path_for(out),
        report=report,
        latency=merged,
        workers=tuple(outcomes),
    )


async def run_sweep(
    cfg: SweepConfig,
    *,
    workers: int | None = None,
    base_url: str | None = None,
    ray_address: str | None = None,
    on_progress: Callable[[int, Progress], None] | None = None,
    client_timeout: Timeouts | float | None = None,
    headers: dict[str, str] | None = None,
    num_cpus: int | None = None,
) -> list[DistributedLevel]:
    """`groqstream bench` spread over `workers` Ray workers: each level's concurrency,
    requests and arrival rate are divided among them (default: one per Ray CPU), and its
    report is merged from their
    sketches (each worker checks its own event loop's lag; the worst one is reported)."""
    opts = ClientOptions(base_url, client_timeout, 0, headers)
    levels: list[DistributedLevel] = []
    with ray_session(ray_address, num_cpus=num_cpus) as ray:
        task = _remote(ray, run_bench_share, num_cpus=1, max_retries=0)
        workers = workers or _cluster_cpus(ray)
        for level in cfg.concurrency:
            with _coordinator(ray, None, None) as coord:
                shares = [
                    BenchShare(k, level, part, opts)
                    for k, part in enumerate(split_level(cfg, level, workers))
                ]
                tick = _ticker(
                    None if on_progress is None else functools.partial(on_progress, level),
                    workers=len(shares),
                    total=cfg.requests,
                    skipped={},
                )
                outcomes: list[WorkerOutcome] = await _gather(
                    ray, [task.remote(s, coord) for s in shares], coord, tick
                )
                if tick is not None:
                    tick(await coord.progress.remote(), finished=True)
            report, _ = _merged_report(outcomes, cfg.slo)
            rows = merged_rows(outcomes)
            levels.append(DistributedLevel(level, [], report, rows, workers=tuple(outcomes)))
    return levels


def merged_rows(outcomes: Sequence[WorkerOutcome]) -> list[dict[str, Any]]:
    """The workers' `requests.jsonl` rows as one level's: `start_ms` from the level's first
    request on any worker, `index` unique across workers (worker by worker, in order)."""
    with_rows = [o for o in sorted(outcomes, key=lambda o: o.worker) if o.rows]
    t0 = min((o.rows_t0 for o in with_rows), default=0.0)
    rows: list[dict[str, Any]] = []
    for o in with_rows:
        shift = (o.rows_t0 - t0) * 1000
        base = len(rows)
        for row in o.rows:
            start = row.get("start_ms")
            start = None if start is None else round(start + shift, 3)
            rows.append({**row, "index": base + row["index"], "start_ms": start})
    return rows
