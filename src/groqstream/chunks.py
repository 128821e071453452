"""Sans-IO chunk assembly: SSE events in, `Delta`s out, the final completion accumulated.

`ChunkAssembler` knows the OpenAI `chat.completion.chunk` format and the dialects of Groq,
vLLM, llama.cpp, Ollama and OpenAI. It never touches a socket or a clock: the caller passes
the arrival timestamp of the read that brought each batch of events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from .errors import APIStatusError, GroqStreamError, MalformedChunkError, status_error_class
from .sse import ServerSentEvent
from .types import Delta, ToolCall, Usage

__all__ = ["ChunkAssembler", "error_from_payload", "status_for_error_type"]


def _malformed(why: str, data: str | bytes) -> MalformedChunkError:
    line = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return MalformedChunkError(f"stream chunk is {why}: {line[:200]!r}", line=line)


_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError

# Substrings of an error's `type`/`code` and the HTTP status they stand for, in priority order.
_ERROR_STATUS: tuple[tuple[str, int], ...] = (
    ("rate_limit", 429),
    ("overloaded", 503),
    ("unavailable", 503),
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
        message = str(err.get("message") or err.get("detail") or "error")
        t, c = err.get("type"), err.get("code")
        error_type = str(t) if t is not None else None
        code = str(c) if c is not None else None
        if status is None:
            s = err.get("status_code", err.get("status"))
            if isinstance(s, int) and 400 <= s <= 599:
                status = s
    else:
        message = str(err) if err else "error"
    if status is None:
        status = status_for_error_type(error_type, code)
    cls = status_error_class(status)
    return cls(
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


class _ToolCallParts:
    """Fragments of one tool call being assembled."""

    __slots__ = ("args", "id", "index", "name", "type")

    def __init__(self, index: int) -> None:
        self.index = index
        self.id = ""
        self.type = "function"
        self.name = ""
        self.args: list[str] = []


# How many times one stream may try to learn a chunk template: streams whose chunks differ
# in more than the text (OpenAI's per-chunk `obfuscation`) stop paying for the attempts.
_LEARN_BUDGET = 8


class _Template:
    """The bytes around the text of a plain one-choice chunk, learned from one such chunk.

    Later chunks that are exactly `prefix + JSON string + suffix` are the same object with
    another text, so only the string needs parsing. `content` says whether that text is
    content (True) or reasoning (False); `index` is the choice.
    """

    __slots__ = ("content", "index", "prefix", "prefix_len", "suffix", "suffix_len")

    def __init__(self, prefix: bytes, suffix: bytes, content: bool, index: int) -> None:
        self.prefix = prefix
        self.suffix = suffix
        self.prefix_len = len(prefix)
        self.suffix_len = len(suffix)
        self.content = content
        self.index = index


def _learn_template(raw: bytes, key: bytes, value: str, index: int) -> _Template | None:
    """A template from a chunk whose only output is `value` under `key`, if one is safe.

    The key must occur once in the raw bytes, written compactly (`"key":"`), and the JSON
    string after it must decode to `value`; then everything else in the chunk is fixed bytes.
    """
    if raw.count(key) != 1:
        return None
    start = raw.find(key + b':"')
    if start < 0:
        return None
    start += len(key) + 1  # the opening quote of the value
    end = start
    while True:
        end = raw.find(b'"', end + 1)
        if end < 0:
            return None
        slashes = 0
        while raw[end - 1 - slashes] == 0x5C:  # backslash
            slashes += 1
        if not slashes & 1:
            break
    try:
        if _loads(raw[start : end + 1]) != value:
            return None
    except _JSONDecodeError:
        return None
    return _Template(raw[: start + 1], raw[end:], key == b'"content"', index)


class ChunkAssembler:
    """Turns decoded SSE events into `Delta`s and accumulates the whole completion.

    Feed it with `feed(events, arrived_ns)`. After the stream, read `text`, `reasoning`,
    `tool_calls`, `finish_reason`, `usage`, `request_id`; `output_ns` holds the arrival
    stamp of every chunk that carried output (content, reasoning or tool-call text), which
    is what the latency metrics are computed from.
    """

    __slots__ = (
        "_content",
        "_learn_budget",
        "_reasoning",
        "_template",
        "_timings",
        "_tools",
        "_usage",
        "_usage_obj",
        "_xgroq_usage",
        "chunks",
        "completion_id",
        "done",
        "error",
        "finish_reasons",
        "model",
        "output_ns",
        "request_id",
        "system_fingerprint",
    )

    def __init__(self) -> None:
        self.done = False  # `[DONE]` seen
        self.error: MalformedChunkError | APIStatusError | None = None
        self.chunks = 0  # JSON chunks parsed
        self.output_ns: list[int] = []
        self.finish_reasons: dict[int, str] = {}
        self.request_id: str | None = None
        self.completion_id: str | None = None
        self.model: str | None = None
        self.system_fingerprint: str | None = None
        self._content: dict[int, list[str]] = {0: []}
        self._reasoning: dict[int, list[str]] = {}
        self._tools: dict[tuple[int, int], _ToolCallParts] = {}
        self._usage: dict[str, Any] | None = None
        self._xgroq_usage: dict[str, Any] | None = None
        self._timings: dict[str, Any] | None = None
        self._usage_obj: Usage | None = None
        self._template: _Template | None = None
        self._learn_budget = _LEARN_BUDGET

    # --- the hot path --------------------------------------------------------------------

    def feed(self, events: Sequence[ServerSentEvent | bytes], arrived_ns: int) -> list[Delta]:
        """Process the events of one network read; return the deltas they carry.

        An item may be a `ServerSentEvent` or, from `SSEDecoder.feed_payloads`, the raw bytes
        of a plain `data:` event. Data that is not a JSON object (`MalformedChunkError`) or an
        error object sent inside the stream (the typed `APIStatusError`) stops processing: the
        error is stored in `error`, and the deltas before it are still returned.
        """
        out: list[Delta] = []
        try:
            self._feed(events, arrived_ns, out)
        except (MalformedChunkError, APIStatusError) as e:
            self.error = e
        return out

    def _feed(
        self, events: Sequence[ServerSentEvent | bytes], arrived_ns: int, out: list[Delta]
    ) -> None:
        tpl = self._template
        if tpl is not None:
            n = self._template_run(tpl, events, arrived_ns, out)
            if n == len(events):
                return
            if n:
                events = events[n:]
        objs, raws, error = self._parse(events)
        try:
            self._apply(objs, raws, arrived_ns, out)
        finally:
            self.chunks += len(objs)
        if error is not None:
            if error.request_id is None:
                error.request_id = self.request_id  # known only once the chunks are applied
            raise error

    def _template_run(
        self,
        tpl: _Template,
        events: Sequence[ServerSentEvent | bytes],
        arrived_ns: int,
        out: list[Delta],
    ) -> int:
        """Apply the leading events that match the learned template; return how many.

        Each match costs two bytes comparisons and one `orjson.loads` of the text's JSON
        string, instead of parsing and walking the whole chunk object.
        """
        prefix, suffix = tpl.prefix, tpl.suffix
        lo, cut = tpl.prefix_len - 1, tpl.suffix_len - 1
        index = tpl.index
        if tpl.content:
            parts = self._content.setdefault(index, [])
        else:
            parts = self._reasoning.setdefault(index, [])
        is_content = tpl.content
        out_append = out.append
        ns_append = self.output_ns.append
        parts_append = parts.append
        n = 0
        try:
            for p in events:
                if not (p.startswith(prefix) and p.endswith(suffix)):  # type: ignore[union-attr]
                    break
                text = _loads(p[lo : len(p) - cut])  # type: ignore[index,arg-type]
                n += 1
                if text:
                    parts_append(text)
                    if is_content:
                        out_append(Delta(text, None, None, None, index, arrived_ns))
                    else:
                        out_append(Delta("", text, None, None, index, arrived_ns))
                    ns_append(arrived_ns)
        except (AttributeError, _JSONDecodeError):
            pass  # an event object or a text that is not one JSON string: the general path
        self.chunks += n
        return n

    def _parse(
        self, events: Sequence[ServerSentEvent | bytes]
    ) -> tuple[list[Any], Sequence[Any], GroqStreamError | None]:
        """Parse a read's events into chunk objects, stopping at the first bad one.

        The common case, plain `data:` payloads, is parsed with one `orjson.loads` of a
        JSON array built from them: half the per-chunk cost of one call each. Anything
        unusual (an event object, `[DONE]` before the end, bad JSON) takes the careful path.
        """
        body = events
        done = False
        last = events[-1] if events else None
        if type(last) is bytes and last == b"[DONE]":
            body = events[:-1]
            done = True
        if len(body) > 1:
            try:
                objs = _loads(b"[" + b",".join(body) + b"]")  # type: ignore[arg-type]
            except (TypeError, _JSONDecodeError):
                objs = None
            if objs is not None and len(objs) == len(body):
                self.done = self.done or done
                return objs, body, None
        elif len(body) == 1 and type(body[0]) is bytes:
            try:
                objs = [_loads(body[0])]
            except _JSONDecodeError:
                objs = None
            if objs is not None:
                self.done = self.done or done
                return objs, body, None
        objs = []
        raws: list[str | bytes] = []
        for ev in events:
            if type(ev) is bytes:
                data: str | bytes = ev
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
                continue
            try:
                objs.append(_loads(data))
            except _JSONDecodeError:
                return objs, raws, _malformed("not valid JSON", data)
            raws.append(data)
        return objs, raws, None

    def _apply(
        self, objs: list[Any], raws: Sequence[Any], arrived_ns: int, out: list[Delta]
    ) -> None:
        """Turn parsed chunk objects into deltas and accumulate them."""
        content_parts = self._content
        parts0 = content_parts[0]
        out_append = out.append
        ns_append = self.output_ns.append
        for i, obj in enumerate(objs):
            if type(obj) is not dict:
                raise _malformed("not a JSON object", raws[i])
            if self.completion_id is None:
                self._first_chunk(obj)
            choices = obj.get("choices")
            if not choices:
                if "error" in obj:
                    raise self._stream_error(obj)
                self._extras(obj)
                continue
            plain = True
            if "x_groq" in obj or "usage" in obj or "timings" in obj:
                self._extras(obj)
                plain = False
            if len(choices) == 1:
                ch = choices[0]
                delta = ch.get("delta")
                if delta and len(delta) == 1 and ch.get("finish_reason") is None:
                    content = delta.get("content")
                    if content:  # the common case: one choice, content only
                        index = ch.get("index") or 0
                        if index:
                            content_parts.setdefault(index, []).append(content)
                        else:
                            parts0.append(content)
                        out_append(Delta(content, None, None, None, index, arrived_ns))
                        ns_append(arrived_ns)
                        if plain and self._learn_budget:
                            self._learn(raws[i], b'"content"', content, index)
                        continue
                    if plain and self._learn_budget and type(delta.get("reasoning")) is str:
                        self._learn(raws[i], b'"reasoning"', delta["reasoning"], ch.get("index"))
            if self._choices(choices, arrived_ns, out):
                ns_append(arrived_ns)

    def _learn(self, raw: Any, key: bytes, value: str, index: Any) -> None:
        """Try to learn the chunk template from a plain one-choice chunk (see `_Template`)."""
        self._learn_budget -= 1
        if type(raw) is bytes and value and (index is None or type(index) is int):
            tpl = _learn_template(raw, key, value, index or 0)
            if tpl is not None:
                self._template = tpl

    def _choices(self, choices: list[dict[str, Any]], arrived_ns: int, out: list[Delta]) -> bool:
        """The general path for a chunk's choices; True if any carried output."""
        carried = False
        for ch in choices:
            delta = ch.get("delta")
            finish = ch.get("finish_reason")
            if delta:
                content = delta.get("content") or ""
                reasoning = delta.get("reasoning")
                if reasoning is None:
                    reasoning = delta.get("reasoning_content")
                tool_calls = delta.get("tool_calls")
            elif finish is None:
                continue
            else:
                content, reasoning, tool_calls = "", None, None
            if not (content or reasoning or tool_calls or finish):
                continue  # role-only or empty chunk: nothing for the user
            index = ch.get("index") or 0
            if content:
                self._content.setdefault(index, []).append(content)
                carried = True
            if reasoning:
                self._reasoning.setdefault(index, []).append(reasoning)
                carried = True
            else:
                reasoning = None
            if tool_calls:
                self._tool_fragments(index, tool_calls)
                carried = True
            if finish:
                self.finish_reasons[index] = finish
            out.append(Delta(content, reasoning, tool_calls, finish, index, arrived_ns))
        return carried

    # --- rarer paths ---------------------------------------------------------------------

    def _first_chunk(self, obj: dict[str, Any]) -> None:
        cid = obj.get("id")
        self.completion_id = cid if isinstance(cid, str) else ""
        model = obj.get("model")
        self.model = model if isinstance(model, str) else None
        fp = obj.get("system_fingerprint")
        self.system_fingerprint = fp if isinstance(fp, str) else None

    def _extras(self, obj: dict[str, Any]) -> None:
        """Pick up `x_groq` (id, usage), top-level `usage` and llama.cpp `timings`."""
        xg = obj.get("x_groq")
        if isinstance(xg, dict):
            rid = xg.get("id")
            if isinstance(rid, str) and self.request_id is None:
                self.request_id = rid
            u = xg.get("usage")
            if isinstance(u, dict):
                self._xgroq_usage = u
                self._usage_obj = None
        u = obj.get("usage")
        if isinstance(u, dict):
            self._usage = u
            self._usage_obj = None
        t = obj.get("timings")
        if isinstance(t, dict):
            self._timings = t
            self._usage_obj = None

    def _tool_fragments(self, index: int, fragments: list[dict[str, Any]]) -> None:
        for frag in fragments:
            ti = frag.get("index", 0)
            key = (index, ti if isinstance(ti, int) else 0)
            parts = self._tools.get(key)
            if parts is None:
                parts = self._tools[key] = _ToolCallParts(key[1])
            if frag.get("id"):
                parts.id = str(frag["id"])
            if frag.get("type"):
                parts.type = str(frag["type"])
            fn = frag.get("function")
            if isinstance(fn, dict):
                if fn.get("name"):
                    parts.name += str(fn["name"])
                if fn.get("arguments"):
                    parts.args.append(str(fn["arguments"]))

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

    def tool_calls(self, index: int = 0) -> list[ToolCall]:
        """The tool calls of a choice, assembled from their fragments, in tool index order."""
        calls = [p for (ci, _), p in self._tools.items() if ci == index]
        calls.sort(key=lambda p: p.index)
        return [ToolCall(p.id, p.name, "".join(p.args), p.type, p.index) for p in calls]

    @property
    def finish_reason(self) -> str | None:
        """The finish reason of choice 0 (or of any choice if 0 has none)."""
        fr = self.finish_reasons
        return fr.get(0) or next(iter(fr.values()), None)

    @property
    def usage(self) -> Usage | None:
        """Usage from `x_groq.usage` first, else the top-level `usage`, else None."""
        if self._usage_obj is None:
            raw = self._xgroq_usage or self._usage
            if raw is None and self._timings is None:
                return None
            self._usage_obj = Usage.from_dict(raw or {}, self._timings)
        return self._usage_obj
