"""groqstream.otel against the simulated server: the SDK's in-memory span exporter and metric
reader see what a collector would — names, units, buckets, attributes, values, errors, early
exits, fan-out parenting, content opt-in, and never the API key."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

pytest.importorskip(
    "opentelemetry.sdk", reason="the otel extra is not installed: pip install -e '.[otel]'"
)

from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader, Metric
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, Tracer

import early_exits
from groqstream import (
    AuthenticationError,
    BadRequestError,
    Client,
    Endpoint,
    Hedge,
    IdleTimeout,
    Router,
    StreamInterrupted,
    Timeouts,
    _hooks,
    run_batch,
)
from groqstream.otel import METRICS, SEMCONV_VERSION, GroqStreamInstrumentor
from groqstream.otel import _names as n
from groqstream.otel._attributes import provider_for, server_of
from groqstream.testing import Fault, SimulatedServer, SlowTail

MODEL = "openai/gpt-oss-20b"
PLAIN_MODEL = "moonshotai/kimi-k2-instruct"
BY_NAME = {spec.name: spec for spec in METRICS}


class OpenSpans(SpanProcessor):  # type: ignore[misc,unused-ignore]
    """Counts spans started and not yet ended."""

    def __init__(self) -> None:
        self.open: set[int] = set()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.open.add(span.context.span_id)

    def on_end(self, span: ReadableSpan) -> None:
        assert span.context is not None
        self.open.discard(span.context.span_id)


@dataclass
class Telemetry:
    """An SDK pipeline in memory, with groqstream instrumented into it."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    opened: OpenSpans
    instrumentor: GroqStreamInstrumentor

    @property
    def tracer(self) -> Tracer:
        return self.tracer_provider.get_tracer("test")

    def reinstrument(self, **kwargs: Any) -> None:
        self.instrumentor.uninstrument()
        self.instrumentor.instrument(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **kwargs
        )

    def chat_spans(self) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if s.name.startswith("chat")]

    def metrics(self) -> dict[str, Metric]:
        data = self.reader.get_metrics_data()
        assert data is not None
        return {
            m.name: m
            for rm in data.resource_metrics
            for sm in rm.scope_metrics
            if sm.scope.name == n.INSTRUMENTATION_SCOPE
            for m in sm.metrics
        }

    def points(self, name: str) -> list[HistogramDataPoint]:
        m = self.metrics().get(name)
        return [] if m is None else list(m.data.data_points)  # type: ignore[arg-type,unused-ignore]


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    exporter = InMemorySpanExporter()
    opened = OpenSpans()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(opened)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    instrumentor = GroqStreamInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    yield Telemetry(exporter, reader, tracer_provider, meter_provider, opened, instrumentor)
    instrumentor.uninstrument()
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture
async def slow_server() -> AsyncIterator[SimulatedServer]:
    async with early_exits.slow_server() as srv:
        yield srv


def the_span(t: Telemetry) -> ReadableSpan:
    spans = t.chat_spans()
    assert len(spans) == 1, [s.name for s in spans]
    assert not t.opened.open
    return spans[0]


# --- import and lifecycle -------------------------------------------------------------------


