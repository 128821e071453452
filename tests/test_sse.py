"""The SSE decoder against the WHATWG event-stream rules, fed in every possible split."""

from __future__ import annotations

import itertools

import pytest

from groqstream.sse import ServerSentEvent as E
from groqstream.sse import SSEDecoder


def whole(stream: bytes) -> list[E]:
    return SSEDecoder().feed(stream)


def pieces(stream: bytes, cuts: tuple[int, ...]) -> list[E]:
    d = SSEDecoder()
    out: list[E] = []
    bounds = (0, *cuts, len(stream))
    for a, b in itertools.pairwise(bounds):
        out += d.feed(stream[a:b])
    return out


def payload_form(stream: bytes, cuts: tuple[int, ...] = ()) -> list[E]:
    """`feed_payloads` must describe the same events (raw bytes for plain data events)."""
    d = SSEDecoder()
    out: list[E] = []
    bounds = (0, *cuts, len(stream))
    for a, b in itertools.pairwise(bounds):
        for item in d.feed_payloads(stream[a:b]):
            if isinstance(item, bytes):
                out.append(E(data=item.decode("utf-8", "replace"), id=d.last_event_id))
            else:
                out.append(item)
    return out


CASES: list[tuple[str, bytes, list[E]]] = [
    ("simple", b"data: hello\n\n", [E(data="hello")]),
    ("two events", b"data: a\n\ndata: b\n\n", [E(data="a"), E(data="b")]),
    ("crlf", b"data: a\r\n\r\ndata: b\r\n\r\n", [E(data="a"), E(data="b")]),
    ("cr", b"data: a\r\rdata: b\r\r", [E(data="a"), E(data="b")]),
    ("mixed endings", b"data: a\r\ndata: b\rdata: c\n\r\n", [E(data="a\nb\nc")]),
    ("multi-line data", b"data: one\ndata: two\ndata: three\n\n", [E(data="one\ntwo\nthree")]),
    ("one space only", b"data:  x\n\n", [E(data=" x")]),
    ("no space", b"data:x\n\n", [E(data="x")]),
    ("field without colon", b"data\n\n", [E(data="")]),
    ("empty data twice", b"data\ndata\n\n", [E(data="\n")]),
    ("data with colon", b"data: a: b\n\n", [E(data="a: b")]),
    ("comment ignored", b": ping\ndata: x\n: another\n\n", [E(data="x")]),
    ("only comments", b": ping\n\n: ping\n\n", []),
    ("event type", b"event: update\ndata: x\n\n", [E(event="update", data="x")]),
    (
        "event type resets",
        b"event: e\ndata: 1\n\ndata: 2\n\n",
        [E(event="e", data="1"), E(data="2")],
    ),
    ("empty event name is message", b"event\ndata: x\n\n", [E(data="x")]),
    ("id persists", b"id: 1\ndata: a\n\ndata: b\n\n", [E(data="a", id="1"), E(data="b", id="1")]),
    ("empty id resets", b"id: 1\ndata: a\n\nid\ndata: b\n\n", [E(data="a", id="1"), E(data="b")]),
    (
        "id with NUL ignored",
        b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
        [E(data="a", id="1"), E(data="b", id="1")],
    ),
    ("id without data persists", b"id: 7\n\ndata: x\n\n", [E(data="x", id="7")]),
    ("retry valid", b"retry: 3000\ndata: x\n\n", [E(data="x", retry=3000)]),
    (
        "retry scoped to block",
        b"retry: 5\ndata: a\n\ndata: b\n\n",
        [E(data="a", retry=5), E(data="b")],
    ),
    (
        "retry invalid",
        b"retry: 12a\ndata: a\n\nretry:\ndata: b\n\nretry:  5\ndata: c\n\n"
        b"retry: -1\ndata: d\n\nretry: 1.5\ndata: e\n\n",
        [E(data="a"), E(data="b"), E(data="c"), E(data="d"), E(data="e")],
    ),
    ("retry without data", b"retry: 5\n\ndata: x\n\n", [E(data="x")]),
    ("unknown field", b"foo: bar\ndata: x\n\n", [E(data="x")]),
    ("field names are case-sensitive", b"Data: x\n\n", []),
    ("unterminated last event dropped", b"data: a\n\ndata: b\n", [E(data="a")]),
    ("no trailing blank at all", b"data: a", []),
    ("leading blank lines", b"\n\n\ndata: a\n\n", [E(data="a")]),
    ("extra blank lines between", b"data: a\n\n\n\ndata: b\n\n", [E(data="a"), E(data="b")]),
    ("bom stripped", b"\xef\xbb\xbfdata: a\n\n", [E(data="a")]),
    ("second bom is not stripped", b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n", []),
    ("bom later is data", b"data: \xef\xbb\xbfa\n\n", [E(data="\ufeffa")]),
    ("utf-8", "data: héllo → 世界\n\n".encode(), [E(data="héllo → 世界")]),
    ("invalid utf-8 replaced", b"data: a\xffb\n\n", [E(data="a\ufffdb")]),
    ("done is data", b"data: [DONE]\n\n", [E(data="[DONE]")]),
    (
        "event error block",
        b'event: error\ndata: {"error": {"message": "x"}}\n\n',
        [E(event="error", data='{"error": {"message": "x"}}')],
    ),
    (
        "groq shaped",
        b'data: {"id":"c","choices":[{"delta":{"content":"Hi"}}]}\n\n: ping\n\ndata: [DONE]\n\n',
        [E(data='{"id":"c","choices":[{"delta":{"content":"Hi"}}]}'), E(data="[DONE]")],
    ),
    ("blank line with spaces is not blank", b"data: a\n \ndata: b\n\n", [E(data="a\nb")]),
    ("colon-space field name", b" data: x\n\n", []),
]


@pytest.mark.parametrize(("name", "stream", "expected"), CASES, ids=[c[0] for c in CASES])
def test_whole_stream(name: str, stream: bytes, expected: list[E]) -> None:
    assert whole(stream) == expected


@pytest.mark.parametrize(("name", "stream", "expected"), CASES, ids=[c[0] for c in CASES])
def test_every_split_gives_the_same_events(name: str, stream: bytes, expected: list[E]) -> None:
    n = len(stream)
    for i in range(n + 1):
        assert pieces(stream, (i,)) == expected, f"split at {i}"
    step = 1 if n <= 40 else 3
    for i in range(0, n + 1, step):
        for j in range(i, n + 1, step):
            assert pieces(stream, (i, j)) == expected, f"splits at {i}, {j}"
    assert pieces(stream, tuple(range(1, n))) == expected  # byte by byte


@pytest.mark.parametrize(("name", "stream", "expected"), CASES, ids=[c[0] for c in CASES])
def test_payload_form_matches(name: str, stream: bytes, expected: list[E]) -> None:
    assert payload_form(stream) == expected
    assert payload_form(stream, tuple(range(1, len(stream)))) == expected


def test_crlf_split_across_feeds_is_one_line_ending() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\r") == []
    assert d.feed(b"\n\r") == [E(data="a")]
    assert d.feed(b"\ndata: b\r\n\r\n") == [E(data="b")]


def test_lone_cr_at_end_of_feed_then_data() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\r") == []
    assert d.feed(b"\r") == [E(data="a")]  # CR CR: line end then blank line


def test_split_multibyte_character() -> None:
    d = SSEDecoder()
    raw = "data: 世\n\n".encode()
    assert d.feed(raw[:7]) == []
    assert d.feed(raw[7:]) == [E(data="世")]


def test_bom_split_across_feeds() -> None:
    d = SSEDecoder()
    assert d.feed(b"\xef") == []
    assert d.feed(b"\xbb") == []
    assert d.feed(b"\xbfdata: a\n\n") == [E(data="a")]


def test_last_event_id_property_and_reset() -> None:
    d = SSEDecoder()
    d.feed(b"id: 42\ndata: x\n\n")
    assert d.last_event_id == "42"
    d.reset()
    assert d.last_event_id is None
    assert d.feed(b"data: y\n\n") == [E(data="y")]


def test_event_json() -> None:
    assert E(data='{"a": [1, 2]}').json() == {"a": [1, 2]}


def test_empty_feed_changes_nothing() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: a\r") == []
    assert d.feed(b"") == []
    assert d.feed(b"\n\n") == [E(data="a")]


def test_many_events_in_one_feed_keep_order() -> None:
    stream = b"".join(b"data: %d\n\n" % i for i in range(1000))
    assert [e.data for e in whole(stream)] == [str(i) for i in range(1000)]
