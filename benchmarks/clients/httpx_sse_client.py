"""httpx + httpx-sse: `aconnect_sse` and `aiter_sse`, orjson for the data."""

from __future__ import annotations

import time

import httpx
import orjson
from common import MESSAGES, args, main
from httpx_sse import aconnect_sse

CHUNKS = args().chunks


async def opener(url: str, concurrency: int) -> tuple[httpx.AsyncClient, str]:
    limits = httpx.Limits(max_connections=concurrency + 8, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(limits=limits, timeout=None), url + "/chat/completions"


async def one(
    ctx: tuple[httpx.AsyncClient, str], n: int, record: bool
) -> tuple[str, int, list[tuple[int, int]], int]:
    client, url = ctx
    body = {"model": "bench", "messages": MESSAGES, "stream": True, "max_tokens": CHUNKS}
    arr: list[tuple[int, int]] = []
    got = 0
    cid = ""
    start = time.perf_counter_ns()
    async with aconnect_sse(client, "POST", url, json=body) as es:
        async for sse in es.aiter_sse():
            now = time.perf_counter_ns()
            if sse.data == "[DONE]":
                break
            obj = orjson.loads(sse.data)
            cid = obj["id"]
            if obj["choices"] and (c := obj["choices"][0]["delta"].get("content")):
                got += 1
                if record:
                    arr.append((int(c), now))
    return cid, start, arr, got


async def closer(ctx: tuple[httpx.AsyncClient, str]) -> None:
    await ctx[0].aclose()


if __name__ == "__main__":
    main(opener, one, closer)
