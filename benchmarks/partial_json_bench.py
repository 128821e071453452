"""What `stream.partial()` costs: a 256 KB JSON document streamed in 4-byte deltas.

    python benchmarks/partial_json_bench.py            # x1 and x4, baseline at x1 (~1 min)
    python benchmarks/partial_json_bench.py --quick    # a 64 KB document

Measured in CPU time (`time.process_time`), best of 3 for `partial()`:
- `partial()`: groqstream's `stream.partial()` reading deltas (an in-memory stream stands in
  for the network, so only the parsing and the yielded snapshots are timed), for the document
  at size x1 and x4: linear work means x4 costs about 4 times x1 (the claim: at most 5).
- re-parse per delta: what openai-python's streaming structured output does — on each delta,
  parse the whole buffer so far with `jiter.from_json(..., partial_mode="trailing-strings")`
  (jiter is Rust; the cost is the square of the document, not the language). Run once, at x1.
Writes benchmarks/results/partial_json.json and partial_json.md. Needs: pip install jiter
(it comes with the `bench` extra's openai).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import platform
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from groqstream.structured import iter_partial
from groqstream.types import Delta

HERE = Path(__file__).parent
DELTA = 4


def document(target_bytes: int) -> str:
    """A JSON object of records (strings, numbers, booleans, arrays) of about `target_bytes`."""
    items = []
    size = 0
    i = 0
    while size < target_bytes:
        item = {
            "id": i,
            "name": f"item number {i}",
            "price": round(i * 1.25, 2),
            "tags": ["alpha", "beta", "gamma"][: 1 + i % 3],
            "in_stock": i % 2 == 0,
            "note": 'a short note with an "escaped" quote' if i % 7 == 0 else None,
        }
        items.append(item)
        size += len(json.dumps(item)) + 1
        i += 1
    return json.dumps({"items": items, "count": len(items)})


class _Stream:
    """Just what `iter_partial` reads from a `ChatStream`: deltas, then `text`/`finish_reason`."""

    def __init__(self, text: str) -> None:
        self._deltas = [Delta(text[i : i + DELTA]) for i in range(0, len(text), DELTA)]
        self.text = text
        self.finish_reason = "stop"

    def __aiter__(self) -> AsyncIterator[Delta]:
        return self._gen()

    async def _gen(self) -> AsyncIterator[Delta]:
        for d in self._deltas:
            yield d


async def _drain_partial(text: str) -> Any:
    last = None
    async for p in iter_partial(_Stream(text)):
        last = p.value
    return last


def time_partial(text: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        value = asyncio.run(_drain_partial(text))
        best = min(best, time.process_time() - t0)
        assert value == json.loads(text)
    return best


def time_reparse(text: str) -> float:
    import jiter

    t0 = time.process_time()
    buf = ""
    value: Any = None
    for i in range(0, len(text), DELTA):
        buf += text[i : i + DELTA]
        value = jiter.from_json(buf.encode(), partial_mode="trailing-strings")
    elapsed = time.process_time() - t0
    assert value == json.loads(text)
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a 64 KB document")
    args = ap.parse_args()
    base = 64 * 1024 if args.quick else 256 * 1024
    x1, x4 = document(base), document(4 * base)
    p1 = time_partial(x1, 3)
    p4 = time_partial(x4, 3)
    rp = time_reparse(x1)
    result = {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "delta_bytes": DELTA,
        "x1_bytes": len(x1),
        "x4_bytes": len(x4),
        "partial_x1_cpu_s": round(p1, 4),
        "partial_x4_cpu_s": round(p4, 4),
        "growth_x4": round(p4 / p1, 2),
        "reparse_x1_cpu_s": round(rp, 3),
        "speedup_vs_reparse": round(rp / p1, 1),
    }
    name = "partial_json_quick" if args.quick else "partial_json"
    (HERE / "results" / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    md = (
        f"# stream.partial(): {len(x1) // 1024} KB of JSON in {DELTA}-byte deltas\n\n"
        f"`python benchmarks/partial_json_bench.py{' --quick' if args.quick else ''}` — CPU seconds "
        f"(Python {result['python']}, {result['machine']}, {result['when']})\n\n"
        "| | CPU s |\n|---|---|\n"
        f"| partial(), x1 ({len(x1):,} bytes) | {p1:.3f} |\n"
        f"| partial(), x4 ({len(x4):,} bytes) | {p4:.3f} (x{p4 / p1:.2f}) |\n"
        f"| re-parse the buffer per delta (jiter partial mode), x1 | {rp:.2f} "
        f"({rp / p1:.0f}x partial()) |\n"
    )
    (HERE / "results" / f"{name}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
