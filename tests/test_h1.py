"""The sans-IO HTTP/1.1 core (`groqstream._h1`), without sockets.

Response heads: every malformed status line, header line or framing header is an
`HTTPProtocolError` that says what was wrong; interim (1xx) heads are skipped; HEAD, 204 and
304 have no body; `keep_alive` and `content_type` read the headers right.

Bodies: chunk sizes `int()` would take but HTTP does not, chunks longer than their size,
bytes after the end, over-long framing lines and trailers, Content-Length overruns, early
closes and corrupt compression are errors; chunk extensions, trailers, gzip and deflate
work across any split of the reads. Random chunked bodies (payloads full of CRLFs and
digits, which look like framing) come out whole whether fed in random splits or in random
groups of whole chunks, the shape that `ChunkedBody`'s whole-chunk fast path reads.
"""

from __future__ import annotations

import gzip
import random
import zlib
from collections.abc import Callable, Iterable

import pytest

from groqstream._h1 import (
    MAX_HEAD_BYTES,
    Body,
    ChunkedBody,
    CloseBody,
    DecodedBody,
    Head,
    HTTPProtocolError,
    LengthBody,
    body_for,
    head_block,
    parse_head,
    request_bytes,
)

LAST = b"0\r\n\r\n"


def raw_head(*headers: str, status: str = "HTTP/1.1 200 OK") -> bytes:
    """A complete response head (status line, header lines, blank line)."""
    return "".join(f"{line}\r\n" for line in (status, *headers)).encode("latin-1") + b"\r\n"


def parsed(raw: bytes, *, method: str = "POST") -> Head:
    result = parse_head(raw, method=method)
    assert result is not None, "the head should be complete"
    head, offset = result
    assert offset == len(raw)
    return head


def chunk(payload: bytes, size: str | None = None) -> bytes:
    """One chunk on the wire; `size` overrides the hex size line."""
    line = size if size is not None else f"{len(payload):x}"
    return line.encode("latin-1") + b"\r\n" + payload + b"\r\n"


def feed_all(body: Body, pieces: Iterable[bytes]) -> bytes:
    return b"".join(body.feed(piece) for piece in pieces)


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def random_splits(rng: random.Random, data: bytes, *, most: int = 40) -> list[bytes]:
    """`data` cut at random places (pieces of 1 to `most` bytes)."""
    pieces = []
    pos = 0
    while pos < len(data):
        step = rng.randint(1, most)
        pieces.append(data[pos : pos + step])
        pos += step
    return pieces


# --- response heads: errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "why"),
    [
        ("HTTX/1.1 200 OK", "not HTTP"),
        ("HTTP/1.1 2x0 OK", "a status that is not digits"),
        ("HTTP/1.1 20 OK", "two digits"),
        ("HTTP/1.1 2000 OK", "four digits"),
        ("HTTP/1.1 -20 OK", "a sign"),
        ("HTTP/2 200", "HTTP/2"),
        ("HTTP/2.0 200 OK", "HTTP/2.0"),
        ("HTTP/1.1200 OK", "no space after the version"),
        ("http/1.1 200 OK", "a lower-case version"),
        ("", "an empty status line"),
    ],
)
def test_a_bad_status_line_is_refused(status: str, why: str) -> None:
    with pytest.raises(HTTPProtocolError, match=r"not an HTTP/1\.1 status line") as info:
        parse_head(raw_head("Content-Length: 0", status=status))
    assert repr(status)[1:-1] in str(info.value), why  # the message shows the line


