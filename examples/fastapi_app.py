"""Stream groqstream into a browser with FastAPI (Starlette): plain SSE, `useChat`, resumable.

Needs ``pip install 'groqstream[ui]' fastapi uvicorn``. Run it against the embedded simulated
server (no key, no network)::

    python examples/fastapi_app.py
    curl -N -d '{"prompt": "hi"}' localhost:8080/chat

or against Groq::

    GROQ_API_KEY=... python examples/fastapi_app.py --base-url https://api.groq.com/openai/v1

Same endpoints as `aiohttp_app.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

import groqstream
from groqstream.ui import RelayHub, starlette_response, ui_messages_to_chat

MODEL = "openai/gpt-oss-20b"


def create_app(base_url: str | None = None) -> FastAPI:
    """The example app; its client and hub live as long as it does (FastAPI's lifespan)."""
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with groqstream.Client(base_url=base_url) as client, RelayHub(ttl=60) as hub:
            state["client"], state["hub"] = client, hub
            yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/chat")
    async def chat(request: Request) -> Response:
        body = await request.json()
        stream = state["client"].stream(model=MODEL, prompt=body["prompt"])
        return starlette_response(stream)

    @app.post("/api/chat")
    async def use_chat(request: Request) -> Response:
        body = await request.json()
        messages = ui_messages_to_chat(body["messages"])
        stream = state["client"].stream(model=MODEL, messages=messages)
        return starlette_response(stream, protocol="vercel")

    @app.post("/streams")
    async def start_stream(request: Request) -> JSONResponse:
        body = await request.json()
        stream = state["client"].stream(model=MODEL, prompt=body["prompt"])
        return JSONResponse({"key": state["hub"].start(stream)})

    @app.get("/streams/{key}")
    async def resume_stream(request: Request, key: str) -> Response:
        hub: RelayHub = state["hub"]
        return hub.starlette_response(request, key)

    return app


async def main(port: int, base_url: str | None) -> None:
    async with contextlib.AsyncExitStack() as stack:
        if base_url is None:
            from groqstream.testing import SimulatedServer

            sim = await stack.enter_async_context(SimulatedServer(output_tokens=200))
            base_url = sim.base_url
        print(f"serving on http://127.0.0.1:{port} (backend {base_url})")
        config = uvicorn.Config(create_app(base_url), host="127.0.0.1", port=port)
        await uvicorn.Server(config).serve()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--base-url", help="default: an embedded simulated server")
    a = ap.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(a.port, a.base_url))
