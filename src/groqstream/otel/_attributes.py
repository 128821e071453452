"""Request and response → semantic-convention attributes. Plain Python, no OpenTelemetry.

Only what the conventions (or `_names`) define is read from a request: model, sampling
parameters, the server's host and port. Message content is turned into attributes only by
`input_messages` / `output_messages`, which the observer calls only when the user opted in.
Headers are never seen here, so the API key cannot reach an attribute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson

from ..stream import ChatStream
from ..types import Completion, Route, ToolCall
from . import _names as n

__all__ = [
    "input_messages",
    "output_messages",
    "provider_for",
    "request_attributes",
    "response_attributes",
    "server_attributes",
    "server_of",
]

Attributes = dict[str, Any]

# Hosts of providers' OpenAI-compatible endpoints → their well-known `gen_ai.provider.name`.
_PROVIDERS: tuple[tuple[str, str], ...] = (
    ("groq.com", "groq"),
    ("api.openai.com", "openai"),
    ("openai.azure.com", "azure.ai.openai"),
    ("api.deepseek.com", "deepseek"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.x.ai", "x_ai"),
    ("api.perplexity.ai", "perplexity"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
    ("aiplatform.googleapis.com", "gcp.vertex_ai"),
    ("api.anthropic.com", "anthropic"),
    ("api.cohere.ai", "cohere"),
    ("api.cohere.com", "cohere"),
)
_DEFAULT_PROVIDER = "openai"  # the API flavour every other compatible server speaks


def provider_for(host: str) -> str:
    """`gen_ai.provider.name` for a server host: Groq's (and a few other providers') hosts
    by name, anything else (vLLM, Ollama, llama.cpp, a proxy, the simulator) `openai`."""
    host = host.lower().rstrip(".")
    for suffix, name in _PROVIDERS:
        if host == suffix or host.endswith("." + suffix):
            return name
    return _DEFAULT_PROVIDER


def server_of(base_url: str) -> tuple[str, int]:
    """(`server.address`, `server.port`) of a base URL; credentials and path are dropped."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return host, port


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _integer(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _stop_sequences(v: Any) -> list[str] | None:
    if isinstance(v, str):
        return [v]
    if isinstance(v, Sequence) and v and all(isinstance(x, str) for x in v):
        return list(v)
    return None


def _output_type(v: Any) -> str | None:
    kind = v.get("type") if isinstance(v, Mapping) else None
    if kind in ("json_object", "json_schema"):
        return "json"
    return "text" if kind == "text" else None


# Request parameters → span attributes: (body key, attribute, conversion).
_PARAMS: tuple[tuple[str, str, Any], ...] = (
    ("max_completion_tokens", n.REQUEST_MAX_TOKENS, _integer),
    ("max_tokens", n.REQUEST_MAX_TOKENS, _integer),
    ("temperature", n.REQUEST_TEMPERATURE, _number),
    ("top_p", n.REQUEST_TOP_P, _number),
    ("frequency_penalty", n.REQUEST_FREQUENCY_PENALTY, _number),
    ("presence_penalty", n.REQUEST_PRESENCE_PENALTY, _number),
    ("stop", n.REQUEST_STOP_SEQUENCES, _stop_sequences),
    ("seed", n.REQUEST_SEED, _integer),
    ("response_format", n.OUTPUT_TYPE, _output_type),
)


def server_attributes(base_url: str, provider: str | None) -> Attributes:
    """`gen_ai.provider.name`, `server.address` and `server.port` for a base URL."""
    host, port = server_of(base_url)
    return {
        n.PROVIDER_NAME: provider or provider_for(host),
        n.SERVER_ADDRESS: host,
        n.SERVER_PORT: port,
    }


def request_attributes(kind: str, body: Mapping[str, Any], server: Attributes) -> Attributes:
    """The span's start attributes (the metrics take theirs from these, see `metric_base`);
    `server` is what `server_attributes` gave for the request's base URL."""
    attrs: Attributes = {n.OPERATION_NAME: n.OPERATION_CHAT, **server}
    model = body.get("model")
    if isinstance(model, str):
        attrs[n.REQUEST_MODEL] = model
    if kind == "stream":
        attrs[n.REQUEST_STREAM] = True
    for key, attr, convert in _PARAMS:
        if key in body and attr not in attrs:
            value = convert(body[key])
            if value is not None:
                attrs[attr] = value
    choices = _integer(body.get("n"))
    if choices is not None and choices != 1:
        attrs[n.REQUEST_CHOICE_COUNT] = choices
    return attrs


def metric_base(start: Attributes) -> Attributes:
    """The attributes every metric carries, taken from the span's start attributes."""
    keys = (n.OPERATION_NAME, n.PROVIDER_NAME, n.REQUEST_MODEL, n.SERVER_ADDRESS, n.SERVER_PORT)
    return {k: start[k] for k in keys if k in start}


def route_attributes(route: Route, failed: bool = False) -> Attributes:
    """A Router's attempt as span attributes: endpoint, role, outcome, hedged, failovers and
    the endpoint's breaker state. `failed`: the attempt ended with an error before the router
    had booked its outcome."""
    return {
        n.ROUTER_ENDPOINT: route.endpoint,
        n.ROUTER_ROLE: route.role,
        n.ROUTER_OUTCOME: "failed" if failed and route.outcome == "pending" else route.outcome,
        n.ROUTER_HEDGED: route.hedged,
        n.ROUTER_FAILOVERS: route.failovers,
        n.ROUTER_BREAKER: route.breaker,
    }


def response_attributes(result: ChatStream | Completion) -> Attributes:
    """What the response says about itself: model, ids, finish reason, usage, server timings."""
    attrs: Attributes = {n.ATTEMPTS: result.attempts}
    usage = result.usage
    if isinstance(result, ChatStream):
        response_id = result.completion_id
    else:
        raw_id = result.raw.get("id")
        response_id = raw_id if isinstance(raw_id, str) else None
    pairs: tuple[tuple[str, Any], ...] = (
        (n.RESPONSE_MODEL, result.model),
        (n.RESPONSE_ID, response_id),
        (n.REQUEST_ID, result.request_id),
        (n.USAGE_INPUT_TOKENS, usage.prompt_tokens if usage else None),
        (n.USAGE_OUTPUT_TOKENS, usage.completion_tokens if usage else None),
        (n.USAGE_REASONING_OUTPUT_TOKENS, usage.reasoning_tokens if usage else None),
    )
    attrs.update((k, v) for k, v in pairs if v is not None)
    if result.finish_reason is not None:
        attrs[n.RESPONSE_FINISH_REASONS] = [result.finish_reason]
    if usage is not None:
        for field, _, attr in n.GROQ_TIMINGS:
            value = _number(usage.raw.get(field))
            if value is not None:
                attrs[attr] = value
        total = _number(usage.raw.get("total_time"))
        if total is not None:
            attrs[n.GROQ_TOTAL_TIME] = total
    return attrs


def groq_timings(raw_usage: Mapping[str, Any]) -> dict[str, float]:
    """The server timings Groq reports in `x_groq.usage`, in seconds, by usage field name
    (`queue_time`, `prompt_time`, `completion_time`); absent fields are left out."""
    out: dict[str, float] = {}
    for field, _, _ in n.GROQ_TIMINGS:
        v = _number(raw_usage.get(field))
        if v is not None:
            out[field] = v
    return out


# --- content (opt-in) ----------------------------------------------------------------------


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}] if content else []
    parts: list[dict[str, Any]] = []
    if isinstance(content, Sequence):
        for p in content:
            if not isinstance(p, Mapping):
                continue
            if p.get("type") == "text" and isinstance(p.get("text"), str):
                parts.append({"type": "text", "content": p["text"]})
            elif isinstance(p.get("type"), str):
                parts.append({"type": p["type"]})  # images, audio: kind only, never the data
    return parts


