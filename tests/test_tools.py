"""The tool loop (`client.run_tools`) against the simulated server over real sockets: two rounds
with valid OpenAI tool messages, parallel calls run concurrently, per-tool timeouts, tool
errors fed back, `max_rounds`, every round's metrics, schemas from hints and docstrings, and
Groq's `tool_use_failed` as a typed error."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import groqstream
from groqstream import (
    BadRequestError,
    Client,
    ConfigError,
    Final,
    RoundDone,
    TextDelta,
    Tool,
    ToolCall,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    ToolLoopError,
    ToolResult,
    ToolUseFailedError,
    tool,
    tool_result,
)
from groqstream.testing import Fault, SimulatedServer

MODEL = "openai/gpt-oss-20b"
WEATHER = [{"role": "user", "content": "What is the weather in Paris?"}]


async def get_weather(city: str, unit: str = "celsius") -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: The city name.
        unit: "celsius" or "fahrenheit".
    """
    return {"city": city, "temperature": 21, "unit": unit}


def check_round_two_messages(messages: list[dict[str, Any]]) -> None:
    """The conversation sent in round 2 is valid OpenAI tool messages (checked field by field,
    and against openai-python's own message types when it is installed)."""
    try:
        from openai.types.chat import ChatCompletionMessageParam
        from pydantic import TypeAdapter
    except ImportError:
        pass
    else:
        checked: list[Any] = TypeAdapter(list[ChatCompletionMessageParam]).validate_python(messages)
        for m in checked:
            list(m.get("tool_calls") or ())  # (its items are validated as they are read)
    user, assistant, *tools = messages
    assert user == WEATHER[0]
    assert assistant["role"] == "assistant" and assistant["content"] is None
    ids = []
    for c in assistant["tool_calls"]:
        assert set(c) == {"id", "type", "function"} and c["type"] == "function"
        assert set(c["function"]) == {"name", "arguments"}
        assert isinstance(c["function"]["arguments"], str)
        ids.append(c["id"])
    assert [t["tool_call_id"] for t in tools] == ids
    for t in tools:
        assert set(t) == {"role", "tool_call_id", "content"} and t["role"] == "tool"
        assert isinstance(t["content"], str)


async def test_two_round_weather_loop_ends_with_the_answer(
    client: Client, server: SimulatedServer
) -> None:
    run = client.run_tools(WEATHER, tools=[get_weather], model=MODEL)
    events = [ev async for ev in run]
    kinds = [type(ev) for ev in events]
    assert kinds[-1] is Final and kinds[-2] is RoundDone
    assert ToolCallStarted in kinds and ToolCallArgumentsDelta in kinds and TextDelta in kinds
    final = events[-1]
    assert isinstance(final, Final) and final is run.final
    (result,) = [ev for ev in events if isinstance(ev, ToolResult)]
    assert result.error is None and result.value["temperature"] == 21
    assert final.text.startswith("From the tool results (")
    assert '"temperature":21' in final.text  # the model answered from the tool's output
    assert len(server.requests) == 2
    check_round_two_messages(server.requests[1].body["messages"])
    assert final.messages[-1] == {"role": "assistant", "content": final.text}
    # the schema came from the type hints and the docstring
    (spec,) = server.requests[0].body["tools"]
    fn = spec["function"]
    assert fn["name"] == "get_weather" and fn["description"] == "Current weather for a city."
    props = fn["parameters"]["properties"]
    assert props["city"] == {"type": "string", "description": "The city name."}
    assert props["unit"]["default"] == "celsius" and fn["parameters"]["required"] == ["city"]
    # every round's metrics are kept
    assert [r.round for r in final.rounds] == [1, 2]
    assert final.rounds[0].finish_reason == "tool_calls" and final.rounds[1].finish_reason == "stop"
    for r in final.rounds:
        assert r.metrics.ttft_s is not None and r.metrics.ttft_s > 0 and r.usage is not None
    assert final.usage["completion_tokens"] == sum(
        r.usage.completion_tokens or 0 for r in final.rounds if r.usage
    )


async def test_parallel_calls_run_concurrently(client: Client, server: SimulatedServer) -> None:
    started: dict[str, asyncio.Event] = {"a": asyncio.Event(), "b": asyncio.Event()}

    async def tool_a(x: str) -> str:
        """Waits for tool_b to start: only possible if both run at once."""
        started["a"].set()
        await asyncio.wait_for(started["b"].wait(), 5)
        return "a done"

    async def tool_b(x: str) -> str:
        """Waits for tool_a to start."""
        started["b"].set()
        await asyncio.wait_for(started["a"].wait(), 5)
        return "b done"

    final = await client.run_tools(
        WEATHER, tools=[tool_a, tool_b], model=MODEL, parallel_tool_calls=True
    ).until_done()
    first = final.rounds[0]
    assert sorted(c.name for c in first.tool_calls) == ["tool_a", "tool_b"]
    tool_msgs = [m for m in final.messages if m["role"] == "tool"]
    assert [m["content"] for m in tool_msgs] == ["a done", "b done"]  # in the calls' order
    check_round_two_messages(server.requests[1].body["messages"])


