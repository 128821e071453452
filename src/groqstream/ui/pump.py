"""`Pump`: a producer in a background task that appends encoded events for the relay's readers.

DESIGN: the floor of the relay: `relay.py` (a stream's pump) and `tool_relay.py` (a tool
loop's pump) both build on it, and neither imports the other's module to do so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import anyio

__all__ = ["Pump"]


class Pump:
    """Runs a producer in a background task; the producer appends events and calls `wake`.

    `events[i]` is the event with sequence number `base + i + 1`; a reader that drops what it
    consumed (`Relay`) raises `base`, a `RelayHub` keeps everything for replay.
    """

    def __init__(
        self,
        produce: Callable[[Pump], Awaitable[None]],
        on_abort: Callable[[], None] | None = None,
    ) -> None:
        self.events: list[bytes] = []
        self.base = 0
        self.done = False
        self.failure: BaseException | None = None
        self._produce = produce
        self._on_abort = on_abort
        self._waiters: list[asyncio.Future[None]] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def end(self) -> int:
        """The sequence number of the last event appended."""
        return self.base + len(self.events)

    def start(self) -> None:
        """Start the producer task (idempotent; needs a running event loop)."""
        if self._task is None and not self.done:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            await self._produce(self)
        except asyncio.CancelledError:
            pass
        except BaseException as e:  # a bug, not a stream error: hand it to the reader
            self.failure = e
        finally:
            self.done = True
            self.wake()

    def wake(self) -> None:
        """Tell every waiting reader that events arrived (or the pump ended)."""
        waiters = self._waiters
        if waiters:
            for w in waiters:
                if not w.done():
                    w.set_result(None)
            waiters.clear()

    def waiter(self) -> asyncio.Future[None]:
        """A future that `wake` resolves."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        return fut

    def abort(self) -> None:
        """Stop now: close the upstream (synchronously) and cancel the task."""
        if self._on_abort is not None:
            self._on_abort()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        elif self._task is None:
            self.done = True
        self.wake()

    async def aclose(self) -> None:
        """`abort`, then wait for the task to finish (even inside a cancelled scope)."""
        self.abort()
        task = self._task
        if task is not None and not task.done():
            with anyio.CancelScope(shield=True):
                await asyncio.wait({task})
