"""Writers for `groqstream bench --out DIR`: vLLM-style JSON, per-request JSONL, plots.

Plots are PNG when matplotlib is installed (the `plot` extra) and always a self-contained
HTML page with inline SVG, so a fresh machine with only the run-time dependencies gets them.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import orjson

from .runner import LevelResult, SweepConfig

__all__ = ["level_json", "write_outputs"]

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def level_json(cfg: SweepConfig, lv: LevelResult, base_url: str) -> dict[str, Any]:
    """One level's figures with vLLM benchmark_serving's field names, plus ours."""
    d = lv.report.to_dict()
    d.update(
        {
            "backend": "groqstream",
            "base_url": base_url,
            "model_id": cfg.model,
            "max_concurrency": lv.concurrency,
            "request_rate": cfg.rate if cfg.rate is not None else "inf",
            "burstiness": cfg.burstiness,
            "num_prompts": len(lv.results),
            "input_tokens_requested": cfg.input_tokens,
            "output_tokens_requested": cfg.output_tokens,
            "server_split_ms": lv.server_split(),
        }
    )
    return d


def _request_row(level: int, r: Any) -> dict[str, Any]:
    m = r.metrics

    def ms(x: float | None) -> float | None:
        return None if x is None else round(x * 1000, 3)

    return {
        "concurrency": level,
        "index": r.index,
        "ok": r.error is None,
        "error": None if r.error is None else {"kind": r.error.kind, "message": str(r.error)},
        "attempts": r.attempts,
        "queue_wait_ms": ms(r.queue_wait_s),
        "ttft_ms": ms(m.ttft_s) if m else None,
        "tpot_ms": ms(m.tpot_s) if m else None,
        "e2el_ms": ms(m.e2el_s) if m else None,
        "itl_ms": [round(x * 1000, 3) for x in m.itl_s] if m else [],
        "prompt_tokens": m.prompt_tokens if m else None,
        "output_tokens": m.output_tokens if m else None,
        "server_total_ms": ms(m.server_total_s) if m else None,
        "request_id": r.request_id,
    }


def _cdf_svg(title: str, series: list[tuple[str, list[float]]], unit: str = "ms") -> str:
    w, h, pad = 560, 300, 46
    values = [v for _, vs in series for v in vs]
    if not values:
        return f"<p>{html.escape(title)}: no data</p>"
    hi = max(values) or 1.0
    parts = [
        f'<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg" font-size="11">',
        f'<text x="{w / 2}" y="16" text-anchor="middle" font-weight="bold">{html.escape(title)}'
        "</text>",
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - 10}" y2="{h - pad}" stroke="#444"/>',
        f'<line x1="{pad}" y1="24" x2="{pad}" y2="{h - pad}" stroke="#444"/>',
        f'<text x="{w / 2}" y="{h - 10}" text-anchor="middle">{unit}</text>',
    ]
    for i in range(5):
        x = pad + (w - 10 - pad) * i / 4
        parts.append(
            f'<text x="{x:.0f}" y="{h - pad + 14}" text-anchor="middle">{hi * i / 4:.3g}</text>'
        )
        y = h - pad - (h - pad - 24) * i / 4
        parts.append(f'<text x="{pad - 4}" y="{y:.0f}" text-anchor="end">{i / 4:.2f}</text>')
    for j, (label, vs) in enumerate(series):
        if not vs:
            continue
        s = sorted(vs)
        step = max(1, len(s) // 400)
        pts = " ".join(
            f"{pad + (w - 10 - pad) * v / hi:.1f},{h - pad - (h - pad - 24) * (k + 1) / len(s):.1f}"
            for k, v in [*list(enumerate(s))[::step], (len(s) - 1, s[-1])]
        )
        color = _COLORS[j % len(_COLORS)]
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{pts}"/>')
        parts.append(
            f'<text x="{w - 14}" y="{40 + 14 * j}" text-anchor="end" fill="{color}">'
            f"{html.escape(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _line_svg(title: str, xs: list[int], ys: list[float], xlabel: str, ylabel: str) -> str:
    w, h, pad = 560, 300, 52
    if not xs:
        return ""
    ymax = max(ys) or 1.0
    n = len(xs)

    def px(i: int) -> float:
        return pad + (w - 20 - pad) * (i / (n - 1) if n > 1 else 0.5)

    def py(v: float) -> float:
        return h - pad - (h - pad - 24) * v / ymax

    pts = " ".join(f"{px(i):.1f},{py(v):.1f}" for i, v in enumerate(ys))
    labels = "".join(
        f'<text x="{px(i):.0f}" y="{h - pad + 14}" text-anchor="middle">{x}</text>'
        f'<circle cx="{px(i):.1f}" cy="{py(ys[i]):.1f}" r="3" fill="#1f77b4"/>'
        f'<text x="{px(i):.0f}" y="{py(ys[i]) - 6:.0f}" text-anchor="middle">{ys[i]:.3g}</text>'
        for i, x in enumerate(xs)
    )
    return (
        f'<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg" font-size="11">'
        f'<text x="{w / 2}" y="16" text-anchor="middle" font-weight="bold">'
        f"{html.escape(title)}</text>"
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - 10}" y2="{h - pad}" stroke="#444"/>'
        f'<line x1="{pad}" y1="24" x2="{pad}" y2="{h - pad}" stroke="#444"/>'
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{pts}"/>{labels}'
        f'<text x="{w / 2}" y="{h - 10}" text-anchor="middle">{html.escape(xlabel)}</text>'
        f'<text x="12" y="{h / 2}" transform="rotate(-90 12 {h / 2})" text-anchor="middle">'
        f"{html.escape(ylabel)}</text></svg>"
    )


def _series(levels: list[LevelResult], metric: str) -> list[tuple[str, list[float]]]:
    out = []
    for lv in levels:
        vals: list[float] = []
        for r in lv.results:
            m = r.metrics
            if r.error is not None or m is None:
                continue
            if metric == "itl":
                vals.extend(x * 1000 for x in m.itl_s)
            else:
                v = getattr(m, f"{metric}_s")
                if v is not None:
                    vals.append(v * 1000)
        out.append((f"c={lv.concurrency}", vals))
    return out


def _html(cfg: SweepConfig, levels: list[LevelResult], base_url: str) -> str:
    xs = [lv.concurrency for lv in levels]
    rows = "".join(
        f"<tr><td>{lv.concurrency}</td><td>{lv.report.completed}</td><td>{lv.report.failed}</td>"
        f"<td>{lv.report.request_throughput:.2f}</td><td>{lv.report.output_throughput:,.0f}</td>"
        f"<td>{lv.report.ttft.p50 * 1000:.1f}</td><td>{lv.report.ttft.p99 * 1000:.1f}</td>"
        f"<td>{lv.report.tpot.p50 * 1000:.2f}</td><td>{lv.report.e2el.p50 * 1000:.0f}</td></tr>"
        for lv in levels
    )
    plots = [
        _cdf_svg("TTFT CDF", _series(levels, "ttft")),
        _cdf_svg("ITL CDF", _series(levels, "itl")),
        _cdf_svg("TPOT CDF", _series(levels, "tpot")),
        _cdf_svg("E2EL CDF", _series(levels, "e2el")),
        _line_svg(
            "Output tokens/s vs concurrency",
            xs,
            [lv.report.output_throughput for lv in levels],
            "concurrency",
            "tokens/s",
        ),
        _line_svg(
            "Requests/s vs concurrency",
            xs,
            [lv.report.request_throughput for lv in levels],
            "concurrency",
            "req/s",
        ),
    ]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>groqstream bench</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:24px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}svg{margin:8px}</style>"
        f"</head><body><h1>groqstream bench</h1><p>{html.escape(base_url)} · model "
        f"{html.escape(cfg.model)} · {cfg.input_tokens} in / {cfg.output_tokens} out tokens</p>"
        "<table><tr><th>concurrency</th><th>ok</th><th>failed</th><th>req/s</th><th>out tok/s</th>"
        "<th>TTFT p50 ms</th><th>TTFT p99 ms</th><th>TPOT p50 ms</th><th>E2EL p50 ms</th></tr>"
        f"{rows}</table><div>{''.join(plots)}</div></body></html>"
    )


def _pngs(out: Path, levels: list[LevelResult]) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for ax, metric in zip(axes.flat, ("ttft", "itl", "tpot", "e2el"), strict=True):
        for label, vals in _series(levels, metric):
            if vals:
                s = sorted(vals)
                ax.plot(s, [(i + 1) / len(s) for i in range(len(s))], label=label)
        ax.set_title(f"{metric.upper()} CDF")
        ax.set_xlabel("ms")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency_cdf.png", dpi=110)
    written.append(out / "latency_cdf.png")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([lv.concurrency for lv in levels], [lv.report.output_throughput for lv in levels], "o-")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrency")
    ax.set_ylabel("output tokens/s")
    ax.set_title("Throughput vs concurrency")
    fig.tight_layout()
    fig.savefig(out / "throughput.png", dpi=110)
    written.append(out / "throughput.png")
    plt.close(fig)
    return written


def write_outputs(
    out: Path, cfg: SweepConfig, levels: list[LevelResult], base_url: str
) -> list[Path]:
    """Write bench.json, c<N>.json per level, requests.jsonl, report.html (+ PNGs)."""
    out.mkdir(parents=True, exist_ok=True)
    per_level = [level_json(cfg, lv, base_url) for lv in levels]
    written = []
    for lv, d in zip(levels, per_level, strict=True):
        p = out / f"c{lv.concurrency}.json"
        p.write_bytes(orjson.dumps(d, option=orjson.OPT_INDENT_2))
        written.append(p)
    combined = {
        "base_url": base_url,
        "model_id": cfg.model,
        "concurrency": cfg.concurrency,
        "levels": per_level,
    }
    (out / "bench.json").write_bytes(orjson.dumps(combined, option=orjson.OPT_INDENT_2))
    with (out / "requests.jsonl").open("wb") as f:
        for lv in levels:
            for r in lv.results:
                f.write(orjson.dumps(_request_row(lv.concurrency, r)) + b"\n")
    (out / "report.html").write_text(_html(cfg, levels, base_url), encoding="utf-8")
    written += [out / "bench.json", out / "requests.jsonl", out / "report.html"]
    return written + _pngs(out, levels)
