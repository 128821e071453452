"""`Fault`: a misbehaviour the simulated server applies to one request."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["Fault"]


@dataclass(frozen=True, slots=True)
class Fault:
    """One scripted failure. Build it with the classmethods; `kind` says which.

    `after_chunks` counts content/reasoning/tool-call chunks sent before the fault strikes.
    """

    kind: str
    http_status: int = 500
    after_chunks: int = 0
    seconds: float = 0.0
    ping_interval: float | None = None
    retry_after: float | None = None
    retry_after_ms: int | None = None
    message: str | None = None
    error_type: str | None = None
    code: str | None = None
    as_event: bool = False

    @classmethod
    def status(
        cls,
        status: int,
        *,
        retry_after: float | None = None,
        retry_after_ms: int | None = None,
        message: str | None = None,
        error_type: str | None = None,
        code: str | None = None,
    ) -> Fault:
        """An HTTP error status with a Groq-shaped JSON error body."""
        return cls(
            "status",
            http_status=status,
            retry_after=retry_after,
            retry_after_ms=retry_after_ms,
            message=message,
            error_type=error_type,
            code=code,
        )

    @classmethod
    def html(cls, status: int = 502) -> Fault:
        """An HTML error page, as a proxy or load balancer sends."""
        return cls("html", http_status=status)

    @classmethod
    def malformed_json(cls, after_chunks: int = 0) -> Fault:
        """A `data:` line holding truncated JSON."""
        return cls("malformed_json", after_chunks=after_chunks)

    @classmethod
    def cut(cls, after_chunks: int = 0) -> Fault:
        """Abort the TCP connection mid-stream."""
        return cls("cut", after_chunks=after_chunks)

    @classmethod
    def stall(
        cls, after_chunks: int = 0, seconds: float = 30.0, ping_interval: float | None = None
    ) -> Fault:
        """Send nothing (or only `: ping` comments) for `seconds`, then carry on."""
        return cls("stall", after_chunks=after_chunks, seconds=seconds, ping_interval=ping_interval)

    @classmethod
    def stream_error(
        cls,
        after_chunks: int = 0,
        *,
        error_type: str = "internal_server_error",
        code: str | None = None,
        message: str = "the model failed while generating",
        as_event: bool = False,
    ) -> Fault:
        """An error object inside the 200 stream (`data: {"error": …}` or `event: error`)."""
        return cls(
            "stream_error",
            after_chunks=after_chunks,
            error_type=error_type,
            code=code,
            message=message,
            as_event=as_event,
        )

    @classmethod
    def delay_headers(cls, seconds: float) -> Fault:
        """Wait before sending the response headers."""
        return cls("delay_headers", seconds=seconds)

    @classmethod
    def end_early(cls, after_chunks: int = 0) -> Fault:
        """End the body cleanly, but before any finish reason or `[DONE]`."""
        return cls("end_early", after_chunks=after_chunks)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fault:
        """Build from a request body's `sim_fault` object (same field names)."""
        names = {f.name for f in fields(cls)}
        d = dict(d)
        if "status" in d:
            d["http_status"] = d.pop("status")
        return cls(**{k: v for k, v in d.items() if k in names})
