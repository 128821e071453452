"""Rate limits for a whole job: one `Coordinator` actor, a `DistributedGate` in each worker.

The coordinator owns the job's RPM/TPM token buckets and its pause (a 429, `retry-after`
or an `x-ratelimit-*` budget at zero seen by any worker). A worker's gate holds a small
stock of leased send slots, each with the instant it becomes usable, and refills it in
batches from a background task, so `reserve` never waits for the actor: N workers share
one budget without an actor round-trip per request.

The coordinator also collects each worker's progress for the job's one live line.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..fanout import Progress
from ..ratelimit import RateLimitGate

__all__ = ["Coordinator", "DistributedGate", "Lease", "WorkerProgress"]

log = logging.getLogger("groqstream.distributed")

SYNC_PERIOD = 0.1  # how often a worker hears of another's pause, at the latest
_HOLD = 0.02  # how long a request without a leased slot waits before looking again
_STOCK_SECONDS = 0.25  # a worker's stock covers this much of the job's request rate
# A leased slot is good only this long after its moment: budget a stalled worker could not
# spend in time is dropped, not spent later on top of everyone's current budget (that is
# what let a 10 s window see 262 requests at --rpm 1200).
SLOT_TTL = 0.25
# The job's buckets hold half a second of their rate: with SLOT_TTL, any window of T
# seconds sees at most (T + 0.75 s) × rate, within 10 % of the rate over 10 s.
JOB_BURST_S = 0.5
_DEFAULT_TOKENS = 1024


@dataclass(frozen=True, slots=True)
class Lease:
    """The coordinator's answer: when each granted slot may be used, and the job's pause,
    both in seconds from now."""

    waits: tuple[float, ...]
    paused_for: float


@dataclass(frozen=True, slots=True)
class WorkerProgress:
    """One worker's last progress report."""

    worker: int
    attempt_pid: int
    skipped: int
    progress: Progress


class Coordinator:
    """The job's shared state, run as one Ray actor: rate-limit buckets, pause, progress."""

    def __init__(self, requests_per_minute: float | None, tokens_per_minute: float | None) -> None:
        self._gate = RateLimitGate(requests_per_minute, tokens_per_minute, burst_s=JOB_BURST_S)
        self._progress: dict[int, WorkerProgress] = {}
        self.granted = 0

    def lease(self, want: int, tokens_each: float, refund_tokens: float) -> Lease:
        """Grant `want` send slots of `tokens_each` estimated tokens, after crediting
        `refund_tokens` (what earlier estimates over-charged; negative if they under-charged)."""
        now = time.monotonic()
        if refund_tokens:
            self._gate.settle(round(refund_tokens), 0, now)
        cost = max(1, round(tokens_each))
        waits = tuple(self._gate.reserve(cost, now) for _ in range(want))
        self.granted += want
        return Lease(waits, max(0.0, self._gate.paused_until - now))

    def pause(self, seconds: float) -> None:
        """Hold every worker's new requests for `seconds` from now."""
        self._gate.pause(seconds, time.monotonic())

    def put_progress(self, report: WorkerProgress) -> None:
        """A worker's latest progress."""
        self._progress[report.worker] = report

    def progress(self) -> dict[int, WorkerProgress]:
        """Every worker's latest progress."""
        return dict(self._progress)

    def stats(self) -> dict[str, float]:
        """Counters for tests and logs."""
        return {"granted": self.granted, "pauses": self._gate.pauses}


