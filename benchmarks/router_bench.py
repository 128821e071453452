"""Router benchmark: hedged first tokens against a slow tail, loser close, failover.

    python benchmarks/router_bench.py                      # 2,000 requests per mode
    python benchmarks/router_bench.py --requests 400       # quicker

Two `SimulatedServer`s run in their own processes (so they do not share the client's CPU):
A answers in `--ttft` but delays its first chunk ×20 for 5 % of requests (`SlowTail`, an
exact 5 %), B has no tail. The same workload — requests arriving at a fixed `--rate`, so
both modes carry the same load — goes through one endpoint (a `Client` on A) and through
`Router([A, B])`, in alternating rounds so that drift of a loaded machine hits both alike;
once with a fixed hedge delay (`--hedge-after`, 50 ms) and once with `hedge="p95"`, each with
a fresh router. Reported:

- TTFT p50 / p99 / p99.9 of each mode, and the extra requests the router sent (hedges);
- loser close: the server's stamp of the loser's disconnect minus the client's stamp of the
  winner's first delta (same machine, same monotonic clock);
- failover: what a 498 (a third server answering 498 to everything) and a refused
  connection add to TTFT over B alone, beside the round trip of a bare 498.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import socket
import sys
import time
from collections.abc import AsyncIterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MODEL = "llama-3.1-8b-instant"


# --- the servers, each in its own process ----------------------------------------------------


def _serve(conn: Connection, options: dict[str, Any]) -> None:
    asyncio.run(_serve_async(conn, options))


async def _serve_async(conn: Connection, options: dict[str, Any]) -> None:
    from groqstream.testing import Fault, SimulatedServer, SlowTail

    tail = options.pop("tail", None)
    always_498 = options.pop("always_498", False)
    async with SimulatedServer(
        **options, slow_tail=SlowTail(*tail) if tail else None, models="*"
    ) as server:
        conn.send(server.base_url)
        loop = asyncio.get_running_loop()
        while True:
            if always_498 and len(server.faults) < 1000:
                server.faults.extend(Fault.capacity_exceeded() for _ in range(10_000))
            cmd = await loop.run_in_executor(None, conn.recv)
            if cmd == "records":
                conn.send(
                    [
                        (
                            _prompt(r.body),
                            r.received_ns,
                            r.ended_ns,
                            r.outcome,
                            r.ttft_factor,
                            r.status,
                        )
                        for r in server.requests
                    ]
                )
                server.requests.clear()
            elif cmd == "stop":
                return


def _prompt(body: dict[str, Any]) -> str:
    for m in body.get("messages") or []:
        if isinstance(m, dict) and m.get("role") == "user":
            return str(m.get("content"))
    return ""


class Server:
    """A simulated server in a child process: its URL, and its request records on demand."""

    def __init__(self, **options: Any) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, options), daemon=True)
        self.proc.start()
        self.url: str = self.conn.recv()

    def records(self) -> list[tuple[str, int, int, str, float, int]]:
        self.conn.send("records")
        out: list[tuple[str, int, int, str, float, int]] = self.conn.recv()
        return out

    def stop(self) -> None:
        self.conn.send("stop")
        self.proc.join(10)


# --- figures ---------------------------------------------------------------------------------


def q(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    if not s:
        return float("nan")
    return s[min(len(s) - 1, max(0, -int(-p / 100 * len(s)) - 1))]


def ms(x: float) -> str:
    return f"{x * 1000:.1f}"


async def paced(prompts: list[str], rate: float) -> AsyncIterator[str]:
    """The prompts at a fixed rate (open loop: arrivals do not wait for answers)."""
    start = time.monotonic()
    for i, p in enumerate(prompts):
        wait = start + i / rate - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        yield p


async def ttfts(source: Any, prompts: list[str], args: argparse.Namespace) -> list[Any]:
    fan = source.fan_out(paced(prompts, args.rate), concurrency=args.concurrency, model=MODEL)
    results: list[Any] = await fan.collect()
    bad = [r for r in results if not r.ok]
    if bad:
        raise SystemExit(f"{len(bad)} requests failed, e.g. {bad[0].error!r}")
    return results


async def tail_phase(a: Server, b: Server, args: argparse.Namespace, hedge: Any) -> dict[str, Any]:
    """One endpoint against `Router([A, B], hedge=hedge)`, in alternating rounds."""
    from groqstream import Client, Endpoint, Router, Timeouts

    t = Timeouts(total=None)
    one: list[Any] = []
    routed: list[Any] = []
    stats_before: list[Any] = []
    eps = [Endpoint(a.url, name="A"), Endpoint(b.url, name="B")]
    async with (
        Client(base_url=a.url, timeout=t) as client,
        Router(eps, hedge=hedge, timeout=t) as router,
    ):
        warm = [f"warm {i}" for i in range(args.warmup)]
        await ttfts(client, warm, args)
        await ttfts(router, warm, args)
        warm_hedges = sum(s.hedges_started for s in router.stats())
        stats_before = [dict(s.to_dict()) for s in router.stats()]
        a.records(), b.records()
        per = args.requests // args.rounds
        for k in range(args.rounds):
            prompts = [f"round {k} request {i}" for i in range(per)]
            one += await ttfts(client, prompts, args)
            routed += await ttfts(router, [p + " routed" for p in prompts], args)
        stats = [s.to_dict() for s in router.stats()]
    recs_a, recs_b = a.records(), b.records()
    sent = len(recs_a) + len(recs_b) - len(one)  # what the routed mode sent
    by_prompt = {r.request["messages"][-1]["content"]: r for r in routed}
    closes = []
    late = []
    for prompt, _rx, ended, outcome, _f, _s in recs_a + recs_b:
        r = by_prompt.get(prompt)
        if outcome == "client_disconnected" and r is not None and r.metrics.output_ns:
            closes.append((ended - r.metrics.output_ns[0]) / 1e9)
            if closes[-1] > 0.05:
                late.append([prompt, r.endpoint, r.metrics.ttft_s, closes[-1]])
    one_t = [r.metrics.ttft_s for r in one]
    rt_t = [r.metrics.ttft_s for r in routed]
    hedges = {
        k: stats[i][k] - stats_before[i][k]
        for i in range(2)
        for k in ("hedges_started", "hedges_won", "hedges_cancelled")
        if i == 1
    }
    return {
        "hedge": repr(hedge),
        "requests": len(routed),
        "slow_in_A": sum(f > 1 for _p, _r, _e, _o, f, _s in recs_a),
        "one_endpoint": {"p50": q(one_t, 50), "p99": q(one_t, 99), "p999": q(one_t, 99.9)},
        "router": {"p50": q(rt_t, 50), "p99": q(rt_t, 99), "p999": q(rt_t, 99.9)},
        "extra_requests": sent - len(routed),
        "extra_fraction": (sent - len(routed)) / len(routed),
        "lifetime_extra_fraction": (sent - len(routed) + warm_hedges) / (len(routed) + args.warmup),
        "hedged_results": sum(r.hedged for r in routed),
        "hedges": hedges,
        "loser_close": {
            "n": len(closes),
            "p50": q(closes, 50),
            "p99": q(closes, 99),
            "max": max(closes) if closes else float("nan"),
            "over_50ms": late,
        },
        "endpoint_stats": stats,
    }


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/openai/v1"


async def failover_phase(b: Server, full: Server, n: int) -> dict[str, Any]:
    from groqstream import CapacityExceededError, Client, Endpoint, Router

    async def stream_ttft(source: Any, i: int) -> float:
        async with source.stream(model=MODEL, prompt=f"failover {i}") as s:
            await s.until_done()
        assert s.metrics.ttft_s is not None
        return float(s.metrics.ttft_s)

    direct: list[float] = []
    via_498: list[float] = []
    via_refused: list[float] = []
    rtt_498: list[float] = []
    dead = _refused_url()
    async with (
        Client(base_url=b.url) as cb,
        Client(base_url=full.url, max_retries=0) as c498,
        Router(
            [Endpoint(full.url, name="flex"), Endpoint(b.url, name="B")], hedge=None, breaker=None
        ) as r498,
        Router(
            [Endpoint(dead, name="down"), Endpoint(b.url, name="B")], hedge=None, breaker=None
        ) as rdead,
    ):
        for i in range(5):  # warm the pools
            await stream_ttft(cb, i)
            await stream_ttft(r498, i)
        for i in range(n):
            direct.append(await stream_ttft(cb, i))
            via_498.append(await stream_ttft(r498, i))
            via_refused.append(await stream_ttft(rdead, i))
            t0 = time.perf_counter()
            try:
                async with c498.stream(model=MODEL, prompt="x"):
                    pass
            except CapacityExceededError:
                rtt_498.append(time.perf_counter() - t0)
    b.records(), full.records()

    def added(xs: list[float]) -> dict[str, float]:
        d = [x - y for x, y in zip(xs, direct, strict=True)]
        return {"p50": q(d, 50), "p99": q(d, 99)}

    return {
        "n": n,
        "direct_ttft": {"p50": q(direct, 50), "p99": q(direct, 99)},
        "added_by_498": added(via_498),
        "added_by_refused": added(via_refused),
        "rtt_498": {"p50": q(rtt_498, 50), "p99": q(rtt_498, 99)},
    }


def tail_lines(tp: dict[str, Any], label: str) -> list[str]:
    one, rt = tp["one_endpoint"], tp["router"]
    h = tp["hedges"]
    lc = tp["loser_close"]
    return [
        "| TTFT | p50 ms | p99 ms | p99.9 ms |",
        "|---|---:|---:|---:|",
        f"| one endpoint (A) | {ms(one['p50'])} | {ms(one['p99'])} | {ms(one['p999'])} |",
        f"| {label} | {ms(rt['p50'])} | {ms(rt['p99'])} | {ms(rt['p999'])} |",
        "",
        f"- p99 {one['p99'] / rt['p99']:.1f}× lower; p50 {(rt['p50'] - one['p50']) * 1000:+.2f} "
        f"ms; extra requests {tp['extra_requests']} = {tp['extra_fraction'] * 100:.2f} % "
        f"({tp['lifetime_extra_fraction'] * 100:.2f} % over the router's life, warm-up "
        f"included; hedges started {h['hedges_started']}, won {h['hedges_won']}, "
        f"cancelled {h['hedges_cancelled']})",
        f"- loser closed (server saw the disconnect) after the winner's first delta: "
        f"p50 {ms(lc['p50'])} ms, p99 {ms(lc['p99'])} ms, max {ms(lc['max'])} ms "
        f"(n = {lc['n']})",
        "",
    ]


def table(res: dict[str, Any], args: argparse.Namespace, cmd: str) -> str:
    fixed, adaptive, fo = res["tail_fixed"], res["tail_p95"], res["failover"]
    lines = [
        f"Router · {fixed['requests']:,} requests per mode at {args.rate:g}/s, "
        f"A: TTFT {args.ttft * 1000:.0f} ms, 5 % ×20, B: no tail · `{cmd}`",
        "",
        *tail_lines(fixed, f"Router([A, B], hedge={args.hedge_after:g})"),
        *tail_lines(adaptive, 'Router([A, B], hedge="p95")'),
        f"- failover ({fo['n']} sequential requests): a 498 adds p50 "
        f"{ms(fo['added_by_498']['p50'])} / p99 {ms(fo['added_by_498']['p99'])} ms to TTFT "
        f"(a bare 498 round trip: p50 {ms(fo['rtt_498']['p50'])} / p99 "
        f"{ms(fo['rtt_498']['p99'])} ms); a refused connection adds p50 "
        f"{ms(fo['added_by_refused']['p50'])} / p99 {ms(fo['added_by_refused']['p99'])} ms",
    ]
    return "\n".join(lines) + "\n"


async def main(args: argparse.Namespace) -> dict[str, Any]:
    common = {"ttft": args.ttft, "tokens_per_second": 2000.0, "output_tokens": args.tokens}
    a = Server(**common, tail=(0.05, 20.0, 1), seed=1)
    b = Server(**common, seed=2)
    full = Server(**common, always_498=True)
    try:
        fixed = await tail_phase(a, b, args, args.hedge_after)
        adaptive = await tail_phase(a, b, args, "p95")
        fo = await failover_phase(b, full, args.failovers)
    finally:
        for s in (a, b, full):
            s.stop()
    return {"tail_fixed": fixed, "tail_p95": adaptive, "failover": fo}


if __name__ == "__main__":
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--rate", type=float, default=100.0, help="requests per second")
    p.add_argument("--concurrency", type=int, default=64, help="cap on requests in flight")
    p.add_argument("--ttft", type=float, default=0.02)
    p.add_argument("--tokens", type=int, default=16)
    p.add_argument("--failovers", type=int, default=200)
    p.add_argument("--hedge-after", type=float, default=0.05, help="the fixed hedge delay, s")
    p.add_argument("--out", default=str(HERE / "results" / "router"))
    args = p.parse_args()
    cmd = "python benchmarks/router_bench.py" + "".join(
        f" {a}" for a in sys.argv[1:] if not a.startswith("--out")
    )
    res = asyncio.run(main(args))
    md = table(res, args, cmd)
    print(md)
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps({"command": cmd, **res}, indent=1) + "\n")
    out.with_suffix(".md").write_text(md)
