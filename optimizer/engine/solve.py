"""Solve: the declared model (``optimizer.engine.model``) in one HiGHS instance, refined.

A ``Solver`` holds one declared, compiled and loaded model and the loop every path
shares: it solves, reads the plan (a MIP: then the LP of its hubs, for exact money rows
and duals), measures the response approximation at the plan against the exact response
for every score the model carries, and adds tangents where the plan sits until each is
within the scenario's tolerance (warm simplex re-solves); the top-k share cap, which no
LP over a concave response states exactly, is re-linearized at the plan
(``tighten_top_k``). A ``Planner`` keeps one Solver per regions table: a scenario of the
same structure only writes changed numbers and re-solves from the last basis. Consensus
and robust plans build a Solver with score blocks and a goal on the same declaration.

Each Solver owns its ``highspy.Highs``; nothing is shared between instances, so
planners in different threads solve at the same time.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import highspy
import numpy as np
from pyomo.common.gc_manager import PauseGC
from pyomo.contrib.solver.common.results import TerminationCondition

from optimizer.engine.check import check_funding, money_tolerance_usd
from optimizer.engine.compile import Compiled
from optimizer.engine.data import Regions
from optimizer.engine.errors import InfeasibleError, PlanCheckError, ScenarioError, SolverError
from optimizer.engine.feasibility import explain_infeasible, precheck
from optimizer.engine.growth import (
    at_rates,
    follows_plan,
    no_policy,
    over_time,
    plan_path,
    plan_rates,
    scenario_objective,
    trajectory_table,
    unlinearized_objective,
    yearly_gains,
    yearly_metrics,
)
from optimizer.engine.highs import LoadedModel, Solution
from optimizer.engine.inputs import BUSD, ModelInputs, resolve
from optimizer.engine.metrics import spread_adjusted
from optimizer.engine.model import (
    Structure,
    add_score_block,
    declare,
    fixed_choice,
    money_unit_busd,
    numbers,
    same_capacity,
    set_goal,
    structure_of,
)
from optimizer.engine.response import gain_points
from optimizer.engine.result import (
    AllocationResult,
    Duals,
    DualsSource,
    SolverInfo,
    Status,
    build_result,
)
from optimizer.engine.scenario import Scenario
from optimizer.engine.start.basis import (
    CROSSOVER_START_OPTIONS,
    LARGE_MODEL_COLUMNS,
    WARM_OPTIONS,
    set_options,
    start_from_point,
)
from optimizer.engine.start.estimate import estimate_plan
from optimizer.engine.tangents import tangent_layout

MAX_ROUNDS = 12  # outer-approximation rounds per solve (each a warm re-solve)
LOOP_TARGET = 0.5  # the loop stops at this share of approximation.max_error_share
TANGENT_TARGET = 0.25  # a round adds tangents to every term whose error exceeds this share of its allowance
MIN_SPACING, MAX_SPACING = 1e-4, 1.0  # neighbouring tangents, apart in ln(1 + u)
# tangents on either side of a new one, and the coarse first layout (points, of which
# past the dense zone): fewer on large LPs, where every column costs each simplex iteration
NEIGHBOURS = {"small": 2, "large": 1}
FIRST_LAYOUT = {"small": (8, 2), "large": (4, 1)}
LARGE_TERMS = 5_000  # regions x instruments from which an LP is large
# the estimated plan's effort (start.estimate: rounds, price and level steps): a small
# LP only places its first tangents by it, a large one starts its simplex from it
ESTIMATE_EFFORT = {"small": (6, 30, 16), "large": (12, 40, 25)}
MAX_GROWTH = 4.0  # tangents re-solves may add, as a multiple of the first ones, before a rebuild
# growth.rates_from: plan: re-solves at the plan's own rates, and how little (a year's
# rate, e.g. 0.0375) they may still move when the plan is taken
RATE_ROUNDS = 30
RATE_TOLERANCE = 1e-9
TOP_K_ATTEMPTS = 6  # re-solves with the top-k cap linearized at the last plan
TOP_K_MARGIN = 1e-6  # when moving the plan, lower the LP's top-k share past the overshoot
# every LP (a plan's, and a MIP's with its choice fixed) holds each row to this share of
# the checker's money tolerance, within what HiGHS accepts (its LP default at most):
# see ``lp_tolerance``
LP_TOLERANCE_SHARE = 0.1
LP_TOLERANCE_RANGE = (1e-10, 1e-7)

_TERMINATION = {
    highspy.HighsModelStatus.kOptimal: TerminationCondition.convergenceCriteriaSatisfied,
    highspy.HighsModelStatus.kInfeasible: TerminationCondition.provenInfeasible,
    highspy.HighsModelStatus.kUnboundedOrInfeasible: TerminationCondition.infeasibleOrUnbounded,
    highspy.HighsModelStatus.kUnbounded: TerminationCondition.unbounded,
    highspy.HighsModelStatus.kTimeLimit: TerminationCondition.maxTimeLimit,
    highspy.HighsModelStatus.kIterationLimit: TerminationCondition.iterationLimit,
}


class Solver:
    """One declared model in HiGHS, with the loop that refines its plans.

    ``views`` None: the plan's own model (its objective, S of ``inputs``). Otherwise a
    score block per view (``model.add_score_block``) and ``goal`` over them
    (``model.set_goal``): consensus, mean, cvar or worst. ``inputs`` always gives the
    rules (who may be funded, bounds, hubs, the top-k cap) and the response geometry.
    """

    def __init__(self, inputs: ModelInputs, views: Sequence[ModelInputs] | None = None,
                 goal: str = "plan", alpha: float = 0.1, *, mip_duals: bool = True,
                 refine: bool = True, gini_cap: float | None = None) -> None:
        clock = time.perf_counter()
        self.inputs, self.mip_duals, self.refine = inputs, mip_duals, refine
        sc = inputs.scenario
        if views is None and sc.periods.years > 1 and sc.objective_year == "discounted":
            # every year's S, weighted by the discount: a score block per year
            views = [over_time(inputs, year) for year in range(1, sc.periods.years + 1)]
            goal = "weighted"
            alpha = sc.discount_rate
        self.views: list[ModelInputs] = [response_of(inputs)] if views is None else list(views)
        self.own_objective = views is None  # the LP objective is the plan's own S
        self.goal, self.alpha = goal, alpha
        with PauseGC():  # the declaration makes many small objects, none of them garbage
            mdl = declare(inputs, spread=views is None)
            if views is not None:
                scores = [add_score_block(mdl, f"view_{k}", v, same_capacity(inputs, v))
                          for k, v in enumerate(self.views)]
                set_goal(mdl, scores, goal, alpha)
            compiled = Compiled(mdl)
        self.structure: Structure = mdl.structure
        self.build_time_s = time.perf_counter() - clock
        clock = time.perf_counter()
        unit = money_unit_busd(inputs.budget_busd)
        terms = response_of(inputs)  # over time: one column per (year, instrument)
        p = compiled.p_with(compiled.p0, _declared(compiled, numbers(inputs, gini_cap=gini_cap)))
        self.loaded = LoadedModel(compiled, p, (terms.saturation_busd / unit).ravel(), unit,
                                  (terms.n, len(terms.instruments)))
        self.translate_time_s = time.perf_counter() - clock
        clock = time.perf_counter()
        estimate = (None if inputs.hubs is not None  # a hub MIP: the whole fixed layout
                    else estimate_plan(terms, ESTIMATE_EFFORT[_size(terms)]))
        self.first_tangents = self.loaded.add_tangents(*first_tangents(terms, estimate))
        self.start = "HiGHS's own start"
        if (views is None and estimate is not None and terms.years == 1
                and self.loaded.highs.getNumCol() >= LARGE_MODEL_COLUMNS):
            # large LP: crossover from the estimated plan, then the primal simplex method
            if start_from_point(self.loaded.highs, self.loaded.point_at(inputs, estimate)):
                self.start = "estimated plan + crossover"
                set_options(self.loaded.highs, CROSSOVER_START_OPTIONS)
        self.start_time_s = time.perf_counter() - clock
        self.solves = 0

    @classmethod
    def restored(cls, checkpoint: Checkpoint) -> Solver:
        """A Solver loaded from ``checkpoint`` in a fresh HiGHS: its numbers, tangents
        and basis, nothing else of what solved before."""
        self = cls.__new__(cls)
        self.inputs, self.own_objective = checkpoint.inputs, True
        self.goal, self.alpha = "plan", 0.0
        self.views = [response_of(checkpoint.inputs)]
        self.mip_duals, self.refine = checkpoint.mip_duals, checkpoint.refine
        self.structure = structure_of(checkpoint.inputs)
        loaded = LoadedModel(checkpoint.lp, checkpoint.p, checkpoint.sat_units,
                             money_unit_busd(checkpoint.inputs.budget_busd),
                             (self.views[0].n, len(self.views[0].instruments)))
        loaded.add_tangents(checkpoint.tangent_term, checkpoint.tangent_u, as_given=True)
        if loaded.highs.setBasis(checkpoint.basis) != highspy.HighsStatus.kOk:
            raise SolverError("HiGHS refused a checkpoint's basis")
        self.loaded, self.first_tangents = loaded, checkpoint.first_tangents
        self.start, self.solves = "the previous solve's basis", 0
        self.build_time_s = self.translate_time_s = self.start_time_s = 0.0
        return self

    def checkpoint(self) -> Checkpoint:
        """This model as the last solve left it, to restore later (``restored``)."""
        loaded = self.loaded
        return Checkpoint(loaded.lp, loaded.p.copy(), loaded.sat_units, self.inputs,
                          loaded.tangent_term.copy(), loaded.tangent_u.copy(),
                          self.first_tangents, self.mip_duals, self.refine,
                          loaded.highs.getBasis())

    def update(self, inputs: ModelInputs, **values: Any) -> None:
        """Write the numbers of ``inputs`` (same structure; ``values`` as ``model.numbers``
        takes them) into the loaded model: a re-solve starts from the last basis."""
        if structure_of(inputs) != self.structure:
            raise ValueError("inputs change the model's structure; build a new Solver")
        self.inputs = inputs
        if self.own_objective:
            self.views = [response_of(inputs, values.get("year"))]
        elif self.structure.years > 1 and inputs.scenario.objective_year == "discounted":
            self.views = [over_time(inputs, year) for year in range(1, self.structure.years + 1)]
        self.loaded.update(_declared(self.loaded.lp, numbers(inputs, **values)))
        self.start = "the previous solve's basis"

    def set(self, params: Mapping[str, Any]) -> None:
        """Set Params of the goal (``model.set_goal``): consensus weights, t's floor."""
        self.loaded.update(params)

    @property
    def crowded(self) -> bool:
        """Whether re-solves have added over ``MAX_GROWTH`` times the first tangents (a
        long session wandering over many plans would otherwise slow every iteration)."""
        return self.loaded.tangent_term.size > MAX_GROWTH * self.first_tangents

    # -- the loop --

    def solve(self, top_k_at: np.ndarray | None = None, top_k_margin: float = 0.0) -> Outcome:
        """Solve as the model stands (the top-k cap linearized at ``top_k_at``, or on the
        outer capacities with the LP's share lowered by ``top_k_margin``), then add
        tangents where the plan's response error is large and re-solve, until every
        score's error is within tolerance (or the rounds run out)."""
        inputs, loaded = self.inputs, self.loaded
        if self.structure.top_k is not None:
            loaded.update({k: v for k, v in numbers(inputs, top_k_at, top_k_margin).items()
                           if k.startswith("topk_")})
        _set_options(loaded, inputs)
        highs_time, iterations = 0.0, 0
        limit = LOOP_TARGET * inputs.scenario.approximation.max_error_share
        first: Outcome | None = None
        for rounds in range(1, MAX_ROUNDS + 1):
            outcome = self._solve_once(first)
            first = first or outcome
            if self.start == "estimated plan + crossover":
                set_options(loaded.highs, WARM_OPTIONS)  # later runs: dual simplex, warm
            highs_time += outcome.highs_time
            iterations += outcome.iterations
            approx = outcome.approximation
            if approx["error_share"] <= limit or not self.refine or rounds == MAX_ROUNDS:
                break
            added = 0
            for view, exact in zip(self.views, approx["view_exact"], strict=True):
                added += loaded.add_tangents(*tangents_for(view, loaded, outcome.x, exact))
            if not added:
                break
        approx = {k: v for k, v in outcome.approximation.items()
                  if k not in ("view_exact", "mip_bound")}
        approx.update(iterations=rounds, tangents=int(loaded.tangent_term.size),
                      max_tangents_per_term=int(np.bincount(loaded.tangent_term).max(initial=0)))
        return dataclasses.replace(outcome, highs_time=highs_time, iterations=iterations,
                                   approximation=approx, top_k_at=top_k_at)

    def _solve_once(self, first: Outcome | None = None) -> Outcome:
        """One HiGHS run (a MIP: then the LP of its binary choice), read as a plan.

        A MIP chooses once: later rounds (``first``, the round that chose) refine the
        tangents on the LP of that choice. The first tangents are an outer approximation,
        so the MIP's dual bound bounds every choice's exact objective from above, and the
        gap reported is that bound's distance from the final plan's exact objective."""
        inputs, loaded = self.inputs, self.loaded
        is_mip = bool(loaded.lp.integer.any())
        highs = loaded.highs
        if is_mip and first is not None and first.hubs is not None:
            polished, spent, objective_given = self._given_hubs(first.hubs)
            if polished is None:
                raise SolverError("HiGHS could not solve the LP of the chosen regions")
            fixed_x, fixed_duals = polished
            objective = float(objective_given or 0.0)
            approx = self.approximation_at(fixed_x, objective)
            return Outcome(fixed_x, fixed_duals if self.mip_duals else None, first.hubs,
                           first.term, objective, spent, 0, _proven_gap(first, approx), approx)
        spent = loaded.run()
        self.solves += 1
        term = _termination(highs)
        info = highs.getInfo()
        timed_out_with_plan = (is_mip and term == TerminationCondition.maxTimeLimit
                               and info.primal_solution_status == 2)
        if not timed_out_with_plan:
            _raise_unless_optimal(term, inputs)
        objective = float(info.objective_function_value)
        iterations = int(info.simplex_iteration_count)
        if not is_mip:
            x = _funding(loaded)
            return Outcome(x, _duals_of(loaded, self.structure.per_capita_floor), None, term,
                           objective, spent, iterations, 0.0,
                           self.approximation_at(x, objective))
        hubs = loaded.column_values("hub" if inputs.hubs is not None else "center") > 0.5
        bound = info.mip_dual_bound
        mip_gap = (abs(bound - objective) / max(abs(objective), 1e-9)
                   if np.isfinite(bound) else float("inf"))
        polished, more, objective_given = self._given_hubs(hubs)
        x, duals = (polished if polished is not None else (_funding(loaded), None))
        objective = objective if objective_given is None else objective_given
        approx = {**self.approximation_at(x, objective), "mip_bound": float(bound)}
        return Outcome(x, duals if self.mip_duals else None, hubs, term, objective,
                       spent + more, iterations, mip_gap, approx)

    def _given_hubs(self, hubs: np.ndarray
                    ) -> tuple[tuple[np.ndarray, DualsSource] | None, float, float | None]:
        """The LP with the hub choice fixed, which gives a hub plan its funding ($B),
        duals (a MIP has none of its own) and objective, None if it did not solve to
        optimality; and HiGHS's time.

        Its award rows hold each hub to its exact award range (``model.fixed_hub_awards``),
        and it runs at the primal feasibility tolerance of ``lp_tolerance``, so every
        money row holds as the checker reads it: a HiGHS MIP run leaves the instance at
        its MIP feasibility tolerance (1e-6, $1,000 in $B units), at which this LP gave
        hubs $1,000 past an award maximum of $0. Should it not solve so (a hub choice
        feasible only within the MIP's tolerance), it runs once more at the MIP's
        tolerance. The hub Params, integrality and the MIP's tolerance are put back
        afterwards.
        """
        inputs, loaded = self.inputs, self.loaded
        highs = loaded.highs
        fixed = fixed_choice(inputs, hubs)
        before = {name: loaded.p[loaded.lp.slots(name)].copy() for name in fixed}
        mip_tolerance = highs.getOptions().primal_feasibility_tolerance
        loaded.update(fixed)
        loaded.set_integer(False)
        spent = 0.0
        try:
            for tolerance in (lp_tolerance(inputs, loaded.unit), mip_tolerance):
                highs.setOptionValue("primal_feasibility_tolerance", tolerance)
                spent += loaded.run()
                self.solves += 1
                if _termination(highs) == TerminationCondition.convergenceCriteriaSatisfied:
                    objective = float(highs.getInfo().objective_function_value)
                    duals = _duals_of(loaded, self.structure.per_capita_floor)
                    return (_funding(loaded), duals), spent, objective
            return None, spent, None
        finally:
            highs.setOptionValue("primal_feasibility_tolerance", mip_tolerance)
            loaded.set_integer(True)
            loaded.update(before)

    def approximation_at(self, x: np.ndarray, objective_lp: float) -> dict[str, Any]:
        """How far the LP's tangent approximation is from the exact response at plan
        ``x``, for every score: the plan's own (its LP objective against its exact S),
        or each view's (its S on the loaded envelope against its exact S); the largest
        relative error counts."""
        tolerance = self.inputs.scenario.approximation.max_error_share
        envelope = self.loaded.envelope_busd(x)
        errors, exact, term_error = [], [], 0.0
        for view in self.views:
            gain = gain_points(x, view)
            s = exact_objective(view, x, gain)
            lp_gain = view.effectiveness * view.multiplier * envelope
            lp = objective_lp if self.own_objective else exact_objective(view, x, lp_gain)
            errors.append((lp - s) / max(abs(s), 1e-12))
            exact.append(s)
            term_error = max(term_error, float((lp_gain - gain).max()))
        worst = float(max(errors))
        goal = (exact[0] if self.own_objective
                else sum(s / (1.0 + self.alpha) ** (k + 1) for k, s in enumerate(exact))
                if self.goal == "weighted" else float("nan"))  # other goals: their callers'
        return {"objective_lp": objective_lp, "objective_exact": float(goal),
                "error_share": worst, "max_term_error_points": term_error,
                "within_tolerance": bool(worst <= tolerance), "view_exact": exact}


