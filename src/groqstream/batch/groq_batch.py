"""The groq-batch backend: a Batch API file sent through Groq's Files and Batches API, with the
sync backend's output files and resume guarantees.

The run: check every line (as the sync backend does), split the lines not yet in OUT over
batches within the API's limits, upload each (`POST /files`), create its batch (`POST
/batches`), poll them with backoff, and write their output and error files' lines to OUT and
the errors file in the sync backend's line format. Every step is recorded in a manifest
beside OUT (`out.batches.json`, written with fsync and an atomic rename) before the next, so
a killed and re-run command re-attaches to the batches it made instead of uploading again,
and a line is never sent twice. `remote.py` holds the state; this module does the IO.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import orjson

from ..client import Client
from ..errors import ConfigError, ProtocolError
from ..report import LatencyAccumulator
from .groq_api import BatchesAPI
from .lines import (
    CHAT_URL,
    BatchSummary,
    ResultFiles,
    done_ids,
    errors_path_for,
    manifest_path_for,
    request_body,
    validate_input,
)
from .remote import Manifest, Poller, RemoteBatch, in_ranges, outcome, plan_chunks, route_line
from .remote import ranges_of as _ranges_of
from .sync import run_sync

__all__ = ["BatchProgress", "Limits", "cancel_batches", "run_groq_batch"]


@dataclass(frozen=True, slots=True)
class Limits:
    """How big one batch may be: Groq takes up to 50,000 lines and 100 MB per input file."""

    max_lines: int = 50_000
    max_bytes: int = 100 * 1024 * 1024

    def __post_init__(self) -> None:
        for name in ("max_lines", "max_bytes"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be a positive int, got {v!r}")


@dataclass(frozen=True, slots=True)
class BatchProgress:
    """What a groq-batch run reports after each look at its batches: per batch (id, status,
    completed, failed, lines), and the totals."""

    batches: tuple[tuple[str, str, int, int, int], ...]
    total: int
    completed: int
    failed: int

    @classmethod
    def of(cls, manifest: Manifest) -> BatchProgress:
        """The progress the manifest's batches show."""
        rows = tuple(
            (b.batch_id or "?", b.status, b.completed, b.failed, b.lines) for b in manifest.batches
        )
        return cls(rows, sum(r[4] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows))


