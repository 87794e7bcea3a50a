"""Run the Tech Hubs statute pack on the state data and compare with the 2023 designations.

Run: .venv/bin/python examples/tech_hubs_reference.py

A budget like the 2024 Phase 2 round ($504M) under the `tech_hubs_2022_statute` pack,
then the same with lambda = 0 (capacity only) and with complementarity 1 (clusters
multiply money), to show which judgments move the hub choice. Nothing is tuned to
agree with EDA's choice.
"""

from __future__ import annotations

import optimizer as pf
from optimizer.reference import compare_with_designations

VARIANTS = {
    "statute pack, defaults (lambda 0.5, theta 0.5)": {},
    "capacity only (lambda 0)": {"spread_weight": 0.0},
    "clusters multiply money (theta 1, lambda 0)": {"spread_weight": 0.0, "complementarity": 1.0},
}


def main() -> None:
    regions = pf.load_regions("states")
    planner = pf.Planner(regions)
    for label, changes in VARIANTS.items():
        scenario = pf.scenario_from_dict({"packs": ["tech_hubs_2022_statute"], "budget": "$504M",
                                          **changes})
        plan = planner.solve(scenario)
        comparison = compare_with_designations(plan)
        print(f"## {label}")
        print(f"solved in {plan.solver['solve_time_s']:.2f} s, MIP gap "
              f"{plan.solver['mip_gap']:.2e}, proven optimal: {plan.solver['proven_optimal']}")
        print(comparison.summary())
        for note in plan.notes:
            print(f"  note: {note}")
        print()


if __name__ == "__main__":
    main()
