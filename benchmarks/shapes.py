"""Chunk shapes real servers send, as bytes: used by the lean server and the sans-IO benchmark.

- `groq`: Groq's own stream: `x_groq` only on the first and last chunk.
- `openai`: OpenAI's: `service_tier`, `"usage":null` and a random per-chunk `obfuscation`.
- `repeated-xgroq`: a server that repeats `x_groq`, `"usage":null` and a changing `created`
  on every chunk.

Every chunk k carries the content `" <k>"`, so a client can say which send each arrival is.
"""

from __future__ import annotations

import random

SHAPES = ("groq", "openai", "repeated-xgroq")

# OpenAI's obfuscation strings vary in length and content chunk by chunk; a fixed cycle of
# random ones keeps the server's cost per chunk to a few bytes joins.
_NOISE = [
    "".join(random.Random(i).choice("abcdefghXYZ0123") for _ in range(2 + i % 9)).encode()
    for i in range(61)
]


class Shape:
    """Pre-encoded pieces of one request's chunks in a given shape: `payload(k)` is chunk
    k's JSON (without the `data: ` framing), `role()` the first chunk, `last(usage)` the
    finishing one."""

    def __init__(self, name: str, cid: bytes) -> None:
        if name not in SHAPES:
            raise ValueError(f"unknown shape {name!r}: one of {', '.join(SHAPES)}")
        self.name = name
        self.cid = cid
        tier = b'"service_tier":"default",' if name == "openai" else b""
        self._a = b'{"id":"' + cid + b'","object":"chat.completion.chunk","created":'
        self._b = b',"model":"bench",' + tier + b'"system_fingerprint":"fp_bench","choices":['
        self._b += b'{"index":0,"delta":'
        self.head = self._a + b"1730000000" + self._b
        self._xgroq = b',"x_groq":{"id":"req_' + cid + b'"},"usage":null}'

    def payload(self, k: int) -> bytes:
        """Chunk k: one content token."""
        text = b'{"content":" %d"},"logprobs":null,"finish_reason":null}]' % k
        if self.name == "groq":
            return self.head + text + b"}"
        if self.name == "openai":
            return self.head + text + b',"usage":null,"obfuscation":"' + _NOISE[k % 61] + b'"}'
        return self._a + b"%d" % (1730000000 + k // 4) + self._b + text + self._xgroq

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
