"""The solver's time limit holds per run, not over a planner's life."""

from __future__ import annotations

import optimizer as pf
from optimizer.engine.data import Regions
from optimizer.engine.result import Status


def test_a_long_lived_planner_keeps_solving_past_its_time_limit_in_total(states: Regions) -> None:
    """HiGHS's own clock runs on across runs of one model; a planner that has spent more
    than ``solver.time_limit_s`` in HiGHS over many re-solves must still solve."""
    base = pf.load_scenario().updated(solver={"time_limit_s": 0.05, "threads": 1})
    planner = pf.Planner(states)
    planner.solve(pf.load_scenario())  # the first solve, tangent loop and all, untimed
    spent = 0.0
    runs = 0
    while spent < 0.2:  # four times the limit, summed over runs
        plan = planner.solve(base.updated(spread_weight=0.3 + 0.6 * (runs % 7) / 7))
        spent += plan.solver.highs_time_s
        runs += 1
    assert plan.solver.status == Status.OPTIMAL
    assert plan.solver.proven_optimal
    assert runs > 1
