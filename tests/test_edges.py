"""Edges a review of the redesign found: where a key could leak, a stream could hang or come
back to life, a template could accept what the general path refuses, and a server could make
a client retry forever. Each test fails without its fix."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from batch_files import write_input
from groqstream import (
    APIConnectionError,
    BatchInputError,
    CapacityExceededError,
    Client,
    ConfigError,
    IdleTimeout,
    MalformedChunkError,
    MissingAPIKeyError,
    RateLimitError,
    RetryPolicy,
    StreamState,
    Timeouts,
    run_batch,
)
from groqstream._retry import RetryState
from groqstream._transport import is_loopback
from groqstream.chunks import ChunkAssembler
from groqstream.models import KIMI_K2_INSTRUCT
from groqstream.sse import SSEDecoder
from groqstream.testing import Fault, SimulatedServer
from groqstream.types import Usage
from rawserver import raw_server

MODEL = KIMI_K2_INSTRUCT
SECRET = "gsk_live_EDGE_0123456789"


def chunk(content: str | None = None, **choice: Any) -> bytes:
    delta = {"content": content} if content is not None else {}
    ch = {"index": 0, "delta": delta, "finish_reason": None, **choice}
    obj = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": MODEL, "choices": [ch]}
    return b"data: " + orjson.dumps(obj) + b"\n\n"


# --- keys -------------------------------------------------------------------------------------


def test_a_name_that_merely_starts_with_127_is_not_this_machine() -> None:
    assert is_loopback("http://127.0.0.1:8000/v1")
    assert is_loopback("http://127.12.0.9/v1")
    assert is_loopback("http://[::1]:8000/v1")
    assert is_loopback("http://localhost/v1")
    assert not is_loopback("http://127.evil.example/v1")
    with pytest.raises(ConfigError):
        Client(api_key=SECRET, base_url="http://127.evil.example/v1")


def test_credentials_in_the_base_url_are_refused() -> None:
    with pytest.raises(ConfigError) as info:
        Client(api_key=SECRET, base_url="https://user:hunter2@api.example.com/v1")
    assert "hunter2" not in str(info.value)


def test_a_providers_key_goes_only_to_that_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", SECRET)
    monkeypatch.delenv("GROQSTREAM_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="GROQSTREAM_API_KEY"):
        Client(base_url="https://vllm.example.com/v1")
    Client(base_url="https://api.groq.com/openai/v1")  # Groq's own URL takes it
    monkeypatch.setenv("GROQSTREAM_API_KEY", "for-my-server")
    Client(base_url="https://vllm.example.com/v1")


async def test_a_loopback_server_is_not_sent_the_groq_key(
    monkeypatch: pytest.MonkeyPatch, server: SimulatedServer
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", SECRET)
    monkeypatch.delenv("GROQSTREAM_API_KEY", raising=False)
    async with Client(base_url=server.base_url) as c:
        await c.complete(model=MODEL, prompt="x")
    assert "Authorization" not in server.requests[-1].headers


async def test_a_connection_error_keeps_no_aiohttp_context_holding_the_request() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with Client(api_key=SECRET, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0) as c:
        with pytest.raises(APIConnectionError) as info:
            await c.complete(model=MODEL, prompt="x")
    err: BaseException | None = info.value
    while err is not None:
        assert SECRET not in repr(err)
        assert err.__context__ is None or isinstance(err.__context__, APIConnectionError)
        err = err.__cause__


# --- streams ----------------------------------------------------------------------------------


async def test_idle_applies_when_first_byte_is_off(server: SimulatedServer) -> None:
    server.faults.append(Fault.stall(after_chunks=3, seconds=30))
    timeouts = Timeouts(connect=5, first_byte=None, idle=0.3, total=None)
    async with Client(base_url=server.base_url, timeout=timeouts) as c:
        with pytest.raises(IdleTimeout):
            async with c.stream(model=MODEL, prompt="x") as s:
                await s.until_done()


async def test_closing_a_stream_while_it_opens_ends_it_quietly(server: SimulatedServer) -> None:
    server.faults.append(Fault.delay_headers(1.0))
    async with Client(base_url=server.base_url) as c:
        s = c.stream(model=MODEL, prompt="x")
        task = asyncio.create_task(s.start())
        while not server.requests:
            await asyncio.sleep(0.01)
        s.close()
        await task  # no AssertionError, no stream brought back to life
        assert s.state is StreamState.CLOSED
        assert [d async for d in s] == []
    await server.wait_idle()


async def test_a_body_kept_open_after_done_does_not_hang_the_stream() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(chunk("all") + chunk(finish_reason="stop") + b"data: [DONE]\n\n")
        await asyncio.sleep(30)  # never ends the body
        return resp

    async with raw_server(handler) as srv, Client(base_url=srv.base_url) as c:
        t = time.monotonic()
        async with c.stream(model=MODEL, prompt="x") as s:
            await s.until_done()
        assert time.monotonic() - t < 10
    assert s.finished
    assert s.text == "all"


def test_a_bad_chunk_before_done_in_the_same_read_is_not_a_finished_stream() -> None:
    asm = ChunkAssembler()
    bad = b'{"id":"c","choices":{"0":1}}'
    good = chunk("ok")[6:-2]
    asm.feed([good, bad, b"[DONE]"], 1)
    assert isinstance(asm.error, MalformedChunkError)
    assert not asm.done
    asm2 = ChunkAssembler()
    asm2.feed([good, b"[DONE]", bad], 1)  # nothing after the end counts
    assert asm2.error is None
    assert asm2.done


async def test_a_keep_alive_without_its_blank_line_is_not_a_sign_of_life() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(chunk("first"))
        for _ in range(100):
            await asyncio.sleep(0.05)
            await resp.write(b": ping\n")  # no blank line: never an event
        return resp

    timeouts = Timeouts(connect=5, first_byte=5, idle=0.5, total=30)
    async with raw_server(handler) as srv, Client(base_url=srv.base_url, timeout=timeouts) as c:
        with pytest.raises(IdleTimeout):
            async with c.stream(model=MODEL, prompt="x") as s:
                await s.until_done()


# --- retries ----------------------------------------------------------------------------------


async def test_fan_out_uses_the_clients_retry_policy(server: SimulatedServer) -> None:
    policy = RetryPolicy(retry_capacity=True, initial=0.01)
    async with Client(base_url=server.base_url, retry_policy=policy) as c:
        server.faults.append(Fault.status(498, error_type="capacity_exceeded"))
        [r] = await c.fan_out(["x"], model=MODEL).collect()
    assert r.ok
    assert r.attempts == 2


def test_a_zero_rate_limit_wait_cannot_make_a_request_retry_forever() -> None:
    policy = RetryPolicy(max_retries=2, max_rate_limit_wait=300)
    state = RetryState()
    err = RateLimitError("x", status=429, retry_after=0.0)
    waits = []
    while (w := policy.decide(err, state, 0.5)) is not None:
        waits.append(w)
        assert len(waits) < 10, "retried without end"
    assert waits == [0.0, 0.0]


def test_backoff_never_overflows() -> None:
    assert RetryPolicy().backoff(5000, 0.0) == 8.0
    with pytest.raises(ConfigError):
        RetryPolicy(max_retries=True)  # a bool is an int to mypy, not to us
    with pytest.raises(ConfigError):
        RetryPolicy(max_rate_limit_wait=-1)


# --- templates and shapes --------------------------------------------------------------------


def test_a_template_hole_refuses_what_json_refuses() -> None:
    def raw_chunk(text: str, noise: bytes) -> bytes:
        head = b'{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":'
        body = head + b'{"content":' + orjson.dumps(text) + b'},"finish_reason":null}]'
        return body + b',"obfuscation":"' + noise + b'"}'

    events = [raw_chunk("a", b"xy"), raw_chunk("b", b"xyz"), raw_chunk("c", b"x\x01\xffz")]
    learner, plain = ChunkAssembler(), ChunkAssembler()
    plain._learn_budget = 0
    for n, e in enumerate(events):
        learner.feed([e], n)
        plain.feed([e], n)
    assert type(learner.error) is type(plain.error) is MalformedChunkError
    assert learner.text() == plain.text() == "ab"


def test_falsy_tool_calls_of_the_wrong_type_are_malformed() -> None:
    for bad in ('""', "0", "{}", "false"):
        asm = ChunkAssembler()
        asm.feed([b'{"choices":[{"index":0,"delta":{"tool_calls":' + bad.encode() + b"}}]}"], 1)
        assert isinstance(asm.error, MalformedChunkError), bad


def test_usage_counts_are_whole_numbers_not_booleans() -> None:
    u = Usage.from_dict({"prompt_tokens": True, "completion_tokens": 2.5, "total_time": False})
    assert u.prompt_tokens is None
    assert u.completion_tokens is None
    assert u.total_time is None


def test_an_absurd_sse_retry_field_is_ignored() -> None:
    [ev] = SSEDecoder().feed(b"retry: " + b"9" * 5000 + b"\ndata: x\n\n")
    assert ev.retry is None
    assert ev.data == "x"


async def test_a_corrupted_output_line_is_a_typed_error(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 3)
    out.write_bytes(b"not json\n")
    with pytest.raises(BatchInputError, match="line 1"):
        await run_batch(src, out, base_url="http://127.0.0.1:9/v1")


async def test_capacity_exceeded_is_still_final_by_default(server: SimulatedServer) -> None:
    async with Client(base_url=server.base_url) as c:
        server.faults.append(Fault.status(498, error_type="capacity_exceeded"))
        [r] = await c.fan_out(["x"], model=MODEL).collect()
    assert isinstance(r.error, CapacityExceededError)
    assert r.attempts == 1
