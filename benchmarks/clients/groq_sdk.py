"""The `groq` SDK: AsyncGroq streaming (same generated design as openai's)."""

from __future__ import annotations

import groq
import httpx
from common import args, main
from sdk_stream import one_sdk

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
    return await one_sdk(client, CHUNKS, record)


async def closer(client: groq.AsyncGroq) -> None:
    await client.close()


if __name__ == "__main__":
    main(opener, one, closer)
