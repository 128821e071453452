"""groqstream's own HTTP/1.1 connections and their pool: the IO under `_transport.py`.

DESIGN: the bottom of the IO layer. A `Connection` is an `asyncio.Protocol`: the event loop
hands it each socket read (decrypted, over TLS) in `data_received`, which gives the bytes to
the sans-IO `_h1` parser and the body's payload to the response's `BodyReader`, waking the
one task that reads it. Nothing else runs per read: no stream reader with per-chunk
bookkeeping, no request or response objects built per request beyond a `Response`, its
`BodyReader` and the head. `Pool` keeps the idle connections to one host (newest first out),
opens new ones (DNS cached for `dns_ttl`, connect and TLS timed and stamped, TLS sessions
resumed through `_tls.ResumingContext`), closes those idle past `keepalive_idle`, and caps
the total at `limit`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ipaddress
import logging
import socket
import ssl
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, cast

import anyio
from multidict import CIMultiDictProxy

from ._h1 import Body, Head, HTTPProtocolError, body_for, parse_head

__all__ = [
    "READ_SIZE",
    "BodyReader",
    "CannotConnect",
    "ConnStamps",
    "ConnectTimedOut",
    "Connection",
    "Disconnected",
    "Pool",
    "PoolClosed",
    "Response",
    "deadline_at",
]

READ_SIZE = 64 * 1024
"""Bytes asked of the socket per read. asyncio's selector transport asks 256 KiB, a buffer so
large that the C allocator maps and unmaps it on every read (three system calls, ~10 µs on
each network read of a token stream); 64 KiB stays on the heap and still takes a whole
burst of chunks in one read."""
_HIGH_WATER = 1024 * 1024  # unread body bytes at which the socket stops being read
_STAGGER = 0.25  # Happy Eyeballs: seconds before the next address of a host is tried too
_TLS_READ = READ_SIZE
"""Plaintext asked of one `SSLObject.read` (it returns one 16 KiB record at most). The buffer
is allocated at this size and cut down: at 256 KiB that was an mmap and munmap per read,
13.5 µs against 1.1 µs for a 300-byte record (benchmarks/tls_read.py)."""
_perf_ns = time.perf_counter_ns
_INF = float("inf")
log = logging.getLogger("groqstream")


if sys.version_info >= (3, 11):

    def deadline_at(due: float) -> AbstractAsyncContextManager[object]:
        """A scope that raises TimeoutError at event-loop instant `due` (inf: never); the
        standard library's on 3.11+, cheaper per request than anyio's (and, bounding a new
        connection, than `wait_for`'s extra task)."""
        return asyncio.timeout_at(None if due == _INF else due)

else:  # pragma: no cover - Python 3.10

    @contextlib.asynccontextmanager
    async def deadline_at(due: float) -> AsyncIterator[None]:
        """A scope that raises TimeoutError at event-loop instant `due` (inf: never)."""
        left = None if due == _INF else max(0.0, due - asyncio.get_running_loop().time())
        with anyio.fail_after(left):
            yield


class Disconnected(ConnectionError):
    """The connection closed or broke before the response was whole; `early` when no byte
    of a response had come (a pooled connection the server had closed as the request went
    out)."""

    def __init__(self, message: str, *, early: bool) -> None:
        super().__init__(message)
        self.early = early


class CannotConnect(OSError):
    """No connection could be opened; `os_error` says why (refused, unknown host, TLS)."""

    def __init__(self, os_error: OSError) -> None:
        super().__init__(str(os_error))
        self.os_error = os_error


class ConnectTimedOut(Exception):
    """Opening a connection (DNS, TCP and TLS) took longer than the connect timeout."""


class PoolClosed(Exception):
    """The pool was closed while a request waited for a connection."""


class ConnStamps:
    """What one request's connection cost: `reused` (taken from the pool, nothing paid),
    else `connect_s` (DNS and TCP) and `tls_s` (the handshake; None over plain HTTP) and
    whether the handshake resumed a session; `stale_resend` once it was re-sent because a
    pooled connection turned out closed."""

    __slots__ = ("connect_s", "reused", "stale_resend", "tls_resumed", "tls_s")

    def __init__(self) -> None:
        self.reused: bool | None = None
        self.connect_s: float | None = None
        self.tls_s: float | None = None
        self.tls_resumed: bool | None = None
        self.stale_resend = False


class BodyReader:
    """The body of one response as its reader sees it: `read()` waits for payload and
    returns all of it that has arrived, in one piece (b"" once the body ended)."""

    __slots__ = ("_body", "_buf", "_conn", "_exc", "_paused", "_size", "_waiter", "eof")

    def __init__(self, conn: Connection, body: Body) -> None:
        self._conn = conn
        self._body = body
        self._buf: list[bytes] = []
        self._size = 0
        self._waiter: asyncio.Future[None] | None = None
        self._exc: BaseException | None = None
        self._paused = False
        self.eof = body.done

    def feed(self, data: bytes) -> None:
        """Bytes of the body from the socket (called by the connection)."""
        body = self._body
        try:
            payload = body.feed(data)
        except HTTPProtocolError as e:
            self._fail(e)
        else:
            if payload:
                self._buf.append(payload)
                self._size += len(payload)
                if self._size > _HIGH_WATER and not self._paused:
                    self._paused = True
                    self._conn.pause()
            if body.done:
                self.eof = True
                if body.overrun:
                    self._conn.close()  # the body is whole; the bytes past it end the connection
        self._wake()

    def _fail(self, e: HTTPProtocolError) -> None:
        """The body is malformed: every later `read()` raises `e`; the connection ends."""
        self._exc = e
        self._conn.close()

    def _pull(self) -> None:
        """Take the next step of the body's backlog (a compressed body inflating)."""
        try:
            payload = self._body.more()
        except HTTPProtocolError as e:
            self._fail(e)
            return
        if payload:
            self._buf.append(payload)
        self.eof = self._body.done

    def end(self, exc: BaseException | None) -> None:
        """The connection is gone: the body's end if it is complete, else an error."""
        if not self.eof and self._exc is None:  # (a malformed body keeps its own error)
            try:
                tail = self._body.end()
            except HTTPProtocolError:
                why = f"{type(exc).__name__}: {exc}" if exc else "closed by the server"
                self._exc = Disconnected(f"the connection was lost mid-body ({why})", early=False)
            else:
                if tail:
                    self._buf.append(tail)
                self.eof = self._body.done
        self._wake()

    def set_exception(self, exc: BaseException) -> None:
        """Make the pending and every later `read()` raise `exc` (a deadline passed)."""
        self._exc = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    @property
    def buffered(self) -> bool:
        """True if payload has arrived that was not read yet."""
        return bool(self._buf)

    @property
    def failed(self) -> bool:
        """True once reading the body ended in an error."""
        return self._exc is not None

    def at_eof(self) -> bool:
        """True once the body ended and all of it was read."""
        return self.eof and not self._buf

    def take(self) -> bytes | None:
        """All payload that arrived (b"" once the body ended), or None when there is none
        yet: `read()` without its wait, for a reader that waits on `wait()` itself."""
        buf = self._buf
        while not buf:
            if self._exc is not None:
                raise self._exc
            if self._body.backlog:
                self._pull()
                continue
            return b"" if self.eof else None
        data = buf[0] if len(buf) == 1 else b"".join(buf)
        buf.clear()
        self._size = 0
        if self._paused:
            self._paused = False
            self._conn.resume()
        return data

    def wait(self) -> asyncio.Future[None]:
        """A future done when `take()` may have something (payload, the end, an error)."""
        self._waiter = waiter = self._conn.loop.create_future()
        return waiter

    async def read(self) -> bytes:
        """Wait for payload and return all that arrived; b"" once the body ended."""
        while (data := self.take()) is None:
            await self.wait()
        return data


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: sends a request, parses the response head, then hands each
    read's payload to the response's `BodyReader`."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.reader: BodyReader | None = None
        self.head: Head | None = None
        self.idle_since = 0.0
        self.closed = False
        self.stamps: tuple[float | None, float | None, bool | None] | None = None
        self.lost: asyncio.Future[None] = pool.loop.create_future()
        self.ready: asyncio.Future[None] = pool.loop.create_future()  # TCP (and TLS) up
        self.tcp_ns = 0  # when the TCP connection was up
        self.session_kept = False  # its TLS session was stored for the next connection
        self._head_buf = b""
        self._head_wait: asyncio.Future[Head] | None = None
        self._method = "POST"

    # --- the event loop's calls ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """The TCP connection is up."""
        self.tcp_ns = _perf_ns()
        self.transport = transport = cast(asyncio.Transport, transport)  # uvloop's are not
        if getattr(transport, "max_size", 0) > READ_SIZE:
            transport.max_size = READ_SIZE  # type: ignore[attr-defined]
        self._connected()

    def _connected(self) -> None:
        """Plain HTTP: ready at once (TLS starts its handshake here instead)."""
        self._up()

    def _up(self) -> None:
        """Ready for a request (over TLS: once the handshake is done)."""
        if not self.ready.done():
            self.ready.set_result(None)

    def data_received(self, data: bytes) -> None:
        """Bytes from the socket: the body's, once the head is in (the hot path)."""
        reader = self.reader
        if reader is not None:
            reader.feed(data)
        else:
            self._head_bytes(data)

    def _head_bytes(self, data: bytes) -> None:
        wait = self._head_wait
        if wait is None:  # bytes on an idle connection that nobody asked for
            self.close()
            return
        buf = self._head_buf + data if self._head_buf else data
        try:
            parsed = parse_head(buf, method=self._method)
            if parsed is None:
                self._head_buf = buf
                return
            head, at = parsed
            reader = BodyReader(self, body_for(head))
        except HTTPProtocolError as e:
            self._head_wait = None
            if not wait.done():
                wait.set_exception(e)
            self.close()
            return
        self._head_buf = b""
        self._head_wait = None
        self.head = head
        self.reader = reader
        if at < len(buf):
            reader.feed(buf[at:])
        if not wait.done():
            wait.set_result(head)

    def eof_received(self) -> bool | None:
        """The server closed its side: the connection ends (see `connection_lost`)."""
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone: fail what waits on it and leave the pool."""
        self.closed = True
        if not self.ready.done():
            why = f"{type(exc).__name__}: {exc}" if exc else "by the server"
            self.ready.set_exception(ConnectionResetError(f"closed as it opened ({why})"))
        wait = self._head_wait
        if wait is not None:
            self._head_wait = None
            if not wait.done():
                early = not self._head_buf
                why = f" ({type(exc).__name__}: {exc})" if exc else ""
                wait.set_exception(
                    Disconnected(f"the server closed the connection{why}", early=early)
                )
        if self.reader is not None:
            self.reader.end(exc)
        self.pool.forget(self)
        if not self.lost.done():
            self.lost.set_result(None)

    # --- what the pool and the transport do with it ---------------------------------------

    def send(self, data: bytes, method: str) -> asyncio.Future[Head]:
        """Write a request; the future resolves with the response head."""
        assert self.transport is not None
        self.reader = None
        self.head = None
        self._method = method
        self._head_wait = wait = self.loop.create_future()
        if self.closed or self.transport.is_closing():  # lost before the request went out
            self._head_wait = None
            wait.set_exception(Disconnected("the connection had closed", early=True))
            return wait
        self._write(data)
        return wait

    def _write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def reusable(self) -> bool:
        """True if another request may use this connection: open, and its last response
        (if any) read to the end on a keep-alive connection."""
        if self.closed or self.transport is None or self.transport.is_closing():
            return False
        if self._head_wait is not None:
            return False
        reader, head = self.reader, self.head
        if reader is None:
            return head is None
        return head is not None and head.keep_alive and reader.at_eof() and not reader.failed

    def pause(self) -> None:
        """Stop reading the socket (the reader is behind)."""
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume(self) -> None:
        """Read the socket again."""
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def close(self) -> None:
        """Close the connection (at once for the pool's count; the socket as TLS allows)."""
        self.pool.forget(self)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    @property
    def ssl_object(self) -> Any:
        """The connection's `ssl.SSLObject` (None over plain HTTP)."""
        return None


class TLSConnection(Connection):
    """A connection that speaks TLS itself, through an `ssl.SSLObject` on memory buffers.

    asyncio's own TLS layer (`sslproto`, Python) runs a state machine, flow control and
    buffer bookkeeping on every read; here a read is one write into the incoming buffer and
    one `SSLObject.read`, whose plaintext goes straight to the HTTP/1.1 parser. Measured with
    callgrind over a stream of one chunk per read, asyncio's layer cost ~25k instructions
    per read: as much as all of groqstream's own work on that read."""

    def __init__(self, pool: Pool, context: ssl.SSLContext) -> None:
        super().__init__(pool)
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._context = context
        self._tls: ssl.SSLObject | None = None
        self._secure = False

    def _connected(self) -> None:
        """The TCP connection is up: the TLS handshake starts."""
        try:
            self._tls = self._context.wrap_bio(
                self._incoming, self._outgoing, server_hostname=self.pool.host
            )
        except (ssl.SSLError, OSError, ValueError) as e:  # e.g. a server-side context
            self._not_started(ssl.SSLError(f"cannot start TLS with this context: {e}"))
            return
        self._handshake()

    def _not_started(self, e: BaseException) -> None:
        """The connection cannot take requests (TLS failed to start): it closes."""
        if not self.ready.done():
            self.ready.set_exception(e)
        self.close()

    def _handshake(self) -> None:
        assert self._tls is not None
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except (ssl.SSLError, OSError) as e:
            self._flush()
            self._not_started(e)
            return
        self._secure = True
        self._flush()
        self._up()

    def data_received(self, data: bytes) -> None:
        """Encrypted bytes from the socket: their plaintext goes to the HTTP/1.1 parser."""
        self._incoming.write(data)
        if not self._secure:
            self._handshake()
            if not self._secure:
                return
        plain = self._decrypt()
        if self._outgoing.pending:
            self._flush()  # (a key update or a ticket acknowledgement to send)
        if plain:
            super().data_received(plain)

    def _decrypt(self) -> bytes:
        """All the plaintext of the records received whole (b"" for none)."""
        tls = self._tls
        assert tls is not None
        parts: list[bytes] = []
        try:
            parts.append(piece := tls.read(_TLS_READ))
            # More records to decrypt, or (never with a buffer over the 16 KiB a record holds)
            # a record's plaintext left over.
            while self._incoming.pending or (len(piece) == _TLS_READ and tls.pending()):
                parts.append(piece := tls.read(_TLS_READ))
        except ssl.SSLWantReadError:
            pass  # the rest of a record is still on its way
        except ssl.SSLZeroReturnError:
            self.close()  # the server ended TLS (close_notify): the connection ends
        except (ssl.SSLError, OSError) as e:
            log.debug("TLS error reading from %s: %s", self.pool.host, e)
            self.close()
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _write(self, data: bytes) -> None:
        assert self._tls is not None
        self._tls.write(data)
        self._flush()

    def _flush(self) -> None:
        out = self._outgoing.read()
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(out)

    def close(self) -> None:
        """Close: a TLS close_notify first (not waiting for the server's), then TCP."""
        tls = self._tls
        if self._secure and tls is not None:
            if self.head is not None and not self.session_kept:
                self.pool.keep_session(self)  # a response came: its ticket is in
            self._secure = False
            with contextlib.suppress(ssl.SSLError, OSError):
                tls.unwrap()  # (raises wanting the server's close_notify: not waited for)
            self._flush()
        super().close()

    @property
    def ssl_object(self) -> Any:
        """The connection's `ssl.SSLObject`."""
        return self._tls


class Response:
    """A response whose head arrived: `status`, `reason`, `headers`, `content_type`, and its
    body as `content` (a `BodyReader`). `release()` gives the connection back to the pool
    (when the body was read to its end), `close()` closes it."""

    __slots__ = ("_conn", "closed", "content", "head")

    def __init__(self, conn: Connection, head: Head, reader: BodyReader) -> None:
        self._conn = conn
        self.head = head
        self.content = reader
        self.closed = False

    @property
    def status(self) -> int:
        """The HTTP status code."""
        return self.head.status

    @property
    def reason(self) -> str:
        """The status line's reason phrase."""
        return self.head.reason

    @property
    def headers(self) -> CIMultiDictProxy[str]:
        """The response headers (a case-insensitive multidict)."""
        return self.head.headers

    @property
    def content_type(self) -> str:
        """The media type, lower case, without parameters ("" when absent)."""
        return self.head.content_type

    @property
    def ssl_object(self) -> Any:
        """The connection's `ssl.SSLObject`, None over plain HTTP or once released."""
        return None if self.closed else self._conn.ssl_object

    def release(self) -> None:
        """Done with the response: its connection goes back to the pool if reusable."""
        if not self.closed:
            self.closed = True
            self._conn.pool.release(self._conn)

    def close(self) -> None:
        """Done with the response, unread or not: its connection is closed."""
        if not self.closed:
            self.closed = True
            self._conn.close()


_Addr = tuple[int, Any]  # (family, sockaddr)


class Pool:
    """The connections to one host: idle ones reused newest first, new ones opened within
    `connect_timeout`, at most `limit` in all (0: no limit)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None,
        limit: int,
        keepalive_idle: float,
        dns_ttl: float,
        connect_timeout: float | None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.host = host
        self.port = port
        self.ssl = ssl_context
        self.limit = limit
        self.keepalive_idle = keepalive_idle
        self.dns_ttl = dns_ttl
        self.connect_timeout = connect_timeout
        self.closed = False
        self._idle: list[Connection] = []  # oldest first
        self._all: set[Connection] = set()
        self._opening = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._dns: tuple[float, list[_Addr]] | None = None
        self._lookup: asyncio.Task[list[_Addr]] | None = None  # a DNS lookup under way
        self._sweep: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._all)

    @property
    def idle(self) -> int:
        """Connections waiting in the pool."""
        return len(self._idle)

    async def acquire(self, stamps: ConnStamps, *, fresh: bool = False) -> Connection:
        """A connection for one request: an idle one (unless `fresh`), else a new one once
        the limit allows. `stamps` say which, and what a new one cost."""
        waited = False
        while True:
            if self.closed:
                raise PoolClosed("the client was closed")
            if not fresh:
                conn = self._take_idle()
                if conn is not None:
                    stamps.reused = True
                    return conn
            if not self.limit or len(self._all) + self._opening < self.limit:
                break
            if self._idle:  # a fresh one is wanted and the limit is full: drop the oldest
                self._idle[0].close()
                continue
            await self._wait_for_room(first=waited)
            waited = True
        return await self._open_counted(stamps)

    def _take_idle(self) -> Connection | None:
        idle = self._idle
        while idle:
            conn = idle.pop()
            if not conn.reusable():
                conn.close()
            elif self.loop.time() - conn.idle_since >= self.keepalive_idle:
                conn.close()  # the newest is too old: so are all the others
                for old in list(idle):
                    old.close()
            else:
                return conn
        return None

    async def _wait_for_room(self, *, first: bool = False) -> None:
        """Wait for a connection to go idle or away; `first`: at the head of the queue (a
        waiter woken whose room another request took keeps its place)."""
        waiter = self.loop.create_future()
        if first:
            self._waiters.appendleft(waiter)
        else:
            self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.done() and not waiter.cancelled():
                self._room()  # woken, then cancelled before it ran: wake the next one instead
            raise

    def _room(self) -> None:
        """A connection went idle or away: let the longest waiter look again."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def _open_counted(self, stamps: ConnStamps) -> Connection:
        self._opening += 1
        try:
            conn = await self.open()
        finally:
            self._opening -= 1
            self._room()
        stamps.reused = False
        if conn.stamps is not None:
            stamps.connect_s, stamps.tls_s, stamps.tls_resumed = conn.stamps
            conn.stamps = None
        return conn

    async def open(self) -> Connection:
        """A new connection, counted in the pool but not idle in it."""
        start = _perf_ns()
        timeout = self.connect_timeout
        try:
            async with deadline_at(_INF if timeout is None else self.loop.time() + timeout):
                conn = await self._connect()
        except TimeoutError:
            raise ConnectTimedOut(f"connecting took over {self.connect_timeout}s") from None
        if self.closed:
            conn.close()
            raise PoolClosed("the client was closed")
        if conn.closed:  # lost in the turn between its handshake and now
            raise CannotConnect(ConnectionResetError("the server closed the connection at once"))
        self._all.add(conn)
        conn.stamps = _cost(conn, start, _perf_ns())
        return conn

    def keep_session(self, conn: Connection) -> None:
        """Store `conn`'s TLS session for the next new connection to the host, after its
        first response (a TLS 1.3 ticket comes after the handshake; by the end of a
        response it is there). Once per connection: CPython copies a session through its
        DER encoding, certificate included, on every read of `SSLObject.session` (~0.15 ms
        here). A caller's own context has no session cache: nothing to do."""
        conn.session_kept = True
        sessions = getattr(self.ssl, "sessions", None)
        if sessions is not None and conn.ssl_object is not None:
            sessions.keep(conn.ssl_object)

    async def _connect(self) -> Connection:
        addrs = await self._resolve()
        try:
            if len(addrs) == 1:
                return await self._attempt(*addrs[0])
            return await self._race(addrs)
        except OSError as e:
            raise CannotConnect(e) from None

    async def _attempt(self, family: int, addr: Any) -> Connection:
        """One address: TCP, then (over TLS) the handshake."""
        _, proto = await self.loop.create_connection(
            self._connection, host=addr[0], port=addr[1], family=family
        )
        assert isinstance(proto, Connection)
        await _ready(proto)
        return proto

    async def _race(self, addrs: list[_Addr]) -> Connection:
        """Happy Eyeballs (RFC 8305): the host's addresses in order, each started
        `_STAGGER` after the one before while that one still tries; the first connection
        wins and the others are cancelled (or closed, if they got there too). A host whose
        first address is unreachable without an answer (a broken IPv6 route) costs a
        quarter second, not the whole connect timeout."""
        pending: set[asyncio.Task[Connection]] = set()
        errors: list[BaseException] = []
        try:
            for family, addr in addrs:
                pending.add(self.loop.create_task(self._attempt(family, addr)))
                won = await _first(pending, errors, _STAGGER)
                if won is not None:
                    return won
            while pending:
                won = await _first(pending, errors, None)
                if won is not None:
                    return won
        finally:
            for task in pending:
                task.cancel()
                task.add_done_callback(_close_late)
        raise errors[-1]

    def _connection(self) -> Connection:
        return Connection(self) if self.ssl is None else TLSConnection(self, self.ssl)

    async def _resolve(self) -> list[_Addr]:
        """The host's addresses, asked again once `dns_ttl` passed; connections opening at
        the same time share one lookup."""
        now = self.loop.time()
        if self._dns is not None and self._dns[0] > now:
            return self._dns[1]
        try:
            ip = ipaddress.ip_address(self.host.strip("[]"))
        except ValueError:
            pass
        else:
            fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            self._dns = (now + self.dns_ttl, [(fam, (str(ip), self.port))])
            return self._dns[1]
        if self._lookup is None or self._lookup.done():
            self._lookup = self.loop.create_task(self._look_up())
            self._lookup.add_done_callback(_retrieved)  # (failed with nobody left waiting)
        return await asyncio.shield(self._lookup)  # (one caller cancelled: not the lookup)

    async def _look_up(self) -> list[_Addr]:
        try:
            infos = await self.loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        except OSError as e:
            raise CannotConnect(e) from None
        addrs: list[_Addr] = [(fam, sa) for fam, _, _, _, sa in infos]
        self._dns = (self.loop.time() + self.dns_ttl, addrs)
        return addrs

    def release(self, conn: Connection) -> None:
        """A response is done with `conn`: idle in the pool if reusable, else closed."""
        if self.closed or not conn.reusable():
            conn.close()
        else:
            if not conn.session_kept and conn.head is not None:
                self.keep_session(conn)
            conn.idle_since = self.loop.time()
            self._idle.append(conn)
            if self._sweep is None:
                self._sweep = self.loop.call_at(
                    conn.idle_since + self.keepalive_idle, self._sweep_idle
                )
        self._room()

    def _sweep_idle(self) -> None:
        """Close the connections idle for `keepalive_idle`; look again when the next is due."""
        self._sweep = None
        idle = self._idle
        limit = self.loop.time() - self.keepalive_idle
        while idle and idle[0].idle_since <= limit:
            idle[0].close()
        if idle:
            due = idle[0].idle_since + self.keepalive_idle
            self._sweep = self.loop.call_at(due, self._sweep_idle)

    def forget(self, conn: Connection) -> None:
        """`conn` is closed: it leaves the count and the idle list."""
        known = conn in self._all
        self._all.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)
        if known:
            self._room()

    async def warm(self, n: int) -> None:
        """Open connections until `n` are idle; a request on one of them pays nothing."""
        want = n - len(self._idle) - self._opening  # (opens under way will be idle too)
        if self.limit:
            want = min(want, self.limit - len(self._all) - self._opening)
        if want <= 0:
            return
        self._opening += want  # counted now, before a request can look at the pool
        tasks = []
        for _ in range(want):
            task = self.loop.create_task(self._warm_one())
            task.add_done_callback(self._warmed)  # (runs even if cancelled before it began)
            tasks.append(task)
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _warm_one(self) -> None:
        """One warm-up connection, idle in the pool once open: each task hands its own
        over, so a cancelled warm-up leaves none behind in limbo; a request on it pays
        nothing (no stamps)."""
        conn = await self.open()
        conn.stamps = None
        self.release(conn)

    def _warmed(self, task: asyncio.Task[None]) -> None:
        self._opening -= 1
        self._room()
        _retrieved(task)  # (`warm` raises the first failure itself)

    async def aclose(self) -> None:
        """Close every connection, idle or in use, and wait (briefly) until they are."""
        self.closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        if self._lookup is not None:
            self._lookup.cancel()
        conns = list(self._all)
        for conn in conns:
            conn.close()
        pending = [c.lost for c in conns if not c.lost.done()]
        if pending:
            await asyncio.wait(pending, timeout=1.0)
        for conn in conns:
            if not conn.lost.done() and conn.transport is not None:
                conn.transport.abort()
        while self._waiters:
            self._room()


async def _first(
    pending: set[asyncio.Task[Connection]], errors: list[BaseException], wait: float | None
) -> Connection | None:
    """The first connection among `pending` within `wait` seconds (None: none yet, or all
    failed); failures go to `errors`, a second winner is closed."""
    done, _ = await asyncio.wait(pending, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
    won: Connection | None = None
    for task in done:
        pending.discard(task)
        exc = task.exception()
        if exc is not None:
            errors.append(exc)
        elif won is None:
            won = task.result()
        else:
            task.result().close()
    return won


def _retrieved(task: asyncio.Task[Any]) -> None:
    """Mark a task's failure as seen (its waiters, if any, got it already)."""
    if not task.cancelled():
        task.exception()


def _close_late(task: asyncio.Task[Connection]) -> None:
    """A losing attempt that connected anyway, as it was being cancelled: closed."""
    if not task.cancelled() and task.exception() is None:
        task.result().close()


async def _ready(conn: Connection) -> None:
    """Wait until `conn` can take a request (its TLS handshake done); closed if that fails
    or the wait is cancelled (the connect timeout)."""
    try:
        await conn.ready
    except BaseException:
        conn.close()
        raise


def _cost(conn: Connection, start: int, end: int) -> tuple[float | None, float | None, bool | None]:
    """(connect_s, tls_s, tls_resumed) of `conn`, opened from `start` to `end` (ns): DNS and
    TCP up to when the handshake began, the handshake after it."""
    ssl_object = conn.ssl_object
    if ssl_object is None:
        return (end - start) / 1e9, None, None
    mid = conn.tcp_ns  # the handshake starts as TCP is up (`TLSConnection._connected`)
    return (mid - start) / 1e9, (end - mid) / 1e9, bool(ssl_object.session_reused)
