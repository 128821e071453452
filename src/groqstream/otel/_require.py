"""Fail clearly when `groqstream.otel` is imported without the `otel` extra."""

from __future__ import annotations

from ..errors import ConfigError

__all__ = ["MissingExtraError"]


class MissingExtraError(ConfigError, ImportError):
    """`groqstream.otel` was imported without the OpenTelemetry packages of the `otel` extra.

    A `ConfigError` (the CLI reports it as one) and an `ImportError` (so code that probes
    for optional support with ``except ImportError`` keeps working).
    """


try:
    import opentelemetry.instrumentation.instrumentor
    import opentelemetry.metrics
    import opentelemetry.trace  # noqa: F401
except ImportError as e:
    raise MissingExtraError(
        "OpenTelemetry support needs the otel extra: pip install 'groqstream[otel]'"
    ) from e
