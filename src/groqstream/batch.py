"""Batch-API-compatible JSONL runs that survive `kill -9`: nothing lost, nothing duplicated.

DESIGN: the top of the library, above `client.py` (it makes a `Client` when given none) and
`fanout.py`. Input lines are OpenAI/Groq Batch API requests (`custom_id`, `method`, `url`,
`body`); output lines are Batch API results, one per request, written with one `os.write`
each to an append-only file before they count as done. A re-run skips the `custom_id`s
already written.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import anyio
import anyio.to_thread
import orjson

from ._stats import percentile
from .client import Client
from .errors import APIStatusError, ConfigError, GroqStreamError
from .fanout import FanOut, FanOutOptions, Result
from .report import LatencyAccumulator, LatencyReport

__all__ = ["BatchInputError", "BatchSummary", "errors_path_for", "run_batch"]

CHAT_URL = "/v1/chat/completions"
_FSYNC_EVERY = 1.0


class BatchInputError(GroqStreamError):
    """The input file has malformed lines or duplicate `custom_id`s (all listed in `problems`)."""

    def __init__(self, problems: list[str]) -> None:
        shown = "\n  ".join(problems[:50])
        more = f"\n  … and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{len(problems)} problem(s) in the batch input:\n  {shown}{more}")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """What a run did: counts, where it wrote, and the latency report of this run's requests."""

    total: int
    skipped: int
    succeeded: int
    failed: int
    output_path: Path
    errors_path: Path
    report: LatencyReport
    latency: LatencyAccumulator | None = None  # the mergeable form of `report`


def errors_path_for(output: Path) -> Path:
    """Where failed requests go: `out.jsonl` → `out.errors.jsonl` (beside the output)."""
    stem = output.name[: -len(".jsonl")] if output.name.endswith(".jsonl") else output.name
    return output.with_name(stem + ".errors.jsonl")


def _line_problems(lineno: int, raw: bytes, seen: dict[str, int]) -> list[str]:
    """What is wrong with one input line (nothing for a good one); records its custom_id."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as e:  # e.msg: orjson's own line/column would count
        # within this one line and confuse (e.g. "line 2 column 1" at its end)
        return [f"line {lineno}: not valid JSON ({e.msg} at column {e.colno})"]
    if not isinstance(obj, dict):
        return [f"line {lineno}: not a JSON object"]
    problems = []
    cid = obj.get("custom_id")
    if not isinstance(cid, str) or not cid:
        problems.append(f"line {lineno}: `custom_id` must be a non-empty string")
    elif cid in seen:
        problems.append(f"line {lineno}: duplicate custom_id {cid!r} (first on line {seen[cid]})")
    else:
        seen[cid] = lineno
    if obj.get("method", "POST") != "POST":
        problems.append(f"line {lineno}: `method` must be POST")
    if obj.get("url") != CHAT_URL:
        problems.append(f"line {lineno}: `url` must be {CHAT_URL!r}, got {obj.get('url')!r}")
    body = obj.get("body")
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        problems.append(f"line {lineno}: `body` must be an object with a `messages` list")
    return problems


def _lines(f: BinaryIO, byte_range: tuple[int, int] | None) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of a file, or of the lines starting in [start, end) of it, counted
    from the range's first line (shards of one file split by byte range, never mid-line)."""
    if byte_range is None:
        yield from enumerate(f, 1)
        return
    start, end = byte_range
    if start > 0:
        f.seek(start - 1)
        f.readline()  # skip the rest of a line begun before the range
    pos, lineno = f.tell(), 0
    while pos < end:
        raw = f.readline()
        if not raw:
            return
        lineno += 1
        yield lineno, raw
        pos += len(raw)


def validate_input(
    path: Path, byte_range: tuple[int, int] | None = None, *, seen: dict[str, int] | None = None
) -> int:
    """Check every input line before anything is sent; return the number of requests.
    `seen` (if given) is filled with each custom_id and its line."""
    problems: list[str] = []
    seen = {} if seen is None else seen
    count = 0
    where = "" if byte_range is None else f"bytes {byte_range[0]}–{byte_range[1]}, "
    with path.open("rb") as f:
        for lineno, raw in _lines(f, byte_range):
            if raw.strip():
                problems += _line_problems(lineno, raw, seen)
                count += 1
    if problems:
        raise BatchInputError([where + p for p in problems])
    return count


