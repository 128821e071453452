"""`groqstream batch --backend groq-batch` as users run it, in a child process: killed with
SIGKILL while polling and re-run (it re-attaches: no new upload, each custom_id once),
interrupted with Ctrl-C, cancelled with `--cancel OUT`, and each terminal state's one line."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import orjson

from batch_files import lines, write_input
from cli_runner import INHERITED
from groqstream.batch import errors_path_for, manifest_path_for
from groqstream.testing import SimulatedServer
from test_batch_remote import add_bad_lines


def _env() -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    for name in INHERITED:
        env.pop(name, None)
    return env


async def start(srv: SimulatedServer, *args: str) -> asyncio.subprocess.Process:
    """`groqstream batch ARGS --base-url SIM` in a child process."""
    cmd = [sys.executable, "-m", "groqstream", "batch", *args, "--base-url", srv.base_url]
    return await asyncio.create_subprocess_exec(
        *cmd, env=_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def finish(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


def count(srv: SimulatedServer, method_path: str) -> int:
    return sum(1 for r in srv.requests if r.path.endswith(method_path))


def polls(srv: SimulatedServer) -> int:
    return sum(1 for r in srv.requests if "/batches/batch_" in r.path)


async def until(check: object, proc: asyncio.subprocess.Process) -> None:
    """Wait (polling the server's records, not the clock) until `check()` holds."""
    assert callable(check)
    while not check():
        assert proc.returncode is None, (await proc.communicate())[1].decode()
        await asyncio.sleep(0.02)


async def test_sigkill_while_polling_then_rerun_reattaches(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    good = write_input(src, 3000)
    bad = add_bad_lines(src, 5)
    args = (str(src), "-o", str(out), "--backend", "groq-batch", "--max-batch-lines", "1000")
    async with SimulatedServer() as srv:
        srv.batch_api.seconds = 4.0
        proc = await start(srv, *args, "--poll-interval", "0.05")
        await until(lambda: polls(srv) >= 4, proc)  # all four batches made, polling them
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        assert lines(out) == []  # it died polling, before any batch ended
        uploads, creates = count(srv, "/files"), count(srv, "/batches")
        assert (uploads, creates) == (4, 4)
        report = tmp_path / "report.json"
        code, err = await finish(
            await start(srv, *args, "--poll-interval", "0.05", "--report", str(report))
        )
        assert code == 1, err  # 5 requests failed
        assert (count(srv, "/files"), count(srv, "/batches")) == (4, 4)  # 0 new uploads
    assert sorted(x["custom_id"] for x in lines(out)) == good  # each custom_id once
    assert sorted(x["custom_id"] for x in lines(errors_path_for(out))) == bad
    summary = orjson.loads(report.read_bytes())
    assert (summary["backend"], summary["status"], summary["skipped"]) == (
        "groq-batch",
        "completed",
        0,
    )
    assert len(summary["batch_ids"]) == 4 and summary["succeeded"] == 3000
    last = err.strip().splitlines()[-1]
    assert last.startswith("groq-batch completed: 4 batches finished; 3,005 requests")


async def test_ctrl_c_while_polling_says_how_to_reattach(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_input(src, 50)
    args = (str(src), str(out), "--backend", "groq-batch", "--poll-interval", "0.05")
    async with SimulatedServer() as srv:
        srv.batch_api.seconds = 30.0
        proc = await start(srv, *args)
        await until(lambda: polls(srv) >= 1, proc)
        proc.send_signal(signal.SIGINT)
        code, err = await finish(proc)
        assert code == 130, err
        assert "run the same command again to re-attach" in err
        assert f"groqstream batch --cancel {out}" in err
        srv.batch_api.seconds = 0.1
        code, err = await finish(await start(srv, *args))
        assert code == 0, err
        assert count(srv, "/files") == 1
    assert sorted(x["custom_id"] for x in lines(out)) == ids


async def test_cancel_command_and_the_cancelled_line(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 40)
    async with SimulatedServer() as srv:
        srv.batch_api.seconds = 30.0
        proc = await start(srv, str(src), "-o", str(out), "--backend", "groq-batch")
        await until(lambda: polls(srv) >= 1, proc)
        code, err = await finish(await start(srv, "--cancel", str(out)))
        assert code == 0, err
        assert err.startswith("cancel requested: batch_") and "(cancelling)" in err
        code, err = await finish(proc)
    assert code == 1
    ends = [x for x in err.splitlines() if x.startswith("groq-batch ")]
    assert len(ends) == 1 and ends[0].startswith("groq-batch cancelled: batch batch_")


async def test_expired_and_failed_each_end_with_one_line(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    write_input(src, 20)
    async with SimulatedServer() as srv:
        srv.batch_api.seconds = 0.05
        for outcome in ("expired:0.5", "failed"):
            srv.batch_api.outcomes.append(outcome)
            state = outcome.split(":")[0]
            out = tmp_path / f"{state}.jsonl"
            code, err = await finish(
                await start(srv, str(src), "-o", str(out), "--backend", "groq-batch")
            )
            assert code == 1
            ends = [x for x in err.splitlines() if x.startswith("groq-batch ")]
            assert len(ends) == 1, err
            assert ends[0].startswith(f"groq-batch {state}: batch batch_"), err


async def test_usage_errors(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    write_input(src, 3)
    async with SimulatedServer() as srv:
        cases = [
            (("--cancel", str(tmp_path / "o.jsonl")), "no batches are recorded"),
            ((str(src),), "name the output file"),
            ((str(src), "-o", "a.jsonl", "--completion-window", "1h"), "from 24h to 7d"),
            ((str(src), "-o", "a.jsonl", "--deadline", "soon"), "deadline must be"),
            (
                (
                    str(src),
                    "-o",
                    str(tmp_path / "a.jsonl"),
                    "--backend",
                    "groq-batch",
                    "--workers",
                    "2",
                ),
                "--workers and --ray-address run the sync backend only",
            ),
        ]
        for args, message in cases:
            code, err = await finish(await start(srv, *args))
            assert code == 2 and message in err, err
        assert count(srv, "/files") == 0
    assert not manifest_path_for(tmp_path / "a.jsonl").exists()
