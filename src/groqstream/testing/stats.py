"""What the simulated server counts (`ServerStats`) and records per request (`RequestRecord`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RequestRecord", "ServerStats"]


class _Connections:
    """The transports that carried at least one request; open ones are those not closing.

    Fed from `request.transport` (public aiohttp API) on every request; a closed connection
    is noticed through `Transport.is_closing()` when the count is read.
    """

    __slots__ = ("_prune_at", "_seen")

    def __init__(self) -> None:
        self._seen: dict[int, asyncio.BaseTransport] = {}
        self._prune_at = 64

    def __deepcopy__(self, memo: dict[int, Any]) -> _Connections:
        return self  # transports cannot be copied; a stats snapshot shares the live table

    def saw(self, transport: asyncio.BaseTransport | None) -> bool:
        """Note a request's transport; True the first time this connection is seen."""
        if transport is None or transport.is_closing():
            return False
        key = id(transport)  # a dict entry keeps the transport alive, so its id stays unique
        if self._seen.get(key) is transport:
            return False
        self._seen[key] = transport
        if len(self._seen) >= self._prune_at:  # unread for long: drop closed ones now and then
            self._prune_at = 2 * self.open_count() + 64
        return True

    def open_count(self) -> int:
        """Connections seen and not yet closed (forgets the closed ones)."""
        for key in [k for k, t in self._seen.items() if t.is_closing()]:
            del self._seen[key]
        return len(self._seen)


@dataclass
class ServerStats:
    """Counters the tests and benchmarks read.

    `requests_held` is how many requests `SimulatedServer.hold()` is holding right now.
    `connections_total` counts connections that carried at least one request;
    `connections_open` those of them not yet closed (read it after `wait_idle()` to see
    leaks: a pooled keep-alive connection stays open, an abandoned stream's does not).
    """

    requests_total: int = 0
    requests_held: int = 0
    streams_active: int = 0
    streams_peak: int = 0
    streams_completed: int = 0
    streams_cancelled: int = 0
    connections_total: int = 0
    status_counts: dict[int, int] = field(default_factory=dict)
    tokens_sent: int = 0
    _connections: _Connections = field(
        default_factory=_Connections, init=False, repr=False, compare=False
    )

    @property
    def connections_open(self) -> int:
        """Connections that carried a request and are neither closed nor closing."""
        return self._connections.open_count()

    def saw(self, transport: asyncio.BaseTransport | None) -> None:
        """Note the connection a request came on (counted the first time it is seen)."""
        if self._connections.saw(transport):
            self.connections_total += 1

    def fresh(self) -> ServerStats:
        """Zeroed counters that still track the connections open now."""
        new = ServerStats()
        new._connections = self._connections
        return new

    def count_status(self, status: int) -> None:
        """Count one reply with this HTTP status."""
        self.status_counts[status] = self.status_counts.get(status, 0) + 1


@dataclass
class RequestRecord:
    """What one chat request looked like and how it ended.

    `outcome`: "completed", "client_disconnected", "fault" (a scripted fault or rate limit
    answered it) or "error" (the request was refused: bad key, bad JSON, failed validation).
    `send_ns` holds the `perf_counter_ns()` stamp of each content chunk's write when the
    server was made with `record_send_times=True` (paced streams only). `ended_ns` is the
    `perf_counter_ns()` stamp at which the server saw the client go away (0 if it did not);
    `ttft_factor` the first-chunk delay multiplier a `SlowTail` gave the request.
    """

    index: int
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received_ns: int
    status: int = 200
    outcome: str = "pending"
    content_chunks_sent: int = 0
    send_ns: list[int] = field(default_factory=list)
    authorized: bool = True
    ended_ns: int = 0
    ttft_factor: float = 1.0