def solver_info(solver: Solver, outcome: Outcome, rebuilt: bool, solve_time_s: float,
                start: str | None = None) -> SolverInfo:
    """What a plan records of its solve: status, times, HiGHS's objective and effort."""
    return SolverInfo(
        status=status_of(outcome.term, has_plan=True),
        termination=outcome.term.name,
        solver="HiGHS (highspy)",
        solver_version=solver.loaded.highs.version(),
        rebuilt=rebuilt,
        build_time_s=solver.build_time_s,
        translate_time_s=solver.translate_time_s,
        start_time_s=solver.start_time_s,
        solve_time_s=solve_time_s,
        highs_time_s=outcome.highs_time,
        objective_lp=outcome.objective,
        simplex_iterations=outcome.iterations,
        mip=outcome.hubs is not None,
        mip_gap=outcome.mip_gap,
        proven_optimal=outcome.term == TerminationCondition.convergenceCriteriaSatisfied,
        duals=("lp" if outcome.hubs is None else "conditional on the chosen hubs"
               if outcome.duals is not None else "not available"),
        start=start or solver.start,
    )


def over_time_result(plan: AllocationResult, inputs: ModelInputs,
                     x_busd: np.ndarray) -> AllocationResult:
    """A plan over time's result: its trajectory, and with a discounted objective that
    objective (every year's S_lambda, discounted) beside the final year's metrics, for
    the plan and for no plan; and, in ``approximation``, its objective on the
    unlinearized dynamics (``growth.unlinearized_objective``)."""
    sc = inputs.scenario
    yearly = by_year(x_busd, sc.periods.years)
    growth = sc.growth
    with_plan = plan_path(inputs, yearly, growth.base_rate, growth.agglomeration_elasticity,
                          inputs.growth_rates)
    without, _ = no_policy(inputs)
    unlinearized = unlinearized_objective(inputs.c0, inputs.population,
                                          yearly_gains(inputs, yearly), sc)
    plan = dataclasses.replace(
        plan, trajectory_table=functools.partial(trajectory_table, inputs, yearly),
        yearly_table=functools.partial(yearly_metrics, without, with_plan, inputs.population,
                                       sc.spread_weight),
        approximation={**plan.approximation, "unlinearized_objective": unlinearized})
    if sc.objective_year != "discounted":
        return plan
    key = sc.objective_key
    return dataclasses.replace(
        plan, metrics_after={**plan.metrics_after,
                             key: scenario_objective(with_plan, inputs.population, sc)},
        metrics_before={**plan.metrics_before,
                        key: scenario_objective(without, inputs.population, sc)})


