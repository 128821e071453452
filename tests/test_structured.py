"""Structured output (`response_format=Model`, `partial()`, `parsed`), reasoning options and
Groq compound models, streamed from the simulated server over real sockets."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from groqstream import (
    Client,
    ConfigError,
    ExecutedTool,
    StructuredOutputError,
    Usage,
)
from groqstream.testing import SimulatedServer


class City(BaseModel):
    """A city and what it is known for."""

    name: str
    population: int
    landmarks: list[str]
    capital: bool


class Loose(BaseModel):
    name: str
    note: str = ""


async def test_partial_yields_the_growing_object_then_parsed_validates_it(
    client: Client, server: SimulatedServer
) -> None:
    s = client.stream(model="openai/gpt-oss-20b", prompt="Describe Paris", response_format=City)
    steps = []
    fields: list[str] = []
    async with s:
        async for p in s.partial():
            steps.append(dict(p.value))
            fields += p.fields_done
    assert fields == ["name", "population", "landmarks", "capital"]
    assert len(steps) > 4 and steps[-1] == s.parsed.model_dump()
    assert steps[0].keys() <= steps[-1].keys()
    city = s.parsed
    assert isinstance(city, City) and city.landmarks
    fmt = server.requests[0].body["response_format"]
    assert fmt["type"] == "json_schema"
    spec = fmt["json_schema"]
    assert spec["name"] == "City" and spec["strict"] is True
    assert spec["schema"]["additionalProperties"] is False
    assert spec["description"] == "A city and what it is known for."


@pytest.mark.parametrize(
    ("model", "output", "kind", "strict"),
    [
        ("openai/gpt-oss-120b", City, "json_schema", True),
        ("openai/gpt-oss-120b", Loose, "json_schema", None),  # optional field: not strict
        ("moonshotai/kimi-k2-instruct", City, "json_schema", None),
        ("llama-3.3-70b-versatile", City, "json_object", None),
    ],
)
async def test_the_response_format_fits_the_model(
    client: Client, server: SimulatedServer, model: str, output: Any, kind: str, strict: Any
) -> None:
    async with client.stream(
        model=model, messages=[{"role": "user", "content": "Paris"}], response_format=output
    ) as s:
        await s.until_done()
    body = server.requests[0].body
    assert body["response_format"]["type"] == kind
    if kind == "json_schema":
        assert body["response_format"]["json_schema"].get("strict") is strict
    else:  # JSON mode: the schema goes in a system message
        assert body["messages"][0]["role"] == "system"
        assert '"population"' in body["messages"][0]["content"]
    assert isinstance(s.parsed, output)


async def test_a_reply_cut_at_max_tokens_is_a_structured_output_error(client: Client) -> None:
    s = client.stream(
        model="openai/gpt-oss-20b", prompt="Paris", response_format=City, max_tokens=5
    )
    with pytest.raises(StructuredOutputError, match="cut at max_tokens") as ei:
        async with s:
            async for _ in s.partial():
                pass
    assert ei.value.text == s.text
    with pytest.raises(StructuredOutputError, match="does not fit City"):
        s.parsed  # noqa: B018


async def test_dict_response_formats_pass_through_and_parsed_is_the_json(
    client: Client, server: SimulatedServer
) -> None:
    fmt = {"type": "json_object"}
    async with client.stream(model="openai/gpt-oss-20b", prompt="json", response_format=fmt) as s:
        await s.until_done()
    assert server.requests[0].body["response_format"] == fmt
    assert isinstance(s.parsed, dict)
    with pytest.raises(ConfigError, match="pydantic model class"):
        client.stream(prompt="x", response_format=int)


async def test_parsed_on_prose_is_a_structured_output_error(client: Client) -> None:
    async with client.stream(model="openai/gpt-oss-20b", prompt="hello") as s:
        await s.until_done()
    with pytest.raises(StructuredOutputError, match="not valid JSON"):
        s.parsed  # noqa: B018


async def test_reasoning_streams_apart_with_its_own_first_token_metrics(
    client: Client, server: SimulatedServer
) -> None:
    server.tokens_per_second = 500.0
    deltas = []
    async with client.stream(
        model="openai/gpt-oss-20b", prompt="why", reasoning_format="parsed", reasoning_effort="low"
    ) as s:
        async for d in s:
            deltas.append(d)
    assert all(not (d.reasoning and d.content) for d in deltas)
    assert s.reasoning and s.text and "<think>" not in s.text
    body = server.requests[0].body
    assert body["reasoning_format"] == "parsed" and body["reasoning_effort"] == "low"
    m = s.metrics
    assert m.time_to_first_reasoning_s is not None and m.time_to_first_answer_s is not None
    first_r = next(d.arrived_ns for d in deltas if d.reasoning)
    first_a = next(d.arrived_ns for d in deltas if d.content)
    assert m.time_to_first_reasoning_s == pytest.approx((first_r - m.start_ns) / 1e9)
    assert m.time_to_first_answer_s == pytest.approx((first_a - m.start_ns) / 1e9)
    assert m.time_to_first_reasoning_s < m.time_to_first_answer_s
    assert m.ttft_s == m.time_to_first_reasoning_s
    assert s.usage is not None and s.usage.reasoning_tokens == server.reasoning_tokens


@pytest.mark.parametrize(
    ("params", "reasoning", "think_in_text"),
    [
        ({"reasoning_format": "raw"}, False, True),
        ({"reasoning_format": "hidden"}, False, False),
        ({"include_reasoning": False}, False, False),
        ({"include_reasoning": True}, True, False),
        ({"reasoning_effort": "none"}, False, False),
    ],
)
async def test_reasoning_options_pass_through(
    client: Client, params: dict[str, Any], reasoning: bool, think_in_text: bool
) -> None:
    async with client.stream(model="qwen/qwen3-32b", prompt="why", **params) as s:
        await s.until_done()
    assert bool(s.reasoning) is reasoning
    assert ("<think>" in s.text) is think_in_text
    assert s.metrics.time_to_first_answer_s is not None
    assert (s.metrics.time_to_first_reasoning_s is not None) is reasoning


async def test_compound_models_executed_tools_and_usage_breakdown(client: Client) -> None:
    seen: list[ExecutedTool] = []
    async with client.stream(model="groq/compound", prompt="latest groq news") as s:
        async for d in s:
            if d.executed_tools:
                seen += [ExecutedTool.from_dict(t) for t in d.executed_tools]
    assert seen and seen[0].type == "search" and seen[0].output is None  # the start
    (tool,) = s.executed_tools  # start and result merged by index
    assert tool.type == "search" and tool.arguments == '{"query":"latest groq news"}'
    assert tool.output and len(tool.search_results) == 2
    assert tool.sources[0] == (
        "https://example.com/latest-groq-news/1",
        "latest groq news — source 1",
    )
    assert s.usage_breakdown is not None
    (entry,) = s.usage_breakdown["models"]
    assert entry["usage"]["completion_tokens"] == s.usage.completion_tokens  # type: ignore[union-attr]
    assert s.text


def test_usage_keeps_reasoning_and_cached_tokens() -> None:
    u = Usage.from_dict(
        {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 8},
            "completion_tokens_details": {"reasoning_tokens": 3},
        }
    )
    assert u.cached_tokens == 8 and u.reasoning_tokens == 3
    assert Usage.from_dict({"prompt_tokens_details": {"cached_tokens": "x"}}).cached_tokens is None


async def test_complete_sends_a_models_schema_too(client: Client, server: SimulatedServer) -> None:
    done = await client.complete(model="openai/gpt-oss-20b", prompt="Paris", response_format=City)
    assert server.requests[0].body["response_format"]["json_schema"]["name"] == "City"
    assert City.model_validate_json(done.text).name


def _raw(delta: dict[str, Any], finish: str | None = None) -> bytes:
    import orjson

    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    head = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "groq/compound"}
    return orjson.dumps({**head, "choices": [choice]})


def test_the_chunk_template_declines_compound_chunks_it_does_not_know() -> None:
    """After a template is learned from plain reasoning chunks, a chunk that also carries
    `executed_tools` must go to the general parser (and be kept), not be read as text."""
    from groqstream.chunks import ChunkAssembler

    asm = ChunkAssembler()
    plain = [_raw({"reasoning": f"r{i} "}) for i in range(6)]
    asm.feed(plain[:3], 1)
    asm.feed(plain[3:], 2)
    assert asm._template is not None  # learned: the fast path is on
    search = {"index": 0, "type": "search", "arguments": '{"query":"q"}'}
    tool_chunk = _raw({"reasoning": "r6 ", "executed_tools": [search]})
    done = {**search, "output": "o", "search_results": {"results": [{"url": "u", "title": "t"}]}}
    out = asm.feed([tool_chunk, _raw({"executed_tools": [done]}), _raw({"content": "hi"})], 3)
    assert [d.reasoning for d in out] == ["r6 ", None, None]
    assert out[0].executed_tools == [search] and out[1].executed_tools == [done]
    assert out[2].executed_tools is None and out[2].content == "hi"
    (tool,) = asm.executed_tools()
    assert tool.output == "o" and tool.sources == [("u", "t")] and tool.arguments
    assert asm.reasoning() == "".join(f"r{i} " for i in range(7))
    assert asm.first_reasoning_ns == {0: 1} and asm.first_content_ns == {0: 3}


def test_bad_executed_tools_are_malformed_chunks() -> None:
    from groqstream import MalformedChunkError
    from groqstream.chunks import ChunkAssembler

    asm = ChunkAssembler()
    asm.feed([_raw({"executed_tools": ["search"]})], 1)
    assert isinstance(asm.error, MalformedChunkError)
    assert "executed_tools" in str(asm.error)


async def test_a_compound_reply_without_streaming_keeps_its_executed_tools(client: Client) -> None:
    done = await client.complete(model="groq/compound", prompt="groq news")
    (tool,) = done.executed_tools
    assert tool.type == "search" and tool.output and len(tool.sources) == 2
    assert done.raw["usage_breakdown"]["models"][0]["usage"]["completion_tokens"]
    assert done.message() == done.assistant_message()


def test_executed_tools_with_odd_fields_are_kept_without_failing() -> None:
    t = ExecutedTool.from_dict(
        {"index": "x", "type": None, "output": 3, "search_results": [1], "code_results": 7}
    )
    assert (t.index, t.type, t.output, t.search_results, t.code_results) == (0, "", None, [], [])
    t.merge({"search_results": {"results": [{"url": "u"}, "junk"]}, "output": "done"})
    assert t.sources == [("u", "")] and t.output == "done"
