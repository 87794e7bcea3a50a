"""The workbench's Consensus tab, as pure functions (``app.py`` only lays out widgets).

A user defines 2-6 stakeholders with sliders (a weight per indicator of the plan on
screen, and optionally their own lambda and theta), solves, and sees the achievement
table as a heat map and the consensus plan's map beside each stakeholder's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from optimizer.analysis.consensus import ConsensusResult, Stakeholder, consensus
from optimizer.engine import columns
from optimizer.engine import formatting as fmt
from optimizer.engine.data import Regions
from optimizer.engine.errors import ScenarioError
from optimizer.engine.scenario import Scenario
from optimizer.report import maps

INTRO = ("One plan for people who weight the indicators differently: each stakeholder's "
         "own best plan first, then the plan whose worst-off stakeholder gets the largest "
         "share of the gain it could attain. The rules are this plan's.")
MIN_STAKEHOLDERS, MAX_STAKEHOLDERS = 2, 6
PRESET_NAMES = ("research", "workforce", "investors", "industry", "regions", "equity")


@dataclass
class StakeholderRow:
    """One stakeholder as the sliders hold it: weights 0-1 per indicator; lambda and
    theta None to keep the plan's own."""

    name: str
    weights: dict[str, float]
    spread_weight: float | None = None
    complementarity: float | None = None
    own_judgments: dict[str, bool] = field(default_factory=dict)


def default_rows(base: Scenario, count: int = 3) -> list[StakeholderRow]:
    """``count`` stakeholders to start from: the plan's indicators dealt round-robin, each
    stakeholder weighting its own share of them fully and the rest at 0.1; the last of
    three or more also cares more about spread (lambda 0.9)."""
    if not MIN_STAKEHOLDERS <= count <= MAX_STAKEHOLDERS:
        raise ScenarioError(f"stakeholders: between {MIN_STAKEHOLDERS} and {MAX_STAKEHOLDERS} "
                            f"(got {count})")
    indicators = [k for k, w in base.weights.items() if w > 0]
    rows = []
    for j in range(count):
        mine = set(indicators[j::count]) or set(indicators)
        rows.append(StakeholderRow(PRESET_NAMES[j], {k: 1.0 if k in mine else 0.1
                                                     for k in indicators}))
    if count >= 3:
        rows[-1].spread_weight = 0.9
    return rows


def widget_defaults(j: int, preset: StakeholderRow, base: Scenario) -> dict[str, Any]:
    """Where stakeholder ``j``'s widgets start, by widget key: the preset's name and weights,
    its own lambda if it has one (else the plan's), the plan's theta."""
    return {f"agree_name_{j}": preset.name,
            **{f"agree_w_{j}_{k}": w for k, w in preset.weights.items()},
            f"agree_ol_{j}": preset.spread_weight is not None,
            f"agree_l_{j}": preset.spread_weight or base.spread_weight,
            f"agree_ot_{j}": False,
            f"agree_t_{j}": base.complementarity}


def row_from_values(j: int, preset: StakeholderRow, values: Mapping[str, Any]) -> StakeholderRow:
    """Stakeholder ``j`` as its widgets hold it (``values`` by widget key, as
    ``widget_defaults`` names them); lambda and theta only where its own are switched on."""
    return StakeholderRow(
        str(values[f"agree_name_{j}"]),
        {k: float(values[f"agree_w_{j}_{k}"]) for k in preset.weights},
        float(values[f"agree_l_{j}"]) if values[f"agree_ol_{j}"] else None,
        float(values[f"agree_t_{j}"]) if values[f"agree_ot_{j}"] else None)


def weight_label(indicator: str) -> str:
    """A stakeholder's weight slider label: the indicator's human name and unit."""
    return columns.label_with_unit(indicator)


def stakeholders_from_rows(rows: list[StakeholderRow]) -> dict[str, Stakeholder | dict[str, Any]]:
    """The rows as ``consensus`` stakeholders; names must be distinct and non-empty."""
    if not MIN_STAKEHOLDERS <= len(rows) <= MAX_STAKEHOLDERS:
        raise ScenarioError(f"stakeholders: between {MIN_STAKEHOLDERS} and {MAX_STAKEHOLDERS} "
                            f"(got {len(rows)})")
    out: dict[str, Stakeholder | dict[str, Any]] = {}
    for j, row in enumerate(rows, 1):
        name = row.name.strip()
        if not name:
            raise ScenarioError(f"stakeholder {j}: give it a name")
        if name in out:
            raise ScenarioError(f"stakeholder {j}: the name '{name}' is used twice")
        if sum(row.weights.values()) <= 0:
            raise ScenarioError(f"{name}: every weight is zero; give at least one indicator a "
                                "positive weight")
        spec: dict[str, Any] = {"weights": dict(row.weights)}
        if row.spread_weight is not None:
            spec["spread_weight"] = float(row.spread_weight)
        if row.complementarity is not None:
            spec["complementarity"] = float(row.complementarity)
        out[name] = spec
    return out


