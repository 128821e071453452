"""Other OpenAI-compatible servers work unchanged: vLLM, llama.cpp, Ollama, OpenAI."""

from __future__ import annotations

import dataclasses

import pytest

from groqstream import Client, StreamInterrupted
from groqstream.models import KIMI_K2_INSTRUCT as KIMI
from groqstream.testing import DIALECTS, Fault, SimulatedServer


@pytest.mark.parametrize("dialect", ["groq", "openai", "vllm", "llamacpp", "ollama"])
async def test_each_dialect_streams_text_usage_and_metrics(dialect: str) -> None:
    async with (
        SimulatedServer(
            dialect=dialect, ttft=0.005, tokens_per_second=2000, output_tokens=12
        ) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        async with client.stream(model="openai/gpt-oss-20b", prompt="hi") as s:
            deltas = [d async for d in s]
        assert s.finished and s.finish_reason == "stop"
        assert len(s.text.split()) == 12
        if DIALECTS[dialect].reasoning_field is None:
            assert s.reasoning is None
        else:
            assert s.reasoning  # `reasoning` or `reasoning_content`, both understood
        assert s.usage is not None and s.usage.completion_tokens == s.metrics.output_tokens
        assert s.metrics.ttft_s is not None and s.metrics.tpot_s is not None
        assert all(d.content or d.reasoning or d.finish_reason for d in deltas)
        if dialect == "groq":
            assert s.usage.queue_time is not None
            assert s.request_id is not None and s.request_id.startswith("req_")
        if dialect == "llamacpp":
            assert s.usage.completion_time is not None  # from `timings`


async def test_server_without_done_is_complete_after_finish_reason() -> None:
    no_done = dataclasses.replace(DIALECTS["vllm"], send_done=False)
    async with (
        SimulatedServer(dialect=no_done, ttft=0.001, tokens_per_second=5000) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        for _ in range(3):
            async with client.stream(model=KIMI, prompt="hi") as s:
                await s.until_done()
            assert s.finished and s.text
        assert srv.stats.connections_total == 1


async def test_ping_comments_are_ignored() -> None:
    pinging = dataclasses.replace(DIALECTS["vllm"], ping_interval=0.002)
    async with (
        SimulatedServer(dialect=pinging, ttft=0.02, tokens_per_second=300, output_tokens=10) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        async with client.stream(model=KIMI, prompt="hi") as s:
            await s.until_done()
        assert len(s.text.split()) == 10


async def test_end_of_body_before_finish_is_interrupted_in_any_dialect() -> None:
    async with (
        SimulatedServer(dialect="ollama") as srv,
        Client(base_url=srv.base_url, max_retries=0) as client,
    ):
        srv.faults.append(Fault.end_early(after_chunks=2))
        with pytest.raises(StreamInterrupted):
            async with client.stream(model=KIMI, prompt="hi") as s:
                await s.until_done()
