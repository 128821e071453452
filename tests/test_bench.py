"""`groqstream bench` and `groqstream report`: the sweep against the simulated server, what it
writes, the HTML report rebuilt from those files, and runs compared."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import itertools
import re
import shutil
import statistics
import subprocess
from pathlib import Path

import orjson
import pytest

from groqstream.bench import arrival_gaps, synthetic_prompt
from groqstream.bench.fmt import clock, ms, rate, seconds_as_ms
from groqstream.bench.runs import load_run, summary_from_rows
from groqstream.bench.table import columns, header, row
from groqstream.cli.main import main
from groqstream.report import RELATIVE_ACCURACY

HAS_PLOTLY = importlib.util.find_spec("plotly") is not None
needs_plotly = pytest.mark.skipif(
    not HAS_PLOTLY, reason="the report extra (plotly) is not installed: pip install -e '.[report]'"
)

SWEEP = [
    "bench",
    "--simulate",
    "--concurrency",
    "1,4",
    "--requests",
    "12",
    "--input-tokens",
    "40",
    "--output-tokens",
    "16",
    "--sim-ttft",
    "0.01",
    "--sim-tps",
    "4000",
    "--goodput",
    "ttft:1000,tpot:100",
]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One sweep for the module: its --out directory and what it printed on stdout."""
    out = tmp_path_factory.mktemp("bench") / "out"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main([*SWEEP, "--out", str(out)])
    assert rc == 0
    return out, buf.getvalue()


def test_bench_prints_one_row_per_level_and_the_server_split(sweep: tuple[Path, str]) -> None:
    _, printed = sweep
    lines = printed.splitlines()
    assert lines[0] == "latencies (TTFT, ITL, TPOT, E2EL) in ms:"
    assert lines[1].startswith("| c ") and "TTFT p50" in lines[1] and "goodput" in lines[1]
    assert lines[2].startswith("|---") and lines[2].endswith(":|")  # right-aligned Markdown
    assert lines[3].startswith("| 1 ") and lines[4].startswith("| 4 ")
    assert "c=4: E2EL" in printed and "server" in printed  # the network+queue vs server split
    assert "c=4: TTFT = connect" in printed and "server queue" in printed  # TTFT, split
    assert "c=4: stamps good to ± " in printed  # and the stamps' own error bound


def test_bench_json_uses_vllm_names_and_says_its_unit(sweep: tuple[Path, str]) -> None:
    out, _ = sweep
    level = orjson.loads((out / "c4.json").read_bytes())
    for key in (
        "completed",
        "request_throughput",
        "output_throughput",
        "mean_ttft_ms",
        "median_ttft_ms",
        "p99_ttft_ms",
        "p99_itl_ms",
        "p99_tpot_ms",
        "p99_e2el_ms",
        "request_goodput",
        "max_concurrency",
        "num_prompts",
    ):
        assert key in level, key
    assert level["completed"] == 12 and level["max_concurrency"] == 4
    assert level["request_goodput"] > 0
    assert level["goodput_slo_ms"] == {"ttft": 1000.0, "tpot": 100.0}
    assert level["latency_unit"] == "ms"
    split = level["ttft_split_ms"]
    assert set(split) == {"connect_ms", "tls_ms", "queue_ms", "prompt_ms", "network_ms"}
    assert split["network_ms"] > 0 and split["tls_ms"] == 0  # plain HTTP: no handshake
    assert level["p99_stamp_lag_ms"] >= 2.0  # never better than one 2 ms sampling period
    assert level["lag_suspect_requests"] >= 0
    combined = orjson.loads((out / "bench.json").read_bytes())
    assert [lv["max_concurrency"] for lv in combined["levels"]] == [1, 4]
    meta = combined["meta"]
    assert meta["slo_ms"] == {"ttft": 1000.0, "tpot": 100.0} and meta["latency_unit"] == "ms"
    assert meta["client"].startswith("groqstream ") and meta["date"]
    assert meta["input_tokens"] == 40 and meta["output_tokens"] == 16
    assert meta["simulated_server"]["ttft_ms"] == 10.0
    # the CLI runs on uvloop when the `fast` extra put it there (the library never forces it)
    expected_loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    assert meta["event_loop"] == expected_loop


