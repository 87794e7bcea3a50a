"""The allocation model, declared once in Pyomo: sets, variables, one constraint block per rule.

Every path solves this declaration: a plan (``solve.Planner``), a consensus or robust
plan (score blocks added by ``add_score_block``, objectives by ``set_goal``), the
infeasibility diagnosis (which names HiGHS's infeasible rows by these blocks) and plans
that extend it. ``compile.Compiled`` turns it into HiGHS's arrays once per structure;
``numbers`` gives every tunable Param its value for a scenario, so a re-solve writes
only numbers.

Units: money in ``unit_busd`` ($B, or a smaller power of ten for budgets under $1B, so
the budget is at least one unit and HiGHS's absolute tolerances stay far below a cent),
capacity in points (national baseline total 100), per-capita capacity ``y`` with
national baseline average 1.

The concave response a_i m_ri s ln(1 + x/s) is ``coef * tau``: ``tau`` (money) is the
lower envelope of tangents of s ln(1 + x/s) at points u_k = x/s (an outer
approximation, exact at every u_k), entered as bounded segment columns, one per
tangent (``seg``, indexed by the tangent set ``T``): x = sum seg, tau = sum slope_k
seg_k. Segments fill in order of falling slope, so no binaries are needed, and they
cost the simplex method no rows (tangents as rows made re-solves several times
slower). Tangents depend only on s, so the loop that adds them where plans go
(``solve``) appends columns to the compiled model: ``T`` starts empty here, and
``highs.LoadedModel.add_tangents`` adds each tangent's column to ``funding`` and
``response`` with coefficients -1 and -slope.

The per-capita floor, a lower bound on capacity, acts on an *inner* response: the chords
between the scenario's fixed tangent layout (``tau_in`` <= s ln(1 + x/s) however the LP
fills them), so a plan that meets it in the LP meets it under the exact response. The
top-k share cap bounds capacity from above, which no LP over a concave response can
state exactly: mode 0 bounds the outer capacities, mode 1 the tangents of the exact
response at a given plan for the top k and the inner capacity for the total (``numbers``
switches by the coefficients; ``solve`` re-linearizes).

Spread: the exact Gini (a pair variable per pair of regions) or the Hoover index (the
deviations above the mean, one row per region).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from optimizer.engine.growth import budget_by_year, over_time
from optimizer.engine.inputs import ModelInputs
from optimizer.engine.tangents import chord_segments_busd

BIG_CAP_BUSD = 1e6  # stands in for "no cap" inside the LP
MIN_COEF_UNITS = 1e-6  # the smallest award coefficient of a hub binary, in money units
INF = float("inf")


def money_unit_busd(budget_busd: float) -> float:
    """The model's unit of money in $B: 1 ($1B), or the power of ten at or below a
    smaller budget, so the budget is always at least one unit.

    >>> money_unit_busd(80.0), money_unit_busd(0.504), money_unit_busd(8e-5)
    (1.0, 0.1, 1e-05)
    """
    if budget_busd >= 1.0:
        return 1.0
    return float(10.0 ** np.floor(np.log10(budget_busd)))


@dataclass(frozen=True)
class Structure:
    """What fixes the shape of the model; a change in any of it means a rebuild."""

    region_ids: tuple[str, ...]
    instruments: tuple[str, ...]
    saturation_busd: bytes
    unit_busd: float  # the money unit (budgets under $1B count in smaller units)
    chords: tuple[int, float] | None  # inner response: (tangents, budget) its chords follow
    groups: tuple[tuple[str, str, tuple[int, ...]], ...]
    top_k: int | None
    spread_measure: str
    hubs: tuple | None
    per_capita_floor: bool
    years: int = 1  # a plan over time: its years, and whether money carries over
    carryover: bool = False
    centers: int | None = None  # growth centers: the years each center is supported

    @property
    def inner(self) -> bool:
        """Whether the model carries the inner (chord) response for capacity lower bounds."""
        return self.chords is not None


def structure_of(inputs: ModelInputs) -> Structure:
    """The structural fingerprint of a model declared from ``inputs``."""
    sc = inputs.scenario
    inner = sc.per_capita_floor is not None or sc.top_k_share_cap is not None
    return Structure(
        region_ids=tuple(inputs.region_ids),
        instruments=inputs.instruments,
        saturation_busd=inputs.saturation_busd.tobytes(),
        unit_busd=money_unit_busd(inputs.budget_busd),
        chords=(sc.approximation.tangents, inputs.budget_busd) if inner else None,
        groups=tuple((g.column, g.value, tuple(g.members.tolist())) for g in inputs.groups),
        top_k=sc.top_k_share_cap.k if sc.top_k_share_cap else None,
        spread_measure=sc.spread_measure,
        per_capita_floor=sc.per_capita_floor is not None,
        years=sc.periods.years, carryover=sc.periods.carryover,
        centers=None if sc.growth_centers is None else sc.growth_centers.min_years,
        hubs=None if inputs.hubs is None else (
            tuple((c, v, tuple(m.tolist())) for c, v, m, _ in inputs.hubs.group_min),
            tuple((c, v, tuple(m.tolist())) for c, v, m in inputs.hubs.group_max_one),
            None if inputs.hubs.designated is None else tuple(inputs.hubs.designated[0].tolist()),
        ),
    )


# -- the declaration ---------------------------------------------------------------------

def declare(inputs: ModelInputs, *, spread: bool = True) -> pyo.ConcreteModel:
    """The model of ``inputs``: the plan's rules and response, and (``spread``) the
    plan's own objective, S = 100 mean(y) - lambda * spread. Pure: it never solves.

    Without ``spread`` the model has no objective yet: ``add_score_block`` and
    ``set_goal`` give it one (consensus, robust plans).
    """
    structure = structure_of(inputs)
    terms = over_time(inputs) if structure.years > 1 else inputs
    n, m = terms.n, len(terms.instruments)  # over time, m counts (year, instrument) pairs
    share = inputs.pop_share
    mdl = pyo.ConcreteModel(name="placefund")
    mdl.structure = structure
    mdl.unit_busd = money_unit_busd(inputs.budget_busd)
    mdl.share = share
    mdl.R = pyo.RangeSet(0, n - 1)
    mdl.I = pyo.RangeSet(0, len(inputs.instruments) - 1)
    mdl.J = pyo.RangeSet(0, m - 1)  # the response's columns: I, or (year, instrument) pairs
    mdl.T = pyo.Set(initialize=[])  # the tangents, added as columns after compiling

    mdl.c0 = pyo.Param(mdl.R, mutable=True, initialize=0.0)  # points
    mdl.neg_coef = pyo.Param(mdl.R, mdl.J, mutable=True, initialize=0.0)  # -a m, per unit
    mdl.x_lb = pyo.Param(mdl.R, mdl.J, mutable=True, initialize=0.0)  # a year already decided
    mdl.x_ub = pyo.Param(mdl.R, mdl.J, mutable=True, initialize=INF)  # 0 where barred

    # columns in this order: funding, response, capacity, then each rule's
    mdl.x = pyo.Var(mdl.R, mdl.J, bounds=lambda b, r, i: (b.x_lb[r, i], b.x_ub[r, i]))
    mdl.tau = pyo.Var(mdl.R, mdl.J, domain=pyo.NonNegativeReals)
    mdl.y = pyo.Var(mdl.R, domain=pyo.NonNegativeReals)
    xs, taus, ys = list(mdl.x.values()), list(mdl.tau.values()), list(mdl.y.values())

    @mdl.Constraint(mdl.R, mdl.J)
    def funding(b: Any, r: int, i: int) -> Any:
        """x = the sum of the term's segments (the tangent columns)."""
        return (0.0, LinearExpression(constant=0.0, linear_coefs=[1.0],
                                      linear_vars=[xs[r * m + i]]), 0.0)

    @mdl.Constraint(mdl.R, mdl.J)
    def response(b: Any, r: int, i: int) -> Any:
        """tau = sum_k slope_k seg_k: s ln(1 + x/s), approximated from above."""
        return (0.0, LinearExpression(constant=0.0, linear_coefs=[1.0],
                                      linear_vars=[taus[r * m + i]]), 0.0)

    neg_coef = list(mdl.neg_coef.values())

    @mdl.Constraint(mdl.R)
    def capacity(b: Any, r: int) -> Any:
        """100 share_r y_r = c0_r + sum_i a_i m_ri tau_ri."""
        return (b.c0[r], LinearExpression(
            constant=0.0, linear_coefs=[100.0 * float(share[r]), *neg_coef[r * m:(r + 1) * m]],
            linear_vars=[ys[r], *taus[r * m:(r + 1) * m]]), b.c0[r])

    if structure.inner:
        _inner_response(mdl, inputs)
    money = xs if structure.years == 1 else _years(mdl, inputs, xs)
    _money_rules(mdl, inputs, money)
    if inputs.hubs is not None:
        _hubs(mdl, inputs)
    if structure.centers is not None:
        _growth_centers(mdl, inputs, xs, money, structure.centers)
    if spread:
        total = spread_block(mdl, share, structure.spread_measure)
        if structure.spread_measure == "gini":
            _gini_cap(mdl, share)
        mdl.lam = pyo.Param(mutable=True, initialize=0.0)
        mdl.objective = pyo.Objective(expr=LinearExpression(
            constant=0.0, linear_coefs=[100.0 * float(w) for w in share] + [-1.0 * mdl.lam],
            linear_vars=[*ys, total]), sense=pyo.maximize)
    if structure.top_k is not None:
        _top_k(mdl, share, structure.top_k)
    mdl.seg = pyo.Var(mdl.T, domain=pyo.NonNegativeReals)  # the tangents' columns come last
    return mdl


