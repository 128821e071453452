"""groqstream.distributed on a local Ray instance against the simulated server: exactly-once
output at 5,000 requests, after a worker is SIGKILLed and after the whole job stops; a
global RPM across workers; pauses shared by every worker; merged sketches."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from batch_files import MODEL, assert_exactly_once, lines, rank_value, write_input
from groqstream.batch import BatchInputError, errors_path_for
from groqstream.bench.runner import SweepConfig
from groqstream.errors import ConfigError
from groqstream.report import RELATIVE_ACCURACY, SLO
from groqstream.testing import Fault, SimulatedServer

ray = pytest.importorskip(
    "ray", reason="the `ray` extra is not installed: pip install 'groqstream[ray]'"
)

from groqstream.distributed import (  # noqa: E402 — only with ray installed
    Coordinator,
    DistributedGate,
    JobProgress,
    run_batch,
    run_sweep,
    shards_dir_for,
)


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """One local Ray instance for the module: two logical CPUs, no dashboard."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


async def test_5000_requests_over_2_workers_exactly_once_with_a_merged_report(
    tmp_path: Path,
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_input(src, 5000)
    seen: list[JobProgress] = []
    async with SimulatedServer(ttft=0.002, tokens_per_second=4000.0) as srv:
        summary = await run_batch(
            src,
            out,
            workers=2,
            concurrency_per_worker=32,
            base_url=srv.base_url,
            slo=SLO(ttft_ms=50),
            report_path=tmp_path / "report.json",
            on_progress=lambda p: seen.append(p),  # type: ignore[arg-type]
        )
    got = assert_exactly_once(out, ids)
    assert (summary.total, summary.succeeded, summary.failed, summary.skipped) == (5000, 5000, 0, 0)
    assert {line["response"]["body"]["usage"]["completion_tokens"] for line in got} == {4}
    # each worker wrote its own shard in the single-process format; the merge is their sum
    shard_lines = [lines(p) for p in sorted(shards_dir_for(out).glob("shard-*[0-9].jsonl"))]
    assert len(shard_lines) == 2 and all(len(s) > 1000 for s in shard_lines)
    assert sum(len(s) for s in shard_lines) == 5000
    assert len({o.pid for o in summary.workers}) == 2  # two processes, one loop each
    # one live line for the whole job, fed by both workers
    assert seen[-1].finished and seen[-1].done == 5000 and seen[-1].total == 5000
    assert any(len(p.in_flight_by_worker) == 2 and p.in_flight > 0 for p in seen)
    # the merged report: exact counts; percentiles within the sketch's error of all samples
    rep = summary.report
    assert rep.completed == rep.ttft.count == rep.e2el.count == 5000
    assert rep.itl.count == 5000 * 3  # 4 one-token chunks each: 3 gaps
    for name in ("ttft", "e2el"):
        samples = [x["groqstream_metrics"][f"{name}_ms"] / 1000 for x in got]
        dist = getattr(rep, name)
        assert dist.min == pytest.approx(min(samples), abs=1e-6)
        assert dist.max == pytest.approx(max(samples), abs=1e-6)
        for q in (0.5, 0.9, 0.95, 0.99):
            want = rank_value(samples, q)
            got_q = getattr(dist, f"p{round(q * 100)}")
            assert got_q == pytest.approx(want, rel=RELATIVE_ACCURACY, abs=2e-6), (name, q)
    good = sum(1 for x in got if x["groqstream_metrics"]["ttft_ms"] <= 50)
    assert rep.good == good
    assert orjson.loads((tmp_path / "report.json").read_bytes())["completed"] == 5000


def shard_owner(directory: Path, index: int) -> int | None:
    """The pid in a shard's lock file (the process running it), once it has written one."""
    try:
        text = (directory / f"shard-{index:05d}.lock").read_text().split()
    except FileNotFoundError:
        return None
    return int(text[1]) if len(text) >= 2 else None


async def test_a_sigkilled_worker_is_retried_and_resumes_its_shard(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_input(src, 1200)
    shard0 = shards_dir_for(out) / "shard-00000.jsonl"
    async with SimulatedServer(ttft=0.05, tokens_per_second=2000.0) as srv:
        job = asyncio.create_task(
            run_batch(src, out, workers=2, concurrency_per_worker=8, base_url=srv.base_url)
        )
        deadline = time.monotonic() + 120
        while not (shard0.exists() and shard0.read_bytes().count(b"\n") >= 60):
            assert time.monotonic() < deadline and not job.done(), "shard 0 never got going"
            await asyncio.sleep(0.02)
        victim = shard_owner(shards_dir_for(out), 0)
        assert victim is not None and victim != os.getpid()
        os.kill(victim, signal.SIGKILL)
        summary = await job
        sent = len(srv.requests)
    assert_exactly_once(out, ids)
    assert summary.succeeded == 1200
    retried = next(o for o in summary.workers if o.worker == 0)
    assert retried.pid != victim  # a new process finished shard 0 …
    assert retried.succeeded < 600  # … starting where the killed one stopped
    assert sent < 1200 + 2 * 8 + 1  # only requests in flight at the kill were sent twice


async def test_rerunning_after_the_whole_job_stopped_resumes(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_input(src, 600)
    shard1 = shards_dir_for(out) / "shard-00001.jsonl"
    async with SimulatedServer(ttft=0.05, tokens_per_second=2000.0) as srv:
        kwargs = {"workers": 2, "concurrency_per_worker": 8, "base_url": srv.base_url}
        job = asyncio.create_task(run_batch(src, out, **kwargs))  # type: ignore[arg-type]
        while not (shard1.exists() and shard1.read_bytes().count(b"\n") >= 40):
            assert not job.done()
            await asyncio.sleep(0.02)
        job.cancel()  # the driver goes away: its workers are killed with it
        with pytest.raises(asyncio.CancelledError):
            await job
        # Requests already in a socket buffer still arrive (later on a loaded machine): wait
        # for a quiet second. A worker running on behind the stopped job never goes quiet.
        stopped = -1
        for _ in range(15):
            if len(srv.requests) == stopped:
                break
            stopped = len(srv.requests)
            await asyncio.sleep(1.0)
        assert len(srv.requests) == stopped  # nothing runs on behind the stopped job
        assert not out.exists()  # nothing merged yet
        summary = await run_batch(src, out, **kwargs)  # type: ignore[arg-type]
        sent = len(srv.requests)
    assert_exactly_once(out, ids)
    assert summary.skipped >= 40 and summary.skipped + summary.succeeded == 600
    assert sent < 600 + 2 * 8 * 2 + 1


async def test_a_global_rpm_holds_across_workers(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_input(src, 100)
    rpm = 1200  # 20 requests/s for the whole job, with a one-second burst allowance
    async with SimulatedServer(ttft=0.005, tokens_per_second=2000.0) as srv:
        await run_batch(
            src,
            out,
            workers=2,
            concurrency_per_worker=16,
            base_url=srv.base_url,
            requests_per_minute=rpm,
        )
        stamps = sorted(r.received_ns / 1e9 for r in srv.requests)
    assert_exactly_once(out, ids)
    per_s = rpm / 60
    # per-worker limits would have let 2 × 20/s through: ~1.5 s for 100 requests
    span = stamps[-1] - stamps[0]
    assert span >= (100 - per_s) / per_s * 0.9, span
    busiest = max(sum(1 for t in stamps if s <= t < s + 1.0) for s in stamps)
    assert busiest <= per_s * 2 + per_s * 0.5, busiest  # burst + rate + loaded-machine slack


def busiest_window(stamps: list[float], seconds: float) -> int:
    """The most arrivals in any `seconds`-long window (each window starting at an arrival)."""
    stamps = sorted(stamps)
    most, j = 0, 0
    for i, start in enumerate(stamps):
        while j < len(stamps) and stamps[j] < start + seconds:
            j += 1
        most = max(most, j - i)
    return most


async def test_the_global_rpm_holds_in_every_10_s_window_after_a_stall(tmp_path: Path) -> None:
    """The held-out failure (262 requests in a 10 s window at --rpm 1200) came from budget a
    stalled worker kept: leased slots it could not use in their moment, spent all at once
    later, on top of the others' current budget. Here every request is held until the job
    has stalled for 2 s; after it, no 10 s window may exceed the rate by more than 10 %."""
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_input(src, 250)
    rpm = 1200
    allowed = rpm / 6 * 1.10  # 200 requests in 10 s, plus 10 %
    async with SimulatedServer(ttft=0.005, tokens_per_second=2000.0) as srv:
        srv.hold()
        job = asyncio.create_task(
            run_batch(
                src,
                out,
                workers=2,
                concurrency_per_worker=4,
                base_url=srv.base_url,
                requests_per_minute=rpm,
            )
        )
        while srv.stats.requests_held < 8 and not job.done():
            await asyncio.sleep(0.02)  # both workers are full and stalled ...
        await asyncio.sleep(2.0)  # ... long enough for leased slots to go stale
        srv.release()
        await job
        stamps = [r.received_ns / 1e9 for r in srv.requests]
    assert_exactly_once(out, ids)
    assert max(stamps) - min(stamps) > 12  # the windows below cover a full 10 s of traffic
    busiest = busiest_window(stamps, 10.0)
    print(f"busiest 10 s window: {busiest} requests ({allowed:.0f} allowed)")
    assert busiest <= allowed, f"{busiest} requests in one 10 s window, {allowed:.0f} allowed"


async def test_a_429_seen_by_one_worker_pauses_the_whole_job(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_input(src, 600)  # ~75 requests/s per worker: both still busy after the pause
    shard = shards_dir_for(out) / "shard-00001.jsonl"
    async with SimulatedServer(ttft=0.05, tokens_per_second=2000.0) as srv:
        job = asyncio.create_task(
            run_batch(src, out, workers=2, concurrency_per_worker=4, base_url=srv.base_url)
        )
        while not (shard.exists() and shard.read_bytes().count(b"\n") >= 20):
            assert not job.done()
            await asyncio.sleep(0.02)
        srv.faults.append(Fault.status(429, retry_after=2.0))  # the next request, either worker
        await job
        records = list(srv.requests)
    assert_exactly_once(out, ids)
    (limited,) = [r for r in records if r.status == 429]
    t0 = limited.received_ns
    during = [r for r in records if t0 + 0.6e9 < r.received_ns < t0 + 1.8e9]
    assert not during, f"{len(during)} requests sent during the other worker's pause"
    assert max(r.received_ns for r in records) > t0 + 1.8e9  # and the job went on after it


async def test_a_pause_seen_by_one_worker_pauses_every_worker() -> None:
    coord = ray.remote(num_cpus=0)(Coordinator).remote(None, None)
    try:
        a = DistributedGate(coord, requests_per_minute=None, tokens_per_minute=None, concurrency=4)
        b = DistributedGate(coord, requests_per_minute=None, tokens_per_minute=None, concurrency=4)
        async with a, b:
            now = time.monotonic()
            assert b.reserve(10, now) == 0.0
            a.observe(
                {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "3s"}, now
            )
            assert a.reserve(10, now) == pytest.approx(3.0)
            deadline = time.monotonic() + 30
            while b.reserve(10, time.monotonic()) < 1.0:
                assert time.monotonic() < deadline, "b never heard of a's pause"
                await asyncio.sleep(0.05)
            assert b.paused_until == pytest.approx(now + 3.0, abs=1.0)
        assert (await coord.stats.remote())["pauses"] == 1
    finally:
        ray.kill(coord)


async def test_leases_spread_one_budget_over_many_gates() -> None:
    coord = ray.remote(num_cpus=0)(Coordinator).remote(600, None)  # 10/s, burst 5
    try:
        gates = [
            DistributedGate(coord, requests_per_minute=600, tokens_per_minute=None, concurrency=8)
            for _ in range(2)
        ]
        async with gates[0], gates[1]:
            ready = []
            for _ in range(15):  # 30 requests through two gates, as fan_out would send them
                for g in gates:
                    wait = g.reserve(100, time.monotonic())
                    while wait > 0:
                        await asyncio.sleep(wait)
                        wait = g.paused_until - time.monotonic()
                    ready.append(time.monotonic())
        span = max(ready) - min(ready)
        assert span >= (30 - 5) / 10 * 0.9, span  # one budget: 25 past the burst at 10/s
        assert all(g.describe()["leases"] < 30 for g in gates)  # slots come in batches
    finally:
        ray.kill(coord)


async def test_a_leased_slot_whose_moment_passed_is_dropped_not_spent() -> None:
    coord = ray.remote(num_cpus=0)(Coordinator).remote(600, None)
    try:
        gate = DistributedGate(
            coord, requests_per_minute=600, tokens_per_minute=None, concurrency=8
        )
        async with gate:
            stock = gate.describe()["stock"]
            assert stock >= 2
            later = time.monotonic() + 5.0  # a stalled worker comes back to its stock
            assert gate.reserve(100, later) > 0  # no stale slot is spent at once: it waits
            assert gate.describe()["expired"] == stock
    finally:
        ray.kill(coord)


async def test_a_job_wide_token_budget_is_leased_too() -> None:
    coord = ray.remote(num_cpus=0)(Coordinator).remote(None, 60_000)  # 1,000 tokens/s
    try:
        gates = [
            DistributedGate(
                coord, requests_per_minute=None, tokens_per_minute=60_000, concurrency=4
            )
            for _ in range(2)
        ]
        async with gates[0], gates[1]:
            t0 = time.monotonic()
            for _ in range(4):  # 8 requests of 500 estimated tokens: 3 s past the 1 s burst
                for g in gates:
                    wait = g.reserve(500, time.monotonic())
                    while wait > 0:
                        await asyncio.sleep(wait)
                        wait = g.paused_until - time.monotonic()
            span = time.monotonic() - t0
        assert span >= (8 * 500 - 1000) / 1000 * 0.8, span
    finally:
        ray.kill(coord)


async def test_bad_input_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 50)
    with src.open("ab") as f:  # a duplicate of a line in the other shard, and a broken line
        f.write(src.read_bytes().splitlines()[0] + b"\n{not json\n")
    async with SimulatedServer(ttft=0, tokens_per_second=0) as srv:
        with pytest.raises(BatchInputError) as e:
            await run_batch(src, out, workers=2, base_url=srv.base_url)
        assert len(srv.requests) == 0
    assert any("not valid JSON" in p for p in e.value.problems)
    src.write_bytes(b"\n".join(src.read_bytes().splitlines()[:-1]) + b"\n")
    with pytest.raises(BatchInputError, match="duplicate custom_id 'req-00000'"):
        await run_batch(src, out, workers=2, base_url=srv.base_url)
    assert not (shards_dir_for(out) / "manifest.json").exists()


async def test_resuming_refuses_a_changed_input_and_a_foreign_output(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 20)
    async with SimulatedServer(ttft=0, tokens_per_second=0) as srv:
        await run_batch(src, out, workers=2, base_url=srv.base_url)
        again = await run_batch(src, out, workers=3, base_url=srv.base_url)  # a no-op resume
        assert (again.skipped, again.succeeded, len(srv.requests)) == (20, 0, 20)
        write_input(src, 21)
        with pytest.raises(ConfigError, match="changed since this job began"):
            await run_batch(src, out, workers=2, base_url=srv.base_url)
        other = tmp_path / "single.jsonl"
        other.write_bytes(out.read_bytes())
        with pytest.raises(ConfigError, match="not written by a distributed run"):
            await run_batch(src, other, workers=2, base_url=srv.base_url)
    assert not errors_path_for(out).read_bytes()


async def test_bench_levels_are_spread_over_workers_and_merged(tmp_path: Path) -> None:
    cfg = SweepConfig(model=MODEL, concurrency=[1, 6], requests=60, output_tokens=8)
    levels: set[int] = set()
    async with SimulatedServer(ttft=0.005, tokens_per_second=2000.0) as srv:
        results = await run_sweep(
            cfg, workers=2, base_url=srv.base_url, on_progress=lambda lv, p: levels.add(lv)
        )
        sent = [r for r in srv.requests if r.body.get("max_tokens") == 8]
    assert [lv.concurrency for lv in results] == [1, 6] and levels == {1, 6}
    assert len(sent) == 120
    one, six = results
    assert len(one.workers) == 1 and len(six.workers) == 2  # concurrency 1 needs one worker
    for lv in results:
        r = lv.report
        assert r.completed == r.ttft.count == 60 and r.itl.count == 60 * 7
        assert r.total_output_tokens == 60 * 8
        assert r.loop_lag_max_s is not None  # each worker checked its own loop
        assert r.duration_s > 0
    # two shares of the level, one per worker (Ray may run both in one process when the
    # first share ends before the second starts on a busy machine: pids prove nothing)
    assert sorted(o.worker for o in six.workers) == [0, 1]


async def test_a_ray_dataset_is_an_input_too(tmp_path: Path) -> None:
    data = pytest.importorskip(
        "ray.data", reason="Ray Data is not installed: pip install 'ray[data]'"
    )
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_input(src, 200)
    rows = [orjson.loads(x) for x in src.read_bytes().splitlines()]
    rows[7]["body"]["temperature"] = 0.5  # arrow gives every other row temperature: null
    async with SimulatedServer(ttft=0, tokens_per_second=0) as srv:
        summary = await run_batch(data.from_items(rows), out, workers=2, base_url=srv.base_url)
        temperatures = {r.body.get("temperature", "absent") for r in srv.requests}
    assert_exactly_once(out, ids)
    assert summary.succeeded == 200 and temperatures == {0.5, "absent"}


async def test_the_cli_runs_a_batch_and_a_bench_on_workers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from groqstream.cli.main import main

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_input(src, 300)
    async with SimulatedServer(ttft=0.002, tokens_per_second=4000.0) as srv:
        url = srv.base_url
        code = await asyncio.to_thread(
            main, ["batch", str(src), str(out), "--workers", "2", "-c", "8", "--base-url", url]
        )
        assert code == 0
        assert_exactly_once(out, ids)
        assert "300 succeeded, 0 failed" in capsys.readouterr().err
        argv = ["bench", "--base-url", url, "--model", MODEL, "--concurrency", "4"]
        argv += ["--requests", "40", "--output-tokens", "6"]
        code = await asyncio.to_thread(
            main, [*argv, "--workers", "2", "--out", str(tmp_path / "r")]
        )
        assert code == 0
        printed = capsys.readouterr().out
        code = await asyncio.to_thread(main, [*argv, "--out", str(tmp_path / "one")])
    assert code == 0
    row = next(line for line in printed.splitlines() if line.startswith("| 4 "))
    assert [c.strip() for c in row.split("|")[1:4]] == ["4", "40", "0"], printed
    # `bench --workers 2 --out DIR` writes what a one-process run writes
    ray_dir, one_dir = tmp_path / "r", tmp_path / "one"
    assert sorted(p.name for p in ray_dir.iterdir()) == sorted(p.name for p in one_dir.iterdir())
    rows, one_rows = lines(ray_dir / "requests.jsonl"), lines(one_dir / "requests.jsonl")
    assert len(rows) == len(one_rows) == 40
    assert [set(r) for r in rows] == [set(r) for r in one_rows]
    assert sorted(r["index"] for r in rows) == list(range(40))
    assert all(r["ok"] and r["start_ms"] >= 0 and len(r["itl_ms"]) == 5 for r in rows)
    level = orjson.loads((ray_dir / "c4.json").read_bytes())
    assert set(level) == set(orjson.loads((one_dir / "c4.json").read_bytes()))
    assert level["completed"] == 40
