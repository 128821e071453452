"""The Vercel AI SDK protocol, checked by the real `ai` npm package (as `useChat` reads it).

A session fixture installs `ai` (the current major, 7, and the oldest the issue promises, 5)
into a temp dir with npm — or uses the dir `.ci/run` prepared (`GROQSTREAM_AI_SDK_DIR`). A node
script then drives our aiohttp backend with the package's own `DefaultChatTransport` (its
parser: `parseJsonEventStream` + `uiMessageChunkSchema`) and `readUIMessageStream`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from groqstream import ChatStream, Client, ToolRun
from groqstream.testing import Fault, SimulatedServer
from groqstream.ui import RelayHub, aiohttp_response, ui_messages_to_chat

AI_PACKAGES = ("ai@^7", "ai5@npm:ai@^5")
SCRIPT = Path(__file__).parent / "js" / "ai_sdk_client.mjs"
MODEL = "openai/gpt-oss-20b"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


async def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city.

    Args:
        city: The city name.
    """
    return {"city": city, "temperature": 21}


def _installed(d: Path) -> bool:
    return all((d / "node_modules" / name / "package.json").is_file() for name in ("ai", "ai5"))


@pytest.fixture(scope="session")
def ai_sdk_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory where `npm install ai` ran (skips only when node or npm is missing)."""
    env = os.environ.get("GROQSTREAM_AI_SDK_DIR")
    if env and _installed(Path(env)):
        return Path(env)
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run the `ai` package's parser; not installed")
    d = tmp_path_factory.mktemp("ai-sdk")
    (d / "package.json").write_text('{"private": true}')
    proc = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", *AI_PACKAGES],
        cwd=d,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0 and _installed(d), f"npm install ai failed:\n{proc.stderr[-2000:]}"
    return d


@dataclass
class Backend:
    """An aiohttp app speaking the AI SDK protocol, and the streams it relayed."""

    url: str
    hub: RelayHub
    streams: list[ChatStream] = field(default_factory=list)
    runs: list[ToolRun] = field(default_factory=list)

    async def run_node(self, ai_dir: Path, mode: str, pkg: str, chat_id: str, **body: Any) -> Any:
        proc = await asyncio.create_subprocess_exec(
            "node",
            str(SCRIPT),
            mode,
            self.url + "/api/chat",
            pkg,
            chat_id,
            json.dumps(body),
            env={**os.environ, "AI_SDK_DIR": str(ai_dir)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
        return json.loads(out.decode().strip().splitlines()[-1])


@pytest.fixture
async def backend(client: Client) -> AsyncIterator[Backend]:
    hub = RelayHub(ttl=30.0)
    b = Backend("", hub)

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        params: dict[str, Any] = {}
        if body.get("withTools"):
            params["tools"] = [WEATHER_TOOL]
        if body.get("fault"):
            params["sim_fault"] = body["fault"]
        messages = ui_messages_to_chat(body["messages"])
        if body.get("toolLoop"):  # a whole tool loop, relayed round by round
            run = client.run_tools(messages, tools=[get_weather], model=MODEL)
            b.runs.append(run)
            return await aiohttp_response(request, run, protocol="vercel")
        model = "groq/compound" if body.get("compound") else MODEL
        s = client.stream(model=model, messages=messages, **params)
        b.streams.append(s)
        return await aiohttp_response(request, s, protocol="vercel")

    async def resume(request: web.Request) -> web.StreamResponse:
        key = request.match_info["id"]
        if key not in hub:
            return web.Response(status=204)  # what useChat's resumeStream takes for "none"
        return await hub.aiohttp_response(request, key)

    app = web.Application()
    app.router.add_post("/api/chat", chat)
    app.router.add_get("/api/chat/{id}/stream", resume)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    b.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield b
    finally:
        await hub.aclose()
        await runner.cleanup()


def _parts(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [p for p in message["parts"] if p["type"] == kind]


def _chunk_types(result: dict[str, Any]) -> list[str]:
    return [c["type"] for c in result["chunks"]]


@pytest.mark.parametrize("pkg", ["ai", "ai5"])
async def test_use_chat_gets_the_streams_text_reasoning_and_tool_call(
    backend: Backend, ai_sdk_dir: Path, pkg: str
) -> None:
    result = await backend.run_node(ai_sdk_dir, "send", pkg, "chat-1", withTools=True)
    assert result["errors"] == []
    (s,) = backend.streams
    msg = result["message"]
    (reasoning,) = _parts(msg, "reasoning")
    assert reasoning["text"] == s.reasoning and reasoning["state"] == "done"
    (tool,) = _parts(msg, "tool-get_weather")
    (call,) = s.tool_calls
    assert tool["toolCallId"] == call.id
    assert tool["state"] == "input-available"
    assert tool["input"] == call.parsed_arguments()
    assert _parts(msg, "step-start")  # start-step became the step marker useChat expects
    assert msg["id"] == s.completion_id
    finish = [c for c in result["chunks"] if c["type"] == "finish"]
    assert finish == [{"type": "finish", "finishReason": "tool-calls"}]
    types = _chunk_types(result)
    assert "tool-input-delta" in types and "data-groqstream-metrics" in types
    assert not [p for p in msg["parts"] if p["type"].startswith("data-")]  # transient


@pytest.mark.parametrize("pkg", ["ai", "ai5"])
async def test_use_chat_text_answer(backend: Backend, ai_sdk_dir: Path, pkg: str) -> None:
    result = await backend.run_node(ai_sdk_dir, "send", pkg, "chat-2")
    assert result["errors"] == []
    (s,) = backend.streams
    (text,) = _parts(result["message"], "text")
    assert text["text"] == s.text and text["state"] == "done"
    assert len(s.text) > 20
    assert next(c for c in result["chunks"] if c["type"] == "finish")["finishReason"] == "stop"
    assert s.finished


async def test_use_chat_sees_a_mid_stream_error_and_keeps_the_partial_text(
    backend: Backend, ai_sdk_dir: Path
) -> None:
    fault = dataclasses.asdict(Fault.stream_error(after_chunks=20, message="model overloaded"))
    result = await backend.run_node(ai_sdk_dir, "send", "ai", "chat-3", fault=fault)
    (err,) = [c for c in result["chunks"] if c["type"] == "error"]
    assert "model overloaded" in err["errorText"]
    assert any("model overloaded" in e for e in result["errors"])  # useChat's onError
    (s,) = backend.streams
    (text,) = _parts(result["message"], "text")
    assert text["text"] == s.text and s.text  # the partial text, closed with text-end
    assert text["state"] == "done"


async def test_resume_stream_replays_then_goes_live(
    backend: Backend, client: Client, server: SimulatedServer, ai_sdk_dir: Path
) -> None:
    server.tokens_per_second = 200.0
    s = client.stream(model=MODEL, prompt="resume me", max_tokens=80)
    backend.hub.start(s, protocol="vercel", key="chat-r")
    for _ in range(500):
        if s.text:
            break  # some text went out before the client (re)connects
        await asyncio.sleep(0.01)
    result = await backend.run_node(ai_sdk_dir, "reconnect", "ai", "chat-r")
    assert result["errors"] == []
    (text,) = _parts(result["message"], "text")
    assert text["text"] == s.text
    (reasoning,) = _parts(result["message"], "reasoning")
    assert reasoning["text"] == s.reasoning
    none = await backend.run_node(ai_sdk_dir, "reconnect", "ai", "no-such-chat")
    assert none["empty"] is True and none["errors"] == []


@pytest.mark.parametrize("pkg", ["ai", "ai5"])
async def test_use_chat_reads_a_tool_loop_reasoning_tool_outputs_and_steps(
    backend: Backend, ai_sdk_dir: Path, pkg: str
) -> None:
    result = await backend.run_node(ai_sdk_dir, "send", pkg, "chat-t", toolLoop=True)
    assert result["errors"] == []
    (run,) = backend.runs
    final = run.final
    assert final is not None
    msg = result["message"]
    (tool,) = _parts(msg, "tool-get_weather")
    (call,) = final.rounds[0].tool_calls
    assert tool["toolCallId"] == call.id and tool["input"] == call.parsed_arguments()
    assert tool["state"] == "output-available"
    assert tool["output"] == {"city": call.parsed_arguments()["city"], "temperature": 21}
    assert len(_parts(msg, "step-start")) == 2  # one per round
    reasoning = _parts(msg, "reasoning")
    assert len(reasoning) == 2 and all(r["state"] == "done" for r in reasoning)
    assert reasoning[-1]["text"] == final.reasoning
    (text,) = _parts(msg, "text")
    assert text["text"] == final.text and text["state"] == "done"
    types = _chunk_types(result)
    assert types.count("tool-output-available") == 1
    assert types.index("tool-input-available") < types.index("tool-output-available")
    assert types.index("tool-output-available") < types.index("finish-step")
    finish = [c for c in result["chunks"] if c["type"] == "finish"]
    assert finish == [{"type": "finish", "finishReason": "stop"}]


async def test_use_chat_reads_compound_search_results_as_sources(
    backend: Backend, ai_sdk_dir: Path
) -> None:
    result = await backend.run_node(ai_sdk_dir, "send", "ai", "chat-c", compound=True)
    assert result["errors"] == []
    (s,) = backend.streams
    sources = _parts(result["message"], "source-url")
    (executed,) = s.executed_tools
    assert [(p["url"], p["title"]) for p in sources] == executed.sources
    assert _parts(result["message"], "text")[0]["text"] == s.text
