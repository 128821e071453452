"""How figures are written for people: `14,888` tok/s, `52.1` ms, `0:42` — never `1.4888e+04`.

Shared by the terminal tables, the progress line and the HTML report, so the same figure
reads the same everywhere.
"""

from __future__ import annotations

import math
from typing import TypeGuard

__all__ = ["clock", "count", "is_number", "ms", "rate", "seconds_as_ms"]


def is_number(x: object) -> TypeGuard[float]:
    """True for a finite int or float (not None, NaN, inf or a bool)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def ms(value: float | None) -> str:
    """Milliseconds with the precision people read them at: `1,234`, `52.1`, `3.42`; `–` when
    unknown."""
    if not is_number(value):
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def seconds_as_ms(value: float | None) -> str:
    """Seconds shown as milliseconds with the unit: `52.1 ms`; `–` when unknown."""
    return ms(value * 1000) + " ms" if is_number(value) else "–"


def rate(value: float | None) -> str:
    """A rate (req/s, tok/s): `14,888`, `52.3`, `4.21`; `–` when unknown (read at the same
    precision as milliseconds)."""
    return ms(value)


def count(value: int | None) -> str:
    """A count with thousands separators: `12,000`; `–` when unknown."""
    return "–" if value is None else f"{value:,}"


def clock(seconds: float | None) -> str:
    """A duration as a clock: `0:42`, `12:03`, `1:02:03`; `–` when unknown."""
    if not is_number(seconds):
        return "–"
    s = max(0, round(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
