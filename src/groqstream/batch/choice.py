"""Which backend runs a batch (`backend="auto"`), and the times that decide it, sans IO.

The rule: the Batch API costs half and does not count against rate limits, but promises
results only within its completion window. So `auto` picks groq-batch when the deadline (if
any) is at least one completion window away and the input is big enough to be worth the
wait (`AUTO_MIN_REQUESTS`); otherwise the sync backend, which starts answering at once.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from ..errors import ConfigError

__all__ = [
    "AUTO_MIN_REQUESTS",
    "BACKENDS",
    "choose_backend",
    "parse_deadline",
    "parse_duration",
    "window_seconds",
]

BACKENDS = ("sync", "groq-batch", "auto")
AUTO_MIN_REQUESTS = 1000
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float | None:
    """Seconds of "90s", "45m", "36h", "7d" (None if it is not one)."""
    m = _DURATION.match(text)
    return float(m.group(1)) * _UNIT[m.group(2)] if m else None


def window_seconds(window: str) -> float:
    """Seconds of a completion window Groq accepts: "24h" to "7d" in whole hours or days."""
    m = re.fullmatch(r"(\d+)([hd])", window) if isinstance(window, str) else None
    secs = float(m.group(1)) * _UNIT[m.group(2)] if m else 0.0
    if not 86400 <= secs <= 7 * 86400:
        raise ConfigError(
            f"completion_window must be a duration from 24h to 7d in hours or days (e.g. 24h, "
            f"48h, 7d), got {window!r}"
        )
    return secs


def parse_deadline(deadline: float | str | datetime | None, now: float) -> float | None:
    """A deadline as a Unix time: seconds from `now` (a number or "36h"), an aware
    `datetime`, or an ISO 8601 time ("2026-12-24T18:00Z"); None for none."""
    if deadline is None:
        return None
    if isinstance(deadline, datetime):
        return _aware(deadline).timestamp()
    if isinstance(deadline, (int, float)) and not isinstance(deadline, bool):
        if deadline <= 0:
            raise ConfigError(f"deadline must be in the future, got {deadline!r} seconds")
        return now + float(deadline)
    if isinstance(deadline, str):
        secs = parse_duration(deadline)
        if secs is not None:
            return now + secs
        try:
            when = datetime.fromisoformat(deadline.replace("Z", "+00:00"))
        except ValueError:
            when = None
        if when is not None:
            return _aware(when).timestamp()
    raise ConfigError(
        f"deadline must be a duration (90m, 36h, 7d), an ISO 8601 time "
        f"(2026-12-24T18:00Z) or seconds, got {deadline!r}"
    )


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ConfigError(f"the deadline {when.isoformat()} needs a time zone (e.g. Z or +01:00)")
    return when.astimezone(timezone.utc)


def choose_backend(
    backend: str, requests: int, deadline_in: float | None, window_s: float
) -> tuple[str, str]:
    """(backend, why) for `backend` ("sync", "groq-batch" or "auto"), `requests` to send and a
    deadline `deadline_in` seconds away (None: none)."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend != "auto":
        return backend, "chosen"
    if deadline_in is not None and deadline_in < window_s:
        return "sync", (
            f"auto: the deadline is {_human(deadline_in)} away, sooner than the "
            f"{_human(window_s)} completion window"
        )
    if requests < AUTO_MIN_REQUESTS:
        return "sync", (
            f"auto: {requests:,} requests are fewer than {AUTO_MIN_REQUESTS:,}, not worth "
            "waiting for a batch"
        )
    room = "no deadline" if deadline_in is None else f"the deadline is {_human(deadline_in)} away"
    return "groq-batch", (
        f"auto: {requests:,} requests and {room}: the Batch API at half price within "
        f"{_human(window_s)}"
    )


def _human(seconds: float) -> str:
    if seconds >= 2 * 86400 and seconds % 86400 == 0:
        return f"{seconds / 86400:g}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.3g}h"
    if seconds >= 60:
        return f"{seconds / 60:.3g}m"
    return f"{seconds:.3g}s"
