"""The report's charts, drawn with Plotly (the `report` extra; imported only when a report is
drawn): latency CDFs (ITL on a log axis), throughput and goodput against concurrency, TTFT
against concurrency with its p50–p99 band, and errors by kind.

Every axis shows plain numbers with thousands separators (`14,888`), never `1.5e4` or `15k`.
With several runs, colour tells the level in CDFs and the run elsewhere; dashes tell the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .runs import Level, Run

__all__ = ["cdf_figure", "errors_figure", "figures", "goodput_figure", "throughput_figure"]

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
)
DASHES = ("solid", "dash", "dot", "dashdot", "longdash")
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
_MAX_POINTS = 400


def _axis(title: str, **extra: Any) -> dict[str, Any]:
    axis = {
        "title": {"text": title, "standoff": 8},
        "automargin": True,
        "exponentformat": "none",
        "separatethousands": True,
        "showline": True,
        "linecolor": "#888",
        "zeroline": False,
        "ticks": "outside",
    }
    axis.update(extra)
    return axis


def _layout(title: str, x: dict[str, Any], y: dict[str, Any], note: str = "") -> dict[str, Any]:
    text = f"<b>{title}</b>"
    if note:
        text += f"<br><span style='font-size:12px;color:#555'>{note}</span>"
    return {
        "title": {"text": text, "x": 0.0, "xanchor": "left", "xref": "paper", "y": 0.97},
        "template": "plotly_white",
        "height": 420,
        "margin": {"l": 64, "r": 20, "t": 104, "b": 56},
        "font": {"family": _FONT, "size": 13, "color": "#222"},
        "legend": {
            "orientation": "h",
            "yanchor": "bottom",
            "y": 1.01,
            "x": 0,
            "xanchor": "left",
            "traceorder": "normal",
        },
        "hovermode": "closest",
        "xaxis": x,
        "yaxis": y,
    }


def _cdf_points(
    values: list[float], positive_only: bool = False
) -> tuple[list[float], list[float]]:
    """(x, y) of the empirical CDF, at most `_MAX_POINTS` points; y counts every value, so
    with `positive_only` the curve starts at the share of zeros."""
    v = sorted(values)
    n = len(v)
    if not n:
        return [], []
    m = min(n, _MAX_POINTS)
    ranks = sorted({round(k * (n - 1) / (m - 1)) for k in range(m)} if m > 1 else {0})
    xs, ys = [], []
    for i in ranks:
        if positive_only and v[i] <= 0:
            continue
        xs.append(v[i])
        ys.append((i + 1) / n)
    return xs, ys


def _name(run: Run, level: Level, many: bool) -> str:
    return f"{run.name} · c={level.concurrency}" if many else f"c={level.concurrency}"


def cdf_figure(runs: Sequence[Run], metric: str, title: str) -> Any:
    """The CDF of one latency (`ttft`, `tpot`, `e2el`, or `itl` on a log axis) per level."""
    import plotly.graph_objects as go

    log = metric == "itl"
    fig = go.Figure()
    zeros = total = 0
    for ri, run in enumerate(runs):
        for li, level in enumerate(run.levels):
            values = level.itl() if log else level.values(f"{metric}_ms")
            total += len(values)
            zeros += sum(1 for x in values if x <= 0)
            xs, ys = _cdf_points(values, positive_only=log)
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    name=_name(run, level, len(runs) > 1),
                    line={"color": PALETTE[li % len(PALETTE)], "dash": DASHES[ri % len(DASHES)]},
                    hovertemplate="%{fullData.name}<br>%{x:,.2f} ms<br>%{y:.1%} at or below"
                    "<extra></extra>",
                )
            )
    unit = "gaps" if log else "requests"
    note = ""
    if log and zeros:
        note = f"{zeros / total:.0%} of gaps were 0 ms (same network read): curves start there"
    if log:
        x = _axis(f"{title} (ms, log scale)", type="log", dtick=1, tickformat=",~g")
    else:
        x = _axis(f"{title} (ms)", tickformat=",~g")
    y = _axis(f"share of {unit}", tickformat=".0%", range=[0, 1.02])
    fig.update_layout(_layout(f"{title} CDF", x, y, note))
    return fig


def _levels_axis(runs: Sequence[Run]) -> dict[str, Any]:
    levels = sorted({lv.concurrency for run in runs for lv in run.levels})
    extra: dict[str, Any] = {"tickvals": levels, "ticktext": [f"{c:,}" for c in levels]}
    if len(levels) > 1 and levels[-1] / levels[0] >= 4:
        extra["type"] = "log"
    return _axis("concurrency (requests in flight)", **extra)


def _series(run: Run, key: str) -> tuple[list[int], list[Any]]:
    return [lv.concurrency for lv in run.levels], [lv.summary.get(key) for lv in run.levels]


def throughput_figure(runs: Sequence[Run]) -> Any:
    """Output tokens/s against concurrency, one line per run."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for ri, run in enumerate(runs):
        xs, ys = _series(run, "output_throughput")
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers",
                name=run.name,
                line={"color": PALETTE[ri % len(PALETTE)]},
                hovertemplate="c=%{x}<br>%{y:,.0f} tok/s<extra>%{fullData.name}</extra>",
            )
        )
    y = _axis("output tokens/s", tickformat=",.0f", rangemode="tozero")
    fig.update_layout(_layout("Output throughput", _levels_axis(runs), y))
    fig.update_layout(showlegend=len(runs) > 1)
    return fig