def solve_consensus(regions: Regions, base: Scenario, rows: list[StakeholderRow]
                    ) -> ConsensusResult:
    """The consensus of the rows under the plan's own rules (a checked plan)."""
    return consensus(regions, base, stakeholders_from_rows(rows), title="workbench consensus")


def possessive(name: str) -> str:
    """A stakeholder's name as an owner: "research's", "investors'" (a plural's s takes
    only the apostrophe).

    >>> possessive("research"), possessive("investors"), possessive("Ministry of Labor")
    ("research's", "investors'", "Ministry of Labor's")
    """
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def share_text(value: float) -> str:
    """A share of attainable gain as the heat map and the table both print it: '98.5%'."""
    return fmt.share(value, 1)


def points_text(value: float) -> str:
    """S and points as the table and the sentences under it print them: three decimals."""
    return fmt.number(value, 3)


def achievement_heatmap(result: ConsensusResult) -> go.Figure:
    """The achievement table as a heat map: rows stakeholders, columns whose plan."""
    table = result.achievement
    columns = [f"{possessive(c)} plan" if c != "consensus" else "consensus" for c in table.columns]
    text = [[share_text(v) for v in row] for row in table.to_numpy()]
    fig = go.Figure(go.Heatmap(
        z=table.to_numpy(), x=columns, y=list(table.index), text=text, texttemplate="%{text}",
        colorscale="RdYlGn", zmin=min(0.0, float(table.to_numpy().min())), zmax=1.0,
        colorbar={"title": "share of<br>attainable gain", "tickformat": ".0%"},
        hovertemplate="%{y} under %{x}: %{text}<extra></extra>"))
    fig.update_layout(title=f"Share of attainable gain (t = {result.t:.1%} under the consensus)",
                      yaxis={"autorange": "reversed", "title": "stakeholder"},
                      xaxis={"title": "plan", "side": "top"}, height=120 + 60 * len(table),
                      margin={"l": 10, "r": 10, "t": 90, "b": 10})
    return fig


SUMMARY_COLUMNS = {"baseline_S": "S before", "own_optimum_S": "S, own plan",
                   "consensus_S": "S, consensus", "share_of_attainable_gain":
                   "Share of attainable gain", "gives_up_points": "Gives up (points)"}


def summary_frame(result: ConsensusResult) -> pd.DataFrame:
    """Per stakeholder: baseline, own optimum, consensus S, share and points given up."""
    return result.summary_table().rename(columns=SUMMARY_COLUMNS).rename_axis("Stakeholder")


def summary_display(result: ConsensusResult) -> pd.DataFrame:
    """``summary_frame`` as people read it: the share as the heat map prints it (98.5%,
    not 0.9847), S and points to three decimals as the sentences below the table."""
    frame = summary_frame(result)
    shown = frame.apply(lambda col: col.map(points_text))
    shown["Share of attainable gain"] = frame["Share of attainable gain"].map(share_text)
    return shown


def side_by_side_maps(left: pd.DataFrame, right: pd.DataFrame, geojson: maps.Shapes,
                      height: int = 380) -> tuple[go.Figure, go.Figure, str]:
    """Two plans' funding per person on one colour scale (one colour, one amount), and a
    caption naming its range. Each map keeps its colour bar, with the same ticks: the maps
    stay the same size, side by side."""
    column = "funding_per_capita_usd"
    values = np.concatenate([left[column].to_numpy(float), right[column].to_numpy(float)])
    lo, hi = maps.color_range(values)
    ticks = np.linspace(lo, hi, maps.MONEY_TICKS).tolist()
    figures = []
    for table in (left, right):
        fig = maps.choropleth(table, geojson, column, height=height)
        fig.update_traces(zmin=lo, zmax=hi,
                          colorbar={"tickvals": ticks, "ticktext": [fmt.money(v) for v in ticks]})
        figures.append(fig)
    return figures[0], figures[1], (f"Both maps use one colour scale, {fmt.money(lo)} to "
                                    f"{fmt.money(hi)} per person.")


def plan_tables(result: ConsensusResult) -> dict[str, pd.DataFrame]:
    """Per-region tables to map: the consensus first, then each stakeholder's own plan."""
    return {"consensus": result.plan.regions,
            **{k: p.regions for k, p in result.own_plans.items()}}
