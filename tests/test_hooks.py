"""The observer contract the client keeps (groqstream._hooks), checked without OpenTelemetry.

Every request that starts is shown to the observers once, each retried attempt once, and its
end exactly once, on every exit path: read to the end, error, break, close, cancel, garbage
collection. These tests pin the call sites in stream.py and client.py.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import pytest

import early_exits
from groqstream import (
    BadRequestError,
    ChatStream,
    Client,
    Completion,
    RateLimitError,
    StreamInterrupted,
    StreamState,
    Timeouts,
    TotalTimeout,
    _hooks,
)
from groqstream.testing import Fault, SimulatedServer

MODEL = "openai/gpt-oss-20b"
PLAIN_MODEL = "moonshotai/kimi-k2-instruct"


class Recorder:
    """An observer that writes down every call it gets."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def begin(self, kind: str, body: Mapping[str, Any], base_url: str) -> Recorder.Handle:
        self.events.append(("begin", kind, body.get("model"), base_url))
        return Recorder.Handle(self)

    class Handle:
        def __init__(self, rec: Recorder) -> None:
            self.rec = rec

        def retry(self, attempt: int, error: BaseException, delay: float) -> None:
            self.rec.events.append(("retry", attempt, type(error), delay))

        def end(self, result: Any, error: BaseException | None) -> None:
            finished = result.finished if isinstance(result, ChatStream) else None
            self.rec.events.append(("end", type(result), type(error), finished))

    def names(self) -> list[str]:
        return [e[0] for e in self.events]

    def last(self) -> tuple[Any, ...]:
        return self.events[-1]


@pytest.fixture
def rec() -> Iterator[Recorder]:
    r = Recorder()
    _hooks.register(r)
    yield r
    _hooks.unregister(r)


@pytest.fixture
async def slow_server() -> AsyncIterator[SimulatedServer]:
    async with early_exits.slow_server() as srv:
        yield srv


async def test_nothing_registered_means_no_handle(client: Client) -> None:
    assert _hooks.observers == ()
    async with client.stream(model=MODEL, prompt="hi") as s:
        await s.until_done()
    assert s._obs is None


async def test_stream_read_to_the_end(rec: Recorder, client: Client) -> None:
    async with client.stream(model=MODEL, prompt="hi") as s:
        await s.until_done()
    assert rec.events == [
        ("begin", "stream", MODEL, client.transport.base_url),
        ("end", ChatStream, type(None), True),
    ]


async def test_stream_iterated_without_async_with_ends_when_it_finishes(
    rec: Recorder, client: Client
) -> None:
    s = client.stream(model=MODEL, prompt="hi")
    async for _ in s:
        pass
    assert rec.names() == ["begin", "end"]  # at the end of the stream, not at collection
    assert rec.last() == ("end", ChatStream, type(None), True)


async def test_429_then_success_is_one_retry_then_one_end(
    rec: Recorder, server: SimulatedServer, client: Client
) -> None:
    server.faults.append(Fault.status(429, retry_after=0.01))
    async with client.stream(model=MODEL, prompt="hi") as s:
        await s.until_done()
    assert rec.events[1] == ("retry", 1, RateLimitError, 0.01)
    assert rec.names() == ["begin", "retry", "end"]
    assert rec.last() == ("end", ChatStream, type(None), True)


async def test_error_before_the_stream_ends_it_with_the_error(
    rec: Recorder, server: SimulatedServer, client: Client
) -> None:
    server.faults.append(Fault.status(400))
    with pytest.raises(BadRequestError):
        async with client.stream(model=MODEL, prompt="hi"):
            pass
    assert rec.names() == ["begin", "end"]
    assert rec.last() == ("end", ChatStream, BadRequestError, False)


async def test_cut_mid_stream_ends_with_the_error_once(
    rec: Recorder, server: SimulatedServer, client: Client
) -> None:
    server.faults.append(Fault.cut(after_chunks=3))
    with pytest.raises(StreamInterrupted):
        async with client.stream(model=MODEL, prompt="hi") as s:
            await s.until_done()
    assert rec.names() == ["begin", "end"]
    assert rec.last() == ("end", ChatStream, StreamInterrupted, False)


async def test_break_inside_async_with(rec: Recorder, slow_server: SimulatedServer) -> None:
    async with Client(base_url=slow_server.base_url) as client:
        async with client.stream(model=MODEL, prompt="hi") as s:
            async for _ in s:
                break
        assert rec.names() == ["begin", "end"]
        assert rec.last() == ("end", ChatStream, type(None), False)
        await slow_server.wait_idle()


