"""Plotly figures for sensitivity results, their text alternatives, and one HTML page.

Every axis, legend and bar carries a human label and a unit (from the registry in
``engine/columns.py``, numbers from ``engine/formatting.py``: "$20B", never "$20G");
every bar of a bar chart is labelled with its value. ``figure_texts`` gives each figure
a one-line summary for people who do not see the chart. The page embeds plotly.js
once, so it opens offline.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from optimizer.engine import columns
from optimizer.engine import formatting as fmt
from optimizer.engine.metrics import top_k_count

RUN_METRICS = {  # run-table column -> (metric registry key, how its values read)
    "objective": ("spread_adjusted_capacity", "points"),
    "after_total_capacity": ("total_capacity", "points"),
    "after_gini": ("gini", "index"),
    "after_top10_share": ("top10_share", "share"),
}
PARAMETER_UNITS = {"budget": "usd", "spread_weight": "number", "complementarity": "number"}


def metric_title(column: str, k: int = 10, measure: str = "gini") -> str:
    """'Total capacity (points)', 'Top-3 regions' share of capacity (%)' for a run column;
    the objective under the runs' spread ``measure`` ('… S_λ (Hoover)')."""
    key, kind = RUN_METRICS[column]
    if column == "objective" and measure == "hoover":
        key = "spread_adjusted_capacity_hoover"
    unit = {"points": "points", "share": "%", "index": "0 = equal"}[kind]
    return f"{columns.metric_label(key, k)} ({unit})"


def parameter_label(path: str) -> str:
    """A varied parameter in words, with its unit ('Budget ($B)', 'Spread weight λ')."""
    label = columns.setting_label(path)
    return f"{label} ($B)" if path == "budget" else label


def lower_first(text: str) -> str:
    """``text`` with its first letter lower-cased, units and symbols kept ('budget ($B)')."""
    return text[:1].lower() + text[1:]


TITLE_WIDTH = 40  # characters per title line: a phone-width (360 px) chart shows this many
TITLE_PAD_PX = 44  # the title starts below the chart toolbar (plotly's modebar: 10 px down, 23 tall)


def chart_title(text: str) -> dict[str, Any]:
    """A chart title that the toolbar never covers: left-aligned, starting below the
    modebar, wrapped into lines of at most ``TITLE_WIDTH`` characters."""
    words, lines = text.split(), [""]
    for word in words:
        if lines[-1] and len(lines[-1]) + 1 + len(word) > TITLE_WIDTH:
            lines.append(word)
        else:
            lines[-1] = f"{lines[-1]} {word}".strip()
    return {"text": "<br>".join(lines), "x": 0, "xanchor": "left", "xref": "container",
            "y": 1, "yanchor": "top", "yref": "container", "pad": {"t": TITLE_PAD_PX, "l": 8},
            "font": {"size": 15}}


def _titled(fig: go.Figure) -> go.Figure:
    """``fig`` with its title placed by ``title`` and room above the plot for it."""
    text = fig.layout.title.text or ""
    if text:
        lines = len(chart_title(text)["text"].split("<br>"))
        fig.update_layout(title=chart_title(text), margin={"t": TITLE_PAD_PX + 24 * lines + 24})
    return fig


def _k(tables: dict[str, pd.DataFrame]) -> int:
    """The k of the top-k share: from the number of regions the runs were made on."""
    long = tables.get("run_regions")
    return top_k_count(int(long["region_id"].nunique())) if long is not None and len(long) else 10


def _axis(kind: str, values: Any = None) -> dict[str, Any]:
    """Axis settings for values of ``kind``; a share axis gets the decimals that keep its
    tick labels distinct (65.5%, 66%, not 66%, 66%)."""
    return fmt.share_axis(values=values) if kind == "share" else fmt.number_axis()


def _x_values(part: pd.DataFrame, x: str) -> pd.Series:
    return part[x] / 1e9 if x == "budget" else part[x]


