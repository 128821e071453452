"""groqstream with groqstream.otel: `groqstream_client`'s loop, unchanged, plus telemetry.

GROQSTREAM_BENCH_OTEL selects what is measured:
- `on` (default): instrumented into a full SDK pipeline — BatchSpanProcessor and a
  PeriodicExportingMetricReader (1 s) — whose exporters drop what they get, so the figure is
  the instrumentation's and the SDK's cost without a collector's network.
- `off`: instrumented, then uninstrumented (and the SDK pipeline shut down) before the run:
  what stays behind in a process that once had telemetry on.
Needs the otel extra: pip install -e '.[otel]'.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from groqstream.otel import GroqStreamInstrumentor


class DropSpans(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


class DropMetrics(MetricExporter):
    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


def instrument() -> None:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(DropSpans()))
    reader = PeriodicExportingMetricReader(DropMetrics(), export_interval_millis=1000)
    meter_provider = MeterProvider(metric_readers=[reader])
    instrumentor = GroqStreamInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    if os.environ.get("GROQSTREAM_BENCH_OTEL", "on") == "off":
        instrumentor.uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown()


if __name__ == "__main__":
    from common import main
    from groqstream_client import closer, one, opener  # parses the command line on import

    instrument()
    main(opener, one, closer)
