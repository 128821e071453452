"""The lower layers of groqstream on their own, for benchmarks/ladder.py: what each costs.

`pool`: groqstream's connection pool, HTTP/1.1 and TLS (`_pool.py`, `_h1.py`): the request
bytes are built once, each response's body is read whole, nothing is parsed. `parse`: the
same plus the sans-IO stream core (`SSEDecoder` and `ChunkAssembler`) on every read, as
`ChatStream` feeds them, without the stream object, its deadlines and metrics around them.
Internal APIs: a measuring tool, not an example.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import orjson
from common import MESSAGES, args

from groqstream._h1 import request_bytes
from groqstream._pool import BodyReader, Connection, ConnStamps, Pool
from groqstream._tls import client_context
from groqstream.chunks import ChunkAssembler
from groqstream.sse import SSEDecoder

CHUNKS = args().chunks

Ctx = tuple[Pool, bytes]


async def opener(url: str, concurrency: int) -> Ctx:
    u = urlsplit(url)
    tls = client_context(True) if u.scheme == "https" else None  # trusts SSL_CERT_FILE
    pool = Pool(
        host=u.hostname or "127.0.0.1",
        port=u.port or 80,
        ssl_context=tls,
        limit=0,
        keepalive_idle=60.0,
        dns_ttl=60.0,
        connect_timeout=10.0,
    )
    body = {"model": "bench", "messages": MESSAGES, "stream": True, "max_tokens": CHUNKS}
    block = b"host: x\r\ncontent-type: application/json\r\n"
    return pool, request_bytes("POST", u.path + "/chat/completions", block, orjson.dumps(body))


async def _sent(ctx: Ctx) -> tuple[Connection, BodyReader, int]:
    """A pooled connection with the request sent and its response head in."""
    pool, data = ctx
    start = time.perf_counter_ns()
    conn = await pool.acquire(ConnStamps())
    await conn.send(data, "POST")
    assert conn.reader is not None
    return conn, conn.reader, start


async def read_only(ctx: Ctx, n: int, record: bool) -> tuple[str, int, list[tuple[int, int]], int]:
    conn, reader, start = await _sent(ctx)
    while await reader.read():
        pass
    ctx[0].release(conn)
    return "", start, [], CHUNKS


async def parse(ctx: Ctx, n: int, record: bool) -> tuple[str, int, list[tuple[int, int]], int]:
    conn, reader, start = await _sent(ctx)
    dec, asm = SSEDecoder(), ChunkAssembler()
    got = 0
    while read := await reader.read():
        now = time.perf_counter_ns()
        one = dec.one_payload(read)
        if one is not None and asm.feed_one(one, now) is not None:
            got += 1
            continue
        got += len(asm.feed([one] if one is not None else dec.feed_payloads(read), now))
    ctx[0].release(conn)
    return asm.completion_id or "", start, [], got


async def closer(ctx: Ctx) -> None:
    await ctx[0].aclose()
