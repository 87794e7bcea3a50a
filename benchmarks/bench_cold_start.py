"""How the first county solve fares from nothing, across scenarios.

Run: .venv/bin/python benchmarks/bench_cold_start.py [--regions counties] [--repeats 1]

A large LP starts from the estimated plan (``optimizer.engine.start.estimate``): its
first tangents sit around it, and HiGHS's crossover turns it into a basis. The estimate
knows the Hoover objective, exclusions, caps and floors; other rules are left to the
simplex method and the tangent loop, so this measures the first solve where the
estimate is exact and where it is not. Each scenario is solved by a fresh ``Planner``;
times are medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

VARIANTS = {
    "default plan": {},
    "lambda = 0": {"spread_weight": 0.0},
    "lambda = 1": {"spread_weight": 1.0},
    "budget $20B": {"budget": "$20B"},
    "cap $500M per county": {"region_cap_usd": "$500M"},
    "instrument shares 10-40%": {"instrument_shares": {
        k: {"min": 0.1, "max": 0.4} for k in ("research", "talent", "compute", "venture")}},
    "top-10 share <= 25%": {"top_k_share_cap": {"k": 10, "max_share": 0.25}},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", default="counties")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    os.environ["PLACEFUND_HOME"] = tempfile.mkdtemp(prefix="placefund-bench-")

    import optimizer as pf
    from optimizer.engine.scenario import region_set_default
    regions = pf.load_regions(args.regions)
    base = region_set_default(args.regions, regions.indicators)
    print(f"Cold first solves, {args.regions} ({len(regions)} regions), load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    head = (f"{'scenario':<28}{'first':>7}{'build':>7}{'load':>7}{'start':>7}{'HiGHS':>7}"
            f"{'iters':>7}  start from")
    print(head)
    print("-" * (len(head) + 30))
    for name, changes in VARIANTS.items():
        scenario = base.updated(**changes)
        runs = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            plan = pf.Planner(regions).solve(scenario)
            info = plan.solver
            runs.append((time.perf_counter() - start, info.build_time_s,
                         info.translate_time_s, info.start_time_s,
                         info.highs_time_s, info.simplex_iterations))
        first, build, load, warm, highs, iters = (statistics.median(v) for v in zip(*runs))
        print(f"{name:<28}{first:>7.2f}{build:>7.2f}{load:>7.2f}{warm:>7.2f}{highs:>7.2f}"
              f"{iters:>7.0f}  {plan.solver.start}")
    print("\nSeconds. first: the whole first Planner.solve; build: the LP's arrays; load: "
          "passing them to HiGHS; start: estimate, first tangents, crossover; HiGHS: its own "
          "solve, every round of the tangent loop; iters: its simplex iterations.")


if __name__ == "__main__":
    main()
