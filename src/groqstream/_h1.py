"""HTTP/1.1 for one client connection, sans-IO: request bytes out, a response head and body
payload in.

DESIGN: the bottom of the core, beside `sse.py`. `_pool.py` feeds it the bytes each socket
read brings and gets back the response head (`parse_head`) and, read by read, the body's
payload (`Body.feed`: chunked, Content-Length or until the connection closes, and gzip or
deflate when the server compressed a non-streaming reply). No IO, no clock, no asyncio: every
malformed input is an `HTTPProtocolError`, which the transport turns into a typed error.

A token stream is one HTTP chunk per event, one event per read, so `ChunkedBody.feed` is on
the hot path: a read holding whole chunks is cut with `bytes.find` and slices, and the one
piece it usually holds is returned without a join.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from itertools import repeat
from typing import NamedTuple

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "MAX_HEAD_BYTES",
    "TOKEN",
    "Body",
    "ChunkedBody",
    "HTTPProtocolError",
    "Head",
    "head_block",
    "parse_head",
    "request_bytes",
]

MAX_HEAD_BYTES = 64 * 1024
"""The longest response head (status line and headers) accepted."""
_MAX_HEADERS = 256
_MAX_LINE = 4096  # a chunk-size line or a trailer field
_MAX_TRAILERS = 64 * 1024
_INFLATE_STEP = 1024 * 1024  # payload inflated from a compressed body per step
_MAX_MEMBERS = 1024  # gzip members in one body (aiohttp's bound too)
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""An HTTP token (RFC 9110 §5.6.2): what a header name must be."""
# A field line: name, colon, the value without the whitespace around it. The value is matched
# greedily up to its last non-blank character (a lazy `.*?` would retry the tail at every
# character: 4x slower on a real 20-field head).
_FIELD = re.compile(rf"^({TOKEN.pattern}):[ \t]*((?:[^\r\n]*[^\r\n \t])?)[ \t]*\r?$", re.MULTILINE)


class HTTPProtocolError(Exception):
    """The server's bytes are not a valid HTTP/1.1 response (or body framing)."""


def head_block(headers: Mapping[str, str]) -> bytes:
    """Header lines, each ending in CRLF, for headers every request of a connection sends
    (built once per client). Names and values were checked for control characters; values
    go out UTF-8 encoded, as aiohttp sent them."""
    return "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("utf-8")


def request_bytes(method: str, target: str, block: bytes, body: bytes | None) -> bytes:
    """A whole request: request line, `block` (from `head_block`, Host included), a
    Content-Length when there is a body, the blank line and the body. `target` must be
    percent-encoded already: a space, a control or a non-ASCII character in it is refused
    (it would end the request line early: request smuggling)."""
    if not (target.isascii() and target.isprintable()) or " " in target:  # (no Python loop)
        raise ValueError(f"a request target that is not percent-encoded: {target[:80]!r}")
    line = f"{method} {target} HTTP/1.1\r\n".encode("ascii")
    if body is None:
        return line + block + b"\r\n"
    return b"%b%bContent-Length: %d\r\n\r\n%b" % (line, block, len(body), body)


class Head(NamedTuple):
    """A response's status line and headers, and what they say about the body and the
    connection: `framing` is "chunked", "length" (`length` bytes) or "close" (until the
    server closes); `keep_alive` is whether the connection may serve another request."""

    status: int
    reason: str
    headers: CIMultiDictProxy[str]
    framing: str
    length: int
    keep_alive: bool

    @property
    def content_type(self) -> str:
        """The media type, lower case, without parameters ("" when absent)."""
        raw = self.headers.get("Content-Type", "")
        return raw.split(";", 1)[0].strip().lower()


