"""The observer `GroqStreamInstrumentor` registers: one CLIENT span and a few histogram
records per request, all made when the request ends, from the stream's own `StreamMetrics`.

A span starts when the request does (under the caller's current span: contextvars follow
`fan_out`'s tasks) and is never made current, since a stream outlives the awaits that read
it. Its end time, the first-token event and the retry events carry the client's own
timestamps, converted from `perf_counter_ns` to wall-clock nanoseconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import Histogram, Meter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from ..stream import ChatStream
from ..types import Completion, Route
from . import _attributes as a
from . import _names as n

__all__ = ["Instruments", "RequestObserver"]

_perf_ns = time.perf_counter_ns


class Instruments:
    """The histograms, created once per `instrument()` with the advised bucket boundaries."""

    def __init__(self, meter: Meter) -> None:
        def make(spec: n.MetricSpec) -> Histogram:
            return meter.create_histogram(
                spec.name,
                unit=spec.unit,
                description=spec.description,
                explicit_bucket_boundaries_advisory=list(spec.buckets),
            )

        self.duration = make(n.OPERATION_DURATION)
        self.tokens = make(n.TOKEN_USAGE)
        self.ttfc = make(n.TIME_TO_FIRST_CHUNK)
        self.tpoc = make(n.TIME_PER_OUTPUT_CHUNK)
        self.groq = {field: make(spec) for field, spec, _ in n.GROQ_TIMINGS}
        self.router_attempts = meter.create_counter(
            n.ROUTER_ATTEMPTS,
            unit="{attempt}",
            description="A Router's attempts by endpoint, role (primary, hedge, failover) "
            "and outcome (won, lost, failed).",
        )


MAX_SERVERS = 256
"""Base URLs whose server attributes a `RequestObserver` keeps worked out."""


class RequestObserver:
    """A `groqstream._hooks.Observer`: follows each request with a `_RequestSpan`."""

    def __init__(
        self,
        tracer: Tracer,
        instruments: Instruments,
        *,
        provider: str | None,
        capture_content: bool,
    ) -> None:
        self.tracer = tracer
        self.instruments = instruments
        self.provider = provider
        self.capture_content = capture_content
        self._servers: dict[str, dict[str, Any]] = {}  # base URL → provider, address, port

    @property
    def servers_cached(self) -> int:
        """How many base URLs' server attributes are held (at most `MAX_SERVERS`)."""
        return len(self._servers)

    def server(self, base_url: str) -> dict[str, Any]:
        """The server attributes of a base URL, worked out once per URL; the cache starts over
        past `MAX_SERVERS` URLs (a process that talks to endless hosts stays bounded)."""
        attrs = self._servers.get(base_url)
        if attrs is None:
            if len(self._servers) >= MAX_SERVERS:
                self._servers.clear()
            attrs = self._servers[base_url] = a.server_attributes(base_url, self.provider)
        return attrs

    def begin(self, kind: str, body: Mapping[str, Any], base_url: str) -> _RequestSpan:
        """Start the request's span (a `_hooks.Handle`)."""
        return _RequestSpan(self, kind, body, base_url)


