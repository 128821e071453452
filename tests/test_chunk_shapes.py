"""Chunks of the wrong shape are typed errors, never builtin exceptions or wrong values.

A property test puts random JSON values into every field of a chunk (and of a non-streaming
reply) and checks that only values of the documented types or a `MalformedChunkError` /
`APIStatusError` come out, on both the learning (template) and the plain path.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groqstream import APIStatusError, MalformedChunkError
from groqstream.chunks import ChunkAssembler, parse_completion
from groqstream.types import Usage

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)

BASE: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "openai/gpt-oss-20b",
    "x_groq": {"id": "req_1", "usage": {"completion_tokens": 3, "total_time": 0.1}},
    "usage": {"prompt_tokens": 2},
    "choices": [
        {
            "index": 0,
            "delta": {
                "content": "hi",
                "reasoning": "hmm",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}"},
                    }
                ],
            },
            "finish_reason": None,
        }
    ],
}

# Every place a server could put a wrong value: (path into BASE, key).
PATHS: list[tuple[tuple[Any, ...], str]] = [
    ((), "choices"),
    ((), "x_groq"),
    ((), "usage"),
    ((), "timings"),
    ((), "id"),
    ((), "model"),
    ((), "error"),
    (("x_groq",), "usage"),
    (("x_groq",), "id"),
    (("choices",), 0),  # type: ignore[list-item]
    (("choices", 0), "delta"),
    (("choices", 0), "index"),
    (("choices", 0), "finish_reason"),
    (("choices", 0, "delta"), "content"),
    (("choices", 0, "delta"), "reasoning"),
    (("choices", 0, "delta"), "reasoning_content"),
    (("choices", 0, "delta"), "tool_calls"),
    (("choices", 0, "delta", "tool_calls"), 0),  # type: ignore[list-item]
    (("choices", 0, "delta", "tool_calls", 0), "index"),
    (("choices", 0, "delta", "tool_calls", 0), "id"),
    (("choices", 0, "delta", "tool_calls", 0), "function"),
    (("choices", 0, "delta", "tool_calls", 0, "function"), "name"),
    (("choices", 0, "delta", "tool_calls", 0, "function"), "arguments"),
]


def mutated(base: dict[str, Any], path: tuple[Any, ...], key: Any, value: Any) -> Any:
    obj = copy.deepcopy(base)
    target = obj
    for p in path:
        target = target[p]
    target[key] = value
    return obj


def observe_all(asm: ChunkAssembler) -> None:
    """Everything a user can read must have its documented type."""
    assert isinstance(asm.text(), str)
    assert asm.reasoning() is None or isinstance(asm.reasoning(), str)
    for call in asm.tool_calls():
        assert isinstance(call.id, str)
        assert isinstance(call.name, str)
        assert isinstance(call.arguments, str)
        assert isinstance(call.index, int)
    assert asm.finish_reason is None or isinstance(asm.finish_reason, str)
    assert asm.usage is None or isinstance(asm.usage, Usage)
    assert asm.request_id is None or isinstance(asm.request_id, str)
    for d_ns in asm.output_ns:
        assert isinstance(d_ns, int)


def feed(chunks: list[bytes], learn: bool) -> ChunkAssembler:
    asm = ChunkAssembler()
    if not learn:
        asm._learn_budget = 0
    for n, c in enumerate(chunks):
        for d in asm.feed([c], n):
            assert isinstance(d.content, str)
            assert d.reasoning is None or isinstance(d.reasoning, str)
            assert isinstance(d.index, int)
        if asm.error is not None:
            assert isinstance(asm.error, (MalformedChunkError, APIStatusError))
            break
    observe_all(asm)
    return asm


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(PATHS), JSON, st.integers(0, 3))
def test_random_values_in_any_field_give_typed_errors_or_values(
    where: tuple[tuple[Any, ...], str], value: Any, position: int
) -> None:
    path, key = where
    plain = {**BASE, "choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": None}]}
    plain.pop("x_groq")
    plain.pop("usage")
    bad = orjson.dumps(mutated(BASE, path, key, value))
    chunks = [orjson.dumps(plain)] * 3
    chunks.insert(position, bad)
    a, b = feed(chunks, learn=True), feed(chunks, learn=False)
    assert a.text() == b.text()
    assert type(a.error) is type(b.error)


@pytest.mark.parametrize(
    ("path", "key", "value"),
    [
        ((), "choices", {"0": {}}),
        ((), "choices", "abc"),
        ((), "choices", [None]),
        (("choices", 0), "delta", "text"),
        (("choices", 0, "delta"), "content", 5),
        (("choices", 0, "delta"), "tool_calls", "call"),
        (("choices", 0, "delta"), "tool_calls", [None]),
        (("choices", 0), "index", "0"),
    ],
)
def test_the_wrong_shapes_named_in_the_issue_are_malformed_with_text_kept(
    path: tuple[Any, ...], key: str, value: Any
) -> None:
    good = {**BASE, "choices": [{"index": 0, "delta": {"content": "kept"}, "finish_reason": None}]}
    bad = orjson.dumps(mutated(BASE, path, key, value))
    asm = ChunkAssembler()
    asm.feed([orjson.dumps(good)], 1)
    asm.feed([bad], 2)
    assert isinstance(asm.error, MalformedChunkError)
    assert asm.text() == "kept"
    assert orjson.loads(asm.error.line) == orjson.loads(bad)


REPLY: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "openai/gpt-oss-20b",
    "x_groq": {"id": "req_1"},
    "usage": {"completion_tokens": 3},
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "hi",
                "reasoning": "hmm",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            "finish_reason": "stop",
        }
    ],
}
REPLY_PATHS: list[tuple[tuple[Any, ...], Any]] = [
    ((), "choices"),
    ((), "usage"),
    ((), "x_groq"),
    ((), "model"),
    ((), "error"),
    (("choices",), 0),
    (("choices", 0), "message"),
    (("choices", 0), "finish_reason"),
    (("choices", 0, "message"), "content"),
    (("choices", 0, "message"), "reasoning"),
    (("choices", 0, "message"), "tool_calls"),
    (("choices", 0, "message", "tool_calls"), 0),
    (("choices", 0, "message", "tool_calls", 0), "function"),
    (("choices", 0, "message", "tool_calls", 0, "function"), "arguments"),
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(REPLY_PATHS), JSON)
def test_random_values_in_a_reply_give_typed_errors_or_values(
    where: tuple[tuple[Any, ...], Any], value: Any
) -> None:
    path, key = where
    raw = orjson.dumps(mutated(REPLY, path, key, value))
    try:
        c = parse_completion(raw, header_id=None, e2el_s=0.1, attempts=1)
    except (MalformedChunkError, APIStatusError):
        return
    assert isinstance(c.text, str)
    assert c.reasoning is None or isinstance(c.reasoning, str)
    assert c.finish_reason is None or isinstance(c.finish_reason, str)
    assert all(isinstance(t.arguments, str) and isinstance(t.name, str) for t in c.tool_calls)
    assert c.usage is None or isinstance(c.usage, Usage)
    assert c.model is None or isinstance(c.model, str)
