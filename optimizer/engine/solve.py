"""Solve: the allocation LP (``optimizer.engine.lp``) in one ``highspy.Highs`` per Planner.

A ``Planner`` keeps one loaded LP. Solving a scenario whose structure matches it only
writes the changed bounds, costs and coefficients (in bulk) and re-solves from the
previous basis; anything else rebuilds. The response approximation is adaptive: the LP
starts with a few tangents per region and instrument and adds tangents where the plan
sits until the exact approximation error is within the scenario's tolerance (an
outer-approximation loop of warm simplex re-solves); the tangents are kept for later
re-solves. Solves are serialized with ``SOLVE_LOCK`` (the Pyomo interface used
by the analyses redirects process-wide stdout/stderr while it solves).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any

import highspy
import numpy as np
from pyomo.contrib.solver.common.results import TerminationCondition

from optimizer.engine.check import check_funding, money_tolerance_usd
from optimizer.engine.data import Regions
from optimizer.engine.errors import InfeasibleError, PlanCheckError, ScenarioError, SolverError
from optimizer.engine.feasibility import explain_infeasible, precheck
from optimizer.engine.highs import SOLVE_LOCK
from optimizer.engine.inputs import BUSD, ModelInputs, resolve
from optimizer.engine.lp import AllocationLP, HighsLP, Solution, Values
from optimizer.engine.metrics import spread_adjusted
from optimizer.engine.model import structure_of, tangent_layout
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
TOP_K_ATTEMPTS = 6  # re-solves with the top-k cap linearized at the last plan
TOP_K_MARGIN = 1e-6  # when moving the plan, lower the LP's top-k share past the overshoot
# the LP of the chosen hubs holds every row to this share of the checker's money
# tolerance, within what HiGHS accepts (its LP default at most): see ``hub_lp_tolerance``
HUB_LP_TOLERANCE_SHARE = 0.1
HUB_LP_TOLERANCE_RANGE = (1e-10, 1e-7)

_TERMINATION = {
    highspy.HighsModelStatus.kOptimal: TerminationCondition.convergenceCriteriaSatisfied,
    highspy.HighsModelStatus.kInfeasible: TerminationCondition.provenInfeasible,
    highspy.HighsModelStatus.kUnboundedOrInfeasible: TerminationCondition.infeasibleOrUnbounded,
    highspy.HighsModelStatus.kUnbounded: TerminationCondition.unbounded,
    highspy.HighsModelStatus.kTimeLimit: TerminationCondition.maxTimeLimit,
    highspy.HighsModelStatus.kIterationLimit: TerminationCondition.iterationLimit,
}


class Planner:
    """Solves scenarios on one regions table, reusing the LP between solves.

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
        self._lp: AllocationLP | None = None
        self._highs: HighsLP | None = None
        self._start = ""
        self._times: dict[str, float] = {}
        self._first_tangents = 0

    def _ensure_model(self, inputs: ModelInputs, values: dict[str, Any]) -> bool:
        """Write the scenario's numbers into the loaded LP, or build it, load it into
        HiGHS and give it its first tangents: when the structure changes, or when
        re-solves have added more than ``MAX_GROWTH`` times the first tangents (a long
        session wandering over many plans would otherwise slow every iteration down).
        Records the time of each step in ``self._times`` (seconds); True if rebuilt."""
        clock = time.perf_counter()
        self._times = {"build_time_s": 0.0, "translate_time_s": 0.0, "start_time_s": 0.0}
        if self._lp is not None and self._highs is not None and (
                self._lp.structure == structure_of(inputs)) and (
                self._highs.tangent_term.size <= MAX_GROWTH * self._first_tangents):
            self._highs.write(self._lp.values(inputs, **values))
            self._start = "the previous solve's basis"
            self._times["build_time_s"] = time.perf_counter() - clock
            return False
        lp = AllocationLP(inputs)
        first = lp.values(inputs, **values)
        self._times["build_time_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        self._highs = HighsLP(lp, first)
        self._lp = lp
        self._times["translate_time_s"] = time.perf_counter() - clock
        clock = time.perf_counter()
        estimate = (None if inputs.hubs is not None
                    else estimate_plan(inputs, ESTIMATE_EFFORT[_size(inputs)]))
        self._first_tangents = self._highs.add_tangents(*first_tangents(inputs, estimate))
        self._start = "HiGHS's own start"
        if estimate is not None and self._highs.highs.getNumCol() >= LARGE_MODEL_COLUMNS:
            # large LP: crossover from the estimated plan, then the primal simplex method
            if start_from_point(self._highs.highs, self._highs.point_at(inputs, estimate)):
                self._start = "estimated plan + crossover"
                set_options(self._highs.highs, CROSSOVER_START_OPTIONS)
        self._times["start_time_s"] = time.perf_counter() - clock
        return True

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
        try:
            plan = self._solve(scenario, gini_cap)
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
        """Drop the loaded LP, its basis and the tangents earlier solves added: the next
        solve starts afresh, so a batch of runs gives the same numbers whatever this
        planner solved before."""
        self._lp = self._highs = None

    def checkpoint(self) -> Checkpoint:
        """The loaded LP as the last solve left it (its numbers, tangents and basis), to
        ``restore`` later, here or in another process."""
        loaded = self._highs
        if self._lp is None or loaded is None:
            raise SolverError("solve a scenario before taking a checkpoint")
        return Checkpoint(self._lp, loaded.written, loaded.tangent_term.copy(),
                          loaded.tangent_u.copy(), self._first_tangents,
                          loaded.highs.getBasis())

    def restore(self, checkpoint: Checkpoint) -> None:
        """Load ``checkpoint`` into a fresh HiGHS: the next solve re-solves from its
        basis, with its tangents. A fresh instance carries nothing of what this planner
        solved before, so runs after a restore give the same numbers in any process."""
        loaded = HighsLP(checkpoint.lp, checkpoint.values)
        loaded.add_tangents(checkpoint.tangent_term, checkpoint.tangent_u, as_given=True)
        if loaded.highs.setBasis(checkpoint.basis) != highspy.HighsStatus.kOk:
            raise SolverError("HiGHS refused a checkpoint's basis")
        self._lp, self._highs = checkpoint.lp, loaded
        self._first_tangents = checkpoint.first_tangents

    def lp(self) -> HighsLP:
        """The last solved LP as HiGHS holds it (``.highs``, a ``highspy.Highs``; ``.lp``
        its blocks of columns and rows), for analyses working on HiGHS directly.

        Read-only: changing it changes this planner's next solve. Hold
        ``optimizer.engine.highs.SOLVE_LOCK`` while running HiGHS on it.
        """
        if self._highs is None:
            raise SolverError("solve a scenario before asking for its LP")
        return self._highs

    def ranging(self) -> dict[str, tuple[float, float]]:
        """HiGHS ranging of the last LP solve: the intervals of the budget ($B) and of
        lambda over which its optimal basis stays optimal (``Highs.getRanging``)."""
        lp, loaded = self._lp, self._highs
        if lp is None or loaded is None:
            raise SolverError("solve a scenario before ranging")
        status, rng = loaded.highs.getRanging()
        if status != highspy.HighsStatus.kOk:
            raise SolverError(f"HiGHS could not range this plan ({status})")
        row = lp.rows["budget_use"].start
        col = lp.spread_col
        unit = lp.unit
        # the objective is mean - lambda * spread: the spread column's cost is -lambda
        return {
            "budget_busd": (max(0.0, rng.row_bound_dn.value_[row]) * unit,
                            rng.row_bound_up.value_[row] * unit),
            "spread_weight": (float(np.clip(-rng.col_cost_up.value_[col], 0.0, 1.0)),
                              float(np.clip(-rng.col_cost_dn.value_[col], 0.0, 1.0))),
        }

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
        if gini_cap is not None and inputs.scenario.spread_measure != "gini":
            raise ScenarioError("a Gini cap needs spread_measure: gini")
        with SOLVE_LOCK:
            start = time.perf_counter()
            rebuilt = self._ensure_model(inputs, {"top_k_at": top_k_at,
                                                  "top_k_margin": top_k_margin,
                                                  "gini_cap": gini_cap})
            loaded = self._highs
            assert loaded is not None
            _set_options(loaded, inputs)
            outcome = self._refined(inputs, loaded)
            solve_time = time.perf_counter() - start - sum(self._times.values())
        x, duals, hubs = outcome.x, outcome.duals, outcome.hubs
        info = SolverInfo(
            status=status_of(outcome.term, has_plan=True),
            termination=outcome.term.name,
            solver="HiGHS (highspy)",
            solver_version=loaded.highs.version(),
            rebuilt=rebuilt,
            build_time_s=self._times["build_time_s"],
            translate_time_s=self._times["translate_time_s"],
            start_time_s=self._times["start_time_s"],
            solve_time_s=solve_time,
            highs_time_s=outcome.highs_time,
            objective_lp=outcome.objective,
            simplex_iterations=outcome.iterations,
            mip=hubs is not None,
            mip_gap=outcome.mip_gap,
            proven_optimal=outcome.term == TerminationCondition.convergenceCriteriaSatisfied,
            duals=("lp" if hubs is None else "conditional on the chosen hubs"
                   if duals is not None else "not available"),
            start=self._start,
        )
        return build_result(inputs, x, duals, info, outcome.approximation, hubs)

    def _refined(self, inputs: ModelInputs, loaded: HighsLP) -> _Outcome:
        """Solve, then add tangents where the plan's response error is large and re-solve,
        until the error is within tolerance (or the rounds run out)."""
        highs_time, iterations = 0.0, 0
        for rounds in range(1, MAX_ROUNDS + 1):
            outcome = self._solve_once(inputs, loaded)
            if self._start == "estimated plan + crossover":
                set_options(loaded.highs, WARM_OPTIONS)  # later runs: dual simplex, warm
            highs_time += outcome.highs_time
            iterations += outcome.iterations
            approx = outcome.approximation
            limit = LOOP_TARGET * inputs.scenario.approximation.max_error_share
            if approx["error_share"] <= limit or not self.refine or rounds == MAX_ROUNDS:
                break
            if not loaded.add_tangents(*tangents_for(inputs, loaded, outcome.x, approx)):
                break
        approx = {**outcome.approximation, "iterations": rounds,
                  "tangents": int(loaded.tangent_term.size),
                  "max_tangents_per_term": int(np.bincount(loaded.tangent_term).max(initial=0))}
        return dataclasses.replace(outcome, highs_time=highs_time, iterations=iterations,
                                   approximation=approx)

    def _solve_once(self, inputs: ModelInputs, loaded: HighsLP) -> _Outcome:
        """One HiGHS run (a MIP: then the LP of its hubs), read as a plan."""
        is_mip = inputs.hubs is not None
        highs = loaded.highs
        spent = loaded.run()
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
            return _Outcome(x, _duals_of(loaded), None, term, objective, spent, iterations, 0.0,
                            approximation_at(inputs, loaded, x, objective))
        hubs = loaded.column_values("hub") > 0.5
        bound = info.mip_dual_bound
        mip_gap = (abs(bound - objective) / max(abs(objective), 1e-9)
                   if np.isfinite(bound) else float("inf"))
        polished, more = self._given_hubs(inputs, loaded, hubs)
        x, duals = (polished if polished is not None else (_funding(loaded), None))
        return _Outcome(x, duals if self.mip_duals else None, hubs, term, objective,
                        spent + more, iterations, mip_gap,
                        approximation_at(inputs, loaded, x, objective))

    @staticmethod
    def _given_hubs(inputs: ModelInputs, loaded: HighsLP, hubs: np.ndarray
                    ) -> tuple[tuple[np.ndarray, DualsSource] | None, float]:
        """The LP with the hub choice fixed, which gives a hub plan its funding ($B) and
        duals (a MIP has none of its own), None if it did not solve to optimality; and
        HiGHS's time.

        Its award rows hold each hub to its exact award range
        (``AllocationLP.fixed_hub_award_bounds``), and it runs at the primal feasibility
        tolerance of ``hub_lp_tolerance``, so every money row holds as the checker reads
        it: a HiGHS MIP run leaves the instance at its MIP feasibility tolerance (1e-6,
        $1,000 in $B units), at which this LP gave hubs $1,000 past an award maximum of
        $0. Should it not solve so (a hub choice feasible only within the MIP's
        tolerance), it runs once more at the MIP's tolerance, as before. Bounds,
        integrality and the MIP's tolerance are put back afterwards.
        """
        highs, lp = loaded.highs, loaded.lp
        cols = lp.cols["hub"]
        idx = np.arange(cols.start, cols.stop, dtype=np.int32)
        value = hubs.astype(float)
        rows = np.concatenate([np.arange(lp.rows[name].start, lp.rows[name].stop)
                               for name in ("hub_award_min", "hub_award_max")]).astype(np.int32)
        written = loaded.written
        lower, upper = written.row_lower[rows].copy(), written.row_upper[rows].copy()
        award_lower, award_upper = lp.fixed_hub_award_bounds(inputs, hubs)
        exact_lower, exact_upper = lower.copy(), upper.copy()
        exact_lower[: lp.n], exact_upper[lp.n:] = award_lower, award_upper
        mip_tolerance = highs.getOptions().primal_feasibility_tolerance
        highs.changeColsBounds(idx.size, idx, value, value)
        highs.changeRowsBounds(  # type: ignore[attr-defined]  # in highspy, not in its stubs
            rows.size, rows, exact_lower, exact_upper)
        loaded.set_integer(False)
        spent = 0.0
        try:
            for tolerance in (hub_lp_tolerance(inputs, lp.unit), mip_tolerance):
                highs.setOptionValue("primal_feasibility_tolerance", tolerance)
                spent += loaded.run()
                if _termination(highs) == TerminationCondition.convergenceCriteriaSatisfied:
                    return (_funding(loaded), _duals_of(loaded)), spent
            return None, spent
        finally:
            highs.setOptionValue("primal_feasibility_tolerance", mip_tolerance)
            loaded.set_integer(True)
            highs.changeRowsBounds(  # type: ignore[attr-defined]
                rows.size, rows, lower, upper)
            highs.changeColsBounds(idx.size, idx, np.zeros(idx.size), np.ones(idx.size))


@dataclasses.dataclass(frozen=True, eq=False)
class Checkpoint:
    """A solved LP to load again (``Planner.checkpoint``/``restore``): its structure,
    the numbers last written, its tangents (term r*m + i, point u) and its basis (a
    copy HiGHS made; a checkpoint stays in the process that took it)."""

    lp: AllocationLP
    values: Values
    tangent_term: np.ndarray
    tangent_u: np.ndarray
    first_tangents: int
    basis: highspy.HighsBasis


@dataclasses.dataclass(frozen=True)
class _Outcome:
    """One solve read back: funding ($B), duals, hubs, termination, LP objective,
    HiGHS's time and iterations, the MIP gap, and the approximation record."""

    x: np.ndarray
    duals: DualsSource | None
    hubs: np.ndarray | None
    term: TerminationCondition
    objective: float
    highs_time: float
    iterations: int
    mip_gap: float
    approximation: dict[str, Any]


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


def tangents_for(inputs: ModelInputs, loaded: HighsLP, x_busd: np.ndarray,
             approx: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Cuts at and around the plan for the terms whose response error matters: each
    term whose error (points) exceeds ``TANGENT_TARGET`` of an even split of the loop's
    allowance (``LOOP_TARGET`` of the tolerance)."""
    coef = (inputs.effectiveness * inputs.multiplier).ravel()
    s = inputs.saturation_busd.ravel()
    x = x_busd.ravel()
    env = loaded.lp.envelope_busd(loaded.tangent_term, loaded.tangent_u, x_busd).ravel()
    error = coef * (env - s * np.log1p(x / s))
    allowance = (LOOP_TARGET * inputs.scenario.approximation.max_error_share
                 * abs(approx["objective_exact"]))
    share = allowance / max(int((x > 0).sum()), 1)
    term = np.flatnonzero(error > TANGENT_TARGET * share)
    return neighbours(term, x[term] / s[term], share / (coef * s)[term],
                      NEIGHBOURS[_size(inputs)])


def hub_lp_tolerance(inputs: ModelInputs, unit_busd: float) -> float:
    """The primal feasibility tolerance (money units of ``unit_busd``) of the LP with
    the hubs fixed, which gives a hub plan its funding: ``HUB_LP_TOLERANCE_SHARE`` of
    the checker's money tolerance (``check.money_tolerance_usd``), so that every money
    row it solves (awards, region caps and floors, exclusions, instrument shares,
    group minimums, the budget) holds to within what the checker allows, kept within
    ``HUB_LP_TOLERANCE_RANGE`` (HiGHS accepts no less than 1e-10; 1e-7 is its LP default).

    >>> from optimizer import load_regions, load_scenario
    >>> from optimizer.engine.inputs import resolve
    >>> inputs = resolve(load_regions("states"), load_scenario())  # $80B: $80 allowed
    >>> f"{hub_lp_tolerance(inputs, 1.0):.0e}"  # $8 in $B
    '8e-09'
    """
    money_units = money_tolerance_usd(inputs.scenario.budget) / (unit_busd * BUSD)
    low, high = HUB_LP_TOLERANCE_RANGE
    return float(np.clip(HUB_LP_TOLERANCE_SHARE * money_units, low, high))


def _set_options(loaded: HighsLP, inputs: ModelInputs) -> None:
    loaded.time_limit_s = float(inputs.scenario.solver.time_limit_s)
    if inputs.hubs is not None:
        loaded.highs.setOptionValue("mip_rel_gap", float(inputs.scenario.hubs.mip_rel_gap))  # type: ignore[union-attr]


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


def _funding(loaded: HighsLP) -> np.ndarray:
    """The funding columns as an (n, m) array in $B."""
    lp = loaded.lp
    x = loaded.column_values("x").reshape(lp.n, lp.m)
    return np.maximum(x, 0.0) * lp.unit


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


def approximation_at(inputs: ModelInputs, loaded: HighsLP, x: np.ndarray,
                     objective_lp: float) -> dict[str, Any]:
    """How far the LP's tangent approximation is from the exact response at plan ``x``."""
    approx = inputs.scenario.approximation
    gain = gain_points(x, inputs)
    exact = exact_objective(inputs, x, gain)
    error_share = (objective_lp - exact) / max(abs(exact), 1e-12)
    envelope = loaded.lp.envelope_busd(loaded.tangent_term, loaded.tangent_u, x)
    lp_gain = inputs.effectiveness * inputs.multiplier * envelope
    return {
        "objective_lp": objective_lp,
        "objective_exact": exact,
        "error_share": error_share,
        "max_term_error_points": float((lp_gain - gain).max()),
        "within_tolerance": bool(error_share <= approx.max_error_share),
    }


def exact_objective(inputs: ModelInputs, x_busd: np.ndarray,
                    gain: np.ndarray | None = None) -> float:
    """S_lambda of an allocation with the exact response (``gain``: its
    ``gain_points``, when already computed)."""
    gain = gain_points(x_busd, inputs) if gain is None else gain
    sc = inputs.scenario
    return spread_adjusted(inputs.c0 + gain.sum(axis=1), inputs.population, sc.spread_weight,
                           sc.spread_measure)


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
    report = check_funding(plan.funding_usd(), regions, plan.scenario,
                           reported=plan.metrics_after, reported_before=plan.metrics_before,
                           hubs=hubs)
    if not report.ok:
        raise PlanCheckError(report)
    return dataclasses.replace(plan, solver=plan.solver.checked(time.perf_counter() - clock))


def _duals_of(loaded: HighsLP) -> Callable[[], Duals]:
    """The last run's duals, read when first asked for (only a plan's marginal-value
    table needs them)."""
    return functools.cache(functools.partial(_duals, loaded.lp, loaded.solution()))


def _duals(lp: AllocationLP, solution: Solution) -> Duals:
    """Marginal values of the constraints a user set, in objective points per $B.

    The per-capita floor is a lower bound on every y_in, so its marginal value is the
    sum of the reduced costs of the y_in it holds.
    """
    row_dual = solution.row_dual
    rows = lp.rows
    per_busd = 1.0 / lp.unit  # the money rows are in the model's unit
    floor = 0.0
    if lp.structure.per_capita_floor:
        floor = float(solution.col_dual[lp.cols["y_in"]].sum())
    return Duals(
        budget=float(row_dual[rows["budget_use"]][0]) * per_busd,
        region=row_dual[rows["region_bounds"]] * per_busd,
        instrument=row_dual[rows["instrument_share"]] * per_busd,
        group=row_dual[rows["group_min"]] * per_busd,
        top_k_share=float(row_dual[rows["topk_cap"]][0]) if "topk_cap" in rows else 0.0,
        per_capita_floor=floor,
    )
