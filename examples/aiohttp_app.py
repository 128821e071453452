"""Stream groqstream into a browser with aiohttp.web: plain SSE, `useChat`, and resumable streams.

Run it against the embedded simulated server (no key, no network)::

    python examples/aiohttp_app.py
    curl -N -d '{"prompt": "hi"}' localhost:8080/chat

or against Groq::

    GROQ_API_KEY=... python examples/aiohttp_app.py --base-url https://api.groq.com/openai/v1


Endpoints:
- ``POST /chat`` {"prompt"} → SSE events `reasoning`, `content`, `tool_call`, `metrics`, `done`,
  `error`. Closing the connection cancels the upstream stream.
- ``POST /api/chat`` a `useChat` request (AI SDK 5+) → the Vercel UI message stream.
- ``POST /streams`` {"prompt"} → {"key"}; ``GET /streams/{key}`` serves it resumably: an
  `EventSource` that reconnects (with Last-Event-ID) gets what it missed, then live events.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

import groqstream
from groqstream.ui import RelayHub, aiohttp_response, ui_messages_to_chat

MODEL = "openai/gpt-oss-20b"
CLIENT = web.AppKey("client", groqstream.Client)
HUB = web.AppKey("hub", RelayHub)


async def chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    stream = request.app[CLIENT].stream(model=MODEL, prompt=body["prompt"])
    return await aiohttp_response(request, stream)  # protocol="sse"


async def use_chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    messages = ui_messages_to_chat(body["messages"])
    stream = request.app[CLIENT].stream(model=MODEL, messages=messages)
    return await aiohttp_response(request, stream, protocol="vercel")


async def start_stream(request: web.Request) -> web.Response:
    body = await request.json()
    stream = request.app[CLIENT].stream(model=MODEL, prompt=body["prompt"])
    return web.json_response({"key": request.app[HUB].start(stream)})


async def resume_stream(request: web.Request) -> web.StreamResponse:
    return await request.app[HUB].aiohttp_response(request, request.match_info["key"])


def create_app(base_url: str | None = None) -> web.Application:
    """The example app; its client and hub live as long as it does."""
    app = web.Application()

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        async with groqstream.Client(base_url=base_url) as client, RelayHub(ttl=60) as hub:
            app[CLIENT], app[HUB] = client, hub
            yield

    app.cleanup_ctx.append(lifetime)
    app.router.add_post("/chat", chat)
    app.router.add_post("/api/chat", use_chat)
    app.router.add_post("/streams", start_stream)
    app.router.add_get("/streams/{key}", resume_stream)
    return app


async def main(port: int, base_url: str | None) -> None:
    async with contextlib.AsyncExitStack() as stack:
        if base_url is None:
            from groqstream.testing import SimulatedServer

            sim = await stack.enter_async_context(SimulatedServer(output_tokens=200))
            base_url = sim.base_url
        runner = web.AppRunner(create_app(base_url))
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print(f"serving on http://127.0.0.1:{runner.addresses[0][1]} (backend {base_url})")
        await asyncio.Event().wait()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--base-url", help="default: an embedded simulated server")
    a = ap.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(a.port, a.base_url))
