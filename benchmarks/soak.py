"""Soak: a million streams through one `Client`'s `fan_out`, 5 % of them faulty, memory flat.

    python benchmarks/soak.py                      # 1,000,000 requests (long: ~20 min on 2 cores)
    python benchmarks/soak.py --requests 50000     # a quick look
    python benchmarks/soak.py --json out.json      # figures as JSON too

The `SimulatedServer` runs in its own process (short replies: 4 tokens, no pacing). Every
80th request in four carries a fault in its body (`sim_fault`), so 5 % fail, each in one
known way: cut mid-stream (`StreamInterrupted`), an HTML page with status 200
(`ContentTypeError`), a 500 (`InternalServerError`), a stall after the first token
(`IdleTimeout`). With `max_retries=0` each request is one attempt, so the accounting is
exact: every index must come back exactly once, as a success or as its fault's error.

Printed: the accounting, asyncio tasks and open file descriptors before the client was
made and after it closed, RSS sampled every `--sample` results, and the RSS slope in MB per
million requests after warm-up (a least-squares line through the samples past 200,000, or
past 20 % of a shorter run), beside the plain growth from that point to the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from multiprocessing.sharedctypes import Synchronized
from typing import Any

MODEL = "llama-3.1-8b-instant"
FAULTS: dict[int, tuple[dict[str, Any], str]] = {
    0: ({"kind": "cut", "after_chunks": 1}, "StreamInterrupted"),
    1: ({"kind": "html", "status": 200}, "ContentTypeError"),
    2: ({"kind": "status", "status": 500}, "InternalServerError"),
    3: ({"kind": "stall", "after_chunks": 1, "seconds": 2.0}, "IdleTimeout"),
}
PERIOD = 80  # 4 faults in every 80 requests: 5 %
IDLE = 1.0  # the client's idle timeout: how long a stall costs (a loaded box stalls 0.25 s)


def expected(i: int) -> str | None:
    """The error kind request `i` must end with (None: success)."""
    fault = FAULTS.get(i % PERIOD)
    return fault[1] if fault else None


def requests(n: int) -> Iterator[dict[str, Any]]:
    for i in range(n):
        item: dict[str, Any] = {"prompt": f"soak {i}", "max_tokens": 4}
        fault = FAULTS.get(i % PERIOD)
        if fault is not None:
            item["sim_fault"] = fault[0]
        yield item


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def use_uvloop(choice: str) -> bool:
    if choice == "asyncio":
        return False
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if choice == "uvloop":
            raise
        return False
    return True


def serve(port: Synchronized[int], loop: str) -> None:
    """The server process: a fast SimulatedServer until killed."""
    from groqstream.testing import SimulatedServer

    async def main() -> None:
        async with SimulatedServer(
            ttft=0.0, tokens_per_second=1e6, output_tokens=4, max_records=1000
        ) as srv:
            port.value = srv.port
            await asyncio.Event().wait()

    if use_uvloop(loop):
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


def slope_mb_per_million(samples: list[tuple[int, float]], after: int) -> float:
    """Least-squares slope of RSS (MB) against requests done, per million, past `after`."""
    pts = [(n, r) for n, r in samples if n >= after]
    if len(pts) < 2:
        return float("nan")
    mx = sum(n for n, _ in pts) / len(pts)
    my = sum(r for _, r in pts) / len(pts)
    sxx = sum((n - mx) ** 2 for n, _ in pts)
    sxy = sum((n - mx) * (r - my) for n, r in pts)
    return sxy / sxx * 1e6 if sxx else float("nan")


async def soak(url: str, n: int, concurrency: int, every: int) -> dict[str, Any]:
    from groqstream import Client, Timeouts

    # One loopback connection first, so what the loop opens once for good (libuv keeps a
    # spare fd after its first socket) is in the baseline, not counted as a leak.
    host, port = url.split("//")[1].split("/")[0].split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    writer.close()
    await writer.wait_closed()
    tasks0, fds0 = len(asyncio.all_tasks()), open_fds()
    seen = bytearray(n)
    outcome: Counter[str] = Counter()
    wrong: list[tuple[int, str | None, str | None]] = []
    samples: list[tuple[int, float]] = [(0, rss_mb())]
    timeouts = Timeouts(connect=10, first_byte=30, idle=IDLE, total=120)
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    async with Client(base_url=url, timeout=timeouts, max_retries=0) as client:
        done = 0
        async for r in client.fan_out(requests(n), concurrency=concurrency, model=MODEL):
            seen[r.index] += 1
            got = None if r.error is None else r.error.kind
            outcome[got or "ok"] += 1
            if got != expected(r.index) and len(wrong) < 20:
                wrong.append((r.index, expected(r.index), got))
            elif got != expected(r.index):
                outcome["(more wrong)"] += 1
            done += 1
            if done % every == 0:
                samples.append((done, rss_mb()))
                if done % (every * 10) == 0:
                    rate = done / (time.perf_counter() - t0)
                    print(f"  {done:>9,}  RSS {samples[-1][1]:6.1f} MB  {rate:,.0f} req/s",
                          flush=True)  # fmt: skip
    wall = time.perf_counter() - t0
    await asyncio.sleep(0.5)  # let closed transports finish their callbacks
    warm = 200_000 if n >= 1_000_000 else n // 5
    at_warm = min((s for s in samples if s[0] >= warm), default=samples[-1])
    return {
        "requests": n,
        "concurrency": concurrency,
        "wall_s": round(wall, 1),
        "cpu_s": round(time.process_time() - cpu0, 1),
        "req_per_s": round(n / wall),
        "outcomes": dict(outcome),
        "each_exactly_once": seen.count(1) == n,
        "missing": seen.count(0),
        "duplicated": n - seen.count(0) - seen.count(1),
        "wrong_kind": wrong,
        "tasks_before_after": (tasks0, len(asyncio.all_tasks())),
        "fds_before_after": (fds0, open_fds()),
        "rss_start_mb": round(samples[0][1], 1),
        "rss_warm_mb": round(at_warm[1], 1),
        "rss_end_mb": round(samples[-1][1], 1),
        "warm_up_requests": at_warm[0],
        "growth_after_warm_up_mb": round(samples[-1][1] - at_warm[1], 2),
        "slope_mb_per_million": round(slope_mb_per_million(samples, warm), 2),
        "samples": samples,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--sample", type=int, default=5000, help="results between RSS samples")
    ap.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    ap.add_argument("--json", help="write the figures to this file")
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    port = ctx.Value("i", 0)
    proc = ctx.Process(target=serve, args=(port, args.loop), daemon=True)
    proc.start()
    try:
        deadline = time.monotonic() + 30
        while not port.value:
            if time.monotonic() > deadline or not proc.is_alive():
                sys.exit("the server process did not start")
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port.value}/openai/v1"
        run = soak(url, args.requests, args.concurrency, args.sample)
        if use_uvloop(args.loop):
            import uvloop

            figures = uvloop.run(run)
        else:
            figures = asyncio.run(run)
    finally:
        proc.kill()
        proc.join()
    figures["loop"] = "uvloop" if use_uvloop(args.loop) else "asyncio"
    report(figures)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    ok = (
        figures["each_exactly_once"]
        and not figures["wrong_kind"]
        and figures["tasks_before_after"][0] == figures["tasks_before_after"][1]
        and figures["fds_before_after"][0] == figures["fds_before_after"][1]
    )
    sys.exit(0 if ok else 1)


def report(f: dict[str, Any]) -> None:
    print(f"\nsoak: {f['requests']:,} requests at concurrency {f['concurrency']} ({f['loop']}),"
          f" {f['wall_s']} s wall, {f['cpu_s']} s client CPU, {f['req_per_s']:,} req/s")  # fmt: skip
    print(f"accounting: each exactly once = {f['each_exactly_once']} (missing {f['missing']},"
          f" duplicated {f['duplicated']}); wrong kind: {f['wrong_kind'] or 'none'}")  # fmt: skip
    for kind, count in sorted(f["outcomes"].items()):
        print(f"  {kind:<22} {count:>10,}")
    print(
        f"tasks before/after: {f['tasks_before_after']}   fds before/after: {f['fds_before_after']}"
    )
    print(f"RSS: start {f['rss_start_mb']} MB, after {f['warm_up_requests']:,} requests "
          f"{f['rss_warm_mb']} MB, end {f['rss_end_mb']} MB: growth after warm-up "
          f"{f['growth_after_warm_up_mb']} MB, slope {f['slope_mb_per_million']} MB per 1M")  # fmt: skip


if __name__ == "__main__":
    main()
