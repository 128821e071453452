"""A lean Groq-shaped SSE server for benchmarks: raw asyncio protocol, pre-encoded chunks.

Much faster than any client (no framework, one `transport.write` per chunk or per 64 KiB
batch), paced by `loop.call_at` on absolute deadlines, and it records the
`perf_counter_ns()` of every chunk it sends so clients' timing error can be measured against
the actual send times (both processes read the same CLOCK_MONOTONIC on Linux).

Each request's chunk `id` is `chatcmpl-<n>` (n counts requests) and chunk k's content is
`" <k>"`, so a client can say which send each arrival matches. `GET /sendlog` returns
`{n: [recv_ns, send_ns_0, send_ns_1, ...]}` for the requests since the last call.

`--shape groq|openai|repeated-xgroq` picks whose chunk shape it sends (see shapes.py).

    python benchmarks/sse_server.py --port 8123 --ttft 0.02 --itl 0.002 [--shape openai]
    ... --certfile cert.pem --keyfile key.pem     # HTTPS (benchmarks/tls.py makes a pair)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import time

import orjson

from shapes import SHAPES, Shape

_perf_ns = time.perf_counter_ns
_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n"
)
_BATCH = 64 * 1024


def _chunked(payload: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(payload), payload)


class Config:
    """Pacing shared by every request: ttft and itl in seconds (0 = as fast as possible),
    and the chunk shape (see shapes.py)."""

    def __init__(
        self, ttft: float, itl: float, chunks: int, record: bool, shape: str = "groq"
    ) -> None:
        self.ttft = ttft
        self.itl = itl
        self.chunks = chunks
        self.record = record
        self.shape = shape
        self.counter = 0
        self.log: dict[int, list[int]] = {}


class _Stream:
    """One response being paced out."""

    __slots__ = ("cfg", "k", "log", "n", "proto", "shape", "start", "tail")

    def __init__(self, proto: SSEProtocol, n: int, chunks: int, recv_ns: int) -> None:
        cfg = proto.cfg
        self.proto = proto
        self.cfg = cfg
        self.n = chunks
        self.k = 0
        cid = b"chatcmpl-%d" % n
        self.shape = shape = Shape(cfg.shape, cid)
        usage = orjson.dumps(
            {
                "queue_time": 0.0,
                "prompt_tokens": 10,
                "prompt_time": 0.0,
                "completion_tokens": chunks,
                "completion_time": chunks * cfg.itl,
                "total_tokens": 10 + chunks,
                "total_time": cfg.ttft + chunks * cfg.itl,
            }
        )
        self.tail = (
            _chunked(b"data: " + shape.last(usage) + b"\n\n")
            + _chunked(b"data: [DONE]\n\n")
            + b"0\r\n\r\n"
        )
        self.log: list[int] | None = [recv_ns] if cfg.record else None
        if self.log is not None:
            cfg.log[n] = self.log
        role = _chunked(b"data: " + shape.role() + b"\n\n")
        proto.transport.write(_HEAD + b"x-request-id: req_%b\r\n\r\n" % cid + role)
        loop = proto.loop
        self.start = loop.time() + cfg.ttft
        if cfg.ttft <= 0 and cfg.itl <= 0:
            self._burst()
        else:
            loop.call_at(self.start, self._next)

    def event(self, k: int) -> bytes:
        """Chunk k as one SSE event."""
        return b"data: " + self.shape.payload(k) + b"\n\n"

    def _burst(self) -> None:
        """As fast as possible: big writes, respecting the transport's flow control."""
        proto, event = self.proto, self.event
        while self.k < self.n:
            if proto.paused:
                proto.waiting = self
                return
            parts = []
            size = 0
            while self.k < self.n and size < _BATCH:
                payload = event(self.k)
                parts.append(b"%x\r\n%b\r\n" % (len(payload), payload))
                size += len(payload)
                self.k += 1
            proto.transport.write(b"".join(parts))
        proto.transport.write(self.tail)
        proto.busy = False

    def _next(self) -> None:
        proto = self.proto
        if proto.closed:
            return
        k = self.k
        payload = self.event(k)
        if self.log is not None:
            self.log.append(_perf_ns())
        proto.transport.write(b"%x\r\n%b\r\n" % (len(payload), payload))
        self.k = k + 1
        if self.k < self.n:
            proto.loop.call_at(self.start + self.k * self.cfg.itl, self._next)
        else:
            proto.transport.write(self.tail)
            proto.busy = False
            proto.maybe_next()

    def resume(self) -> None:
        self._burst()
        self.proto.maybe_next()


class SSEProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive, one request at a time per connection (as SSE clients use it)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.loop = asyncio.get_running_loop()
        self.buf = b""
        self.busy = False
        self.paused = False
        self.closed = False
        self.waiting: _Stream | None = None
        self.transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        waiting, self.waiting = self.waiting, None
        if waiting is not None:
            waiting.resume()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self.maybe_next()

    def maybe_next(self) -> None:
        if self.busy or self.closed:
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buf[:end].decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self.buf) < end + 4 + length:
            return
        body = self.buf[end + 4 : end + 4 + length]
        self.buf = self.buf[end + 4 + length :]
        recv_ns = _perf_ns()
        if head.startswith("GET /sendlog"):
            payload = orjson.dumps({str(k): v for k, v in self.cfg.log.items()})
            self.cfg.log.clear()
            self.transport.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                % len(payload)
                + payload
            )
            return self.maybe_next()
        chunks = self.cfg.chunks
        try:
            req = orjson.loads(body) if body else {}
            cap = req.get("max_tokens") or req.get("max_completion_tokens")
            if isinstance(cap, int) and cap > 0:
                chunks = cap
        except orjson.JSONDecodeError:
            pass
        self.busy = True
        self.cfg.counter += 1
        _Stream(self, self.cfg.counter, chunks, recv_ns)


async def serve(
    port: int, cfg: Config, ready: str | None = None, tls: ssl.SSLContext | None = None
) -> None:
    """Serve until cancelled (over TLS with `tls`); write the bound port to `ready` (a file
    path) when listening."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SSEProtocol(cfg), "127.0.0.1", port, backlog=4096, ssl=tls
    )
    bound = server.sockets[0].getsockname()[1]
    if ready:
        tmp = ready + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(bound))
        os.replace(tmp, ready)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Command line: run the benchmark server."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ttft", type=float, default=0.0)
    p.add_argument("--itl", type=float, default=0.0)
    p.add_argument("--chunks", type=int, default=50)
    p.add_argument("--record", action="store_true", help="keep send times for GET /sendlog")
    p.add_argument("--ready-file", default=None)
    p.add_argument("--shape", choices=SHAPES, default="groq", help="whose chunk shape to send")
    p.add_argument("--certfile", default=None, help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--keyfile", default=None, help="and this private key (PEM)")
    a = p.parse_args()
    tls = None
    if a.certfile:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(a.certfile, a.keyfile)
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        uvloop.install()
    except ImportError:
        pass
    cfg = Config(a.ttft, a.itl, a.chunks, a.record, a.shape)
    asyncio.run(serve(a.port, cfg, a.ready_file, tls))


if __name__ == "__main__":
    main()
