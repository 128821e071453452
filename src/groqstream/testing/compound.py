"""Groq compound models (`groq/compound`, `groq/compound-mini`): the built-in tools they run on
the server, streamed as `delta.executed_tools`, and `x_groq.usage_breakdown`.

A compound reply first says which tool it runs (`index`, `type`, `arguments`), then, in a
later chunk for the same `index`, what the tool returned (`output`, `search_results`) —
the shapes of groq-python's `ExecutedTool`.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

__all__ = ["COMPOUND_MODELS", "executed_tool_deltas", "usage_breakdown"]

COMPOUND_MODELS = frozenset({"groq/compound", "groq/compound-mini"})
_AGENT_MODEL = "openai/gpt-oss-120b"


def executed_tool_deltas(query: str, rng: random.Random) -> list[dict[str, Any]]:
    """The deltas of one web search: its start, then its results."""
    slug = "-".join(query.lower().split()[:4]) or "result"
    args = orjson.dumps({"query": query}).decode()
    results = [
        {
            "title": f"{query} — source {i + 1}",
            "url": f"https://example.com/{slug}/{i + 1}",
            "content": f"What source {i + 1} says about {query}.",
            "score": round(0.9 - 0.1 * i - rng.random() / 100, 4),
        }
        for i in range(2)
    ]
    start = {"index": 0, "type": "search", "arguments": args}
    done = {
        **start,
        "output": "\n".join(f"{r['title']}: {r['content']}" for r in results),
        "search_results": {"results": results},
    }
    return [
        {"reasoning": "I will search the web.", "executed_tools": [start]},
        {"executed_tools": [done]},
    ]


def usage_breakdown(usage: dict[str, Any]) -> dict[str, Any]:
    """`x_groq.usage_breakdown`: the compound system's usage per model it ran."""
    return {"models": [{"model": _AGENT_MODEL, "usage": usage}]}
