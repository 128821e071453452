"""The loop-lag monitor: how late the event loop ran while streams took their stamps.

DESIGN: the IO half of `metrics.LagTrace` (which holds the sans-IO record), beside
`stream.py`. One monitor per event loop, started by the first stream that opens on it and
stopping by itself once no stream has been open for a whole period: an idle service's loop is
not woken for nothing. While it runs, one timer every `PERIOD_S` notes how late it fired; a
stream asks, when it finishes, for the bound over its own life.
"""

from __future__ import annotations

import asyncio
import time
import weakref

from .metrics import LagTrace

__all__ = ["PERIOD_S", "LoopLagMonitor", "monitor_for"]

PERIOD_S = 0.002
"""Sampling period: 2 ms (500 wake-ups a second while streams are open, ~0.2 % of a core)."""

_perf_ns = time.perf_counter_ns


class LoopLagMonitor:
    """Samples one event loop's lateness into a `LagTrace` while streams are open."""

    __slots__ = ("__weakref__", "_due", "_handle", "_loop", "open", "trace")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop  # (the registry holds monitors weakly: the monitor lives as long as
        # its users — a transport, an open stream, its own pending timer — and the loop with it)
        self.trace = LagTrace(int(PERIOD_S * 1e9))
        self.open = 0  # streams open now
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0

    @property
    def running(self) -> bool:
        """True while the sampling timer is armed."""
        return self._handle is not None

    def enter(self) -> None:
        """A stream opened: make sure the timer runs."""
        self.open += 1
        if self._handle is None:
            self._due = self._loop.time() + PERIOD_S
            self._handle = self._loop.call_at(self._due, self._tick)

    def leave(self) -> None:
        """A stream ended (the timer stops at its next tick if none is left)."""
        self.open -= 1

    def _tick(self) -> None:
        now = self._loop.time()
        # (asyncio may run a timer up to its clock's resolution early: that is no lateness)
        self.trace.add(_perf_ns(), max(0, int((now - self._due) * 1e9)))
        if self.open <= 0:
            self.open = 0
            self._handle = None
            return
        self._due = now + PERIOD_S
        self._handle = self._loop.call_at(self._due, self._tick)

    def bound_since(self, start_ns: int) -> float:
        """Seconds by which a stamp taken since `start_ns` may be late (see `LagTrace`),
        counting a stall still in progress now (the timer is overdue)."""
        late_now = 0
        if self._handle is not None:
            late_now = max(0, int((self._loop.time() - self._due) * 1e9))
        return self.trace.bound_since(start_ns, late_now)


_MONITORS: weakref.WeakValueDictionary[int, LoopLagMonitor] = weakref.WeakValueDictionary()


def monitor_for(loop: asyncio.AbstractEventLoop) -> LoopLagMonitor:
    """The monitor of `loop`, made on first use. The registry holds it weakly: whoever uses it
    (a client's transport, an open stream, its own pending timer) keeps it alive, and it goes
    with them and the loop."""
    m = _MONITORS.get(id(loop))
    if m is None or m._loop is not loop:
        m = _MONITORS[id(loop)] = LoopLagMonitor(loop)
    return m