def test_simulated_sweep_measures_the_tokens_it_asked_for(sweep: tuple[Path, str]) -> None:
    out, _ = sweep
    rows = [orjson.loads(x) for x in (out / "requests.jsonl").read_bytes().splitlines()]
    assert len(rows) == 24 and all(r["ok"] and r["ttft_ms"] > 0 for r in rows)
    assert {r["output_tokens"] for r in rows} == {16}  # the header and the measure agree
    prompt = statistics.mean(r["prompt_tokens"] for r in rows)
    assert 40 <= prompt <= 50  # ~40 words plus the message overhead the server counts
    assert all(r["start_ms"] >= 0 for r in rows)
    assert min(r["start_ms"] for r in rows if r["concurrency"] == 4) == 0
    for r in rows:  # each request states its stamps' error bound and its TTFT split
        assert r["loop_lag_ms"] >= 2.0 and r["lag_suspect"] == (r["loop_lag_ms"] > 5.0)
        opening = (r["connect_ms"] or 0) + (r["tls_ms"] or 0)
        parts = r["server_queue_ms"] + r["server_prompt_ms"] + r["ttft_network_client_ms"]
        parts += opening
        assert parts == pytest.approx(r["ttft_ms"], abs=0.01)


@needs_plotly
def test_report_html_is_self_contained_plotly(sweep: tuple[Path, str]) -> None:
    out, _ = sweep
    page = (out / "report.html").read_text()
    assert "<script src=" not in page  # Plotly's JavaScript is embedded: works offline
    assert page.count("Plotly.newPlot(") == 8
    for div in ("ttft-cdf", "itl-cdf", "throughput", "goodput", "ttft-vs-concurrency", "errors"):
        assert f'id="{div}"' in page
    for text in ("openai/gpt-oss-20b", "TTFT ≤ 1,000 ms", "groqstream 0.1.0", "Loop-lag"):
        assert text in page, text
    assert '"type":"log"' in page  # ITL on a log axis
    assert '"exponentformat":"none"' in page and '"separatethousands":true' in page


