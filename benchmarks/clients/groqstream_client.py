"""groqstream: `client.stream()` and its deltas; a chunk is stamped when user code gets it, or
(`--stamps library`) with the library's own stamp taken as its bytes arrived."""

from __future__ import annotations

import os
import time

from common import MESSAGES, args, main

from groqstream import Client, Timeouts

CHUNKS = args().chunks
LIBRARY_STAMPS = args().stamps == "library"  # the stamp taken as the bytes arrived


async def opener(url: str, concurrency: int) -> Client:
    # BENCH_PREWARM=1: open and handshake `concurrency` connections before the timed window,
    # as a service that knows its concurrency would (Client(prewarm=N)).
    prewarm = concurrency if os.environ.get("BENCH_PREWARM") else 0
    client = Client(base_url=url, timeout=Timeouts(total=None), max_retries=0, prewarm=prewarm)
    return await client.__aenter__()


async def one(client: Client, n: int, record: bool) -> tuple[str, int, list[tuple[int, int]], int]:
    arr: list[tuple[int, int]] = []
    got = 0
    start = time.perf_counter_ns()
    async with client.stream(model="bench", messages=MESSAGES, max_tokens=CHUNKS) as s:
        async for d in s:
            if d.content:
                got += 1
                if record:
                    seen = d.arrived_ns if LIBRARY_STAMPS else time.perf_counter_ns()
                    arr.append((int(d.content), seen))
    return s.completion_id or "", start, arr, got


async def closer(client: Client) -> None:
    await client.aclose()


if __name__ == "__main__":
    main(opener, one, closer)
