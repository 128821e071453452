"""Tool conversations as Groq checks and answers them: the `tools`, `tool_choice`, assistant
`tool_calls` and `tool` messages of a request, and the reasoning / structured-output options.

Pure functions over the parsed body. Groq refuses a `tool` message whose `tool_call_id` no
earlier assistant message called, a tool without a function name, `reasoning_format` together
with `include_reasoning`, and unknown `reasoning_format` / `reasoning_effort` /
`response_format` values — each with its 400 `invalid_request_error`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .validation import Rejection

__all__ = ["check_conversation", "last_tool_results"]

_REASONING_FORMATS = ("hidden", "raw", "parsed")
_REASONING_EFFORTS = ("none", "default", "low", "medium", "high")
_RESPONSE_FORMATS = ("text", "json_object", "json_schema")


def _bad(param: str, problem: str) -> Rejection:
    return Rejection(400, f"'{param}' : {problem}", param=param)


def _check_tools(body: Mapping[str, Any]) -> Rejection | None:
    tools = body.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list):
        return _bad("tools", "value must be an array")
    for i, t in enumerate(tools):
        fn = t.get("function") if isinstance(t, dict) else None
        if not isinstance(t, dict) or t.get("type") != "function" or not isinstance(fn, dict):
            return _bad(f"tools.{i}", "value must be a function tool object")
        if not isinstance(fn.get("name"), str) or not fn["name"]:
            return _bad(f"tools.{i}.function.name", "property 'name' is missing")
        params = fn.get("parameters")
        if params is not None and not isinstance(params, dict):
            return _bad(f"tools.{i}.function.parameters", "value must be an object")
    return None


def _check_tool_calls(i: int, calls: Any, known: set[str]) -> Rejection | None:
    if not isinstance(calls, list):
        return _bad(f"messages.{i}.tool_calls", "value must be an array")
    for j, c in enumerate(calls):
        where = f"messages.{i}.tool_calls.{j}"
        fn = c.get("function") if isinstance(c, dict) else None
        if not isinstance(c, dict) or not isinstance(c.get("id"), str) or not c["id"]:
            return _bad(f"{where}.id", "property 'id' is missing")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            return _bad(f"{where}.function.name", "property 'name' is missing")
        if not isinstance(fn.get("arguments"), str):
            return _bad(f"{where}.function.arguments", "value must be a string")
        known.add(c["id"])
    return None


def _check_messages(messages: list[Any]) -> Rejection | None:
    called: set[str] = set()
    for i, m in enumerate(messages):
        role = m.get("role")
        if role == "assistant" and m.get("tool_calls") is not None:
            problem = _check_tool_calls(i, m["tool_calls"], called)
            if problem is not None:
                return problem
        elif role == "tool":
            cid = m.get("tool_call_id")
            if not isinstance(cid, str) or not cid:
                return _bad(
                    f"messages.{i}",
                    "for 'role:tool' the following must be satisfied"
                    f"[('messages.{i}.tool_call_id' : property 'tool_call_id' is missing)]",
                )
            if cid not in called:
                return Rejection(
                    400,
                    f"'messages.{i}.tool_call_id' : no assistant message before it has a tool "
                    f"call with id '{cid}'",
                    param=f"messages.{i}.tool_call_id",
                )
            if not isinstance(m.get("content"), (str, list)):
                return _bad(f"messages.{i}.content", "property 'content' is missing")
    return None


def _check_options(body: Mapping[str, Any]) -> Rejection | None:
    rf = body.get("reasoning_format")
    if rf is not None and rf not in _REASONING_FORMATS:
        return _bad("reasoning_format", f"value must be one of {list(_REASONING_FORMATS)}")
    if rf is not None and body.get("include_reasoning") is not None:
        return Rejection(
            400,
            "`include_reasoning` and `reasoning_format` are mutually exclusive",
            param="reasoning_format",
        )
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in _REASONING_EFFORTS:
        return _bad("reasoning_effort", f"value must be one of {list(_REASONING_EFFORTS)}")
    fmt = body.get("response_format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") not in _RESPONSE_FORMATS:
        return _bad("response_format.type", f"value must be one of {list(_RESPONSE_FORMATS)}")
    if fmt["type"] == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            return _bad("response_format.json_schema.name", "property 'name' is missing")
        if not isinstance(spec.get("schema", {}), dict):
            return _bad("response_format.json_schema.schema", "value must be an object")
    return None


def check_conversation(body: Mapping[str, Any]) -> Rejection | None:
    """The first reason Groq would refuse this request's tools, tool messages or reasoning /
    response-format options, or None (run after the basic shape checks)."""
    return _check_tools(body) or _check_messages(body["messages"]) or _check_options(body)


def last_tool_results(messages: list[dict[str, Any]]) -> list[str] | None:
    """The contents of the `tool` messages that end the conversation (the results the model
    should answer from), or None when it does not end with tool results."""
    out: list[str] = []
    for m in reversed(messages):
        if m.get("role") != "tool":
            break
        out.append(str(m.get("content")))
    return out[::-1] or None