def _inner_response(mdl: pyo.ConcreteModel, inputs: ModelInputs) -> None:
    """``y_in``: per-capita capacity under the inner (chord) response, never above the
    exact one; capacity lower bounds (per-capita floor, top-k total) act on it."""
    n, m = inputs.n, len(inputs.instruments)
    share = inputs.pop_share
    length, slope = chord_segments_busd(inputs)
    count = slope.shape[-1]
    mdl.K_in = pyo.RangeSet(0, n * m * count - 1)
    lengths = (length / mdl.unit_busd).ravel().tolist()
    mdl.seg_in = pyo.Var(mdl.K_in, bounds=lambda b, k: (0.0, lengths[k]))
    mdl.tau_in = pyo.Var(mdl.R, mdl.I, domain=pyo.NonNegativeReals)
    mdl.y_floor = pyo.Param(mutable=True, initialize=0.0)
    mdl.y_in = pyo.Var(mdl.R, bounds=lambda b, r: (b.y_floor, None))
    segs, xs = list(mdl.seg_in.values()), list(mdl.x.values())
    taus, ys = list(mdl.tau_in.values()), list(mdl.y_in.values())
    slopes = slope.reshape(n * m, count).tolist()

    @mdl.Constraint(mdl.R, mdl.I)
    def funding_in(b: Any, r: int, i: int) -> Any:
        """x = the sum of the term's chord segments."""
        j = r * m + i
        return (0.0, LinearExpression(constant=0.0, linear_coefs=[1.0] + [-1.0] * count,
                                      linear_vars=[xs[j], *segs[j * count:(j + 1) * count]]), 0.0)

    @mdl.Constraint(mdl.R, mdl.I)
    def response_in(b: Any, r: int, i: int) -> Any:
        """tau_in = sum_k chord slope_k seg_in_k: s ln(1 + x/s) from below."""
        j = r * m + i
        return (0.0, LinearExpression(constant=0.0, linear_coefs=[1.0] + [-c for c in slopes[j]],
                                      linear_vars=[taus[j], *segs[j * count:(j + 1) * count]]),
                0.0)

    neg_coef = list(mdl.neg_coef.values())

    @mdl.Constraint(mdl.R)
    def capacity_in(b: Any, r: int) -> Any:
        """100 share_r y_in_r = c0_r + sum_i a_i m_ri tau_in_ri."""
        return (b.c0[r], LinearExpression(
            constant=0.0, linear_coefs=[100.0 * float(share[r]), *neg_coef[r * m:(r + 1) * m]],
            linear_vars=[ys[r], *taus[r * m:(r + 1) * m]]), b.c0[r])


