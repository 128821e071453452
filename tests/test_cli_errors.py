"""Every user error the command line can meet ends in one or two lines a person can act on,
the right exit code (2 usage, 1 runtime) and no traceback; `--debug` shows the traceback.

The CLI runs as users run it: a real process, against real loopback servers.
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
from pathlib import Path

import pytest

from cli_runner import run_cli
from groqstream.testing import SimulatedServer

GOOD_LINE = (
    b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", '
    b'"body": {"model": "moonshotai/kimi-k2-instruct", "messages": '
    b'[{"role": "user", "content": "hi"}], "max_tokens": 4}}\n'
)
NO_PLOTLY = "import sys; sys.modules['plotly'] = None; "


def failed_cleanly(p: subprocess.CompletedProcess[str], code: int, *phrases: str) -> None:
    """Exit `code`, a short message with every phrase, and no traceback."""
    assert p.returncode == code, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr, p.stderr
    # no bare exception line such as "ConfigError: ..." or "ValueError: ..."
    assert not re.search(r"^[\w.]*(Error|Exception|Warning)\b", p.stderr, re.M), p.stderr
    assert "uvloop" not in p.stderr
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert 1 <= len(lines) <= 3, p.stderr
    for phrase in phrases:
        assert phrase in p.stderr, (phrase, p.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# --- usage errors: exit 2, found before anything runs -------------------------------------------


def test_batch_missing_input_file(tmp_path: Path) -> None:
    p = run_cli("batch", "nope.jsonl", "out.jsonl", cwd=tmp_path)
    failed_cleanly(p, 2, "groqstream batch: error: input file 'nope.jsonl' does not exist")


def test_batch_output_in_a_missing_directory(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(GOOD_LINE)
    p = run_cli("batch", "in.jsonl", "results/out.jsonl", cwd=tmp_path)
    failed_cleanly(p, 2, "'results', does not exist", "mkdir -p results")
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("argv", "phrase"),
    [
        (["batch", "in.jsonl", "out.jsonl", "--concurrency", "0"], "'0' is not a whole number"),
        (["bench", "--concurrency", "0"], "'0' is not a list of whole numbers"),
        (["bench", "--concurrency", "a,b"], "'a,b' is not a list of whole numbers"),
        (["bench", "--goodput", "ttft=500"], "bad SLO 'ttft=500'"),
        (["bench", "--goodput", "ttft:fast"], "use ttft:MS, tpot:MS or e2el:MS"),
        (["chat", "hi", "--max-tokens", "-1"], "'-1' is not a whole number of 1 or more"),
        (["chat", "hi", "-m", ""], "the model name is empty: pass e.g. -m openai/gpt-oss-20b"),
        (["bench", "-m", " "], "the model name is empty"),
        (["chat", "hi", "--reasoning-format", "verbose"], "invalid choice: 'verbose'"),
    ],
)
def test_bad_flag_values(tmp_path: Path, argv: list[str], phrase: str) -> None:
    p = run_cli(*argv, cwd=tmp_path)
    failed_cleanly(p, 2, f"groqstream {argv[0]}: error: argument", phrase, "--help")


async def test_bench_out_is_an_existing_file_checked_before_the_sweep(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("not a directory")
    async with SimulatedServer() as srv:
        p = await asyncio.to_thread(
            run_cli, "bench", "--base-url", srv.base_url, "--out", "taken", cwd=tmp_path
        )
        assert srv.stats.requests_total == 0  # refused before a single request (or warm-up)
    failed_cleanly(p, 2, "--out 'taken' is an existing file; --out takes a directory")


def test_malformed_batch_line_names_the_line_and_column_only(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_bytes(GOOD_LINE + b'{"custom_id": "b",\n')
    p = run_cli(
        "batch", "in.jsonl", "out.jsonl", "--base-url", "http://127.0.0.1:9/v1", cwd=tmp_path
    )
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "line 2: not valid JSON (unexpected end of data at column" in p.stderr
    assert "line 2 column" not in p.stderr and "(char " not in p.stderr  # orjson's inner place
    assert "nothing was sent" in p.stderr


def test_report_of_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    p = run_cli("report", str(tmp_path))
    failed_cleanly(p, 2, "no requests.jsonl in", "groqstream bench --out")


# --- runtime failures: exit 1 ---------------------------------------------------------------------


def test_no_key_for_the_groq_url_names_every_way_to_give_one() -> None:
    p = run_cli("chat", "hi")
    failed_cleanly(
        p,
        1,
        "groqstream chat: no API key for https://api.groq.com/openai/v1",
        "set GROQ_API_KEY",
        "--api-key-env NAME",
        "--api-key KEY",
    )


def test_no_key_for_openai_names_openai_api_key() -> None:
    p = run_cli("bench", "--base-url", "https://api.openai.com/v1", env={"GROQ_API_KEY": "gsk_x"})
    failed_cleanly(p, 1, "no API key for https://api.openai.com/v1", "set OPENAI_API_KEY")


def test_no_key_for_another_server_names_groqstream_api_key() -> None:
    # a Groq key is for Groq: a self-hosted server gets GROQSTREAM_API_KEY or nothing
    p = run_cli("bench", "--base-url", "https://vllm.example/v1", env={"GROQ_API_KEY": "gsk_x"})
    failed_cleanly(p, 1, "no API key for https://vllm.example/v1", "set GROQSTREAM_API_KEY")
    assert "gsk_x" not in p.stdout + p.stderr


def test_api_key_env_naming_an_unset_variable() -> None:
    p = run_cli("chat", "hi", "--api-key-env", "GROQSTREAM_TEST_NO_SUCH_VAR")
    failed_cleanly(p, 1, "--api-key-env GROQSTREAM_TEST_NO_SUCH_VAR: that environment variable")


async def test_api_key_flags_reach_the_server_and_a_refused_key_reads_well() -> None:
    secret = "sk-test-cli-4242"
    async with SimulatedServer(api_key=secret) as srv:
        args = ("chat", "hi", "--base-url", srv.base_url, "--max-tokens", "3")
        ok = await asyncio.to_thread(
            run_cli, *args, "--api-key-env", "MY_KEY", env={"MY_KEY": secret}
        )
        direct = await asyncio.to_thread(run_cli, *args, "--api-key", secret)
        bad = await asyncio.to_thread(run_cli, *args, "--api-key", "sk-wrong-key-1")
    assert ok.returncode == 0 and direct.returncode == 0, ok.stderr + direct.stderr
    failed_cleanly(bad, 1, "401", "the server refused the API key")
    assert "sk-wrong-key-1" not in bad.stderr + bad.stdout


def test_nothing_listening() -> None:
    port = free_port()
    p = run_cli("chat", "hi", "--base-url", f"http://127.0.0.1:{port}/v1")
    failed_cleanly(p, 1, f"cannot connect to http://127.0.0.1:{port}", "is a server listening")


async def test_base_url_without_v1_names_the_url_and_suggests_v1() -> None:
    async with SimulatedServer() as srv:
        root = f"http://127.0.0.1:{srv.port}"
        p = await asyncio.to_thread(run_cli, "chat", "hi", "--base-url", root)
    failed_cleanly(p, 1, "404", f"{root}/chat/completions", "does not end in /v1")


@pytest.mark.parametrize("page", [[], ["--ui"]], ids=["simulator", "ui"])
async def test_serve_port_already_in_use(page: list[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        p = await asyncio.to_thread(run_cli, "serve", "--port", str(port), *page)
    failed_cleanly(
        p, 1, f"groqstream serve: port {port} on 127.0.0.1 is already in use", "--port 0"
    )


# --- --debug, and optional extras missing -------------------------------------------------------


def test_debug_shows_the_traceback_and_no_uvloop_import_error() -> None:
    port = free_port()
    args = ("chat", "hi", "--base-url", f"http://127.0.0.1:{port}/v1")
    flagged = run_cli(*args, "--debug")
    env = run_cli(*args, env={"GROQSTREAM_DEBUG": "1"})
    for p in (flagged, env):
        assert p.returncode == 1
        assert "Traceback" in p.stderr and "APIConnectionError" in p.stderr
        assert "No module named 'uvloop'" not in p.stderr  # uvloop is optional: never mentioned
        assert "During handling of the above exception" not in p.stderr
        assert p.stderr.rstrip().endswith("Check --base-url (or GROQSTREAM_BASE_URL)")


def test_bench_out_without_plotly_writes_the_data_and_says_so_in_one_line(tmp_path: Path) -> None:
    p = run_cli(
        "bench", "--simulate", "-c", "2", "--requests", "4", "--output-tokens", "4",
        "--sim-ttft", "0", "--sim-tps", "5000", "--out", "out",
        cwd=tmp_path, prelude=NO_PLOTLY,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    notes = [x for x in p.stderr.splitlines() if "groqstream[report]" in x]
    assert len(notes) == 2 and "groqstream report out --html" in notes[0]  # before and after
    assert (tmp_path / "out" / "bench.json").exists()
    assert (tmp_path / "out" / "requests.jsonl").exists()
    assert not (tmp_path / "out" / "report.html").exists()


def test_report_html_without_plotly(tmp_path: Path) -> None:
    (tmp_path / "requests.jsonl").write_text('{"concurrency": 1, "ok": false}\n')
    p = run_cli("report", str(tmp_path), "--html", prelude=NO_PLOTLY)
    failed_cleanly(p, 1, "needs Plotly", "pip install 'groqstream[report]'")
