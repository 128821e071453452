"""The only module that knows aiohttp's internals: reading "all bytes available now", and
telling a new pooled connection (and what it cost) from a reused one.

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

import asyncio
import time
from contextvars import ContextVar
from typing import Any

import aiohttp
from yarl import URL

from ._tls import handshake_started_ns

__all__ = [
    "CHECKED",
    "CURRENT",
    "FAST",
    "READ_SIZE",
    "STAMPS",
    "ConnStamps",
    "StampingConnector",
    "has_buffered",
    "open_idle",
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


# --- the connection pool ------------------------------------------------------------------


class ConnStamps:
    """What one request's connection cost: `reused` (taken from the pool, nothing paid),
    else `connect_s` (DNS and TCP) and `tls_s` (the handshake; None over plain HTTP) and
    whether the handshake resumed a session (with a caller's own `ssl.SSLContext` the
    handshake cannot be told apart: `connect_s` holds both, `tls_s` is None); `stale_resend`
    once it was re-sent because a
    pooled connection turned out closed. Filled by `StampingConnector.connect`."""

    __slots__ = ("connect_s", "reused", "stale_resend", "tls_resumed", "tls_s")

    def __init__(self) -> None:
        self.reused: bool | None = None
        self.connect_s: float | None = None
        self.tls_s: float | None = None
        self.tls_resumed: bool | None = None
        self.stale_resend = False


CURRENT: ContextVar[ConnStamps | None] = ContextVar("groqstream_conn", default=None)
"""The stamps of the request the current task is sending (set around `session.post`)."""

_NEW = (None, None, None)


class StampingConnector(aiohttp.TCPConnector):
    """A `TCPConnector` that tells the request in `CURRENT` whether its connection is new and
    what the new one cost. Its only hook into aiohttp's internals is `_create_connection`
    (the pool-miss path, unchanged from 3.0 to 3.14); where that is missing nothing is
    stamped and `reused` stays None."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fresh: dict[object, tuple[float | None, float | None, bool | None]] = {}

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
        """`TCPConnector.connect`, noting in `CURRENT` what the connection cost."""
        conn = await super().connect(req, traces, timeout)
        stamps = self._fresh.pop(conn.protocol, None)
        info = CURRENT.get()
        if info is not None and STAMPS:
            if stamps is None:
                info.reused = True
            else:
                info.reused = False
                info.connect_s, info.tls_s, info.tls_resumed = stamps
        return conn

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:
        start = time.perf_counter_ns()
        proto = await super()._create_connection(req, traces, timeout)
        end = time.perf_counter_ns()
        transport = proto.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        if ssl_object is None:
            self._fresh[proto] = ((end - start) / 1e9, None, None)
            return proto
        mid = handshake_started_ns(ssl_object)  # None: a caller's own context, not split
        self._fresh[proto] = (
            ((mid or end) - start) / 1e9,
            None if mid is None else (end - mid) / 1e9,
            bool(ssl_object.session_reused),
        )
        return proto

    def forget_new(self) -> None:
        """Count every connection made so far as paid for (warm-up's connections)."""
        self._fresh.clear()


STAMPS = callable(getattr(aiohttp.TCPConnector, "_create_connection", None))
"""True where `StampingConnector` can tell new connections from pooled ones."""


async def open_idle(session: aiohttp.ClientSession, url: str, n: int) -> list[Any]:
    """Open (and handshake) connections to `url`'s host until `n` are in the pool, then put
    them back idle. Returns their protocols. Pooled ones are counted, not doubled."""
    connector = session.connector
    assert connector is not None
    loop = asyncio.get_running_loop()
    req = aiohttp.ClientRequest("GET", URL(url), loop=loop, ssl=True)
    tasks = [loop.create_task(connector.connect(req, [], session.timeout)) for _ in range(n)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        conns = [t.result() for t in tasks if not t.cancelled() and t.exception() is None]
        protos = [conn.protocol for conn in conns]
        for conn in conns:
            conn.release()
    return protos
