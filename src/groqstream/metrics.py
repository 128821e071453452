"""Sans-IO per-stream latency metrics, named as vLLM's and NVIDIA genai-perf's tools name them.

- TTFT: request sent → first chunk carrying content, reasoning or tool-call text.
- ITL: gaps between consecutive output-carrying chunks (one gap per chunk, whatever its tokens;
  chunks that arrived in the same network read share a stamp, so their gap is 0).
- TPOT: (E2EL − TTFT) / (output tokens − 1), output tokens from the server's usage if given.
- E2EL: request sent → end of stream. Output tokens/s: output tokens / (E2EL − TTFT).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from .types import Usage

__all__ = ["ConnectionCost", "StreamMetrics", "compute_metrics"]

_NS = 1e9


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

    The connection: `connection_reused` (a pooled one: no connect, no handshake paid; None
    when unknown), else `connect_s` (DNS and TCP) and `tls_s` (the TLS handshake; None over
    plain HTTP, and with your own `ssl.SSLContext`, when `connect_s` holds both), inside
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
    output_ns: list[int] = field(default_factory=list, repr=False, compare=False)

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
        return d


def compute_metrics(
    start_ns: int,
    end_ns: int,
    output_ns: list[int],
    usage: Usage | None = None,
    connection: ConnectionCost | None = None,
) -> StreamMetrics:
    """Compute `StreamMetrics` from the request's send stamp, its end stamp, the arrival stamp
    of each output-carrying chunk, and the server's usage (all stamps `perf_counter_ns()`),
    and what the `connection` cost."""
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
        output_ns=output_ns,
    )
