"""The two-round weather tool loop against a real llama.cpp server (opt-in) and against the
simulator speaking llama.cpp's dialect (always).

The real one runs when `GROQSTREAM_LLAMACPP_URL` is the base URL (ending in `/v1`) of a
`llama-server --jinja -m <tools-capable GGUF>` (e.g. a Qwen2.5/Qwen3 or Llama 3.x instruct
GGUF), and `GROQSTREAM_LLAMACPP_MODEL` optionally names the model. CI cannot start one: no
llama.cpp server binary and no tools-capable GGUF can be installed from the registries CI
reaches (PyPI has llama-cpp-python only as source, Debian ships no llama.cpp, and model weights
are not on a package registry), so there it is skipped with that reason.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from groqstream import Client, Final, Timeouts
from groqstream.testing import SimulatedServer

ASK = [{"role": "user", "content": "What is the weather in Paris? Use the tool."}]
LLAMACPP_URL = os.environ.get("GROQSTREAM_LLAMACPP_URL")
CALLS: list[str] = []


async def get_weather(city: str) -> dict[str, Any]:
    """Get the current weather for a city.

    Args:
        city: The name of the city, e.g. "Paris".
    """
    CALLS.append(city)
    return {"city": city, "temperature_c": 21, "sky": "clear"}


def _check(final: Final, requests: list[dict[str, Any]] | None = None) -> None:
    assert len(final.rounds) >= 2 and final.rounds[0].tool_calls
    assert final.text.strip()
    assistant = final.messages[1]
    assert assistant["role"] == "assistant" and assistant["tool_calls"]
    ids = [c["id"] for c in assistant["tool_calls"]]
    tools = [m for m in final.messages[2:] if m["role"] == "tool"][: len(ids)]
    assert [t["tool_call_id"] for t in tools] == ids
    if requests is not None:
        assert requests[1]["messages"][: 2 + len(ids)] == final.messages[: 2 + len(ids)]


async def test_weather_loop_against_the_llamacpp_dialect() -> None:
    async with (
        SimulatedServer(dialect="llamacpp", models="*", ttft=0.001, tokens_per_second=0) as srv,
        Client(base_url=srv.base_url) as client,
    ):
        final = await client.run_tools(ASK, tools=[get_weather], model="qwen2.5").until_done()
    _check(final, [r.body for r in srv.requests])
    assert final.rounds[0].usage is not None  # llama.cpp's usage and timings are kept
    assert final.rounds[0].metrics.server_completion_s is not None


@pytest.mark.skipif(
    not LLAMACPP_URL,
    reason="set GROQSTREAM_LLAMACPP_URL to a llama-server --jinja with a tools-capable GGUF; "
    "neither can be installed from PyPI, Debian or npm",
)
async def test_weather_loop_against_a_real_llamacpp_server() -> None:
    CALLS.clear()
    model = os.environ.get("GROQSTREAM_LLAMACPP_MODEL", "default")
    timeouts = Timeouts(first_byte=120.0, idle=60.0, total=600.0)
    async with Client(base_url=LLAMACPP_URL, timeout=timeouts) as client:
        final = await client.run_tools(
            ASK, tools=[get_weather], model=model, temperature=0, max_rounds=4
        ).until_done()
    _check(final)
    assert CALLS and "paris" in CALLS[0].lower()
