"""Sans-IO encoders: what happens on a stream, turned into bytes for a browser.

Two wire protocols, one interface. An encoder is fed the stream's opening, its deltas, its
metrics, its tool calls, its end or its error, and appends complete server-sent events
(`bytes`, one per event) to a list the caller owns. It never touches a socket, an event loop
or a clock, so it is tested without either and costs one small `bytes` build per delta.

- `SSEEncoder` — plain `text/event-stream` with named events `reasoning`, `content`,
  `tool_input_start`, `tool_input_delta`, `tool_call`, `tool_result`, `source`, `step`,
  `metrics`, `done` and `error` (schema in docs/streaming.md and docs/tools.md).
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
    from ..tools import ToolResult
    from ..types import Delta, ExecutedTool, ToolCall, Usage

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

    def tool_output(self, result: ToolResult, out: list[bytes]) -> None:
        """A tool's result in a tool loop (`run_tools`): its output, or its error."""
        raise NotImplementedError

    def executed_tools(self, tools: Sequence[ExecutedTool], out: list[bytes]) -> None:
        """Built-in tools a compound model ran: the web pages they cite, as sources."""
        raise NotImplementedError

    def step(self, out: list[bytes]) -> None:
        """One round of a tool loop is over and the next begins."""
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

    def __init__(self) -> None:
        super().__init__()
        self._inputs: dict[int, _ToolInput] = {}
        self._sources: set[str] = set()
        self._round = 1

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
        elif d.executed_tools:
            self.executed_tools(_executed(d.executed_tools), out)
        if d.tool_calls:
            self._fragments(d.tool_calls, out)

    def _fragments(self, fragments: list[dict[str, Any]], out: list[bytes]) -> None:
        """`tool_input_start` ({"id", "name", "index"}) when a call begins, then
        `tool_input_delta` ({"id", "delta"}) per piece of its arguments."""
        for frag in fragments:
            t = _tool_input(self._inputs, frag)
            if t is None:
                continue
            if t.started and t.pending:
                text = "".join(t.pending)
                t.pending.clear()
                self._event(b"tool_input_delta", orjson.dumps({"id": t.id, "delta": text}), out)
            elif not t.started and t.id and t.name:
                t.started = True
                start = {"id": t.id, "name": t.name, "index": t.index}
                self._event(b"tool_input_start", orjson.dumps(start), out)
                if t.pending:
                    text = "".join(t.pending)
                    t.pending.clear()
                    delta = {"id": t.id, "delta": text}
                    self._event(b"tool_input_delta", orjson.dumps(delta), out)

    def tool_calls(self, calls: Sequence[ToolCall], out: list[bytes]) -> None:
        """One `tool_call` event per assembled call: id, name, arguments (a JSON string)."""
        for c in calls:
            data = {"id": c.id, "name": c.name, "arguments": c.arguments, "index": c.index}
            self._event(b"tool_call", orjson.dumps(data), out)

    def tool_output(self, result: ToolResult, out: list[bytes]) -> None:
        """A `tool_result` event: id, name, output (the text sent to the model), error."""
        data = {
            "id": result.call.id,
            "name": result.call.name,
            "output": result.content,
            "error": result.error,
        }
        self._event(b"tool_result", orjson.dumps(data), out)

    def executed_tools(self, tools: Sequence[ExecutedTool], out: list[bytes]) -> None:
        """A `source` event ({"url", "title", "tool"}) per web page a built-in tool cites."""
        for t in tools:
            for url, title in t.sources:
                if url not in self._sources:
                    self._sources.add(url)
                    data = {"url": url, "title": title, "tool": t.type}
                    self._event(b"source", orjson.dumps(data), out)

    def step(self, out: list[bytes]) -> None:
        """A `step` event ({"round": n}): the tool loop's next round begins."""
        self._inputs.clear()
        self._round += 1
        self._event(b"step", b'{"round":%d}' % self._round, out)

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
    __slots__ = ("id", "index", "name", "pending", "started")

    def __init__(self, index: int) -> None:
        self.index = index
        self.id = ""
        self.name = ""
        self.pending: list[str] = []
        self.started = False


def _tool_input(tools: dict[int, _ToolInput], frag: Any) -> _ToolInput | None:
    """Take one tool-call fragment into the call it belongs to (None for junk)."""
    if not isinstance(frag, dict):
        return None
    index = frag.get("index", 0)
    key = index if isinstance(index, int) else 0
    t = tools.get(key)
    if t is None:
        t = tools[key] = _ToolInput(key)
    fn = frag.get("function") or {}
    t.id = t.id or str(frag.get("id") or "")
    t.name = t.name or str(fn.get("name") or "")
    args = fn.get("arguments")
    if isinstance(args, str) and args:
        t.pending.append(args)
    return t


def _executed(raw: list[dict[str, Any]]) -> list[ExecutedTool]:
    """`ExecutedTool`s from a delta's raw `executed_tools` items."""
    from ..types import ExecutedTool

    return [ExecutedTool.from_dict(t) for t in raw]


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
        self._sources: set[str] = set()
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
        elif d.executed_tools:
            self.executed_tools(_executed(d.executed_tools), out)
        if d.tool_calls:
            self._fragments(d.tool_calls, out)

    def _fragments(self, fragments: list[dict[str, Any]], out: list[bytes]) -> None:
        if self._open_kind:
            self._switch("", out)
        for frag in fragments:
            t = _tool_input(self._tools, frag)
            if t is None:
                continue
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

    def tool_output(self, result: ToolResult, out: list[bytes]) -> None:
        """`tool-output-available` with the tool's value (or the text sent to the model), or
        `tool-output-error` when the tool failed."""
        if self._open_kind:
            self._switch("", out)
        part: dict[str, Any]
        if result.error is not None:
            part = {
                "type": "tool-output-error",
                "toolCallId": result.call.id,
                "errorText": result.error,
            }
        else:
            value = result.value if result.value is not None else result.content
            part = {"type": "tool-output-available", "toolCallId": result.call.id}
            try:
                part["output"] = orjson.loads(orjson.dumps(value, default=str))
            except orjson.JSONEncodeError:
                part["output"] = result.content
        self._data(orjson.dumps(part), out)

    def executed_tools(self, tools: Sequence[ExecutedTool], out: list[bytes]) -> None:
        """A `source-url` part per web page a built-in tool cites (each url once)."""
        for t in tools:
            for url, title in t.sources:
                if url in self._sources:
                    continue
                self._sources.add(url)
                part = {
                    "type": "source-url",
                    "sourceId": f"source-{len(self._sources)}",
                    "url": url,
                    "title": title,
                }
                self._data(orjson.dumps(part), out)

    def step(self, out: list[bytes]) -> None:
        """`finish-step` then `start-step`: the tool loop's next round begins."""
        self._switch("", out)
        self._tools.clear()
        self._data(b'{"type":"finish-step"}', out)
        self._data(b'{"type":"start-step"}', out)

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