async def test_break_without_async_with_ends_on_collection(
    rec: Recorder, slow_server: SimulatedServer
) -> None:
    async with Client(base_url=slow_server.base_url) as client:
        s = client.stream(model=MODEL, prompt="hi")
        async for _ in s:
            break
        assert rec.names() == ["begin"]
        del s
        gc.collect()
        await asyncio.sleep(0)  # the end runs as a loop callback, outside the collector
        assert rec.names() == ["begin", "end"]
        assert rec.last() == ("end", ChatStream, type(None), False)
        await slow_server.wait_idle()


def test_collected_after_the_loop_ended_ends_at_once(rec: Recorder) -> None:
    async def start() -> _hooks.Request | None:
        return _hooks.begin("stream", {"model": MODEL}, "http://127.0.0.1:1/v1")

    stream = ChatStream.__new__(ChatStream)  # only its type matters to the recorder
    stream._state = StreamState.IDLE
    loop = asyncio.new_event_loop()
    try:
        req = loop.run_until_complete(start())  # stopped, not closed: it runs no callback now
        _hooks.collected(req, stream)
        assert rec.names() == ["begin", "end"]
        _hooks.collected(req, stream)  # and only once
        assert rec.names() == ["begin", "end"]
    finally:
        loop.close()


async def test_cancel_mid_stream(rec: Recorder, slow_server: SimulatedServer) -> None:
    async with Client(base_url=slow_server.base_url) as client:
        await early_exits.cancel_mid_stream(client, MODEL)
        assert rec.names() == ["begin", "end"]
        assert rec.last() == (
            "end",
            ChatStream,
            asyncio.CancelledError,
            False,
        )  # as before the first token
        await slow_server.wait_idle()


async def test_cancel_before_the_first_token(rec: Recorder, server: SimulatedServer) -> None:
    server.faults.append(Fault.delay_headers(10.0))
    async with Client(base_url=server.base_url) as client:
        task = asyncio.create_task(client.stream(model=MODEL, prompt="hi").start())
        while not server.requests:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert rec.names() == ["begin", "end"]
        assert rec.last() == ("end", ChatStream, asyncio.CancelledError, False)
    await server.wait_idle()


async def test_complete_success_retry_and_failure(
    rec: Recorder, server: SimulatedServer, client: Client
) -> None:
    server.faults.append(Fault.status(429, retry_after=0.01))
    await client.complete(model=PLAIN_MODEL, prompt="hi")
    assert rec.events[0] == ("begin", "complete", PLAIN_MODEL, client.transport.base_url)
    assert rec.events[1:] == [
        ("retry", 1, RateLimitError, 0.01),
        ("end", Completion, type(None), None),
    ]
    rec.events.clear()
    server.faults.append(Fault.status(400))
    with pytest.raises(BadRequestError):
        await client.complete(model=PLAIN_MODEL, prompt="hi")
    assert rec.events[1:] == [("end", type(None), BadRequestError, None)]


async def test_complete_total_timeout_and_cancel_end_the_request(
    rec: Recorder, server: SimulatedServer
) -> None:
    async with Client(base_url=server.base_url, timeout=Timeouts(total=0.1)) as client:
        server.faults.append(Fault.delay_headers(5.0))
        with pytest.raises(TotalTimeout):
            await client.complete(model=PLAIN_MODEL, prompt="hi")
        assert rec.last() == ("end", type(None), TotalTimeout, None)
    rec.events.clear()
    async with Client(base_url=server.base_url) as client:
        server.faults.append(Fault.delay_headers(10.0))
        task = asyncio.create_task(client.complete(model=PLAIN_MODEL, prompt="hi"))
        while len(server.requests) < 2:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert rec.names() == ["begin", "end"]
    assert rec.last() == ("end", type(None), asyncio.CancelledError, None)


async def test_a_failing_observer_never_breaks_a_request(client: Client) -> None:
    class Broken:
        def begin(self, kind: str, body: Mapping[str, Any], base_url: str) -> Broken:
            return self

        def retry(self, attempt: int, error: BaseException, delay: float) -> None:
            raise RuntimeError("observer bug")

        def end(self, result: Any, error: BaseException | None) -> None:
            raise RuntimeError("observer bug")

    class BrokenAtBegin:
        def begin(self, kind: str, body: Mapping[str, Any], base_url: str) -> None:
            raise RuntimeError("observer bug")

    broken, early = Broken(), BrokenAtBegin()
    _hooks.register(broken)
    _hooks.register(early)
    try:
        async with client.stream(model=MODEL, prompt="hi") as s:
            await s.until_done()
        assert s.finished and s.text
        await client.complete(model=PLAIN_MODEL, prompt="hi")
    finally:
        _hooks.unregister(broken)
        _hooks.unregister(early)
    assert _hooks.observers == ()


def test_register_and_unregister_are_idempotent() -> None:
    r = Recorder()
    _hooks.register(r)
    _hooks.register(r)
    assert _hooks.observers == (r,)
    _hooks.unregister(r)
    _hooks.unregister(r)
    assert len(_hooks.observers) == 0
