"""The learned chunk template must give exactly what full parsing gives, on any input.

Every test runs the same events through an assembler that may learn a template and one that
may not (`_learn_budget = 0`), and compares everything a user can observe.
"""

from __future__ import annotations

import copy
import json
import pickle
import random
from typing import Any

import orjson
import pytest

from groqstream import MalformedChunkError, _fastpath, chunks
from groqstream.chunks import ChunkAssembler
from groqstream.sse import ServerSentEvent
from groqstream.types import Delta

HEAD: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1730000000,
    "model": "m",
}


def raw(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return orjson.dumps({**HEAD, "choices": [choice], **extra})


def observe(asm: ChunkAssembler, reads: list[list[Any]]) -> dict[str, Any]:
    deltas = []
    for n, events in enumerate(reads):
        deltas += [
            (d.content, d.reasoning, d.tool_calls, d.finish_reason, d.index, d.arrived_ns)
            for d in asm.feed(events, n)
        ]
        if asm.error is not None:
            break
    err = asm.error
    return {
        "deltas": deltas,
        "text": asm.text(),
        "reasoning": asm.reasoning(),
        "finish": asm.finish_reason,
        "usage": asm.usage,
        "request_id": asm.request_id,
        "chunks": asm.chunks,
        "output_ns": asm.output_ns,
        "done": asm.done,
        "error": (type(err), str(err)) if err is not None else None,
    }


def both(reads: list[list[Any]]) -> tuple[dict[str, Any], dict[str, Any], ChunkAssembler]:
    learner, plain = ChunkAssembler(), ChunkAssembler()
    plain._learn_budget = 0
    got = observe(learner, reads)
    want = observe(plain, reads)
    return got, want, learner


def test_a_plain_stream_is_served_by_the_template() -> None:
    reads: list[list[Any]] = [
        [raw({"role": "assistant", "content": ""}, x_groq={"id": "req_1"}), raw({"content": "Hi"})],
        [raw({"content": f" t{k}"}) for k in range(50)],
        [raw({}, "stop", x_groq={"id": "req_1", "usage": {"completion_tokens": 51}}), b"[DONE]"],
    ]
    got, want, learner = both(reads)
    assert got == want
    assert learner._template is not None and learner._template.content
    assert got["text"].startswith("Hi t0 t1") and got["chunks"] == 53

    class Counting(ChunkAssembler):
        parsed = 0

        def _feed_general(self, events: Any, arrived_ns: int, out: Any) -> None:
            Counting.parsed += len(events)
            super()._feed_general(events, arrived_ns, out)

    asm = Counting()
    observe(asm, reads)
    # the first read (its second chunk teaches the template) and the last; the 50 middle
    # chunks skip the general path
    assert Counting.parsed == 2 + 2


@pytest.mark.parametrize("key", ["content", "reasoning"])
def test_the_templates_deltas_are_plain_deltas(key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Users compare, copy, pickle (Ray), print and edit deltas: the ones the template makes
    # must be the same type as the general path's, every field settable, the first delta of a
    # stream and the hundredth alike.
    used: list[str] = []
    run, text_of = _fastpath.run, _fastpath.text_of

    def counted_run(*args: Any) -> int:
        used.append("run")
        return run(*args)

    def counted_text_of(*args: Any) -> str | None:
        used.append("text_of")
        return text_of(*args)

    monkeypatch.setattr(_fastpath, "run", counted_run)
    monkeypatch.setattr(_fastpath, "text_of", counted_text_of)
    reads = [[raw({key: f"t{k}"}) for k in range(3)], [raw({key: "z"})]]
    got, want, _ = both(reads)
    assert got == want
    learner = ChunkAssembler()
    deltas = [d for n, r in enumerate(reads) for d in learner.feed(r, n)]
    assert "run" in used and "text_of" in used  # both fast paths made some of them
    for d in deltas:
        assert type(d) is Delta
        assert all(hasattr(d, f) for f in Delta.__slots__)  # `run` builds them field by field
        for copied in (pickle.loads(pickle.dumps(d)), copy.copy(d), copy.deepcopy(d)):
            assert type(copied) is Delta and copied == d
        d.content, d.reasoning, d.finish_reason = "edited", None, "stop"
        assert (d.content, d.reasoning, d.finish_reason) == ("edited", None, "stop")


def test_a_whole_response_in_one_read_is_parsed_only_where_no_template_fits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A lagging client (or a fast server) gets the role chunk, every token and the last
    # chunk in one read: only the role chunk, the one that teaches the template and the last
    # are parsed as objects; the template takes the tokens between them.
    read: list[Any] = [raw({"role": "assistant", "content": ""}, x_groq={"id": "req_1"})]
    read += [raw({"content": f" t{k}"}) for k in range(50)]
    read += [raw({}, "stop", x_groq={"id": "req_1", "usage": {"completion_tokens": 50}}), b"[DONE]"]
    got, want, _ = both([read])
    assert got == want and got["chunks"] == 52 and got["done"]

    parsed: list[int] = []
    loads, parse_array = chunks._loads, _fastpath.parse_array

    def counted_loads(data: bytes) -> Any:
        parsed.append(1)
        return loads(data)

    def counted_parse_array(payloads: Any) -> Any:
        parsed.append(len(payloads))
        return parse_array(payloads)

    monkeypatch.setattr(chunks, "_loads", counted_loads)
    monkeypatch.setattr(_fastpath, "parse_array", counted_parse_array)
    observe(ChunkAssembler(), [read])
    assert sum(parsed) == 3


def test_a_template_learned_late_in_a_read_takes_the_rest_of_it() -> None:
    # Two leading chunks that teach nothing (the role, an empty text) send the rest of the
    # read to one bulk parse; the template learned there must still take what follows, or
    # each chunk would be applied (and learned from) again until the learning budget ran out.
    first: list[Any] = [raw({"role": "assistant", "content": ""}), raw({"content": ""})]
    first += [raw({"content": f" t{k}"}) for k in range(20)]
    reads = [first] + [[raw({"reasoning": f"r{k}"})] for k in range(5)]
    got, want, learner = both(reads)
    assert got == want and got["chunks"] == 27
    assert learner._template is not None and not learner._template.content  # reasoning's
    assert learner._learn_budget >= 6


def test_reasoning_then_content_both_use_templates() -> None:
    reads: list[list[Any]] = [
        [raw({"reasoning": "Think"})],
        [raw({"reasoning": f" r{k}"}) for k in range(5)],
        [raw({"content": "A"})],
        [raw({"content": f" c{k}"}) for k in range(5)],
        [raw({}, "stop"), b"[DONE]"],
    ]
    got, want, learner = both(reads)
    assert got == want
    assert got["reasoning"] == "Think r0 r1 r2 r3 r4"
    assert learner._template is not None and learner._template.content


TRICKY_TEXTS = [
    'a "quoted" word',
    "back\\slash",
    "ends with a backslash \\",
    "\\",
    '\\"',
    "line\nbreak\ttab",
    "unicode é ✓ 🚀",
    "</script>",
    '"},"logprobs":null,"finish_reason":"stop"}]}',
    '","content":"',
    "",
]


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_texts_that_look_like_json_survive(text: str) -> None:
    reads = [[raw({"content": "first"})], [raw({"content": text})], [raw({"content": text + "x"})]]
    got, want, _ = both(reads)
    assert got == want
    assert got["text"] == "first" + text + text + "x"


def test_a_server_that_escapes_non_ascii_is_decoded_the_same() -> None:
    def ascii_raw(text: str) -> bytes:
        obj = {**HEAD, "choices": [{"index": 0, "delta": {"content": text}}]}
        return json.dumps(obj, separators=(",", ":")).encode()  # ensure_ascii: \u00e9

    reads = [[ascii_raw("é")], [ascii_raw("ü")], [ascii_raw("x")], [ascii_raw('"✓"')]]
    got, want, _ = both(reads)
    assert got == want and got["text"] == 'éüx"✓"'


def test_a_change_outside_the_text_falls_back_and_relearns() -> None:
    later = {**HEAD, "created": HEAD["created"] + 1}
    chunks = [raw({"content": "a"}), raw({"content": "b"})]
    chunks.append(orjson.dumps({**later, "choices": [{"index": 0, "delta": {"content": "c"}}]}))
    chunks.append(orjson.dumps({**later, "choices": [{"index": 0, "delta": {"content": "d"}}]}))
    chunks.append(raw({"content": "e"}, usage={"completion_tokens": 5}))
    chunks.append(raw({"content": "f", "tool_calls": None}))
    chunks.append(raw({"content": "g"}, "stop"))
    got, want, _ = both([[c] for c in chunks])
    assert got == want and got["text"] == "abcdefg" and got["finish"] == "stop"


def test_malformed_chunk_after_learning_is_still_a_typed_error() -> None:
    prefix = raw({"content": "X"}).split(b'"X"')[0]
    bad = [
        prefix + b'"broken \\"},"logprobs":null,"finish_reason":null}]}',  # trailing backslash
        prefix + b'"a"b"},"logprobs":null,"finish_reason":null}]}',  # bare quote
        prefix + b'"tab\there"},"logprobs":null,"finish_reason":null}]}',  # raw control char
    ]
    for b in bad:
        got, want, _ = both([[raw({"content": "ok"})], [raw({"content": "ok2"}), b]])
        assert got == want
        assert got["error"] is not None and got["error"][0] is MalformedChunkError
        assert got["text"] == "okok2"


def test_event_objects_and_other_choices_mixed_in() -> None:
    two = {**HEAD, "choices": [{"index": 1, "delta": {"content": "other"}, "finish_reason": None}]}
    reads: list[list[Any]] = [
        [raw({"content": "a"}), raw({"content": "b"})],
        [raw({"content": "c"}), ServerSentEvent(data=raw({"content": "d"}).decode())],
        [orjson.dumps(two), raw({"content": "e"})],
        [ServerSentEvent(event="ping", data="{}"), raw({"content": "f"}), b"[DONE]"],
    ]
    got, want, _ = both(reads)
    assert got == want and got["text"] == "abcdef"


def test_ignored_fields_that_change_every_chunk_become_holes() -> None:
    # OpenAI adds a per-chunk `obfuscation` string; some servers change `created` each chunk.
    reads = [
        [raw({"content": f"t{k}"}, obfuscation="x" * k, created=1730000000 + k)] for k in range(40)
    ]
    got, want, learner = both(reads)
    assert got == want
    tpl = learner._template
    assert tpl is not None
    assert tpl.whole is not None  # `created` precedes the text
    # learned from the first chunk, then from the second, which showed which fields vary
    assert learner._learn_budget == 8 - 2


@pytest.mark.parametrize("per_read", [1, 3])
def test_a_field_before_the_text_that_changes_now_and_then_costs_a_match_per_change(
    per_read: int,
) -> None:
    # `created` ticks once a second on a real server (here every 4 chunks): once it is a
    # hole, the pattern runs when it changes and the chunks after start with the new bytes.
    chunks = [raw({"content": f"t{k}"}, created=1730000000 + k // 4) for k in range(64)]
    reads = [chunks[i : i + per_read] for i in range(0, len(chunks), per_read)]
    learner = ChunkAssembler()
    n = 0
    while learner._template is None or learner._template.whole is None:
        learner.feed(reads[n], n)  # until the template with `created` as a hole
        n += 1
    tpl = learner._template
    assert tpl.renew
    matched = []
    whole = tpl.whole
    assert whole is not None

    def counted(p: bytes) -> Any:
        matched.append(p)
        return whole(p)

    tpl.whole = counted
    for i in range(n, len(reads)):
        learner.feed(reads[i], i)
    later = [c for r in reads[n:] for c in r]
    changes = len({orjson.loads(c)["created"] for c in later}) - 1  # (it only goes up)
    # `created` sits before the text: the first chunk after each change needs the pattern
    assert len(matched) <= changes + 1
    assert learner.text() == "".join(f"t{k}" for k in range(64))
    got, want, _ = both(reads)
    assert got == want


def test_a_field_varying_after_the_text_is_matched_from_the_text_on() -> None:
    reads = [[raw({"content": f"t{k}"}, obfuscation="x" * (k % 7))] for k in range(40)]
    got, want, learner = both(reads)
    assert got == want
    tpl = learner._template
    assert tpl is not None
    assert tpl.rest is not None
    assert tpl.whole is None
    assert learner._learn_budget == 8 - 2


def test_learning_gives_up_on_streams_that_never_repeat() -> None:
    # Per-token logprobs differ in structure, not just in a scalar: no template can match.
    def chunk(k: int) -> bytes:
        choice = {
            "index": 0,
            "delta": {"content": f"t{k}"},
            "logprobs": {"content": [{"token": f"t{k}", "logprob": -k / 7}] * (k % 3 + 1)},
            "finish_reason": None,
        }
        return orjson.dumps({**HEAD, "choices": [choice]})

    got, want, learner = both([[chunk(k)] for k in range(40)])
    assert got == want
    assert learner._learn_budget == 0


def test_random_streams_match_full_parsing() -> None:
    rng = random.Random(7)
    alphabet = ['"', "\\", "\n", "é", "a", " ", "}", ",", ":", "🚀", "\u2028", "/"]
    for _ in range(200):
        chunks: list[Any] = [raw({"role": "assistant", "content": ""}, x_groq={"id": "r"})]
        for _ in range(rng.randrange(1, 30)):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 6)))
            kind = rng.random()
            if kind < 0.4:
                chunks.append(raw({"content": text}))
            elif kind < 0.55:
                chunks.append(raw({"reasoning": text}))
            elif kind < 0.65:
                chunks.append(raw({"content": text}, usage=None, x_groq={"id": "r"}))
            elif kind < 0.75:
                noise = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 6)))
                chunks.append(raw({"content": text}, obfuscation=noise))
            elif kind < 0.85:
                chunks.append(raw({"content": text}, created=rng.choice([1, -2, 3.5, 1e20])))
            elif kind < 0.9:
                chunks.append(raw({"reasoning_content": text}, obfuscation=text))
            else:
                good = raw({"content": text})
                cut = rng.randrange(len(good) - 20, len(good))
                chunks.append(good[:cut] + good[cut + 1 :])  # one byte lost
        chunks += [raw({}, "stop", x_groq={"id": "r", "usage": {"total_tokens": 3}}), b"[DONE]"]
        reads: list[list[Any]] = []
        i = 0
        while i < len(chunks):
            n = rng.randrange(1, 6)
            reads.append(chunks[i : i + n])
            i += n
        got, want, _ = both(reads)
        assert got == want
