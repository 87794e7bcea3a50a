"""Views and the model they extend: a view (one stakeholder, or one sample) is the base
scenario with some judgments changed; ``ViewModel`` is the plan's declaration with one
score block per view, solved by the engine's ``Solver``; ``_check_size`` refuses a model
too large for one machine."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine.data import Regions
from optimizer.engine.errors import PlaceFundError, ScenarioError
from optimizer.engine.inputs import ModelInputs, resolve
from optimizer.engine.metrics import concentration
from optimizer.engine.response import gain_points
from optimizer.engine.scenario import Scenario, scaled_yield, scenario_from_dict
from optimizer.engine.solve import Solver, tighten_top_k

MAX_VIEW_ROWS = 300_000  # rows the views add; past this one machine takes too long


@dataclass(frozen=True, eq=False)
class View:
    """A way of scoring plans: the base scenario with some judgments changed.

    ``changes`` are top-level scenario keys (weights, spread_weight, complementarity)
    and ``yield_scale`` a multiplier per instrument on its yields; ``inputs`` the arrays.
    """

    name: str
    changes: dict[str, Any]
    yield_scale: dict[str, float]
    scenario: Scenario
    inputs: ModelInputs

    @property
    def spread_weight(self) -> float:
        return self.scenario.spread_weight

    def score(self, x_busd: np.ndarray) -> float:
        """Exact S of this view for funding ``x_busd`` (n x m, $B)."""
        return exact_score(self.inputs, x_busd)

    @property
    def baseline(self) -> float:
        """Exact S with no funding."""
        return exact_score(self.inputs, np.zeros_like(self.inputs.saturation_busd))


def exact_score(inputs: ModelInputs, x_busd: np.ndarray) -> float:
    """S_lambda of funding ``x_busd`` under ``inputs`` with the exact response."""
    final = inputs.c0 + gain_points(x_busd, inputs).sum(axis=1)
    sc = inputs.scenario
    return concentration(final, inputs.population, sc.spread_weight)[sc.objective_key]


def view_scenario(base: Scenario, changes: dict[str, Any],
                  yield_scale: dict[str, float] | None = None, source: str = "view") -> Scenario:
    """The base scenario with a view's judgments. Top-k incumbent exclusions are named
    explicitly elsewhere (``rules_scenario``): a view never changes who may be funded."""
    data = base.to_dict()
    data.update(changes)
    for name, value in (yield_scale or {}).items():
        if name not in data["instruments"]:
            raise ScenarioError(f"{source}.yields.{name}: not an instrument of the base "
                                f"scenario; instruments are {sorted(data['instruments'])}")
        data["instruments"][name] = scaled_yields(data["instruments"][name], value)
    return scenario_from_dict(data, source=source)


def scaled_yields(instrument: dict[str, Any], scale: float) -> dict[str, Any]:
    """An instrument (as a mapping) with every yield multiplied by ``scale``."""
    return {**instrument, "yields": {k: scaled_yield(v, float(scale))
                                     for k, v in instrument["yields"].items()}}


def make_view(regions: Regions, base: Scenario, name: str, changes: dict[str, Any],
              yield_scale: dict[str, float] | None = None, source: str | None = None) -> View:
    """Resolve one view against the regions; a bad key names where it came from."""
    where = source or name
    scenario = view_scenario(base, changes, yield_scale, source=where)
    try:
        inputs = resolve(regions, scenario)
    except PlaceFundError as err:
        raise type(err)(f"{where}: {err}") from None
    return View(name, dict(changes), dict(yield_scale or {}), scenario, inputs)



def sample_changes(row: pd.Series) -> tuple[dict[str, Any], dict[str, float]]:
    """A sample row as (scenario changes, yield multiplier by instrument)."""
    weights = {k[2:]: float(v) for k, v in row.items() if str(k).startswith("w_")}
    effect = {k[2:]: float(v) for k, v in row.items() if str(k).startswith("y_")}
    return {"weights": weights, "complementarity": float(row["complementarity"])}, effect


def sample_views(regions: Regions, base: Scenario, samples: pd.DataFrame) -> list[View]:
    """One view per sample row."""
    views = []
    for _, row in samples.iterrows():
        changes, effect = sample_changes(row)
        views.append(make_view(regions, base, f"sample {int(row['sample_id'])}", changes, effect,
                               source=f"sample {int(row['sample_id'])}"))
    return views



def _view_rows(n: int, spread_measure: str) -> int:
    """Rows one view adds: capacity, the spread term's rows, and its objective rows."""
    spread = n * (n - 1) + 1 if spread_measure == "gini" else n + 2
    return n + spread + 1


