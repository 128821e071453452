"""Structured output: `response_format=Model`, `stream.partial()` and `stream.parsed`.

DESIGN: beside `stream.py`, which holds only thin methods that call in here, so a stream that
never asks for structured output does no extra work per chunk. A pydantic model class becomes
the request's `response_format` (`json_schema`, `strict` where both the model served and the
schema allow it, else best-effort `json_schema`, or `json_object` on models that have no
schema mode); `partial()` feeds the content deltas to the incremental `PartialJSON` parser
(work linear in the document) and yields the growing object with the paths each delta
completed; `parsed` validates the whole text into the model. pydantic (the optional
`pydantic` extra) is imported only here, and only when a model class is used.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from .errors import ConfigError, StructuredOutputError
from .partial_json import PartialJSON, PartialJSONError, Path

if TYPE_CHECKING:
    from .types import Delta


class _Readable(Protocol):
    """What `iter_partial` reads: a `ChatStream` (typed here without importing `stream.py`,
    which imports this module lazily: one idea, one direction)."""

    def __aiter__(self) -> AsyncIterator[Delta]: ...

    @property
    def text(self) -> str: ...

    @property
    def finish_reason(self) -> str | None: ...


__all__ = [
    "JSON_SCHEMA_MODELS",
    "STRICT_MODELS",
    "Partial",
    "iter_partial",
    "parse_output",
    "require_pydantic",
    "response_format_for",
]

STRICT_MODELS = frozenset({"openai/gpt-oss-20b", "openai/gpt-oss-120b"})
"""Groq models with `strict: true` structured outputs (constrained decoding), per Groq's docs."""

JSON_SCHEMA_MODELS = frozenset(
    {
        *STRICT_MODELS,
        "moonshotai/kimi-k2-instruct",
        "moonshotai/kimi-k2-instruct-0905",
        "meta-llama/llama-4-scout-17b-16e-instruct",
        "meta-llama/llama-4-maverick-17b-128e-instruct",
    }
)
"""Groq models with best-effort `json_schema` structured outputs."""

_GROQ_JSON_OBJECT_ONLY = frozenset(
    {
        "llama-3.1-8b-instant",
        "llama-3.3-70b-versatile",
        "qwen/qwen3-32b",
        "groq/compound",
        "groq/compound-mini",
    }
)
# Groq models without a schema mode: JSON mode, with the schema in a system message.


def require_pydantic() -> Any:
    """The `pydantic` module, or a `ConfigError` saying how to install it."""
    try:
        import pydantic
    except ImportError as e:  # pragma: no cover - the extra is installed in CI
        raise ConfigError(
            "a pydantic model as a schema needs pydantic: pip install 'groqstream[tools]'"
        ) from e
    return pydantic


def _strict_schema(schema: dict[str, Any]) -> dict[str, Any] | None:
    """`schema` made strict (every object closed), or None when it cannot be: strict mode
    needs every property required."""
    out = copy.deepcopy(schema)
    stack: list[Any] = [out]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                props = node["properties"]
                if set(node.get("required", ())) != set(props):
                    return None
                node["additionalProperties"] = False
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


def response_format_for(
    model: str, output_type: Any
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The `response_format` for a pydantic model class on `model`, and the system message
    to add (JSON mode only; else None)."""
    pydantic = require_pydantic()
    if not isinstance(output_type, type) or not issubclass(output_type, pydantic.BaseModel):
        raise ConfigError(
            f"response_format= takes a pydantic model class or a dict, got {output_type!r}"
        )
    model_cls: Any = output_type
    schema: dict[str, Any] = model_cls.model_json_schema()
    name = output_type.__name__
    if model in _GROQ_JSON_OBJECT_ONLY:
        system = {
            "role": "system",
            "content": "Reply with one JSON object (no prose) that fits this JSON Schema: "
            + orjson.dumps(schema).decode(),
        }
        return {"type": "json_object"}, system
    fmt: dict[str, Any] = {"name": name, "schema": schema}
    if model in STRICT_MODELS and (strict := _strict_schema(schema)) is not None:
        fmt = {"name": name, "schema": strict, "strict": True}
    if output_type.__doc__:
        fmt["description"] = " ".join(output_type.__doc__.split())[:1000]
    return {"type": "json_schema", "json_schema": fmt}, None


@dataclass(slots=True)
class Partial:
    """One step of `stream.partial()`.

    `value` is the object so far (the live object, growing in place: copy it to keep a
    snapshot); `completed` the paths of the fields this delta completed (innermost first;
    `()` is the whole document); `done` True once the document is complete.
    """

    value: Any
    completed: list[Path]
    done: bool

    @property
    def fields_done(self) -> list[str]:
        """The top-level fields this delta completed."""
        return [p[0] for p in self.completed if len(p) == 1 and isinstance(p[0], str)]


async def iter_partial(stream: _Readable) -> AsyncIterator[Partial]:
    """Read `stream` (choice 0's content) and yield a `Partial` per delta that changed the
    object; `StructuredOutputError` if the text is not JSON or ends incomplete."""
    parser = PartialJSON()
    try:
        async for d in stream:
            if d.index or not d.content:
                continue
            completed = parser.feed(d.content)
            if parser.value is not None or completed:
                yield Partial(parser.value, completed, parser.complete)
        if not parser.complete:
            tail = parser.close()  # a trailing top-level number; else raises
            yield Partial(parser.value, tail, True)
    except PartialJSONError as e:
        why = stream.finish_reason
        extra = " (the reply was cut at max_tokens)" if why == "length" else ""
        raise StructuredOutputError(
            f"the reply is not a JSON document{extra}: {e.message}",
            text=stream.text,
            errors=e.message,
        ) from None


def parse_output(output_type: Any, text: str) -> Any:
    """The reply validated into `output_type` (a pydantic model class), or the decoded JSON
    when there is none; `StructuredOutputError` if it does not fit."""
    if output_type is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as e:
            raise StructuredOutputError(
                "the reply is not valid JSON", text=text, errors=str(e)
            ) from None
    pydantic = require_pydantic()
    try:
        return output_type.model_validate_json(text)
    except pydantic.ValidationError as e:
        raise StructuredOutputError(
            f"the reply does not fit {output_type.__name__}: {e.error_count()} error(s)",
            text=text,
            errors=str(e),
        ) from None
