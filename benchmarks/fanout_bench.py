"""Fan-out benchmark: 10,000 requests × 50 chunks through `client.fan_out` at several widths.

    python benchmarks/fanout_bench.py                  # concurrency 64, 256, 1024
    python benchmarks/fanout_bench.py --requests 2000  # quicker

The lean benchmark server (benchmarks/sse_server.py) runs in its own process, paced at
50 ms TTFT and 10 ms between chunks, recording when it actually sent each chunk. Each
concurrency level runs in a fresh client process; reported: wall time, requests/s, peak RSS
of the client, and the error of the measured TTFT/ITL against both the configured pacing
and the server's actual send times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from array import array
from typing import Any

from harness import HERE, _env, pct, send_log, server, timing_errors

sys.path.insert(0, str(HERE / "clients"))
from common import peak_rss_mb

TTFT, ITL, CHUNKS = 0.05, 0.01, 50


async def child(url: str, requests: int, concurrency: int) -> dict[str, Any]:
    """Run one level in this process and return its figures (arrivals included)."""
    from groqstream import Client, Timeouts

    async with Client(base_url=url, timeout=Timeouts(total=None), max_retries=2) as client:
        async with client.stream(model="bench", prompt="warm up", max_tokens=1) as s:
            await s.until_done()  # the lean server only streams
        t0, c0 = time.perf_counter(), time.process_time()
        fan = client.fan_out(
            (f"prompt {i}" for i in range(requests)),
            concurrency=concurrency,
            model="bench",
            max_tokens=CHUNKS,
        )
        arrivals = []
        ttft_cfg_err: list[float] = []
        itl_cfg_err: list[float] = []
        async for r in fan:
            m = r.metrics
            if r.error is not None or m is None:
                continue
            if m.ttft_s is not None:
                ttft_cfg_err.append((m.ttft_s - TTFT) * 1000)
            itl_cfg_err.extend(abs(x - ITL) * 1000 for x in m.itl_s)
            cid = (r.request_id or "").removeprefix("req_")
            arrivals.append((cid, array("q", m.output_ns)))  # compact: not the client's RSS
        wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    rss = peak_rss_mb()
    report = fan.report()
    return {
        "concurrency": concurrency,
        "requests": requests,
        "completed": report.completed,
        "failed": report.failed,
        "wall_s": wall,
        "req_per_s": report.completed / wall,
        "output_tok_per_s": report.total_output_tokens / wall,
        "client_cpu_s": cpu,
        "peak_rss_mb": rss,
        "loop_lag_p99_ms": (report.loop_lag_p99_s or 0) * 1000,
        "p50_ttft_ms": report.ttft.p50 * 1000,
        "p99_ttft_ms": report.ttft.p99 * 1000,
        "ttft_vs_config_p50_ms": pct(ttft_cfg_err, 50),
        "ttft_vs_config_p99_ms": pct(ttft_cfg_err, 99),
        "itl_vs_config_p50_ms": pct(itl_cfg_err, 50),
        "itl_vs_config_p99_ms": pct(itl_cfg_err, 99),
        "arrivals": [{"id": cid, "arr": list(enumerate(a))} for cid, a in arrivals],
    }


def run_level(url: str, requests: int, concurrency: int) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--url",
        url,
        "--requests",
        str(requests),
        "--levels",
        str(concurrency),
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, env=_env(), check=False)
    if p.returncode != 0:
        return {"concurrency": concurrency, "failed_run": p.stderr[-800:]}
    res: dict[str, Any] = json.loads(p.stdout.splitlines()[-1])
    res.update(timing_errors(res.pop("arrivals"), send_log(url)))
    return res


def markdown(rows: list[dict[str, Any]], command: str) -> str:
    requests = next((r["requests"] for r in rows if "requests" in r), 0)
    out = [
        f"Fan-out · {requests:,} requests × {CHUNKS} chunks, server paced "
        f"{TTFT * 1000:g} ms TTFT / {ITL * 1000:g} ms ITL · `{command}`",
        "",
        "| concurrency | wall s | req/s | output tok/s | client CPU s | client peak RSS MB | TTFT vs config "
        "p50/p99 ms | ITL vs config p50/p99 ms | TTFT vs send p50/p99 ms | ITL vs send "
        "p50/p99 ms | failed |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "failed_run" in r:
            out.append(f"| {r['concurrency']} | run failed | | | | | | | | | |")
            continue
        out.append(
            f"| {r['concurrency']} | {r['wall_s']:.1f} | {r['req_per_s']:,.0f} | "
            f"{r['output_tok_per_s']:,.0f} | {r['client_cpu_s']:.1f} | {r['peak_rss_mb']:.0f} | "
            f"{r['ttft_vs_config_p50_ms']:.2f} / {r['ttft_vs_config_p99_ms']:.2f} | "
            f"{r['itl_vs_config_p50_ms']:.2f} / {r['itl_vs_config_p99_ms']:.2f} | "
            f"{r['ttft_err_p50_ms']:.2f} / {r['ttft_err_p99_ms']:.2f} | "
            f"{r['itl_err_p50_ms']:.2f} / {r['itl_err_p99_ms']:.2f} | {r['failed']} |"
        )
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--levels", default="64,256,1024")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--url", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    levels = [int(x) for x in a.levels.split(",")]
    if a.child:
        print(json.dumps(asyncio.run(child(a.url, a.requests, levels[0]))))
        return
    command = "python benchmarks/fanout_bench.py" + (
        f" --requests {a.requests}" if a.requests != 10_000 else ""
    )
    rows = []
    with server(TTFT, ITL, CHUNKS, record=True) as url:
        for level in levels:
            print(f"concurrency {level} ...", file=sys.stderr, flush=True)
            rows.append(run_level(url, a.requests, level))
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "fanout.json").write_text(json.dumps(rows, indent=2))
    md = markdown(rows, command)
    (out / "fanout.md").write_text(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
