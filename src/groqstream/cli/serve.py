"""`groqstream serve`: run the simulated Groq-like server standalone."""

from __future__ import annotations

import argparse
import asyncio
import errno
import sys
from collections.abc import Coroutine
from typing import Any

from .args import add_command, non_negative_float, positive_int
from .errors import CommandError

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    """Register `serve`."""
    p = add_command(
        sub,
        "serve",
        help="run the simulated Groq-like server (for tests, demos and benchmarks)",
        description="Run the embedded simulated server until interrupted (Ctrl-C). It prints "
        "its base URL; point any OpenAI-compatible client at it.",
        example="groqstream serve --port 8000 --ttft 0.05 --tps 500\n"
        'groqstream chat "hi" --base-url http://127.0.0.1:8000/openai/v1',
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free one)")
    p.add_argument("--ttft", type=non_negative_float, default=0.05, help="seconds to first token")
    p.add_argument(
        "--tps", type=non_negative_float, default=500.0, help="tokens/s per stream (0: unpaced)"
    )
    p.add_argument("--tokens-per-chunk", type=positive_int, default=1, help="tokens per chunk")
    p.add_argument(
        "--output-tokens",
        type=positive_int,
        default=48,
        help="answer length when a request sets no max_tokens",
    )
    p.add_argument(
        "--dialect",
        choices=("groq", "openai", "vllm", "llamacpp", "ollama"),
        default="groq",
        help="whose SSE dialect to speak",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the generated text")
    # For `bench --simulate`: exit when the parent closes our stdin (or dies).
    p.add_argument("--exit-with-stdin", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--ui", action="store_true", help="serve the live page (groqstream.ui)")
    p.add_argument("--base-url", help="with --ui: a real endpoint instead of the simulator")
    p.add_argument("--model", help="with --ui: the page's default model")
    p.set_defaults(func=_serve)


async def _stdin_closed() -> None:
    """Return when standard input reaches end of file."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    try:
        while await reader.read(4096):
            pass
    finally:
        transport.close()


async def _until_first(*coros: Coroutine[Any, Any, Any]) -> None:
    """Run the coroutines until the first one ends (re-raising its error); cancel the rest."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for t in done:
        t.result()


async def _serve(args: argparse.Namespace) -> int:
    from ..testing import serve

    simulator: dict[str, Any] = {
        "ttft": args.ttft,
        "tokens_per_second": args.tps,
        "tokens_per_chunk": args.tokens_per_chunk,
        "output_tokens": args.output_tokens,
        "dialect": args.dialect,
        "seed": args.seed,
    }
    run: Coroutine[Any, Any, Any]
    if args.ui:  # the live page (issue 12); the simulator's options apply without --base-url
        from ..ui.server import serve_ui

        run = serve_ui(
            host=args.host,
            port=args.port,
            base_url=args.base_url,
            model=args.model,
            simulator=simulator,
        )
    else:
        run = serve(host=args.host, port=args.port, **simulator)
    try:
        await (_until_first(run, _stdin_closed()) if args.exit_with_stdin else run)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise CommandError(
                f"port {args.port} on {args.host} is already in use",
                "stop what is using it, or pick another port (--port 0 picks a free one)",
            ) from None
        raise
    return 0
