"""What people coming from the openai SDK reach for: tool-call loops in the OpenAI wire shape,
response headers, the raw reply, a default model, and OPENAI_API_KEY for OpenAI's URL."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from groqstream import Client, Completion, MissingAPIKeyError, ToolCall
from groqstream.client import api_key_env
from groqstream.testing import SimulatedServer

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def test_tool_call_to_dict_is_the_openai_wire_shape() -> None:
    call = ToolCall(id="call_1", name="get_weather", arguments='{"city": "Paris"}', index=3)
    assert call.to_dict() == {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }


def test_completion_assistant_message_text_and_tool_calls() -> None:
    plain = Completion("hello", None, "stop", None, None, None, 0.1)
    assert plain.assistant_message() == {"role": "assistant", "content": "hello"}
    call = ToolCall(id="call_9", name="f", arguments="{}")
    calls_only = Completion("", "thinking…", "tool_calls", None, None, None, 0.1, [call])
    # content is null when the reply is only tool calls (as OpenAI sends it); no reasoning
    assert calls_only.assistant_message() == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call.to_dict()],
    }


async def test_two_turn_tool_loop_streaming(server: SimulatedServer, client: Client) -> None:
    model = "moonshotai/kimi-k2-instruct"
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Paris?"}]
    async with client.stream(model=model, messages=messages, tools=[WEATHER_TOOL]) as s:
        await s.until_done()
    assert s.finish_reason == "tool_calls" and len(s.tool_calls) == 1
    call = s.tool_calls[0]
    turn = s.assistant_message()
    assert turn == {"role": "assistant", "content": None, "tool_calls": [call.to_dict()]}
    messages.append(turn)
    args = call.parsed_arguments()
    messages.append({"role": "tool", "tool_call_id": call.id, "content": f"sunny in {args}"})

    async with client.stream(
        model=model, messages=messages, tools=[WEATHER_TOOL], tool_choice="none"
    ) as s2:
        await s2.until_done()
    assert s2.finish_reason == "stop" and s2.text and not s2.tool_calls
    sent = server.requests[-1].body["messages"]
    # what reached the server is exactly the OpenAI wire shape, JSON-serialisable as is
    assert sent[1]["tool_calls"] == [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": "get_weather", "arguments": call.arguments},
        }
    ]
    assert sent[2]["tool_call_id"] == call.id
    assert orjson.loads(orjson.dumps(messages)) == sent[-3:]
    assert s2.assistant_message() == {"role": "assistant", "content": s2.text}


async def test_complete_assistant_message_and_raw(client: Client) -> None:
    c = await client.complete(
        model="openai/gpt-oss-120b", prompt="Weather in Oslo?", tools=[WEATHER_TOOL]
    )
    assert c.raw["choices"][0]["message"]["tool_calls"][0]["id"] == c.tool_calls[0].id
    msg = c.assistant_message()
    assert msg["tool_calls"] == [t.to_dict() for t in c.tool_calls]
    assert msg["tool_calls"][0]["function"]["name"] == "get_weather"


async def test_headers_and_default_model(server: SimulatedServer) -> None:
    async with Client(base_url=server.base_url, default_model="openai/gpt-oss-120b") as client:
        async with client.stream(prompt="hi") as s:
            await s.until_done()
    assert server.requests[-1].body["model"] == "openai/gpt-oss-120b"
    assert s.headers["x-request-id"] == s.request_id
    assert "x-ratelimit-remaining-requests" in s.headers  # with_raw_response's use, lowercased
    assert s.text_for(0) == s.text


def test_openai_url_takes_openai_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    assert api_key_env("https://api.openai.com/v1") == "OPENAI_API_KEY"
    assert api_key_env("https://api.groq.com/openai/v1") == "GROQ_API_KEY"
    assert api_key_env("http://localhost:8000/v1") == "GROQSTREAM_API_KEY"
    assert api_key_env("https://my-vllm.example/v1") == "GROQSTREAM_API_KEY"
    monkeypatch.setenv("GROQ_API_KEY", "gsk_not_for_openai")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    # a Groq key is never sent to OpenAI: without OPENAI_API_KEY there is no key at all
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        Client(base_url="https://api.openai.com/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-test")
    client = Client(base_url="https://api.openai.com/v1")
    auth = client.transport._headers["Authorization"]
    assert auth == "Bearer sk-openai-test"
    groq = Client()
    assert groq.transport._headers["Authorization"] == "Bearer gsk_not_for_openai"
