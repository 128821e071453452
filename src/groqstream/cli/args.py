"""Argument parsing shared by the subcommands: a parser whose errors are two short lines,
help that shows every default and an example, value types that say what was wrong and how
to fix it, and the options every command that talks to a server has."""

from __future__ import annotations

import argparse
import math
import os
import sys
import textwrap
from pathlib import Path
from typing import Any, NoReturn

from ..client import GROQ_BASE_URL, Client, StreamSource, api_key_env, default_base_url
from ..errors import ConfigError, MissingAPIKeyError
from ..report import SLO
from .errors import CommandError, UsageError

__all__ = [
    "HelpFormatter",
    "Parser",
    "add_command",
    "add_ray_options",
    "add_router_options",
    "add_target_options",
    "concurrency_levels",
    "existing_file",
    "make_client",
    "make_source",
    "model_name",
    "new_file_in_existing_dir",
    "non_negative_float",
    "positive_float",
    "positive_int",
    "slo_ms",
]


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are two lines (the problem, then where help is), not
    the whole usage block; it exits 2 as argparse does."""

    def error(self, message: str) -> NoReturn:
        """Print the problem and the way to the options, then exit 2."""
        sys.stderr.write(
            f"{self.prog}: error: {message}\nRun '{self.prog} --help' to see the options.\n"
        )
        raise SystemExit(2)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's and epilog's line breaks (for examples) and appends each
    option's default to its help, except where there is nothing to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        shown = default not in (None, False, argparse.SUPPRESS) and action.option_strings
        if shown and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def add_command(sub: Any, name: str, *, help: str, description: str, example: str) -> Parser:
    """Add a subcommand with the shared help format, its example in the epilog and `--debug`."""
    p: Parser = sub.add_parser(
        name,
        help=help,
        description=textwrap.fill(description, 88),
        epilog="example:\n  " + example.replace("\n", "\n  "),
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback of an error (for bug reports; or GROQSTREAM_DEBUG=1)",
    )
    return p


# --- value types: each raises ArgumentTypeError with the fix ------------------------------------


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number greater than 0")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    value = _float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of 0 or more")
    return value


def concurrency_levels(text: str) -> list[int]:
    """A comma-separated list of whole numbers >= 1, e.g. ``1,4,16,64``."""
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of whole numbers of 1 or more, e.g. 1,4,16,64"
        )
    return [int(p) for p in parts]


def slo_ms(text: str) -> SLO:
    """SLOs in milliseconds: ``ttft:500,tpot:50`` (keys ttft, tpot, e2el)."""
    try:
        return SLO.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def model_name(text: str) -> str:
    """A non-empty model name."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the model name is empty: pass e.g. -m openai/gpt-oss-20b")
    return text


# --- checks made after parsing, before any work starts ------------------------------------------


def existing_file(path: str, what: str) -> Path:
    """`path` as a Path if it is an existing file, else a `UsageError` saying so."""
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{what} {path!r} does not exist")
    if not p.is_file():
        raise UsageError(f"{what} {path!r} is not a file")
    return p


