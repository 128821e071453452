"""Ctrl-C: the CLI runs as a real process, gets a real SIGINT mid-run, exits 130 without a
traceback, and says (and keeps) what it had: chat its partial metrics, batch how many results
are safely written (a re-run resumes), bench the levels already finished."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from groqstream.testing import SimulatedServer

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics are POSIX")

MODEL = "moonshotai/kimi-k2-instruct"


class Proc:
    """A `groqstream` process whose output is collected as it comes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.out = bytearray()
        self.err = bytearray()
        assert proc.stdout is not None and proc.stderr is not None
        self._readers = [
            asyncio.ensure_future(self._pump(proc.stdout, self.out)),
            asyncio.ensure_future(self._pump(proc.stderr, self.err)),
        ]

    @staticmethod
    async def _pump(stream: asyncio.StreamReader, into: bytearray) -> None:
        while chunk := await stream.read(4096):
            into += chunk

    async def interrupt(self) -> tuple[int, str, str]:
        """Send SIGINT, wait for the exit; (exit code, stdout, stderr)."""
        self.proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(self.proc.wait(), 60)
        await asyncio.gather(*self._readers)
        return code, self.out.decode(), self.err.decode()

    async def finish(self) -> tuple[int, str, str]:
        """Wait for the exit without interrupting."""
        code = await asyncio.wait_for(self.proc.wait(), 120)
        await asyncio.gather(*self._readers)
        return code, self.out.decode(), self.err.decode()


async def start(*args: str, cwd: Path | None = None) -> Proc:
    env = {**os.environ, "NO_COLOR": "1"}
    for name in ("GROQ_API_KEY", "OPENAI_API_KEY", "GROQSTREAM_API_KEY"):
        env.pop(name, None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "groqstream", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=cwd,
    )  # fmt: skip
    return Proc(proc)


async def until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.endswith(b"}")]


async def test_chat_ctrl_c_ends_the_line_and_prints_partial_metrics() -> None:
    async with SimulatedServer(ttft=0.01, tokens_per_second=25, output_tokens=600) as srv:
        p = await start("chat", "hello", "--base-url", srv.base_url, "-m", MODEL)
        await until(lambda: len(p.out.split()) >= 3, "the first words")
        code, out, err = await p.interrupt()
        await srv.wait_idle(10)
    assert code == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert out.endswith("\n") and 3 <= len(out.split()) < 600
    assert "interrupted after" in err and "TTFT" in err and "tok/s" in err
    assert srv.requests[-1].outcome == "client_disconnected"  # the stream was closed at once


async def test_batch_ctrl_c_says_what_is_safe_and_a_rerun_resumes(tmp_path: Path) -> None:
    reqs = [
        {"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
         "body": {"model": MODEL, "messages": [{"role": "user", "content": f"q {i}"}],
                  "max_tokens": 12}}
        for i in range(60)
    ]  # fmt: skip
    (tmp_path / "in.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in reqs))
    out = tmp_path / "out.jsonl"
    async with SimulatedServer(ttft=0.01, tokens_per_second=40) as srv:
        argv = ("batch", "in.jsonl", "out.jsonl", "-c", "2", "--base-url", srv.base_url)
        p = await start(*argv, cwd=tmp_path)
        await until(lambda: len(lines(out)) >= 2, "two results written")
        code, _, err = await p.interrupt()
        kept = len(lines(out))
        assert code == 130, err
        assert "Traceback" not in err
        m = re.search(r"interrupted: (\d+) of 60 results are safely written", err)
        assert m is not None, err
        assert int(m.group(1)) == kept < 60
        assert "run the same command again to resume" in err

        code, printed, err = await (await start(*argv, cwd=tmp_path)).finish()
    assert code == 0, err
    ids = [str(r["custom_id"]) for r in lines(out)]
    assert sorted(ids) == sorted(f"r{i}" for i in range(60))  # none lost, none twice
    assert f"{kept} already done" in err and "| 2 " in printed


async def test_bench_ctrl_c_saves_the_finished_levels(tmp_path: Path) -> None:
    p = await start(
        "bench", "--simulate", "-c", "2,1", "--requests", "6", "--output-tokens", "30",
        "--sim-ttft", "0.01", "--sim-tps", "40", "--out", "out", cwd=tmp_path,
    )  # fmt: skip
    await until(lambda: b"\n| 2 " in p.out, "the c=2 row")
    code, _, err = await p.interrupt()
    assert code == 130, err
    assert "Traceback" not in err
    assert "interrupted during c=1: saving the finished levels (c=2)" in err
    out = tmp_path / "out"
    assert (out / "c2.json").exists() and not (out / "c1.json").exists()
    assert len(lines(out / "requests.jsonl")) == 6
    bench = orjson.loads((out / "bench.json").read_bytes())
    assert [lv["max_concurrency"] for lv in bench["levels"]] == [2]
    # the simulated server process went with us
    url = re.search(r"http://127\.0\.0\.1:(\d+)", err)
    assert url is not None
    await until(lambda: not _listening(int(url.group(1))), "the simulated server to exit", 10)


def _listening(port: int) -> bool:
    with contextlib.closing(socket.socket()) as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0
