"""relay() and the aiohttp adapter over real loopback sockets, against the simulated server."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from _ui_helpers import aiohttp_site, poll, read_sse
from groqstream import ChatStream, Client, StreamState
from groqstream.errors import ConfigError
from groqstream.sse import SSEDecoder
from groqstream.testing import Fault, SimulatedServer
from groqstream.ui import aiohttp_response, relay
from groqstream.ui.relay import METRICS_INTERVAL

MODEL = "openai/gpt-oss-20b"


async def test_relay_carries_the_whole_stream(client: Client) -> None:
    s = client.stream(model=MODEL, prompt="hello there")
    chunks = [c async for c in relay(s)]
    events = SSEDecoder().feed(b"".join(chunks))
    ids = [int(e.id or 0) for e in events]
    assert ids == list(range(1, len(events) + 1))
    text = "".join(e.json()["text"] for e in events if e.event == "content")
    reasoning = "".join(e.json()["text"] for e in events if e.event == "reasoning")
    assert text == s.text and text and reasoning == s.reasoning
    *_, final, done = events
    assert final.event == "metrics" and final.json()["final"] is True
    d = done.json()
    assert done.event == "done" and d["finish_reason"] == "stop"
    assert d["request_id"] == s.request_id and d["model"] == MODEL
    assert d["usage"]["completion_tokens"] == s.usage.completion_tokens  # type: ignore[union-attr]
    assert s.finished


async def test_metrics_at_most_every_250ms_and_once_at_the_end(server: SimulatedServer) -> None:
    server.tokens_per_second = 400.0
    server.output_tokens = 300  # about 0.8 s of tokens
    async with Client(base_url=server.base_url) as c:
        s = c.stream(model=MODEL, prompt="metrics", stream_options={"include_usage": True})
        events = SSEDecoder().feed(b"".join([x async for x in relay(s)]))
    metrics = [e.json() for e in events if e.event == "metrics"]
    assert [m["final"] for m in metrics].count(True) == 1 and metrics[-1]["final"]
    live = metrics[:-1]
    assert len(live) >= 2
    # Judged by the deltas' own arrival stamps, two live metrics are >= 250 ms apart.
    gaps = [b["elapsed_s"] - a["elapsed_s"] for a, b in itertools.pairwise(live)]
    assert all(g >= METRICS_INTERVAL - 1e-6 for g in gaps), gaps
    # Every ITL gap is sent exactly once across the metrics events.
    sent = [x for m in metrics for x in m["itl_s"]]
    assert sent == [round(x, 6) for x in s.metrics.itl_s]
    assert metrics[0]["ttft_s"] == pytest.approx(s.metrics.ttft_s, abs=1e-6)


async def test_no_metrics_when_turned_off(client: Client) -> None:
    s = client.stream(model=MODEL, prompt="quiet")
    data = b"".join([c async for c in relay(s, include_metrics=False)])
    assert b"event: metrics" not in data and b"event: done" in data


async def test_keepalive_comments_while_the_model_is_silent(server: SimulatedServer) -> None:
    server.ttft = 0.5
    async with Client(base_url=server.base_url) as c:
        data = b"".join([x async for x in relay(c.stream(model=MODEL, prompt="x"), keepalive=0.1)])
    head = data[: data.index(b"id: 1\n")]
    assert head.count(b": keep-alive\n\n") >= 2 and head.replace(b": keep-alive\n\n", b"") == b""


async def test_error_before_the_first_token_is_an_error_event(server: SimulatedServer) -> None:
    server.faults.append(Fault.status(400, message="bad model"))
    async with Client(base_url=server.base_url, max_retries=0) as c:
        events = SSEDecoder().feed(b"".join([x async for x in relay(c.stream(prompt="x"))]))
    (e,) = events
    assert e.event == "error" and e.id == "1"
    d = e.json()
    assert d["type"] == "BadRequestError" and d["partial"] is False and d["status"] == 400
    assert "bad model" in d["message"]


async def test_mid_stream_error_says_partial_text_was_delivered(server: SimulatedServer) -> None:
    server.faults.append(Fault.stream_error(after_chunks=20, message="overloaded"))
    async with Client(base_url=server.base_url) as c:
        s = c.stream(model=MODEL, prompt="x")
        events = SSEDecoder().feed(b"".join([x async for x in relay(s)]))
    assert events[-1].event == "error"
    d = events[-1].json()
    assert d["partial"] is True and "overloaded" in d["message"]
    assert "".join(e.json()["text"] for e in events if e.event == "content") == s.text


async def test_bad_protocol_and_keepalive_are_config_errors(client: Client) -> None:
    s = client.stream(prompt="x")
    with pytest.raises(ConfigError, match="protocol"):
        relay(s, protocol="websocket")
    with pytest.raises(ConfigError, match="keepalive"):
        relay(s, keepalive=0)
    s.close()


async def test_relay_closed_before_iteration_closes_the_stream(
    client: Client, server: SimulatedServer
) -> None:
    s = client.stream(prompt="never")
    r = relay(s)
    await r.aclose()
    assert [c async for c in r] == []
    assert server.stats.requests_total == 0


async def test_relay_aclose_mid_stream_cancels_upstream(server: SimulatedServer) -> None:
    server.tokens_per_second = 50.0
    server.output_tokens = 500
    async with Client(base_url=server.base_url) as c:
        async with relay(c.stream(model=MODEL, prompt="long")) as r:
            async for chunk in r:
                if b"event: content" in chunk:
                    break
        await poll(lambda: server.requests[0].outcome == "client_disconnected", 10, "cancel")


# --- the aiohttp adapter ---------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def app_for(client: Client, streams: list[ChatStream], **kw: Any) -> web.Application:
    async def handler(request: web.Request) -> web.StreamResponse:
        s = client.stream(model=MODEL, prompt=request.query.get("p", "hi"))
        streams.append(s)
        return await aiohttp_response(request, s, **kw)

    app = web.Application()
    app.router.add_get("/chat", handler)
    return app


@pytest.mark.parametrize("protocol", ["sse", "vercel"])
async def test_aiohttp_response_headers_and_body(client: Client, protocol: str) -> None:
    streams: list[ChatStream] = []
    app = app_for(client, streams, protocol=protocol, headers={"X-Extra": "1"})
    async with aiohttp_site(app) as url, aiohttp.ClientSession() as http:
        async with http.get(url + "/chat") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/event-stream"
            assert resp.headers["Cache-Control"] == "no-cache"
            assert resp.headers["X-Accel-Buffering"] == "no"
            assert resp.headers["X-Extra"] == "1"
            vercel = resp.headers.get("x-vercel-ai-ui-message-stream")
            assert vercel == ("v1" if protocol == "vercel" else None)
            body = await resp.read()
    assert body.endswith(b"data: [DONE]\n\n" if protocol == "vercel" else b"\n\n")
    assert streams[0].finished


@pytest.mark.parametrize("handler_cancellation", [False, True])
@pytest.mark.parametrize("silent", [False, True], ids=["tokens-flowing", "model-silent"])
async def test_browser_disconnect_cancels_upstream(
    server: SimulatedServer, handler_cancellation: bool, silent: bool
) -> None:
    """Whether or not the app cancels handlers, and even while no token is being written.
    (How fast — a fraction of a second — is a benchmark's business; here: long before the
    20 s answer would have ended by itself.)"""
    server.tokens_per_second = 100.0
    server.output_tokens = 2000
    if silent:
        server.faults.append(Fault.stall(after_chunks=3, seconds=60.0))
    streams: list[ChatStream] = []
    async with Client(base_url=server.base_url) as c:
        app = app_for(c, streams, keepalive=None)
        async with (
            aiohttp_site(app, handler_cancellation=handler_cancellation) as url,
            aiohttp.ClientSession() as http,
        ):
            resp = await http.get(url + "/chat")
            read = await read_sse(resp, stop=lambda r: len(r.named("reasoning")) >= 3)
            assert len(read.named("reasoning")) >= 3
            await poll(
                lambda: server.requests[0].outcome == "client_disconnected", 10, "upstream cancel"
            )
            await poll(lambda: streams[0].state is StreamState.CLOSED, 10, "stream closed")
            assert server.requests[0].content_chunks_sent < 2000
