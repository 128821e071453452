"""`relay()`: a `ChatStream` as an async iterator of encoded bytes, ready for an HTTP response.

One background task (the pump) reads the stream and feeds an encoder, which appends whole
events to a list; the reader of the response (a `Relay` or a `RelayHub` subscriber) takes
everything that piled up in one `bytes` join, so the deltas of one network read become one
write. While nothing comes, it sends a keep-alive comment every `keepalive` seconds. The
reader never waits inside the `ChatStream` itself, so it can stop the upstream stream at once
(`abort`) however long the model takes to say the next token.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ..errors import ConfigError, GroqStreamError
from .encoders import KEEPALIVE, Encoder, StreamEnd, make_encoder
from .pump import Pump

if TYPE_CHECKING:
    from ..stream import ChatStream
    from ..tools import ToolRun

__all__ = [
    "METRICS_INTERVAL",
    "Pump",
    "Reader",
    "Relay",
    "Subscriber",
    "pump_stream",
    "relay",
    "stream_pump",
]

METRICS_INTERVAL = 0.25
"""Seconds between two `metrics` events, at most (plus one when the stream ends)."""

_INF = float("inf")


class Subscriber:
    """One reader of a `Pump`: replays from `cursor`, then waits for new events, sending a
    keep-alive comment after `keepalive` seconds of silence.

    `trim` drops consumed events (a single reader); `on_close` runs once when it closes.
    """

    def __init__(
        self,
        pump: Pump,
        *,
        keepalive: float | None,
        cursor: int = 0,
        trim: bool = False,
        prelude: bytes = b"",
        on_close: Callable[[], None] | None = None,
    ) -> None:
        if keepalive is not None and not keepalive > 0:
            raise ConfigError(f"keepalive must be > 0 seconds or None, got {keepalive!r}")
        self._pump = pump
        self._keepalive = keepalive if keepalive is not None else _INF
        self._cursor = cursor  # sequence number of the last event sent
        self._trim = trim
        self._prelude = prelude
        self._on_close = on_close
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._next_keepalive = _INF
        self._keepalive_due = False

    def _take(self) -> bytes | None:
        p = self._pump
        start = self._cursor - p.base
        events = p.events
        if start >= len(events):
            return None
        data = events[start] if start == len(events) - 1 else b"".join(events[start:])
        self._cursor = p.base + len(events)
        if self._trim:
            p.base = self._cursor
            events.clear()
        return data

    async def next_chunk(self) -> bytes | None:
        """The next bytes to write (events, or a keep-alive), or None at the end."""
        if self._prelude:
            prelude, self._prelude = self._prelude, b""
            return prelude + (self._take() or b"")
        p = self._pump
        p.start()
        loop = asyncio.get_running_loop()
        while not self._closed:
            data = self._take()
            if data is not None:
                self._sent(loop)
                return data
            if p.done:
                if p.failure is not None:
                    raise p.failure
                return None
            if self._keepalive_due:
                self._keepalive_due = False
                self._sent(loop)
                return KEEPALIVE
            self._arm(loop)
            self._waiter = p.waiter()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return None

    def _sent(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._keepalive != _INF:
            self._next_keepalive = loop.time() + self._keepalive

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        """Make sure one timer looks at the keep-alive deadline (re-armed lazily)."""
        if self._timer is None and self._keepalive != _INF:
            if self._next_keepalive == _INF:
                self._next_keepalive = loop.time() + self._keepalive
            self._timer = loop.call_at(self._next_keepalive, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_keepalive:
            self._timer = loop.call_at(self._next_keepalive, self._on_timer)
            return
        self._keepalive_due = True
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    @property
    def last_event_id(self) -> int:
        """The sequence number of the last event handed out."""
        return self._cursor

    def close(self) -> None:
        """Stop reading (idempotent); a waiting `next_chunk` returns None."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)
        if self._on_close is not None:
            self._on_close()


