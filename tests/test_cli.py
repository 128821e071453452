"""The command line's happy paths, run as users run it (a real process against a real loopback
server), its help, and the live progress renderers."""

from __future__ import annotations

import asyncio
import importlib.util
import io
from pathlib import Path

import orjson
import pytest

from cli_runner import run_cli
from groqstream.cli.progress import PlainProgress, RichProgress, Snapshot, live_progress
from groqstream.fanout import Progress
from groqstream.testing import SimulatedServer

MODEL = "moonshotai/kimi-k2-instruct"


def test_demo_streams_an_answer_and_metrics() -> None:
    p = run_cli("demo", "--tps", "2000", "--ttft", "0.01", "--output-tokens", "30")
    assert p.returncode == 0, p.stderr
    assert len(p.stdout.split()) == 30  # the answer on stdout; reasoning went to stderr
    assert "TTFT" in p.stderr and "tok/s" in p.stderr and "server:" in p.stderr
    assert "TTFT network+client" in p.stderr and "stamps ± " in p.stderr
    assert "Let me think" in p.stderr


async def test_chat_against_a_server_prints_json_metrics() -> None:
    async with SimulatedServer(ttft=0.01, tokens_per_second=2000, output_tokens=12) as srv:
        p = await asyncio.to_thread(
            run_cli, "chat", "hello", "--base-url", srv.base_url, "-m", MODEL, "--json",
            "--max-tokens", "8",
        )  # fmt: skip
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    metrics = orjson.loads(lines[-1])
    assert metrics["finish_reason"] == "length" and metrics["output_tokens"] == 8
    assert metrics["request_id"].startswith("req_")
    assert srv.requests[-1].body["max_tokens"] == 8


@pytest.mark.parametrize("command", ["chat", "demo", "batch", "bench", "report", "serve"])
def test_every_subcommand_help_shows_defaults_and_an_example(command: str) -> None:
    p = run_cli(command, "--help")
    assert p.returncode == 0, p.stderr
    assert "example:\n  groqstream " + command in p.stdout
    assert "default" in p.stdout
    assert "--debug" in p.stdout


def test_bench_help_says_the_goodput_unit() -> None:
    text = " ".join(run_cli("bench", "--help").stdout.split())
    assert "SLOs in milliseconds" in text and "(default: 1,4,16,64)" in text


def test_no_command_prints_help_and_exits_2() -> None:
    p = run_cli()
    assert p.returncode == 2 and "COMMAND" in p.stderr and "Traceback" not in p.stderr


def _batch_input(path: Path, n: int) -> None:
    rows = [
        {"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
         "body": {"model": MODEL, "messages": [{"role": "user", "content": f"q {i}"}],
                  "max_tokens": 6}}
        for i in range(n)
    ]  # fmt: skip
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


async def test_batch_prints_benchs_table_and_writes_its_field_names(tmp_path: Path) -> None:
    _batch_input(tmp_path / "in.jsonl", 20)
    async with SimulatedServer(ttft=0.005, tokens_per_second=4000) as srv:
        p = await asyncio.to_thread(
            run_cli, "batch", "in.jsonl", "out.jsonl", "-c", "8", "--base-url", srv.base_url,
            "--report", "report.json", cwd=tmp_path,
        )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "20 requests: 0 already done, 20 succeeded, 0 failed" in p.stderr
    head = p.stdout.splitlines()[1]
    assert head.startswith("| c ") and "TTFT p50" in head and "| 8 " in p.stdout
    report = orjson.loads((tmp_path / "report.json").read_bytes())
    assert report["max_concurrency"] == 8 and report["completed"] == 20
    assert report["num_prompts"] == 20 and report["latency_unit"] == "ms"
    for key in ("request_throughput", "output_throughput", "median_ttft_ms", "p99_itl_ms"):
        assert key in report, key  # the same vLLM names as bench's c<N>.json


# --- live progress ----------------------------------------------------------------------------


