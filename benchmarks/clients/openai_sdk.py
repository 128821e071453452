"""The `openai` SDK: AsyncOpenAI streaming (pydantic models per chunk, httpx underneath)."""

from __future__ import annotations

import openai

try:  # openai >= 3 runs on httpx2, older releases on httpx
    from httpx2 import Limits
except ImportError:  # pragma: no cover
    from httpx import Limits  # type: ignore[assignment]
from common import args, main
from sdk_stream import one_sdk

CHUNKS = args().chunks


async def opener(url: str, concurrency: int) -> openai.AsyncOpenAI:
    limits = Limits(max_connections=concurrency + 8, max_keepalive_connections=concurrency)
    http = openai.DefaultAsyncHttpxClient(limits=limits)
    return openai.AsyncOpenAI(
        base_url=url, api_key="bench", max_retries=0, http_client=http, timeout=None
    )


async def one(
    client: openai.AsyncOpenAI, n: int, record: bool
) -> tuple[str, int, list[tuple[int, int]], int]:
    return await one_sdk(client, CHUNKS, record)


async def closer(client: openai.AsyncOpenAI) -> None:
    await client.close()


if __name__ == "__main__":
    main(opener, one, closer)
