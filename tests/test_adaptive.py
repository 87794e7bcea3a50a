"""The adaptive response approximation: tangents added where plans sit, kept for later."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import optimizer as pf
from optimizer.engine.inputs import resolve
from optimizer.engine.response import gain_points
from tests.factories import make_regions, tiny_scenario

MILD = make_regions("""
region_id,name,population,talent
A,Alpha,1000,4
B,Beta,3000,9
C,Gamma,6000,12
""")


def test_the_loop_adds_tangents_until_the_error_is_within_tolerance(states) -> None:
    tight = pf.load_scenario().updated(approximation={"tangents": 32, "max_error_share": 1e-5})
    plan = pf.Planner(states).solve(tight)
    approx = plan.approximation
    assert approx["iterations"] > 1  # the first tangents alone are too coarse for 1e-5
    assert 0.0 <= approx["error_share"] <= 1e-5 and approx["within_tolerance"]
    # the bound is the LP's objective above the plan's exact one
    assert approx["objective_lp"] == pytest.approx(plan.solver.objective_lp, rel=1e-12)
    assert approx["objective_exact"] == pytest.approx(plan.objective, rel=1e-12)


def test_metrics_json_reports_the_loops_rounds_and_tangents(states) -> None:
    plan = pf.Planner(states).solve(pf.load_scenario())
    record = plan.to_metrics_dict()["approximation"]
    assert record["iterations"] >= 1
    assert record["tangents"] >= 51 * 4 * 2  # at least u = 0 and the far point per term
    assert 1 <= record["max_tangents_per_term"] <= record["tangents"]
    assert record["error_share"] <= pf.load_scenario().approximation.max_error_share


def test_tangents_are_kept_for_re_solves(states) -> None:
    planner = pf.Planner(states)
    sc = pf.load_scenario()
    first = planner.solve(sc)
    again = planner.solve(sc)
    # the same scenario again: the LP already holds every tangent it needs
    assert again.approximation["iterations"] == 1
    assert again.approximation["tangents"] == first.approximation["tangents"]
    assert again.objective == pytest.approx(first.objective, rel=1e-9)
    moved = planner.solve(sc.updated(spread_weight=0.2))
    assert moved.approximation["tangents"] >= first.approximation["tangents"]
    assert moved.approximation["within_tolerance"]


def test_every_tangent_bounds_the_exact_response_from_above(states) -> None:
    planner = pf.Planner(states)
    plan = planner.solve(pf.load_scenario())
    loaded = planner.lp()
    inputs = resolve(states, plan.scenario)
    x = np.full((51, 4), 0.37)  # anywhere, not only at the plan
    envelope = loaded.envelope_busd(x)
    exact = gain_points(x, inputs) / (inputs.effectiveness * inputs.multiplier)
    assert np.all(envelope >= exact - 1e-12)


def test_a_hub_plan_starts_with_the_whole_fixed_layout() -> None:
    sc = tiny_scenario(complementarity=1.0, approximation={"tangents": 12},
                       hubs={"count": {"min": 1, "max": 2}})
    plan = pf.Planner(MILD).solve(sc)
    assert plan.solver.mip
    assert plan.approximation["tangents"] >= 3 * 12 - 3  # a repeated point is kept once


def test_a_re_solve_writes_the_changed_numbers_into_highs() -> None:
    planner = pf.Planner(MILD)
    planner.solve(tiny_scenario(budget="$10B"))
    planner.solve(tiny_scenario(budget="$6B", spread_weight=0.25))
    loaded = planner.lp()
    lp = loaded.lp
    model = loaded.highs.getLp()
    assert model.row_upper_[lp.rows["budget_use"].start] == pytest.approx(6.0 / loaded.unit)
    spread = lp.cols["gini_sum" if "gini_sum" in lp.cols else "hoover_sum"].start
    assert model.col_cost_[spread] == pytest.approx(-0.25)


def test_region_and_marginal_tables_are_built_when_read_and_travel_built() -> None:
    plan = pf.Planner(MILD).solve(tiny_scenario(region_cap_usd="$5B"))
    assert callable(plan.regions_table)  # not built by the solve
    assert plan.funding_busd().sum() == pytest.approx(10.0)
    assert callable(plan.regions_table)  # funding and metrics do not need it
    copy = pickle.loads(pickle.dumps(plan))  # another process gets the tables built
    assert not callable(copy.regions_table) and not callable(copy.marginal_table)
    assert list(copy.regions["region_id"]) == ["A", "B", "C"]
    assert copy.marginal_values.equals(plan.marginal_values)
    assert not callable(plan.regions_table)  # read once, kept


def test_a_forgotten_planner_solves_as_a_fresh_one(states) -> None:
    sc = pf.load_scenario()
    planner = pf.Planner(states)
    planner.solve(sc.updated(spread_weight=0.1))  # adds tangents of its own
    planner.forget_basis()
    again = planner.solve(sc)
    fresh = pf.Planner(states).solve(sc)
    assert again.solver.rebuilt
    assert again.objective == pytest.approx(fresh.objective, rel=1e-12)
    assert again.approximation["tangents"] == fresh.approximation["tangents"]


def test_a_planner_rebuilds_once_re_solves_have_added_too_many_tangents(states,
                                                                       monkeypatch) -> None:
    import importlib

    solve_module = importlib.import_module("optimizer.engine.solve")
    monkeypatch.setattr(solve_module, "MAX_GROWTH", 1.0)  # any tangent added is too many
    planner = pf.Planner(states)
    sc = pf.load_scenario()
    first = planner.solve(sc)
    assert first.approximation["iterations"] > 1  # the first solve added tangents
    again = planner.solve(sc)
    assert again.solver.rebuilt  # so the next one starts afresh
    assert again.objective == pytest.approx(first.objective, rel=1e-12)
