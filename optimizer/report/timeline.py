"""A plan over time in charts: capacity and funding by year for chosen regions, with the
no-policy path beside the plan's, and concentration by year with and without the plan.

The tables come from the plan alone (``AllocationResult.trajectory`` and ``allocation``,
and ``growth.yearly_metrics`` on the trajectory): see ``optimizer.ui.timeline``.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from optimizer.analysis.charts import chart_title
from optimizer.engine import columns
from optimizer.engine import formatting as fmt

WITHOUT_DASH = "dash"  # the no-policy path, drawn dashed beside the plan's solid line
HEIGHT = 480


def _colour(i: int) -> str:
    palette = qualitative.Plotly
    return palette[i % len(palette)]


def _layout(fig: go.Figure, title: str, years: str = "Year (0 = today)") -> go.Figure:
    """Title above, legend below the x axis's title, whole years on the x axis."""
    lines = len(chart_title(title)["text"].split("<br>"))
    fig.update_layout(title=chart_title(title), height=HEIGHT, hovermode="x unified",
                      margin={"t": 44 + 24 * lines + 24, "l": 10, "r": 10, "b": 10},
                      legend={"orientation": "h", "yanchor": "top", "y": -0.3})
    fig.update_xaxes(title_text=years, tickformat="d")
    return fig


def capacity_figure(paths: pd.DataFrame) -> go.Figure:
    """Capacity points by year (0..T) of each region in ``paths`` (region_id, name, year,
    without_plan, with_plan): the plan's path solid, the no-policy path dashed, one
    colour per region."""
    fig = go.Figure()
    for i, (rid, part) in enumerate(paths.groupby("region_id", sort=False)):
        name = str(part["name"].iloc[0])
        for column, dash, said in (("with_plan", None, "with the plan"),
                                   ("without_plan", WITHOUT_DASH, "without it")):
            fig.add_trace(go.Scatter(
                x=part["year"], y=part[column], mode="lines+markers", name=f"{name}, {said}",
                legendgroup=str(rid), line={"color": _colour(i), "dash": dash},
                hovertemplate=f"{name} {said}: %{{y:,.3f}} points<extra></extra>"))
    fig.update_yaxes(title_text="Capacity (points; the nation today = 100)", **fmt.number_axis())
    return _layout(fig, "Capacity by year: with the plan (solid) and without it (dashed)")


def funding_figure(funding: pd.DataFrame) -> go.Figure:
    """Funding by year (1..T) of each region in ``funding`` (region_id, name, year,
    amount_usd), grouped bars in the colours of ``capacity_figure``."""
    scale = fmt.money_scale(funding["amount_usd"])
    fig = go.Figure()
    for i, (_rid, part) in enumerate(funding.groupby("region_id", sort=False)):
        name = str(part["name"].iloc[0])
        fig.add_trace(go.Bar(
            x=part["year"], y=part["amount_usd"] / scale.divisor, name=name,
            marker_color=_colour(i),
            customdata=[fmt.money(v) for v in part["amount_usd"]],
            hovertemplate=f"{name}: %{{customdata}}<extra></extra>"))
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text=f"Funding in the year ({scale.unit})", **scale.axis())
    return _layout(fig, "Funding by year", "Year")


def spread_figure(yearly: pd.DataFrame, k: int) -> go.Figure:
    """The top-k share and the Gini by year (``growth.yearly_metrics`` rows of
    ``top10_share`` and ``gini``), with the plan solid and without it dashed."""
    keys = ("top10_share", "gini")
    titles = [columns.metric_label(key, k) for key in keys]
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.12)
    for col, key in enumerate(keys, start=1):
        part = yearly[yearly["metric"] == key]
        share = key == "top10_share"
        for column, dash, said, colour in (("with_plan", None, "with the plan", _colour(0)),
                                           ("without_plan", WITHOUT_DASH, "without it", _colour(1))):
            text = [fmt.share(v) if share else fmt.number(v, 3) for v in part[column]]
            fig.add_trace(go.Scatter(
                x=part["year"], y=part[column], mode="lines+markers", name=said.capitalize(),
                legendgroup=said, showlegend=col == 1, line={"color": colour, "dash": dash},
                customdata=text, hovertemplate=f"{said}: %{{customdata}}<extra></extra>"),
                row=1, col=col)
        fig.update_yaxes(row=1, col=col, title_text="% of national capacity" if share
                         else "Gini (0 = equal, 1 = all in one place)",
                         **(fmt.share_axis(values=part[["with_plan", "without_plan"]].to_numpy().ravel())
                            if share else fmt.number_axis()))
    return _layout(fig, "Concentration by year, with the plan (solid) and without it (dashed)")
