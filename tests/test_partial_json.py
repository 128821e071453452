"""`PartialJSON`: any JSON document fed in any pieces gives the same value as parsing it once,
the growing value in between, the paths as they complete, and a typed error for bad text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groqstream import PartialJSON, PartialJSONError, ProtocolError

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)


def feed_in(text: str, cuts: list[int]) -> tuple[Any, list[tuple[Any, ...]]]:
    p = PartialJSON()
    paths: list[tuple[Any, ...]] = []
    last = 0
    for c in sorted(set(cuts)):
        paths += p.feed(text[last:c])
        last = c
    paths += p.feed(text[last:])
    paths += p.close()
    return p.value, paths


@settings(max_examples=300, deadline=None)
@given(JSON, st.booleans(), st.lists(st.integers(0, 400), max_size=30))
def test_any_document_in_any_pieces_parses_as_a_whole(
    doc: Any, ascii_only: bool, cuts: list[int]
) -> None:
    text = json.dumps(doc, ensure_ascii=ascii_only, indent=None if ascii_only else 1)
    value, paths = feed_in(text, [c for c in cuts if c <= len(text)])
    assert value == json.loads(text)
    assert paths[-1] == ()  # the root completes last


def test_the_value_grows_and_paths_complete_as_the_text_arrives() -> None:
    p = PartialJSON()
    assert p.feed('{"name": "Ad') == []
    assert p.value == {"name": "Ad"}  # a string shows as it arrives
    assert p.feed('a", "age": 3') == [("name",)]
    assert p.value == {"name": "Ada"}  # a number only once it cannot grow
    assert p.feed('6, "tags": ["x", ') == [("age",), ("tags", 0)]
    assert p.value == {"name": "Ada", "age": 36, "tags": ["x"]}
    assert p.path() == ("tags", 1)
    assert p.feed('"y"]}') == [("tags", 1), ("tags",), ()]
    assert p.complete and p.close() == []


def test_escapes_split_anywhere() -> None:
    text = json.dumps({"s": 'q"b\\s/\b\f\n\r\t é 😀'}, ensure_ascii=True)
    for size in range(1, 14):
        value, _ = feed_in(text, list(range(size, len(text), size)))
        assert value == json.loads(text)


def test_a_top_level_number_ends_at_close() -> None:
    p = PartialJSON()
    assert p.feed("12") == [] and p.value is None
    assert p.close() == [()] and p.value == 12


@pytest.mark.parametrize(
    "bad",
    [
        '{"a" 1}',
        "[1,,2]",
        '{"a":tru e}',
        "01",
        '{"a":1}}',
        '"\\x"',
        "{1:2}",
        "[1 2]",
        "-",
        "1.e5",
        '"\\u12G4"',
        "nul1",
        "]",
    ],
)
def test_bad_text_is_a_typed_error(bad: str) -> None:
    p = PartialJSON()
    with pytest.raises(PartialJSONError) as ei:
        p.feed(bad)
        p.close()
    assert isinstance(ei.value, ProtocolError)


def test_an_incomplete_document_fails_at_close() -> None:
    p = PartialJSON()
    p.feed('{"a": [1, 2')
    with pytest.raises(PartialJSONError, match="ended before it was complete"):
        p.close()


def test_nesting_is_bounded() -> None:
    p = PartialJSON(max_depth=10)
    p.feed("[" * 10)
    with pytest.raises(PartialJSONError, match="deeper than 10"):
        p.feed("[")


def test_only_an_unfinished_token_is_kept_between_feeds() -> None:
    """Each feed scans only new text: what is held back is the unfinished token, not the
    document, so the work stays linear (the benchmark measures it)."""
    p = PartialJSON()
    doc = json.dumps({"items": [{"id": i, "name": f"item {i}"} for i in range(500)]})
    for i in range(0, len(doc), 4):
        p.feed(doc[i : i + 4])
        assert len(p._buf) < 24
    assert p.complete and p.close() == []
