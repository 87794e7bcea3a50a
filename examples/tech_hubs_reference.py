"""Run the Tech Hubs statute pack on states and on metros; compare with the 2023 designations.

Run: .venv/bin/python examples/tech_hubs_reference.py [states|metros|all]

States: a budget like the 2024 Phase 2 round ($504M) under the `tech_hubs_2022_statute`
pack, then the same with lambda = 0 (capacity only) and with complementarity 1
(clusters multiply money). Metros: the same pack on the documented default metro plan
(the small-rural rule applied through the `small_rural` column) at $504M, its variants,
the comparison restricted to the hubs placed by a named place, and the $80B default
budget with unspent funds allowed. Nothing is tuned to agree with EDA's choice.
"""

from __future__ import annotations

import sys
import time

import optimizer as pf
from optimizer.analysis.reference import (
    compare_metros_with_designations,
    compare_with_designations,
    designated_metros,
    statute_scenario,
    unplaced_hubs,
)

VARIANTS = {
    "statute pack, defaults (lambda 0.5, theta 0.5)": {},
    "capacity only (lambda 0)": {"spread_weight": 0.0},
    "clusters multiply money (theta 1, lambda 0)": {"spread_weight": 0.0, "complementarity": 1.0},
}


def solved(plan: pf.AllocationResult, seconds: float) -> str:
    s = plan.solver
    return (f"solved in {seconds:.2f} s (HiGHS {s.solve_time_s:.2f} s), MIP gap "
            f"{s.mip_gap:.2e}, proven optimal: {s.proven_optimal}")


def states() -> None:
    regions = pf.load_regions("states")
    planner = pf.Planner(regions)
    for label, changes in VARIANTS.items():
        scenario = pf.scenario_from_dict({"packs": ["tech_hubs_2022_statute"], "budget": "$504M",
                                          **changes})
        start = time.perf_counter()
        plan = planner.solve(scenario)
        print(f"## states: {label}")
        print(solved(plan, time.perf_counter() - start))
        print(compare_with_designations(plan).summary())
        for note in plan.notes:
            print(f"  note: {note}")
        print()


def metros() -> None:
    regions = pf.load_regions("metros")
    designated = designated_metros()
    print(f"## metros: {len(regions)} regions; {len(designated)} designated metros "
          f"({(designated['confidence'] == 'named').sum()} placed by a named place); "
          f"{int(regions.table['small_rural'].astype(str).str.lower().eq('true').sum())} "
          "small/rural")
    for _, row in unplaced_hubs().iterrows():
        print(f"  not in the metro set: {row['hub_name']} ({row['states']}): {row['why']}")
    print()
    runs = {label: {"budget": "$504M", **changes} for label, changes in VARIANTS.items()}
    runs["default budget $80B, unspent funds allowed"] = {"allow_unspent": True}
    for label, changes in runs.items():
        scenario = statute_scenario("metros", regions, **changes)
        start = time.perf_counter()
        plan = pf.solve(regions, scenario)
        seconds = time.perf_counter() - start
        hubs = plan.regions[plan.regions["hub"]]
        small = regions.table.set_index("region_id").loc[hubs["region_id"], "small_rural"]
        print(f"## metros: {label}")
        print(solved(plan, seconds))
        print(f"{len(hubs)} hubs, {small.astype(str).str.lower().eq('true').sum()} small/rural, "
              f"per census region {hubs.groupby('census_region').size().to_dict()}, "
              f"spent ${plan.regions['funding_usd'].sum() / 1e6:,.1f}M")
        for note in plan.notes:
            print(f"  note: {note}")
        comparison = compare_metros_with_designations(plan, regions)
        print(comparison.summary())
        if not changes.get("allow_unspent"):
            named = compare_metros_with_designations(plan, regions, confidence=("named",),
                                                     top=0)
            rnd = named.random
            print(f"  named places only: {len(named.both)} of {named.n_selected} in "
                  f"{named.n_designated} designated; precision {named.precision:.1%} "
                  f"(random {rnd['precision']:.1%}), recall {named.recall:.1%} "
                  f"(random {rnd['recall']:.1%}), P(random >= this) {named.chance:.2f}")
        if label.startswith("statute pack"):
            print("  largest disagreements:")
            for _, row in comparison.disagreements.iterrows():
                print(f"  - {row['kind']}: {row['name']}"
                      f"{' (' + row['hubs_2023'] + ')' if row['hubs_2023'] else ''}: "
                      f"{row['reason']}")
        print()


def main() -> None:
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    if which in ("states", "all"):
        states()
    if which in ("metros", "all"):
        metros()


if __name__ == "__main__":
    main()
