"""groqstream's own HTTP/1.1 client over real loopback sockets, against hand-written bytes.

Each test runs a raw `asyncio.start_server` whose handler writes exactly the bytes it wants
(malformed status lines, chunks cut short, interim 1xx heads, gzip, HTTP/1.0, junk after the
last chunk) and counts what the client does with its connections: how many it opened, how
many were open at once, and which it closed (the server reads EOF). `groqstream.Client` is
used as callers use it; no mocks. Covered: malformed responses are `APIConnectionError`
("malformed"), or `StreamInterrupted` with the text so far once a stream is under way;
keep-alive reuse, and no reuse after `Connection: close`, HTTP/1.0 or broken framing;
gzip/deflate replies; `max_connections` (and a waiter for room cancelled as it is woken);
the idle sweep (`keepalive_idle`); `aclose()` of idle and in-use connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import orjson
import pytest

from groqstream import APIConnectionError, Client, StreamInterrupted, Timeouts
from groqstream.models import KIMI_K2_INSTRUCT

MODEL = KIMI_K2_INSTRUCT
# Generous: the suite runs on a loaded 2-core box; only failures wait this long.
TIMEOUTS = Timeouts(connect=30.0, first_byte=30.0, idle=30.0, total=60.0)
WAIT = 30.0


# --- a raw server ---------------------------------------------------------------------------


class WireServer:
    """Where the server listens and what it saw: connections accepted, open now, the most
    open at once, connections the client closed (EOF read), and every request."""

    def __init__(self) -> None:
        self.base_url = ""
        self.accepted = 0
        self.open = 0
        self.max_open = 0
        self.eofs = 0
        self.requests: list[dict[str, Any]] = []
        self.errors: list[BaseException] = []

    async def wait_for(self, what: Callable[[], bool]) -> None:
        """Wait until `what()` holds (a failure after `WAIT` seconds)."""
        with anyio.fail_after(WAIT):
            while not what():
                await asyncio.sleep(0.01)


class Peer:
    """One accepted connection, as a handler drives it."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: WireServer
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.server = server
        self.closed = False
        self._eof = False

    def _saw_eof(self) -> None:
        if not self._eof:
            self._eof = True
            self.server.eofs += 1

    def close(self) -> None:
        """The server hangs up (the handler's loop ends)."""
        self.closed = True
        self.writer.close()

    async def request(self) -> dict[str, Any] | None:
        """The next request's JSON body (its head under "_head"), or None once the client
        closed the connection."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as e:
            if e.partial:
                raise AssertionError(f"the client hung up mid-request: {e.partial!r}") from None
            self._saw_eof()
            return None
        except ConnectionError:
            self._saw_eof()
            return None
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = orjson.loads(await self.reader.readexactly(length)) if length else {}
        body["_head"] = head.decode("latin-1").lower()
        self.server.requests.append(body)
        return dict(body)

    async def send(self, *pieces: bytes) -> None:
        """Write each piece (its own write and drain)."""
        for piece in pieces:
            self.writer.write(piece)
            await self.writer.drain()

    async def until_eof(self) -> None:
        """Read (and drop) whatever comes until the client closes the connection."""
        with contextlib.suppress(ConnectionError):
            while await self.reader.read(65536):
                pass
        self._saw_eof()


Handler = Callable[[Peer], Awaitable[None]]


@contextlib.asynccontextmanager
async def wire_server(handler: Handler) -> AsyncIterator[WireServer]:
    """Run `handler` for every connection on an ephemeral loopback port; on exit, end the
    handlers still running, close every socket, and fail if a handler failed."""
    srv = WireServer()
    tasks: set[asyncio.Task[Any]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        srv.accepted += 1
        srv.open += 1
        srv.max_open = max(srv.max_open, srv.open)
        try:
            await handler(Peer(reader, writer, srv))
        except ConnectionError:
            pass  # the client hung up while the handler wrote
        except asyncio.CancelledError:
            pass  # the server is stopping (a cancelled task here would be logged as an error)
        except Exception as e:  # reported when the server stops
            srv.errors.append(e)
        finally:
            srv.open -= 1
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            tasks.discard(task)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    srv.base_url = f"http://127.0.0.1:{port}/v1"
    try:
        yield srv
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
    if srv.errors:
        raise srv.errors[0]


def serving(respond: Callable[[Peer, dict[str, Any]], Awaitable[None]]) -> Handler:
    """A handler that answers requests with `respond` until the client closes."""

    async def handler(peer: Peer) -> None:
        while not peer.closed and (request := await peer.request()) is not None:
            await respond(peer, request)

    return handler


def client(srv: WireServer, *, keepalive_idle: float = 600.0, **kwargs: Any) -> Client:
    """A client for `srv` that never retries and whose idle sweep (unless a test sets it)
    cannot be what closes a connection within a test."""
    return Client(
        base_url=srv.base_url,
        max_retries=0,
        timeout=TIMEOUTS,
        keepalive_idle=keepalive_idle,
        **kwargs,
    )


# --- what goes on the wire ------------------------------------------------------------------


def head(*headers: str, status: str = "HTTP/1.1 200 OK") -> bytes:
    return "".join(f"{line}\r\n" for line in (status, *headers)).encode("latin-1") + b"\r\n"


def chunk(payload: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(payload), payload)


LAST = b"0\r\n\r\n"
SSE_HEAD = head("Content-Type: text/event-stream", "Transfer-Encoding: chunked")


def event(content: str | None, finish: str | None = None) -> bytes:
    delta = {"content": content} if content is not None else {}
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    obj = {"id": "c", "object": "chat.completion.chunk", "model": MODEL, "choices": [choice]}
    return b"data: " + orjson.dumps(obj) + b"\n\n"


END = event(None, "stop") + b"data: [DONE]\n\n"
HELLO_STREAM = chunk(event("hel")) + chunk(event("lo")) + chunk(END) + LAST


def reply(text: str) -> bytes:
    """A non-streaming chat completion's JSON body."""
    message = {"role": "assistant", "content": text}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    obj = {"id": "c", "object": "chat.completion", "model": MODEL, "choices": [choice]}
    return orjson.dumps(obj)


