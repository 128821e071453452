"""What groqstream.otel costs: S1 and S2 with and without instrumentation, in one run.

    python benchmarks/otel_bench.py            # 3 runs of everything, about 5 minutes
    python benchmarks/otel_bench.py --quick    # 1 run, S2 at concurrency 64 only

Three clients, each run in a fresh process, alternated A B C A B C, figures the medians:
- `plain`: benchmarks/clients/groqstream_client.py; OpenTelemetry is never imported.
- `otel on`: the same loop instrumented into a full SDK pipeline (batch span processor,
  periodic metric reader) whose exporters drop everything: the instrumentation's and the
  SDK's cost without a collector's network.
- `otel off`: instrumented, then uninstrumented before the run: what stays behind.

S1 is one stream of 50,000 chunks as fast as possible (per-chunk cost: there should be none);
S2 is 2,000 requests × 50 chunks paced at 20 ms TTFT / 2 ms ITL (per-request cost), at
concurrency 64 and 512. The lean server (benchmarks/sse_server.py) runs in its own process.
Also measured in this process: the instructions an unobserved request runs for the hooks.
Writes benchmarks/results/otel.json and otel.md. Needs: pip install -e '.[otel]'.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import timeit
from pathlib import Path
from typing import Any

from harness import HERE, chunk_rates, median_of, run_client, send_log, server, timing_errors

VARIANTS = {
    "plain": ("groqstream_client", None),
    "otel on": ("groqstream_otel", "on"),
    "otel off": ("groqstream_otel", "off"),
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_variant(variant: str, url: str, **kwargs: Any) -> dict[str, Any]:
    client, mode = VARIANTS[variant]
    if mode is not None:
        os.environ["GROQSTREAM_BENCH_OTEL"] = mode
    try:
        return run_client(client, url, **kwargs)
    finally:
        os.environ.pop("GROQSTREAM_BENCH_OTEL", None)


def alternate(runs: int, fn: Any) -> dict[str, list[dict[str, Any]]]:
    """Run every variant `runs` times, rotating the order (A B C, B C A, C A B, ...)."""
    names = list(VARIANTS)
    out: dict[str, list[dict[str, Any]]] = {v: [] for v in names}
    for i in range(runs):
        for v in names[i % len(names) :] + names[: i % len(names)]:
            r = fn(v)
            shown = r.get("failed") or ", ".join(
                f"{k}={x:.4g}" for k, x in r.items() if isinstance(x, float)
            )
            log(f"  run {i + 1}/{runs} {v}: {str(shown)[:200]}")
            out[v].append(r)
    return out


def s1(runs: int, chunks: int) -> dict[str, Any]:
    log(f"S1: one stream of {chunks:,} chunks as fast as possible")
    with server(0, 0, chunks) as url:
        res = alternate(runs, lambda v: run_variant(v, url, requests=1, chunks=chunks))
    return chunk_rates(res)


def s2(runs: int, requests: int, concurrency: int) -> dict[str, Any]:
    log(f"S2: {requests} requests x 50 chunks, 20 ms TTFT / 2 ms ITL, concurrency {concurrency}")
    with server(0.02, 0.002, 50, record=True) as url:

        def one(v: str) -> dict[str, Any]:
            r = run_variant(
                v,
                url,
                requests=requests,
                chunks=50,
                concurrency=concurrency,
                record=True,
                timeout=300,
            )
            sends = send_log(url)
            if not r.get("failed"):
                r.update(timing_errors(r.pop("arrivals", []), sends))
                r["req_per_s"] = r["requests"] / r["wall_s"]
                r["cpu_us_per_request"] = r["cpu_s"] * 1e6 / r["requests"]
            return r

        res = alternate(runs, one)
    keys = [
        "wall_s",
        "req_per_s",
        "cpu_s",
        "cpu_us_per_request",
        "peak_rss_mb",
        "ttft_err_p50_ms",
        "ttft_err_p99_ms",
        "itl_err_p50_ms",
        "itl_err_p99_ms",
        "errors",
    ]
    return {
        v: {k: median_of(rs, k) for k in keys} | {"failed": sum(1 for r in rs if r.get("failed"))}
        for v, rs in res.items()
    }


class _Stream:
    _obs = None
    _delivered = True
    _finished = True


def hook_checks_ns() -> float:
    """Nanoseconds an unobserved request spends on the hooks: the statements the client
    runs per request when nothing is registered (start, close twice, __del__)."""
    from groqstream import _hooks

    s = _Stream()
    stmt = (
        "if _hooks.observers: pass\n"
        "if s._obs is not None and (s._delivered or s._finished): pass\n"
        "if s._obs is not None and (s._delivered or s._finished): pass\n"
        "if getattr(s, '_obs', None) is not None: pass\n"
    )
    n = 1_000_000
    best = min(timeit.repeat(stmt, globals={"_hooks": _hooks, "s": s}, number=n, repeat=5))
    empty = min(timeit.repeat("pass", number=n, repeat=5))
    return (best - empty) / n * 1e9


def request_cost_us() -> dict[str, float]:
    """Microseconds one observed request costs, measured in this process without network
    noise: `begin` then `end` on a real finished 50-chunk stream, best of 5 × 2,000.

    `sdk`: the full SDK pipeline of the `otel on` client (batch span processor, periodic
    metric reader, exporters that drop); `noop`: no-op providers, i.e. groqstream.otel's own
    code (attributes, the stream's StreamMetrics) without the SDK's work."""
    import asyncio

    sys.path.insert(0, str(HERE / "clients"))
    from groqstream_otel import DropMetrics, DropSpans
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import NoOpTracerProvider

    from groqstream import ChatStream, Client, _hooks
    from groqstream.otel import GroqStreamInstrumentor

    body: dict[str, Any] = {
        "model": "bench",
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 50,
    }

    async def finished_stream(url: str) -> ChatStream:
        async with Client(base_url=url) as client, client.stream(**body) as s:
            await s.until_done()
        return s

    with server(0, 0, 50) as url:
        stream = asyncio.run(finished_stream(url))
    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(DropSpans()))
    mp = MeterProvider(metric_readers=[PeriodicExportingMetricReader(DropMetrics())])
    out: dict[str, float] = {}
    for name, providers in (
        ("sdk", (tp, mp)),
        ("noop", (NoOpTracerProvider(), NoOpMeterProvider())),
    ):
        inst = GroqStreamInstrumentor()
        inst.instrument(tracer_provider=providers[0], meter_provider=providers[1])

        def cycle() -> None:
            req = _hooks.begin("stream", body, url)
            assert req is not None
            req.end(stream)

        n = 2000
        out[name] = min(timeit.repeat(cycle, number=n, repeat=5)) / n * 1e6
        inst.uninstrument()
    tp.shutdown()
    mp.shutdown()
    return out


def fmt(v: Any, spec: str = ".3g") -> str:
    if v is None:
        return "–"
    return format(v, spec) if isinstance(v, float) else str(v)


def ratio(v: Any, ref: Any) -> str:
    return fmt(v / ref, ".3f") if v and ref else "–"


def markdown(res: dict[str, Any]) -> str:
    out = [f"OpenTelemetry cost · {res['date']} · {res['machine']} · `{res['command']}`", ""]
    s = res["S1"]
    ref = s["plain"]
    out += [
        "**S1** one stream of 50,000 chunks, as fast as possible",
        "",
        "| client | chunks/s | CPU ms / 1,000 chunks | × plain |",
        "|---|---:|---:|---:|",
    ]
    for v, r in s.items():
        out.append(
            f"| {v} | {fmt(r['chunks_per_s'], ',.0f')} | {fmt(r['cpu_ms_per_1000'], '.3f')} | "
            f"{ratio(r['chunks_per_s'], ref['chunks_per_s'])} |"
        )
    for key in sorted((k for k in res if k.startswith("S2_")), key=lambda k: int(k[3:])):
        s = res[key]
        ref = s["plain"]
        out += [
            "",
            f"**S2** 2,000 requests × 50 chunks, 20 ms TTFT / 2 ms ITL, concurrency {key[3:]}",
            "",
            "| client | req/s | × plain | CPU s | CPU µs / request | + µs / request | "
            "TTFT err p50/p99 ms | ITL err p50/p99 ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for v, r in s.items():
            extra = (
                r["cpu_us_per_request"] - ref["cpu_us_per_request"]
                if r["cpu_us_per_request"] and ref["cpu_us_per_request"]
                else None
            )
            out.append(
                f"| {v} | {fmt(r['req_per_s'], ',.0f')} | {ratio(r['req_per_s'], ref['req_per_s'])} "
                f"| {fmt(r['cpu_s'], '.2f')} | {fmt(r['cpu_us_per_request'], ',.0f')} | "
                f"{fmt(extra, '+,.0f')} | {fmt(r['ttft_err_p50_ms'], '.2f')} / "
                f"{fmt(r['ttft_err_p99_ms'], '.2f')} | {fmt(r['itl_err_p50_ms'], '.2f')} / "
                f"{fmt(r['itl_err_p99_ms'], '.2f')} |"
            )
    cost = res["request_cost_us"]
    out += [
        "",
        "Per request, measured in-process (timeit, best of 5): unobserved, the hook statements "
        f"take {res['hook_checks_ns']:.0f} ns; observed, `begin` → `end` on a finished "
        f"50-chunk stream takes {cost['sdk']:.0f} µs with the SDK pipeline, of which "
        f"{cost['noop']:.0f} µs is groqstream.otel's own code (no-op providers).",
    ]
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1 run; S2 at concurrency 64 only")
    p.add_argument("--runs", type=int, default=None)
    p.add_argument("--out", default=str(HERE / "results"))
    a = p.parse_args()
    runs = a.runs or (1 if a.quick else 3)
    res: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}",
        "command": "python benchmarks/otel_bench.py" + (" --quick" if a.quick else ""),
        "runs": runs,
    }
    sys.path.insert(0, str(HERE.parent / "src"))
    res["hook_checks_ns"] = hook_checks_ns()
    res["request_cost_us"] = request_cost_us()
    log(f"hook checks {res['hook_checks_ns']:.0f} ns; request cost {res['request_cost_us']}")
    res["S1"] = s1(runs, 50_000)
    for c in (64,) if a.quick else (64, 512):
        res[f"S2_{c}"] = s2(runs, 2000, c)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "otel.json").write_text(json.dumps(res, indent=2) + "\n")
    md = markdown(res)
    (out / "otel.md").write_text(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
