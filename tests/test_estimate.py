"""The estimated plan: a cheap starting point near the LP's optimum, never the answer."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import optimizer as pf
from optimizer.engine.inputs import resolve
from optimizer.engine.solve import exact_objective
from optimizer.engine.start.estimate import estimate_plan

solve_module = importlib.import_module("optimizer.engine.solve")


@pytest.fixture(scope="module")
def hoover() -> pf.Scenario:
    return pf.load_scenario().updated(spread_measure="hoover")


def test_the_estimate_spends_the_budget_near_the_optimum(states, hoover) -> None:
    inputs = resolve(states, hoover)
    x = estimate_plan(inputs)
    plan = pf.solve(states, hoover)
    assert x.min() >= 0.0
    assert x.sum() == pytest.approx(inputs.budget_busd, rel=1e-9)
    # exact response on both sides: within 0.5% of the LP plan's value
    lp_x = (plan.allocation.pivot_table(index="region_id", columns="instrument",
                                        values="amount_usd", aggfunc="sum")
            .reindex(index=inputs.region_ids, columns=list(inputs.instruments))
            .fillna(0.0).to_numpy() / 1e9)
    lp_value = exact_objective(inputs, lp_x)
    assert exact_objective(inputs, x) == pytest.approx(lp_value, rel=5e-3)


def test_the_estimate_with_lambda_zero_is_the_first_order_condition(states, hoover) -> None:
    """Without spread, every funded term's marginal gain per $B is one common price."""
    inputs = resolve(states, hoover.updated(spread_weight=0.0))
    x = estimate_plan(inputs)
    slope0 = inputs.effectiveness * inputs.multiplier
    marginal = slope0 / (1.0 + x / inputs.saturation_busd)
    funded = x > 1e-9
    price = marginal[funded].mean()
    assert marginal[funded] == pytest.approx(np.full(funded.sum(), price), rel=1e-4)
    assert (marginal[~funded] <= price * (1 + 1e-4)).all()


def test_the_estimate_honours_exclusions_caps_and_floors(states, hoover) -> None:
    scenario = hoover.updated(
        exclusions={"regions": ["CA", "NY"], "top_k_incumbents": 0, "instruments": {}},
        region_cap_usd="$3B", region_floor_usd="$100M")
    inputs = resolve(states, scenario)
    x = estimate_plan(inputs)
    per_region = x.sum(axis=1)
    excluded = ~inputs.allowed.any(axis=1)
    assert excluded.sum() == 2 and (per_region[excluded] == 0).all()
    assert (per_region[~excluded] <= 3.0 * (1 + 1e-9)).all()
    assert (per_region[~excluded] >= 0.1 * (1 - 1e-9)).all()
    assert x.sum() == pytest.approx(80.0, rel=1e-9)


def test_a_large_lp_starts_from_the_estimate_by_crossover(states, hoover, monkeypatch) -> None:
    plain = pf.Planner(states).solve(hoover)  # small: HiGHS's own start
    monkeypatch.setattr(solve_module, "LARGE_MODEL_COLUMNS", 0)  # treat states as large
    crashed = pf.Planner(states).solve(hoover)
    assert plain.solver.start == "HiGHS's own start"
    assert crashed.solver.start == "estimated plan + crossover"
    # the same first tangents, so the same LP: the same optimum, in far fewer iterations
    assert crashed.solver.objective_lp == pytest.approx(plain.solver.objective_lp, rel=1e-9)
    assert crashed.solver.simplex_iterations < plain.solver.simplex_iterations / 2
