"""Fast paths for chunk parsing: each gives exactly what `chunks.py` would, or declines.

DESIGN: sans-IO, below `chunks.py`'s `ChunkAssembler`, which owns what a chunk *means*. Nothing
here decides meaning; it only recognises bytes that provably mean the same as bytes already
understood:

- A `Template` is learned from one chunk that `ChunkAssembler.apply` found *plain* (its only
  effect was one piece of text for one choice). A later chunk that is byte-for-byte the same
  apart from that text is the same object with another text, so only the text's JSON string
  is parsed. When the server also varies fields the assembler ignores after the first chunk
  (OpenAI's per-chunk `obfuscation`, a changing `created`), those scalar values become holes of
  a compiled pattern that must match the whole chunk.
- `parse_array` parses a read's plain payloads with one `orjson.loads` of a JSON array, and
  declines (None) when the result is not one object per payload.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from .types import Delta

__all__ = ["Template", "learn", "parse_array", "run"]

_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError

# One JSON string or number token, for the holes of a pattern. A string hole cannot contain an
# unescaped quote, so it spans exactly one token and the bytes after it must match literally.
_STRING = rb'"(?:[^"\\]++|\\.)*+"'
_NUMBER = rb"-?(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?(?:[eE][+-]?[0-9]++)?"
_NUMBER_RE = re.compile(_NUMBER)


class Template:
    """The bytes around the text of a plain one-choice chunk.

    `prefix`/`suffix` are the fixed bytes before and after the text's JSON string. When the
    server also varies fields the assembler ignores, the first chunk that does not fit
    `prefix`/`suffix` but does hold the text's key makes the template locate those fields'
    values in the learned chunk and compile `pattern`, which matches a whole chunk with them
    as tokens and the text's string as group 1 (its fixed bytes are the same for every
    request of a server, so `re`'s cache makes compiling a one-off). `content` says whether
    the text is content (True) or reasoning (False); `index` is the choice.
    """

    __slots__ = (
        "_ignorable",
        "_raw",
        "_text",
        "content",
        "index",
        "key",
        "pattern",
        "prefix",
        "suffix",
    )

    def __init__(
        self,
        raw: bytes,
        key: bytes,
        text: tuple[int, int],
        ignorable: dict[str, Any],
        index: int,
    ) -> None:
        self._raw = raw
        self._text = text
        self._ignorable: dict[str, Any] | None = ignorable or None  # None: no pattern to make
        self.key = key
        self.prefix = raw[: text[0] + 1]
        self.suffix = raw[text[1] - 1 :]
        self.content = key == b'"content":'
        self.index = index
        self.pattern: Callable[[bytes], re.Match[bytes] | None] | None = None

    def compile(self) -> Callable[[bytes], re.Match[bytes] | None] | None:
        """The whole-chunk pattern, made once (None when no ignored field could be located
        exactly, or the spans overlap: then the template has none)."""
        ignorable, self._ignorable = self._ignorable, None
        if ignorable is None:
            return None
        raw = self._raw
        holes = []
        for k, v in ignorable.items():
            span = _value_span(raw, k, v)
            if span is not None:
                holes.append((*span, False))
        if not holes:
            return None
        parts: list[bytes] = []
        pos = 0
        for start, end, is_text in sorted([(*self._text, True), *holes]):
            if start < pos:
                return None
            parts.append(re.escape(raw[pos:start]))
            token = _STRING if raw[start : start + 1] == b'"' else _NUMBER
            parts.append(b"(" + token + b")" if is_text else token)
            pos = end
        parts.append(re.escape(raw[pos:]))
        self.pattern = re.compile(b"".join(parts), re.DOTALL).fullmatch
        return self.pattern

    def match(self, chunk: bytes) -> re.Match[bytes] | None:
        """The pattern's match of a chunk that did not fit `prefix`/`suffix` (None if none)."""
        pattern = self.pattern
        if pattern is None:
            if self._ignorable is None or self.key not in chunk:
                return None  # e.g. the finishing chunk: no text, no pattern worth making
            pattern = self.compile()
            if pattern is None:
                return None
        return pattern(chunk)


