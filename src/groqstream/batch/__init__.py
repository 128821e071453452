"""Batch-API-compatible JSONL runs that survive `kill -9`: nothing lost, nothing duplicated.

DESIGN: the top of the library, above `client.py` and `fanout.py`. Input lines are
OpenAI/Groq Batch API requests (`custom_id`, `method`, `url`, `body`); output lines are Batch
API results, one per request. Two backends write the same files:

- `sync` (`sync.py`): every request on the ordinary endpoint through `fan_out`, at once;
- `groq-batch` (`groq_batch.py`, state in `remote.py`, HTTP in `groq_api.py`): Groq's Files
  and Batches API — half the price, outside the rate limits, done within the completion
  window;

and `auto` (`choice.py`) picks one by the deadline and the input size. `lines.py` holds what
both share: the line checks, the summary and the OUT/errors writer.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio.to_thread

from ..client import Client, StreamSource
from ..errors import ConfigError
from ..fanout import FanOutOptions
from .choice import AUTO_MIN_REQUESTS, choose_backend, parse_deadline, window_seconds
from .groq_batch import BatchProgress, Limits, cancel_batches, run_groq_batch
from .lines import (
    BatchInputError,
    BatchSummary,
    errors_path_for,
    input_lines,
    manifest_path_for,
    validate_input,
    write_json,
)
from .remote import Poller
from .sync import run_sync

__all__ = [
    "AUTO_MIN_REQUESTS",
    "BatchInputError",
    "BatchProgress",
    "BatchSummary",
    "cancel_batches",
    "errors_path_for",
    "input_lines",
    "manifest_path_for",
    "run_batch",
    "validate_input",
    "write_json",
]


async def run_batch(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    client: StreamSource | None = None,
    base_url: str | None = None,
    model: str | None = None,
    report_path: str | os.PathLike[str] | None = None,
    byte_range: tuple[int, int] | None = None,
    options: FanOutOptions | None = None,
    backend: str = "sync",
    completion_window: str = "24h",
    deadline: float | str | datetime | None = None,
    max_batch_lines: int = 50_000,
    max_batch_bytes: int = 100 * 1024 * 1024,
    poll_interval: float = 1.0,
    max_poll_interval: float = 30.0,
    on_batch_progress: Callable[[BatchProgress], object] | None = None,
    **fan_out_options: Any,
) -> BatchSummary:
    """Run a Batch API input file into `output_path` (failures to `errors_path_for(output)`),
    resumably: a re-run skips every custom_id already written.

    `backend`: "sync" runs every request now on the chat endpoint (keyword arguments are
    `FanOutOptions` fields: `concurrency=`, `requests_per_minute=`, `on_progress=`, ...);
    "groq-batch" sends the file through Groq's Batch API (half the price, not counted against
    rate limits, results within `completion_window`, "24h" to "7d"), split into batches of
    at most `max_batch_lines` lines and `max_batch_bytes` bytes, polled from every
    `poll_interval` up to `max_poll_interval` seconds, reporting to `on_batch_progress`; its
    batch ids are recorded beside OUT so a re-run re-attaches. "auto" picks one: groq-batch
    when `deadline` (seconds, "36h", an ISO 8601 time or an aware datetime; None: none) is at
    least a completion window away and there are at least `AUTO_MIN_REQUESTS` requests.
    Lines an expired batch left are finished on the sync backend while `deadline` allows.

    `client` is a `Client` or, for the sync backend, anything with its calls (a `Router`).
    `byte_range` (sync only) runs only the lines starting in [start, end) of the input (one
    shard of it, see `groqstream.distributed`).
    """
    src, out = Path(input_path), Path(output_path)
    window_s = window_seconds(completion_window)
    deadline_ts = parse_deadline(deadline, time.time())
    reason = "chosen"
    if backend != "sync":
        if byte_range is not None:
            raise ConfigError("byte_range is for the sync backend only")
        n = await anyio.to_thread.run_sync(validate_input, src)
        left = None if deadline_ts is None else deadline_ts - time.time()
        backend, reason = choose_backend(backend, n, left, window_s)
    if backend == "sync":
        s = await run_sync(
            src,
            out,
            client=client,
            base_url=base_url,
            model=model,
            report_path=report_path,
            byte_range=byte_range,
            options=options,
            **fan_out_options,
        )
        return _with_reason(s, reason)
    if client is not None and not isinstance(client, Client):
        raise ConfigError("the groq-batch backend runs on one Client (one base URL), not a Router")
    limits = Limits(max_batch_lines, max_batch_bytes)
    poller = Poller(first=poll_interval, longest=max(poll_interval, max_poll_interval))
    async with contextlib.AsyncExitStack() as stack:
        one = (
            client
            if isinstance(client, Client)
            else await stack.enter_async_context(Client(base_url=base_url))
        )
        s = await run_groq_batch(
            src,
            out,
            client=one,
            model=model,
            completion_window=completion_window,
            deadline_ts=deadline_ts,
            limits=limits,
            poller=poller,
            on_progress=on_batch_progress,
            sync_options={"options": options, **fan_out_options},
        )
    if report_path is not None:
        await anyio.to_thread.run_sync(write_json, Path(report_path), s.report.to_dict())
    return _with_reason(s, reason)


def _with_reason(s: BatchSummary, reason: str) -> BatchSummary:
    return s if reason == "chosen" else replace(s, backend_reason=reason)