def progress(done: int, failed: int = 0, elapsed: float = 10.0) -> Progress:
    return Progress(
        done=done, failed=failed, in_flight=12, total=None, elapsed_s=elapsed,
        req_per_s=done / elapsed, tokens_per_s=14888.4, p50_ttft_s=0.0521,
    )  # fmt: skip


def test_snapshot_names_the_level_and_its_eta() -> None:
    snap = Snapshot.of(progress(35, failed=2), label="c=64", total=200)
    assert snap.text().startswith("c=64, 37/200 · 2 failed · 12 in flight · 3.50 req/s")
    assert snap.text().endswith("14,888 tok/s · ETA 0:44 · p50 TTFT 52.1 ms")
    assert snap.eta_s == pytest.approx(163 * 10 / 37)  # this run's pace, remaining requests
    resumed = Snapshot.of(progress(10), label="batch", total=1000, already=900)
    assert resumed.position() == "910/1,000" and resumed.eta_s == pytest.approx(90.0)
    open_ended = Snapshot.of(progress(5), label="c=4", total=None)
    assert open_ended.position() == "5" and "tok/s · 0:10 ·" in open_ended.text()  # elapsed


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_progress_in_a_pipe_prints_a_line_every_few_seconds() -> None:
    stream = io.StringIO()
    bar = PlainProgress(stream, every=3600)
    for i in range(5):
        bar.update(Snapshot.of(progress(i + 1), label="batch", total=10))
    assert stream.getvalue() == ""  # nothing until `every` seconds passed: logs stay short
    bar.every = 0
    bar.update(Snapshot.of(progress(6), label="batch", total=10))
    assert stream.getvalue().count("\n") == 1 and "\r" not in stream.getvalue()


def test_plain_progress_on_a_terminal_rewrites_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    tty = FakeTTY()
    bar = PlainProgress(tty)
    bar.update(Snapshot.of(progress(1), label="c=4", total=10))
    bar.update(Snapshot.of(progress(2), label="c=4", total=10))
    assert tty.getvalue().count("\r") == 2 and "\n" not in tty.getvalue()
    before = tty.getvalue()
    shown = before.rsplit("\r", 1)[-1]
    assert shown.startswith("c=4, 2/10")
    bar.above("| 4 | row |")
    assert capsys.readouterr().out == "| 4 | row |\n"
    # the live line is wiped, the row printed (to stdout), then the same line drawn again
    assert tty.getvalue()[len(before) :] == "\r" + " " * len(shown) + "\r" + "\r" + shown
    bar.close()
    assert tty.getvalue().endswith("\r")


@pytest.mark.skipif(importlib.util.find_spec("rich") is None, reason="the cli extra (rich)")
@pytest.mark.parametrize("columns", [80, 160])
def test_rich_progress_on_a_terminal(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", str(columns))
    tty = FakeTTY()
    bar = live_progress(tty)
    assert isinstance(bar, RichProgress)
    bar.update(Snapshot.of(progress(37, failed=1), label="c=64", total=200))
    bar.above("| 64 | row |", tty)
    bar.close()
    shown = tty.getvalue()
    assert "| 64 | row |" in shown
    last = shown.split("| 64 | row |")[-1]  # the live line drawn again below the row
    for text in ("c=64", "38/200", "1 failed", "12 in flight", "3.70 req/s", "14,888 tok/s",
                 "ETA 0:43", "p50 TTFT 52.1 ms"):  # fmt: skip
        assert text in last, (text, last)  # on a narrow terminal, on a second line
    one_line = any("38/200" in ln and "p50 TTFT" in ln for ln in last.splitlines())
    assert one_line == (columns == 160)


def test_no_color_or_a_pipe_means_plain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    assert isinstance(live_progress(FakeTTY()), PlainProgress)
    monkeypatch.delenv("NO_COLOR")
    assert isinstance(live_progress(io.StringIO()), PlainProgress)
