"""The tool loop: `client.run_tools(messages, tools=[...])` streams, runs the model's tool calls,
sends their results back, and repeats until the model answers — as typed events.

DESIGN: above `Client`, using only its public `stream()` (anything with `stream()` will do).
A tool is a plain (async or sync) Python function: its JSON schema comes from its type hints
and docstring through pydantic (the optional extra, imported only when a function schema is
built), or from an explicit schema. Each round streams one reply; its tool calls run
concurrently, each under its own timeout; a tool that raises (or times out, or gets bad
arguments) becomes a tool message saying so, which the model can act on. Every round's
metrics are kept. More than `max_rounds` rounds of tool calls is a `ToolLoopError`.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, overload

import orjson

from .errors import ConfigError, ToolLoopError
from .types import ExecutedTool, ToolCall, Usage, tool_result

if TYPE_CHECKING:
    from .metrics import StreamMetrics
    from .stream import ChatStream

__all__ = [
    "ExecutedToolsDelta",
    "Final",
    "ReasoningDelta",
    "RoundDone",
    "TextDelta",
    "Tool",
    "ToolCallArgumentsDelta",
    "ToolCallDone",
    "ToolCallStarted",
    "ToolEvent",
    "ToolResult",
    "ToolRun",
    "tool",
]


class _Streams(Protocol):
    def stream(self, **kwargs: Any) -> ChatStream: ...


# --- tools ---------------------------------------------------------------------------------

_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters)\s*:?\s*$")
_ARG_LINE = re.compile(r"^\s*(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(description, {parameter: description}) from a Google-style docstring."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    desc: list[str] = []
    params: dict[str, str] = {}
    i = 0
    while i < len(lines) and not _ARGS_HEADER.match(lines[i]):
        desc.append(lines[i])
        i += 1
    current: str | None = None
    for line in lines[i + 1 :]:
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            break  # the next section (Returns:, Raises:, ...)
        m = _ARG_LINE.match(line)
        if m and len(line) - len(line.lstrip()) <= 4:
            current = m.group(1)
            params[current] = m.group(2).strip()
        elif current and line.strip():
            params[current] += " " + line.strip()
    text = " ".join(" ".join(desc).split())
    return text, params


@dataclass(slots=True)
class Tool:
    """One tool the model may call: its `name`, `description`, JSON-schema `parameters`, and
    the function that runs it (`fn`, async or sync). `timeout` overrides the run's
    `tool_timeout` for this tool. Build it with `Tool.from_function` (or `@tool`) or
    `Tool.from_schema`."""

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any]
    timeout: float | None = None
    validate: Callable[[dict[str, Any]], dict[str, Any]] | None = field(default=None, repr=False)

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> Tool:
        """A tool from a plain function: the schema from its type hints (pydantic) and its
        Google-style docstring (the summary, and each `Args:` line for its parameter)."""
        from .structured import require_pydantic

        pydantic = require_pydantic()
        if not callable(fn):
            raise ConfigError(f"a tool must be a function, got {fn!r}")
        summary, arg_docs = _parse_docstring(fn.__doc__)
        fields: dict[str, Any] = {}
        for p in inspect.signature(fn).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            ann = p.annotation if p.annotation is not p.empty else Any
            default = p.default if p.default is not p.empty else ...
            fields[p.name] = (ann, pydantic.Field(default, description=arg_docs.get(p.name)))
        tool_name = name or fn.__name__
        try:
            hints = inspect.get_annotations(fn, eval_str=True)
            for k, (_, f) in list(fields.items()):
                if k in hints:
                    fields[k] = (hints[k], f)
            model = pydantic.create_model(f"{tool_name}_arguments", **fields)
            schema = model.model_json_schema()
        except (NameError, TypeError, pydantic.PydanticUserError) as e:
            raise ConfigError(f"cannot build a JSON schema for tool {tool_name!r}: {e}") from e
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            if isinstance(prop, dict):
                prop.pop("title", None)

        def validate(args: dict[str, Any]) -> dict[str, Any]:
            obj = model.model_validate(args)
            return {k: getattr(obj, k) for k in fields}

        return cls(tool_name, description or summary, schema, fn, timeout, validate)

    @classmethod
    def from_schema(
        cls, schema: dict[str, Any], fn: Callable[..., Any], *, timeout: float | None = None
    ) -> Tool:
        """A tool from an explicit OpenAI tool schema (``{"type": "function", "function":
        {"name", "description", "parameters"}}`` or just its `function` part) and the
        function to run; the arguments go to `fn` as keywords, unvalidated."""
        spec = schema.get("function", schema) if isinstance(schema, dict) else None
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ConfigError("a tool schema needs a function name: {'function': {'name': ...}}")
        if not callable(fn):
            raise ConfigError(f"tool {spec['name']!r} needs a function to run, got {fn!r}")
        params = spec.get("parameters") or {"type": "object", "properties": {}}
        return cls(spec["name"], str(spec.get("description") or ""), params, fn, timeout)

    def to_dict(self) -> dict[str, Any]:
        """The tool in the request's `tools` list (OpenAI shape)."""
        fn: dict[str, Any] = {"name": self.name, "parameters": self.parameters}
        if self.description:
            fn["description"] = self.description
        return {"type": "function", "function": fn}

    async def run(self, arguments: str) -> Any:
        """Decode and validate `arguments` (JSON text), then call the function (a sync one
        in a worker thread)."""
        args = orjson.loads(arguments) if arguments.strip() else {}
        if not isinstance(args, dict):
            raise TypeError("the arguments are not a JSON object")
        if self.validate is not None:
            args = self.validate(args)
        if inspect.iscoroutinefunction(self.fn):
            return await self.fn(**args)
        result = await asyncio.to_thread(self.fn, **args)
        if inspect.isawaitable(result):
            result = await result
        return result


