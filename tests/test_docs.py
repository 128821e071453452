"""Every ```python block in README.md and docs/**/*.md is a complete program, run here as a
subprocess against a running `SimulatedServer` (`GROQSTREAM_BASE_URL`, `GROQSTREAM_API_KEY`
in the environment, a temp dir as cwd, 60 s at most), so no example rots. A block whose first
line is `# not run: <reason>` (it serves forever, needs a cluster, ...) is only compiled. A
block importing an optional extra that is not installed is skipped, saying which."""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from groqstream.testing import SimulatedServer

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
NOT_RUN = "# not run:"
TIMEOUT = 60.0


@dataclass(frozen=True)
class Block:
    """One ```python block: where it is (file and line of its first code line) and its code."""

    path: Path
    line: int
    code: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks_in(path: Path) -> list[Block]:
    """The ```python blocks of one Markdown file."""
    text = path.read_text()
    return [
        Block(path, text.count("\n", 0, m.start(1)) + 1, m.group(1)) for m in FENCE.finditer(text)
    ]


def all_blocks() -> list[Block]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [b for f in files for b in blocks_in(f)]


BLOCKS = all_blocks()


def _compile(block: Block) -> ast.Module:
    try:
        tree = compile(
            block.code,
            block.where,
            "exec",
            flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
            dont_inherit=True,
        )
    except SyntaxError as e:
        pytest.fail(f"{block.path.relative_to(ROOT)}:{block.line - 1 + (e.lineno or 1)}: {e}")
    assert isinstance(tree, ast.Module)
    return tree


def _missing_imports(tree: ast.Module) -> list[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return sorted(n for n in names if importlib.util.find_spec(n) is None)


def test_the_docs_have_python_blocks_to_run() -> None:
    assert len(BLOCKS) >= 15
    assert sum(not b.code.startswith(NOT_RUN) for b in BLOCKS) >= 10
    readme = [b for b in BLOCKS if b.path.name == "README.md"]
    assert len(readme) == 5 and not any(b.code.startswith(NOT_RUN) for b in readme)


def test_a_failing_block_names_its_file_and_line(tmp_path: Path) -> None:
    md = tmp_path / "page.md"
    md.write_text("# Page\n\ntext\n\n```python\nx = 1\nprint(\n```\n")
    [block] = blocks_in(md)
    assert block.line == 6 and block.code == "x = 1\nprint(\n"
    with pytest.raises(pytest.fail.Exception, match=r"page\.md:7"):
        compile_block = Block(ROOT / "docs" / "page.md", block.line, block.code)
        _compile(compile_block)


@pytest.fixture
async def docs_server() -> AsyncIterator[SimulatedServer]:
    # fast pacing, as the pytest plugin's: the snippets keep their answers short as well
    async with SimulatedServer(ttft=0.005, tokens_per_second=2000.0) as server:
        yield server


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
async def test_docs_block_runs(block: Block, docs_server: SimulatedServer, tmp_path: Path) -> None:
    tree = _compile(block)
    if block.code.startswith(NOT_RUN):
        reason = block.code.splitlines()[0].removeprefix(NOT_RUN).strip()
        assert reason, f"{block.where}: say why the block is not run"
        return  # compiled above: that is all such a block gets
    missing = _missing_imports(tree)
    if missing:
        pytest.skip(f"{block.where} needs {', '.join(missing)} (an optional extra)")
    env = {
        **os.environ,
        "GROQSTREAM_BASE_URL": docs_server.base_url,
        "GROQSTREAM_API_KEY": "test",
        "PYTHONWARNINGS": "error::ResourceWarning",
    }
    env.pop("GROQ_API_KEY", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        block.code,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.communicate()
        pytest.fail(f"{block.where}: still running after {TIMEOUT:.0f} s")
    assert proc.returncode == 0, (
        f"{block.where}: exit {proc.returncode}\n{err.decode(errors='replace')[-3000:]}"
    )
    assert b"Traceback" not in err, f"{block.where}:\n{err.decode(errors='replace')[-3000:]}"
    del out
