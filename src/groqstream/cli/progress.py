"""A dependency-free progress line for long runs: rewritten in place on a TTY, periodic
plain lines otherwise (so logs stay readable)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ..fanout import Progress
from ._term import Style

__all__ = ["ProgressLine"]


class ProgressLine:
    """Renders `Progress` snapshots: done / failed / in flight / req/s / tok/s / p50 TTFT."""

    def __init__(self, stream: TextIO | None = None, *, plain_every: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.style = Style(self.stream)
        self.tty = self.stream.isatty()
        self.plain_every = plain_every
        self._last_plain = 0.0
        self._width = 0

    def render(self, p: Progress) -> str:
        """The line for one snapshot."""
        total = f"/{p.total}" if p.total is not None else ""
        bar = ""
        if p.total:
            filled = int(24 * (p.done + p.failed) / p.total)
            bar = "[" + "█" * filled + "·" * (24 - filled) + "] "
        ttft = f"{p.p50_ttft_s * 1000:.0f} ms" if p.p50_ttft_s is not None else "–"
        failed = self.style.red(f"{p.failed} failed") if p.failed else "0 failed"
        return (
            f"{bar}{p.done + p.failed}{total} done · {failed} · {p.in_flight} in flight · "
            f"{p.req_per_s:.1f} req/s · {p.tokens_per_s:,.0f} tok/s · p50 TTFT {ttft} · "
            f"{p.elapsed_s:.0f}s"
        )

    def __call__(self, p: Progress) -> None:
        """The `on_progress` callback."""
        line = self.render(p)
        if self.tty:
            pad = max(0, self._width - len(line))
            self.stream.write("\r" + line + " " * pad + ("\n" if p.finished else ""))
            self._width = len(line)
            self.stream.flush()
            return
        now = time.monotonic()
        if p.finished or now - self._last_plain >= self.plain_every:
            self._last_plain = now
            print(line, file=self.stream, flush=True)
