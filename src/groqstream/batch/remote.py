"""The groq-batch backend's state, sans IO: which remote batches exist, which lines they hold,
which are done, and what a line of Groq's output or error file means for OUT.

Nothing here sends, sleeps or reads a clock. The runner (`groq_batch.py`) feeds it what the
API answered and writes what it returns; the manifest (`Manifest.to_bytes`) is what the
runner records beside OUT before it polls, so a killed run re-attaches to the same batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..errors import ProtocolError
from .lines import BatchInputError

__all__ = [
    "TERMINAL",
    "Manifest",
    "Poller",
    "RemoteBatch",
    "plan_chunks",
    "route_line",
]

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
UNFINISHED_CODES = frozenset({"batch_expired", "batch_cancelled"})
_VERSION = 1


def ranges_of(linenos: Iterable[int]) -> list[list[int]]:
    """Ascending line numbers as inclusive runs: 1,2,3,7 → [[1, 3], [7, 7]]."""
    out: list[list[int]] = []
    for n in linenos:
        if out and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return out


def in_ranges(ranges: Iterable[list[int]]) -> Iterator[int]:
    """Every line number of inclusive runs."""
    for a, b in ranges:
        yield from range(a, b + 1)


def plan_chunks(
    lines: Iterable[tuple[int, int]], *, max_lines: int, max_bytes: int
) -> list[list[int]]:
    """Split (line number, size in bytes) pairs into batches within the API's limits: at most
    `max_lines` lines and `max_bytes` bytes each. A line larger than `max_bytes` on its own
    is an input error (no batch could hold it)."""
    chunks: list[list[int]] = []
    cur: list[int] = []
    size = 0
    too_big = []
    for lineno, nbytes in lines:
        if nbytes > max_bytes:
            too_big.append(f"line {lineno}: {nbytes:,} bytes, over the {max_bytes:,} byte limit")
            continue
        if cur and (len(cur) >= max_lines or size + nbytes > max_bytes):
            chunks.append(cur)
            cur, size = [], 0
        cur.append(lineno)
        size += nbytes
    if too_big:
        raise BatchInputError(too_big)
    if cur:
        chunks.append(cur)
    return chunks


@dataclass
class RemoteBatch:
    """One remote batch as the manifest records it: its input lines (inclusive runs of line
    numbers of the input file), the uploaded file, the batch, and its last known state.

    `status` is "planned" (lines chosen, nothing uploaded), "uploaded", then the API's own
    status; `collected` once its output and error files are written to OUT / errors.
    """

    ranges: list[list[int]]
    lines: int
    file_id: str | None = None
    batch_id: str | None = None
    status: str = "planned"
    collected: bool = False
    completed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    output_file_id: str | None = None
    error_file_id: str | None = None

    def observe(self, batch: dict[str, Any]) -> bool:
        """Take in a batch object from the API (create, retrieve, cancel); True if its
        status or counts changed."""
        before = (self.status, self.completed, self.failed)
        bid, status = batch.get("id"), batch.get("status")
        if not isinstance(bid, str) or not bid or not isinstance(status, str):
            raise ProtocolError(f"the API's batch object lacks an id or status: {batch!r:.200}")
        self.batch_id, self.status = bid, status
        counts = _dict(batch.get("request_counts"))
        self.completed = _count(counts.get("completed"))
        self.failed = _count(counts.get("failed"))
        self.output_file_id = _id(batch.get("output_file_id"))
        self.error_file_id = _id(batch.get("error_file_id"))
        errors = _dict(batch.get("errors")).get("data")
        listed = errors if isinstance(errors, list) else []
        self.errors = [_batch_error(e) for e in listed if isinstance(e, dict)][:20]
        return before != (self.status, self.completed, self.failed)

    @property
    def terminal(self) -> bool:
        """The API will not change this batch any more."""
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _id(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _batch_error(e: dict[str, Any]) -> str:
    where = f"line {e['line']}: " if e.get("line") else ""
    return f"{where}{e.get('message') or e.get('code') or 'error'}"


@dataclass
class Manifest:
    """What a groq-batch run records beside OUT: the input it is for and its batches."""

    input_name: str
    input_bytes: int
    completion_window: str
    batches: list[RemoteBatch] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        """The manifest file's contents."""
        obj = {
            "version": _VERSION,
            "input": self.input_name,
            "input_bytes": self.input_bytes,
            "completion_window": self.completion_window,
            "batches": [b.to_dict() for b in self.batches],
        }
        return orjson.dumps(obj, option=orjson.OPT_INDENT_2)

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> Manifest:
        """Read a manifest file (a `BatchInputError` naming `where` if it is not one)."""
        try:
            obj = orjson.loads(data)
            batches = [RemoteBatch(**b) for b in obj["batches"]]
            return cls(obj["input"], int(obj["input_bytes"]), obj["completion_window"], batches)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise BatchInputError(
                [f"{where}: not a batch manifest this runner wrote (move it away to start afresh)"]
            ) from None

    def check_input(self, name: str, size: int, where: str) -> None:
        """Refuse to resume with another input file than the one the batches were made from
        (their line numbers would point at other requests)."""
        if self.batches and (name, size) != (self.input_name, self.input_bytes):
            raise BatchInputError(
                [
                    f"{where} records batches of {self.input_name} ({self.input_bytes:,} "
                    f"bytes), not of {name} ({size:,} bytes): finish or cancel that run, or "
                    "write to another output file"
                ]
            )

    def claimed(self) -> set[int]:
        """Input line numbers held by batches not yet collected (never sent twice)."""
        return {n for b in self.batches if not b.collected for n in in_ranges(b.ranges)}

    def live(self) -> list[RemoteBatch]:
        """Batches not yet collected."""
        return [b for b in self.batches if not b.collected]

    def ids(self) -> tuple[str, ...]:
        """The remote batch ids, in creation order."""
        return tuple(b.batch_id for b in self.batches if b.batch_id)


