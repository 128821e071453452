"""What both batch backends share: input-line validation, the summary, and the OUT/errors files.

Input lines are OpenAI/Groq Batch API requests (`custom_id`, `method`, `url`, `body`); output
lines are Batch API results, one per request, written with one `os.write` each to an
append-only file before they count as done. A re-run skips the `custom_id`s already written,
whichever backend wrote them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ..errors import GroqStreamError
from ..report import LatencyAccumulator, LatencyReport

__all__ = [
    "CHAT_URL",
    "BatchInputError",
    "BatchSummary",
    "ResultFiles",
    "errors_path_for",
    "manifest_path_for",
]

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
    """What a run did: counts, where it wrote, and the latency report of this run's requests.

    `backend` is the one that ran ("sync" or "groq-batch"; `backend_reason` says why when
    `backend="auto"` chose it); `batch_ids` are the remote batches a groq-batch run used,
    `status` their combined end ("completed", "failed", "expired", "cancelled"; "completed"
    for a sync run) and `outcome` the one line that says how the run ended.
    """

    total: int
    skipped: int
    succeeded: int
    failed: int
    output_path: Path
    errors_path: Path
    report: LatencyReport
    latency: LatencyAccumulator | None = None  # the mergeable form of `report`
    backend: str = "sync"
    backend_reason: str = ""
    batch_ids: tuple[str, ...] = ()
    status: str = "completed"
    outcome: str = ""
    unfinished: int = 0


def errors_path_for(output: Path) -> Path:
    """Where failed requests go: `out.jsonl` → `out.errors.jsonl` (beside the output)."""
    stem = output.name[: -len(".jsonl")] if output.name.endswith(".jsonl") else output.name
    return output.with_name(stem + ".errors.jsonl")


def manifest_path_for(output: Path) -> Path:
    """Where a groq-batch run records its remote batches: `out.jsonl` → `out.batches.json`."""
    stem = output.name[: -len(".jsonl")] if output.name.endswith(".jsonl") else output.name
    return output.with_name(stem + ".batches.json")


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


def input_lines(f: BinaryIO, byte_range: tuple[int, int] | None) -> Iterator[tuple[int, bytes]]:
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
        for lineno, raw in input_lines(f, byte_range):
            if raw.strip():
                problems += _line_problems(lineno, raw, seen)
                count += 1
    if problems:
        raise BatchInputError([where + p for p in problems])
    return count


def done_ids(path: Path) -> set[str]:
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


def request_body(obj: dict[str, Any], model: str | None) -> dict[str, Any]:
    """An input line's body as it is sent: the run's model where it names none, no `stream`."""
    body = dict(obj["body"])
    if model and not body.get("model"):
        body["model"] = model
    body.pop("stream", None)
    return body


def pending_requests(
    path: Path, done: set[str], model: str | None, byte_range: tuple[int, int] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    with path.open("rb") as f:
        for _, raw in input_lines(f, byte_range):
            if not raw.strip():
                continue
            obj = orjson.loads(raw)
            if obj["custom_id"] in done:
                continue
            yield obj["custom_id"], request_body(obj, model)


def write_json(path: Path, obj: dict[str, Any]) -> None:
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


class ResultFiles:
    """OUT and its errors file, as both backends write them: a success line to OUT, a failure
    line to the errors file, each a whole line written at once; counts what it wrote."""

    def __init__(self, out: Path, errs: Path) -> None:
        self._ok = _AppendLog(out)
        try:
            self._err = _AppendLog(errs)
        except BaseException:
            self._ok.close()
            raise
        self.succeeded = 0
        self.failed = 0

    def success(self, line: dict[str, Any]) -> None:
        """Append one result line to OUT."""
        self._ok.write(line)
        self.succeeded += 1

    def failure(self, line: dict[str, Any]) -> None:
        """Append one failed request's line to the errors file."""
        self._err.write(line)
        self.failed += 1

    def close(self) -> None:
        """fsync and close both files."""
        try:
            self._ok.close()
        finally:
            self._err.close()
