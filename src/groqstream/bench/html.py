"""The self-contained HTML report of one bench run, or of several side by side.

One file with Plotly's JavaScript embedded, so it opens offline and can be mailed or attached
as it is: a header (date, target, model, workload, SLOs, client version and the event-loop lag
self-check), the summary table, a comparison table for several runs, then the charts.
Needs the `report` extra (`pip install 'groqstream[report]'`).
"""

from __future__ import annotations

import datetime as _dt
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..metrics import LAG_SUSPECT_S
from ..report import LOOP_LAG_WARN_S
from .compare import METRICS, changes
from .fmt import count, is_number, ms, rate
from .runs import Run
from .table import CAPTION, columns

__all__ = ["render", "write_report"]

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;
  margin: 0 auto; padding: 24px 32px 48px; max-width: 1480px; color: #222; background: #fafafa; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 10px; }
.sub { color: #555; margin: 0 0 18px; }
.meta { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr));
  gap: 10px 28px; background: #fff; border: 1px solid #e3e3e3; border-radius: 8px;
  padding: 16px 20px; }
.meta dt { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: #666; }
.meta dd { margin: 2px 0 0; overflow-wrap: anywhere; }
.ok { color: #2a7d2a; } .warn { color: #a15c00; font-weight: 600; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; background: #fff; font-variant-numeric: tabular-nums;
  font-size: 14px; }
th, td { border: 1px solid #e0e0e0; padding: 5px 8px; text-align: right; }
td { white-space: nowrap; }
th { background: #f1f3f6; font-weight: 600; vertical-align: bottom; }
td:first-child, th:first-child { text-align: left; }
.better { color: #2a7d2a; } .worse { color: #b3261e; }
.meta-table { width: 100%; table-layout: fixed; }
.meta-table td { white-space: normal; text-align: left; overflow-wrap: anywhere; }
.meta-table td:first-child { width: 150px; font-weight: 600; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(600px, 1fr)); gap: 18px; }
.card { background: #fff; border: 1px solid #e3e3e3; border-radius: 8px; padding: 6px 8px; }
footer { margin-top: 28px; color: #777; font-size: 13px; }
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _date(meta: dict[str, Any]) -> str:
    raw = meta.get("date")
    if not isinstance(raw, str):
        return "–"
    try:
        when = _dt.datetime.fromisoformat(raw)
    except ValueError:
        return raw
    return when.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _measured(run: Run, key: str) -> str:
    means = [m for lv in run.levels if (m := lv.mean_of(key)) is not None]
    return f"{sum(means) / len(means):,.0f}" if means else "–"


def _workload(run: Run) -> str:
    m = run.meta
    per_level = m.get("requests_per_level")
    parts = [f"{count(per_level)} requests per level" if isinstance(per_level, int) else ""]
    if is_number(m.get("input_tokens")):
        parts.append(
            f"{m['input_tokens']:,} input tokens (measured {_measured(run, 'prompt_tokens')})"
        )
    if is_number(m.get("output_tokens")):
        parts.append(
            f"{m['output_tokens']:,} output tokens (measured {_measured(run, 'output_tokens')})"
        )
    return " · ".join(p for p in parts if p) or "–"


def _arrivals(meta: dict[str, Any]) -> str:
    rate, burst = meta.get("request_rate"), meta.get("burstiness", 1.0)
    if not is_number(rate):
        text = "all at once: each level keeps its concurrency busy (closed loop)"
    elif burst == 1:
        text = f"Poisson process, {rate:g} requests/s"
    else:
        text = f"gamma process, {rate:g} requests/s, burstiness {burst:g}"
    limit = meta.get("duration_limit_s")
    return text + (f"; each level stopped after {limit:g} s" if is_number(limit) else "")


def _slos(run: Run) -> str:
    given = run.slo().to_ms_dict()
    if not given:
        return "none (goodput not measured)"
    return ", ".join(f"{k.upper()} ≤ {ms(v)} ms" for k, v in given.items())


def _loop_check(run: Run) -> str:
    known: list[tuple[int, float, float | None]] = []
    for lv in run.levels:
        p99, worst = lv.summary.get("loop_lag_p99_ms"), lv.summary.get("loop_lag_max_ms")
        if is_number(p99):
            known.append((lv.concurrency, p99, worst if is_number(worst) else None))
    if not known:
        return "<span>not recorded</span>"
    limit = LOOP_LAG_WARN_S * 1000
    bad = [(c, p, m) for c, p, m in known if p > limit]
    if bad:
        where = ", ".join(f"c={c} (p99 {ms(p)} ms, max {ms(m)} ms)" for c, p, m in bad)
        return (
            f"<span class='warn'>⚠ the client's event loop lagged at {_e(where)}: figures "
            "there include the client's own delay</span>"
        )
    _, p99, worst = max(known, key=lambda t: t[1])
    return (
        f"<span class='ok'>✓ the client kept up: event-loop lag p99 ≤ {ms(p99)} ms "
        f"(max {ms(worst)} ms; warns above {limit:g} ms)</span>" + _stamp_bound(run)
    )


def _stamp_bound(run: Run) -> str:
    """Each stream's own stamp-error bound, and how many streams it marks as suspect."""
    bounds = [lv.summary.get("p99_stamp_lag_ms") for lv in run.levels]
    known = [b for b in bounds if is_number(b)]
    if not known:
        return ""
    suspect = sum(int(lv.summary.get("lag_suspect_requests") or 0) for lv in run.levels)
    return f" · stamps good to ± {ms(max(known))} ms at p99" + (
        f" ({suspect:,} requests marked: bound over {LAG_SUSPECT_S * 1000:g} ms)" if suspect else ""
    )


def _client(meta: dict[str, Any]) -> str:
    parts = [meta.get("client"), meta.get("python"), meta.get("event_loop")]
    return " · ".join(str(p) for p in parts if p) or "–"


def _target(meta: dict[str, Any]) -> str:
    sim = meta.get("simulated_server")
    target = str(meta.get("base_url") or "–")
    if isinstance(sim, dict):
        target += (
            f" (groqstream simulated server: TTFT {ms(sim.get('ttft_ms'))} ms, "
            f"{rate(sim.get('tokens_per_s'))} tok/s per stream)"
        )
    return target


def _fields(run: Run) -> list[tuple[str, str]]:
    """(label, HTML) of every header field."""
    m = run.meta
    return [
        ("Date", _e(_date(m))),
        ("Target", _e(_target(m))),
        ("Model", _e(m.get("model_id") or "–")),
        ("Workload", _e(_workload(run))),
        ("Arrivals", _e(_arrivals(m))),
        ("SLOs", _e(_slos(run))),
        ("Client", _e(_client(m))),
        ("Loop-lag self-check", _loop_check(run)),
    ]


def _header(runs: Sequence[Run]) -> str:
    if len(runs) == 1:
        run = runs[0]
        items = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in _fields(run))
        return (
            f"<h1>groqstream bench · {_e(run.name)}</h1>"
            f"<p class='sub'>{_e(run.path)}</p><dl class='meta'>{items}</dl>"
        )
    names = " vs ".join(_e(r.name) for r in runs)
    head = "<tr><th></th>" + "".join(f"<th>{_e(r.name)}</th>" for r in runs) + "</tr>"
    per_run = [_fields(r) for r in runs]
    body = "".join(
        f"<tr><td>{label}</td>" + "".join(f"<td>{f[i][1]}</td>" for f in per_run) + "</tr>"
        for i, (label, _) in enumerate(per_run[0])
    )
    return (
        f"<h1>groqstream bench · {names}</h1><p class='sub'>"
        + " · ".join(_e(r.path) for r in runs)
        + f"</p><div class='scroll'><table class='meta-table'>{head}{body}</table></div>"
    )


def _summary(run: Run, title: str) -> str:
    cols = columns(goodput=not run.slo().empty)
    head = "".join(f"<th>{_e(c.title)}</th>" for c in cols)
    rows = "".join(
        "<tr>" + "".join(f"<td>{_e(c.get(lv.summary))}</td>" for c in cols) + "</tr>"
        for lv in run.levels
    )
    return (
        f"<h2>{_e(title)}</h2><p class='sub'>{_e(CAPTION)}</p>"
        f"<div class='scroll'><table><tr>{head}</tr>{rows}</table></div>"
    )


def _comparison(runs: Sequence[Run]) -> str:
    base = runs[0]
    parts = []
    for other in runs[1:]:
        head = "<tr><th>c</th>" + "".join(f"<th>{_e(m.label)}</th>" for m in METRICS) + "</tr>"
        rows = []
        for level, cs in changes(base, other):
            cells = []
            for c in cs:
                b, o, p = c.cells()
                cls = {True: "better", False: "worse", None: ""}[c.better]
                cells.append(f"<td>{_e(b)} → {_e(o)} <span class='{cls}'>({_e(p)})</span></td>")
            rows.append(f"<tr><td>{level:,}</td>{''.join(cells)}</tr>")
        body = "".join(rows) or f"<tr><td colspan='{len(METRICS) + 1}'>no level in common</td></tr>"
        parts.append(
            f"<h2>{_e(other.name)} against {_e(base.name)}</h2>"
            f"<div class='scroll'><table>{head}{body}</table></div>"
        )
    return "".join(parts)


def render(runs: Sequence[Run]) -> str:
    """The whole page for one run (a report) or several (a comparison, the first the
    baseline)."""
    from plotly.offline import get_plotlyjs

    from .charts import figures

    config = {"displaylogo": False, "responsive": True, "displayModeBar": False}
    cards = "".join(
        "<div class='card'>"
        + fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=config)
        + "</div>"
        for div_id, fig in figures(runs)
    )
    tables = "".join(
        _summary(r, "Summary" if len(runs) == 1 else f"Summary · {r.name}") for r in runs
    )
    if len(runs) > 1:
        tables = _comparison(runs) + tables
    title = " vs ".join(r.name for r in runs)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>groqstream bench · {_e(title)}</title><style>{_CSS}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        f"{_header(runs)}{tables}<h2>Charts</h2><div class='charts'>{cards}</div>"
        "<footer>Latencies are the client's, from the moment each request was sent "
        "(TTFT, ITL, TPOT, E2EL as vLLM's benchmarks define them); figures in the tables use "
        "vLLM's field names in bench.json. Drawn by groqstream with Plotly.</footer>"
        "</body></html>"
    )


def write_report(runs: Sequence[Run], path: Path) -> Path:
    """Render `runs` and write the page to `path`; return `path`."""
    path.write_text(render(runs), encoding="utf-8")
    return path
