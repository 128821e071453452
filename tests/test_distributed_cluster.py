"""groqstream.distributed on a simulated two-node Ray cluster (`ray.cluster_utils.Cluster`):
one worker per node, and a node that dies mid-run has its shard retried elsewhere."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batch_files import assert_exactly_once, write_input
from groqstream.testing import SimulatedServer

ray = pytest.importorskip(
    "ray", reason="the `ray` extra is not installed: pip install 'groqstream[ray]'"
)

from ray.cluster_utils import Cluster  # noqa: E402

from groqstream.distributed import run_batch, shards_dir_for  # noqa: E402


@pytest.fixture
def cluster() -> Iterator[Any]:
    """A head node and one more, one CPU each, and this process connected to them."""
    c = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False},
    )
    c.add_node(num_cpus=1)
    ray.init(address=c.address, log_to_driver=False, configure_logging=False)
    c.wait_for_nodes()
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()  # type: ignore[no-untyped-call,unused-ignore]


async def test_two_nodes_run_a_shard_each_and_survive_losing_one(
    cluster: Any, tmp_path: Path
) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_input(src, 5000)
    other_node = next(n for n in cluster.worker_nodes)
    shard = shards_dir_for(out) / "shard-00000.jsonl"
    async with SimulatedServer(ttft=0.01, tokens_per_second=4000.0) as srv:
        job = asyncio.create_task(
            run_batch(src, out, workers=2, concurrency_per_worker=16, base_url=srv.base_url)
        )
        deadline = time.monotonic() + 180
        while not (shard.exists() and shard.read_bytes().count(b"\n") >= 300):
            assert time.monotonic() < deadline and not job.done(), "the job never got going"
            await asyncio.sleep(0.05)
        owners = {owner_node(shards_dir_for(out), i) for i in (0, 1)}
        cluster.remove_node(other_node, allow_graceful=False)  # its worker dies with it
        summary = await job
    assert_exactly_once(out, ids)
    assert summary.total == 5000 and summary.succeeded == 5000 and summary.failed == 0
    head = cluster.head_node.node_id
    assert owners == {head, other_node.node_id}  # one shard per node …
    assert {o.node for o in summary.workers} == {head}  # … and the lost one finished on the head


def owner_node(directory: Path, index: int) -> str:
    """The Ray node id in a shard's lock file, once its worker has written it."""
    deadline = time.monotonic() + 60
    while True:
        lock = directory / f"shard-{index:05d}.lock"
        text = lock.read_text().split() if lock.exists() else []
        if len(text) == 3:
            return text[2]
        assert time.monotonic() < deadline
        time.sleep(0.05)
