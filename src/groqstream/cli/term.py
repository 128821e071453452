"""Terminal output: `rich` styling when it is installed (the `cli` extra) and the stream is a
terminal; plain text otherwise — in pipes and files, with `NO_COLOR` set, or `TERM=dumb`."""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any, TextIO

__all__ = ["Out", "has_module", "rich_enabled"]


def has_module(name: str) -> bool:
    """True if `name` can be imported (without importing it)."""
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def rich_enabled(stream: TextIO) -> bool:
    """True if output to `stream` should go through rich (styles, live displays)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and has_module("rich")


class Out:
    """One output stream (stdout or stderr) that styles text when rich is enabled for it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.console: Any = None
        if rich_enabled(stream):
            from rich.console import Console

            self.console = Console(file=stream, highlight=False, soft_wrap=True, emoji=False)

    @property
    def styled(self) -> bool:
        """True if styles show (rich on a terminal)."""
        return self.console is not None

    def write(self, text: str, style: str | None = None) -> None:
        """Write `text` as it is (model output is never read as markup), styled if possible."""
        if self.console is not None and style:
            self.console.print(text, style=style, end="", markup=False)
        else:
            self.stream.write(text)

    def line(self, text: str = "", style: str | None = None) -> None:
        """Write `text` and a newline, then flush."""
        self.write(text, style)
        self.stream.write("\n")
        self.stream.flush()

    def flush(self) -> None:
        """Flush the stream."""
        self.stream.flush()
