"""Request validation as Groq does it: what is rejected, with which status and error body.

Pure functions over the parsed body, so the rules are easy to read and to test. Messages
follow Groq's style (`'<param>' : <problem>`); statuses, `type`, `param` and `code` are
what Groq sends: 400 `invalid_request_error` for a malformed request, 404 `model_not_found`
for a model it does not serve.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from .catalog import ModelInfo

__all__ = ["Rejection", "check_chat", "parse_json_object"]

_TOKEN_CAPS = ("max_completion_tokens", "max_tokens")


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a request is refused: the HTTP status and the fields of Groq's error object."""

    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None
    failed_generation: str | None = None

    def body(self) -> dict[str, Any]:
        """`{"error": {...}}`, leaving out `param` / `code` when there is none (as Groq does)."""
        err: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.param is not None:
            err["param"] = self.param
        if self.code is not None:
            err["code"] = self.code
        if self.failed_generation is not None:
            err["failed_generation"] = self.failed_generation
        return {"error": err}


def _bad(param: str, problem: str) -> Rejection:
    return Rejection(400, f"'{param}' : {problem}", param=param)


def parse_json_object(raw: bytes) -> dict[str, Any] | Rejection:
    """The request body as a dict, or the 400 for a body that is not a JSON object."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        return Rejection(400, f"the request body is not valid JSON: {e}")
    if not isinstance(body, dict):
        return Rejection(400, "the request body must be a JSON object")
    return body


def _check_messages(body: Mapping[str, Any]) -> Rejection | None:
    if "messages" not in body or body["messages"] is None:
        return _bad("messages", "property 'messages' is missing")
    messages = body["messages"]
    if not isinstance(messages, list):
        return _bad("messages", "value must be an array")
    if not messages:
        return _bad("messages", "minimum number of items is 1")
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            return _bad(f"messages.{i}", "value must be an object")
        if "role" not in m:
            return _bad(f"messages.{i}", "property 'role' is missing")
    return None


def _check_int(
    body: Mapping[str, Any], name: str, *, at_most: int | None = None
) -> Rejection | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        return _bad(name, "value must be an integer")
    if value < 1:
        return _bad(name, "number must be at least 1")
    if at_most is not None and value > at_most:
        return _bad(name, f"number must be at most {at_most}")
    return None


def _check_model_name(body: Mapping[str, Any]) -> Rejection | None:
    if body.get("model") is None:
        return _bad("model", "property 'model' is missing")
    if not isinstance(body["model"], str):
        return _bad("model", "value must be a string")
    return None


def _check_cap_against(info: ModelInfo, body: Mapping[str, Any]) -> Rejection | None:
    limit = info.max_completion_tokens
    for name in _TOKEN_CAPS:
        value = body.get(name)
        if limit is not None and isinstance(value, int) and value > limit:
            return Rejection(
                400,
                f"`{name}` must be less than or equal to `{limit}`, the maximum value for "
                f"`{name}` is less than the `context_window` for this model",
                param=name,
            )
    return None


def check_chat(
    body: Mapping[str, Any], models: Mapping[str, ModelInfo], any_model: bool
) -> Rejection | None:
    """The first reason Groq would refuse this chat completion request, or None.

    Shape first (400: messages, model, max_tokens / max_completion_tokens, n — Groq supports
    only n=1), then the model (404 `model_not_found` unless `any_model`), then the model's
    completion-token limit (400).
    """
    problem = (
        _check_messages(body)
        or _check_model_name(body)
        or _check_int(body, "max_tokens")
        or _check_int(body, "max_completion_tokens")
        or _check_int(body, "n", at_most=1)
    )
    if problem is not None:
        return problem
    model = str(body["model"])
    info = models.get(model)
    if info is None:
        if any_model:
            return None
        return Rejection(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )
    return _check_cap_against(info, body)
