"""Sans-IO tests of chunk assembly: no event loop, no sockets."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from groqstream import (
    BadRequestError,
    InternalServerError,
    MalformedChunkError,
    RateLimitError,
)
from groqstream.chunks import ChunkAssembler, status_for_error_type
from groqstream.sse import ServerSentEvent


def ev(obj: Any, event: str = "message") -> ServerSentEvent:
    data = obj if isinstance(obj, str) else orjson.dumps(obj).decode()
    return ServerSentEvent(event=event, data=data)


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> Any:
    choice: dict[str, Any] = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return {"id": "chatcmpl-1", "model": "m", "choices": [choice], **extra}


GROQ_USAGE = {
    "queue_time": 0.01,
    "prompt_tokens": 10,
    "prompt_time": 0.002,
    "completion_tokens": 3,
    "completion_time": 0.03,
    "total_tokens": 13,
    "total_time": 0.032,
}


def test_groq_stream_assembles_text_usage_and_request_id() -> None:
    asm = ChunkAssembler()
    events = [
        ev(chunk({"role": "assistant", "content": ""}, x_groq={"id": "req_1"})),
        ev(chunk({"content": "Hello"})),
        ev(chunk({"content": " world"})),
        ev(chunk({}, "stop", x_groq={"id": "req_1", "usage": GROQ_USAGE})),
        ev("[DONE]"),
    ]
    deltas = asm.feed(events[:3], 100) + asm.feed(events[3:], 200)
    # the role-only chunk yields nothing; the finish chunk yields a delta with finish_reason
    assert [(d.content, d.finish_reason, d.arrived_ns) for d in deltas] == [
        ("Hello", None, 100),
        (" world", None, 100),
        ("", "stop", 200),
    ]
    assert asm.text() == "Hello world"
    assert asm.done and asm.complete
    assert asm.request_id == "req_1"
    assert asm.finish_reason == "stop"
    assert asm.output_ns == [100, 100]
    u = asm.usage
    assert u is not None
    assert (u.prompt_tokens, u.completion_tokens, u.queue_time, u.total_time) == (
        10,
        3,
        0.01,
        0.032,
    )


def test_reasoning_and_reasoning_content_are_both_read() -> None:
    asm = ChunkAssembler()
    deltas = asm.feed(
        [
            ev(chunk({"reasoning": "Think"})),
            ev(chunk({"reasoning_content": "ing"})),
            ev(chunk({"content": "Answer"})),
        ],
        5,
    )
    assert [d.reasoning for d in deltas] == ["Think", "ing", None]
    assert asm.reasoning() == "Thinking"
    assert asm.text() == "Answer"
    assert asm.output_ns == [5, 5, 5]


def test_tool_call_fragments_are_assembled_per_index() -> None:
    asm = ChunkAssembler()
    frag = [
        {
            "index": 0,
            "id": "call_a",
            "type": "function",
            "function": {"name": "get", "arguments": ""},
        },
        {
            "index": 1,
            "id": "call_b",
            "type": "function",
            "function": {"name": "put", "arguments": ""},
        },
    ]
    asm.feed([ev(chunk({"tool_calls": frag}))], 1)
    asm.feed([ev(chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"x"'}}]}))], 2)
    asm.feed([ev(chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1}'}}]}))], 3)
    asm.feed([ev(chunk({"tool_calls": [{"index": 1, "function": {"arguments": ": 2}"}}]}))], 4)
    asm.feed([ev(chunk({}, "tool_calls"))], 5)
    calls = asm.tool_calls()
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_a", "get", '{"a": 1}'),
        ("call_b", "put", '{"x": 2}'),
    ]
    assert calls[1].parsed_arguments() == {"x": 2}
    assert asm.finish_reason == "tool_calls"


def test_openai_compatible_dialect_quirks() -> None:
    """content null in the role chunk, usage-only chunk, empty-delta usage chunk, timings."""
    asm = ChunkAssembler()
    deltas = asm.feed(
        [
            ev(chunk({"role": "assistant", "content": None})),
            ev(chunk({"content": "x"})),
            ev(chunk({}, "stop", timings={"prompt_ms": 4.0, "predicted_ms": 20.0})),
            ev(
                {
                    "id": "c",
                    "choices": [{"index": 0, "delta": {}}],
                    "usage": {"completion_tokens": 1},
                }
            ),
        ],
        9,
    )
    assert [d.content for d in deltas] == ["x", ""]
    assert not asm.done
    assert asm.complete  # a finish_reason was seen: a clean end of body is a complete stream
    u = asm.usage
    assert u is not None
    assert (u.completion_tokens, u.prompt_time, u.completion_time) == (1, 0.004, 0.02)


def test_usage_prefers_x_groq_over_top_level() -> None:
    asm = ChunkAssembler()
    asm.feed([ev(chunk({}, "stop", x_groq={"id": "r", "usage": GROQ_USAGE}))], 1)
    asm.feed([ev({"id": "c", "choices": [], "usage": {"completion_tokens": 99}})], 2)
    assert asm.usage is not None and asm.usage.completion_tokens == 3


def test_malformed_json_stops_with_the_offending_line_and_keeps_earlier_deltas() -> None:
    asm = ChunkAssembler()
    bad = '{"id":"x","choices":[{"delta":{"content":"oo'
    deltas = asm.feed([ev(chunk({"content": "ok"})), ev(bad), ev(chunk({"content": "late"}))], 1)
    assert [d.content for d in deltas] == ["ok"]
    assert isinstance(asm.error, MalformedChunkError)
    assert asm.error.line == bad


def test_non_object_json_is_malformed() -> None:
    asm = ChunkAssembler()
    asm.feed([ev("[1, 2]")], 1)
    assert isinstance(asm.error, MalformedChunkError)


@pytest.mark.parametrize(
    ("payload", "event", "cls", "status"),
    [
        (
            {"error": {"message": "slow down", "type": "tokens", "code": "rate_limit_exceeded"}},
            "message",
            RateLimitError,
            429,
        ),
        (
            {"error": {"message": "busy", "type": "overloaded_error"}},
            "message",
            InternalServerError,
            503,
        ),
        (
            {
                "error": {
                    "message": "bad tool",
                    "type": "invalid_request_error",
                    "code": "tool_use_failed",
                }
            },
            "message",
            BadRequestError,
            400,
        ),
        ({"message": "boom", "type": "internal_server_error"}, "error", InternalServerError, 500),
    ],
)
def test_in_stream_errors_map_to_http_twins(
    payload: dict[str, Any], event: str, cls: type[Exception], status: int
) -> None:
    asm = ChunkAssembler()
    asm.feed([ev(chunk({"content": "a"}, x_groq={"id": "req_9"})), ev(payload, event)], 1)
    err = asm.error
    assert isinstance(err, cls)
    assert err.status == status  # type: ignore[union-attr]
    assert err.in_stream  # type: ignore[union-attr]
    assert err.request_id == "req_9"


def test_status_for_error_type_defaults_to_transient() -> None:
    assert status_for_error_type(None, None) == 500
    assert status_for_error_type("requests", None) == 429
    assert status_for_error_type("invalid_request_error", None) == 400


def test_unknown_event_types_are_ignored() -> None:
    asm = ChunkAssembler()
    assert (
        asm.feed([ev({"anything": 1}, "heartbeat"), ev(chunk({"content": "z"}))], 1)[0].content
        == "z"
    )


def test_multiple_choices_are_kept_apart() -> None:
    asm = ChunkAssembler()
    asm.feed(
        [
            ev(
                {
                    "id": "c",
                    "choices": [
                        {"index": 0, "delta": {"content": "a"}},
                        {"index": 1, "delta": {"content": "b"}},
                    ],
                }
            ),
            ev(
                {
                    "id": "c",
                    "choices": [{"index": 1, "delta": {"content": "c"}, "finish_reason": "stop"}],
                }
            ),
        ],
        1,
    )
    assert (asm.text(0), asm.text(1)) == ("a", "bc")
    assert asm.finish_reasons == {1: "stop"}
