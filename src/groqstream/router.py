"""`Router`: one request, several endpoints — hedged first tokens, failover and breakers.

DESIGN: beside `client.py`, built on one `Client` per `Endpoint` and on the stream's
first-delta signal (`ChatStream.start()` returns once the first delta is ready). The rules
are sans-IO objects from `routing.py` (`Hedge`, `HedgeBudget`, `EndpointHealth`) fed
`time.monotonic()`; this module only opens streams, waits and closes them.

A request goes to the first healthy endpoint (the order given is the order of preference).
If no first delta has come after the hedge delay, the same request also goes to the next
healthy endpoint (`Hedge`, within the `HedgeBudget`); the first attempt to deliver a delta
wins and every other attempt is closed at once, its connection dropped so the server stops
generating. An attempt that fails before its first delta (498, 429, 5xx, connection refused,
first-byte timeout) moves the request to the next endpoint at once; a 429 rests its endpoint
for the retry-after it names. Once a delta has reached the caller nothing is hedged or moved:
a mid-stream failure is the stream's own typed error, with the partial text kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from ._body import Message, build_body
from ._retry import RetryPolicy, RetryState, named_wait
from ._transport import Timeouts, checked_headers
from .client import Client
from .errors import (
    CapacityExceededError,
    ConfigError,
    GroqStreamError,
    NoEndpointAvailable,
    RateLimitError,
)
from .fanout import FanOut, FanOutOptions, Request
from .metrics import StreamMetrics, compute_metrics
from .models import DEFAULT_MODEL
from .routing import Breaker, EndpointHealth, Hedge, HedgeBudget, TtftWindow
from .stream import ChatStream
from .types import Completion, Delta, Route, ToolCall, Usage, assistant_message

__all__ = ["Endpoint", "EndpointStats", "RoutedStream", "Router"]

_perf_ns = time.perf_counter_ns
_now = time.monotonic


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One place a `Router` can send a request: an OpenAI-compatible `base_url`, its key
    (None: from the environment by `Client`'s per-provider rules — `GROQ_API_KEY` for Groq,
    `OPENAI_API_KEY` for OpenAI, `GROQSTREAM_API_KEY` for others), the `model` to ask it for
    (None: the request's own), and a `name` for reports (default: host, port and model)."""

    base_url: str
    api_key: str | None = field(default=None, repr=False)
    model: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.base_url, str) or not self.base_url.strip():
            raise ConfigError(f"an Endpoint needs a base_url, got {self.base_url!r}")
        for what in ("model", "name"):
            v = getattr(self, what)
            if v is not None and (not isinstance(v, str) or not v.strip()):
                raise ConfigError(f"Endpoint {what} must be a non-empty string, got {v!r}")

    @property
    def label(self) -> str:
        """The name reports and spans use."""
        if self.name:
            return self.name
        parts = urlsplit(self.base_url)
        where = parts.netloc or self.base_url
        return f"{where}/{self.model}" if self.model else where

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """From the CLI form ``URL[,model=NAME][,name=LABEL]`` (keys come from the environment)."""
        url, *opts = [p.strip() for p in text.split(",")]
        kw: dict[str, str] = {}
        for opt in opts:
            key, sep, value = opt.partition("=")
            if not sep or key not in ("model", "name") or not value:
                raise ConfigError(
                    f"--endpoint {text!r}: options after the URL are model=NAME or name=LABEL"
                )
            kw[key] = value
        return cls(url, **kw)


