"""The Starlette/FastAPI adapter, through examples/fastapi_app.py served by uvicorn on loopback."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from _ui_helpers import load_example, poll, read_sse
from groqstream.errors import ConfigError
from groqstream.testing import Fault, SimulatedServer

uvicorn = pytest.importorskip("uvicorn", reason="uvicorn (the ui-test extra)")
pytest.importorskip("fastapi", reason="fastapi (the ui-test extra)")


@pytest.fixture
async def fastapi_url(server: SimulatedServer) -> AsyncIterator[str]:
    """examples/fastapi_app.py on uvicorn, in this event loop, on a free port."""
    app = load_example("fastapi_app").create_app(server.base_url)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve(sockets=[sock]))
    try:
        await poll(lambda: srv.started or task.done(), 30, "uvicorn start")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        srv.should_exit = True
        await task
        sock.close()


async def test_fastapi_sse_relay(fastapi_url: str, server: SimulatedServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(fastapi_url + "/chat", json={"prompt": "hello"}) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            assert resp.headers["Cache-Control"] == "no-cache"
            assert resp.headers["X-Accel-Buffering"] == "no"
            read = await read_sse(resp)
    assert read.events[-1].event == "done"
    assert read.ids == list(range(1, len(read.events) + 1))
    assert len(read.text()) > 20 and read.text("reasoning")
    assert server.requests[0].outcome == "completed"


async def test_fastapi_vercel_headers(fastapi_url: str) -> None:
    body = {"messages": [{"id": "1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]}
    async with aiohttp.ClientSession() as http:
        async with http.post(fastapi_url + "/api/chat", json=body) as resp:
            assert resp.headers["x-vercel-ai-ui-message-stream"] == "v1"
            data = await resp.read()
    assert data.endswith(b"data: [DONE]\n\n") and b'"type":"text-delta"' in data


@pytest.mark.parametrize("silent", [False, True], ids=["tokens-flowing", "model-silent"])
async def test_fastapi_disconnect_cancels_upstream(
    fastapi_url: str, server: SimulatedServer, silent: bool
) -> None:
    server.tokens_per_second = 100.0
    server.output_tokens = 2000
    if silent:
        server.faults.append(Fault.stall(after_chunks=3, seconds=60.0))
    async with aiohttp.ClientSession() as http:
        resp = await http.post(fastapi_url + "/chat", json={"prompt": "long"})
        read = await read_sse(resp, stop=lambda r: len(r.named("reasoning")) >= 3)
        assert len(read.named("reasoning")) >= 3
        await poll(lambda: server.requests[0].outcome == "client_disconnected", 10, "cancel")
    assert server.requests[0].content_chunks_sent < 2000


async def test_fastapi_hub_resume(fastapi_url: str, server: SimulatedServer) -> None:
    server.tokens_per_second = 200.0
    server.output_tokens = 120
    async with aiohttp.ClientSession() as http:
        async with http.post(fastapi_url + "/streams", json={"prompt": "resume"}) as r:
            key = (await r.json())["key"]
        url = f"{fastapi_url}/streams/{key}"
        async with http.get(url) as resp:
            first = await read_sse(resp, stop=lambda r: len(r.named("content")) >= 3)
        last = first.ids[-1]
        async with http.get(url, headers={"Last-Event-ID": str(last)}) as resp:
            second = await read_sse(resp)
        async with http.get(url, headers={"Last-Event-ID": "x"}) as resp:
            assert resp.status == 400
        async with http.get(fastapi_url + "/streams/nope") as resp:
            assert resp.status == 404
        async with http.get(url, headers={"Last-Event-ID": str(second.ids[-1])}) as resp:
            assert resp.status == 204
    ids = first.ids + second.ids
    assert ids == list(range(1, len(ids) + 1))
    assert second.events[-1].event == "done"


def test_without_starlette_a_config_error_says_what_to_install(monkeypatch: Any) -> None:
    import groqstream.ui as ui

    monkeypatch.delitem(sys.modules, "groqstream.ui.starlette_adapter", raising=False)
    monkeypatch.setitem(sys.modules, "starlette.responses", None)
    with pytest.raises(ConfigError, match=r"groqstream\[ui\]"):
        ui.starlette_response(object())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"groqstream\[ui\]"):
        ui.RelayHub().starlette_response(object(), "key")
