"""Batch files: Batch API format in and out, validation, and resume after kill -9."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

import orjson
import pytest

from batch_files import lines, write_input
from groqstream.batch import BatchInputError, errors_path_for, run_batch
from groqstream.testing import SimulatedServer


def newlines(path: Path) -> int:
    """Complete lines so far (safe while another process appends)."""
    return path.read_bytes().count(b"\n") if path.exists() else 0


async def test_happy_path_writes_batch_api_output(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_input(src, 30, max_tokens=5)
    async with SimulatedServer(ttft=0, tokens_per_second=0) as srv:
        summary = await run_batch(
            src, out, base_url=srv.base_url, concurrency=8, report_path=tmp_path / "r.json"
        )
    assert (summary.total, summary.succeeded, summary.failed, summary.skipped) == (30, 30, 0, 0)
    got = lines(out)
    assert sorted(x["custom_id"] for x in got) == ids
    first = got[0]
    assert first["id"].startswith("batch_req_") and first["error"] is None
    resp = first["response"]
    assert resp["status_code"] == 200 and resp["request_id"].startswith("req_")
    body = resp["body"]
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"]
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5
    assert first["groqstream_metrics"]["ttft_ms"] is not None
    assert not errors_path_for(out).read_bytes()
    report = orjson.loads((tmp_path / "r.json").read_bytes())
    assert report["completed"] == 30 and "p99_ttft_ms" in report


async def test_failures_go_to_the_errors_file(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 4)
    text = src.read_text().splitlines()
    bad = orjson.loads(text[2])
    bad["body"]["sim_fault"] = {"kind": "status", "status": 400, "message": "no such thing"}
    text[2] = orjson.dumps(bad).decode()
    src.write_text("\n".join(text) + "\n")
    async with SimulatedServer(ttft=0, tokens_per_second=0) as srv:
        summary = await run_batch(src, out, base_url=srv.base_url)
    assert (summary.succeeded, summary.failed) == (3, 1)
    [err] = lines(errors_path_for(out))
    assert err["custom_id"] == "req-00002"
    assert err["response"]["status_code"] == 400
    assert "no such thing" in err["error"]["message"]
    assert errors_path_for(out).name == "out.errors.jsonl"


def test_input_problems_are_reported_with_line_numbers_before_sending(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    good = {
        "custom_id": "a",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"messages": []},
    }
    src.write_text(
        "\n".join(
            [
                orjson.dumps(good).decode(),
                "{not json",
                orjson.dumps(good).decode(),  # duplicate custom_id
                orjson.dumps({**good, "custom_id": "b", "url": "/v1/embeddings"}).decode(),
                orjson.dumps({**good, "custom_id": "c", "body": {}}).decode(),
            ]
        )
        + "\n"
    )
    with pytest.raises(BatchInputError) as info:
        asyncio.run(run_batch(src, tmp_path / "out.jsonl", base_url="http://127.0.0.1:9/v1"))
    text = "\n".join(info.value.problems)
    assert "line 2: not valid JSON" in text
    assert "line 3: duplicate custom_id 'a' (first on line 1)" in text
    assert "line 4: `url` must be" in text
    assert "line 5: `body` must be" in text
    assert not (tmp_path / "out.jsonl").exists()  # nothing was sent or written


async def test_resume_skips_done_ids_and_cuts_a_torn_line(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_input(src, 10)
    async with SimulatedServer(ttft=0, tokens_per_second=0) as srv:
        await run_batch(src, out, base_url=srv.base_url)
        kept = out.read_bytes().splitlines(keepends=True)[:4]
        out.write_bytes(b"".join(kept) + b'{"id": "batch_req_torn", "custom_id": "req-0')
        srv.reset()
        summary = await run_batch(src, out, base_url=srv.base_url)
        assert srv.stats.requests_total == 6
    assert summary.skipped == 4 and summary.succeeded == 6
    assert sorted(x["custom_id"] for x in lines(out)) == ids


async def test_kill_9_at_random_moments_then_resume_yields_each_id_once(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_input(src, 600, max_tokens=6)
    rng = random.Random(os.getpid())
    env = {**os.environ, "NO_COLOR": "1"}
    async with SimulatedServer(ttft=0.01, tokens_per_second=400) as srv:
        cmd = [
            sys.executable,
            "-m",
            "groqstream",
            "batch",
            str(src),
            str(out),
            "--base-url",
            srv.base_url,
            "--concurrency",
            "8",
        ]
        mid_run_kills = 0
        for _ in range(3):
            proc = await asyncio.create_subprocess_exec(
                *cmd, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
            )
            before = newlines(out)
            while proc.returncode is None and newlines(out) <= before:
                await asyncio.sleep(0.02)  # poll: wait until this run has written something ...
            await asyncio.sleep(rng.uniform(0.0, 0.3))  # ... then kill it at a random moment
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
                if 0 < newlines(out) < len(ids):
                    mid_run_kills += 1
            await proc.wait()
        proc = await asyncio.create_subprocess_exec(
            *cmd, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        _, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
    assert mid_run_kills >= 1  # the kills really landed mid-run
    got = lines(out)  # every line parses: no torn line was left
    assert sorted(x["custom_id"] for x in got) == ids  # exactly one line per custom_id
    assert lines(errors_path_for(out)) == []
