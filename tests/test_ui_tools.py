"""Relaying tool loops and compound replies in the plain SSE protocol (the Vercel one is checked
by the real `ai` parser in test_ui_vercel.py): the same events — reasoning, tool inputs as they
stream, each call, each output, sources, one `step` per new round, `done` or `error`."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import pytest

from _ui_helpers import load_example, poll, read_sse
from groqstream import Client, ToolUseFailedError
from groqstream.sse import SSEDecoder
from groqstream.testing import Fault, SimulatedServer
from groqstream.ui import relay

MODEL = "openai/gpt-oss-20b"
ASK = [{"role": "user", "content": "Weather in Paris?"}]


async def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"city": city, "temperature": 21}


def _events(chunks: list[bytes]) -> list[Any]:
    return SSEDecoder().feed(b"".join(chunks))


async def test_sse_relay_of_a_tool_loop(client: Client) -> None:
    run = client.run_tools(ASK, tools=[get_weather], model=MODEL)
    events = _events([c async for c in relay(run)])
    names = [e.event for e in events]
    assert [int(e.id) for e in events] == list(range(1, len(events) + 1))
    final = run.final
    assert final is not None
    (call,) = final.rounds[0].tool_calls
    start = events[names.index("tool_input_start")].json()
    assert start == {"id": call.id, "name": "get_weather", "index": 0}
    deltas = "".join(e.json()["delta"] for e in events if e.event == "tool_input_delta")
    assert deltas == call.arguments
    assert events[names.index("tool_call")].json()["arguments"] == call.arguments
    result = events[names.index("tool_result")].json()
    assert result["id"] == call.id and result["error"] is None
    assert '"temperature":21' in result["output"]
    assert names.index("tool_call") < names.index("tool_result") < names.index("step")
    assert events[names.index("step")].json() == {"round": 2}
    text = "".join(e.json()["text"] for e in events if e.event == "content")
    assert text == final.text
    assert names[-1] == "done" and events[-1].json()["finish_reason"] == "stop"
    assert names.count("reasoning") > 1


async def test_sse_relay_of_a_failed_tool_loop_ends_with_an_error(
    client: Client, server: SimulatedServer
) -> None:
    server.faults.append(Fault.tool_use_failed("<function=get_weather{}>"))
    run = client.run_tools(ASK, tools=[get_weather], model=MODEL)
    events = _events([c async for c in relay(run)])
    err = events[-1].json()
    assert events[-1].event == "error"
    assert err["type"] == ToolUseFailedError.__name__ and err["status"] == 400


async def test_sse_relay_of_compound_sources(client: Client) -> None:
    s = client.stream(model="groq/compound", prompt="groq news")
    events = _events([c async for c in relay(s)])
    sources = [e.json() for e in events if e.event == "source"]
    (tool,) = s.executed_tools
    assert [(x["url"], x["title"]) for x in sources] == tool.sources
    assert {x["tool"] for x in sources} == {"search"}


async def test_the_fastapi_tool_loop_example(server: SimulatedServer) -> None:
    """examples/tool_loop_app.py on uvicorn: the page, and a tool loop relayed to it."""
    uvicorn = pytest.importorskip("uvicorn", reason="uvicorn (the ui-test extra)")
    pytest.importorskip("fastapi", reason="fastapi (the ui-test extra)")
    app = load_example("tool_loop_app").create_app(server.base_url)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = asyncio.create_task(srv.serve(sockets=[sock]))
    try:
        await poll(lambda: srv.started or task.done(), 30, "uvicorn start")
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/") as resp:
                assert "tool_input_start" in await resp.text()
            async with http.post(url + "/chat", json={"prompt": "Weather in Paris?"}) as resp:
                read = await read_sse(resp)
            body = {
                "messages": [
                    {"id": "1", "role": "user", "parts": [{"type": "text", "text": "Paris?"}]}
                ]
            }
            async with http.post(url + "/api/chat", json=body) as resp:
                vercel = await resp.read()
    finally:
        srv.should_exit = True
        await task
        sock.close()
    names = [e.event for e in read.events]
    assert names[-1] == "done" and "tool_result" in names and "step" in names
    result = read.events[names.index("tool_result")].json()
    assert result["name"] == "get_weather" and '"sky":"clear"' in result["output"]
    assert b'"type":"tool-output-available"' in vercel and vercel.endswith(b"data: [DONE]\n\n")
    assert server.requests[0].body["messages"][0]["role"] == "system"
