"""`groqstream batch --backend groq-batch|auto` and `groqstream batch --cancel OUT`: the Batch
API backend's options, its live line, and the one line each way it can end with."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
from pathlib import Path
from typing import TextIO

import orjson

from ..batch import BatchProgress, BatchSummary, cancel_batches, manifest_path_for, run_batch
from ..batch.choice import BACKENDS, choose_backend, parse_deadline, window_seconds
from ..client import Client
from ..errors import ConfigError
from .errors import UsageError
from .term import Out

__all__ = ["add_backend_options", "cancel", "choose", "finish_line", "run_remote"]


def _window(text: str) -> str:
    try:
        window_seconds(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _deadline(text: str) -> str:
    try:
        parse_deadline(text, time.time())
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _poll(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0.01 <= value <= 600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0.01 to 600")
    return value


def _lines_per_batch(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if not 1 <= value <= 50_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from 1 to 50000")
    return value


def add_backend_options(p: argparse.ArgumentParser) -> None:
    """`-o/--output`, `--backend`, `--completion-window`, `--deadline`, `--poll-interval`
    and `--cancel OUT`."""
    p.add_argument(
        "-o", "--output", dest="output_opt", default=None, metavar="OUT", help="output JSONL"
    )
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="sync",
        help="sync: every request now on the chat endpoint; groq-batch: Groq's Batch API (half "
        "the price, outside the rate limits, results within --completion-window); auto: "
        "groq-batch when --deadline is at least a completion window away and the input has "
        "1,000+ requests, else sync",
    )
    p.add_argument(
        "--completion-window",
        type=_window,
        default="24h",
        metavar="DUR",
        help="groq-batch: the window Groq has to finish each batch, 24h to 7d",
    )
    p.add_argument(
        "--deadline",
        type=_deadline,
        default=None,
        metavar="WHEN",
        help="when the results are needed: a duration (90m, 36h, 2d) or an ISO 8601 time; "
        "chooses the auto backend, and lets groq-batch finish what an expired batch left on "
        "the sync backend",
    )
    p.add_argument(
        "--poll-interval",
        type=_poll,
        default=1.0,
        metavar="S",
        help="groq-batch: first wait between looks at the batches (grows to 30 s while "
        "nothing changes)",
    )
    p.add_argument(
        "--max-batch-lines",
        type=_lines_per_batch,
        default=50_000,
        metavar="N",
        help="groq-batch: at most N requests per remote batch (Groq's limit is 50,000; smaller "
        "batches end, and are written to OUT, sooner)",
    )
    p.add_argument(
        "--cancel",
        default=None,
        metavar="OUT",
        help="cancel the remote batches of the run writing OUT, then exit",
    )


def choose(args: argparse.Namespace, requests: int) -> str:
    """The backend to run (`auto` resolved, and said on stderr)."""
    if args.backend != "auto":
        return str(args.backend)
    now = time.time()
    deadline = parse_deadline(args.deadline, now)
    left = None if deadline is None else deadline - now
    backend, why = choose_backend("auto", requests, left, window_seconds(args.completion_window))
    Out(sys.stderr).line(f"{why} → --backend {backend}", "dim")
    return backend


class _Line:
    """The live line: rewritten in place on a terminal, printed when it changes otherwise
    (at most every `every` seconds)."""

    def __init__(self, stream: TextIO, every: float = 5.0) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.every = every
        self._last = 0.0
        self._shown = ""

    def __call__(self, p: BatchProgress) -> None:
        states: dict[str, int] = {}
        for _, status, *_ in p.batches:
            states[status] = states.get(status, 0) + 1
        text = (
            f"groq-batch, {p.completed + p.failed:,}/{p.total:,} · {p.failed:,} failed · "
            + ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        )
        if self.tty:
            width = max(20, shutil.get_terminal_size().columns - 1)
            self.stream.write("\r\x1b[2K" + text[:width])
            self.stream.flush()
            self._shown = text
        elif text != self._shown and time.monotonic() - self._last >= self.every:
            self._last, self._shown = time.monotonic(), text
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty and self._shown:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


async def run_remote(
    args: argparse.Namespace, src: Path, out: Path, client: Client, model: str | None
) -> BatchSummary:
    """The groq-batch run; Ctrl-C leaves the batches running and says how to re-attach."""
    line = _Line(sys.stderr)
    try:
        async with client:
            return await run_batch(
                src,
                out,
                client=client,
                model=model,
                backend="groq-batch",
                completion_window=args.completion_window,
                deadline=args.deadline,
                poll_interval=args.poll_interval,
                max_batch_lines=args.max_batch_lines,
                on_batch_progress=line,
                concurrency=args.concurrency,
                requests_per_minute=args.rpm,
                tokens_per_minute=args.tpm,
            )
    except asyncio.CancelledError:
        line.close()
        manifest = manifest_path_for(out)
        Out(sys.stderr).line(
            f"interrupted: the batches recorded in {manifest} keep running on the server; run "
            f"the same command again to re-attach and collect them, or `groqstream batch "
            f"--cancel {out}` to cancel them",
            "yellow",
        )
        raise
    finally:
        line.close()


def finish_line(summary: BatchSummary, report: Path | None = None) -> int:
    """Print how a groq-batch run ended (one line), write `--report` (the run's counts,
    batches and end: a batch has no client-side latencies); the exit code."""
    err = Out(sys.stderr)
    if report is not None:
        fields = {
            "backend": summary.backend,
            "status": summary.status,
            "outcome": summary.outcome,
            "batch_ids": list(summary.batch_ids),
            "total": summary.total,
            "skipped": summary.skipped,
            "succeeded": summary.succeeded,
            "failed": summary.failed,
            "unfinished": summary.unfinished,
        }
        report.write_bytes(orjson.dumps(fields, option=orjson.OPT_INDENT_2))
    where = f" → {summary.output_path}" + (
        f" (failures: {summary.errors_path})" if summary.failed else ""
    )
    counts = (
        f"{summary.total:,} requests: {summary.skipped:,} already done, "
        f"{summary.succeeded:,} succeeded, {summary.failed:,} failed"
    )
    ok = summary.status == "completed" and not summary.failed
    err.line(f"groq-batch {summary.outcome}; {counts}{where}", None if ok else "red")
    return 0 if ok else 1


async def cancel(args: argparse.Namespace, client: Client) -> int:
    """`--cancel OUT`: cancel the run's remote batches, one line for all of them."""
    out = Path(args.cancel)
    if not manifest_path_for(out).exists():
        raise UsageError(
            f"no batches are recorded for {out} ({manifest_path_for(out).name} is not beside it)",
            "pass the OUT of a `groqstream batch --backend groq-batch` run",
        )
    async with client:
        got = await cancel_batches(out, client=client)
    shown = ", ".join(f"{bid} ({status})" for bid, status in got) or "none were still running"
    Out(sys.stderr).line(
        f"cancel requested: {shown}; run the batch command again to collect what they finished"
    )
    return 0
