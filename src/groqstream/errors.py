"""The exception hierarchy: every error groqstream raises is a `GroqStreamError`.

Errors are plain values built from what the server said (status, body, request id,
retry-after). None of them ever holds or prints the API key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "CapacityExceededError",
    "ConfigError",
    "ConflictError",
    "ConnectTimeout",
    "ContentTypeError",
    "EventTooLargeError",
    "FirstByteTimeout",
    "GoodputUnknownError",
    "GroqStreamError",
    "IdleTimeout",
    "InternalServerError",
    "JSONValidateFailedError",
    "MalformedChunkError",
    "MissingAPIKeyError",
    "NoEndpointAvailable",
    "NotFoundError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "RedirectError",
    "RequestTimeoutError",
    "RequestTooLargeError",
    "StreamInterrupted",
    "StructuredOutputError",
    "ToolLoopError",
    "ToolUseFailedError",
    "TotalTimeout",
    "UnprocessableEntityError",
    "WrongEventLoopError",
    "status_error_class",
]

_SNIPPET = 500
KEEP_LIMIT = 4096
"""At most this many characters of a bad line or body are kept on an error object."""


def _snippet(text: str, limit: int = _SNIPPET) -> str:
    """Shorten a body for an error message, keeping its start."""
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


def bounded(text: str, limit: int = KEEP_LIMIT) -> str:
    """The start of `text`, at most `limit` characters (what an error object keeps)."""
    return text if len(text) <= limit else text[:limit] + "…"


class GroqStreamError(Exception):
    """Root of every error groqstream raises.

    `partial_text` / `partial_reasoning` hold what a stream had delivered when it failed
    (empty when nothing had arrived), so no received token is ever silently lost.
    """

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.partial_text = ""
        self.partial_reasoning = ""
        self.request_id: str | None = None

    @property
    def kind(self) -> str:
        """A short stable name for reports: the class name."""
        return type(self).__name__


class ConfigError(GroqStreamError, ValueError):
    """The client was configured in a way that cannot work."""


class GoodputUnknownError(ConfigError):
    """Goodput was asked for an SLO that can no longer be counted exactly: it was not named
    up front and the per-request latencies were dropped (at their bound, or compacted)."""


class MissingAPIKeyError(ConfigError):
    """No API key was given and the variable `api_key_env(base_url)` names is not set."""


class WrongEventLoopError(ConfigError):
    """A client whose connection pool was opened in one event loop was used from another.

    Connections belong to the event loop that made them. Make one `Client` per event
    loop (per `asyncio.run`), or `await client.aclose()` in the first loop before the next.
    """


# --- connection and timeouts ---------------------------------------------------------------


class APIConnectionError(GroqStreamError):
    """The server could not be reached, or the connection broke before a response."""

    retryable = True


class APITimeoutError(APIConnectionError):
    """A configured timeout ran out (see `Timeouts`)."""

    def __init__(self, message: str, *, timeout: float | None = None) -> None:
        super().__init__(message)
        self.timeout = timeout


class ConnectTimeout(APITimeoutError):
    """Opening the TCP/TLS connection took longer than `Timeouts.connect`."""


class FirstByteTimeout(APITimeoutError):
    """No response (or no first event) within `Timeouts.first_byte` of sending the request."""


class IdleTimeout(APITimeoutError):
    """No data event for `Timeouts.idle` seconds in the middle of a stream.

    Keep-alive comments (`: ping`) do not count as data, so they cannot hide a stall.
    """


class TotalTimeout(APITimeoutError):
    """The whole request took longer than `Timeouts.total`; never retried."""

    retryable = False


class StreamInterrupted(APIConnectionError):
    """The connection ended before the stream was complete.

    `partial_text` carries the text received so far; `cause` the underlying error, if any.
    """

    def __init__(
        self, message: str, *, partial_text: str = "", partial_reasoning: str = "", chunks: int = 0
    ) -> None:
        super().__init__(message)
        self.partial_text = partial_text
        self.partial_reasoning = partial_reasoning
        self.chunks = chunks


class NoEndpointAvailable(APIConnectionError):
    """Every endpoint of a `Router` is resting (its circuit breaker is open, or a 429 asked
    it to wait); `retry_after` is the seconds until the first one takes traffic again."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- HTTP status --------------------------------------------------------------------------


class APIStatusError(GroqStreamError):
    """The server answered with an error status, or sent an error object inside a stream.

    `status` is the HTTP status (or the status an in-stream error maps to), `body` the parsed
    JSON or text body, `retry_after` the server's requested wait in seconds, if it gave one.
    """

    status: int = 0

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: Any = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
        error_type: str | None = None,
        code: str | None = None,
        in_stream: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.request_id = request_id
        self.retry_after = retry_after
        self.headers: dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}
        self.error_type = error_type
        self.code = code
        self.in_stream = in_stream
        if status in _NOT_RETRIED:
            self.retryable = False

    def __str__(self) -> str:
        where = " (in stream)" if self.in_stream else ""
        rid = f" [request {self.request_id}]" if self.request_id else ""
        return f"{self.status}{where}: {self.message}{rid}"