def parse_head(buf: bytes, *, method: str = "POST") -> tuple[Head, int] | None:
    """The first final response head in `buf` and the offset where its body starts, or None
    if the head is not complete yet. Interim (1xx) heads before it are skipped."""
    start = 0
    while True:
        end = buf.find(b"\r\n\r\n", start)
        # Interim heads count toward the limit too: an endless run of them is refused.
        if (end if end >= 0 else len(buf)) > MAX_HEAD_BYTES:
            raise HTTPProtocolError(f"a response head over {MAX_HEAD_BYTES:,} bytes")
        if end < 0:
            return None
        head = _head(buf[start:end].decode("latin-1"), method)
        if head is not None:
            return head, end + 4
        start = end + 4  # an interim 1xx response: the final one follows


def _head(text: str, method: str) -> Head | None:
    line, _, fields = text.partition("\r\n")
    version, status, reason = _status_line(line)
    if 100 <= status < 200 and status != 101:
        return None
    if status == 101:
        raise HTTPProtocolError("the server switched protocols (101), which was not asked for")
    headers = CIMultiDict(_fields(fields))
    framing, length = _framing(headers, status, method)
    conn = headers.get("Connection", "").lower()
    keep_alive = version == "HTTP/1.1" and "close" not in conn and framing != "close"
    if framing == "chunked" and "Content-Length" in headers:
        keep_alive = False  # both framings given (RFC 9112 §6.3): chunked wins, then close
    return Head(status, reason, CIMultiDictProxy(headers), framing, length, keep_alive)


def _fields(text: str) -> list[tuple[str, str]]:
    """The header fields of a head, as (name, value) pairs: one regex pass, then a count of
    lines to be sure every line was a field (a line that is not, or a bare LF, is refused)."""
    if not text:
        return []
    lines = text.count("\r\n") + 1
    if text.count("\n") != lines - 1 or text.count("\r") != lines - 1:
        raise HTTPProtocolError("a header line with a bare CR or LF")
    if lines > _MAX_HEADERS:
        raise HTTPProtocolError(f"a response with over {_MAX_HEADERS} header lines")
    pairs: list[tuple[str, str]] = _FIELD.findall(text)
    if len(pairs) != lines:
        bad = next(x for x in text.split("\r\n") if not _FIELD.fullmatch(x))
        raise HTTPProtocolError(f"a malformed header line: {bad[:80]!r}")
    return pairs


def _digits(text: str) -> bool:
    """True for ASCII digits only (`str.isdigit` also takes "²" and other scripts' digits)."""
    return text.isascii() and text.isdigit()


def _status_line(line: str) -> tuple[str, int, str]:
    version, _, rest = line.partition(" ")
    code, _, reason = rest.partition(" ")
    if version not in ("HTTP/1.1", "HTTP/1.0") or len(code) != 3 or not _digits(code):
        raise HTTPProtocolError(f"not an HTTP/1.1 status line: {line[:80]!r}")
    return version, int(code), reason.strip()


def _framing(headers: CIMultiDict[str], status: int, method: str) -> tuple[str, int]:
    """How the body is delimited: RFC 9112 §6.3, in its order."""
    if method == "HEAD" or status in (204, 304):
        return "length", 0
    codings = ",".join(headers.getall("Transfer-Encoding", ())).lower()
    if codings:
        if [c.strip() for c in codings.split(",")] != ["chunked"]:  # none other was asked for
            raise HTTPProtocolError(f"a transfer coding other than chunked: {codings!r}")
        return "chunked", 0
    lengths = {v.strip() for v in ",".join(headers.getall("Content-Length", ())).split(",")}
    lengths.discard("")
    if not lengths:
        return "close", 0
    if len(lengths) > 1 or not _digits(next(iter(lengths))):
        raise HTTPProtocolError(f"a malformed Content-Length: {sorted(lengths)!r}")
    return "length", int(next(iter(lengths)))


# --- body framing ------------------------------------------------------------------------


def _verified(parts: list[bytes]) -> list[bytes] | None:
    """The payloads of `parts` (size, payload, size, payload, ... as split at CRLF) if every
    size is hex digits alone, not 0, and equal to its payload's length; else None."""
    sizes = parts[0::2]
    payloads = parts[1::2]
    if len(sizes) != len(payloads):
        return None
    digits = b"".join(sizes)
    if not digits.isalnum() or b"x" in digits or b"X" in digits:
        return None
    try:
        lengths = list(map(int, sizes, repeat(16)))
    except ValueError:
        return None
    if 0 in lengths or lengths != list(map(len, payloads)):
        return None
    return payloads


