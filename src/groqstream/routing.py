"""The sans-IO policies a `Router` follows: when to hedge, how many hedges it may afford,
and which endpoints are healthy enough to get traffic.

Nothing here sleeps, reads a clock or touches a socket (like `ratelimit.py`): every method
that depends on time takes `now` (monotonic seconds), so each rule is tested without an
event loop. `router.py` is the thin IO layer that feeds them.

- `Hedge`: the settings — hedge after a fixed delay or after the endpoint's running TTFT
  quantile (``after="p95"``), bounded by `min_delay` / `max_delay`, at most `max_extra` extra
  requests.
- `TtftWindow`: the last TTFTs of one endpoint, sorted, for that quantile.
- `HedgeBudget`: a token bucket filled by requests (`max_extra` per request) and drained by
  hedges, so hedges never exceed `max_extra` of the requests made, plus a small `burst`.
- `Breaker` / `CircuitBreaker`: open after N consecutive failures, one half-open probe after a
  cool-down; `EndpointHealth` adds the wait a 429's retry-after put on the endpoint.
"""

from __future__ import annotations

import bisect
import collections
import math
import re
from dataclasses import dataclass, field

from .errors import ConfigError

__all__ = [
    "Breaker",
    "BreakerState",
    "CircuitBreaker",
    "EndpointHealth",
    "Hedge",
    "HedgeBudget",
    "TtftWindow",
]

_QUANTILE = re.compile(r"p(\d{1,2}(?:\.\d+)?)")


def parse_quantile(text: str) -> float:
    """``"p95"`` → 0.95, ``"p99.9"`` → 0.999; a `ConfigError` for anything else."""
    m = _QUANTILE.fullmatch(text.strip().lower())
    q = float(m.group(1)) / 100 if m else 0.0
    if not 0 < q < 1:
        raise ConfigError(
            f"hedge after={text!r}: give a TTFT quantile such as 'p95' (between p0 and p100, "
            "exclusive) or a number of seconds"
        )
    return q


def _non_negative(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(f"{name} must be a number of 0 or more, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    return float(value)


class TtftWindow:
    """The last `size` TTFT samples of one endpoint (seconds), kept sorted for quantiles.

    A request that was hedged because its endpoint had not answered after `d` seconds adds
    `d`: its TTFT is unknown but at least that (a censored sample). Leaving such requests out
    would make the quantile forget the slow tail it is there to measure.
    """

    __slots__ = ("_order", "_sorted")

    def __init__(self, size: int = 256) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"the TTFT window must hold at least 1 sample, got {size!r}")
        self._order: collections.deque[float] = collections.deque(maxlen=size)
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._order)

    def add(self, seconds: float) -> None:
        """Add one sample (the oldest leaves once the window is full)."""
        order = self._order
        if len(order) == order.maxlen:
            old = order[0]
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        order.append(seconds)
        bisect.insort(self._sorted, seconds)

    def quantile(self, q: float) -> float | None:
        """The nearest-rank `q` quantile (0 < q < 1) of the window; None when empty."""
        s = self._sorted
        if not s:
            return None
        return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