@dataclass(slots=True)
class EndpointStats:
    """What one endpoint did for a `Router` (read `Router.stats()`)."""

    name: str
    requests: int = 0
    won: int = 0
    failures: int = 0
    hedges_started: int = 0
    hedges_won: int = 0
    hedges_cancelled: int = 0
    failovers: int = 0
    breaker: str = "closed"
    ttft_s: list[float] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (TTFT p50/p99 in ms instead of the samples)."""
        ttfts = sorted(self.ttft_s)

        def q(p: float) -> float | None:
            return ttfts[min(len(ttfts) - 1, int(p * len(ttfts)))] * 1000 if ttfts else None

        return {
            "name": self.name,
            "requests": self.requests,
            "won": self.won,
            "failures": self.failures,
            "hedges_started": self.hedges_started,
            "hedges_won": self.hedges_won,
            "hedges_cancelled": self.hedges_cancelled,
            "failovers": self.failovers,
            "breaker": self.breaker,
            "ttft_p50_ms": q(0.5),
            "ttft_p99_ms": q(0.99),
        }


_STATS_TTFTS = 10_000  # TTFT samples kept per endpoint for reports (bounded)


class _Lane:
    """One endpoint as the router runs it: its client, health, TTFTs and counters."""

    __slots__ = ("client", "endpoint", "health", "name", "stats", "ttfts")

    def __init__(
        self, endpoint: Endpoint, client: Client, breaker: Breaker | None, window: int
    ) -> None:
        self.endpoint = endpoint
        self.client = client
        self.name = endpoint.label
        self.health = EndpointHealth(breaker)
        self.ttfts = TtftWindow(window)
        self.stats = EndpointStats(self.name)

    def body(self, body: dict[str, Any]) -> dict[str, Any]:
        """The request as this endpoint gets it: its own model when it names one."""
        model = self.endpoint.model
        return body if model is None or body.get("model") == model else {**body, "model": model}

    def record_ttft(self, seconds: float, fired_after: float | None = None) -> None:
        """Book a TTFT. For the hedge delay's window, a request whose hedge timer had fired
        counts as at most twice that delay: one the budget did not let hedge would otherwise
        teach the window that the slow tail is normal (and the delay would climb into it);
        a whole endpoint growing slower still lifts the delay, doubling per window."""
        self.ttfts.add(seconds if fired_after is None else min(seconds, 2 * fired_after))
        samples = self.stats.ttft_s
        if len(samples) < _STATS_TTFTS:
            samples.append(seconds)


def _moves_on(error: GroqStreamError) -> bool:
    """Errors before the first delta that send the request to the next endpoint: 498,
    429, 408/409, 5xx, connection errors, connect and first-byte timeouts."""
    return error.retryable or isinstance(error, CapacityExceededError)


class Router:
    """Several endpoints behind `Client`'s calls: hedged first tokens, failover, breakers.

    ``async with Router([Endpoint(url_a), Endpoint(url_b)]) as router:`` then use
    `router.stream(...)`, `router.complete(...)` and `router.fan_out(...)` exactly as a
    `Client`'s; `run_batch(client=router)` and the bench runner take it too.

    - `hedge`: a `Hedge`, ``"p95"``, a number of seconds, or None (no hedging).
    - `failover`: move a request that fails before its first delta to the next endpoint.
    - `breaker`: `Breaker` settings for every endpoint's circuit breaker (None: never open).
    - `max_retries`: whole passes over the endpoints when every one failed (`RetryPolicy`).
    - `timeout`, `default_model`, `headers`, `max_connections`, `max_event_bytes`, `verify`,
      `allow_insecure_http`: as `Client`'s, for every endpoint.

    `complete()` fails over but is not hedged (it has no first delta to race on).
    """

    def __init__(
        self,
        endpoints: Sequence[Endpoint | str],
        *,
        hedge: Hedge | str | float | None = "p95",
        failover: bool = True,
        breaker: Breaker | None = Breaker(),  # noqa: B008 - frozen, shared safely
        max_retries: int = 2,
        timeout: Timeouts | float | None = None,
        default_model: str = DEFAULT_MODEL,
        **client_options: Any,
    ) -> None:
        eps = [Endpoint(e) if isinstance(e, str) else e for e in endpoints]
        if not eps or not all(isinstance(e, Endpoint) for e in eps):
            raise ConfigError("a Router needs a non-empty list of Endpoint(...) or base URLs")
        names = [e.label for e in eps]
        if len(set(names)) != len(names):
            raise ConfigError(f"endpoint names must differ (give name=...): {names}")
        if breaker is not None and not isinstance(breaker, Breaker):
            raise ConfigError(f"breaker must be a Breaker(...) or None, got {breaker!r}")
        self.hedge = Hedge.of(hedge)
        self.failover = bool(failover)
        self.retry_policy = RetryPolicy(max_retries=max_retries)
        window = self.hedge.window if self.hedge is not None else 1
        self._lanes = [
            _Lane(
                e,
                Client(
                    e.api_key,
                    e.base_url,
                    timeout=timeout,
                    max_retries=0,  # the router decides what happens after a failure
                    default_model=e.model or default_model,
                    **client_options,
                ),
                breaker,
                window,
            )
            for e in eps
        ]
        h = self.hedge
        self.budget = HedgeBudget(h.max_extra, h.burst) if h is not None else HedgeBudget(0.0)
        self.default_model = self._lanes[0].client.default_model
        self.max_event_bytes = self._lanes[0].client.max_event_bytes

    def __repr__(self) -> str:
        return f"Router({[lane.name for lane in self._lanes]}, hedge={self.hedge!r})"

    @property
    def endpoints(self) -> list[Endpoint]:
        """The endpoints, in order of preference."""
        return [lane.endpoint for lane in self._lanes]

    @property
    def base_url(self) -> str:
        """The endpoints' base URLs, for messages and reports."""
        return " | ".join(lane.client.base_url for lane in self._lanes)

    @property
    def max_retries(self) -> int:
        """Whole passes over the endpoints retried when all of them failed."""
        return self.retry_policy.max_retries

    async def __aenter__(self) -> Router:
        for lane in self._lanes:
            await lane.client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every endpoint's connection pool."""
        for lane in self._lanes:
            await lane.client.aclose()

    def stats(self) -> list[EndpointStats]:
        """Per-endpoint counters: requests, wins, failures, hedges, failovers, breaker, TTFTs."""
        for lane in self._lanes:
            lane.stats.breaker = lane.health.state
        return [lane.stats for lane in self._lanes]

    # --- the calls -----------------------------------------------------------------------

    def stream(
        self,
        *,
        model: str | None = None,
        messages: Sequence[Message] | None = None,
        prompt: str | None = None,
        system: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> RoutedStream:
        """Open a routed, streamed chat completion: ``async with router.stream(...) as s``.

        Same arguments as `Client.stream`; the result is used like a `ChatStream` and also
        says `.endpoint`, `.hedged` and `.failovers`.
        """
        body = build_body(
            model=model,
            default_model=self.default_model,
            messages=messages,
            prompt=prompt,
            system=system,
            params=params,
            stream=True,
        )
        headers = checked_headers(extra_headers) if extra_headers else None
        return RoutedStream(self, body, headers)

    def open_stream(self, body: dict[str, Any]) -> RoutedStream:
        """A `RoutedStream` for a body already built (what fan-out's attempts use)."""
        return RoutedStream(self, body, None)

    def fan_out(
        self,
        requests: Iterable[Request] | AsyncIterable[Request],
        options: FanOutOptions | None = None,
        **kwargs: Any,
    ) -> FanOut:
        """`Client.fan_out` through the router: every request is routed (hedged, failed
        over); each `Result` says its `endpoint`, `hedged` and `failovers`."""
        client = self._lanes[0].client
        opts, defaults = FanOutOptions.split(kwargs, options)
        if opts.max_retries is None:
            opts = opts.replace(max_retries=self.max_retries)
        return FanOut(
            None,
            requests,
            body=partial(client.fan_out_body, defaults),
            options=opts,
            retry=RetryPolicy(max_retries=self.max_retries),
            max_event_bytes=self.max_event_bytes,
            opener=self.open_stream,
        )

    async def complete(
        self,
        *,
        model: str | None = None,
        messages: Sequence[Message] | None = None,
        prompt: str | None = None,
        system: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> Completion:
        """`Client.complete` with failover (not hedged); the `Completion` says its
        `endpoint` and `failovers`."""
        kw = dict(params, messages=messages, prompt=prompt, system=system)
        kw["extra_headers"] = extra_headers
        state = RetryState()
        done: Completion = await self.retry_policy.run(
            partial(self._complete_pass, model, kw), state=state
        )
        done.attempts = state.attempts
        return done

    async def _complete_pass(self, model: str | None, kw: dict[str, Any], n: int) -> Completion:
        tried: set[int] = set()
        failovers = 0
        while True:
            lane = self._next_lane(tried)
            if lane is None:
                raise self._none_left()
            lane.stats.requests += 1
            try:
                done = await lane.client.complete(model=lane.endpoint.model or model, **kw)
            except GroqStreamError as e:
                self._failed(lane, e)
                if not (self.failover and _moves_on(e)) or self._next_ready(tried) is None:
                    raise
                failovers += 1
                lane.stats.failovers += 1
                continue
            lane.health.success()
            lane.stats.won += 1
            done.endpoint, done.failovers = lane.name, failovers
            return done

    # --- shared by the calls -------------------------------------------------------------

    def _next_ready(self, tried: set[int]) -> _Lane | None:
        """The next endpoint that could take the request now (nothing taken)."""
        now = _now()
        for i, lane in enumerate(self._lanes):
            if i not in tried and now >= lane.health.limited_until:
                b = lane.health.breaker
                if b is None or b.ready(now):
                    return lane
        return None

    def _next_lane(self, tried: set[int]) -> _Lane | None:
        """Take the first endpoint not yet tried whose health lets a request through now."""
        now = _now()
        for i, lane in enumerate(self._lanes):
            if i not in tried and lane.health.take(now):
                tried.add(i)
                return lane
        return None

    def _none_left(self) -> NoEndpointAvailable:
        now = _now()
        soonest = min(lane.health.available_at(now) for lane in self._lanes)
        names = ", ".join(f"{lane.name} ({lane.health.state})" for lane in self._lanes)
        return NoEndpointAvailable(
            f"no endpoint can take the request now: {names}",
            retry_after=max(0.0, soonest - now),
        )

    def _failed(self, lane: _Lane, e: GroqStreamError) -> None:
        """Book a failure before the first delta on `lane`'s health."""
        lane.stats.failures += 1
        if isinstance(e, RateLimitError):
            wait = named_wait(e)
            lane.health.rate_limited(wait if wait is not None else 1.0, _now())
        elif _moves_on(e):
            lane.health.failure(_now())
        else:
            lane.health.abandon()  # the request's fault, not the endpoint's


class _Attempt:
    """One endpoint's try at a request: its stream, the task waiting for its first delta."""

    __slots__ = ("fired_after", "hedged_after", "lane", "started", "stream", "task")

    def __init__(self, lane: _Lane, stream: ChatStream, task: asyncio.Task[None]) -> None:
        self.lane = lane
        self.stream = stream
        self.task = task
        self.started = _now()
        self.hedged_after: float | None = None  # the delay after which it was hedged
        self.fired_after: float | None = None  # when its hedge timer first fired


class _Race:
    """One pass of a request over the endpoints: primary, hedges, failovers, one winner."""

    def __init__(self, router: Router, rs: RoutedStream) -> None:
        self.router = router
        self.rs = rs
        self.tried: set[int] = set()
        self.live: dict[asyncio.Task[None], _Attempt] = {}
        self.every: list[_Attempt] = []
        self.error: GroqStreamError | None = None
        self.hedge_at: float | None = None

    def launch(self, lane: _Lane, role: str) -> _Attempt:
        rs = self.rs
        stream = lane.client.open_stream(lane.body(rs.body), rs.extra_headers)
        stream.route = Route(lane.name, role)
        lane.stats.requests += 1
        task = asyncio.get_running_loop().create_task(stream.start())
        att = _Attempt(lane, stream, task)
        self.live[task] = att
        self.every.append(att)
        rs.attempt_count += 1
        self._arm(att)
        return att

    def _arm(self, att: _Attempt) -> None:
        """Set when the next hedge may start: after the newest attempt's hedge delay."""
        hedge = self.router.hedge
        if hedge is None or self.router._next_ready(self.tried) is None:
            self.hedge_at = None
            return
        self.hedge_at = att.started + hedge.delay(att.lane.ttfts)

    async def run(self) -> ChatStream:
        router = self.router
        lane = router._next_lane(self.tried)
        if lane is None:
            raise router._none_left()
        self.launch(lane, "primary")
        try:
            while True:
                timeout = None if self.hedge_at is None else max(0.0, self.hedge_at - _now())
                done, _ = await asyncio.wait(
                    self.live, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    self._hedge()
                    continue
                winner = self._settle(done)
                if winner is not None:
                    return self._won(winner)
        finally:
            self._close_losers()

    def _hedge(self) -> None:
        """The hedge delay passed with no first delta: start the next endpoint if the budget
        allows (else look again after another delay)."""
        router = self.router
        newest = self.every[-1]
        hedge = router.hedge
        assert hedge is not None
        if newest.fired_after is None:
            newest.fired_after = _now() - newest.started
        if router.budget.try_spend():
            lane = router._next_lane(self.tried)
            if lane is not None:
                newest.hedged_after = _now() - newest.started
                self.rs.hedged = True
                lane.stats.hedges_started += 1
                self.launch(lane, "hedge")
                return
            router.budget.level += 1.0  # nobody to send it to: give the token back
        self.hedge_at = _now() + hedge.delay(newest.lane.ttfts)

    def _settle(self, done: set[asyncio.Task[None]]) -> _Attempt | None:
        """Look at attempts that ended: the first that reached a delta wins; a failure moves
        the request on (or ends it)."""
        winner = None
        for task in done:
            att = self.live.pop(task)
            exc = task.exception()
            if exc is None:
                if winner is None:
                    winner = att
                else:
                    self.live[task] = att  # a second one ready at once: closed as a loser
                continue
            if not isinstance(exc, GroqStreamError):
                raise exc
            self._attempt_failed(att, exc)
        return winner

    def _attempt_failed(self, att: _Attempt, e: GroqStreamError) -> None:
        router = self.router
        router._failed(att.lane, e)
        if att.stream.route is not None:
            att.stream.route.outcome = "failed"
        self.error = e
        if self.live:
            return  # another attempt is still on its way: it carries the request now
        if not (router.failover and _moves_on(e)):
            raise e
        lane = router._next_lane(self.tried)
        if lane is None:
            raise e
        self.rs.failovers += 1
        att.lane.stats.failovers += 1
        self.launch(lane, "failover")

    def _won(self, att: _Attempt) -> ChatStream:
        lane = att.lane
        lane.health.success()
        lane.stats.won += 1
        if att.stream.route is not None and att.stream.route.role == "hedge":
            lane.stats.hedges_won += 1
        ttft = att.stream.metrics.ttft_s
        if ttft is not None:
            lane.record_ttft(ttft, att.fired_after)
        self.rs.endpoint = lane.name
        self.rs.win_ns = att.stream.metrics.output_ns[0] if ttft is not None else _perf_ns()
        self.live.pop(att.task, None)
        for other in self.every:
            route = other.stream.route
            if route is not None:
                route.hedged, route.failovers = self.rs.hedged, self.rs.failovers
            if other is not att and other.hedged_after is not None and route is not None:
                other.lane.ttfts.add(other.hedged_after)  # censored: at least this long
        if att.stream.route is not None:
            att.stream.route.outcome = "won"
            att.stream.route.breaker = lane.health.state
        return att.stream

    def _close_losers(self) -> None:
        """Close every attempt still in flight: connection dropped now, task cancelled."""
        for task, att in list(self.live.items()):
            att.stream.route = att.stream.route or Route(att.lane.name, "hedge")
            att.stream.route.outcome = "lost"
            att.stream.route.breaker = att.lane.health.state
            if att.stream.route.role == "hedge":
                att.lane.stats.hedges_cancelled += 1
            att.lane.health.abandon()
            att.stream.close()
            task.cancel()
        self.rs.losers.extend(self.live)
        self.live.clear()


class RoutedStream:
    """A chat stream served by whichever endpoint of a `Router` delivered first.

    Used exactly like a `ChatStream` (``async with``, ``async for`` over `Delta`s, `.text`,
    `.metrics`, `.usage`, ...); `.endpoint` names the endpoint that served it, `.hedged` is
    True if the request went to a second endpoint too, `.failovers` counts the moves to
    another endpoint after a failure. `.metrics` are timed from when the request was made,
    across hedges and failovers. Deltas come from one endpoint only, each once.
    """

    def __init__(
        self, router: Router, body: dict[str, Any], extra_headers: Mapping[str, str] | None
    ) -> None:
        self._router = router
        self.body = body
        self.extra_headers = extra_headers
        self._winner: ChatStream | None = None
        self._started = False
        self._closed = False
        self._start_ns = 0
        self._metrics: StreamMetrics | None = None
        self.endpoint: str | None = None
        self.hedged = False
        self.failovers = 0
        self.attempt_count = 0
        self.win_ns = 0
        self.losers: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        return f"<RoutedStream endpoint={self.endpoint!r} hedged={self.hedged}>"

    async def __aenter__(self) -> RoutedStream:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __aiter__(self) -> AsyncIterator[Delta]:
        # Once started, iterate the winner itself: routing costs nothing per delta.
        return self._winner if self._winner is not None else self._deltas()

    async def _deltas(self) -> AsyncIterator[Delta]:
        await self.start()
        if self._winner is not None:
            async for d in self._winner:
                yield d

    async def start(self) -> None:
        """Route the request and wait for its first delta (hedging and failing over)."""
        if self._started:
            if self._closed and self._winner is None:
                raise ConfigError("this stream was closed before it started")
            return
        self._started = True
        router = self._router
        router.budget.on_request()
        self._start_ns = _perf_ns()
        try:
            self._winner = await router.retry_policy.run(self._pass)
        finally:
            await self._reap()

    async def _pass(self, n: int) -> ChatStream:
        return await _Race(self._router, self).run()

    async def _reap(self) -> None:
        """Wait for the closed losers' tasks to end (their connections are already closed)."""
        losers, self.losers = self.losers, []
        if losers:
            await asyncio.gather(*losers, return_exceptions=True)

    async def until_done(self) -> RoutedStream:
        """Consume the rest of the stream (discarding deltas) and return self."""
        async for _ in self:
            pass
        return self

    def close(self) -> None:
        """Close the serving connection now if the stream is not finished; idempotent."""
        self._closed = True
        self._started = True
        if self._winner is not None:
            self._winner.close()

    async def aclose(self) -> None:
        """Async alias of `close`."""
        self.close()

    # --- results (the winner's) ----------------------------------------------------------

    @property
    def stream(self) -> ChatStream | None:
        """The `ChatStream` that served the request (None until a first delta came)."""
        return self._winner

    @property
    def text(self) -> str:
        """The content text received."""
        return self._winner.text if self._winner is not None else ""

    @property
    def reasoning(self) -> str | None:
        """The reasoning text received, or None."""
        return self._winner.reasoning if self._winner is not None else None

    @property
    def tool_calls(self) -> list[ToolCall]:
        """Complete tool calls, assembled from the stream's fragments."""
        return self._winner.tool_calls if self._winner is not None else []

    @property
    def finish_reason(self) -> str | None:
        """Why generation stopped, once known."""
        return self._winner.finish_reason if self._winner is not None else None

    @property
    def usage(self) -> Usage | None:
        """Token counts and server timings."""
        return self._winner.usage if self._winner is not None else None

    @property
    def request_id(self) -> str | None:
        """The serving endpoint's request id."""
        return self._winner.request_id if self._winner is not None else None

    @property
    def model(self) -> str | None:
        """The model the serving endpoint says answered."""
        return self._winner.model if self._winner is not None else None

    @property
    def headers(self) -> dict[str, str]:
        """The serving response's headers (lower-case names)."""
        return self._winner.headers if self._winner is not None else {}

    @property
    def finished(self) -> bool:
        """True once the stream ended completely."""
        return self._winner is not None and self._winner.finished

    @property
    def attempts(self) -> int:
        """Requests sent for this stream, over every endpoint (hedges and failovers too)."""
        return self.attempt_count

    @property
    def metrics(self) -> StreamMetrics:
        """Latency metrics timed from when the request was made (across hedges and
        failovers); TTFT is what the caller waited."""
        if self._metrics is not None:
            return self._metrics
        w = self._winner
        if w is None:
            end = _perf_ns()
            return compute_metrics(self._start_ns or end, end, [])
        m = w.metrics_since(self._start_ns)
        if w.finished:
            self._metrics = m
        return m

    def text_for(self, index: int) -> str:
        """The content text of choice `index`."""
        return self._winner.text_for(index) if self._winner is not None else ""

    def assistant_message(self) -> dict[str, Any]:
        """The assistant message to append to `messages` for the next turn."""
        return assistant_message(self.text, self.tool_calls)
