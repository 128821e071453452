"""Peak memory of a client fed one endless 50 MB line, and how long it takes to give up.

A local server answers a stream request with one chunk, then 50 MB of `data: {"x":"aaaa…`
without a newline, in 64 KiB writes. The client (groqstream from this checkout, or another
groqstream on `--pythonpath`, e.g. an older export, to compare) streams it in a fresh process;
the script reports the client's peak RSS (VmHWM), its CPU time and how the stream ended.

    python benchmarks/endless_line.py [--pythonpath /tmp/old/src]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from aiohttp import web

HERE = Path(__file__).resolve().parent
SIZE = 50 * 1024 * 1024

CLIENT = r"""
import asyncio, json, resource, sys, time
import groqstream

def peak_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

async def main(url):
    async with groqstream.Client(base_url=url, max_retries=0,
                                 timeout=groqstream.Timeouts(idle=120, total=300)) as c:
        before = peak_mb()
        cpu, t = time.process_time(), time.perf_counter()
        try:
            async with c.stream(model="openai/gpt-oss-20b", prompt="x") as s:
                await s.until_done()
            outcome = "finished"
        except groqstream.GroqStreamError as e:
            outcome = type(e).__name__
        print(json.dumps({"outcome": outcome, "peak_rss_mb": peak_mb(), "rss_before_mb": before,
                          "cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - t}))

asyncio.run(main(sys.argv[1]))
"""


async def endless(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await resp.prepare(request)
    first = {"id": "c", "choices": [{"index": 0, "delta": {"content": "hi"}}]}
    await resp.write(b"data: " + json.dumps(first).encode() + b"\n\n")
    await resp.write(b'data: {"x":"')
    piece = b"a" * 65536
    sent = 0
    try:
        while sent < SIZE:
            await resp.write(piece)
            sent += len(piece)
        await resp.write_eof()
    except (ConnectionError, asyncio.CancelledError):
        pass
    return resp


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pythonpath", default=None, help="import groqstream from here instead")
    a = p.parse_args()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", endless)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    env = dict(os.environ)
    env["PYTHONPATH"] = a.pythonpath or str(HERE.parent / "src")
    t = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT, url, env=env, stdout=subprocess.PIPE
    )
    out, _ = await proc.communicate()
    await runner.cleanup()
    result = json.loads(out.decode().strip().splitlines()[-1])
    result["elapsed_s"] = time.perf_counter() - t
    result["groqstream"] = a.pythonpath or "this checkout"
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
