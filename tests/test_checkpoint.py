"""A planner's solved LP, loaded again into a fresh HiGHS (``Planner.checkpoint`` /
``restore``): what every sensitivity chunk starts from, so that runs give the same
numbers in any process whatever it solved before."""

from __future__ import annotations

import numpy as np
import pytest

import optimizer as pf
from optimizer.engine.errors import SolverError
from optimizer.engine.solve import Planner


def _weights(base: pf.Scenario, seed: int, count: int) -> list[pf.Scenario]:
    rng = np.random.default_rng(seed)
    return [base.updated(weights={k: float(w * rng.uniform(0.5, 1.5))
                                  for k, w in base.weights.items()}) for _ in range(count)]


def test_runs_after_a_restore_are_the_same_whatever_the_planner_solved_before(states) -> None:
    base = pf.load_scenario()
    first = Planner(states)
    first.solve(base)
    checkpoint = first.checkpoint()
    runs = _weights(base, seed=3, count=4)

    def after_restore(planner: Planner) -> list[pf.AllocationResult]:
        planner.restore(checkpoint)
        return [planner.solve(run) for run in runs]

    busy = Planner(states)  # another history: other plans, other tangents and bases
    busy.solve(base.updated(spread_weight=0.1))
    busy.solve(runs[2])
    plans = [after_restore(planner) for planner in (first, busy, Planner(states))]
    for same in zip(*plans, strict=True):
        assert len({plan.objective for plan in same}) == 1
        assert len({plan.solver.simplex_iterations for plan in same}) == 1
        assert all((plan.funding_usd() == same[0].funding_usd()).all() for plan in same)
        assert not any(plan.solver.rebuilt for plan in same)  # re-solves from the checkpoint


def test_a_restored_planner_starts_from_the_checkpoint_basis(states) -> None:
    base = pf.load_scenario()
    planner = Planner(states)
    cold = planner.solve(base)
    planner.restore(planner.checkpoint())
    again = planner.solve(base)  # the same scenario from its own optimal basis
    assert again.solver.simplex_iterations == 0
    assert again.objective == pytest.approx(cold.objective, rel=1e-12)


def test_a_checkpoint_needs_a_solve() -> None:
    with pytest.raises(SolverError, match="solve a scenario"):
        Planner(pf.load_regions("states")).checkpoint()