class _RequestSpan:
    """One request's span and metric attributes, from `begin` to `end`."""

    __slots__ = ("_attrs", "_obs", "_perf0", "_span", "_wall0")

    def __init__(
        self, obs: RequestObserver, kind: str, body: Mapping[str, Any], base_url: str
    ) -> None:
        attrs = a.request_attributes(kind, body, obs.server(base_url))
        if obs.capture_content:
            attrs[n.INPUT_MESSAGES] = a.input_messages(body)
        model = attrs.get(n.REQUEST_MODEL)
        name = f"{n.OPERATION_CHAT} {model}" if model else n.OPERATION_CHAT
        self._obs = obs
        self._attrs = a.metric_base(attrs)
        self._wall0 = time.time_ns()
        self._perf0 = _perf_ns()
        self._span: Span = obs.tracer.start_span(
            name, kind=SpanKind.CLIENT, attributes=attrs, start_time=self._wall0
        )

    def _wall(self, perf_ns: int) -> int:
        """A `perf_counter_ns` stamp as wall-clock nanoseconds on the span's timeline."""
        return self._wall0 + (perf_ns - self._perf0)

    def retry(self, attempt: int, error: BaseException, delay: float) -> None:
        """A retried attempt: a span event saying which attempt failed, why, and the wait."""
        attrs: dict[str, Any] = {
            n.RETRY_ATTEMPT: attempt,
            n.ERROR_TYPE: _error_type(error),
            n.RETRY_DELAY: delay,
        }
        status = getattr(error, "status", None)
        if isinstance(status, int) and status:
            attrs[n.HTTP_STATUS_CODE] = status
        self._span.add_event(n.EVENT_RETRY, attrs)

    def end(self, result: object, error: BaseException | None) -> None:
        """Finish the span and record the metrics, once, however the request ended.

        A cancelled request, like a stream the caller stopped reading, was the caller's
        choice: it ends with `groqstream.closed_early` and no error status.
        """
        span = self._span
        ctx = trace.set_span_in_context(span)
        end_ns = _perf_ns()
        metric_attrs = dict(self._attrs)
        span_attrs: dict[str, Any] = {}
        closed_early = isinstance(error, asyncio.CancelledError)
        if closed_early:
            error = None
        if isinstance(result, (ChatStream, Completion)):
            span_attrs.update(a.response_attributes(result))
            if n.RESPONSE_MODEL in span_attrs:
                metric_attrs[n.RESPONSE_MODEL] = span_attrs[n.RESPONSE_MODEL]
            if self._obs.capture_content:
                span_attrs[n.OUTPUT_MESSAGES] = a.output_messages(result)
            if isinstance(result, ChatStream):
                if result.route is not None:
                    self._route(result.route, error is not None, span_attrs, metric_attrs, ctx)
                end_ns = self._stream_end(result, span_attrs, metric_attrs, ctx, end_ns)
                closed_early = closed_early or (error is None and not result.finished)
            self._record_usage(result, metric_attrs, ctx)
        if closed_early:
            span_attrs[n.CLOSED_EARLY] = True
        if error is not None:
            kind = _error_type(error)
            metric_attrs[n.ERROR_TYPE] = span_attrs[n.ERROR_TYPE] = kind
            span.set_status(Status(StatusCode.ERROR, str(error) or kind))
        span.set_attributes(span_attrs)
        self._obs.instruments.duration.record(max(0, end_ns - self._perf0) / 1e9, metric_attrs, ctx)
        span.end(end_time=self._wall(end_ns))

    def _route(
        self,
        route: Route,
        failed: bool,
        span_attrs: dict[str, Any],
        attrs: dict[str, Any],
        ctx: Context,
    ) -> None:
        """A Router's attempt: which endpoint, what role, how it ended; the endpoint's name
        goes on the metrics too (per-endpoint TTFT), and the attempt is counted."""
        route_attrs = a.route_attributes(route, failed)
        span_attrs.update(route_attrs)
        attrs[n.ROUTER_ENDPOINT] = route.endpoint
        counted = (n.ROUTER_ENDPOINT, n.ROUTER_ROLE, n.ROUTER_OUTCOME, n.ROUTER_BREAKER)
        self._obs.instruments.router_attempts.add(1, {k: route_attrs[k] for k in counted}, ctx)

    def _stream_end(
        self,
        s: ChatStream,
        span_attrs: dict[str, Any],
        attrs: dict[str, Any],
        ctx: Context,
        now_ns: int,
    ) -> int:
        """Stream-only figures (first chunk, chunk gaps); returns the stream's end stamp."""
        m = s.metrics
        inst = self._obs.instruments
        span_attrs[n.CHUNKS] = m.chunks
        if m.ttft_s is not None:
            span_attrs[n.RESPONSE_TIME_TO_FIRST_CHUNK] = m.ttft_s
            self._span.add_event(
                n.EVENT_FIRST_TOKEN,
                {n.RESPONSE_TIME_TO_FIRST_CHUNK: m.ttft_s},
                timestamp=self._wall(m.output_ns[0]),
            )
            inst.ttfc.record(m.ttft_s, attrs, ctx)
        if m.chunks > 1:
            gap_ns = (m.output_ns[-1] - m.output_ns[0]) / (m.chunks - 1)
            inst.tpoc.record(gap_ns / 1e9, attrs, ctx)
        return (m.end_ns or now_ns) if s.finished else now_ns

    def _record_usage(
        self, r: ChatStream | Completion, attrs: dict[str, Any], ctx: Context
    ) -> None:
        """Token counts and Groq's server timings, when the server reported them."""
        usage = r.usage
        if usage is None:
            return
        inst = self._obs.instruments
        for count, kind in (
            (usage.prompt_tokens, n.TOKEN_INPUT),
            (usage.completion_tokens, n.TOKEN_OUTPUT),
        ):
            if count is not None:
                inst.tokens.record(count, {**attrs, n.TOKEN_TYPE: kind}, ctx)
        for field, value in a.groq_timings(usage.raw).items():
            inst.groq[field].record(value, attrs, ctx)


def _error_type(error: BaseException) -> str:
    """`error.type`: the typed error's class name (`RateLimitError`, `StreamInterrupted`, …)."""
    return type(error).__qualname__
