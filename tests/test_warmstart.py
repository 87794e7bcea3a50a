"""Large LPs start warm: a saved basis per model shape, or the IPM when there is none."""

from __future__ import annotations

import importlib

import pytest

import optimizer as pf
from optimizer.warmstart import basis_path

solve_module = importlib.import_module("optimizer.solve")  # (optimizer.solve is also a function)


def test_saved_basis_starts_the_next_first_solve(states, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PLACEFUND_HOME", str(tmp_path))
    monkeypatch.setattr(solve_module, "LARGE_MODEL_COLUMNS", 0)  # treat states as large
    scenario = pf.load_scenario()
    reference = pf.Planner(states)
    monkeypatch.setattr(solve_module, "LARGE_MODEL_COLUMNS", 10**9)
    plain = reference.solve(scenario)
    monkeypatch.setattr(solve_module, "LARGE_MODEL_COLUMNS", 0)

    cold = pf.Planner(states).solve(scenario)  # no basis yet: IPM + crossover, then saved
    structure = next(iter(tmp_path.glob("bases/*.npz")), None)
    assert structure is not None
    warm = pf.Planner(states).solve(scenario.updated(spread_weight=0.6))
    again = pf.Planner(states).solve(scenario)
    assert cold.objective == pytest.approx(plain.objective, rel=1e-7)
    assert again.objective == pytest.approx(plain.objective, rel=1e-7)
    assert again.solver["simplex_iterations"] < plain.solver["simplex_iterations"] / 5
    assert warm.solver["status"] == "optimal"


def test_basis_path_depends_on_the_shape(states) -> None:
    from optimizer.capacity import resolve
    from optimizer.model import structure_of

    a = structure_of(resolve(states, pf.load_scenario()))
    b = structure_of(resolve(states, pf.load_scenario().updated(budget="$40B")))
    assert basis_path(a) != basis_path(b)
    assert basis_path(a) == basis_path(structure_of(resolve(states, pf.load_scenario())))