def _arguments(text: str) -> Any:
    try:
        return orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        return text


def _tool_request_parts(calls: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in calls if isinstance(calls, Sequence) else ():
        if isinstance(c, ToolCall):
            out.append(
                {
                    "type": "tool_call",
                    "id": c.id,
                    "name": c.name,
                    "arguments": _arguments(c.arguments),
                }
            )
            continue
        fn = c.get("function") if isinstance(c, Mapping) else None
        if isinstance(fn, Mapping):
            args = fn.get("arguments")
            out.append(
                {
                    "type": "tool_call",
                    "id": c.get("id"),
                    "name": fn.get("name"),
                    "arguments": _arguments(args) if isinstance(args, str) else args,
                }
            )
    return out


def input_messages(body: Mapping[str, Any]) -> str:
    """`gen_ai.input.messages`: the request's messages as the conventions' JSON schema has
    them (role + parts), serialized to a JSON string for the span."""
    messages = body.get("messages")
    out: list[dict[str, Any]] = []
    for m in messages if isinstance(messages, Sequence) else ():
        if not isinstance(m, Mapping):
            continue
        role = m.get("role")
        if role == "tool":
            parts = [
                {
                    "type": "tool_call_response",
                    "id": m.get("tool_call_id"),
                    "response": m.get("content"),
                }
            ]
        else:
            parts = _parts(m.get("content")) + _tool_request_parts(m.get("tool_calls"))
        out.append({"role": role, "parts": parts})
    return orjson.dumps(out).decode()


def output_messages(result: ChatStream | Completion) -> str:
    """`gen_ai.output.messages`: the (first choice's) reply as role + parts + finish reason,
    serialized to a JSON string; for a stream that did not finish, what it received."""
    parts: list[dict[str, Any]] = []
    if result.reasoning:
        parts.append({"type": "reasoning", "content": result.reasoning})
    if result.text:
        parts.append({"type": "text", "content": result.text})
    parts += _tool_request_parts(result.tool_calls)
    message: dict[str, Any] = {"role": "assistant", "parts": parts}
    if result.finish_reason is not None:
        message["finish_reason"] = result.finish_reason
    return orjson.dumps([message]).decode()
