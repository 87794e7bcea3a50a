"""What a plan buys, in words: natural-unit outcomes as people read them.

The numbers come from ``AllocationResult.outcome_totals`` / ``outcomes`` (national totals
and per-region rows, in each indicator's own unit); the labels and units from the column
registry. Capacity points stay the objective's scale: a weighted share of these outcomes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from optimizer.engine import columns
from optimizer.engine.formatting import in_unit, share
from optimizer.engine.result import AllocationResult


def amount(value: float, unit: str, plus: bool = False) -> str:
    """One outcome amount in its unit: '+$9.8B', '+41,200' (persons, jobs, firms ...)."""
    return in_unit(value, unit, plus)


def phrase(indicator: str, before: float, gain: float) -> str:
    """'+41,200 Computer and math jobs (+0.9%)': a gain with its label and relative size."""
    unit = columns.unit(indicator)
    what = columns.label(indicator)
    if unit.startswith("$") or unit == "USD":
        text = f"{amount(gain, unit, plus=True)} of {what}"
    else:
        text = f"{amount(gain, unit, plus=True)} {what} ({unit})" if unit not in what.lower() \
            and unit not in ("persons",) else f"{amount(gain, unit, plus=True)} {what}"
    if before and np.isfinite(before) and before > 0:
        text += f" ({share(gain / before, 1, plus=True)})"
    return text


def outcome_phrases(totals: Mapping[str, Mapping[str, float]]) -> list[str]:
    """The national outcomes of a plan, largest relative gain first; indicators the plan
    does not raise are left out."""
    rows = [(k, v["before"], v["gain"]) for k, v in totals.items() if v["gain"] > 0]
    rows.sort(key=lambda r: -(r[2] / r[1]) if r[1] else -np.inf)
    return [phrase(k, before, gain) for k, before, gain in rows]


def outcome_sentence(result: AllocationResult) -> str:
    """'Buys +$52.8B of University AI-field R&D (+246.0%), +41,200 ...': the headline
    in natural units ('' for a plan without outcomes)."""
    phrases = outcome_phrases(result.outcome_totals)
    if not phrases:
        return ""
    return "Buys " + ", ".join(phrases) + "."


def region_outcomes(result: AllocationResult, region_id: str) -> pd.DataFrame:
    """One region's outcomes with human labels: indicator, before, gain, after, in words."""
    rows = result.outcomes[result.outcomes["region_id"].astype(str) == str(region_id)]
    return pd.DataFrame({
        "Indicator": [columns.label(k) for k in rows["indicator"]],
        "Before": [amount(b, u) if np.isfinite(b) else "not published"
                   for b, u in zip(rows["before"], rows["unit"], strict=True)],
        "Gain": [amount(g, u, plus=True) for g, u in zip(rows["gain"], rows["unit"], strict=True)],
        "After": [amount(a, u) if np.isfinite(a) else "not published"
                  for a, u in zip(rows["after"], rows["unit"], strict=True)],
        "Unit": list(rows["unit"]),
    })
