"""The only module that knows aiohttp's internals: reading "all bytes available now".

DESIGN: the bottom of the IO layer. `read_available(reader)` waits until the response body has
bytes (or ended) and returns every byte it holds, in one piece: b"" means the body ended.

aiohttp keeps one buffer entry per HTTP chunk and `readany()` pops them one at a time with
flow-control bookkeeping for each — about a microsecond per SSE event when a server flushes
every event as its own chunk. Where aiohttp's `StreamReader` has the layout this module was
checked against (`CHECKED`, and every private name below present), the drain takes all
entries in one join and does the bookkeeping once. Anywhere else the public `readany()` is
used. Both branches are tested against a real socket.
"""

from __future__ import annotations

from typing import Any

import aiohttp

__all__ = [
    "CHECKED",
    "FAST",
    "READ_SIZE",
    "has_buffered",
    "read_available",
    "read_available_public",
    "tune_reads",
]

CHECKED = ((3, 9), (3, 14))
"""The aiohttp releases (major, minor), inclusive, whose StreamReader layout was checked."""

_PRIVATE = (
    "_buffer",
    "_buffer_offset",
    "_size",
    "_cursor",
    "_http_chunk_splits",
    "_protocol",
    "_low_water",
    "_eof",
    "_exception",
)


def _version() -> tuple[int, int]:
    try:
        major, minor = aiohttp.__version__.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return (0, 0)


FAST = (
    CHECKED[0] <= _version() <= CHECKED[1]
    and callable(getattr(aiohttp.StreamReader, "_wait", None))
    and all(name in getattr(aiohttp.StreamReader, "__slots__", ()) for name in _PRIVATE)
)
"""True where the one-join drain of aiohttp's buffer is used."""


def has_buffered(reader: aiohttp.StreamReader) -> bool:
    """True if the reader holds bytes not read yet (False where that cannot be known)."""
    return bool(getattr(reader, "_size", 0))


async def _read_fast(reader: Any) -> bytes:
    if reader._exception is not None:
        raise reader._exception
    while not reader._buffer:
        if reader._eof:
            return b""
        await reader._wait("readany")
    buf = reader._buffer
    offset = reader._buffer_offset
    data: bytes
    if offset:
        data = buf.popleft()[offset:] + b"".join(buf)
        reader._buffer_offset = 0
    else:
        data = b"".join(buf)
    buf.clear()
    n = len(data)
    reader._size -= n
    reader._cursor += n
    splits = reader._http_chunk_splits
    if splits:
        splits.clear()
    if reader._size < reader._low_water:
        reader._protocol.resume_reading()
    return data


async def read_available_public(reader: aiohttp.StreamReader) -> bytes:
    """The contract through aiohttp's public API alone: `readany()`, which returns the bytes
    of one buffered HTTP chunk (the rest come with the next calls, without waiting)."""
    return await reader.readany()


read_available = _read_fast if FAST else read_available_public
"""Wait for body bytes and return all that are buffered; b"" once the body has ended."""


READ_SIZE = 64 * 1024
"""Bytes asked of the socket per read. asyncio's selector transport asks 256 KiB, a buffer so
large that the C allocator maps and unmaps it on every read (three system calls, ~10 µs on
each network read of a token stream); 64 KiB stays on the heap and still takes a whole
burst of chunks in one read."""


def tune_reads(resp: aiohttp.ClientResponse) -> None:
    """Make the socket reads of `resp`'s connection `READ_SIZE` (asyncio's selector transports
    only: `max_size` is the attribute they read it from; other transports are left alone)."""
    conn = resp.connection
    transport = conn.transport if conn is not None else None
    if transport is not None and getattr(transport, "max_size", 0) > READ_SIZE:
        transport.max_size = READ_SIZE  # type: ignore[attr-defined]
