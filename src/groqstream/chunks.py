"""Sans-IO chunk assembly: SSE events in, `Delta`s out, the final completion accumulated.

DESIGN: the one place that says what a chunk *means*. `ChunkAssembler.apply` interprets one
`chat.completion.chunk` object (OpenAI's format with the dialects of Groq, vLLM, llama.cpp,
Ollama and OpenAI) and checks its shape: anything else is a `MalformedChunkError`, never a
builtin exception. `parse_completion` does the same for a non-streaming reply, with the same
rules (reasoning field fallback, usage precedence). The fast paths in `_fastpath.py` give the
same result as `apply` or decline. No socket, no clock: the caller passes the arrival stamp of
the read that brought each batch of events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from . import _fastpath
from .errors import (
    FAILED_GENERATION_CODES,
    APIStatusError,
    GroqStreamError,
    JSONValidateFailedError,
    MalformedChunkError,
    ToolUseFailedError,
    bounded,
    status_error_class,
)
from .sse import ServerSentEvent
from .types import Completion, CompoundDelta, Delta, ExecutedTool, ToolCall, Usage

__all__ = ["ChunkAssembler", "error_from_payload", "parse_completion", "status_for_error_type"]


def _malformed(why: str, data: str | bytes, what: str = "stream chunk") -> MalformedChunkError:
    line = data[:8192].decode("utf-8", "replace") if isinstance(data, bytes) else data[:8192]
    return MalformedChunkError(f"{what} is {why}: {line[:200]!r}", line=line)


class _BadShape(Exception):
    """A chunk field of the wrong type; becomes a `MalformedChunkError` carrying the raw line."""


_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError

# Substrings of an error's `type`/`code` and the HTTP status they stand for, in priority order.
_ERROR_STATUS: tuple[tuple[str, int], ...] = (
    ("rate_limit", 429),
    ("overloaded", 503),
    ("unavailable", 503),
    ("capacity_exceeded", 498),
    ("capacity", 503),
    ("timeout", 504),
    ("server", 500),
    ("internal", 500),
    ("api_error", 500),
    ("auth", 401),
    ("api_key", 401),
    ("permission", 403),
    ("not_found", 404),
    ("tool_use_failed", 400),
    ("json_validate_failed", 400),
    ("invalid", 400),
    ("context_length", 400),
    ("bad_request", 400),
)


def status_for_error_type(error_type: str | None, code: str | None) -> int:
    """Map an error object's `type`/`code` (Groq, OpenAI, vLLM) to the HTTP status it means.

    Unknown kinds map to 500, so an unexplained in-stream failure is treated as transient.
    """
    for text in (code, error_type):
        if text == "tokens" or text == "requests":  # Groq's 429 types
            return 429
        if text:
            low = text.lower()
            for needle, status in _ERROR_STATUS:
                if needle in low:
                    return status
    return 500


def error_from_payload(
    payload: Any,
    *,
    status: int | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
    headers: dict[str, str] | None = None,
    in_stream: bool = False,
) -> APIStatusError:
    """Build the typed error for an error body: `{"error": {"message", "type", "code"}}`.

    With `status` None (an error inside a 200 stream) the status comes from the type/code.
    """
    err = payload.get("error", payload) if isinstance(payload, dict) else payload
    message: str
    error_type: str | None = None
    code: str | None = None
    if isinstance(err, dict):
        message = bounded(str(err.get("message") or err.get("detail") or "error"), 1000)
        t, c = err.get("type"), err.get("code")
        error_type = str(t) if t is not None else None
        code = str(c) if c is not None else None
        if status is None:
            s = err.get("status_code", err.get("status"))
            if isinstance(s, int) and 400 <= s <= 599:
                status = s
    else:
        message = bounded(str(err), 1000) if err else "error"
    if status is None:
        status = status_for_error_type(error_type, code)
    special = FAILED_GENERATION_CODES.get(code or "") if status == 400 else None
    e = (special or status_error_class(status))(
        message,
        status=status,
        body=payload,
        request_id=request_id,
        retry_after=retry_after,
        headers=headers,
        error_type=error_type,
        code=code,
        in_stream=in_stream,
    )
    if isinstance(e, (ToolUseFailedError, JSONValidateFailedError)):
        fg = err.get("failed_generation") if isinstance(err, dict) else None
        e.failed_generation = bounded(fg, 65536) if isinstance(fg, str) else None
    return e


# Top-level chunk fields `apply` reads on every chunk; every other field (id, model, created,
# system_fingerprint, obfuscation, ...) is read from the first chunk only, or never.
READ_KEYS = frozenset({"choices", "x_groq", "usage", "timings", "error"})


def _text_field(d: dict[str, Any], key: str) -> str | None:
    v = d.get(key)
    if v is None or type(v) is str:
        return v
    raise _BadShape(f"`{key}` is not a string")


def _reasoning_of(d: dict[str, Any]) -> str | None:
    """A delta's or message's reasoning: `reasoning` (Groq, Ollama), else `reasoning_content`
    (vLLM, llama.cpp)."""
    r = _text_field(d, "reasoning")
    return r if r is not None else _text_field(d, "reasoning_content")


def _int_field(d: dict[str, Any], key: str) -> int:
    v = d.get(key)
    if v is None:
        return 0
    if type(v) is not int:
        raise _BadShape(f"`{key}` is not an integer")
    return v


def _usage_of(
    xgroq_usage: dict[str, Any] | None, usage: dict[str, Any] | None, timings: Any
) -> Usage | None:
    """Usage from `x_groq.usage` first, else the top-level `usage` (plus llama.cpp `timings`)."""
    t = timings if isinstance(timings, dict) else None
    raw = xgroq_usage or usage
    if raw is None and t is None:
        return None
    return Usage.from_dict(raw or {}, t)


def _fragment(frag: Any) -> tuple[int, str | None, str | None, str | None, str | None]:
    """One tool-call fragment, shape-checked: (tool index, id, type, name, arguments)."""
    if type(frag) is not dict:
        raise _BadShape("a tool call fragment is not an object")
    fn = frag.get("function")
    if fn is None:
        fn = {}
    elif type(fn) is not dict:
        raise _BadShape("a tool call's `function` is not an object")
    return (
        _int_field(frag, "index"),
        _text_field(frag, "id"),
        _text_field(frag, "type"),
        _text_field(fn, "name"),
        _text_field(fn, "arguments"),
    )


class _ToolCallParts:
    """Fragments of one tool call being assembled."""

    __slots__ = ("args", "id", "index", "name", "type")

    def __init__(self, index: int) -> None:
        self.index = index
        self.id = ""
        self.type = "function"
        self.name = ""
        self.args: list[str] = []

    def add(self, cid: str | None, kind: str | None, name: str | None, args: str | None) -> None:
        """Take one checked fragment: `id`/`type` replace, `name`/`arguments` append."""
        if cid:
            self.id = cid
        if kind:
            self.type = kind
        if name:
            self.name += name
        if args:
            self.args.append(args)

    def call(self) -> ToolCall:
        """The assembled call."""
        return ToolCall(self.id, self.name, "".join(self.args), self.type, self.index)


def _choice(ch: Any, arrived_ns: int) -> Delta | None:
    """One choice of a chunk as a `Delta`, shape-checked (None if it carries nothing)."""
    if type(ch) is not dict:
        raise _BadShape("a choice is not an object")
    delta = ch.get("delta")
    finish = _text_field(ch, "finish_reason")
    tool_calls: list[Any] | None = None
    if delta:
        if type(delta) is not dict:
            raise _BadShape("`delta` is not an object")
        content = _text_field(delta, "content") or ""
        reasoning = _reasoning_of(delta) or None
        tool_calls = delta.get("tool_calls")
        if tool_calls is not None:
            if type(tool_calls) is not list:
                raise _BadShape("`tool_calls` is not a list")
            for frag in tool_calls:
                _fragment(frag)
            tool_calls = tool_calls or None
        if not content and "executed_tools" in delta:  # Groq compound: never on text chunks
            return _compound(delta, content, reasoning, tool_calls, finish, ch, arrived_ns)
    elif delta is not None and type(delta) is not dict:
        raise _BadShape("`delta` is not an object")
    else:
        content, reasoning = "", None
    if not (content or reasoning or tool_calls or finish):
        return None  # role-only or empty chunk: nothing for the user
    return Delta(content, reasoning, tool_calls, finish, _int_field(ch, "index"), arrived_ns)


def _compound(
    delta: dict[str, Any],
    content: str,
    reasoning: str | None,
    tool_calls: list[Any] | None,
    finish: str | None,
    ch: dict[str, Any],
    arrived_ns: int,
) -> Delta | None:
    """A delta with Groq compound models' `executed_tools`, shape-checked."""
    executed = delta["executed_tools"]
    if executed is None:
        executed = []
    if type(executed) is not list or any(type(t) is not dict for t in executed):
        raise _BadShape("`executed_tools` is not a list of objects")
    if not (reasoning or tool_calls or finish or executed):
        return None
    index = _int_field(ch, "index")
    if not executed:
        return Delta(content, reasoning, tool_calls, finish, index, arrived_ns)
    return CompoundDelta(content, reasoning, tool_calls, finish, index, arrived_ns, executed)