def _years(mdl: pyo.ConcreteModel, inputs: ModelInputs, xs: list) -> list:
    """A plan over time: each instrument's total over the years (the money rules read
    totals), and a budget row per year: year t spends its appropriation, or (with
    carryover) the years up to t spend at most the appropriations up to t. Returns the
    totals' variables."""
    m, years = len(inputs.instruments), inputs.scenario.periods.years
    mdl.Y = pyo.RangeSet(0, years - 1)
    mdl.x_total = pyo.Var(mdl.R, mdl.I, domain=pyo.NonNegativeReals)
    totals = list(mdl.x_total.values())
    width = m * years
    mdl.year_total = pyo.Constraint(mdl.R, mdl.I, rule=lambda b, r, i: (0.0, LinearExpression(
        constant=0.0, linear_coefs=[1.0] + [-1.0] * years,
        linear_vars=[totals[r * m + i], *xs[r * width + i:(r + 1) * width:m]]), 0.0))
    mdl.year_lo = pyo.Param(mdl.Y, mutable=True, initialize=0.0)
    mdl.year_hi = pyo.Param(mdl.Y, mutable=True, initialize=0.0)
    carry = inputs.scenario.periods.carryover

    def spent(t: int) -> LinearExpression:
        first = 0 if carry else t  # with carryover: every year up to t
        chosen = [xs[r * width + u * m + i] for r in range(inputs.n)
                  for u in range(first, t + 1) for i in range(m)]
        return LinearExpression(constant=0.0, linear_coefs=[1.0] * len(chosen),
                                linear_vars=chosen)

    mdl.year_budget = pyo.Constraint(mdl.Y, rule=lambda b, t: (b.year_lo[t], spent(t),
                                                                b.year_hi[t]))
    return totals


def _money_rules(mdl: pyo.ConcreteModel, inputs: ModelInputs, xs: list) -> None:
    """Budget use, region bounds (floors, caps, exclusions), instrument shares, group
    minimums, on the funding ``xs`` (region-major; over time, the totals)."""
    m = len(inputs.instruments)
    mdl.G = pyo.RangeSet(0, len(inputs.groups) - 1) if inputs.groups else pyo.Set(initialize=[])
    mdl.budget = pyo.Param(mutable=True, initialize=0.0)
    mdl.budget_lo = pyo.Param(mutable=True, initialize=0.0)
    mdl.floor = pyo.Param(mdl.R, mutable=True, initialize=0.0)
    mdl.cap = pyo.Param(mdl.R, mutable=True, initialize=0.0)
    mdl.inst_lo = pyo.Param(mdl.I, mutable=True, initialize=0.0)
    mdl.inst_hi = pyo.Param(mdl.I, mutable=True, initialize=0.0)
    mdl.group_lo = pyo.Param(mdl.G, mutable=True, initialize=0.0)

    def total(vars_: list) -> LinearExpression:
        return LinearExpression(constant=0.0, linear_coefs=[1.0] * len(vars_), linear_vars=vars_)

    mdl.budget_use = pyo.Constraint(expr=(mdl.budget_lo, total(xs), mdl.budget))
    mdl.region_bounds = pyo.Constraint(mdl.R, rule=lambda b, r: (
        b.floor[r], total(xs[r * m:(r + 1) * m]), b.cap[r]))
    mdl.instrument_share = pyo.Constraint(mdl.I, rule=lambda b, i: (
        b.inst_lo[i], total(xs[i::m]), b.inst_hi[i]))
    mdl.group_min = pyo.Constraint(mdl.G, rule=lambda b, g: (b.group_lo[g], total(
        [xs[int(r) * m + i] for r in inputs.groups[g].members for i in range(m)]), None))


