"""`ChatStream`: one streamed chat completion, read in bulk and stamped as the bytes arrive.

It owns one HTTP response. Each network read takes exactly one `perf_counter_ns()` stamp and
is handed to the sans-IO core (`SSEDecoder`, `ChunkAssembler`); the deltas come out as an
async iterator. Retries happen only before the first delta reaches the user.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio

from . import _hooks
from .chunks import ChunkAssembler
from .errors import (
    APITimeoutError,
    FirstByteTimeout,
    GroqStreamError,
    IdleTimeout,
    StreamInterrupted,
    TotalTimeout,
)
from .metrics import StreamMetrics, compute_metrics
from .sse import SSEDecoder
from .types import Delta, ToolCall, Usage

if TYPE_CHECKING:
    from ._transport import RetryPolicy, Transport

__all__ = ["ChatStream"]

_perf_ns = time.perf_counter_ns
_READ_ERRORS = (aiohttp.ClientError, OSError, asyncio.IncompleteReadError)
_CHAT_PATH = "/chat/completions"
_INF = float("inf")


def _buffered(reader: aiohttp.StreamReader) -> bool:
    """True if the reader holds bytes the stream has not read yet."""
    return bool(getattr(reader, "_size", 0))


_FAST_DRAIN = callable(getattr(aiohttp.StreamReader, "_wait", None)) and all(
    name in getattr(aiohttp.StreamReader, "__slots__", ())
    for name in (
        "_buffer",
        "_buffer_offset",
        "_size",
        "_cursor",
        "_http_chunk_splits",
        "_protocol",
        "_low_water",
        "_eof",
        "_exception",
    )
)


async def _read_bulk(reader: Any) -> bytes:
    """`readany()` with the drain done by `_drain_buffer`: wait for bytes, take them all."""
    if reader._exception is not None:
        raise reader._exception
    while not reader._buffer:
        if reader._eof:
            return b""
        await reader._wait("readany")
    return _drain_buffer(reader)


def _drain_buffer(reader: Any) -> bytes:
    """All bytes the reader holds, as `readany()` would return them, in one join.

    aiohttp keeps one buffer entry per HTTP chunk and `readany()` pops them one by one with
    flow-control bookkeeping for each — about a microsecond per SSE event when a server
    flushes every event as its own chunk. This does the same bookkeeping once per read.
    Used only where aiohttp's StreamReader has the expected layout (`_FAST_DRAIN`).
    """
    buf = reader._buffer
    offset = reader._buffer_offset
    data: bytes
    if offset:
        first: bytes = buf.popleft()[offset:]
        data = first + b"".join(buf)
        reader._buffer_offset = 0
    else:
        data = b"".join(buf)
    buf.clear()
    n = len(data)
    reader._size -= n
    reader._cursor += n
    splits = reader._http_chunk_splits
    if splits:
        splits.clear()
    if reader._size < reader._low_water:
        reader._protocol.resume_reading()
    return data


class _Watchdog:
    """One timer per stream that enforces the first-token, idle and total deadlines.

    Deadlines move by plain attribute stores on the hot path; the single `call_at` handle
    re-arms itself lazily, so a read costs no timer churn. When a deadline passes while the
    stream waits on the network, the timeout is raised into the pending read.
    """

    __slots__ = (
        "_handle",
        "_loop",
        "_reader",
        "deadline",
        "late",
        "reading",
        "scheduled",
        "total_deadline",
    )

    def __init__(
        self, loop: asyncio.AbstractEventLoop, deadline: float, total_deadline: float
    ) -> None:
        self._loop = loop
        self._reader: aiohttp.StreamReader | None = None
        self.deadline = deadline  # first token, then idle; inf when disabled
        self.total_deadline = total_deadline
        self.reading = False
        self.late = False
        self.scheduled = _INF  # when the timer will next look
        self._handle: asyncio.TimerHandle | None = None

    def watch(self, reader: aiohttp.StreamReader) -> None:
        self._reader = reader
        self._arm()

    def _arm(self) -> None:
        due = min(self.deadline, self.total_deadline)
        self.scheduled = due
        if due != _INF:
            self._handle = self._loop.call_at(due, self._check)

    def rearm(self) -> None:
        """Look again at the current deadlines: after the timer found the consumer busy, or
        when a deadline moved earlier than the timer's next look."""
        self.late = False
        self.cancel()
        self._arm()

    def _check(self) -> None:
        self._handle = None
        now = self._loop.time()
        due = min(self.deadline, self.total_deadline)
        if now < due:
            self.scheduled = due
            self._handle = self._loop.call_at(due, self._check)
            return
        reader = self._reader
        if not self.reading or reader is None or _buffered(reader):
            # The consumer is busy with earlier bytes; judge when it waits on the network again.
            self.late = True
            return
        reader.set_exception(_timeout_error(self))

    def cancel(self) -> None:
        """Stop the timer."""
        self.scheduled = _INF
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


