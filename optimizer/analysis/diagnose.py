"""Infeasibility diagnosis: which rules conflict, and the smallest change that fixes it.

Rules are the scenario's own knobs (floors, caps, shares, hub counts, ...), so the
answer is in an analyst's words. Two steps, both on real solves (LP or MIP alike):

1. a deletion filter over the active rules finds a minimal conflicting set: switching
   off any one rule of the set makes the rest feasible. For an LP it can start instead
   from the rules behind HiGHS's own irreducible infeasible subsystem (``iis_rules``:
   the IIS's rows and bounds mapped back to the rules that set them), filtering only
   those; ``CONFLICT_SEARCH`` says which is used (``benchmarks/bench_diagnose.py``
   measured both);
2. for each numeric knob in that set (and the budget) a bisection finds the smallest
   change of that knob alone that restores feasibility; the value is rounded, away from
   the infeasible side, to what the message prints, and re-solved with exactly that
   value before it is offered. Allowing unspent funds is offered when it alone works.

Where the sums of ``feasibility.precheck`` show the conflict, the bisection runs on the
sums first (no solve) and confirms the printed value past their boundary with a solve:
on a hub plan (a MIP) at metro scale each solve costs seconds (the statute on metros at
$80B took 31 s with a solve per step). The fixes form one list: those that keep every
pack's rules first, then by relative change.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import highspy
import numpy as np

from optimizer.engine import formatting as fmt
from optimizer.engine.data import Regions
from optimizer.engine.errors import InfeasibleError, PlaceFundError
from optimizer.engine.feasibility import absorbable_busd, fewest_hubs_absorb_busd, precheck
from optimizer.engine.inputs import BUSD, resolve
from optimizer.engine.result import AllocationResult
from optimizer.engine.scenario import Scenario, constraint_packs, scenario_from_dict
from optimizer.engine.solve import Planner, Solver

BISECTION_STEPS = 18
ORACLE_MIP_GAP = 0.99  # any feasible hub choice answers "feasible?"
ORACLE_TIME_LIMIT_S = 20.0


@dataclass(frozen=True)
class Rule:
    """One family of constraints a scenario can switch on."""

    name: str
    label: str
    active: Callable[[dict], bool]
    neutral: Callable[[dict], dict]
    # a numeric knob: read, write, the value that switches the rule off, unit, verb
    get: Callable[[dict], float] | None = None
    put: Callable[[dict, float], dict] | None = None
    limit: Callable[[dict, int], float] | None = None
    unit: str = "usd"
    integer: bool = False


def _set(d: dict, key: str, value: Any) -> dict:
    return {**d, key: value}


def _hub(d: dict, key: str, sub: str, value: Any) -> dict:
    hubs = dict(d["hubs"])
    hubs[key] = {**hubs[key], sub: value}
    return {**d, "hubs": hubs}


def _hub_top(d: dict, key: str, value: Any) -> dict:
    return {**d, "hubs": {**d["hubs"], key: value}}


RULES: tuple[Rule, ...] = (
    Rule("region_floor_usd", "the per-region floor", lambda d: d["region_floor_usd"] > 0,
         lambda d: _set(d, "region_floor_usd", 0.0), lambda d: d["region_floor_usd"],
         lambda d, v: _set(d, "region_floor_usd", v), lambda d, n: 0.0),
    Rule("region_floor_usd_per_capita", "the per-capita funding floor",
         lambda d: d["region_floor_usd_per_capita"] > 0,
         lambda d: _set(d, "region_floor_usd_per_capita", 0.0),
         lambda d: d["region_floor_usd_per_capita"],
         lambda d, v: _set(d, "region_floor_usd_per_capita", v), lambda d, n: 0.0, "usd_pc"),
    Rule("region_cap_usd", "the per-region cap", lambda d: d["region_cap_usd"] is not None,
         lambda d: _set(d, "region_cap_usd", None), lambda d: d["region_cap_usd"],
         lambda d, v: _set(d, "region_cap_usd", v), lambda d, n: d["budget"]),
    Rule("region_cap_usd_per_capita", "the per-capita funding cap",
         lambda d: d["region_cap_usd_per_capita"] is not None,
         lambda d: _set(d, "region_cap_usd_per_capita", None),
         lambda d: d["region_cap_usd_per_capita"],
         lambda d, v: _set(d, "region_cap_usd_per_capita", v), lambda d, n: d["budget"], "usd_pc"),
    Rule("max_region_share", "the maximum share of the budget per region",
         lambda d: d["max_region_share"] is not None,
         lambda d: _set(d, "max_region_share", None), lambda d: d["max_region_share"],
         lambda d, v: _set(d, "max_region_share", v), lambda d, n: 1.0, "share"),
    Rule("region_bounds", "the floors/caps set for single regions",
         lambda d: bool(d["region_bounds"]), lambda d: _set(d, "region_bounds", {})),
    Rule("instrument_shares", "the instrument share limits",
         lambda d: bool(d["instrument_shares"]), lambda d: _set(d, "instrument_shares", {})),
    Rule("group_min_shares", "the group minimum shares", lambda d: bool(d["group_min_shares"]),
         lambda d: _set(d, "group_min_shares", {}), lambda d: 1.0,
         lambda d, v: _set(d, "group_min_shares", {c: {g: s * v for g, s in m.items()}
                                                   for c, m in d["group_min_shares"].items()}),
         lambda d, n: 0.0, "factor"),
    Rule("exclusions", "the exclusions",
         lambda d: bool(d["exclusions"]["regions"] or d["exclusions"]["top_k_incumbents"]
                        or d["exclusions"]["instruments"]),
         lambda d: _set(d, "exclusions", {"regions": [], "top_k_incumbents": 0,
                                          "instruments": {}})),
    Rule("per_capita_floor", "the per-capita capacity floor",
         lambda d: d["per_capita_floor"] is not None,
         lambda d: _set(d, "per_capita_floor", None), lambda d: d["per_capita_floor"],
         lambda d, v: _set(d, "per_capita_floor", v), lambda d, n: 0.0, "capacity"),
    Rule("top_k_share_cap", "the top-k share cap", lambda d: d["top_k_share_cap"] is not None,
         lambda d: _set(d, "top_k_share_cap", None),
         lambda d: d["top_k_share_cap"]["max_share"],
         lambda d, v: _set(d, "top_k_share_cap", {**d["top_k_share_cap"], "max_share": v}),
         lambda d, n: 1.0, "share"),
    Rule("hubs.count.min", "the minimum number of hubs",
         lambda d: d["hubs"] is not None and d["hubs"]["count"]["min"] > 0,
         lambda d: _hub(d, "count", "min", 0), lambda d: d["hubs"]["count"]["min"],
         lambda d, v: _hub(d, "count", "min", int(round(v))), lambda d, n: 0, "hubs", True),
    Rule("hubs.count.max", "the maximum number of hubs",
         lambda d: d["hubs"] is not None and d["hubs"]["count"]["max"] is not None,
         lambda d: _hub(d, "count", "max", None), lambda d: d["hubs"]["count"]["max"],
         lambda d, v: _hub(d, "count", "max", int(round(v))), lambda d, n: n, "hubs", True),
    Rule("hubs.award_usd.min", "the minimum hub award",
         lambda d: d["hubs"] is not None and d["hubs"]["award_usd"]["min"] > 0,
         lambda d: _hub(d, "award_usd", "min", 0.0), lambda d: d["hubs"]["award_usd"]["min"],
         lambda d, v: _hub(d, "award_usd", "min", v), lambda d, n: 0.0),
    Rule("hubs.award_usd.max", "the maximum hub award",
         lambda d: d["hubs"] is not None and d["hubs"]["award_usd"]["max"] is not None,
         lambda d: _hub(d, "award_usd", "max", None), lambda d: d["hubs"]["award_usd"]["max"],
         lambda d, v: _hub(d, "award_usd", "max", v), lambda d, n: d["budget"]),
    Rule("hubs.min_per_group", "the minimum hubs per group",
         lambda d: d["hubs"] is not None and bool(d["hubs"]["min_per_group"]),
         lambda d: _hub_top(d, "min_per_group", {})),
    Rule("hubs.max_one_per_group", "at most one hub per group",
         lambda d: d["hubs"] is not None and bool(d["hubs"]["max_one_per_group"]),
         lambda d: _hub_top(d, "max_one_per_group", [])),
    Rule("hubs.designated", "the designated share of hubs",
         lambda d: d["hubs"] is not None and d["hubs"]["designated"] is not None,
         lambda d: _hub_top(d, "designated", None),
         lambda d: d["hubs"]["designated"]["min_share"],
         lambda d, v: _hub(d, "designated", "min_share", v), lambda d, n: 0.0, "share"),
)

BUDGET = Rule("budget", "the budget", lambda d: True, lambda d: d,
              lambda d: d["budget"], lambda d, v: _set(d, "budget", v), lambda d, n: 0.0)


@dataclass(frozen=True)
class Relaxation:
    """Changing one knob from ``current`` to ``suggested`` makes the scenario feasible."""

    rule: str
    current: float
    suggested: float
    text: str
    changes: dict[str, Any] = field(default_factory=dict)
    pack: str | None = None  # the constraint pack whose rule this changes, if any


@dataclass(frozen=True)
class Diagnosis:
    """A minimal set of conflicting rules and the smallest single-knob fixes."""

    conflicting: list[str]
    relaxations: list[Relaxation]

    def lines(self) -> list[str]:
        """What conflicts, in words (the fixes are ``relaxations``, one ranked list)."""
        if not self.conflicting:
            return []
        return ["these rules conflict (dropping any one of them resolves it): "
                + "; ".join(self.conflicting)]


def _display_step(value: float, unit: str) -> float:
    """The resolution at which ``_fmt`` prints ``value``: every multiple of it prints
    exactly as itself."""
    a = abs(value)
    if unit == "usd":
        return 1e7 if a >= 1e9 else 1e4 if a >= 1e6 else 1.0
    if unit == "usd_pc":
        return 0.01
    if unit == "share":
        return 1e-3
    if unit == "factor":
        return 1e-2
    if unit == "hubs":
        return 1.0
    if a == 0 or not math.isfinite(a):
        return 1e-4
    return 10.0 ** (math.floor(math.log10(a)) - 3)  # four significant digits


def printable(value: float, unit: str, upward: bool) -> float:
    """``value`` rounded to what is printed, upward or downward (the feasible side).

    >>> printable(1.5686e9, "usd", upward=False), printable(0.75961, "capacity", upward=False)
    (1560000000.0, 0.7596)
    >>> printable(0.9137, "factor", upward=False), printable(0.6001, "share", upward=True)
    (0.91, 0.601)
    """
    step = _display_step(value, unit)
    # a hair of slack so that a value already on the grid stays where it is
    units = value / step
    units = math.ceil(units - 1e-9) if upward else math.floor(units + 1e-9)
    digits = max(0, -math.floor(math.log10(step)))
    return round(units * step, digits)


def _fmt(value: float, unit: str) -> str:
    """``value`` as a fix prints it: to the resolution of ``_display_step``."""
    if unit == "usd":
        return fmt.money(value, digits=2)
    if unit == "usd_pc":
        return fmt.per_person(value, cents=True)
    if unit == "share":
        return fmt.share(value, 1)
    if unit == "hubs":
        return fmt.count(value)
    if unit == "factor":
        return f"{fmt.share(value, 0)} of their values"
    return f"{value:.4g}"


def _question(data: dict) -> Scenario:
    """``data`` asked as "is there a plan?": any hub choice within the rules answers it
    (``ORACLE_MIP_GAP``), and no answer takes longer than ``ORACLE_TIME_LIMIT_S``."""
    if data.get("hubs") is not None:
        data = {**data, "hubs": {**data["hubs"], "mip_rel_gap": ORACLE_MIP_GAP}}
    data = {**data, "solver": {**data["solver"],
                               "time_limit_s": min(data["solver"]["time_limit_s"],
                                                   ORACLE_TIME_LIMIT_S)}}
    return scenario_from_dict(data, source="diagnosis")


class _Oracle:
    """Answers "is this scenario feasible?" with real solves, reusing models."""

    def __init__(self, regions: Regions) -> None:
        self.regions = regions
        self.planner = Planner(regions, mip_duals=False, refine=False)
        self.calls = 0

    def feasible(self, data: dict) -> bool:
        return self.solve(data) is not None

    def solve(self, data: dict) -> Any:
        """The checked plan of ``data`` (an AllocationResult), or None if there is none."""
        self.calls += 1
        try:
            return self.planner.solve(_question(data))
        except PlaceFundError:  # infeasible, or no plan that passes its check
            return None

    def confirmed(self, data: dict, screen: bool = True) -> Any:
        """The checked plan of ``data`` from a planner with the tangent loop, as the next
        solve of a person who applies the fix makes it (this oracle's planner skips the
        loop: a plan it finds can still fail there), or None. ``screen`` asks this oracle
        first (a quick no for a value that is likely infeasible). A fresh planner each time:
        one warm from an earlier confirmation can solve what a person's fresh one does not."""
        if screen and self.solve(data) is None:
            return None
        self.calls += 1
        try:
            return Planner(self.regions, mip_duals=False).solve(_question(data))
        except PlaceFundError:
            return None


