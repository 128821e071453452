"""The router's sans-IO rules with fake time: hedge delays, the hedge budget, breakers,
endpoint health, and the settings' checks. No event loop, no sockets."""

from __future__ import annotations

import random

import pytest

from groqstream import Breaker, ConfigError, Endpoint, Hedge
from groqstream.routing import (
    BreakerState,
    CircuitBreaker,
    EndpointHealth,
    HedgeBudget,
    TtftWindow,
    parse_quantile,
)


@pytest.mark.parametrize(
    ("text", "q"), [("p95", 0.95), ("P99", 0.99), ("p99.9", 0.999), ("p5", 0.05)]
)
def test_quantile_names(text: str, q: float) -> None:
    assert parse_quantile(text) == pytest.approx(q)


@pytest.mark.parametrize("text", ["p0", "p100", "95", "p", "p-1", "median", "p95%", ""])
def test_bad_quantile_names_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="quantile"):
        parse_quantile(text)


def test_window_quantile_is_nearest_rank_and_forgets_the_oldest() -> None:
    w = TtftWindow(4)
    assert w.quantile(0.5) is None
    for v in (0.4, 0.1, 0.3, 0.2):
        w.add(v)
    assert w.quantile(0.5) == 0.2
    assert w.quantile(0.99) == 0.4
    w.add(0.05)  # 0.4 (the oldest) leaves
    assert len(w) == 4
    assert w.quantile(0.99) == 0.3
    assert w.quantile(0.01) == 0.05


def test_window_matches_a_sorted_copy_over_a_long_run() -> None:
    rng = random.Random(3)
    w = TtftWindow(50)
    kept: list[float] = []
    for _ in range(1000):
        v = rng.choice([rng.random(), 0.5])  # with ties
        w.add(v)
        kept = [*kept, v][-50:]
        s = sorted(kept)
        assert w.quantile(0.95) == s[-(-95 * len(s) // 100) - 1]  # nearest rank


def test_window_size_must_be_positive() -> None:
    with pytest.raises(ConfigError):
        TtftWindow(0)


def test_fixed_delay_is_bounded() -> None:
    w = TtftWindow()
    assert Hedge(after=0.2).delay(w) == 0.2
    assert Hedge(after=0.0001, min_delay=0.01).delay(w) == 0.01
    assert Hedge(after=5.0, max_delay=1.0).delay(w) == 1.0


def test_quantile_delay_waits_for_samples_then_follows_them() -> None:
    h = Hedge(after="p95", min_samples=20, min_delay=0.001, max_delay=2.0)
    w = TtftWindow()
    for _ in range(19):
        w.add(0.02)
    assert h.delay(w) == 2.0  # too few samples: the cautious bound
    w.add(0.02)
    assert h.delay(w) == 0.02
    for _ in range(256):  # the window forgets the slower ones
        w.add(0.0001)
    assert h.delay(w) == 0.001  # never below min_delay


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"after": "fast"}, "quantile"),
        ({"after": -1.0}, "0 or more"),
        ({"after": float("inf")}, "finite"),
        ({"after": True}, "0 or more"),
        ({"min_delay": 2.0, "max_delay": 1.0}, "must not exceed"),
        ({"max_extra": 1.5}, "fraction"),
        ({"max_extra": -0.1}, "0 or more"),
        ({"burst": -1}, "burst"),
        ({"window": 0}, "window"),
        ({"min_samples": 1.5}, "min_samples"),
    ],
)
def test_bad_hedge_settings_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Hedge(**kwargs)  # type: ignore[arg-type]


def test_hedge_short_forms() -> None:
    assert Hedge.of(None) is None
    assert Hedge.of("p99") == Hedge(after="p99")
    assert Hedge.of("0.25") == Hedge(after=0.25)
    assert Hedge.of(0.1) == Hedge(after=0.1)
    h = Hedge(after=0.3)
    assert Hedge.of(h) is h
    assert Hedge(after="p90").quantile == pytest.approx(0.9)
    assert Hedge(after=0.3).quantile is None


@pytest.mark.parametrize("burst", [0.0, 2.0, 5.0])
def test_budget_never_lets_hedges_pass_max_extra_of_requests_plus_the_burst(burst: float) -> None:
    b = HedgeBudget(0.05, burst)
    hedges = 0
    for requests in range(1, 10_001):
        b.on_request()
        while b.try_spend():  # as greedy as a caller can be
            hedges += 1
        assert hedges <= 0.05 * requests + burst + 1e-9
    assert hedges >= 500 + burst - 1  # and it does let them through


