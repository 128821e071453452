"""The pytest plugin as users meet it: docs/testing.md's test file, run as it is
by pytest in an empty directory (no conftest, no settings: pytest-asyncio's strict mode), and
the `simulated_server` marker."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "testing.md"


def readme_example() -> str:
    match = re.search(r"```python\n(# test_my_app\.py\n.*?)```", PAGE.read_text(), re.S)
    assert match is not None, "docs/testing.md's test file example is missing"
    return match.group(1)


def pytest_in(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run pytest as a fresh project would: in `directory`, with no plugin disabled."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    # trio (which selenium, the UI tests' driver, installs) registers a Hypothesis plugin
    # that warns as Hypothesis loads it: a warning of that pair, not of groqstream's plugin,
    # which `-W error` below would turn into a failure. Hypothesis skips its plugins so.
    env["HYPOTHESIS_NO_PLUGINS"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def test_the_readme_example_passes_as_written(tmp_path: Path) -> None:
    (tmp_path / "test_my_app.py").write_text(readme_example())
    p = pytest_in(tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "3 passed" in p.stdout


def test_the_example_with_the_documented_settings_has_no_warnings(tmp_path: Path) -> None:
    code = readme_example().replace("pytestmark = pytest.mark.asyncio", "")
    (tmp_path / "test_my_app.py").write_text(code)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nasyncio_mode = "auto"\n'
        'asyncio_default_fixture_loop_scope = "function"\n'
    )
    p = pytest_in(tmp_path, "-W", "error")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "3 passed" in p.stdout and "warning" not in p.stdout.lower()


def test_marker_options_reach_the_server_and_each_test_gets_its_own(tmp_path: Path) -> None:
    (tmp_path / "test_marker.py").write_text(
        "import pytest\n"
        "import groqstream\n"
        "pytestmark = pytest.mark.asyncio\n"
        "SEEN = []\n"
        "@pytest.mark.simulated_server(output_tokens=5, dialect='vllm')\n"
        "async def test_options(simulated_server):\n"
        "    assert simulated_server.output_tokens == 5\n"
        "    assert simulated_server.dialect.name == 'vllm'\n"
        "    assert simulated_server.ttft == 0.005  # the fast default stays\n"
        "    SEEN.append(simulated_server.port)\n"
        "async def test_defaults(simulated_server):\n"
        "    assert simulated_server.tokens_per_second == 2000.0\n"
        "    async with groqstream.Client(base_url=simulated_server.base_url) as c:\n"
        "        r = await c.complete(model='moonshotai/kimi-k2-instruct', prompt='hi')\n"
        "    assert r.text and len(simulated_server.requests) == 1\n"
        "    assert simulated_server.port not in SEEN\n"
    )
    p = pytest_in(tmp_path, "--strict-markers")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "2 passed" in p.stdout


def test_loading_the_plugin_imports_neither_groqstream_nor_aiohttp() -> None:
    """pytest loads every installed plugin in every project's run: this one must be light."""
    code = (
        "import sys, groqstream_pytest; "
        "print(sorted({'groqstream', 'aiohttp'} & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
