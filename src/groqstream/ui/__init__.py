"""groqstream.ui: the last mile from a `ChatStream` to a browser.

- `relay(stream, protocol="sse"|"vercel")`: the stream as encoded bytes for an HTTP response
  (plain SSE events, or the Vercel AI SDK UI message stream v1 for `useChat`), with
  keep-alives and throttled metrics.
- `aiohttp_response(request, stream)` / `starlette_response(stream)`: the response itself, with
  the right headers; when the browser goes away, the upstream stream is closed at once.
- `RelayHub(ttl=60)`: relays that survive a dropped connection; a client that reconnects with
  `Last-Event-ID` gets what it missed, then the live events.
- `create_app()`: the live page behind `groqstream serve --ui`.

Starlette is the optional `ui` extra and is imported only when a Starlette function is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .aiohttp_adapter import aiohttp_response
from .encoders import Encoder, SSEEncoder, StreamEnd, VercelEncoder, make_encoder
from .errors import BadLastEventId, RelayHubFull, RelayNotFound
from .hub import RelayHub
from .messages import ui_messages_to_chat
from .relay import Relay, relay

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..stream import ChatStream
    from ..tools import ToolRun
    from .starlette_adapter import RelayResponse

__all__ = [
    "BadLastEventId",
    "Encoder",
    "Relay",
    "RelayHub",
    "RelayHubFull",
    "RelayNotFound",
    "SSEEncoder",
    "StreamEnd",
    "VercelEncoder",
    "aiohttp_response",
    "make_encoder",
    "relay",
    "starlette_response",
    "ui_messages_to_chat",
]


def starlette_response(
    stream: ChatStream | ToolRun,
    *,
    protocol: str = "sse",
    keepalive: float | None = 15.0,
    include_metrics: bool = True,
    headers: Mapping[str, str] | None = None,
) -> RelayResponse:
    """Relay `stream` as a Starlette/FastAPI `StreamingResponse` (needs the `ui` extra).

    Same protocols, headers and cancel-on-disconnect as `aiohttp_response`.
    """
    try:
        from .starlette_adapter import starlette_response as make
    except ImportError as e:
        from ..errors import ConfigError

        raise ConfigError("starlette_response needs Starlette: pip install 'groqstream[ui]'") from e
    return make(
        stream,
        protocol=protocol,
        keepalive=keepalive,
        include_metrics=include_metrics,
        headers=headers,
    )