async def test_a_tool_that_raises_or_hangs_goes_back_as_a_tool_message(
    client: Client, server: SimulatedServer
) -> None:
    never = asyncio.Event()

    async def slow(city: str) -> str:
        """Never answers."""
        await never.wait()
        return "unreachable"

    def broken(city: str) -> str:
        """A sync tool that fails (it runs in a worker thread)."""
        raise ValueError(f"no data for {city}")

    run = client.run_tools(
        WEATHER,
        tools=[Tool.from_function(slow, timeout=0.05), broken],
        model=MODEL,
        parallel_tool_calls=True,
    )
    results = [ev async for ev in run if isinstance(ev, ToolResult)]
    by_name = {r.call.name: r for r in results}
    assert by_name["slow"].error == "tool 'slow' timed out after 0.05 s"
    assert (
        by_name["broken"].error is not None and "ValueError: no data for" in by_name["broken"].error
    )
    sent = server.requests[1].body["messages"]
    contents = {m["tool_call_id"]: m["content"] for m in sent if m["role"] == "tool"}
    assert contents[by_name["broken"].call.id].startswith("Error: ValueError: no data for")
    assert contents[by_name["slow"].call.id].startswith("Error: tool 'slow' timed out")
    assert run.final is not None and run.final.text


async def test_bad_arguments_and_unknown_tools_are_reported_to_the_model(client: Client) -> None:
    def count(n: int) -> int:
        """Doubles n."""
        return 2 * n

    run = client.run_tools(WEATHER, tools=[count], model=MODEL)
    t = run.tools["count"]
    bad = await run._call(1, ToolCall("c1", "count", '{"n": "lots"}'))
    assert bad.error is not None and "ValidationError" in bad.error
    junk = await run._call(1, ToolCall("c2", "count", "{not json"))
    assert junk.error == "the arguments are not valid JSON"
    unknown = await run._call(1, ToolCall("c3", "nope", "{}"))
    assert unknown.error is not None and "unknown tool 'nope'" in unknown.error
    ok = await run._call(1, ToolCall("c4", "count", '{"n": 4}'))
    assert ok.content == "8" and ok.value == 8
    assert t.parameters["properties"]["n"]["type"] == "integer"


async def test_max_rounds_is_a_typed_error_that_keeps_the_rounds(client: Client) -> None:
    run = client.run_tools(
        WEATHER, tools=[get_weather], model=MODEL, max_rounds=2, tool_choice="required"
    )
    seen: list[Any] = []
    with pytest.raises(ToolLoopError) as ei:
        async for ev in run:
            seen.append(ev)
    assert ei.value.rounds == 2 and len(run.rounds) == 2
    assert sum(isinstance(e, ToolCallDone) for e in seen) == 2
    assert ei.value.messages[-1]["role"] == "tool"
    assert isinstance(ei.value, groqstream.GroqStreamError)


async def test_explicit_schema_tools(client: Client, server: SimulatedServer) -> None:
    schema = {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a word up",
            "parameters": {
                "type": "object",
                "properties": {"word": {"type": "string"}},
                "required": ["word"],
            },
        },
    }
    final = await client.run_tools(
        WEATHER, tools=[(schema, lambda word: {"word": word, "found": True})], model=MODEL
    ).until_done()
    assert server.requests[0].body["tools"] == [schema]
    assert '"found":true' in final.messages[2]["content"]


def test_decorator_and_bad_tool_configs() -> None:
    @tool(timeout=3)
    def add(a: int, b: int = 1) -> int:
        """Add two numbers."""
        return a + b

    assert isinstance(add, Tool) and add.timeout == 3 and add.description == "Add two numbers."
    assert add.to_dict()["function"]["parameters"]["required"] == ["a"]
    with pytest.raises(ConfigError, match="needs a function to run"):
        Tool.from_schema({"function": {"name": "x"}}, "not callable")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="function name"):
        Tool.from_schema({"function": {"description": "x"}}, print)


async def test_bad_run_tools_arguments_are_config_errors(client: Client) -> None:
    with pytest.raises(ConfigError, match="max_rounds"):
        client.run_tools(WEATHER, tools=[get_weather], max_rounds=0)
    with pytest.raises(ConfigError, match="tool_timeout"):
        client.run_tools(WEATHER, tools=[get_weather], tool_timeout=0)
    with pytest.raises(ConfigError, match="at least one tool"):
        client.run_tools(WEATHER, tools=[])
    with pytest.raises(ConfigError, match="needs its function"):
        client.run_tools(WEATHER, tools=[{"type": "function", "function": {"name": "x"}}])
    with pytest.raises(ConfigError, match="messages"):
        client.run_tools([], tools=[get_weather])
    with pytest.raises(ConfigError, match="a tool must be"):
        client.run_tools(WEATHER, tools=[42])
    with pytest.raises(ConfigError, match="same name"):
        client.run_tools(WEATHER, tools=[get_weather, Tool.from_function(get_weather)])