def _timeout_error(w: _Watchdog) -> APITimeoutError:
    if w.total_deadline <= w.deadline:
        return TotalTimeout("the stream exceeded its total timeout")
    return IdleTimeout("no data from the server within the timeout")


class ChatStream:
    """An async iterator of `Delta`s for one streamed chat completion.

    Use it as ``async with client.stream(...) as s: async for delta in s: ...``. After the
    stream, `text`, `reasoning`, `tool_calls`, `finish_reason`, `usage`, `request_id` and
    `metrics` describe the whole completion. Leaving the block, breaking out of the loop or
    cancelling the task closes the connection at once so the server stops generating.
    """

    def __init__(self, transport: Transport, body: dict[str, Any], retry: RetryPolicy) -> None:
        self._transport = transport
        self._body = body
        self._retry = retry
        self._resp: aiohttp.ClientResponse | None = None
        self._reader: aiohttp.StreamReader | None = None
        self._watchdog: _Watchdog | None = None
        self._decoder = SSEDecoder()
        self._asm = ChunkAssembler()
        self._pending: list[Delta] = []
        self._pos = 0
        self._opened = False
        self._finished = False  # the stream ended completely
        self._closed = False
        self._delivered = False  # a delta reached the user: no more retries
        self._deferred: GroqStreamError | None = None
        self._start_ns = 0
        self._end_ns = 0
        self._last_read_ns = 0
        self._header_request_id: str | None = None
        self.attempts = 0
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self._obs: _hooks.Request | None = None  # set only while an observer is registered

    def __repr__(self) -> str:
        state = "finished" if self._finished else "closed" if self._closed else "open"
        return f"<ChatStream model={self._body.get('model')!r} {state} chunks={self._asm.chunks}>"

    # --- context manager and iteration ---------------------------------------------------

    async def __aenter__(self) -> ChatStream:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> Delta:
        pos = self._pos
        pending = self._pending
        if pos < len(pending):
            self._pos = pos + 1
            return pending[pos]
        if not self._opened:
            await self.start()
        elif not await self._guarded_fill():
            raise StopAsyncIteration
        if self._pos < len(self._pending):
            self._delivered = True
            d = self._pending[self._pos]
            self._pos += 1
            return d
        raise StopAsyncIteration

    async def until_done(self) -> ChatStream:
        """Consume the rest of the stream (discarding deltas) and return self."""
        async for _ in self:
            pass
        return self

    def close(self) -> None:
        """Close the connection now if the stream is not finished; idempotent."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        resp = self._resp
        if resp is not None:
            if self._finished:
                resp.release()
            else:
                resp.close()
            self._resp = None
            self._reader = None
        self._closed = True
        if self._obs is not None and (self._delivered or self._finished):
            self._obs.end(self)

    async def aclose(self) -> None:
        """Async alias of `close`, for `contextlib.aclosing` and similar."""
        self.close()

    def __del__(self) -> None:
        resp = getattr(self, "_resp", None)
        if resp is not None and not resp.closed:
            resp.close()
        if getattr(self, "_obs", None) is not None:
            _hooks.collected(self._obs, self)

    # --- opening, with retries before the first delta ------------------------------------

    async def start(self) -> None:
        """Send the request and wait for the first delta, retrying where that is safe."""
        if self._opened:
            return
        self._opened = True
        if _hooks.observers:
            self._obs = _hooks.begin("stream", self._body, self._transport.base_url)
        attempt = 0
        while True:
            attempt += 1
            self.attempts = attempt
            try:
                await self._send()
                await self._guarded_fill()
                self._delivered = True
                return
            except GroqStreamError as e:
                delay = self._retry.delay(attempt, e)
                _hooks.attempt_failed(self._obs, self, attempt, e, delay)
                if delay is None or self._delivered:
                    raise
                self._reset_for_retry()
                await anyio.sleep(delay)
            except BaseException:
                if self._obs is not None:
                    self._obs.end(self)  # cancelled (or broken) before the first delta
                self.close()
                raise

    def _reset_for_retry(self) -> None:
        self.close()
        self._closed = False
        self._decoder = SSEDecoder()
        self._asm = ChunkAssembler()
        self._pending = []
        self._pos = 0
        self._deferred = None
        self._header_request_id = None

    async def _send(self) -> None:
        t = self._transport.timeouts
        loop = asyncio.get_running_loop()
        now = loop.time()
        inf = _INF
        limit = t.first_byte
        if t.total is not None and (limit is None or t.total < limit):
            limit = t.total
        self._transport.session  # noqa: B018 - create the session before the clock starts
        self._start_ns = _perf_ns()
        resp = await self._transport.post(_CHAT_PATH, self._body, stream=True, limit=limit)
        self._resp = resp
        self._reader = resp.content
        self.status = resp.status
        self.headers = {k.lower(): v for k, v in resp.headers.items()}
        self._header_request_id = resp.headers.get("x-request-id")
        wd = _Watchdog(
            loop,
            now + t.first_byte if t.first_byte is not None else inf,
            now + t.total if t.total is not None else inf,
        )
        self._watchdog = wd
        wd.watch(resp.content)

    # --- the read loop -------------------------------------------------------------------

    async def _guarded_fill(self) -> bool:
        try:
            return await self._fill()
        except GroqStreamError as e:
            if self._obs is not None and self._delivered:
                self._obs.end(self, e)  # mid-stream; before that, start() decides on retries
            self.close()
            e.partial_text = self._asm.text()
            e.partial_reasoning = self._asm.reasoning() or ""
            if e.request_id is None:
                e.request_id = self.request_id
            raise
        except BaseException:
            self.close()  # cancelled or broken: drop the connection so generation stops
            raise

    async def _fill(self) -> bool:
        """Read until at least one delta is buffered (True) or the stream ended (False)."""
        if self._deferred is not None:
            err, self._deferred = self._deferred, None
            raise err
        if self._finished:
            return False
        reader = self._reader
        wd = self._watchdog
        if reader is None or wd is None:
            return False
        asm = self._asm
        feed_sse = self._decoder.feed_payloads
        idle = self._transport.timeouts.idle
        loop_time = asyncio.get_running_loop().time
        fast = _FAST_DRAIN
        while True:
            wd.reading = True
            if wd.late:
                wd.rearm()
            try:
                data = await (_read_bulk(reader) if fast else reader.readany())
            except GroqStreamError as e:
                if isinstance(e, IdleTimeout) and not asm.output_ns:
                    raise FirstByteTimeout(
                        "no token within the first-byte timeout",
                        timeout=self._transport.timeouts.first_byte,
                    ) from None
                raise
            except _READ_ERRORS as e:
                raise self._interrupted(f"connection lost mid-stream ({type(e).__name__})") from e
            finally:
                wd.reading = False
            now = _perf_ns()
            self._last_read_ns = now
            if not data:
                if asm.complete:
                    self._end_ns = now
                    self._finish()
                    return False
                raise self._interrupted("the server closed the stream before it was complete")
            events = feed_sse(data)
            if not events:
                continue  # keep-alive comments or a partial event: not data
            deltas = asm.feed(events, now)
            if asm.output_ns:  # tokens flow: the idle limit applies from here on
                deadline = loop_time() + idle if idle is not None else _INF
                wd.deadline = deadline
                if deadline < wd.scheduled:
                    wd.rearm()
            if asm.error is not None:
                if not deltas:
                    raise asm.error
                self._deferred = asm.error
            if asm.done:
                self._end_ns = now
                await self._drain()
            if deltas:
                self._pending = deltas
                self._pos = 0
                return True
            if self._finished:
                return False

    async def _drain(self) -> None:
        """After `[DONE]`, read the body to its end so the connection returns to the pool."""
        reader = self._reader
        try:
            while reader is not None and await reader.readany():
                pass
        except (GroqStreamError, *_READ_ERRORS):
            pass  # the completion is whole; only the connection's reuse is lost
        self._finish()

    def _finish(self) -> None:
        self._finished = True
        self.close()

    def _interrupted(self, why: str) -> StreamInterrupted:
        asm = self._asm
        return StreamInterrupted(
            f"{why} after {asm.chunks} chunks",
            partial_text=asm.text(),
            partial_reasoning=asm.reasoning() or "",
            chunks=asm.chunks,
        )

    # --- results -------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """The content text received (all of it once the stream is finished)."""
        return self._asm.text()

    @property
    def reasoning(self) -> str | None:
        """The reasoning text received, or None if the model sent none."""
        return self._asm.reasoning()

    @property
    def tool_calls(self) -> list[ToolCall]:
        """Complete tool calls, assembled from the stream's fragments."""
        return self._asm.tool_calls()

    @property
    def finish_reason(self) -> str | None:
        """Why generation stopped ("stop", "length", "tool_calls", ...), once known."""
        return self._asm.finish_reason

    @property
    def usage(self) -> Usage | None:
        """Token counts and server timings (`x_groq.usage` first, else `usage`)."""
        return self._asm.usage

    @property
    def request_id(self) -> str | None:
        """The server's request id: `x_groq.id`, else the `x-request-id` header."""
        return self._asm.request_id or self._header_request_id

    @property
    def completion_id(self) -> str | None:
        """The `id` of the chunks (`chatcmpl-…`), once the first chunk arrived."""
        return self._asm.completion_id

    @property
    def model(self) -> str | None:
        """The model the server says answered."""
        return self._asm.model

    @property
    def finished(self) -> bool:
        """True once the stream ended completely (not interrupted, not abandoned)."""
        return self._finished

    @property
    def metrics(self) -> StreamMetrics:
        """Latency metrics of the (last) attempt; complete once the stream is finished."""
        end = self._end_ns or self._last_read_ns or _perf_ns()
        return compute_metrics(self._start_ns, end, self._asm.output_ns, self._asm.usage)

    def text_for(self, index: int) -> str:
        """The content text of choice `index` (for requests with n > 1)."""
        return self._asm.text(index)