def _hex_size(line: bytes) -> int | None:
    """The size if `line` is hex digits alone (the usual chunk-size line), else None; none
    of what `int()` would also take (a sign, spaces, `_`, a `0x` prefix)."""
    if 0 < len(line) <= 15 and line.isalnum() and line[1:2] not in (b"x", b"X"):
        try:
            return int(line, 16)
        except ValueError:
            return None
    return None


def _chunk_size(line: bytes) -> int:
    """The size on a chunk-size line: hex digits, maybe chunk extensions after a `;`."""
    size = _hex_size(line)
    if size is not None:
        return size
    hexa = line.split(b";", 1)[0].strip(b" \t")
    if not _HEX.fullmatch(hexa):
        raise HTTPProtocolError(f"a malformed chunk size: {line[:40]!r}")
    return int(hexa, 16)


_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


class Body:
    """A body's framing: `feed(bytes)` returns the payload in them; `done` once the body is
    complete. Bytes past the end are dropped and set `overrun`: the body is whole, but the
    connection cannot serve another request (this client never pipelines). `backlog`: payload
    is waiting to be made without more bytes from the socket (`more()`: a compressed body
    inflates a bounded step at a time)."""

    __slots__ = ("backlog", "done", "overrun")

    def __init__(self) -> None:
        self.done = False
        self.overrun = False
        self.backlog = False

    def feed(self, data: bytes) -> bytes:
        """The payload bytes in `data` (b"" when none)."""
        raise NotImplementedError

    def more(self) -> bytes:
        """The next step of the backlog (b"" when there is none)."""
        return b""

    def end(self) -> bytes:
        """The connection closed: fine if the body is complete (returns what payload that
        completes, usually b""), else a protocol error."""
        if not self.done:
            raise HTTPProtocolError("the connection closed before the body was complete")
        return b""


class LengthBody(Body):
    """A body of Content-Length bytes."""

    __slots__ = ("left",)

    def __init__(self, length: int) -> None:
        super().__init__()
        self.left = length
        self.done = not length

    def feed(self, data: bytes) -> bytes:
        """The payload bytes in `data`."""
        left = self.left - len(data)
        if left > 0:
            self.left = left
            return data
        if left < 0:
            self.overrun = True
            data = data[: self.left]
        self.left = 0
        self.done = True
        return data


class CloseBody(Body):
    """A body that ends when the server closes the connection (no length, not chunked)."""

    __slots__ = ()

    def feed(self, data: bytes) -> bytes:
        """All of `data` is payload."""
        return data

    def end(self) -> bytes:
        """The close is the body's end."""
        self.done = True
        return b""