def by_year(x: np.ndarray, years: int) -> np.ndarray:
    """(T, n, m) a plan over time's funding from its (n, T*m) columns (year-major)."""
    n = x.shape[0]
    return x.reshape(n, years, -1).transpose(1, 0, 2)


def response_of(inputs: ModelInputs, year: int | None = None) -> ModelInputs:
    """The plan's response as the LP sees it: ``inputs``, or over time one column per
    (year, instrument) carried to the final year, or to ``year`` (``growth.over_time``)."""
    return over_time(inputs, year) if inputs.scenario.periods.years > 1 else inputs


def _declared(lp: Compiled, values: dict[str, Any]) -> dict[str, Any]:
    """The numbers of Params the model declares (a model of views has no plan objective,
    so no lambda or Gini cap)."""
    return {k: v for k, v in values.items() if k in lp.params}


def _proven_gap(first: Outcome, approx: dict[str, Any]) -> float:
    """The relative gap between the choosing MIP's dual bound (an upper bound of every
    choice's exact objective) and a plan's exact objective; the MIP's own where the goal
    has no exact objective of its own (views)."""
    bound, exact = first.approximation.get("mip_bound"), approx.get("objective_exact")
    if bound is None or exact is None or not np.isfinite(bound) or not np.isfinite(exact):
        return first.mip_gap
    return max(float(bound - exact) / max(abs(exact), 1e-9), first.mip_gap)


