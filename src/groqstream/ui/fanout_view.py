"""The producer behind the page's fan-out view: N streams at concurrency C, as live SSE events.

Unlike `Client.fan_out` (results as they complete), the view wants to watch every stream while
it runs, so each one is a `ChatStream` under a shared `anyio.CapacityLimiter`; a ticker sends
the rows that changed and the new TTFTs every 250 ms. Events (each with an `id`):

- `start`   {"n", "concurrency"}
- `tick`    {"rows": [{"i", "state", "tokens", "ttft_s", "tokens_per_s", "error"}],
             "ttft_s": [new TTFTs], "done", "failed", "in_flight", "elapsed_s"}
- `summary` {"n", "done", "failed", "elapsed_s", "ttft_p50_s", "ttft_p90_s", "ttft_p99_s",
             "tokens_per_s", "req_per_s"}

Closing the response cancels every stream still running (the pump's task is cancelled).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import orjson

from .._stats import percentile
from ..errors import GroqStreamError
from .encoders import sse_event
from .relay import METRICS_INTERVAL, Pump

if TYPE_CHECKING:
    from ..client import Client

__all__ = ["FanoutRun"]


@dataclass(slots=True, eq=False)
class _Row:
    i: int
    state: str = "queued"  # queued | streaming | done | error
    tokens: int = 0
    ttft_s: float | None = None
    tokens_per_s: float | None = None
    error: str | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "i": self.i,
            "state": self.state,
            "tokens": self.tokens,
            "ttft_s": self.ttft_s,
            "tokens_per_s": self.tokens_per_s,
            "error": self.error,
        }


class FanoutRun:
    """One fan-out run of `requests` (keyword arguments for `client.stream`) at `concurrency`."""

    def __init__(
        self, client: Client, requests: Sequence[dict[str, Any]], concurrency: int
    ) -> None:
        self._client = client
        self._requests = requests
        self._concurrency = concurrency
        self._rows = [_Row(i) for i in range(len(requests))]
        self._dirty: dict[int, _Row] = {}
        self._new_ttft: list[float] = []
        self._ttfts: list[float] = []
        self._tokens = 0
        self._seq = 0
        self._t0 = 0.0

    def _event(self, pump: Pump, name: bytes, data: dict[str, Any]) -> None:
        self._seq += 1
        pump.events.append(sse_event(self._seq, name, orjson.dumps(data)))
        pump.wake()

    async def produce(self, pump: Pump) -> None:
        """The pump's producer: run every stream, ticking the view, then the summary."""
        self._t0 = time.monotonic()
        self._event(pump, b"start", {"n": len(self._rows), "concurrency": self._concurrency})
        limiter = anyio.CapacityLimiter(self._concurrency)
        async with anyio.create_task_group() as outer:
            outer.start_soon(self._ticker, pump)
            async with anyio.create_task_group() as tg:
                for row, params in zip(self._rows, self._requests, strict=True):
                    tg.start_soon(self._one, limiter, row, params)
            outer.cancel_scope.cancel()
        self._tick(pump)
        self._event(pump, b"summary", self._summary())

    async def _one(self, limiter: anyio.CapacityLimiter, row: _Row, params: dict[str, Any]) -> None:
        async with limiter:
            self._mark(row, "streaming")
            try:
                async with self._client.stream(**params) as s:
                    row.ttft_s = s.metrics.ttft_s
                    if row.ttft_s is not None:
                        self._new_ttft.append(row.ttft_s)
                    async for d in s:
                        if d.content or d.reasoning or d.tool_calls:
                            row.tokens += 1
                            self._dirty[row.i] = row
                    m = s.metrics
                row.tokens = m.output_tokens
                row.tokens_per_s = m.output_tokens_per_s
                self._tokens += m.output_tokens
                self._mark(row, "done")
            except GroqStreamError as e:
                row.error = f"{e.kind}: {e.message}"
                self._mark(row, "error")

    def _mark(self, row: _Row, state: str) -> None:
        row.state = state
        self._dirty[row.i] = row

    async def _ticker(self, pump: Pump) -> None:
        while True:
            await anyio.sleep(METRICS_INTERVAL)
            self._tick(pump)

    def _tick(self, pump: Pump) -> None:
        if not self._dirty and not self._new_ttft:
            return
        rows = [r.payload() for r in self._dirty.values()]
        self._dirty = {}
        new, self._new_ttft = self._new_ttft, []
        self._ttfts.extend(new)
        self._event(
            pump,
            b"tick",
            {
                "rows": rows,
                "ttft_s": new,
                "done": sum(r.state == "done" for r in self._rows),
                "failed": sum(r.state == "error" for r in self._rows),
                "in_flight": sum(r.state == "streaming" for r in self._rows),
                "elapsed_s": round(time.monotonic() - self._t0, 6),
            },
        )

    def _summary(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self._t0
        t = sorted(self._ttfts)
        done = sum(r.state == "done" for r in self._rows)
        return {
            "n": len(self._rows),
            "done": done,
            "failed": sum(r.state == "error" for r in self._rows),
            "elapsed_s": round(elapsed, 6),
            "ttft_p50_s": percentile(t, 50) if t else None,
            "ttft_p90_s": percentile(t, 90) if t else None,
            "ttft_p99_s": percentile(t, 99) if t else None,
            "tokens_per_s": self._tokens / elapsed if elapsed > 0 else None,
            "req_per_s": done / elapsed if elapsed > 0 else None,
        }
