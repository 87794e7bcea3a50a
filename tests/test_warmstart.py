"""Large LPs start warm: a saved basis per model shape, or the IPM when there is none."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import optimizer as pf
from optimizer.engine.start import basis as warmstart
from optimizer.engine.start.basis import basis_key

solve_module = importlib.import_module("optimizer.engine.solve")  # the package exports solve()


def test_saved_basis_starts_the_next_first_solve(states, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PLACEFUND_HOME", str(tmp_path))
    monkeypatch.setattr(solve_module, "LARGE_MODEL_COLUMNS", 0)  # treat states as large
    scenario = pf.load_scenario()
    reference = pf.Planner(states)
    monkeypatch.setattr(solve_module, "LARGE_MODEL_COLUMNS", 10**9)
    plain = reference.solve(scenario)
    monkeypatch.setattr(solve_module, "LARGE_MODEL_COLUMNS", 0)

    cold = pf.Planner(states).solve(scenario)  # no basis yet: the estimate, then saved
    assert cold.solver.start.startswith("estimated plan + crossover")
    structure = next(iter(tmp_path.glob("bases/*.npz")), None)
    assert structure is not None
    warm = pf.Planner(states).solve(scenario.updated(spread_weight=0.6))
    again = pf.Planner(states).solve(scenario)
    assert cold.objective == pytest.approx(plain.objective, rel=1e-7)
    assert again.objective == pytest.approx(plain.objective, rel=1e-7)
    assert again.solver.simplex_iterations < plain.solver.simplex_iterations / 5
    assert again.solver.start.startswith("saved basis")
    assert warm.solver.status == "optimal"


def test_without_basis_or_crossover_the_interior_point_method_starts(states, tmp_path,
                                                                      monkeypatch) -> None:
    monkeypatch.setenv("PLACEFUND_HOME", str(tmp_path))
    monkeypatch.setattr(solve_module, "LARGE_MODEL_COLUMNS", 0)
    monkeypatch.setattr(solve_module, "start_from_point", lambda highs, values: False)
    plan = pf.Planner(states).solve(pf.load_scenario())
    assert plan.solver.start.startswith("interior point + crossover")
    assert plan.objective == pytest.approx(pf.solve(states, pf.load_scenario()).objective,
                                           rel=1e-7)


def _structure(regions, scenario):  # type: ignore[no-untyped-def]
    from optimizer.engine.inputs import resolve
    from optimizer.engine.model import structure_of

    return structure_of(resolve(regions, scenario))


def test_basis_key_is_the_shape_not_the_budget(states) -> None:
    base = pf.load_scenario()
    a = _structure(states, base)
    assert basis_key(a) == basis_key(_structure(states, base))
    assert basis_key(a) == basis_key(_structure(states, base.updated(budget="$40B")))
    finer = base.updated(approximation={**base.approximation.model_dump(), "tangents": 48})
    assert basis_key(a) != basis_key(_structure(states, finer))
    assert basis_key(a) != basis_key(_structure(states, base.updated(spread_measure="hoover")))


def test_a_basis_saved_at_one_budget_starts_another_warm(states, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PLACEFUND_HOME", str(tmp_path))
    monkeypatch.setattr(solve_module, "LARGE_MODEL_COLUMNS", 0)
    monkeypatch.setattr(warmstart, "SHIPPED_BASES", tmp_path / "none")
    scenario = pf.load_scenario().updated(budget="$60B")
    cold = pf.Planner(states).solve(scenario)  # IPM + crossover; saves the basis
    for path in tmp_path.glob("bases/*.npz"):
        path.unlink()
    monkeypatch.setattr(solve_module, "LARGE_MODEL_COLUMNS", 10**9)
    simplex_cold = pf.Planner(states).solve(scenario)
    monkeypatch.setattr(solve_module, "LARGE_MODEL_COLUMNS", 0)
    pf.Planner(states).solve(pf.load_scenario())  # $80B: saves a basis of the same shape
    warm = pf.Planner(states).solve(scenario)
    assert warm.objective == pytest.approx(cold.objective, rel=1e-7)
    assert warm.solver.simplex_iterations < simplex_cold.solver.simplex_iterations / 3


def test_the_shipped_county_basis_fits_the_default_county_plan() -> None:
    """scripts/build_bases.py wrote it; a change of model layout or data needs a re-run."""
    from optimizer.engine.scenario import region_set_default

    counties = pf.load_regions("counties")
    structure = _structure(counties, region_set_default("counties", counties.indicators))
    shipped = warmstart.SHIPPED_BASES / f"{basis_key(structure)}.npz"
    assert shipped.exists(), "re-run scripts/build_bases.py"
    saved = np.load(shipped)
    n, m = len(counties), len(structure.instruments)
    assert len(saved["col"]) == n * m * (structure.tangents + 2) + 2 * n + 2  # seg x tau y dev mu H
    assert len(saved["row"]) == 2 * n * m + 4 * n + m + 3
