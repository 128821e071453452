"""A client that goes away mid-stream is normal: the simulated server (in-process and as
`groqstream serve`) notes it at debug level and never prints an aiohttp traceback."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import struct
import sys

import aiohttp
import orjson
import pytest

from groqstream.testing import Fault, SimulatedServer

KIMI = "moonshotai/kimi-k2-instruct"
BODY = {"model": KIMI, "messages": [{"role": "user", "content": "hi"}], "stream": True}


def request_bytes(body: dict[str, object], path: str = "/openai/v1/chat/completions") -> bytes:
    raw = orjson.dumps(body)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(raw)}\r\n\r\n"
    )
    return head.encode() + raw


async def hang_up_mid_stream(port: int, *, reset: bool, body: dict[str, object] = BODY) -> bytes:
    """Send a streaming request, read the start of the reply, then close (FIN) or reset (RST)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request_bytes(body))
    got = await asyncio.wait_for(reader.read(65536), 30)
    if reset:  # SO_LINGER 0: close() sends RST, as a crashed client does
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.close()
    await writer.wait_closed()
    return got


async def read_until_cut(port: int, body: dict[str, object]) -> bytes:
    """Send a streaming request and read until the server ends the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request_bytes(body))
    got = b""
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), 30):
            got += chunk
    except ConnectionResetError:
        pass  # the server aborted: what a cut is
    writer.close()
    with contextlib.suppress(ConnectionResetError):
        await writer.wait_closed()
    return got


async def plain_request(port: int) -> int:
    """One small non-streaming request: proves the server is alive and has moved on."""
    async with aiohttp.ClientSession() as s:
        url = f"http://127.0.0.1:{port}/openai/v1/chat/completions"
        async with s.post(url, json={**BODY, "stream": False, "max_tokens": 2}) as r:
            await r.read()
            return r.status


async def test_serve_prints_no_traceback_when_clients_hang_up() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "groqstream",
        "serve",
        "--port",
        "0",
        "--ttft",
        "0",
        "--tps",
        "0",  # as fast as possible: the server is mid-write when the client goes
        "--output-tokens",
        "50000",  # ~9 MB: more than the socket buffers hold
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/openai/v1", line)
        assert match, line
        port = int(match.group(1))
        for reset in (False, True, False, True):
            got = await hang_up_mid_stream(port, reset=reset)
            assert got.startswith(b"HTTP/1.1 200")
        cut = {**BODY, "sim_fault": {"kind": "cut", "after_chunks": 3}}
        assert b'"content"' in await read_until_cut(port, cut)
        assert await plain_request(port) == 200
        await asyncio.sleep(0.2)
        assert await plain_request(port) == 200
    finally:
        proc.terminate()
        _, err_bytes = await proc.communicate()
    err = err_bytes.decode()
    assert "Traceback" not in err, err
    assert "Error handling request" not in err, err


@pytest.mark.parametrize("paced", [False, True])
async def test_simulated_server_logs_a_hang_up_at_debug_only(
    paced: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tps, n = (200.0, 2000) if paced else (0.0, 50_000)
    async with SimulatedServer(ttft=0, tokens_per_second=tps, output_tokens=n) as srv:
        for reset in (False, True):
            await hang_up_mid_stream(srv.port, reset=reset)
        srv.faults.append(Fault.cut(after_chunks=2))
        assert b'"content"' in await read_until_cut(srv.port, BODY)
        await srv.wait_idle(timeout=30)
        assert await plain_request(srv.port) == 200
    outcomes = [r.outcome for r in srv.requests]
    assert outcomes == ["client_disconnected", "client_disconnected", "fault", "completed"]
    assert srv.stats.streams_cancelled == 2
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [], [(r.name, r.getMessage()) for r in loud]
    said = [r.getMessage() for r in caplog.records if r.name == "groqstream.testing"]
    assert sum("client disconnected" in m for m in said) == 2
