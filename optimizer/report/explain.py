"""A region's explanation and a two-plan attribution as tables people read.

The numbers come from ``optimizer.analysis.explain``; here they get human labels and
formatted units for the workbench's region detail and comparison tab.
"""

from __future__ import annotations

import pandas as pd

from optimizer.analysis.explain import Attribution, RegionExplanation, attribute, explain_region
from optimizer.engine.data import Regions
from optimizer.engine.formatting import in_unit, money, share, with_unit
from optimizer.engine.result import AllocationResult
from optimizer.report.text import resolved_inputs

__all__ = ["attribute", "attribution_table", "budget_sentence", "data_table", "instrument_table",
           "outcome_table", "region_explanation", "rule_sentences", "spread_sentence"]


def region_explanation(result: AllocationResult, regions: Regions,
                       region_id: str) -> RegionExplanation:
    """The chain behind one region's dollars in a plan solved on ``regions``."""
    return explain_region(result, region_id, inputs=resolved_inputs(regions, result.scenario))


def rule_sentences(why: RegionExplanation) -> list[str]:
    """The rules that bind the region, or a sentence saying none does."""
    if not why.rules:
        return ["No rule binds it: its dollars are where their returns meet the shadow price."]
    return [f"Binding: {rule}" for rule in why.rules]


def data_table(why: RegionExplanation) -> pd.DataFrame:
    """The region against the nation, one row per weighted indicator."""
    d = why.data
    return pd.DataFrame({
        "Indicator": d["label"],
        "Region": [with_unit(v, u) for v, u in zip(d["value"], d["unit"], strict=True)],
        "Nation": [with_unit(v, u) for v, u in zip(d["national"], d["unit"], strict=True)],
        "Share of the nation": [share(v, 2) for v in d["share"]],
        "× its population share": [f"{v:.2f}×" for v in d["intensity"]],
        "Weight": [share(v, 0) for v in d["weight"]],
    })


def instrument_table(why: RegionExplanation) -> pd.DataFrame:
    """Per instrument: funding, multiplier, marginal returns and the verdict."""
    d = why.instruments
    return pd.DataFrame({
        "Instrument": d["instrument_label"],
        "Funding": [money(v) for v in d["funding_usd"]],
        "Absorptive multiplier": [f"{v:.3f}" for v in d["multiplier"]],
        "Capacity points per extra $1B": [f"{v:.4f}" for v in d["marginal_points_per_busd"]],
        f"{why.objective_label} per extra $1B": [f"{v:.4f}" for v in d["return_add"]],
        "A funded $1B must earn": [f"{v:.4f}" for v in d["price"]],
        "Why": d["verdict"],
    })


def outcome_table(why: RegionExplanation) -> pd.DataFrame:
    """What the region's dollars buy, in natural units."""
    d = why.outcomes
    return pd.DataFrame({
        "Indicator": d["label"],
        "Before": [in_unit(v, u) if pd.notna(v) else "not published"
                   for v, u in zip(d["before"], d["unit"], strict=True)],
        "Gain": [in_unit(v, u, plus=True) for v, u in zip(d["gain"], d["unit"], strict=True)],
        "Unit": d["unit"],
    })


def spread_sentence(why: RegionExplanation) -> str:
    """What the spread term does to this region's dollars, in words."""
    add, remove = why.spread_value
    if abs(add - 1) < 1e-9 and abs(remove - 1) < 1e-9:
        return "No spread term (λ = 0): a capacity point counts the same everywhere."
    pull = ("pulls money in" if add > 1 + 1e-9 else "pulls money away" if add < 1 - 1e-9
            else "is neutral here")
    return (f"The spread term {pull}: one more capacity point here is worth {add:.3f} points "
            f"of {why.objective_label} (one less: {remove:.3f}).")


def budget_sentence(why: RegionExplanation) -> str:
    """The budget's shadow price: the return every funded dollar must earn."""
    return (f"Every funded $1B must earn the budget's shadow price, {why.shadow_price:.4f} "
            f"points of {why.objective_label}; returns are exact at the plan, the price is the "
            "LP's (piecewise-linear response), so funded returns scatter a little around it.")


def attribution_table(split: Attribution) -> pd.DataFrame:
    """Each region's change in dollars by setting, with human labels and money."""
    t = split.table
    out = pd.DataFrame({"Region": t["name"]})
    for path, label in split.settings.items():
        out[f"{label} alone"] = [money(v, plus=True) for v in t[path]]
    out["Interaction"] = [money(v, plus=True) for v in t["interaction"]]
    out["Together"] = [money(v, plus=True) for v in t["total"]]
    order = t["total"].abs().sort_values(ascending=False).index
    return out.loc[order].reset_index(drop=True)
