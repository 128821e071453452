"""`groqstream serve --ui`: the live page on its own server, in front of a simulated backend
(the default) or a real OpenAI-compatible endpoint (`--base-url`, key from
`groqstream.client.api_key_env`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from ..models import DEFAULT_MODEL
from .app import UIConfig, create_app

__all__ = ["serve_ui", "ui_site"]


@contextlib.asynccontextmanager
async def ui_site(config: UIConfig, host: str, port: int) -> AsyncIterator[str]:
    """Run the page's app on `host:port` (0: any free port); yields its URL."""
    runner = web.AppRunner(create_app(config), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1]
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{bound}/"
    finally:
        await runner.cleanup()


async def serve_ui(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    base_url: str | None = None,
    model: str | None = None,
    simulator: dict[str, Any] | None = None,
) -> None:
    """Serve the live page until cancelled, printing its URL (and the backend's) first."""
    async with contextlib.AsyncExitStack() as stack:
        if base_url is None:
            from ..testing import SimulatedServer

            sim = await stack.enter_async_context(SimulatedServer(**(simulator or {})))
            base_url, backend = sim.base_url, f"simulated · {sim.base_url}"
        else:
            backend = base_url
        config = UIConfig(
            base_url,
            api_key=None,  # the Client takes the key meant for this base URL's host
            model=model or DEFAULT_MODEL,
            backend=backend,
        )
        url = await stack.enter_async_context(ui_site(config, host, port))
        print(f"groqstream live page at {url}  (backend: {backend}; Ctrl-C to stop)", flush=True)
        await asyncio.Event().wait()
