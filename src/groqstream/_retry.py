"""`RetryPolicy`: the one attempt runner. Which errors are retried, after how long, how often.

DESIGN: below the stream, the client and fan-out, which all retry through `RetryPolicy.run`.
The decision (`RetryPolicy.decide`) is pure: fed an error, the request's `RetryState` and a
random number, it returns the wait before the next attempt or None to give up. The runner
only adds the sleeping. What an attempt *is* belongs to the caller, and that is how the
house rule holds: a stream's attempt ends when its first delta is ready, so nothing that
reached the user is ever retried; fan-out's attempt is the whole request, whose result the
user only sees once it is complete.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio

from .errors import CapacityExceededError, ConfigError, GroqStreamError, RateLimitError
from .ratelimit import spent_budget_wait

__all__ = ["RetryPolicy", "RetryState", "check_retries", "named_wait"]

T = TypeVar("T")


def named_wait(error: GroqStreamError) -> float | None:
    """The wait the server named for a failure: `retry-after`, else, for a 429, the longest
    `x-ratelimit-reset-*` among the budgets its headers say are spent; None if it named none."""
    retry_after: float | None = getattr(error, "retry_after", None)
    if retry_after is not None or not isinstance(error, RateLimitError):
        return retry_after
    return spent_budget_wait(error.headers)


def check_retries(max_retries: object) -> None:
    """Refuse a retry count that is not a whole number >= 0 (a bool is not a count)."""
    if type(max_retries) is not int or max_retries < 0:
        raise ConfigError(f"max_retries must be an int >= 0, got {max_retries!r}")


@dataclass(slots=True)
class RetryState:
    """One request's retry bookkeeping: attempts made, retries counted against
    `max_retries`, and the seconds spent waiting out server-named rate limits."""

    attempts: int = 0
    retries: int = 0
    rate_limit_wait: float = 0.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, honouring the server's `retry-after`.

    - Retried: connection errors, connect and first-byte timeouts, 408, 409, 429 and 5xx
      (not 501/505), also when reported inside a 200 stream; Groq's flex-tier 498 only with
      `retry_capacity=True` (flex is meant to fail fast).
    - Backoff `initial` doubling to `cap`, minus up to `jitter` of it at random.
    - A server-named wait (`retry-after`, or for a 429 the spent budget's reset) is used
      instead. With `max_rate_limit_wait` None (streams, `complete`) it counts as a retry and
      one longer than `max_retry_after` is raised instead of waited out. With it set
      (fan-out) a named rate-limit wait longer than zero does not use up `max_retries`, but
      one request's named waits together may not exceed `max_rate_limit_wait`.
    """

    max_retries: int = 2
    initial: float = 0.5
    cap: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = 60.0
    max_rate_limit_wait: float | None = None
    retry_capacity: bool = False

    def __post_init__(self) -> None:
        check_retries(self.max_retries)
        for name in ("initial", "cap", "max_retry_after"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name} must be >= 0")
        if self.max_rate_limit_wait is not None and not self.max_rate_limit_wait >= 0:
            raise ConfigError("max_rate_limit_wait must be >= 0 (or None)")
        if not 0 <= self.jitter <= 1:
            raise ConfigError("jitter must be between 0 and 1")

    def retryable(self, error: GroqStreamError) -> bool:
        """True if the error is of a kind this policy retries."""
        if isinstance(error, CapacityExceededError):
            return self.retry_capacity
        return error.retryable

    def backoff(self, retry: int, rand: float) -> float:
        """The wait before retry number `retry` (1-based) when the server named none;
        `rand` in [0, 1) draws the jitter."""
        return min(self.cap, self.initial * 2.0 ** min(retry - 1, 64)) * (1 - self.jitter * rand)

    def decide(self, error: GroqStreamError, state: RetryState, rand: float) -> float | None:
        """Seconds to wait before the next attempt, or None to give up; updates `state`."""
        if not self.retryable(error):
            return None
        wait = named_wait(error)
        limit = self.max_rate_limit_wait
        # A named wait of 0 is not free: it would let a server make us retry forever.
        if wait and limit is not None and isinstance(error, RateLimitError):
            if state.rate_limit_wait + wait > limit:
                return None
            state.rate_limit_wait += wait
            return wait
        if state.retries >= self.max_retries:
            return None
        state.retries += 1
        if wait is None:
            return self.backoff(state.retries, rand)
        return wait if wait <= self.max_retry_after else None

    async def run(
        self,
        attempt: Callable[[int], Awaitable[T]],
        *,
        state: RetryState | None = None,
        on_retry: Callable[[GroqStreamError, float], object] | None = None,
        sleep: Callable[[float], Awaitable[object]] = anyio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> T:
        """Call `attempt(n)` (n = 1, 2, ...) until it returns, retrying what `decide` allows.

        `on_retry(error, delay)` is told of each retry before the wait (fan-out pauses its
        whole run on a rate limit there); the last error is raised as it is.
        """
        st = state if state is not None else RetryState()
        while True:
            st.attempts += 1
            try:
                return await attempt(st.attempts)
            except GroqStreamError as e:
                delay = self.decide(e, st, rand())
                if delay is None:
                    raise
                if on_retry is not None:
                    on_retry(e, delay)
                await sleep(delay)
