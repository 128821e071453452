"""Request observers: how optional instrumentation (`groqstream.otel`) watches requests.

Dependency-free and free when unused. `observers` is a tuple that stays empty unless an
instrumentation registers one; the client tests it once when a request starts
(``if _hooks.observers:``) and, when it is empty, keeps no handle and makes no further call.
Nothing is called per chunk: an observer reads the stream's own `StreamMetrics` (first-token
time, chunk gaps, server timings) once, when the request ends.

The contract, as the client keeps it:

- ``begin(kind, body, base_url)`` when a request starts (once; only if `observers` is
  non-empty). `kind` is ``"stream"`` (`ChatStream.start`) or ``"complete"`` (`Client.complete`);
  `body` is the JSON body as sent (observers read it, never change it); `base_url` is the
  transport's base URL. No header, hence no API key, ever reaches an observer.
- ``Request.retry(attempt, error, delay)`` each time attempt number `attempt` (1-based) failed
  with `error` and will be tried again after `delay` seconds.
- ``Request.end(result, error)`` when the request is over, however it ended: `result` is the
  `ChatStream` (finished, failed, closed early or garbage-collected) or the `Completion`
  (None when `complete` failed); `error` is the exception that reached the caller, or None.
  Only the first call counts, so every exit path may call it. From `__del__`, use
  `collected`, which hands the end to the event loop instead of running observer code inside
  the garbage collector.

Observer code never breaks a request: whatever it raises is logged and dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Protocol

__all__ = [
    "Handle",
    "Observer",
    "Request",
    "begin",
    "collected",
    "observers",
    "register",
    "unregister",
]

log = logging.getLogger("groqstream")


class Handle(Protocol):
    """What an observer returns for one request; called by `Request`, never concurrently."""

    def retry(self, attempt: int, error: BaseException, delay: float) -> None:
        """Attempt `attempt` failed with `error`; the next one starts after `delay` seconds."""

    def end(self, result: object, error: BaseException | None) -> None:
        """The request is over (called exactly once). `result` is the `ChatStream`, the
        `Completion` or None (typed `object` here: this module sits below both). `error` is
        None for a finished request or one the caller stopped (break, close, garbage
        collection), the `GroqStreamError` it failed with, or the `asyncio.CancelledError`
        of a task cancelled while it waited."""


class Observer(Protocol):
    """Something that wants to see requests, e.g. `groqstream.otel.GroqStreamInstrumentor`."""

    def begin(self, kind: str, body: Mapping[str, Any], base_url: str) -> Handle | None:
        """A request starts; return a handle to follow it, or None to ignore it."""


observers: tuple[Observer, ...] = ()
"""The registered observers. Empty means: nothing is observed and nothing is paid."""


def register(observer: Observer) -> None:
    """Add an observer (idempotent). Requests started from now on are shown to it."""
    global observers
    if observer not in observers:
        observers = (*observers, observer)


def unregister(observer: Observer) -> None:
    """Remove an observer (idempotent). Requests it already follows still end normally."""
    global observers
    observers = tuple(o for o in observers if o is not observer)


class Request:
    """One observed request: forwards its events to each observer's handle, ends it once."""

    __slots__ = ("_handles", "ended", "loop")

    def __init__(self, handles: tuple[Handle, ...]) -> None:
        self._handles = handles
        self.ended = False
        try:
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = None

    def retry(self, attempt: int, error: BaseException, delay: float) -> None:
        """Attempt `attempt` failed with `error` and will be retried after `delay` seconds."""
        if self.ended:
            return
        for h in self._handles:
            try:
                h.retry(attempt, error, delay)
            except Exception:
                log.debug("request observer failed in retry()", exc_info=True)

    def end(self, result: object, error: BaseException | None = None) -> None:
        """The request is over; only the first call counts."""
        if self.ended:
            return
        self.ended = True
        for h in self._handles:
            try:
                h.end(result, error)
            except Exception:
                log.debug("request observer failed in end()", exc_info=True)


def begin(kind: str, body: Mapping[str, Any], base_url: str) -> Request | None:
    """Show a starting request to every observer; None if none wants to follow it.

    Call only when `observers` is non-empty, so an unobserved request pays one test.
    """
    handles: list[Handle] = []
    for o in observers:
        try:
            h = o.begin(kind, body, base_url)
        except Exception:
            log.debug("request observer failed in begin()", exc_info=True)
            continue
        if h is not None:
            handles.append(h)
    return Request(tuple(handles)) if handles else None


def collected(req: Request | None, result: object) -> None:
    """End a request whose stream is being garbage-collected (called from `__del__`).

    Observer code (an OpenTelemetry SDK, say) may hold locks that the collector interrupted,
    so the end runs as an event-loop callback while the request's loop runs, and right here
    once it no longer does (it would never run the callback).
    """
    if req is None or req.ended:
        return
    loop = req.loop
    if loop is not None and loop.is_running():
        try:
            loop.call_soon_threadsafe(req.end, result, None)
            return
        except RuntimeError:
            pass
    req.end(result, None)