def json_head(body: bytes, *more: str, status: str = "HTTP/1.1 200 OK") -> bytes:
    return head(
        "Content-Type: application/json", f"Content-Length: {len(body)}", *more, status=status
    )


async def stream_text(c: Client, prompt: str = "x") -> str:
    async with c.stream(model=MODEL, prompt=prompt) as s:
        await s.until_done()
    assert s.finished
    return s.text


# --- malformed responses --------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        b"HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/2 200\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    ],
    ids=["status", "digits", "http2", "header", "lengths"],
)
@pytest.mark.parametrize("call", ["stream", "complete"])
async def test_a_malformed_response_is_a_connection_error_saying_so(bad: bytes, call: str) -> None:
    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        await peer.send(bad)

    async with wire_server(serving(respond)) as srv, client(srv) as c:
        with pytest.raises(APIConnectionError, match="malformed") as info:
            if call == "stream":
                await stream_text(c)
            else:
                await c.complete(model=MODEL, prompt="x")
        assert not isinstance(info.value, StreamInterrupted)
        assert srv.base_url.rsplit("/", 1)[0] in str(info.value)  # says which server
        await srv.wait_for(lambda: srv.eofs == 1)  # the broken connection is closed
    assert srv.accepted == 1


async def test_a_stream_cut_mid_chunk_is_interrupted_with_its_text() -> None:
    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        second = event("lo")
        # The second chunk says 100 bytes more than come: the event inside it is whole and
        # must reach the caller before the close is seen as the body's early end.
        await peer.send(SSE_HEAD + chunk(event("hel")), b"%x\r\n%b" % (len(second) + 100, second))
        peer.close()

    async with wire_server(serving(respond)) as srv, client(srv) as c:
        with pytest.raises(StreamInterrupted) as info:
            await stream_text(c)
    assert info.value.partial_text == "hello"
    assert srv.accepted == 1


