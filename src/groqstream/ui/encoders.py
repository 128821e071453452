"""Sans-IO encoders: what happens on a stream, turned into bytes for a browser.

Two wire protocols, one interface. An encoder is fed the stream's opening, its deltas, its
metrics, its tool calls, its end or its error, and appends complete server-sent events
(`bytes`, one per event) to a list the caller owns. It never touches a socket, an event loop
or a clock, so it is tested without either and costs one small `bytes` build per delta.

- `SSEEncoder` — plain `text/event-stream` with named events `reasoning`, `content`,
  `tool_call`, `metrics`, `done` and `error` (schema in docs/streaming.md).
- `VercelEncoder` — the Vercel AI SDK UI message stream protocol, v1 (`useChat`, AI SDK 5+).

Every event carries `id: <n>`, numbered from 1 per stream, so a client can resume with
`Last-Event-ID` (see `RelayHub`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

if TYPE_CHECKING:
    from ..errors import GroqStreamError
    from ..metrics import StreamMetrics
    from ..types import Delta, ToolCall, Usage

__all__ = [
    "FINISH_REASONS",
    "KEEPALIVE",
    "PROTOCOLS",
    "SSE_HEADERS",
    "Encoder",
    "SSEEncoder",
    "StreamEnd",
    "VercelEncoder",
    "make_encoder",
    "metrics_payload",
    "sse_event",
    "usage_payload",
]

KEEPALIVE = b": keep-alive\n\n"
"""The keep-alive comment both protocols send when nothing else was sent for a while."""

FINISH_REASONS: dict[str, str] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool-calls",
    "function_call": "tool-calls",
    "content_filter": "content-filter",
}
"""OpenAI/Groq `finish_reason` → the AI SDK's `FinishReason` (anything else is "other")."""

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
"""Response headers of an event stream: no caching, and no buffering by nginx-like proxies."""


def _r(x: float | None) -> float | None:
    """Round seconds to the microsecond for the wire (None and non-finite stay None)."""
    if x is None or not math.isfinite(x):
        return None
    return round(x, 6)


@dataclass(slots=True)
class StreamEnd:
    """How a stream ended: what `done` (SSE) and `finish` (Vercel) report."""

    finish_reason: str | None = None
    usage: Usage | None = None
    request_id: str | None = None
    model: str | None = None


def sse_event(seq: int, name: bytes, data: bytes) -> bytes:
    """One named SSE event with its id and a single `data:` line (`data` must hold no newline,
    as orjson's output never does)."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (seq, name, data)


def usage_payload(usage: Usage | None) -> dict[str, Any] | None:
    """`Usage` as a JSON-ready dict (without the raw server object), or None."""
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "queue_time": usage.queue_time,
        "prompt_time": usage.prompt_time,
        "completion_time": usage.completion_time,
        "total_time": usage.total_time,
    }


def metrics_payload(m: StreamMetrics, itl_from: int = 0, *, final: bool = False) -> dict[str, Any]:
    """The `metrics` event's data: the figures so far, and the ITL gaps from `itl_from` on.

    `itl_s` carries only the gaps new since the previous metrics event (a client appends them
    for a sparkline); `itl_mean_s` is over all gaps so far.
    """
    itl = m.itl_s
    return {
        "ttft_s": _r(m.ttft_s),
        "tokens_per_s": _r(m.output_tokens_per_s),
        "tpot_s": _r(m.tpot_s),
        "itl_mean_s": _r(sum(itl) / len(itl)) if itl else None,
        "itl_s": [round(x, 6) for x in itl[itl_from:]],
        "output_tokens": m.output_tokens,
        "chunks": m.chunks,
        "elapsed_s": _r(m.e2el_s),
        "server_queue_s": _r(m.server_queue_s),
        "server_total_s": _r(m.server_total_s),
        "final": final,
    }


def _error_payload(err: GroqStreamError, partial: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": err.kind,
        "message": err.message,
        "partial": partial,
        "retryable": err.retryable,
        "request_id": err.request_id,
    }
    status = getattr(err, "status", None)
    if isinstance(status, int):
        out["status"] = status
    return out


class Encoder:
    """The interface both protocols implement; each method appends whole events to `out`.

    Call order: `open` once the stream has started, `delta` for each delta of choice 0,
    `tool_calls` once the calls are complete, `metrics` whenever wanted, then exactly one
    of `done` or `error`. `seq` is the id of the last event appended.
    """

    protocol: ClassVar[str] = ""
    headers: ClassVar[dict[str, str]] = SSE_HEADERS

    def __init__(self) -> None:
        self.seq = 0
        self.delivered = False  # content or reasoning text went out
        self._itl_sent = 0  # inter-token latencies already sent in earlier metrics

    def _metrics_data(self, m: StreamMetrics, final: bool) -> dict[str, Any]:
        """`metrics_payload` with only the latencies not sent before."""
        data = metrics_payload(m, self._itl_sent, final=final)
        self._itl_sent = len(m.itl_s)
        return data

    def open(self, out: list[bytes], *, message_id: str | None = None) -> None:
        """The stream started (its first delta is ready)."""

    def delta(self, d: Delta, out: list[bytes]) -> None:
        """One delta's text, reasoning and tool-call fragments."""
        raise NotImplementedError

    def tool_calls(self, calls: Sequence[ToolCall], out: list[bytes]) -> None:
        """The complete tool calls (sent once, when the model finished the choice)."""
        raise NotImplementedError

    def metrics(self, m: StreamMetrics, out: list[bytes], *, final: bool = False) -> None:
        """A metrics snapshot (`final` for the one after the stream ended)."""
        raise NotImplementedError

    def done(self, end: StreamEnd, out: list[bytes]) -> None:
        """The stream ended normally: the last events of the response."""
        raise NotImplementedError

    def error(self, err: GroqStreamError, out: list[bytes]) -> None:
        """The stream failed: the last events of the response."""
        raise NotImplementedError


