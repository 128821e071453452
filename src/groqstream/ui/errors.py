"""The errors of the relay hub, and how they are answered over HTTP (both adapters use it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import GroqStreamError

__all__ = [
    "BadLastEventId",
    "Refusal",
    "RelayHubFull",
    "RelayNotFound",
    "error_body",
    "refusal_for",
    "status_for",
]


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


@dataclass(frozen=True)
class Refusal:
    """A hub's answer to a resume that is not a stream: 204 with no body once the client has
    seen the end (it tells an `EventSource` to stop reconnecting), or an error status with a
    JSON body. Each HTTP adapter turns it into its own response type."""

    status: int
    body: dict[str, Any] | None = None


def refusal_for(e: GroqStreamError) -> Refusal:
    """The answer to a hub error: its status and JSON body."""
    return Refusal(status_for(e), error_body(e))
