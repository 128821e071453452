"""`Fault`: a misbehaviour the simulated server applies to one request.

Every fault applies to streaming and non-streaming (`complete()`) requests alike. In a
non-streaming reply the body is one piece, so `after_chunks` does not matter there.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["Fault"]


@dataclass(frozen=True, slots=True)
class Fault:
    """One scripted failure. Build it with the classmethods; `kind` says which.

    `after_chunks` counts content/reasoning/tool-call chunks sent before the fault strikes
    (streaming replies only).
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
    failed_generation: str | None = None

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
    def capacity_exceeded(
        cls, *, retry_after: float | None = None, message: str | None = None
    ) -> Fault:
        """Groq's flex tier is full: status 498, `type` and `code` "capacity_exceeded".

        Groq answers a `service_tier="flex"` request this way, at once, when flex capacity is
        unavailable (see Groq's Flex Processing docs).
        """
        return cls(
            "capacity_exceeded",
            http_status=498,
            retry_after=retry_after,
            message=message,
            error_type="capacity_exceeded",
            code="capacity_exceeded",
        )

    @classmethod
    def html(cls, status: int = 502) -> Fault:
        """An HTML error page, as a proxy or load balancer sends."""
        return cls("html", http_status=status)

    @classmethod
    def malformed_json(cls, after_chunks: int = 0) -> Fault:
        """A `data:` line holding truncated JSON (non-streaming: a 200 body cut mid-JSON)."""
        return cls("malformed_json", after_chunks=after_chunks)

    @classmethod
    def cut(cls, after_chunks: int = 0) -> Fault:
        """Abort the TCP connection mid-stream (non-streaming: after half the body)."""
        return cls("cut", after_chunks=after_chunks)

    @classmethod
    def stall(
        cls, after_chunks: int = 0, seconds: float = 30.0, ping_interval: float | None = None
    ) -> Fault:
        """Send nothing (or only `: ping` comments) for `seconds`, then carry on.

        Non-streaming: the headers go at once, the body `seconds` later (no pings).
        """
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
        """An error object inside the 200 stream (`data: {"error": …}` or `event: error`).

        Non-streaming: a 200 whose JSON body is `{"error": {...}}`.
        """
        return cls(
            "stream_error",
            after_chunks=after_chunks,
            error_type=error_type,
            code=code,
            message=message,
            as_event=as_event,
        )

    @classmethod
    def tool_use_failed(
        cls, failed_generation: str, *, in_stream_after: int | None = None
    ) -> Fault:
        """Groq's `tool_use_failed`: the model wrote a tool call Groq could not parse. A 400
        with `failed_generation` (or, with `in_stream_after`, an error object inside the
        stream after that many chunks)."""
        message = (
            "Failed to call a function. Please adjust your prompt. "
            "See 'failed_generation' for more details."
        )
        kind = "status" if in_stream_after is None else "stream_error"
        return cls(
            kind,
            http_status=400,
            after_chunks=in_stream_after or 0,
            message=message,
            error_type="invalid_request_error",
            code="tool_use_failed",
            failed_generation=failed_generation,
        )

    @classmethod
    def json_validate_failed(cls, failed_generation: str) -> Fault:
        """Groq's `json_validate_failed` (400): JSON mode / a json_schema format got output
        that does not validate; the body carries `failed_generation`."""
        return cls(
            "status",
            http_status=400,
            message="Failed to validate JSON. Please adjust your prompt. "
            "See 'failed_generation' for more details.",
            error_type="invalid_request_error",
            code="json_validate_failed",
            failed_generation=failed_generation,
        )

    @classmethod
    def delay_headers(cls, seconds: float) -> Fault:
        """Wait before sending the response headers."""
        return cls("delay_headers", seconds=seconds)

    @classmethod
    def end_early(cls, after_chunks: int = 0) -> Fault:
        """End the body cleanly, but before any finish reason or `[DONE]`.

        Non-streaming: half the JSON body, then a clean end of the (chunked) body.
        """
        return cls("end_early", after_chunks=after_chunks)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fault:
        """Build from a request body's `sim_fault` object (same field names)."""
        names = {f.name for f in fields(cls)}
        d = dict(d)
        if "status" in d:
            d["http_status"] = d.pop("status")
        known = {k: v for k, v in d.items() if k in names}
        if known.get("kind") == "capacity_exceeded":
            return replace(cls.capacity_exceeded(), **known)
        return cls(**known)
