"""Streaming against the simulated server over real loopback sockets: the happy paths."""

from __future__ import annotations

import asyncio
import itertools
import statistics

import anyio
import pytest

from groqstream import Client, Delta, Timeouts
from groqstream.models import KIMI_K2_INSTRUCT as KIMI
from groqstream.testing import SimulatedServer


async def test_deltas_and_final_text(client: Client, server: SimulatedServer) -> None:
    deltas: list[Delta] = []
    async with client.stream(model="moonshotai/kimi-k2-instruct", prompt="Say hello") as s:
        async for d in s:
            deltas.append(d)
    assert s.finished
    assert "".join(d.content for d in deltas) == s.text
    assert len(s.text.split()) == 24
    assert deltas[-1].finish_reason == "stop" and s.finish_reason == "stop"
    assert all(d.reasoning is None for d in deltas)
    # every delta is stamped with the read that brought it, in order
    stamps = [d.arrived_ns for d in deltas]
    assert stamps == sorted(stamps) and stamps[0] > 0
    assert server.stats.streams_completed == 1


async def test_same_prompt_same_text(client: Client) -> None:
    texts = []
    for _ in range(2):
        async with client.stream(prompt="determinism please") as s:
            await s.until_done()
        texts.append(s.text)
    assert texts[0] == texts[1] and texts[0]


async def test_reasoning_deltas_come_first(client: Client) -> None:
    kinds = []
    async with client.stream(model="openai/gpt-oss-20b", prompt="Think first") as s:
        async for d in s:
            kinds.append("r" if d.reasoning else "c" if d.content else "-")
    joined = "".join(kinds).rstrip("-")
    assert joined.startswith("r") and "c" in joined
    assert "rc" in joined and "cr" not in joined  # all reasoning before any content
    assert s.reasoning and s.text
    assert s.usage is not None
    assert s.usage.completion_tokens == s.metrics.output_tokens
    assert s.metrics.chunks == joined.count("r") + joined.count("c")


async def test_tool_call_assembly(client: Client) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"location": {"type": "string"}, "unit": {"type": "string"}},
                },
            },
        }
    ]
    # vLLM's dialect streams the arguments in pieces (Groq's sends each call whole)
    async with (
        SimulatedServer(ttft=0.005, tokens_per_second=2000.0, dialect="vllm") as srv,
        Client(base_url=srv.base_url) as vllm,
    ):
        async with vllm.stream(prompt="Weather in Paris?", tools=tools) as s:
            fragments = [d.tool_calls async for d in s if d.tool_calls]
    assert len(fragments) > 1  # the arguments really came in pieces
    assert s.finish_reason == "tool_calls"
    [call] = s.tool_calls
    assert call.name == "get_weather" and call.id.startswith("call_")
    assert isinstance(call.parsed_arguments(), dict)


async def test_usage_x_groq_and_request_id(client: Client, server: SimulatedServer) -> None:
    async with client.stream(prompt="usage please", max_tokens=10) as s:
        await s.until_done()
    assert s.finish_reason == "length"
    assert s.request_id is not None and s.request_id.startswith("req_")
    assert s.request_id == s.headers.get("x-request-id")
    u = s.usage
    assert u is not None
    assert u.completion_tokens is not None and u.completion_tokens >= 10
    assert u.queue_time is not None and u.completion_time is not None and u.total_time is not None
    m = s.metrics
    assert m.server_completion_s == u.completion_time
    assert m.prompt_tokens == u.prompt_tokens
    # parameters pass through untouched; usage is asked for by default
    body = server.requests[-1].body
    assert body["max_tokens"] == 10
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


async def test_messages_and_system_short_form(client: Client, server: SimulatedServer) -> None:
    async with client.stream(prompt="hi", system="be brief", temperature=0.2) as s:
        await s.until_done()
    body = server.requests[-1].body
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert body["temperature"] == 0.2


