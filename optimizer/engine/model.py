"""The allocation LP in Pyomo, for the analyses that extend it, and the tangent geometry.

The Planner solves the LP as arrays (``optimizer.engine.lp``), with tangents added
where plans go; ``build_model`` writes the same LP as a Pyomo model with the fixed
``tangent_layout``, for consensus and robust plans (``optimizer.analysis.consensus``,
which add rows to it) and the infeasible-subsystem diagnosis. ``tests/test_lp.py``
proves the two are the same LP given the same tangents.

Units: money in $B, capacity in points (national baseline total 100), per-capita
capacity ``y`` with national baseline average 1.

The concave response a_i m_ri s_ri ln(1 + x/s_ri) is written as ``-neg_coef[r,i] * tau[r,i]``
with ``neg_coef = -a_i m_ri`` (points per $B at zero funding, negated so that the
capacity row's coefficient is the Param itself) and ``tau`` (in $B) approximating
s ln(1 + u), u = x/s, by the lower envelope of tangents at points u_k (an outer
approximation, exact at every u_k). The envelope enters as bounded segment variables
in $B, one per tangent, which cost the simplex method no rows; because the segments
fill in order of falling slope, no binaries are needed. Keeping segments and ``tau``
in dollars, not in units of u, keeps the bounds within [0, B] even for counties of a
few hundred people, where u reaches millions. Everything a user tunes (weights,
theta, lambda, budget, bounds, shares) is a mutable Param here, and a column bound,
row bound, cost or listed matrix entry in ``lp``.

Money inside the model is counted in ``unit_busd`` ($B, or a smaller power of ten for
budgets under $1B), so that the budget is at least one unit and HiGHS's absolute
feasibility tolerances stay far below a cent of the budget.

The per-capita floor, a lower bound on capacity, acts on an *inner* response: the
chords between the tangent points, which never overstate a gain (``tau_in`` <=
s ln(1 + x/s) however the LP fills them), so a plan that meets it in the LP meets it
under the exact response. The objective keeps the outer envelope. The top-k share cap
bounds capacity from above, which no LP over a concave response can state exactly:
``solve.Planner`` bounds the top k by tangents of the exact response at a first plan
and the total by the inner response, a linear rule every plan of which meets the cap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from optimizer.engine.inputs import ModelInputs

BIG_CAP_BUSD = 1e6  # stands in for "no cap" inside the LP
MIN_COEF_UNITS = 1e-6  # the smallest award coefficient of a hub binary, in money units


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

    @property
    def inner(self) -> bool:
        """Whether the model carries the inner (chord) response for capacity lower bounds."""
        return self.chords is not None


TUNABLE_PARAMS = ("c0", "neg_coef", "floor", "cap", "budget", "budget_lo", "lam", "inst_lo",
                  "inst_hi", "group_lo", "y_floor", "topk_share")
TAIL_TANGENTS = 8  # at least this many (a quarter of all) past the dense zone
DENSE_ZONE = 2.0  # the dense zone ends at twice the national per-capita rate


def tangent_layout(inputs: ModelInputs, count: int | None = None,
                   tail: int | None = None) -> np.ndarray:
    """(n, m, K) tangent points u_k of ln(1+u), u = x/s, for every region and instrument.

    u = x/s is funding per capita relative to the instrument's national scale per
    capita, so plans sit at similar u everywhere. Three quarters of the K tangents
    (all but 8 when K < 32) are spaced evenly in ln(1+u) over the dense zone
    0 <= u <= 2 B/sigma_i (twice the whole budget spread at the national per-capita
    rate); the rest reach out to u = B/s_ri (the whole budget in one region).
    u_0 = 0, so the response is exact at zero funding. ``count`` (default: the
    scenario's ``approximation.tangents``) and ``tail`` (default: as above) change that.
    """
    count = inputs.scenario.approximation.tangents if count is None else count
    if tail is None:
        tail = min(max(TAIL_TANGENTS, count // 4), count - 2)
    s = inputs.saturation_busd
    sigma = s / inputs.pop_share[:, None]
    u_all = inputs.budget_busd / s
    u_dense = np.minimum(DENSE_ZONE * inputs.budget_busd / sigma, u_all)
    dense = np.log1p(u_dense)[..., None]
    points = [np.expm1(dense * np.linspace(0.0, 1.0, count - tail))]
    if tail:
        far = np.log1p(np.maximum(u_all, u_dense * (1 + 1e-6)))[..., None]
        points.append(np.expm1(dense + (far - dense) * np.linspace(0.0, 1.0, tail + 1)[1:]))
    return np.concatenate(points, axis=-1)


def tangent_segments(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lower envelope of tangents at ``u`` (..., K) as segments: (length, slope).

    The minimum of concave tangents is itself piecewise linear: segment k runs from
    the intersection of tangents k-1, k to that of k, k+1, with tangent k's slope.
    The last segment is unbounded (length inf).
    """
    slope = 1.0 / (1.0 + u)
    a, b = u[..., :-1], u[..., 1:]
    apart = (b - a) > 1e-9 * (1.0 + a)
    with np.errstate(divide="ignore", invalid="ignore"):
        meet = ((np.log1p(b) - np.log1p(a) + a * slope[..., :-1] - b * slope[..., 1:])
                / (slope[..., :-1] - slope[..., 1:]))
    # (nearly) repeated tangent points meet where they touch: a zero-length segment
    meet = np.maximum.accumulate(np.where(apart, meet, a), axis=-1)
    ends = np.concatenate([meet, np.full(meet.shape[:-1] + (1,), np.inf)], axis=-1)
    return np.diff(ends, axis=-1, prepend=0.0), slope


def segments_busd(inputs: ModelInputs) -> tuple[np.ndarray, np.ndarray]:
    """The model's segments for every (r, i): (length in $B, slope); the last is unbounded."""
    length, slope = tangent_segments(tangent_layout(inputs))
    return length * inputs.saturation_busd[..., None], slope


def chord_segments_busd(inputs: ModelInputs) -> tuple[np.ndarray, np.ndarray]:
    """The inner response for every (r, i): chords of s ln(1 + x/s) between consecutive
    tangent points, as segments (length in $B, slope), all bounded.

    Filled in order they trace the piecewise-linear interpolant, which lies below the
    concave response; any other fill lies lower still. The last tangent point is at
    least the whole budget, so the chords cover every feasible x.
    """
    u = tangent_layout(inputs)
    du = np.diff(u, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(du > 0, np.diff(np.log1p(u), axis=-1) / du, 1.0 / (1.0 + u[..., 1:]))
    return du * inputs.saturation_busd[..., None], slope


def lp_gain_points(inputs: ModelInputs, x_busd: np.ndarray) -> np.ndarray:
    """The LP's gain at x: the envelope of tangents (never below the exact gain)."""
    u = tangent_layout(inputs)
    cuts = np.log1p(u) + (x_busd[..., None] / inputs.saturation_busd[..., None] - u) / (1.0 + u)
    return inputs.effectiveness * inputs.multiplier * inputs.saturation_busd * cuts.min(axis=-1)


def structure_of(inputs: ModelInputs) -> Structure:
    """The structural fingerprint of a model built from ``inputs``."""
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
        hubs=None if inputs.hubs is None else (
            tuple((c, v, tuple(m.tolist())) for c, v, m, _ in inputs.hubs.group_min),
            tuple((c, v, tuple(m.tolist())) for c, v, m in inputs.hubs.group_max_one),
            None if inputs.hubs.designated is None else tuple(inputs.hubs.designated[0].tolist()),
        ),
    )


def blocked_pairs(inputs: ModelInputs) -> list[tuple[int, int]]:
    """(r, i) barred while r still gets other instruments (a row each in the Pyomo model)."""
    barred = ~inputs.allowed & np.asarray(inputs.allowed.any(axis=1))[:, None]
    return [(int(r), int(i)) for r, i in zip(*np.nonzero(barred), strict=True)]


def build_model(inputs: ModelInputs) -> pyo.ConcreteModel:
    """Build the LP for ``inputs`` in Pyomo with the fixed ``tangent_layout``: the LP of
    ``optimizer.engine.lp`` with those tangents, for the analyses that extend it
    (consensus, diagnosis). Pure: it never solves."""
    share = inputs.pop_share
    structure = structure_of(inputs)
    unit = money_unit_busd(inputs.budget_busd)
    seg_len, seg_slope = segments_busd(inputs)
    seg_len = seg_len / unit

    mdl = pyo.ConcreteModel(name="placefund")
    mdl.structure = structure
    mdl.unit_busd = unit
    _add_sets_and_params(mdl, inputs, seg_len.shape[-1])

    # excluded regions are capped at 0 by their region row; single barred instruments
    # by their column's bound
    mdl.x = pyo.Var(mdl.R, mdl.I, domain=pyo.NonNegativeReals)
    for r, i in blocked_pairs(inputs):
        mdl.x[r, i].setub(0.0)
    mdl.tau = pyo.Var(mdl.R, mdl.I, domain=pyo.NonNegativeReals)
    mdl.y = pyo.Var(mdl.R, domain=pyo.NonNegativeReals)

    # funding ($B) spent on segment k of the tangent envelope of (r, i)
    mdl.seg = pyo.Var(mdl.R, mdl.I, mdl.K, domain=pyo.NonNegativeReals, dense=True)
    segs = list(mdl.seg.values())  # (r, i, k) order, as seg_len.ravel()
    for var, length in zip(segs, seg_len.ravel().tolist(), strict=True):
        if length != float("inf"):
            var.setub(length)
    _add_response_rows(mdl, inputs, segs, seg_slope)

    @mdl.Constraint(mdl.R)
    def capacity(b: Any, r: int) -> Any:
        """y_r * 100 * share_r = c0_r + sum_i a_i m_ri tau_ri."""
        return (100.0 * share[r] * b.y[r] + sum(b.neg_coef[r, i] * b.tau[r, i] for i in b.I)
                == b.c0[r])

    if structure.inner:
        _add_inner_response(mdl, inputs, share, unit)
    _add_money_rows(mdl, inputs)
    if inputs.hubs is not None:
        _add_hubs(mdl, inputs)
    if structure.top_k is not None:
        _add_top_k_cap(mdl, share, structure.top_k)

    mean_term = pyo.quicksum(100.0 * share[r] * mdl.y[r] for r in mdl.R)
    spread = _gini_sum(mdl, share) if structure.spread_measure == "gini" else _hoover_sum(mdl, share)
    mdl.objective = pyo.Objective(expr=mean_term - mdl.lam * spread, sense=pyo.maximize)
    # set_params writes through these (index order) and skips values it wrote last time
    mdl.param_slots = {name: list(getattr(mdl, name).values()) for name in TUNABLE_PARAMS}
    mdl.written_params = {}
    set_params(mdl, inputs)
    return mdl


def _add_sets_and_params(mdl: pyo.ConcreteModel, inputs: ModelInputs, segments: int) -> None:
    """Regions R, instruments I, segments K, groups G, and the mutable Params: everything
    a user tunes."""
    mdl.R = pyo.RangeSet(0, inputs.n - 1)
    mdl.I = pyo.RangeSet(0, len(inputs.instruments) - 1)
    mdl.K = pyo.RangeSet(0, segments - 1)
    mdl.G = pyo.RangeSet(0, len(inputs.groups) - 1) if inputs.groups else pyo.Set(initialize=[])
    mdl.c0 = pyo.Param(mdl.R, mutable=True, initialize=0.0)
    mdl.neg_coef = pyo.Param(mdl.R, mdl.I, mutable=True, initialize=0.0)
    mdl.floor = pyo.Param(mdl.R, mutable=True, initialize=0.0)
    mdl.cap = pyo.Param(mdl.R, mutable=True, initialize=0.0)
    mdl.budget = pyo.Param(mutable=True, initialize=0.0)
    mdl.budget_lo = pyo.Param(mutable=True, initialize=0.0)
    mdl.lam = pyo.Param(mutable=True, initialize=0.0)
    mdl.inst_lo = pyo.Param(mdl.I, mutable=True, initialize=0.0)
    mdl.inst_hi = pyo.Param(mdl.I, mutable=True, initialize=0.0)
    mdl.group_lo = pyo.Param(mdl.G, mutable=True, initialize=0.0)
    mdl.y_floor = pyo.Param(mutable=True, initialize=0.0)
    mdl.topk_share = pyo.Param(mutable=True, initialize=1.0)


def _add_money_rows(mdl: pyo.ConcreteModel, inputs: ModelInputs) -> None:
    """The money rules: budget use, region bounds, instrument shares, group minimums."""

    @mdl.Constraint()
    def budget_use(b: Any) -> Any:
        return pyo.inequality(b.budget_lo, pyo.quicksum(b.x.values()), b.budget)

    @mdl.Constraint(mdl.R)
    def region_bounds(b: Any, r: int) -> Any:
        return pyo.inequality(b.floor[r], sum(b.x[r, i] for i in b.I), b.cap[r])

    @mdl.Constraint(mdl.I)
    def instrument_share(b: Any, i: int) -> Any:
        return pyo.inequality(b.inst_lo[i], sum(b.x[r, i] for r in b.R), b.inst_hi[i])

    @mdl.Constraint(mdl.G)
    def group_min(b: Any, g: int) -> Any:
        members = inputs.groups[g].members
        return sum(b.x[int(r), i] for r in members for i in b.I) >= b.group_lo[g]


def _add_response_rows(mdl: pyo.ConcreteModel, inputs: ModelInputs, segs: list,
                       seg_slope: np.ndarray) -> None:
    """x = sum_k seg_k and tau = sum_k slope_k * seg_k, one pair per (r, i), all in $B.

    Written as LinearExpressions from flat lists: with K segments per term these are
    most of the model's nonzeros, and the generic expression system is much slower.
    """
    m, count = len(inputs.instruments), seg_slope.shape[-1]
    xs, taus = list(mdl.x.values()), list(mdl.tau.values())
    slopes = seg_slope.reshape(-1, count).tolist()

    def block(r: int, i: int) -> list:
        j = r * m + i
        return segs[j * count:(j + 1) * count]

    @mdl.Constraint(mdl.R, mdl.I)
    def funding(b: Any, r: int, i: int) -> Any:
        """x = the sum of segment use."""
        j = r * m + i
        return (0.0, LinearExpression(constant=0.0, linear_coefs=[1.0] + [-1.0] * count,
                                      linear_vars=[xs[j], *block(r, i)]), 0.0)

    @mdl.Constraint(mdl.R, mdl.I)
    def response(b: Any, r: int, i: int) -> Any:
        """tau = sum_k slope_k * segment_k: s ln(1 + x/s) approximated from above."""
        j = r * m + i
        return (0.0, LinearExpression(constant=0.0, linear_coefs=[1.0] + [-c for c in slopes[j]],
                                      linear_vars=[taus[j], *block(r, i)]), 0.0)


def _add_inner_response(mdl: pyo.ConcreteModel, inputs: ModelInputs, share: np.ndarray,
                        unit: float) -> None:
    """``y_in``: per-capita capacity under the inner (chord) response, never above the
    exact one; capacity lower bounds (per-capita floor, top-k total) act on it."""
    chord_len, chord_slope = chord_segments_busd(inputs)
    chord_len = chord_len / unit
    count = chord_slope.shape[-1]
    m = len(inputs.instruments)
    mdl.KC = pyo.RangeSet(0, count - 1)
    mdl.seg_in = pyo.Var(mdl.R, mdl.I, mdl.KC, domain=pyo.NonNegativeReals, dense=True)
    segs = list(mdl.seg_in.values())
    for var, length in zip(segs, chord_len.ravel().tolist(), strict=True):
        var.setub(length)
    mdl.tau_in = pyo.Var(mdl.R, mdl.I, domain=pyo.NonNegativeReals)
    if mdl.structure.per_capita_floor:
        mdl.y_in = pyo.Var(mdl.R, bounds=lambda b, r: (b.y_floor, None))
    else:
        mdl.y_in = pyo.Var(mdl.R, domain=pyo.NonNegativeReals)
    xs, taus = list(mdl.x.values()), list(mdl.tau_in.values())
    slopes = chord_slope.reshape(-1, count).tolist()

    @mdl.Constraint(mdl.R, mdl.I)
    def funding_in(b: Any, r: int, i: int) -> Any:
        """x = the sum of chord-segment use."""
        j = r * m + i
        return (0.0, LinearExpression(constant=0.0, linear_coefs=[1.0] + [-1.0] * count,
                                      linear_vars=[xs[j], *segs[j * count:(j + 1) * count]]), 0.0)

    @mdl.Constraint(mdl.R, mdl.I)
    def response_in(b: Any, r: int, i: int) -> Any:
        """tau_in = sum_k chord slope_k * segment_k: s ln(1 + x/s) from below."""
        j = r * m + i
        return (0.0, LinearExpression(constant=0.0, linear_coefs=[1.0] + [-c for c in slopes[j]],
                                      linear_vars=[taus[j], *segs[j * count:(j + 1) * count]]),
                0.0)

    @mdl.Constraint(mdl.R)
    def capacity_in(b: Any, r: int) -> Any:
        """y_in_r * 100 * share_r = c0_r + sum_i a_i m_ri tau_in_ri."""
        return (100.0 * share[r] * b.y_in[r]
                + sum(b.neg_coef[r, i] * b.tau_in[r, i] for i in b.I) == b.c0[r])


def _add_top_k_cap(mdl: pyo.ConcreteModel, share: np.ndarray, k: int) -> None:
    """Sum of the k largest capacities <= share * total (the k-largest-sum LP form).

    Two modes, switched by the mutable ``topk_lin``: 0 bounds the outer capacities,
    which the LP can understate where the cap binds (it may fill segments out of order);
    1 bounds, for the top k, the tangent of each exact response at a given plan (an
    affine function never below it, ``up_const + up_slope * x``) and, for the total,
    the inner capacity ``y_in``: every plan feasible there meets the cap exactly.
    """
    mdl.topk_lin = pyo.Param(mutable=True, initialize=0.0)
    mdl.up_const = pyo.Param(mdl.R, mutable=True, initialize=0.0)  # points
    mdl.up_slope = pyo.Param(mdl.R, mdl.I, mutable=True, initialize=0.0)  # points per unit
    mdl.topk_threshold = pyo.Var()
    mdl.topk_excess = pyo.Var(mdl.R, domain=pyo.NonNegativeReals)

    @mdl.Constraint(mdl.R)
    def topk_excess_def(b: Any, r: int) -> Any:
        outer = 100.0 * share[r] * b.y[r]
        upper = b.up_const[r] + sum(b.up_slope[r, i] * b.x[r, i] for i in b.I)
        return b.topk_excess[r] >= ((1 - b.topk_lin) * outer + b.topk_lin * upper
                                    - b.topk_threshold)

    @mdl.Constraint()
    def topk_cap(b: Any) -> Any:
        total = sum(100.0 * share[r] * ((1 - b.topk_lin) * b.y[r] + b.topk_lin * b.y_in[r])
                    for r in b.R)
        return k * b.topk_threshold + sum(b.topk_excess.values()) - b.topk_share * total <= 0


def _add_hubs(mdl: pyo.ConcreteModel, inputs: ModelInputs) -> None:
    """Binary hubs: only hubs are funded, each with an award in [award_min, award_max]."""
    rules = inputs.hubs
    assert rules is not None
    mdl.hub = pyo.Var(mdl.R, domain=pyo.Binary)
    mdl.hub_count_min = pyo.Param(mutable=True, initialize=0)
    mdl.hub_count_max = pyo.Param(mutable=True, initialize=0)
    mdl.award_min = pyo.Param(mutable=True, initialize=0.0)
    mdl.award_max = pyo.Param(mdl.R, mutable=True, initialize=0.0)  # min(cap_r, award max)
    mdl.HUB_GROUPS = pyo.RangeSet(0, len(rules.group_min) - 1) if rules.group_min else pyo.Set(
        initialize=[])
    mdl.hub_group_min = pyo.Param(mdl.HUB_GROUPS, mutable=True, initialize=0)
    mdl.MAX_ONE = pyo.RangeSet(0, len(rules.group_max_one) - 1) if rules.group_max_one else (
        pyo.Set(initialize=[]))
    mdl.designated_share = pyo.Param(mutable=True, initialize=0.0)

    @mdl.Constraint(mdl.R)
    def hub_award_max(b: Any, r: int) -> Any:
        return sum(b.x[r, i] for i in b.I) <= b.award_max[r] * b.hub[r]

    @mdl.Constraint(mdl.R)
    def hub_award_min(b: Any, r: int) -> Any:
        return sum(b.x[r, i] for i in b.I) >= b.award_min * b.hub[r]

    @mdl.Constraint()
    def hub_count(b: Any) -> Any:
        return pyo.inequality(b.hub_count_min, pyo.quicksum(b.hub.values()), b.hub_count_max)

    @mdl.Constraint(mdl.HUB_GROUPS)
    def hub_group(b: Any, g: int) -> Any:
        return sum(b.hub[int(r)] for r in rules.group_min[g][2]) >= b.hub_group_min[g]

    @mdl.Constraint(mdl.MAX_ONE)
    def hub_max_one(b: Any, g: int) -> Any:
        return sum(b.hub[int(r)] for r in rules.group_max_one[g][2]) <= 1

    if rules.designated is not None:
        members = rules.designated[0]
        mdl.hub_designated = pyo.Constraint(expr=sum(mdl.hub[int(r)] for r in members)
                                            >= mdl.designated_share * pyo.quicksum(mdl.hub.values()))


def _set_hub_params(mdl: pyo.ConcreteModel, inputs: ModelInputs) -> None:
    rules = inputs.hubs
    assert rules is not None
    mdl.hub_count_min = rules.count_min
    mdl.hub_count_max = rules.count_max
    # coefficients of the hub binaries stay >= 1e-6 units: HiGHS drops (near-)zero coefficients
    # it is asked to set, so a later non-zero value could not come back
    unit = mdl.unit_busd
    mdl.award_min = max(rules.award_min_busd / unit, MIN_COEF_UNITS)
    top = np.minimum(np.where(inputs.allowed.any(axis=1), inputs.cap_busd, 0.0),
                     rules.award_max_busd) / unit
    top = np.maximum(top, MIN_COEF_UNITS)
    for r in range(inputs.n):
        mdl.award_max[r] = float(top[r])
    for g, rule in enumerate(rules.group_min):
        mdl.hub_group_min[g] = rule[3]
    if rules.designated is not None:
        mdl.designated_share = rules.designated[1]


def _gini_sum(mdl: pyo.ConcreteModel, share: np.ndarray) -> pyo.Var:
    """Exact Gini term: 100 * sum_{r<s} w_r w_s |y_r - y_s|, one variable per pair.

    S = 100 (mu - lambda * that) = 100 mu (1 - lambda G). Grows as n^2.
    """
    n = len(share)
    mdl.PAIRS = pyo.Set(initialize=[(r, s) for r in range(n) for s in range(r + 1, n)],
                        dimen=2, ordered=True)
    mdl.d = pyo.Var(mdl.PAIRS, domain=pyo.NonNegativeReals)

    @mdl.Constraint(mdl.PAIRS)
    def gap_up(b: Any, r: int, s: int) -> Any:
        return b.d[r, s] >= b.y[r] - b.y[s]

    @mdl.Constraint(mdl.PAIRS)
    def gap_down(b: Any, r: int, s: int) -> Any:
        return b.d[r, s] >= b.y[s] - b.y[r]

    # one variable holds the sum, so lambda is a single mutable coefficient
    mdl.gini_sum = pyo.Var(domain=pyo.NonNegativeReals)
    mdl.gini_sum_def = pyo.Constraint(expr=mdl.gini_sum == pyo.quicksum(
        float(100.0 * share[r] * share[s]) * mdl.d[r, s] for r, s in mdl.PAIRS))
    return mdl.gini_sum


def _hoover_sum(mdl: pyo.ConcreteModel, share: np.ndarray) -> pyo.Var:
    """Hoover term: 100 * sum_r w_r |y_r - mu| / 2, linear in n.

    S = 100 mu (1 - lambda H) with H the Hoover (Pietra) index sum w|y - mu| / (2 mu).
    Since sum w (y - mu) = 0, the weighted deviations above the mean equal those below,
    so the term is 100 * sum w (y - mu)+: one row per region, dev_r >= y_r - mu with
    dev_r >= 0 (half the rows of |.|, and a sparser mu column).
    """
    mdl.mu = pyo.Var()
    mdl.mu_def = pyo.Constraint(expr=mdl.mu == pyo.quicksum(
        float(share[r]) * mdl.y[r] for r in mdl.R))
    mdl.dev = pyo.Var(mdl.R, domain=pyo.NonNegativeReals)

    @mdl.Constraint(mdl.R)
    def dev_up(b: Any, r: int) -> Any:
        return b.dev[r] >= b.y[r] - b.mu

    mdl.hoover_sum = pyo.Var(domain=pyo.NonNegativeReals)
    mdl.hoover_sum_def = pyo.Constraint(expr=mdl.hoover_sum == pyo.quicksum(
        float(100.0 * share[r]) * mdl.dev[r] for r in mdl.R))
    return mdl.hoover_sum


def add_gini_cap(mdl: pyo.ConcreteModel, share: np.ndarray) -> None:
    """Add Gini <= ``gini_eps`` (a mutable Param; 1, its start, never binds).

    ``gini_sum`` is 100 sum_{r<s} w_r w_s |y_r - y_s| and the mean term 100 mu, so the
    row gini_sum - eps * 100 mu <= 0 caps the LP's Gini; the epsilon-constraint method
    of the Pareto frontier moves eps.
    """
    if not hasattr(mdl, "gini_sum"):
        raise ValueError("a Gini cap needs the pairwise Gini model (spread_measure: gini)")
    mdl.gini_eps = pyo.Param(mutable=True, initialize=1.0)
    mean_term = pyo.quicksum(float(100.0 * share[r]) * mdl.y[r] for r in mdl.R)
    mdl.gini_cap = pyo.Constraint(expr=mdl.gini_sum - mdl.gini_eps * mean_term <= 0)


def set_params(mdl: pyo.ConcreteModel, inputs: ModelInputs) -> None:
    """Write every tunable number of ``inputs`` into the model's mutable Params.

    Only values that differ from the last ones written are touched: a weight change
    rewrites the baseline and the multipliers, not the bounds.
    """
    if structure_of(inputs) != mdl.structure:
        raise ValueError("inputs change the model's structure; build a new model")
    sc = inputs.scenario
    unit = mdl.unit_busd
    budget = inputs.budget_busd / unit
    cap = np.where(inputs.allowed.any(axis=1), np.minimum(inputs.cap_busd, BIG_CAP_BUSD), 0.0)
    if inputs.hubs is not None and inputs.hubs.award_max_busd / unit < MIN_COEF_UNITS:
        # an award maximum below the hub rows' smallest coefficient (MIN_COEF_UNITS):
        # the region rows, whose bounds may be 0, hold every region to it exactly
        cap = np.minimum(cap, inputs.hubs.award_max_busd)
    values = {
        "c0": inputs.c0,
        "neg_coef": -(inputs.effectiveness * inputs.multiplier) * unit,
        "floor": inputs.floor_busd / unit,
        "cap": cap / unit,
        "budget": budget,
        "budget_lo": 0.0 if sc.allow_unspent else budget,
        "lam": sc.spread_weight,
        "inst_lo": inputs.instrument_min_share * budget,
        "inst_hi": inputs.instrument_max_share * budget,
        "group_lo": [rule.min_share * budget for rule in inputs.groups],
        "y_floor": sc.per_capita_floor or 0.0,
        "topk_share": sc.top_k_share_cap.max_share if sc.top_k_share_cap else 1.0,
    }
    written = mdl.written_params
    for name, new in values.items():
        new = np.asarray(new, dtype=float).ravel()
        last = written.get(name)
        slots = mdl.param_slots[name]
        changed = range(len(new)) if last is None else np.flatnonzero(new != last).tolist()
        for j in changed:
            slots[j].set_value(float(new[j]))
        written[name] = new
    if inputs.hubs is not None:
        _set_hub_params(mdl, inputs)


def set_top_k_linearization(mdl: pyo.ConcreteModel, inputs: ModelInputs,
                            at_busd: np.ndarray | None, margin: float = 0.0) -> None:
    """Bound the top-k capacities by the tangents of the exact response at ``at_busd``
    (mode 1 of ``_add_top_k_cap``), or by the outer capacities (None, mode 0) with the
    LP's share lowered by ``margin``."""
    cap = inputs.scenario.top_k_share_cap
    share = 1.0 if cap is None else cap.max_share
    share = max(share - margin, 0.0) if at_busd is None else share
    mdl.topk_share.set_value(share)
    mdl.written_params["topk_share"] = np.array([share])
    if at_busd is None:
        mdl.topk_lin.set_value(0.0)
        return
    s = inputs.saturation_busd
    coef = inputs.effectiveness * inputs.multiplier
    slope = coef / (1.0 + at_busd / s)  # points per $B
    const = inputs.c0 + (coef * s * np.log1p(at_busd / s) - slope * at_busd).sum(axis=1)
    slope_units = slope * mdl.unit_busd
    for (r, i), param in mdl.up_slope.items():
        param.set_value(float(slope_units[r, i]))
    for r, param in mdl.up_const.items():
        param.set_value(float(const[r]))
    mdl.topk_lin.set_value(1.0)