def _done_ids(path: Path) -> set[str]:
    """custom_ids already written to `path`, after cutting off a torn last line (no newline)."""
    if not path.exists():
        return set()
    with path.open("r+b") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
            f.truncate(cut)
            data = data[:cut]
    ids = set()
    for lineno, raw in enumerate(data.splitlines(), 1):
        if raw.strip():
            ids.add(_written_id(path, lineno, raw))
    return ids


def _written_id(path: Path, lineno: int, raw: bytes) -> str:
    """The custom_id of a line this runner wrote (a `BatchInputError` if it is not one)."""
    try:
        obj = orjson.loads(raw)
        cid = obj["custom_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        cid = None
    if not isinstance(cid, str):
        raise BatchInputError(
            [
                f"{path} line {lineno}: not a result line this runner wrote (move the file away "
                "to start afresh, or fix that line to resume)"
            ]
        )
    return cid


def _pending(
    path: Path, done: set[str], model: str | None, byte_range: tuple[int, int] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open("rb") as f:
        for _, raw in _lines(f, byte_range):
            if not raw.strip():
                continue
            obj = orjson.loads(raw)
            if obj["custom_id"] in done:
                continue
            body = dict(obj["body"])
            if model and not body.get("model"):
                body["model"] = model
            body.pop("stream", None)
            yield obj["custom_id"], body


def write_json(path: Path, obj: dict[str, Any]) -> None:
    """Write `obj` to `path` as indented JSON (the summary report); shared with distributed."""
    path.write_bytes(orjson.dumps(obj, option=orjson.OPT_INDENT_2))


class _AppendLog:
    """An append-only JSONL file: one `os.write` per line, fsync'd every second and at close."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._synced = time.monotonic()

    def write(self, obj: dict[str, Any]) -> None:
        line = memoryview(orjson.dumps(obj) + b"\n")
        while line:
            line = line[os.write(self.fd, line) :]
        if time.monotonic() - self._synced > _FSYNC_EVERY:
            os.fsync(self.fd)
            self._synced = time.monotonic()

    def close(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)


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


async def run_batch(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    *,
    client: Client | None = None,
    base_url: str | None = None,
    model: str | None = None,
    report_path: str | os.PathLike[str] | None = None,
    byte_range: tuple[int, int] | None = None,
    options: FanOutOptions | None = None,
    **fan_out_options: Any,
) -> BatchSummary:
    """Run a Batch API input file through `fan_out`, resumably (see the module docstring).

    `byte_range` runs only the lines starting in [start, end) of the input (one shard of it,
    see `groqstream.distributed`).

    Keyword arguments are `FanOutOptions` fields (`concurrency=`, `requests_per_minute=`,
    `tokens_per_minute=`, `on_progress=`, `gate=`, ...), over `options` when given.
    """
    opts, unknown = FanOutOptions.split(fan_out_options, options)
    if unknown:
        raise ConfigError(f"run_batch() got unexpected arguments: {', '.join(sorted(unknown))}")
    src, out = Path(input_path), Path(output_path)
    errs = errors_path_for(out)
    total = await anyio.to_thread.run_sync(validate_input, src, byte_range)
    done = await anyio.to_thread.run_sync(lambda: _done_ids(out) | _done_ids(errs))
    ids: dict[int, str] = {}

    def requests() -> Iterator[dict[str, Any]]:
        for i, (cid, body) in enumerate(_pending(src, done, model, byte_range)):
            ids[i] = cid
            yield body

    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(Client(base_url=base_url))
        fan = client.fan_out(requests(), opts)
        succeeded, failed = await _write_results(fan, ids, out, errs)
    report = fan.report()
    if report_path is not None:
        await anyio.to_thread.run_sync(write_json, Path(report_path), report.to_dict())
    return BatchSummary(total, len(done), succeeded, failed, out, errs, report, fan.accumulator)


async def _write_results(
    fan: FanOut, ids: dict[int, str], out: Path, errs: Path
) -> tuple[int, int]:
    """Write each result durably as it completes; the counts of successes and failures."""
    ok_log, err_log = _AppendLog(out), _AppendLog(errs)
    succeeded = failed = 0
    try:
        async with fan:
            async for r in fan:
                cid = ids.pop(r.index)
                if r.ok:
                    ok_log.write(_success_line(cid, r))
                    succeeded += 1
                else:
                    err_log.write(_error_line(cid, r))
                    failed += 1
    finally:
        ok_log.close()
        err_log.close()
    return succeeded, failed