def _bisect(oracle: _Oracle, data: dict, rule: Rule, n: int) -> Relaxation | None:
    """Smallest move of ``rule``'s knob from its value towards its limit that is feasible."""
    assert rule.get and rule.put and rule.limit
    current = float(rule.get(data))
    limits = [rule.limit(data, n)]
    if rule is BUDGET:
        limits = [current * 20.0, current * 1e-6]
    for limit in limits:
        if math.isclose(limit, current):
            continue
        quick = _by_arithmetic(oracle, data, rule, current, limit)
        if quick is not None:
            return quick
        if not oracle.feasible(rule.put(data, limit)):
            continue
        good, bad = limit, current
        for _ in range(BISECTION_STEPS):
            if rule.integer and abs(good - bad) <= 1:
                break
            mid = (good + bad) / 2 if not rule.integer else math.floor((good + bad) / 2 + 0.5)
            if rule.unit == "usd" and rule is BUDGET and good > bad:
                mid = math.sqrt(good * bad) if bad > 0 else mid
            if mid in (good, bad):
                break
            if oracle.feasible(rule.put(data, mid)):
                good = mid
            else:
                bad = mid
        suggested = _verified_printable(oracle, data, rule, current, bad, good)
        if suggested is None:
            continue
        return _relaxation(data, rule, current, suggested)
    return None


