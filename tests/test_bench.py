"""`groqstream bench`: the sweep against the simulated server and what it writes."""

from __future__ import annotations

import itertools
import statistics
from pathlib import Path

import orjson
import pytest

from groqstream.bench import arrival_gaps, synthetic_prompt
from groqstream.cli.main import main


def test_bench_simulate_writes_json_jsonl_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    rc = main(
        [
            "bench",
            "--simulate",
            "--concurrency",
            "1,4",
            "--requests",
            "12",
            "--output-tokens",
            "16",
            "--sim-ttft",
            "0.01",
            "--sim-tps",
            "4000",
            "--goodput",
            "ttft:1000,tpot:100",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "concurrency 1:" in printed and "concurrency 4:" in printed
    assert "| TTFT |" in printed and "server" in printed  # the network+queue vs server split
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
    ):
        assert key in level, key
    assert level["completed"] == 12 and level["max_concurrency"] == 4
    assert level["request_goodput"] > 0
    combined = orjson.loads((out / "bench.json").read_bytes())
    assert [lv["max_concurrency"] for lv in combined["levels"]] == [1, 4]
    rows = [orjson.loads(x) for x in (out / "requests.jsonl").read_bytes().splitlines()]
    assert len(rows) == 24 and all(r["ok"] and r["ttft_ms"] > 0 for r in rows)
    page = (out / "report.html").read_text()
    assert page.count("<svg") == 6 and "TTFT CDF" in page


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