class SSEEncoder(Encoder):
    """Plain SSE: `event: <name>`, `id: <n>` and one `data:` line of JSON per event."""

    protocol = "sse"

    def _event(self, name: bytes, data: bytes, out: list[bytes]) -> None:
        self.seq = seq = self.seq + 1
        out.append(sse_event(seq, name, data))

    def delta(self, d: Delta, out: list[bytes]) -> None:
        """`reasoning` and `content` events ({"text": ...}); fragments wait for `tool_calls`."""
        if d.reasoning:
            self.seq = seq = self.seq + 1
            out.append(
                b'id: %d\nevent: reasoning\ndata: {"text":%s}\n\n'
                % (seq, orjson.dumps(d.reasoning))
            )
            self.delivered = True
        if d.content:
            self.seq = seq = self.seq + 1
            out.append(
                b'id: %d\nevent: content\ndata: {"text":%s}\n\n' % (seq, orjson.dumps(d.content))
            )
            self.delivered = True

    def tool_calls(self, calls: Sequence[ToolCall], out: list[bytes]) -> None:
        """One `tool_call` event per assembled call: id, name, arguments (a JSON string)."""
        for c in calls:
            data = {"id": c.id, "name": c.name, "arguments": c.arguments, "index": c.index}
            self._event(b"tool_call", orjson.dumps(data), out)

    def metrics(self, m: StreamMetrics, out: list[bytes], *, final: bool = False) -> None:
        """A `metrics` event (see `metrics_payload`)."""
        self._event(b"metrics", orjson.dumps(self._metrics_data(m, final)), out)

    def done(self, end: StreamEnd, out: list[bytes]) -> None:
        """The `done` event: finish_reason, usage, request_id, model."""
        data = {
            "finish_reason": end.finish_reason,
            "usage": usage_payload(end.usage),
            "request_id": end.request_id,
            "model": end.model,
        }
        self._event(b"done", orjson.dumps(data), out)

    def error(self, err: GroqStreamError, out: list[bytes]) -> None:
        """The `error` event: type, message, partial (text was delivered), retryable, ..."""
        self._event(b"error", orjson.dumps(_error_payload(err, self.delivered)), out)


class _ToolInput:
    __slots__ = ("id", "name", "pending", "started")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.pending: list[str] = []
        self.started = False