async def test_leaving_the_loop_early_closes_the_stream(
    client: Client, server: SimulatedServer
) -> None:
    server.tokens_per_second = 100.0
    async with client.run_tools(WEATHER, tools=[get_weather], model=MODEL) as run:
        async for ev in run:
            if isinstance(ev, groqstream.ReasoningDelta):
                break  # mid-stream: the model is still thinking
    await server.wait_idle()
    assert server.requests[0].outcome == "client_disconnected"


def test_tool_calls_are_openai_shaped_with_flat_aliases() -> None:
    call = ToolCall("call_1", "get_weather", '{"city":"Paris"}')
    assert call.function.name == call.name == "get_weather"
    assert call.function.arguments == call.arguments == '{"city":"Paris"}'
    assert tool_result(call, {"t": 21}) == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": '{"t":21}',
    }
    assert tool_result("call_2", "sunny")["content"] == "sunny"


async def test_stream_message_is_the_assistant_message_to_append(client: Client) -> None:
    async with client.stream(
        model=MODEL, messages=WEATHER, tools=[Tool.from_function(get_weather).to_dict()]
    ) as s:
        await s.until_done()
    msg = s.message()
    (call,) = s.tool_calls
    assert msg == {"role": "assistant", "content": None, "tool_calls": [call.to_dict()]}
    assert msg["tool_calls"][0]["function"]["name"] == call.function.name


async def test_tool_use_failed_is_typed_and_carries_the_failed_generation(
    client: Client, server: SimulatedServer
) -> None:
    generation = '<function=get_weather{"city": "Paris"}</function>'
    server.faults.append(Fault.tool_use_failed(generation))
    with pytest.raises(ToolUseFailedError) as ei:
        await client.run_tools(WEATHER, tools=[get_weather], model=MODEL).until_done()
    assert ei.value.status == 400 and ei.value.code == "tool_use_failed"
    assert ei.value.failed_generation == generation and not ei.value.retryable
    assert isinstance(ei.value, BadRequestError)
    server.faults.append(Fault.tool_use_failed(generation, in_stream_after=2))
    with pytest.raises(ToolUseFailedError) as ei:
        async with client.stream(model=MODEL, prompt="hi") as s:
            await s.until_done()
    assert ei.value.in_stream and ei.value.failed_generation == generation


async def test_json_validate_failed_is_typed(client: Client, server: SimulatedServer) -> None:
    server.faults.append(Fault.json_validate_failed('{"name": '))
    with pytest.raises(groqstream.JSONValidateFailedError) as ei:
        await client.complete(
            model=MODEL, prompt="json please", response_format={"type": "json_object"}
        )
    assert ei.value.failed_generation == '{"name": '


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        (
            [*WEATHER, {"role": "tool", "tool_call_id": "call_x", "content": "21"}],
            "no assistant message before it has a tool call with id 'call_x'",
        ),
        ([*WEATHER, {"role": "tool", "content": "21"}], "property 'tool_call_id' is missing"),
        (
            [*WEATHER, {"role": "assistant", "tool_calls": [{"type": "function"}]}],
            "'messages.1.tool_calls.0.id' : property 'id' is missing",
        ),
        (
            [
                *WEATHER,
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f"}}],
                },
            ],
            "arguments' : value must be a string",
        ),
    ],
)
async def test_the_simulator_refuses_bad_tool_conversations_like_groq(
    client: Client, server: SimulatedServer, messages: list[dict[str, Any]], match: str
) -> None:
    with pytest.raises(BadRequestError, match=match) as ei:
        async with client.stream(model=MODEL, messages=messages) as s:
            await s.until_done()
    assert ei.value.status == 400 and ei.value.error_type == "invalid_request_error"


async def test_the_simulator_refuses_bad_tools_and_options(client: Client) -> None:
    bad: list[tuple[dict[str, Any], str]] = [
        ({"tools": [{"type": "function", "function": {}}]}, "property 'name' is missing"),
        ({"tools": "get_weather"}, "'tools' : value must be an array"),
        ({"reasoning_format": "parsed", "include_reasoning": True}, "mutually exclusive"),
        ({"reasoning_format": "loud"}, "'reasoning_format' : value must be one of"),
        ({"reasoning_effort": "max"}, "'reasoning_effort' : value must be one of"),
        ({"response_format": {"type": "xml"}}, "'response_format.type'"),
        ({"response_format": {"type": "json_schema", "json_schema": {}}}, "property 'name'"),
    ]
    for params, match in bad:
        with pytest.raises(BadRequestError, match=match):
            async with client.stream(model=MODEL, messages=WEATHER, **params) as s:
                await s.until_done()


def test_a_function_whose_types_cannot_be_read_is_a_config_error() -> None:
    def f(x: Undefined) -> None:  # type: ignore[name-defined]  # noqa: F821
        """Uses a name that does not exist."""

    with pytest.raises(ConfigError, match="cannot build a JSON schema for tool 'f'"):
        Tool.from_function(f)
    with pytest.raises(ConfigError, match="must be a function"):
        Tool.from_function(42)  # type: ignore[arg-type]
