"""The command line, run as users run it: a real process against a real loopback server."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson

from groqstream.testing import SimulatedServer


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("GROQ_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "groqstream.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_demo_streams_an_answer_and_metrics() -> None:
    p = run("demo", "--tps", "2000", "--ttft", "0.01", "--output-tokens", "30")
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.split()) == 30  # the answer on stdout; reasoning went to stderr
    assert "TTFT" in p.stderr and "tok/s" in p.stderr and "server:" in p.stderr
    assert "Let me think" in p.stderr


async def test_chat_against_a_server_prints_json_metrics() -> None:
    async with SimulatedServer(ttft=0.01, tokens_per_second=2000, output_tokens=12) as srv:
        import asyncio

        p = await asyncio.to_thread(
            run,
            "chat",
            "hello",
            "--base-url",
            srv.base_url,
            "-m",
            "moonshotai/kimi-k2-instruct",
            "--json",
            "--max-tokens",
            "8",
        )
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    metrics = orjson.loads(lines[-1])
    assert metrics["finish_reason"] == "length" and metrics["output_tokens"] == 8
    assert metrics["request_id"].startswith("req_")
    assert srv.requests[-1].body["max_tokens"] == 8


def test_chat_without_key_fails_clearly() -> None:
    p = run("chat", "hi", "--base-url", "https://api.example.invalid/v1")
    assert p.returncode == 1
    assert "GROQ_API_KEY" in p.stderr


def test_chat_errors_are_one_line_not_a_traceback() -> None:
    p = run("chat", "hi", "--base-url", "http://127.0.0.1:9/v1")
    assert p.returncode == 1
    assert "APIConnectionError" in p.stderr and "Traceback" not in p.stderr