def sweep_figures(runs: pd.DataFrame, varied: list[str], k: int = 10,
                  measure: str = "gini") -> dict[str, go.Figure]:
    """A metrics-versus-parameter panel for the first varied parameter (one line per
    value of the second, if any), and the lambda trade-off curve when lambda varies."""
    ok = runs[runs["status"] == "ok"]
    figs: dict[str, go.Figure] = {}
    x = varied[0]
    groups = [(None, ok)] if len(varied) == 1 else list(ok.groupby(varied[1]))
    fig = make_subplots(rows=2, cols=2, subplot_titles=[metric_title(c, k, measure) for c in RUN_METRICS])
    for n, (metric, (_key, kind)) in enumerate(RUN_METRICS.items()):
        row, col = n // 2 + 1, n % 2 + 1
        for key, part in groups:
            part = part.sort_values(x)
            second = (f"{parameter_label(varied[1])} = "
                      f"{fmt.money(key) if varied[1] == 'budget' else f'{key:g}'}"
                      if key is not None else metric_title(metric, k, measure))
            fig.add_trace(go.Scatter(x=_x_values(part, x), y=part[metric], mode="lines+markers",
                                     name=second, legendgroup=second,
                                     showlegend=n == 0 and key is not None),
                          row=row, col=col)
        fig.update_xaxes(title_text=parameter_label(x), row=row, col=col,
                         **(fmt.MoneyScale(1e9, "B").axis() if x == "budget" else fmt.number_axis()))
        fig.update_yaxes(row=row, col=col, **_axis(kind, ok[metric]))
    fig.update_layout(title=f"Sweep over {lower_first(parameter_label(x))}", height=700)
    figs["sweep"] = fig
    if "spread_weight" in varied:
        t = ok.sort_values("spread_weight")
        trade = go.Figure(go.Scatter(x=t["after_gini"], y=t["after_total_capacity"],
                                     mode="lines+markers+text", name="plans",
                                     text=[f"λ = {v:g}" for v in t["spread_weight"]],
                                     textposition="top center"))
        trade.update_layout(title="The λ trade-off: total capacity against the Gini",
                            xaxis={"title": metric_title("after_gini"), **fmt.number_axis()},
                            yaxis={"title": metric_title("after_total_capacity"),
                                   **fmt.number_axis()})
        figs["lambda_tradeoff"] = trade
    return figs


