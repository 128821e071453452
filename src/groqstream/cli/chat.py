"""`groqstream chat` and `groqstream demo`: stream one answer to the terminal, then its metrics."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from .._stats import percentile
from ..bench.fmt import rate, seconds_as_ms
from ..client import Client, StreamSource
from ..metrics import StreamMetrics
from ..models import DEFAULT_MODEL
from ..stream import DeltaStream
from .args import (
    add_command,
    add_router_options,
    add_target_options,
    make_source,
    model_name,
    non_negative_float,
    positive_float,
    positive_int,
)
from .term import Out

__all__ = ["add_parsers", "metrics_line", "stream_to_terminal"]

DEMO_PROMPT = "Explain in a few sentences why streaming tokens makes a chat UI feel fast."


def add_parsers(sub: Any) -> None:
    """Register `chat` and `demo`."""
    p = add_command(
        sub,
        "chat",
        help="stream one answer to the terminal, then its latency metrics",
        description="Stream a chat completion token by token, then print TTFT, ITL, TPOT, "
        "tokens/s and E2EL (and the server's own timings when it reports them). Reasoning is "
        "dimmed on a terminal and goes to stderr when stdout is piped.",
        example='groqstream chat "Why is the sky blue?" -m openai/gpt-oss-20b --max-tokens 200',
    )
    p.add_argument("prompt", help="the user message ('-' reads it from stdin)")
    add_target_options(p, model=DEFAULT_MODEL)
    p.add_argument("--system", "-s", default=None, help="a system prompt")
    p.add_argument(
        "--max-tokens",
        type=positive_int,
        default=None,
        metavar="N",
        help="cap on output tokens (reasoning too)",
    )
    p.add_argument(
        "--temperature", type=non_negative_float, default=None, metavar="T", help="sampling"
    )
    p.add_argument(
        "--reasoning-format",
        choices=("parsed", "raw", "hidden"),
        default=None,
        help="Groq reasoning models: how reasoning is returned",
    )
    p.add_argument("--json", action="store_true", help="print the metrics as JSON at the end")
    add_router_options(p)
    p.set_defaults(func=_chat)

    d = add_command(
        sub,
        "demo",
        help="stream an answer from the embedded simulated server (no key, no network)",
        description="Start the simulated Groq-like server in-process and stream from it.",
        example="groqstream demo --tps 300 --ttft 0.12",
    )
    d.add_argument("prompt", nargs="?", default=DEMO_PROMPT, help="the user message")
    d.add_argument("--model", "-m", type=model_name, default=DEFAULT_MODEL, help="model name")
    d.add_argument("--tps", type=positive_float, default=300.0, help="simulated tokens/s")
    d.add_argument(
        "--ttft", type=non_negative_float, default=0.12, help="simulated time to first token, s"
    )
    d.add_argument("--output-tokens", type=positive_int, default=90, help="answer length")
    d.set_defaults(func=_demo)


def metrics_line(m: StreamMetrics, out: Out) -> str:
    """One line of a stream's key figures: TTFT, ITL p50, tokens/s, and server timings."""
    itl = sorted(m.itl_s)
    parts = [
        f"TTFT {seconds_as_ms(m.ttft_s)}",
        f"ITL p50 {seconds_as_ms(percentile(itl, 50) if itl else None)}",
        f"TPOT {seconds_as_ms(m.tpot_s)}",
        f"{rate(m.output_tokens_per_s or 0)} tok/s",
        f"{m.output_tokens:,} tokens",
        f"E2EL {seconds_as_ms(m.e2el_s)}",
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
        line += " | server: " + ", ".join(f"{k} {seconds_as_ms(v)}" for k, v in server)
        if m.network_s is not None:
            line += f", network+client {seconds_as_ms(m.network_s)}"
    split = m.ttft_split()
    if split is not None:
        line += f" | TTFT network+client {seconds_as_ms(split['network'])}"
    if m.loop_lag_s is not None:
        mark = " (suspect)" if m.lag_suspect else ""
        line += f" | stamps ± {seconds_as_ms(m.loop_lag_s)}{mark}"
    return line


def _route_note(s: DeltaStream) -> str:
    """How a `Router` got the answer: hedged, failed over."""
    parts = ["hedged"] if s.hedged else []
    if s.failovers:
        parts.append(f"after {s.failovers} failover{'s' if s.failovers > 1 else ''}")
    return f" ({', '.join(parts)})" if parts else ""


async def _print_deltas(s: DeltaStream, out: Out) -> None:
    """Write the answer as it arrives: reasoning dimmed on a terminal (to stderr when not)."""
    thinking = False
    async for delta in s:
        if delta.reasoning:
            if out.styled:
                out.write(delta.reasoning, "dim")
            else:
                sys.stderr.write(delta.reasoning)
                sys.stderr.flush()
            thinking = True
        if delta.content:
            if thinking:
                (out.stream if out.styled else sys.stderr).write("\n\n")
                thinking = False
            out.write(delta.content)
        out.flush()
    for call in s.tool_calls:
        out.write("\n")
        out.write("tool call", "cyan")
        out.write(f" {call.name}({call.arguments})")


def _interrupted_line(s: DeltaStream, err: Out) -> None:
    m = s.metrics
    if m.ttft_s is None:
        err.line("── interrupted before the first token arrived", "yellow")
        return
    err.line(f"── interrupted after {m.chunks:,} chunks · " + metrics_line(m, err), "yellow")


async def stream_to_terminal(client: StreamSource, *, json_out: bool = False, **kwargs: Any) -> int:
    """Stream one completion to stdout, then its metrics line on stderr; Ctrl-C ends the
    line and prints the metrics of what arrived."""
    out, err = Out(sys.stdout), Out(sys.stderr)
    s = client.stream(**kwargs)
    try:
        async with s:
            await _print_deltas(s, out)
    except asyncio.CancelledError:
        out.line()
        _interrupted_line(s, err)
        raise
    out.line()
    err.line("──────── " + metrics_line(s.metrics, err), "dim")
    if s.endpoint is not None:
        err.line(f"──────── served by {s.endpoint}{_route_note(s)}", "dim")
    if json_out:
        import orjson

        d = s.metrics.to_dict()
        d["request_id"] = s.request_id
        d["finish_reason"] = s.finish_reason
        if s.endpoint is not None:
            d.update(endpoint=s.endpoint, hedged=s.hedged, failovers=s.failovers)
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
    async with make_source(args) as client:
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

    err = Out(sys.stderr)
    async with SimulatedServer(
        ttft=args.ttft, tokens_per_second=args.tps, output_tokens=args.output_tokens
    ) as server:
        err.line(
            f"groqstream demo · simulated Groq server at {server.base_url} · model {args.model}, "
            f"{args.tps:g} tok/s, TTFT {args.ttft * 1000:g} ms",
            "dim",
        )
        err.write("> ", "bold")
        err.line(args.prompt + "\n")
        async with Client(base_url=server.base_url) as client:
            # One tiny warm-up request first, so the figures shown are steady-state ones and
            # not the first-call costs of an in-process server sharing the client's loop.
            await client.complete(model=args.model, prompt="warm up", max_tokens=1)
            return await stream_to_terminal(client, model=args.model, prompt=args.prompt)
