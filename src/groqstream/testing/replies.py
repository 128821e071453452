"""`ReplyPlan`: what one simulated chat completion contains, and its bytes. No IO, no clock.

The plan fixes the reply before anything is sent: the reasoning, content or tool-call deltas
with their token counts, the finish reason, and the usage. `SimulatedServer` then decides
when each piece leaves (pacing) and what goes wrong (faults).

Reply length: with `max_completion_tokens` (or `max_tokens`) the reply has exactly that many
output tokens, reasoning included, and finishes with "length" — the simulated model always
has more to say, so the cap is what stops it, as a real model asked for a long answer. A
tool-call reply ends with "tool_calls" when the call fits under the cap, else it is cut at the
cap with "length". Without a cap the reply has `reasoning_tokens` + `output_tokens`.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from .compound import COMPOUND_MODELS, executed_tool_deltas, usage_breakdown
from .conversation import last_tool_results
from .dialects import Dialect
from .schema_values import sample
from .textgen import make_rng, words

__all__ = ["Pacing", "ReplyPlan", "requested_cap"]


def requested_cap(body: dict[str, Any]) -> int | None:
    """The request's output-token cap: `max_completion_tokens`, else `max_tokens`, else None."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


@dataclass(frozen=True, slots=True)
class Pacing:
    """The simulated timings a reply reports in its usage (seconds; tps <= 0 or inf: unpaced)."""

    ttft: float
    tokens_per_second: float
    tokens_per_chunk: int
    queue_time: float

    @property
    def step(self) -> float:
        """Seconds between chunks (0 when unpaced)."""
        tps = self.tokens_per_second
        return self.tokens_per_chunk / tps if 0 < tps < float("inf") else 0.0


def _schema_in_prompt(body: dict[str, Any]) -> dict[str, Any] | None:
    """JSON mode: a JSON Schema written into a system message, which the simulated model then
    follows (as a real one, told so, tries to)."""
    for m in body.get("messages") or ():
        content = m.get("content") if isinstance(m, dict) else None
        if m.get("role") == "system" and isinstance(content, str) and "{" in content:
            try:
                schema = orjson.loads(content[content.index("{") :])
            except orjson.JSONDecodeError:
                continue
            if isinstance(schema, dict) and "properties" in schema:
                return schema
    return None