def tighten_top_k(solver: Solver, first: Outcome, rank: Callable[[Outcome], float]) -> Outcome:
    """A plan whose exact top-k share is within the cap.

    Where the cap binds, the LP's capacities can understate the exact ones, so the plan
    is re-solved with the top-k capacities bounded by tangents of the exact response at
    the last plan: every such plan meets the cap exactly. A few re-linearizations
    improve it (by ``rank``, larger is better); the best is kept. Without a plan that
    meets it, the first comes back (and the checker says why).
    """
    inputs = solver.inputs
    cap = inputs.scenario.top_k_share_cap
    if cap is None or top_k_share(inputs, first.x, cap.k) <= cap.max_share:
        return first
    best: Outcome | None = None
    at, margin = first.x, 0.0
    for _ in range(TOP_K_ATTEMPTS):
        try:
            linear = solver.solve(top_k_at=at)
        except InfeasibleError:
            if best is not None:
                break
            # too conservative around this plan: move it, with a lower LP share
            margin += top_k_share(inputs, at, cap.k) - cap.max_share + TOP_K_MARGIN
            moved = solver.solve(top_k_margin=margin)
            if top_k_share(inputs, moved.x, cap.k) <= cap.max_share:
                return moved
            at = moved.x
            continue
        if best is not None and rank(linear) <= rank(best) + 1e-12:
            break
        best = linear
        at = linear.x
    return best if best is not None else first


