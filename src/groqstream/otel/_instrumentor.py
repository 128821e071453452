"""`GroqStreamInstrumentor`: turns request observation on and off, BaseInstrumentor style."""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from .. import _hooks
from .._version import __version__
from . import _names as n
from ._observer import Instruments, RequestObserver

__all__ = ["GroqStreamInstrumentor"]


def _env_capture_content() -> bool:
    """The GenAI instrumentations' opt-in for recording prompts and completions."""
    return os.environ.get(n.CAPTURE_CONTENT_ENV, "false").strip().lower() == "true"


class GroqStreamInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Records a GenAI span and metrics for every groqstream request while instrumented.

    Like every OpenTelemetry instrumentor it is a singleton, uses the global tracer and
    meter providers unless given others, and is loaded by `opentelemetry-instrument`
    through the `opentelemetry_instrumentor` entry point.
    """

    _observer: RequestObserver | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        """Nothing to check: the instrumented library is the one shipping this class."""
        return ()

    def instrument(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        provider_name: str | None = None,
        capture_content: bool | None = None,
        **kwargs: Any,
    ) -> None:
        """Start observing requests (requests already running stay unobserved).

        `provider_name` overrides the `gen_ai.provider.name` derived from each base URL (for
        a gateway in front of Groq, say). `capture_content` overrides the
        `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` environment variable, read now.
        """
        super().instrument(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            provider_name=provider_name,
            capture_content=capture_content,
            **kwargs,
        )

    def _instrument(self, **kwargs: Any) -> None:
        tracer = trace.get_tracer(
            n.INSTRUMENTATION_SCOPE,
            __version__,
            kwargs.get("tracer_provider"),
            schema_url=n.SCHEMA_URL,
        )
        meter = metrics.get_meter(
            n.INSTRUMENTATION_SCOPE,
            __version__,
            kwargs.get("meter_provider"),
            schema_url=n.SCHEMA_URL,
        )
        capture = kwargs.get("capture_content")
        self._observer = RequestObserver(
            tracer,
            Instruments(meter),
            provider=kwargs.get("provider_name"),
            capture_content=_env_capture_content() if capture is None else bool(capture),
        )
        _hooks.register(self._observer)

    def _uninstrument(self, **kwargs: Any) -> None:
        if self._observer is not None:
            _hooks.unregister(self._observer)
            self._observer = None
