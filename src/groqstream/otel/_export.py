"""`otlp_session`: send this process's groqstream spans and metrics to an OTLP/HTTP collector.

What `groqstream bench --otlp-endpoint URL` and `groqstream batch --otlp-endpoint URL` use.
It builds its own tracer and meter providers (the global ones are left alone), instruments
groqstream with them, and on exit uninstruments and flushes what is still buffered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..errors import ConfigError
from ._instrumentor import GroqStreamInstrumentor

__all__ = ["otlp_session"]


@contextlib.contextmanager
def otlp_session(
    endpoint: str,
    *,
    service_name: str = "groqstream",
    export_interval_s: float = 10.0,
    timeout_s: float = 5.0,
) -> Iterator[GroqStreamInstrumentor]:
    """Export groqstream's spans and metrics to `endpoint` while the block runs.

    `endpoint` is the collector's OTLP/HTTP base URL (``http://localhost:4318``); spans go
    to ``/v1/traces`` and metrics to ``/v1/metrics`` below it, every `export_interval_s`
    seconds and once more on exit. Headers the collector needs (an auth token, say) come from
    the standard `OTEL_EXPORTER_OTLP_HEADERS` variable. A collector that does not answer
    costs at most about `timeout_s` per signal at exit; the run itself never waits for it.
    """
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if not endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"the OTLP endpoint must be an http(s):// URL, got {endpoint!r}")
    base = endpoint.rstrip("/")
    resource = Resource.create({"service.name": service_name})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces", timeout=timeout_s))
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{base}/v1/metrics", timeout=timeout_s),
        export_interval_millis=export_interval_s * 1000,
        export_timeout_millis=timeout_s * 1000,
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    instrumentor = GroqStreamInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()
        tracer_provider.shutdown()
        meter_provider.shutdown(timeout_millis=timeout_s * 1000)