def _hubs(mdl: pyo.ConcreteModel, inputs: ModelInputs) -> None:
    """Binary hubs: only hubs are funded, each with an award in [award_min, award_max]."""
    rules = inputs.hubs
    assert rules is not None
    m = len(inputs.instruments)
    mdl.hub_lo = pyo.Param(mdl.R, mutable=True, initialize=0.0)
    mdl.hub_hi = pyo.Param(mdl.R, mutable=True, initialize=1.0)
    mdl.hub = pyo.Var(mdl.R, domain=pyo.Integers, bounds=lambda b, r: (b.hub_lo[r], b.hub_hi[r]))
    mdl.award_top = pyo.Param(mdl.R, mutable=True, initialize=0.0)  # -min(cap, award max)
    mdl.award_floor = pyo.Param(mdl.R, mutable=True, initialize=0.0)  # -award min
    mdl.award_max_hi = pyo.Param(mdl.R, mutable=True, initialize=0.0)  # see fixed_hub_awards
    mdl.award_min_lo = pyo.Param(mdl.R, mutable=True, initialize=0.0)
    mdl.hub_count_min = pyo.Param(mutable=True, initialize=0.0)
    mdl.hub_count_max = pyo.Param(mutable=True, initialize=0.0)
    mdl.HG = pyo.RangeSet(0, len(rules.group_min) - 1) if rules.group_min else pyo.Set(
        initialize=[])
    mdl.MAX_ONE = pyo.RangeSet(0, len(rules.group_max_one) - 1) if rules.group_max_one else (
        pyo.Set(initialize=[]))
    mdl.hub_group_lo = pyo.Param(mdl.HG, mutable=True, initialize=0.0)
    xs, hubs = list(mdl.x.values()), list(mdl.hub.values())

    def award(b: Any, r: int, coef: Any) -> LinearExpression:
        return LinearExpression(constant=0.0, linear_coefs=[1.0] * m + [coef],
                                linear_vars=[*xs[r * m:(r + 1) * m], hubs[r]])

    mdl.hub_award_max = pyo.Constraint(mdl.R, rule=lambda b, r: (
        None, award(b, r, b.award_top[r]), b.award_max_hi[r]))
    mdl.hub_award_min = pyo.Constraint(mdl.R, rule=lambda b, r: (
        b.award_min_lo[r], award(b, r, b.award_floor[r]), None))

    def count(members: Any) -> LinearExpression:
        chosen = [hubs[int(r)] for r in members]
        return LinearExpression(constant=0.0, linear_coefs=[1.0] * len(chosen),
                                linear_vars=chosen)

    mdl.hub_count = pyo.Constraint(expr=(mdl.hub_count_min, count(range(inputs.n)),
                                         mdl.hub_count_max))
    mdl.hub_group = pyo.Constraint(mdl.HG, rule=lambda b, g: (
        b.hub_group_lo[g], count(rules.group_min[g][2]), None))
    mdl.hub_max_one = pyo.Constraint(mdl.MAX_ONE, rule=lambda b, g: (
        None, count(rules.group_max_one[g][2]), 1.0))
    if rules.designated is not None:
        mdl.designated_coef = pyo.Param(mdl.R, mutable=True, initialize=0.0)  # 1[r in set] - share
        mdl.hub_designated = pyo.Constraint(expr=(0.0, LinearExpression(
            constant=0.0, linear_coefs=list(mdl.designated_coef.values()), linear_vars=hubs),
            None))


def _growth_centers(mdl: pyo.ConcreteModel, inputs: ModelInputs, xs: list, money: list,
                    years: int) -> None:
    """K growth centers (binary ``center``): only centers are funded (a region's total is
    at most its cap times its binary), exactly K of them, none among the leading regions
    (their binary's upper bound is 0), and each center gets at least its minimum award
    in each of the first ``years`` years."""
    m = len(inputs.instruments)
    width = m * inputs.scenario.periods.years
    mdl.center_lo = pyo.Param(mdl.R, mutable=True, initialize=0.0)
    mdl.center_hi = pyo.Param(mdl.R, mutable=True, initialize=1.0)
    mdl.center = pyo.Var(mdl.R, domain=pyo.Integers, bounds=lambda b, r: (b.center_lo[r],
                                                                           b.center_hi[r]))
    centers = list(mdl.center.values())
    mdl.center_top = pyo.Param(mdl.R, mutable=True, initialize=0.0)  # -(the most r may get)
    mdl.center_count_lo = pyo.Param(mutable=True, initialize=0.0)
    mdl.center_count_hi = pyo.Param(mutable=True, initialize=0.0)
    mdl.SUPPORT = pyo.RangeSet(0, years - 1)
    mdl.center_floor = pyo.Param(mdl.SUPPORT, mdl.R, mutable=True, initialize=0.0)  # -award
    mdl.center_funding = pyo.Constraint(mdl.R, rule=lambda b, r: (None, LinearExpression(
        constant=0.0, linear_coefs=[1.0] * m + [b.center_top[r]],
        linear_vars=[*money[r * m:(r + 1) * m], centers[r]]), 0.0))
    mdl.center_count = pyo.Constraint(expr=(mdl.center_count_lo, LinearExpression(
        constant=0.0, linear_coefs=[1.0] * len(centers), linear_vars=centers),
        mdl.center_count_hi))
    mdl.center_support = pyo.Constraint(mdl.SUPPORT, mdl.R, rule=lambda b, t, r: (
        0.0, LinearExpression(constant=0.0, linear_coefs=[1.0] * m + [b.center_floor[t, r]],
                              linear_vars=[*xs[r * width + t * m:r * width + (t + 1) * m],
                                           centers[r]]), None))


