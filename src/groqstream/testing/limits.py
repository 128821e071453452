"""Groq-style rate limiting for the simulated server: one-minute windows and their headers."""

from __future__ import annotations

import time

__all__ = ["Window", "groq_duration"]


def groq_duration(seconds: float) -> str:
    """Format seconds as Groq's rate-limit reset values do: '2m59.56s', '7.66s', '120ms'."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes)}m{secs:.2f}s" if minutes else f"{secs:.2f}s"


class Window:
    """A fixed one-minute rate-limit window (None: unlimited, but still reported)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.start = time.monotonic()
        self.used = 0

    def _roll(self) -> float:
        now = time.monotonic()
        if now - self.start >= 60:
            self.start, self.used = now, 0
        return 60 - (now - self.start)

    def take(self, amount: int) -> float | None:
        """Charge `amount`; None if allowed, else the seconds until the window resets."""
        reset = self._roll()
        if self.limit is not None and self.used + amount > self.limit:
            return reset
        self.used += amount
        return None

    def headers(self, kind: str, default_limit: int) -> dict[str, str]:
        """Groq's `x-ratelimit-{limit,remaining,reset}-{kind}` headers for this window."""
        reset = self._roll()
        limit = self.limit if self.limit is not None else default_limit
        return {
            f"x-ratelimit-limit-{kind}": str(limit),
            f"x-ratelimit-remaining-{kind}": str(max(0, limit - self.used)),
            f"x-ratelimit-reset-{kind}": groq_duration(reset if self.limit is not None else 0.5),
        }
