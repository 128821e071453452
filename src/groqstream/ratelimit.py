"""Sans-IO rate limiting for fan-out: token buckets, Groq's header hints, shared back-off.

Nothing here sleeps or reads a clock: every method takes `now` (monotonic seconds) and
returns how long the caller should wait, so the logic is tested without an event loop.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "RateLimitGate",
    "TokenBucket",
    "estimate_tokens",
    "parse_groq_duration",
    "spent_budget_wait",
]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_groq_duration(text: str | None) -> float | None:
    """Seconds in Groq's reset form: '2m59.56s' → 179.56, '7.66s', '120ms', '1h2m3s', or a
    plain number of seconds; None if absent or unreadable."""
    if not text:
        return None
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    total = 0.0
    pos = 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            return None
        value, unit = float(m.group(1)), m.group(2)
        total += value * {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}[unit]
        pos = m.end()
    return total if pos == len(text) and pos > 0 else None


def estimate_tokens(body: Mapping[str, object], default_max_tokens: int = 1024) -> int:
    """A request's token cost before it runs: prompt characters / 4 plus its output cap."""
    chars = 0
    messages = body.get("messages")
    if isinstance(messages, list):
        for m in messages:
            if isinstance(m, dict):
                chars += len(str(m.get("content") or ""))
    cap = body.get("max_completion_tokens") or body.get("max_tokens")
    out = cap if isinstance(cap, int) and cap > 0 else default_max_tokens
    return chars // 4 + 1 + out


class TokenBucket:
    """A per-minute budget refilled continuously; reservations may go into debt, so a big
    request waits its turn instead of starving behind small ones."""

    def __init__(self, per_minute: float, capacity: float | None = None) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.rate = per_minute / 60.0
        self.capacity = capacity if capacity is not None else max(1.0, self.rate)
        self.level = self.capacity
        self._t: float | None = None

    def _refill(self, now: float) -> None:
        if self._t is not None:
            self.level = min(self.capacity, self.level + (now - self._t) * self.rate)
        self._t = now

    def reserve(self, amount: float, now: float) -> float:
        """Take `amount`; return the seconds to wait before using it (0 if available)."""
        self._refill(now)
        self.level -= amount
        return 0.0 if self.level >= 0 else -self.level / self.rate

    def refund(self, amount: float, now: float) -> None:
        """Give back (or, negative, charge more than) what an estimate reserved."""
        self._refill(now)
        self.level = min(self.capacity, self.level + amount)


@dataclass
class RateLimitGate:
    """Shared by all requests of one fan-out: optional RPM/TPM buckets, a pause that a 429 or
    an exhausted header budget imposes on everyone, and what the server's headers say."""

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    paused_until: float = 0.0
    pauses: int = 0
    burst_s: float = 1.0  # the buckets hold this many seconds of their rate

    def __post_init__(self) -> None:
        rpm, tpm, burst = self.requests_per_minute, self.tokens_per_minute, self.burst_s
        self._rpm = TokenBucket(rpm, capacity=max(1.0, rpm / 60.0 * burst)) if rpm else None
        self._tpm = TokenBucket(tpm, capacity=max(1.0, tpm / 60.0 * burst)) if tpm else None

    def reserve(self, tokens: int, now: float) -> float:
        """Reserve one request of `tokens` estimated tokens; seconds to wait before sending."""
        wait = max(0.0, self.paused_until - now)
        if self._rpm is not None:
            wait = max(wait, self._rpm.reserve(1, now))
        if self._tpm is not None:
            wait = max(wait, self._tpm.reserve(tokens, now))
        return wait

    def settle(self, estimated: int, actual: int | None, now: float) -> None:
        """Correct the token bucket once a request's real usage is known."""
        if self._tpm is not None and actual is not None:
            self._tpm.refund(estimated - actual, now)

    def pause(self, seconds: float, now: float) -> None:
        """Hold every new request for `seconds` (a 429, or a budget the server says is spent)."""
        until = now + seconds
        if until > self.paused_until:
            self.paused_until = until
            self.pauses += 1

    def observe(self, headers: Mapping[str, str], now: float) -> None:
        """Read Groq's `x-ratelimit-*` headers: a budget at zero pauses until its reset."""
        for kind in ("requests", "tokens"):
            remaining = headers.get(f"x-ratelimit-remaining-{kind}")
            if remaining is None:
                continue
            try:
                left = float(remaining)
            except ValueError:
                continue
            if left <= 0:
                reset = parse_groq_duration(headers.get(f"x-ratelimit-reset-{kind}"))
                if reset:
                    self.pause(reset, now)

    def hinted_wait(self, headers: Mapping[str, str]) -> float | None:
        """When a 429 without retry-after may be retried (see `spent_budget_wait`)."""
        return spent_budget_wait(headers)


def spent_budget_wait(headers: Mapping[str, str]) -> float | None:
    """The longest `x-ratelimit-reset-*` among the budgets Groq's headers say are spent
    (remaining 0); None if they say nothing."""
    waits = []
    for kind in ("requests", "tokens"):
        if headers.get(f"x-ratelimit-remaining-{kind}", "").strip() in ("0", "0.0"):
            w = parse_groq_duration(headers.get(f"x-ratelimit-reset-{kind}"))
            if w is not None:
                waits.append(w)
    return max(waits) if waits else None
