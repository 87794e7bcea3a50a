"""The tangent envelope behind the LP's concave response."""

from __future__ import annotations

import numpy as np
import pytest

import optimizer as pf
from optimizer.engine.inputs import resolve
from optimizer.engine.response import gain_points
from optimizer.engine.tangents import envelope_value, tangent_layout, tangent_segments


def test_segments_reproduce_the_envelope_of_tangents() -> None:
    u = np.array([0.0, 0.5, 1.0, 3.0, 10.0])
    length, slope = tangent_segments(u)
    assert length[-1] == np.inf and np.all(length[:-1] > 0)
    # walking the segments from 0 gives the minimum of the tangents at every point
    for point in np.linspace(0.0, 20.0, 81):
        used = np.clip(point - np.concatenate([[0.0], np.cumsum(length[:-1])]), 0.0, length)
        envelope = float(np.sum(used * slope))
        tangents = np.min(np.log1p(u) + (point - u) / (1.0 + u))
        assert envelope == pytest.approx(tangents, abs=1e-12)
        assert envelope >= np.log1p(point) - 1e-12  # an outer approximation


def test_repeated_tangent_points_give_empty_segments_not_nan() -> None:
    length, _ = tangent_segments(np.array([0.0, 1.0, 1.0, 1.0 + 1e-12, 2.0]))
    assert not np.isnan(length).any()
    assert np.all(length >= 0)
    assert length[2] == 0.0  # the repeated point adds nothing
    assert length[:3].sum() == pytest.approx(1.0)  # the first three segments end at u = 1


def test_layout_starts_at_zero_and_grows(states) -> None:
    inputs = resolve(states, pf.load_scenario())
    u = tangent_layout(inputs)
    assert u.shape == (51, 4, 32)
    assert np.all(u[..., 0] == 0.0)
    assert np.all(np.diff(u, axis=-1) >= 0)
    x = np.full((51, 4), 0.4)  # $0.4B everywhere
    s = inputs.saturation_busd.ravel()
    term = np.repeat(np.arange(s.size), u.shape[-1])
    envelope = envelope_value(term, u.ravel(), s, x.ravel()).reshape(x.shape)
    lp_gain = inputs.effectiveness * inputs.multiplier * envelope
    assert np.all(lp_gain >= gain_points(x, inputs) - 1e-12)


@pytest.mark.parametrize("changes", [
    {"spread_measure": "hoover"},
    {"spread_measure": "gini", "top_k_share_cap": {"k": 10, "max_share": 0.72}},  # not binding
    {"spread_measure": "hoover", "per_capita_floor": 0.5},
])
def test_point_at_the_lp_plan_satisfies_every_row_and_reproduces_the_objective(
        states, changes) -> None:
    """The crossover start is a genuine point of the LP: at the LP's own plan, exact."""
    import scipy.sparse as sp

    planner = pf.Planner(states)
    plan = planner.solve(pf.load_scenario().updated(**changes))
    inputs = resolve(states, plan.scenario)
    loaded = planner.lp()
    values = loaded.point_at(inputs, plan.funding_busd())
    lp = loaded.highs.getLp()
    a = lp.a_matrix_
    matrix = sp.csc_matrix((np.asarray(a.value_), np.asarray(a.index_), np.asarray(a.start_)),
                           shape=(lp.num_row_, lp.num_col_))
    rows = matrix @ values
    assert np.all(rows >= np.asarray(lp.row_lower_) - 1e-7)
    assert np.all(rows <= np.asarray(lp.row_upper_) + 1e-7)
    assert np.all(values >= np.asarray(lp.col_lower_) - 1e-9)
    assert np.all(values <= np.asarray(lp.col_upper_) + 1e-9)
    assert np.asarray(lp.col_cost_) @ values == pytest.approx(plan.solver.objective_lp, rel=1e-6)
