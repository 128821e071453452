"""`RelayHub`: relays that outlive their connection, so a browser can reconnect and resume.

`key = hub.start(stream)` relays the stream in the background and keeps every encoded event
in memory. A client served by `hub.aiohttp_response(request, key)` (or the Starlette twin)
gets the events after its `Last-Event-ID` replayed, then the live ones: a reconnect within the
TTL loses and repeats nothing. With no client attached for `ttl` seconds, the stream is
cancelled upstream and forgotten. The hub holds at most `max_streams` streams, and the
replay buffers of finished streams at most `max_finished_bytes` in total (the oldest finished,
unattached ones are forgotten first when a new stream starts).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, GroqStreamError
from .encoders import Encoder, make_encoder
from .errors import BadLastEventId, Refusal, RelayHubFull, RelayNotFound, refusal_for
from .relay import Pump, Reader, Subscriber, stream_pump

if TYPE_CHECKING:
    from aiohttp import web
    from starlette.responses import Response as StarletteResponse

    from ..stream import ChatStream

__all__ = [
    "BadLastEventId",
    "Refusal",
    "RelayHub",
    "RelayHubFull",
    "RelayNotFound",
    "Subscription",
]


@dataclass(eq=False)
class _Entry:
    key: str
    pump: Pump
    encoder: Encoder
    subscribers: int = 0
    expiry: asyncio.TimerHandle | None = None
    size: int = -1  # the finished stream's buffered bytes (counted once it is done)

    def finished_size(self) -> int:
        """Bytes held for replay by a finished stream (0 while it runs: running streams are
        bounded by `max_streams` and their own length); counted once."""
        if not self.pump.done:
            return 0
        if self.size < 0:
            self.size = sum(map(len, self.pump.events))
        return self.size

    def disarm_expiry(self) -> None:
        """Stop the TTL timer, if one runs."""
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None


Subscription = Reader
"""One client's view of a hub stream: the bytes after its last event id, then live ones.
Closing or aborting it detaches the client; it does not stop the stream (the TTL does)."""


class RelayHub:
    """Background relays with replay (`Last-Event-ID`) and cancel-after-TTL; in memory.

    Use one per process, inside the event loop that serves the requests; `await
    hub.aclose()` (or ``async with``) on shutdown cancels every stream.
    """

    def __init__(
        self,
        ttl: float = 60.0,
        *,
        max_streams: int = 1000,
        max_finished_bytes: int = 256 * 1024 * 1024,
        keepalive: float | None = 15.0,
        include_metrics: bool = True,
        retry_ms: int | None = 1000,
    ) -> None:
        if not ttl > 0:
            raise ConfigError(f"ttl must be > 0 seconds, got {ttl!r}")
        if max_streams < 1:
            raise ConfigError(f"max_streams must be >= 1, got {max_streams!r}")
        if isinstance(max_finished_bytes, bool) or not (
            isinstance(max_finished_bytes, int) and max_finished_bytes >= 0
        ):
            raise ConfigError(f"max_finished_bytes must be an int >= 0, got {max_finished_bytes!r}")
        self.ttl = ttl
        self.max_streams = max_streams
        self.max_finished_bytes = max_finished_bytes
        self.keepalive = keepalive
        self.include_metrics = include_metrics
        self.retry_ms = retry_ms
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __repr__(self) -> str:
        return f"<RelayHub streams={len(self._entries)} ttl={self.ttl}>"

    # --- starting and stopping ------------------------------------------------------------

    def start(self, stream: ChatStream, *, protocol: str = "sse", key: str | None = None) -> str:
        """Start relaying `stream` in the background; returns its key (unguessable by default).

        Raises `RelayHubFull` when `max_streams` streams are held and none of them is both
        finished and unattached (those are forgotten first, oldest first).
        """
        encoder = make_encoder(protocol)
        if key is not None and key in self._entries:
            raise ConfigError(f"a stream with key {key!r} is already relayed")
        self._make_room()
        key = key or secrets.token_urlsafe(16)
        pump = stream_pump(stream, encoder, self.include_metrics)
        entry = _Entry(key, pump, encoder)
        self._entries[key] = entry
        pump.start()
        self._arm_expiry(entry)
        return key

    def _make_room(self) -> None:
        self._trim_finished()
        if len(self._entries) < self.max_streams:
            return
        for key, e in list(self._entries.items()):
            if e.pump.done and not e.subscribers:
                self._forget(key)
                return
        raise RelayHubFull(
            f"the relay hub holds {self.max_streams} streams that are running or attached"
        )

    def _trim_finished(self) -> None:
        """Forget the oldest finished, unattached streams while the finished ones' replay
        buffers exceed `max_finished_bytes` (a client attached to one keeps it)."""
        sizes = {k: e.finished_size() for k, e in self._entries.items()}
        total = sum(sizes.values())
        for key, e in list(self._entries.items()):
            if total <= self.max_finished_bytes:
                return
            if sizes[key] and not e.subscribers:
                self._forget(key)
                total -= sizes[key]

    def cancel(self, key: str) -> bool:
        """Cancel the stream upstream now and forget it; False if the key is unknown."""
        if key not in self._entries:
            return False
        self._forget(key)
        return True

    def _forget(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        entry.disarm_expiry()
        entry.pump.abort()

    async def aclose(self) -> None:
        """Cancel every stream and wait for their tasks to end."""
        entries = list(self._entries.values())
        for e in entries:
            self._forget(e.key)
        for e in entries:
            await e.pump.aclose()

    async def __aenter__(self) -> RelayHub:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _arm_expiry(self, entry: _Entry) -> None:
        if entry.expiry is None:
            loop = asyncio.get_running_loop()
            entry.expiry = loop.call_later(self.ttl, self._expire, entry)

    def _expire(self, entry: _Entry) -> None:
        entry.expiry = None
        if self._entries.get(entry.key) is entry and not entry.subscribers:
            self._forget(entry.key)  # nobody came back in time: stop generating

    # --- attaching clients ----------------------------------------------------------------

    def subscribe(self, key: str, last_event_id: str | None = None) -> Subscription:
        """Attach a client: events after `last_event_id` (all when None), then live ones.

        Raises `RelayNotFound` for an unknown or expired key, `BadLastEventId` for an id
        that is not a number between 0 and the last event sent so far.
        """
        entry = self._entries.get(key)
        if entry is None:
            raise RelayNotFound("no relayed stream with this key (unknown, or expired)")
        cursor = _parse_last_event_id(last_event_id, entry.pump.end)
        entry.disarm_expiry()
        entry.subscribers += 1

        def detach() -> None:
            entry.subscribers -= 1
            if not entry.subscribers and self._entries.get(key) is entry:
                self._arm_expiry(entry)

        prelude = b""
        if self.retry_ms is not None:
            prelude = b"retry: %d\n\n" % self.retry_ms
        sub = Subscriber(
            entry.pump, keepalive=self.keepalive, cursor=cursor, prelude=prelude, on_close=detach
        )
        return Reader(sub, entry.encoder.headers)

    def finished_for(self, key: str, last_event_id: str | None) -> bool:
        """True if the stream ended and a client at `last_event_id` has seen every event."""
        entry = self._entries.get(key)
        if entry is None or not entry.pump.done or last_event_id is None:
            return False
        try:
            return int(last_event_id) >= entry.pump.end
        except ValueError:
            return False

    def resume(self, key: str, last_event_id: str | None) -> Subscription | Refusal:
        """What a reconnecting client gets, whatever serves it (both HTTP adapters use this).

        A `Subscription` to stream, or a `Refusal`: 204 once the client at `last_event_id` has
        seen the end, 404 for an unknown or expired key, 400 for a bad `Last-Event-ID`.
        """
        if self.finished_for(key, last_event_id):
            return Refusal(204)
        try:
            return self.subscribe(key, last_event_id)
        except GroqStreamError as e:
            return refusal_for(e)

    # --- HTTP adapters ---------------------------------------------------------------------

    async def aiohttp_response(
        self, request: web.BaseRequest, key: str, *, headers: Mapping[str, str] | None = None
    ) -> web.StreamResponse:
        """Serve stream `key` to an aiohttp request, resuming after its `Last-Event-ID`.

        404 for an unknown or expired key, 400 for a bad `Last-Event-ID`, and 204 (which
        tells an `EventSource` to stop reconnecting) once the client has seen the end.
        """
        from .aiohttp_adapter import write_resumed

        resumed = self.resume(key, request.headers.get("Last-Event-ID"))
        return await write_resumed(request, resumed, headers=headers)

    def starlette_response(
        self, request: Any, key: str, *, headers: Mapping[str, str] | None = None
    ) -> StarletteResponse:
        """The Starlette/FastAPI twin of `aiohttp_response` (needs the `ui` extra)."""
        try:
            from .starlette_adapter import resumed_response
        except ImportError as e:
            raise ConfigError(
                "starlette_response needs Starlette: pip install 'groqstream[ui]'"
            ) from e

        resumed = self.resume(key, request.headers.get("last-event-id"))
        return resumed_response(resumed, headers=headers)


def _parse_last_event_id(value: str | None, end: int) -> int:
    if value is None or value == "":
        return 0
    try:
        n = int(value.strip())
    except ValueError:
        raise BadLastEventId(
            f"Last-Event-ID must be an event id (a number), got {value!r}"
        ) from None
    if n < 0 or n > end:
        raise BadLastEventId(f"Last-Event-ID {n} is not an event of this stream (last: {end})")
    return n
