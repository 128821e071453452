"""The one attempt runner, alone: scripted failures, a fake clock, no sockets, no event loop
time spent (the sleeps are recorded, not slept)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from groqstream import (
    APIConnectionError,
    BadRequestError,
    CapacityExceededError,
    FirstByteTimeout,
    GroqStreamError,
    InternalServerError,
    RateLimitError,
    RetryPolicy,
    StreamInterrupted,
    TotalTimeout,
)
from groqstream._retry import RetryState, named_wait


def status(cls: type[Any], code: int, **kw: Any) -> Any:
    return cls("x", status=code, **kw)


def run(policy: RetryPolicy, failures: list[GroqStreamError]) -> tuple[Any, list[float], int]:
    """Run `policy` over an attempt that raises `failures` in turn, then returns "ok"."""
    sleeps: list[float] = []
    state = RetryState()
    script = list(failures)

    async def attempt(n: int) -> str:
        assert n == state.attempts
        if script:
            raise script.pop(0)
        return "ok"

    async def sleep(s: float) -> None:
        sleeps.append(s)

    async def go() -> Any:
        try:
            return await policy.run(attempt, state=state, sleep=sleep, rand=lambda: 0.5)
        except GroqStreamError as e:
            return e

    return asyncio.run(go()), sleeps, state.attempts


def test_backoff_doubles_to_the_cap_with_jitter_taken_off() -> None:
    p = RetryPolicy(initial=0.5, cap=8.0, jitter=0.25)
    assert [p.backoff(n, 0.0) for n in range(1, 7)] == [0.5, 1, 2, 4, 8, 8]
    assert p.backoff(1, 0.999) == pytest.approx(0.5 * 0.75, rel=1e-2)


def test_retryable_errors_are_retried_then_the_last_one_raised() -> None:
    errors: list[GroqStreamError] = [
        APIConnectionError("refused"),
        FirstByteTimeout("slow"),
        status(InternalServerError, 503),
    ]
    result, sleeps, attempts = run(RetryPolicy(max_retries=2), errors)
    assert isinstance(result, InternalServerError)
    assert attempts == 3
    assert sleeps == [0.5 * 0.875, 1.0 * 0.875]


def test_success_after_retries_returns_the_value() -> None:
    result, sleeps, attempts = run(RetryPolicy(), [APIConnectionError("x")])
    assert result == "ok"
    assert attempts == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    "error",
    [
        status(BadRequestError, 400),
        status(InternalServerError, 501),
        status(InternalServerError, 505),
        TotalTimeout("t"),
        status(CapacityExceededError, 498),
    ],
)
def test_final_errors_are_raised_at_once(error: GroqStreamError) -> None:
    result, sleeps, attempts = run(RetryPolicy(), [error])
    assert result is error
    assert sleeps == []
    assert attempts == 1


def test_capacity_exceeded_is_retried_only_when_the_policy_says_so() -> None:
    err = status(CapacityExceededError, 498)
    result, _, attempts = run(RetryPolicy(retry_capacity=True), [err])
    assert result == "ok"
    assert attempts == 2


def test_retry_after_is_honoured_and_a_long_one_raised() -> None:
    said = status(RateLimitError, 429, retry_after=3.0)
    result, sleeps, _ = run(RetryPolicy(), [said])
    assert result == "ok"
    assert sleeps == [3.0]
    too_long = status(RateLimitError, 429, retry_after=61.0)
    result, sleeps, _ = run(RetryPolicy(max_retry_after=60), [too_long])
    assert result is too_long
    assert sleeps == []


def test_a_429_without_retry_after_waits_for_the_spent_budget_to_reset() -> None:
    headers = {
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "2.5s",
        "x-ratelimit-remaining-tokens": "1000",
        "x-ratelimit-reset-tokens": "59m",
    }
    err = status(RateLimitError, 429, headers=headers)
    assert named_wait(err) == 2.5
    _, sleeps, _ = run(RetryPolicy(), [err])
    assert sleeps == [2.5]


def test_in_streams_a_named_wait_counts_as_a_retry() -> None:
    said = [status(RateLimitError, 429, retry_after=0.1) for _ in range(5)]
    result, sleeps, attempts = run(RetryPolicy(max_retries=2), said)
    assert isinstance(result, RateLimitError)
    assert sleeps == [0.1, 0.1]
    assert attempts == 3


def test_in_fan_out_named_rate_limit_waits_are_free_but_capped_in_total() -> None:
    said = [status(RateLimitError, 429, retry_after=0.2) for _ in range(10)]
    policy = RetryPolicy(max_retries=1, max_rate_limit_wait=1.0)
    result, sleeps, attempts = run(policy, said)
    assert isinstance(result, RateLimitError)
    assert sleeps == [0.2] * 5  # 1.0 s of named waits, then the cap
    assert attempts == 6
    mixed: list[GroqStreamError] = [
        said[0],
        said[1],
        StreamInterrupted("cut"),
        said[2],
        StreamInterrupted("cut"),
    ]
    result, sleeps, _ = run(policy, mixed)
    assert isinstance(result, StreamInterrupted)  # the second counted retry is one too many
    assert sleeps == [0.2, 0.2, 0.5 * 0.875, 0.2]


def test_on_retry_hears_each_retry_before_the_wait() -> None:
    heard: list[tuple[str, float]] = []
    policy = RetryPolicy()

    async def go() -> None:
        calls = 0

        async def attempt(n: int) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise status(RateLimitError, 429, retry_after=0.01)

        await policy.run(attempt, on_retry=lambda e, d: heard.append((e.kind, d)))

    asyncio.run(go())
    assert heard == [("RateLimitError", 0.01)]


def test_non_groqstream_errors_pass_through_untouched() -> None:
    async def attempt(n: int) -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        asyncio.run(RetryPolicy().run(attempt))
