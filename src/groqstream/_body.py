"""Request bodies: the `messages` short forms, defaults, and the checks a careless call needs.

DESIGN: sans-IO, below the client, the stream and fan-out, which all build their bodies here:
`build_body` is the one function that turns a call's arguments into the JSON body, and every
argument it refuses is a `ConfigError` raised before any connection is opened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ConfigError

__all__ = ["build_body", "build_messages", "check_header_value"]

Message = Mapping[str, Any]

# Parameters that must be positive integers when given (Groq and OpenAI reject anything else).
_POSITIVE_INTS = ("max_tokens", "max_completion_tokens", "n")


def check_header_value(name: str, value: object) -> str:
    """A header value (or API key) that is a string without control characters: CR or LF in
    one would let the caller's input inject headers."""
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, got {type(value).__name__}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ConfigError(f"{name} contains a control character (CR, LF, ...): refused")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate; the value is not shown (it may be a key)
        raise ConfigError(f"{name} cannot be encoded as UTF-8: refused") from None
    return value


def build_messages(
    messages: Sequence[Message] | None, prompt: str | None, system: str | None
) -> list[dict[str, Any]]:
    """The `messages` list from either `messages` or the short form `prompt` (+ `system`)."""
    if messages is not None and prompt is not None:
        raise ConfigError("pass either messages= or prompt=, not both")
    if system is not None and not isinstance(system, str):
        raise ConfigError(f"system= must be a string, got {type(system).__name__}")
    if messages is None:
        if prompt is None:
            raise ConfigError("pass messages= or prompt=")
        if not isinstance(prompt, str):
            raise ConfigError(f"prompt= must be a string, got {type(prompt).__name__}")
        out: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    else:
        out = _checked_messages(messages)
    if system is not None:
        out.insert(0, {"role": "system", "content": system})
    return out


def _checked_messages(messages: object) -> list[dict[str, Any]]:
    if (
        type(messages) is list
        and messages
        and all(type(m) is dict and type(m.get("role")) is str for m in messages)
    ):
        return [m.copy() for m in messages]  # the usual shape, without the ABC checks below
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise ConfigError(
            "messages= must be a list of {'role': ..., 'content': ...} dicts "
            f"(got {type(messages).__name__}); for a single string use prompt="
        )
    if not messages:
        raise ConfigError("messages= is empty")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or not isinstance(m.get("role"), str):
            raise ConfigError(f"messages[{i}] must be a dict with a 'role' string")
        out.append(dict(m))
    return out


def _check_params(params: Mapping[str, Any]) -> None:
    for key in _POSITIVE_INTS:
        v = params.get(key)
        if v is not None and (type(v) is not int or v < 1):
            raise ConfigError(f"{key} must be a positive integer, got {v!r}")


def build_body(
    *,
    model: str | None,
    default_model: str,
    messages: Sequence[Message] | None,
    prompt: str | None,
    system: str | None,
    params: Mapping[str, Any],
    stream: bool,
) -> dict[str, Any]:
    """The JSON body of a chat completion request.

    Every parameter in `params` passes through untouched (temperature, tools, ...). A stream
    asks for usage with `stream_options={"include_usage": True}` unless `params` has its own
    `stream_options` (None: send none).
    """
    name = model if model is not None else default_model
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"model must be a non-empty string, got {name!r}")
    _check_params(params)
    body: dict[str, Any] = {"model": name, "messages": build_messages(messages, prompt, system)}
    body.update(params)
    body["stream"] = stream
    if stream:
        if "stream_options" not in params:
            body["stream_options"] = {"include_usage": True}
        elif params["stream_options"] is None:
            del body["stream_options"]
    return body
