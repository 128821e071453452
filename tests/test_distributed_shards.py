"""The parts of groqstream.distributed that need no Ray: byte-range shards (every line in
exactly one), the job manifest, the merge's refusal, the job-wide progress line."""

from __future__ import annotations

import io
import itertools
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from batch_files import write_input
from groqstream.batch import errors_path_for, input_lines
from groqstream.distributed.limits import WorkerProgress
from groqstream.distributed.progress import JobProgress, JobProgressLine, job_progress
from groqstream.distributed.shards import ShardPlan, count_lines, merge_shards, shards_dir_for
from groqstream.errors import ConfigError, GroqStreamError
from groqstream.fanout import Progress


def random_file(rng: random.Random) -> bytes:
    rows = [b"x" * rng.choice((0, 1, 2, 5, 40)) + b"%d" % i for i in range(rng.randrange(0, 60))]
    data = b"\n".join(rows)
    return data + (b"\n" if rng.random() < 0.7 else b"")


@pytest.mark.parametrize("seed", range(40))
def test_byte_ranges_cover_every_line_exactly_once(seed: int) -> None:
    rng = random.Random(seed)
    data = random_file(rng)
    cuts = sorted({0, len(data), *(rng.randrange(len(data) + 1) for _ in range(rng.randrange(6)))})
    got: list[bytes] = []
    for start, end in itertools.pairwise(cuts):
        got += [raw for _, raw in input_lines(io.BytesIO(data), (start, end))]
    assert got == io.BytesIO(data).readlines()


def test_a_cut_on_a_line_start_gives_that_line_to_the_later_shard() -> None:
    data = b"aa\nbb\ncc\n"
    first = [raw for _, raw in input_lines(io.BytesIO(data), (0, 3))]
    second = [raw for _, raw in input_lines(io.BytesIO(data), (3, 9))]
    assert (first, second) == ([b"aa\n"], [b"bb\n", b"cc\n"])


def test_the_plan_survives_a_restart_and_notices_a_changed_input(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    write_input(src, 30)
    plan = ShardPlan.split(src, 4)
    assert plan.ranges[0][0] == 0 and plan.ranges[-1][1] == src.stat().st_size
    assert all(a[1] == b[0] for a, b in zip(plan.ranges, plan.ranges[1:], strict=False))
    directory = shards_dir_for(tmp_path / "out.jsonl")
    assert directory.name == "out.shards" and ShardPlan.load(directory) is None
    plan.save(directory)
    assert ShardPlan.load(directory) == plan
    plan.check_same_input(src)
    with src.open("ab") as f:
        f.write(b"\n")
    with pytest.raises(ConfigError, match="changed since this job began"):
        plan.check_same_input(src)
    with pytest.raises(ConfigError):
        ShardPlan.split(src, 0)
    (directory / "manifest.json").write_text("{")
    with pytest.raises(ConfigError, match="unreadable"):
        ShardPlan.load(directory)


def test_merge_refuses_unless_every_request_has_one_result(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 4)
    plan = ShardPlan.split(src, 2)
    directory = shards_dir_for(out)
    directory.mkdir()
    plan.shard_path(directory, 0).write_bytes(b'{"custom_id":"a"}\n')
    errors_path_for(plan.shard_path(directory, 1)).write_bytes(b'{"custom_id":"b"}\n')
    with pytest.raises(GroqStreamError, match="2 results for 4 requests"):
        merge_shards(plan, directory, out, 4)
    assert not out.exists()
    assert merge_shards(plan, directory, out, 2) == (1, 1)
    assert count_lines(out) == 1 and count_lines(errors_path_for(out)) == 1
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def snapshot(done: int, failed: int, in_flight: int, ttft: float | None) -> Progress:
    return Progress(done, failed, in_flight, None, 1.0, float(done), 10.0 * done, ttft)


def test_one_progress_line_for_the_whole_job() -> None:
    reports = {
        0: WorkerProgress(0, 101, skipped=10, progress=snapshot(5, 1, 3, 0.1)),
        2: WorkerProgress(2, 103, skipped=0, progress=snapshot(7, 0, 4, 0.3)),
    }
    p = job_progress(reports, workers=3, total=100, skipped={1: 20}, elapsed_s=2.0)
    assert isinstance(p, JobProgress) and isinstance(p, Progress)
    assert (p.done, p.failed, p.in_flight, p.total) == (10 + 5 + 20 + 7, 1, 7, 100)
    assert p.in_flight_by_worker == (3, 0, 4) and p.p50_ttft_s == pytest.approx(0.2)
    assert p.req_per_s == 12.0 and not p.finished
    out = io.StringIO()
    JobProgressLine(out, every=0)(p)
    assert "43/100" in out.getvalue()
    assert "per worker 3|0|4" in out.getvalue()


def test_importing_groqstream_never_imports_ray() -> None:
    code = (
        "import sys, groqstream, groqstream.distributed; "
        "from groqstream.cli.main import _parser; _parser(); "
        "assert 'ray' not in sys.modules, 'ray imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