def robust_figures(stats: pd.DataFrame, acceptability: pd.DataFrame) -> dict[str, go.Figure]:
    """Core index per region, funding quantiles, rank acceptability heat map; every bar
    and every cell labelled with its value."""
    s = stats.sort_values(["core_index", "funding_median_usd"], ascending=True)
    colours = sample_colorscale("Viridis", np.clip(s["core_index"].to_numpy(float), 0, 1).tolist())
    core = go.Figure(go.Bar(
        x=s["core_index"], y=s["name"], orientation="h", marker={"color": colours},
        text=[fmt.share(v, 0) for v in s["core_index"]], textposition="outside",
        cliponaxis=False, name="core index",
        hovertemplate="%{y}: funded in %{text} of the weight samples<extra></extra>"))
    core.update_layout(title="Probability of being funded (core index)",
                       height=max(400, 18 * len(s)), margin={"r": 60},
                       xaxis={"title": "share of weight samples in which the region is funded",
                              "range": [0, 1.12], **fmt.share_axis()})
    q = stats.sort_values("funding_median_usd", ascending=True)
    scale = fmt.money_scale(q["funding_p95_usd"])
    quant = go.Figure(go.Scatter(
        x=q["funding_median_usd"] / scale.divisor, y=q["name"], mode="markers",
        name="median funding", customdata=np.stack([
            [fmt.money(v) for v in q["funding_median_usd"]],
            [fmt.money(v) for v in q["funding_p05_usd"]],
            [fmt.money(v) for v in q["funding_p95_usd"]]], axis=1),
        hovertemplate="%{y}: median %{customdata[0]} (5th-95th percentile %{customdata[1]} to "
                      "%{customdata[2]})<extra></extra>",
        error_x={"type": "data", "symmetric": False,
                 "array": (q["funding_p95_usd"] - q["funding_median_usd"]) / scale.divisor,
                 "arrayminus": (q["funding_median_usd"] - q["funding_p05_usd"]) / scale.divisor}))
    quant.update_layout(title="Funding across weight samples: median and 5th-95th percentile",
                        height=max(400, 18 * len(q)),
                        xaxis={"title": f"funding ({scale.unit})", **scale.axis()})
    pivot = acceptability.pivot_table(index="name", columns="rank", values="probability",
                                      fill_value=0.0)
    order = [n for n in stats["name"] if n in pivot.index][::-1]
    pivot = pivot.loc[order]
    z = pivot.to_numpy()
    heat = go.Figure(go.Heatmap(
        z=z, x=[str(c) for c in pivot.columns], y=list(pivot.index), colorscale="Blues",
        text=[[fmt.share(v, 0) if v >= 0.005 else "" for v in row] for row in z],
        texttemplate="%{text}", zmin=0, zmax=1,
        colorbar={"title": "probability", "tickformat": ".0%"},
        hovertemplate="%{y}, rank %{x}: %{z:.0%}<extra></extra>"))
    heat.update_layout(title="Rank acceptability: probability of each funding rank",
                       xaxis_title="funding rank (1 = most funded)",
                       height=max(400, 18 * len(pivot)))
    return {"core_index": core, "allocation_quantiles": quant, "rank_acceptability": heat}


def pareto_figure(frontier: pd.DataFrame, info: dict[str, Any], k: int = 10) -> go.Figure:
    """The exact frontier with the current plan marked."""
    measure = info["measure"]
    col = f"after_{measure}"
    f = frontier.sort_values(col)
    kind = RUN_METRICS[col][1]
    fig = go.Figure(go.Scatter(x=f[col], y=f["after_total_capacity"], mode="lines+markers",
                               name="Pareto frontier (ε-constraint)"))
    cur = info["current"]
    fig.add_trace(go.Scatter(x=[cur[measure]], y=[cur["total_capacity"]], mode="markers+text",
                             marker={"size": 14, "symbol": "star", "color": "crimson"},
                             text=[f"current plan (λ = {cur['spread_weight']:g})"],
                             textposition="bottom right", name="current plan"))
    fig.update_layout(title=f"Total capacity against {lower_first(columns.metric_label(measure, k))}",
                      xaxis={"title": metric_title(col, k), **_axis(kind, f[col])},
                      yaxis={"title": metric_title("after_total_capacity"), **fmt.number_axis()})
    return fig


def _tornado_value(value: float, kind: str) -> str:
    return fmt.share(value) if kind == "share" else fmt.number(value, 2)


def tornado_figures(t: pd.DataFrame, k: int = 10, measure: str = "gini"
                    ) -> dict[str, go.Figure]:
    """Tornado charts of the objective and the top-k share; each bar says where it ends."""
    figs = {}
    for key, column, base_col, kind in (("objective", "objective", "objective_base", "points"),
                                        ("top10", "after_top10_share", "top10_base", "share")):
        d = t.sort_values(f"{key}_swing")
        base = float(d[base_col].iloc[0]) if len(d) else 0.0
        labels = [parameter_label(p) for p in d["parameter"]]
        fig = go.Figure()
        for side, word in (("low", "parameter lowered"), ("high", "parameter raised")):
            values = d[f"{key}_{side}"]
            fig.add_trace(go.Bar(y=labels, x=values - base, base=base, orientation="h",
                                 name=word, text=[_tornado_value(v, kind) for v in values],
                                 textposition="outside", cliponaxis=False,
                                 hovertemplate=f"%{{y}}, {word}: %{{text}}<extra></extra>"))
        title = metric_title(column, k, measure)
        fig.update_layout(title=f"Tornado: {title}, base {_tornado_value(base, kind)}",
                          barmode="overlay", height=max(400, 30 * len(d)),
                          xaxis={"title": title, **_axis(kind, [*d[f"{key}_low"], *d[f"{key}_high"],
                                                                base])})
        figs[f"tornado_{key}"] = fig
    return figs