class ChunkedBody(Body):
    """A chunked body (RFC 9112 §7.1): chunk sizes, payloads, the last chunk and trailers
    (read and dropped). Holds the unfinished framing line across reads."""

    __slots__ = ("_left", "_state", "_tail", "_trailers")

    def __init__(self) -> None:
        super().__init__()
        self._state = _SIZE
        self._left = 0
        self._tail = b""
        self._trailers = 0

    def feed(self, data: bytes) -> bytes:
        """The payload bytes in `data`."""
        if self._tail:
            data = self._tail + data
            self._tail = b""
        state = self._state
        if state == _SIZE:
            fast = self._whole(data)
            if fast is not None:
                return fast
        elif state == _DATA and data.startswith(b"\r\n", self._left):
            return self._finish_chunk(data)  # a bulk read: the chunk under way ends in it
        return self._general(data)

    def _general(self, data: bytes) -> bytes:
        pieces: list[bytes] = []
        pos = self._run(data, pieces)
        if pos < len(data):
            self._keep(data, pos)
        if len(pieces) == 1:
            return pieces[0]
        return b"".join(pieces)

    def _finish_chunk(self, data: bytes) -> bytes:
        """The rest of the chunk under way, then the chunks after it (a read in a bulk
        transfer starts and ends mid-chunk)."""
        left = self._left
        self._left = 0
        self._state = _SIZE
        rest = data[left + 2 :]
        if not rest:
            return data[:left]
        fast = self._whole(rest)
        return data[:left] + (self._general(rest) if fast is None else fast)

    def _whole(self, data: bytes) -> bytes | None:
        """The payload of a read that starts at a chunk-size line, cut without a Python step
        per chunk; None when it cannot be (the general path then reads it).

        A token stream's server writes each event as one whole chunk, so a read is one chunk
        or several, and in a bulk transfer it ends mid-chunk. One chunk is cut from its size
        line. More are split at CRLF and kept only if every size (hex digits alone) equals
        its payload's length: a payload holding a CRLF cannot pass, since the size before it
        counts the bytes past that CRLF too."""
        eol = data.find(b"\r\n", 0, 17)
        size = _hex_size(data[:eol]) if eol > 0 else None
        if size is None:
            return None  # (a size line with extensions, or malformed: the general path)
        end = eol + 2 + size
        if len(data) == end + 2 and size and data.endswith(b"\r\n"):
            return data[eol + 2 : end]  # exactly one chunk: the usual read
        done = data.endswith(b"\r\n0\r\n\r\n")
        parts = (data[:-5] if done else data).split(b"\r\n")
        if len(parts) & 1:  # ends at a chunk boundary, or inside a size line
            whole, partial = parts[:-1], None
        elif done:
            return None
        else:  # ends inside a payload: parts[-2] is its size
            whole, partial = parts[:-2], parts[-2:]
        payloads = _verified(whole)
        if payloads is None or (partial is not None and not self._started(partial, payloads)):
            return None
        if done:
            self._state = _DONE
            self.done = True
        elif partial is None and parts[-1]:
            self._keep(parts[-1], 0)  # the start of the next size line
        return b"".join(payloads)

    def _started(self, partial: list[bytes], payloads: list[bytes]) -> bool:
        """Take a chunk whose payload the read ends in (`partial`: its size line and what
        came of its payload); False if it does not add up."""
        line, got = partial
        size = _hex_size(line)
        if size is None or not 0 < len(got) <= size:
            return False
        payloads.append(got)
        self._left = size - len(got)
        self._state = _DATA if self._left else _DATA_END
        return True

    def _run(self, data: bytes, pieces: list[bytes]) -> int:
        """Cut `data` into payload `pieces`, state by state (a chunk split across reads,
        trailers); returns where unfinished framing starts."""
        pos = 0
        n = len(data)
        while pos < n:
            state = self._state
            if state == _DATA:
                end = min(n, pos + self._left)
                pieces.append(data[pos:end])
                self._left -= end - pos
                pos = end
                if not self._left:
                    self._state = _DATA_END
            elif state == _DATA_END:
                if n - pos < 2:
                    return pos
                if not data.startswith(b"\r\n", pos):
                    raise HTTPProtocolError("a chunk longer than its size")
                pos += 2
                self._state = _SIZE
            elif state == _DONE:
                self.overrun = True
                return n
            else:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    return pos
                self._line(data[pos:eol])
                pos = eol + 2
        return pos

    def _line(self, line: bytes) -> None:
        """A chunk-size line, or a trailer line (dropped; an empty one ends the body)."""
        if len(line) > _MAX_LINE:
            raise HTTPProtocolError("a chunk-size or trailer line over 4 KiB")
        if self._state == _SIZE:
            self._left = _chunk_size(line)
            self._state = _DATA if self._left else _TRAILER
        elif not line:
            self._state = _DONE
            self.done = True
        else:
            self._trailers += len(line) + 2
            if self._trailers > _MAX_TRAILERS:
                raise HTTPProtocolError("trailers over 64 KiB")

    def _keep(self, data: bytes, pos: int) -> None:
        tail = data[pos:]
        if len(tail) > _MAX_LINE:
            raise HTTPProtocolError("a chunk-size or trailer line over 4 KiB")
        self._tail = tail


