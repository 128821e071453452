"""Runs the `groqstream` command line the way users run it: a real child process with no API key,
base URL or debug switch inherited from the developer's shell, and colour off so the output can be
matched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

INHERITED = (
    "GROQ_API_KEY",
    "OPENAI_API_KEY",
    "GROQSTREAM_API_KEY",
    "GROQSTREAM_BASE_URL",
    "GROQSTREAM_DEBUG",
)


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    prelude: str = "",
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `groqstream ARGS` in a fresh process; `env` adds variables, `prelude` is Python run first
    (e.g. to hide an optional package)."""
    extra = env or {}
    full = {**os.environ, "NO_COLOR": "1", **extra}
    for name in INHERITED:
        if name not in extra:
            full.pop(name, None)
    code = prelude + "from groqstream.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", "import sys; " + code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full,
        cwd=cwd,
        check=False,
    )
