"""`fan_out`: many chat requests at bounded concurrency, results as they complete.

Inputs are consumed lazily (ten million never sit in memory), concurrency is bounded with an
anyio `CapacityLimiter`, rate limits are shared by every request of the run, and one
request's failure is a `Result` with `.error` — it never cancels the others.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._stats import percentile
from ._transport import RetryPolicy
from .errors import ConfigError, GroqStreamError, RateLimitError
from .metrics import StreamMetrics
from .ratelimit import RateLimitGate, estimate_tokens
from .report import SLO, LatencyAccumulator, LatencyReport
from .stream import ChatStream
from .types import ToolCall, Usage

if TYPE_CHECKING:
    from .client import Client

__all__ = ["FanOut", "Progress", "Request", "Result"]

log = logging.getLogger("groqstream")

Request: TypeAlias = "str | Mapping[str, Any]"
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


class FanOut:
    """A running (or ready) fan-out: an async iterator of `Result`s in completion order.

    ``async with client.fan_out(prompts) as results: async for r in results: ...`` or
    ``results = await client.fan_out(prompts).collect()`` (input order). Leaving the block or
    cancelling the consumer cancels the requests in flight and closes their connections.
    """

    def __init__(
        self,
        client: Client,
        requests: Iterable[Request] | AsyncIterable[Request],
        *,
        concurrency: int = 64,
        defaults: dict[str, Any] | None = None,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        max_retries: int | None = None,
        max_rate_limit_wait: float = 300.0,
        on_progress: Callable[[Progress], None] | None = None,
        progress_interval: float = 0.2,
        gate: RateLimitGate | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if gate is not None and (requests_per_minute or tokens_per_minute):
            raise ConfigError("pass rate limits to the shared gate, not beside it")
        self._client = client
        self._requests = requests
        self.concurrency = concurrency
        self._defaults = dict(defaults or {})
        self.gate = (
            gate if gate is not None else RateLimitGate(requests_per_minute, tokens_per_minute)
        )
        retries = client.max_retries if max_retries is None else max_retries
        self._retry = RetryPolicy(max_retries=retries)
        self.max_rate_limit_wait = max_rate_limit_wait
        self._on_progress = on_progress
        self._progress_interval = progress_interval
        self._total: int | None = len(requests) if hasattr(requests, "__len__") else None  # type: ignore[arg-type]
        # Created when the run starts, so a fan-out never iterated holds nothing to close.
        self._send: MemoryObjectSendStream[Result] | None = None
        self._recv: MemoryObjectReceiveStream[Result] | None = None
        self._task: asyncio.Task[None] | None = None
        self._acc = LatencyAccumulator()
        self._recent_ttft: collections.deque[float] = collections.deque(maxlen=500)
        self._lags: list[float] = []
        self._done = 0
        self._failed = 0
        self._in_flight = 0
        self._tokens = 0
        self._pulled = 0
        self._started = 0.0
        self._ended: float | None = None
        limit = client.transport.max_connections
        if limit and limit < concurrency:
            log.warning(
                "fan_out concurrency %d exceeds the client's max_connections %d: "
                "requests will wait for sockets",
                concurrency,
                limit,
            )

    # --- consumer side -------------------------------------------------------------------

    def __aiter__(self) -> FanOut:
        return self

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
            if self._on_progress is not None:
                self._on_progress(self.progress)

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

    def _body(self, item: Request) -> dict[str, Any]:
        d = self._defaults
        if isinstance(item, str):
            params = {k: v for k, v in d.items() if k not in ("model", "system")}
            return self._client._body(
                d.get("model"), None, item, d.get("system"), params, stream=True
            )
        own = dict(item)
        merged = {**d, **own}
        model = merged.pop("model", None)
        system = merged.pop("system", None)
        messages = merged.pop("messages", None)
        prompt = merged.pop("prompt", None)
        if messages is not None and any(
            isinstance(m, Mapping) and m.get("role") == "system" for m in messages
        ):
            system = None  # the request's own system message wins over the default
        return self._client._body(model, messages, prompt, system, merged, stream=True)

    async def _one(self, index: int, item: Request, taken: float) -> Result:
        try:
            body = self._body(item)
        except GroqStreamError as e:
            return Result(index, {"input": item}, error=e)
        est = estimate_tokens(body)
        gate = self.gate
        attempts = retries = 0
        rl_wait = 0.0
        queue_wait = 0.0
        while True:
            wait = gate.reserve(est, time.monotonic())
            while wait > 0:
                await anyio.sleep(wait)
                wait = gate.paused_until - time.monotonic()
            if attempts == 0:
                queue_wait = time.monotonic() - taken
            attempts += 1
            stream = ChatStream(self._client.transport, body, _NO_RETRY)
            try:
                async with stream:
                    await stream.until_done()
            except RateLimitError as e:
                said = e.retry_after if e.retry_after is not None else gate.hinted_wait(e.headers)
                delay = said if said is not None else self._backoff(retries + 1)
                if said is None:
                    retries += 1
                rl_wait += delay
                if (said is None and retries > self._retry.max_retries) or (
                    rl_wait > self.max_rate_limit_wait
                ):
                    return self._failure(index, body, e, attempts, queue_wait, rl_wait)
                gate.pause(delay, time.monotonic())
                continue
            except GroqStreamError as e:
                if e.retryable and retries < self._retry.max_retries:
                    retries += 1
                    await anyio.sleep(self._backoff(retries))
                    continue
                return self._failure(index, body, e, attempts, queue_wait, rl_wait)
            except Exception as e:  # a bug must not sink the batch: report it on this item
                err = GroqStreamError(f"unexpected {type(e).__name__}: {e}")
                err.__cause__ = e
                return self._failure(index, body, err, attempts, queue_wait, rl_wait)
            now = time.monotonic()
            gate.observe(stream.headers, now)
            usage = stream.usage
            if usage is not None and usage.total_tokens is not None:
                gate.settle(est, usage.total_tokens, now)
            return Result(
                index,
                body,
                text=stream.text,
                reasoning=stream.reasoning,
                usage=usage,
                metrics=stream.metrics,
                attempts=attempts,
                queue_wait_s=queue_wait,
                rate_limit_wait_s=rl_wait,
                finish_reason=stream.finish_reason,
                request_id=stream.request_id,
                model=stream.model,
                tool_calls=stream.tool_calls,
            )

    def _backoff(self, attempt: int) -> float:
        p = self._retry
        return min(p.cap, p.initial * 2.0 ** (attempt - 1)) * (1 - p.jitter * random.random())

    @staticmethod
    def _failure(
        index: int,
        body: dict[str, Any],
        e: GroqStreamError,
        attempts: int,
        queue_wait: float,
        rl_wait: float,
    ) -> Result:
        return Result(
            index,
            body,
            text=e.partial_text,
            reasoning=e.partial_reasoning or None,
            error=e,
            attempts=attempts,
            queue_wait_s=queue_wait,
            rate_limit_wait_s=rl_wait,
            request_id=e.request_id,
        )

    async def _ticker(self) -> None:
        if self._on_progress is None:
            return
        while True:
            await anyio.sleep(self._progress_interval)
            self._on_progress(self.progress)

    async def _lag_monitor(self) -> None:
        lags = self._lags
        while True:
            t = time.monotonic()
            await anyio.sleep(_LAG_PERIOD)
            lags.append(max(0.0, time.monotonic() - t - _LAG_PERIOD))