def test_a_status_of_non_ascii_digits_is_a_protocol_error() -> None:
    # "²00": str.isdigit() says yes, int() says no. A ValueError escaping the parser is not
    # caught by the connection and never becomes "a malformed response".
    with pytest.raises(HTTPProtocolError, match="status line"):
        parse_head(b"HTTP/1.1 \xb200 OK\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize(
    "line",
    [
        "Content-Length 5",  # no colon
        "Content Length: 5",  # a space in the name
        "Content-Length : 5",  # a space before the colon (RFC 9112 §5.1: must be refused)
        ": no name",
        " folded: continuation",  # obs-fold
        "X-Tab\there: 1",
        "Naïve: 1",  # not a token character
    ],
)
def test_a_malformed_header_line_is_refused_and_shown(line: str) -> None:
    with pytest.raises(HTTPProtocolError, match="malformed header line") as info:
        parse_head(raw_head("Content-Type: text/plain", line, "Content-Length: 0"))
    assert repr(line)[1:-1] in str(info.value)


def test_a_head_over_the_limit_without_its_blank_line_is_refused() -> None:
    start = b"HTTP/1.1 200 OK\r\nX-Filler: "
    assert parse_head(start + b"a" * (MAX_HEAD_BYTES - 1000)) is None  # just waiting for more
    with pytest.raises(HTTPProtocolError, match="head over 65,536 bytes"):
        parse_head(start + b"a" * MAX_HEAD_BYTES)


def test_a_complete_head_over_the_limit_is_refused() -> None:
    filler = "a" * MAX_HEAD_BYTES
    with pytest.raises(HTTPProtocolError, match="head over 65,536 bytes"):
        parse_head(raw_head(f"X-Filler: {filler}", "Content-Length: 0"))
    # One just under the limit is fine.
    head = parsed(raw_head(f"X-Filler: {filler[:-1000]}", "Content-Length: 0"))
    assert head.headers["X-Filler"] == filler[:-1000]


