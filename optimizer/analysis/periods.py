"""Plans over time compared: what foresight buys over planning year by year.

The foresighted plan is ``placefund solve``'s plan over time: every year's funding chosen
together for the final year's S_lambda. The myopic plan decides one year at a time:
year t's funding maximizes S_lambda of year t's capacity, the years before it fixed as
decided and the years after it left open (so the rules on the horizon's totals stay
within reach) but worth nothing to year t. Both are the one declared model
(``engine.model``), re-solved with other numbers (``model.numbers``'s ``year`` and
``decided_busd``), and both are judged by the same final-year objective, exactly
(``engine.check``). With ``growth.rates_from: plan`` the myopic years are decided at the
no-policy path's rates (looking no further than the year, they do not foresee the growth
they induce either), and the plan is then judged, like the foresighted one, on its own
unlinearized path.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine.data import Regions
from optimizer.engine.errors import InfeasibleError, ScenarioError
from optimizer.engine.feasibility import precheck
from optimizer.engine.growth import at_plan
from optimizer.engine.inputs import resolve
from optimizer.engine.result import AllocationResult, build_result
from optimizer.engine.scenario import Scenario
from optimizer.engine.solve import (
    Planner,
    Solver,
    by_year,
    over_time_result,
    response_of,
    solver_info,
    verified,
)


@dataclass(frozen=True)
class Foresight:
    """The foresighted and the myopic plan of one scenario over time, each checked."""

    foresighted: AllocationResult
    myopic: AllocationResult

    @property
    def value_points(self) -> float:
        """What foresight buys: the final-year S_lambda of the foresighted plan less the
        myopic plan's (points, exact)."""
        return self.foresighted.objective - self.myopic.objective

    def to_dict(self) -> dict[str, Any]:
        return {"foresighted_objective": self.foresighted.objective,
                "myopic_objective": self.myopic.objective,
                "foresight_value_points": self.value_points,
                "objective": self.foresighted.scenario.objective_key,
                "years": self.foresighted.scenario.periods.years}


def myopic_plan(regions: Regions, scenario: Scenario) -> AllocationResult:
    """The plan made one year at a time (see the module docstring), checked."""
    if scenario.periods.years <= 1:
        raise ScenarioError("periods.years: a plan made year by year needs at least 2 years")
    inputs = resolve(regions, scenario)
    conflicts = precheck(inputs)
    if conflicts:
        raise InfeasibleError(conflicts)
    clock = time.perf_counter()
    years = scenario.periods.years
    # each year looks at its own S_lambda alone, whatever the horizon objective
    deciding = resolve(regions, scenario.updated(objective_year="final", discount_rate=0.0))
    solver = Solver(deciding)
    n, width = inputs.n, years * len(inputs.instruments)
    m = len(inputs.instruments)
    decided = np.full((n, width), np.nan)
    highs_time, iterations = 0.0, 0
    for year in range(1, years + 1):
        solver.update(deciding, year=year, decided_busd=decided)
        outcome = solver.solve()
        highs_time += outcome.highs_time
        iterations += outcome.iterations
        columns = slice((year - 1) * m, year * m)
        decided[:, columns] = outcome.x[:, columns]
    solver.update(deciding, decided_busd=decided)  # every year fixed: read at the final year
    outcome = solver.solve()
    outcome = dataclasses.replace(outcome, highs_time=highs_time + outcome.highs_time,
                                  iterations=iterations + outcome.iterations, duals=None)
    info = solver_info(solver, outcome, True, time.perf_counter() - clock,
                       start="year by year, each from the last")
    judged = at_plan(inputs, by_year(outcome.x, years))  # rates_from: plan: its own rates
    plan = build_result(response_of(judged), outcome.x, None, info, outcome.approximation)
    return verified(over_time_result(plan, judged, outcome.x), regions)


def foresight(regions: Regions, scenario: Scenario) -> Foresight:
    """The foresighted plan (``Planner``) and the myopic one, on the same horizon."""
    return Foresight(Planner(regions).solve(scenario), myopic_plan(regions, scenario))


COMPARED = ("objective", "gini", "top10_share", "total_capacity")


def comparison_table(plans: dict[str, AllocationResult]) -> pd.DataFrame:
    """One row per plan: its horizon objective and final-year spread, its funded regions,
    and what it buys by the final year in each raised indicator's unit (exact)."""
    rows = []
    for name, plan in plans.items():
        after = plan.metrics_after
        row: dict[str, Any] = {"plan": name, "objective": plan.objective,
                               "gini": after["gini"], "top10_share": after["top10_share"],
                               "total_capacity": after["total_capacity"],
                               "funded_regions": int((plan.regions["funding_usd"] > 1.0).sum())}
        for indicator, total in plan.outcome_totals.items():
            row[f"gain_{indicator}"] = total["gain"]
        rows.append(row)
    return pd.DataFrame(rows)


def horizon_plans(regions: Regions, scenario: Scenario,
                  centers: dict[str, Any] | None = None) -> dict[str, AllocationResult]:
    """The foresighted plan, the myopic plan and (``centers``: the ``growth_centers``
    keys) the growth-centers plan of one scenario over time, each checked."""
    if scenario.periods.years <= 1:
        raise ScenarioError("periods.years: comparing plans over time needs at least 2 years")
    result = foresight(regions, scenario)
    plans = {"foresighted": result.foresighted, "myopic": result.myopic}
    if centers is not None:
        plans["growth centers"] = Planner(regions).solve(
            scenario.updated(growth_centers=centers))
    return plans