class VercelEncoder(Encoder):
    """The AI SDK UI message stream protocol v1 (`x-vercel-ai-ui-message-stream: v1`).

    Emits `start`, `start-step`, `reasoning-start/-delta/-end`, `text-start/-delta/-end`,
    `tool-input-start/-delta` as argument fragments stream and `tool-input-available` (or
    `tool-input-error` for arguments that are not JSON) once a call is complete,
    `finish-step`, `finish` with the AI SDK's finish reason, `error`, then `data: [DONE]`.
    Metrics go out as transient `data-groqstream-metrics` parts, which `useChat` hands to
    `onData` and keeps out of the message.
    """

    protocol = "vercel"
    headers: ClassVar[dict[str, str]] = {**SSE_HEADERS, "x-vercel-ai-ui-message-stream": "v1"}

    def __init__(self) -> None:
        super().__init__()
        self._open_kind = ""  # "text" or "reasoning" while a part is open
        self._open_prefix = b""  # the delta part's JSON up to its "delta" value
        self._open_id = b""
        self._parts = 0
        self._tools: dict[int, _ToolInput] = {}
        self._ended = False

    def _data(self, data: bytes, out: list[bytes]) -> None:
        self.seq = seq = self.seq + 1
        out.append(b"id: %d\ndata: %s\n\n" % (seq, data))

    def open(self, out: list[bytes], *, message_id: str | None = None) -> None:
        """`start` (with `messageId` when known) and `start-step`."""
        start: dict[str, Any] = {"type": "start"}
        if message_id:
            start["messageId"] = message_id
        self._data(orjson.dumps(start), out)
        self._data(b'{"type":"start-step"}', out)

    def _switch(self, kind: str, out: list[bytes]) -> None:
        """Close the open text/reasoning part and open one of `kind` ("" closes only)."""
        if self._open_kind:
            self._data(
                b'{"type":"%s-end","id":%s}' % (self._open_kind.encode(), self._open_id), out
            )
        self._open_kind = kind
        if kind:
            self._parts += 1
            self._open_id = orjson.dumps(f"{kind}-{self._parts}")
            self._data(b'{"type":"%s-start","id":%s}' % (kind.encode(), self._open_id), out)
            self._open_prefix = b'{"type":"%s-delta","id":%s,"delta":' % (
                kind.encode(),
                self._open_id,
            )

    def delta(self, d: Delta, out: list[bytes]) -> None:
        """Reasoning and text deltas (opening and closing parts as the kind changes)."""
        if d.reasoning:
            if self._open_kind != "reasoning":
                self._switch("reasoning", out)
            self._data(self._open_prefix + orjson.dumps(d.reasoning) + b"}", out)
            self.delivered = True
        if d.content:
            if self._open_kind != "text":
                self._switch("text", out)
            self._data(self._open_prefix + orjson.dumps(d.content) + b"}", out)
            self.delivered = True
        if d.tool_calls:
            self._fragments(d.tool_calls, out)

    def _fragments(self, fragments: list[dict[str, Any]], out: list[bytes]) -> None:
        if self._open_kind:
            self._switch("", out)
        for frag in fragments:
            if not isinstance(frag, dict):
                continue
            index = frag.get("index", 0)
            key = index if isinstance(index, int) else 0
            t = self._tools.get(key)
            if t is None:
                t = self._tools[key] = _ToolInput()
            fn = frag.get("function") or {}
            t.id = t.id or str(frag.get("id") or "")
            t.name = t.name or str(fn.get("name") or "")
            args = fn.get("arguments")
            if isinstance(args, str) and args:
                t.pending.append(args)
            if not t.started and t.id and t.name:
                t.started = True
                start = {"type": "tool-input-start", "toolCallId": t.id, "toolName": t.name}
                self._data(orjson.dumps(start), out)
            if t.started and t.pending:
                text = "".join(t.pending)
                t.pending.clear()
                delta = {"type": "tool-input-delta", "toolCallId": t.id, "inputTextDelta": text}
                self._data(orjson.dumps(delta), out)

    def tool_calls(self, calls: Sequence[ToolCall], out: list[bytes]) -> None:
        """`tool-input-available` per call (input parsed from the JSON arguments), or
        `tool-input-error` when the arguments are not valid JSON."""
        if self._open_kind:
            self._switch("", out)
        for c in calls:
            try:
                value = c.parsed_arguments()
            except orjson.JSONDecodeError:
                part: dict[str, Any] = {
                    "type": "tool-input-error",
                    "toolCallId": c.id,
                    "toolName": c.name,
                    "input": c.arguments,
                    "errorText": "the model's tool arguments are not valid JSON",
                }
            else:
                part = {
                    "type": "tool-input-available",
                    "toolCallId": c.id,
                    "toolName": c.name,
                    "input": value,
                }
            self._data(orjson.dumps(part), out)

    def metrics(self, m: StreamMetrics, out: list[bytes], *, final: bool = False) -> None:
        """A transient `data-groqstream-metrics` part (see `metrics_payload`)."""
        part = {
            "type": "data-groqstream-metrics",
            "data": self._metrics_data(m, final),
            "transient": True,
        }
        self._data(orjson.dumps(part), out)

    def done(self, end: StreamEnd, out: list[bytes]) -> None:
        """Close the open part, then `finish-step`, `finish` and `[DONE]`."""
        self._switch("", out)
        self._data(b'{"type":"finish-step"}', out)
        reason = FINISH_REASONS.get(end.finish_reason or "", "other")
        self._data(b'{"type":"finish","finishReason":"%s"}' % reason.encode(), out)
        self._finish_stream(out)

    def error(self, err: GroqStreamError, out: list[bytes]) -> None:
        """Close the open part, then `error` ("Type: message") and `[DONE]`."""
        self._switch("", out)
        self._data(orjson.dumps({"type": "error", "errorText": f"{err.kind}: {err.message}"}), out)
        self._finish_stream(out)

    def _finish_stream(self, out: list[bytes]) -> None:
        if not self._ended:
            self._ended = True
            self.seq = seq = self.seq + 1
            out.append(b"id: %d\ndata: [DONE]\n\n" % seq)


PROTOCOLS: dict[str, type[Encoder]] = {"sse": SSEEncoder, "vercel": VercelEncoder}
"""The protocols `relay` speaks, by name."""


def make_encoder(protocol: str) -> Encoder:
    """A fresh encoder for `protocol` ("sse" or "vercel"); `ConfigError` for anything else."""
    cls = PROTOCOLS.get(protocol)
    if cls is None:
        from ..errors import ConfigError

        raise ConfigError(f"unknown relay protocol {protocol!r}: use 'sse' or 'vercel'")
    return cls()