def test_endless_interim_responses_are_refused() -> None:
    # 1xx heads are skipped, but each one stays in the connection's head buffer until the
    # final head comes: a server that sends them forever must hit the head limit, not grow
    # the client's memory (and re-parse cost) without bound.
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"
    flood = interim * (2 * MAX_HEAD_BYTES // len(interim))
    with pytest.raises(HTTPProtocolError, match="head"):
        parse_head(flood)


def test_over_256_header_lines_are_refused() -> None:
    many = [f"X-H{i}: v" for i in range(300)]
    with pytest.raises(HTTPProtocolError, match="over 256 header lines"):
        parse_head(raw_head(*many))
    with pytest.raises(HTTPProtocolError, match="over 256 header lines"):
        parse_head(raw_head(*many[:257]))
    head = parsed(raw_head(*many[:255]))
    assert len(head.headers) == 255


@pytest.mark.parametrize(
    "coding", ["gzip", "chunked, gzip", "chunked, identity", "deflate", "x-custom"]
)
def test_a_transfer_coding_other_than_chunked_alone_is_refused(coding: str) -> None:
    with pytest.raises(HTTPProtocolError, match="transfer coding other than chunked") as info:
        parse_head(raw_head(f"Transfer-Encoding: {coding}"))
    assert coding in str(info.value)


def test_a_transfer_coding_before_chunked_is_refused() -> None:
    # The client sends no TE header, so it never asked for transfer codings; reading
    # "gzip, chunked" as plain chunked would hand back gzip bytes as the body.
    with pytest.raises(HTTPProtocolError, match="transfer coding"):
        parse_head(raw_head("Transfer-Encoding: gzip, chunked"))


def test_transfer_encoding_over_two_header_fields_is_one_list() -> None:
    head = parsed(raw_head("Transfer-Encoding: chunked", "Content-Length: 9"))
    assert head.framing == "chunked"  # Transfer-Encoding wins over Content-Length
    with pytest.raises(HTTPProtocolError, match="other than chunked"):
        parse_head(raw_head("Transfer-Encoding: chunked", "Transfer-Encoding: gzip"))


@pytest.mark.parametrize(
    "headers",
    [
        ("Content-Length: 5", "Content-Length: 6"),
        ("Content-Length: 5, 6",),
        ("Content-Length: 5", "Content-Length: 5, 7"),
    ],
)
def test_conflicting_content_lengths_are_refused(headers: tuple[str, ...]) -> None:
    with pytest.raises(HTTPProtocolError, match="malformed Content-Length"):
        parse_head(raw_head(*headers))


def test_repeated_equal_content_lengths_are_one() -> None:
    for headers in [("Content-Length: 5", "Content-Length: 5"), ("Content-Length: 5, 5",)]:
        head = parsed(raw_head(*headers))
        assert (head.framing, head.length) == ("length", 5)


@pytest.mark.parametrize("value", ["abc", "-1", "+5", "5.0", "0x5", "5 5", "1e3", "five"])
def test_a_non_numeric_content_length_is_refused(value: str) -> None:
    with pytest.raises(HTTPProtocolError, match="malformed Content-Length") as info:
        parse_head(raw_head(f"Content-Length: {value}"))
    assert value in str(info.value)


def test_a_content_length_of_non_ascii_digits_is_a_protocol_error() -> None:
    # "²" (0xB2 read as latin-1) passes str.isdigit() but not int(): a ValueError out of
    # the parser escapes `Connection.data_received` instead of becoming a typed error.
    with pytest.raises(HTTPProtocolError, match="Content-Length"):
        parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n")


def test_101_switching_protocols_is_refused() -> None:
    raw = raw_head("Upgrade: websocket", "Connection: Upgrade", status="HTTP/1.1 101 Switching")
    with pytest.raises(HTTPProtocolError, match=r"switched protocols \(101\)"):
        parse_head(raw + raw_head("Content-Length: 0"))


# --- response heads: what they say --------------------------------------------------------


def test_interim_heads_are_skipped() -> None:
    interim = raw_head(status="HTTP/1.1 100 Continue") + raw_head(
        "Link: </style.css>; rel=preload", status="HTTP/1.1 103 Early Hints"
    )
    final = raw_head("Content-Length: 2", "X-Final: yes", status="HTTP/1.1 200 OK")
    result = parse_head(interim + final + b"ok")
    assert result is not None
    head, offset = result
    assert (head.status, head.reason, head.headers["X-Final"]) == (200, "OK", "yes")
    assert "Link" not in head.headers  # the 103's headers are not the response's
    assert offset == len(interim + final)
    assert parse_head(interim) is None  # interim heads alone: the final one is still to come
    assert parse_head(interim + final[:-2]) is None


def test_a_head_is_incomplete_until_its_blank_line() -> None:
    raw = raw_head("Content-Type: application/json", "Content-Length: 2")
    for cut in range(len(raw)):
        assert parse_head(raw[:cut]) is None, cut
    assert parsed(raw).status == 200


def test_headers_are_case_insensitive_and_values_trimmed() -> None:
    head = parsed(
        raw_head("content-length:   7 \t", "X-Request-ID:\treq_1", "Set-C: a", "Set-C: b")
    )
    assert head.headers["Content-Length"] == "7"
    assert head.headers["x-request-id"] == "req_1"
    assert head.headers.getall("set-c") == ["a", "b"]
    assert head.length == 7


@pytest.mark.parametrize(
    ("status", "method"),
    [("HTTP/1.1 200 OK", "HEAD"), ("HTTP/1.1 204 No Content", "POST"), ("HTTP/1.1 304 X", "GET")],
)
def test_head_204_and_304_have_empty_bodies(status: str, method: str) -> None:
    for framing in ("Content-Length: 120", "Transfer-Encoding: chunked"):
        head = parsed(raw_head(framing, status=status), method=method)
        assert (head.framing, head.length) == ("length", 0)
        body = body_for(head)
        assert body.done
        assert head.keep_alive


def test_keep_alive() -> None:
    assert parsed(raw_head("Content-Length: 0")).keep_alive
    assert parsed(raw_head("Transfer-Encoding: chunked")).keep_alive
    assert not parsed(raw_head("Content-Length: 0", status="HTTP/1.0 200 OK")).keep_alive
    assert not parsed(raw_head("Content-Length: 0", "Connection: close")).keep_alive
    assert not parsed(raw_head("Content-Length: 0", "Connection: Keep-Alive, CLOSE")).keep_alive
    assert not parsed(raw_head("Content-Type: text/plain")).keep_alive  # body ends at close
    assert parsed(raw_head("Content-Length: 0", "Connection: keep-alive")).keep_alive


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Application/JSON; charset=UTF-8", "application/json"),
        ("text/event-stream", "text/event-stream"),
        ("  Text/Event-Stream ;charset=utf-8", "text/event-stream"),
        (None, ""),
    ],
)
def test_content_type_is_lower_case_without_parameters(value: str | None, expected: str) -> None:
    headers = ["Content-Length: 0"] + ([f"Content-Type: {value}"] if value is not None else [])
    assert parsed(raw_head(*headers)).content_type == expected


