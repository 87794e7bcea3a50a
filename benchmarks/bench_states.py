"""Benchmark the 51-region state plan: load, build, first solve, re-solves.

Run: .venv/bin/python benchmarks/bench_states.py [--repeats 25]

Re-solves change the weights or lambda on one Planner (one loaded HiGHS) and time
the whole call: changed numbers written, solved (every round of the tangent loop),
checked, result built. The HiGHS column is HiGHS's own run time for the same solves;
the ratio says how much the rest costs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import optimizer as pf


def timed(func):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=25)
    args = parser.parse_args()

    load_times, first_times, first_build, first_highs = [], [], [], []
    for _ in range(5):
        t_load, regions = timed(lambda: pf.load_regions("states"))
        load_times.append(t_load)
        scenario = pf.load_scenario()
        planner = pf.Planner(regions)
        t_first, plan = timed(lambda: planner.solve(scenario))  # noqa: B023
        first_times.append(t_first)
        first_build.append(plan.solver.build_time_s)
        first_highs.append(plan.solver.highs_time_s)

    rng = np.random.default_rng(7)
    base = scenario.weights
    rows = []
    for label, make in (
        ("re-solve, weights changed", lambda: scenario.updated(
            weights={k: float(w * rng.uniform(0.5, 1.5)) for k, w in base.items()})),
        ("re-solve, lambda changed", lambda: scenario.updated(
            spread_weight=float(rng.uniform(0.0, 1.0)))),
    ):
        totals, highs, rounds = [], [], []
        for _ in range(args.repeats):
            changed = make()
            t, result = timed(lambda: planner.solve(changed))  # noqa: B023
            assert not result.solver.rebuilt
            totals.append(t)
            highs.append(result.solver.highs_time_s)
            rounds.append(result.approximation["iterations"])
        rows.append((label, statistics.median(totals), statistics.median(highs),
                     statistics.mean(rounds)))

    print(f"PlaceFund benchmark: 51 regions x {len(scenario.instruments)} instruments, "
          f"{plan.approximation['tangents']} tangents after the first solve, median of "
          f"{args.repeats} re-solves (5 first solves)\n")
    print(f"{'step':<34}{'median (ms)':>12}{'HiGHS (ms)':>12}{'total/HiGHS':>13}"
          f"{'rounds':>8}")
    print(f"{'load states (csv)':<34}{1e3 * statistics.median(load_times):>12.1f}")
    print(f"{'first build (LP arrays)':<34}{1e3 * statistics.median(first_build):>12.1f}")
    first = statistics.median(first_times)
    print(f"{'first build + solve':<34}{1e3 * first:>12.1f}"
          f"{1e3 * statistics.median(first_highs):>12.1f}"
          f"{first / statistics.median(first_highs):>13.1f}")
    for label, total, highs, mean_rounds in rows:
        print(f"{label:<34}{1e3 * total:>12.1f}{1e3 * highs:>12.1f}{total / highs:>13.1f}"
              f"{mean_rounds:>8.1f}")
    print("\nrounds: mean rounds of the tangent loop per re-solve (1: no tangent added)")


if __name__ == "__main__":
    main()