def leading_regions(inputs: ModelInputs, count: int) -> np.ndarray:
    """(n,) bool: the ``count`` regions with the most baseline capacity (ties by order)."""
    top = np.argsort(-inputs.c0, kind="stable")[:count]
    out = np.zeros(inputs.n, dtype=bool)
    out[top] = True
    return out


def fixed_choice(inputs: ModelInputs, chosen: np.ndarray) -> dict[str, Any]:
    """The Params that make a MIP the LP of its binary choice (hubs or growth centers)."""
    if inputs.hubs is not None:
        return fixed_hub_awards(inputs, chosen)
    value = chosen.astype(float)
    return {"center_lo": value, "center_hi": value}


def spread_block(blk: Any, share: np.ndarray, measure: str) -> Any:
    """The spread term on ``blk.y`` (a model or a score block): one variable holding
    100 sum_{r<s} w_r w_s |y_r - y_s| (Gini; S = 100 mu (1 - lambda G)) or
    100 sum_r w_r (y_r - mu)+ (Hoover; S = 100 mu (1 - lambda H)). Returns that variable.

    Hoover: since sum w (y - mu) = 0, the deviations above the mean equal those below,
    so one row per region (dev_r >= y_r - mu) states it.
    """
    n = len(share)
    ys = list(blk.y.values())
    if measure == "gini":
        r, s = np.triu_indices(n, k=1)
        blk.PAIRS = pyo.RangeSet(0, r.size - 1)
        blk.d = pyo.Var(blk.PAIRS, domain=pyo.NonNegativeReals)
        ds = list(blk.d.values())
        pairs = list(zip(r.tolist(), s.tolist(), strict=True))
        blk.gap_up = pyo.Constraint(blk.PAIRS, rule=lambda b, p: (0.0, LinearExpression(
            constant=0.0, linear_coefs=[1.0, -1.0, 1.0],
            linear_vars=[ds[p], ys[pairs[p][0]], ys[pairs[p][1]]]), None))
        blk.gap_down = pyo.Constraint(blk.PAIRS, rule=lambda b, p: (0.0, LinearExpression(
            constant=0.0, linear_coefs=[1.0, 1.0, -1.0],
            linear_vars=[ds[p], ys[pairs[p][0]], ys[pairs[p][1]]]), None))
        blk.gini_sum = pyo.Var(domain=pyo.NonNegativeReals)
        weights = (-100.0 * share[r] * share[s]).tolist()
        blk.gini_sum_def = pyo.Constraint(expr=(0.0, LinearExpression(
            constant=0.0, linear_coefs=[1.0, *weights], linear_vars=[blk.gini_sum, *ds]), 0.0))
        return blk.gini_sum
    blk.mu = pyo.Var(bounds=(None, None))
    blk.dev = pyo.Var(blk.R, domain=pyo.NonNegativeReals)
    blk.hoover_sum = pyo.Var(domain=pyo.NonNegativeReals)
    devs = list(blk.dev.values())
    blk.mu_def = pyo.Constraint(expr=(0.0, LinearExpression(
        constant=0.0, linear_coefs=[1.0, *(-share).tolist()], linear_vars=[blk.mu, *ys]), 0.0))
    blk.dev_up = pyo.Constraint(blk.R, rule=lambda b, r: (0.0, LinearExpression(
        constant=0.0, linear_coefs=[1.0, -1.0, 1.0], linear_vars=[devs[r], ys[r], b.mu]), None))
    blk.hoover_sum_def = pyo.Constraint(expr=(0.0, LinearExpression(
        constant=0.0, linear_coefs=[1.0, *(-100.0 * share).tolist()],
        linear_vars=[blk.hoover_sum, *devs]), 0.0))
    return blk.hoover_sum


def _gini_cap(mdl: pyo.ConcreteModel, share: np.ndarray) -> None:
    """gini_sum - eps 100 sum w y <= cap_hi: the LP's Gini at most eps (the
    epsilon-constraint method of the frontier); free (cap_hi infinite) until asked for."""
    mdl.gini_cap_coef = pyo.Param(mdl.R, mutable=True, initialize=0.0)  # -eps 100 w_r
    mdl.gini_cap_hi = pyo.Param(mutable=True, initialize=INF)
    mdl.gini_cap = pyo.Constraint(expr=(None, LinearExpression(
        constant=0.0, linear_coefs=[1.0, *mdl.gini_cap_coef.values()],
        linear_vars=[mdl.gini_sum, *mdl.y.values()]), mdl.gini_cap_hi))


