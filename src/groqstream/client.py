"""`Client`: configuration (key, base URL, timeouts, retries) and the calls users make.

DESIGN: the facade on top of the transport, the stream and fan-out. It checks its
configuration once, at `Client(...)`, builds request bodies with `_body.build_body`, and hands
`fan_out` what it needs (the transport, a retry policy, a body builder) — fan-out never sees a
`Client`. A client owns one connection pool for its life: opened on first use (inside or
outside ``async with``), closed by ``async with`` or `aclose()`.
"""

from __future__ import annotations

import os
import ssl
import time
import warnings
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from . import _hooks
from ._body import Message, build_body, build_messages
from ._retry import RetryPolicy, RetryState
from ._transport import (
    CHAT_PATH,
    DEFAULT_DNS_TTL,
    DEFAULT_KEEPALIVE_IDLE,
    Timeouts,
    Transport,
    checked_headers,
    is_loopback,
)
from .chunks import parse_completion
from .errors import ConfigError, MissingAPIKeyError
from .fanout import FanOut, FanOutOptions, Request
from .models import DEFAULT_MODEL
from .sse import DEFAULT_MAX_EVENT_BYTES
from .stream import ChatStream, DeltaStream
from .types import Completion

if TYPE_CHECKING:
    from .tools import ToolRun


def _structured_format(model: str, output_type: Any) -> tuple[Any, dict[str, Any] | None]:
    """`response_format=Model` → the wire `response_format` and a system note (JSON mode)."""
    from .structured import response_format_for

    return response_format_for(model, output_type)


__all__ = [
    "GROQ_BASE_URL",
    "Client",
    "StreamSource",
    "api_key_env",
    "ask",
    "build_messages",
    "default_base_url",
]

GROQ_BASE_URL = "https://api.groq.com/openai/v1"


def default_base_url(base_url: str | None = None) -> str:
    """`base_url` if given, else `GROQSTREAM_BASE_URL` when set, else Groq's API."""
    return base_url or os.environ.get("GROQSTREAM_BASE_URL") or GROQ_BASE_URL


def api_key_env(base_url: str) -> str:
    """The environment variable a key for `base_url` comes from: `GROQ_API_KEY` for Groq's API
    only, `OPENAI_API_KEY` for OpenAI's only, and `GROQSTREAM_API_KEY` for any other server —
    so a provider's key is never sent to someone else's server."""
    host = (urlsplit(base_url).hostname or "").lower()
    if host == "groq.com" or host.endswith(".groq.com"):
        return "GROQ_API_KEY"
    if host == "api.openai.com":
        return "OPENAI_API_KEY"
    return "GROQSTREAM_API_KEY"


def _timeouts(timeout: Timeouts | float | None) -> Timeouts:
    if timeout is None:
        return Timeouts()
    if isinstance(timeout, Timeouts):
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ConfigError(f"timeout must be a Timeouts or a number of seconds, got {timeout!r}")
    return Timeouts(total=float(timeout))