def test_budget_starts_full_and_caps_its_savings() -> None:
    b = HedgeBudget(0.5, 2.0)
    assert b.try_spend() and b.try_spend() and not b.try_spend()
    for _ in range(100):
        b.on_request()
    assert b.level == 2.0
    assert b.try_spend() and b.try_spend() and not b.try_spend()


def test_a_tail_of_exactly_max_extra_is_hedged_at_once_with_a_burst_of_two() -> None:
    """One slow request in each block of 20, anywhere in it: each finds a token waiting."""
    rng = random.Random(7)
    b = HedgeBudget(0.05, 2.0)
    for _ in range(500):
        slow = rng.randrange(20)
        for i in range(20):
            b.on_request()
            if i == slow:
                assert b.try_spend()


def test_breaker_opens_after_consecutive_failures_then_probes_once() -> None:
    cb = CircuitBreaker(Breaker(failures=3, cooldown=10.0))
    cb.failure(0.0)
    cb.failure(1.0)
    cb.success()  # not consecutive any more
    for t in (2.0, 3.0):
        cb.failure(t)
        assert cb.state == BreakerState.CLOSED
    cb.failure(4.0)
    assert cb.state == BreakerState.OPEN and cb.opened == 1
    assert not cb.acquire(13.9) and not cb.ready(13.9)
    assert cb.ready(14.0)
    assert cb.acquire(14.0)  # the probe
    assert cb.state == BreakerState.HALF_OPEN
    assert not cb.acquire(14.0) and not cb.acquire(100.0)  # only one probe at a time
    cb.failure(20.0)  # the probe failed: open for another cool-down
    assert cb.state == BreakerState.OPEN and cb.reopen_at == 30.0
    assert cb.acquire(30.0)
    cb.success()
    assert cb.state == BreakerState.CLOSED and cb.acquire(30.0)


def test_an_abandoned_probe_lets_the_next_request_probe() -> None:
    cb = CircuitBreaker(Breaker(failures=1, cooldown=1.0))
    cb.failure(0.0)
    assert cb.acquire(1.0)
    cb.abandon()  # the probe lost a hedge race: no verdict
    assert cb.state == BreakerState.OPEN and cb.acquire(1.0)
    closed = CircuitBreaker(Breaker())
    closed.abandon()
    assert closed.state == BreakerState.CLOSED


@pytest.mark.parametrize("kwargs", [{"failures": 0}, {"failures": True}, {"cooldown": -1}])
def test_bad_breaker_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Breaker(**kwargs)  # type: ignore[arg-type]


def test_a_429_rests_the_endpoint_not_the_breaker() -> None:
    h = EndpointHealth(Breaker(failures=1, cooldown=5.0))
    h.rate_limited(30.0, 100.0)
    assert h.state == BreakerState.CLOSED
    assert not h.take(129.9)
    assert h.available_at(100.0) == 130.0
    assert h.take(130.0)


def test_health_without_a_breaker_never_opens() -> None:
    h = EndpointHealth(None)
    for t in range(100):
        h.failure(float(t))
    assert h.state == BreakerState.CLOSED and h.take(100.0)


def test_health_available_at_follows_the_breaker() -> None:
    h = EndpointHealth(Breaker(failures=1, cooldown=5.0))
    h.failure(10.0)
    assert h.available_at(11.0) == 15.0
    assert h.take(15.0)  # probe out
    assert h.available_at(16.0) == 21.0


def test_endpoint_names_and_cli_form() -> None:
    e = Endpoint.parse("http://127.0.0.1:8000/v1,model=llama-3.1-8b-instant")
    assert e == Endpoint("http://127.0.0.1:8000/v1", model="llama-3.1-8b-instant")
    assert e.label == "127.0.0.1:8000/llama-3.1-8b-instant"
    assert Endpoint("http://h/v1", name="east").label == "east"
    assert Endpoint.parse("http://h/v1, name=west ").label == "west"


@pytest.mark.parametrize(
    "text", ["http://h/v1,model", "http://h/v1,colour=red", "http://h/v1,model="]
)
def test_bad_cli_endpoints_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="model=NAME"):
        Endpoint.parse(text)


@pytest.mark.parametrize(
    "kwargs",
    [{"base_url": ""}, {"base_url": "http://h/v1", "model": " "}, {"base_url": "x", "name": 3}],
)
def test_bad_endpoints_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Endpoint(**kwargs)  # type: ignore[arg-type]


def test_an_endpoint_never_shows_its_key() -> None:
    e = Endpoint("https://api.groq.com/openai/v1", api_key="gsk_secret_value")
    assert "gsk_secret_value" not in repr(e)
    assert "gsk_secret_value" not in str(e)