ARITHMETIC_STEPS = 60  # bisection steps on the sums alone (each a resolve, no solve)


def _sums_allow(oracle: _Oracle, data: dict) -> bool:
    """Whether the sums alone allow ``data`` (``precheck`` finds no conflict): necessary
    for a plan, and answered without a solve."""
    try:
        return not precheck(resolve(oracle.regions, scenario_from_dict(data, source="diagnosis")))
    except PlaceFundError:
        return False


def _by_arithmetic(oracle: _Oracle, data: dict, rule: Rule, current: float, limit: float
                   ) -> Relaxation | None:
    """The fix of ``rule`` found from the sums first, when they show the conflict: the
    sums' boundary (bisected without a solve) bounds the true one, so the first printed
    value past it that solves is the smallest printed fix. None when the sums do not show
    the conflict, do not clear it at ``limit``, or no value near their boundary solves
    (the bisection on solves then runs as before). On the statute at metro scale this
    turns some fifteen MIP solves into two."""
    assert rule.put
    if _sums_allow(oracle, data) or not _sums_allow(oracle, rule.put(data, limit)):
        return None
    good, bad = limit, current
    for _ in range(ARITHMETIC_STEPS):
        if rule.integer and abs(good - bad) <= 1:
            break
        mid = (good + bad) / 2 if not rule.integer else math.floor((good + bad) / 2 + 0.5)
        if mid in (good, bad):
            break
        if _sums_allow(oracle, rule.put(data, mid)):
            good = mid
        else:
            bad = mid
    suggested = _verified_printable(oracle, data, rule, current, bad, good, screen=False)
    return None if suggested is None else _relaxation(data, rule, current, suggested)


