"""TEMP: aiohttp + groqstream's bulk drain, no parsing (dev measurement only)."""

from __future__ import annotations

import time

import aiohttp
from common import MESSAGES, args, main

from groqstream._aiohttp_compat import read_available

CHUNKS = args().chunks


async def opener(url: str, concurrency: int) -> tuple[aiohttp.ClientSession, str]:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)), url + "/chat/completions"


async def one(ctx, n, record):
    session, url = ctx
    body = {"model": "bench", "messages": MESSAGES, "stream": True, "max_tokens": CHUNKS}
    start = time.perf_counter_ns()
    got = 0
    async with session.post(url, json=body) as resp:
        while data := await read_available(resp.content):
            got += data.count(b"content")
    return "", start, [], got


async def closer(ctx) -> None:
    await ctx[0].close()


if __name__ == "__main__":
    main(opener, one, closer)
