"""The groq-batch backend's sans-IO pieces: the auto choice, deadlines and windows, splitting
into batches, the manifest, what an output-file line means, and the poll backoff."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orjson
import pytest

from groqstream.batch import BatchInputError
from groqstream.batch.choice import (
    AUTO_MIN_REQUESTS,
    choose_backend,
    parse_deadline,
    parse_duration,
    window_seconds,
)
from groqstream.batch.remote import (
    Manifest,
    Poller,
    RemoteBatch,
    in_ranges,
    outcome,
    plan_chunks,
    ranges_of,
    route_line,
)
from groqstream.errors import ConfigError, ProtocolError

DAY = 86400.0


def test_auto_picks_the_batch_api_only_with_time_and_volume() -> None:
    big, small = AUTO_MIN_REQUESTS, AUTO_MIN_REQUESTS - 1
    assert choose_backend("auto", big, None, DAY)[0] == "groq-batch"
    assert choose_backend("auto", big, 2 * DAY, DAY)[0] == "groq-batch"
    assert choose_backend("auto", big, DAY, DAY)[0] == "groq-batch"  # exactly one window
    backend, why = choose_backend("auto", big, DAY - 1, DAY)
    assert backend == "sync" and "sooner than the 24h completion window" in why
    backend, why = choose_backend("auto", small, None, DAY)
    assert backend == "sync" and f"{small:,} requests" in why
    assert choose_backend("sync", big, None, DAY) == ("sync", "chosen")
    assert choose_backend("groq-batch", 1, 10.0, DAY) == ("groq-batch", "chosen")
    with pytest.raises(ConfigError, match="backend must be one of"):
        choose_backend("remote", 1, None, DAY)


def test_windows_and_deadlines() -> None:
    assert window_seconds("24h") == DAY and window_seconds("7d") == 7 * DAY
    assert window_seconds("36h") == 1.5 * DAY
    for bad in ("23h", "8d", "1w", "24", "", "24 h"):
        with pytest.raises(ConfigError, match="from 24h to 7d"):
            window_seconds(bad)
    assert parse_duration("90m") == 5400 and parse_duration("1.5h") == 5400
    assert parse_duration("soon") is None
    now = 1_000_000.0
    assert parse_deadline(None, now) is None
    assert parse_deadline("36h", now) == now + 36 * 3600
    assert parse_deadline(60, now) == now + 60
    when = datetime(2026, 12, 24, 18, tzinfo=timezone.utc)
    assert parse_deadline("2026-12-24T18:00Z", now) == when.timestamp()
    assert parse_deadline(when + timedelta(hours=1), now) == when.timestamp() + 3600
    bad_deadlines: list[object] = ["soon", "2026-13-01", -5, True]
    for wrong in bad_deadlines:
        with pytest.raises(ConfigError, match="deadline"):
            parse_deadline(wrong, now)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs a time zone"):
        parse_deadline("2026-12-24T18:00", now)


def test_plan_chunks_keeps_each_batch_within_both_limits() -> None:
    sizes = [(n, 10) for n in range(1, 26)]
    assert [len(c) for c in plan_chunks(sizes, max_lines=10, max_bytes=1000)] == [10, 10, 5]
    assert [len(c) for c in plan_chunks(sizes, max_lines=100, max_bytes=45)] == [4] * 6 + [1]
    assert plan_chunks([], max_lines=10, max_bytes=10) == []
    with pytest.raises(BatchInputError, match="line 2: 50 bytes, over the 40 byte limit"):
        plan_chunks([(1, 10), (2, 50)], max_lines=10, max_bytes=40)


def test_ranges_round_trip() -> None:
    lines = [1, 2, 3, 7, 9, 10]
    assert ranges_of(lines) == [[1, 3], [7, 7], [9, 10]]
    assert list(in_ranges(ranges_of(lines))) == lines


def test_manifest_round_trip_claims_and_input_check() -> None:
    m = Manifest("in.jsonl", 123, "24h")
    live = RemoteBatch([[1, 3]], 3, "file_a", "batch_a", "in_progress")
    old = RemoteBatch([[4, 5]], 2, "file_b", "batch_b", "completed", collected=True)
    m.batches += [live, old]
    back = Manifest.from_bytes(m.to_bytes(), "x")
    assert back == m and back.claimed() == {1, 2, 3} and back.ids() == ("batch_a", "batch_b")
    back.check_input("in.jsonl", 123, "x")
    with pytest.raises(BatchInputError, match=r"not of other\.jsonl"):
        back.check_input("other.jsonl", 123, "x")
    with pytest.raises(BatchInputError, match="not a batch manifest"):
        Manifest.from_bytes(b'{"batches": 1}', "x")


def test_observe_takes_the_api_batch_object() -> None:
    b = RemoteBatch([[1, 2]], 2)
    api = {
        "id": "batch_1",
        "status": "in_progress",
        "request_counts": {"total": 2, "completed": 1, "failed": 0},
        "output_file_id": None,
        "error_file_id": None,
        "errors": None,
    }
    assert b.observe(api) and not b.terminal
    assert not b.observe(api)  # nothing new
    failed = {**api, "status": "failed", "errors": {"data": [{"line": 2, "message": "bad"}]}}
    assert b.observe(failed) and b.terminal and b.errors == ["line 2: bad"]


def test_a_malformed_batch_object_is_a_protocol_error() -> None:
    b = RemoteBatch([[1, 1]], 1)
    for junk in ({}, {"id": "batch_1"}, {"id": 3, "status": "completed"}):
        with pytest.raises(ProtocolError, match="lacks an id or status"):
            b.observe(junk)
    odd = {"id": "b", "status": "in_progress", "request_counts": [1], "errors": "x"}
    assert b.observe(odd) and (b.completed, b.failed, b.errors) == (0, 0, [])


def _line(response: object, error: object) -> bytes:
    return orjson.dumps({"id": "r1", "custom_id": "c1", "response": response, "error": error})


def test_route_line_maps_groq_output_to_the_sync_schema() -> None:
    ok = {"status_code": 200, "request_id": "req_1", "body": {"id": "x"}}
    kind, cid, line = route_line(_line(ok, None))
    assert (kind, cid) == ("ok", "c1")
    assert line == {
        "id": "r1",
        "custom_id": "c1",
        "response": ok,
        "error": None,
        "groqstream_metrics": None,
    }
    bad = {"status_code": 404, "request_id": "req_2", "body": {"error": {"code": "nope"}}}
    kind, _, line = route_line(_line(bad, None))
    assert kind == "error" and line["error"] == {"code": "nope", "message": None}
    assert route_line(_line(None, {"code": "batch_expired", "message": "m"}))[0] == "unfinished"
    assert route_line(_line(None, {"code": "batch_cancelled", "message": "m"}))[0] == "unfinished"
    kind, _, line = route_line(_line(None, {"code": "server_error", "message": "m"}))
    assert kind == "error" and line["response"]["status_code"] is None
    assert route_line(b"{oops")[0] == "skip"
    assert route_line(b'{"custom_id": 3}')[0] == "skip"


def test_poller_backs_off_while_nothing_changes() -> None:
    p = Poller(first=1.0, longest=4.0, factor=2.0)
    assert [p.next_delay(False) for _ in range(4)] == [1.0, 2.0, 4.0, 4.0]
    assert p.next_delay(True) == 1.0


def test_outcome_names_the_worst_state_in_one_line() -> None:
    def batch(status: str, errors: list[str] | None = None) -> RemoteBatch:
        return RemoteBatch([[1, 1]], 1, "f", f"batch_{status}", status, True, errors=errors or [])

    assert outcome([batch("completed")], 0, None) == ("completed", "completed: 1 batch finished")
    status, line = outcome([batch("completed"), batch("failed", ["line 1: bad"])], 1, None)
    assert status == "failed" and "batch_failed failed (line 1: bad)" in line
    status, line = outcome([batch("expired")], 3, None)
    assert status == "expired" and "3 requests unfinished" in line
    status, line = outcome([batch("expired")], 0, 3)
    assert "3 requests it left were finished on the sync backend" in line
    status, line = outcome([batch("cancelled")], 2, None)
    assert status == "cancelled" and "2 requests not run" in line
    for _, text in (outcome([batch(s)], 1, None) for s in ("failed", "expired", "cancelled")):
        assert "\n" not in text
