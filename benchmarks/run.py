"""Run the client benchmarks side by side and write JSON plus a Markdown table.

    python benchmarks/run.py            # full run (S1-S4, 3 runs each), ~20 minutes
    python benchmarks/run.py --quick    # 1 run, smaller scenarios, ~4 minutes
    python benchmarks/run.py --scenarios T1,T2 --runs 3   # the HTTPS scenarios only

T1 and T2 are S1 and S2 over HTTPS (TLS 1.3, a throwaway self-signed certificate that every
client trusts through SSL_CERT_FILE, as it would trust a public CA): the path every real Groq
stream takes. T1u/T2u run them again with every client on uvloop. Each S2/T2 row also says how
often the cyclic GC ran (generations 0/1/2 per 1,000 requests) and how long its pauses were.

Every client runs in a fresh process, alternated A B C A B C, and each figure is the median
of the runs. S1 runs on every chunk shape of shapes.py (Groq's, OpenAI's, a server repeating
x_groq); S2 and S4 stamp a chunk when user code gets it, S3 with each library's own stamp.
Needs the `bench` extra: pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path
from typing import Any

from harness import HERE, chunk_rates, median_of, run_client, send_log, server, timing_errors
from shapes import SHAPES

ALL = [
    "groqstream_client",
    "groqstream_prewarm",
    "raw_aiohttp",
    "raw_socket",
    "openai_sdk",
    "groq_sdk",
    "httpx_sse_client",
]
LABEL = {
    "groqstream_client": "groqstream",
    "groqstream_prewarm": "groqstream, prewarm=concurrency",
    "raw_aiohttp": "raw aiohttp + orjson (lines)",
    "raw_socket": "raw socket, no parsing (floor)",
    "openai_sdk": "openai AsyncOpenAI",
    "groq_sdk": "groq AsyncGroq",
    "httpx_sse_client": "httpx + httpx-sse",
}
S1_KINDS = (
    ("S1", ""),
    ("T1", " over HTTPS (TLS 1.3)"),
    ("T1u", " over HTTPS, uvloop"),
)
TIMED = [c for c in ALL if c != "raw_socket"]  # the floor does not parse, so it has no timing
AT_REST = [c for c in TIMED if c != "groqstream_prewarm"]  # S3: one stream, nothing to warm


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def alternate(clients: list[str], runs: int, fn: Any) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
    for i in range(runs):
        for c in clients:
            r = fn(c)
            log(
                f"  run {i + 1}/{runs} {c}: "
                + (
                    (r.get("failed") and f"FAILED {r['failed'][:200]}")
                    or ", ".join(f"{k}={v:.4g}" for k, v in r.items() if isinstance(v, float))
                )
            )
            out[c].append(r)
    return out


def s1(
    runs: int, chunks: int, shape: str, clients: list[str], tls: bool = False, loop: str = "asyncio"
) -> dict[str, Any]:
    how = f"{'HTTPS' if tls else 'HTTP'}, {loop}"
    log(f"S1: one stream of {chunks:,} chunks as fast as possible, {shape} chunks, {how}")
    with server(0, 0, chunks, shape=shape, tls=tls) as url:
        res = alternate(
            clients, runs, lambda c: run_client(c, url, requests=1, chunks=chunks, loop=loop)
        )
    return chunk_rates(res)


def paced(
    name: str,
    runs: int,
    ttft: float,
    itl: float,
    requests: int,
    chunks: int,
    concurrency: int,
    clients: list[str],
    stamps: str = "user",
    tls: bool = False,
    loop: str = "asyncio",
) -> dict[str, Any]:
    log(
        f"{name}: {requests} requests x {chunks} chunks, TTFT {ttft * 1000:g} ms / ITL "
        f"{itl * 1000:g} ms, concurrency {concurrency}, {'HTTPS' if tls else 'HTTP'}, {loop}"
    )
    with server(ttft, itl, chunks, record=True, tls=tls) as url:

        def one(c: str) -> dict[str, Any]:
            r = run_client(
                c,
                url,
                requests=requests,
                chunks=chunks,
                concurrency=concurrency,
                record=c != "raw_socket",
                timeout=180,
                stamps=stamps,
                loop=loop,
            )
            sends = send_log(url)
            if not r.get("failed"):
                r.update(timing_errors(r.pop("arrivals", []), sends))
                r["req_per_s"] = r["requests"] / r["wall_s"]
                r["cpu_us_per_chunk"] = r["cpu_s"] * 1e6 / max(1, r["chunks"])
            return r

        res = alternate(clients, runs, one)
    keys = [
        "wall_s",
        "req_per_s",
        "cpu_s",
        "cpu_us_per_chunk",
        "cpu_user_s",
        "cpu_sys_s",
        "peak_rss_mb",
        "ttft_err_p50_ms",
        "ttft_err_p99_ms",
        "itl_err_p50_ms",
        "itl_err_p99_ms",
        "errors",
        "gc_gen0_per_1k",
        "gc_gen1_per_1k",
        "gc_gen2_per_1k",
        "gc_pause_ms",
        "gc_pause_max_ms",
    ]
    return {
        c: {k: median_of(rs, k) for k in keys} | {"failed": sum(1 for r in rs if r.get("failed"))}
        for c, rs in res.items()
    }


def capacity(levels: list[int], chunks: int, clients: list[str]) -> dict[str, Any]:
    log(f"S4: capacity at 1,000 tokens/s per stream ({chunks} chunks each), ITL error p99 < 2 ms")
    out: dict[str, Any] = {}
    with server(0.02, 0.001, chunks, record=True) as url:
        for c in clients:
            best = 0
            tried = []
            for level in levels:
                r = run_client(
                    c,
                    url,
                    requests=level * 2,
                    chunks=chunks,
                    concurrency=level,
                    record=True,
                    timeout=120,
                )
                sends = send_log(url)
                if r.get("failed"):
                    break
                err = timing_errors(r.pop("arrivals", []), sends)
                p99 = err["itl_err_p99_ms"]
                tried.append({"streams": level, "itl_err_p99_ms": p99})
                log(f"  {c} @ {level}: ITL error p99 {p99:.3f} ms")
                if p99 is None or p99 >= 2.0:
                    break
                best = level
            out[c] = {"max_streams": best, "levels": tried}
    return out


def fmt(v: Any, spec: str = ".3g") -> str:
    if v is None:
        return "–"
    return format(v, spec) if isinstance(v, float) else str(v)


def s1_table(
    s: dict[str, Any], shape: str, chunks: int, name: str = "S1", how: str = ""
) -> list[str]:
    ref = s["raw_aiohttp"]["chunks_per_s"]
    floor = s["raw_socket"]["chunks_per_s"]
    out = [
        f"**{name}** one stream of {chunks:,} chunks, as fast as possible, {shape} chunk shape{how}",
        "",
        "| client | chunks/s | CPU ms / 1,000 chunks | × raw aiohttp | × floor |",
        "|---|---:|---:|---:|---:|",
    ]
    for c, r in s.items():
        cps = r["chunks_per_s"]
        out.append(
            f"| {LABEL[c]} | {fmt(cps, ',.0f')} | {fmt(r['cpu_ms_per_1000'], '.2f')} | "
            f"{fmt(cps / ref if cps and ref else None, '.2f')} | "
            f"{fmt(cps / floor if cps and floor else None, '.3f')} |"
        )
    return [*out, ""]


def markdown(res: dict[str, Any]) -> str:
    out = [f"Benchmarks · {res['date']} · {res['machine']} · `{res['command']}`", ""]
    for name, how in S1_KINDS:
        for shape in SHAPES:
            key = name if shape == "groq" else f"{name}_{shape}"
            if key in res:
                out += s1_table(res[key], shape, res.get("S1_chunks", 50_000), name, how)
    for key, title in (
        (
            "S2_64",
            "**S2** 2,000 requests × 50 chunks, 20 ms TTFT / 2 ms ITL, concurrency 64 (one or a "
            "few chunks per network read); timing errors as user code sees each chunk",
        ),
        ("S2_512", "**S2** same at concurrency 512"),
        ("T2_64", "**T2** S2 over HTTPS (TLS 1.3), concurrency 64"),
        ("T2_512", "**T2** S2 over HTTPS, concurrency 512"),
        ("T2u_64", "**T2u** S2 over HTTPS on uvloop (every client), concurrency 64"),
        ("T2u_512", "**T2u** S2 over HTTPS on uvloop, concurrency 512"),
        (
            "S3",
            "**S3** concurrency 1, 100 ms TTFT / 10 ms ITL: each library's own stamps at rest",
        ),
    ):
        if key not in res:
            continue
        s = res[key]
        ref = s.get("raw_aiohttp", {}).get("req_per_s")
        out += [
            title,
            "",
            "| client | wall s | req/s | × raw aiohttp | CPU s | CPU µs / chunk | peak RSS MB | TTFT err p50/p99 ms | ITL err p50/p99 ms | GC runs gen0/1/2 per 1k req | GC pause total / max ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for c, r in s.items():
            rps = r.get("req_per_s")
            out.append(
                f"| {LABEL[c]} | {fmt(r.get('wall_s'), '.2f')} | {fmt(rps, ',.0f')} | "
                f"{fmt(rps / ref if rps and ref else None, '.2f')} | {fmt(r.get('cpu_s'), '.2f')} | "
                f"{fmt(r.get('cpu_us_per_chunk'), '.1f')} | {fmt(r.get('peak_rss_mb'), '.0f')} | {fmt(r.get('ttft_err_p50_ms'), '.3f')} / "
                f"{fmt(r.get('ttft_err_p99_ms'), '.3f')} | {fmt(r.get('itl_err_p50_ms'), '.3f')} / "
                f"{fmt(r.get('itl_err_p99_ms'), '.3f')} | {fmt(r.get('gc_gen0_per_1k'), '.0f')}/"
                f"{fmt(r.get('gc_gen1_per_1k'), '.0f')}/{fmt(r.get('gc_gen2_per_1k'), '.1f')} | "
                f"{fmt(r.get('gc_pause_ms'), '.1f')} / {fmt(r.get('gc_pause_max_ms'), '.1f')} |"
                + (" (failed)" if r.get("failed") else "")
            )
        out.append("")
    if "S4" in res:
        out += [
            "**S4** capacity: most concurrent 1,000 tok/s streams with ITL error p99 < 2 ms",
            "",
            "| client | streams |",
            "|---|---:|",
        ]
        out += [f"| {LABEL[c]} | {r['max_streams']} |" for c, r in res["S4"].items()]
        out.append("")
    return "\n".join(out)


TLS_PEERS = ["groqstream_client", "raw_aiohttp", "raw_socket"]
# Many streams: also groqstream with its connections opened before the timed window.
T2_PEERS = ["groqstream_client", "groqstream_prewarm", "raw_aiohttp", "raw_socket"]


def run_https(res: dict[str, Any], want: set[str], runs: int, quick: bool) -> None:
    """T1/T1u (S1 over HTTPS, asyncio/uvloop) and T2/T2u (S2 over HTTPS) when asked for."""
    for name, loop in (("T1", "asyncio"), ("T1u", "uvloop")):
        if name in want:
            res.setdefault("S1_chunks", 20_000 if quick else 50_000)
            for shape in SHAPES:
                key = name if shape == "groq" else f"{name}_{shape}"
                res[key] = s1(runs, res["S1_chunks"], shape, TLS_PEERS, tls=True, loop=loop)
    for name, loop in (("T2", "asyncio"), ("T2u", "uvloop")):
        if name in want:
            n = 500 if quick else 2000
            for c in (64, 512):
                res[f"{name}_{c}"] = paced(
                    name, runs, 0.02, 0.002, n, 50, c, T2_PEERS, tls=True, loop=loop
                )


def run_scenarios(
    res: dict[str, Any], want: set[str], runs: int, quick: bool, only: set[str] | None = None
) -> None:
    """Run the scenarios asked for, adding each one's figures to `res` (S1/S2 with the
    clients in `only` when given: the SDK peers take minutes a run)."""
    a = argparse.Namespace(quick=quick)
    if "S1" in want:
        res["S1_chunks"] = 20_000 if a.quick else 50_000
        res["S1"] = s1(runs, res["S1_chunks"], "groq", [c for c in ALL if not only or c in only])
        peers = ["groqstream_client", "raw_aiohttp", "raw_socket"]
        for shape in SHAPES[1:]:
            res[f"S1_{shape}"] = s1(runs, res["S1_chunks"], shape, peers)
    if "S2" in want:
        n = 500 if a.quick else 2000
        peers2 = [c for c in [*TIMED, "raw_socket"] if not only or c in only]
        res["S2_64"] = paced("S2", runs, 0.02, 0.002, n, 50, 64, peers2)
        res["S2_512"] = paced("S2", runs, 0.02, 0.002, n, 50, 512, peers2)
    run_https(res, want, runs, a.quick)
    if "S3" in want:
        res["S3"] = paced("S3", runs, 0.1, 0.01, 5 if a.quick else 10, 30, 1, AT_REST, "library")
    if "S4" in want:
        levels = [8, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512]
        res["S4"] = capacity(levels, 100 if a.quick else 200, ["groqstream_client", "raw_aiohttp"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--runs", type=int, default=None)
    p.add_argument("--scenarios", default="S1,S2,S3,S4")
    p.add_argument("--out", default=str(HERE / "results"))
    p.add_argument("--name", default="latest", help="results file stem (latest.json, .md)")
    p.add_argument(
        "--clients", default="", help="S1/S2: only these clients (comma-separated module names)"
    )
    a = p.parse_args()
    runs = a.runs or (1 if a.quick else 3)
    want = set(a.scenarios.split(","))
    res: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "command": "python benchmarks/run.py"
        + (" --quick" if a.quick else "")
        + (f" --scenarios {a.scenarios}" if a.scenarios != "S1,S2,S3,S4" else "")
        + (f" --runs {a.runs}" if a.runs else "")
        + (f" --clients {a.clients}" if a.clients else ""),
    }
    run_scenarios(res, want, runs, a.quick, set(filter(None, a.clients.split(","))) or None)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{a.name}.json").write_text(json.dumps(res, indent=2))
    md = markdown(res)
    (out / f"{a.name}.md").write_text(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
