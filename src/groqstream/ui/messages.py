"""AI SDK `UIMessage`s (what `useChat` POSTs) → OpenAI/Groq chat messages. Sans-IO.

A `useChat` front end sends ``{"id", "messages": [UIMessage, ...], "trigger", ...}``; each
message has a `role` and `parts`. Text parts become the message content; an assistant's tool
parts become `tool_calls`, and their outputs `tool` messages; reasoning, files, sources and
step markers are not sent back to the model. Older clients' `content` strings are accepted too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ..errors import GroqStreamError

__all__ = ["InvalidUIMessage", "ui_messages_to_chat"]

_ROLES = frozenset({"system", "user", "assistant"})


class InvalidUIMessage(GroqStreamError, ValueError):
    """A `messages` entry that is not an AI SDK UIMessage."""


def ui_messages_to_chat(messages: Any) -> list[dict[str, Any]]:
    """Convert a `useChat` request's `messages` to chat-completion messages."""
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)) or not messages:
        raise InvalidUIMessage("`messages` must be a non-empty list of UI messages")
    out: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise InvalidUIMessage(f"messages[{i}] must be an object, got {type(m).__name__}")
        role = m.get("role")
        if role not in _ROLES:
            raise InvalidUIMessage(f"messages[{i}].role must be system, user or assistant")
        parts = m.get("parts")
        if parts is None and isinstance(m.get("content"), str):
            out.append({"role": role, "content": m["content"]})
            continue
        if not isinstance(parts, list):
            raise InvalidUIMessage(f"messages[{i}].parts must be a list")
        out.extend(_convert(role, parts, i))
    return out


def _convert(role: str, parts: list[Any], i: int) -> list[dict[str, Any]]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for j, p in enumerate(parts):
        if not isinstance(p, dict) or not isinstance(p.get("type"), str):
            raise InvalidUIMessage(f"messages[{i}].parts[{j}] must be an object with a type")
        kind = p["type"]
        if kind == "text":
            texts.append(str(p.get("text", "")))
        elif role == "assistant" and (kind.startswith("tool-") or kind == "dynamic-tool"):
            _tool_part(p, kind, calls, results)
    msg: dict[str, Any] = {"role": role, "content": "".join(texts)}
    if calls:
        msg["tool_calls"] = calls
    return [msg, *results]


def _tool_part(
    p: dict[str, Any], kind: str, calls: list[dict[str, Any]], results: list[dict[str, Any]]
) -> None:
    state = p.get("state")
    if state not in ("input-available", "output-available", "output-error"):
        return  # still streaming, or awaiting approval: not a call the model made yet
    name = p.get("toolName") if kind == "dynamic-tool" else kind[len("tool-") :]
    call_id = str(p.get("toolCallId", ""))
    args = orjson.dumps(p.get("input", {})).decode()
    calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": args}})
    if state == "output-available":
        output = orjson.dumps(p.get("output")).decode()
        results.append({"role": "tool", "tool_call_id": call_id, "content": output})
    elif state == "output-error":
        results.append(
            {"role": "tool", "tool_call_id": call_id, "content": str(p.get("errorText", ""))}
        )
