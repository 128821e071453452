"""Starlette / FastAPI adapter (the `ui` extra): a relay as a `StreamingResponse`.

Imported only when used. The response listens for the client's `http.disconnect` for the
whole stream, whatever ASGI spec version the server speaks (Starlette itself stops listening
from spec 2.4 on and then notices a gone client only when a write fails), and aborts the
relay the moment it arrives: the upstream stream is closed at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import anyio
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from .errors import Refusal
from .relay import Reader, relay

if TYPE_CHECKING:
    from ..stream import ChatStream
    from ..tools import ToolRun

__all__ = ["RelayResponse", "resumed_response", "starlette_response"]


# (Without the `ui` extra installed, StreamingResponse is Any to mypy: that one error is
# ignored then, and the ignore itself is not an error when Starlette's types are there.)
class RelayResponse(StreamingResponse):  # type: ignore[misc, unused-ignore]
    """A `StreamingResponse` over a relay that cancels upstream when the client leaves."""

    def __init__(self, source: Reader, headers: Mapping[str, str] | None = None) -> None:
        merged = {**source.headers, **(headers or {})}
        media_type = merged.pop("Content-Type", "text/event-stream")
        super().__init__(source, headers=merged, media_type=media_type)
        self.source = source

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        source = self.source
        try:
            async with anyio.create_task_group() as tg:

                async def stream_then_stop() -> None:
                    try:
                        await self.stream_response(send)
                    except OSError:
                        source.abort()  # the client is gone (ASGI 2.4 servers raise this)
                    tg.cancel_scope.cancel()

                tg.start_soon(stream_then_stop)
                await self.listen_for_disconnect(receive)
                source.abort()  # the client left: close the upstream stream now
                tg.cancel_scope.cancel()
        finally:
            await source.aclose()
        if self.background is not None:
            await self.background()


def starlette_response(
    stream: ChatStream | ToolRun,
    *,
    protocol: str = "sse",
    keepalive: float | None = 15.0,
    include_metrics: bool = True,
    headers: Mapping[str, str] | None = None,
) -> RelayResponse:
    """Relay `stream` as a Starlette/FastAPI response (return it from the endpoint).

    Same protocols, headers and cancel-on-disconnect as `aiohttp_response`.
    """
    source = relay(stream, protocol=protocol, keepalive=keepalive, include_metrics=include_metrics)
    return RelayResponse(source, headers)


def resumed_response(
    resumed: Reader | Refusal, *, headers: Mapping[str, str] | None = None
) -> Response:
    """`RelayHub.starlette_response`: the hub's answer (`RelayHub.resume`) as a response."""
    if isinstance(resumed, Refusal):
        if resumed.body is None:
            return Response(status_code=resumed.status)
        return JSONResponse(resumed.body, status_code=resumed.status)
    return RelayResponse(resumed, headers)