def test_import_groqstream_never_imports_opentelemetry() -> None:
    code = (
        "import sys, groqstream, groqstream.cli.main, groqstream.testing\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('opentelemetry', 'groqstream.otel') or m.startswith('groqstream.otel'))\n"
        "print(loaded)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert p.stdout.strip() == "[]"


def test_without_the_extra_the_import_error_says_what_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None\n"
        "from groqstream.errors import ConfigError\n"
        "try:\n"
        "    import groqstream.otel\n"
        "except ImportError as e:\n"
        "    assert isinstance(e, ConfigError), type(e)\n"
        "    print(e)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'groqstream[otel]'" in p.stdout


async def test_uninstrument_restores_the_unobserved_path(
    telemetry: Telemetry, client: Client
) -> None:
    async with client.stream(model=MODEL, prompt="hi") as s:
        await s.until_done()
    assert s._obs is not None and len(telemetry.chat_spans()) == 1
    telemetry.instrumentor.uninstrument()
    assert _hooks.observers == ()
    async with client.stream(model=MODEL, prompt="hi") as s:
        await s.until_done()
    assert s._obs is None  # no handle: the request paid one empty-tuple test, nothing more
    assert len(telemetry.chat_spans()) == 1
    telemetry.reinstrument()
    await client.complete(model=PLAIN_MODEL, prompt="hi")
    assert len(telemetry.chat_spans()) == 2


# --- the span ------------------------------------------------------------------------------


async def test_stream_span_carries_request_and_response_attributes(
    telemetry: Telemetry, server: SimulatedServer, client: Client
) -> None:
    params: dict[str, Any] = {
        "max_tokens": 30,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["\n\n"],
        "seed": 7,
    }
    async with client.stream(model=MODEL, prompt="Why is the sky blue?", **params) as s:
        await s.until_done()
    span = the_span(telemetry)
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert s.usage is not None
    expected = {
        n.OPERATION_NAME: "chat",
        n.PROVIDER_NAME: "openai",  # an OpenAI-compatible server that is not Groq's host
        n.REQUEST_MODEL: MODEL,
        n.REQUEST_STREAM: True,
        n.REQUEST_MAX_TOKENS: 30,
        n.REQUEST_TEMPERATURE: 0.2,
        n.REQUEST_TOP_P: 0.9,
        n.REQUEST_STOP_SEQUENCES: ("\n\n",),
        n.REQUEST_SEED: 7,
        n.SERVER_ADDRESS: "127.0.0.1",
        n.SERVER_PORT: server.port,
        n.RESPONSE_MODEL: s.model,
        n.RESPONSE_ID: s.completion_id,
        n.REQUEST_ID: s.request_id,
        n.RESPONSE_FINISH_REASONS: ("length",),
        n.USAGE_INPUT_TOKENS: s.usage.prompt_tokens,
        n.USAGE_OUTPUT_TOKENS: 30,
        n.RESPONSE_TIME_TO_FIRST_CHUNK: s.metrics.ttft_s,
        n.CHUNKS: s.metrics.chunks,
        n.ATTEMPTS: 1,
        n.GROQ_QUEUE_TIME: s.usage.queue_time,
        n.GROQ_PROMPT_TIME: s.usage.prompt_time,
        n.GROQ_COMPLETION_TIME: s.usage.completion_time,
        n.GROQ_TOTAL_TIME: s.usage.total_time,
    }
    attrs = dict(span.attributes or {})
    assert {k: attrs.get(k) for k in expected} == expected
    assert n.CLOSED_EARLY not in attrs and n.ERROR_TYPE not in attrs
    assert n.INPUT_MESSAGES not in attrs and n.OUTPUT_MESSAGES not in attrs


async def test_first_token_event_and_span_end_use_the_streams_own_stamps(
    telemetry: Telemetry, client: Client
) -> None:
    async with client.stream(model=MODEL, prompt="hi") as s:
        await s.until_done()
    span = the_span(telemetry)
    (event,) = [e for e in span.events if e.name == n.EVENT_FIRST_TOKEN]
    m = s.metrics
    assert span.start_time is not None and span.end_time is not None
    # Both come from perf_counter stamps on one timeline: their distance is exact.
    assert span.end_time - event.timestamp == m.end_ns - m.output_ns[0]
    assert span.start_time < event.timestamp < span.end_time
    assert event.attributes == {n.RESPONSE_TIME_TO_FIRST_CHUNK: m.ttft_s}


async def test_complete_span_is_not_marked_streaming(telemetry: Telemetry, client: Client) -> None:
    done = await client.complete(model=PLAIN_MODEL, prompt="hi", max_completion_tokens=12)
    span = the_span(telemetry)
    attrs = dict(span.attributes or {})
    assert span.name == f"chat {PLAIN_MODEL}"
    assert n.REQUEST_STREAM not in attrs and n.RESPONSE_TIME_TO_FIRST_CHUNK not in attrs
    assert attrs[n.REQUEST_MAX_TOKENS] == 12
    assert attrs[n.RESPONSE_ID] == done.raw["id"]
    assert attrs[n.USAGE_OUTPUT_TOKENS] == 12
    assert not [e for e in span.events if e.name == n.EVENT_FIRST_TOKEN]
    assert telemetry.points(n.TIME_TO_FIRST_CHUNK.name) == []  # streams only
    (point,) = telemetry.points(n.OPERATION_DURATION.name)
    assert point.count == 1 and point.sum >= done.e2el_s


# --- metrics -------------------------------------------------------------------------------


@pytest.fixture
async def queued_server() -> AsyncIterator[SimulatedServer]:
    """A server that reports a 10 ms queue time in `x_groq.usage`."""
    async with SimulatedServer(ttft=0.02, tokens_per_second=2000, queue_time=0.01) as srv:
        yield srv


async def test_metrics_names_units_buckets_and_values(
    telemetry: Telemetry, queued_server: SimulatedServer
) -> None:
    t, srv = telemetry, queued_server
    async with Client(base_url=srv.base_url) as client:
        async with client.stream(model=MODEL, prompt="hi", max_tokens=40) as s:
            await s.until_done()
    assert s.usage is not None
    got = t.metrics()
    assert set(got) == set(BY_NAME)
    for name, metric in got.items():
        spec = BY_NAME[name]
        assert metric.unit == spec.unit, name
        for point in metric.data.data_points:
            assert isinstance(point, HistogramDataPoint)
            assert tuple(point.explicit_bounds) == spec.buckets, name
    m = s.metrics
    assert m.ttft_s is not None
    (ttfc,) = t.points(n.TIME_TO_FIRST_CHUNK.name)
    assert ttfc.count == 1 and abs(ttfc.sum - m.ttft_s) < 0.001
    (tpoc,) = t.points(n.TIME_PER_OUTPUT_CHUNK.name)
    mean_gap = (m.output_ns[-1] - m.output_ns[0]) / (m.chunks - 1) / 1e9
    assert tpoc.count == 1 and abs(tpoc.sum - mean_gap) < 1e-9
    (duration,) = t.points(n.OPERATION_DURATION.name)
    assert duration.count == 1 and m.e2el_s <= duration.sum < m.e2el_s + 1.0
    tokens = {(p.attributes or {})[n.TOKEN_TYPE]: p.sum for p in t.points(n.TOKEN_USAGE.name)}
    assert tokens == {"input": s.usage.prompt_tokens, "output": 40}
    (queue,) = t.points(n.GROQ_QUEUE.name)
    assert queue.sum == pytest.approx(0.01)
    (prompt,) = t.points(n.GROQ_PROMPT.name)
    assert prompt.sum == s.usage.prompt_time
    (completion,) = t.points(n.GROQ_COMPLETION.name)
    assert completion.sum == s.usage.completion_time
    base = {
        n.OPERATION_NAME: "chat",
        n.PROVIDER_NAME: "openai",
        n.REQUEST_MODEL: MODEL,
        n.RESPONSE_MODEL: MODEL,
        n.SERVER_ADDRESS: "127.0.0.1",
        n.SERVER_PORT: srv.port,
    }
    for name in got:
        for point in t.points(name):
            attrs = dict(point.attributes or {})
            attrs.pop(n.TOKEN_TYPE, None)
            assert attrs == base, name


async def test_provider_name_can_be_overridden(telemetry: Telemetry, client: Client) -> None:
    telemetry.reinstrument(provider_name="groq")
    async with client.stream(model=MODEL, prompt="hi") as s:
        await s.until_done()
    assert dict(the_span(telemetry).attributes or {})[n.PROVIDER_NAME] == "groq"
    (point,) = telemetry.points(n.OPERATION_DURATION.name)
    assert (point.attributes or {})[n.PROVIDER_NAME] == "groq"


def test_provider_and_server_from_the_base_url() -> None:
    assert provider_for("api.groq.com") == "groq"
    assert provider_for("API.GROQ.COM.") == "groq"
    assert provider_for("api.openai.com") == "openai"
    assert provider_for("myres.openai.azure.com") == "azure.ai.openai"
    assert provider_for("generativelanguage.googleapis.com") == "gcp.gemini"
    assert provider_for("notgroq.com") == "openai"
    assert provider_for("127.0.0.1") == "openai"
    assert server_of("https://user:secret@api.groq.com/openai/v1") == ("api.groq.com", 443)
    assert server_of("http://localhost:8000/v1") == ("localhost", 8000)
    assert server_of("http://[::1]/v1") == ("::1", 80)


# --- errors and retries --------------------------------------------------------------------


async def test_429_then_success_shows_two_attempts_and_no_error(
    telemetry: Telemetry, server: SimulatedServer, client: Client
) -> None:
    server.faults.append(Fault.status(429, retry_after=0.01))
    async with client.stream(model=MODEL, prompt="hi") as s:
        await s.until_done()
    span = the_span(telemetry)
    attrs = dict(span.attributes or {})
    assert attrs[n.ATTEMPTS] == 2 == s.attempts
    assert span.status.status_code is StatusCode.UNSET and n.ERROR_TYPE not in attrs
    (retry,) = [e for e in span.events if e.name == n.EVENT_RETRY]
    assert dict(retry.attributes or {}) == {
        n.RETRY_ATTEMPT: 1,
        n.ERROR_TYPE: "RateLimitError",
        n.RETRY_DELAY: 0.01,
        n.HTTP_STATUS_CODE: 429,
    }
    first = next(e for e in span.events if e.name == n.EVENT_FIRST_TOKEN)
    assert retry.timestamp < first.timestamp
    (point,) = telemetry.points(n.OPERATION_DURATION.name)
    assert n.ERROR_TYPE not in (point.attributes or {})  # a retried error is not the outcome


async def test_cut_mid_stream_sets_error_status_and_error_type(
    telemetry: Telemetry, server: SimulatedServer, client: Client
) -> None:
    server.faults.append(Fault.cut(after_chunks=3))
    with pytest.raises(StreamInterrupted) as info:
        async with client.stream(model=MODEL, prompt="hi") as s:
            await s.until_done()
    span = the_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == str(info.value)
    attrs = dict(span.attributes or {})
    assert attrs[n.ERROR_TYPE] == "StreamInterrupted"
    assert n.CLOSED_EARLY not in attrs  # a failure, not the caller's choice
    assert attrs[n.CHUNKS] == s.metrics.chunks >= 3
    (duration,) = telemetry.points(n.OPERATION_DURATION.name)
    assert (duration.attributes or {})[n.ERROR_TYPE] == "StreamInterrupted"
    (ttfc,) = telemetry.points(n.TIME_TO_FIRST_CHUNK.name)  # it did get a first chunk
    assert ttfc.count == 1
    await server.wait_idle()


async def test_an_error_before_the_stream_is_the_spans_error(
    telemetry: Telemetry, server: SimulatedServer, client: Client
) -> None:
    server.faults.append(Fault.status(400, message="bad temperature"))
    with pytest.raises(BadRequestError):
        async with client.stream(model=MODEL, prompt="hi"):
            pass
    span = the_span(telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})[n.ERROR_TYPE] == "BadRequestError"
    assert "bad temperature" in (span.status.description or "")
    assert telemetry.points(n.TIME_TO_FIRST_CHUNK.name) == []