_NOT_RETRIED = frozenset({501, 505})  # Not Implemented / HTTP Version Not Supported: final


class BadRequestError(APIStatusError):
    """400: the request was invalid (also Groq's `tool_use_failed`)."""


class ToolUseFailedError(BadRequestError):
    """Groq's `tool_use_failed` (400, or an error inside the stream): the model produced a tool
    call the server could not parse; `failed_generation` holds what it generated."""

    failed_generation: str | None = None


class JSONValidateFailedError(BadRequestError):
    """Groq's `json_validate_failed` (400): JSON mode or a `json_schema` response format got
    output that is not valid JSON or does not fit the schema; `failed_generation` holds it."""

    failed_generation: str | None = None


FAILED_GENERATION_CODES: dict[str, type[ToolUseFailedError] | type[JSONValidateFailedError]] = {
    "tool_use_failed": ToolUseFailedError,
    "json_validate_failed": JSONValidateFailedError,
}
"""Groq error `code`s that carry a `failed_generation`, and their error classes."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, wrong or revoked."""


class PermissionDeniedError(APIStatusError):
    """403: the key may not use this model or endpoint."""


class NotFoundError(APIStatusError):
    """404: unknown model or path (check `base_url` ends in `/v1`)."""


class RequestTimeoutError(APIStatusError):
    """408: the server timed the request out; retried."""

    retryable = True


class ConflictError(APIStatusError):
    """409: a conflicting request; retried."""

    retryable = True


class RequestTooLargeError(APIStatusError):
    """413: the request body (prompt) is too large."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was well-formed but could not be processed."""


class RateLimitError(APIStatusError):
    """429: a rate limit was hit; `retry_after` says when to come back."""

    retryable = True


class CapacityExceededError(APIStatusError):
    """498: Groq's flex service tier has no capacity for the request right now.

    Flex is meant to fail fast, so it is not retried unless the `RetryPolicy` says
    `retry_capacity=True`.
    """


class RedirectError(APIStatusError):
    """3xx: the server redirected the request. groqstream never follows a redirect (it would
    re-send the prompt and headers elsewhere); `location` names where it pointed."""

    def __init__(self, message: str, *, status: int, location: str | None, **kw: Any) -> None:
        super().__init__(message, status=status, **kw)
        self.location = location


class InternalServerError(APIStatusError):
    """5xx: the server failed or is overloaded; retried."""

    retryable = True


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: RequestTimeoutError,
    409: ConflictError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    498: CapacityExceededError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The `APIStatusError` subclass for an HTTP status."""
    if status >= 500:
        return InternalServerError
    return _BY_STATUS.get(status, APIStatusError)


class ToolLoopError(GroqStreamError):
    """`run_tools` could not finish: the model still asked for tools after `max_rounds`
    rounds (`rounds` is how many ran; `messages` the conversation so far)."""

    def __init__(self, message: str, *, rounds: int, messages: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.rounds = rounds
        self.messages = messages


class StructuredOutputError(GroqStreamError):
    """A structured-output reply did not validate against its model: `text` is the reply,
    `errors` the validator's description of what is wrong."""

    def __init__(self, message: str, *, text: str, errors: str) -> None:
        super().__init__(message)
        self.text = bounded(text)
        self.errors = bounded(errors)


# --- protocol -----------------------------------------------------------------------------


class ProtocolError(GroqStreamError):
    """The server's reply did not follow the protocol (SSE framing, JSON, content type)."""


class ContentTypeError(ProtocolError):
    """A successful status but not an event stream (or not JSON): e.g. a proxy's HTML page.

    `body` keeps the start of the body (at most `KEEP_LIMIT` characters)."""

    def __init__(self, message: str, *, status: int, content_type: str, body: str) -> None:
        super().__init__(message)
        self.status = status
        self.content_type = content_type
        self.body = bounded(body)


class MalformedChunkError(ProtocolError):
    """A stream event (or a reply) that is not valid JSON or not shaped like a chunk: a
    `choices` that is not a list, a `delta` that is not an object, a `content` that is not a
    string, .... `line` keeps the start of the offending data (at most `KEEP_LIMIT` chars)."""

    def __init__(self, message: str, *, line: str) -> None:
        super().__init__(message)
        self.line = bounded(line)


class EventTooLargeError(ProtocolError):
    """One server-sent event (or one endless line) grew past `max_event_bytes`.

    Raised as soon as the limit is passed, whether or not the line ever ends; `line` keeps
    its first bytes."""

    def __init__(self, message: str, *, limit: int, line: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.line = bounded(line)


def body_snippet(text: str) -> str:
    """Public helper for error messages that quote a response body."""
    return _snippet(text)