def test_a_status_line_without_a_reason_is_read() -> None:
    head = parsed(raw_head("Content-Length: 0", status="HTTP/1.1 503"))
    assert (head.status, head.reason) == (503, "")


def test_body_for_picks_the_framing() -> None:
    assert isinstance(body_for(parsed(raw_head("Transfer-Encoding: chunked"))), ChunkedBody)
    assert isinstance(body_for(parsed(raw_head("Content-Length: 3"))), LengthBody)
    assert isinstance(body_for(parsed(raw_head("Content-Type: text/plain"))), CloseBody)
    gz = body_for(parsed(raw_head("Content-Length: 3", "Content-Encoding: GZIP")))
    assert isinstance(gz, DecodedBody)
    assert isinstance(
        body_for(parsed(raw_head("Content-Length: 3", "Content-Encoding: identity"))), LengthBody
    )
    with pytest.raises(HTTPProtocolError, match="content coding this client did not ask for"):
        body_for(parsed(raw_head("Content-Length: 3", "Content-Encoding: br")))


def test_request_bytes() -> None:
    block = head_block({"Host": "example.com", "User-Agent": "t"})
    assert block == b"Host: example.com\r\nUser-Agent: t\r\n"
    assert request_bytes("GET", "/v1/models", block, None) == (
        b"GET /v1/models HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n"
    )
    assert request_bytes("POST", "/v1/x", block, b'{"a":1}') == (
        b"POST /v1/x HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n"
        b'Content-Length: 7\r\n\r\n{"a":1}'
    )


# --- chunked bodies: errors --------------------------------------------------------------

Feeder = Callable[[bytes], list[bytes]]
FEEDS: dict[str, Feeder] = {"one read": lambda data: [data], "byte by byte": bytewise}


@pytest.mark.parametrize("feed", FEEDS.values(), ids=FEEDS.keys())
@pytest.mark.parametrize(
    "size", ["zz", "-1", "+1", "0x1", "0X1", "1_0", "1 0", "1\t0", "", " ", ";ext", "g"]
)
def test_a_chunk_size_only_int_would_take_is_refused(size: str, feed: Feeder) -> None:
    body = ChunkedBody()
    wire = chunk(b"x" * 16, size=size) + LAST
    with pytest.raises(HTTPProtocolError, match="malformed chunk size"):
        feed_all(body, feed(wire))


@pytest.mark.parametrize("feed", FEEDS.values(), ids=FEEDS.keys())
def test_a_bad_size_in_a_later_chunk_of_one_read_is_refused(feed: Feeder) -> None:
    wire = chunk(b"abc") + chunk(b"1" * 16, size="0x10") + LAST
    with pytest.raises(HTTPProtocolError, match="malformed chunk size"):
        feed_all(ChunkedBody(), feed(wire))


