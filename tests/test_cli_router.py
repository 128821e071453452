"""`--endpoint` and `--hedge` on `chat`, `bench` and `batch`, run as users run them (a real
process against real loopback servers), and the mistakes they refuse."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from cli_runner import run_cli
from groqstream.testing import Fault, SimulatedServer

MODEL = "llama-3.1-8b-instant"


async def test_chat_fails_over_and_says_where_it_was_served() -> None:
    async with (
        SimulatedServer(ttft=0.005, output_tokens=6) as a,
        SimulatedServer(ttft=0.005, output_tokens=6) as b,
    ):
        a.faults.append(Fault.capacity_exceeded())
        p = await asyncio.to_thread(
            run_cli, "chat", "hello", "-m", MODEL, "--json",
            "--endpoint", f"{a.base_url},name=flex", "--endpoint", f"{b.base_url},name=backup",
            "--hedge", "off",
        )  # fmt: skip
    assert p.returncode == 0, p.stderr
    metrics = orjson.loads(p.stdout.strip().splitlines()[-1])
    assert (metrics["endpoint"], metrics["failovers"], metrics["hedged"]) == ("backup", 1, False)
    assert "served by backup (after 1 failover)" in p.stderr
    assert len(a.requests) == len(b.requests) == 1


async def test_chat_endpoint_model_goes_to_that_endpoint() -> None:
    async with SimulatedServer(ttft=0.005, output_tokens=4) as a:
        p = await asyncio.to_thread(
            run_cli, "chat", "hi", "--endpoint", f"{a.base_url},model=openai/gpt-oss-20b",
            "--hedge", "0.5",
        )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert a.requests[0].body["model"] == "openai/gpt-oss-20b"


async def test_bench_reports_each_endpoint(tmp_path: Path) -> None:
    async with (
        SimulatedServer(ttft=0.005, output_tokens=4) as a,
        SimulatedServer(ttft=0.005, output_tokens=4) as b,
    ):
        a.faults.append(Fault.capacity_exceeded())
        p = await asyncio.to_thread(
            run_cli, "bench", "-m", MODEL, "--concurrency", "2", "--requests", "6",
            "--input-tokens", "8", "--output-tokens", "4",
            "--endpoint", f"{a.base_url},name=A", "--endpoint", f"{b.base_url},name=B",
            "--hedge", "p95", "--out", str(tmp_path),
        )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "endpoint A: " in p.stdout and "endpoint B: " in p.stdout
    assert "failovers 1" in p.stdout and "breaker closed" in p.stdout
    meta = orjson.loads((tmp_path / "bench.json").read_bytes())["meta"]
    names = [e["name"] for e in meta["endpoints"]]
    assert names == ["A", "B"] and meta["endpoints"][0]["failovers"] == 1
    assert {"hedges_started", "hedges_won", "hedges_cancelled", "ttft_p50_ms"} <= set(
        meta["endpoints"][1]
    )


async def test_batch_runs_through_the_endpoints(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    lines = [
        {"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
         "body": {"model": MODEL, "messages": [{"role": "user", "content": f"q{i}"}]}}
        for i in range(3)
    ]  # fmt: skip
    src.write_bytes(b"\n".join(orjson.dumps(x) for x in lines) + b"\n")
    async with SimulatedServer(ttft=0.005) as a, SimulatedServer(ttft=0.005) as b:
        a.faults.append(Fault.status(503))
        p = await asyncio.to_thread(
            run_cli, "batch", str(src), str(tmp_path / "out.jsonl"), "--concurrency", "1",
            "--endpoint", a.base_url, "--endpoint", f"{b.base_url},name=b",
        )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "endpoint b: " in p.stderr
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--endpoint", "http://127.0.0.1:9/v1,colour=red"], "model=NAME or name=LABEL"),
        (["--endpoint", "http://127.0.0.1:9/v1", "--hedge", "soon"], "quantile"),
        (["--endpoint", "http://127.0.0.1:9/v1", "--hedge", "-1"], "0 or more"),
        (
            ["--endpoint", "http://127.0.0.1:9/v1", "--base-url", "http://127.0.0.1:9/v1"],
            "do not go with it",
        ),
        (["--endpoint", "http://127.0.0.1:9/v1", "--api-key-env", "X"], "do not go with it"),
        (
            ["--endpoint", "http://127.0.0.1:9/v1", "--endpoint", "http://127.0.0.1:9/v1"],
            "names must differ",
        ),
    ],
)
def test_chat_refuses_bad_router_options(args: list[str], message: str) -> None:
    p = run_cli("chat", "hi", *args)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr


def test_an_endpoint_without_its_key_names_the_variable() -> None:
    p = run_cli("chat", "hi", "--endpoint", "https://api.groq.com/openai/v1")
    assert p.returncode == 1
    assert "GROQ_API_KEY" in p.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--simulate"], "--endpoint and --simulate"),
        (["--workers", "2"], "Ray workers"),
    ],
)
def test_bench_refuses_endpoints_with_what_names_another_target(
    args: list[str], message: str
) -> None:
    p = run_cli("bench", "--endpoint", "http://127.0.0.1:9/v1", *args)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr
