"""Argument parsing and dispatch for the `groqstream` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from .._version import __version__
from ..errors import GroqStreamError
from . import chat, serve

__all__ = ["main"]

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="groqstream",
        description="Fast streaming LLM inference for Groq and OpenAI-compatible servers.",
    )
    p.add_argument("--version", action="version", version=f"groqstream {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    chat.add_parsers(sub)
    serve.add_parser(sub)
    for name in ("batch", "bench"):
        try:
            module = __import__(f"groqstream.cli.{name}", fromlist=["add_parser"])
        except ImportError:
            continue
        module.add_parser(sub)
    return p


def _run(coro: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop when it is installed (the `fast` extra), else plain asyncio."""
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return asyncio.run(coro)
    result: int = uvloop.run(coro)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `groqstream` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    func: Command | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return _run(func(args))
    except KeyboardInterrupt:
        return 130
    except GroqStreamError as e:
        print(f"groqstream: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
