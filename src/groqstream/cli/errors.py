"""How the command line reports failures: one or two lines a person can act on, never a
traceback (unless `--debug`), and the exit code that says what kind of failure it was."""

from __future__ import annotations

from ..errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    GroqStreamError,
    PermissionDeniedError,
    StreamInterrupted,
)

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "CommandError",
    "Interrupted",
    "UsageError",
    "describe",
]

EXIT_FAILURE = 1  # the command ran and failed (no server, refused key, failed requests...)
EXIT_USAGE = 2  # a bad argument value, found before any work started (as argparse exits)
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


class UsageError(Exception):
    """A bad argument value (or input file) found before any work started (exit 2); `fix`
    replaces the default pointer to the command's --help."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


class CommandError(Exception):
    """A runtime failure, already phrased for a person: the problem and, optionally, the fix
    on a second line (exit 1)."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


class Interrupted(Exception):
    """Ctrl-C stopped the command (exit 130); the command already said what it kept."""


def describe(e: GroqStreamError) -> tuple[str, str | None]:
    """A library error as (problem, fix) for the terminal."""
    message = str(e)
    if isinstance(e, (AuthenticationError, PermissionDeniedError)):
        return message, "the server refused the API key: check it (--api-key-env NAME)"
    if isinstance(e, APITimeoutError):
        return message, None
    if isinstance(e, APIConnectionError) and not isinstance(e, StreamInterrupted):
        return message, "is a server listening there? Check --base-url (or GROQSTREAM_BASE_URL)"
    if type(e) is GroqStreamError or message.startswith(e.kind):
        return message, None
    return f"{e.kind}: {message}", None
