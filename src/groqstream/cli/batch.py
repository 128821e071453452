"""`groqstream batch`: run a Batch API JSONL file, resumably, with a progress line."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..batch import BatchInputError, run_batch
from ._term import Style
from .progress import ProgressLine

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    """Register `batch`."""
    p = sub.add_parser(
        "batch",
        help="run a Batch-API JSONL file; re-run the same command to resume after a crash",
        description=(
            "Read OpenAI/Groq Batch API input lines (custom_id, method, url, body), write one "
            "Batch API output line per request to OUTPUT (failures to OUTPUT.errors.jsonl). "
            "Lines already written are skipped, so a killed run resumes where it stopped."
        ),
    )
    p.add_argument("input", help="input JSONL (Batch API request lines)")
    p.add_argument("output", help="output JSONL (appended to; resumable)")
    p.add_argument("--concurrency", "-c", type=int, default=64)
    p.add_argument("--rpm", type=float, default=None, help="requests-per-minute budget")
    p.add_argument("--tpm", type=float, default=None, help="tokens-per-minute budget")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible base URL ending in /v1")
    p.add_argument("--model", "-m", default=None, help="model for lines whose body has none")
    p.add_argument("--report", default=None, help="write the latency report as JSON here")
    p.add_argument("--workers", type=int, default=None, help="run on Ray over N processes")
    p.add_argument("--ray-address", default=None, help="join this Ray cluster (ray start --head)")
    p.set_defaults(func=_batch)


async def _batch(args: argparse.Namespace) -> int:
    style = Style(sys.stderr)
    run: Any = run_batch
    extra: dict[str, Any] = {"concurrency": args.concurrency, "on_progress": ProgressLine()}
    if args.workers or args.ray_address:  # groqstream.distributed: the `ray` extra
        from .. import distributed

        run, extra = distributed.run_batch, distributed.cli_options(args)
    try:
        summary = await run(
            args.input,
            args.output,
            base_url=args.base_url,
            model=args.model,
            requests_per_minute=args.rpm,
            tokens_per_minute=args.tpm,
            report_path=args.report,
            **extra,
        )
    except BatchInputError as e:
        print(style.red("groqstream batch: ") + str(e), file=sys.stderr)
        return 2
    print(
        f"\n{summary.total} requests: {summary.skipped} already done, "
        f"{style.green(str(summary.succeeded))} succeeded, "
        + (style.red(f"{summary.failed} failed") if summary.failed else "0 failed")
        + f" → {summary.output_path}"
        + (f" (errors: {summary.errors_path})" if summary.failed else ""),
        file=sys.stderr,
    )
    if summary.succeeded or summary.failed:
        print(summary.report.to_markdown(), file=sys.stderr)
    return 1 if summary.failed else 0
