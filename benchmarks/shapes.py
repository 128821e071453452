"""Chunk shapes real servers send, as bytes: used by the lean server and the sans-IO benchmark.

- `groq`: Groq's own stream: `x_groq` only on the first and last chunk.
- `openai`: OpenAI's: `service_tier`, `"usage":null` and a random per-chunk `obfuscation`.
- `repeated-xgroq`: a server that repeats `x_groq`, `"usage":null` and a changing `created`
  on every chunk.
"""

from __future__ import annotations

import random

SHAPES = ("groq", "openai", "repeated-xgroq")


class Shape:
    """Pre-encoded pieces of one request's chunks in a given shape (`payload(k)` is chunk k's
    JSON, without the `data: ` framing; chunk k's content is `" <k>"`)."""

    def __init__(self, name: str, cid: bytes, seed: int = 0) -> None:
        if name not in SHAPES:
            raise ValueError(f"unknown shape {name!r}: one of {', '.join(SHAPES)}")
        self.name = name
        self.cid = cid
        self._rng = random.Random(seed)
        head = b'{"id":"' + cid + b'","object":"chat.completion.chunk",'
        if name == "openai":
            head += b'"created":1730000000,"model":"bench","service_tier":"default",'
        else:
            head += b'"created":1730000000,"model":"bench",'
        self.head = head + b'"system_fingerprint":"fp_bench","choices":[{"index":0,"delta":'

    def payload(self, k: int) -> bytes:
        """Chunk k: one content token."""
        body = self.head + b'{"content":" %d"},"logprobs":null,"finish_reason":null}]' % k
        if self.name == "groq":
            return body + b"}"
        if self.name == "openai":
            noise = "".join(self._rng.choice("abcdefghXYZ0123") for _ in range(k % 9 + 2))
            return body + b',"usage":null,"obfuscation":"' + noise.encode() + b'"}'
        created = b'"created":%d' % (1730000000 + k // 4)
        return (
            body.replace(b'"created":1730000000', created)
            + b',"x_groq":{"id":"req_'
            + self.cid
            + b'"},"usage":null}'
        )

    def role(self) -> bytes:
        """The first chunk: the assistant role, and Groq's `x_groq.id`."""
        return (
            self.head + b'{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],'
            b'"x_groq":{"id":"req_' + self.cid + b'"}}'
        )

    def last(self, usage: bytes) -> bytes:
        """The finishing chunk with the usage object."""
        return (
            self.head
            + b'{},"logprobs":null,"finish_reason":"stop"}],"x_groq":{"id":"req_'
            + self.cid
            + b'","usage":'
            + usage
            + b"}}"
        )
