"""A tool loop in FastAPI, streamed to a page: the model calls `get_weather`, the server runs it,
the model answers — and the browser watches every step (reasoning, the tool call's arguments as
they stream, the tool's output, the answer) through groqstream's relay.

Needs ``pip install 'groqstream[ui,tools]' fastapi uvicorn``. Against the embedded simulated
server (no key, no network)::

    python examples/tool_loop_app.py          # then open http://127.0.0.1:8080
    curl -N -d '{"prompt": "Weather in Paris?"}' localhost:8080/chat

or against Groq::

    GROQ_API_KEY=... python examples/tool_loop_app.py --base-url https://api.groq.com/openai/v1

`POST /chat` speaks the plain SSE protocol (what the page below reads); `POST /api/chat` the
Vercel AI SDK UI message stream, for `useChat`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse, Response

import groqstream
from groqstream.ui import starlette_response, ui_messages_to_chat

MODEL = "openai/gpt-oss-20b"
SYSTEM = "You answer questions about the weather. Call get_weather for current conditions."


async def get_weather(city: str, unit: str = "celsius") -> dict[str, Any]:
    """Get the current weather for a city.

    Args:
        city: The city, e.g. "Paris".
        unit: "celsius" or "fahrenheit".
    """
    await asyncio.sleep(0.2)  # a real service would be called here
    temp = 21 if unit == "celsius" else 70
    return {"city": city, "temperature": temp, "unit": unit, "sky": "clear"}


PAGE = """<!doctype html>
<meta charset="utf-8"><title>groqstream tool loop</title>
<style>
 body { font: 15px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; }
 .reasoning { color: #777; font-style: italic; white-space: pre-wrap; }
 .tool { background: #f3f3f8; border-radius: 6px; padding: .4rem .6rem; margin: .4rem 0;
         font-family: ui-monospace, monospace; font-size: 13px; white-space: pre-wrap; }
 .answer { white-space: pre-wrap; }
</style>
<form id="f"><input id="q" size="50" value="What is the weather in Paris?">
<button>Ask</button></form>
<div id="out"></div>
<script>
const out = document.getElementById('out');
function block(cls) { const d = document.createElement('div'); d.className = cls;
  out.appendChild(d); return d; }
document.getElementById('f').onsubmit = async (e) => {
  e.preventDefault(); out.textContent = '';
  const resp = await fetch('/chat', {method: 'POST',
    body: JSON.stringify({prompt: document.getElementById('q').value})});
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '', cur = null, kind = '', tools = {};
  const put = (k, text) => { if (kind !== k) { cur = block(k); kind = k; }
    cur.textContent += text; };
  for (;;) {
    const {done, value} = await reader.read(); if (done) break;
    buf += value; let i;
    while ((i = buf.indexOf('\\n\\n')) >= 0) {
      const raw = buf.slice(0, i); buf = buf.slice(i + 2);
      const ev = (raw.match(/^event: (.*)$/m) || [])[1];
      const data = JSON.parse((raw.match(/^data: (.*)$/m) || [, 'null'])[1]);
      if (ev === 'reasoning') put('reasoning', data.text);
      else if (ev === 'content') put('answer', data.text);
      else if (ev === 'tool_input_start') { kind = ''; tools[data.id] = block('tool');
        tools[data.id].textContent = '→ ' + data.name + '('; }
      else if (ev === 'tool_input_delta') tools[data.id].textContent += data.delta;
      else if (ev === 'tool_result') tools[data.id].textContent += ')\\n← ' +
        (data.error || data.output);
      else if (ev === 'step') kind = '';
      else if (ev === 'error') put('answer', '\\n[error] ' + data.message);
    }
  }
};
</script>
"""


def create_app(base_url: str | None = None) -> FastAPI:
    """The example app; its client lives as long as the app does (FastAPI's lifespan)."""
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with groqstream.Client(base_url=base_url) as client:
            state["client"] = client
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/")
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE)

    @app.post("/chat")
    async def chat(request: Request) -> Response:
        body = await request.json()
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": body["prompt"]},
        ]
        run = state["client"].run_tools(messages, tools=[get_weather], model=MODEL)
        return starlette_response(run)

    @app.post("/api/chat")
    async def use_chat(request: Request) -> Response:
        body = await request.json()
        messages = ui_messages_to_chat(body["messages"])
        run = state["client"].run_tools(messages, tools=[get_weather], model=MODEL)
        return starlette_response(run, protocol="vercel")

    return app


async def main(port: int, base_url: str | None) -> None:
    async with contextlib.AsyncExitStack() as stack:
        if base_url is None:
            from groqstream.testing import SimulatedServer

            sim = await stack.enter_async_context(SimulatedServer(tokens_per_second=150.0))
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
