"""The sans-IO encoders and the UIMessage conversion: no event loop, no socket."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from groqstream import Delta, ToolCall, Usage
from groqstream.errors import ConfigError, RateLimitError, StreamInterrupted
from groqstream.metrics import compute_metrics
from groqstream.sse import ServerSentEvent, SSEDecoder
from groqstream.ui import SSEEncoder, StreamEnd, VercelEncoder, make_encoder, ui_messages_to_chat
from groqstream.ui.encoders import FINISH_REASONS, KEEPALIVE
from groqstream.ui.messages import InvalidUIMessage

TRICKY = 'line\nbreak\r\n"quoted" \\ data: id: 7\n\nümlaut 🚀 \u2028'


def events(out: list[bytes]) -> list[ServerSentEvent]:
    evs = SSEDecoder().feed(b"".join(out))
    assert len(evs) == len(out)  # one element per event, each complete
    return evs


def parts(out: list[bytes]) -> list[Any]:
    return [orjson.loads(e.data) if e.data != "[DONE]" else "[DONE]" for e in events(out)]


def test_sse_text_survives_any_characters() -> None:
    enc = SSEEncoder()
    out: list[bytes] = []
    enc.delta(Delta(content=TRICKY, reasoning=TRICKY), out)
    r, c = events(out)
    assert (r.event, r.json(), r.id) == ("reasoning", {"text": TRICKY}, "1")
    assert (c.event, c.json(), c.id) == ("content", {"text": TRICKY}, "2")
    assert all(b.count(b"\ndata: ") == 1 for b in out)  # one data line, whatever the text


def test_sse_empty_deltas_send_nothing() -> None:
    enc = SSEEncoder()
    out: list[bytes] = []
    enc.delta(Delta(), out)
    enc.delta(Delta(content="", finish_reason="stop"), out)
    assert out == [] and enc.seq == 0


def test_sse_tool_calls_done_and_ids() -> None:
    enc = SSEEncoder()
    out: list[bytes] = []
    enc.delta(Delta(content="a"), out)
    enc.tool_calls([ToolCall("call_1", "get_weather", '{"city":"Paris"}')], out)
    usage = Usage(prompt_tokens=3, completion_tokens=5, total_tokens=8, queue_time=0.01)
    enc.done(StreamEnd("tool_calls", usage, "req_1", "m"), out)
    _, tool, done = events(out)
    assert tool.json() == {
        "id": "call_1",
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
        "index": 0,
    }
    d = done.json()
    assert d["finish_reason"] == "tool_calls" and d["request_id"] == "req_1" and d["model"] == "m"
    assert d["usage"]["total_tokens"] == 8 and d["usage"]["queue_time"] == 0.01
    assert "raw" not in d["usage"]
    assert [e.id for e in events(out)] == ["1", "2", "3"]


def test_sse_metrics_send_each_itl_gap_once() -> None:
    enc = SSEEncoder()
    out: list[bytes] = []
    ns = [1_000_000_000 + i * 10_000_000 for i in range(6)]  # start, then 5 outputs 10 ms apart
    enc.metrics(compute_metrics(ns[0], ns[3], ns[1:4]), out)
    enc.metrics(compute_metrics(ns[0], ns[5], ns[1:6]), out, final=True)
    a, b = (e.json() for e in events(out))
    assert a["itl_s"] == [0.01, 0.01] and b["itl_s"] == [0.01, 0.01]
    assert a["ttft_s"] == 0.01 and a["final"] is False and b["final"] is True
    assert b["output_tokens"] == 5 and b["chunks"] == 5 and b["elapsed_s"] == 0.05
    assert b["itl_mean_s"] == pytest.approx(0.01)


def test_sse_error_says_whether_text_was_delivered() -> None:
    enc = SSEEncoder()
    out: list[bytes] = []
    err = RateLimitError("slow down", status=429, body="", headers={})
    enc.error(err, out)
    (e,) = events(out)
    d = e.json()
    assert e.event == "error"
    assert d["type"] == "RateLimitError" and d["status"] == 429 and d["partial"] is False
    assert d["retryable"] is True
    enc2 = SSEEncoder()
    out2: list[bytes] = []
    enc2.delta(Delta(content="half"), out2)
    enc2.error(StreamInterrupted("cut", partial_text="half"), out2)
    assert events(out2)[-1].json()["partial"] is True


def test_vercel_parts_open_and_close_as_the_kind_changes() -> None:
    enc = VercelEncoder()
    out: list[bytes] = []
    enc.open(out, message_id="chatcmpl-1")
    enc.delta(Delta(reasoning="think"), out)
    enc.delta(Delta(reasoning=" more"), out)
    enc.delta(Delta(content="Hello"), out)
    enc.delta(Delta(reasoning="again"), out)
    enc.delta(Delta(content=TRICKY), out)
    enc.done(StreamEnd("stop"), out)
    assert parts(out) == [
        {"type": "start", "messageId": "chatcmpl-1"},
        {"type": "start-step"},
        {"type": "reasoning-start", "id": "reasoning-1"},
        {"type": "reasoning-delta", "id": "reasoning-1", "delta": "think"},
        {"type": "reasoning-delta", "id": "reasoning-1", "delta": " more"},
        {"type": "reasoning-end", "id": "reasoning-1"},
        {"type": "text-start", "id": "text-2"},
        {"type": "text-delta", "id": "text-2", "delta": "Hello"},
        {"type": "text-end", "id": "text-2"},
        {"type": "reasoning-start", "id": "reasoning-3"},
        {"type": "reasoning-delta", "id": "reasoning-3", "delta": "again"},
        {"type": "reasoning-end", "id": "reasoning-3"},
        {"type": "text-start", "id": "text-4"},
        {"type": "text-delta", "id": "text-4", "delta": TRICKY},
        {"type": "text-end", "id": "text-4"},
        {"type": "finish-step"},
        {"type": "finish", "finishReason": "stop"},
        "[DONE]",
    ]
    assert [int(e.id or 0) for e in events(out)] == list(range(1, len(out) + 1))


def test_vercel_tool_input_streams_then_is_available() -> None:
    enc = VercelEncoder()
    out: list[bytes] = []
    enc.delta(Delta(content="Let me check."), out)
    head = {"index": 0, "id": "call_9", "type": "function", "function": {"name": "get_weather"}}
    enc.delta(Delta(tool_calls=[head]), out)
    enc.delta(Delta(tool_calls=[{"index": 0, "function": {"arguments": '{"city":'}}]), out)
    enc.delta(Delta(tool_calls=[{"index": 0, "function": {"arguments": '"Paris"}'}}]), out)
    calls = [ToolCall("call_9", "get_weather", '{"city":"Paris"}'), ToolCall("c2", "f", "{bad")]
    enc.tool_calls(calls, out)
    p = parts(out)
    assert p[2] == {"type": "text-end", "id": "text-1"}  # text closed before the tool input
    assert p[3:] == [
        {"type": "tool-input-start", "toolCallId": "call_9", "toolName": "get_weather"},
        {"type": "tool-input-delta", "toolCallId": "call_9", "inputTextDelta": '{"city":'},
        {"type": "tool-input-delta", "toolCallId": "call_9", "inputTextDelta": '"Paris"}'},
        {
            "type": "tool-input-available",
            "toolCallId": "call_9",
            "toolName": "get_weather",
            "input": {"city": "Paris"},
        },
        {
            "type": "tool-input-error",
            "toolCallId": "c2",
            "toolName": "f",
            "input": "{bad",
            "errorText": "the model's tool arguments are not valid JSON",
        },
    ]


def test_vercel_tool_arguments_before_the_id_wait_for_it() -> None:
    enc = VercelEncoder()
    out: list[bytes] = []
    enc.delta(Delta(tool_calls=[{"index": 0, "function": {"arguments": "{"}}]), out)
    assert out == []
    enc.delta(Delta(tool_calls=[{"index": 0, "id": "c", "function": {"name": "f"}}, "junk"]), out)  # type: ignore[list-item]
    assert parts(out) == [
        {"type": "tool-input-start", "toolCallId": "c", "toolName": "f"},
        {"type": "tool-input-delta", "toolCallId": "c", "inputTextDelta": "{"},
    ]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool-calls"),
        ("function_call", "tool-calls"),
        ("content_filter", "content-filter"),
        (None, "other"),
        ("eos_token", "other"),
    ],
)
def test_vercel_finish_reasons(ours: str | None, theirs: str) -> None:
    enc = VercelEncoder()
    out: list[bytes] = []
    enc.done(StreamEnd(ours), out)
    assert parts(out)[-2] == {"type": "finish", "finishReason": theirs}
    assert set(FINISH_REASONS.values()) <= {"stop", "length", "tool-calls", "content-filter"}


def test_vercel_error_closes_the_open_part_then_done_once() -> None:
    enc = VercelEncoder()
    out: list[bytes] = []
    enc.delta(Delta(content="par"), out)
    enc.error(StreamInterrupted("connection lost"), out)
    enc.error(StreamInterrupted("again"), out)
    p = parts(out)
    assert p[1:4] == [
        {"type": "text-delta", "id": "text-1", "delta": "par"},
        {"type": "text-end", "id": "text-1"},
        {"type": "error", "errorText": "StreamInterrupted: connection lost"},
    ]
    assert p.count("[DONE]") == 1


def test_vercel_metrics_are_transient_data_parts() -> None:
    enc = VercelEncoder()
    out: list[bytes] = []
    enc.metrics(compute_metrics(0, 10, [5, 7, 9]), out, final=True)
    (p,) = parts(out)
    assert p["type"] == "data-groqstream-metrics" and p["transient"] is True
    assert p["data"]["final"] is True and p["data"]["chunks"] == 3


def test_protocols_and_keepalive() -> None:
    assert isinstance(make_encoder("sse"), SSEEncoder)
    assert make_encoder("vercel").headers["x-vercel-ai-ui-message-stream"] == "v1"
    with pytest.raises(ConfigError, match="'sse' or 'vercel'"):
        make_encoder("ws")
    assert SSEDecoder().feed(KEEPALIVE) == [] and KEEPALIVE.startswith(b":")


# --- UIMessages → chat messages ----------------------------------------------------------------


def test_ui_messages_to_chat() -> None:
    msgs = [
        {"id": "s", "role": "system", "parts": [{"type": "text", "text": "Be brief."}]},
        {
            "id": "u",
            "role": "user",
            "parts": [{"type": "text", "text": "Weather "}, {"type": "text", "text": "in Paris?"}],
        },
        {
            "id": "a",
            "role": "assistant",
            "parts": [
                {"type": "step-start"},
                {"type": "reasoning", "text": "hmm"},
                {
                    "type": "tool-get_weather",
                    "toolCallId": "c1",
                    "state": "output-available",
                    "input": {"city": "Paris"},
                    "output": {"temp": 21},
                },
                {"type": "tool-x", "toolCallId": "c2", "state": "input-streaming"},
                {"type": "text", "text": "It is 21 °C."},
            ],
        },
        {"role": "user", "content": "thanks"},  # an AI SDK 4 message
    ]
    assert ui_messages_to_chat(msgs) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "It is 21 °C.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp":21}'},
        {"role": "user", "content": "thanks"},
    ]


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (None, "non-empty list"),
        ([], "non-empty list"),
        ("hi", "non-empty list"),
        ([1], r"messages\[0\] must be an object"),
        ([{"role": "robot", "parts": []}], "role"),
        ([{"role": "user"}], "parts must be a list"),
        ([{"role": "user", "parts": [{"text": "x"}]}], r"parts\[0\]"),
    ],
)
def test_bad_ui_messages_are_typed_errors(bad: Any, match: str) -> None:
    with pytest.raises(InvalidUIMessage, match=match):
        ui_messages_to_chat(bad)
