"""`groqstream batch`: run a Batch API JSONL file, resumably, with live progress."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson

from ..batch import BatchInputError, BatchSummary, errors_path_for, run_batch
from ..bench.endpoints import endpoint_lines, router_stats
from ..bench.output import summary_fields
from ..bench.table import columns, notes, table
from ..client import api_key_env
from ..fanout import Progress
from . import _otlp, batch_remote
from .args import (
    add_command,
    add_ray_options,
    add_router_options,
    add_target_options,
    existing_file,
    make_client,
    make_source,
    new_file_in_existing_dir,
    positive_float,
    positive_int,
)
from .errors import UsageError
from .progress import Snapshot, live_progress
from .term import Out

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    """Register `batch`."""
    p = add_command(
        sub,
        "batch",
        help="run a Batch-API JSONL file; re-run the same command to resume after a crash",
        description=(
            "Read OpenAI/Groq Batch API input lines (custom_id, method, url, body), write one "
            "Batch API output line per request to OUTPUT (failures to OUTPUT.errors.jsonl). "
            "Lines already written are skipped, so a killed run resumes where it stopped. "
            "At the end it prints the same table as `groqstream bench`. With --backend "
            "groq-batch the same files come from Groq's Batch API (half the price, results "
            "within the completion window); see docs/batch-api.md."
        ),
        example="groqstream batch requests.jsonl -o results.jsonl --concurrency 64 --rpm 1000 "
        "--report report.json\n"
        "groqstream batch requests.jsonl -o results.jsonl --backend groq-batch\n"
        "groqstream batch --cancel results.jsonl",
    )
    p.add_argument("input", nargs="?", help="input JSONL (Batch API request lines)")
    p.add_argument("output", nargs="?", help="output JSONL (appended to; resumable; or -o OUT)")
    batch_remote.add_backend_options(p)
    p.add_argument(
        "--concurrency",
        "-c",
        type=positive_int,
        default=64,
        metavar="N",
        help="requests in flight at once",
    )
    p.add_argument(
        "--rpm", type=positive_float, default=None, metavar="N", help="requests-per-minute budget"
    )
    p.add_argument(
        "--tpm", type=positive_float, default=None, metavar="N", help="tokens-per-minute budget"
    )
    add_target_options(p, model=None)
    p.add_argument(
        "--report",
        default=None,
        metavar="PATH",
        help="write the latency report as JSON here (vLLM field names, as bench's)",
    )
    add_ray_options(p, workers_help="run on Ray over N worker processes")
    add_router_options(p)
    _otlp.add_argument(p)
    p.set_defaults(func=_batch)


def _lines(path: Path) -> int:
    """Complete non-blank lines in `path` (0 if it does not exist)."""
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(1 for raw in f if raw.strip() and raw.endswith(b"\n"))


def _requests_in(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for raw in f if raw.strip())


def _finish(
    summary: BatchSummary, args: argparse.Namespace, report: Path | None, base_url: str
) -> int:
    err = Out(sys.stderr)
    failed = f"{summary.failed:,} failed" if summary.failed else "0 failed"
    err.line(
        f"{summary.total:,} requests: {summary.skipped:,} already done, "
        f"{summary.succeeded:,} succeeded, {failed} → {summary.output_path}"
        + (f" (failures: {summary.errors_path})" if summary.failed else ""),
        "red" if summary.failed else None,
    )
    d = summary_fields(
        summary.report,
        concurrency=args.concurrency,
        base_url=base_url,
        model=args.model,
        num_prompts=summary.succeeded + summary.failed,
    )
    if summary.succeeded or summary.failed:
        print(table([d], columns(goodput=False)))
        for line in notes(d, f"c={args.concurrency}"):
            print(line)
    if report is not None:
        report.write_bytes(orjson.dumps(d, option=orjson.OPT_INDENT_2))
        err.line(f"wrote {report}", "dim")
    return 1 if summary.failed else 0


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """The input and output files (output positional or -o, not both)."""
    if args.input is None:
        raise UsageError("name the input file: groqstream batch IN -o OUT")
    if args.output and args.output_opt and args.output != args.output_opt:
        raise UsageError(f"two outputs given ({args.output} and -o {args.output_opt}): pass one")
    output = args.output or args.output_opt
    if output is None:
        raise UsageError("name the output file: groqstream batch IN -o OUT")
    src = existing_file(args.input, "input file")
    return src, new_file_in_existing_dir(output, "output file")


async def _batch_remote(args: argparse.Namespace, src: Path, out: Path, report: Path | None) -> int:
    """The groq-batch backend: one base URL, one process."""
    if args.workers or args.ray_address:
        raise UsageError("--workers and --ray-address run the sync backend only")
    if args.endpoint:
        raise UsageError(
            "--endpoint routes the sync backend only: a Batch API job runs on one base URL"
        )
    summary = await batch_remote.run_remote(args, src, out, make_client(args), args.model)
    return batch_remote.finish_line(summary, report)


async def _batch(args: argparse.Namespace) -> int:
    if args.otlp_endpoint:
        return await _otlp.rerun_exporting(args, _batch, "groqstream-batch")
    if args.cancel:
        return await batch_remote.cancel(args, make_client(args))
    src, out = _paths(args)
    report = new_file_in_existing_dir(args.report, "report file") if args.report else None
    total = _requests_in(src)
    if batch_remote.choose(args, total) != "sync":
        return await _batch_remote(args, src, out, report)
    client = make_source(args)  # checks the keys and base URLs before anything starts
    if args.workers or args.ray_address:
        return await _batch_on_ray(args, src, out, report, client.base_url)
    errs = errors_path_for(out)
    already = _lines(out) + _lines(errs)
    progress = live_progress()

    def on_progress(p: Progress) -> None:
        progress.update(Snapshot.of(p, label="batch", total=total, already=already))

    try:
        async with client:
            summary = await run_batch(
                src,
                out,
                client=client,
                model=args.model,
                concurrency=args.concurrency,
                requests_per_minute=args.rpm,
                tokens_per_minute=args.tpm,
                on_progress=on_progress,
            )
    except BatchInputError as e:
        raise UsageError(str(e), "nothing was sent: fix these lines and run again") from None
    except asyncio.CancelledError:
        progress.close()
        written = _lines(out) + _lines(errs)
        Out(sys.stderr).line(
            f"interrupted: {written:,} of {total:,} results are safely written ({out}, "
            f"failures in {errs}); run the same command again to resume",
            "yellow",
        )
        raise
    finally:
        progress.close()
    routed = router_stats(client)
    if routed is not None:
        for line in endpoint_lines(routed):
            Out(sys.stderr).line(line, "dim")
    return _finish(summary, args, report, client.base_url)


async def _batch_on_ray(
    args: argparse.Namespace, src: Path, out: Path, report: Path | None, base_url: str
) -> int:
    """`--workers` / `--ray-address`: the same run on Ray (groqstream.distributed)."""
    if args.endpoint:
        raise UsageError("--endpoint runs in this process; it does not go with Ray workers")
    if args.api_key:
        raise UsageError(
            "--api-key cannot be handed to Ray workers",
            f"set {api_key_env(base_url)} (or --api-key-env NAME) where every worker runs",
        )
    from .. import distributed

    try:
        summary = await distributed.run_batch(
            src,
            out,
            base_url=base_url,
            model=args.model,
            requests_per_minute=args.rpm,
            tokens_per_minute=args.tpm,
            workers=args.workers,
            ray_address=args.ray_address,
            concurrency_per_worker=args.concurrency,
            on_progress=distributed.JobProgressLine(),
        )
    except BatchInputError as e:
        raise UsageError(str(e), "nothing was sent: fix these lines and run again") from None
    return _finish(summary, args, report, base_url)