async def test_idle_timeout_is_the_spans_error(
    telemetry: Telemetry, server: SimulatedServer
) -> None:
    server.faults.append(Fault.stall(after_chunks=2, seconds=5.0))
    timeouts = Timeouts(connect=2.0, first_byte=5.0, idle=0.2, total=30.0)
    async with Client(base_url=server.base_url, timeout=timeouts) as client:
        with pytest.raises(IdleTimeout):
            async with client.stream(model=MODEL, prompt="hi") as s:
                await s.until_done()
    assert dict(the_span(telemetry).attributes or {})[n.ERROR_TYPE] == "IdleTimeout"


# --- early exits: no open span, no open connection ------------------------------------------


def assert_closed_early(t: Telemetry) -> None:
    span = the_span(t)
    attrs = dict(span.attributes or {})
    assert attrs[n.CLOSED_EARLY] is True
    assert span.status.status_code is StatusCode.UNSET  # the caller's choice, not a failure
    (duration,) = t.points(n.OPERATION_DURATION.name)
    assert n.ERROR_TYPE not in (duration.attributes or {})


async def test_break_leaves_no_open_span_or_connection(
    telemetry: Telemetry, slow_server: SimulatedServer
) -> None:
    async with Client(base_url=slow_server.base_url) as client:
        async with client.stream(model=MODEL, prompt="hi") as s:
            async for _ in s:
                break
        assert_closed_early(telemetry)
        await slow_server.wait_idle()  # the client still open: the stream's socket is closed


