"""The bar for the shipped metro and county defaults: they see what is measured locally.

Measured on the documented default plans (``region_set_default``): at least half of the
(population-weighted) variance of baseline per-capita capacity lies within states; San
Jose's baseline per-capita capacity is at least twice Fresno's; the single-state
California metros get at least 10 distinct amounts per person; no default weight or
absorption rests on an apportioned, identifier or count column; the plan checks.
"""

from __future__ import annotations

import numpy as np
import pytest

import optimizer as pf
from optimizer.engine import columns
from optimizer.engine.inputs import resolve
from optimizer.engine.response import per_capita
from optimizer.engine.scenario import region_set_default

SAN_JOSE, FRESNO = "41940", "23420"


def within_state_share(y: np.ndarray, weight: np.ndarray, state: np.ndarray) -> float:
    """Share of the weighted variance of y that lies within states (1 - between share)."""
    mean = np.average(y, weights=weight)
    total = np.sum(weight * (y - mean) ** 2)
    _, idx = np.unique(state, return_inverse=True)
    state_mean = np.bincount(idx, weight * y) / np.bincount(idx, weight)
    return float(np.sum(weight * (y - state_mean[idx]) ** 2) / total)


def test_within_state_share_by_hand() -> None:
    # two states, each with the same mean: all variance is within states
    y = np.array([1.0, 3.0, 1.0, 3.0])
    assert within_state_share(y, np.ones(4), np.array(["a", "a", "b", "b"])) == pytest.approx(1.0)
    # every region equal to its state's mean: none is
    assert within_state_share(y, np.ones(4), np.array(["a", "b", "a", "b"])) == pytest.approx(0.0)


@pytest.fixture(scope="module")
def metros() -> pf.Regions:
    return pf.load_regions("metros")


@pytest.fixture(scope="module")
def metro_default(metros: pf.Regions) -> pf.Scenario:
    return region_set_default("metros", metros.indicators)


@pytest.mark.parametrize("region_set", ["metros", "counties"])
def test_defaults_use_only_measured_indicator_columns(region_set: str) -> None:
    regions = pf.load_regions(region_set)
    sc = region_set_default(region_set, regions.indicators)
    used = set(sc.weights) | {c for ins in sc.instruments.values() for c in ins.absorbs or []}
    assert used <= set(regions.indicators)
    for c in used:
        entry = columns.column(c)
        assert entry is not None and entry.kind == "indicator", c
        assert entry.basis in ("measured", "derived") and not c.endswith("_apportioned"), c
    assert all(ins.absorbs for ins in sc.instruments.values())  # no instrument on the index
    assert sum(1 for c in sc.weights if columns.basis(c) == "measured") >= len(sc.weights) - 1


def test_half_of_the_variance_of_baseline_capacity_lies_within_states(
        metros: pf.Regions, metro_default: pf.Scenario) -> None:
    inputs = resolve(metros, metro_default)
    y = per_capita(inputs.c0, inputs)
    share = within_state_share(y, metros.population, metros.table["postal"].to_numpy())
    assert share >= 0.5, share


def test_san_jose_has_at_least_twice_fresnos_baseline_per_capita_capacity(
        metros: pf.Regions, metro_default: pf.Scenario) -> None:
    inputs = resolve(metros, metro_default)
    y = dict(zip(metros.ids, per_capita(inputs.c0, inputs), strict=True))
    assert y[SAN_JOSE] >= 2 * y[FRESNO], (y[SAN_JOSE], y[FRESNO])


def test_default_metro_plan_differs_within_california_and_checks(
        metros: pf.Regions, metro_default: pf.Scenario) -> None:
    plan = pf.Planner(metros).solve(metro_default)
    assert plan.solver.status == "optimal"
    table = plan.regions.merge(metros.table[["region_id", "states"]], on="region_id",
                               suffixes=("", "_data"))
    california = table[table["states_data"] == "CA"]
    assert len(california) >= 20
    amounts = california["funding_per_capita_usd"].round(2).nunique()
    assert amounts >= 10, amounts
    assert pf.check(plan.allocation, metros, plan.scenario, reported=plan.metrics_after).ok
    # the missing values the default policy filled are reported, column by column
    data = metros.table
    for column, n in plan.filled_values.items():
        assert n == int(data[column].isna().sum()), column
    assert plan.filled_values["oews_software_developers"] == 7
    assert plan.to_metrics_dict()["filled_missing_values"] == plan.filled_values
