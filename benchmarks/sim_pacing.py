"""How accurately the simulated server keeps its schedule, and how closely the client sees it.

    python benchmarks/sim_pacing.py                 # about 10 s
    python benchmarks/sim_pacing.py --json out.json

The wall-clock claims that used to be unit tests live here, measured rather than asserted
(the suite asserts only what holds on a busy machine):

- concurrency 1 (groqstream client, 50 ms TTFT, 5 ms between chunks): the client's TTFT and
  ITL against the configured values, and each chunk's arrival against the server's send;
- 300 concurrent streams (plain aiohttp reader, 50 ms TTFT, 40 ms between chunks): how late
  the server sends each chunk after its absolute deadline (received + ttft + k x step);
- the unpaced mode (tokens_per_second=0): chunks per second, one 50,000-chunk stream.

Client and server share this process (as in the tests), so run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from typing import Any

import aiohttp

from groqstream import Client
from groqstream.testing import SimulatedServer

MODEL = "moonshotai/kimi-k2-instruct"


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`, in milliseconds."""
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p / 100))] * 1000


async def concurrency_one(streams: int = 20) -> dict[str, Any]:
    """TTFT / ITL error against the configured pacing and against the server's sends."""
    ttft, step, n = 0.05, 0.005, 40
    ttft_err: list[float] = []
    itl_err: list[float] = []
    itls: list[float] = []
    delivery: list[float] = []
    async with (
        SimulatedServer(
            ttft=ttft, tokens_per_second=1 / step, output_tokens=n, record_send_times=True
        ) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        await client.complete(model=MODEL, prompt="warm up", max_tokens=1)
        for i in range(streams):
            async with client.stream(model=MODEL, prompt=f"p{i}") as s:
                await s.until_done()
            m, rec = s.metrics, srv.requests[-1]
            if m.ttft_s is not None:
                ttft_err.append(abs(m.ttft_s - ttft))
            itls += m.itl_s
            itl_err += [abs(x - step) for x in m.itl_s]
            delivery += [(a - b) / 1e9 for a, b in zip(m.output_ns, rec.send_ns, strict=True)]
    return {
        "ttft_err_p50_ms": pct(ttft_err, 50),
        "ttft_err_max_ms": max(ttft_err) * 1000,
        "itl_err_p50_ms": pct(itl_err, 50),
        "itl_err_p99_ms": pct(itl_err, 99),
        "itl_mean_ms": statistics.mean(itls) * 1000,
        "delivery_p50_ms": pct(delivery, 50),
        "delivery_p99_ms": pct(delivery, 99),
    }


async def _read(session: aiohttp.ClientSession, url: str) -> int:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    n = 0
    async with session.post(url + "/chat/completions", json=body) as resp:
        async for data in resp.content.iter_any():
            n += data.count(b"\n\n")
    return n


async def wide(streams: int = 300) -> dict[str, Any]:
    """Lateness of every chunk after its absolute deadline, skipping each stream's first 3
    (the burst of simultaneous connects)."""
    ttft, step, n = 0.05, 0.04, 20
    async with SimulatedServer(
        ttft=ttft, tokens_per_second=1 / step, output_tokens=n, record_send_times=True
    ) as srv:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
            await asyncio.gather(*(_read(s, srv.base_url) for _ in range(streams)))
        peak = srv.stats.streams_peak
    late = [
        (sent - rec.received_ns) / 1e9 - ttft - k * step
        for rec in srv.requests
        for k, sent in enumerate(rec.send_ns)
        if k >= 3
    ]
    return {
        "streams_peak": peak,
        "late_min_ms": min(late) * 1000,
        "late_p50_ms": pct(late, 50),
        "late_p90_ms": pct(late, 90),
        "late_p99_ms": pct(late, 99),
    }


async def unpaced(chunks: int = 50_000) -> dict[str, Any]:
    """One as-fast-as-possible stream: chunks per second of wall and of CPU time."""
    async with (
        SimulatedServer(ttft=0, tokens_per_second=0, output_tokens=chunks) as srv,
        aiohttp.ClientSession() as s,
    ):
        wall, cpu = time.perf_counter(), time.process_time()
        events = await _read(s, srv.base_url)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"events": events, "chunks_per_s": chunks / wall, "chunks_per_cpu_s": chunks / cpu}


async def main(out: str | None) -> None:
    gc.collect()
    gc.freeze()  # the suite's garbage is not ours: no GC pauses from it in the figures
    figures = {
        "concurrency_1": await concurrency_one(),
        "concurrency_300": await wide(),
        "unpaced": await unpaced(),
    }
    for name, row in figures.items():
        cells = ", ".join(
            f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
        )
        print(f"{name}: {cells}")
    if out:
        with open(out, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    asyncio.run(main(ap.parse_args().json))
