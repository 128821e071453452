"""`groqstream bench`: a latency/throughput sweep against any endpoint, or the simulated one."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ..bench.runner import LevelResult, SweepConfig, run_sweep
from ..client import Client
from ..fanout import Progress
from ..models import DEFAULT_MODEL
from ..report import SLO
from ._term import Style
from .progress import ProgressLine

__all__ = ["add_parser", "level_table"]


def add_parser(sub: Any) -> None:
    """Register `bench`."""
    p = sub.add_parser(
        "bench",
        help="measure TTFT/ITL/TPOT/E2EL and throughput across concurrency levels",
        description="Sweep concurrency levels against an endpoint and report latency "
        "percentiles, throughput and goodput, with vLLM-compatible JSON output.",
    )
    p.add_argument("--base-url", default=None, help="OpenAI-compatible base URL ending in /v1")
    p.add_argument("--model", "-m", default=DEFAULT_MODEL)
    p.add_argument("--concurrency", default="1,4,16,64", help="comma-separated levels")
    p.add_argument("--requests", type=int, default=200, help="requests per level")
    p.add_argument("--input-tokens", type=int, default=128)
    p.add_argument("--output-tokens", type=int, default=128)
    p.add_argument(
        "--rate", type=float, default=None, help="request rate (req/s); default: all at once"
    )
    p.add_argument("--burstiness", type=float, default=1.0, help="gamma shape: 1 = Poisson")
    p.add_argument("--duration", type=float, default=None, help="stop a level after S seconds")
    p.add_argument("--goodput", default=None, help="SLOs in ms, e.g. ttft:500,tpot:50")
    p.add_argument("--out", default=None, help="write JSON, JSONL and plots to this directory")
    p.add_argument("--simulate", action="store_true", help="run against the embedded server")
    p.add_argument("--sim-ttft", type=float, default=0.05, help="simulated TTFT (s)")
    p.add_argument("--sim-tps", type=float, default=500.0, help="simulated tokens/s per stream")
    p.add_argument("--workers", type=int, default=None, help="spread the load over N Ray workers")
    p.add_argument("--ray-address", default=None, help="join this Ray cluster (ray start --head)")
    p.set_defaults(func=_bench)


@contextlib.asynccontextmanager
async def _simulated(ttft: float, tps: float) -> AsyncIterator[str]:
    """The simulated server in its own process, so it does not share the client's CPU."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "groqstream",
        "serve",
        "--port",
        "0",
        "--ttft",
        str(ttft),
        "--tps",
        str(tps),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        url = next(w for w in line.split() if w.startswith("http"))
        yield url
    finally:
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()


def level_table(lv: LevelResult, style: Style) -> str:
    """One level's figures as a Markdown table plus its caveats."""
    r = lv.report
    head = (
        f"{style.bold(f'concurrency {lv.concurrency}')}: {r.completed} ok, {r.failed} failed, "
        f"{r.request_throughput:.2f} req/s, {r.output_throughput:,.0f} output tok/s"
    )
    if r.request_goodput is not None:
        head += f", goodput {r.request_goodput:.2f} req/s ({r.good}/{r.completed} within SLO)"
    rows = [head, "", "| ms | p50 | p90 | p99 | mean |", "|---|---:|---:|---:|---:|"]
    for name, d in (("TTFT", r.ttft), ("ITL", r.itl), ("TPOT", r.tpot), ("E2EL", r.e2el)):
        if d.count:
            rows.append(
                f"| {name} | {d.p50 * 1000:.2f} | {d.p90 * 1000:.2f} | {d.p99 * 1000:.2f} | "
                f"{d.mean * 1000:.2f} |"
            )
    split = lv.server_split()
    if split:
        rows.append(
            f"\nE2EL {split['e2el_ms']:.0f} ms = server {split['server_ms']:.0f} ms + network, "
            f"queue and client {split['network_queue_ms']:.0f} ms (mean)"
        )
    if r.failures_by_kind:
        rows.append("errors: " + ", ".join(f"{k} × {v}" for k, v in r.failures_by_kind.items()))
    if r.client_bound:
        rows.append(style.yellow("warning: " + r.warnings()[0]))
    return "\n".join(rows)


async def _bench(args: argparse.Namespace) -> int:
    style = Style(sys.stdout)
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    cfg = SweepConfig(
        model=args.model,
        concurrency=levels,
        requests=args.requests,
        input_tokens=args.input_tokens,
        output_tokens=args.output_tokens,
        rate=args.rate,
        burstiness=args.burstiness,
        duration=args.duration,
        slo=SLO.parse(args.goodput) if args.goodput else SLO(),
    )
    bar = ProgressLine()

    def progress(level: int, p: Progress) -> None:
        bar(p)

    async with contextlib.AsyncExitStack() as stack:
        base_url = args.base_url
        if args.simulate:
            base_url = await stack.enter_async_context(_simulated(args.sim_ttft, args.sim_tps))
        client = await stack.enter_async_context(Client(base_url=base_url))
        print(
            style.dim(f"groqstream bench → {client.base_url} · model {cfg.model}"), file=sys.stderr
        )
        if args.workers or args.ray_address:  # groqstream.distributed: the `ray` extra
            from .. import distributed

            results: list[Any] = await distributed.run_sweep(
                cfg, base_url=client.base_url, on_progress=progress, **distributed.cli_options(args)
            )
        else:
            results = await run_sweep(client, cfg, on_progress=progress)
    for lv in results:
        print("\n" + level_table(lv, style))
    if args.out:
        from ..bench.output import write_outputs

        written = write_outputs(Path(args.out), cfg, results, client.base_url)
        print(style.dim(f"\nwrote {', '.join(str(p) for p in written)}"), file=sys.stderr)
    return 0 if all(lv.report.failed == 0 for lv in results) else 1