def top_k_share(inputs: ModelInputs, x_busd: np.ndarray, k: int) -> float:
    """The share of exact final capacity held by the k largest regions under plan ``x``."""
    final = inputs.c0 + gain_points(x_busd, inputs).sum(axis=1)
    return float(np.sort(final)[-k:].sum() / final.sum())


class Planner:
    """Solves scenarios on one regions table, reusing the loaded model between solves.

    Changing weights, lambda, theta, the budget or bounds only writes the changed
    numbers into HiGHS and re-solves from the last basis; other changes rebuild it.

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
        """``refine``: add tangents until the response approximation is within the
        scenario's tolerance (off only where just feasibility matters, as in diagnosis)."""
        self.regions = regions
        self.mip_duals = mip_duals
        self.refine = refine
        self._solver: Solver | None = None

    def _ensure_model(self, inputs: ModelInputs, gini_cap: float | None) -> tuple[Solver, bool]:
        """The loaded model with the scenario's numbers written, or a new one: when the
        structure changes, or re-solves have crowded it with tangents. True if new."""
        solver = self._solver
        if solver is not None and solver.structure == structure_of(inputs) and not solver.crowded:
            clock = time.perf_counter()
            solver.update(inputs, gini_cap=gini_cap)
            solver.build_time_s = time.perf_counter() - clock
            solver.translate_time_s = solver.start_time_s = 0.0
            return solver, False
        self._solver = Solver(inputs, mip_duals=self.mip_duals, refine=self.refine,
                              gini_cap=gini_cap)
        return self._solver, True

    def solve(self, scenario: Scenario, *, gini_cap: float | None = None) -> AllocationResult:
        """Resolve ``scenario`` against the regions, solve, check, and return the plan.

        The plan is returned only when the independent checker (``optimizer.engine.check``)
        accepts it under the exact formulas; otherwise ``PlanCheckError`` says which
        rules it breaks. An infeasible scenario raises ``InfeasibleError`` naming what the
        arithmetic shows to conflict; ``optimizer.analysis.diagnose.solve_explained``
        adds the conflicting rules and the smallest fixes, which cost further solves.
        The LP's response approximation is refined until it is off by at most
        ``approximation.max_error_share`` of the objective (``plan.approximation`` says
        by how much, after how many rounds, with how many tangents).
        ``gini_cap`` adds the constraint Gini (the LP's) <= gini_cap, for the
        epsilon-constraint method; it needs ``spread_measure: gini``.
        """
        inputs = resolve(self.regions, scenario)
        conflicts = precheck(inputs)
        if conflicts:
            raise InfeasibleError(conflicts)
        if gini_cap is not None and inputs.scenario.spread_measure != "gini":
            raise ScenarioError("a Gini cap needs spread_measure: gini")
        start = time.perf_counter()
        try:
            if follows_plan(inputs):
                solver, rebuilt, outcome, inputs = self._at_own_rates(inputs, gini_cap)
            else:
                solver, rebuilt, outcome = self._solve_loaded(inputs, gini_cap)
        except InfeasibleError as err:
            if gini_cap is not None:
                raise InfeasibleError([f"no plan within the scenario's rules has a Gini of at "
                                       f"most {gini_cap:.4f}"]) from None
            raise err
        setup = solver.build_time_s + solver.translate_time_s + solver.start_time_s
        info = solver_info(solver, outcome, rebuilt, time.perf_counter() - start - setup)
        plan = build_result(response_of(inputs), outcome.x, outcome.duals, info,
                            outcome.approximation, outcome.hubs)
        if inputs.years == 1 and inputs.scenario.periods.years > 1:
            plan = over_time_result(plan, inputs, outcome.x)
        if outcome.approximation.get("rates_converged") is False:
            plan = dataclasses.replace(plan, notes=[*plan.notes, (
                f"The growth rates still moved by {outcome.approximation['rate_change']:.1e} "
                f"a year after {outcome.approximation['rate_rounds']} solves at the plan's own "
                "rates: the plan and its path are checked as they stand, but another solve "
                "could move them.")])
        return verified(plan, self.regions)

    def _solve_loaded(self, inputs: ModelInputs, gini_cap: float | None
                      ) -> tuple[Solver, bool, Outcome]:
        """One solve of ``inputs`` on the loaded model (built if need be), the top-k cap
        tightened; and whether the model was built."""
        solver, rebuilt = self._ensure_model(inputs, gini_cap)
        first = solver.solve()
        outcome = tighten_top_k(solver, first,
                                lambda o: float(o.approximation["objective_exact"]))
        return solver, rebuilt, outcome

    def _at_own_rates(self, inputs: ModelInputs, gini_cap: float | None
                      ) -> tuple[Solver, bool, Outcome, ModelInputs]:
        """``growth.rates_from: plan``: solve at the no-policy path's rates, read the
        rates off the plan's own (unlinearized) path, solve again at those, until they
        move by at most ``RATE_TOLERANCE`` (or ``RATE_ROUNDS`` solves). Each round only
        rewrites numbers. Returns the inputs at the last plan's own rates, at which its
        reported path is exactly its unlinearized one."""
        rates: np.ndarray | None = None
        current = no_policy(inputs)[1]
        built, highs_time, iterations, rounds, moved = False, 0.0, 0, 0, np.inf
        while moved > RATE_TOLERANCE and rounds < RATE_ROUNDS:
            solver, rebuilt, outcome = self._solve_loaded(at_rates(inputs, rates), gini_cap)
            built |= rebuilt
            highs_time += outcome.highs_time
            iterations += outcome.iterations
            rounds += 1
            rates = plan_rates(inputs, by_year(outcome.x, inputs.scenario.periods.years))
            moved = float(np.abs(rates - current).max())
            current = rates
        approx = {**outcome.approximation, "rate_rounds": rounds, "rate_change": moved,
                  "rates_converged": moved <= RATE_TOLERANCE}
        outcome = dataclasses.replace(outcome, highs_time=highs_time, iterations=iterations,
                                      approximation=approx)
        return solver, built, outcome, at_rates(inputs, rates)

    def forget_basis(self) -> None:
        """Drop the loaded model, its basis and the tangents earlier solves added: the
        next solve starts afresh, so a batch of runs gives the same numbers whatever this
        planner solved before."""
        self._solver = None

    def checkpoint(self) -> Checkpoint:
        """The loaded model as the last solve left it (its numbers, tangents and basis),
        to ``restore`` later, here or in another process."""
        if self._solver is None:
            raise SolverError("solve a scenario before taking a checkpoint")
        return self._solver.checkpoint()

    def restore(self, checkpoint: Checkpoint) -> None:
        """Load ``checkpoint`` into a fresh HiGHS: the next solve re-solves from its
        basis, with its tangents. A fresh instance carries nothing of what this planner
        solved before, so runs after a restore give the same numbers in any process."""
        self._solver = Solver.restored(checkpoint)

    def lp(self) -> LoadedModel:
        """The last solved model as HiGHS holds it (``.highs``, a ``highspy.Highs``;
        ``.lp`` its compiled blocks of columns and rows), for analyses on HiGHS directly.
        Read-only: changing it changes this planner's next solve."""
        if self._solver is None:
            raise SolverError("solve a scenario before asking for its LP")
        return self._solver.loaded

    def ranging(self) -> dict[str, tuple[float, float]]:
        """HiGHS ranging of the last LP solve: the intervals of the budget ($B) and of
        lambda over which its optimal basis stays optimal (``Highs.getRanging``)."""
        if self._solver is None:
            raise SolverError("solve a scenario before ranging")
        loaded = self._solver.loaded
        lp = loaded.lp
        status, rng = loaded.highs.getRanging()
        if status != highspy.HighsStatus.kOk:
            raise SolverError(f"HiGHS could not range this plan ({status})")
        row = lp.rows["budget_use"].start
        col = lp.cols["gini_sum" if "gini_sum" in lp.cols else "hoover_sum"].start
        unit = loaded.unit
        # the objective is mean - lambda * spread: the spread column's cost is -lambda
        return {
            "budget_busd": (max(0.0, rng.row_bound_dn.value_[row]) * unit,
                            rng.row_bound_up.value_[row] * unit),
            "spread_weight": (float(np.clip(-rng.col_cost_up.value_[col], 0.0, 1.0)),
                              float(np.clip(-rng.col_cost_dn.value_[col], 0.0, 1.0))),
        }