def _relaxation(data: dict, rule: Rule, current: float, suggested: float) -> Relaxation:
    """The fix that moves ``rule``'s knob from ``current`` to ``suggested``, in words."""
    assert rule.put
    verb = "raise" if suggested > current else "lower"
    if rule.unit == "factor":
        text = f"scale {rule.label} down to {_fmt(suggested, 'factor')}"
    else:
        text = (f"{verb} {rule.label} from {_fmt(current, rule.unit)} to "
                f"{_fmt(suggested, rule.unit)}")
        if rule is BUDGET:
            sign = "+" if suggested > current else fmt.MINUS
            text += f" ({sign}{_fmt(abs(suggested - current), 'usd')})"
    key = rule.name.split(".")[0]
    return Relaxation(rule.name, current, suggested, text, {key: rule.put(data, suggested)[key]})


PRINTABLE_TRIES = 3  # grid steps past the bisected value before a fix is dropped


def _verified_printable(oracle: _Oracle, data: dict, rule: Rule, current: float, bad: float,
                        good: float, screen: bool = True) -> float | None:
    """A printed value just past the feasibility boundary (which lies between ``bad``,
    infeasible, and ``good``, feasible), confirmed by a solve with exactly that value:
    the first printed value past ``bad``, else ``good`` rounded away from ``current``,
    else a few steps further; None if none is found."""
    assert rule.put and rule.limit
    upward = good > current
    if rule.integer:  # a count: the boundary itself, else the next few counts past it
        step = 1 if upward else -1
        end = rule.limit(data, len(oracle.regions))
        counts = [good + step * k for k in range(PRINTABLE_TRIES)
                  if (good + step * k - end) * step <= 0]
        return next((int(c) for c in counts
                     if oracle.confirmed(rule.put(data, c), screen=screen) is not None), None)
    first = printable(bad, rule.unit, upward)
    if first == bad:
        first = printable(bad + (1 if upward else -1) * _display_step(bad, rule.unit),
                          rule.unit, upward)
    candidates = [first] if (first - good) * (1 if upward else -1) < 0 else []
    value = printable(good, rule.unit, upward)
    for _ in range(PRINTABLE_TRIES):
        candidates.append(value)
        value = printable(value + (1 if upward else -1) * _display_step(value, rule.unit),
                          rule.unit, upward)
    for value in candidates:
        if oracle.confirmed(rule.put(data, value), screen=screen) is not None:
            return value
    return None


