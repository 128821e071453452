"""One live progress line for a whole job, from every worker's reports."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

from ..cli.progress import Snapshot, live_progress
from ..fanout import Progress
from .limits import WorkerProgress

__all__ = ["JobProgress", "JobProgressLine", "job_progress"]


@dataclass(frozen=True, slots=True)
class JobProgress(Progress):
    """A `Progress` for the whole job (so any progress renderer takes it), plus each
    worker's requests in flight. `done` counts results written by earlier attempts and
    runs too; rates are this run's; `p50_ttft_s` is the median of the workers' medians."""

    in_flight_by_worker: tuple[int, ...] = ()


def job_progress(
    reports: Mapping[int, WorkerProgress],
    *,
    workers: int,
    total: int | None,
    skipped: Mapping[int, int],
    elapsed_s: float,
    finished: bool = False,
) -> JobProgress:
    """Sum the workers' latest reports (a worker not heard from yet counts what its shard
    already held)."""
    done = failed = in_flight = 0
    req_s = tok_s = 0.0
    ttfts = []
    by_worker = []
    for w in range(workers):
        r = reports.get(w)
        if r is None:
            done += skipped.get(w, 0)
            by_worker.append(0)
            continue
        p = r.progress
        done += r.skipped + p.done
        failed += p.failed
        in_flight += p.in_flight
        by_worker.append(p.in_flight)
        req_s += p.req_per_s
        tok_s += p.tokens_per_s
        if p.p50_ttft_s is not None:
            ttfts.append(p.p50_ttft_s)
    return JobProgress(
        done=done,
        failed=failed,
        in_flight=in_flight,
        total=total,
        elapsed_s=elapsed_s,
        req_per_s=req_s,
        tokens_per_s=tok_s,
        p50_ttft_s=statistics.median(ttfts) if ttfts else None,
        finished=finished,
        in_flight_by_worker=tuple(by_worker),
    )


class JobProgressLine:
    """The CLI's live progress line for a whole job (an `on_progress` callback), each
    worker's in-flight count in its label; it clears itself when the job is finished."""

    def __init__(self, stream: TextIO | None = None, *, every: float = 5.0) -> None:
        self._live = live_progress(stream, every=every)

    @staticmethod
    def label(p: Progress) -> str:
        """`job`, or `job · per worker 12|9` with more than one worker."""
        if isinstance(p, JobProgress) and len(p.in_flight_by_worker) > 1:
            return "job · per worker " + "|".join(str(n) for n in p.in_flight_by_worker)
        return "job"

    def __call__(self, p: Progress) -> None:
        """Show one snapshot."""
        self._live.update(Snapshot.of(p, label=self.label(p), total=p.total))
        if p.finished:
            self._live.close()