class DecodedBody(Body):
    """A body whose payload the server compressed (Content-Encoding gzip, of one member or
    several, or deflate: zlib-wrapped as the RFC says, or raw as some servers send it).

    Inflated a bounded step at a time (`_INFLATE_STEP`): what a read's bytes inflate to
    beyond that waits in `backlog` until the reader asks for `more()`, so a small
    compressed body that inflates to gigabytes (a "zip bomb") meets the reader's flow
    control and limits instead of being inflated whole in one go. The compressed stream
    must end where the body ends: a cut-short one is refused."""

    __slots__ = ("_coding", "_inner", "_members", "_started", "_tail", "_z")

    def __init__(self, inner: Body, coding: str) -> None:
        super().__init__()
        self._inner = inner
        self._coding = coding
        self._started = False
        self._members = 1
        self._tail = b""  # compressed bytes not inflated yet: the last step was full
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS if coding == "gzip" else zlib.MAX_WBITS)
        self.done = inner.done

    def feed(self, data: bytes) -> bytes:
        """The inflated payload of `data` (one step of it at most)."""
        inner = self._inner
        raw = inner.feed(data)
        self.overrun = inner.overrun
        return self._step(self._tail + raw if self._tail else raw)

    def more(self) -> bytes:
        """The next step of the backlog."""
        return self._step(self._tail)

    def end(self) -> bytes:
        """The connection closed: the body must be whole, and so its compressed stream."""
        self._inner.end()
        return self._step(self._tail)

    def _step(self, raw: bytes) -> bytes:
        try:
            out = self._inflate(raw)
            if self._inner.done and not self._tail:
                out += self._finish()
        except zlib.error as e:
            raise HTTPProtocolError(f"the compressed body is corrupt: {e}") from None
        self.backlog = bool(self._tail)
        self.done = self._inner.done and not self.backlog
        return out

    def _inflate(self, raw: bytes) -> bytes:
        """Up to `_INFLATE_STEP` bytes of payload from `raw` (the rest left in `_tail`),
        going on into the next gzip member where one ends and another starts."""
        out = self._decompress(raw, _INFLATE_STEP)
        z = self._z
        while not z.unconsumed_tail and z.eof and z.unused_data and self._coding == "gzip":
            self._members += 1
            if self._members > _MAX_MEMBERS:
                raise HTTPProtocolError(f"a gzip body of over {_MAX_MEMBERS} members")
            rest, self._z = z.unused_data, zlib.decompressobj(16 + zlib.MAX_WBITS)
            z = self._z
            if len(out) >= _INFLATE_STEP:
                self._tail = rest  # the step is full: the next member waits for more()
                return out
            out += z.decompress(rest, _INFLATE_STEP - len(out))
        self._tail = z.unconsumed_tail
        return out

    def _decompress(self, raw: bytes, budget: int) -> bytes:
        if self._started or not raw:
            return self._z.decompress(raw, budget)
        self._started = True
        try:
            return self._z.decompress(raw, budget)
        except zlib.error:
            if self._coding != "deflate":
                raise
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, without the wrapper
            return self._z.decompress(raw, budget)

    def _finish(self) -> bytes:
        out = self._z.flush()
        if self._started and not self._z.eof:
            raise HTTPProtocolError("the compressed body ended before its compressed stream")
        if self._z.unused_data:
            raise HTTPProtocolError("bytes after the end of the compressed stream")
        return out


def body_for(head: Head) -> Body:
    """The framing reader for `head`'s body, decompressing where the server compressed."""
    body: Body
    if head.framing == "chunked":
        body = ChunkedBody()
    elif head.framing == "length":
        body = LengthBody(head.length)
    else:
        body = CloseBody()
    coding = head.headers.get("Content-Encoding", "identity").strip().lower()
    if coding in ("", "identity"):
        return body
    if coding not in ("gzip", "x-gzip", "deflate"):
        raise HTTPProtocolError(f"a content coding this client did not ask for: {coding!r}")
    return DecodedBody(body, "deflate" if coding == "deflate" else "gzip")
