"""`Client`: configuration (key, base URL, timeouts, retries) and the calls users make."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import anyio
import orjson

from ._transport import RetryPolicy, Timeouts, Transport, is_loopback
from .errors import (
    ConfigError,
    GroqStreamError,
    MissingAPIKeyError,
    ProtocolError,
    TotalTimeout,
)
from .fanout import FanOut, Progress, Request
from .models import DEFAULT_MODEL
from .ratelimit import RateLimitGate
from .stream import ChatStream
from .types import Completion, ToolCall, Usage

__all__ = ["GROQ_BASE_URL", "Client", "ask", "build_messages"]

GROQ_BASE_URL = "https://api.groq.com/openai/v1"

Message = Mapping[str, Any]


def build_messages(
    messages: Sequence[Message] | None, prompt: str | None, system: str | None
) -> list[dict[str, Any]]:
    """The `messages` list from either `messages` or the short form `prompt` (+ `system`)."""
    if messages is not None and prompt is not None:
        raise ConfigError("pass either messages= or prompt=, not both")
    if messages is None:
        if prompt is None:
            raise ConfigError("pass messages= or prompt=")
        out: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    else:
        out = [dict(m) for m in messages]
    if system is not None:
        out.insert(0, {"role": "system", "content": system})
    return out


class Client:
    """An async client for Groq and any OpenAI-compatible chat completions endpoint.

    Use it as ``async with Client() as client:``; it owns one aiohttp session whose
    connections are reused across calls. The key comes from `GROQ_API_KEY` when not given
    (loopback servers need none); `base_url` ends in `/v1` and defaults to Groq's, or to
    `GROQSTREAM_BASE_URL` when set.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        timeout: Timeouts | float | None = None,
        max_retries: int = 2,
        headers: Mapping[str, str] | None = None,
        max_connections: int | None = None,
        default_model: str = DEFAULT_MODEL,
    ) -> None:
        base_url = base_url or os.environ.get("GROQSTREAM_BASE_URL") or GROQ_BASE_URL
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
        key = api_key if api_key is not None else os.environ.get("GROQ_API_KEY")
        if not key and not is_loopback(base_url):
            raise MissingAPIKeyError(
                "no API key: pass Client(api_key=...) or set the GROQ_API_KEY environment "
                f"variable (needed for {base_url})"
            )
        if timeout is None:
            timeouts = Timeouts()
        elif isinstance(timeout, Timeouts):
            timeouts = timeout
        else:
            timeouts = Timeouts(total=float(timeout))
        if max_retries < 0:
            raise ConfigError("max_retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts
        self.max_retries = max_retries
        self.default_model = default_model
        self.retry_policy = RetryPolicy(max_retries=max_retries)
        self._has_key = bool(key)
        self._transport = Transport(
            base_url=self.base_url,
            api_key=key or None,
            headers=headers,
            timeouts=timeouts,
            max_connections=max_connections,
        )

    def __repr__(self) -> str:
        key = "set" if self._has_key else "none"
        return f"Client(base_url={self.base_url!r}, api_key=<{key}>)"

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session and its pooled connections."""
        await self._transport.aclose()

    @property
    def transport(self) -> Transport:
        """The IO layer (for advanced use: the aiohttp session lives here)."""
        return self._transport

    def _body(
        self,
        model: str | None,
        messages: Sequence[Message] | None,
        prompt: str | None,
        system: str | None,
        params: dict[str, Any],
        *,
        stream: bool,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model or self.default_model,
            "messages": build_messages(messages, prompt, system),
        }
        body.update(params)
        body["stream"] = stream
        if stream:
            if "stream_options" not in params:
                body["stream_options"] = {"include_usage": True}
            elif params["stream_options"] is None:
                del body["stream_options"]
        return body

    def stream(
        self,
        *,
        model: str | None = None,
        messages: Sequence[Message] | None = None,
        prompt: str | None = None,
        system: str | None = None,
        **params: Any,
    ) -> ChatStream:
        """Open a streamed chat completion: ``async with client.stream(...) as s``.

        `prompt`/`system` are the short form of `messages`. Every other OpenAI/Groq parameter
        (temperature, max_tokens, tools, reasoning_format, ...) passes through untouched.
        Usage is requested with `stream_options={"include_usage": True}` unless you pass
        your own `stream_options` (None to send none).
        """
        body = self._body(model, messages, prompt, system, params, stream=True)
        return ChatStream(self._transport, body, self.retry_policy)

    def fan_out(
        self,
        requests: Iterable[Request] | AsyncIterable[Request],
        *,
        concurrency: int = 64,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        max_retries: int | None = None,
        max_rate_limit_wait: float = 300.0,
        on_progress: Callable[[Progress], None] | None = None,
        gate: RateLimitGate | None = None,
        **defaults: Any,
    ) -> FanOut:
        """Run many requests at bounded concurrency; iterate the `Result`s as they complete.

        `requests` are prompts (str) or request dicts, from any iterable or async iterable,
        consumed lazily. Other keyword arguments (`model=`, `system=`, `max_tokens=`, ...)
        are defaults for every request; a request dict's own fields win. A 429 pauses the
        whole run; waits the server asks for do not use up a request's `max_retries` but are
        capped by `max_rate_limit_wait` seconds per request. `gate` shares rate limits and
        pauses beyond this run (instead of `requests_per_minute`/`tokens_per_minute`).
        """
        return FanOut(
            self,
            requests,
            concurrency=concurrency,
            defaults=defaults,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            max_retries=max_retries,
            max_rate_limit_wait=max_rate_limit_wait,
            on_progress=on_progress,
            gate=gate,
        )

    async def complete(
        self,
        *,
        model: str | None = None,
        messages: Sequence[Message] | None = None,
        prompt: str | None = None,
        system: str | None = None,
        **params: Any,
    ) -> Completion:
        """A non-streaming chat completion (retried like a stream; `total` timeout applies)."""
        body = self._body(model, messages, prompt, system, params, stream=False)
        t = self.timeouts
        attempt = 0
        while True:
            attempt += 1
            start = time.perf_counter_ns()
            try:
                with anyio.fail_after(t.total):
                    resp = await self._transport.post(
                        "/chat/completions", body, stream=False, limit=None
                    )
                    try:
                        raw = await resp.read()
                    finally:
                        resp.release()
                end = time.perf_counter_ns()
                return _completion(raw, resp.headers.get("x-request-id"), start, end, attempt)
            except TimeoutError:
                raise TotalTimeout(
                    f"no complete reply within {t.total}s", timeout=t.total
                ) from None
            except GroqStreamError as e:
                delay = self.retry_policy.delay(attempt, e)
                if delay is None:
                    raise
                await anyio.sleep(delay)


def _completion(
    raw: bytes, header_id: str | None, start: int, end: int, attempts: int
) -> Completion:
    """Parse a non-streaming chat completion reply."""
    try:
        obj = orjson.loads(raw)
        choice = obj["choices"][0]
        msg = choice.get("message") or {}
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
        raise ProtocolError(f"not a chat completion: {raw[:200]!r}") from None
    xg = obj.get("x_groq") if isinstance(obj.get("x_groq"), dict) else {}
    usage_raw = xg.get("usage") or obj.get("usage")
    timings = obj.get("timings") if isinstance(obj.get("timings"), dict) else None
    usage = Usage.from_dict(usage_raw or {}, timings) if (usage_raw or timings) else None
    calls = [
        ToolCall(
            id=str(tc.get("id", "")),
            name=str((tc.get("function") or {}).get("name", "")),
            arguments=str((tc.get("function") or {}).get("arguments", "")),
            type=str(tc.get("type", "function")),
            index=i,
        )
        for i, tc in enumerate(msg.get("tool_calls") or [])
    ]
    reasoning = msg.get("reasoning")
    if reasoning is None:
        reasoning = msg.get("reasoning_content")
    return Completion(
        text=msg.get("content") or "",
        reasoning=reasoning,
        finish_reason=choice.get("finish_reason"),
        usage=usage,
        request_id=xg.get("id") or header_id,
        model=obj.get("model"),
        e2el_s=(end - start) / 1e9,
        tool_calls=calls,
        raw=obj,
        attempts=attempts,
    )


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
