"""Solve: HiGHS through Pyomo's persistent interface, one model per Planner.

A ``Planner`` keeps one built model and one persistent HiGHS object. Solving a
scenario whose structure matches the built model only rewrites mutable Params and
re-solves from the previous basis; anything else rebuilds. Solves are serialized
with a lock because the HiGHS interface redirects process-wide stdout/stderr.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import TerminationCondition

from optimizer.engine.check import check
from optimizer.engine.data import Regions
from optimizer.engine.errors import InfeasibleError, PlanCheckError, ScenarioError, SolverError
from optimizer.engine.feasibility import explain_infeasible, precheck
from optimizer.engine.highs import (
    SOLVE_LOCK,
    LoadedLP,
    PersistentHighs,
    column_index,
    highs_of,
    hubs_fixed,
    load_model,
    loaded_lp,
    new_persistent_highs,
    row_index,
)
from optimizer.engine.inputs import ModelInputs, resolve
from optimizer.engine.metrics import concentration
from optimizer.engine.model import (
    add_gini_cap,
    build_model,
    lp_gain_points,
    point_at,
    set_params,
    set_top_k_linearization,
    structure_of,
)
from optimizer.engine.response import gain_points
from optimizer.engine.result import AllocationResult, Duals, SolverInfo, Status, build_result
from optimizer.engine.scenario import Scenario
from optimizer.engine.start.basis import (
    COLD_START_OPTIONS,
    CROSSOVER_START_OPTIONS,
    LARGE_MODEL_COLUMNS,
    WARM_OPTIONS,
    load_basis,
    save_basis,
    start_from_point,
)
from optimizer.engine.start.estimate import estimate_plan

MAX_TANGENT_DOUBLINGS = 2  # a plan whose response error is too large is re-solved finer
TOP_K_ATTEMPTS = 6  # re-solves with the top-k cap linearized at the last plan
TOP_K_MARGIN = 1e-6  # when moving the plan, lower the LP's top-k share past the overshoot


class Planner:
    """Solves scenarios on one regions table, reusing the model between solves.

    Changing weights, lambda, theta, the budget or bounds only rewrites mutable Params
    and re-solves from the last basis; other changes rebuild the model.

    >>> from optimizer import load_regions, load_scenario
    >>> planner = Planner(load_regions("states"))
    >>> first = planner.solve(load_scenario())
    >>> again = planner.solve(load_scenario().updated(spread_weight=0.9))
    >>> first.solver.rebuilt, again.solver.rebuilt
    (True, False)
    >>> again.metrics_after["gini"] < first.metrics_after["gini"]
    True
    """

    def __init__(self, regions: Regions, mip_duals: bool = True, refine: bool = True) -> None:
        """``refine``: re-solve with more tangents when the response approximation is
        too coarse (off only where just feasibility matters, as in diagnosis)."""
        self.regions = regions
        self.mip_duals = mip_duals
        self.refine = refine
        self._model: pyo.ConcreteModel | None = None
        self._solver: PersistentHighs | None = None
        self._highs_clock = 0.0
        self._dual_rows: list = []
        self._start = ""
        self._times: dict[str, float] = {}

    def _ensure_model(self, inputs: ModelInputs) -> bool:
        """Re-parametrize the model, or build it, load it into HiGHS and pick a start.

        Records the time of each step in ``self._times`` (seconds); True if rebuilt.
        """
        clock = time.perf_counter()
        self._times = {"build_time_s": 0.0, "translate_time_s": 0.0, "start_time_s": 0.0}
        if self._model is not None and self._model.structure == structure_of(inputs):
            set_params(self._model, inputs)
            self._start = "the previous solve's basis"
            self._times["build_time_s"] = time.perf_counter() - clock
            return False
        self._model = build_model(inputs)
        self._times["build_time_s"] = time.perf_counter() - clock
        self._solver = new_persistent_highs()
        self._highs_clock = 0.0
        mdl = self._model
        self._save_basis = False
        self._start = "HiGHS's own start"
        clock = time.perf_counter()
        load_model(self._solver, mdl)
        self._times["translate_time_s"] = time.perf_counter() - clock
        if inputs.hubs is None and len(mdl.seg) >= LARGE_MODEL_COLUMNS:
            # large LP: a saved basis of this shape, else crossover from the estimated
            # plan, else the IPM
            clock = time.perf_counter()
            source = load_basis(highs_of(self._solver), mdl.structure)
            if source is None and self._start_near_estimate(inputs):
                source = "estimated plan + crossover"
                self._solver.config.solver_options = dict(CROSSOVER_START_OPTIONS)
            if source is None:
                source = "interior point + crossover"
                self._solver.config.solver_options = dict(COLD_START_OPTIONS)
            self._start = source
            self._times["start_time_s"] = time.perf_counter() - clock
            self._save_basis = True
        self._dual_rows = [mdl.budget_use, *mdl.region_bounds.values(),
                           *mdl.instrument_share.values(), *mdl.group_min.values()]
        if hasattr(mdl, "topk_cap"):
            self._dual_rows.append(mdl.topk_cap)
        return True

    def _start_near_estimate(self, inputs: ModelInputs) -> bool:
        """Crash a basis from the estimated plan (``optimizer.engine.start.estimate``)."""
        mdl, solver = self._model, self._solver
        assert mdl is not None and solver is not None
        variables, values = point_at(mdl, inputs, estimate_plan(inputs))
        highs = highs_of(solver)
        columns = np.zeros(highs.getNumCol())
        columns[[column_index(solver, v) for v in variables]] = values
        return start_from_point(highs, columns)

    def solve(self, scenario: Scenario, *, gini_cap: float | None = None) -> AllocationResult:
        """Resolve ``scenario`` against the regions, solve, check, and return the plan.

        The plan is returned only when the independent checker (``optimizer.engine.check``)
        accepts it under the exact formulas; otherwise ``PlanCheckError`` says which
        rules it breaks. An infeasible scenario raises ``InfeasibleError`` naming what the
        arithmetic shows to conflict; ``optimizer.analysis.diagnose.solve_explained``
        adds the conflicting rules and the smallest fixes, which cost further solves.
        When the LP's response approximation is off by more than
        ``approximation.max_error_share`` of the objective, the plan is solved again with
        twice the tangents (at most twice); the plan's scenario records the count used.
        ``gini_cap`` adds the constraint Gini (the LP's) <= gini_cap, for the
        epsilon-constraint method; it needs ``spread_measure: gini``.
        """
        try:
            plan = self._solve(scenario, gini_cap)
            for _ in range(MAX_TANGENT_DOUBLINGS if self.refine else 0):
                approx = plan.scenario.approximation
                if plan.approximation["within_tolerance"]:
                    break
                # the response approximation is too coarse for this plan: twice the tangents
                plan = self._solve(plan.scenario.updated(approximation={
                    **approx.model_dump(), "tangents": 2 * approx.tangents}), gini_cap)
            plan = self._tighten_top_k(plan, gini_cap)
            return verified(plan, self.regions)
        except InfeasibleError as err:
            if gini_cap is not None:
                raise InfeasibleError([f"no plan within the scenario's rules has a Gini of at "
                                       f"most {gini_cap:.4f}"]) from None
            raise err

    def _tighten_top_k(self, plan: AllocationResult, gini_cap: float | None) -> AllocationResult:
        """A plan whose exact top-k share is within the cap.

        Where the cap binds, the LP's capacities can understate the exact ones, so the
        plan is re-solved with the top-k capacities bounded by tangents of the exact
        response at the last plan (``model.set_top_k_linearization``): every such plan
        meets the cap exactly. A few re-linearizations improve it; the best is kept.
        """
        cap = plan.scenario.top_k_share_cap
        if cap is None or _top_k_share(plan, cap.k) <= cap.max_share:
            return plan
        best: AllocationResult | None = None
        at, margin = plan, 0.0
        for _ in range(TOP_K_ATTEMPTS):
            try:
                linear = self._solve(plan.scenario, gini_cap, top_k_at=at.funding_busd())
            except InfeasibleError:
                if best is not None:
                    break
                # too conservative around this plan: move it, with a lower LP share
                margin += _top_k_share(at, cap.k) - cap.max_share + TOP_K_MARGIN
                at = self._solve(plan.scenario, gini_cap, top_k_margin=margin)
                if _top_k_share(at, cap.k) <= cap.max_share:
                    return at
                continue
            if best is not None and linear.objective <= best.objective + 1e-12:
                break
            best = at = linear
        return best if best is not None else plan

    def forget_basis(self) -> None:
        """Drop HiGHS's warm-start basis: the next solve starts without one, so a batch
        of runs gives the same numbers whatever this planner solved before."""
        if self._solver is not None:
            highs_of(self._solver).clearSolver()

    def lp(self) -> LoadedLP:
        """The last solved model as HiGHS holds it (Pyomo model, ``highspy.Highs``,
        row/column maps), for analyses working on HiGHS directly, e.g. ``Highs.getIis``.

        Read-only: changing it changes this planner's next solve. Hold
        ``optimizer.engine.highs.SOLVE_LOCK`` while running HiGHS on it.
        """
        if self._model is None or self._solver is None:
            raise SolverError("solve a scenario before asking for its LP")
        return loaded_lp(self._solver, self._model)

    def ranging(self) -> dict[str, tuple[float, float]]:
        """HiGHS ranging of the last LP solve: the intervals of the budget ($B) and of
        lambda over which its optimal basis stays optimal (``Highs.getRanging``)."""
        mdl, solver = self._model, self._solver
        if mdl is None or solver is None:
            raise SolverError("solve a scenario before ranging")
        status, rng = highs_of(solver).getRanging()
        if status != highspy.HighsStatus.kOk:
            raise SolverError(f"HiGHS could not range this plan ({status})")
        row = row_index(solver, mdl.budget_use)
        spread = mdl.gini_sum if hasattr(mdl, "gini_sum") else mdl.hoover_sum
        col = column_index(solver, spread)
        unit = mdl.unit_busd
        # the objective is mean - lambda * spread: the spread column's cost is -lambda
        return {
            "budget_busd": (max(0.0, rng.row_bound_dn.value_[row]) * unit,
                            rng.row_bound_up.value_[row] * unit),
            "spread_weight": (float(np.clip(-rng.col_cost_up.value_[col], 0.0, 1.0)),
                              float(np.clip(-rng.col_cost_dn.value_[col], 0.0, 1.0))),
        }

    def _apply_gini_cap(self, eps: float | None, inputs: ModelInputs) -> None:
        """Add the Gini cap row on first use; set its epsilon (1, never binding, if off)."""
        mdl, solver = self._model, self._solver
        assert mdl is not None and solver is not None
        if eps is not None and not hasattr(mdl, "gini_cap"):
            if mdl.structure.spread_measure != "gini":
                raise ScenarioError("a Gini cap needs spread_measure: gini")
            add_gini_cap(mdl, inputs.pop_share)
            solver.add_parameters([mdl.gini_eps])
            solver.add_constraints([mdl.gini_cap])
        if hasattr(mdl, "gini_eps"):
            mdl.gini_eps = 1.0 if eps is None else float(eps)

    def _solve(self, scenario: Scenario, gini_cap: float | None = None,
               top_k_at: np.ndarray | None = None, top_k_margin: float = 0.0) -> AllocationResult:
        """Resolve ``scenario`` against the regions, solve, and return the plan.

        The result reports how far the LP's tangent approximation is from the exact
        response at the plan (``approximation``), and whether that is within
        ``scenario.approximation.max_error_share`` of the objective.
        Raises ``ScenarioError``/``DataError`` for invalid input and
        ``InfeasibleError`` (with what to relax) when the constraints conflict.
        """
        inputs = resolve(self.regions, scenario)
        conflicts = precheck(inputs)
        if conflicts:
            raise InfeasibleError(conflicts)
        with SOLVE_LOCK:
            rebuilt = self._prepare(inputs, gini_cap, top_k_at, top_k_margin)
            mdl, solver = self._model, self._solver
            assert mdl is not None and solver is not None
            start = time.perf_counter()
            results = solver.solve(mdl)
            solve_time = time.perf_counter() - start
            clock = results.timing_info.highs_time
            highs_time, self._highs_clock = clock - self._highs_clock, clock
            term = results.termination_condition
            is_mip = inputs.hubs is not None
            timed_out_with_plan = (is_mip and term == TerminationCondition.maxTimeLimit
                                   and results.incumbent_objective is not None)
            if not timed_out_with_plan:
                self._raise_unless_optimal(term, inputs, scenario)
            if results.incumbent_objective is None:
                raise SolverError("HiGHS stopped without a plan; try a longer "
                                  "solver.time_limit_s, or rescale very large or very small inputs")
            objective_lp = float(results.incumbent_objective)
            x, duals, hubs, mip_gap = self._read_plan(results, objective_lp, is_mip)
            approximation = approximation_at(inputs, x, objective_lp)
            self._keep_basis()
            info = SolverInfo(
                status=status_of(term, has_plan=True),
                termination=term.name,
                solver="HiGHS via pyomo.contrib.solver",
                solver_version=".".join(map(str, results.solver_version)),
                rebuilt=rebuilt,
                build_time_s=self._times["build_time_s"],
                translate_time_s=self._times["translate_time_s"],
                start_time_s=self._times["start_time_s"],
                solve_time_s=solve_time,
                highs_time_s=highs_time,
                objective_lp=objective_lp,
                simplex_iterations=int(results.extra_info.simplex_iteration_count or 0),
                mip=is_mip,
                mip_gap=mip_gap,
                proven_optimal=not timed_out_with_plan,
                duals=("lp" if not is_mip else "conditional on the chosen hubs"
                       if duals is not None else "not available"),
                start=self._start,
            )
        return build_result(inputs, x, duals, info, approximation, hubs)

    def _prepare(self, inputs: ModelInputs, gini_cap: float | None,
                 top_k_at: np.ndarray | None, top_k_margin: float) -> bool:
        """The model and HiGHS ready for ``inputs`` (True if rebuilt): Params, the Gini
        cap, the top-k linearization, the time limit and a MIP's gap."""
        rebuilt = self._ensure_model(inputs)
        self._apply_gini_cap(gini_cap, inputs)
        if hasattr(self._model, "topk_lin"):
            set_top_k_linearization(self._model, inputs, top_k_at, top_k_margin)
        assert self._solver is not None
        self._solver.config.time_limit = inputs.scenario.solver.time_limit_s
        if inputs.hubs is not None:
            self._solver.config.rel_gap = inputs.scenario.hubs.mip_rel_gap  # type: ignore[union-attr]
        return rebuilt

    def _read_plan(self, results: Any, objective_lp: float, is_mip: bool
                   ) -> tuple[np.ndarray, Duals | None, np.ndarray | None, float]:
        """The solved plan: funding ($B, n x m), duals, hubs (a MIP) and the MIP gap.

        A MIP's plan is polished by the LP with its hubs fixed: that plan meets the
        money rules to LP precision (a MIP's rows only to its looser feasibility
        tolerance), and its duals are the marginal values given the hubs.
        """
        mdl = self._model
        assert mdl is not None
        x = _array(results.solution_loader.get_vars(list(mdl.x.values())), mdl)
        if not is_mip:
            return x, self._read_duals(results), None, 0.0
        values = results.solution_loader.get_vars(list(mdl.hub.values()))
        hubs = np.array([values[mdl.hub[r]] > 0.5 for r in mdl.R])
        bound = results.objective_bound
        mip_gap = (abs(bound - objective_lp) / max(abs(objective_lp), 1e-9)
                   if bound is not None else float("inf"))
        polished = self._solve_given_hubs(hubs)
        duals = None
        if polished is not None:
            x, duals = polished
            duals = duals if self.mip_duals else None
        return x, duals, hubs, mip_gap

    def _keep_basis(self) -> None:
        """After a large model's first solve: save its basis; re-solves use warm simplex."""
        if self._save_basis:
            assert self._model is not None and self._solver is not None
            save_basis(highs_of(self._solver), self._model.structure)
            self._solver.config.solver_options = dict(WARM_OPTIONS)
            self._save_basis = False

    def _read_duals(self, results) -> Duals:  # type: ignore[no-untyped-def]
        mdl = self._model
        assert mdl is not None
        loader = results.solution_loader
        reduced = (loader.get_reduced_costs(list(mdl.y_in.values()))
                   if mdl.structure.per_capita_floor else None)
        return _duals(loader.get_duals(self._dual_rows), mdl, reduced)

    def _solve_given_hubs(self, hubs: np.ndarray) -> tuple[np.ndarray, Duals] | None:
        """The LP with the hub choice fixed: its plan ($B) and duals (a MIP has none of
        its own); None if it did not solve to optimality."""
        mdl, solver = self._model, self._solver
        assert mdl is not None and solver is not None
        solver.config.rel_gap = None
        with hubs_fixed(solver, list(mdl.hub.values()), hubs):
            results = solver.solve(mdl)
            self._highs_clock = results.timing_info.highs_time
            if results.termination_condition != TerminationCondition.convergenceCriteriaSatisfied:
                return None
            x = _array(results.solution_loader.get_vars(list(mdl.x.values())), mdl)
            return x, self._read_duals(results)

    @staticmethod
    def _raise_unless_optimal(term: TerminationCondition, inputs: ModelInputs,
                              scenario: Scenario) -> None:
        if term in (TerminationCondition.provenInfeasible,
                    TerminationCondition.infeasibleOrUnbounded):
            raise InfeasibleError(explain_infeasible(inputs))
        if term == TerminationCondition.maxTimeLimit:
            raise SolverError(
                f"HiGHS reached the time limit of {scenario.solver.time_limit_s:g} s "
                "without an optimal plan; raise solver.time_limit_s"
            )
        if term != TerminationCondition.convergenceCriteriaSatisfied:
            raise SolverError(f"HiGHS stopped without an optimal plan ({term.name}); try a longer "
                              "solver.time_limit_s, or rescale very large or very small inputs")


def status_of(term: TerminationCondition, has_plan: bool) -> Status:
    """The plan's status from the solver's termination: a solve stopped at its time limit
    with a plan (a MIP's incumbent) reports that, not optimal."""
    if term == TerminationCondition.convergenceCriteriaSatisfied:
        return Status.OPTIMAL
    if term == TerminationCondition.maxTimeLimit and has_plan:
        return Status.TIME_LIMIT
    if term in (TerminationCondition.provenInfeasible, TerminationCondition.infeasibleOrUnbounded):
        return Status.INFEASIBLE
    return Status.ERROR


def approximation_at(inputs: ModelInputs, x: np.ndarray, objective_lp: float) -> dict[str, Any]:
    """How far the LP's tangent approximation is from the exact response at plan ``x``."""
    approx = inputs.scenario.approximation
    exact = exact_objective(inputs, x)
    error_share = (objective_lp - exact) / max(abs(exact), 1e-12)
    return {
        "objective_lp": objective_lp,
        "objective_exact": exact,
        "error_share": error_share,
        "max_term_error_points": float(
            (lp_gain_points(inputs, x) - gain_points(x, inputs)).max()),
        "tangents": approx.tangents,
        "within_tolerance": bool(error_share <= approx.max_error_share),
    }


def exact_objective(inputs: ModelInputs, x_busd: np.ndarray) -> float:
    """S_lambda of an allocation with the exact response."""
    final = inputs.c0 + gain_points(x_busd, inputs).sum(axis=1)
    return concentration(final, inputs.population, inputs.scenario.spread_weight)[
        inputs.scenario.objective_key]


def _array(values: dict, mdl: pyo.ConcreteModel) -> np.ndarray:
    """The funding variables' values as an (n, m) array in $B (from the model's unit)."""
    out = np.zeros((len(mdl.R), len(mdl.I)))
    for (r, i), v in mdl.x.items():
        out[r, i] = values[v]
    return np.maximum(out, 0.0) * mdl.unit_busd


def _top_k_share(plan: AllocationResult, k: int) -> float:
    """The share of exact final capacity held by the plan's k largest regions."""
    final = plan.regions["final_capacity"].to_numpy()
    return float(np.sort(final)[-k:].sum() / final.sum())


def verified(plan: AllocationResult, regions: Regions) -> AllocationResult:
    """``plan`` if the independent checker accepts it, else ``PlanCheckError``.

    The check's time is recorded in ``plan.solver.check_time_s``.
    """
    clock = time.perf_counter()
    hubs = (set(plan.regions.loc[plan.regions["hub"], "region_id"])
            if plan.scenario.hubs is not None else None)
    report = check(plan.allocation, regions, plan.scenario, reported=plan.metrics_after,
                   reported_before=plan.metrics_before, hubs=hubs)
    if not report.ok:
        raise PlanCheckError(report)
    return dataclasses.replace(plan, solver=plan.solver.checked(time.perf_counter() - clock))


def _duals(raw: dict, mdl: pyo.ConcreteModel, reduced_costs: dict | None = None) -> Duals:
    """Marginal values of the constraints a user set, in objective points per unit.

    The per-capita floor is a lower bound on every y_r, so its marginal value is the sum
    of the reduced costs of the y_r it holds (``reduced_costs``).
    """
    per_busd = 1.0 / mdl.unit_busd  # the money rows are in the model's unit
    return Duals(
        budget=float(raw[mdl.budget_use]) * per_busd,
        region=np.array([raw[mdl.region_bounds[r]] for r in mdl.R]) * per_busd,
        instrument=np.array([raw[mdl.instrument_share[i]] for i in mdl.I]) * per_busd,
        group=np.array([raw[mdl.group_min[g]] for g in mdl.G]) * per_busd,
        top_k_share=float(raw[mdl.topk_cap]) if hasattr(mdl, "topk_cap") else 0.0,
        per_capita_floor=float(sum(reduced_costs.values())) if reduced_costs else 0.0,
    )

