"""Plotly figures for sensitivity results, and one self-contained HTML page of them.

The page embeds plotly.js once, so it opens offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

METRIC_LABELS = {
    "objective": "S_lambda (points)",
    "after_total_capacity": "total capacity (points)",
    "after_gini": "Gini (per capita)",
    "after_top10_share": "top-10 share of capacity",
}


def sweep_figures(runs: pd.DataFrame, varied: list[str]) -> dict[str, go.Figure]:
    """A metrics-versus-parameter panel for the first varied parameter (one line per
    value of the second, if any), and the lambda trade-off curve when lambda varies."""
    ok = runs[runs["status"] == "ok"]
    figs: dict[str, go.Figure] = {}
    x = varied[0]
    groups = [(None, ok)] if len(varied) == 1 else list(ok.groupby(varied[1]))
    fig = make_subplots(rows=2, cols=2, subplot_titles=list(METRIC_LABELS.values()))
    for n, (metric, _label) in enumerate(METRIC_LABELS.items()):
        for key, part in groups:
            part = part.sort_values(x)
            fig.add_trace(go.Scatter(x=part[x], y=part[metric], mode="lines+markers",
                                     name=f"{varied[1]}={key:g}" if key is not None else metric,
                                     showlegend=n == 0 and key is not None),
                          row=n // 2 + 1, col=n % 2 + 1)
        fig.update_xaxes(title_text=x, row=n // 2 + 1, col=n % 2 + 1)
    fig.update_layout(title=f"Sweep over {x}", height=700)
    figs["sweep"] = fig
    if "spread_weight" in varied:
        t = ok.sort_values("spread_weight")
        trade = go.Figure(go.Scatter(x=t["after_gini"], y=t["after_total_capacity"],
                                     mode="lines+markers+text",
                                     text=[f"λ={v:g}" for v in t["spread_weight"]],
                                     textposition="top center"))
        trade.update_layout(title="Lambda trade-off: total capacity vs Gini",
                            xaxis_title="Gini (per capita)", yaxis_title="total capacity (points)")
        figs["lambda_tradeoff"] = trade
    return figs


def robust_figures(stats: pd.DataFrame, acceptability: pd.DataFrame) -> dict[str, go.Figure]:
    """Core index per region, funding quantiles, rank acceptability heat map."""
    s = stats.sort_values(["core_index", "funding_median_usd"], ascending=True)
    core = go.Figure(go.Bar(x=s["core_index"], y=s["name"], orientation="h",
                            marker_color=s["core_index"], marker_colorscale="Viridis"))
    core.update_layout(title="Probability of being funded (core index)", height=max(400, 16 * len(s)),
                       xaxis_title="share of weight samples in which the region is funded")
    q = stats.sort_values("funding_median_usd", ascending=True)
    quant = go.Figure(go.Scatter(
        x=q["funding_median_usd"] / 1e9, y=q["name"], mode="markers",
        error_x={"type": "data", "symmetric": False,
                 "array": (q["funding_p95_usd"] - q["funding_median_usd"]) / 1e9,
                 "arrayminus": (q["funding_median_usd"] - q["funding_p05_usd"]) / 1e9}))
    quant.update_layout(title="Allocation: median and 5th-95th percentile ($B)",
                        height=max(400, 16 * len(q)), xaxis_title="$B")
    pivot = acceptability.pivot_table(index="name", columns="rank", values="probability",
                                      fill_value=0.0)
    order = [n for n in stats["name"] if n in pivot.index][::-1]
    pivot = pivot.loc[order]
    heat = go.Figure(go.Heatmap(z=pivot.to_numpy(), x=[str(c) for c in pivot.columns],
                                y=list(pivot.index), colorscale="Blues"))
    heat.update_layout(title="Rank acceptability: probability of each funding rank",
                       xaxis_title="rank (1 = most funded)", height=max(400, 16 * len(pivot)))
    return {"core_index": core, "allocation_quantiles": quant, "rank_acceptability": heat}


def pareto_figure(frontier: pd.DataFrame, info: dict[str, Any]) -> go.Figure:
    """The exact frontier with the current plan marked."""
    measure = info["measure"]
    col = f"after_{measure}"
    f = frontier.sort_values(col)
    fig = go.Figure(go.Scatter(x=f[col], y=f["after_total_capacity"], mode="lines+markers",
                               name="Pareto frontier (epsilon-constraint)"))
    cur = info["current"]
    fig.add_trace(go.Scatter(x=[cur[measure]], y=[cur["total_capacity"]], mode="markers+text",
                             marker={"size": 14, "symbol": "star", "color": "crimson"},
                             text=[f"current plan (λ={cur['spread_weight']:g})"],
                             textposition="bottom right", name="current plan"))
    fig.update_layout(title=f"Total capacity vs {measure}", xaxis_title=measure,
                      yaxis_title="total capacity (points)")
    return fig


def tornado_figures(t: pd.DataFrame) -> dict[str, go.Figure]:
    """Tornado charts of the objective and the top-10 share."""
    figs = {}
    for key, label, base_col in (("objective", "S_lambda (points)", "objective_base"),
                                 ("top10", "top-10 share", "top10_base")):
        d = t.sort_values(f"{key}_swing")
        base = float(d[base_col].iloc[0]) if len(d) else 0.0
        fig = go.Figure()
        for side in ("low", "high"):
            fig.add_trace(go.Bar(y=d["parameter"], x=d[f"{key}_{side}"] - base, base=base,
                                 orientation="h", name=f"parameter {side}"))
        fig.update_layout(title=f"Tornado: {label} (base {base:.4g})", barmode="overlay",
                          height=max(400, 28 * len(d)), xaxis_title=label)
        figs[f"tornado_{key}"] = fig
    return figs


def sobol_figures(t: pd.DataFrame) -> dict[str, go.Figure]:
    """Total and first-order Sobol indices with their confidence intervals, per metric."""
    figs = {}
    for metric, d in t.groupby("metric", sort=False):
        fig = go.Figure()
        for key, name in (("ST", "total effect ST"), ("S1", "first order S1")):
            fig.add_trace(go.Bar(x=d["parameter"], y=d[key], name=name,
                                 error_y={"type": "data", "array": d[f"{key}_conf"]}))
        fig.update_layout(title=f"Sobol indices of {d['metric_label'].iloc[0]}",
                          barmode="group", yaxis_title="share of variance", height=420)
        figs[f"sobol_{metric}"] = fig
    return figs


def figures_for(analysis: str, tables: dict[str, pd.DataFrame], info: dict[str, Any]
                ) -> dict[str, go.Figure]:
    """The figures of one analysis's tables."""
    if analysis == "sobol":
        return sobol_figures(tables["sobol"])
    if analysis == "sweep":
        return sweep_figures(tables["runs"], info["varied"])
    if analysis == "robust":
        return robust_figures(tables["robust_regions"], tables["rank_acceptability"])
    if analysis == "pareto":
        return {"pareto": pareto_figure(tables["frontier"], info)}
    return tornado_figures(tables["tornado"])


def write_html(figures: dict[str, go.Figure], path: Path, title: str) -> None:
    """All figures on one page; plotly.js embedded once (works offline)."""
    parts = [fig.to_html(full_html=False, include_plotlyjs=(i == 0))
             for i, fig in enumerate(figures.values())]
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
                    f"</head><body><h1>{title}</h1>{''.join(parts)}</body></html>\n",
                    encoding="utf-8")