@overload
def tool(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
) -> Tool: ...


@overload
def tool(
    fn: None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Decorator: ``@tool`` (or ``@tool(timeout=5)``) turns a function into a `Tool`."""
    if fn is None:
        return lambda f: Tool.from_function(f, name=name, description=description, timeout=timeout)
    return Tool.from_function(fn, name=name, description=description, timeout=timeout)


def _as_tool(item: Any) -> Tool:
    if isinstance(item, Tool):
        return item
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], dict):
        return Tool.from_schema(item[0], item[1])
    if isinstance(item, dict):
        raise ConfigError(
            "an explicit tool schema needs its function: pass (schema, function) or "
            "Tool.from_schema(schema, function)"
        )
    if callable(item):
        return Tool.from_function(item)
    raise ConfigError(f"a tool must be a function, a Tool or (schema, function), got {item!r}")


# --- events --------------------------------------------------------------------------------


@dataclass(slots=True)
class TextDelta:
    """Answer text as it streams."""

    round: int
    text: str


@dataclass(slots=True)
class ReasoningDelta:
    """Reasoning text as it streams (apart from the answer)."""

    round: int
    text: str


@dataclass(slots=True)
class ExecutedToolsDelta:
    """Built-in tools a Groq compound model ran on the server (search, code, browser)."""

    round: int
    tools: list[ExecutedTool]


@dataclass(slots=True)
class ToolCallStarted:
    """The model began a tool call (its id and name are known)."""

    round: int
    call_id: str
    name: str
    index: int


@dataclass(slots=True)
class ToolCallArgumentsDelta:
    """A piece of a tool call's JSON arguments."""

    round: int
    call_id: str
    delta: str


@dataclass(slots=True)
class ToolCallDone:
    """A tool call is complete (about to run)."""

    round: int
    call: ToolCall


@dataclass(slots=True)
class ToolResult:
    """A tool finished: `content` is what goes back to the model; `error` says why it
    failed (the exception, a timeout, bad arguments, an unknown tool), else None."""

    round: int
    call: ToolCall
    content: str
    value: Any = None
    error: str | None = None


@dataclass(slots=True)
class RoundDone:
    """One model reply is over: its finish reason, tool calls, usage and latency metrics."""

    round: int
    finish_reason: str | None
    tool_calls: list[ToolCall]
    usage: Usage | None
    metrics: StreamMetrics
    executed_tools: list[ExecutedTool] = field(default_factory=list)


@dataclass(slots=True)
class Final:
    """The loop ended with an answer: its text and reasoning, the whole conversation
    (`messages`, ready for the next user turn) and every round's `RoundDone`."""

    text: str
    reasoning: str | None
    messages: list[dict[str, Any]]
    rounds: list[RoundDone]

    @property
    def usage(self) -> dict[str, int]:
        """Token counts summed over the rounds."""
        total = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        for r in self.rounds:
            if r.usage is not None:
                for k in total:
                    total[k] += getattr(r.usage, k) or 0
        return total


ToolEvent = (
    TextDelta
    | ReasoningDelta
    | ExecutedToolsDelta
    | ToolCallStarted
    | ToolCallArgumentsDelta
    | ToolCallDone
    | ToolResult
    | RoundDone
    | Final
)
"""Every event `run_tools` yields."""


# --- the loop ------------------------------------------------------------------------------


def _content(value: Any) -> str:
    if isinstance(value, str):
        return value
    dump = getattr(value, "model_dump_json", None)
    if callable(dump):
        return str(dump())
    return orjson.dumps(value, default=str).decode()


class ToolRun:
    """What `client.run_tools(...)` returns: ``async for event in run:`` (or ``await
    run.until_done()`` for the `Final`). `messages` is the conversation as it grows; `rounds`
    the finished rounds. To leave the loop early, ``await run.aclose()`` (or use ``async with
    client.run_tools(...) as run:``): it closes the open stream and cancels running tools."""

    def __init__(
        self,
        client: _Streams,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Any],
        *,
        max_rounds: int = 8,
        tool_timeout: float | None = 30.0,
        **params: Any,
    ) -> None:
        if type(max_rounds) is not int or max_rounds < 1:
            raise ConfigError(f"max_rounds must be a positive int, got {max_rounds!r}")
        if tool_timeout is not None and not tool_timeout > 0:
            raise ConfigError(f"tool_timeout must be > 0 seconds or None, got {tool_timeout!r}")
        if isinstance(messages, (str, bytes)) or not messages:
            raise ConfigError("run_tools needs a non-empty messages= list")
        for bad in ("messages", "prompt", "stream"):
            if bad in params:
                raise ConfigError(f"run_tools does not take {bad}=")
        self._client = client
        listed = [_as_tool(t) for t in tools]
        self.tools = {t.name: t for t in listed}
        if not self.tools:
            raise ConfigError("run_tools needs at least one tool")
        if len(self.tools) != len(listed):
            raise ConfigError("two tools have the same name: the model could not tell them apart")
        self.messages: list[dict[str, Any]] = [dict(m) for m in messages]
        self.max_rounds = max_rounds
        self.tool_timeout = tool_timeout
        self.rounds: list[RoundDone] = []
        self.final: Final | None = None
        self._params = params
        self._gen: AsyncGenerator[ToolEvent, None] | None = None

    def __aiter__(self) -> AsyncIterator[ToolEvent]:
        if self._gen is None:
            self._gen = self._events()
        return self._gen

    async def __aenter__(self) -> ToolRun:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def until_done(self) -> Final:
        """Run the loop to its end, discarding the events; the `Final`."""
        async for _ in self:
            pass
        assert self.final is not None
        return self.final

    async def aclose(self) -> None:
        """Stop the loop (closing its stream, cancelling running tools)."""
        gen = self._gen
        if gen is not None:
            await gen.aclose()

    async def _events(self) -> AsyncGenerator[ToolEvent, None]:
        specs = [t.to_dict() for t in self.tools.values()]
        for n in range(1, self.max_rounds + 1):
            done: RoundDone | None = None
            async for ev in self._round(n, specs):
                if isinstance(ev, RoundDone):
                    done = ev
                else:
                    yield ev
            assert done is not None
            calls = done.tool_calls
            if not calls:
                self.rounds.append(done)
                yield done
                last = self.messages[-1]
                self.final = Final(
                    str(last.get("content") or ""), self._reasoning, self.messages, self.rounds
                )
                yield self.final
                return
            for call in calls:
                yield ToolCallDone(n, call)
            async for result in self._run_calls(n, calls):
                yield result
            self.rounds.append(done)
            yield done
        raise ToolLoopError(
            f"the model still called tools after max_rounds={self.max_rounds} rounds",
            rounds=self.max_rounds,
            messages=self.messages,
        )

    async def _round(self, n: int, specs: list[dict[str, Any]]) -> AsyncIterator[ToolEvent]:
        """Stream one reply: its deltas as events, then a `RoundDone` (not yet recorded)."""
        started: dict[int, str] = {}
        async with self._client.stream(messages=self.messages, tools=specs, **self._params) as s:
            async for d in s:
                if d.index:
                    continue
                if d.reasoning:
                    yield ReasoningDelta(n, d.reasoning)
                if d.content:
                    yield TextDelta(n, d.content)
                if d.executed_tools:
                    yield ExecutedToolsDelta(
                        n, [ExecutedTool.from_dict(t) for t in d.executed_tools]
                    )
                if d.tool_calls:
                    for ev in _fragment_events(n, d.tool_calls, started):
                        yield ev
        self._reasoning = s.reasoning
        self.messages.append(s.message())
        yield RoundDone(n, s.finish_reason, s.tool_calls, s.usage, s.metrics, s.executed_tools)

    _reasoning: str | None = None

    async def _run_calls(self, n: int, calls: list[ToolCall]) -> AsyncIterator[ToolResult]:
        """Run the calls concurrently; yield each result as it finishes; append the tool
        messages in the calls' order."""
        tasks = [asyncio.ensure_future(self._call(n, c)) for c in calls]
        results: dict[int, ToolResult] = {}
        try:
            pending = set(tasks)
            while pending:
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for t in tasks:
                    if t in finished:
                        r = t.result()
                        results[tasks.index(t)] = r
                        yield r
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for i in range(len(calls)):
            self.messages.append(tool_result(calls[i], results[i].content))

    async def _call(self, n: int, call: ToolCall) -> ToolResult:
        t = self.tools.get(call.name)
        if t is None:
            why = f"unknown tool {call.name!r}; the tools are: {', '.join(self.tools)}"
            return ToolResult(n, call, f"Error: {why}", error=why)
        timeout = t.timeout if t.timeout is not None else self.tool_timeout
        try:
            value = await asyncio.wait_for(t.run(call.arguments), timeout)
        except asyncio.TimeoutError:
            why = f"tool {call.name!r} timed out after {timeout} s"
            return ToolResult(n, call, f"Error: {why}", error=why)
        except orjson.JSONDecodeError:
            why = "the arguments are not valid JSON"
            return ToolResult(n, call, f"Error: {why}: {call.arguments[:200]}", error=why)
        except Exception as e:  # the tool's own failure goes back to the model
            why = f"{type(e).__name__}: {e}"
            return ToolResult(n, call, f"Error: {why}", error=why)
        return ToolResult(n, call, _content(value), value)


def _fragment_events(
    n: int, fragments: list[dict[str, Any]], started: dict[int, str]
) -> list[ToolEvent]:
    """Started / arguments-delta events for one delta's tool-call fragments."""
    out: list[ToolEvent] = []
    for frag in fragments:
        index = frag.get("index", 0)
        fn = frag.get("function") or {}
        cid = started.get(index)
        if cid is None:
            cid = str(frag.get("id") or f"call_{index}")
            started[index] = cid
            out.append(ToolCallStarted(n, cid, str(fn.get("name") or ""), index))
        args = fn.get("arguments")
        if args:
            out.append(ToolCallArgumentsDelta(n, cid, args))
    return out
