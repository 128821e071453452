"""Helpers shared by the tests of groqstream.ui: serving an app on loopback, reading SSE."""

from __future__ import annotations

import contextlib
import importlib.util
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import aiohttp
import anyio
from aiohttp import web

from groqstream.sse import ServerSentEvent, SSEDecoder

ROOT = Path(__file__).resolve().parent.parent


@contextlib.asynccontextmanager
async def aiohttp_site(
    app: web.Application, *, handler_cancellation: bool = False
) -> AsyncIterator[str]:
    """Serve `app` on 127.0.0.1 at a free port; yields its base URL (no trailing slash)."""
    runner = web.AppRunner(app, handler_cancellation=handler_cancellation, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@dataclass
class Read:
    """What a client read from an event stream."""

    events: list[ServerSentEvent] = field(default_factory=list)
    raw: bytes = b""

    def named(self, name: str) -> list[ServerSentEvent]:
        return [e for e in self.events if e.event == name]

    def text(self, name: str = "content") -> str:
        return "".join(e.json()["text"] for e in self.named(name))

    @property
    def ids(self) -> list[int]:
        return [int(e.id) for e in self.events if e.id is not None]


async def read_sse(
    resp: aiohttp.ClientResponse, stop: Callable[[Read], bool] | None = None
) -> Read:
    """Read events until the body ends, or until `stop(read)` is true (then close the socket)."""
    out = Read()
    dec = SSEDecoder()
    async for data in resp.content.iter_any():
        out.raw += data
        out.events.extend(dec.feed(data))
        if stop is not None and stop(out):
            resp.close()  # cut the connection, as a browser tab going away does
            break
    return out


async def poll(cond: Callable[[], bool], within: float, what: str) -> float:
    """Wait until `cond()`; returns the seconds it took (AssertionError after `within` s)."""
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < within, f"{what}: not within {within} s"
        await anyio.sleep(0.01)
    return time.monotonic() - t0


def load_example(name: str) -> ModuleType:
    """Import examples/<name>.py (the examples are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(
        f"example_{name}", ROOT / "examples" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
