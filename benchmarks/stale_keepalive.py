"""Stale keep-alive: 40 requests sent just as the server closes its idle connections.

    python benchmarks/stale_keepalive.py                 # cut-off 1 s, offsets -30..+30 ms
    python benchmarks/stale_keepalive.py --rounds 3

A `SimulatedServer` in its own process closes keep-alive connections idle for `--cutoff`
seconds (as a load balancer or a server with a short keep-alive does). The client opens
40 connections with 40 concurrent streams, waits until the cut-off plus an offset, and sends
40 streams at once: some meet a connection the server is closing at that very moment. For
each offset and both `max_retries=2` (the default) and `max_retries=0`, printed: errors,
how many requests were re-sent at once (`metrics.stale_resend`), and the slowest E2EL. The
client's own `keepalive_idle` stays at its default (15 s), so every request of the round
finds its connection in the pool: the race is the server's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import time
from typing import Any

MODEL = "llama-3.1-8b-instant"
WIDTH = 40


def serve(port: Any, cutoff: float) -> None:
    from groqstream.testing import SimulatedServer

    async def main() -> None:
        async with SimulatedServer(
            ttft=0.0, tokens_per_second=1e6, output_tokens=4, keepalive_timeout=cutoff
        ) as srv:
            port.value = srv.port
            await asyncio.Event().wait()

    asyncio.run(main())


async def one_round(url: str, cutoff: float, offset: float, retries: int) -> dict[str, Any]:
    from groqstream import Client, GroqStreamError

    async with Client(base_url=url, max_retries=retries) as client:

        async def stream(i: int) -> tuple[float, bool, str | None]:
            t = time.perf_counter()
            try:
                async with client.stream(model=MODEL, prompt=f"p{i}", max_tokens=4) as s:
                    await s.until_done()
            except GroqStreamError as e:
                return time.perf_counter() - t, False, e.kind
            return time.perf_counter() - t, s.metrics.stale_resend, None

        await asyncio.gather(*(stream(i) for i in range(WIDTH)))  # 40 pooled connections
        await asyncio.sleep(cutoff + offset)
        out = await asyncio.gather(*(stream(i) for i in range(WIDTH)))
    errors = [k for _, _, k in out if k]
    return {
        "errors": len(errors),
        "resent": sum(r for _, r, _ in out),
        "slowest_ms": max(d for d, _, _ in out) * 1000,
        "kinds": sorted(set(errors)),
    }


async def run(url: str, cutoff: float, offsets: list[float], rounds: int) -> bool:
    print(f"cut-off {cutoff * 1000:.0f} ms, {WIDTH} requests per round, {rounds} round(s)")
    print("| offset ms | max_retries | errors | re-sent at once | slowest E2EL ms |")
    print("|---:|---:|---:|---:|---:|")
    worst_ok = True
    for offset in offsets:
        for retries in (2, 0):
            errors = resent = 0
            slowest = 0.0
            for _ in range(rounds):
                r = await one_round(url, cutoff, offset, retries)
                errors += r["errors"]
                resent += r["resent"]
                slowest = max(slowest, r["slowest_ms"])
            worst_ok &= errors == 0 and slowest <= 50
            print(f"| {offset * 1000:+.0f} | {retries} | {errors} | {resent} | {slowest:.1f} |",
                  flush=True)  # fmt: skip
    return worst_ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cutoff", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    port = ctx.Value("i", 0)
    proc = ctx.Process(target=serve, args=(port, args.cutoff), daemon=True)
    proc.start()
    try:
        while not port.value:
            if not proc.is_alive():
                sys.exit("the server process died")
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port.value}/openai/v1"
        offsets = [x / 1000 for x in (-500, -30, -10, -5, -2, 0, 2, 5, 10, 30)]
        ok = asyncio.run(run(url, args.cutoff, offsets, args.rounds))
    finally:
        proc.kill()
        proc.join()
    print("0 errors and none slower than 50 ms:", ok)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
