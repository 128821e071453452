"""A `Router`'s per-endpoint figures in a bench run: TTFT, hedges, failovers, breaker state.

Fed the dicts of `EndpointStats.to_dict()`, so the bench's JSON header and its terminal lines
show the same numbers."""

from __future__ import annotations

from typing import Any

from .fmt import ms

__all__ = ["endpoint_lines", "router_stats"]


def router_stats(source: object) -> list[dict[str, Any]] | None:
    """The per-endpoint figures of a `Router` (None for a plain `Client`)."""
    stats = getattr(source, "stats", None)
    if not callable(stats):
        return None
    return [s.to_dict() for s in stats()]


def endpoint_lines(stats: list[dict[str, Any]]) -> list[str]:
    """One line per endpoint: requests and wins, TTFT p50/p99, hedges, failovers, breaker."""
    lines = []
    for s in stats:
        lines.append(
            f"endpoint {s['name']}: {s['requests']:,} requests, served {s['won']:,} · "
            f"TTFT p50 {ms(s['ttft_p50_ms'])} ms, p99 {ms(s['ttft_p99_ms'])} ms · hedges "
            f"started {s['hedges_started']:,}, won {s['hedges_won']:,}, cancelled "
            f"{s['hedges_cancelled']:,} · failovers {s['failovers']:,} · failures "
            f"{s['failures']:,} · breaker {s['breaker']}"
        )
    return lines