def _check_size(inputs: ModelInputs, views: int) -> None:
    """Refuse a model too large for one machine, saying what to change."""
    n = inputs.n
    measure = inputs.scenario.spread_measure
    per = _view_rows(n, measure)
    rows = views * per
    if rows > MAX_VIEW_ROWS:
        fits = max(MAX_VIEW_ROWS // per, 1)
        hint = (f"; spread_measure: hoover needs about {views * _view_rows(n, 'hoover'):,} rows"
                if measure == "gini" else "")
        raise ScenarioError(
            f"samples: {views} views of {n} regions with the {measure} spread add {rows:,} rows "
            f"to the LP, more than one machine solves in reasonable time ({MAX_VIEW_ROWS:,}); "
            f"use at most {fits} samples{hint}")


class ViewModel:
    """The plan's model with one score block per view (``model.add_score_block``) and
    a goal over them (``model.set_goal``), solved by the engine's ``Solver``: the same
    tangent loop, top-k re-linearization, hub polishing and status handling as a plan.

    ``objective`` is ``consensus`` (weights on each view's S and on t are Params, so the
    max-min and its tie-break are re-solves) or ``mean``/``cvar``/``worst`` over the
    views (the robust plan).
    """

    def __init__(self, base: ModelInputs, views: list[View], objective: str = "consensus",
                 alpha: float = 0.1) -> None:
        _check_size(base, len(views))
        self.base, self.views, self.kind = base, views, objective
        self.solver = Solver(base, [v.inputs for v in views], objective, alpha, mip_duals=False)
        self.build_time_s = self.solver.build_time_s
        self.translate_time_s = self.solver.translate_time_s + self.solver.start_time_s
        self.solve_time_s = 0.0

    @property
    def solves(self) -> int:
        return self.solver.solves

    def set(self, **params: Any) -> None:
        """Set the goal's Params (``model.set_goal``)."""
        self.solver.set(params)

    def solve(self, score: Any = None) -> Solved:
        """Solve; where the top-k share cap binds, re-solve with it linearized at the
        plan (``solve.tighten_top_k``). ``score`` (a plan -> float, larger is better)
        picks the best linearization; ``Solved.linearized_at`` says which was used."""
        clock = time.perf_counter()
        first = self.solver.solve()
        rank = (lambda o: float(score(o.x))) if score is not None else (lambda o: o.objective)
        outcome = tighten_top_k(self.solver, first, rank)
        self.solve_time_s += time.perf_counter() - clock
        return Solved(outcome.x, outcome.objective, outcome.hubs, outcome.top_k_at,
                      outcome.approximation)

    def resolve_at(self, linearized_at: np.ndarray | None) -> Solved:
        """Solve with the top-k rule linearized at a given plan (or not at all)."""
        clock = time.perf_counter()
        outcome = self.solver.solve(top_k_at=linearized_at)
        self.solve_time_s += time.perf_counter() - clock
        return Solved(outcome.x, outcome.objective, outcome.hubs, linearized_at,
                      outcome.approximation)


@dataclass(frozen=True)
class Solved:
    """One solve's plan: funding n x m ($B), the LP objective, hubs, the top-k
    linearization, and the approximation record of the tangent loop."""

    x: np.ndarray
    objective: float
    hubs: np.ndarray | None
    linearized_at: np.ndarray | None
    approximation: dict[str, Any] = field(default_factory=dict)

