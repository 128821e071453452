"""Synthetic workloads: prompts of about N tokens, and request arrival processes."""

from __future__ import annotations

import random
from collections.abc import Iterator

__all__ = ["arrival_gaps", "synthetic_prompt"]

_WORDS = (
    "latency",
    "throughput",
    "token",
    "stream",
    "server",
    "client",
    "request",
    "answer",
    "model",
    "network",
    "queue",
    "batch",
    "prompt",
    "context",
    "window",
    "cache",
    "kernel",
    "layer",
    "vector",
    "signal",
    "memory",
    "system",
    "value",
)


def synthetic_prompt(tokens: int, seed: int) -> str:
    """A prompt of roughly `tokens` tokens (one short word each), different per seed."""
    rng = random.Random(seed)
    words = [rng.choice(_WORDS) for _ in range(max(1, tokens))]
    return f"Request {seed}: " + " ".join(words)


def arrival_gaps(rate: float | None, burstiness: float = 1.0, seed: int = 0) -> Iterator[float]:
    """Seconds between request arrivals, as vLLM's benchmark draws them.

    `rate` None or inf: all at once (0 gaps). Otherwise gamma-distributed gaps with mean
    1/rate; burstiness 1 is a Poisson process, < 1 burstier, > 1 more uniform.
    """
    if burstiness <= 0:
        raise ValueError("burstiness must be positive")
    rng = random.Random(seed)
    if rate is None or rate == float("inf") or rate <= 0:
        while True:
            yield 0.0
    theta = 1.0 / (rate * burstiness)
    while True:
        yield rng.gammavariate(burstiness, theta)
