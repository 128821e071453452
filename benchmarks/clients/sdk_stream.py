"""The per-request loop shared by the `openai` and `groq` SDK clients (same generated API)."""

from __future__ import annotations

import time
from typing import Any

from common import MESSAGES


async def one_sdk(
    client: Any, chunks: int, record: bool
) -> tuple[str, int, list[tuple[int, int]], int]:
    """Stream one completion with `client.chat.completions.create(stream=True)`."""
    arr: list[tuple[int, int]] = []
    got = 0
    cid = ""
    start = time.perf_counter_ns()
    stream = await client.chat.completions.create(
        model="bench", messages=MESSAGES, stream=True, max_tokens=chunks
    )
    async for chunk in stream:
        now = time.perf_counter_ns()
        cid = chunk.id
        if chunk.choices and (c := chunk.choices[0].delta.content):
            got += 1
            if record:
                arr.append((int(c), now))
    return cid, start, arr, got