async def test_a_malformed_chunk_mid_stream_is_interrupted_with_its_text() -> None:
    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        await peer.send(SSE_HEAD + chunk(event("hel")))
        await asyncio.sleep(0.05)
        await peer.send(b"zz\r\n" + event("lo") + b"\r\n")

    async with wire_server(serving(respond)) as srv, client(srv) as c:
        with pytest.raises(StreamInterrupted) as info:
            await stream_text(c)
        assert info.value.partial_text == "hel"
        assert "malformed body" in str(info.value) and "chunk size" in str(info.value)
        await srv.wait_for(lambda: srv.eofs == 1)  # the client closed the connection


# --- keep-alive ------------------------------------------------------------------------------


async def test_a_content_length_reply_is_read_and_its_connection_reused() -> None:
    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        body = reply(f"answer to {request['messages'][0]['content']}")
        await peer.send(json_head(body) + body)

    async with wire_server(serving(respond)) as srv, client(srv) as c:
        texts = [(await c.complete(model=MODEL, prompt=f"q{i}")).text for i in range(3)]
        assert texts == ["answer to q0", "answer to q1", "answer to q2"]
    assert srv.accepted == 1
    assert len(srv.requests) == 3


async def test_connection_close_is_not_reused() -> None:
    # The server would serve another request on the connection: only the header says no.
    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        body = reply("bye")
        await peer.send(json_head(body, "Connection: close") + body)

    async with wire_server(serving(respond)) as srv, client(srv) as c:
        for _ in range(2):
            assert (await c.complete(model=MODEL, prompt="x")).text == "bye"
        await srv.wait_for(lambda: srv.eofs >= 1)  # the client closed the first one
    assert srv.accepted == 2
    assert all("connection: close" not in r["_head"] for r in srv.requests)


@pytest.mark.parametrize("framing", ["length", "close"])
async def test_an_http_1_0_reply_works_and_is_not_reused(framing: str) -> None:
    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        body = reply("old school")
        if framing == "length":  # and the connection left open: the version says no reuse
            await peer.send(json_head(body, status="HTTP/1.0 200 OK") + body)
        else:  # the body ends where the server closes
            await peer.send(head("Content-Type: application/json", status="HTTP/1.0 200 OK"))
            await peer.send(body[:10], body[10:])
            peer.close()

    async with wire_server(serving(respond)) as srv, client(srv) as c:
        for _ in range(2):
            assert (await c.complete(model=MODEL, prompt="x")).text == "old school"
    assert srv.accepted == 2


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_a_compressed_json_reply_is_decoded(coding: str) -> None:
    text = "compressed " * 500
    packed = gzip.compress(reply(text)) if coding == "gzip" else zlib.compress(reply(text))

    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        assert "accept-encoding: gzip, deflate" in request["_head"]
        half = len(packed) // 2
        await peer.send(json_head(packed, f"Content-Encoding: {coding}"), packed[:half])
        await asyncio.sleep(0.02)  # the rest in a later read
        await peer.send(packed[half:])

    async with wire_server(serving(respond)) as srv, client(srv) as c:
        assert (await c.complete(model=MODEL, prompt="x")).text == text
        assert (await c.complete(model=MODEL, prompt="x")).text == text
    assert srv.accepted == 1  # read to its end, so reused


async def test_a_stream_asks_for_no_compression() -> None:
    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        assert "accept-encoding: identity" in request["_head"]
        await peer.send(SSE_HEAD + HELLO_STREAM)

    async with wire_server(serving(respond)) as srv, client(srv) as c:
        assert await stream_text(c) == "hello"
    assert len(srv.requests) == 1


async def test_interim_responses_before_a_stream_are_skipped() -> None:
    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        await peer.send(head(status="HTTP/1.1 100 Continue"))
        await asyncio.sleep(0.02)  # the final head in a later read than the first interim one
        await peer.send(
            head("Link: </hint>; rel=preload", status="HTTP/1.1 103 Early Hints") + SSE_HEAD,
            HELLO_STREAM,
        )

    async with wire_server(serving(respond)) as srv, client(srv) as c:
        assert await stream_text(c) == "hello"
        assert await stream_text(c) == "hello"
    assert srv.accepted == 1  # the body started where it should: the connection was reusable


