"""The plain value objects users get back: `Delta`, `ToolCall`, `Usage`, `Completion`.

All are slotted and cheap to build: a `Delta` is made for every token chunk on the hot path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = [
    "Completion",
    "Delta",
    "ExecutedTool",
    "FunctionCall",
    "Route",
    "ToolCall",
    "Usage",
    "assistant_message",
    "tool_result",
]


class Delta:
    """One choice's increment from one stream chunk.

    `content` is the new text ("" if none), `reasoning` the new reasoning text (or None),
    `tool_calls` the raw tool-call fragments of this chunk (or None), `finish_reason` set on
    the choice's last chunk, `index` the choice, and `arrived_ns` the `time.perf_counter_ns()`
    of the network read that brought the bytes.
    """

    __slots__ = ("arrived_ns", "content", "finish_reason", "index", "reasoning", "tool_calls")

    executed_tools: list[dict[str, Any]] | None = None
    """Groq compound models' `delta.executed_tools` (raw) — set only on the rare deltas that
    carry them (`CompoundDelta`); a class-level None for every other delta, at no cost."""

    def __init__(
        self,
        content: str = "",
        reasoning: str | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        finish_reason: str | None = None,
        index: int = 0,
        arrived_ns: int = 0,
    ) -> None:
        self.content = content
        self.reasoning = reasoning
        self.tool_calls = tool_calls
        self.finish_reason = finish_reason
        self.index = index
        self.arrived_ns = arrived_ns

    def __repr__(self) -> str:
        parts = [f"content={self.content!r}"]
        if self.reasoning is not None:
            parts.append(f"reasoning={self.reasoning!r}")
        if self.tool_calls is not None:
            parts.append(f"tool_calls={self.tool_calls!r}")
        if self.finish_reason is not None:
            parts.append(f"finish_reason={self.finish_reason!r}")
        if self.index:
            parts.append(f"index={self.index}")
        return f"Delta({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Delta):
            return NotImplemented
        return (
            self.content == other.content
            and self.reasoning == other.reasoning
            and self.tool_calls == other.tool_calls
            and self.finish_reason == other.finish_reason
            and self.index == other.index
            and self.arrived_ns == other.arrived_ns
        )

    __hash__ = None  # type: ignore[assignment]


class CompoundDelta(Delta):
    """A `Delta` that also carries Groq compound models' `executed_tools` (built-in tools the
    server ran: web search, code execution, browsing)."""

    __slots__ = ("executed_tools",)  # shadows Delta's class-level None

    def __init__(
        self,
        content: str,
        reasoning: str | None,
        tool_calls: list[dict[str, Any]] | None,
        finish_reason: str | None,
        index: int,
        arrived_ns: int,
        executed_tools: list[dict[str, Any]],
    ) -> None:
        super().__init__(content, reasoning, tool_calls, finish_reason, index, arrived_ns)
        self.executed_tools = executed_tools


@dataclass(slots=True, frozen=True)
class FunctionCall:
    """The `function` of a tool call, as OpenAI shapes it: `name` and `arguments` (JSON text)."""

    name: str
    arguments: str


@dataclass(slots=True)
class ToolCall:
    """A complete tool call, assembled from a stream's fragments (or a full reply).

    OpenAI-shaped: `call.id`, `call.function.name`, `call.function.arguments`; the flat
    `call.name` / `call.arguments` are the same values.
    """

    id: str
    name: str
    arguments: str
    type: str = "function"
    index: int = 0

    @property
    def function(self) -> FunctionCall:
        """`name` and `arguments`, as `call.function.name` / `call.function.arguments`."""
        return FunctionCall(self.name, self.arguments)

    def parsed_arguments(self) -> Any:
        """The arguments decoded from JSON (raises `orjson.JSONDecodeError` if invalid)."""
        return orjson.loads(self.arguments) if self.arguments else {}

    def to_dict(self) -> dict[str, Any]:
        """This call in the OpenAI wire shape, as an assistant message's `tool_calls` item:
        ``{"id", "type": "function", "function": {"name", "arguments"}}``."""
        return {
            "id": self.id,
            "type": self.type,
            "function": {"name": self.name, "arguments": self.arguments},
        }


def assistant_message(text: str, tool_calls: Sequence[ToolCall] = ()) -> dict[str, Any]:
    """The assistant message to append to `messages` for the next turn of a conversation:
    ``{"role": "assistant", "content": ..., "tool_calls": [...]}`` with the tool calls in the
    OpenAI wire shape. `content` is None when the reply is only tool calls, as OpenAI sends it;
    reasoning is left out (servers do not take it back)."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text if text or not tool_calls else None,
    }
    if tool_calls:
        message["tool_calls"] = [c.to_dict() for c in tool_calls]
    return message


def tool_result(call: ToolCall | str, content: Any) -> dict[str, Any]:
    """The `tool` message answering `call` (a `ToolCall` or its id): ``{"role": "tool",
    "tool_call_id": ..., "content": ...}``. A string `content` goes as is; anything else is
    sent as JSON text."""
    cid = call if isinstance(call, str) else call.id
    text = content if isinstance(content, str) else orjson.dumps(content, default=str).decode()
    return {"role": "tool", "tool_call_id": cid, "content": text}


def _dicts(v: Any) -> list[dict[str, Any]]:
    """The objects of a list (anything else: none)."""
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


