"""OpenTelemetry for groqstream (extra `otel`): GenAI spans and metrics for every request.

    from groqstream.otel import GroqStreamInstrumentor

    GroqStreamInstrumentor().instrument()  # the global tracer and meter providers
    ...
    GroqStreamInstrumentor().uninstrument()  # back to zero cost

One CLIENT span per request (`chat {model}`) under the caller's current span, and the
histograms named in `groqstream.otel._names` (the GenAI semantic conventions v1.41.1 plus
Groq's server timings under `groq.*`). Everything is recorded when a request ends, from the
stream's own metrics: an instrumented stream does no extra work per chunk, and while nothing
is instrumented the client only tests one empty tuple per request. Prompt and completion
text are recorded only when `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`.

`import groqstream` never imports this package or OpenTelemetry.
"""

from __future__ import annotations

from ._require import MissingExtraError  # first: a clear error without the extra

# isort: split
from ._export import otlp_session
from ._instrumentor import GroqStreamInstrumentor
from ._names import METRICS, SEMCONV_VERSION, MetricSpec

__all__ = [
    "METRICS",
    "SEMCONV_VERSION",
    "GroqStreamInstrumentor",
    "MetricSpec",
    "MissingExtraError",
    "otlp_session",
]