def _top_k(mdl: pyo.ConcreteModel, share: np.ndarray, k: int) -> None:
    """Sum of the k largest capacities <= share * total (the k-largest-sum LP form):
    excess_r >= capacity_r - threshold, k threshold + sum excess <= share * total.
    Which capacities (outer, or tangents at a plan and the inner total) is set by the
    coefficients ``numbers`` writes."""
    m = len(mdl.I)
    mdl.topk_y = pyo.Param(mdl.R, mutable=True, initialize=0.0)
    mdl.topk_x = pyo.Param(mdl.R, mdl.I, mutable=True, initialize=0.0)
    mdl.topk_lo = pyo.Param(mdl.R, mutable=True, initialize=0.0)
    mdl.topk_total_y = pyo.Param(mdl.R, mutable=True, initialize=0.0)
    mdl.topk_total_y_in = pyo.Param(mdl.R, mutable=True, initialize=0.0)
    mdl.topk_threshold = pyo.Var(bounds=(None, None))
    mdl.topk_excess = pyo.Var(mdl.R, domain=pyo.NonNegativeReals)
    xs, ys, excess = list(mdl.x.values()), list(mdl.y.values()), list(mdl.topk_excess.values())
    tx = list(mdl.topk_x.values())
    mdl.topk_excess_def = pyo.Constraint(mdl.R, rule=lambda b, r: (b.topk_lo[r], LinearExpression(
        constant=0.0, linear_coefs=[1.0, 1.0, b.topk_y[r], *tx[r * m:(r + 1) * m]],
        linear_vars=[excess[r], b.topk_threshold, ys[r], *xs[r * m:(r + 1) * m]]), None))
    y_in = list(mdl.y_in.values())
    mdl.topk_cap = pyo.Constraint(expr=(None, LinearExpression(
        constant=0.0,
        linear_coefs=[float(k), *[1.0] * len(excess), *mdl.topk_total_y.values(),
                      *mdl.topk_total_y_in.values()],
        linear_vars=[mdl.topk_threshold, *excess, *ys, *y_in]), 0.0))


# -- score blocks and goals (consensus, robust plans) ---------------------------------

def same_capacity(base: ModelInputs, view: ModelInputs) -> bool:
    """Whether a view's capacity is the plan's own: same baseline, coefficients and
    spread measure (its score then reads the plan's ``y``)."""
    return bool(np.array_equal(base.c0, view.c0)
                and np.array_equal(base.effectiveness * base.multiplier,
                                   view.effectiveness * view.multiplier)
                and base.scenario.spread_measure == view.scenario.spread_measure)


def add_score_block(mdl: pyo.ConcreteModel, name: str, view: ModelInputs,
                    on_plan: bool = False) -> list[tuple[Any, Any]]:
    """One view's score on the model's funding: its own capacity rows on the shared
    ``tau`` and its spread term, as a block; returns S's terms (coefficient, variable).

    ``on_plan`` (``same_capacity``): the view scores the plan's own capacity ``y`` (one
    spread term on it, no block), so a consensus of one is the plan's LP.
    """
    share = mdl.share
    n, m = view.n, len(view.instruments)
    unit = mdl.unit_busd
    coef = -(view.effectiveness * view.multiplier) * unit
    lam = float(view.scenario.spread_weight)
    if on_plan:
        measure = view.scenario.spread_measure
        total = getattr(mdl, "gini_sum" if measure == "gini" else "hoover_sum", None)
        if total is None:  # the plan's own spread rows, once
            total = spread_block(mdl, share, measure)
        return _score_terms(list(mdl.y.values()), share, lam, total)
    blk = pyo.Block()
    mdl.add_component(name, blk)
    blk.R = pyo.RangeSet(0, n - 1)
    blk.y = pyo.Var(blk.R, domain=pyo.NonNegativeReals)
    ys, taus = list(blk.y.values()), list(mdl.tau.values())
    rows, c0 = coef.tolist(), view.c0.tolist()
    blk.capacity = pyo.Constraint(blk.R, rule=lambda b, r: (c0[r], LinearExpression(
        constant=0.0, linear_coefs=[100.0 * float(share[r]), *rows[r]],
        linear_vars=[ys[r], *taus[r * m:(r + 1) * m]]), c0[r]))
    total = spread_block(blk, share, view.scenario.spread_measure)
    return _score_terms(ys, share, lam, total)


def _score_terms(ys: list, share: np.ndarray, lam: float, total: Any) -> list[tuple[Any, Any]]:
    return [(100.0 * float(share[r]), y) for r, y in enumerate(ys)] + [(-lam, total)]


def linear(terms: Sequence[tuple[Any, Any]]) -> LinearExpression:
    """sum coef * var of (coefficient, variable) pairs, as one LinearExpression."""
    return LinearExpression(constant=0.0, linear_coefs=[c for c, _ in terms],
                            linear_vars=[v for _, v in terms])