def test_a_chunk_size_of_over_15_hex_digits_is_refused_on_every_path() -> None:
    # `_HEX` allows 15 digits; the plain-digits fast path in `_chunk_size` has no bound.
    huge = "1" + "0" * 20
    with pytest.raises(HTTPProtocolError, match="malformed chunk size"):
        ChunkedBody().feed(f"{huge};ext\r\nhello".encode())
    with pytest.raises(HTTPProtocolError, match="malformed chunk size"):
        ChunkedBody().feed(f"{huge}\r\nhello".encode())


@pytest.mark.parametrize("feed", FEEDS.values(), ids=FEEDS.keys())
@pytest.mark.parametrize(
    "wire",
    [chunk(b"hello", size="3") + LAST, chunk(b"ok") + chunk(b"hello", size="3") + LAST],
    ids=["first", "second"],
)
def test_a_chunk_longer_than_its_size_is_refused(wire: bytes, feed: Feeder) -> None:
    with pytest.raises(HTTPProtocolError, match="chunk longer than its size"):
        feed_all(ChunkedBody(), feed(wire))


@pytest.mark.parametrize("junk", [b"x", b"HTTP/1.1 200 OK\r\n\r\n", b"\r\n", LAST])
def test_bytes_after_the_final_chunk_are_dropped_and_mark_an_overrun(junk: bytes) -> None:
    """The body is whole and kept; the bytes past it are not payload, and `overrun` tells
    the connection it cannot serve another request."""
    body = ChunkedBody()
    assert body.feed(chunk(b"hello") + LAST) == b"hello"
    assert body.done and not body.overrun
    assert body.feed(junk) == b""
    assert body.overrun
    same_read = ChunkedBody()
    assert same_read.feed(chunk(b"hello") + LAST + junk) == b"hello"
    assert same_read.done and same_read.overrun


def test_a_size_line_over_4_kib_across_reads_is_refused() -> None:
    body = ChunkedBody()
    body.feed(b"5;ext=")
    with pytest.raises(HTTPProtocolError, match="over 4 KiB"):
        for _ in range(10):
            body.feed(b"a" * 1000)


def test_a_size_line_over_4_kib_in_one_read_is_refused() -> None:
    # The limit must not depend on where the socket reads happened to split the bytes.
    wire = b"5;ext=" + b"a" * 5000 + b"\r\nhello\r\n" + LAST
    with pytest.raises(HTTPProtocolError, match="over 4 KiB"):
        ChunkedBody().feed(wire)


def test_a_size_line_under_4_kib_across_reads_is_fine() -> None:
    body = ChunkedBody()
    wire = b"5;ext=" + b"a" * 4000 + b"\r\nhello\r\n" + LAST
    assert feed_all(body, [wire[:2000], wire[2000:]]) == b"hello"
    assert body.done


def test_trailers_over_64_kib_are_refused() -> None:
    body = ChunkedBody()
    assert body.feed(chunk(b"hello") + b"0\r\n") == b"hello"
    line = b"X-Trailer: " + b"t" * 1000 + b"\r\n"
    with pytest.raises(HTTPProtocolError, match="trailers over 64 KiB"):
        for _ in range(70):
            body.feed(line)
    assert not body.done


def test_trailers_over_64_kib_in_one_read_are_refused() -> None:
    trailers = (b"X-Trailer: " + b"t" * 1000 + b"\r\n") * 70
    with pytest.raises(HTTPProtocolError, match="trailers over 64 KiB"):
        ChunkedBody().feed(chunk(b"hello") + b"0\r\n" + trailers + b"\r\n")


