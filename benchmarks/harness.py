"""Shared benchmark plumbing: the server process, client processes, timing-error maths."""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tls import make_cert

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"


_CERTS: dict[str, str] = {}  # an https base URL -> the certificate its clients must trust


def _env(url: str = "") -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH", "")]))
    if url in _CERTS:
        env["SSL_CERT_FILE"] = _CERTS[url]  # trusted the way a system CA would be
    return env


@contextlib.contextmanager
def server(
    ttft: float,
    itl: float,
    chunks: int = 50,
    record: bool = False,
    shape: str = "groq",
    tls: bool = False,
) -> Iterator[str]:
    """Run benchmarks/sse_server.py in its own process (over HTTPS with a throwaway
    self-signed certificate when `tls`); yield its base URL."""
    with tempfile.TemporaryDirectory() as tmp:
        ready = os.path.join(tmp, "port")
        cmd = [
            sys.executable,
            str(HERE / "sse_server.py"),
            "--ready-file",
            ready,
            "--ttft",
            str(ttft),
            "--itl",
            str(itl),
            "--chunks",
            str(chunks),
            "--shape",
            shape,
        ]
        if record:
            cmd.append("--record")
        cert = None
        if tls:
            cert, key = make_cert(Path(tmp))
            cmd += ["--certfile", str(cert), "--keyfile", str(key)]
        proc = subprocess.Popen(cmd, env=_env())
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(ready):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("benchmark server did not start")
                time.sleep(0.02)
            port = int(Path(ready).read_text())
            url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/openai/v1"
            if cert is not None:
                _CERTS[url] = str(cert)
            yield url
        finally:
            _CERTS.pop(locals().get("url", ""), None)
            proc.terminate()
            proc.wait(5)


def send_log(url: str) -> dict[str, list[int]]:
    """Fetch (and clear) the server's send times: {request n: [recv_ns, send_ns...]}."""
    root = url.split("/openai/v1")[0]
    ctx = ssl.create_default_context(cafile=_CERTS[url]) if url in _CERTS else None
    with urllib.request.urlopen(root + "/sendlog", timeout=30, context=ctx) as r:
        data: dict[str, list[int]] = json.loads(r.read())
    return data


def run_client(
    name: str,
    url: str,
    *,
    requests: int,
    chunks: int,
    concurrency: int = 1,
    record: bool = False,
    timeout: float = 300.0,
    stamps: str = "user",
    loop: str = "asyncio",
) -> dict[str, Any]:
    """Run one client in a fresh process (on `loop`: asyncio or uvloop); return its JSON
    result (+ arrivals if recorded)."""
    with tempfile.TemporaryDirectory() as tmp:
        arrivals = os.path.join(tmp, "arrivals.jsonl")
        cmd = [
            sys.executable,
            str(HERE / "clients" / f"{name}.py"),
            "--url",
            url,
            "--requests",
            str(requests),
            "--chunks",
            str(chunks),
            "--concurrency",
            str(concurrency),
            "--timeout",
            str(timeout),
            "--stamps",
            stamps,
            "--loop",
            loop,
        ]
        if record:
            cmd += ["--arrivals", arrivals]
        try:
            p = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                env=_env(url),
                timeout=timeout + 60,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"client": name, "failed": "timeout"}
        lines = [x for x in p.stdout.splitlines() if x.startswith("{")]
        if p.returncode != 0 or not lines:
            return {"client": name, "failed": (p.stderr or p.stdout)[-500:]}
        result: dict[str, Any] = json.loads(lines[-1])
        result["client"] = name
        if record and os.path.exists(arrivals):
            with open(arrivals) as f:
                result["arrivals"] = [json.loads(x) for x in f]
        return result


def pct(values: list[float], p: float) -> float | None:
    """Percentile p (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    v = sorted(values)
    rank = (len(v) - 1) * p / 100
    lo = int(rank)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (rank - lo)


def timing_errors(arrivals: list[dict[str, Any]], log: dict[str, list[int]]) -> dict[str, Any]:
    """Client arrival stamps against the server's actual send stamps, in milliseconds.

    TTFT error: arrival of chunk 0 minus its send. ITL error: |client gap − server gap|.
    """
    ttft_err: list[float] = []
    itl_err: list[float] = []
    matched = 0
    for row in arrivals:
        n = row["id"].rsplit("-", 1)[-1]
        sends = log.get(n)
        if not sends:
            continue
        sent = sends[1:]
        arr = sorted(row["arr"])
        matched += 1
        prev: tuple[int, int] | None = None
        for k, ns in arr:
            if k >= len(sent):
                continue
            if k == 0:
                ttft_err.append((ns - sent[0]) / 1e6)
            if prev is not None and prev[0] == k - 1:
                itl_err.append(abs((ns - prev[1]) - (sent[k] - sent[k - 1])) / 1e6)
            prev = (k, ns)
    return {
        "matched_requests": matched,
        "ttft_err_p50_ms": pct(ttft_err, 50),
        "ttft_err_p99_ms": pct(ttft_err, 99),
        "itl_err_p50_ms": pct(itl_err, 50),
        "itl_err_p99_ms": pct(itl_err, 99),
    }


def median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    """The median of one figure over runs that produced it."""
    vals = [r[key] for r in runs if r.get(key) is not None and not r.get("failed")]
    return statistics.median(vals) if vals else None


def chunk_rates(res: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per client (or variant), the medians of chunks/s and CPU ms per 1,000 chunks of one-
    stream runs, and how many runs failed."""
    rows = {}
    for c, rs in res.items():
        for r in rs:
            if not r.get("failed"):
                r["chunks_per_s"] = r["chunks"] / r["wall_s"]
                r["cpu_ms_per_1000"] = r["cpu_s"] * 1e6 / max(1, r["chunks"])
        rows[c] = {
            "chunks_per_s": median_of(rs, "chunks_per_s"),
            "cpu_ms_per_1000": median_of(rs, "cpu_ms_per_1000"),
            "failed": sum(1 for r in rs if r.get("failed")),
        }
    return rows
