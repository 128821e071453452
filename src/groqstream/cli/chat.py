"""`groqstream chat` and `groqstream demo`: stream one answer to the terminal, then its metrics."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .._stats import percentile
from ..client import Client
from ..metrics import StreamMetrics
from ..models import DEFAULT_MODEL
from ._term import Style, fmt_ms

__all__ = ["add_parsers", "metrics_line", "stream_to_terminal"]

DEMO_PROMPT = "Explain in a few sentences why streaming tokens makes a chat UI feel fast."


def add_parsers(sub: Any) -> None:
    """Register `chat` and `demo`."""
    p = sub.add_parser(
        "chat",
        help="stream one answer to the terminal, then its latency metrics",
        description="Stream a chat completion token by token, then print TTFT, ITL and tokens/s.",
    )
    p.add_argument("prompt", help="the user message ('-' reads it from stdin)")
    p.add_argument("--model", "-m", default=DEFAULT_MODEL)
    p.add_argument("--system", "-s", default=None, help="a system prompt")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible base URL ending in /v1")
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument(
        "--reasoning-format", default=None, help="Groq: parsed, raw or hidden (reasoning models)"
    )
    p.add_argument("--json", action="store_true", help="print the metrics as JSON at the end")
    p.set_defaults(func=_chat)

    d = sub.add_parser(
        "demo",
        help="stream an answer from the embedded simulated server (no key, no network)",
        description="Start the simulated Groq-like server in-process and stream from it.",
    )
    d.add_argument("prompt", nargs="?", default=DEMO_PROMPT)
    d.add_argument("--model", "-m", default=DEFAULT_MODEL)
    d.add_argument("--tps", type=float, default=300.0, help="simulated tokens per second")
    d.add_argument("--ttft", type=float, default=0.12, help="simulated time to first token (s)")
    d.add_argument("--output-tokens", type=int, default=90)
    d.set_defaults(func=_demo)


def metrics_line(m: StreamMetrics, style: Style) -> str:
    """One line of a stream's key figures: TTFT, ITL p50, tokens/s, and server timings."""
    itl = sorted(m.itl_s)
    parts = [
        f"TTFT {style.bold(fmt_ms(m.ttft_s))}",
        f"ITL p50 {fmt_ms(percentile(itl, 50) if itl else None)}",
        f"TPOT {fmt_ms(m.tpot_s)}",
        f"{m.output_tokens_per_s or 0:,.0f} tok/s",
        f"{m.output_tokens} tokens",
        f"E2EL {fmt_ms(m.e2el_s)}",
    ]
    line = " · ".join(parts)
    server = [
        (label, v)
        for label, v in (
            ("queue", m.server_queue_s),
            ("prompt", m.server_prompt_s),
            ("completion", m.server_completion_s),
        )
        if v is not None
    ]
    if server:
        line += style.dim(" | server: " + ", ".join(f"{k} {fmt_ms(v)}" for k, v in server))
        if m.network_s is not None:
            line += style.dim(f", network+client {fmt_ms(m.network_s)}")
    return line


async def stream_to_terminal(client: Client, *, json_out: bool = False, **kwargs: Any) -> int:
    """Stream one completion to stdout (reasoning dimmed, or to stderr when piped)."""
    out = sys.stdout
    style = Style(out)
    in_reasoning = False
    async with client.stream(**kwargs) as s:
        async for delta in s:
            if delta.reasoning:
                if style.enabled:
                    out.write(style.dim(delta.reasoning))
                else:
                    sys.stderr.write(delta.reasoning)
                in_reasoning = True
            if delta.content:
                if in_reasoning:
                    (out if style.enabled else sys.stderr).write("\n\n")
                    in_reasoning = False
                out.write(delta.content)
            out.flush()
        for call in s.tool_calls:
            out.write(f"\n{style.cyan('tool call')} {call.name}({call.arguments})")
    out.write("\n")
    err_style = Style(sys.stderr)
    print(err_style.dim("─" * 8) + " " + metrics_line(s.metrics, err_style), file=sys.stderr)
    if json_out:
        import orjson

        d = s.metrics.to_dict()
        d["request_id"] = s.request_id
        d["finish_reason"] = s.finish_reason
        print(orjson.dumps(d).decode())
    return 0


async def _chat(args: argparse.Namespace) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    params: dict[str, Any] = {}
    if args.max_tokens is not None:
        params["max_tokens"] = args.max_tokens
    if args.temperature is not None:
        params["temperature"] = args.temperature
    if args.reasoning_format is not None:
        params["reasoning_format"] = args.reasoning_format
    async with Client(base_url=args.base_url) as client:
        return await stream_to_terminal(
            client,
            json_out=args.json,
            model=args.model,
            prompt=prompt,
            system=args.system,
            **params,
        )


async def _demo(args: argparse.Namespace) -> int:
    from ..testing import SimulatedServer

    style = Style(sys.stderr)
    async with SimulatedServer(
        ttft=args.ttft, tokens_per_second=args.tps, output_tokens=args.output_tokens
    ) as server:
        print(
            style.dim(f"groqstream demo · simulated Groq server at {server.base_url} · ")
            + style.dim(f"model {args.model}, {args.tps:g} tok/s, TTFT {args.ttft * 1000:g} ms"),
            file=sys.stderr,
        )
        print(style.bold("> ") + args.prompt + "\n", file=sys.stderr)
        async with Client(base_url=server.base_url) as client:
            # One tiny warm-up request first, so the figures shown are steady-state ones and
            # not the first-call costs of an in-process server sharing the client's loop.
            await client.complete(model=args.model, prompt="warm up", max_tokens=1)
            return await stream_to_terminal(client, model=args.model, prompt=args.prompt)
