"""`IdleCutoff`: the server side of a keep-alive race, on demand.

A server (or load balancer) closes keep-alive connections that stayed idle past its cut-off.
When a client writes a request to such a connection just as it is closed, the request
meets a closed socket: the client sees the connection end (EOF or reset) without one byte
of a response. `IdleCutoff.expire()` makes that happen deterministically: every connection
served so far counts as closed at the cut-off, and the next request on each is dropped
unanswered (the socket reset), exactly once. New connections are served normally.
"""

from __future__ import annotations

from typing import Any

__all__ = ["IdleCutoff"]


class IdleCutoff:
    """Which connections the server treats as closed at its idle cut-off. It holds only
    open connections (closed ones are pruned as the table grows): uvloop's transports
    cannot be weakly referenced."""

    def __init__(self) -> None:
        self._seen: dict[int, Any] = {}
        self._expired: dict[int, Any] = {}
        self._prune_at = 64
        self.dropped = 0
        """Requests dropped unanswered so far."""

    def expire(self) -> int:
        """Count every open connection served so far as closed by the server; returns how
        many."""
        self._expired.update(_open(self._seen))
        self._seen.clear()
        self._expired = _open(self._expired)
        return len(self._expired)

    def drops(self, transport: Any) -> bool:
        """True if a request that arrived on `transport` meets a closed connection; the
        socket is then reset without a response."""
        if transport is None:
            return False
        key = id(transport)
        if self._expired.pop(key, None) is transport:
            self.dropped += 1
            transport.abort()
            return True
        self._seen[key] = transport
        if len(self._seen) >= self._prune_at:
            self._seen = _open(self._seen)
            self._prune_at = max(64, 2 * len(self._seen))
        return False


def _open(table: dict[int, Any]) -> dict[int, Any]:
    return {k: t for k, t in table.items() if not t.is_closing()}
