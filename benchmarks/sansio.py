"""Sans-IO cost per chunk: SSE framing + chunk assembly, no sockets, for every chunk shape.

Feeds pre-built bytes through `SSEDecoder.feed_payloads` + `ChunkAssembler.feed`, one chunk
per read (the regime of a real network) and 16 per read (a fast local server), and beside it
the work a careful raw loop does (split lines, `orjson.loads` each, read the content).
Figures are the best of `--repeat` runs, in µs of CPU per chunk.

    python benchmarks/sansio.py [--chunks 20000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import orjson

from groqstream.chunks import ChunkAssembler
from groqstream.sse import SSEDecoder
from shapes import SHAPES, Shape


def stream_reads(shape: str, chunks: int, per_read: int) -> list[bytes]:
    """One stream's bytes in reads of `per_read` chunks each."""
    s = Shape(shape, b"chatcmpl-1")
    events = [b"data: " + s.role() + b"\n\n"]
    events += [b"data: " + s.payload(k) + b"\n\n" for k in range(chunks)]
    events += [b"data: " + s.last(b'{"completion_tokens":1}') + b"\n\n", b"data: [DONE]\n\n"]
    return [b"".join(events[i : i + per_read]) for i in range(0, len(events), per_read)]


def groqstream_parse(reads: list[bytes]) -> int:
    dec, asm = SSEDecoder(), ChunkAssembler()
    n = 0
    for i, data in enumerate(reads):
        n += len(asm.feed(dec.feed_payloads(data), i))
    assert asm.error is None
    assert asm.done
    return n


def raw_loop(reads: list[bytes]) -> int:
    """What a careful hand-written loop does per line: find lines, parse each, take the text."""
    n = 0
    buf = b""
    for data in reads:
        buf += data
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            obj = orjson.loads(line[6:])
            choices = obj["choices"]
            if choices and choices[0]["delta"].get("content"):
                n += 1
    return n


def best_us_per_chunk(
    fn: Callable[[list[bytes]], int], reads: list[bytes], chunks: int, repeat: int
) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn(reads)
        best = min(best, time.process_time() - t)
    return best / chunks * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chunks", type=int, default=20_000)
    p.add_argument("--repeat", type=int, default=7)
    a = p.parse_args()
    print("| shape | chunks per read | groqstream µs/chunk | raw loop µs/chunk | × raw |")
    print("|---|---:|---:|---:|---:|")
    for shape in SHAPES:
        for per_read in (1, 16):
            reads = stream_reads(shape, a.chunks, per_read)
            g = best_us_per_chunk(groqstream_parse, reads, a.chunks, a.repeat)
            r = best_us_per_chunk(raw_loop, reads, a.chunks, a.repeat)
            print(f"| {shape} | {per_read} | {g:.2f} | {r:.2f} | {r / g:.2f} |")


if __name__ == "__main__":
    main()
