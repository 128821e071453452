"""What every benchmark client shares: arguments, the bounded run loop, and the JSON line.

A client module defines `open(url, concurrency)` returning a context, `one(ctx, n, record)`
returning `(completion id, request start ns, [(k, arrival ns), ...], chunks)`, and
`close(ctx)`; `main(module)` does the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

One = Callable[[Any, int, bool], Awaitable[tuple[str, int, list[tuple[int, int]], int]]]

MESSAGES = [{"role": "user", "content": "benchmark"}]


def args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True, help="base URL ending in /v1")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--requests", type=int, default=1)
    p.add_argument("--chunks", type=int, default=50)
    p.add_argument("--arrivals", default=None, help="write per-chunk arrival stamps here")
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument(
        "--stamps",
        choices=("user", "library"),
        default="user",
        help="record when user code got each chunk, or the library's own arrival stamp",
    )
    p.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    return p.parse_args()


class GCWatch:
    """Counts the cyclic collector's runs per generation and times their pauses (gc.callbacks),
    from `start()` on: what a GC pause landing on a first token costs is measured, not guessed."""

    def __init__(self) -> None:
        self.runs = [0, 0, 0]
        self.pause_ns = [0, 0, 0]
        self.max_ns = 0
        self._t0 = 0

    def _cb(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter_ns()
            return
        gen = info["generation"]
        took = time.perf_counter_ns() - self._t0
        self.runs[gen] += 1
        self.pause_ns[gen] += took
        self.max_ns = max(self.max_ns, took)

    def start(self) -> None:
        gc.callbacks.append(self._cb)

    def stop(self, requests: int) -> dict[str, float]:
        gc.callbacks.remove(self._cb)
        per_k = 1000 / max(1, requests)
        out = {f"gc_gen{g}_per_1k": self.runs[g] * per_k for g in range(3)}
        out["gc_pause_ms"] = sum(self.pause_ns) / 1e6
        out["gc_pause_max_ms"] = self.max_ns / 1e6
        out["gc_gen2_ms"] = self.pause_ns[2] / 1e6
        out["gc_tracked"] = float(len(gc.get_objects()))
        return out


async def _run(
    opener: Callable[[str, int], Awaitable[Any]],
    one: One,
    closer: Callable[[Any], Awaitable[None]],
    a: argparse.Namespace,
) -> dict[str, Any]:
    ctx = await opener(a.url, a.concurrency)
    record = a.arrivals is not None
    sem = asyncio.Semaphore(a.concurrency)
    rows: list[dict[str, Any]] = []
    chunks = errors = 0

    async def task(n: int) -> None:
        nonlocal chunks, errors
        async with sem:
            try:
                cid, start, arr, got = await one(ctx, n, record)
            except Exception as e:  # count, keep going: a benchmark reports failures
                errors += 1
                print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
                return
        chunks += got
        if record:
            rows.append({"id": cid, "start": start, "arr": arr})

    await one(ctx, -1, False)  # warm-up: connection, imports, first-call costs
    if os.environ.get("BENCH_GC_FREEZE"):
        gc.freeze()
    watch = GCWatch()
    watch.start()
    cpu0, t0 = time.process_time(), time.perf_counter()
    times0, ru0 = os.times(), resource.getrusage(resource.RUSAGE_SELF)
    try:
        await asyncio.wait_for(
            asyncio.gather(*(task(n) for n in range(a.requests))), timeout=a.timeout
        )
        timed_out = False
    except asyncio.TimeoutError:
        timed_out = True
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    times1, ru1 = os.times(), resource.getrusage(resource.RUSAGE_SELF)
    gc_stats = watch.stop(a.requests)
    await closer(ctx)
    if record:
        with open(a.arrivals, "wb") as f:
            for row in rows:
                f.write(orjson.dumps(row) + b"\n")
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "chunks": chunks,
        "requests": a.requests,
        "cpu_user_s": times1.user - times0.user,
        "cpu_sys_s": times1.system - times0.system,
        "wakeups": float(ru1.ru_nvcsw - ru0.ru_nvcsw),  # voluntary switches: the loop slept
        "preempted": float(ru1.ru_nivcsw - ru0.ru_nivcsw),
        "errors": errors,
        "timed_out": timed_out,
        "peak_rss_mb": peak_rss_mb(),
        **gc_stats,
    }


def peak_rss_mb() -> float:
    """This process's peak RSS. /proc's VmHWM, because ru_maxrss survives exec() on Linux and
    would report the launching process's size when that was larger."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(
    opener: Callable[[str, int], Awaitable[Any]],
    one: One,
    closer: Callable[[Any], Awaitable[None]],
) -> None:
    a = args()
    if a.loop == "uvloop":
        import uvloop

        uvloop.install()
    print(orjson.dumps(asyncio.run(_run(opener, one, closer, a))).decode(), flush=True)
