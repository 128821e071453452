"""The live page's application (`serve --ui`) and the aiohttp example, over loopback."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from _ui_helpers import aiohttp_site, load_example, poll, read_sse
from groqstream.testing import SimulatedServer
from groqstream.ui.app import UIConfig, create_app

MODEL = "openai/gpt-oss-20b"
TEST_IDS = ("prompt", "send", "stop", "answer", "reasoning", "ttft", "tokens-per-s", "status")


@pytest.fixture
async def url(server: SimulatedServer) -> AsyncIterator[str]:
    app = create_app(UIConfig(server.base_url, model=MODEL, backend="sim"))
    async with aiohttp_site(app) as u:
        yield u


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_pages_and_static_files(url: str, http: aiohttp.ClientSession) -> None:
    async with http.get(url + "/") as r:
        page = await r.text()
        assert r.headers["Content-Type"].startswith("text/html")
    for tid in TEST_IDS:
        assert f'data-testid="{tid}"' in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # no CDN: works offline
    async with http.get(url + "/fanout") as r:
        assert 'data-testid="fanout-histogram"' in await r.text()
    for name, ctype in (("chat.js", "text/javascript"), ("style.css", "text/css")):
        async with http.get(f"{url}/static/{name}") as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith(ctype)
    for bad in ("nope.js", "..%2Fapp.py", ".hidden.js", "app.py"):
        async with http.get(f"{url}/static/{bad}") as r:
            assert r.status == 404, bad


async def test_config(url: str, http: aiohttp.ClientSession) -> None:
    async with http.get(url + "/api/config") as r:
        cfg = await r.json()
    assert cfg["model"] == MODEL and MODEL in cfg["models"] and cfg["backend"] == "sim"


async def test_chat_streams_sse_with_a_tool(
    url: str, http: aiohttp.ClientSession, server: SimulatedServer
) -> None:
    body = {"prompt": "Weather in Oslo?", "tools": True, "max_tokens": 100}
    async with http.post(url + "/api/chat", json=body) as r:
        read = await read_sse(r)
    (call,) = read.named("tool_call")
    assert call.json()["name"] == "get_weather"
    assert read.named("done")[0].json()["finish_reason"] == "tool_calls"
    assert server.requests[0].body["max_tokens"] == 100
    assert server.requests[0].body["model"] == MODEL


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1]", "JSON object"),
        (b"{}", "prompt"),
        (b'{"prompt": "  "}', "prompt"),
        (b'{"prompt": "x", "max_tokens": 0}', "max_tokens"),
        (b'{"prompt": "x", "max_tokens": true}', "max_tokens"),
        (b'{"prompt": "x", "model": 5}', "model"),
    ],
)
async def test_bad_chat_requests_are_400(
    url: str, http: aiohttp.ClientSession, body: bytes, match: str
) -> None:
    async with http.post(url + "/api/chat", data=body) as r:
        assert r.status == 400
        err = (await r.json())["error"]
    assert err["type"] == "BadRequest" and re.search(match, err["message"])


async def test_vercel_endpoint(url: str, http: aiohttp.ClientSession) -> None:
    msgs = [{"id": "1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]
    async with http.post(url + "/api/chat/vercel", json={"messages": msgs}) as r:
        assert r.headers["x-vercel-ai-ui-message-stream"] == "v1"
        assert (await r.read()).endswith(b"data: [DONE]\n\n")
    async with http.post(url + "/api/chat/vercel", json={"messages": [{"role": "x"}]}) as r:
        assert r.status == 400 and (await r.json())["error"]["type"] == "InvalidUIMessage"


async def test_resumable_streams_api(url: str, http: aiohttp.ClientSession) -> None:
    async with http.post(url + "/api/streams", json={"prompt": "hi"}) as r:
        started = await r.json()
    async with http.get(url + started["url"]) as r:
        read = await read_sse(r)
    assert read.events[-1].event == "done"
    async with http.delete(url + started["url"]) as r:
        assert r.status == 204
    async with http.delete(url + started["url"]) as r:
        assert r.status == 404
    async with http.post(url + "/api/streams", json={"prompt": "x", "protocol": "ws"}) as r:
        assert r.status == 400


async def test_fanout_api(url: str, http: aiohttp.ClientSession, server: SimulatedServer) -> None:
    body = {"prompt": "sum", "n": 6, "concurrency": 2}
    async with http.post(url + "/api/fanout", json=body) as r:
        read = await read_sse(r)
    assert read.events[0].event == "start" and read.events[0].json() == {"n": 6, "concurrency": 2}
    summary = read.named("summary")[0].json()
    assert summary["done"] == 6 and summary["failed"] == 0 and summary["ttft_p50_s"] > 0
    ttfts = [t for e in read.named("tick") for t in e.json()["ttft_s"]]
    assert len(ttfts) == 6
    assert server.stats.streams_peak <= 2 and len(server.requests) == 6
    prompts = {r.body["messages"][-1]["content"] for r in server.requests}
    assert len(prompts) == 6


@pytest.mark.parametrize("bad", [{"n": 0}, {"n": 1001}, {"concurrency": 0}, {"n": "5"}])
async def test_bad_fanout_requests_are_400(
    url: str, http: aiohttp.ClientSession, bad: dict[str, Any]
) -> None:
    async with http.post(url + "/api/fanout", json={"prompt": "x", **bad}) as r:
        assert r.status == 400


async def test_closing_the_fanout_view_cancels_every_stream(
    url: str, http: aiohttp.ClientSession, server: SimulatedServer
) -> None:
    server.tokens_per_second = 50.0
    server.output_tokens = 1000
    body = {"prompt": "long", "n": 8, "concurrency": 4}
    r = await http.post(url + "/api/fanout", json=body)
    await read_sse(r, stop=lambda read: bool(read.named("tick")))
    await poll(lambda: len(server.requests) == 4, 5, "4 streams started")

    def all_cancelled() -> bool:
        return all(q.outcome == "client_disconnected" for q in server.requests)

    await poll(all_cancelled, 10, "every stream cancelled")  # their answers last 20 s
    assert len(server.requests) == 4  # the queued ones never started


async def test_aiohttp_example(server: SimulatedServer, http: aiohttp.ClientSession) -> None:
    app = load_example("aiohttp_app").create_app(server.base_url)
    async with aiohttp_site(app) as u:
        async with http.post(u + "/chat", json={"prompt": "hello"}) as r:
            read = await read_sse(r)
        assert read.events[-1].event == "done" and read.text()
        msgs = [{"id": "1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}]
        async with http.post(u + "/api/chat", json={"messages": msgs}) as r:
            assert r.headers["x-vercel-ai-ui-message-stream"] == "v1"
            await r.read()
        async with http.post(u + "/streams", json={"prompt": "hi"}) as r:
            key = (await r.json())["key"]
        async with http.get(f"{u}/streams/{key}") as r:
            assert (await read_sse(r)).events[-1].event == "done"


def test_groqstream_ui_imports_no_starlette() -> None:
    """Starlette is the optional extra: importing groqstream.ui must not need it."""
    code = "import sys, groqstream.ui; assert 'starlette' not in sys.modules, 'starlette imported'"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