@pytest.mark.parametrize(
    "cut",
    [
        chunk(b"hello")[:4],  # in a chunk's payload
        chunk(b"hello"),  # between chunks
        chunk(b"hello")[:1],  # in a size line
        chunk(b"hello")[:-1],  # between payload and its CRLF
        chunk(b"hello") + b"0\r\n",  # before the blank line that ends the trailers
        chunk(b"hello") + b"0\r\nX-T: 1\r\n",  # in the trailers
        b"",  # nothing at all
    ],
)
def test_a_chunked_body_ended_early_is_an_error(cut: bytes) -> None:
    body = ChunkedBody()
    body.feed(cut)
    assert not body.done
    with pytest.raises(HTTPProtocolError, match="closed before the body was complete"):
        body.end()


# --- chunked bodies: what they accept -----------------------------------------------------


def test_chunk_extensions_and_trailers_are_accepted() -> None:
    wire = (
        b"5;name=value;other\r\nhello\r\n"
        b'1 ; spaced = "quoted;"\r\n \r\n'
        b"0;last=1\r\nX-Checksum: abc\r\nServer-Timing: total;dur=3\r\n\r\n"
    )
    for pieces in ([wire], bytewise(wire)):
        body = ChunkedBody()
        assert feed_all(body, pieces) == b"hello "
        assert body.done
        body.end()  # a complete body: the close is fine


def test_upper_case_and_zero_padded_sizes() -> None:
    payload = bytes(range(256)) * 2
    wire = chunk(payload, size="200") + chunk(b"z" * 0xAB, size="00aB") + LAST
    for pieces in ([wire], bytewise(wire)):
        body = ChunkedBody()
        assert feed_all(body, pieces) == payload + b"z" * 0xAB
        assert body.done


@pytest.mark.parametrize(
    ("payloads", "done"),
    [
        ([b"ab\r\n2\r\ncd", b"z"], True),  # a CRLF and a size-like line inside a payload
        ([b"z", b"a\r\n0\r\n"], False),  # ends like the last chunk, but is not
        ([b"z", b"\r\n0\r\n\r\n"], False),
        ([b"1\r\n", b"\r\n1\r\n"], True),
        ([b"\r\n", b"\r\n", b"\r\n"], True),
        ([b"0\r\n\r\n", b"y"], True),
        ([b"abc\r\n3", b"\r\nabc"], True),
    ],
)
def test_whole_chunks_holding_crlf_are_cut_by_their_sizes(
    payloads: list[bytes], done: bool
) -> None:
    # Several whole chunks in one read are split at CRLF by the fast path, and the split is
    # kept only if every size matches its piece; these payloads must fail that check and be
    # read by the general path, with the same result.
    wire = b"".join(map(chunk, payloads)) + (LAST if done else b"")
    body = ChunkedBody()
    assert body.feed(wire) == b"".join(payloads)
    assert body.done is done
    if not done:
        assert body.feed(LAST) == b""
        assert body.done


def test_the_whole_chunk_fast_path_declines_a_crlf_payload(monkeypatch: pytest.MonkeyPatch) -> None:
    # Which path read what: clean whole chunks are taken by `_whole`; a payload with a CRLF
    # in it makes `_whole` decline and the general path take the read.
    seen: list[bytes | None] = []
    whole = ChunkedBody._whole

    def spy(self: ChunkedBody, data: bytes) -> bytes | None:
        out = whole(self, data)
        seen.append(out)
        return out

    monkeypatch.setattr(ChunkedBody, "_whole", spy)
    clean = ChunkedBody()
    assert clean.feed(chunk(b"data: 1\n\n") + chunk(b"data: 22\n\n") + LAST) == (
        b"data: 1\n\ndata: 22\n\n"
    )
    assert clean.done and seen == [b"data: 1\n\ndata: 22\n\n"]
    seen.clear()
    crlf = ChunkedBody()
    payloads = [b"data: a\r\n\r\n", b"data: 1\r\n", b"9\r\n"]
    assert crlf.feed(b"".join(map(chunk, payloads)) + LAST) == b"".join(payloads)
    assert crlf.done and seen == [None]


# --- chunked bodies: random shapes --------------------------------------------------------

