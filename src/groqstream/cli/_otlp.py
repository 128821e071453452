"""`--otlp-endpoint` for the commands that send requests (`bench`, `batch`).

Parsing the flag imports nothing; only a command run with it imports `groqstream.otel`
(the `otel` extra), and a missing extra is reported as a `ConfigError` naming the install.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["add_argument", "rerun_exporting"]


def add_argument(parser: Any) -> None:
    """Add `--otlp-endpoint URL` to a command's parser."""
    parser.add_argument(
        "--otlp-endpoint",
        default=None,
        metavar="URL",
        help="also send spans and metrics to this OTLP/HTTP collector, e.g. "
        "http://localhost:4318 (needs groqstream[otel])",
    )


async def rerun_exporting(
    args: argparse.Namespace,
    command: Callable[[argparse.Namespace], Awaitable[int]],
    service_name: str,
) -> int:
    """Run `command` inside an OTLP export session to `args.otlp_endpoint`, flushed at the end."""
    from ..otel import otlp_session

    with otlp_session(args.otlp_endpoint, service_name=service_name):
        return await command(argparse.Namespace(**{**vars(args), "otlp_endpoint": None}))
