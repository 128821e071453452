"""Relaying tool loops and compound replies in the plain SSE protocol (the Vercel one is checked
by the real `ai` parser in test_ui_vercel.py): the same events — reasoning, tool inputs as they
stream, each call, each output, sources, one `step` per new round, `done` or `error`."""

from __future__ import annotations

from typing import Any

from groqstream import Client, ToolUseFailedError
from groqstream.sse import SSEDecoder
from groqstream.testing import Fault, SimulatedServer
from groqstream.ui import relay

MODEL = "openai/gpt-oss-20b"
ASK = [{"role": "user", "content": "Weather in Paris?"}]


async def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"city": city, "temperature": 21}


def _events(chunks: list[bytes]) -> list[Any]:
    return SSEDecoder().feed(b"".join(chunks))


async def test_sse_relay_of_a_tool_loop(client: Client) -> None:
    run = client.run_tools(ASK, tools=[get_weather], model=MODEL)
    events = _events([c async for c in relay(run)])
    names = [e.event for e in events]
    assert [int(e.id) for e in events] == list(range(1, len(events) + 1))
    final = run.final
    assert final is not None
    (call,) = final.rounds[0].tool_calls
    start = events[names.index("tool_input_start")].json()
    assert start == {"id": call.id, "name": "get_weather", "index": 0}
    deltas = "".join(e.json()["delta"] for e in events if e.event == "tool_input_delta")
    assert deltas == call.arguments
    assert events[names.index("tool_call")].json()["arguments"] == call.arguments
    result = events[names.index("tool_result")].json()
    assert result["id"] == call.id and result["error"] is None
    assert '"temperature":21' in result["output"]
    assert names.index("tool_call") < names.index("tool_result") < names.index("step")
    assert events[names.index("step")].json() == {"round": 2}
    text = "".join(e.json()["text"] for e in events if e.event == "content")
    assert text == final.text
    assert names[-1] == "done" and events[-1].json()["finish_reason"] == "stop"
    assert names.count("reasoning") > 1


async def test_sse_relay_of_a_failed_tool_loop_ends_with_an_error(
    client: Client, server: SimulatedServer
) -> None:
    server.faults.append(Fault.tool_use_failed("<function=get_weather{}>"))
    run = client.run_tools(ASK, tools=[get_weather], model=MODEL)
    events = _events([c async for c in relay(run)])
    err = events[-1].json()
    assert events[-1].event == "error"
    assert err["type"] == ToolUseFailedError.__name__ and err["status"] == 400


async def test_sse_relay_of_compound_sources(client: Client) -> None:
    s = client.stream(model="groq/compound", prompt="groq news")
    events = _events([c async for c in relay(s)])
    sources = [e.json() for e in events if e.event == "source"]
    (tool,) = s.executed_tools
    assert [(x["url"], x["title"]) for x in sources] == tool.sources
    assert {x["tool"] for x in sources} == {"search"}
