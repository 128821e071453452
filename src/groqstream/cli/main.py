"""Argument parsing and dispatch for the `groqstream` command, and how it ends.

Exit codes: 0 success; 1 the command ran and failed (no server, refused key, failed
requests); 2 a bad argument value, found before any work started; 130 Ctrl-C. No error prints
a traceback unless `--debug` is given (or `GROQSTREAM_DEBUG=1` is set).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from .._gcfreeze import freeze_startup_state
from .._version import __version__
from ..errors import GroqStreamError
from . import batch, bench, chat, report, serve
from .args import HelpFormatter, Parser
from .errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CommandError,
    Interrupted,
    UsageError,
    describe,
)

__all__ = ["main"]

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def _parser() -> Parser:
    p = Parser(
        prog="groqstream",
        description="Fast streaming LLM inference for Groq and OpenAI-compatible servers.",
        epilog="example:\n  groqstream demo\n\nRun 'groqstream COMMAND --help' for a command's "
        "options and an example.",
        formatter_class=HelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"groqstream {__version__}")
    p.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback of an error (for bug reports; or GROQSTREAM_DEBUG=1)",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    chat.add_parsers(sub)
    batch.add_parser(sub)
    bench.add_parser(sub)
    report.add_parser(sub)
    serve.add_parser(sub)
    return p


def _runner() -> Callable[[Coroutine[Any, Any, int]], int]:
    """uvloop's `run` when it is installed (the `fast` extra), else `asyncio.run`.

    Decided before anything runs, so no later error is chained to uvloop's ImportError.
    """
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return asyncio.run
    run: Callable[[Coroutine[Any, Any, int]], int] = uvloop.run
    return run


async def _interruptible(func: Command, args: argparse.Namespace) -> int:
    """Run a command so that Ctrl-C cancels it (its cleanup runs and says what it kept) and
    becomes `Interrupted`; a second Ctrl-C stops at once."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    interrupted = False

    def on_sigint() -> None:
        nonlocal interrupted
        interrupted = True
        loop.remove_signal_handler(signal.SIGINT)  # the next Ctrl-C raises KeyboardInterrupt
        if task is not None:
            task.cancel()

    installed = False
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, on_sigint)  # not on Windows, nor off the main thread
        installed = True
    try:
        return await func(args)
    except asyncio.CancelledError:
        if interrupted:
            raise Interrupted from None
        raise
    finally:
        if installed and not interrupted:
            loop.remove_signal_handler(signal.SIGINT)


def _say(command: str | None, problem: str, fix: str | None = None) -> None:
    prefix = f"groqstream {command}" if command else "groqstream"
    sys.stderr.write(f"{prefix}: {problem}\n" + (f"  {fix}\n" if fix else ""))


def _debug_wanted(argv: Sequence[str]) -> bool:
    return "--debug" in argv or os.environ.get("GROQSTREAM_DEBUG", "") not in ("", "0")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `groqstream` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = _debug_wanted(argv)
    command = None
    try:
        parser = _parser()
        args = parser.parse_args(argv)
        command = args.command
        func: Command | None = getattr(args, "func", None)
        if func is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        freeze_startup_state()  # everything imported and parsed lives as long as the command
        return _runner()(_interruptible(func, args))
    except (KeyboardInterrupt, Interrupted):
        return EXIT_INTERRUPTED
    except UsageError as e:
        fix = e.fix or f"Run 'groqstream {command} --help' to see the options."
        _say(command, f"error: {e}", fix)
        return EXIT_USAGE
    except Exception as e:
        if debug:
            traceback.print_exception(e)
        _say(command, *_explain(e))
        return EXIT_FAILURE


def _explain(e: Exception) -> tuple[str, str | None]:
    """(problem, fix) for an error that ended a command."""
    if isinstance(e, CommandError):
        return e.problem, e.fix
    if isinstance(e, GroqStreamError):
        return describe(e)
    if isinstance(e, OSError) and e.strerror:
        where = f": {e.filename}" if e.filename else ""
        return f"{e.strerror}{where}", None
    return (
        f"unexpected {type(e).__name__}: {e}",
        "this is a bug in groqstream: please report it with the traceback that --debug shows",
    )


if __name__ == "__main__":
    sys.exit(main())
