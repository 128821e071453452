"""The sync backend: a Batch API file run through `fan_out` on the ordinary endpoint,
resumably (nothing lost, nothing duplicated across `kill -9`).

DESIGN: above `client.py` (it makes a `Client` when given none) and `fanout.py`; the line
checks and the OUT/errors files are `lines.py`'s, shared with the groq-batch backend.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from .._stats import percentile
from ..client import Client, StreamSource
from ..errors import APIStatusError, ConfigError
from ..fanout import FanOut, FanOutOptions, Result
from .lines import (
    BatchSummary,
    ResultFiles,
    done_ids,
    errors_path_for,
    pending_requests,
    validate_input,
    write_json,
)

__all__ = ["run_sync"]


def _metrics_field(r: Result) -> dict[str, Any] | None:
    m = r.metrics
    if m is None:
        return {"attempts": r.attempts, "queue_wait_ms": r.queue_wait_s * 1000}

    def ms(x: float | None) -> float | None:
        return None if x is None else round(x * 1000, 3)

    itl = sorted(m.itl_s)
    return {
        "ttft_ms": ms(m.ttft_s),
        "tpot_ms": ms(m.tpot_s),
        "e2el_ms": ms(m.e2el_s),
        "itl_p50_ms": ms(percentile(itl, 50)) if itl else None,
        "output_tokens": m.output_tokens,
        "output_tokens_per_s": m.output_tokens_per_s,
        "server_total_ms": ms(m.server_total_s),
        "attempts": r.attempts,
        "queue_wait_ms": ms(r.queue_wait_s),
    }


def _success_line(cid: str, r: Result) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": r.text}
    if r.reasoning is not None:
        message["reasoning"] = r.reasoning
    if r.tool_calls:
        message["tool_calls"] = [c.to_dict() for c in r.tool_calls]
    usage = r.usage.raw if r.usage is not None else None
    body = {
        "id": r.request_id or "",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": r.model or r.request.get("model"),
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": r.finish_reason}
        ],
        "usage": usage,
    }
    return {
        "id": "batch_req_" + uuid.uuid4().hex,
        "custom_id": cid,
        "response": {"status_code": 200, "request_id": r.request_id, "body": body},
        "error": None,
        "groqstream_metrics": _metrics_field(r),
    }


def _error_line(cid: str, r: Result) -> dict[str, Any]:
    e = r.error
    assert e is not None
    status = e.status if isinstance(e, APIStatusError) else None
    body = e.body if isinstance(e, APIStatusError) else None
    code = (e.code if isinstance(e, APIStatusError) else None) or e.kind
    return {
        "id": "batch_req_" + uuid.uuid4().hex,
        "custom_id": cid,
        "response": {"status_code": status, "request_id": e.request_id, "body": body},
        "error": {"code": code, "message": str(e)},
        "groqstream_metrics": _metrics_field(r),
    }


async def run_sync(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    client: StreamSource | None = None,
    base_url: str | None = None,
    model: str | None = None,
    report_path: str | os.PathLike[str] | None = None,
    byte_range: tuple[int, int] | None = None,
    options: FanOutOptions | None = None,
    skip: frozenset[str] = frozenset(),
    **fan_out_options: Any,
) -> BatchSummary:
    """Run a Batch API input file through `fan_out`, resumably (see the module docstring).

    `byte_range` runs only the lines starting in [start, end) of the input (one shard of it,
    see `groqstream.distributed`); `skip` names custom_ids left alone besides those already
    written (the groq-batch backend hands over only the lines its batches did not finish).

    Keyword arguments are `FanOutOptions` fields (`concurrency=`, `requests_per_minute=`,
    `tokens_per_minute=`, `on_progress=`, `gate=`, ...), over `options` when given.
    """
    opts, unknown = FanOutOptions.split(fan_out_options, options)
    if unknown:
        raise ConfigError(f"run_batch() got unexpected arguments: {', '.join(sorted(unknown))}")
    src, out = Path(input_path), Path(output_path)
    errs = errors_path_for(out)
    total = await anyio.to_thread.run_sync(validate_input, src, byte_range)
    done = await anyio.to_thread.run_sync(lambda: done_ids(out) | done_ids(errs))
    ids: dict[int, str] = {}

    def requests() -> Iterator[dict[str, Any]]:
        for i, (cid, body) in enumerate(pending_requests(src, done | skip, model, byte_range)):
            ids[i] = cid
            yield body

    async with contextlib.AsyncExitStack() as stack:
        source: StreamSource = (
            client
            if client is not None
            else await stack.enter_async_context(Client(base_url=base_url))
        )
        fan = source.fan_out(requests(), opts)
        succeeded, failed = await _write_results(fan, ids, out, errs)
    report = fan.report()
    if report_path is not None:
        await anyio.to_thread.run_sync(write_json, Path(report_path), report.to_dict())
    return BatchSummary(total, len(done), succeeded, failed, out, errs, report, fan.accumulator)


async def _write_results(
    fan: FanOut, ids: dict[int, str], out: Path, errs: Path
) -> tuple[int, int]:
    """Write each result durably as it completes; the counts of successes and failures."""
    files = ResultFiles(out, errs)
    try:
        async with fan:
            async for r in fan:
                cid = ids.pop(r.index)
                if r.ok:
                    files.success(_success_line(cid, r))
                else:
                    files.failure(_error_line(cid, r))
    finally:
        files.close()
    return files.succeeded, files.failed
