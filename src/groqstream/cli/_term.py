"""Terminal styling without dependencies: ANSI when the stream is a TTY, plain text otherwise."""

from __future__ import annotations

import math
import os
import sys
from typing import TextIO

__all__ = ["Style", "fmt_ms"]


class Style:
    """ANSI styles for one output stream, disabled when it is not a terminal or NO_COLOR is set."""

    def __init__(self, stream: TextIO) -> None:
        self.enabled = stream.isatty() and not os.environ.get("NO_COLOR")

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def dim(self, text: str) -> str:
        """Faint text (reasoning, secondary figures)."""
        return self._wrap("2", text)

    def bold(self, text: str) -> str:
        """Bold text (headings, key figures)."""
        return self._wrap("1", text)

    def green(self, text: str) -> str:
        """Success."""
        return self._wrap("32", text)

    def red(self, text: str) -> str:
        """Failure."""
        return self._wrap("31", text)

    def yellow(self, text: str) -> str:
        """Warnings."""
        return self._wrap("33", text)

    def cyan(self, text: str) -> str:
        """Labels."""
        return self._wrap("36", text)


def fmt_ms(seconds: float | None) -> str:
    """Seconds as a short millisecond figure: '52.1 ms', or '–' when unknown."""
    if seconds is None or math.isnan(seconds):
        return "–"
    ms = seconds * 1000
    return f"{ms:.0f} ms" if ms >= 100 else f"{ms:.1f} ms"


def err(text: str) -> None:
    """Print to stderr."""
    print(text, file=sys.stderr)