@dataclasses.dataclass(frozen=True, eq=False)
class Checkpoint:
    """A solved LP to load again (``Planner.checkpoint``/``restore``): its structure,
    the numbers last written, its tangents (term r*m + i, point u) and its basis (a
    copy HiGHS made; a checkpoint stays in the process that took it)."""

    lp: Compiled
    p: np.ndarray
    sat_units: np.ndarray
    inputs: ModelInputs
    tangent_term: np.ndarray
    tangent_u: np.ndarray
    first_tangents: int
    mip_duals: bool
    refine: bool
    basis: highspy.HighsBasis


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One solve read back: funding ($B), duals, hubs, termination, LP objective,
    HiGHS's time and iterations, the MIP gap, the approximation record, and where the
    top-k cap was linearized (None: on the outer capacities)."""

    x: np.ndarray
    duals: DualsSource | None
    hubs: np.ndarray | None
    term: TerminationCondition
    objective: float
    highs_time: float
    iterations: int
    mip_gap: float
    approximation: dict[str, Any]
    top_k_at: np.ndarray | None = None


def first_tangents(inputs: ModelInputs, estimate: np.ndarray | None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The first tangent points of every (r, i): (term r*m + i, u = x/s).

    A coarse layout (``model.tangent_layout`` with ``FIRST_LAYOUT`` points, from u = 0,
    exact at no funding, to the whole budget in one place) bounds the error anywhere;
    the estimated optimal plan (``start.estimate``) with its neighbours
    (``neighbours``) makes it small where the plan is likely to sit. Without an
    estimate (a hub plan: a MIP, whose re-solves are dear) the scenario's whole fixed
    layout.
    """
    n, m = inputs.n, len(inputs.instruments)
    terms = np.arange(n * m)
    if estimate is None:
        u = tangent_layout(inputs).reshape(n * m, -1)
        return np.repeat(terms, u.shape[1]), u.ravel()
    coarse = tangent_layout(inputs, *FIRST_LAYOUT[_size(inputs)]).reshape(n * m, -1)
    s = inputs.saturation_busd.ravel()
    estimate = estimate.ravel()
    coef = (inputs.effectiveness * inputs.multiplier).ravel()
    funded = np.flatnonzero((estimate > 0) & (coef > 0))  # a zero response needs no tangents
    final = inputs.c0.sum() + float((coef * s * np.log1p(estimate / s)).sum())
    allowance = LOOP_TARGET * inputs.scenario.approximation.max_error_share * final
    near_term, near_u = neighbours(funded, estimate[funded] / s[funded],
                                   allowance / max(funded.size, 1) / (coef * s)[funded],
                                   NEIGHBOURS[_size(inputs)])
    return (np.concatenate([np.repeat(terms, coarse.shape[1]), near_term]),
            np.concatenate([coarse.ravel(), near_u]))


