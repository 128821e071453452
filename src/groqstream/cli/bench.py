"""`groqstream bench`: a latency/throughput sweep against any endpoint, or the simulated one."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from ..bench.endpoints import endpoint_lines, router_stats
from ..bench.output import bench_meta, level_json, write_outputs
from ..bench.runner import LevelResult, SweepConfig, run_sweep
from ..bench.table import Column, columns, header, notes, row
from ..client import StreamSource
from ..fanout import Progress
from ..models import DEFAULT_MODEL
from ..report import SLO
from . import _otlp
from .args import (
    add_command,
    add_ray_options,
    add_router_options,
    add_target_options,
    concurrency_levels,
    make_source,
    non_negative_float,
    positive_float,
    positive_int,
    slo_ms,
)
from .errors import CommandError, UsageError
from .progress import LiveProgress, Snapshot, live_progress
from .term import Out, has_module

__all__ = ["add_parser"]

NO_PLOTLY = (
    "note: report.html needs the report extra (pip install 'groqstream[report]'); the JSON "
    "files are written, and `groqstream report {out} --html` draws it later"
)


def add_parser(sub: Any) -> None:
    """Register `bench`."""
    p = add_command(
        sub,
        "bench",
        help="measure TTFT/ITL/TPOT/E2EL and throughput across concurrency levels",
        description="Sweep concurrency levels against an endpoint and report latency "
        "percentiles, throughput and goodput; --out writes vLLM-named JSON, one JSONL line "
        "per request and a self-contained HTML report.",
        example="groqstream bench --base-url http://localhost:8000/v1 -m M --concurrency 1,4,16,64"
        " \\\n    --requests 200 --goodput ttft:500,tpot:50 --out out/\n"
        "groqstream bench --simulate --out out/      # the embedded server: no key, no network",
    )
    add_target_options(p, model=DEFAULT_MODEL)
    p.add_argument(
        "--concurrency",
        "-c",
        type=concurrency_levels,
        default="1,4,16,64",
        metavar="LEVELS",
        help="comma-separated concurrency levels",
    )
    p.add_argument(
        "--requests", type=positive_int, default=200, metavar="N", help="requests per level"
    )
    p.add_argument(
        "--input-tokens",
        type=positive_int,
        default=128,
        metavar="N",
        help="prompt length, in tokens",
    )
    p.add_argument(
        "--output-tokens",
        type=positive_int,
        default=128,
        metavar="N",
        help="max_tokens of each request",
    )
    p.add_argument(
        "--rate",
        type=positive_float,
        default=None,
        metavar="REQ_PER_S",
        help="arrival rate in requests/s (gamma process; default: all at once)",
    )
    p.add_argument(
        "--burstiness",
        type=positive_float,
        default=1.0,
        metavar="B",
        help="gamma shape: 1 = Poisson",
    )
    p.add_argument(
        "--duration",
        type=positive_float,
        default=None,
        metavar="S",
        help="stop each level after S seconds",
    )
    p.add_argument(
        "--goodput",
        type=slo_ms,
        default=None,
        metavar="SLO",
        help="SLOs in milliseconds for goodput, e.g. ttft:500,tpot:50 (keys ttft, tpot, e2el)",
    )
    p.add_argument("--out", default=None, metavar="DIR", help="write JSON, JSONL and report.html")
    p.add_argument("--simulate", action="store_true", help="run against the embedded server")
    p.add_argument(
        "--sim-ttft",
        type=non_negative_float,
        default=0.05,
        metavar="S",
        help="simulated TTFT, seconds",
    )
    p.add_argument(
        "--sim-tps",
        type=positive_float,
        default=500.0,
        metavar="TPS",
        help="simulated tokens/s per stream",
    )
    add_ray_options(p, workers_help="spread the load over N Ray worker processes")
    add_router_options(p)
    _otlp.add_argument(p)
    p.set_defaults(func=_bench)


@contextlib.asynccontextmanager
async def _simulated(args: argparse.Namespace) -> AsyncIterator[str]:
    """The simulated server in its own process, so it does not share the client's CPU.

    It runs in its own session (a Ctrl-C in the terminal reaches only us, and we stop it
    after saving what finished) and exits when its stdin closes, even if we are killed.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "groqstream",
        "serve",
        "--port",
        "0",
        "--ttft",
        str(args.sim_ttft),
        "--tps",
        str(args.sim_tps),
        "--output-tokens",
        str(args.output_tokens),
        "--exit-with-stdin",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        url = next((w for w in line.split() if w.startswith("http")), None)
        if url is None:
            raise CommandError("the simulated server did not start (see its message above)")
        yield url
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()


def _check_router_options(args: argparse.Namespace) -> None:
    """`--endpoint` names the targets itself: not with `--simulate` or Ray workers."""
    if not args.endpoint:
        return
    if args.simulate:
        raise UsageError("--endpoint and --simulate both name the target; give one of them")
    if args.workers or args.ray_address:
        raise UsageError("--endpoint runs in this process; it does not go with Ray workers")


