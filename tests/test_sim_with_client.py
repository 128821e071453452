"""What a user's code sees through groqstream's client when the simulator refuses or spoils a
request — Groq's refusals and every fault, for `stream()` and `complete()` alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import groqstream.errors
from groqstream import (
    APIConnectionError,
    BadRequestError,
    Client,
    ContentTypeError,
    InternalServerError,
    NotFoundError,
    ProtocolError,
)
from groqstream.models import GPT_OSS_20B
from groqstream.models import KIMI_K2_INSTRUCT as KIMI
from groqstream.testing import Fault, SimulatedServer


@pytest.fixture
async def fast() -> AsyncIterator[SimulatedServer]:
    async with SimulatedServer(ttft=0, tokens_per_second=0, output_tokens=8) as srv:
        yield srv


async def test_unknown_model_reaches_the_user_as_not_found(fast: SimulatedServer) -> None:
    async with Client(base_url=fast.base_url) as client:
        with pytest.raises(NotFoundError) as s_info:
            async with client.stream(model="gpt-4o", prompt="hi") as s:
                await s.until_done()
        with pytest.raises(NotFoundError) as c_info:
            await client.complete(model="gpt-4o", prompt="hi")
    for err in (s_info.value, c_info.value):
        assert err.status == 404 and err.code == "model_not_found"
        assert "The model `gpt-4o` does not exist" in err.message
    assert fast.stats.requests_total == 2  # a 404 is not retried


async def test_n_above_one_is_a_bad_request(fast: SimulatedServer) -> None:
    async with Client(base_url=fast.base_url) as client:
        with pytest.raises(BadRequestError) as info:
            await client.complete(model=KIMI, prompt="hi", n=2)
    assert "'n'" in info.value.message


async def test_max_tokens_is_the_exact_reply_length_through_the_client(
    fast: SimulatedServer,
) -> None:
    """A benchmark that asks for 256 output tokens gets 256, reasoning included."""
    async with Client(base_url=fast.base_url) as client:
        async with client.stream(model=GPT_OSS_20B, prompt="long", max_tokens=256) as s:
            await s.until_done()
        c = await client.complete(model=GPT_OSS_20B, prompt="long", max_completion_tokens=256)
    assert s.usage is not None and s.usage.completion_tokens == 256
    assert s.metrics.output_tokens == 256 and s.finish_reason == "length"
    assert s.reasoning is not None
    assert len(s.reasoning.split()) + len(s.text.split()) == 256
    assert c.usage is not None and c.usage.completion_tokens == 256
    assert c.finish_reason == "length"


async def test_complete_cut_mid_body_is_a_connection_error(fast: SimulatedServer) -> None:
    fast.faults.append(Fault.cut())
    async with Client(base_url=fast.base_url, max_retries=0) as client:
        with pytest.raises(APIConnectionError):
            await client.complete(model=KIMI, prompt="hi")


async def test_complete_cut_is_retried_when_retries_are_allowed(fast: SimulatedServer) -> None:
    fast.faults.append(Fault.cut())
    async with Client(base_url=fast.base_url, max_retries=1) as client:
        c = await client.complete(model=KIMI, prompt="hi")
    assert c.text and c.attempts == 2


@pytest.mark.parametrize("kind", ["malformed_json", "end_early"])
async def test_complete_truncated_body_is_a_protocol_error(
    fast: SimulatedServer, kind: str
) -> None:
    fast.faults.append(Fault(kind))
    async with Client(base_url=fast.base_url, max_retries=0) as client:
        with pytest.raises(ProtocolError):
            await client.complete(model=KIMI, prompt="hi")


async def test_complete_error_object_in_a_200_is_typed_by_its_type(
    fast: SimulatedServer,
) -> None:
    fast.faults.append(
        Fault.stream_error(error_type="invalid_request_error", code="tool_use_failed")
    )
    async with Client(base_url=fast.base_url, max_retries=0) as client:
        with pytest.raises(BadRequestError) as info:
            await client.complete(model=KIMI, prompt="hi")
    assert info.value.code == "tool_use_failed"


async def test_complete_html_and_status_faults(fast: SimulatedServer) -> None:
    async with Client(base_url=fast.base_url, max_retries=0) as client:
        fast.faults.append(Fault.html(status=200))
        with pytest.raises(ContentTypeError):
            await client.complete(model=KIMI, prompt="hi")
        fast.faults.append(Fault.html(status=502))
        with pytest.raises(InternalServerError):
            await client.complete(model=KIMI, prompt="hi")
        fast.faults.append(Fault.status(500, message="boom"))
        with pytest.raises(InternalServerError) as info:
            await client.complete(model=KIMI, prompt="hi")
    assert "boom" in info.value.message


@pytest.mark.parametrize("stream", [False, True])
async def test_flex_capacity_exceeded_is_typed(fast: SimulatedServer, stream: bool) -> None:
    cls = getattr(groqstream.errors, "CapacityExceededError")  # noqa: B009 (client work adds it)
    fast.faults.append(Fault.capacity_exceeded())
    async with Client(base_url=fast.base_url, max_retries=0) as client:
        with pytest.raises(cls) as info:
            if stream:
                async with client.stream(model=KIMI, prompt="hi", service_tier="flex") as s:
                    await s.until_done()
            else:
                await client.complete(model=KIMI, prompt="hi", service_tier="flex")
    assert info.value.status == 498 and info.value.code == "capacity_exceeded"
    assert fast.requests[-1].body["service_tier"] == "flex"
