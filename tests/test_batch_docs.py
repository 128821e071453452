"""docs/batch-api.md's Python blocks, run as HELPERS.md says every doc block is run: a fresh
process with GROQSTREAM_BASE_URL at a SimulatedServer, GROQSTREAM_API_KEY=test, a temp dir as
the working directory, 60 s at most."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from groqstream.testing import SimulatedServer

DOC = Path(__file__).resolve().parents[1] / "docs" / "batch-api.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)


def test_the_page_has_runnable_blocks() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("n", range(len(BLOCKS)))
async def test_each_python_block_runs(n: int, tmp_path: Path) -> None:
    code = BLOCKS[n]
    if code.startswith("# not run:"):
        compile(code, f"block {n}", "exec")
        return
    async with SimulatedServer() as srv:
        env = {**os.environ, "GROQSTREAM_BASE_URL": srv.base_url, "GROQSTREAM_API_KEY": "test"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert out.strip(), "a block shows what it did"
