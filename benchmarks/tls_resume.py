"""TLS session resumption: what a new HTTPS connection costs, full handshake vs resumed.

    python benchmarks/tls_resume.py              # 40 new connections each way
    python benchmarks/tls_resume.py --n 200

A `SimulatedServer` serves HTTPS with a self-signed certificate (made with `openssl`) in its
own process. Each sample is one stream on a brand-new `Client`, so it opens a new
connection: with `verify="cert.pem"` groqstream's own context offers the session of the
previous connection (resumed); with your own `ssl.SSLContext` it does not (full handshake).
Printed: medians and p90 of the stream's `metrics.connect_s`, `metrics.tls_s` and TTFT, and
how many handshakes resumed. groqstream runs the handshake itself, so `tls_s` is timed apart
from `connect_s` with any context.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODEL = "llama-3.1-8b-instant"


def serve(port: Any, cert: str, key: str) -> None:
    from groqstream.testing import SimulatedServer

    async def main() -> None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        async with SimulatedServer(
            ttft=0.0, tokens_per_second=1e6, output_tokens=2, ssl_context=ctx
        ) as srv:
            port.value = srv.port
            await asyncio.Event().wait()

    asyncio.run(main())


async def sample(url: str, verify: Any, n: int) -> dict[str, Any]:
    from groqstream import Client

    connect, tls, ttft, resumed = [], [], [], 0
    for i in range(n):
        async with (
            Client(base_url=url, verify=verify) as client,
            client.stream(model=MODEL, prompt=f"p{i}", max_tokens=2) as s,
        ):
            await s.until_done()
        m = s.metrics
        if m.connect_s is None or m.ttft_s is None:
            raise SystemExit("a stream did not report its connection")
        connect.append(m.connect_s * 1000)
        tls.append((m.tls_s or 0.0) * 1000)
        ttft.append(m.ttft_s * 1000)
        resumed += bool(m.tls_resumed)
        if os.environ.get("DBG"):
            print(int(bool(m.tls_resumed)), end="", flush=True)
    return {"connect": connect, "tls": tls, "ttft": ttft, "resumed": resumed}


def fmt(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"{statistics.median(xs):.2f} / {xs[int(0.9 * (len(xs) - 1))]:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        cert, key = Path(d) / "cert.pem", Path(d) / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        ctx = mp.get_context("spawn")
        port = ctx.Value("i", 0)
        proc = ctx.Process(target=serve, args=(port, str(cert), str(key)), daemon=True)
        proc.start()
        try:
            while not port.value:
                if not proc.is_alive():
                    sys.exit("the server process died")
                time.sleep(0.05)
            url = f"https://127.0.0.1:{port.value}/openai/v1"
            own = ssl.create_default_context(cafile=str(cert))
            full = asyncio.run(sample(url, own, args.n))
            resumed = asyncio.run(sample(url, str(cert), args.n))
        finally:
            proc.kill()
            proc.join()
    print(f"{args.n} new HTTPS connections each (loopback, TLS 1.3, RSA 2048); ms, median / p90")
    print("| handshake | connect_s | tls_s | TTFT | resumed |")
    print("|---|---:|---:|---:|---:|")
    for name, r in (("full (your own SSLContext)", full), ("resumed (verify=path)", resumed)):
        print(f"| {name} | {fmt(r['connect'])} | {fmt(r['tls'])} | {fmt(r['ttft'])} | "
              f"{r['resumed']}/{args.n} |")  # fmt: skip


if __name__ == "__main__":
    main()
