"""The floor: raw asyncio socket reads of the same responses, with no parsing at all."""

from __future__ import annotations

import asyncio
import ssl
import time
from urllib.parse import urlsplit

from common import args, main

CHUNKS = args().chunks


class Ctx:
    def __init__(self, host: str, port: int, path: str, tls: ssl.SSLContext | None) -> None:
        self.host, self.port, self.path, self.tls = host, port, path, tls
        self.pool: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []


async def opener(url: str, concurrency: int) -> Ctx:
    u = urlsplit(url)
    tls = ssl.create_default_context() if u.scheme == "https" else None  # honours SSL_CERT_FILE
    return Ctx(u.hostname or "127.0.0.1", u.port or 80, u.path + "/chat/completions", tls)


async def one(ctx: Ctx, n: int, record: bool) -> tuple[str, int, list[tuple[int, int]], int]:
    if ctx.pool:
        reader, writer = ctx.pool.pop()
    else:
        reader, writer = await asyncio.open_connection(
            ctx.host, ctx.port, limit=1 << 20, ssl=ctx.tls
        )
        # Reads of 64 KiB, as groqstream's: asyncio's 256 KiB buffer is mapped and unmapped
        # by the allocator on every read, which would make this floor no floor (over TLS,
        # asyncio's own TLS layer reads, as it does for raw aiohttp).
        if hasattr(writer.transport, "max_size"):
            writer.transport.max_size = 64 * 1024
    body = b'{"model":"bench","stream":true,"max_tokens":%d}' % CHUNKS
    start = time.perf_counter_ns()
    writer.write(
        b"POST %b HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%b" % (ctx.path.encode(), len(body), body)
    )
    tail = b""
    total = 0
    while True:
        data = await reader.read(1 << 20)
        if not data:
            break
        total += len(data)
        tail = (tail + data)[-5:]
        if tail == b"0\r\n\r\n":
            break
    ctx.pool.append((reader, writer))
    return "", start, [], CHUNKS if total else 0


async def closer(ctx: Ctx) -> None:
    for _, w in ctx.pool:
        w.close()


if __name__ == "__main__":
    main(opener, one, closer)