def _save(path: Path, manifest: Manifest) -> None:
    """Write the manifest durably: a temp file, fsync, rename over, fsync the directory."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        data = memoryview(manifest.to_bytes())
        while data:
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _load(path: Path, src: Path, window: str) -> Manifest:
    size = src.stat().st_size
    if not path.exists():
        return Manifest(src.name, size, window)
    manifest = Manifest.from_bytes(path.read_bytes(), str(path))
    manifest.check_input(src.name, size, str(path))
    return manifest


def _payloads(src: Path, wanted: set[int], model: str | None) -> dict[int, bytes]:
    """The request lines to upload for input line numbers `wanted`: each as the sync backend
    would send it (the run's model where it names none, no `stream`)."""
    out: dict[int, bytes] = {}
    with src.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            if lineno in wanted:
                obj = orjson.loads(raw)
                line = {
                    "custom_id": obj["custom_id"],
                    "method": "POST",
                    "url": CHAT_URL,
                    "body": request_body(obj, model),
                }
                out[lineno] = orjson.dumps(line) + b"\n"
    return out


class _Run:
    """One groq-batch run's IO around its `Manifest`."""

    def __init__(
        self,
        api: BatchesAPI,
        src: Path,
        out: Path,
        manifest: Manifest,
        model: str | None,
        on_progress: Callable[[BatchProgress], object] | None,
    ) -> None:
        self.api = api
        self.src = src
        self.out = out
        self.path = manifest_path_for(out)
        self.manifest = manifest
        self.model = model
        self.on_progress = on_progress

    async def save(self) -> None:
        await anyio.to_thread.run_sync(_save, self.path, self.manifest)

    async def submit(self, pending: set[int], limits: Limits) -> None:
        """Send the batches a killed run left half made, then new ones for `pending` lines."""
        half_made = [b for b in self.manifest.live() if b.batch_id is None]
        wanted = pending | {n for b in half_made for n in in_ranges(b.ranges)}
        if not wanted:
            return
        payloads = await anyio.to_thread.run_sync(_payloads, self.src, wanted, self.model)
        sizes = [(n, len(payloads[n])) for n in sorted(pending)]
        for chunk in plan_chunks(sizes, max_lines=limits.max_lines, max_bytes=limits.max_bytes):
            self.manifest.batches.append(RemoteBatch(_ranges_of(chunk), len(chunk)))
            half_made.append(self.manifest.batches[-1])
        if pending:
            await self.save()  # the lines are claimed before anything is uploaded
        for b in half_made:
            await self._send(b, payloads)

    async def _send(self, b: RemoteBatch, payloads: dict[int, bytes]) -> None:
        if b.file_id is not None:  # uploaded, maybe created before the kill: adopt it
            for made in await self.api.list():
                if made.get("input_file_id") == b.file_id:
                    b.observe(made)
                    await self.save()
                    return
        else:
            data = b"".join(payloads[n] for n in in_ranges(b.ranges))
            k = self.manifest.batches.index(b) + 1
            f = await self.api.upload(f"{self.out.stem}-{k}.jsonl", data)
            if not isinstance(f.get("id"), str) or not f["id"]:
                raise ProtocolError(f"POST /files answered without a file id: {f!r:.200}")
            b.file_id, b.status = f["id"], "uploaded"
            await self.save()
        b.observe(await self.api.create(b.file_id, self.manifest.completion_window))
        await self.save()

    async def follow(self, files: ResultFiles, done: set[str], poller: Poller) -> None:
        """Poll the live batches until each has ended, writing each one's results as it ends."""
        while live := self.manifest.live():
            changed = False
            for b in live:
                if not b.terminal and b.batch_id is not None:
                    changed |= b.observe(await self.api.retrieve(b.batch_id))
                if b.terminal:
                    await self._collect(b, files, done)
                    changed = True
            if changed:
                await self.save()
            if self.on_progress is not None:
                self.on_progress(BatchProgress.of(self.manifest))
            if self.manifest.live():
                await anyio.sleep(poller.next_delay(changed))

    async def _collect(self, b: RemoteBatch, files: ResultFiles, done: set[str]) -> None:
        """Write a finished batch's output and error lines (those not already written)."""
        for fid in (b.output_file_id, b.error_file_id):
            if not fid:
                continue
            data = await self.api.content(fid)
            for raw in data.splitlines():
                kind, cid, line = route_line(raw)
                if kind in ("ok", "error") and cid not in done:
                    (files.success if kind == "ok" else files.failure)(line)
                    done.add(cid)
        b.collected = True


async def run_groq_batch(
    src: Path,
    out: Path,
    *,
    client: Client,
    model: str | None,
    completion_window: str,
    deadline_ts: float | None,
    limits: Limits,
    poller: Poller,
    on_progress: Callable[[BatchProgress], object] | None,
    sync_options: dict[str, Any],
) -> BatchSummary:
    """Run `src` on the Batch API into `out` (see the module docstring)."""
    errs = errors_path_for(out)
    seen: dict[str, int] = {}
    total = await anyio.to_thread.run_sync(lambda: validate_input(src, seen=seen))
    done = await anyio.to_thread.run_sync(lambda: done_ids(out) | done_ids(errs))
    skipped = len(done)
    path = manifest_path_for(out)
    manifest = await anyio.to_thread.run_sync(_load, path, src, completion_window)
    api = BatchesAPI(client.transport, client.retry_policy, client.timeouts)
    run = _Run(api, src, out, manifest, model, on_progress)
    pending = {n for cid, n in seen.items() if cid not in done} - manifest.claimed()
    earlier = [b for b in manifest.batches if b.collected]  # earlier runs' batches
    files = ResultFiles(out, errs)
    try:
        await run.submit(pending, limits)
        await run.follow(files, done, poller)
    finally:
        files.close()
    succeeded, failed = files.succeeded, files.failed
    mine = [b for b in manifest.batches if not any(b is e for e in earlier)]
    left = {cid for cid in seen if cid not in done}
    fallback = None
    expired_left = _expired_lines(mine, seen, left)
    if expired_left and deadline_ts is not None and time.time() < deadline_ts:
        s = await run_sync(
            src,
            out,
            client=client,
            model=model,
            skip=frozenset(seen) - expired_left,
            **sync_options,
        )
        succeeded, failed, fallback = succeeded + s.succeeded, failed + s.failed, len(expired_left)
        left -= expired_left
    status, line = outcome(mine, len(left), fallback)
    return BatchSummary(
        total,
        skipped,
        succeeded,
        failed,
        out,
        errs,
        LatencyAccumulator().report(),
        backend="groq-batch",
        batch_ids=tuple(b.batch_id for b in mine if b.batch_id),
        status=status,
        outcome=line,
        unfinished=len(left),
    )


def _expired_lines(
    batches: list[RemoteBatch], seen: dict[str, int], left: set[str]
) -> frozenset[str]:
    """The custom_ids expired batches left unfinished."""
    expired = {n for b in batches if b.status == "expired" for n in in_ranges(b.ranges)}
    return frozenset(cid for cid in left if seen[cid] in expired)


async def cancel_batches(
    output_path: str | os.PathLike[str],
    *,
    client: Client | None = None,
    base_url: str | None = None,
) -> list[tuple[str, str]]:
    """Cancel the remote batches recorded beside `output_path` that are still running; the
    (batch id, status) of each. Their finished lines are kept: run the same command again to
    write them to OUT."""
    out = Path(output_path)
    path = manifest_path_for(out)
    if not path.exists():
        raise ConfigError(f"no batches are recorded for {out} (no {path.name} beside it)")
    manifest = Manifest.from_bytes(path.read_bytes(), str(path))
    got: list[tuple[str, str]] = []
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(Client(base_url=base_url))
        api = BatchesAPI(client.transport, client.retry_policy, client.timeouts)
        for b in manifest.live():
            if b.batch_id is None:
                continue
            b.observe(await api.retrieve(b.batch_id))
            if not b.terminal and b.status != "cancelling":
                b.observe(await api.cancel(b.batch_id))
            got.append((b.batch_id, b.status))
        await anyio.to_thread.run_sync(_save, path, manifest)
    return got