def _out_dir(out: str | None) -> Path | None:
    """Check `--out` before the sweep: a directory, created now if missing."""
    if out is None:
        return None
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise UsageError(
            f"--out {out!r} is an existing file; --out takes a directory (created if missing)"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--out {out!r}: cannot create the directory ({e.strerror})") from None
    return path


class _Sweep:
    """The live side of a sweep: progress line, a row per finished level, the finished levels."""

    def __init__(self, cfg: SweepConfig, base_url: str) -> None:
        self.cfg = cfg
        self.base_url = base_url
        self.progress: LiveProgress = live_progress()
        self.cols: list[Column] = columns(goodput=not cfg.slo.empty)
        self.finished: list[LevelResult] = []
        self.summaries: list[dict[str, Any]] = []

    @property
    def current(self) -> int | None:
        """The level running now (the first not finished), if any."""
        levels = self.cfg.concurrency
        return levels[len(self.finished)] if len(self.finished) < len(levels) else None

    def on_progress(self, level: int, p: Progress) -> None:
        total = None if self.cfg.duration else self.cfg.requests
        self.progress.update(Snapshot.of(p, label=f"c={level}", total=total))

    def on_level(self, lv: LevelResult) -> None:
        summary = level_json(self.cfg, lv, self.base_url)
        if not self.finished:
            self.progress.above(header(self.cols))
        self.finished.append(lv)
        self.summaries.append(summary)
        self.progress.above(row(summary, self.cols))


def _config(args: argparse.Namespace) -> SweepConfig:
    return SweepConfig(
        model=args.model,
        concurrency=args.concurrency,
        requests=args.requests,
        input_tokens=args.input_tokens,
        output_tokens=args.output_tokens,
        rate=args.rate,
        burstiness=args.burstiness,
        duration=args.duration,
        slo=args.goodput or SLO(),
    )


def _save(sweep: _Sweep, out: Path, meta: dict[str, Any], err: Out) -> None:
    written = write_outputs(
        out, sweep.cfg, sweep.finished, sweep.base_url, meta=meta, html=has_module("plotly")
    )
    err.line(f"wrote {', '.join(p.name for p in written)} to {out}", "dim")
    if not has_module("plotly"):
        err.line(NO_PLOTLY.format(out=out), "yellow")


def _interrupted(sweep: _Sweep, out: Path | None, meta: dict[str, Any], err: Out) -> None:
    sweep.progress.close()
    where = f" during c={sweep.current}" if sweep.current is not None else ""
    done = ", ".join(f"c={lv.concurrency}" for lv in sweep.finished)
    if not sweep.finished:
        err.line(f"interrupted{where}: no level had finished, nothing written", "yellow")
        return
    if out is None:
        err.line(f"interrupted{where}: finished levels {done} are shown above", "yellow")
        return
    err.line(f"interrupted{where}: saving the finished levels ({done})", "yellow")
    _save(sweep, out, meta, err)


async def _sweep(
    args: argparse.Namespace, client: StreamSource, cfg: SweepConfig, sweep: _Sweep
) -> None:
    """The levels, in this process or spread over Ray workers (`--workers`/`--ray-address`:
    those levels' reports are merged from the workers' sketches, their requests.jsonl rows
    from the rows each worker sends back)."""
    if not (args.workers or args.ray_address):
        await run_sweep(client, cfg, on_progress=sweep.on_progress, on_level=sweep.on_level)
        return
    from .. import distributed

    levels = await distributed.run_sweep(
        cfg,
        base_url=client.base_url,
        on_progress=sweep.on_progress,
        workers=args.workers,
        ray_address=args.ray_address,
    )
    for lv in levels:
        sweep.on_level(lv)


async def _bench(args: argparse.Namespace) -> int:
    if args.otlp_endpoint:
        return await _otlp.rerun_exporting(args, _bench, "groqstream-bench")
    out = _out_dir(args.out)
    err = Out(sys.stderr)
    if out is not None and not has_module("plotly"):
        err.line(NO_PLOTLY.format(out=out), "yellow")
    cfg = _config(args)
    _check_router_options(args)
    routed: list[dict[str, Any]] | None = None
    async with contextlib.AsyncExitStack() as stack:
        simulated = None
        if args.simulate:
            args.base_url = await stack.enter_async_context(_simulated(args))
            simulated = {"ttft_ms": args.sim_ttft * 1000, "tokens_per_s": args.sim_tps}
        client = await stack.enter_async_context(make_source(args))
        err.line(f"groqstream bench → {client.base_url} · model {cfg.model}", "dim")
        meta = bench_meta(cfg, client.base_url, simulated=simulated)
        sweep = _Sweep(cfg, client.base_url)
        try:
            await _sweep(args, client, cfg, sweep)
        except asyncio.CancelledError:
            _interrupted(sweep, out, meta, err)
            raise
        finally:
            sweep.progress.close()
        routed = router_stats(client)
    for summary in sweep.summaries:
        for line in notes(summary, f"c={summary['max_concurrency']}"):
            print(line)
    if routed is not None:
        meta["endpoints"] = routed
        for line in endpoint_lines(routed):
            print(line)
    if out is not None:
        _save(sweep, out, meta, err)
    return 0 if all(lv.report.failed == 0 for lv in sweep.finished) else 1
