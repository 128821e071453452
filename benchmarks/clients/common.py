"""What every benchmark client shares: arguments, the bounded run loop, and the JSON line.

A client module defines `open(url, concurrency)` returning a context, `one(ctx, n, record)`
returning `(completion id, request start ns, [(k, arrival ns), ...], chunks)`, and
`close(ctx)`; `main(module)` does the rest.
"""

from __future__ import annotations

import argparse
import asyncio
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
    return p.parse_args()


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
    cpu0, t0 = time.process_time(), time.perf_counter()
    try:
        await asyncio.wait_for(
            asyncio.gather(*(task(n) for n in range(a.requests))), timeout=a.timeout
        )
        timed_out = False
    except asyncio.TimeoutError:
        timed_out = True
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
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
        "errors": errors,
        "timed_out": timed_out,
        "peak_rss_mb": peak_rss_mb(),
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
    print(orjson.dumps(asyncio.run(_run(opener, one, closer, a))).decode(), flush=True)
