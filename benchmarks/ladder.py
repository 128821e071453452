"""Where a streamed chunk's CPU goes: groqstream layer by layer, between the floor and raw aiohttp.

    python benchmarks/ladder.py                  # HTTP, 64 streams (S2's load), medians of 3
    python benchmarks/ladder.py --tls            # the same over HTTPS (TLS 1.3)
    python benchmarks/ladder.py --chunks 2       # per-request costs: tiny responses

Each rung is a client in its own process, alternated run by run against one
benchmarks/sse_server.py (TTFT 20 ms, ITL 2 ms unless `--chunks` is small, then as fast as
possible):

1. the floor: asyncio streams that read the bytes and parse nothing (`raw_socket`);
2. groqstream's pool, HTTP/1.1 and TLS, every body read whole, nothing parsed (`layer_pool`);
3. the same plus the sans-IO stream core, SSE and chunk assembly (`layer_parse`);
4. groqstream as users run it: `client.stream()` and its deltas (`groqstream_client`);
5. raw aiohttp + orjson, the reference of the done-when targets (`raw_aiohttp`).

Printed: µs of client CPU per chunk (and per request), each rung's step over the one
before it, and its ratio to raw aiohttp's.
"""

from __future__ import annotations

import argparse
import statistics

from harness import run_client, server

RUNGS = [
    ("raw_socket", "floor: asyncio streams, no parsing"),
    ("layer_pool", "groqstream pool + HTTP/1.1 (+ TLS)"),
    ("layer_parse", "+ SSE and chunk assembly"),
    ("groqstream_client", "+ ChatStream: groqstream as used"),
    ("raw_aiohttp", "raw aiohttp + orjson (lines)"),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tls", action="store_true")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--chunks", type=int, default=50)
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    paced = a.chunks > 5
    cpu: dict[str, list[float]] = {name: [] for name, _ in RUNGS}
    with server(0.02 if paced else 0.0, 0.002 if paced else 0.0, a.chunks, tls=a.tls) as url:
        for _ in range(a.runs):
            for name, _ in RUNGS:
                r = run_client(
                    name, url, requests=a.requests, chunks=a.chunks, concurrency=a.concurrency
                )
                if r.get("failed"):
                    raise SystemExit(f"{name} failed: {r['failed']}")
                cpu[name].append(r["cpu_s"] * 1e6 / (a.requests * a.chunks))
    per_chunk = {name: statistics.median(v) for name, v in cpu.items()}
    ref = per_chunk["raw_aiohttp"]
    print(
        f"{'HTTPS' if a.tls else 'HTTP'}, {a.concurrency} streams, {a.requests} requests x "
        f"{a.chunks} chunks, medians of {a.runs}\n"
    )
    print("| rung | µs CPU / chunk | µs / request | step | × raw aiohttp |")
    print("|---|---:|---:|---:|---:|")
    before = None
    for name, label in RUNGS:
        v = per_chunk[name]
        step = "" if before is None or name == "raw_aiohttp" else f"{v - before:+.1f}"
        print(f"| {label} | {v:.1f} | {v * a.chunks:.0f} | {step} | {v / ref:.2f} |")
        before = v


if __name__ == "__main__":
    main()
