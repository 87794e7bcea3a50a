"""Compare a hub plan with the 2023 Tech Hubs designations (data/tech_hubs_2023.csv).

The reference table lists the states of each designated hub (30 of 31 identified;
see data/SOURCES.md for its caveats). A state "was designated" when at least one
listed hub includes it. Nothing here tunes the model towards agreement: it reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from optimizer.data import DATA_DIR
from optimizer.result import AllocationResult

HUBS_FILE = DATA_DIR / "tech_hubs_2023.csv"


def designated_states() -> pd.Series:
    """Postal code -> number of 2023 designated hubs that include the state."""
    hubs = pd.read_csv(HUBS_FILE)
    postal = hubs["states"].str.split(";").explode().str.strip()
    return postal.value_counts().sort_index()


@dataclass(frozen=True)
class HubComparison:
    """Overlap between the plan's hub states and the 2023 designated states."""

    table: pd.DataFrame  # one row per state: selected, designated_hubs, funding, capacity
    both: list[str]
    plan_only: list[str]
    designated_only: list[str]

    @property
    def overlap_by_chance(self) -> float:
        """Expected overlap if the same number of hub states were drawn at random."""
        selected = len(self.both) + len(self.plan_only)
        designated = len(self.both) + len(self.designated_only)
        return selected * designated / len(self.table)

    @property
    def overlap_share_of_plan(self) -> float:
        """Share of the plan's hub states that were also designated in 2023."""
        selected = len(self.both) + len(self.plan_only)
        return len(self.both) / selected if selected else 0.0

    def summary(self) -> str:
        return (f"{len(self.both)} of the plan's {len(self.both) + len(self.plan_only)} hub "
                f"states were designated in 2023 ({self.overlap_share_of_plan:.0%}; a random "
                f"choice would share {self.overlap_by_chance:.1f}); "
                f"{len(self.designated_only)} designated states were not selected.\n"
                f"  both: {', '.join(self.both)}\n"
                f"  plan only: {', '.join(self.plan_only)}\n"
                f"  designated only: {', '.join(self.designated_only)}")


def compare_with_designations(plan: AllocationResult) -> HubComparison:
    """Join a state-level hub plan (regions need a ``postal`` column) with the designations."""
    regions = plan.regions
    if "postal" not in regions.columns:
        raise ValueError("the plan's regions have no 'postal' column; compare state plans only")
    counts = designated_states()
    table = regions[["region_id", "postal", "name", "hub", "funding_usd",
                     "capacity_per_capita_before", "baseline_capacity"]].copy()
    table["designated_hubs"] = table["postal"].map(counts).fillna(0).astype(int)
    table["designated"] = table["designated_hubs"] > 0
    table["selected"] = table["hub"].astype(bool)
    pick = table.set_index("postal")
    both = sorted(pick.index[pick["selected"] & pick["designated"]])
    plan_only = sorted(pick.index[pick["selected"] & ~pick["designated"]])
    designated_only = sorted(pick.index[~pick["selected"] & pick["designated"]])
    return HubComparison(table.drop(columns="hub"), both, plan_only, designated_only)