def set_goal(mdl: pyo.ConcreteModel, scores: list[list[tuple[Any, Any]]], goal: str,
             alpha: float = 0.1) -> None:
    """The objective over the views' scores S_k: ``consensus`` (maximize
    sum_k w_score_k S_k + w_t t with S_k - s0_k >= span_k t and t >= t_lo, all Params, so
    the max-min and its tie-break are re-solves), ``mean``, ``cvar`` (CVaR_alpha =
    max_eta eta - E[(eta - S)^+] / alpha over equally likely views), ``worst``, or
    ``weighted`` (a plan over time's discounted years: sum_k S_k / (1 + alpha)^(k+1))."""
    count = len(scores)
    mdl.V = pyo.RangeSet(0, count - 1)
    if goal == "consensus":
        mdl.w_score = pyo.Param(mdl.V, mutable=True, initialize=0.0)
        mdl.w_t = pyo.Param(mutable=True, initialize=1.0)
        mdl.s0 = pyo.Param(mdl.V, mutable=True, initialize=0.0)
        mdl.neg_span = pyo.Param(mdl.V, mutable=True, initialize=0.0)
        mdl.t_lo = pyo.Param(mutable=True, initialize=0.0)
        mdl.t = pyo.Var(bounds=(mdl.t_lo, None))
        mdl.achieve = pyo.Constraint(mdl.V, rule=lambda b, k: (
            b.s0[k], linear([*scores[k], (b.neg_span[k], b.t)]), None))
        mdl.goal = pyo.Objective(expr=linear(
            [(float(c) * mdl.w_score[k], v) for k in range(count) for c, v in scores[k]]
            + [(mdl.w_t, mdl.t)]), sense=pyo.maximize)
    elif goal in ("cvar", "worst"):
        mdl.eta = pyo.Var(bounds=(None, None))
        if goal == "cvar":
            mdl.short = pyo.Var(mdl.V, domain=pyo.NonNegativeReals)
            mdl.shortfall = pyo.Constraint(mdl.V, rule=lambda b, k: (0.0, linear(
                [(1.0, b.short[k]), (-1.0, b.eta), *scores[k]]), None))
            mdl.goal = pyo.Objective(expr=linear(
                [(1.0, mdl.eta), *[(-1.0 / (alpha * count), s) for s in mdl.short.values()]]),
                sense=pyo.maximize)
        else:
            mdl.below = pyo.Constraint(mdl.V, rule=lambda b, k: (0.0, linear(
                [*scores[k], (-1.0, b.eta)]), None))
            mdl.goal = pyo.Objective(expr=linear([(1.0, mdl.eta)]), sense=pyo.maximize)
    elif goal == "mean":
        mdl.goal = pyo.Objective(expr=linear(
            [(c / count, v) for terms in scores for c, v in terms]), sense=pyo.maximize)
    elif goal == "weighted":  # a plan over time, discounted: sum_t S_t / (1 + alpha)^t
        mdl.goal = pyo.Objective(expr=linear(
            [(c / (1.0 + alpha) ** (k + 1), v) for k, terms in enumerate(scores)
             for c, v in terms]), sense=pyo.maximize)
    else:  # pragma: no cover - the specs allow only the above
        raise ValueError(goal)


# -- the numbers -------------------------------------------------------------------------

def numbers(inputs: ModelInputs, top_k_at: np.ndarray | None = None, top_k_margin: float = 0.0,
            gini_cap: float | None = None, year: int | None = None,
            decided_busd: np.ndarray | None = None) -> dict[str, Any]:
    """Every tunable Param of ``declare(inputs)`` for ``inputs``: the one place numbers
    come from (a re-solve writes only those that changed).

    ``top_k_at``/``top_k_margin`` set the top-k cap's linearization (mode 1 at a plan,
    mode 0 with the LP's share lowered by the margin); ``gini_cap`` bounds the Gini.
    Over time, ``year`` (default the last) is the year whose capacity the objective
    reads, and ``decided_busd`` (n, T*m, NaN where open) fixes funding already decided.
    """
    sc, unit = inputs.scenario, money_unit_busd(inputs.budget_busd)
    share = inputs.pop_share
    budget = inputs.budget_busd / unit
    n = inputs.n
    terms = over_time(inputs, year) if sc.periods.years > 1 else inputs
    coef = -(terms.effectiveness * terms.multiplier) * unit
    barred = ~terms.allowed & np.asarray(terms.allowed.any(axis=1))[:, None]
    x_lb, x_ub = np.zeros(coef.shape), np.where(barred, 0.0, INF)
    if decided_busd is not None:
        fixed = ~np.isnan(decided_busd)
        x_lb[fixed] = x_ub[fixed] = decided_busd[fixed] / unit
    cap = np.where(inputs.allowed.any(axis=1), np.minimum(inputs.cap_busd, BIG_CAP_BUSD), 0.0)
    if inputs.hubs is not None and inputs.hubs.award_max_busd / unit < MIN_COEF_UNITS:
        # an award maximum below the hub rows' smallest coefficient: the region rows,
        # whose bounds may be 0, hold every region to it exactly
        cap = np.minimum(cap, inputs.hubs.award_max_busd)
    out: dict[str, Any] = {
        "c0": terms.c0, "neg_coef": coef, "x_lb": x_lb, "x_ub": x_ub,
        "budget": budget, "budget_lo": budget if not sc.allow_unspent else 0.0,
        "floor": inputs.floor_busd / unit, "cap": cap / unit,
        "inst_lo": inputs.instrument_min_share * budget,
        "inst_hi": inputs.instrument_max_share * budget,
        "group_lo": [rule.min_share * budget for rule in inputs.groups],
        "lam": sc.spread_weight,
    }
    structure = structure_of(inputs)
    if structure.years > 1:
        yearly = budget_by_year(sc) / 1e9 / unit
        if structure.carryover:
            out["year_lo"], out["year_hi"] = np.full(yearly.size, -INF), np.cumsum(yearly)
        else:
            out["year_lo"] = np.zeros(yearly.size) if sc.allow_unspent else yearly
            out["year_hi"] = yearly
    if structure.inner:
        out["y_floor"] = sc.per_capita_floor or 0.0
    if inputs.hubs is not None:
        out.update(_hub_numbers(inputs, unit))
    if sc.growth_centers is not None:
        out.update(_center_numbers(inputs, unit))
    if structure.spread_measure == "gini":
        out["gini_cap_coef"] = -(1.0 if gini_cap is None else float(gini_cap)) * 100.0 * share
        out["gini_cap_hi"] = INF if gini_cap is None else 0.0
    if structure.top_k is not None:
        top = sc.top_k_share_cap
        share_cap = 1.0 if top is None else top.max_share
        m = len(inputs.instruments)
        if top_k_at is None:
            share_cap = max(share_cap - top_k_margin, 0.0)
            out.update(topk_y=-100.0 * share, topk_x=np.zeros((n, m)), topk_lo=np.zeros(n),
                       topk_total_y=-share_cap * 100.0 * share, topk_total_y_in=np.zeros(n))
        else:
            s = inputs.saturation_busd
            gain = inputs.effectiveness * inputs.multiplier
            slope = gain / (1.0 + top_k_at / s)  # points per $B
            const = inputs.c0 + (gain * s * np.log1p(top_k_at / s) - slope * top_k_at).sum(axis=1)
            out.update(topk_y=np.zeros(n), topk_x=-slope * unit, topk_lo=const,
                       topk_total_y=np.zeros(n), topk_total_y_in=-share_cap * 100.0 * share)
    return out


