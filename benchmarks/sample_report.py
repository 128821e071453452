"""docs/fanout.md's sample fan-out report: 2,000 requests at concurrency 200.

    python benchmarks/sample_report.py

`groqstream serve --ttft 0.05 --tps 100` runs in its own process; the report is printed as
`report.to_markdown()` gives it.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

import groqstream


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def run(base_url: str) -> str:
    async with groqstream.Client(base_url=base_url) as client:
        async with client.fan_out(
            (f"Question {i}: why is the sky blue?" for i in range(2000)),
            concurrency=200,
            model="openai/gpt-oss-20b",
            max_tokens=64,
        ) as results:
            async for _ in results:
                pass
        return results.report(groqstream.SLO(ttft_ms=500, tpot_ms=50)).to_markdown()


def main() -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "groqstream", "serve", "--port", str(port)]
    server = subprocess.Popen([*cmd, "--ttft", "0.05", "--tps", "100"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        print(asyncio.run(run(f"http://127.0.0.1:{port}/v1")))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
