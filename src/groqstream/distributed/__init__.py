"""groqstream on Ray: batch and bench beyond one process — every core of a machine, then a
cluster — with job-wide rate limits, exactly-once output and reports merged from sketches.

Install the extra (``pip install 'groqstream[ray]'``); Ray is imported only when a job
starts, so ``import groqstream`` never imports it.

    summary = await groqstream.distributed.run_batch(
        "in.jsonl", "out.jsonl", workers=8, concurrency_per_worker=64, requests_per_minute=6000
    )

Each worker is a Ray task running the single-process `fan_out` over one shard of the input
(one event loop, many streams). See `run_batch`, `run_sweep`, `DistributedGate`.
"""

from .jobs import DistributedBatchSummary, DistributedLevel, run_batch, run_sweep
from .limits import Coordinator, DistributedGate, Lease, WorkerProgress
from .progress import JobProgress, JobProgressLine, job_progress
from .shards import ShardPlan, shards_dir_for

__all__ = [
    "Coordinator",
    "DistributedBatchSummary",
    "DistributedGate",
    "DistributedLevel",
    "JobProgress",
    "JobProgressLine",
    "Lease",
    "ShardPlan",
    "WorkerProgress",
    "job_progress",
    "run_batch",
    "run_sweep",
    "shards_dir_for",
]
