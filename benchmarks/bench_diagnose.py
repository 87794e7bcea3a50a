"""The conflict search of a diagnosis: the rule-level deletion filter against HiGHS's IIS.

    .venv/bin/python benchmarks/bench_diagnose.py [--repeat 3]

On the infeasible catalogue of the tests (``CASES`` and ``ISSUE_CASES`` of
tests/test_diagnose.py, the precheck cases of tests/test_optimum.py) and a few state
cases, each conflict search runs on a fresh oracle (``diagnose._Oracle``, as a
diagnosis does): ``deletion`` filters all active rules; ``iis`` builds the scenario's
LP, asks ``Highs.getIis`` for an irreducible infeasible subsystem, maps its rows and
bounds to rules and filters only those (a MIP falls back to ``deletion``). Prints the
median seconds of each, the oracle's solves, the IIS's own time, and whether both find
the same minimal set.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any, cast

import optimizer as pf
from optimizer.analysis.diagnose import ConflictSearch, _Oracle, iis_rules, minimal_conflict
from optimizer.engine.data import Regions

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the catalogue is in tests/
from tests.factories import tiny_scenario  # noqa: E402
from tests.test_diagnose import CASES, ISSUE_CASES  # noqa: E402
from tests.test_optimum import UNEQUAL  # noqa: E402

PRECHECK: list[dict[str, Any]] = [  # the infeasible cases of tests/test_optimum.py (caught before any solve)
    {"region_floor_usd": "$4B"},
    {"region_cap_usd": "$3B"},
    {"group_min_shares": {"region": {"east": 0.5}}, "region_bounds": {"A": {"cap_usd": 1e9}}},
    {"exclusions": {"regions": ["A"]}, "region_bounds": {"A": {"floor_usd": 1e9}}},
    {"per_capita_floor": 50.0},
]
STATES: list[dict[str, Any]] = [  # on the 51 states with the default scenario
    {"top_k_share_cap": {"k": 10, "max_share": 0.25}},
    {"top_k_share_cap": {"k": 10, "max_share": 0.30}, "per_capita_floor": 0.8},
    {"region_cap_usd": "$1B"},
    {"per_capita_floor": 0.9, "exclusions": {"top_k_incumbents": 5}},
    {"region_floor_usd_per_capita": 200, "max_region_share": 0.05},
    {"group_min_shares": {"census_region": {"South": 0.7}}, "max_region_share": 0.03},
    # one conflicting rule among five active ones
    {"top_k_share_cap": {"k": 10, "max_share": 0.25}, "region_floor_usd": "$100M",
     "region_cap_usd": "$10B", "max_region_share": 0.2,
     "group_min_shares": {"census_region": {"South": 0.2}}},
]


def catalogue() -> list[tuple[str, Regions, pf.Scenario]]:
    """(label, regions, infeasible scenario) for every case."""
    states, base = pf.load_regions("states"), pf.load_scenario()
    out = [(f"test_diagnose {rule}", regions, tiny_scenario(**cast(dict, overrides)))
           for regions, overrides, rule in CASES]
    out += [(f"issue {rule}", states, base.updated(**cast(dict, overrides)))
            for overrides, rule in ISSUE_CASES]
    out += [(f"precheck {next(iter(o))}", UNEQUAL, tiny_scenario(**o)) for o in PRECHECK]
    out += [(f"states {'+'.join(o)}", states, base.updated(**o)) for o in STATES]
    return out


def _search(regions: Regions, scenario: pf.Scenario, method: ConflictSearch
            ) -> tuple[float, int, list[str]]:
    oracle = _Oracle(regions)
    start = time.perf_counter()
    rules = minimal_conflict(oracle, regions, scenario, method)
    return time.perf_counter() - start, oracle.calls, [r.name for r in rules]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for label, regions, scenario in catalogue():
        row: dict = {"case": label, "n": len(regions)}
        for method in ("deletion", "iis"):
            runs = [_search(regions, scenario, method) for _ in range(args.repeat)]
            row[method] = statistics.median(r[0] for r in runs)
            row[f"{method}_solves"] = runs[0][1]
            row[f"{method}_set"] = runs[0][2]
        clock = time.perf_counter()
        named = iis_rules(regions, scenario)
        row["iis_only"] = time.perf_counter() - clock if named is not None else None
        rows.append(row)

    print(f"\nConflict search, median of {args.repeat} (seconds; solves = oracle solves)\n")
    head = (f"{'case':<52} {'n':>3} {'deletion':>9} {'solves':>6} {'iis':>9} {'solves':>6} "
            f"{'getIis':>8}  same set")
    print(head)  # getIis none: a MIP, or HiGHS found no IIS
    for r in rows:
        iis_only = f"{r['iis_only']:8.3f}" if r["iis_only"] is not None else "    none"
        same = "yes" if r["deletion_set"] == r["iis_set"] else (
            f"NO {r['deletion_set']} vs {r['iis_set']}")
        print(f"{r['case'][:52]:<52} {r['n']:>3} {r['deletion']:9.3f} {r['deletion_solves']:>6} "
              f"{r['iis']:9.3f} {r['iis_solves']:>6} {iis_only}  {same}")
    total = {m: sum(r[m] for r in rows) for m in ("deletion", "iis")}
    print(f"\ntotal: deletion {total['deletion']:.2f} s, iis {total['iis']:.2f} s; "
          f"same minimal sets in {sum(r['deletion_set'] == r['iis_set'] for r in rows)} "
          f"of {len(rows)} cases")


if __name__ == "__main__":
    main()