# How many times one stream may try to learn a chunk template: streams whose chunks never
# repeat stop paying for the attempts.
_LEARN_BUDGET = 8
_SINGLES = 2  # chunks parsed alone in a row, looking for a template, before a bulk parse


class ChunkAssembler:
    """Turns decoded SSE events into `Delta`s and accumulates the whole completion.

    Feed it with `feed(events, arrived_ns)`. After the stream, read `text`, `reasoning`,
    `tool_calls`, `finish_reason`, `usage`, `request_id`; `output_ns` holds the arrival
    stamp of every chunk that carried output (content, reasoning or tool-call text), which
    is what the latency metrics are computed from.
    """

    __slots__ = (
        "_content",
        "_executed",
        "_learn_budget",
        "_reasoning",
        "_template",
        "_timings",
        "_tools",
        "_tpl_texts",
        "_usage",
        "_usage_obj",
        "_xgroq_usage",
        "chunks",
        "completion_id",
        "done",
        "error",
        "finish_reasons",
        "first_content_ns",
        "first_reasoning_ns",
        "model",
        "output_ns",
        "request_id",
        "system_fingerprint",
        "usage_breakdown",
    )

    def __init__(self) -> None:
        self.done = False  # `[DONE]` seen
        self.error: MalformedChunkError | APIStatusError | None = None
        self.chunks = 0  # JSON chunks taken in
        self.output_ns: list[int] = []
        self.finish_reasons: dict[int, str] = {}
        self.request_id: str | None = None
        self.completion_id: str | None = None
        self.model: str | None = None
        self.system_fingerprint: str | None = None
        self._content: dict[int, list[str]] = {}
        self.first_content_ns: dict[int, int] = {}  # choice -> stamp of its first answer text
        self.first_reasoning_ns: dict[int, int] = {}  # choice -> stamp of its first reasoning
        self._executed: dict[int, dict[int, ExecutedTool]] = {}
        self.usage_breakdown: dict[str, Any] | None = None
        self._reasoning: dict[int, list[str]] = {}
        self._tools: dict[tuple[int, int], _ToolCallParts] = {}
        self._usage: dict[str, Any] | None = None
        self._xgroq_usage: dict[str, Any] | None = None
        self._timings: dict[str, Any] | None = None
        self._usage_obj: Usage | None = None
        self._template: _fastpath.Template | None = None
        self._tpl_texts: list[str] = []  # where the template's texts go (set when learned)
        self._learn_budget = _LEARN_BUDGET

    # --- one network read ----------------------------------------------------------------

    def feed(self, events: Sequence[ServerSentEvent | bytes], arrived_ns: int) -> list[Delta]:
        """Process the events of one network read; return the deltas they carry.

        An item may be a `ServerSentEvent` or, from `SSEDecoder.feed_payloads`, the raw bytes
        of a plain `data:` event. Data that is not a chunk (`MalformedChunkError`) or an error
        object sent inside the stream (the typed `APIStatusError`) stops processing: the
        error is stored in `error`, and the deltas before it are still returned.
        """
        declined = False  # a single event the template declined is not matched again below
        if self._template is not None and len(events) == 1:  # the network's regime
            declined = True
            ev = events[0]
            if type(ev) is bytes and (d := self.feed_one(ev, arrived_ns)) is not None:
                return [d]
        out: list[Delta] = []
        try:
            n = 0 if declined else self._templated(events, arrived_ns, out)
            if n < len(events):
                self._feed_general(events[n:] if n else events, arrived_ns, out)
        except (MalformedChunkError, APIStatusError) as e:
            self.error = e
        return out

    def feed_one(self, payload: bytes, arrived_ns: int) -> Delta | None:
        """The delta of one plain event's data (one network read) when the learned template
        takes it; None when it does not, or its text is empty: `feed` decides then.
        What the stream reader calls first, sparing a list on either side."""
        tpl = self._template
        if tpl is None:
            return None
        text = _fastpath.text_of(tpl, payload)
        if not text:
            return None
        self.chunks += 1
        self._tpl_texts.append(text)
        self.output_ns.append(arrived_ns)
        if tpl.content:
            return Delta(text, None, None, None, tpl.index, arrived_ns)
        return Delta("", text, None, None, tpl.index, arrived_ns)

    def _templated(
        self, events: Sequence[ServerSentEvent | bytes], arrived_ns: int, out: list[Delta]
    ) -> int:
        """Take the leading events the learned template matches (see `_fastpath`); how many."""
        tpl = self._template
        if tpl is None:
            return 0
        n = _fastpath.run(tpl, events, arrived_ns, out, self._tpl_texts, self.output_ns)
        self.chunks += n
        return n

    def _feed_general(
        self, events: Sequence[ServerSentEvent | bytes], arrived_ns: int, out: list[Delta]
    ) -> None:
        payloads = events
        last = events[-1] if events else None
        if type(last) is bytes and last == b"[DONE]":
            payloads = events[:-1]
        i = self._singles(payloads, arrived_ns, out)
        if i < len(payloads):
            self._bulk(events, payloads, i, arrived_ns, out)
        if payloads is not events:
            self.done = True  # `[DONE]` counts once everything before it was applied

    def _singles(
        self, payloads: Sequence[ServerSentEvent | bytes], arrived_ns: int, out: list[Delta]
    ) -> int:
        """Apply the leading payloads one by one while a template may still be learned from
        them, handing each run the template takes to it: a read of many chunks (a lagging
        client, a burst) is then parsed whole only where no template fits. How many were
        applied."""
        i, count, tries = 0, len(payloads), _SINGLES
        while i < count and tries and self._learn_budget:
            raw = payloads[i]
            if type(raw) is not bytes:
                break
            try:
                obj = _loads(raw)
            except _JSONDecodeError:
                break  # the careful path says what is wrong with it
            self.chunks += 1
            i += 1
            if self._take(obj, raw, arrived_ns, out):
                tries = _SINGLES
            else:
                tries -= 1
            if i < count and self._template is not None:
                i += self._templated(payloads[i:], arrived_ns, out)
        return i

    def _bulk(
        self,
        events: Sequence[ServerSentEvent | bytes],
        payloads: Sequence[ServerSentEvent | bytes],
        start: int,
        arrived_ns: int,
        out: list[Delta],
    ) -> None:
        """Apply `payloads[start:]` parsed with one `orjson.loads`, or event by event when
        that declines (an event object, `[DONE]` before the end, bad JSON)."""
        rest = payloads[start:] if start else payloads
        objs = _fastpath.parse_array(rest)
        error: GroqStreamError | None = None
        raws: Sequence[Any] = rest
        bulk = objs is not None  # (then `raws` is `rest`, item for item)
        if objs is None:
            objs, raws, error = self._parse_each(events[start:] if start else events)
        i, count = 0, len(objs)
        while i < count:
            self.chunks += 1
            learned = self._take(objs[i], raws[i], arrived_ns, out)
            i += 1
            if learned and bulk and i < count:
                # what follows may fit the template just learned: far cheaper than applying
                # the objects already parsed, and it keeps the learning budget for later
                i += self._templated(rest[i:], arrived_ns, out)
        if error is not None:
            if error.request_id is None:
                error.request_id = self.request_id  # known only once the chunks are applied
            raise error

    def _parse_each(
        self, events: Sequence[ServerSentEvent | bytes]
    ) -> tuple[list[Any], list[str | bytes], GroqStreamError | None]:
        """Parse a read's events one by one, stopping at the first bad one (the careful path
        for event objects, `[DONE]` before the end and bad JSON)."""
        objs: list[Any] = []
        raws: list[str | bytes] = []
        for ev in events:
            data: str | bytes
            if type(ev) is bytes:
                data = ev
            else:
                assert isinstance(ev, ServerSentEvent)
                data = ev.data
                if ev.event != "message":
                    if ev.event == "error":
                        return objs, raws, self._stream_error(data)
                    if ev.event not in ("chunk", "completion"):
                        continue  # unknown event types are ignored, as SSE intends
            if data == b"[DONE]" or data == "[DONE]":
                self.done = True
                break  # nothing after the end counts
            try:
                objs.append(_loads(data))
            except _JSONDecodeError:
                return objs, raws, _malformed("not valid JSON", data)
            raws.append(data)
        return objs, raws, None

    def _take(self, obj: Any, raw: Any, arrived_ns: int, out: list[Delta]) -> bool:
        """Apply one parsed chunk (it did not fit the template, if there is one); when it is
        plain, learn a template from it (True if it did)."""
        try:
            plain = self.apply(obj, arrived_ns, out)
        except _BadShape as e:
            raise _malformed(str(e), raw) from None
        if plain is None or not self._learn_budget or type(raw) is not bytes:
            return False
        return self._learn(raw, obj, plain)

    # --- what a chunk means --------------------------------------------------------------

    def apply(self, obj: Any, arrived_ns: int, out: list[Delta]) -> Delta | None:
        """Interpret one chunk object: append its deltas to `out` and accumulate them.

        Returns the chunk's one delta when the chunk is *plain* — its only effect was one
        text (content or reasoning) for one choice — so that it can serve as a template.
        Raises `_BadShape` for fields of the wrong type.
        """
        if type(obj) is not dict:
            raise _BadShape("not a JSON object")
        choices = obj.get("choices")
        if choices is not None and type(choices) is not list:
            raise _BadShape("`choices` is not a list")
        # Check every choice before recording anything, so a bad chunk adds nothing.
        deltas = (
            [d for ch in choices if (d := _choice(ch, arrived_ns)) is not None] if choices else []
        )
        if self.completion_id is None:
            self._first_chunk(obj)
        recorded = ("x_groq" in obj or "usage" in obj or "timings" in obj) and self._extras(obj)
        if not choices:
            if "error" in obj:
                raise self._stream_error(obj)
            return None
        carried = False
        for d in deltas:
            self._accumulate(d)
            out.append(d)
            carried = carried or bool(d.content or d.reasoning or d.tool_calls)
        if not carried:
            return None
        self.output_ns.append(arrived_ns)
        if recorded or len(deltas) != 1:
            return None
        d = deltas[0]
        if d.tool_calls or d.finish_reason or (d.content and d.reasoning):
            return None
        return d

    def _accumulate(self, d: Delta) -> None:
        index = d.index
        if d.content:
            texts = self._content.get(index)
            if texts is None:  # the choice's first answer text: its stamp is a metric
                texts = self._content[index] = []
                self.first_content_ns.setdefault(index, d.arrived_ns)
            texts.append(d.content)
        elif d.executed_tools:
            self._executed_tools(d.executed_tools, index)
        if d.reasoning:
            thoughts = self._reasoning.get(index)
            if thoughts is None:
                thoughts = self._reasoning[index] = []
                self.first_reasoning_ns.setdefault(index, d.arrived_ns)
            thoughts.append(d.reasoning)
        if d.tool_calls:
            for frag in d.tool_calls:
                ti, cid, kind, name, args = _fragment(frag)
                parts = self._tools.get((index, ti))
                if parts is None:
                    parts = self._tools[index, ti] = _ToolCallParts(ti)
                parts.add(cid, kind, name, args)
        if d.finish_reason:
            self.finish_reasons[index] = d.finish_reason

    def _executed_tools(self, items: list[dict[str, Any]], index: int) -> None:
        """Keep compound models' executed tools, merging later views of the same tool."""
        tools = self._executed.setdefault(index, {})
        for item in items:
            ti = item.get("index")
            key = ti if type(ti) is int else len(tools)
            known = tools.get(key)
            if known is None:
                tools[key] = ExecutedTool.from_dict(item)
            else:
                known.merge(item)

    def _first_chunk(self, obj: dict[str, Any]) -> None:
        cid = obj.get("id")
        self.completion_id = cid if isinstance(cid, str) else ""
        model = obj.get("model")
        self.model = model if isinstance(model, str) else None
        fp = obj.get("system_fingerprint")
        self.system_fingerprint = fp if isinstance(fp, str) else None

    def _extras(self, obj: dict[str, Any]) -> bool:
        """Pick up `x_groq` (id, usage), top-level `usage` and llama.cpp `timings`; True if
        usage or timings were recorded."""
        recorded = False
        xg = obj.get("x_groq")
        if isinstance(xg, dict):
            rid = xg.get("id")
            if isinstance(rid, str) and self.request_id is None:
                self.request_id = rid
            u = xg.get("usage")
            if isinstance(u, dict):
                self._xgroq_usage = u
                recorded = True
                ub = xg.get("usage_breakdown")  # compound models: usage per model
                if isinstance(ub, dict):
                    self.usage_breakdown = ub
        u = obj.get("usage")
        if isinstance(u, dict):
            self._usage = u
            recorded = True
        t = obj.get("timings")
        if isinstance(t, dict):
            self._timings = t
            recorded = True
        if recorded:
            self._usage_obj = None
        return recorded

    def _stream_error(self, data: Any) -> APIStatusError:
        payload = data
        if isinstance(data, (str, bytes)):
            try:
                payload = _loads(data)
            except _JSONDecodeError:
                payload = {"error": {"message": data}}
        err = error_from_payload(payload, in_stream=True)
        err.request_id = self.request_id
        return err

    def _learn(self, raw: bytes, obj: dict[str, Any], d: Delta) -> bool:
        """Try to learn the chunk template from a plain one-choice chunk (see `_fastpath`);
        True if a template was learned."""
        self._learn_budget -= 1
        if d.content:
            key, value = "content", d.content
        else:
            delta = obj["choices"][0]["delta"]
            key = "reasoning" if delta.get("reasoning") else "reasoning_content"
            value = d.reasoning or ""
        ignorable = {
            k: v for k, v in obj.items() if k not in READ_KEYS and type(v) in (str, int, float)
        }
        xg = obj.get("x_groq")
        if type(xg) is dict and type(xg.get("id")) is str and self.request_id is not None:
            ignorable["x_groq.id"] = xg["id"]  # read only while no request id is known
        tpl = _fastpath.learn(raw, key, value, d.index, ignorable, self._template)
        if tpl is None:
            return False
        self._template = tpl
        texts = self._content if tpl.content else self._reasoning
        self._tpl_texts = texts.setdefault(tpl.index, [])
        return True

    # --- results -------------------------------------------------------------------------

    @property
    def complete(self) -> bool:
        """True once the stream said it was finished (`[DONE]` or a finish reason)."""
        return self.done or bool(self.finish_reasons)

    def text(self, index: int = 0) -> str:
        """All content text received so far for a choice."""
        return "".join(self._content.get(index, ()))

    def reasoning(self, index: int = 0) -> str | None:
        """All reasoning text received so far for a choice, or None if there was none."""
        parts = self._reasoning.get(index)
        return "".join(parts) if parts else None

    def executed_tools(self, index: int = 0) -> list[ExecutedTool]:
        """The built-in tools a compound model ran for a choice, in their index order."""
        tools = self._executed.get(index)
        return [tools[k] for k in sorted(tools)] if tools else []

    def tool_calls(self, index: int = 0) -> list[ToolCall]:
        """The tool calls of a choice, assembled from their fragments, in tool index order."""
        calls = [p for (ci, _), p in self._tools.items() if ci == index]
        calls.sort(key=lambda p: p.index)
        return [p.call() for p in calls]

    @property
    def finish_reason(self) -> str | None:
        """The finish reason of choice 0 (or of any choice if 0 has none)."""
        fr = self.finish_reasons
        return fr.get(0) or next(iter(fr.values()), None)

    @property
    def usage(self) -> Usage | None:
        """Usage from `x_groq.usage` first, else the top-level `usage`, else None."""
        if self._usage_obj is None:
            self._usage_obj = _usage_of(self._xgroq_usage, self._usage, self._timings)
        return self._usage_obj


