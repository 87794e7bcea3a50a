"""PlaceFund: split a fixed pot of place-based money across regions.

The flow is one-way: regions data -> scenario -> model inputs -> LP -> solve ->
result -> exports. A notebook session:

>>> import optimizer as pf
>>> regions = pf.load_regions("states")
>>> scenario = pf.load_scenario().updated(budget="$40B", spread_weight=0.8)
>>> plan = pf.solve(regions, scenario)
>>> round(plan.spent_usd / 1e9, 6)
40.0
>>> plan.metrics_after["top10_share"] < plan.metrics_before["top10_share"]
True
>>> pf.check(plan.allocation, regions, plan.scenario, reported=plan.metrics_after).ok
True
"""

from optimizer.analysis.diagnose import solve, solve_explained
from optimizer.engine.check import CheckReport, check, check_dir
from optimizer.engine.data import Regions, load_regions
from optimizer.engine.errors import DataError, InfeasibleError, PlaceFundError, ScenarioError, SolverError
from optimizer.engine.result import AllocationResult
from optimizer.engine.scenario import Scenario, load_scenario, scenario_from_dict
from optimizer.engine.solve import Planner

__all__ = [
    "AllocationResult",
    "CheckReport",
    "DataError",
    "InfeasibleError",
    "PlaceFundError",
    "Planner",
    "Regions",
    "Scenario",
    "ScenarioError",
    "SolverError",
    "check",
    "check_dir",
    "load_regions",
    "load_scenario",
    "scenario_from_dict",
    "solve",
    "solve_explained",
]
