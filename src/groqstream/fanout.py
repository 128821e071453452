"""`fan_out`: many chat requests at bounded concurrency, results as they complete.

DESIGN: above `stream.py` and `_retry.py`, below `client.py` and `batch.py`. A `FanOut` takes
what it needs — the transport, a retry policy, a body builder and its `FanOutOptions` — never
a `Client`. Inputs are consumed lazily (ten million never sit in memory), concurrency is
bounded with an anyio `CapacityLimiter`, rate limits are shared by every request of the run,
and one request's failure is a `Result` with `.error` — it never cancels the others. Each
request is retried whole through `RetryPolicy.run`: nothing of it reached the user yet.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from . import _hooks
from ._retry import RetryPolicy, RetryState, check_retries
from ._stats import percentile
from .errors import ConfigError, GroqStreamError, RateLimitError
from .metrics import StreamMetrics
from .ratelimit import RateLimitGate, estimate_tokens
from .report import MAX_REQUEST_ROWS, SLO, LatencyAccumulator, LatencyReport, LatencySketch
from .sse import DEFAULT_MAX_EVENT_BYTES
from .stream import ChatStream, DeltaStream
from .types import ToolCall, Usage

if TYPE_CHECKING:
    from ._transport import Transport

__all__ = ["FanOut", "FanOutOptions", "Progress", "Request", "Result"]

log = logging.getLogger("groqstream")

Request: TypeAlias = "str | Mapping[str, Any]"
BodyBuilder: TypeAlias = "Callable[[Request], dict[str, Any]]"
StreamOpener: TypeAlias = "Callable[[dict[str, Any]], DeltaStream]"
_NO_RETRY = RetryPolicy(max_retries=0)
_LAG_PERIOD = 0.05


@dataclass(slots=True)
class Result:
    """One request's outcome. `error` is set (and `text` holds any partial text) on failure."""

    index: int
    request: dict[str, Any]
    text: str = ""
    reasoning: str | None = None
    usage: Usage | None = None
    metrics: StreamMetrics | None = None
    error: GroqStreamError | None = None
    attempts: int = 0
    queue_wait_s: float = 0.0
    rate_limit_wait_s: float = 0.0
    finish_reason: str | None = None
    request_id: str | None = None
    model: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    endpoint: str | None = None
    hedged: bool = False
    failovers: int = 0

    @property
    def ok(self) -> bool:
        """True if the request succeeded."""
        return self.error is None


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot of a running fan-out, for progress bars and logs."""

    done: int
    failed: int
    in_flight: int
    total: int | None
    elapsed_s: float
    req_per_s: float
    tokens_per_s: float
    p50_ttft_s: float | None
    finished: bool = False


@dataclass(frozen=True, slots=True)
class FanOutOptions:
    """How a fan-out runs (the one definition of its settings; `Client.fan_out`, `run_batch`
    and the CLI all pass these).

    - `concurrency`: requests in flight at most.
    - `requests_per_minute` / `tokens_per_minute`: optional token buckets for the whole run
      (tokens estimated from the prompt and `max_tokens`, settled with the real usage).
    - `max_retries`: retries per request (None: the client's); `max_rate_limit_wait`: the
      seconds one request may spend waiting out server-named rate limits, which do not use
      up `max_retries`.
    - `on_progress`: called with a `Progress` every `progress_interval` seconds and at the end.
    - `gate`: a `RateLimitGate` to share with other runs (or other processes' leases).
    - `slos`: SLOs whose goodput `report(slo)` gives exactly however long the run; an SLO
      named only afterwards is answered from the first `max_request_rows` requests' kept
      latencies, and past them raises `GoodputUnknownError` (`unbounded_request_rows=True`
      keeps them all: 24 bytes per request, for ever-growing memory).
    """

    concurrency: int = 64
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    max_retries: int | None = None
    max_rate_limit_wait: float = 300.0
    on_progress: Callable[[Progress], None] | None = None
    progress_interval: float = 0.2
    gate: RateLimitGate | None = None
    slos: tuple[SLO, ...] = ()
    max_request_rows: int = MAX_REQUEST_ROWS
    unbounded_request_rows: bool = False

    def __post_init__(self) -> None:
        c = self.concurrency
        if isinstance(c, bool) or not isinstance(c, int) or c < 1:
            raise ConfigError(f"concurrency must be a positive int, got {c!r}")
        for name in ("requests_per_minute", "tokens_per_minute"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ConfigError(f"{name} must be positive, got {v!r}")
        if self.max_retries is not None:
            check_retries(self.max_retries)
        if not self.max_rate_limit_wait >= 0 or not self.progress_interval > 0:
            raise ConfigError("max_rate_limit_wait must be >= 0 and progress_interval > 0")
        if self.gate is not None and (self.requests_per_minute or self.tokens_per_minute):
            raise ConfigError("pass rate limits to the shared gate, not beside it")
        if isinstance(self.slos, SLO) or not all(isinstance(s, SLO) for s in self.slos):
            raise ConfigError(f"slos must be a sequence of SLO, got {self.slos!r}")
        object.__setattr__(self, "slos", tuple(self.slos))

    @classmethod
    def split(
        cls, kwargs: Mapping[str, Any], base: FanOutOptions | None = None
    ) -> tuple[FanOutOptions, dict[str, Any]]:
        """Options from the keyword arguments named like fields (over `base`), and the rest."""
        names = {f.name for f in dataclasses.fields(cls)}
        own = {k: v for k, v in kwargs.items() if k in names}
        rest = {k: v for k, v in kwargs.items() if k not in names}
        return (base or cls()).replace(**own), rest

    def replace(self, **changes: Any) -> FanOutOptions:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def retry_policy(self, base: RetryPolicy) -> RetryPolicy:
        """The per-request policy: `base` with this run's retries and rate-limit wait cap."""
        retries = base.max_retries if self.max_retries is None else self.max_retries
        return dataclasses.replace(
            base, max_retries=retries, max_rate_limit_wait=self.max_rate_limit_wait
        )


class _OneRequest:
    """One fan-out request across its attempts: each attempt is a fresh `ChatStream` run to
    its end (nothing reached the user, so even a cut mid-stream is retried whole), and an
    observer (`_hooks`) follows the request as one, with a retry event per failed attempt."""

    __slots__ = (
        "body",
        "est",
        "gate",
        "obs",
        "open_stream",
        "queue_wait",
        "state",
        "stream",
        "taken",
    )

    def __init__(
        self,
        open_stream: StreamOpener,
        gate: RateLimitGate,
        body: dict[str, Any],
        taken: float,
        observed_url: str | None,
    ) -> None:
        self.open_stream = open_stream
        self.gate = gate
        self.body = body
        self.est = estimate_tokens(body)
        self.taken = taken
        self.queue_wait = 0.0  # waiting for a slot and the rate limits, before attempt 1
        self.state = RetryState()
        self.stream: DeltaStream | None = None
        # A transport's streams are shown to observers here (`observed_url` is its base URL);
        # an opener's streams (a Router's) show themselves.
        self.obs = (
            _hooks.begin("stream", body, observed_url)
            if _hooks.observers and observed_url is not None
            else None
        )

    async def attempt(self, n: int) -> DeltaStream:
        await _wait_for_gate(self.gate, self.est)
        if n == 1:
            self.queue_wait = time.monotonic() - self.taken
        self.stream = stream = self.open_stream(self.body)
        async with stream:
            await stream.until_done()
        return stream

    def retried(self, error: GroqStreamError, delay: float) -> None:
        if isinstance(error, RateLimitError):
            self.gate.pause(delay, time.monotonic())  # everyone waits, not just this request
        if self.obs is not None:
            self.obs.retry(self.state.attempts, error, delay)

    def end(self, error: BaseException | None) -> None:
        if self.obs is not None:
            s = self.stream
            self.obs.end(s if isinstance(s, ChatStream) else None, error)


async def _wait_for_gate(gate: RateLimitGate, est: int) -> None:
    """Reserve a request's share of the run's budgets; sleep out any pause."""
    wait = gate.reserve(est, time.monotonic())
    while wait > 0:
        await anyio.sleep(wait)
        wait = gate.paused_until - time.monotonic()


class FanOut:
    """A running (or ready) fan-out: an async iterator of `Result`s in completion order.

    ``async with client.fan_out(prompts) as results: async for r in results: ...`` or
    ``results = await client.fan_out(prompts).collect()`` (input order). Leaving the block or
    cancelling the consumer cancels the requests in flight and closes their connections.
    """

    def __init__(
        self,
        transport: Transport | None,
        requests: Iterable[Request] | AsyncIterable[Request],
        *,
        body: BodyBuilder,
        options: FanOutOptions | None = None,
        retry: RetryPolicy | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        opener: StreamOpener | None = None,
    ) -> None:
        """Requests go out as `ChatStream`s over `transport`, or, with `opener`, as whatever
        `opener(body)` returns (a `Router`'s streams); one of the two must be given."""
        opts = options or FanOutOptions()
        if transport is None and opener is None:
            raise ConfigError("a fan-out needs a transport or a stream opener")
        self._transport = transport
        self._opener = opener
        self._observed_url = (
            transport.base_url if transport is not None and opener is None else None
        )
        self._requests = requests
        self._body = body
        self.options = opts
        self.concurrency = opts.concurrency
        self.gate = opts.gate or RateLimitGate(opts.requests_per_minute, opts.tokens_per_minute)
        self._retry = opts.retry_policy(retry or RetryPolicy())
        self._max_event_bytes = max_event_bytes
        self._total: int | None = len(requests) if hasattr(requests, "__len__") else None  # type: ignore[arg-type]
        # Created when the run starts, so a fan-out never iterated holds nothing to close.
        self._send: MemoryObjectSendStream[Result] | None = None
        self._recv: MemoryObjectReceiveStream[Result] | None = None
        self._task: asyncio.Task[None] | None = None
        self._acc = LatencyAccumulator(
            max_request_rows=opts.max_request_rows,
            unbounded_request_rows=opts.unbounded_request_rows,
            slos=opts.slos,
        )
        self._recent_ttft: collections.deque[float] = collections.deque(maxlen=500)
        self._lags = LatencySketch()  # one sample per 50 ms for the run's life: sketched
        self._done = 0
        self._failed = 0
        self._in_flight = 0
        self._tokens = 0
        self._pulled = 0
        self._started = 0.0
        self._ended: float | None = None
        limit = transport.max_connections if transport is not None else None
        if limit and limit < opts.concurrency:
            log.warning(
                "fan_out concurrency %d exceeds the client's max_connections %d: "
                "requests will wait for sockets",
                opts.concurrency,
                limit,
            )

    def open_stream(self, body: dict[str, Any]) -> DeltaStream:
        """One attempt's stream (not started)."""
        if self._opener is not None:
            return self._opener(body)
        assert self._transport is not None
        return ChatStream(
            self._transport,
            body,
            _NO_RETRY,
            max_event_bytes=self._max_event_bytes,
            observe=False,
        )

    # --- consumer side -------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[Result]:
        return self._results()

    async def _results(self) -> AsyncIterator[Result]:
        """`async for` over the results. As an async generator it is finalised when the loop
        that iterates it is left, even by `break` without `aclose()`: the run then stops."""
        try:
            while True:
                try:
                    yield await self.__anext__()
                except StopAsyncIteration:
                    return
        finally:
            await self.aclose()

    async def __anext__(self) -> Result:
        if self._task is None:
            self._start()
        assert self._recv is not None
        assert self._task is not None
        try:
            return await self._recv.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._recv.close()
            await self._task  # re-raises an error of the input iterable
            raise StopAsyncIteration from None
        except BaseException:
            self._cancel()
            raise

    async def __aenter__(self) -> FanOut:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel whatever is still running and wait for it to let go of its connections."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.wait([task])
        if task is not None and task.done() and not task.cancelled():
            task.exception()  # an input error nobody is left to see: retrieved, not logged
        self._close_streams()

    def _close_streams(self) -> None:
        for stream in (getattr(self, "_send", None), getattr(self, "_recv", None)):
            if stream is not None:
                stream.close()

    def __del__(self) -> None:
        # Broken out of without `async with` or `aclose()`: stop the run, free both ends.
        task = getattr(self, "_task", None)
        if task is not None and not task.done() and not task.get_loop().is_closed():
            task.cancel()
        self._close_streams()

    async def collect(self) -> list[Result]:
        """Run to the end and return every result in input order."""
        out = [r async for r in self]
        out.sort(key=lambda r: r.index)
        return out

    @property
    def progress(self) -> Progress:
        """The current progress snapshot."""
        now = time.monotonic()
        elapsed = ((self._ended or now) - self._started) if self._started else 0.0
        ttfts = sorted(self._recent_ttft)
        return Progress(
            done=self._done,
            failed=self._failed,
            in_flight=self._in_flight,
            total=self._total,
            elapsed_s=elapsed,
            req_per_s=self._done / elapsed if elapsed > 0 else 0.0,
            tokens_per_s=self._tokens / elapsed if elapsed > 0 else 0.0,
            p50_ttft_s=percentile(ttfts, 50) if ttfts else None,
            finished=self._ended is not None,
        )

    @property
    def accumulator(self) -> LatencyAccumulator:
        """The mergeable figures behind `report()` (see `LatencyAccumulator.compact`)."""
        return self._acc

    @property
    def pulled(self) -> int:
        """How many requests have been taken from the input so far."""
        return self._pulled

    def report(self, slo: SLO | None = None) -> LatencyReport:
        """The `LatencyReport` of the results so far (complete once the run finished)."""
        duration = ((self._ended or time.monotonic()) - self._started) if self._started else 0.0
        return self._acc.report(duration_s=duration, slo=slo, loop_lags=self._lags)

    def _start(self) -> None:
        self._send, self._recv = anyio.create_memory_object_stream[Result](self.concurrency)
        self._started = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    # --- producer side -------------------------------------------------------------------

    async def _items(self) -> AsyncIterator[Request]:
        reqs = self._requests
        if isinstance(reqs, AsyncIterable):
            async for item in reqs:
                yield item
        else:
            for item in reqs:
                yield item

    async def _run(self) -> None:
        limiter = anyio.CapacityLimiter(self.concurrency)
        input_error: Exception | None = None
        assert self._send is not None
        try:
            async with self._send, anyio.create_task_group() as outer:
                outer.start_soon(self._ticker)
                outer.start_soon(self._lag_monitor)
                async with anyio.create_task_group() as tg:
                    index = 0
                    try:
                        async for item in self._items():
                            taken = time.monotonic()
                            self._pulled += 1
                            token = object()
                            await limiter.acquire_on_behalf_of(token)
                            self._in_flight += 1
                            tg.start_soon(self._worker, index, item, taken, limiter, token)
                            index += 1
                    except Exception as e:  # the input itself failed: stop, tell the consumer
                        input_error = e
                        tg.cancel_scope.cancel()
                outer.cancel_scope.cancel()
            if input_error is not None:
                raise input_error
        finally:
            self._ended = time.monotonic()
            if self.options.on_progress is not None:
                self.options.on_progress(self.progress)

    async def _worker(
        self, index: int, item: Request, taken: float, limiter: anyio.CapacityLimiter, token: object
    ) -> None:
        try:
            result = await self._one(index, item, taken)
            self._record(result)
            assert self._send is not None
            await self._send.send(result)
        finally:
            self._in_flight -= 1
            limiter.release_on_behalf_of(token)

    def _record(self, r: Result) -> None:
        if r.error is None:
            self._done += 1
            m = r.metrics
            if m is not None:
                self._tokens += m.output_tokens
                if m.ttft_s is not None:
                    self._recent_ttft.append(m.ttft_s)
        else:
            self._failed += 1
        self._acc.add(r)

    async def _one(self, index: int, item: Request, taken: float) -> Result:
        try:
            body = self._body(item)
        except GroqStreamError as e:
            return Result(index, {"input": item}, error=e)
        req = _OneRequest(self.open_stream, self.gate, body, taken, self._observed_url)
        try:
            stream = await self._retry.run(req.attempt, state=req.state, on_retry=req.retried)
        except GroqStreamError as e:
            req.end(e)
            return self._failure(index, body, e, req.state, req.queue_wait)
        except Exception as e:  # a bug must not sink the batch: report it on this item
            err = GroqStreamError(f"unexpected {type(e).__name__}: {e}")
            err.__cause__ = e
            req.end(err)
            return self._failure(index, body, err, req.state, req.queue_wait)
        except BaseException as e:
            req.end(e)
            raise
        req.end(None)
        return self._success(index, body, stream, req.est, req.state, req.queue_wait)

    def _success(
        self,
        index: int,
        body: dict[str, Any],
        stream: DeltaStream,
        est: int,
        state: RetryState,
        queue_wait: float,
    ) -> Result:
        now = time.monotonic()
        self.gate.observe(stream.headers, now)
        usage = stream.usage
        if usage is not None and usage.total_tokens is not None:
            self.gate.settle(est, usage.total_tokens, now)
        return Result(
            index,
            body,
            text=stream.text,
            reasoning=stream.reasoning,
            usage=usage,
            metrics=stream.metrics,
            attempts=state.attempts,
            queue_wait_s=queue_wait,
            rate_limit_wait_s=state.rate_limit_wait,
            finish_reason=stream.finish_reason,
            request_id=stream.request_id,
            model=stream.model,
            tool_calls=stream.tool_calls,
            endpoint=stream.endpoint,
            hedged=stream.hedged,
            failovers=stream.failovers,
        )

    @staticmethod
    def _failure(
        index: int, body: dict[str, Any], e: GroqStreamError, state: RetryState, queue_wait: float
    ) -> Result:
        return Result(
            index,
            body,
            text=e.partial_text,
            reasoning=e.partial_reasoning or None,
            error=e,
            attempts=state.attempts,
            queue_wait_s=queue_wait,
            rate_limit_wait_s=state.rate_limit_wait,
            request_id=e.request_id,
        )

    async def _ticker(self) -> None:
        callback = self.options.on_progress
        if callback is None:
            return
        while True:
            await anyio.sleep(self.options.progress_interval)
            callback(self.progress)

    async def _lag_monitor(self) -> None:
        lags = self._lags
        while True:
            t = time.monotonic()
            await anyio.sleep(_LAG_PERIOD)
            lags.add(max(0.0, time.monotonic() - t - _LAG_PERIOD))
