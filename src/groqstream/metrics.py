"""Sans-IO per-stream latency metrics, named as vLLM's and NVIDIA genai-perf's tools name them.

- TTFT: request sent → first chunk carrying content, reasoning or tool-call text.
- ITL: gaps between consecutive output-carrying chunks (one gap per chunk, whatever its tokens;
  chunks that arrived in the same network read share a stamp, so their gap is 0).
- TPOT: (E2EL − TTFT) / (output tokens − 1), output tokens from the server's usage if given.
- E2EL: request sent → end of stream. Output tokens/s: output tokens / (E2EL − TTFT).

Every stamp is only as good as the event loop that took it: a loop busy elsewhere when bytes
arrive stamps them late. `LagTrace` keeps what the loop-lag monitor (`_looplag.py`) saw, and
each stream's `loop_lag_s` is the bound it gives for that stream's stamps.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from .types import Usage

__all__ = ["LAG_SUSPECT_S", "ConnectionCost", "LagTrace", "StreamMetrics", "compute_metrics"]

_NS = 1e9

LAG_SUSPECT_S = 0.005
"""A stream whose loop-lag bound exceeds this (5 ms) is marked `lag_suspect`: its stamps may
be late by that much, so its TTFT and ITL say as much about the client as the server."""


class LagTrace:
    """Sans-IO: the event loop's lateness over time, answering "how late could a stamp taken
    since instant t have been?" (O(1) amortised per sample, O(log n) per question).

    Fed `add(at_ns, late_ns)` by a periodic timer (a timer due at `due` that ran at `at_ns`
    was `late_ns` late: the loop was busy that long). It keeps only the samples that can still
    be a maximum — each sample outranks every older one it is at least as large as — so the
    worst lateness since any instant is the oldest kept sample at or after it. Samples older
    than `horizon_ns` are dropped: memory is bounded whatever the run's length.
    """

    __slots__ = ("_at", "_late", "horizon_ns", "period_ns")

    def __init__(self, period_ns: int, horizon_ns: int = 600 * 1_000_000_000) -> None:
        self.period_ns = period_ns
        self.horizon_ns = horizon_ns
        self._at: list[int] = []
        self._late: list[int] = []

    def __len__(self) -> int:
        return len(self._at)

    def add(self, at_ns: int, late_ns: int) -> None:
        """One timer sample: it fired at `at_ns`, `late_ns` after it was due."""
        at, late = self._at, self._late
        while late and late[-1] <= late_ns:
            at.pop()
            late.pop()
        at.append(at_ns)
        late.append(late_ns)
        if at[0] < at_ns - self.horizon_ns:
            cut = 1
            while cut < len(at) and at[cut] < at_ns - self.horizon_ns:
                cut += 1
            del at[:cut], late[:cut]

    def worst_since(self, start_ns: int) -> int:
        """The largest lateness sampled at or after `start_ns` (0 if none): the oldest kept
        sample from then on (a binary search)."""
        i = bisect_left(self._at, start_ns)
        return self._late[i] if i < len(self._late) else 0

    def bound_since(self, start_ns: int, late_now_ns: int = 0) -> float:
        """Seconds a stamp taken since `start_ns` may be late by: the worst lateness sampled
        (or `late_now_ns`, a lateness still in progress) plus one period, the longest a shorter
        stall can hide between two samples."""
        return (max(self.worst_since(start_ns), late_now_ns) + self.period_ns) / _NS


class ConnectionCost(Protocol):
    """What the transport tells a stream about its connection (see `StreamMetrics`)."""

    reused: bool | None
    connect_s: float | None
    tls_s: float | None
    tls_resumed: bool | None
    stale_resend: bool


@dataclass(slots=True, frozen=True)
class StreamMetrics:
    """The latency of one stream as the client saw it, beside the server's own timings.

    Times are in seconds. `ttft_s`, `tpot_s` and `output_tokens_per_s` are None when the
    stream carried too little output to define them. `server_*` fields come from the
    server's usage (Groq's `x_groq.usage`, llama.cpp's `timings`) and are None otherwise.
    For reasoning models, `time_to_first_reasoning_s` is request sent → first reasoning
    text and `time_to_first_answer_s` request sent → first answer (content) text; TTFT is the
    earlier of the two (or of a tool call's first fragment).

    The connection: `connection_reused` (a pooled one: no connect, no handshake paid; None
    when unknown), else `connect_s` (DNS and TCP) and `tls_s` (the TLS handshake; None over
    plain HTTP), inside
    TTFT; `tls_resumed` when the handshake resumed a session; `stale_resend` when the
    request was re-sent because its pooled connection had been closed by the server (the
    re-send's connection is the one described).
    """

    ttft_s: float | None
    itl_s: list[float]
    tpot_s: float | None
    e2el_s: float
    output_tokens: int
    output_tokens_per_s: float | None
    chunks: int
    prompt_tokens: int | None = None
    server_queue_s: float | None = None
    server_prompt_s: float | None = None
    server_completion_s: float | None = None
    server_total_s: float | None = None
    connect_s: float | None = None
    tls_s: float | None = None
    tls_resumed: bool | None = None
    connection_reused: bool | None = None
    stale_resend: bool = False
    start_ns: int = 0
    end_ns: int = 0
    time_to_first_reasoning_s: float | None = None
    time_to_first_answer_s: float | None = None
    output_ns: list[int] = field(default_factory=list, repr=False, compare=False)
    loop_lag_s: float | None = None

    @property
    def lag_suspect(self) -> bool:
        """True when the loop-lag bound exceeds `LAG_SUSPECT_S`: this stream's stamps may be
        late by more than that (the client, not the server, may own part of its latency)."""
        return self.loop_lag_s is not None and self.loop_lag_s > LAG_SUSPECT_S

    @property
    def ttft_network_client_s(self) -> float | None:
        """TTFT less the server's queue and prompt-processing times (Groq's `x_groq.usage`)
        and less what opening a connection cost (`connect_s`, `tls_s`, when this stream paid
        them): the network both ways and the client's own cost. None without those timings."""
        if self.ttft_s is None or self.server_queue_s is None or self.server_prompt_s is None:
            return None
        opening = (self.connect_s or 0.0) + (self.tls_s or 0.0)
        return self.ttft_s - self.server_queue_s - self.server_prompt_s - opening

    def ttft_split(self) -> dict[str, float] | None:
        """TTFT split into `connect` (DNS and TCP, 0 on a reused connection), `tls` (the
        handshake), `queue` (the server's queue), `prompt` (its prompt processing) and
        `network` (the network both ways + the client), in seconds; None when the server gave
        no timings."""
        queue, prompt, rest = self.server_queue_s, self.server_prompt_s, self.ttft_network_client_s
        if queue is None or prompt is None or rest is None:
            return None
        return {
            "connect": self.connect_s or 0.0,
            "tls": self.tls_s or 0.0,
            "queue": queue,
            "prompt": prompt,
            "network": rest,
        }

    @property
    def network_s(self) -> float | None:
        """E2EL minus the server's total time: what network, queueing outside it, and the
        client cost (None when the server gives no total)."""
        if self.server_total_s is None:
            return None
        return self.e2el_s - self.server_total_s

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (without the raw arrival stamps)."""
        d = asdict(self)
        d.pop("output_ns", None)
        d["network_s"] = self.network_s
        d["ttft_network_client_s"] = self.ttft_network_client_s
        d["lag_suspect"] = self.lag_suspect
        return d


def compute_metrics(
    start_ns: int,
    end_ns: int,
    output_ns: list[int],
    usage: Usage | None = None,
    loop_lag_s: float | None = None,
    *,
    first_reasoning_ns: int | None = None,
    first_answer_ns: int | None = None,
    connection: ConnectionCost | None = None,
) -> StreamMetrics:
    """Compute `StreamMetrics` from the request's send stamp, its end stamp, the arrival stamp
    of each output-carrying chunk, the server's usage (all stamps `perf_counter_ns()`), the
    loop-lag bound over the stream's life and what the `connection` cost."""
    n = len(output_ns)
    e2el = (end_ns - start_ns) / _NS
    ttft = (output_ns[0] - start_ns) / _NS if n else None
    itl = [(output_ns[i] - output_ns[i - 1]) / _NS for i in range(1, n)]
    tokens = n
    if usage is not None and usage.completion_tokens is not None:
        tokens = usage.completion_tokens
    tpot: float | None = None
    tps: float | None = None
    if ttft is not None:
        decode = e2el - ttft
        if tokens > 1:
            tpot = decode / (tokens - 1)
        if decode > 0 and tokens > 0:
            tps = tokens / decode
    c = connection
    return StreamMetrics(
        ttft_s=ttft,
        itl_s=itl,
        tpot_s=tpot,
        e2el_s=e2el,
        output_tokens=tokens,
        output_tokens_per_s=tps,
        chunks=n,
        prompt_tokens=usage.prompt_tokens if usage else None,
        server_queue_s=usage.queue_time if usage else None,
        server_prompt_s=usage.prompt_time if usage else None,
        server_completion_s=usage.completion_time if usage else None,
        server_total_s=usage.total_time if usage else None,
        connect_s=c.connect_s if c else None,
        tls_s=c.tls_s if c else None,
        tls_resumed=c.tls_resumed if c else None,
        connection_reused=c.reused if c else None,
        stale_resend=c.stale_resend if c else False,
        start_ns=start_ns,
        end_ns=end_ns,
        time_to_first_reasoning_s=(
            (first_reasoning_ns - start_ns) / _NS if first_reasoning_ns is not None else None
        ),
        time_to_first_answer_s=(
            (first_answer_ns - start_ns) / _NS if first_answer_ns is not None else None
        ),
        output_ns=output_ns,
        loop_lag_s=loop_lag_s,
    )