def route_line(raw: bytes) -> tuple[str, str, dict[str, Any]]:
    """One line of a batch's output or error file, as (kind, custom_id, OUT-format line).

    kind: "ok" (goes to OUT), "error" (to the errors file) or "unfinished" (the batch expired
    or was cancelled before running it: nothing to write, it can be run again). The line has
    the sync backend's schema: `id`, `custom_id`, `response` {status_code, request_id, body},
    `error` {code, message} or None, and `groqstream_metrics` (None: no client-side timings).
    """
    try:
        obj = orjson.loads(raw)
        cid = obj["custom_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return "skip", "", {}
    if not isinstance(cid, str):
        return "skip", "", {}
    resp = obj.get("response") if isinstance(obj.get("response"), dict) else None
    err = obj.get("error") if isinstance(obj.get("error"), dict) else None
    if err is not None and err.get("code") in UNFINISHED_CODES and resp is None:
        return "unfinished", cid, {}
    status = resp.get("status_code") if resp else None
    response = {
        "status_code": status,
        "request_id": resp.get("request_id") if resp else None,
        "body": resp.get("body") if resp else None,
    }
    line: dict[str, Any] = {"id": obj.get("id") or "", "custom_id": cid, "response": response}
    if err is None and status == 200:
        return "ok", cid, {**line, "error": None, "groqstream_metrics": None}
    if err is None:
        err = _error_of(response["body"], status)
    error = {"code": err.get("code") or err.get("type"), "message": err.get("message")}
    return "error", cid, {**line, "error": error, "groqstream_metrics": None}


def _error_of(body: Any, status: int | None) -> dict[str, Any]:
    """The `{code, message}` of a failed request's response body."""
    inner = body.get("error") if isinstance(body, dict) else None
    if isinstance(inner, dict):
        return inner
    return {"code": f"http_{status}", "message": f"HTTP {status}"}


@dataclass
class Poller:
    """When to look at the batches again: `first` seconds, growing by `factor` while nothing
    changes, up to `longest`; back to `first` when something did."""

    first: float = 1.0
    longest: float = 30.0
    factor: float = 1.5
    current: float = 0.0

    def next_delay(self, changed: bool) -> float:
        """Seconds to wait before the next poll."""
        if changed or self.current <= 0:
            self.current = self.first
        else:
            self.current = min(self.longest, self.current * self.factor)
        return self.current


def outcome(batches: list[RemoteBatch], unfinished: int, fallback: int | None) -> tuple[str, str]:
    """(status, one line) for how a groq-batch run ended: the worst state among its batches
    (failed, expired, cancelled, else completed) and what to do about it."""
    done = [b for b in batches if b.collected or b.terminal]
    states = {b.status for b in done}
    n = len(done)
    ids = ", ".join(b.batch_id or "?" for b in done if b.status != "completed")
    if "failed" in states:
        failed = [b for b in done if b.status == "failed"]
        why = next((e for b in failed for e in b.errors[:1]), "no reason given")
        return "failed", (
            f"failed: batch {ids} failed ({why}); {unfinished:,} requests were not run — "
            "fix the cause and run the same command again"
        )
    if "expired" in states:
        if fallback is not None:
            return "expired", (
                f"expired: batch {ids} passed its completion window; the {fallback:,} requests "
                "it left were finished on the sync backend (--deadline allowed it)"
            )
        return "expired", (
            f"expired: batch {ids} passed its completion window with {unfinished:,} requests "
            "unfinished — run again with --backend sync to finish them now, or as before to "
            "send them in a new batch"
        )
    if "cancelled" in states:
        return "cancelled", (
            f"cancelled: batch {ids} was cancelled with {unfinished:,} requests not run — run "
            "the same command again to send them in a new batch"
        )
    return "completed", f"completed: {n} batch{'es' if n != 1 else ''} finished"
