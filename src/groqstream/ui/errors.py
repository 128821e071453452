"""The errors of the relay hub, and how they are answered over HTTP (both adapters use it)."""

from __future__ import annotations

from typing import Any

from ..errors import GroqStreamError

__all__ = ["BadLastEventId", "RelayHubFull", "RelayNotFound", "error_body", "status_for"]


class RelayHubFull(GroqStreamError):
    """`RelayHub.start` found `max_streams` streams that are all still wanted."""


class RelayNotFound(GroqStreamError):
    """No stream under this key: never started, or forgotten after its TTL."""


class BadLastEventId(GroqStreamError):
    """A `Last-Event-ID` that is not an event id of this stream."""


def status_for(e: GroqStreamError) -> int:
    """The HTTP status answering a hub error: 404 for an unknown key, else 400."""
    return 404 if isinstance(e, RelayNotFound) else 400


def error_body(e: GroqStreamError) -> dict[str, Any]:
    """The JSON body of a hub error response."""
    return {"error": {"type": e.kind, "message": e.message}}