class DistributedGate(RateLimitGate):
    """A `RateLimitGate` for `fan_out(gate=...)` that draws on a job-wide `Coordinator`.

    `reserve` takes a leased slot from the local stock (or, if the stock ran dry, holds
    the request until the next lease arrives); `pause` applies at once here and is sent to
    the coordinator, which tells every other worker within `SYNC_PERIOD`. Use it inside
    ``async with gate:`` in the event loop that runs the fan-out.
    """

    def __init__(
        self,
        coordinator: Any,
        *,
        requests_per_minute: float | None,
        tokens_per_minute: float | None,
        concurrency: int,
        on_sync: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self._coord = coordinator
        self._limited = bool(requests_per_minute or tokens_per_minute)
        self._job_rpm, self._job_tpm = requests_per_minute, tokens_per_minute
        self._concurrency = concurrency
        self._slots: collections.deque[tuple[float, float]] = collections.deque()  # ready, cost
        self._owed = 0  # requests told to hold until a lease gives them slots
        self._release_at = 0.0  # when the requests that were owed slots may go
        self._refund = 0.0
        self._tokens_each = float(_DEFAULT_TOKENS)
        self._estimates = 0
        self._on_sync = on_sync
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.leases = 0
        self.expired = 0  # leased slots dropped unused (see SLOT_TTL)

    # paused_until is a field of the base class; here it also holds requests owed a slot
    @property
    def paused_until(self) -> float:
        """When new requests may go: the job's pause, or a short hold while slots are owed."""
        hold = time.monotonic() + _HOLD if self._owed else 0.0
        return max(self._pause, self._release_at, hold)

    @paused_until.setter
    def paused_until(self, value: float) -> None:
        self._pause = value

    async def __aenter__(self) -> DistributedGate:
        self._wake = asyncio.Event()
        await self._sync()  # the first lease before the first request
        self._task = asyncio.get_running_loop().create_task(self._sync_loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._on_sync is not None:
            self._on_sync()

    def reserve(self, tokens: int, now: float) -> float:
        """Take a leased slot for one request of `tokens` estimated tokens; seconds to wait."""
        wait = max(0.0, self._pause - now, self._release_at - now)
        if not self._limited:
            return wait
        self._estimates += 1
        self._tokens_each += (tokens - self._tokens_each) / min(self._estimates, 100)
        while self._slots and self._slots[0][0] < now - SLOT_TTL:
            self._slots.popleft()  # its moment passed unused: spending it now would burst
            self.expired += 1
        if self._slots:
            ready, cost = self._slots.popleft()
            self._refund += cost - tokens
            if len(self._slots) < self._stock_target() // 2 + 1:
                self._poke()
            return max(wait, ready - now)
        self._refund += self._tokens_each - tokens  # what the owed slot will be charged
        self._owed += 1
        self._poke()
        return max(wait, _HOLD)

    def settle(self, estimated: int, actual: int | None, now: float) -> None:
        """Credit (or charge) the job's token budget with what an estimate got wrong."""
        if actual is not None:
            self._refund += estimated - actual

    def pause(self, seconds: float, now: float) -> None:
        """Hold new requests for `seconds`, here at once and in every worker soon."""
        until = now + seconds
        if until > self._pause:
            self._pause = until
            self.pauses += 1
            self._coord.pause.remote(seconds)

    def _stock_target(self) -> int:
        """Slots to keep in stock: a quarter of a second of the job's request (and token)
        rate, at most this worker's concurrency — enough that a request rarely waits for a
        lease, little enough that one worker does not hold the job's budget for long."""
        target = float(self._concurrency)
        if self._job_rpm:
            target = min(target, self._job_rpm / 60.0 * _STOCK_SECONDS)
        if self._job_tpm:
            target = min(target, self._job_tpm / 60.0 * _STOCK_SECONDS / self._tokens_each)
        return max(1, math.ceil(target))

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _sync_loop(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SYNC_PERIOD)
            self._wake.clear()
            try:
                await self._sync()
            except Exception as e:  # the actor restarting, a slow node: try again shortly
                log.warning("rate-limit coordinator unreachable (%s); retrying", e)
                await asyncio.sleep(SYNC_PERIOD)

    async def _sync(self) -> None:
        """One round trip: return refunds, take a batch of slots, learn the job's pause."""
        want = max(0, self._stock_target() - len(self._slots)) + self._owed if self._limited else 0
        refund, self._refund = self._refund, 0.0
        cost = self._tokens_each
        try:
            lease: Lease = await self._coord.lease.remote(want, cost, refund)
        except BaseException:
            self._refund += refund
            raise
        self.leases += 1
        now = time.monotonic()
        if lease.paused_for > 0:
            self._pause = max(self._pause, now + lease.paused_for)
        ready = [now + w for w in lease.waits]
        owed = min(self._owed, len(ready))
        if owed:  # held requests go once the last of their slots is ready (all at once)
            self._release_at = max(self._release_at, *ready[:owed])
            self._owed -= owed
            if self._owed:
                self._poke()
        self._slots.extend((r, cost) for r in ready[owed:])
        if self._on_sync is not None:
            self._on_sync()

    def describe(self) -> Mapping[str, float]:
        """Counters for tests and logs."""
        return {
            "leases": self.leases,
            "stock": len(self._slots),
            "owed": self._owed,
            "expired": self.expired,
        }
