"""The same batch at 1 and 2 Ray workers (and, for reference, the single-process runner).

    python benchmarks/ray_batch_bench.py                        # 10,000 requests × 50 chunks
    python benchmarks/ray_batch_bench.py --requests 2000 --workers 1,2,4

The lean benchmark server (benchmarks/sse_server.py) runs in its own process, paced at 50 ms
TTFT and 10 ms between chunks; each worker runs `concurrency` streams, so at 256 per worker
one event loop is the bottleneck (docs/benchmarks.md's fan-out benchmark tops out near 380 req/s
there) and more workers add client cores. Client and server share this machine: with two
cores, two workers and the server compete for them, which the figures show. Reported per
run: wall time (validation, Ray start-up of the workers and the merge included) with the
requests and output tokens per second it gives, the span from the first worker's start to
the last one's end (and requests per second within it), TTFT p50/p99 from the merged
sketches, client CPU per request (the workers' own CPU time), how busy the whole machine
was (/proc/stat: other users' load counts too), the worst worker's event-loop lag, and how
many results the merged file holds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from harness import HERE, SRC, server

MODEL = "moonshotai/kimi-k2-instruct"
TTFT, ITL = 0.05, 0.01


def write_input(path: Path, n: int, chunks: int) -> None:
    """n Batch API lines asking for `chunks` tokens each."""
    with path.open("wb") as f:
        for i in range(n):
            body = {
                "model": MODEL,
                "messages": [{"role": "user", "content": f"prompt {i}"}],
                "max_tokens": chunks,
            }
            line = {"custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions"}
            f.write(orjson.dumps({**line, "body": body}) + b"\n")


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Share of every core's time that was busy between two `machine_busy()` readings."""
    return (after[0] - before[0]) / max(1, after[1] - before[1])


def figures(
    name: str, wall: float, summary: Any, out: Path, cpu_s: float, busy: float
) -> dict[str, Any]:
    rep = summary.report
    return {
        "runner": name,
        "wall_s": wall,
        "client_cpu_s": cpu_s,
        "client_cpu_ms_per_request": cpu_s / max(1, rep.completed) * 1000,
        "machine_busy_share": busy,
        "workers_span_s": rep.duration_s,
        "req_per_s": rep.completed / wall,
        "req_per_s_in_span": rep.completed / rep.duration_s if rep.duration_s else None,
        "output_tok_per_s": rep.total_output_tokens / wall,
        "p50_ttft_ms": rep.ttft.p50 * 1000,
        "p99_ttft_ms": rep.ttft.p99 * 1000,
        "loop_lag_p99_ms": (rep.loop_lag_p99_s or 0) * 1000,
        "completed": rep.completed,
        "failed": rep.failed,
        "merged_lines": out.read_bytes().count(b"\n"),
    }


async def single(url: str, src: Path, tmp: Path, concurrency: int) -> dict[str, Any]:
    from groqstream import run_batch

    out = tmp / "single.jsonl"
    t0, c0, m0 = time.perf_counter(), time.process_time(), machine_busy()
    summary = await run_batch(src, out, base_url=url, concurrency=concurrency)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    busy = busy_share(m0, machine_busy())
    return figures("single process (no Ray)", wall, summary, out, cpu, busy)


async def distributed(
    url: str, src: Path, tmp: Path, workers: int, concurrency: int
) -> dict[str, Any]:
    from groqstream.distributed import run_batch

    out = tmp / f"ray{workers}.jsonl"
    t0, m0 = time.perf_counter(), machine_busy()
    summary = await run_batch(
        src, out, workers=workers, concurrency_per_worker=concurrency, base_url=url
    )
    wall, busy = time.perf_counter() - t0, busy_share(m0, machine_busy())
    cpu = sum(w.cpu_s for w in summary.workers)
    row = figures(f"Ray, {workers} worker(s)", wall, summary, out, cpu, busy)
    row["workers"] = workers
    return row


def table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    head = (
        f"Batch on Ray · {args.requests:,} requests × {args.chunks} chunks, server paced "
        f"{TTFT * 1000:.0f} ms TTFT / {ITL * 1000:.0f} ms ITL, {args.concurrency} streams per "
        f"worker, {os.cpu_count()} cores shared by client and server · "
        "`python benchmarks/ray_batch_bench.py`\n\n"
        "| runner | wall s | req/s | output tok/s | workers' span s (req/s in it) "
        "| client CPU ms/request | machine busy | TTFT p50/p99 ms | worst loop lag p99 ms "
        "| results |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [
        f"| {r['runner']} | {r['wall_s']:.1f} | {r['req_per_s']:.0f} | "
        f"{r['output_tok_per_s']:,.0f} | {r['workers_span_s']:.1f} "
        f"({r['req_per_s_in_span'] or 0:.0f}) | {r['client_cpu_ms_per_request']:.2f} | "
        f"{r['machine_busy_share']:.0%} | {r['p50_ttft_ms']:.1f} / {r['p99_ttft_ms']:.1f} | "
        f"{r['loop_lag_p99_ms']:.1f} | {r['merged_lines']:,} |"
        for r in rows
    ]
    return "\n".join([head, *lines])


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    import ray

    levels = [int(x) for x in args.workers.split(",")]
    ray.init(
        num_cpus=max(levels),
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(SRC)}},  # a checkout without install
    )
    rows = []
    try:
        with tempfile.TemporaryDirectory() as d, server(TTFT, ITL, args.chunks) as url:
            tmp = Path(d)
            src = tmp / "in.jsonl"
            write_input(src, args.requests, args.chunks)
            if not args.no_single:
                rows.append(await single(url, src, tmp, args.concurrency))
                print(json.dumps(rows[-1]), file=sys.stderr)
            for w in levels:
                rows.append(await distributed(url, src, tmp, w, args.concurrency))
                print(json.dumps(rows[-1]), file=sys.stderr)
    finally:
        ray.shutdown()
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--chunks", type=int, default=50)
    p.add_argument("--concurrency", type=int, default=256, help="streams per worker")
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    p.add_argument("--no-single", action="store_true", help="skip the no-Ray reference run")
    p.add_argument("--out", default=str(HERE / "results" / "ray_batch"), help="path stem")
    a = p.parse_args()
    results = asyncio.run(main(a))
    md = table(results, a)
    print(md)
    Path(a.out + ".json").write_text(json.dumps(results, indent=2))
    Path(a.out + ".md").write_text(md + "\n")