def _string_end(raw: bytes, start: int) -> int:
    """The index of the closing quote of the JSON string whose opening quote is at `start`
    (-1 if there is none)."""
    end = start
    while True:
        end = raw.find(b'"', end + 1)
        if end < 0:
            return -1
        slashes = 0
        while raw[end - 1 - slashes] == 0x5C:  # backslash
            slashes += 1
        if not slashes & 1:
            return end


def _locate(raw: bytes, key: str) -> int:
    """Where the value of `key` starts in `raw` (-1 if that cannot be told for sure): a key
    written once (compactly), the object's first key, or `x_groq.id` as Groq writes it."""
    if key == "x_groq.id":
        name = b'"x_groq":{"id":'
    else:
        name = b'"' + key.encode() + b'":'
        if raw.startswith(b"{" + name):
            return 1 + len(name)
    if raw.count(name) != 1:
        return -1
    return raw.find(name) + len(name)


def _value_span(raw: bytes, key: str, value: Any) -> tuple[int, int] | None:
    """Where the value of `key` sits in `raw`, checked against its type."""
    start = _locate(raw, key)
    if start < 0:
        return None
    if isinstance(value, str):
        if raw[start : start + 1] != b'"':
            return None
        end = _string_end(raw, start)
        return (start, end + 1) if end >= 0 else None
    m = _NUMBER_RE.match(raw, start)
    return (start, m.end()) if m else None


def learn(
    raw: bytes, key: str, value: str, index: int, ignorable: dict[str, Any]
) -> Template | None:
    """A template from a chunk whose only effect was `value` under delta `key`, if one is safe.

    The key's JSON string must decode to `value`; then everything else in the chunk is fixed
    bytes. `ignorable` holds the chunk's scalar fields that the assembler does not read after
    this chunk: they become holes, where they can be located exactly, once a chunk needs it.
    """
    name = b'"' + key.encode() + b'":'
    if raw.count(name) != 1:
        return None
    span = _value_span(raw, key, value)
    if span is None:
        return None
    try:
        if _loads(raw[span[0] : span[1]]) != value:
            return None
    except _JSONDecodeError:
        return None
    return Template(raw, name, span, ignorable, index)


def run(
    tpl: Template,
    events: Sequence[Any],
    arrived_ns: int,
    out: list[Delta],
    parts: list[str],
    output_ns: list[int],
) -> int:
    """Apply the leading events that match `tpl`; return how many.

    A match appends exactly what `ChunkAssembler.apply` would: the text to `parts`, a `Delta`
    to `out` and the stamp to `output_ns` (nothing for an empty text). Each costs two bytes
    comparisons (or one pattern match) and one `orjson.loads` of the text's JSON string.
    """
    prefix, suffix = tpl.prefix, tpl.suffix
    lo, cut = len(prefix) - 1, len(suffix) - 1
    index, is_content = tpl.index, tpl.content
    n = 0
    try:
        for p in events:
            if p.startswith(prefix) and p.endswith(suffix):
                text = _loads(p[lo : len(p) - cut])
            elif (m := tpl.match(p)) is not None:
                text = _loads(m[1])
            else:
                break
            n += 1
            if text:
                parts.append(text)
                if is_content:
                    out.append(Delta(text, None, None, None, index, arrived_ns))
                else:
                    out.append(Delta("", text, None, None, index, arrived_ns))
                output_ns.append(arrived_ns)
    except (AttributeError, TypeError, _JSONDecodeError):
        pass  # an event object, or a text that is not one JSON string: the general path
    return n


def parse_array(payloads: Sequence[Any]) -> list[Any] | None:
    """Parse raw `data:` payloads with one `orjson.loads`; None to decline (an event object
    among them, bad JSON, or a count that shows a payload was not exactly one value)."""
    if len(payloads) == 1:
        p = payloads[0]
        if type(p) is not bytes:
            return None
        try:
            return [_loads(p)]
        except _JSONDecodeError:
            return None
    try:
        objs = _loads(b"[" + b",".join(payloads) + b"]")
    except (TypeError, _JSONDecodeError):
        return None
    return objs if len(objs) == len(payloads) else None