def new_file_in_existing_dir(path: str, what: str) -> Path:
    """`path` as a Path if its directory exists and it is not itself a directory."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{what} {path!r} is a directory; name a file in it")
    parent = p.parent
    if not parent.is_dir():
        raise UsageError(
            f"the directory of the {what}, {str(parent)!r}, does not exist: "
            f"create it first (mkdir -p {parent})"
        )
    return p


# --- the target: base URL, key and model -------------------------------------------------------


def add_target_options(p: argparse.ArgumentParser, *, model: str | None) -> None:
    """`--base-url`, `--api-key`, `--api-key-env` and `--model/-m` (None: no default)."""
    p.add_argument(
        "--base-url",
        default=None,
        metavar="URL",
        help="OpenAI-compatible base URL ending in /v1 "
        f"(default: $GROQSTREAM_BASE_URL or {GROQ_BASE_URL})",
    )
    p.add_argument(
        "--api-key-env",
        default=None,
        metavar="NAME",
        help="read the API key from this environment variable "
        "(default: GROQ_API_KEY for Groq, OPENAI_API_KEY for api.openai.com, GROQSTREAM_API_KEY "
        "for any other server)",
    )
    p.add_argument(
        "--api-key",
        default=None,
        metavar="KEY",
        help="the API key itself (visible to other users in the process list: "
        "prefer --api-key-env)",
    )
    p.add_argument(
        "--model",
        "-m",
        type=model_name,
        default=model,
        help="model name" if model else "model for requests whose body names none",
    )


def add_ray_options(p: argparse.ArgumentParser, *, workers_help: str) -> None:
    """`--workers N` and `--ray-address ADDR`: run the command on Ray (the `ray` extra)."""
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        metavar="N",
        help=f"{workers_help} (needs groqstream[ray])",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="join this Ray cluster (see `ray start --head`) instead of a local one",
    )


def make_client(args: argparse.Namespace, **kwargs: Any) -> Client:
    """A `Client` for the target options; no key is a `CommandError` naming every way to
    give one."""
    base_url = default_base_url(args.base_url)
    key = args.api_key
    if key is None and args.api_key_env:
        key = os.environ.get(args.api_key_env)
        if not key:
            raise CommandError(
                f"--api-key-env {args.api_key_env}: that environment variable is not set "
                "or is empty"
            )
    try:
        return Client(api_key=key, base_url=base_url, **kwargs)
    except MissingAPIKeyError:
        env = api_key_env(base_url)
        raise CommandError(
            f"no API key for {base_url}",
            f"set {env}, or pass --api-key-env NAME to read another variable (or --api-key KEY)",
        ) from None


# --- several endpoints: a Router ----------------------------------------------------------------


def endpoint_value(text: str) -> Any:
    """``URL[,model=NAME][,name=LABEL]``: one `Endpoint` of a `Router`."""
    from ..router import Endpoint

    try:
        return Endpoint.parse(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def hedge_value(text: str) -> str | float | None:
    """``p95`` (any TTFT quantile), a number of seconds, or ``off``."""
    from ..routing import Hedge

    if text.strip().lower() == "off":
        return None
    try:
        hedge = Hedge.of(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    assert hedge is not None
    return hedge.after


def add_router_options(p: argparse.ArgumentParser) -> None:
    """`--endpoint URL[,model=NAME]` (repeatable) and `--hedge p95|SECONDS|off`: send the
    requests through a `Router` over those endpoints instead of one `--base-url`."""
    p.add_argument(
        "--endpoint",
        action="append",
        type=endpoint_value,
        default=None,
        metavar="URL[,model=NAME]",
        help="route over this endpoint (repeat for each, in order of preference); hedged "
        "first tokens and failover between them. Keys come from the environment by provider "
        "(GROQ_API_KEY for Groq, OPENAI_API_KEY for OpenAI, GROQSTREAM_API_KEY for others)",
    )
    p.add_argument(
        "--hedge",
        type=hedge_value,
        default="p95",
        metavar="p95|SECONDS|off",
        help="with --endpoint: send a request to the next endpoint too when its first token "
        "is later than this TTFT quantile of the endpoint (or this many seconds)",
    )


def make_source(args: argparse.Namespace, **kwargs: Any) -> StreamSource:
    """A `Router` when `--endpoint` was given, else `make_client(args)`."""
    endpoints = getattr(args, "endpoint", None)
    if not endpoints:
        return make_client(args, **kwargs)
    if args.api_key or args.api_key_env or args.base_url:
        raise UsageError(
            "--endpoint takes each endpoint's key from the environment by provider; "
            "--base-url, --api-key and --api-key-env do not go with it",
            "set GROQ_API_KEY / OPENAI_API_KEY / GROQSTREAM_API_KEY as each endpoint needs",
        )
    from ..router import Router

    try:
        return Router(endpoints, hedge=args.hedge, **kwargs)
    except MissingAPIKeyError as e:
        raise CommandError(str(e)) from None
    except ConfigError as e:
        raise UsageError(str(e)) from None