def sobol_figures(t: pd.DataFrame, k: int = 10, measure: str = "gini") -> dict[str, go.Figure]:
    """Total and first-order Sobol indices with their confidence intervals, per metric;
    every bar labelled with its index."""
    figs = {}
    for metric, d in t.groupby("metric", sort=False):
        labels = [parameter_label(p) for p in d["parameter"]]
        fig = go.Figure()
        for key, name in (("ST", "total effect ST"), ("S1", "first order S1")):
            fig.add_trace(go.Bar(x=labels, y=d[key], name=name,
                                 text=[fmt.number(v, 2) for v in d[key]], textposition="outside",
                                 error_y={"type": "data", "array": d[f"{key}_conf"]}))
        fig.update_layout(title=f"Sobol indices of {metric_title(str(metric), k, measure)}",
                          barmode="group", height=460,
                          yaxis={"title": "share of variance explained", **fmt.number_axis()})
        figs[f"sobol_{metric}"] = fig
    return figs


def figures_for(analysis: str, tables: dict[str, pd.DataFrame], info: dict[str, Any]
                ) -> dict[str, go.Figure]:
    """The figures of one analysis's tables."""
    k, measure = _k(tables), str(info.get("spread_measure", "gini"))
    if analysis == "sobol":
        figs = sobol_figures(tables["sobol"], k, measure)
    elif analysis == "sweep":
        figs = sweep_figures(tables["runs"], info["varied"], k, measure)
    elif analysis == "robust":
        figs = robust_figures(tables["robust_regions"], tables["rank_acceptability"])
    elif analysis == "pareto":
        figs = {"pareto": pareto_figure(tables["frontier"], info, k)}
    else:
        figs = tornado_figures(tables["tornado"], k, measure)
    return {name: _titled(fig) for name, fig in figs.items()}


# --------------------------------------------------------------------------- text alternatives


