"""`groqstream serve`: run the simulated Groq-like server standalone."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    """Register `serve`."""
    p = sub.add_parser(
        "serve",
        help="run the simulated Groq-like server (for tests, demos and benchmarks)",
        description="Run the embedded simulated server until interrupted.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--ttft", type=float, default=0.05, help="seconds to the first token")
    p.add_argument("--tps", type=float, default=500.0, help="tokens per second per stream")
    p.add_argument("--tokens-per-chunk", type=int, default=1)
    p.add_argument("--output-tokens", type=int, default=48)
    p.add_argument("--dialect", default="groq", help="groq, openai, vllm, llamacpp or ollama")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ui", action="store_true", help="serve the live page (groqstream.ui)")
    p.add_argument("--base-url", help="with --ui: a real endpoint instead of the simulator")
    p.add_argument("--model", help="with --ui: the page's default model")
    p.set_defaults(func=_serve)


async def _serve(args: argparse.Namespace) -> int:
    from ..testing import serve

    if args.ui:  # the live page (issue 12); the app itself lives in groqstream.ui
        from ..ui.server import serve_ui_from_args

        await serve_ui_from_args(args)
        return 0
    await serve(
        host=args.host,
        port=args.port,
        ttft=args.ttft,
        tokens_per_second=args.tps,
        tokens_per_chunk=args.tokens_per_chunk,
        output_tokens=args.output_tokens,
        dialect=args.dialect,
        seed=args.seed,
    )
    return 0
