"""A scriptable HTTP server on loopback for hostile-server tests: each test says, as an
aiohttp handler, exactly which bytes go on the wire (endless lines, wrongly shaped chunks,
redirects, TLS), which `SimulatedServer` deliberately cannot be made to do."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RawServer:
    """Where it listens, and what it saw."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.requests: list[web.Request] = []
        self.bodies: list[bytes] = []


@contextlib.asynccontextmanager
async def raw_server(
    handler: Handler, *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[RawServer]:
    """Serve `handler` for every path on an ephemeral loopback port."""
    info = RawServer("")

    async def recording(request: web.Request) -> web.StreamResponse:
        info.requests.append(request)
        info.bodies.append(await request.read())
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recording)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    scheme = "https" if ssl_context else "http"
    info.base_url = f"{scheme}://127.0.0.1:{port}/v1"
    try:
        yield info
    finally:
        await runner.cleanup()


async def sse_response(request: web.Request, *pieces: bytes) -> web.StreamResponse:
    """A 200 event stream that writes `pieces` as they are and ends."""
    resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await resp.prepare(request)
    for piece in pieces:
        await resp.write(piece)
    await resp.write_eof()
    return resp
