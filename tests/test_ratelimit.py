"""Sans-IO rate limiting: Groq durations, token buckets and the shared gate, with fake time."""

from __future__ import annotations

import pytest

from groqstream.ratelimit import RateLimitGate, TokenBucket, estimate_tokens, parse_groq_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2m59.56s", 179.56),
        ("7.66s", 7.66),
        ("120ms", 0.12),
        ("1h2m3s", 3723.0),
        ("1.5", 1.5),
        ("0s", 0.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("5x", None),
        ("2m 3s", None),
    ],
)
def test_parse_groq_duration(text: str | None, seconds: float | None) -> None:
    got = parse_groq_duration(text)
    assert got == (pytest.approx(seconds) if seconds is not None else None)


def test_token_bucket_bursts_then_paces_and_allows_debt() -> None:
    b = TokenBucket(60)  # one per second, burst of one
    assert b.reserve(1, 0.0) == 0.0
    assert b.reserve(1, 0.0) == pytest.approx(1.0)
    assert b.reserve(1, 0.0) == pytest.approx(2.0)  # debt: queued behind the previous one
    assert b.reserve(1, 10.0) == 0.0  # refilled (capped at capacity)
    big = TokenBucket(600, capacity=10)
    assert big.reserve(40, 0.0) == pytest.approx(3.0)  # 30 tokens of debt at 10/s


def test_gate_pause_is_shared_and_only_extends() -> None:
    g = RateLimitGate()
    g.pause(2.0, now=10.0)
    g.pause(1.0, now=10.5)  # shorter: ignored
    assert g.reserve(1, now=11.0) == pytest.approx(1.0)
    assert g.pauses == 1


def test_gate_reads_groq_headers() -> None:
    g = RateLimitGate()
    g.observe({"x-ratelimit-remaining-requests": "5", "x-ratelimit-reset-requests": "9s"}, 0.0)
    assert g.reserve(1, 0.0) == 0.0
    g.observe(
        {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1m2.5s"}, now=100.0
    )
    assert g.reserve(1, 100.0) == pytest.approx(62.5)
    hint = g.hinted_wait(
        {
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "2.5s",
            "x-ratelimit-remaining-tokens": "500",
            "x-ratelimit-reset-tokens": "50s",
        }
    )
    assert hint == 2.5  # only the budget that is spent counts
    assert g.hinted_wait({}) is None


def test_gate_token_budget_is_settled_with_real_usage() -> None:
    g = RateLimitGate(tokens_per_minute=600)  # 10 tokens/s, capacity 10
    assert g.reserve(10, 0.0) == 0.0
    assert g.reserve(10, 0.0) == pytest.approx(1.0)
    g.settle(estimated=10, actual=2, now=0.0)  # the first used only 2: refund 8
    assert g.reserve(0, 0.0) == pytest.approx(0.2)


def test_estimate_tokens() -> None:
    body = {"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 50}
    assert estimate_tokens(body) == 100 + 1 + 50
    assert estimate_tokens({"messages": []}) == 1 + 1024