async def test_break_without_async_with_is_ended_when_collected(
    telemetry: Telemetry, slow_server: SimulatedServer
) -> None:
    async with Client(base_url=slow_server.base_url) as client:
        s = client.stream(model=MODEL, prompt="hi")
        async for _ in s:
            break
        assert telemetry.opened.open  # still reachable, so still open
        del s
        gc.collect()
        await asyncio.sleep(0)
        assert_closed_early(telemetry)
        await slow_server.wait_idle()


async def test_cancel_leaves_no_open_span_or_connection(
    telemetry: Telemetry, slow_server: SimulatedServer
) -> None:
    async with Client(base_url=slow_server.base_url) as client:
        await early_exits.cancel_mid_stream(client, MODEL)
        assert_closed_early(telemetry)
        await slow_server.wait_idle()


async def test_cancelled_complete_is_closed_early_not_an_error(
    telemetry: Telemetry, server: SimulatedServer, client: Client
) -> None:
    server.faults.append(Fault.delay_headers(10.0))
    task = asyncio.create_task(client.complete(model=PLAIN_MODEL, prompt="hi"))
    while not server.requests:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert_closed_early(telemetry)


# --- fan_out and batch: one span per request, under the caller's span -----------------------


async def test_fan_out_requests_are_children_of_the_callers_span(
    telemetry: Telemetry, client: Client
) -> None:
    with telemetry.tracer.start_as_current_span("caller") as caller:
        results = await client.fan_out([f"prompt {i}" for i in range(6)], model=MODEL).collect()
    assert all(r.ok for r in results)
    spans = telemetry.chat_spans()
    assert len(spans) == 6 and not telemetry.opened.open
    ctx = caller.get_span_context()
    assert {s.parent.span_id for s in spans if s.parent} == {ctx.span_id}
    assert {s.context.trace_id for s in spans if s.context} == {ctx.trace_id}
    assert len({s.context.span_id for s in spans if s.context}) == 6
    response_ids = {(s.attributes or {})[n.RESPONSE_ID] for s in spans}
    assert len(response_ids) == 6


