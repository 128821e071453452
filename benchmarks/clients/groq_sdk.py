"""The `groq` SDK: AsyncGroq streaming (same generated design as openai's)."""

from __future__ import annotations

import time

import groq
import httpx
from common import MESSAGES, args, main

CHUNKS = args().chunks


async def opener(url: str, concurrency: int) -> groq.AsyncGroq:
    limits = httpx.Limits(max_connections=concurrency + 8, max_keepalive_connections=concurrency)
    http = groq.DefaultAsyncHttpxClient(limits=limits)
    root = url.rsplit("/openai/v1", 1)[0].rsplit("/v1", 1)[0]
    return groq.AsyncGroq(
        base_url=root, api_key="bench", max_retries=0, http_client=http, timeout=None
    )


async def one(
    client: groq.AsyncGroq, n: int, record: bool
) -> tuple[str, int, list[tuple[int, int]], int]:
    arr: list[tuple[int, int]] = []
    got = 0
    cid = ""
    start = time.perf_counter_ns()
    stream = await client.chat.completions.create(
        model="bench",
        messages=MESSAGES,
        stream=True,
        max_tokens=CHUNKS,  # type: ignore[arg-type]
    )
    async for chunk in stream:
        now = time.perf_counter_ns()
        cid = chunk.id
        if chunk.choices and (c := chunk.choices[0].delta.content):
            got += 1
            if record:
                arr.append((int(c), now))
    return cid, start, arr, got


async def closer(client: groq.AsyncGroq) -> None:
    await client.close()


if __name__ == "__main__":
    main(opener, one, closer)