def figure_texts(analysis: str, tables: dict[str, pd.DataFrame], info: dict[str, Any]
                 ) -> dict[str, str]:
    """One sentence per figure of ``figures_for`` saying what it shows, for readers who
    do not see the chart (the tables behind it are the full alternative)."""
    k, measure = _k(tables), str(info.get("spread_measure", "gini"))
    s_name = "S_λ (Hoover)" if measure == "hoover" else "S_λ"
    if analysis == "robust":
        s = tables["robust_regions"]
        always = int((s["core_index"] >= 0.999).sum())
        never = int((s["core_index"] <= 0.001).sum())
        widest = s.assign(w=s["funding_p95_usd"] - s["funding_p05_usd"]).nlargest(1, "w")
        top_rank = tables["rank_acceptability"].query("rank == 1").nlargest(1, "probability")
        texts = {"core_index": f"Of {len(s)} regions, {always} are funded in every weight sample "
                               f"and {never} in none."}
        if len(widest):
            r = widest.iloc[0]
            texts["allocation_quantiles"] = (
                f"{r['name']} has the widest funding range: {fmt.money(r['funding_p05_usd'])} to "
                f"{fmt.money(r['funding_p95_usd'])} (median {fmt.money(r['funding_median_usd'])}).")
        if len(top_rank):
            r = top_rank.iloc[0]
            texts["rank_acceptability"] = (f"{r['name']} is the most funded region in "
                                           f"{fmt.share(r['probability'], 0)} of the samples.")
        return texts
    if analysis == "sweep":
        ok = tables["runs"][tables["runs"]["status"] == "ok"]
        x = info["varied"][0]
        if not len(ok):
            return {"sweep": "No run solved."}
        lo, hi = ok.sort_values(x).iloc[0], ok.sort_values(x).iloc[-1]
        show = fmt.money if x == "budget" else (lambda v: f"{v:g}")
        texts = {"sweep": (f"From {parameter_label(x).removesuffix(' ($B)').lower()} "
                           f"{show(lo[x])} to {show(hi[x])}: {s_name} "
                           f"{fmt.points(lo['objective'])} → {fmt.points(hi['objective'])}, Gini "
                           f"{fmt.number(lo['after_gini'], 3)} → {fmt.number(hi['after_gini'], 3)}, "
                           f"top-{k} share {fmt.share(lo['after_top10_share'])} → "
                           f"{fmt.share(hi['after_top10_share'])}.")}
        if "spread_weight" in info["varied"]:
            texts["lambda_tradeoff"] = (f"Raising λ from {lo['spread_weight']:g} to "
                                        f"{hi['spread_weight']:g} moves total capacity "
                                        f"{fmt.points(lo['after_total_capacity'])} → "
                                        f"{fmt.points(hi['after_total_capacity'])} and the Gini "
                                        f"{fmt.number(lo['after_gini'], 3)} → "
                                        f"{fmt.number(hi['after_gini'], 3)}.")
        return texts
    if analysis == "pareto":
        f = tables["frontier"]
        col = f"after_{info['measure']}"
        kind = RUN_METRICS[col][1]
        if not len(f):
            return {"pareto": "No point of the frontier solved."}
        return {"pareto": f"{len(f)} frontier plans, {columns.metric_label(info['measure'], k)} "
                          f"from {fmt.value(f[col].min(), kind, 3)} to "
                          f"{fmt.value(f[col].max(), kind, 3)}, total capacity from "
                          f"{fmt.points(f['after_total_capacity'].min())} to "
                          f"{fmt.points(f['after_total_capacity'].max())}."}
    if analysis == "tornado":
        t = tables["tornado"]
        if not len(t):
            return {}
        a = t.nlargest(1, "objective_swing").iloc[0]
        b = t.nlargest(1, "top10_swing").iloc[0]
        return {"tornado_objective": f"{parameter_label(a['parameter'])} moves {s_name} the most: "
                                     f"{fmt.number(a['objective_low'], 2)} to "
                                     f"{fmt.number(a['objective_high'], 2)} points.",
                "tornado_top10": f"{parameter_label(b['parameter'])} moves the top-{k} share the "
                                 f"most: {fmt.share(b['top10_low'])} to {fmt.share(b['top10_high'])}."}
    texts = {}
    for metric, d in tables["sobol"].groupby("metric", sort=False):
        r = d.nlargest(1, "ST").iloc[0]
        texts[f"sobol_{metric}"] = (f"{parameter_label(r['parameter'])} explains the most of the "
                                    f"variance of {metric_title(str(metric), k, measure)}: total effect "
                                    f"{fmt.number(r['ST'], 2)}, first order {fmt.number(r['S1'], 2)}.")
    return texts


def write_html(figures: dict[str, go.Figure], path: Path, title: str,
               texts: dict[str, str] | None = None) -> None:
    """All figures on one page, each followed by its text alternative; plotly.js embedded
    once (works offline)."""
    texts = texts or {}
    parts = [f"<section id='{html.escape(name)}'>"
             + fig.to_html(full_html=False, include_plotlyjs=(i == 0))
             + (f"<p>{html.escape(texts[name])}</p>" if name in texts else "") + "</section>"
             for i, (name, fig) in enumerate(figures.items())]
    path.write_text(f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                    f"<title>{html.escape(title)}</title></head><body>"
                    f"<h1>{html.escape(title)}</h1>{''.join(parts)}</body></html>\n",
                    encoding="utf-8")
