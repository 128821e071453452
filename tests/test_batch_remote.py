"""The groq-batch backend against the simulator's Files + Batches API: splitting, the OUT and
errors files, each terminal state, cancel, re-attaching, and the same files as the sync
backend."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from batch_files import lines, write_input
from groqstream import Client
from groqstream.batch import (
    BatchInputError,
    BatchProgress,
    cancel_batches,
    errors_path_for,
    manifest_path_for,
    run_batch,
)
from groqstream.errors import AuthenticationError, BadRequestError, ConfigError, NotFoundError
from groqstream.testing import SimulatedServer

BAD_MODEL = "no-such-model"


def add_bad_lines(path: Path, n: int) -> list[str]:
    """Append n lines naming a model the server does not have (each fails with a 404)."""
    ids = [f"bad-{i:03d}" for i in range(n)]
    with path.open("ab") as f:
        for cid in ids:
            body = {"model": BAD_MODEL, "messages": [{"role": "user", "content": "hi"}]}
            line = {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions"}
            f.write(orjson.dumps({**line, "body": body}) + b"\n")
    return ids


def paths_of(srv: SimulatedServer, method_path: str) -> int:
    """How many requests the server recorded whose path ends with `method_path`."""
    return sum(1 for r in srv.requests if r.path.endswith(method_path))


async def groq_batch(src: Path, out: Path, srv: SimulatedServer, **kw: Any) -> Any:
    async with Client(base_url=srv.base_url) as client:
        return await run_batch(
            src, out, client=client, backend="groq-batch", poll_interval=0.02, **kw
        )


async def test_split_over_batches_output_and_errors_files(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    good = write_input(src, 2500)
    bad = add_bad_lines(src, 7)
    seen: list[BatchProgress] = []
    async with SimulatedServer() as srv:
        srv.batch_api.seconds = 0.2
        s = await groq_batch(src, out, srv, max_batch_lines=1000, on_batch_progress=seen.append)
        assert paths_of(srv, "/files") == 3  # 2,507 lines at 1,000 a batch
        assert paths_of(srv, "/batches") == 3
    assert (s.backend, s.status, s.succeeded, s.failed) == ("groq-batch", "completed", 2500, 7)
    assert len(s.batch_ids) == 3
    assert s.outcome == "completed: 3 batches finished"
    assert sorted(x["custom_id"] for x in lines(out)) == good
    errors = lines(errors_path_for(out))
    assert sorted(x["custom_id"] for x in errors) == bad
    assert {e["error"]["code"] for e in errors} == {"model_not_found"}
    assert {e["response"]["status_code"] for e in errors} == {404}
    assert seen[-1].completed == 2500 and seen[-1].failed == 7
    manifest = orjson.loads(manifest_path_for(out).read_bytes())
    assert [b["batch_id"] for b in manifest["batches"]] == list(s.batch_ids)


async def test_a_line_over_the_byte_limit_is_an_input_error(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 3)
    async with SimulatedServer() as srv:
        with pytest.raises(BatchInputError, match="over the 100 byte limit"):
            await groq_batch(src, out, srv, max_batch_bytes=100)
        assert paths_of(srv, "/files") == 0


async def test_same_custom_ids_and_line_schema_as_the_sync_backend(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    write_input(src, 40)
    add_bad_lines(src, 3)
    outs = {"sync": tmp_path / "sync.jsonl", "groq-batch": tmp_path / "remote.jsonl"}
    async with SimulatedServer(ttft=0.001, tokens_per_second=10_000) as srv:
        srv.batch_api.seconds = 0.05
        async with Client(base_url=srv.base_url) as client:
            for backend, out in outs.items():
                await run_batch(src, out, client=client, backend=backend, poll_interval=0.02)

    def shape(path: Path) -> tuple[list[str], set[tuple[str, ...]], set[tuple[str, ...]]]:
        got = lines(path)
        ids = sorted(x["custom_id"] for x in got)
        keys = {tuple(sorted(x)) for x in got}
        resp = {tuple(sorted(x["response"])) for x in got}
        return ids, keys, resp

    for files in (lambda p: p, errors_path_for):
        sync, remote = shape(files(outs["sync"])), shape(files(outs["groq-batch"]))
        assert sync == remote
    body_keys = {tuple(sorted(x["response"]["body"])) for x in lines(outs["sync"])}
    remote_body = {tuple(sorted(x["response"]["body"])) for x in lines(outs["groq-batch"])}
    assert {"id", "object", "model", "choices", "usage"} <= set(*body_keys) & set(*remote_body)


async def test_expired_batch_leaves_its_unfinished_lines_for_a_re_run(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_input(src, 200)
    async with SimulatedServer() as srv:
        srv.batch_api.seconds = 0.1
        srv.batch_api.outcomes.append("expired:0.25")
        s = await groq_batch(src, out, srv)
        assert (s.status, s.succeeded, s.unfinished) == ("expired", 50, 150)
        assert s.outcome.startswith("expired: batch batch_") and "\n" not in s.outcome
        assert "150 requests unfinished" in s.outcome
        assert lines(errors_path_for(out)) == []  # an unfinished line is not a failure
        again = await groq_batch(src, out, srv)  # a new batch for the 150 left
        assert (again.status, again.skipped, again.succeeded) == ("completed", 50, 150)
    assert sorted(x["custom_id"] for x in lines(out)) == ids


async def test_expired_lines_finish_on_sync_when_the_deadline_allows(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    ids = write_input(src, 60)
    async with SimulatedServer(ttft=0.001, tokens_per_second=10_000) as srv:
        srv.batch_api.seconds = 0.05
        srv.batch_api.outcomes.append("expired:0.5")
        s = await groq_batch(src, out, srv, deadline="48h")
        chats = paths_of(srv, "/chat/completions")
    assert (s.status, s.succeeded, s.unfinished) == ("expired", 60, 0)
    assert chats == 30
    assert "finished on the sync backend" in s.outcome
    assert sorted(x["custom_id"] for x in lines(out)) == ids


async def test_failed_batch_is_one_line_and_its_requests_stay_unsent(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 20)
    async with SimulatedServer() as srv:
        srv.batch_api.outcomes.append("failed")
        s = await groq_batch(src, out, srv)
    assert (s.status, s.succeeded, s.unfinished) == ("failed", 0, 20)
    assert s.outcome.startswith("failed: batch batch_") and "simulated batch failure" in s.outcome
    assert lines(out) == [] and lines(errors_path_for(out)) == []


async def test_cancel_ends_the_run_as_cancelled_with_what_was_done(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 100)
    async with SimulatedServer() as srv:
        srv.batch_api.seconds = 30.0
        polling = asyncio.Event()

        def progress(p: BatchProgress) -> None:
            if any(status == "in_progress" for _, status, *_ in p.batches):
                polling.set()

        run = asyncio.create_task(groq_batch(src, out, srv, on_batch_progress=progress))
        await asyncio.wait_for(polling.wait(), 30)
        async with Client(base_url=srv.base_url) as client:
            got = await cancel_batches(out, client=client)
        assert [status for _, status in got] == ["cancelling"]
        s = await asyncio.wait_for(run, 30)
    assert s.status == "cancelled" and s.outcome.startswith("cancelled: batch batch_")
    assert s.succeeded + s.unfinished == 100
    assert len(lines(out)) == s.succeeded


async def test_a_re_run_after_completion_sends_nothing(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 30)
    async with SimulatedServer() as srv:
        srv.batch_api.seconds = 0.05
        await groq_batch(src, out, srv)
        srv.reset()
        s = await groq_batch(src, out, srv)
        assert [r.path for r in srv.requests] == []
    assert (s.skipped, s.succeeded) == (30, 0)


async def test_a_manifest_of_another_input_is_refused(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 10)
    async with SimulatedServer() as srv:
        srv.batch_api.seconds = 0.05
        await groq_batch(src, out, srv)
        write_input(src, 12)
        with pytest.raises(BatchInputError, match=r"records batches of in\.jsonl"):
            await groq_batch(src, out, srv)
        manifest_path_for(out).write_text("{not json")
        with pytest.raises(BatchInputError, match="not a batch manifest"):
            await groq_batch(src, out, srv)


async def test_api_errors_are_typed(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 5)
    async with SimulatedServer(api_key="right") as srv:
        async with Client(api_key="wrong", base_url=srv.base_url) as client:
            with pytest.raises(AuthenticationError):
                await run_batch(src, out, client=client, backend="groq-batch")
        srv.batch_api.max_bytes = 10
        async with Client(api_key="right", base_url=srv.base_url) as client:
            with pytest.raises(BadRequestError, match="byte limit"):
                await run_batch(src, out, client=client, backend="groq-batch")
    with pytest.raises(ConfigError, match="completion_window"):
        await run_batch(src, out, backend="groq-batch", completion_window="2h")
    with pytest.raises(ConfigError, match="backend must be one of"):
        await run_batch(src, out, backend="batch")
    with pytest.raises(ConfigError, match="no batches are recorded"):
        await cancel_batches(tmp_path / "other.jsonl")
    gone = {"ranges": [[1, 5]], "lines": 5, "file_id": "file_x", "batch_id": "batch_gone"}
    manifest = {"input": "in.jsonl", "input_bytes": 1, "completion_window": "24h"}
    manifest_path_for(out).write_bytes(orjson.dumps({**manifest, "batches": [gone]}))
    async with SimulatedServer() as srv:
        with pytest.raises(NotFoundError, match=r"batch_gone not found \(GET http"):
            await cancel_batches(out, base_url=srv.base_url)


async def test_auto_says_which_backend_it_chose(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_input(src, 5)
    async with SimulatedServer(ttft=0.001) as srv:
        async with Client(base_url=srv.base_url) as client:
            s = await run_batch(src, out, client=client, backend="auto", deadline="2h")
        assert paths_of(srv, "/files") == 0
    assert s.backend == "sync"
    assert "sooner than the 24h completion window" in s.backend_reason


async def test_the_simulator_refuses_what_groq_refuses(tmp_path: Path) -> None:
    import aiohttp

    async with SimulatedServer() as srv, aiohttp.ClientSession() as http:
        base = srv.base_url
        form = aiohttp.FormData()
        form.add_field("purpose", "fine-tune")
        form.add_field("file", b"{}\n", filename="x.jsonl")
        async with http.post(base + "/files", data=form) as r:
            assert r.status == 400 and "purpose" in (await r.json())["error"]["message"]
        create = {"input_file_id": "file_nope", "endpoint": "/v1/chat/completions"}
        for body, status in [
            ({**create, "completion_window": "24h"}, 404),
            ({**create, "completion_window": "1h"}, 400),
            ({**create, "completion_window": "24h", "endpoint": "/v1/embeddings"}, 400),
        ]:
            async with http.post(base + "/batches", json=body) as r:
                assert r.status == status
                assert (await r.json())["error"]["type"] == "invalid_request_error"
        async with http.get(base + "/batches/batch_nope") as r:
            assert r.status == 404
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        line = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}
        data = orjson.dumps(line) + b"\n{oops\n"
        form.add_field("file", data, filename="x.jsonl")
        async with http.post(base + "/files", data=form) as r:
            f = await r.json()
            assert (f["object"], f["purpose"], f["bytes"]) == ("file", "batch", len(data))
        body = {**create, "input_file_id": f["id"], "completion_window": "7d"}
        async with http.post(base + "/batches", json=body) as r:
            b = await r.json()
            assert (b["object"], b["status"], b["completion_window"]) == (
                "batch",
                "validating",
                "7d",
            )
            assert b["expires_at"] - b["created_at"] == 7 * 86400
        srv.batch_api.validating_s = 0.0
        async with http.get(base + f"/batches/{b['id']}") as r:
            b = await r.json()
        assert b["status"] == "failed"  # line 2 is not JSON: Groq fails the whole batch
        assert b["errors"]["data"][0]["line"] == 2
        async with http.post(base + f"/batches/{b['id']}/cancel") as r:
            assert r.status == 400
