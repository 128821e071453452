"""RelayHub: resume after a cut connection (Last-Event-ID), cancel after the TTL, bounds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

from _ui_helpers import Read, aiohttp_site, poll, read_sse
from groqstream import ChatStream, Client
from groqstream.errors import ConfigError
from groqstream.testing import SimulatedServer
from groqstream.ui import BadLastEventId, RelayHub, RelayHubFull, RelayNotFound

MODEL = "openai/gpt-oss-20b"


@dataclass
class HubSite:
    url: str
    hub: RelayHub
    client: Client

    def start(self, prompt: str = "resume me", **kw: Any) -> tuple[str, ChatStream]:
        s = self.client.stream(model=MODEL, prompt=prompt, **kw)
        return self.hub.start(s), s


@pytest.fixture
async def site(server: SimulatedServer) -> AsyncIterator[HubSite]:
    server.tokens_per_second = 200.0
    server.output_tokens = 150  # ~0.8 s of tokens: a connection can be cut mid-stream
    async with Client(base_url=server.base_url) as c, RelayHub(ttl=5.0) as hub:

        async def serve(request: web.Request) -> web.StreamResponse:
            return await hub.aiohttp_response(request, request.match_info["key"])

        app = web.Application()
        app.router.add_get("/s/{key}", serve)
        async with aiohttp_site(app) as url:
            yield HubSite(url, hub, c)


async def fetch(
    http: aiohttp.ClientSession, url: str, last: int | str | None = None, stop: int | None = None
) -> Read:
    headers = {"Last-Event-ID": str(last)} if last is not None else {}
    async with http.get(url, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return await read_sse(
            resp, None if stop is None else lambda r: len(r.named("content")) >= stop
        )


async def test_cut_and_resume_loses_and_repeats_nothing(
    site: HubSite, server: SimulatedServer
) -> None:
    key, s = site.start()
    async with aiohttp.ClientSession() as http:
        first = await fetch(http, f"{site.url}/s/{key}", stop=5)
        assert first.raw.startswith(b"retry: 1000\n\n")
        last = first.ids[-1]
        # the stream goes on while nobody is attached (waited for, not slept on)
        await poll(lambda: len(s.text) > len(first.text()), 10, "the stream to go on")
        second = await fetch(http, f"{site.url}/s/{key}", last=last)
    assert second.ids[0] == last + 1  # replay starts right after the last event seen
    ids = first.ids + second.ids
    assert ids == list(range(1, len(ids) + 1))  # every event once, in order
    text = first.text() + second.text()
    assert text == s.text and s.finished
    assert first.text("reasoning") + second.text("reasoning") == s.reasoning
    assert second.events[-1].event == "done"
    # reconnected within the TTL: not cancelled (the server notes the end just after sending it)
    await poll(lambda: server.requests[0].outcome == "completed", 10, "the stream to complete")


async def test_two_clients_see_the_same_events(site: HubSite) -> None:
    key, s = site.start()
    async with aiohttp.ClientSession() as http:
        async with anyio.create_task_group() as tg:
            reads: list[Read] = []

            async def one() -> None:
                reads.append(await fetch(http, f"{site.url}/s/{key}"))

            tg.start_soon(one)
            tg.start_soon(one)
    a, b = reads
    assert a.events == b.events and a.text() == s.text


async def test_finished_stream_replays_from_any_id_then_says_204(site: HubSite) -> None:
    key, s = site.start()
    async with aiohttp.ClientSession() as http:
        whole = await fetch(http, f"{site.url}/s/{key}")
        tail = await fetch(http, f"{site.url}/s/{key}", last=whole.ids[-3])
        assert tail.ids == whole.ids[-2:]
        async with http.get(
            f"{site.url}/s/{key}", headers={"Last-Event-ID": str(whole.ids[-1])}
        ) as r:
            assert r.status == 204  # tells an EventSource to stop reconnecting
    assert whole.text() == s.text


@pytest.mark.parametrize("bad", ["abc", "-1", "99999", "1.5"])
async def test_bad_last_event_id_is_a_400(site: HubSite, bad: str) -> None:
    key, _ = site.start()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{site.url}/s/{key}", headers={"Last-Event-ID": bad}) as r:
            assert r.status == 400
            body = await r.json()
    assert body["error"]["type"] == "BadLastEventId"
    with pytest.raises(BadLastEventId):
        site.hub.subscribe(key, bad)


async def test_unknown_key_is_a_404(site: HubSite) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{site.url}/s/nope") as r:
        assert r.status == 404
        assert (await r.json())["error"]["type"] == "RelayNotFound"
    with pytest.raises(RelayNotFound):
        site.hub.subscribe("nope")


async def test_no_client_for_the_ttl_cancels_upstream(server: SimulatedServer) -> None:
    server.tokens_per_second = 50.0
    server.output_tokens = 2000
    async with Client(base_url=server.base_url) as c, RelayHub(ttl=0.3) as hub:
        key = hub.start(c.stream(model=MODEL, prompt="nobody listens"))
        await poll(
            lambda: bool(server.requests) and server.requests[0].outcome == "streaming", 5, "start"
        )
        await poll(lambda: server.requests[0].outcome == "client_disconnected", 5, "TTL cancel")
        assert key not in hub and len(hub) == 0


async def test_client_gone_longer_than_the_ttl_cancels_upstream(server: SimulatedServer) -> None:
    server.tokens_per_second = 50.0
    server.output_tokens = 2000
    async with Client(base_url=server.base_url) as c, RelayHub(ttl=0.3) as hub:

        async def serve(request: web.Request) -> web.StreamResponse:
            return await hub.aiohttp_response(request, request.match_info["key"])

        app = web.Application()
        app.router.add_get("/s/{key}", serve)
        key = hub.start(c.stream(model=MODEL, prompt="cut me"))
        async with aiohttp_site(app) as url, aiohttp.ClientSession() as http:
            first = await fetch(http, f"{url}/s/{key}", stop=2)
            assert server.requests[0].outcome == "streaming"  # attached: the TTL did not run
            await poll(lambda: server.requests[0].outcome == "client_disconnected", 5, "TTL")
            async with http.get(
                f"{url}/s/{key}", headers={"Last-Event-ID": str(first.ids[-1])}
            ) as r:
                assert r.status == 404  # forgotten


async def test_attached_client_keeps_the_stream_past_the_ttl(server: SimulatedServer) -> None:
    server.tokens_per_second = 100.0
    server.output_tokens = 80  # ~1 s, longer than the TTL
    async with Client(base_url=server.base_url) as c, RelayHub(ttl=0.2) as hub:
        s = c.stream(model=MODEL, prompt="stay")
        key = hub.start(s)
        sub = hub.subscribe(key)
        data = b"".join([chunk async for chunk in sub])
    assert b"event: done" in data and s.finished
    assert server.requests[0].outcome == "completed"


async def test_hub_is_bounded(server: SimulatedServer) -> None:
    server.tokens_per_second = 20.0
    server.output_tokens = 500
    async with Client(base_url=server.base_url) as c, RelayHub(ttl=30, max_streams=2) as hub:
        k1 = hub.start(c.stream(model=MODEL, prompt="a"))
        hub.start(c.stream(model=MODEL, prompt="b"))
        third = c.stream(model=MODEL, prompt="c")
        with pytest.raises(RelayHubFull):
            hub.start(third)
        third.close()
        assert hub.cancel(k1) and not hub.cancel(k1)
        hub.start(c.stream(model=MODEL, prompt="d"))
        assert len(hub) == 2


async def test_finished_unattached_streams_make_room(client: Client) -> None:
    async with RelayHub(ttl=30, max_streams=1) as hub:
        s = client.stream(model=MODEL, prompt="short")
        k1 = hub.start(s)
        await poll(lambda: hub.finished_for(k1, str(2**62)), 10, "the relay to finish")
        k2 = hub.start(client.stream(model=MODEL, prompt="next"))
        assert k1 not in hub and k2 in hub


async def test_hub_config_errors(client: Client) -> None:
    with pytest.raises(ConfigError):
        RelayHub(ttl=0)
    with pytest.raises(ConfigError):
        RelayHub(max_streams=0)
    async with RelayHub() as hub:
        s = client.stream(prompt="x")
        hub.start(s, key="k")
        with pytest.raises(ConfigError, match="already"):
            hub.start(client.stream(prompt="y"), key="k")
        with pytest.raises(ConfigError, match="protocol"):
            hub.start(client.stream(prompt="z"), protocol="nope")


async def test_finished_streams_replay_buffers_are_bounded_in_bytes(client: Client) -> None:
    async with RelayHub(ttl=30, max_finished_bytes=1) as hub:
        keys: list[str] = []
        for prompt in ("one", "two"):
            key = hub.start(client.stream(model=MODEL, prompt=prompt))
            keys.append(key)
            await poll(lambda: hub.finished_for(keys[-1], str(2**62)), 10, "the relay to finish")
        attached = hub.subscribe(keys[1])  # a client still reading the second
        k3 = hub.start(client.stream(model=MODEL, prompt="three"))
        assert keys[0] not in hub  # finished, unattached, over the bound: forgotten
        assert keys[1] in hub and k3 in hub  # an attached one is kept; the new one runs
        await attached.aclose()
    async with RelayHub(ttl=30) as roomy:
        key = roomy.start(client.stream(model=MODEL, prompt="one"))
        await poll(lambda: roomy.finished_for(key, str(2**62)), 10, "the relay to finish")
        roomy.start(client.stream(model=MODEL, prompt="two"))
        assert key in roomy  # the default bound (256 MiB) keeps a small finished stream


@pytest.mark.parametrize("bad", [-1, 1.5, True, "9"])
def test_a_bad_byte_bound_is_a_config_error(bad: object) -> None:
    with pytest.raises(ConfigError, match="max_finished_bytes"):
        RelayHub(max_finished_bytes=bad)  # type: ignore[arg-type]
