"""Shared by the batch and Ray tests: Batch API input files and checks of exactly-once output."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from groqstream._stats import percentile
from groqstream.batch import errors_path_for

MODEL = "moonshotai/kimi-k2-instruct"  # no reasoning: output tokens = max_tokens


def write_input(path: Path, n: int, **body_extra: Any) -> list[str]:
    """n Batch API request lines with custom_ids req-00000…; returns the ids."""
    ids = [f"req-{i:05d}" for i in range(n)]
    with path.open("wb") as f:
        for cid in ids:
            line = {
                "custom_id": cid,
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": MODEL,
                    "messages": [{"role": "user", "content": f"say something about {cid}"}],
                    "max_tokens": 4,
                    **body_extra,
                },
            }
            f.write(orjson.dumps(line) + b"\n")
    return ids


def lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a file ([] if absent)."""
    if not path.exists():
        return []
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


def assert_exactly_once(out: Path, ids: list[str]) -> list[dict[str, Any]]:
    """Every id once in the output or its errors file, nothing else; returns the output."""
    ok, bad = lines(out), lines(errors_path_for(out))
    seen = Counter(x["custom_id"] for x in ok + bad)
    twice = [cid for cid, n in seen.items() if n > 1]
    assert not twice, f"{len(twice)} custom_ids written more than once, e.g. {twice[:5]}"
    assert sorted(seen) == sorted(ids), f"{len(set(ids) - set(seen))} missing"
    return ok


def rank_value(values: list[float], q: float) -> float:
    """numpy's (and vLLM's) percentile, which a sketch's percentile is within its accuracy of."""
    return percentile(sorted(values), q * 100)
