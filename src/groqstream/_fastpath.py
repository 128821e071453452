"""Fast paths for chunk parsing: each gives exactly what `chunks.py` would, or declines.

DESIGN: sans-IO, below `chunks.py`'s `ChunkAssembler`, which owns what a chunk *means*. Nothing
here decides meaning; it only recognises bytes that provably mean the same as bytes already
understood:

- A `Template` is learned from one chunk that `ChunkAssembler.apply` found *plain* (its only
  effect was one piece of text for one choice). A later chunk that is byte-for-byte the same
  apart from that text is the same object with another text, so only the text's JSON string
  is parsed. When a server also varies fields the assembler ignores after the first chunk
  (OpenAI's per-chunk `obfuscation`, a changing `created`), the next plain chunk shows which:
  the template learned from it makes just those scalar values holes of a compiled pattern,
  matched from the text on when the holes all follow it (the fixed prefix is compared as
  bytes first), else over the whole chunk.
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
_new = object.__new__
_JSONDecodeError = orjson.JSONDecodeError

# Tokens for a pattern's holes. The text's is any JSON string (its escapes allowed, unrolled
# for speed); an ignored field's is a string without escapes (a value with one simply does not
# match, and that chunk takes the general path) or a number. A hole cannot contain an
# unescaped quote, so it spans exactly one token and the bytes after it must match literally.
_TEXT = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_STRING = rb'"[\x20\x21\x23-\x5b\x5d-\x7e]*+"'  # printable ASCII: what JSON takes unescaped
_NUMBER = rb"-?(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,17})?"  # no exponent: never out of range
_NUMBER_RE = re.compile(_NUMBER)


class Template:
    """The bytes around the text of a plain one-choice chunk, and the fields that vary.

    `prefix`/`suffix` are the fixed bytes before and after the text's JSON string. `rest`
    (holes only after the text) matches from the text's opening quote to the end; `whole`
    (a hole before it) matches the whole chunk; either has the text's string as group 1.
    `fields` are the learned chunk's ignored fields, to compare the next chunk's with.
    `content` says whether the text is content (True) or reasoning (False); `index` is the
    choice.
    """

    __slots__ = (
        "content",
        "fields",
        "index",
        "key",
        "prefix",
        "renew",
        "rest",
        "suffix",
        "whole",
    )

    def __init__(
        self,
        raw: bytes,
        key: bytes,
        text: tuple[int, int],
        holes: list[tuple[int, int]],
        fields: dict[str, Any],
        index: int,
    ) -> None:
        self.key = key
        self.fields = fields
        self.prefix = raw[: text[0] + 1]
        self.suffix = raw[text[1] - 1 :]
        self.content = key == b'"content":'
        self.index = index
        self.rest: Pattern | None = None
        self.whole: Pattern | None = None
        self.renew = False
        if holes:
            if all(start > text[0] for start, _ in holes):
                self.rest = _compile(raw, text, holes, text[0])
            else:
                self.whole = _compile(raw, text, holes, 0)
                self.renew = all(start < text[0] for start, _ in holes)

    def renewed(self, m: re.Match[bytes]) -> None:
        """`whole` matched a chunk: if its holes all come before the text (`renew`), its
        bytes up to the text are the prefix from now on. A field that changes now and then
        (a `created` that ticks each second) then costs one pattern match per change, not
        one per chunk: the chunks after it start with those bytes. (A chunk that starts with
        them and ends with the suffix around one JSON string matches `whole` too.)"""
        if self.renew:
            self.prefix = m.string[: m.start(1) + 1]


Pattern = Callable[..., "re.Match[bytes] | None"]


def _compile(
    raw: bytes, text: tuple[int, int], holes: list[tuple[int, int]], start: int
) -> Pattern | None:
    """A full-match pattern of `raw[start:]`: the text as group 1, `holes` as tokens, the rest
    literal (None when spans overlap)."""
    parts: list[bytes] = []
    pos = start
    for a, b, is_text in sorted([(*text, True), *((a, b, False) for a, b in holes)]):
        if a < pos:
            return None
        parts.append(re.escape(raw[pos:a]))
        if is_text:
            parts.append(b"(" + _TEXT + b")")
        else:
            parts.append(_STRING if raw[a : a + 1] == b'"' else _NUMBER)
        pos = b
    parts.append(re.escape(raw[pos:]))
    return re.compile(b"".join(parts), re.DOTALL).fullmatch


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


_MISSING = object()


def _decodes_to(token: bytes, value: Any) -> bool:
    try:
        return bool(_loads(token) == value)
    except _JSONDecodeError:
        return False


def learn(
    raw: bytes,
    key: str,
    value: str,
    index: int,
    fields: dict[str, Any],
    previous: Template | None,
) -> Template | None:
    """A template from a chunk whose only effect was `value` under delta `key`, if one is safe.

    The key's JSON string must decode to `value`; then everything else in the chunk is fixed
    bytes, except the ignored `fields` (scalars the assembler does not read after this chunk)
    whose values differ from those of the `previous` template of the same text: they become
    holes, where each can be located exactly.
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
    holes: list[tuple[int, int]] = []
    if previous is not None and previous.key == name and previous.index == index:
        for k, v in fields.items():
            if previous.fields.get(k, _MISSING) != v:
                hole = _value_span(raw, k, v)
                if hole is None or not _decodes_to(raw[hole[0] : hole[1]], v):
                    return Template(raw, name, span, [], fields, index)
                holes.append(hole)
    return Template(raw, name, span, holes, fields, index)


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
    comparisons (or a prefix comparison and one pattern match) and one `orjson.loads` of the
    text's JSON string.
    """
    prefix, suffix, rest, whole = tpl.prefix, tpl.suffix, tpl.rest, tpl.whole
    lo, cut = len(prefix) - 1, len(suffix) - 1
    index, is_content = tpl.index, tpl.content
    parts_append, out_append, ns_append = parts.append, out.append, output_ns.append
    n = 0
    try:
        for p in events:
            if p.startswith(prefix):
                if rest is None:
                    if not p.endswith(suffix):
                        break
                    text = _loads(p[lo:-cut])  # cut >= 1: the suffix holds a quote and a brace
                elif (m := rest(p, lo)) is not None:  # varying fields after the text
                    text = _loads(m[1])
                else:
                    break
            elif whole is not None and (m := whole(p)) is not None:
                text = _loads(m[1])
                tpl.renewed(m)
                prefix = tpl.prefix
                lo = len(prefix) - 1
            else:
                break
            n += 1
            if text:
                parts_append(text)
                # What `Delta(...)` sets, without the call of its `__init__` (~0.06 us of
                # the ~0.18 a delta costs here): a plain Delta, every field its own.
                d = _new(Delta)
                if is_content:
                    d.content, d.reasoning = text, None
                else:
                    d.content, d.reasoning = "", text
                d.tool_calls = d.finish_reason = None
                d.index, d.arrived_ns = index, arrived_ns
                out_append(d)
                ns_append(arrived_ns)
    except (AttributeError, TypeError, _JSONDecodeError):
        pass  # an event object, or a text that is not one JSON string: the general path
    return n


def text_of(tpl: Template, p: Any) -> str | None:
    """The text of one event that fits `tpl`, or None when it does not (the general path
    decides then): `run` for the common read of a single chunk, without its set-up."""
    try:
        prefix = tpl.prefix
        if p.startswith(prefix):
            rest = tpl.rest
            if rest is None:
                suffix = tpl.suffix
                # between the prefix's quote and the suffix's: one JSON string, or a decode error
                return _loads(p[len(prefix) - 1 : 1 - len(suffix)]) if p.endswith(suffix) else None
            m = rest(p, len(prefix) - 1)
        elif tpl.whole is not None:
            m = tpl.whole(p)
            if m is None:
                return None
            text: str = _loads(m[1])
            tpl.renewed(m)
            return text
        else:
            return None
        return _loads(m[1]) if m is not None else None
    except (AttributeError, TypeError, _JSONDecodeError):
        return None  # an event object, or a text that is not one JSON string


def parse_array(payloads: Sequence[Any]) -> list[Any] | None:
    """Parse raw `data:` payloads with one `orjson.loads`; None to decline (an event object
    among them, bad JSON, or a count that shows a payload was not exactly one value).

    Known limit: two payloads that are each broken but join into exactly two values (a
    crafted pair: one leaves brackets open that the next closes) pass as two chunks, where one
    by one they would be `MalformedChunkError`s. Real truncations do not join up so."""
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