def _unspent_fix(oracle: _Oracle, data: dict) -> Relaxation | None:
    """Allowing the budget to be underspent, when that alone makes it feasible; the text
    says how much the plan then spends."""
    if data["allow_unspent"]:
        return None
    plan = oracle.confirmed({**data, "allow_unspent": True}, screen=False)
    if plan is None:
        return None
    hubs = int(plan.regions["hub"].sum()) if data.get("hubs") is not None else 0
    funds = f"funds {fmt.count(hubs)} hubs and " if hubs else ""
    return Relaxation("allow_unspent", 0.0, 1.0,
                      f"allow unspent funds: the plan then {funds}spends "
                      f"{_fmt(plan.spent_usd, 'usd')} of the {_fmt(data['budget'], 'usd')} budget",
                      {"allow_unspent": True})


def _budget_ceiling_fix(oracle: _Oracle, regions: Regions, scenario: Scenario
                        ) -> Relaxation | None:
    """Lowering the budget to the most the caps (and hub awards) can absorb, when the
    whole budget must be spent and it is more than that: the one budget change that
    keeps every other rule. Where the hub count has no cap, the budget the fewest hubs
    the rules allow can absorb at the maximum award: the ceiling would make every
    eligible region a hub at that award, which no program of the rules' shape is."""
    data = scenario.to_dict()
    if data["allow_unspent"]:
        return None
    inputs = resolve(regions, scenario)
    ceiling = absorbable_busd(inputs) * BUSD
    current = float(data["budget"])
    if ceiling >= current or ceiling <= 0:
        return None
    fewest = fewest_hubs_absorb_busd(inputs)
    if fewest is not None and inputs.hubs is not None:
        target = fewest * BUSD
        why = (f"what the fewest hubs the rules allow ({fmt.count(inputs.hubs.count_min)}) can "
               f"absorb at the {_fmt(inputs.hubs.award_max_busd * BUSD, 'usd')} maximum award")
    else:
        target, why = ceiling, "the most the rules can absorb"
    value = printable(target, "usd", upward=False)
    for _ in range(PRINTABLE_TRIES):
        if value > 0 and oracle.confirmed(BUDGET.put(data, value),  # type: ignore[misc]
                                          screen=False) is not None:
            return Relaxation("budget", current, value,
                              f"lower the budget from {_fmt(current, 'usd')} to "
                              f"{_fmt(value, 'usd')}, {why} "
                              f"({fmt.MINUS}{_fmt(current - value, 'usd')})", {"budget": value})
        value = printable(value - _display_step(value, "usd"), "usd", upward=False)
    return None