@needs_plotly
def test_report_command_rebuilds_the_same_page(
    sweep: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = sweep
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    original = (copy / "report.html").read_bytes()
    (copy / "report.html").unlink()
    assert main(["report", str(copy), "--html"]) == 0
    assert (copy / "report.html").read_bytes() == original.replace(
        str(out).encode(), str(copy).encode()
    )
    assert "| 4 " in capsys.readouterr().out


def test_report_without_bench_json_recomputes_from_requests(
    sweep: tuple[Path, str], tmp_path: Path
) -> None:
    out, _ = sweep
    copy = tmp_path / "only-requests"
    copy.mkdir()
    shutil.copy(out / "requests.jsonl", copy / "requests.jsonl")
    live = load_run(out)
    rebuilt = load_run(copy)
    for a, b in zip(live.levels, rebuilt.levels, strict=True):
        assert b.summary["completed"] == a.summary["completed"] == 12
        for key in ("median_ttft_ms", "p99_e2el_ms", "median_itl_ms"):
            # each side is a sketch within RELATIVE_ACCURACY of the true value, and the rebuilt
            # side's samples were written in ms rounded to µs: half a µs more (which decides
            # when an ITL is a few µs, as between chunks of one read)
            bound = 2 * RELATIVE_ACCURACY * a.summary[key] + 0.0005
            assert abs(b.summary[key] - a.summary[key]) <= bound, key
        # throughput from send/end spans: close to the live wall-clock figure, never above
        assert 0 < b.summary["request_throughput"] <= a.summary["request_throughput"] * 1.5
    assert rebuilt.levels[0].summary["request_goodput"] is None  # no bench.json: no SLOs known


@needs_plotly
def test_report_compares_two_runs_on_one_page(
    sweep: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = sweep
    other = tmp_path / "after"
    shutil.copytree(out, other)
    page = tmp_path / "cmp.html"
    assert main(["report", str(out), str(other), "-o", str(page)]) == 0
    printed = capsys.readouterr().out
    assert "after against out" in printed and "(+0.0 %)" in printed
    html = page.read_text()
    assert "out vs after" in html and "after against out" in html
    assert html.count("Plotly.newPlot(") == 8 and "out · c=4" in html


def test_summary_from_rows_counts_failures_by_kind() -> None:
    rows = [
        {"concurrency": 2, "ok": True, "start_ms": 0, "ttft_ms": 10, "tpot_ms": 1, "e2el_ms": 100,
         "itl_ms": [0, 2], "output_tokens": 10},
        {"concurrency": 2, "ok": True, "start_ms": 50, "ttft_ms": 30, "tpot_ms": 1,
         "e2el_ms": 150, "itl_ms": [1], "output_tokens": 10},
        {"concurrency": 2, "ok": False, "error": {"kind": "RateLimitError", "message": "429"}},
    ]  # fmt: skip
    from groqstream import SLO

    d = summary_from_rows(rows, 2, SLO(ttft_ms=20))
    assert d["completed"] == 2 and d["failed"] == 1
    assert d["failures_by_kind"] == {"RateLimitError": 1}
    assert d["duration"] == pytest.approx(0.2)  # first send 0 ms → last end 200 ms
    assert d["output_throughput"] == pytest.approx(100.0)
    assert d["request_goodput"] == pytest.approx(5.0)  # one of the two met TTFT ≤ 20 ms
    assert d["median_ttft_ms"] == pytest.approx(20.0, rel=RELATIVE_ACCURACY)
    assert d["max_itl_ms"] == pytest.approx(2.0)


def test_figures_read_as_people_write_them() -> None:
    assert rate(14888.4) == "14,888" and rate(52.34) == "52.3" and rate(4.213) == "4.21"
    assert ms(1234.5) == "1,234" and ms(52.14) == "52.1" and ms(3.421) == "3.42"
    assert ms(None) == "–" and ms(float("nan")) == "–" and rate(None) == "–"
    assert seconds_as_ms(0.0521) == "52.1 ms" and seconds_as_ms(None) == "–"
    assert clock(42) == "0:42" and clock(3723) == "1:02:03" and clock(None) == "–"


def test_table_rows_line_up_under_the_header() -> None:
    cols = columns(goodput=False)
    summary = {
        "max_concurrency": 64,
        "completed": 12000,
        "failed": 3,
        "request_throughput": 243.6,
        "output_throughput": 15589.2,
        "median_ttft_ms": 62.1,
        "p99_ttft_ms": 1234.5,
    }
    caption, head, rule = header(cols).splitlines()
    assert caption.endswith("in ms:")
    line = row(summary, cols)
    assert len(head) == len(rule) == len(line)
    assert "| 64 " in line and "12,000" in line and "15,589" in line and "1,234" in line
    assert "goodput" not in head and line.count("–") == 5  # ITL, TPOT, E2EL not given


def test_synthetic_prompt_size_and_variety() -> None:
    p = synthetic_prompt(100, seed=1)
    assert 100 <= len(p.split()) <= 103
    assert p != synthetic_prompt(100, seed=2)


def test_arrival_gaps_follow_the_rate() -> None:
    gaps = list(itertools.islice(arrival_gaps(50.0, 1.0, seed=3), 4000))
    assert statistics.mean(gaps) == pytest.approx(1 / 50, rel=0.1)
    assert statistics.pstdev(gaps) == pytest.approx(1 / 50, rel=0.15)  # Poisson: std = mean
    smooth = list(itertools.islice(arrival_gaps(50.0, 10.0, seed=3), 4000))
    assert statistics.pstdev(smooth) < statistics.pstdev(gaps) / 2  # burstiness > 1: steadier
    assert next(arrival_gaps(None)) == 0.0


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@needs_plotly
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium_with_plain_numbers(
    sweep: tuple[Path, str], tmp_path: Path
) -> None:
    """The page draws all eight charts offline in a real browser, and every tick label on every
    axis is a plain number (`15,000`, `0.1`, `40%`), never `1.5e+4` or `15k`."""
    out, _ = sweep
    assert CHROMIUM is not None
    p = subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=15000", "--dump-dom", (out / "report.html").as_uri(),
        ],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    dom = p.stdout
    assert dom.count('class="main-svg"') == 3 * 8  # Plotly drew each chart (3 layers each)
    ticks = re.findall(r'class="[xy]tick"><text[^>]*>([^<]*)<', dom)
    assert len(ticks) > 40
    plain = re.compile(r"^[−-]?\d{1,3}(,\d{3})*(\.\d+)?%?$")
    assert [t for t in ticks if not plain.match(t)] == []