class Client:
    """An async client for Groq and any OpenAI-compatible chat completions endpoint.

    Use it as ``async with Client() as client:``; it owns one connection pool whose
    connections are reused across calls and closed when the block ends. It may also be made
    outside a running event loop (at module level, in a FastAPI lifespan, as a class
    attribute): the pool then opens on first use, in the event loop of that use, and must be
    closed with ``await client.aclose()``; a client garbage-collected with its pool still open
    warns with a `ResourceWarning`, and one used from a second event loop raises
    `WrongEventLoopError`. The key comes from
    `GROQ_API_KEY` for Groq's API, `OPENAI_API_KEY` for OpenAI's and `GROQSTREAM_API_KEY` for
    any other server when not given (loopback servers need none); `base_url` ends in `/v1` and
    defaults to Groq's, or to `GROQSTREAM_BASE_URL` when set. A key is only sent over
    `http://` to this machine unless `allow_insecure_http=True`; TLS certificates are always
    verified unless `verify=False` is passed; `verify="ca.pem"` trusts that CA bundle, or
    pass your own `ssl.SSLContext` (used as is: TLS sessions are then not resumed).

    The pool: `max_connections` caps it, `keepalive_idle` closes connections idle that long
    (before servers' own cut-offs), `dns_ttl` re-resolves the host, `prewarm=N` opens and
    handshakes N connections on entering ``async with`` (see `warm`). A request whose pooled
    connection the server had closed is re-sent at once (not a retry; see docs/long-running).
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: Timeouts | float | None = None,
        max_retries: int = 2,
        retry_policy: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        max_connections: int | None = None,
        default_model: str = DEFAULT_MODEL,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        verify: bool | str | ssl.SSLContext = True,
        allow_insecure_http: bool = False,
        prewarm: int = 0,
        keepalive_idle: float = DEFAULT_KEEPALIVE_IDLE,
        dns_ttl: float = DEFAULT_DNS_TTL,
    ) -> None:
        base_url = default_base_url(base_url)
        env = api_key_env(base_url)
        key = api_key if api_key is not None else os.environ.get(env)
        if not key and not is_loopback(base_url):
            raise MissingAPIKeyError(
                f"no API key: pass Client(api_key=...) or set the {env} environment "
                f"variable (needed for {base_url})"
            )
        if not isinstance(default_model, str) or not default_model.strip():
            raise ConfigError(f"default_model must be a non-empty string, got {default_model!r}")
        if not isinstance(max_event_bytes, int) or max_event_bytes < 1:
            raise ConfigError(f"max_event_bytes must be a positive int, got {max_event_bytes!r}")
        self.retry_policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self.timeouts = _timeouts(timeout)
        self._transport = Transport(
            base_url=base_url,
            api_key=key or None,
            headers=headers,
            timeouts=self.timeouts,
            max_connections=max_connections,
            verify=verify,
            allow_insecure_http=allow_insecure_http,
            keepalive_idle=keepalive_idle,
            dns_ttl=dns_ttl,
        )
        if isinstance(prewarm, bool) or not isinstance(prewarm, int) or prewarm < 0:
            raise ConfigError(f"prewarm must be an int >= 0 (connections), got {prewarm!r}")
        self.prewarm = prewarm
        self.base_url = self._transport.base_url
        self.default_model = default_model
        self.max_event_bytes = max_event_bytes
        self._has_key = bool(key)
        self._state = "new"  # -> "open" in `async with` or at first use -> "closed"

    def __repr__(self) -> str:
        key = "set" if self._has_key else "none"
        return f"Client(base_url={self.base_url!r}, api_key=<{key}>)"

    @property
    def max_retries(self) -> int:
        """Retries per request (see `RetryPolicy`)."""
        return self.retry_policy.max_retries

    async def __aenter__(self) -> Client:
        if self._state == "closed":
            raise ConfigError("this Client is closed; make a new one")
        self._state = "open"
        if self.prewarm:
            try:
                await self._transport.warm(self.prewarm)
            except BaseException:
                await self.aclose()
                raise
        return self

    async def warm(self, n: int) -> None:
        """Open and TLS-handshake connections until `n` wait in the pool, so the first `n`
        concurrent requests pay neither inside their first token (`prewarm=` does this on
        entering ``async with``). Later connections to the host resume the TLS session."""
        await self._ready().warm(n)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session and its pooled connections; the client cannot be used again."""
        self._state = "closed"
        await self._transport.aclose()

    def __del__(self) -> None:
        # Like aiohttp's ClientSession: say so when a pool is dropped without being closed.
        transport = getattr(self, "_transport", None)
        if transport is not None and transport.is_open:
            warnings.warn(
                f"unclosed {self!r}: use `async with` or `await client.aclose()`",
                ResourceWarning,
                source=self,
                stacklevel=1,
            )

    def _ready(self) -> Transport:
        if self._state == "closed":
            raise ConfigError("this Client is closed; make a new one")
        self._state = "open"  # the pool itself opens at the first request, in its loop
        return self._transport

    @property
    def transport(self) -> Transport:
        """The IO layer (for advanced use: the connection pool lives here)."""
        return self._transport

    def _body(
        self,
        model: str | None,
        messages: Sequence[Message] | None,
        prompt: str | None,
        system: str | None,
        params: Mapping[str, Any],
        *,
        stream: bool,
    ) -> dict[str, Any]:
        return build_body(
            model=model,
            default_model=self.default_model,
            messages=messages,
            prompt=prompt,
            system=system,
            params=params,
            stream=stream,
        )

    def stream(
        self,
        *,
        model: str | None = None,
        messages: Sequence[Message] | None = None,
        prompt: str | None = None,
        system: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> ChatStream:
        """Open a streamed chat completion: ``async with client.stream(...) as s``.

        `prompt`/`system` are the short form of `messages`. Every other OpenAI/Groq parameter
        (temperature, max_tokens, tools, reasoning_format, service_tier, ...) passes through
        untouched. Usage is requested with `stream_options={"include_usage": True}` unless
        you pass your own `stream_options` (None to send none). `extra_headers` go on this
        request only.
        """
        self._ready()
        output_type = params.get("response_format")
        if output_type is not None and not isinstance(output_type, Mapping):
            messages, system = self._structured(model, messages, system, params)
        else:
            output_type = None
        body = self._body(model, messages, prompt, system, params, stream=True)
        s = self.open_stream(body, checked_headers(extra_headers) if extra_headers else None)
        s.output_type = output_type
        return s

    def open_stream(
        self,
        body: dict[str, Any],
        extra_headers: Mapping[str, str] | None = None,
        *,
        observe: bool = True,
    ) -> ChatStream:
        """A `ChatStream` for a request body already built (``"stream": true``) and headers
        already checked: what `stream()` returns, for callers that build bodies themselves
        (a `Router` sends one body to several endpoints). `observe=False` keeps it from
        instrumentation observers, for a caller that shows the request to them itself."""
        return ChatStream(
            self._ready(),
            body,
            self.retry_policy,
            extra_headers=extra_headers,
            max_event_bytes=self.max_event_bytes,
            observe=observe,
        )

    def _structured(
        self,
        model: str | None,
        messages: Sequence[Message] | None,
        system: str | None,
        params: dict[str, Any],
    ) -> tuple[Sequence[Message] | None, str | None]:
        """`response_format=Model` → the wire `response_format` (in `params`), and the
        messages / system prompt with the schema note JSON mode needs."""
        fmt, note = _structured_format(model or self.default_model, params["response_format"])
        params["response_format"] = fmt
        if note is not None:
            if messages is None:
                system = f"{system}\n\n{note['content']}" if system else note["content"]
            else:
                messages = [note, *messages]
        return messages, system

    def run_tools(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[Any],
        max_rounds: int = 8,
        tool_timeout: float | None = 30.0,
        **params: Any,
    ) -> ToolRun:
        """Run a tool loop: stream, run the tool calls (concurrently), send their results
        back, until the model answers without tools. An async iterator of typed events (see
        `groqstream.tools`): text and reasoning deltas, tool call started / arguments delta /
        done, tool result, round done, final. `tools` are plain (async or sync) functions
        whose JSON schema comes from their type hints and docstrings, `Tool`s, or explicit
        `{"type": "function", ...}` schemas paired with a function. Every other keyword is a
        `stream()` parameter (model, temperature, tool_choice, ...)."""
        from .tools import ToolRun

        return ToolRun(
            self, messages, tools, max_rounds=max_rounds, tool_timeout=tool_timeout, **params
        )

    def fan_out(
        self,
        requests: Iterable[Request] | AsyncIterable[Request],
        options: FanOutOptions | None = None,
        **kwargs: Any,
    ) -> FanOut:
        """Run many requests at bounded concurrency; iterate the `Result`s as they complete.

        `requests` are prompts (str) or request dicts, from any iterable or async iterable,
        consumed lazily. Keyword arguments named like `FanOutOptions` fields
        (`concurrency=`, `requests_per_minute=`, `tokens_per_minute=`, `max_retries=`,
        `max_rate_limit_wait=`, `on_progress=`, ...) configure the run; the others
        (`model=`, `system=`, `max_tokens=`, ...) are defaults for every request, and a
        request dict's own fields win.
        """
        transport = self._ready()
        opts, defaults = FanOutOptions.split(kwargs, options)
        if opts.max_retries is None:
            opts = opts.replace(max_retries=self.max_retries)
        return FanOut(
            transport,
            requests,
            body=partial(self.fan_out_body, defaults),
            options=opts,
            retry=self.retry_policy,
            max_event_bytes=self.max_event_bytes,
        )

    def fan_out_body(self, defaults: Mapping[str, Any], item: Request) -> dict[str, Any]:
        """A fan-out request's stream body: the run's defaults under the item's own fields."""
        if isinstance(item, str):
            params = {k: v for k, v in defaults.items() if k not in ("model", "system")}
            return self._body(
                defaults.get("model"), None, item, defaults.get("system"), params, stream=True
            )
        if not isinstance(item, Mapping):
            raise ConfigError(f"a fan-out request must be a str or a dict, got {type(item)}")
        merged = {**defaults, **item}
        model = merged.pop("model", None)
        system = merged.pop("system", None)
        messages = merged.pop("messages", None)
        prompt = merged.pop("prompt", None)
        if (
            isinstance(messages, Sequence)
            and not isinstance(messages, (str, bytes))
            and any(isinstance(m, Mapping) and m.get("role") == "system" for m in messages)
        ):
            system = None  # the request's own system message wins over the default
        return self._body(model, messages, prompt, system, merged, stream=True)

    async def complete(
        self,
        *,
        model: str | None = None,
        messages: Sequence[Message] | None = None,
        prompt: str | None = None,
        system: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> Completion:
        """A non-streaming chat completion (retried like a stream; `total` timeout applies).
        `response_format=Model` sends the model's schema as `stream()` does; validate the
        reply with ``Model.model_validate_json(completion.text)``."""
        transport = self._ready()
        rf = params.get("response_format")
        if rf is not None and not isinstance(rf, Mapping):
            messages, system = self._structured(model, messages, system, params)
        body = self._body(model, messages, prompt, system, params, stream=False)
        headers = checked_headers(extra_headers) if extra_headers else None
        attempt = partial(self._complete_once, transport, body, headers)
        if not _hooks.observers:
            return await self.retry_policy.run(attempt)
        obs = _hooks.begin("complete", body, self.base_url)
        if obs is None:
            return await self.retry_policy.run(attempt)
        state = RetryState()
        try:
            done = await self.retry_policy.run(
                attempt, state=state, on_retry=lambda e, d: obs.retry(state.attempts, e, d)
            )
        except BaseException as e:
            obs.end(None, e)
            raise
        obs.end(done)
        return done

    async def _complete_once(
        self,
        transport: Transport,
        body: dict[str, Any],
        extra_headers: Mapping[str, str] | None,
        attempt: int,
    ) -> Completion:
        send = partial(transport.post, CHAT_PATH, body, stream=False, extra_headers=extra_headers)
        start = time.perf_counter_ns()
        resp, raw = await transport.whole_reply(send, self.max_event_bytes)
        e2el = (time.perf_counter_ns() - start) / 1e9
        rid = resp.headers.get("x-request-id")
        return parse_completion(raw, header_id=rid, e2el_s=e2el, attempts=attempt)


async def ask(
    prompt: str,
    *,
    model: str = DEFAULT_MODEL,
    system: str | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    **params: Any,
) -> str:
    """The one-liner: ``await groqstream.ask("Why is the sky blue?")`` returns the answer text."""
    async with Client(api_key, base_url) as client:
        result = await client.complete(model=model, prompt=prompt, system=system, **params)
    return result.text


class StreamSource(Protocol):
    """Anything with `Client`'s calls: `stream()`, `complete()`, `fan_out()`. Fan-out's
    callers (`run_batch`, the bench runner, the CLI) take one, so a `Router` goes where a
    `Client` goes and none of them learns about routers."""

    @property
    def base_url(self) -> str: ...

    async def __aenter__(self) -> StreamSource: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def stream(
        self,
        *,
        model: str | None = None,
        messages: Any = None,
        prompt: str | None = None,
        system: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> DeltaStream: ...

    async def complete(
        self,
        *,
        model: str | None = None,
        messages: Any = None,
        prompt: str | None = None,
        system: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> Completion: ...

    def fan_out(
        self,
        requests: Iterable[str | Mapping[str, Any]] | AsyncIterable[str | Mapping[str, Any]],
        options: Any = None,
        **kwargs: Any,
    ) -> FanOut: ...