def _rank(relaxation: Relaxation) -> tuple[bool, float]:
    """Fixes that keep every pack's rules first, then by relative change."""
    if relaxation.rule == "allow_unspent":
        return (False, 0.0)  # no rule's number moves
    base = abs(relaxation.current) or 1.0
    return (relaxation.pack is not None, abs(relaxation.suggested - relaxation.current) / base)


def _pack_of(rule: str, packs: list[str]) -> str | None:
    """The first of ``packs`` that sets the scenario key ``rule`` belongs to."""
    key = rule.split(".")[0]
    for name in packs:
        if key in constraint_packs()[name]["settings"]:
            return name
    return None


# HiGHS's IIS from the LP's own infeasibility. The default strategy ("light") only looks
# for bounds that contradict each other; HiGHS's reduction to an irreducible set
# (kIisStrategyIrreducible) took 9 s to over 200 s on the 51 states where this takes
# under a second, and the deletion filter reduces the rules anyway
IIS_STRATEGY = int(highspy.IisStrategy.kIisStrategyFromLp)
# the rules that set the bounds of each family of the model's rows (by component name);
# rows not named here (response, capacity, the budget row) are the model itself
_FLOOR_RULES = ("region_floor_usd", "region_floor_usd_per_capita", "region_bounds")
_CAP_RULES = ("region_cap_usd", "region_cap_usd_per_capita", "max_region_share",
              "region_bounds", "exclusions")  # an excluded region's cap is 0
_ROW_RULES: dict[str, tuple[str, ...]] = {
    "instrument_share": ("instrument_shares",),
    "group_min": ("group_min_shares",),
    "topk_cap": ("top_k_share_cap",),
    "topk_excess_def": ("top_k_share_cap",),
}
ConflictSearch = Literal["deletion", "iis"]


def iis_rules(regions: Regions, scenario: Scenario) -> set[str] | None:
    """The names of the rules whose rows or bounds are in HiGHS's infeasible subsystem
    of the scenario's LP (``Highs.getIis``, ``IIS_STRATEGY``); None where it does not
    apply: a MIP (hubs), or the LP is feasible (the conflict shows only in the exact
    response or the check).

    A region's row holds its floor and its cap, each the tightest of several rules: the
    IIS's side of the row (lower, upper) names all of them, and the deletion filter then
    keeps those that matter. The per-capita floor is a bound on the columns ``y_in``;
    an instrument barred from a region, the upper bound (0) on its funding column.
    """
    inputs = resolve(regions, scenario)
    if inputs.hubs is not None:
        return None
    solver = Solver(inputs, refine=False)
    lp, highs = solver.loaded.lp, solver.loaded.highs
    highs.setOptionValue("iis_strategy", IIS_STRATEGY)
    # solve first: HiGHS 1.16's getIis on a model never run crashes the process when a
    # row's bounds contradict each other (a floor above a cap)
    solver.loaded.run()
    status, iis = highs.getIis()
    if status != highspy.HighsStatus.kOk or not iis.valid_ or not (
            len(iis.row_index_) or len(iis.col_index_)):
        return None
    lower, upper = int(highspy.IisBoundStatus.kIisBoundStatusLower), int(
        highspy.IisBoundStatus.kIisBoundStatusUpper)
    boxed = int(highspy.IisBoundStatus.kIisBoundStatusBoxed)
    names: set[str] = set()
    for row, bound in zip(iis.row_index_, iis.row_bound_, strict=True):
        component, _ = lp.block_of_row(int(row))
        if component == "region_bounds":
            names.update(_FLOOR_RULES if int(bound) in (lower, boxed) else ())
            names.update(_CAP_RULES if int(bound) in (upper, boxed) else ())
        else:
            names.update(_ROW_RULES.get(component, ()))
    bounded = list(zip(map(int, iis.col_index_), map(int, iis.col_bound_), strict=True))
    if "y_in" in lp.cols and inputs.scenario.per_capita_floor is not None:
        floor = lp.cols["y_in"]
        if any(floor.start <= col < floor.stop and bound in (lower, boxed)
               for col, bound in bounded):
            names.add("per_capita_floor")
    x = lp.cols["x"]
    barred = {x.start + j for j in np.flatnonzero(solver.loaded.written.col_upper[x] == 0.0)}
    if any(col in barred and bound in (upper, boxed) for col, bound in bounded):
        names.add("exclusions")
    return names


