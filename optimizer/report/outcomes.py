"""What a plan buys, in words: natural-unit outcomes as people read them.

The numbers come from ``AllocationResult.outcome_totals`` / ``outcomes`` (national totals
and per-region rows, in each indicator's own unit); the labels and units from the column
registry. Capacity points stay the objective's scale: a weighted share of these outcomes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from optimizer.engine import columns
from optimizer.engine.formatting import in_unit, is_money, share
from optimizer.engine.result import AllocationResult


def phrase(indicator: str, before: float, gain: float) -> str:
    """'+41,200 Computer and math jobs (+0.9%)': a gain with its label and relative size."""
    unit, what = columns.unit(indicator), columns.label(indicator)
    amount = in_unit(gain, unit, plus=True)
    if is_money(unit):
        text = f"{amount} of {what}"
    elif unit.lower() in what.lower() or unit == "persons":
        text = f"{amount} {what}"
    else:
        text = f"{amount} {what} ({unit})"
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
    years = result.scenario.periods.years
    lead = f"By year {years} it buys " if years > 1 else "Buys "
    return lead + ", ".join(phrases) + "."