_PIECES = [b"\r\n", b"\r", b"\n", b"0", b"1", b"a", b"F", b";", b"x", b"data: ", b"\r\n0\r\n\r\n"]


def random_payload(rng: random.Random) -> bytes:
    """1 to ~300 bytes (sometimes ~5 KB) mixing framing look-alikes with random bytes."""
    parts = []
    for _ in range(rng.choice([1, 2, 5, 20, 60, 600]) if rng.random() < 0.95 else 1200):
        if rng.random() < 0.6:
            parts.append(rng.choice(_PIECES))
        else:
            parts.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 4))))
    return b"".join(parts)


def random_chunk(rng: random.Random, payload: bytes) -> bytes:
    """`payload` as one chunk: a size in either case, sometimes zero-padded or extended."""
    size = f"{len(payload):x}"
    roll = rng.random()
    if roll < 0.15:
        size = size.upper()
    elif roll < 0.2:
        size = "00" + size
    elif roll < 0.25:
        size += ";ext=1"
    return chunk(payload, size=size)


def random_last(rng: random.Random) -> bytes:
    return LAST if rng.random() < 0.8 else b"0;x=y\r\nX-Trailer: 1\r\nOther: two\r\n\r\n"


def check(body: ChunkedBody, pieces: list[bytes], expected: bytes) -> None:
    out = []
    for i, piece in enumerate(pieces):
        assert not body.done, f"done before the last read (read {i} of {len(pieces)})"
        out.append(body.feed(piece))
    assert b"".join(out) == expected
    assert body.done
    body.end()


@pytest.mark.parametrize("seed", range(40))
def test_random_chunked_bodies_in_random_splits(seed: int) -> None:
    rng = random.Random(seed)
    payloads = [random_payload(rng) for _ in range(rng.randint(1, 30))]
    wire = b"".join(random_chunk(rng, p) for p in payloads) + random_last(rng)
    most = rng.choice([1, 3, 16, 200, 5000])
    check(ChunkedBody(), random_splits(rng, wire, most=most), b"".join(payloads))


@pytest.mark.parametrize("seed", range(40))
def test_random_chunked_bodies_in_groups_of_whole_chunks(seed: int) -> None:
    rng = random.Random(1000 + seed)
    payloads = [random_payload(rng) for _ in range(rng.randint(1, 30))]
    chunks = [random_chunk(rng, p) if rng.random() < 0.3 else chunk(p) for p in payloads]
    chunks.append(random_last(rng))
    groups: list[bytes] = []
    i = 0
    while i < len(chunks):
        n = rng.randint(1, 6)
        groups.append(b"".join(chunks[i : i + n]))
        i += n
    check(ChunkedBody(), groups, b"".join(payloads))


@pytest.mark.parametrize("seed", range(10))
def test_random_chunked_bodies_one_chunk_per_read(seed: int) -> None:
    # The token stream's shape: each read one whole chunk, then the last chunk alone.
    rng = random.Random(2000 + seed)
    payloads = [random_payload(rng) for _ in range(rng.randint(1, 40))]
    check(ChunkedBody(), [*map(chunk, payloads), LAST], b"".join(payloads))


# --- Content-Length and close-delimited bodies ---------------------------------------------


def test_bytes_past_a_length_body_are_dropped_and_mark_an_overrun() -> None:
    over = LengthBody(5)
    assert over.feed(b"hello!") == b"hello"
    assert over.done and over.overrun
    body = LengthBody(5)
    assert feed_all(body, [b"hel", b"lo"]) == b"hello"
    assert body.done and not body.overrun
    assert body.feed(b"x") == b""
    assert body.overrun


def test_a_length_body_ended_early_is_an_error() -> None:
    body = LengthBody(5)
    assert body.feed(b"hell") == b"hell"
    assert not body.done
    with pytest.raises(HTTPProtocolError, match="closed before the body was complete"):
        body.end()
    empty = LengthBody(0)
    assert empty.done
    empty.end()