async def test_a_rate_limited_fan_out_request_is_one_span_with_a_retry_event(
    telemetry: Telemetry, server: SimulatedServer, client: Client
) -> None:
    server.faults.append(Fault.status(429, retry_after=0.01))
    (result,) = await client.fan_out(["hi"], model=MODEL).collect()
    assert result.ok and result.attempts == 2
    span = the_span(telemetry)
    assert span.status.status_code is StatusCode.UNSET
    assert [e.name for e in span.events].count(n.EVENT_RETRY) == 1


async def test_batch_requests_are_children_of_the_callers_span(
    telemetry: Telemetry, client: Client, tmp_path: Path
) -> None:
    lines = [
        {
            "custom_id": f"r{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": PLAIN_MODEL, "messages": [{"role": "user", "content": f"q {i}"}]},
        }
        for i in range(4)
    ]
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    with telemetry.tracer.start_as_current_span("batch job") as caller:
        summary = await run_batch(src, tmp_path / "out.jsonl", client=client)
    assert summary.succeeded == 4
    spans = telemetry.chat_spans()
    assert len(spans) == 4 and not telemetry.opened.open
    parent = caller.get_span_context().span_id
    assert all(s.parent is not None and s.parent.span_id == parent for s in spans)


# --- content and secrets -------------------------------------------------------------------


async def test_content_is_recorded_only_when_opted_in(
    telemetry: Telemetry, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with client.stream(model=MODEL, prompt="secret plans", system="Be brief.") as s:
        await s.until_done()
    attrs = dict(the_span(telemetry).attributes or {})
    assert not any("secret plans" in str(v) for v in attrs.values())
    assert not any(s.text in str(v) for v in attrs.values())

    monkeypatch.setenv(n.CAPTURE_CONTENT_ENV, "true")
    telemetry.reinstrument()
    telemetry.exporter.clear()
    async with client.stream(model=MODEL, prompt="secret plans", system="Be brief.") as s:
        await s.until_done()
    attrs = dict(the_span(telemetry).attributes or {})
    assert json.loads(str(attrs[n.INPUT_MESSAGES])) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "secret plans"}]},
    ]
    assert json.loads(str(attrs[n.OUTPUT_MESSAGES])) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": s.reasoning},
                {"type": "text", "content": s.text},
            ],
            "finish_reason": s.finish_reason,
        }
    ]


async def test_tool_calls_are_recorded_as_tool_call_parts(
    telemetry: Telemetry, client: Client
) -> None:
    telemetry.reinstrument(capture_content=True)
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    async with client.stream(model=PLAIN_MODEL, prompt="Weather in Paris?", tools=[tool]) as s:
        await s.until_done()
    (call,) = s.tool_calls
    out = json.loads(str(dict(the_span(telemetry).attributes or {})[n.OUTPUT_MESSAGES]))
    assert out[0]["finish_reason"] == "tool_calls"
    assert out[0]["parts"] == [
        {
            "type": "tool_call",
            "id": call.id,
            "name": "get_weather",
            "arguments": call.parsed_arguments(),
        }
    ]