@dataclass(frozen=True, slots=True)
class Hedge:
    """When a `Router` sends the same request to a second endpoint ("The Tail at Scale").

    - `after`: ``"p95"`` (any ``"pNN"``) hedges once the request has waited longer for its
      first delta than that quantile of the endpoint's recent TTFTs; a number hedges after
      that many seconds. Until `min_samples` TTFTs are known, the quantile is `max_delay`.
    - `min_delay` / `max_delay`: the bounds of the delay, whatever `after` says.
    - `max_extra`: hedges are at most this fraction of requests (a budget refilled per
      request: `HedgeBudget`), plus `burst`: the budget starts with `burst` hedges saved and
      saves no more, so a tail that comes in clumps is still hedged at once.
    - `window`: how many recent TTFTs per endpoint the quantile looks at.
    """

    after: str | float = "p95"
    min_delay: float = 0.005
    max_delay: float = 2.0
    max_extra: float = 0.05
    burst: float = 2.0
    window: int = 256
    min_samples: int = 20
    _q: float | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.after, str):
            object.__setattr__(self, "_q", parse_quantile(self.after))
        else:
            _non_negative("hedge after", self.after)
        lo = _non_negative("min_delay", self.min_delay)
        hi = _non_negative("max_delay", self.max_delay)
        if lo > hi:
            raise ConfigError(f"min_delay ({lo}) must not exceed max_delay ({hi})")
        extra = _non_negative("max_extra", self.max_extra)
        if extra > 1:
            raise ConfigError(f"max_extra is a fraction of requests (0 to 1), got {extra!r}")
        _non_negative("burst", self.burst)
        for name in ("window", "min_samples"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be a whole number of 1 or more, got {v!r}")

    @classmethod
    def of(cls, value: Hedge | str | float | None) -> Hedge | None:
        """A `Hedge` from the short forms a `Router` takes: a `Hedge`, ``"p95"``, seconds, or
        None (no hedging)."""
        if value is None or isinstance(value, Hedge):
            return value
        if isinstance(value, str):
            text = value.strip()
            try:
                seconds = float(text)
            except ValueError:
                return cls(after=text)
            return cls(after=seconds)
        return cls(after=value)

    @property
    def quantile(self) -> float | None:
        """The TTFT quantile `after` names (0.95 for "p95"), or None for a fixed delay."""
        return self._q

    def delay(self, ttfts: TtftWindow) -> float:
        """Seconds to wait for a first delta before hedging, given the endpoint's TTFTs."""
        q = self._q
        if q is None:
            wanted = float(self.after)
        elif len(ttfts) < self.min_samples:
            wanted = self.max_delay
        else:
            wanted = ttfts.quantile(q) or self.max_delay
        return min(self.max_delay, max(self.min_delay, wanted))


class HedgeBudget:
    """A token bucket over the request rate: each request adds `max_extra` of a token, each
    hedge takes a whole one. It holds at most `burst` tokens and starts full, so at every
    moment the hedges sent are at most ``max_extra × requests + burst``."""

    __slots__ = ("capacity", "level", "max_extra")

    def __init__(self, max_extra: float, burst: float = 0.0) -> None:
        self.max_extra = max_extra
        self.capacity = max(1.0, burst)
        self.level = float(burst)

    def on_request(self) -> None:
        """A request was made: its share of a hedge goes into the bucket."""
        self.level = min(self.capacity, self.level + self.max_extra)

    def try_spend(self) -> bool:
        """Take one hedge's token; False (and nothing taken) when the bucket has none."""
        if self.level >= 1.0 - 1e-9:
            self.level -= 1.0
            return True
        return False


class BreakerState:
    """The three states of a `CircuitBreaker` (plain strings, for reports and spans)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class Breaker:
    """Circuit-breaker settings: open after `failures` consecutive failures; after `cooldown`
    seconds let one probe through (half-open); its success closes the breaker again."""

    failures: int = 5
    cooldown: float = 10.0

    def __post_init__(self) -> None:
        f = self.failures
        if isinstance(f, bool) or not isinstance(f, int) or f < 1:
            raise ConfigError(f"breaker failures must be a whole number of 1 or more, got {f!r}")
        _non_negative("breaker cooldown", self.cooldown)


class CircuitBreaker:
    """One endpoint's breaker, fed `now`. While open, `acquire` refuses everything until the
    cool-down ends; then it grants exactly one probe (half-open) until that probe reports."""

    __slots__ = ("consecutive", "opened", "reopen_at", "settings", "state")

    def __init__(self, settings: Breaker) -> None:
        self.settings = settings
        self.state = BreakerState.CLOSED
        self.consecutive = 0
        self.reopen_at = 0.0  # when an open breaker lets its probe through
        self.opened = 0  # how many times it opened

    def ready(self, now: float) -> bool:
        """Would `acquire(now)` grant a request (without taking it)?"""
        if self.state == BreakerState.CLOSED:
            return True
        return self.state == BreakerState.OPEN and now >= self.reopen_at

    def acquire(self, now: float) -> bool:
        """Take permission to send one request; an open breaker past its cool-down grants it
        as the probe and goes half-open."""
        if self.state == BreakerState.CLOSED:
            return True
        if self.state == BreakerState.OPEN and now >= self.reopen_at:
            self.state = BreakerState.HALF_OPEN
            return True
        return False

    def success(self) -> None:
        """A request reached its first delta: the endpoint is healthy."""
        self.state = BreakerState.CLOSED
        self.consecutive = 0

    def failure(self, now: float) -> None:
        """A request failed before its first delta (498, 5xx, connect error, timeout)."""
        self.consecutive += 1
        half_open = self.state == BreakerState.HALF_OPEN
        if half_open or self.consecutive >= self.settings.failures:
            if self.state != BreakerState.OPEN:
                self.opened += 1
            self.state = BreakerState.OPEN
            self.reopen_at = now + self.settings.cooldown

    def abandon(self) -> None:
        """A granted request ended with no verdict (it lost a hedge race): a probe's turn
        goes back, so the next request may probe."""
        if self.state == BreakerState.HALF_OPEN:
            self.state = BreakerState.OPEN


class EndpointHealth:
    """Whether an endpoint may get traffic now: its `CircuitBreaker` (None: never opens) and
    the wait a 429's retry-after put on it (the endpoint is marked, not the request)."""

    __slots__ = ("breaker", "limited_until")

    def __init__(self, breaker: Breaker | None) -> None:
        self.breaker = CircuitBreaker(breaker) if breaker is not None else None
        self.limited_until = 0.0

    @property
    def state(self) -> str:
        """The breaker's state ("closed" without a breaker)."""
        return self.breaker.state if self.breaker is not None else BreakerState.CLOSED

    def take(self, now: float) -> bool:
        """Take permission to send one request now (False: skip this endpoint)."""
        if now < self.limited_until:
            return False
        return self.breaker is None or self.breaker.acquire(now)

    def available_at(self, now: float) -> float:
        """The earliest instant from `now` at which `take` could grant a request."""
        at = max(now, self.limited_until)
        b = self.breaker
        if b is not None and b.state != BreakerState.CLOSED:
            # half-open: its probe is out; assume it comes back within a cool-down
            at = max(at, b.reopen_at if b.state == BreakerState.OPEN else now + b.settings.cooldown)
        return at

    def rate_limited(self, seconds: float, now: float) -> None:
        """A 429 asked for `seconds` of rest: no traffic until then."""
        self.limited_until = max(self.limited_until, now + max(0.0, seconds))
        if self.breaker is not None:
            self.breaker.abandon()

    def success(self) -> None:
        """A request through this endpoint reached its first delta."""
        if self.breaker is not None:
            self.breaker.success()

    def failure(self, now: float) -> None:
        """A request through this endpoint failed before its first delta."""
        if self.breaker is not None:
            self.breaker.failure(now)

    def abandon(self) -> None:
        """A request through this endpoint was cancelled before any verdict."""
        if self.breaker is not None:
            self.breaker.abandon()
