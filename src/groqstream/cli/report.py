"""`groqstream report`: rebuild a bench report from its files, or compare runs on one page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..bench.compare import compare_table
from ..bench.runs import Run, RunLoadError, load_run
from ..bench.table import columns, notes, table
from .args import add_command, new_file_in_existing_dir
from .errors import CommandError, UsageError
from .term import Out, has_module

__all__ = ["add_parser"]


def add_parser(sub: Any) -> None:
    """Register `report`."""
    p = add_command(
        sub,
        "report",
        help="rebuild a bench report from its files, or compare runs on one page",
        description="Read `groqstream bench --out` directories (requests.jsonl, and bench.json "
        "when present). One directory: print its summary table, and with --html write its "
        "report.html again. Several: print how each run compares with the first and write "
        "one HTML page with them all (compare.html, or -o FILE). HTML needs the report "
        "extra: pip install 'groqstream[report]'.",
        example="groqstream report out/ --html\ngroqstream report before/ after/ -o compare.html",
    )
    p.add_argument("runs", nargs="+", metavar="DIR", help="bench --out directories")
    p.add_argument(
        "--html", action="store_true", help="write the HTML report (always done for several runs)"
    )
    p.add_argument(
        "--output",
        "-o",
        default=None,
        metavar="FILE",
        help="the HTML file to write (default: DIR/report.html for one run, "
        "compare.html for several)",
    )
    p.set_defaults(func=_report)


def _load(dirs: list[str]) -> list[Run]:
    names = [Path(d).resolve().name or d for d in dirs]
    if len(set(names)) < len(names):
        names = [d.rstrip("/") or d for d in dirs]
    runs = []
    for d, name in zip(dirs, names, strict=True):
        try:
            runs.append(load_run(Path(d), name))
        except RunLoadError as e:
            raise UsageError(str(e), "pass directories written by groqstream bench --out") from None
    return runs


def _html_path(args: argparse.Namespace, runs: list[Run]) -> Path | None:
    if not (args.html or args.output or len(runs) > 1):
        return None
    if args.output:
        return new_file_in_existing_dir(args.output, "HTML file")
    return runs[0].path / "report.html" if len(runs) == 1 else Path("compare.html")


async def _report(args: argparse.Namespace) -> int:
    runs = _load(args.runs)
    path = _html_path(args, runs)
    if path is not None and not has_module("plotly"):
        raise CommandError(
            "drawing the HTML report needs Plotly", "install it: pip install 'groqstream[report]'"
        )
    for run in runs:
        if len(runs) > 1:
            print(f"\n{run.name} ({run.path}):")
        print(table([lv.summary for lv in run.levels], columns(goodput=not run.slo().empty)))
        for lv in run.levels:
            for line in notes(lv.summary, f"c={lv.concurrency}"):
                print(line)
    if len(runs) > 1:
        print("\n" + compare_table(runs))
    if path is not None:
        from ..bench.html import write_report

        write_report(runs, path)
        Out(sys.stderr).line(f"wrote {path}", "dim")
    return 0