async def test_the_api_key_appears_nowhere(
    telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    key = "gsk_" + "Zq7" * 12
    telemetry.reinstrument(capture_content=True)
    caplog.set_level(logging.DEBUG)
    async with SimulatedServer(ttft=0.005, tokens_per_second=2000, api_key=key) as srv:
        async with Client(base_url=srv.base_url, api_key=key) as client:
            async with client.stream(model=MODEL, prompt="hi") as s:
                await s.until_done()
            await client.complete(model=PLAIN_MODEL, prompt="hi")
        async with Client(base_url=srv.base_url, api_key=key + "x", max_retries=0) as bad:
            with pytest.raises(AuthenticationError):
                await bad.complete(model=PLAIN_MODEL, prompt="hi")
    spans = telemetry.exporter.get_finished_spans()
    assert len(spans) == 3
    dumped = [s.to_json() for s in spans]
    data = telemetry.reader.get_metrics_data()
    assert data is not None
    dumped.append(data.to_json())
    dumped.append(caplog.text)
    assert not [d for d in dumped if key in d]
    assert dict(spans[0].attributes or {})[n.SERVER_ADDRESS] == "127.0.0.1"


# --- docs ----------------------------------------------------------------------------------


def test_the_docs_name_the_version_and_every_metric() -> None:
    section = (Path(__file__).parent.parent / "docs" / "telemetry.md").read_text()
    assert f"v{SEMCONV_VERSION}" in section
    for spec in METRICS:
        assert f"`{spec.name}`" in section, spec.name


# --- a Router's attempts --------------------------------------------------------------------


async def test_router_attempts_carry_their_route(telemetry: Telemetry) -> None:
    """Each attempt of a routed request is its own span, saying endpoint, role and outcome;
    the attempts are counted, and first-chunk times are per endpoint."""
    async with (
        SimulatedServer(ttft=0.02, slow_tail=SlowTail(1.0, 100.0)) as slow,
        SimulatedServer(ttft=0.005) as fast,
    ):
        eps = [Endpoint(slow.base_url, name="a"), Endpoint(fast.base_url, name="b")]
        async with Router(eps, hedge=Hedge(after=0.05, max_extra=1.0)) as r:
            async with r.stream(model=MODEL, prompt="x") as s:
                await s.until_done()
            await slow.wait_idle()
    assert s.endpoint == "b"
    spans = {str(sp.attributes[n.ROUTER_ROLE]): sp for sp in telemetry.chat_spans()}  # type: ignore[index]
    primary, hedge = spans["primary"].attributes, spans["hedge"].attributes
    assert primary is not None and hedge is not None
    assert (primary[n.ROUTER_ENDPOINT], primary[n.ROUTER_OUTCOME]) == ("a", "lost")
    assert (hedge[n.ROUTER_ENDPOINT], hedge[n.ROUTER_OUTCOME]) == ("b", "won")
    assert hedge[n.ROUTER_HEDGED] is True and hedge[n.ROUTER_FAILOVERS] == 0
    assert hedge[n.ROUTER_BREAKER] == "closed"
    points: list[Any] = list(telemetry.metrics()[n.ROUTER_ATTEMPTS].data.data_points)
    counts = {
        (p.attributes[n.ROUTER_ROLE], p.attributes[n.ROUTER_OUTCOME]): p.value for p in points
    }
    assert counts == {("primary", "lost"): 1, ("hedge", "won"): 1}
    ttfc = telemetry.points(n.TIME_TO_FIRST_CHUNK.name)
    assert [p.attributes[n.ROUTER_ENDPOINT] for p in ttfc] == ["b"]  # type: ignore[index]


def test_the_per_server_attribute_cache_is_bounded() -> None:
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import NoOpTracerProvider

    from groqstream.otel._observer import MAX_SERVERS, Instruments, RequestObserver

    observer = RequestObserver(
        NoOpTracerProvider().get_tracer("t"),
        Instruments(NoOpMeterProvider().get_meter("m")),
        provider=None,
        capture_content=False,
    )
    for i in range(MAX_SERVERS * 3):
        attrs = observer.server(f"https://host{i}.example/v1")
        assert attrs == observer.server(f"https://host{i}.example/v1")  # kept while cached
        assert observer.servers_cached <= MAX_SERVERS
    assert observer.servers_cached > 0