def _hub_numbers(inputs: ModelInputs, unit: float) -> dict[str, Any]:
    """The hub rules' numbers. Coefficients of the hub binaries stay >= MIN_COEF_UNITS:
    HiGHS drops (near-)zero coefficients it is asked to set, so a later non-zero value
    could not come back (``fixed_hub_awards`` takes the difference back once hubs are
    chosen)."""
    rules = inputs.hubs
    assert rules is not None
    top = np.minimum(np.where(inputs.allowed.any(axis=1), inputs.cap_busd, 0.0),
                     rules.award_max_busd) / unit
    out: dict[str, Any] = {
        "hub_lo": np.zeros(inputs.n), "hub_hi": np.ones(inputs.n),
        "award_top": -np.maximum(top, MIN_COEF_UNITS),
        "award_floor": np.full(inputs.n, -max(rules.award_min_busd / unit, MIN_COEF_UNITS)),
        "award_max_hi": np.zeros(inputs.n), "award_min_lo": np.zeros(inputs.n),
        "hub_count_min": rules.count_min, "hub_count_max": rules.count_max,
        "hub_group_lo": [rule[3] for rule in rules.group_min],
    }
    if rules.designated is not None:
        members, share = rules.designated
        inside = np.zeros(inputs.n)
        inside[np.asarray(members, dtype=int)] = 1.0
        out["designated_coef"] = inside - share
    return out


def _center_numbers(inputs: ModelInputs, unit: float) -> dict[str, Any]:
    """Growth centers' numbers: K, the leading regions barred, each center's cap and its
    minimum award in each supported year (a share of an even split of the year's money)."""
    rule = inputs.scenario.growth_centers
    assert rule is not None
    budget = inputs.budget_busd / unit
    top = np.where(inputs.allowed.any(axis=1), np.minimum(inputs.cap_busd / unit, budget), 0.0)
    yearly = budget_by_year(inputs.scenario)[:rule.min_years] / 1e9 / unit
    award = rule.min_award_share * yearly / rule.count
    return {"center_lo": np.zeros(inputs.n),
            "center_hi": np.where(leading_regions(inputs, rule.exclude_leading), 0.0, 1.0),
            "center_top": -np.maximum(top, MIN_COEF_UNITS),
            "center_count_lo": rule.count, "center_count_hi": rule.count,
            "center_floor": -np.repeat(award[:, None], inputs.n, axis=1)}


def fixed_hub_awards(inputs: ModelInputs, hubs: np.ndarray) -> dict[str, Any]:
    """The Params that make the model the LP of the hub choice ``hubs``: hub columns
    fixed, and each hub held to its exact award range.

    The award rows' hub coefficients are kept at least ``MIN_COEF_UNITS``, which would
    ask a hub for at least that much (an award minimum of $0 read as $1,000 in $B units)
    and allow it as much under a smaller award maximum; with a hub's column at 1, its
    rows' bounds take the difference back. Rows of regions that are not hubs keep 0.
    """
    rules = inputs.hubs
    assert rules is not None
    unit = money_unit_busd(inputs.budget_busd)
    award_min = rules.award_min_busd / unit
    top = np.minimum(np.where(inputs.allowed.any(axis=1), inputs.cap_busd, 0.0),
                     rules.award_max_busd) / unit
    chosen = hubs.astype(float)
    return {"hub_lo": chosen, "hub_hi": chosen,
            "award_min_lo": np.where(hubs, min(award_min - MIN_COEF_UNITS, 0.0), 0.0),
            "award_max_hi": np.where(hubs & (top < MIN_COEF_UNITS), top - MIN_COEF_UNITS, 0.0)}