@dataclass(slots=True)
class ExecutedTool:
    """A built-in tool a Groq compound model ran on the server (`delta.executed_tools`):
    `type` ("search", "python", "browser_automation", "visit", ...), its `arguments` (JSON
    text), `output`, and the structured results it returned (`raw` keeps the object whole)."""

    index: int
    type: str
    arguments: str = ""
    output: str | None = None
    search_results: list[dict[str, Any]] = field(default_factory=list)
    code_results: list[dict[str, Any]] = field(default_factory=list)
    browser_results: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExecutedTool:
        """Build from one `executed_tools` item (Groq's `ExecutedTool` shape)."""
        sr = d.get("search_results")
        idx = d.get("index")
        output = d.get("output")
        return cls(
            index=idx if type(idx) is int else 0,
            type=str(d.get("type") or ""),
            arguments=str(d.get("arguments") or ""),
            output=output if isinstance(output, str) else None,
            search_results=_dicts(sr.get("results") if isinstance(sr, dict) else None),
            code_results=_dicts(d.get("code_results")),
            browser_results=_dicts(d.get("browser_results")),
            raw=d,
        )

    def merge(self, d: dict[str, Any]) -> None:
        """Take a later chunk's view of the same tool (its output arrives after its start)."""
        new = ExecutedTool.from_dict({**self.raw, **{k: v for k, v in d.items() if v is not None}})
        for name in ("type", "arguments", "output", "search_results", "code_results"):
            setattr(self, name, getattr(new, name))
        self.browser_results = new.browser_results
        self.raw = new.raw

    @property
    def sources(self) -> list[tuple[str, str]]:
        """(url, title) of every web page the tool's results cite (search and browser)."""
        out = []
        for r in (*self.search_results, *self.browser_results):
            url = r.get("url")
            if isinstance(url, str) and url:
                out.append((url, str(r.get("title") or "")))
        return out


def _f(d: dict[str, Any], key: str) -> float | None:
    v = d.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _i(d: dict[str, Any], key: str) -> int | None:
    v = d.get(key)
    return v if type(v) is int else None  # (not a bool, not a fraction)


@dataclass(slots=True, frozen=True)
class Usage:
    """Token counts, and the server's own timings in seconds when it reports them.

    Groq's `x_groq.usage` gives queue, prompt, completion and total times; llama.cpp's
    `timings` give prompt and completion times; other servers give counts only.
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    reasoning_tokens: int | None = None
    queue_time: float | None = None
    prompt_time: float | None = None
    completion_time: float | None = None
    total_time: float | None = None
    cached_tokens: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any], timings: dict[str, Any] | None = None) -> Usage:
        """Build from an OpenAI/Groq `usage` object (plus llama.cpp `timings` if given)."""
        details = d.get("completion_tokens_details")
        reasoning = _i(details, "reasoning_tokens") if isinstance(details, dict) else None
        pdetails = d.get("prompt_tokens_details")
        cached = _i(pdetails, "cached_tokens") if isinstance(pdetails, dict) else None
        prompt_time = _f(d, "prompt_time")
        completion_time = _f(d, "completion_time")
        if timings:
            if prompt_time is None and (ms := _f(timings, "prompt_ms")) is not None:
                prompt_time = ms / 1000
            if completion_time is None and (ms := _f(timings, "predicted_ms")) is not None:
                completion_time = ms / 1000
        return cls(
            prompt_tokens=_i(d, "prompt_tokens"),
            completion_tokens=_i(d, "completion_tokens"),
            total_tokens=_i(d, "total_tokens"),
            reasoning_tokens=reasoning,
            cached_tokens=cached,
            queue_time=_f(d, "queue_time"),
            prompt_time=prompt_time,
            completion_time=completion_time,
            total_time=_f(d, "total_time"),
            raw=d,
        )


@dataclass(slots=True)
class Completion:
    """The result of a non-streaming call (`Client.complete`)."""

    text: str
    reasoning: str | None
    finish_reason: str | None
    usage: Usage | None
    request_id: str | None
    model: str | None
    e2el_s: float
    tool_calls: list[ToolCall] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    attempts: int = 1
    executed_tools: list[ExecutedTool] = field(default_factory=list)
    endpoint: str | None = None
    hedged: bool = False
    failovers: int = 0

    def assistant_message(self) -> dict[str, Any]:
        """The assistant message to append to `messages` for the next turn (tool calls in
        the OpenAI wire shape); see `groqstream.types.assistant_message`."""
        return assistant_message(self.text, self.tool_calls)

    def message(self) -> dict[str, Any]:
        """The same as `assistant_message()` (the name `ChatStream.message()` has too)."""
        return assistant_message(self.text, self.tool_calls)


@dataclass(slots=True)
class Route:
    """What a `Router` did with one attempt (a `ChatStream` it opened on one endpoint).

    `role` is "primary", "hedge" or "failover"; `outcome` "pending", "won" (it served the
    caller), "lost" (closed when another attempt delivered first) or "failed"; `hedged` and
    `failovers` describe the whole request; `breaker` is the endpoint's breaker state when
    the attempt ended. Observers (`groqstream.otel`) turn it into span attributes.
    """

    endpoint: str
    role: str
    outcome: str = "pending"
    hedged: bool = False
    failovers: int = 0
    breaker: str = "closed"
