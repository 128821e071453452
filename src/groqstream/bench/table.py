"""The summary table that `bench`, `batch` and `report` print: one row per concurrency level,
read from vLLM-named figures (`LatencyReport.to_dict()` or a saved `c<N>.json`), written as a
Markdown table padded to line up in a terminal, so it can be printed a row at a time and
pasted into a document as it is."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .fmt import count, ms, rate

__all__ = ["CAPTION", "Column", "columns", "header", "notes", "row", "table"]

Summary = Mapping[str, Any]


class Column:
    """One column: its heading, width and how it reads a summary."""

    __slots__ = ("get", "title", "width")

    def __init__(self, title: str, get: Callable[[Summary], str], width: int = 0) -> None:
        self.title = title
        self.get = get
        self.width = max(width, len(title))


def _ms(key: str) -> Callable[[Summary], str]:
    return lambda d: ms(d.get(key))


def columns(*, goodput: bool, label: str = "c") -> list[Column]:
    """The table's columns; the goodput column only when SLOs were given."""
    cols = [
        Column(label, lambda d: str(d.get("max_concurrency", "–")), 4),
        Column("ok", lambda d: count(d.get("completed")), 6),
        Column("failed", lambda d: count(d.get("failed"))),
        Column("req/s", lambda d: rate(d.get("request_throughput")), 7),
        Column("out tok/s", lambda d: rate(d.get("output_throughput"))),
    ]
    if goodput:
        cols.append(Column("goodput req/s", lambda d: rate(d.get("request_goodput"))))
    for title, key in (
        ("TTFT p50", "median_ttft_ms"),
        ("TTFT p99", "p99_ttft_ms"),
        ("ITL p50", "median_itl_ms"),
        ("ITL p99", "p99_itl_ms"),
        ("TPOT p50", "median_tpot_ms"),
        ("E2EL p50", "median_e2el_ms"),
        ("E2EL p99", "p99_e2el_ms"),
    ):
        cols.append(Column(title, _ms(key)))
    return cols


def _line(cells: Sequence[str], cols: Sequence[Column]) -> str:
    padded = [cells[0].ljust(cols[0].width)]
    padded += [c.rjust(col.width) for c, col in zip(cells[1:], cols[1:], strict=True)]
    return "| " + " | ".join(padded) + " |"


CAPTION = "latencies (TTFT, ITL, TPOT, E2EL) in ms"


def header(cols: Sequence[Column]) -> str:
    """The caption, the heading line and the alignment line."""
    rule = ["-" * (cols[0].width + 2)] + ["-" * (c.width + 1) + ":" for c in cols[1:]]
    heading = _line([c.title for c in cols], cols)
    return f"{CAPTION}:\n{heading}\n|" + "|".join(rule) + "|"


def row(summary: Summary, cols: Sequence[Column]) -> str:
    """One level's line."""
    return _line([c.get(summary) for c in cols], cols)


def table(summaries: Sequence[Summary], cols: Sequence[Column]) -> str:
    """The heading and every row."""
    return "\n".join([header(cols), *(row(s, cols) for s in summaries)])


def notes(summary: Summary, label: str) -> list[str]:
    """What a row cannot show: the server/network split, errors by kind, warnings."""
    out = []
    split = summary.get("server_split_ms")
    if isinstance(split, Mapping):
        out.append(
            f"{label}: E2EL {ms(split.get('e2el_ms'))} ms = server {ms(split.get('server_ms'))} ms"
            f" + network, queue and client {ms(split.get('network_queue_ms'))} ms (means)"
        )
    ttft = summary.get("ttft_split_ms")
    if isinstance(ttft, Mapping):
        out.append(
            f"{label}: TTFT = connect {ms(ttft.get('connect_ms'))} ms + TLS "
            f"{ms(ttft.get('tls_ms'))} ms + server queue {ms(ttft.get('queue_ms'))} ms + prompt "
            f"{ms(ttft.get('prompt_ms'))} ms + network and client {ms(ttft.get('network_ms'))} ms"
            " (means)"
        )
    bound = summary.get("p99_stamp_lag_ms")
    if bound is not None:
        out.append(
            f"{label}: stamps good to ± {ms(bound)} ms (p99 of each stream's loop-lag bound; "
            f"max {ms(summary.get('max_stamp_lag_ms'))} ms)"
        )
    kinds = summary.get("failures_by_kind") or {}
    if kinds:
        listed = ", ".join(f"{k} × {v:,}" for k, v in sorted(kinds.items()))
        out.append(f"{label}: errors: {listed}")
    for w in summary.get("warnings") or ():
        if "requests failed" not in w:
            out.append(f"{label}: warning: {w}")
    return out