def goodput_figure(runs: Sequence[Run]) -> Any:
    """Requests/s and goodput (requests/s within the SLOs) against concurrency."""
    import plotly.graph_objects as go

    fig = go.Figure()
    any_slo = False
    for ri, run in enumerate(runs):
        color = PALETTE[ri % len(PALETTE)]
        prefix = f"{run.name} · " if len(runs) > 1 else ""
        xs, ys = _series(run, "request_throughput")
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers",
                name=prefix + "requests/s",
                line={"color": color},
                hovertemplate="c=%{x}<br>%{y:,.2f} req/s<extra>%{fullData.name}</extra>",
            )
        )
        if not run.slo().empty:
            any_slo = True
            xs, ys = _series(run, "request_goodput")
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines+markers",
                    name=prefix + "goodput (within SLO)",
                    line={"color": color, "dash": "dash"},
                    marker={"symbol": "diamond"},
                    hovertemplate="c=%{x}<br>%{y:,.2f} req/s within SLO"
                    "<extra>%{fullData.name}</extra>",
                )
            )
    note = "" if any_slo else "no SLO given: add --goodput ttft:MS,tpot:MS for goodput"
    y = _axis("requests/s", tickformat=",~g", rangemode="tozero")
    fig.update_layout(_layout("Requests and goodput", _levels_axis(runs), y, note))
    return fig


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def ttft_band_figure(runs: Sequence[Run]) -> Any:
    """TTFT p50 against concurrency, with the band up to p99 shaded."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for ri, run in enumerate(runs):
        color = PALETTE[ri % len(PALETTE)]
        prefix = f"{run.name} · " if len(runs) > 1 else ""
        xs, p50 = _series(run, "median_ttft_ms")
        _, p99 = _series(run, "p99_ttft_ms")
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=p50,
                mode="lines+markers",
                name=prefix + "p50",
                line={"color": color},
                hovertemplate="c=%{x}<br>p50 %{y:,.1f} ms<extra>%{fullData.name}</extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=p99,
                mode="lines",
                name=prefix + "p50–p99 band",
                line={"color": color, "width": 1, "dash": "dot"},
                fill="tonexty",
                fillcolor=_rgba(color, 0.18),
                hovertemplate="c=%{x}<br>p99 %{y:,.1f} ms<extra>%{fullData.name}</extra>",
            )
        )
    y = _axis("TTFT (ms)", tickformat=",~g", rangemode="tozero")
    fig.update_layout(_layout("TTFT against concurrency", _levels_axis(runs), y))
    return fig


def errors_figure(runs: Sequence[Run]) -> Any:
    """Failed requests per level, stacked by error kind."""
    import plotly.graph_objects as go

    many = len(runs) > 1
    cats = [_name(run, lv, many) for run in runs for lv in run.levels]
    kinds = sorted(
        {k for run in runs for lv in run.levels for k in lv.summary.get("failures_by_kind") or {}}
    )
    fig = go.Figure()
    for ki, kind in enumerate(kinds):
        counts = [
            (lv.summary.get("failures_by_kind") or {}).get(kind, 0)
            for run in runs
            for lv in run.levels
        ]
        fig.add_trace(
            go.Bar(
                x=cats,
                y=counts,
                name=kind,
                marker={"color": PALETTE[(ki + 3) % len(PALETTE)]},
                hovertemplate="%{x}<br>%{y:,} × " + kind + "<extra></extra>",
            )
        )
    y = _axis("failed requests", tickformat=",d", rangemode="tozero")
    x = _axis("level", type="category")
    total = sum(int(lv.summary.get("failed") or 0) for run in runs for lv in run.levels)
    note = f"{total:,} failed in all" if kinds else ""
    fig.update_layout(_layout("Errors by kind", x, y, note), barmode="stack")
    if not kinds:
        fig.add_annotation(
            text="No failed requests",
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            showarrow=False,
            font={"size": 18, "color": "#2a7d2a"},
        )
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
    return fig


def figures(runs: Sequence[Run]) -> list[tuple[str, Any]]:
    """Every chart of the report as (element id, figure), in page order."""
    return [
        ("ttft-cdf", cdf_figure(runs, "ttft", "TTFT")),
        ("itl-cdf", cdf_figure(runs, "itl", "ITL")),
        ("tpot-cdf", cdf_figure(runs, "tpot", "TPOT")),
        ("e2el-cdf", cdf_figure(runs, "e2el", "E2EL")),
        ("throughput", throughput_figure(runs)),
        ("goodput", goodput_figure(runs)),
        ("ttft-vs-concurrency", ttft_band_figure(runs)),
        ("errors", errors_figure(runs)),
    ]
