"""The simulated server refuses what Groq refuses, lists its models, and spoils non-streaming
replies with faults — checked with plain aiohttp requests (not groqstream's client), so the
server is held to Groq's wire format on its own."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import orjson
import pytest

from groqstream.testing import ANY_MODEL, GROQ_MODELS, Fault, ModelInfo, SimulatedServer

KIMI = "moonshotai/kimi-k2-instruct"
GPT_OSS_20B = "openai/gpt-oss-20b"
HI = [{"role": "user", "content": "hi"}]


async def post(
    srv: SimulatedServer, body: Any, *, raw: bytes | None = None
) -> tuple[int, Mapping[str, str], Any]:
    """POST to /chat/completions; (status, headers (case-insensitive), parsed JSON body)."""
    async with aiohttp.ClientSession() as s:
        kw: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
        async with s.post(srv.base_url + "/chat/completions", **kw) as r:
            return r.status, r.headers, orjson.loads(await r.read())


@pytest.fixture
async def srv() -> AsyncIterator[SimulatedServer]:
    async with SimulatedServer(ttft=0, tokens_per_second=0, output_tokens=8) as server:
        yield server


@pytest.mark.parametrize("stream", [False, True])
async def test_unknown_model_is_groqs_404_model_not_found(
    srv: SimulatedServer, stream: bool
) -> None:
    status, headers, body = await post(srv, {"model": "m", "messages": HI, "stream": stream})
    assert status == 404
    assert body == {
        "error": {
            "message": "The model `m` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "code": "model_not_found",
        }
    }
    assert headers["content-type"] == "application/json"
    assert headers["x-request-id"].startswith("req_")
    rec = srv.requests[-1]
    assert (rec.status, rec.outcome) == (404, "error")
    assert srv.stats.streams_active == 0 and srv.stats.status_counts == {404: 1}


@pytest.mark.parametrize(
    ("patch", "param", "problem"),
    [
        ({"messages": None}, "messages", "property 'messages' is missing"),
        ({"messages": []}, "messages", "minimum number of items is 1"),
        ({"messages": "hello"}, "messages", "value must be an array"),
        ({"messages": ["hello"]}, "messages.0", "value must be an object"),
        ({"messages": [{"content": "hi"}]}, "messages.0", "property 'role' is missing"),
        ({"model": None}, "model", "property 'model' is missing"),
        ({"model": 7}, "model", "value must be a string"),
        ({"max_tokens": 0}, "max_tokens", "number must be at least 1"),
        ({"max_tokens": -5}, "max_tokens", "number must be at least 1"),
        ({"max_tokens": "10"}, "max_tokens", "value must be an integer"),
        ({"max_tokens": 2.5}, "max_tokens", "value must be an integer"),
        ({"max_tokens": True}, "max_tokens", "value must be an integer"),
        ({"max_completion_tokens": 0}, "max_completion_tokens", "number must be at least 1"),
        ({"max_completion_tokens": [8]}, "max_completion_tokens", "value must be an integer"),
        ({"n": 2}, "n", "number must be at most 1"),
        ({"n": 0}, "n", "number must be at least 1"),
        ({"n": "1"}, "n", "value must be an integer"),
    ],
)
async def test_bad_parameters_are_400_invalid_request_error(
    srv: SimulatedServer, patch: dict[str, Any], param: str, problem: str
) -> None:
    req = {"model": GPT_OSS_20B, "messages": HI, **patch}
    req = {k: v for k, v in req.items() if v is not None}
    for stream in (False, True):
        status, _, body = await post(srv, {**req, "stream": stream})
        assert status == 400
        assert body == {
            "error": {
                "message": f"'{param}' : {problem}",
                "type": "invalid_request_error",
                "param": param,
            }
        }
    assert srv.stats.requests_total == 2 and srv.stats.streams_active == 0
    assert all(r.outcome == "error" for r in srv.requests)


@pytest.mark.parametrize("raw", [b"{nope", b"", b'{"model": "x"', b"\xff\xfe"])
async def test_malformed_json_is_400(srv: SimulatedServer, raw: bytes) -> None:
    status, _, body = await post(srv, None, raw=raw)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert "not valid JSON" in body["error"]["message"]


@pytest.mark.parametrize("raw", [b"[]", b'"hello"', b"null", b"3"])
async def test_a_body_that_is_not_an_object_is_400(srv: SimulatedServer, raw: bytes) -> None:
    status, _, body = await post(srv, None, raw=raw)
    assert status == 400 and "must be a JSON object" in body["error"]["message"]


async def test_valid_edge_values_are_accepted(srv: SimulatedServer) -> None:
    for extra in ({"n": 1}, {"max_tokens": None, "n": None}, {"max_completion_tokens": 1}):
        status, _, body = await post(srv, {"model": KIMI, "messages": HI, **extra})
        assert status == 200, (extra, body)


async def test_token_cap_above_the_models_limit_is_400(srv: SimulatedServer) -> None:
    limit = {m.id: m.max_completion_tokens for m in GROQ_MODELS}[KIMI]
    assert limit == 16_384
    status, _, body = await post(
        srv, {"model": KIMI, "messages": HI, "max_completion_tokens": limit + 1}
    )
    assert status == 400 and body["error"]["param"] == "max_completion_tokens"
    assert "less than or equal to `16384`" in body["error"]["message"]
    status, _, body = await post(srv, {"model": KIMI, "messages": HI, "max_tokens": limit})
    assert status == 200 and body["usage"]["completion_tokens"] == limit


async def test_a_refused_request_leaves_the_scripted_fault_for_the_next() -> None:
    async with SimulatedServer(ttft=0, tokens_per_second=0) as srv:
        srv.faults.append(Fault.status(503))
        assert (await post(srv, {"model": "nope", "messages": HI}))[0] == 404
        assert (await post(srv, {"model": KIMI, "messages": HI}))[0] == 503


async def test_models_option_any_or_own_list() -> None:
    async with SimulatedServer(ttft=0, tokens_per_second=0, models=ANY_MODEL) as srv:
        status, _, body = await post(srv, {"model": "my-finetune", "messages": HI})
        assert status == 200 and body["model"] == "my-finetune"
    own: list[str | ModelInfo] = ["my-model", ModelInfo("big", max_completion_tokens=4)]
    async with SimulatedServer(ttft=0, tokens_per_second=0, models=own) as srv:
        assert (await post(srv, {"model": "my-model", "messages": HI}))[0] == 200
        assert (await post(srv, {"model": GPT_OSS_20B, "messages": HI}))[0] == 404
        assert (await post(srv, {"model": "big", "messages": HI, "max_tokens": 5}))[0] == 400
    async with SimulatedServer(ttft=0, tokens_per_second=0, models="solo") as srv:
        assert (await post(srv, {"model": "solo", "messages": HI}))[0] == 200
        assert (await post(srv, {"model": "s", "messages": HI}))[0] == 404
    with pytest.raises(TypeError, match='models="\\*"'):
        SimulatedServer(models=None)  # type: ignore[arg-type]


@pytest.mark.parametrize("prefix", ["/openai/v1", "/v1"])
async def test_models_endpoint_in_groqs_shape(prefix: str) -> None:
    async with SimulatedServer() as srv, aiohttp.ClientSession() as s:
        root = srv.base_url.removesuffix("/openai/v1") + prefix
        async with s.get(root + "/models") as r:
            assert r.status == 200 and r.headers["content-type"] == "application/json"
            listing = await r.json()
        async with s.get(root + "/models/openai/gpt-oss-120b") as r:
            one = await r.json()
        async with s.get(root + "/models/nope") as r:
            assert r.status == 404 and (await r.json())["error"]["code"] == "model_not_found"
    assert listing["object"] == "list"
    ids = [m["id"] for m in listing["data"]]
    assert {GPT_OSS_20B, "openai/gpt-oss-120b", KIMI} <= set(ids)
    assert ids == [m.id for m in GROQ_MODELS]
    for m in listing["data"]:
        assert set(m) == {
            "id",
            "object",
            "created",
            "owned_by",
            "active",
            "context_window",
            "public_apps",
            "max_completion_tokens",
        }
        assert m["object"] == "model" and m["active"] is True
    assert one["id"] == "openai/gpt-oss-120b" and one["owned_by"] == "OpenAI"


async def test_models_endpoint_needs_the_key_when_the_server_has_one() -> None:
    async with SimulatedServer(api_key="k") as srv, aiohttp.ClientSession() as s:
        for path in ("/models", "/models/openai/gpt-oss-20b"):
            async with s.get(srv.base_url + path) as r:
                assert r.status == 401
                assert (await r.json())["error"]["code"] == "invalid_api_key"
            async with s.get(srv.base_url + path, headers={"Authorization": "Bearer k"}) as r:
                assert r.status == 200


async def test_models_endpoint_lists_own_models_and_answers_any() -> None:
    async with SimulatedServer(models=["a", "b"]) as srv, aiohttp.ClientSession() as s:
        async with s.get(srv.base_url + "/models") as r:
            assert [m["id"] for m in (await r.json())["data"]] == ["a", "b"]
    async with SimulatedServer(models="*") as srv, aiohttp.ClientSession() as s:
        async with s.get(srv.base_url + "/models/whatever") as r:
            assert r.status == 200 and (await r.json())["id"] == "whatever"


# --- faults on non-streaming requests --------------------------------------------------------


async def test_non_streaming_cut_aborts_mid_body(srv: SimulatedServer) -> None:
    srv.faults.append(Fault.cut())
    async with aiohttp.ClientSession() as s:
        async with s.post(
            srv.base_url + "/chat/completions", json={"model": KIMI, "messages": HI}
        ) as r:
            assert r.status == 200
            length = int(r.headers["content-length"])
            with pytest.raises(aiohttp.ClientPayloadError):
                await r.read()
    assert length > 100
    assert srv.requests[-1].outcome == "fault"
    await srv.wait_idle()  # the aborted connection is not counted as open


@pytest.mark.parametrize("kind", ["malformed_json", "end_early"])
async def test_non_streaming_truncated_body(srv: SimulatedServer, kind: str) -> None:
    srv.faults.append(Fault(kind))
    async with aiohttp.ClientSession() as s:
        async with s.post(
            srv.base_url + "/chat/completions", json={"model": KIMI, "messages": HI}
        ) as r:
            raw = await r.read()  # the body ends cleanly, but mid-JSON
            assert r.status == 200 and r.headers["content-type"] == "application/json"
            chunked = r.headers.get("transfer-encoding") == "chunked"
    assert raw.startswith(b'{"id":"chatcmpl-')
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)
    assert chunked == (kind == "end_early")
    assert srv.requests[-1].outcome == "fault"


async def test_non_streaming_error_object_in_a_200(srv: SimulatedServer) -> None:
    srv.faults.append(
        Fault.stream_error(error_type="invalid_request_error", code="tool_use_failed")
    )
    status, _, body = await post(srv, {"model": KIMI, "messages": HI})
    assert status == 200
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["code"] == "tool_use_failed" and body["error"]["message"]


async def test_non_streaming_stall_sends_headers_then_the_body_later() -> None:
    async with SimulatedServer(ttft=0, tokens_per_second=0) as srv, aiohttp.ClientSession() as s:
        srv.faults.append(Fault.stall(seconds=0.3))
        async with s.post(
            srv.base_url + "/chat/completions", json={"model": KIMI, "messages": HI}
        ) as r:
            headers_at = time.perf_counter()
            body = await r.json()
            body_at = time.perf_counter()
    assert body["object"] == "chat.completion"
    assert body_at - headers_at >= 0.25  # a lower bound: load can only stretch it


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (Fault.status(503, retry_after=2), 503),
        (Fault.html(502), 502),
        (Fault.capacity_exceeded(), 498),
    ],
)
async def test_status_faults_apply_to_non_streaming(
    srv: SimulatedServer, fault: Fault, status: int
) -> None:
    srv.faults.append(fault)
    async with aiohttp.ClientSession() as s:
        async with s.post(
            srv.base_url + "/chat/completions", json={"model": KIMI, "messages": HI}
        ) as r:
            assert r.status == status
            if fault.kind == "html":
                assert r.headers["content-type"].startswith("text/html")
            else:
                assert (await r.json())["error"]["message"]


async def test_delay_headers_applies_to_non_streaming() -> None:
    async with SimulatedServer(ttft=0, tokens_per_second=0) as srv, aiohttp.ClientSession() as s:
        srv.faults.append(Fault.delay_headers(0.3))
        start = time.perf_counter()
        async with s.post(
            srv.base_url + "/chat/completions", json={"model": KIMI, "messages": HI}
        ) as r:
            assert r.status == 200
            waited = time.perf_counter() - start
    assert waited >= 0.25


@pytest.mark.parametrize("stream", [False, True])
async def test_capacity_exceeded_is_groqs_flex_498(srv: SimulatedServer, stream: bool) -> None:
    srv.faults.append(Fault.capacity_exceeded())
    req = {"model": KIMI, "messages": HI, "stream": stream, "service_tier": "flex"}
    status, headers, body = await post(srv, req)
    assert status == 498
    assert body["error"]["type"] == "capacity_exceeded"
    assert body["error"]["code"] == "capacity_exceeded"
    assert "capacity" in body["error"]["message"].lower()
    assert "retry-after" not in headers  # flex fails fast; no wait is suggested
    sim = {"kind": "capacity_exceeded", "retry_after": 3}
    status, headers, body = await post(srv, {**req, "sim_fault": sim})
    assert status == 498 and headers["retry-after"] == "3"
    assert body["error"]["code"] == "capacity_exceeded"
    assert srv.stats.status_counts == {498: 2}
    assert [r.outcome for r in srv.requests] == ["fault", "fault"]
