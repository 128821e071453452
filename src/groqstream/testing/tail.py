"""`SlowTail`: a simulated server's slow replicas — a fraction of requests whose first chunk
comes `factor` times later than the others'.

A real fleet's p99 time-to-first-token is set by a few slow requests (a busy replica, a
queue spike), not by the typical one. The fraction is exact, not a coin flip per request:
requests are taken in blocks of ``round(1 / fraction)`` in the order they arrive, and one
request at a seeded random place in each block is slow — so "5 % slow" means 5 % of any run.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

__all__ = ["SlowTail"]


@dataclass(slots=True)
class SlowTail:
    """Delay the first chunk of `fraction` of requests by `factor` × the server's `ttft`.

    Pass it as ``SimulatedServer(slow_tail=SlowTail(0.05, 20.0))``; each request then draws
    once (`draw`) and its `RequestRecord.ttft_factor` says what it got.
    """

    fraction: float = 0.05
    factor: float = 20.0
    seed: int = 0
    slow: int = 0
    _rng: random.Random = field(init=False, repr=False)
    _block: int = field(init=False, repr=False)
    _pos: int = field(init=False, repr=False, default=0)
    _pick: int = field(init=False, repr=False, default=0)

    def __post_init__(self) -> None:
        if not 0 <= self.fraction <= 1:
            raise ValueError(f"fraction must be between 0 and 1, got {self.fraction!r}")
        if not (math.isfinite(self.factor) and self.factor >= 1):
            raise ValueError(f"factor must be a finite number of 1 or more, got {self.factor!r}")
        self._rng = random.Random(self.seed)
        self._block = max(1, round(1 / self.fraction)) if self.fraction > 0 else 0

    def draw(self) -> float:
        """The first-chunk delay multiplier of the next request: `factor` or 1."""
        if not self._block:
            return 1.0
        if self._pos == 0:
            self._pick = self._rng.randrange(self._block)
        slow = self._pos == self._pick
        self._pos = (self._pos + 1) % self._block
        if slow:
            self.slow += 1
            return self.factor
        return 1.0
