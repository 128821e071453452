"""`ChatStream`: one streamed chat completion, read in bulk and stamped as the bytes arrive.

DESIGN: above `_transport.py` and `_retry.py`, below `client.py` and `fanout.py`. It owns one
HTTP response. Each network read (`_read`, the only IO) takes exactly one `perf_counter_ns()`
stamp; `_handle` hands the bytes to the sans-IO core (`SSEDecoder`, `ChunkAssembler`) and
decides what the read means. The stream's life is one `StreamState` and the table of the
moves between states. Retries run through `RetryPolicy.run`, and an attempt ends when the
first delta is ready, so nothing that reached the user is ever retried.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from . import _hooks
from ._looplag import LoopLagMonitor, monitor_for
from ._pool import BodyReader, ConnStamps, Response, deadline_at
from ._retry import RetryPolicy, RetryState
from ._transport import (
    CHAT_PATH,
    READ_ERRORS,
    Deadlines,
    Timeouts,
    body_lost,
    timeout_error,
)
from .chunks import ChunkAssembler
from .errors import (
    APITimeoutError,
    ConfigError,
    FirstByteTimeout,
    GroqStreamError,
    IdleTimeout,
    StreamInterrupted,
    TotalTimeout,
)
from .metrics import StreamMetrics, compute_metrics
from .sse import DEFAULT_MAX_EVENT_BYTES, ServerSentEvent, SSEDecoder
from .types import Delta, ExecutedTool, Route, ToolCall, Usage, assistant_message

if TYPE_CHECKING:
    from ._transport import Transport
    from .structured import Partial

__all__ = ["ChatStream", "DeltaStream", "StreamState"]

_perf_ns = time.perf_counter_ns
_INF = float("inf")
_DRAIN_LIMIT = 1.0  # seconds to wait for the body's end after `[DONE]`
_NO_DELTAS: list[Delta] = []  # shared and never mutated: `_pending` is replaced, not filled
_NO_DELTA = Delta()


class StreamState(enum.Enum):
    """Where a `ChatStream` is in its life."""

    IDLE = "idle"  # made, request not sent
    OPENING = "opening"  # sending, waiting for the first delta; retries allowed
    STREAMING = "streaming"  # a delta reached the user: no more retries
    FINISHED = "finished"  # ended completely; the connection went back to the pool
    FAILED = "failed"  # ended with an error (raised to the user)
    CLOSED = "closed"  # closed by the user before the end; the connection was dropped

    # Members are singletons compared by identity: hash them so too, in C (Enum's own
    # __hash__ is Python, and each stream looks its state up in `_MOVES` several times).
    __hash__ = object.__hash__


_S = StreamState
_MOVES: dict[StreamState, frozenset[StreamState]] = {
    _S.IDLE: frozenset({_S.OPENING, _S.CLOSED}),
    _S.OPENING: frozenset({_S.STREAMING, _S.FINISHED, _S.FAILED, _S.CLOSED}),
    _S.STREAMING: frozenset({_S.FINISHED, _S.FAILED, _S.CLOSED}),
    _S.FINISHED: frozenset(),
    _S.FAILED: frozenset(),
    _S.CLOSED: frozenset(),
}
"""Every allowed move; the three last states are final."""

# The members as module names: an attribute of an Enum class is looked up through EnumType's
# Python-level __getattr__ hook (~70 ns here, against ~8 for a global), on every read.
_IDLE, _OPENING, _STREAMING = _S.IDLE, _S.OPENING, _S.STREAMING
_FINISHED, _FAILED, _CLOSED = _S.FINISHED, _S.FAILED, _S.CLOSED


class DeltaStream(Protocol):
    """Anything used like a `ChatStream`: ``async with``, ``async for`` over `Delta`s, and the
    completion's figures after. `ChatStream` and the `Router`'s `RoutedStream` are two."""

    async def __aenter__(self) -> DeltaStream: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def __aiter__(self) -> AsyncIterator[Delta]: ...

    async def until_done(self) -> DeltaStream: ...

    def close(self) -> None: ...

    @property
    def text(self) -> str: ...

    @property
    def reasoning(self) -> str | None: ...

    @property
    def tool_calls(self) -> list[ToolCall]: ...

    @property
    def finish_reason(self) -> str | None: ...

    @property
    def usage(self) -> Usage | None: ...

    @property
    def request_id(self) -> str | None: ...

    @property
    def model(self) -> str | None: ...

    @property
    def headers(self) -> dict[str, str]: ...

    @property
    def metrics(self) -> StreamMetrics: ...

    @property
    def finished(self) -> bool: ...

    @property
    def attempts(self) -> int: ...

    @property
    def endpoint(self) -> str | None: ...

    @property
    def hedged(self) -> bool: ...

    @property
    def failovers(self) -> int: ...


class _Watchdog:
    """One timer per attempt enforcing its deadlines while the stream waits on the network.

    Until the first token the deadline is `first_byte` (`FirstByteTimeout`); from then on it
    is `idle` seconds after `alive_ns`, the stamp of the last read that showed the server
    alive (`IdleTimeout`); `total` (`TotalTimeout`) bounds both. The stream only stores
    `alive_ns` per read; the single `call_at` handle looks at the deadlines when it fires and
    re-arms itself if they moved. When one has passed while the stream waits on the network,
    its error is raised into the pending read; when the consumer is busy with earlier bytes,
    it is judged when the stream waits again (`late`).
    """

    __slots__ = (
        "_handle",
        "_loop",
        "_reader",
        "_timeouts",
        "alive_ns",
        "first_byte",
        "idle",
        "late",
        "reading",
        "total",
    )

    def __init__(
        self, loop: asyncio.AbstractEventLoop, deadlines: Deadlines, timeouts: Timeouts
    ) -> None:
        self._loop = loop
        self._timeouts = timeouts
        self._reader: BodyReader | None = None
        self.first_byte = deadlines.first_byte
        self.total = deadlines.total
        self.idle = deadlines.idle if deadlines.idle is not None else _INF
        self.alive_ns = 0  # 0 until the first token
        self.reading = False
        self.late = False
        self._handle: asyncio.TimerHandle | None = None

    def watch(self, reader: BodyReader) -> None:
        self._reader = reader
        # The earliest any deadline can fall: an idle one too, were the first token to come
        # now. The timer re-arms itself when it fires early, so the first token moves nothing.
        idle_soonest = self._loop.time() + self.idle
        self._arm(min(self.first_byte, self.total, idle_soonest))

    def _arm(self, due: float) -> None:
        if due != _INF:
            self._handle = self._loop.call_at(due, self._check)

    def _due(self) -> tuple[float, type[APITimeoutError]]:
        """The deadline in force now and the error it raises."""
        kind: type[APITimeoutError]
        if self.alive_ns:
            elapsed = (_perf_ns() - self.alive_ns) / 1e9
            due, kind = self._loop.time() + self.idle - elapsed, IdleTimeout
        else:
            due, kind = self.first_byte, FirstByteTimeout
        if self.total <= due:
            return self.total, TotalTimeout
        return due, kind

    def first_token(self, now_ns: int) -> None:
        """Tokens began: from now the idle deadline applies. The timer was armed no later
        than an idle deadline could fall, unless nothing was armed at all (no `first_byte`
        and no `total`): then it is armed now."""
        self.alive_ns = now_ns
        if self._handle is None and not self.late:
            self._arm(self._due()[0])

    def tokens(self, now_ns: int) -> None:
        """Output arrived at `now_ns` (the stream has had some, at least): the server is
        alive, and from the first such read on the idle deadline applies."""
        if self.alive_ns:
            self.alive_ns = now_ns
        else:
            self.first_token(now_ns)

    def start_read(self) -> None:
        """The stream waits on the network again: a deadline the timer found passed while
        the consumer was busy is judged now."""
        self.reading = True
        if self.late:
            self.rearm()

    def rearm(self) -> None:
        """Look again, after the timer found the consumer busy."""
        self.late = False
        self.cancel()
        self._arm(self._due()[0])

    def _check(self) -> None:
        self._handle = None
        due, kind = self._due()
        if self._loop.time() < due:
            self._arm(due)
            return
        reader = self._reader
        if not self.reading or reader is None or reader.buffered:
            self.late = True
            return
        reader.set_exception(timeout_error(kind, self._timeouts))

    def cancel(self) -> None:
        """Stop the timer."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class ChatStream:
    """An async iterator of `Delta`s for one streamed chat completion.

    Use it as ``async with client.stream(...) as s: async for delta in s: ...``. After the
    stream, `text`, `reasoning`, `tool_calls`, `finish_reason`, `usage`, `request_id` and
    `metrics` describe the whole completion. Leaving the block, breaking out of the loop or
    cancelling the task closes the connection at once so the server stops generating.
    """

    output_type: Any = None
    """The pydantic model of `response_format=Model` (set by `Client.stream`), else None."""
    _parsed: Any = None
    route: Route | None = None
    """Set by a `Router` on each attempt it opens: endpoint, role and outcome (else None)."""

    def __init__(
        self,
        transport: Transport,
        body: dict[str, Any],
        retry: RetryPolicy,
        *,
        extra_headers: Mapping[str, str] | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        observe: bool = True,
    ) -> None:
        self._transport = transport
        self._observe = observe  # False when the caller shows the request to observers itself
        self._body = body
        self._retry = retry
        self._extra_headers = extra_headers
        self._max_event_bytes = max_event_bytes
        self._state = _IDLE
        self._resp: Response | None = None
        self._reader: BodyReader | None = None
        self._watchdog: _Watchdog | None = None
        self._decoder = SSEDecoder(max_event_bytes)
        self._asm = ChunkAssembler()
        self._pending: list[Delta] = []
        self._one: list[Delta] = [_NO_DELTA]  # `_pending` for a read of one delta
        self._pos = 0
        self._deferred: GroqStreamError | None = None
        self._start_ns = 0
        self._end_ns = 0
        self._last_read_ns = 0
        self._raw_headers: Mapping[str, str] = {}
        self._headers: dict[str, str] | None = None
        self._retry_state = RetryState()
        self._obs: _hooks.Request | None = None  # set when an observer follows this stream
        self._metrics: StreamMetrics | None = None
        self._lag: LoopLagMonitor | None = None  # set while the stream is open
        self._lag_s: float | None = None  # the loop-lag bound over its life, once it ended
        self._conn: ConnStamps | None = None
        self.status: int | None = None

    def __repr__(self) -> str:
        model = self._body.get("model")
        return f"<ChatStream model={model!r} {self._state.value} chunks={self._asm.chunks}>"

    @property
    def state(self) -> StreamState:
        """Where the stream is in its life."""
        return self._state

    def _move(self, to: StreamState) -> None:
        if to not in _MOVES[self._state]:
            raise AssertionError(f"ChatStream cannot go from {self._state} to {to}")
        self._state = to

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
        if self._state is _IDLE:
            await self.start()
        else:
            self._pending = _NO_DELTAS  # handed out: let them go before the wait, not after
            if not await self._next_deltas():
                raise StopAsyncIteration
        if self._pos < len(self._pending):
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
        self._drop_response()
        if _CLOSED in _MOVES[self._state]:
            self._state = _CLOSED
        self._ended()
        if self._obs is not None:
            self._obs.end(self)

    async def aclose(self) -> None:
        """Async alias of `close`, for `contextlib.aclosing` and similar."""
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_lag", None) is not None:
            self._ended()  # abandoned open: the lag monitor must not run on for it
        watchdog = getattr(self, "_watchdog", None)
        if watchdog is not None:
            watchdog.cancel()  # its timer would keep the reader alive until `total`
        resp = getattr(self, "_resp", None)
        if resp is not None and not resp.closed:
            resp.close()
        if getattr(self, "_obs", None) is not None:
            _hooks.collected(self._obs, self)

    def _ended(self) -> None:
        """The stream's life is over (finished, failed or closed): note the loop-lag bound
        over it and let the monitor stop if no other stream is open."""
        lag = self._lag
        if lag is not None:
            self._lag = None
            self._lag_s = lag.bound_since(self._start_ns) if self._start_ns else None
            lag.leave()

    def _drop_response(self) -> None:
        """Let go of the response: back to the pool when finished, else the socket closes."""
        if self._watchdog is not None:
            self._watchdog.cancel()
        resp = self._resp
        if resp is not None:
            if self._state is _FINISHED:
                resp.release()  # (the pool keeps a new connection's TLS session then)
            else:
                resp.close()
            self._resp = None
            self._reader = None

    # --- opening, with retries before the first delta ------------------------------------

    async def start(self) -> None:
        """Send the request and wait for the first delta, retrying where that is safe."""
        if self._state is not _IDLE:
            if self._state is _CLOSED and self._resp is None and not self._start_ns:
                raise ConfigError("this stream was closed before it started")
            return
        self._state = _OPENING
        self._lag = lag = monitor_for(asyncio.get_running_loop())
        lag.enter()
        if _hooks.observers and self._observe:
            self._obs = _hooks.begin("stream", self._body, self._transport.base_url)
        try:
            await self._retry.run(
                self._attempt,
                state=self._retry_state,
                on_retry=self._retried if self._obs is not None else None,
            )
        except GroqStreamError as e:
            self._drop_response()
            if _FAILED in _MOVES[self._state]:  # (closed meanwhile from another task: stays so)
                self._state = _FAILED
            self._ended()
            if self._obs is not None:
                self._obs.end(self, e)
            raise
        except BaseException as e:
            if self._obs is not None:
                self._obs.end(self, e)  # cancelled (the observer calls that closed early), or a bug
            self.close()  # drop the connection so generation stops
            raise
        if self._state is _OPENING:  # not already finished by the first read
            self._move(_STREAMING)

    def _retried(self, error: GroqStreamError, delay: float) -> None:
        if self._obs is not None:
            self._obs.retry(self._retry_state.attempts, error, delay)

    async def _attempt(self, n: int) -> None:
        if self._state is not _OPENING:
            return  # closed meanwhile (from another task): no new connection
        if n > 1:
            self._drop_response()
            self._decoder = SSEDecoder(self._max_event_bytes)
            self._asm = ChunkAssembler()
            self._pending = []
            self._pos = 0
            self._deferred = None
        await self._send()
        await self._next_deltas()

    async def _send(self) -> None:
        transport = self._transport
        transport.pool  # noqa: B018 - create the pool before the clock starts
        loop = asyncio.get_running_loop()
        deadlines = Deadlines.start(transport.timeouts, loop.time())
        self._start_ns = _perf_ns()
        self._conn = conn = ConnStamps()
        resp = await transport.post(
            CHAT_PATH,
            self._body,
            stream=True,
            deadlines=deadlines,
            extra_headers=self._extra_headers,
            conn=conn,
        )
        if self._state is not _OPENING:
            resp.close()  # closed from another task while the headers were on their way
            return
        self._resp = resp
        self._reader = resp.content
        self.status = resp.status
        self._raw_headers = resp.headers
        self._headers = None
        wd = _Watchdog(loop, deadlines, transport.timeouts)
        self._watchdog = wd
        wd.watch(resp.content)

    # --- the read loop -------------------------------------------------------------------

    async def _next_deltas(self) -> bool:
        """Read until deltas are ready (True) or the stream ended (False); on failure the
        connection is dropped and the error carries the text that had arrived.

        This loop is the stream's only IO: it waits for bytes and stamps their arrival;
        `_handle` decides what they mean."""
        try:
            if self._deferred is not None:
                err, self._deferred = self._deferred, None
                raise err
            while (reader := self._reader) is not None:
                wd = self._watchdog
                assert wd is not None
                wd.start_read()
                try:
                    data = reader.take()
                    while data is None:
                        await reader.wait()
                        data = reader.take()
                except READ_ERRORS as e:
                    raise self._interrupted(body_lost(e, "mid-stream")) from e
                finally:
                    wd.reading = False
                deltas = self._handle(data, _perf_ns(), wd)
                if self._asm.done and self._reader is not None:
                    await self._drain()
                if deltas:
                    self._pending = deltas
                    self._pos = 0
                    return True
            return False
        except GroqStreamError as e:
            self._failed(e)
            raise
        except BaseException as e:
            if self._obs is not None and self._state is _STREAMING:
                self._obs.end(self, e)  # cancelled mid-stream (the observer: closed early)
            self.close()  # drop the connection so generation stops
            raise

    def _failed(self, e: GroqStreamError) -> None:
        self._drop_response()
        e.partial_text = self._asm.text()
        e.partial_reasoning = self._asm.reasoning() or ""
        if e.request_id is None:
            e.request_id = self.request_id
        if self._state is _STREAMING:  # (while opening, the retry runner decides)
            self._state = _FAILED
            self._ended()
            if self._obs is not None:
                self._obs.end(self, e)

    def _handle(self, data: bytes, now: int, wd: _Watchdog) -> list[Delta]:
        """What one read, stamped `now`, means: its deltas (none for keep-alives or a
        partial event)."""
        self._last_read_ns = now
        asm = self._asm
        if not data:
            if not asm.complete:
                raise self._interrupted("the server closed the stream before it was complete")
            self._end_ns = now
            self._finish()
            return []
        payload = self._decoder.one_payload(data)
        if payload is not None and (d := asm.feed_one(payload, now)) is not None:
            wd.tokens(now)
            one = self._one  # reused: `_pending` is handed out before the next read
            one[0] = d
            return one
        events = [payload] if payload is not None else self._decoder.feed_payloads(data)
        return self._handle_events(events, now, wd)

    def _handle_events(
        self, events: Sequence[ServerSentEvent | bytes], now: int, wd: _Watchdog
    ) -> list[Delta]:
        """What the events of one read mean (the general path of `_handle`)."""
        asm = self._asm
        if not events:
            if wd.alive_ns and self._decoder.pending_data:
                wd.alive_ns = now  # an event still arriving: the server is not idle
            return []
        deltas = asm.feed(events, now)
        if asm.output_ns:
            wd.tokens(now)
        if asm.error is not None:
            if not deltas:
                raise asm.error
            self._deferred = asm.error
        if asm.done:
            self._end_ns = now
        return deltas

    async def _drain(self) -> None:
        """After `[DONE]`, read the body to its end so the connection returns to the pool —
        for at most `_DRAIN_LIMIT` seconds: a server that keeps the body open after `[DONE]`
        costs the connection's reuse, not a hung stream."""
        reader = self._reader
        if reader is not None and reader.at_eof():
            self._finish()  # the body's end came in the same read as `[DONE]`: the usual case
            return
        clean = False
        try:
            async with deadline_at(asyncio.get_running_loop().time() + _DRAIN_LIMIT):
                while reader is not None and await reader.read():
                    pass
            clean = reader is not None
        except (TimeoutError, GroqStreamError, *READ_ERRORS):
            pass  # the completion is whole; only the connection's reuse is lost
        self._finish(reuse=clean)

    def _finish(self, *, reuse: bool = True) -> None:
        if _FINISHED not in _MOVES[self._state]:
            return  # closed meanwhile, from another task
        self._state = _FINISHED
        if not reuse and self._resp is not None:
            self._resp.close()
        self._drop_response()
        self._ended()
        if self._obs is not None:
            self._obs.end(self)

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
    def attempts(self) -> int:
        """How many attempts the stream took (1 without retries)."""
        return self._retry_state.attempts

    @property
    def headers(self) -> dict[str, str]:
        """The response headers of the (last) attempt, names in lower case."""
        if self._headers is None:
            self._headers = {k.lower(): v for k, v in self._raw_headers.items()}
        return self._headers

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
        return self._asm.request_id or self._raw_headers.get("x-request-id")

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
        return self._state is _FINISHED

    @property
    def metrics(self) -> StreamMetrics:
        """Latency metrics of the (last) attempt; complete (and computed once) when the
        stream is finished."""
        if self._metrics is not None:
            return self._metrics
        end = self._end_ns or self._last_read_ns or _perf_ns()
        lag_s = self._lag_s
        if lag_s is None and self._lag is not None and self._start_ns:
            lag_s = self._lag.bound_since(self._start_ns)  # still open: the bound so far
        asm = self._asm
        m = compute_metrics(
            self._start_ns,
            end,
            asm.output_ns,
            asm.usage,
            lag_s,
            first_reasoning_ns=asm.first_reasoning_ns.get(0),
            first_answer_ns=asm.first_content_ns.get(0),
            connection=self._conn,
        )
        if self._state is _FINISHED:
            self._metrics = m
        return m

    def metrics_since(self, start_ns: int) -> StreamMetrics:
        """The metrics timed from `start_ns` (a `perf_counter_ns()` stamp no later than this
        stream's send) instead of from its own send: a `Router` times a request from when
        the caller asked, across its hedges and failovers."""
        m = self.metrics
        if start_ns == m.start_ns:
            return m
        asm = self._asm
        return compute_metrics(
            start_ns,
            m.end_ns,
            m.output_ns,
            asm.usage,
            m.loop_lag_s,
            first_reasoning_ns=asm.first_reasoning_ns.get(0),
            first_answer_ns=asm.first_content_ns.get(0),
            connection=self._conn,
        )

    @property
    def endpoint(self) -> str | None:
        """The name of the `Router` endpoint that served this stream (None without a Router)."""
        return self.route.endpoint if self.route is not None else None

    @property
    def hedged(self) -> bool:
        """True if a `Router` sent this request to a second endpoint too."""
        return self.route.hedged if self.route is not None else False

    @property
    def failovers(self) -> int:
        """How often a `Router` moved this request to another endpoint after a failure."""
        return self.route.failovers if self.route is not None else 0

    def text_for(self, index: int) -> str:
        """The content text of choice `index` (for requests with n > 1)."""
        return self._asm.text(index)

    def assistant_message(self) -> dict[str, Any]:
        """The assistant message to append to `messages` for the next turn: choice 0's text
        and tool calls, in the OpenAI wire shape (call it once the stream is finished)."""
        return assistant_message(self.text, self.tool_calls)

    def message(self) -> dict[str, Any]:
        """The assistant message with its `tool_calls`, to append to `messages` (the same
        as `assistant_message()`)."""
        return assistant_message(self.text, self.tool_calls)

    @property
    def executed_tools(self) -> list[ExecutedTool]:
        """The built-in tools a Groq compound model ran (web search, code, browser)."""
        return self._asm.executed_tools()

    @property
    def usage_breakdown(self) -> dict[str, Any] | None:
        """Groq compound models' `x_groq.usage_breakdown` (usage per model), if sent."""
        return self._asm.usage_breakdown

    def partial(self) -> AsyncIterator[Partial]:
        """Iterate the structured reply as it grows: ``async for p in s.partial()`` yields
        `Partial(value, completed, done)` per delta (see `groqstream.structured`). It reads
        the stream itself; incremental, so the total work is linear in the document."""
        from .structured import iter_partial

        return iter_partial(self)

    @property
    def parsed(self) -> Any:
        """The whole reply validated into the `response_format` model (or decoded JSON
        without one); `StructuredOutputError` if it does not fit. Read it after the stream."""
        if self._parsed is None:
            from .structured import parse_output

            self._parsed = parse_output(self.output_type, self.text)
        return self._parsed