def _size(inputs: ModelInputs) -> str:
    return "large" if inputs.n * len(inputs.instruments) >= LARGE_TERMS else "small"


def neighbours(term: np.ndarray, u: np.ndarray, allowance: np.ndarray, count: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Tangent points at ``u`` and ``count`` on either side, (1 + u) e^(+-k h),
    spaced so that the envelope between them is off by at most ``allowance`` (in units
    of s times the term's coefficient): tangents h apart in ln(1 + u) are off by at most
    h^2/8. A plan that moves a little stays where the envelope is tight."""
    h = np.clip(np.sqrt(8.0 * np.maximum(allowance, 0.0)), MIN_SPACING, MAX_SPACING)
    w = 1.0 + u
    steps = np.arange(-count, count + 1)
    points = w[:, None] * np.exp(h[:, None] * steps[None, :]) - 1.0
    return np.repeat(term, steps.size), points.ravel().clip(0.0)


def tangents_for(inputs: ModelInputs, loaded: LoadedModel, x_busd: np.ndarray,
                 exact: float) -> tuple[np.ndarray, np.ndarray]:
    """Cuts at and around the plan for the terms whose response error matters under
    ``inputs``'s coefficients: each term whose error (points) exceeds ``TANGENT_TARGET``
    of an even split of the loop's allowance (``LOOP_TARGET`` of the tolerance of
    ``exact``, the score's exact value at the plan)."""
    coef = (inputs.effectiveness * inputs.multiplier).ravel()
    s = inputs.saturation_busd.ravel()
    x = x_busd.ravel()
    env = loaded.envelope_busd(x_busd).ravel()
    error = coef * (env - s * np.log1p(x / s))
    allowance = LOOP_TARGET * inputs.scenario.approximation.max_error_share * abs(exact)
    share = allowance / max(int((x > 0).sum()), 1)
    term = np.flatnonzero(error > TANGENT_TARGET * share)
    return neighbours(term, x[term] / s[term], share / (coef * s)[term],
                      NEIGHBOURS[_size(inputs)])


def lp_tolerance(inputs: ModelInputs, unit_busd: float) -> float:
    """The primal feasibility tolerance (money units of ``unit_busd``) of every LP:
    ``LP_TOLERANCE_SHARE`` of the checker's money tolerance
    (``check.money_tolerance_usd``), so that every money row (the budget and each
    year's, awards, region caps and floors, exclusions, instrument shares, group
    minimums) holds as the checker reads it, kept within ``LP_TOLERANCE_RANGE``
    (HiGHS accepts no less than 1e-10; 1e-7 is its LP default). At HiGHS's default a
    $504M plan over two years spent $5.59 past a year's appropriation.

    >>> from optimizer import load_regions, load_scenario
    >>> from optimizer.engine.inputs import resolve
    >>> inputs = resolve(load_regions("states"), load_scenario())  # $80B: $80 allowed
    >>> f"{lp_tolerance(inputs, 1.0):.0e}"  # $8 in $B
    '8e-09'
    """
    money_units = money_tolerance_usd(inputs.scenario.budget) / (unit_busd * BUSD)
    low, high = LP_TOLERANCE_RANGE
    return float(np.clip(LP_TOLERANCE_SHARE * money_units, low, high))


def _set_options(loaded: LoadedModel, inputs: ModelInputs) -> None:
    loaded.time_limit_s = float(inputs.scenario.solver.time_limit_s)
    rule = inputs.scenario.hubs or inputs.scenario.growth_centers
    if rule is not None:
        loaded.highs.setOptionValue("mip_rel_gap", float(rule.mip_rel_gap))
    else:
        loaded.highs.setOptionValue("primal_feasibility_tolerance",
                                    lp_tolerance(inputs, loaded.unit))


def _termination(highs: highspy.Highs) -> TerminationCondition:
    return _TERMINATION.get(highs.getModelStatus(), TerminationCondition.unknown)


def _raise_unless_optimal(term: TerminationCondition, inputs: ModelInputs) -> None:
    if term in (TerminationCondition.provenInfeasible,
                TerminationCondition.infeasibleOrUnbounded):
        raise InfeasibleError(explain_infeasible(inputs))
    if term == TerminationCondition.maxTimeLimit:
        raise SolverError(
            f"HiGHS reached the time limit of {inputs.scenario.solver.time_limit_s:g} s "
            "without an optimal plan; raise solver.time_limit_s"
        )
    if term != TerminationCondition.convergenceCriteriaSatisfied:
        raise SolverError(f"HiGHS stopped without an optimal plan ({term.name}); try a longer "
                          "solver.time_limit_s, or rescale very large or very small inputs")


def _funding(loaded: LoadedModel) -> np.ndarray:
    """The funding columns as an (n, m) array in $B."""
    x = loaded.column_values("x").reshape(loaded.n, loaded.m)
    return np.maximum(x, 0.0) * loaded.unit


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


def exact_objective(inputs: ModelInputs, x_busd: np.ndarray,
                    gain: np.ndarray | None = None) -> float:
    """S_lambda of an allocation with the exact response (``gain``: its
    ``gain_points``, when already computed)."""
    gain = gain_points(x_busd, inputs) if gain is None else gain
    sc = inputs.scenario
    return spread_adjusted(inputs.c0 + gain.sum(axis=1), inputs.population, sc.spread_weight,
                           sc.spread_measure)


def verified(plan: AllocationResult, regions: Regions) -> AllocationResult:
    """``plan`` if the independent checker accepts it, else ``PlanCheckError``.

    The check's time is recorded in ``plan.solver.check_time_s``.
    """
    clock = time.perf_counter()
    hubs = (set(plan.regions.loc[plan.regions["hub"], "region_id"])
            if plan.scenario.hubs is not None else None)
    report = check_funding(plan.funding_usd(), regions, plan.scenario,
                           reported=plan.metrics_after, reported_before=plan.metrics_before,
                           hubs=hubs)
    if not report.ok:
        raise PlanCheckError(report)
    return dataclasses.replace(plan, solver=plan.solver.checked(time.perf_counter() - clock))


def _duals_of(loaded: LoadedModel, floor: bool) -> Callable[[], Duals]:
    """The last run's duals, read when first asked for (only a plan's marginal-value
    table needs them)."""
    return functools.cache(functools.partial(_duals, loaded.lp, loaded.unit, loaded.solution(),
                                             floor))


def _duals(lp: Compiled, unit: float, solution: Solution, floor_rule: bool) -> Duals:
    """Marginal values of the constraints a user set, in objective points per $B.

    The per-capita floor is a lower bound on every y_in, so its marginal value is the
    sum of the reduced costs of the y_in it holds.
    """
    row_dual = solution.row_dual
    rows = lp.rows
    per_busd = 1.0 / unit  # the money rows are in the model's unit
    floor = 0.0
    if floor_rule:
        floor = float(solution.col_dual[lp.cols["y_in"]].sum())
    return Duals(
        budget=float(row_dual[rows["budget_use"]][0]) * per_busd,
        region=row_dual[rows["region_bounds"]] * per_busd,
        instrument=row_dual[rows["instrument_share"]] * per_busd,
        group=row_dual[rows["group_min"]] * per_busd,
        top_k_share=float(row_dual[rows["topk_cap"]][0]) if "topk_cap" in rows else 0.0,
        per_capita_floor=floor,
        year=(row_dual[rows["year_budget"]] * per_busd if "year_budget" in rows
              else np.zeros(0)),
    )