def test_a_close_delimited_body_ends_at_the_close() -> None:
    body = CloseBody()
    assert feed_all(body, [b"any", b"thing\r\n0\r\n\r\n"]) == b"anything\r\n0\r\n\r\n"
    assert not body.done
    body.end()
    assert body.done


# --- compressed bodies ---------------------------------------------------------------------

JSON = b'{"choices":[{"message":{"content":"' + b"tokens " * 2000 + b'"}}]}'


def compress(coding: str, data: bytes) -> bytes:
    return gzip.compress(data) if coding == "gzip" else zlib.compress(data)


def framed(framing: str, data: bytes, rng: random.Random) -> tuple[Body, bytes]:
    if framing == "chunked":
        pieces = random_splits(rng, data, most=500)
        return ChunkedBody(), b"".join(map(chunk, pieces)) + LAST
    if framing == "length":
        return LengthBody(len(data)), data
    return CloseBody(), data


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
@pytest.mark.parametrize("coding", ["gzip", "deflate"])
@pytest.mark.parametrize("seed", range(3))
def test_compressed_bodies_are_decoded_across_split_reads(
    coding: str, framing: str, seed: int
) -> None:
    rng = random.Random(seed)
    inner, wire = framed(framing, compress(coding, JSON), rng)
    body = DecodedBody(inner, coding)
    out = feed_all(body, random_splits(rng, wire, most=rng.choice([1, 7, 300])))
    if framing == "close":
        assert not body.done
        body.end()
    assert body.done
    assert out == JSON


@pytest.mark.parametrize("coding", ["gzip", "x-gzip", "deflate"])
def test_body_for_decodes_what_the_server_compressed(coding: str) -> None:
    data = compress("deflate" if coding == "deflate" else "gzip", JSON)
    head = parsed(raw_head(f"Content-Encoding: {coding}", f"Content-Length: {len(data)}"))
    body = body_for(head)
    assert feed_all(body, random_splits(random.Random(7), data, most=100)) == JSON
    assert body.done


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_corrupt_compressed_body_is_refused(coding: str) -> None:
    with pytest.raises(HTTPProtocolError, match="compressed body is corrupt"):
        DecodedBody(LengthBody(100), coding).feed(b"this is not compressed data at all")
    data = bytearray(compress(coding, JSON))
    data[len(data) // 2 : len(data) // 2 + 8] = b"\xff" * 8
    with pytest.raises(HTTPProtocolError, match="compressed body is corrupt"):
        feed_all(DecodedBody(LengthBody(len(data)), coding), [bytes(data)])


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_truncated_compressed_body_is_refused(coding: str) -> None:
    # Content-Length covers only part of the compressed stream: the framing is satisfied but
    # the compressed data never ended, so the decoded body is a silent fragment.
    data = compress(coding, JSON)
    half = data[: len(data) // 2]
    with pytest.raises(HTTPProtocolError, match="compressed"):
        feed_all(DecodedBody(LengthBody(len(half)), coding), [half])


def test_raw_deflate_without_the_zlib_wrapper_is_decoded_too() -> None:
    """Some servers send "deflate" as a bare deflate stream, not the zlib format RFC 9110
    names; aiohttp read both, and so does this client."""
    z = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    data = z.compress(JSON) + z.flush()
    body = DecodedBody(LengthBody(len(data)), "deflate")
    assert feed_all(body, random_splits(random.Random(3), data, most=50)) == JSON
    assert body.done
    gz = DecodedBody(LengthBody(len(data)), "gzip")  # a gzip body has no such excuse
    with pytest.raises(HTTPProtocolError, match="compressed body is corrupt"):
        feed_all(gz, [data])


def test_exactly_256_header_lines_are_accepted() -> None:
    head = parsed(raw_head(*[f"X-H{i}: v" for i in range(256)]))
    assert len(head.headers) == 256
