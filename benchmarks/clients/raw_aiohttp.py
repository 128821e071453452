"""The practical reference: aiohttp + orjson, `async for line in resp.content`."""

from __future__ import annotations

import time

import aiohttp
import orjson
from common import MESSAGES, args, main

CHUNKS = args().chunks


async def opener(url: str, concurrency: int) -> tuple[aiohttp.ClientSession, str]:
    conn = aiohttp.TCPConnector(limit=0)
    return aiohttp.ClientSession(connector=conn), url + "/chat/completions"


async def one(
    ctx: tuple[aiohttp.ClientSession, str], n: int, record: bool
) -> tuple[str, int, list[tuple[int, int]], int]:
    session, url = ctx
    body = {"model": "bench", "messages": MESSAGES, "stream": True, "max_tokens": CHUNKS}
    arr: list[tuple[int, int]] = []
    got = 0
    cid = ""
    start = time.perf_counter_ns()
    async with session.post(url, json=body) as resp:
        async for line in resp.content:
            now = time.perf_counter_ns()
            if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
                continue
            obj = orjson.loads(line[6:])
            cid = obj["id"]
            choices = obj["choices"]
            if choices and (c := choices[0]["delta"].get("content")):
                got += 1
                if record:
                    arr.append((int(c), now))
    return cid, start, arr, got


async def closer(ctx: tuple[aiohttp.ClientSession, str]) -> None:
    await ctx[0].close()


if __name__ == "__main__":
    main(opener, one, closer)
