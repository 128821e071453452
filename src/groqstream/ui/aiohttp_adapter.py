"""aiohttp.web adapter: write a relay to a `web.StreamResponse`, cancelling upstream on disconnect.

aiohttp does not cancel a handler when its client goes away unless the application runner was
made with `handler_cancellation=True`, and a write to a closed socket fails only when it is
tried. So the adapter watches the request's transport (`request.transport`, public API) a few
times a second and aborts the relay the moment it is gone: the upstream stream is closed
within a fraction of a second of the browser leaving, even while the model is silent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from aiohttp import web

from .errors import Refusal
from .relay import Reader, relay

if TYPE_CHECKING:
    from ..stream import ChatStream
    from ..tools import ToolRun

__all__ = ["DISCONNECT_POLL", "DisconnectWatch", "aiohttp_response", "write_relay", "write_resumed"]

DISCONNECT_POLL = 0.1
"""Seconds between two looks at whether the client's connection is still open."""

_GONE = OSError  # ConnectionResetError and the other ways a client goes are OSErrors


class DisconnectWatch:
    """Calls `on_lost` once when the request's connection closes (checked every `interval`)."""

    def __init__(
        self,
        request: web.BaseRequest,
        on_lost: Callable[[], None],
        interval: float = DISCONNECT_POLL,
    ) -> None:
        self._request = request
        self._on_lost = on_lost
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._handle: asyncio.TimerHandle | None = self._loop.call_later(interval, self._check)
        self.lost = False

    def _check(self) -> None:
        transport = self._request.transport
        if transport is None or transport.is_closing():
            self._handle = None
            self.lost = True
            self._on_lost()
            return
        self._handle = self._loop.call_later(self._interval, self._check)

    def stop(self) -> None:
        """Stop watching (idempotent)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


async def write_relay(
    request: web.BaseRequest,
    source: Reader,
    *,
    headers: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    """Stream `source` into a new `web.StreamResponse` for `request` and return it.

    The source is aborted as soon as the client disconnects (watched, or a failed write, or
    the handler being cancelled) and closed on every exit path.
    """
    resp = web.StreamResponse(headers={**source.headers, **(headers or {})})
    watch = DisconnectWatch(request, source.abort)
    try:
        await resp.prepare(request)
        async for chunk in source:
            await resp.write(chunk)
        if not watch.lost:
            await resp.write_eof()
    except _GONE:
        source.abort()  # the client is gone: nothing to report to anyone
    finally:
        watch.stop()
        await source.aclose()
    return resp


async def write_resumed(
    request: web.BaseRequest,
    resumed: Reader | Refusal,
    *,
    headers: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    """`RelayHub.aiohttp_response`: the hub's answer (`RelayHub.resume`) as a response."""
    if isinstance(resumed, Refusal):
        if resumed.body is None:
            return web.Response(status=resumed.status)
        return web.json_response(resumed.body, status=resumed.status)
    return await write_relay(request, resumed, headers=headers)


async def aiohttp_response(
    request: web.BaseRequest,
    stream: ChatStream | ToolRun,
    *,
    protocol: str = "sse",
    keepalive: float | None = 15.0,
    include_metrics: bool = True,
    headers: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    """Relay `stream` as the response to `request` (an aiohttp.web handler returns this).

    Headers: the protocol's content type, `Cache-Control: no-cache`, `X-Accel-Buffering: no`
    (plus `x-vercel-ai-ui-message-stream: v1` for "vercel") and your `headers`. When the
    client disconnects, the upstream stream is closed at once.
    """
    source = relay(stream, protocol=protocol, keepalive=keepalive, include_metrics=include_metrics)
    return await write_relay(request, source, headers=headers)