class Reader:
    """An async iterator of the bytes one `Subscriber` hands out, with the response `headers`.

    `abort()` says the client is gone, `aclose()` ends the reading; both are idempotent. This
    is the shape the HTTP adapters write (`aiohttp_adapter.write_relay`, `RelayResponse`).
    """

    def __init__(self, sub: Subscriber, headers: Mapping[str, str]) -> None:
        self.headers = dict(headers)
        self._sub = sub

    def __aiter__(self) -> Reader:
        return self

    async def __anext__(self) -> bytes:
        data = await self._sub.next_chunk()
        if data is None:
            raise StopAsyncIteration
        return data

    @property
    def last_event_id(self) -> int:
        """The id of the last event handed out so far."""
        return self._sub.last_event_id

    def abort(self) -> None:
        """The client is gone: stop reading."""
        self._sub.close()

    async def aclose(self) -> None:
        """Stop reading."""
        self._sub.close()

    async def __aenter__(self) -> Reader:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class Relay(Reader):
    """What `relay()` returns: the only reader of its pump, so leaving stops the stream.

    Iterate it and write each chunk to the response; `abort()` when the client went away
    (the upstream stream is closed at once); always `await aclose()` at the end (also an
    async context manager).
    """

    def __init__(
        self, pump: Pump, headers: Mapping[str, str], *, keepalive: float | None = 15.0
    ) -> None:
        super().__init__(Subscriber(pump, keepalive=keepalive, trim=True), headers)
        self._pump = pump

    def abort(self) -> None:
        """The client is gone: close the upstream stream now and end the iteration."""
        self._pump.abort()
        self._sub.close()

    async def aclose(self) -> None:
        """Abort if still running, and wait for the background task to end."""
        self._sub.close()
        await self._pump.aclose()


async def pump_stream(
    pump: Pump, stream: ChatStream, enc: Encoder, *, include_metrics: bool = True
) -> None:
    """Producer: start `stream`, encode every delta of choice 0, then its end or its error.

    Metrics go out with the first delta that arrives at least `METRICS_INTERVAL` after the
    previous metrics event (judged by the deltas' own arrival stamps: no clock read here),
    and once more when the stream ended.
    """
    out = pump.events
    try:
        await stream.start()
        enc.open(out, message_id=stream.completion_id)
        pump.wake()
        tools_sent = await _pump_deltas(pump, stream, enc, include_metrics)
        if not tools_sent and (calls := stream.tool_calls):
            enc.tool_calls(calls, out)
        if include_metrics:
            enc.metrics(stream.metrics, out, final=True)
        end = StreamEnd(stream.finish_reason, stream.usage, stream.request_id, stream.model)
        enc.done(end, out)
    except GroqStreamError as e:
        enc.error(e, out)
    finally:
        stream.close()


async def _pump_deltas(pump: Pump, stream: ChatStream, enc: Encoder, metrics: bool) -> bool:
    out = pump.events
    wake = pump.wake
    interval = int(METRICS_INTERVAL * 1e9)
    next_metrics = 0 if metrics else 1 << 62
    tools_sent = False
    async for d in stream:
        if d.index:
            continue  # a UI shows choice 0
        enc.delta(d, out)
        if d.finish_reason is not None and not tools_sent:
            tools_sent = True
            calls = stream.tool_calls
            if calls:
                enc.tool_calls(calls, out)
        if d.arrived_ns >= next_metrics:
            next_metrics = d.arrived_ns + interval
            enc.metrics(stream.metrics, out)
        wake()
    return tools_sent


def relay(
    stream: ChatStream | ToolRun,
    *,
    protocol: str = "sse",
    keepalive: float | None = 15.0,
    include_metrics: bool = True,
) -> Relay:
    """Relay `stream` to a browser: an async iterator of encoded bytes for an HTTP response.

    `protocol` is "sse" (events `reasoning`, `content`, `tool_call`, `metrics`, `done`,
    `error`) or "vercel" (the Vercel AI SDK UI message stream, v1). A tool loop
    (``client.run_tools(...)``) relays every round, with tool inputs, outputs and sources (see
    docs/tools.md). Pass the stream unstarted
    (``client.stream(...)``): the relay starts it, so a failure to connect reaches the
    browser as an `error` event. A keep-alive comment goes out after `keepalive` seconds of
    silence (None: never). The returned `Relay` carries the response `headers`.
    """
    enc = make_encoder(protocol)
    from ..tools import ToolRun

    if isinstance(stream, ToolRun):  # a tool loop: every round, tool outputs between them
        from .tool_relay import pump_tools

        run = stream
        pump = Pump(lambda p: pump_tools(p, run, enc, include_metrics=include_metrics))
        return Relay(pump, enc.headers, keepalive=keepalive)
    return Relay(stream_pump(stream, enc, include_metrics), enc.headers, keepalive=keepalive)


def stream_pump(stream: ChatStream, enc: Encoder, include_metrics: bool = True) -> Pump:
    """A (not yet started) pump relaying `stream` through `enc`; aborting it closes the stream."""
    return Pump(
        lambda p: pump_stream(p, stream, enc, include_metrics=include_metrics),
        on_abort=stream.close,
    )
