"""`Dialect`: how one OpenAI-compatible server family shapes its stream."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DIALECTS", "Dialect"]


@dataclass(frozen=True, slots=True)
class Dialect:
    """The quirks of one server family's streaming replies.

    - `reasoning_field`: delta key for reasoning text (None: the server emits no reasoning).
    - `x_groq`: Groq's `x_groq` object (id first, usage with timings last).
    - `role_content_null`: the role chunk carries `"content": null` rather than `""`.
    - `usage_style`: the include_usage chunk has `"choices": []` ("empty_choices") or one
      empty delta ("empty_delta").
    - `always_usage`: send the usage chunk even without `stream_options.include_usage`.
    - `timings`: llama.cpp's `timings` object in the last chunk.
    - `ping_interval`: seconds between `: ping` comments while streaming (None: never).
    - `send_done`: end with `data: [DONE]`.
    - `request_id_header`, `rate_limit_headers`: send `x-request-id` / `x-ratelimit-*`.
    - `whole_tool_calls`: each tool call in one delta (id, name and all its arguments), as Groq
      streams them; otherwise the arguments come in fragments after a head, as OpenAI's do.
    """

    name: str
    reasoning_field: str | None = "reasoning"
    x_groq: bool = False
    role_content_null: bool = False
    usage_style: str = "empty_choices"
    always_usage: bool = False
    timings: bool = False
    ping_interval: float | None = None
    send_done: bool = True
    request_id_header: bool = False
    rate_limit_headers: bool = False
    whole_tool_calls: bool = False


DIALECTS: dict[str, Dialect] = {
    "groq": Dialect(
        "groq",
        "reasoning",
        x_groq=True,
        request_id_header=True,
        rate_limit_headers=True,
        whole_tool_calls=True,
    ),
    "openai": Dialect("openai", None, request_id_header=True),
    "vllm": Dialect("vllm", "reasoning_content"),
    "llamacpp": Dialect(
        "llamacpp",
        "reasoning_content",
        role_content_null=True,
        usage_style="empty_delta",
        always_usage=True,
        timings=True,
    ),
    "ollama": Dialect("ollama", "reasoning", always_usage=True),
}
"""Presets by name: groq, openai, vllm, llamacpp, ollama."""