@pytest.mark.parametrize("when", ["same write", "own write"])
async def test_junk_after_the_last_chunk_keeps_the_result_but_not_the_connection(
    when: str,
) -> None:
    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        await peer.send(SSE_HEAD)
        if when == "same write":
            await peer.send(HELLO_STREAM + b"JUNK")
        else:
            await peer.send(HELLO_STREAM)
            await asyncio.sleep(0.05)
            await peer.send(b"JUNK")

    async with wire_server(serving(respond)) as srv, client(srv) as c:
        assert await stream_text(c) == "hello"
        await srv.wait_for(lambda: srv.eofs == 1)  # the client closed that connection
        assert await stream_text(c) == "hello"
    assert srv.accepted == 2


# --- the pool --------------------------------------------------------------------------------


async def test_max_connections_caps_the_connections_open_at_once() -> None:
    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        await peer.send(SSE_HEAD + chunk(event(request["messages"][0]["content"])))
        await asyncio.sleep(0.2)  # long enough for all five to be asking at once
        await peer.send(chunk(END) + LAST)

    texts: list[str] = []

    async def one(i: int) -> None:
        texts.append(await stream_text(c, f"p{i}"))

    async with wire_server(serving(respond)) as srv, client(srv, max_connections=2) as c:
        async with anyio.create_task_group() as tg:
            for i in range(5):
                tg.start_soon(one, i)
    assert sorted(texts) == [f"p{i}" for i in range(5)]
    assert srv.max_open == 2
    assert srv.accepted == 2  # the waiters took the connections the others gave back


async def test_an_idle_connection_is_closed_after_keepalive_idle() -> None:
    replied: list[float] = []

    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        body = reply("hi")
        await peer.send(json_head(body) + body)
        replied.append(time.monotonic())

    async with wire_server(serving(respond)) as srv, client(srv, keepalive_idle=0.2) as c:
        assert (await c.complete(model=MODEL, prompt="x")).text == "hi"
        await srv.wait_for(lambda: srv.eofs == 1)  # the client, not the server, hung up
        idle_for = time.monotonic() - replied[0]
        assert (await c.complete(model=MODEL, prompt="x")).text == "hi"
    assert idle_for >= 0.15  # a lower bound: load can only stretch it
    assert srv.accepted == 2


async def test_aclose_closes_idle_and_in_use_connections() -> None:
    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        if request["stream"]:
            await peer.send(SSE_HEAD + chunk(event("hel")))
            await peer.until_eof()  # the stream never ends on its own
        else:
            body = reply("idle")
            await peer.send(json_head(body) + body)

    async with wire_server(serving(respond)) as srv:
        c = client(srv)
        try:
            async with c.stream(model=MODEL, prompt="x") as s:
                await s.__anext__()
                assert s.text == "hel"
                # The stream holds its connection: this one opens a second, left idle.
                assert (await c.complete(model=MODEL, prompt="x")).text == "idle"
                assert srv.accepted == 2 and srv.eofs == 0
                await c.aclose()
                await srv.wait_for(lambda: srv.eofs == 2)
        finally:
            await c.aclose()


async def test_a_waiter_cancelled_as_it_is_woken_does_not_strand_the_next() -> None:
    # With the one connection in use, B then C wait for room. The connection goes (A closes
    # its stream) and B, the first waiter, is woken; B is cancelled before it runs. The room
    # must pass on to C rather than be lost with B.
    async def respond(peer: Peer, request: dict[str, Any]) -> None:
        if request["messages"][0]["content"] == "a":
            await peer.send(SSE_HEAD + chunk(event("hel")))
            await peer.until_eof()  # A's stream never ends on its own
        else:
            await peer.send(SSE_HEAD + HELLO_STREAM)

    async with wire_server(serving(respond)) as srv, client(srv, max_connections=1) as c:
        async with c.stream(model=MODEL, prompt="a") as a:
            await a.__anext__()
            b = asyncio.create_task(stream_text(c, "b"))
            await asyncio.sleep(0.05)  # B runs up to its wait for room (no IO before it)
            waiting = asyncio.create_task(stream_text(c, "c"))
            await asyncio.sleep(0.05)
        b.cancel()  # A's close woke B; nothing awaited since, so B has not run yet
        with pytest.raises(asyncio.CancelledError):
            await b
        with anyio.fail_after(10):
            assert await waiting == "hello"