def _deletion_filter(oracle: _Oracle, rules: list[Rule], only: Callable[[list[Rule]], dict]
                     ) -> list[Rule]:
    """Drop each of ``rules`` (infeasible together) in turn, keeping it out when the rest
    stay infeasible: what is left conflicts, and dropping any one of it resolves that."""
    minimal = list(rules)
    for rule in list(minimal):
        trial = [r for r in minimal if r is not rule]
        if not oracle.feasible(only(trial)):
            minimal = trial
    return minimal


def minimal_conflict(oracle: _Oracle, regions: Regions, scenario: Scenario,
                     method: ConflictSearch) -> list[Rule]:
    """A minimal set of the scenario's active rules that conflict (in ``RULES`` order);
    empty when the budget rule alone conflicts with the data. ``iis`` filters only the
    rules of HiGHS's IIS when there is one (LP), else it is the plain deletion filter."""
    data = scenario.to_dict()
    active = [rule for rule in RULES if rule.active(data)]

    def only(rules: list[Rule]) -> dict:
        d = data
        for rule in active:
            if rule not in rules:
                d = rule.neutral(d)
        return d

    named = iis_rules(regions, scenario) if method == "iis" else None
    if named is not None:
        start = [rule for rule in active if rule.name in named]
        if not oracle.feasible(only(start)):  # the IIS carries over to the checked solve
            return _deletion_filter(oracle, start, only)
    # where the budget rule alone (with the data) conflicts, every rule is filtered out
    # and the set is empty: only the budget can move (asking that first costs a solve
    # in the usual case, where it does not)
    return _deletion_filter(oracle, active, only)


# benchmarks/bench_diagnose.py, 22 infeasible cases: the same minimal set in every case,
# the deletion filter 7.8 s in all, the IIS 14.4 s (building, solving and searching the
# LP cost more than the solves it saves, even with six rules active)
CONFLICT_SEARCH: ConflictSearch = "deletion"


def diagnose(regions: Regions, scenario: Scenario,
             method: ConflictSearch = CONFLICT_SEARCH) -> Diagnosis:
    """Explain why ``scenario`` is infeasible on ``regions`` (assumes it is)."""
    oracle = _Oracle(regions)
    data = scenario.to_dict()
    n = len(regions)
    minimal = minimal_conflict(oracle, regions, scenario, method)
    conflicting = [f"{rule.label} ({rule.name})" for rule in minimal]
    ceiling = _budget_ceiling_fix(oracle, regions, scenario)
    relaxations = [fix for fix in (ceiling, _unspent_fix(oracle, data)) if fix is not None]
    for rule in [*minimal, BUDGET]:
        if rule.get is None or (rule is BUDGET and ceiling is not None):
            continue
        pack = _pack_of(rule.name, data["packs"])
        found = _bisect(oracle, data, rule, n)
        if found is not None:
            if pack is not None:
                found = replace(found, pack=pack,
                                text=f"{found.text} (this changes a rule of the pack {pack})")
            relaxations.append(found)
    relaxations.sort(key=_rank)
    return Diagnosis(conflicting, relaxations)


def solve_explained(planner: Planner, scenario: Scenario) -> AllocationResult:
    """``planner.solve(scenario)``; when it is infeasible, the ``InfeasibleError`` carries
    a diagnosis: the conflicting rules and the smallest single fixes, each re-solved."""
    try:
        return planner.solve(scenario)
    except InfeasibleError as err:
        found = diagnose(planner.regions, scenario)
        raise InfeasibleError(err.conflicts + found.lines(), diagnosis=found) from None


def solve(regions: Regions, scenario: Scenario) -> AllocationResult:
    """Solve one scenario on one regions table (a fresh model), explained if infeasible."""
    return solve_explained(Planner(regions), scenario)