async def test_metrics_match_server_pacing_at_concurrency_one() -> None:
    """The client's TTFT, ITL and TPOT are what the server actually did, compared with the
    server's recorded send stamps (one process, one clock: load delays both alike). The
    wall-clock accuracy claim (TTFT within a few ms of the configured value) is measured by
    benchmarks/sim_pacing.py, not asserted here."""
    ttft, tps, n = 0.080, 200.0, 30
    async with (
        SimulatedServer(
            ttft=ttft, tokens_per_second=tps, output_tokens=n, record_send_times=True
        ) as server,
        Client(base_url=server.base_url) as client,
    ):
        async with client.stream(model=KIMI, prompt="warm up") as s:
            await s.until_done()  # the first request pays for the TCP connect
        first_delivery: list[float] = []
        gap_errors: list[float] = []
        for i in range(5):
            async with client.stream(model=KIMI, prompt=f"p{i}") as s:
                await s.until_done()
            m, rec = s.metrics, server.requests[-1]
            assert m.ttft_s is not None and m.tpot_s is not None
            assert m.output_tokens == n and m.chunks == n == len(rec.send_ns)
            assert m.start_ns <= rec.received_ns  # stamped before the request left
            assert m.ttft_s >= ttft  # the server never sends early, so TTFT is never short
            delivery = [a - b for a, b in zip(m.output_ns, rec.send_ns, strict=True)]
            assert min(delivery) >= 0  # each chunk is stamped after the server sent it
            first_delivery.append(delivery[0] / 1e9)
            server_gaps = [(b - a) / 1e9 for a, b in itertools.pairwise(rec.send_ns)]
            gap_errors += [abs(c - g) for c, g in zip(m.itl_s, server_gaps, strict=True)]
            server_tpot = (rec.send_ns[-1] - rec.send_ns[0]) / 1e9 / (n - 1)
            assert m.tpot_s == pytest.approx(server_tpot, abs=0.005)
            assert m.server_completion_s == pytest.approx((n - 1) / tps)
    # The client's TTFT is the server's first send plus a delivery that is typically at once.
    assert statistics.median(first_delivery) < 0.02, first_delivery
    # each ITL is the server's gap, as sent (one stamp per stream would be 5 ms off)
    assert statistics.median(gap_errors) < 0.003


async def test_complete_non_streaming(client: Client) -> None:
    c = await client.complete(model="openai/gpt-oss-20b", prompt="one shot")
    assert c.text and c.reasoning
    assert c.finish_reason == "stop"
    assert c.usage is not None and c.usage.completion_tokens
    assert c.request_id and c.request_id.startswith("req_")
    assert c.e2el_s > 0


async def test_ask_one_liner(server: SimulatedServer) -> None:
    import groqstream

    text = await groqstream.ask("hello there", base_url=server.base_url, model=KIMI)
    async with (
        Client(base_url=server.base_url) as c,
        c.stream(model=KIMI, prompt="hello there") as s,
    ):
        await s.until_done()
    assert text == s.text


async def test_hundred_sequential_streams_use_one_connection(
    client: Client, server: SimulatedServer
) -> None:
    for i in range(100):
        async with client.stream(model=KIMI, prompt=f"q{i}", max_tokens=3) as s:
            async for _ in s:
                pass
        assert s.finished
    assert server.stats.connections_total == 1
    assert server.stats.streams_completed == 100


async def test_breaking_out_early_still_returns_connection_when_finish_seen(
    client: Client, server: SimulatedServer
) -> None:
    """A consumer that stops at the finish delta leaves a reusable connection."""
    for i in range(5):
        async with client.stream(model=KIMI, prompt=f"x{i}", max_tokens=2) as s:
            async for d in s:
                if d.finish_reason:
                    break
    assert server.stats.connections_total == 1


async def test_concurrent_streams_share_the_pool() -> None:
    """50 streams at once all run at once (no hidden pool cap): the server holds requests
    until all 50 are in flight — however slowly a busy machine gets there — then lets them
    stream together."""
    async with (
        SimulatedServer(ttft=0.05, output_tokens=8) as server,
        Client(base_url=server.base_url) as client,
    ):

        async def one(i: int) -> str:
            async with client.stream(model=KIMI, prompt=f"c{i}") as s:
                await s.until_done()
            return s.text

        server.hold()
        tasks = [asyncio.create_task(one(i)) for i in range(50)]
        with anyio.fail_after(60):
            while server.stats.requests_held < 50:
                await asyncio.sleep(0.01)
        server.release()
        texts = await asyncio.gather(*tasks)
    assert len(set(texts)) == 50
    assert server.stats.streams_peak == 50


async def test_timeouts_accept_a_float_total() -> None:
    c = Client(base_url="http://127.0.0.1:9/v1", timeout=12.5)
    assert c.timeouts == Timeouts(total=12.5)