class ReplyPlan:
    """The deltas, finish reason and identity of one reply, fixed up front."""

    def __init__(
        self,
        body: dict[str, Any],
        rid: str,
        *,
        dialect: Dialect,
        output_tokens: int,
        reasoning_tokens: int,
        reasoning_models: frozenset[str],
        tokens_per_chunk: int,
        seed: int,
    ) -> None:
        self.dialect = dialect
        self.model = str(body.get("model"))
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        prompt = ""
        for m in messages:
            if m.get("role") == "user":
                prompt = str(m.get("content"))
        self.prompt_tokens = sum(len(str(m.get("content", "")).split()) + 4 for m in messages)
        self.tpc = max(1, tokens_per_chunk)
        self.deltas: list[tuple[dict[str, Any], int]] = []  # (delta, tokens)
        rng = make_rng(self.model, prompt, seed, body.get("seed"))
        cap = requested_cap(body)
        reasoning_n = reasoning_tokens if self._reasons(body, reasoning_models) else 0
        if cap is not None:
            reasoning_n = min(reasoning_n, cap)
        self.compound = self.model in COMPOUND_MODELS and dialect.x_groq
        if self.compound:
            self.deltas.extend((d, 1) for d in executed_tool_deltas(prompt, rng))
        raw = body.get("reasoning_format") == "raw"
        self.reasoning_n = reasoning_n
        reasoning = (
            words(rng, reasoning_n, prefix=("Let", "me", "think", "about", "this."))
            if reasoning_n
            else []
        )
        if reasoning and not raw:
            self._add_text(str(dialect.reasoning_field), reasoning)
        tools = body.get("tools")
        results = last_tool_results(messages)
        choice = body.get("tool_choice")
        calls_tools = choice == "required" or (choice != "none" and results is None)
        if tools and calls_tools and isinstance(tools, list):
            self._tool_deltas(tools, body, prompt, rng, cap, reasoning_n)
        else:
            n = output_tokens if cap is None else cap - reasoning_n
            answer = self._answer(body, results, rng, n)
            if raw and reasoning:  # Groq's `raw`: the reasoning inside <think> in the content
                answer = ["<think>", *reasoning, "</think>", *answer]
            room = None if cap is None else cap - (0 if raw else reasoning_n)
            if room is not None and len(answer) >= room:
                answer = answer[:room]
                self.finish = "length"
            else:
                self.finish = "stop"
            self._add_text("content", answer)
        self.completion_tokens = sum(t for _, t in self.deltas)
        so = body.get("stream_options")
        self.include_usage = isinstance(so, dict) and bool(so.get("include_usage"))
        self.rid = rid
        self.cid = "chatcmpl-" + uuid.uuid4().hex[:24]
        self.created = int(time.time())

    def _reasons(self, body: dict[str, Any], reasoning_models: frozenset[str]) -> bool:
        return (
            self.dialect.reasoning_field is not None
            and self.model in reasoning_models
            and body.get("reasoning_format") != "hidden"
            and body.get("include_reasoning", True) is not False
            and body.get("reasoning_effort") != "none"
        )

    def _answer(
        self, body: dict[str, Any], results: list[str] | None, rng: Any, n: int
    ) -> list[str]:
        """The answer's tokens: JSON for a JSON response format, a reply built on the tool
        results when the conversation ends with them, else prose."""
        fmt = body.get("response_format")
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind in ("json_object", "json_schema"):
            spec = fmt.get("json_schema") if isinstance(fmt, dict) else None
            schema = spec.get("schema") if isinstance(spec, dict) else _schema_in_prompt(body)
            vocab = [w.strip(" .") for w in words(rng, 24)]
            value = sample(schema or {"type": "object", "properties": {"answer": {}}}, rng, vocab)
            text = orjson.dumps(value).decode()
            return [text[i : i + 4] for i in range(0, len(text), 4)]
        if results:
            told = " ".join(r.replace("\n", " ")[:200] for r in results)
            head = f"From the tool results ({told}): "
            return [head, *words(rng, max(0, n - 1))]
        return words(rng, n)

    def _add_text(self, key: str, tokens: list[str]) -> None:
        for i in range(0, len(tokens), self.tpc):
            part = tokens[i : i + self.tpc]
            self.deltas.append(({key: "".join(part)}, len(part)))

    def _tool_deltas(
        self,
        tools: list[Any],
        body: dict[str, Any],
        prompt: str,
        rng: Any,
        cap: int | None,
        reasoning_n: int,
    ) -> None:
        count = 2 if body.get("parallel_tool_calls") and len(tools) >= 2 else 1
        pieces: list[list[str]] = []
        calls: list[tuple[dict[str, Any], int]] = []
        for ti in range(count):
            fn = (tools[ti] or {}).get("function") or {}
            params = fn.get("parameters") or {}
            if not isinstance(params.get("properties"), dict) or not params["properties"]:
                params = {"type": "object", "properties": {"input": {"type": "string"}}}
            prompt_words = [w.strip("?.,!") for w in prompt.split()] or ["value"]
            arg_text = orjson.dumps(sample(params, rng, prompt_words)).decode()
            head = {
                "index": ti,
                "id": "call_" + secrets.token_hex(6),
                "type": "function",
                "function": {"name": str(fn.get("name", "tool")), "arguments": ""},
            }
            calls.append(({"tool_calls": [head]}, 1))
            pieces.append([arg_text[i : i + 8] for i in range(0, len(arg_text), 8)])
        for i in range(max(len(p) for p in pieces)):
            for ti, frags in enumerate(pieces):
                if i < len(frags):
                    frag = {"index": ti, "function": {"arguments": frags[i]}}
                    calls.append(({"tool_calls": [frag]}, 1))
        self.finish = "tool_calls"
        fits = cap is None or reasoning_n + len(calls) <= cap
        if self.dialect.whole_tool_calls and fits:  # Groq: one delta per call, all of it
            whole = []
            for (head_delta, n), frags in zip(calls[:count], pieces, strict=True):
                (head,) = head_delta["tool_calls"]
                call = {**head, "function": {**head["function"], "arguments": "".join(frags)}}
                whole.append(({"tool_calls": [call]}, n + len(frags)))
            calls = whole
        elif cap is not None and reasoning_n + len(calls) > cap:
            calls = calls[: cap - reasoning_n]
            self.finish = "length"
        self.deltas.extend(calls)

    def full_text(self, key: str) -> str:
        """All of one delta field (`content` or the reasoning field) joined."""
        return "".join(str(dl.get(key, "")) for dl, _ in self.deltas)

    # --- bytes ---------------------------------------------------------------------------

    def _head(self) -> dict[str, Any]:
        """The fields every chunk of this reply starts with, in wire order."""
        return {
            "id": self.cid,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_" + self.cid[-10:],
        }

    def affixes(self) -> tuple[bytes, bytes]:
        """The bytes before and after a delta's JSON in a `data:` line of this reply."""
        prefix = b"data: " + orjson.dumps(self._head())[:-1] + b',"choices":[{"index":0,"delta":'
        return prefix, b',"logprobs":null,"finish_reason":null}]}\n\n'

    def chunk(
        self,
        delta: dict[str, Any] | None,
        finish: str | None,
        choices: list[Any] | None = None,
        **extra: Any,
    ) -> bytes:
        """One whole `data:` event of this reply."""
        obj = self._head()
        obj["choices"] = (
            choices
            if choices is not None
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        )
        obj.update({k: v for k, v in extra.items() if v is not None})
        return b"data: " + orjson.dumps(obj) + b"\n\n"

    def role_chunk(self) -> bytes:
        """The first event: the assistant role (and Groq's `x_groq.id`)."""
        d = self.dialect
        role: dict[str, Any] = {"role": "assistant", "content": None if d.role_content_null else ""}
        return self.chunk(role, None, x_groq={"id": self.rid} if d.x_groq else None)

    def usage(self, pacing: Pacing) -> dict[str, Any]:
        """Groq-style usage whose timings are the simulated ones: the first token after
        `ttft` (prompt time is part of it), then one chunk every tokens_per_chunk/tps."""
        completion_time = max(0, len(self.deltas) - 1) * pacing.step
        prompt_time = min(pacing.ttft, self.prompt_tokens / 50_000)
        extra: dict[str, Any] = {}
        if self.reasoning_n:
            extra["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_n}
        return {
            **extra,
            "queue_time": pacing.queue_time,
            "prompt_tokens": self.prompt_tokens,
            "prompt_time": prompt_time,
            "completion_tokens": self.completion_tokens,
            "completion_time": completion_time,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "total_time": pacing.queue_time + pacing.ttft + completion_time,
        }

    def final_chunks(self, pacing: Pacing) -> bytes:
        """The finish event, the usage event (when asked for) and `[DONE]`."""
        d = self.dialect
        usage = self.usage(pacing)
        x_groq: dict[str, Any] | None = {"id": self.rid, "usage": usage} if d.x_groq else None
        if x_groq is not None and self.compound:
            x_groq["usage_breakdown"] = usage_breakdown(usage)
        timings = None
        if d.timings:
            timings = {
                "prompt_n": self.prompt_tokens,
                "prompt_ms": usage["prompt_time"] * 1000,
                "predicted_n": self.completion_tokens,
                "predicted_ms": usage["completion_time"] * 1000,
                "predicted_per_second": pacing.tokens_per_second,
            }
        out = [self.chunk({}, self.finish, x_groq=x_groq, timings=timings)]
        if self.include_usage or d.always_usage:
            choices: list[Any] = []
            if d.usage_style == "empty_delta":
                choices = [{"index": 0, "delta": {}, "finish_reason": None}]
            out.append(self.chunk(None, None, choices=choices, usage=usage))
        if d.send_done:
            out.append(b"data: [DONE]\n\n")
        return b"".join(out)

    def _tool_calls(self) -> list[dict[str, Any]]:
        calls: dict[int, dict[str, Any]] = {}
        for dl, _ in self.deltas:
            for tc in dl.get("tool_calls", ()):
                cur = calls.setdefault(
                    tc["index"],
                    {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
                )
                cur["id"] = tc.get("id") or cur["id"]
                fn = tc.get("function", {})
                cur["function"]["name"] += fn.get("name", "")
                cur["function"]["arguments"] += fn.get("arguments", "")
        return [calls[i] for i in sorted(calls)]

    def completion(self, pacing: Pacing) -> bytes:
        """The whole non-streaming reply body (`chat.completion`)."""
        message: dict[str, Any] = {"role": "assistant", "content": self.full_text("content")}
        rf = self.dialect.reasoning_field
        if rf and any(rf in dl for dl, _ in self.deltas):
            message[rf] = self.full_text(rf)
        calls = self._tool_calls()
        if calls:
            message["tool_calls"] = calls
            message["content"] = None
        executed = {t["index"]: t for dl, _ in self.deltas for t in dl.get("executed_tools", ())}
        if executed:
            message["executed_tools"] = [executed[i] for i in sorted(executed)]
        obj: dict[str, Any] = {
            "id": self.cid,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": self.finish}
            ],
            "usage": self.usage(pacing),
            "usage_breakdown": usage_breakdown(self.usage(pacing)) if self.compound else None,
            "system_fingerprint": "fp_" + self.cid[-10:],
        }
        if self.dialect.x_groq:
            obj["x_groq"] = {"id": self.rid}
        return orjson.dumps(obj)
