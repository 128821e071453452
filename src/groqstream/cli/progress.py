"""Live progress for long runs (`batch`, `bench`): where the run is, how fast, and how long
is left.

On a terminal with rich installed (the `cli` extra) it is a rich progress bar; on a terminal
without rich (or with `NO_COLOR`) a plain line rewritten in place; in a pipe or a log file a
plain line every few seconds, so logs stay readable. Lines printed with `above` (a finished
level's row) appear above the live line without tearing it.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

from ..bench.fmt import clock, count, rate, seconds_as_ms
from ..fanout import Progress
from .term import rich_enabled

__all__ = ["LiveProgress", "PlainProgress", "RichProgress", "Snapshot", "live_progress"]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the live line shows: a label (`c=64`, `batch`), done / total and the rates."""

    label: str
    done: int  # finished, ok or failed (for a resumed batch, earlier runs' lines included)
    total: int | None
    failed: int
    in_flight: int
    req_per_s: float
    tokens_per_s: float
    p50_ttft_s: float | None
    elapsed_s: float
    eta_s: float | None

    @classmethod
    def of(cls, p: Progress, *, label: str, total: int | None, already: int = 0) -> Snapshot:
        """From a fan-out `Progress`; `total` counts every request, `already` those finished
        before this run started (a resumed batch). The ETA assumes this run's pace holds."""
        finished = p.done + p.failed
        done = already + finished
        eta = None
        if total is not None and finished and p.elapsed_s > 0:
            eta = max(0, total - done) * p.elapsed_s / finished
        return cls(
            label=label,
            done=done,
            total=total,
            failed=p.failed,
            in_flight=p.in_flight,
            req_per_s=p.req_per_s,
            tokens_per_s=p.tokens_per_s,
            p50_ttft_s=p.p50_ttft_s,
            elapsed_s=p.elapsed_s,
            eta_s=eta,
        )

    def position(self) -> str:
        """`37/200` (or `37` when the total is unknown)."""
        return count(self.done) + (f"/{count(self.total)}" if self.total is not None else "")

    def stats(self) -> list[str]:
        """The figures after the position, as separate phrases."""
        return [
            f"{count(self.failed)} failed",
            f"{count(self.in_flight)} in flight",
            f"{rate(self.req_per_s)} req/s",
            f"{rate(self.tokens_per_s)} tok/s",
            f"ETA {clock(self.eta_s)}" if self.total is not None else clock(self.elapsed_s),
            f"p50 TTFT {seconds_as_ms(self.p50_ttft_s)}",
        ]

    def text(self) -> str:
        """The whole line, plain: `c=64, 37/200 · 0 failed · 12 in flight · …`."""
        return f"{self.label}, {self.position()} · " + " · ".join(self.stats())


class LiveProgress:
    """The interface of both renderers."""

    def update(self, snap: Snapshot) -> None:
        """Show this snapshot."""
        raise NotImplementedError

    def above(self, text: str, stream: TextIO | None = None) -> None:
        """Print a line (to `stream`, stdout by default) above the live line."""
        raise NotImplementedError

    def close(self) -> None:
        """Remove the live line (the results are printed separately)."""
        raise NotImplementedError


class PlainProgress(LiveProgress):
    """A plain line: rewritten in place on a terminal, printed every `every` seconds
    otherwise."""

    def __init__(self, stream: TextIO, *, every: float = 5.0) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.every = every
        self._last_print = time.monotonic()
        self._shown = ""

    def update(self, snap: Snapshot) -> None:
        """Rewrite the line (terminal) or print it if `every` seconds passed (pipe, file)."""
        text = snap.text()
        if self.tty:
            width = max(20, shutil.get_terminal_size().columns - 1)
            self._draw(text[:width])
            return
        now = time.monotonic()
        if now - self._last_print >= self.every:
            self._last_print = now
            print(text, file=self.stream, flush=True)

    def _draw(self, text: str) -> None:
        pad = " " * max(0, len(self._shown) - len(text))
        self.stream.write("\r" + text + pad)
        self.stream.flush()
        self._shown = text

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * len(self._shown) + "\r")
            self.stream.flush()

    def above(self, text: str, stream: TextIO | None = None) -> None:
        """Clear the live line, print `text`, draw the live line again."""
        shown = self._shown
        self._clear()
        print(text, file=stream or sys.stdout, flush=True)
        if shown:
            self._shown = ""
            self._draw(shown)

    def close(self) -> None:
        """Clear the live line."""
        self._clear()
        self._shown = ""


_BAR = 20


class RichProgress(LiveProgress):
    """A rich progress bar with the same figures as the plain line."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn

        self.console = Console(file=stream, highlight=False)
        self._bar = Progress(
            TextColumn("[bold cyan]{task.description}"),
            BarColumn(bar_width=_BAR),
            TextColumn("{task.fields[position]}"),
            TextColumn("{task.fields[stats]}"),
            console=self.console,
            transient=True,
            refresh_per_second=5,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task: Any = None

    def update(self, snap: Snapshot) -> None:
        """Move the bar and refresh the figures."""
        stats = snap.stats()
        position = snap.position()
        room = self.console.width - len(snap.label) - _BAR - len(position) - 4
        split = len(stats) if len(" · ".join(stats)) <= room else (len(stats) + 1) // 2
        if snap.failed:
            stats[0] = f"[red]{stats[0]}[/red]"
        # On a narrow terminal the figures take a second line rather than being cut off.
        text = " · ".join(stats[:split]) + (
            "\n" + " · ".join(stats[split:]) if stats[split:] else ""
        )
        if self._task is None:
            self._bar.start()
            self._task = self._bar.add_task(
                snap.label, total=snap.total, position=position, stats=text
            )
        self._bar.update(
            self._task,
            description=snap.label,
            total=snap.total,
            completed=snap.done,
            position=position,
            stats=text,
        )

    def above(self, text: str, stream: TextIO | None = None) -> None:
        """Print through the live display when `stream` is a terminal (it is the same screen),
        straight to `stream` otherwise (a pipe or a file gets the text alone)."""
        out = stream or sys.stdout
        if self._task is not None and getattr(out, "isatty", lambda: False)():
            self.console.print(text, markup=False)
        else:
            print(text, file=out, flush=True)

    def close(self) -> None:
        """Remove the bar."""
        if self._task is not None:
            self._bar.stop()
            self._task = None


def live_progress(stream: TextIO | None = None, *, every: float = 5.0) -> LiveProgress:
    """The renderer for `stream` (stderr by default): rich on a terminal when it is enabled,
    the plain line otherwise."""
    stream = stream or sys.stderr
    if rich_enabled(stream):
        return RichProgress(stream)
    return PlainProgress(stream, every=every)
