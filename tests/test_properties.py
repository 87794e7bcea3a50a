"""Invariants over random small problems (hypothesis): every plan passes the checker,
more budget never lowers S_lambda, and a larger spread weight never raises the Gini."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optimizer as pf
from optimizer.engine.data import Regions, regions_from_bytes

SETTINGS = settings(max_examples=20, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
TOL = 2e-3  # the LP's response approximation (checked per plan below)


@st.composite
def problems(draw: st.DrawFn) -> tuple[Regions, pf.Scenario]:
    n = draw(st.integers(2, 5))
    pops = draw(st.lists(st.integers(1_000, 10_000_000), min_size=n, max_size=n))
    labs = draw(st.lists(st.floats(0.1, 100.0), min_size=n, max_size=n))
    jobs = draw(st.lists(st.floats(0.1, 100.0), min_size=n, max_size=n))
    table = pd.DataFrame({"region_id": [f"R{i}" for i in range(n)],
                          "name": [f"Region {i}" for i in range(n)],
                          "population": pops, "labs": labs, "jobs": jobs})
    regions = regions_from_bytes(table.to_csv(index=False).encode(), "random.csv")
    w_labs = draw(st.floats(0.0, 1.0))
    scenario = pf.scenario_from_dict({
        "budget": draw(st.floats(1e8, 1e11)),
        "weights": {"labs": w_labs, "jobs": 1.0 - w_labs + 0.01},
        "spread_weight": draw(st.floats(0.0, 1.0)),
        "complementarity": draw(st.floats(0.0, 1.0)),
        "instruments": {
            "research": {"yields": {"labs": draw(st.floats(0.05, 2.0)) * float(table["labs"].sum()) / 100},
                         "saturation_usd": draw(st.floats(1e9, 5e10)), "absorbs": ["labs"]},
            "talent": {"yields": {"jobs": draw(st.floats(0.05, 2.0)) * float(table["jobs"].sum()) / 100},
                       "saturation_usd": draw(st.floats(1e9, 5e10)), "absorbs": ["jobs"]},
        },
        "max_region_share": draw(st.sampled_from([None, 0.6, 0.9])),
    })
    return regions, scenario


def checked(planner: pf.Planner, scenario: pf.Scenario) -> pf.AllocationResult:
    plan = planner.solve(scenario)
    report = pf.check(plan.allocation, planner.regions, plan.scenario, plan.metrics_after,
                      plan.metrics_before)
    assert report.ok, str(report)
    assert plan.spent_usd == pytest.approx(scenario.budget, rel=1e-6)
    assert plan.approximation["error_share"] <= TOL
    return plan


@SETTINGS
@given(problems())
def test_random_scenarios_give_plans_the_checker_accepts(problem) -> None:
    regions, scenario = problem
    checked(pf.Planner(regions), scenario)


@SETTINGS
@given(problems(), st.floats(1.05, 3.0))
def test_more_budget_never_lowers_the_objective(problem, factor: float) -> None:
    regions, scenario = problem
    planner = pf.Planner(regions)
    small = checked(planner, scenario)
    large = checked(planner, scenario.updated(budget=scenario.budget * factor))
    assert large.objective >= small.objective * (1 - TOL)


@SETTINGS
@given(problems(), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_raising_lambda_never_raises_the_gini(problem, lam_a: float, lam_b: float) -> None:
    regions, scenario = problem
    low, high = sorted((lam_a, lam_b))
    planner = pf.Planner(regions)
    gini_low = checked(planner, scenario.updated(spread_weight=low)).metrics_after["gini"]
    gini_high = checked(planner, scenario.updated(spread_weight=high)).metrics_after["gini"]
    assert gini_high <= gini_low + TOL


@SETTINGS
@given(st.lists(st.tuples(st.floats(0.01, 100.0), st.integers(1, 10_000_000)), min_size=2,
                max_size=30), st.floats(0.0, 1.0))
def test_the_objective_alone_is_the_objective_among_all_metrics(regions, lam: float) -> None:
    import numpy as np

    from optimizer.engine.metrics import concentration, spread_adjusted

    capacity, population = (np.array(column, dtype=float) for column in zip(*regions, strict=True))
    every = concentration(capacity, population, lam)
    assert spread_adjusted(capacity, population, lam, "gini") == pytest.approx(
        every["spread_adjusted_capacity"], rel=1e-12)
    assert spread_adjusted(capacity, population, lam, "hoover") == pytest.approx(
        every["spread_adjusted_capacity_hoover"], rel=1e-12)