# --- non-streaming replies ---------------------------------------------------------------


def _message(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first choice of a reply and its message, shape-checked."""
    choices = obj.get("choices")
    if type(choices) is not list or not choices:
        raise _BadShape("without a `choices` list")
    choice = choices[0]
    if type(choice) is not dict:
        raise _BadShape("a choice is not an object")
    msg = choice.get("message")
    if msg is None:
        return choice, {}
    if type(msg) is not dict:
        raise _BadShape("`message` is not an object")
    return choice, msg


def _reply_tool_calls(msg: dict[str, Any]) -> list[ToolCall]:
    calls = msg.get("tool_calls")
    if calls is None:
        return []
    if type(calls) is not list:
        raise _BadShape("`tool_calls` is not a list")
    out = []
    for i, tc in enumerate(calls):
        parts = _ToolCallParts(i)
        parts.add(*_fragment(tc)[1:])
        out.append(parts.call())
    return out


def _reply_executed_tools(msg: dict[str, Any]) -> list[ExecutedTool]:
    """A compound reply's `message.executed_tools` (anything malformed is left out)."""
    items = msg.get("executed_tools")
    if type(items) is not list:
        return []
    return [ExecutedTool.from_dict(t) for t in items if type(t) is dict]


def _dict_or_none(v: Any) -> dict[str, Any] | None:
    return v if isinstance(v, dict) else None


def parse_completion(
    raw: bytes, *, header_id: str | None, e2el_s: float, attempts: int
) -> Completion:
    """Parse a non-streaming chat completion reply, with the stream's rules (reasoning field
    fallback, `x_groq.usage` before `usage`); an `{"error": ...}` body is its typed error."""
    try:
        obj = _loads(raw)
    except _JSONDecodeError:
        raise _malformed("not valid JSON", raw, "reply") from None
    if type(obj) is not dict:
        raise _malformed("not a JSON object", raw, "reply")
    if "error" in obj and not obj.get("choices"):
        raise error_from_payload(obj, request_id=header_id, in_stream=True)
    try:
        choice, msg = _message(obj)
        text = _text_field(msg, "content") or ""
        reasoning = _reasoning_of(msg)
        finish = _text_field(choice, "finish_reason")
        calls = _reply_tool_calls(msg)
    except _BadShape as e:
        raise _malformed(str(e), raw, "reply") from None
    xg = _dict_or_none(obj.get("x_groq")) or {}
    rid = xg.get("id")
    model = obj.get("model")
    return Completion(
        text=text,
        reasoning=reasoning,
        finish_reason=finish,
        usage=_usage_of(
            _dict_or_none(xg.get("usage")), _dict_or_none(obj.get("usage")), obj.get("timings")
        ),
        request_id=rid if isinstance(rid, str) and rid else header_id,
        model=model if isinstance(model, str) else None,
        e2el_s=e2el_s,
        tool_calls=calls,
        raw=obj,
        attempts=attempts,
        executed_tools=_reply_executed_tools(msg),
    )
