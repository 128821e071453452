"""Relaying a tool loop (`client.run_tools(...)`) to a browser, round after round.

The pump reads the loop's typed events and feeds the same encoders a single stream uses:
reasoning and text deltas, tool inputs as they stream, each complete call, each tool's output,
the sources a compound model's built-in tools cite, then a step boundary between rounds
(`finish-step`/`start-step` in the Vercel protocol, `step` in plain SSE), and one `done` (or
`error`) at the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import GroqStreamError
from ..tools import (
    ExecutedToolsDelta,
    Final,
    ReasoningDelta,
    RoundDone,
    TextDelta,
    ToolCallArgumentsDelta,
    ToolCallDone,
    ToolCallStarted,
    ToolEvent,
    ToolResult,
)
from ..types import Delta, ToolCall
from .encoders import Encoder, StreamEnd

if TYPE_CHECKING:
    from ..tools import ToolRun
    from .pump import Pump

__all__ = ["pump_tools"]


class _Feed:
    """Turns one loop event into encoder calls (holding each round's complete calls until
    the first output, so the inputs are announced before any output)."""

    def __init__(self, enc: Encoder, out: list[bytes], include_metrics: bool) -> None:
        self.enc = enc
        self.out = out
        self.metrics = include_metrics
        self.calls: list[ToolCall] = []
        self.indexes: dict[str, int] = {}

    def flush(self) -> None:
        if self.calls:
            self.enc.tool_calls(self.calls, self.out)
            self.calls = []

    def take(self, ev: ToolEvent) -> None:  # noqa: C901 - one branch per event type
        enc, out = self.enc, self.out
        if not isinstance(ev, ToolCallDone):
            self.flush()
        if isinstance(ev, TextDelta):
            enc.delta(Delta(ev.text), out)
        elif isinstance(ev, ReasoningDelta):
            enc.delta(Delta("", ev.text), out)
        elif isinstance(ev, ToolCallStarted):
            self.indexes[ev.call_id] = ev.index
            frag = {"index": ev.index, "id": ev.call_id, "function": {"name": ev.name}}
            enc.delta(Delta(tool_calls=[frag]), out)
        elif isinstance(ev, ToolCallArgumentsDelta):
            frag = {"index": self.indexes.get(ev.call_id, 0), "function": {"arguments": ev.delta}}
            enc.delta(Delta(tool_calls=[frag]), out)
        elif isinstance(ev, ToolCallDone):
            self.calls.append(ev.call)
        elif isinstance(ev, ToolResult):
            enc.tool_output(ev, out)
        elif isinstance(ev, ExecutedToolsDelta):
            enc.executed_tools(ev.tools, out)
        elif isinstance(ev, RoundDone) and ev.tool_calls:
            if self.metrics:
                enc.metrics(ev.metrics, out)
            self.indexes.clear()
            enc.step(out)

    def final(self, ev: Final) -> None:
        last = ev.rounds[-1]
        if self.metrics:
            self.enc.metrics(last.metrics, self.out, final=True)
        end = StreamEnd(last.finish_reason, last.usage, None, None)
        self.enc.done(end, self.out)


async def pump_tools(
    pump: Pump, run: ToolRun, enc: Encoder, *, include_metrics: bool = True
) -> None:
    """Producer: run the tool loop and encode its events; its error ends the relay."""
    out = pump.events
    feed = _Feed(enc, out, include_metrics)
    try:
        enc.open(out)
        pump.wake()
        async for ev in run:
            if isinstance(ev, Final):
                feed.final(ev)
            else:
                feed.take(ev)
            pump.wake()
    except GroqStreamError as e:
        feed.flush()
        enc.error(e, out)
    finally:
        await run.aclose()
