"""Independent checker: verify a plan from allocation + regions + scenario alone.

It does not import Pyomo, the model or the result code (a folder is read through
``records``, as the tool writes it): it recomputes docs/model.md from
scratch (baseline capacity, the exact log response, every constraint and every
metric, with the pairwise Gini formula) and compares with what the plan reports.
Each violation is named with its amount. It shares one definition with the metrics
module, which k the top-k share counts (``top_k_count``), not the computation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine.columns import unit
from optimizer.engine.data import (
    Regions,
    load_regions,
    plan_file,
)
from optimizer.engine.errors import DataError, brief
from optimizer.engine.growth import (
    CAPACITY,
    TRAJECTORY_FILE,
    YEARLY_FILE,
    YEARLY_METRIC_COLUMNS,
    budget_by_year,
    carry,
    carry_to_final,
    dynamics_of_gains,
    no_policy_path,
    path_at_rates,
    rates,
    relinearized,
    scenario_objective,
    unlinearized_objective,
    yearly_metrics,
)
from optimizer.engine.metrics import OUTCOME_COLUMNS, outcome_rows, top_k_count
from optimizer.engine.records import (
    ALLOCATION_NUMBERS,
    MetricsFile,
    plan_table,
    read_record,
    read_whole,
    region_columns,
    region_numbers,
)
from optimizer.engine.scenario import Scenario, load_scenario, yield_value

MONEY_REL_TOL = 1e-9  # of the budget ...
MONEY_MIN_TOL_USD = 0.01  # ... but never below a cent
CAPACITY_TOL = 1e-6  # per-capita units (national baseline mean 1) and capacity shares
METRIC_REL_TOL = 1e-6


def money_tolerance_usd(budget_usd: float) -> float:
    """How far (USD) a money rule may be off: 1e-9 of the budget, at least a cent."""
    return max(MONEY_MIN_TOL_USD, MONEY_REL_TOL * budget_usd)


@dataclass(frozen=True)
class Violation:
    """One broken rule: ``amount`` is how far past its bound, in ``unit``."""

    name: str
    amount: float
    unit: str
    detail: str

    def __str__(self) -> str:
        return f"{self.name}: {self.detail} (by {self.amount:,.6g} {self.unit})"


@dataclass
class CheckReport:
    """The checker's verdict; ``ok`` when nothing is violated or misreported."""

    violations: list[Violation] = field(default_factory=list)
    metrics_before: dict[str, float] = field(default_factory=dict)
    metrics_after: dict[str, float] = field(default_factory=dict)
    final_points: np.ndarray | None = None  # (n,) exact final capacity, region order
    region_ids: list[str] = field(default_factory=list)
    outcomes: Outcomes | None = None  # what the plan raises, recomputed
    baseline_points: np.ndarray | None = None  # (n,) baseline capacity, region order
    funding: np.ndarray | None = None  # (n, m) USD the plan gives, region x instrument
    # a plan over time: capacity (T+1, n) by year without and with the plan, recomputed
    paths: tuple[np.ndarray, np.ndarray] | None = None
    # and its horizon objective were the growth rates to follow its own path
    unlinearized_objective: float | None = None

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def final_capacity(self) -> pd.Series | None:
        """Exact final capacity (points) by region_id, once the plan was recomputed."""
        if self.final_points is None:
            return None
        return pd.Series(self.final_points, index=self.region_ids)

    objective_key: str = "spread_adjusted_capacity"

    @property
    def objective(self) -> float:
        """Exact S_lambda of the plan (with the scenario's spread measure)."""
        return self.metrics_after[self.objective_key]

    def __str__(self) -> str:
        if self.ok:
            return f"plan OK: every constraint holds; exact objective {self.objective:.4f}"
        return f"{len(self.violations)} violation(s):\n" + "\n".join(
            f"  - {v}" for v in self.violations)


def _metrics(capacity: np.ndarray, population: np.ndarray, lam: float,
             base_top: np.ndarray) -> dict[str, float]:
    w = population / population.sum()
    y = capacity / (100.0 * w)
    mu = float((w * y).sum())
    pairs = _pairwise_gaps(y, w)
    gini = pairs / (2.0 * mu)
    total = capacity.sum()
    k = len(base_top)  # the baseline's top k, k = top_k_count(n)
    ratio = y / mu
    safe = np.where(ratio > 0, ratio, 1.0)
    return {
        "spread_adjusted_capacity": 100.0 * (mu - lam * pairs / 2.0),
        "total_capacity": float(total),
        "mean_capacity": mu,
        "gini": gini,
        "top10_share": float(np.sort(capacity)[-k:].sum() / total),
        "hhi": float(((capacity / total) ** 2).sum()),
        "theil": float((w * ratio * np.log(safe)).sum()),
        "cv": float(np.sqrt((w * (y - mu) ** 2).sum()) / mu),
        "baseline_top10_share": float(capacity[base_top].sum() / total),
        "hoover": float((w * np.abs(y - mu)).sum() / (2.0 * mu)),
        "spread_adjusted_capacity_hoover": 100.0 * (mu - lam * (w * np.abs(y - mu)).sum() / 2.0),
    }


def _pairwise_gaps(y: np.ndarray, w: np.ndarray, block: int = 256) -> float:
    """sum over all pairs (r, t) of w_r w_t |y_r - y_t|, the Gini's numerator, taken a
    block of rows at a time (at counties the whole n x n matrix would be 80 MB)."""
    total = 0.0
    for start in range(0, len(y), block):
        rows = slice(start, start + block)
        total += float(w[rows] @ (np.abs(y[rows, None] - y[None, :]) @ w))
    return total


@dataclass(frozen=True, eq=False)
class _Plan:
    """A plan as arrays in region order (n) x instrument order (m), USD and points."""

    regions: Regions
    ids: list[str]  # region_ids in the regions' (model) order
    population: np.ndarray  # (n,)
    pop_share: np.ndarray  # (n,)
    instruments: list[str]
    x: np.ndarray  # (n, m) USD
    per_region: np.ndarray  # (n,) USD
    today: np.ndarray  # (n,) capacity points today (the data): who the incumbents are
    final: np.ndarray  # (n,) final capacity points (exact response)
    budget: float
    money_tol: float

    def where(self, ref: str) -> int:
        """The position of a region the scenario names (region_id, postal code, name)."""
        rid = self.regions.lookup(ref)
        if rid is None:
            raise DataError(f"scenario refers to region '{ref}' that is not in the data",
                            file=self.regions.source)
        return self.regions.position[rid]


def check(
    allocation: pd.DataFrame,
    regions: Regions,
    scenario: Scenario,
    reported: dict[str, float] | None = None,
    reported_before: dict[str, float] | None = None,
    hubs: set[str] | None = None,
) -> CheckReport:
    """Verify ``allocation`` (region_id, instrument, amount_usd) against the scenario.

    ``reported``/``reported_before`` are the plan's own metrics; any that disagree
    with the recomputation are reported as violations too. ``hubs`` are the plan's
    selected hubs (default: the funded regions) when the scenario selects hubs.
    Each rule is one function below, named like the model's constraint.
    """
    ids = regions.ids
    instruments = list(scenario.instruments)
    named = (allocation["region_id"].astype(str).tolist(), allocation["instrument"].tolist())
    unknown = _unknown_keys(*named, ids, instruments)
    years = scenario.periods.years
    year = np.ones(len(allocation), dtype=int)
    if years > 1:
        raw = pd.to_numeric(allocation["year"], errors="coerce") if "year" in allocation \
            else pd.Series(np.nan, index=allocation.index)
        outside = ~raw.isin(range(1, years + 1))
        if outside.any():
            unknown.append(Violation("unknown_keys", int(outside.sum()), "rows",
                                     f"a plan over {years} years needs a year of 1 to {years} "
                                     "on every allocation row"))
        else:
            year = raw.to_numpy(int)
    if unknown:
        return CheckReport(violations=unknown, objective_key=scenario.objective_key)
    x = _amounts(allocation, *named, ids, instruments, year, years)
    return check_funding(x, regions, scenario, reported, reported_before, hubs)


def check_funding(
    funding_usd: np.ndarray,
    regions: Regions,
    scenario: Scenario,
    reported: dict[str, float] | None = None,
    reported_before: dict[str, float] | None = None,
    hubs: set[str] | None = None,
) -> CheckReport:
    """Verify a plan given as an (n, m) array of USD, regions in the regions table's
    order and instruments in the scenario's (``check`` reads an allocation table into
    one); the arguments after it as in ``check``."""
    report = CheckReport(objective_key=scenario.objective_key)
    ids = regions.ids
    x = np.asarray(funding_usd, dtype=float)
    years, m = scenario.periods.years, len(scenario.instruments)
    if x.shape != (len(ids), years * m):
        raise ValueError(f"funding of shape {x.shape} for {len(ids)} regions and "
                         f"{len(scenario.instruments)} instruments over {years} year(s)")
    if np.isnan(x).any():
        report.violations.append(
            Violation("missing_amount", int(np.isnan(x).sum()), "cells", "empty amounts"))
        x = np.nan_to_num(x)
    population = regions.population
    pop_share = population / population.sum()
    yearly = x.reshape(len(ids), years, m).transpose(1, 0, 2)  # (T, n, m)
    x = yearly.sum(axis=0)  # the money rules read each instrument's total over the years
    if years == 1:
        c0, final, report.outcomes = _capacity(regions, scenario, x, pop_share)
    else:
        c0, final, report.outcomes, report.paths, gains = _capacity_over_time(
            regions, scenario, yearly, pop_share)
        report.unlinearized_objective = unlinearized_objective(
            report.paths[0][0], population, gains, scenario)
        report.violations.extend(_year_budgets(yearly, scenario))
    report.final_points, report.region_ids = final, ids
    report.baseline_points, report.funding = c0, x
    today = c0 if report.paths is None else report.paths[0][0]
    plan = _Plan(regions, ids, population, pop_share, list(scenario.instruments), x,
                 x.sum(axis=1), today, final, scenario.budget,
                 money_tolerance_usd(scenario.budget))
    for rule in (_non_negative, _budget_use, _region_bounds, _exclusions, _instrument_share,
                 _group_min):
        report.violations.extend(rule(plan, scenario))
    if scenario.hubs is not None:
        report.violations.extend(_hubs(plan, scenario, hubs))
    if scenario.growth_centers is not None:
        report.violations.extend(_growth_centers(yearly, today, plan, scenario))
    report.violations.extend(_per_capita_floor(plan, scenario))
    report.violations.extend(_top_k_cap(plan, scenario))

    base_top = np.argsort(-c0, kind="stable")[: top_k_count(len(ids))]
    report.metrics_before = _metrics(c0, population, scenario.spread_weight, base_top)
    report.metrics_after = _metrics(final, population, scenario.spread_weight, base_top)
    if report.paths is not None and scenario.objective_year == "discounted":
        key = scenario.objective_key
        report.metrics_before[key] = scenario_objective(report.paths[0], population, scenario)
        report.metrics_after[key] = scenario_objective(report.paths[1], population, scenario)
    report.violations.extend(_metric_mismatches(
        (("after", reported, report.metrics_after),
         ("before", reported_before, report.metrics_before))))
    return report


def _unknown_keys(region_ids: list[str], instrument_names: list[str], ids: list[str],
                  instruments: list[str]) -> list[Violation]:
    """Regions or instruments the allocation's rows name that the data/scenario lack."""
    unknown_r = sorted(set(region_ids) - set(ids))
    unknown_i = sorted(set(instrument_names) - set(instruments))
    if not (unknown_r or unknown_i):
        return []
    return [Violation("unknown_keys", len(unknown_r) + len(unknown_i), "rows",
                      f"allocation names regions {unknown_r[:5]} / instruments {unknown_i} "
                      "that are not in the data/scenario")]


def _amounts(allocation: pd.DataFrame, region_ids: list[str], instrument_names: list[str],
             ids: list[str], instruments: list[str], year: np.ndarray | None = None,
             years: int = 1) -> np.ndarray:
    """(n, m) USD per region and instrument, or over time (n, T*m) per region and
    (year, instrument), summed over repeated rows; an empty or non-numeric amount stays
    NaN (reported as missing, never read as zero)."""
    row_of = {rid: r for r, rid in enumerate(ids)}
    col_of = {name: i for i, name in enumerate(instruments)}
    rows = np.array([row_of[rid] for rid in region_ids], dtype=int)
    cols = np.array([col_of[name] for name in instrument_names], dtype=int)
    if year is not None and years > 1:
        cols = (np.asarray(year, dtype=int) - 1) * len(instruments) + cols
    x = np.zeros((len(ids), len(instruments) * years))
    np.add.at(x, (rows, cols), pd.to_numeric(allocation["amount_usd"], errors="coerce")
              .to_numpy(float))
    return x


@dataclass(frozen=True)
class Outcomes:
    """What a plan raises, recomputed: per region and raised indicator, in its own unit."""

    indicators: list[str]  # (K,) raised indicators, sorted
    before: np.ndarray  # (n, K) the published values (NaN where not published)
    gain: np.ndarray  # (n, K)
    totals: np.ndarray  # (K,) national totals V_k (over the regions that publish k)


def _capacity(regions: Regions, scenario: Scenario, x: np.ndarray,
              pop_share: np.ndarray) -> tuple[np.ndarray, np.ndarray, Outcomes]:
    """Baseline and final capacity (points) and the outcomes, recomputed from the raw
    table: funding raises indicator k by dv_rk = sum_i e_ik m_ri s_ri ln(1 + x_ri/s_ri)
    (k's unit) and capacity is c_r = 100 sum_k w_k (v_rk + dv_rk) / V_k."""
    used = tuple(sorted({k for k, v in scenario.weights.items() if v > 0}
                        | {k for ins in scenario.instruments.values() for k in (ins.absorbs or [])}))
    vals = _filled(regions, used, tuple(scenario.missing_policy(k) for k in used))
    totals = vals.sum(axis=0)
    share = vals / totals
    column = {k: j for j, k in enumerate(used)}
    total_w = sum(scenario.weights.values())
    weighted = {k: w / total_w for k, w in scenario.weights.items() if w > 0}
    raised = sorted({k for ins in scenario.instruments.values() for k in ins.yields})
    before = np.column_stack([vals[:, column[k]] if k in column else regions.column_values(k)
                              for k in raised]) if raised else np.zeros((len(pop_share), 0))
    v_total = np.array([totals[column[k]] if k in column else np.nansum(before[:, q])
                        for q, k in enumerate(raised)])
    bought = np.zeros((len(pop_share), len(scenario.instruments)))  # $B at the yields' rates
    yields = np.zeros((len(scenario.instruments), len(raised)))  # (m, K) per $1B
    for j, name in enumerate(scenario.instruments):
        ins = scenario.instruments[name]
        own = c0_share(share, column, weighted) if not ins.absorbs else \
            share[:, [column[k] for k in ins.absorbs]].mean(axis=1)
        mult = np.maximum(own / pop_share, scenario.min_absorption) ** scenario.complementarity
        s = ins.saturation_usd * pop_share
        funded = np.maximum(x[:, j], 0.0)  # negative amounts are reported on their own
        bought[:, j] = mult * s * np.log1p(funded / s) / 1e9
        yields[j] = [yield_value(ins.yields.get(k, 0.0), v_total[q]) for q, k in enumerate(raised)]
    gain = bought @ yields  # dv_rk = sum_i e_ik m_ri s_ri ln(1 + x_ri / s_ri)
    c0 = 100.0 * c0_share(share, column, weighted)
    final = c0 + 100.0 * sum(w * gain[:, raised.index(k)] / v_total[raised.index(k)]
                             for k, w in weighted.items() if k in raised)
    return c0, final, Outcomes(raised, before, gain, v_total)


def _capacity_over_time(regions: Regions, scenario: Scenario, yearly: np.ndarray,
                        pop_share: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, Outcomes,
                                   tuple[np.ndarray, np.ndarray], np.ndarray]:
    """A plan over time: capacity without the plan in the final year (the no-policy
    path), with it, the outcomes in year T, both paths year by year, and each year's
    gain (T, n points). Each year's gain is recomputed as a single year's (``_capacity``)
    and carried to year T at the growth rates (``growth``): the no-policy path's, or with
    ``growth.rates_from: plan`` those of the plan's own unlinearized path, which also
    speed the region's growth before its gains (what that adds counts toward the plan).
    Every indicator of a region grows at its rate."""
    growth = scenario.growth
    base_rate, eta = growth.base_rate, growth.agglomeration_elasticity
    gains, natural = [], []
    for x in yearly:
        c0, final, outcomes = _capacity(regions, scenario, x, pop_share)
        gains.append(final - c0)
        natural.append(outcomes.gain)
    gains_t = np.asarray(gains)
    path = no_policy_path(c0, pop_share, base_rate, eta, len(yearly))
    g_none = rates(c0, pop_share, base_rate, eta, len(yearly))
    g = g_none
    if scenario.growth.rates_from == "plan":
        g = relinearized(c0, pop_share, base_rate, eta,
                         dynamics_of_gains(c0, pop_share, gains_t, base_rate, eta))
    with_plan = path_at_rates(c0, g)
    with_plan[1:] += np.einsum("tun,tn->un", carry(g), gains_t)
    grown, grown_none = np.cumprod(1.0 + g, axis=0)[-1], np.cumprod(1.0 + g_none, axis=0)[-1]
    before = outcomes.before * grown_none[:, None]
    gain = (np.einsum("tn,tnk->nk", carry_to_final(g), np.asarray(natural))
            + np.nan_to_num(outcomes.before * (grown - grown_none)[:, None]))
    totals = outcomes.totals * np.array([np.nansum(before[:, q]) / max(
        np.nansum(outcomes.before[:, q]), 1e-300) for q in range(before.shape[1])])
    return (path[-1], with_plan[-1], Outcomes(outcomes.indicators, before, gain, totals),
            (path, with_plan), gains_t)


def _year_budgets(yearly: np.ndarray, scenario: Scenario) -> list[Violation]:
    """Each year spends its appropriation (within the money tolerance); with carryover,
    the years up to t spend at most the appropriations up to t."""
    spent = yearly.sum(axis=(1, 2))
    due = budget_by_year(scenario)
    tolerance = money_tolerance_usd(scenario.budget)
    out = []
    if scenario.periods.carryover:
        over = np.cumsum(spent) - np.cumsum(due)
        for late in np.flatnonzero(over > tolerance).tolist():
            out.append(Violation("year_budget", float(over[late]), "USD",
                                 f"years 1-{late + 1} spend more than their appropriations"))
        return out
    for t in range(len(spent)):
        gap = spent[t] - due[t]
        if gap > tolerance or (gap < -tolerance and not scenario.allow_unspent):
            out.append(Violation("year_budget", abs(float(gap)), "USD",
                                 f"year {t + 1} spends {spent[t]:,.2f} of its {due[t]:,.2f}"))
    return out


def c0_share(share: np.ndarray, column: dict[str, int], weighted: dict[str, float]) -> np.ndarray:
    """(n,) sum_k w_k share_rk: baseline capacity as a share of the nation."""
    return sum((share[:, column[k]] * w for k, w in weighted.items()),
               start=np.zeros(share.shape[0]))


@functools.lru_cache(maxsize=64)
def _filled(regions: Regions, used: tuple[str, ...], policies: tuple[str, ...]) -> np.ndarray:
    """(n, used) the raw indicator columns with missing cells filled by each one's policy
    (remembered per regions table: checks of one table's plans read the same columns)."""
    vals = np.column_stack([regions.column_values(k) for k in used])
    for j, (k, policy) in enumerate(zip(used, policies, strict=True)):
        gaps = np.isnan(vals[:, j])
        if gaps.any():
            if policy == "error":
                raise DataError("missing values and the scenario's policy is 'error'",
                                file=regions.source, column=k)
            known = vals[~gaps, j]
            fill = {"zero": 0.0, "median": float(np.median(known)),
                    "half_min": 0.5 * float(known.min())}[policy]
            vals[gaps, j] = fill
    vals.flags.writeable = False
    return vals


def _non_negative(plan: _Plan, scenario: Scenario) -> list[Violation]:
    """x_ri >= 0."""
    if (plan.x < -plan.money_tol).any():
        return [Violation("non_negative", float(-plan.x.min()), "USD", "negative amount")]
    return []


def _budget_use(plan: _Plan, scenario: Scenario) -> list[Violation]:
    """The plan spends at most the budget, and all of it unless allow_unspent."""
    spent, budget = plan.x.sum(), plan.budget
    if spent > budget + plan.money_tol:
        return [Violation("budget", spent - budget, "USD", f"spends {spent:,.0f} of {budget:,.0f}")]
    if not scenario.allow_unspent and spent < budget - plan.money_tol:
        return [Violation("budget", budget - spent, "USD",
                          f"leaves {budget - spent:,.0f} unspent but allow_unspent is false")]
    return []  # (over- and underspending exclude each other)


def _region_bounds(plan: _Plan, scenario: Scenario) -> list[Violation]:
    """floor_r <= sum_i x_ri <= cap_r: the scenario's floors and caps, per region."""
    pop = plan.population
    floor = np.maximum(scenario.region_floor_usd, scenario.region_floor_usd_per_capita * pop)
    cap = np.full(len(plan.ids), np.inf)
    if scenario.region_cap_usd is not None:
        cap = np.minimum(cap, scenario.region_cap_usd)
    if scenario.region_cap_usd_per_capita is not None:
        cap = np.minimum(cap, scenario.region_cap_usd_per_capita * pop)
    if scenario.max_region_share is not None:
        cap = np.minimum(cap, scenario.max_region_share * plan.budget)
    for ref, rb in scenario.region_bounds.items():
        floor[plan.where(ref)] = rb.floor_usd
        if rb.cap_usd is not None:
            cap[plan.where(ref)] = rb.cap_usd
    got, tol, ids = plan.per_region, plan.money_tol, plan.ids
    return ([Violation("region_floor", floor[r] - got[r], "USD", f"region {ids[r]}")
             for r in np.flatnonzero(got < floor - tol)]
            + [Violation("region_cap", got[r] - cap[r], "USD", f"region {ids[r]}")
               for r in np.flatnonzero(got > cap + tol)])


def _exclusions(plan: _Plan, scenario: Scenario) -> list[Violation]:
    """Excluded regions (named, or the top-k incumbents: today's leaders, also in a plan
    over time) and barred instruments get 0."""
    out = []
    excl = scenario.exclusions
    excluded = {plan.where(ref) for ref in excl.regions}
    excluded |= set(np.argsort(-plan.today, kind="stable")[: excl.top_k_incumbents].tolist())
    for r in sorted(excluded):
        if plan.per_region[r] > plan.money_tol:
            out.append(Violation("exclusion", plan.per_region[r], "USD",
                                 f"excluded region {plan.ids[r]} is funded"))
    for ref, names in excl.instruments.items():
        r = plan.where(ref)
        for name in names:
            amount = plan.x[r, plan.instruments.index(name)]
            if amount > plan.money_tol:
                out.append(Violation("instrument_exclusion", amount, "USD",
                                     f"region {plan.ids[r]} receives excluded instrument {name}"))
    return out


def _instrument_share(plan: _Plan, scenario: Scenario) -> list[Violation]:
    """min_i B <= sum_r x_ri <= max_i B for each instrument with a share range."""
    out = []
    budget, tol = plan.budget, plan.money_tol
    for name, rng in scenario.instrument_shares.items():
        got = plan.x[:, plan.instruments.index(name)].sum()
        if got < rng.min * budget - tol:
            out.append(Violation("instrument_min_share", rng.min * budget - got, "USD", name))
        if got > rng.max * budget + tol:
            out.append(Violation("instrument_max_share", got - rng.max * budget, "USD", name))
    return out


def _group_min(plan: _Plan, scenario: Scenario) -> list[Violation]:
    """Each group (regions with column == value) receives at least its share of B."""
    out = []
    for column, mins in scenario.group_min_shares.items():
        labels = plan.regions.labels(column)
        for value, share in mins.items():
            got = plan.per_region[labels == value].sum()
            if got < share * plan.budget - plan.money_tol:
                out.append(Violation("group_min_share", share * plan.budget - got, "USD",
                                     f"{column} = {value}"))
    return out


def _per_capita_floor(plan: _Plan, scenario: Scenario) -> list[Violation]:
    """y_r >= the per-capita floor, with the exact response."""
    if not scenario.per_capita_floor:
        return []
    y = plan.final / (100.0 * plan.pop_share)
    return [Violation("per_capita_floor", scenario.per_capita_floor - y[r], "per-capita units",
                      f"region {plan.ids[r]}")
            for r in np.flatnonzero(y < scenario.per_capita_floor - CAPACITY_TOL)]


def _top_k_cap(plan: _Plan, scenario: Scenario) -> list[Violation]:
    """The k largest regions hold at most max_share of final capacity (exact)."""
    if scenario.top_k_share_cap is None:
        return []
    k, alpha = scenario.top_k_share_cap.k, scenario.top_k_share_cap.max_share
    top_share = np.sort(plan.final)[-k:].sum() / plan.final.sum()
    if top_share > alpha + CAPACITY_TOL:
        return [Violation("top_k_share_cap", top_share - alpha, "share",
                          f"top {k} hold {top_share:.4%} > {alpha:.4%}")]
    return []


def _metric_mismatches(
    pairs: tuple[tuple[str, dict[str, float] | None, dict[str, float]], ...],
) -> list[Violation]:
    """Reported metrics (label, claimed, recomputed) that disagree with the recomputation."""
    out = []
    for label, claimed, truth in pairs:
        for key, value in (claimed or {}).items():
            if key not in truth:
                continue
            # np.isclose's rule (NaN never close), on Python floats
            if not abs(value - truth[key]) <= 1e-9 + METRIC_REL_TOL * abs(truth[key]):
                out.append(Violation("metric_mismatch", abs(value - truth[key]), "units",
                                     f"{label}.{key} reported {value:.10g}, recomputed "
                                     f"{truth[key]:.10g}"))
    return out


def _hubs(plan: _Plan, scenario: Scenario, hubs: set[str] | None) -> list[Violation]:
    """Hub logic: only hubs funded, awards within bounds, counts and group rules."""
    funded = plan.per_region > plan.money_tol
    chosen = funded.copy() if hubs is None else np.array([rid in hubs for rid in plan.ids])
    return (_hub_awards(plan, scenario, funded, chosen) + _hub_count(scenario, chosen)
            + _hub_groups(plan, scenario, chosen))


def _growth_centers(yearly: np.ndarray, today: np.ndarray, plan: _Plan,
                    scenario: Scenario) -> list[Violation]:
    """Growth centers: at most K funded regions, none among the leading ones (by today's
    baseline capacity), each funded in each of the first min_years years with at least
    its minimum award."""
    rule = scenario.growth_centers
    assert rule is not None
    tol = plan.money_tol
    funded = np.flatnonzero(plan.per_region > tol)
    out = []
    if funded.size > rule.count:
        out.append(Violation("growth_center_count", funded.size - rule.count, "regions",
                             f"{funded.size} regions funded, more than the {rule.count} centers"))
    leading = set(np.argsort(-today, kind="stable")[:rule.exclude_leading].tolist())
    barred = [plan.ids[r] for r in funded if r in leading]
    if barred:
        out.append(Violation("growth_center_leading", len(barred), "regions",
                             f"leading regions funded as centers: {barred[:5]}"))
    due = budget_by_year(scenario)[:rule.min_years] * rule.min_award_share / rule.count
    support = yearly[:rule.min_years].sum(axis=2)  # (L, n)
    short = support[:, funded] < due[:, None] - tol
    for t, r in zip(*np.nonzero(short), strict=True):
        out.append(Violation("growth_center_support", float(due[t] - support[t, funded[r]]),
                             "USD", f"center {plan.ids[funded[r]]} gets less than its minimum "
                             f"award in year {t + 1}"))
    return out


def _hub_awards(plan: _Plan, scenario: Scenario, funded: np.ndarray,
                chosen: np.ndarray) -> list[Violation]:
    """Only hubs are funded, each with an award in [award min, award max]."""
    spec = scenario.hubs
    assert spec is not None
    got, tol, ids = plan.per_region, plan.money_tol, plan.ids
    out = [Violation("funded_non_hub", got[r], "USD", f"region {ids[r]} is not a hub")
           for r in np.flatnonzero(funded & ~chosen)]
    award_max = spec.award_usd.max if spec.award_usd.max is not None else np.inf
    for r in np.flatnonzero(chosen):
        if got[r] < spec.award_usd.min - tol:
            out.append(Violation("hub_award_min", spec.award_usd.min - got[r], "USD",
                                 f"hub {ids[r]}"))
        if got[r] > award_max + tol:
            out.append(Violation("hub_award_max", got[r] - award_max, "USD", f"hub {ids[r]}"))
    return out


def _hub_count(scenario: Scenario, chosen: np.ndarray) -> list[Violation]:
    """count min <= the number of hubs <= count max."""
    spec = scenario.hubs
    assert spec is not None
    count = int(chosen.sum())
    out = []
    if count < spec.count.min:
        out.append(Violation("hub_count", spec.count.min - count, "hubs",
                             f"{count} hubs < {spec.count.min}"))
    if spec.count.max is not None and count > spec.count.max:
        out.append(Violation("hub_count", count - spec.count.max, "hubs",
                             f"{count} hubs > {spec.count.max}"))
    return out


def _hub_groups(plan: _Plan, scenario: Scenario, chosen: np.ndarray) -> list[Violation]:
    """Hubs per group: minimums, at most one, and the designated share."""
    spec = scenario.hubs
    assert spec is not None
    t = plan.regions.table
    out = []
    for column, rule in spec.min_per_group.items():
        labels = t[column].astype(str)
        values = sorted(labels.unique()) if isinstance(rule, int) else list(rule)
        for value in values:
            need = rule if isinstance(rule, int) else rule[value]
            got = int(chosen[(labels == value).to_numpy()].sum())
            if got < need:
                out.append(Violation("hub_group_min", need - got, "hubs", f"{column} = {value}"))
    for column in spec.max_one_per_group:
        counts = pd.Series(chosen, index=t.index).groupby(t[column].astype(str)).sum()
        out.extend(Violation("hub_group_max", int(got) - 1, "hubs", f"{column} = {value}")
                   for value, got in counts[counts > 1].items())
    if spec.designated is not None and spec.designated.column in t.columns:
        flag = t[spec.designated.column].astype(str).str.strip().str.lower().isin(
            ["true", "1", "yes", "y"]).to_numpy()
        count = int(chosen.sum())
        need_share = spec.designated.min_share * count
        got = int((chosen & flag).sum())
        if got < need_share - 1e-9:
            out.append(Violation("hub_designated", need_share - got, "hubs",
                                 f"{got} of {count} hubs in {spec.designated.column}"))
    elif spec.designated is not None and spec.designated.if_missing == "error":
        raise DataError("the scenario's designated-hub column is missing",
                        column=spec.designated.column)
    return out


def check_dir(directory: str | Path) -> CheckReport:
    """Re-verify a plan directory written by ``placefund solve``.

    Uses the regions table and resolved scenario recorded in it, and checks that the
    recorded data and scenario hashes, the allocation, every number of the per-region
    table and metrics.json's totals and metrics agree. A file that is not what the tool
    writes (a text amount, a key of the wrong kind, a region the data lack) is a
    ``DataError`` naming the file, row or key.
    """
    return read_whole(directory, lambda: _check_dir(Path(directory)))


def _check_dir(d: Path) -> CheckReport:
    """``check_dir`` on the files of ``d`` as they are now."""
    needed = ["allocation.csv", "regions.csv", "metrics.json", "scenario.yaml",
              "input_regions.csv"]
    missing = [name for name in needed if not plan_file(d, name).exists()]
    if not missing and load_scenario(d / "scenario.yaml").periods.years > 1 and not plan_file(
            d, TRAJECTORY_FILE).exists():
        missing.append(TRAJECTORY_FILE)
    if missing:
        raise DataError(f"not a plan directory: missing {missing}", file=str(d))
    # every file is read as bounded UTF-8 text: a binary or mis-encoded one is named
    # with the byte offset (optimizer.engine.data / optimizer.engine.safe_yaml), and
    # metrics.json and the tables are typed as the tool writes them (engine.records)
    regions = load_regions(d / "input_regions.csv")
    scenario = load_scenario(d / "scenario.yaml")
    _refuse_unread_columns(regions, scenario, d / "input_regions.csv")
    metrics = read_record(d / "metrics.json", MetricsFile)
    claimed_after, claimed_before = metrics["metrics"]["after"], metrics["metrics"]["before"]
    over_time = scenario.periods.years > 1
    allocation = plan_table(
        d / "allocation.csv",
        ("region_id", "year", "instrument", "amount_usd") if over_time
        else ("region_id", "instrument", "amount_usd"),
        ALLOCATION_NUMBERS + (("year",) if over_time else ()), ("region_id", "name", "instrument"))
    if over_time:
        year = pd.to_numeric(allocation["year"], errors="coerce")
        outside = np.flatnonzero(~year.isin(range(1, scenario.periods.years + 1)).to_numpy())
        if outside.size:
            raise DataError(f"year '{allocation['year'].iloc[outside[0]]}' is not a year of this "
                            f"{scenario.periods.years}-year plan (1 to {scenario.periods.years})",
                            file=str(d / "allocation.csv"), row=int(outside[0]) + 2,
                            column="year")
    unknown = _unknown_keys(allocation["region_id"].tolist(), allocation["instrument"].tolist(),
                            regions.ids, list(scenario.instruments))
    if unknown:
        raise DataError(f"{unknown[0].detail}; a plan names only the regions of its "
                        "input_regions.csv and the instruments of its scenario.yaml",
                        file=str(d / "allocation.csv"))
    table = plan_table(d / "regions.csv", region_columns(list(scenario.instruments)),
                       region_numbers, ("region_id", "name"))
    _refuse_other_rows(table, regions, d / "regions.csv")
    table = table.set_index("region_id")
    hubs = None
    if scenario.hubs is not None and "hub" in table.columns:
        hubs = set(table.index[table["hub"].astype(str).str.lower() == "true"])
    report = check(allocation, regions, scenario, claimed_after, claimed_before, hubs)
    if not report.metrics_after:  # rows the plan cannot hold: nothing to recompute
        return report
    provenance = metrics.get("provenance", {})
    recorded_hash = provenance.get("data_sha256")
    if recorded_hash != regions.sha256:
        report.violations.append(Violation("data_hash", 1, "file", "input_regions.csv differs "
                                           "from the data the plan was solved on (metrics.json's "
                                           "provenance.data_sha256)"))
    recorded_scenario = provenance.get("scenario_sha256")
    if recorded_scenario != scenario.fingerprint():
        report.violations.append(Violation("scenario_hash", 1, "file", "scenario.yaml differs "
                                           "from the scenario the plan was solved with "
                                           "(metrics.json's provenance.scenario_sha256)"))
    if not np.isclose(metrics["objective"], report.objective, rtol=METRIC_REL_TOL):
        report.violations.append(Violation(
            "objective_mismatch", abs(metrics["objective"] - report.objective),
            "points", f"reported {metrics['objective']}, recomputed {report.objective}"))
    claimed = metrics.get("approximation", {}).get("unlinearized_objective")
    if claimed is not None and not np.isclose(claimed, report.unlinearized_objective or np.nan,
                                              rtol=METRIC_REL_TOL):
        report.violations.append(Violation(
            "unlinearized_mismatch", abs(claimed - (report.unlinearized_objective or np.nan)),
            "points", f"metrics.json's approximation.unlinearized_objective is {claimed}, "
                      f"recomputed {report.unlinearized_objective}"))
    report.violations.extend(_allocation_names(allocation, regions))
    report.violations.extend(_metrics_totals(metrics, report, scenario))
    report.violations.extend(_regions_table(table, report, regions, scenario))
    report.violations.extend(_outcome_mismatches(d, report, metrics))
    if over_time:
        report.violations.extend(_trajectory_mismatches(d, report, regions))
        report.violations.extend(_yearly_mismatches(d, report, regions, scenario))
    return report


def _yearly_mismatches(d: Path, report: CheckReport, regions: Regions,
                       scenario: Scenario) -> list[Violation]:
    """A plan over time's yearly.csv: every metric of every year, without and with the
    plan, against the metrics of the recomputed paths."""
    if not plan_file(d, YEARLY_FILE).exists():
        return [Violation("yearly_missing", 1, "file", f"{YEARLY_FILE} is missing")]
    table = plan_table(d / YEARLY_FILE, YEARLY_METRIC_COLUMNS, ("year", "without_plan",
                                                                "with_plan"), ("metric",))
    assert report.paths is not None
    want = yearly_metrics(*report.paths, regions.population, scenario.spread_weight)
    key = ["year", "metric"]
    if len(table) != len(want) or set(map(tuple, table[key].astype(str).to_numpy())) != set(
            map(tuple, want[key].astype(str).to_numpy())):
        return [Violation("yearly_rows", abs(len(table) - len(want)), "rows",
                          f"{YEARLY_FILE} does not hold one row per year and metric")]
    merged = want.merge(table.assign(year=table["year"].astype(int)), on=key,
                        suffixes=("", "_file"))
    out = []
    for column in ("without_plan", "with_plan"):
        got, expected = merged[f"{column}_file"].to_numpy(float), merged[column].to_numpy(float)
        bad = ~np.isclose(got, expected, rtol=METRIC_REL_TOL, atol=1e-9)
        if bad.any():
            worst = int(np.argmax(np.where(bad, np.abs(got - expected), -1.0)))
            out.append(Violation("yearly_mismatch", float(np.abs(got - expected)[worst]), "units",
                                 f"{YEARLY_FILE} {column} {merged['metric'].iloc[worst]} in year "
                                 f"{int(merged['year'].iloc[worst])} is {got[worst]:.6g}, "
                                 f"recomputed {expected[worst]:.6g} ({int(bad.sum())} row(s))"))
    return out


def _trajectory_mismatches(d: Path, report: CheckReport, regions: Regions) -> list[Violation]:
    """A plan over time's trajectory.csv: every year's capacity, without and with the
    plan, against the recomputed paths."""
    table = plan_table(d / TRAJECTORY_FILE, ("region_id", "year", "measure", "without_plan",
                                             "with_plan"),
                       ("year", "without_plan", "gain", "with_plan"), ("region_id", "measure"))
    assert report.paths is not None
    without, with_plan = report.paths
    rows = table[table["measure"] == CAPACITY]
    expected = len(regions.ids) * without.shape[0]
    if len(rows) != expected:
        return [Violation("trajectory_rows", abs(len(rows) - expected), "rows",
                          f"{TRAJECTORY_FILE} has {len(rows)} capacity rows, not one per region "
                          f"and year ({expected})")]
    position = {rid: r for r, rid in enumerate(regions.ids)}
    r = rows["region_id"].map(position)
    t = pd.to_numeric(rows["year"], errors="coerce")
    if r.isna().any() or t.isna().any() or not t.between(0, without.shape[0] - 1).all():
        return [Violation("trajectory_rows", int(r.isna().sum() + t.isna().sum()), "rows",
                          f"{TRAJECTORY_FILE} names regions or years the plan does not have")]
    out = []
    for column, path in (("without_plan", without), ("with_plan", with_plan)):
        want = path[t.to_numpy(int), r.to_numpy(int)]
        got = rows[column].to_numpy(float)
        bad = ~np.isclose(got, want, rtol=METRIC_REL_TOL, atol=1e-9)
        if bad.any():
            worst = int(np.argmax(np.abs(got - want)))
            out.append(Violation("trajectory_mismatch", float(np.abs(got - want).max()), "points",
                                 f"{TRAJECTORY_FILE} {column} capacity of {rows['region_id'].iloc[worst]} "
                                 f"in year {int(t.iloc[worst])} is {got[worst]:.6f}, recomputed "
                                 f"{want[worst]:.6f} ({int(bad.sum())} row(s) disagree)"))
    return out


def _refuse_unread_columns(regions: Regions, scenario: Scenario, path: Path) -> None:
    """The columns scenario.yaml weighs, absorbs through or raises are numeric columns of
    the regions table (a plan's own always are)."""
    used = {k for k, w in scenario.weights.items() if w > 0} | {
        k for ins in scenario.instruments.values() for k in (*(ins.absorbs or []), *ins.yields)}
    table = regions.table
    lacking = sorted(k for k in used if k not in table.columns
                     or not pd.api.types.is_numeric_dtype(table[k]))
    if lacking:
        raise DataError(f"lacks the numeric column(s) {brief(lacking)} that scenario.yaml "
                        "weighs, absorbs through or raises", file=str(path))


def _allocation_names(allocation: pd.DataFrame, regions: Regions) -> list[Violation]:
    """allocation.csv's ``name`` of each row is its region's name in input_regions.csv."""
    if "name" not in allocation.columns:
        return [Violation("allocation_names", 1, "column", "allocation.csv has no name column")]
    truth = dict(zip(regions.ids, regions.names.astype(str), strict=True))
    wrong = [i for i, (rid, name) in enumerate(zip(allocation["region_id"], allocation["name"],
                                                   strict=True)) if truth.get(rid) != name]
    if not wrong:
        return []
    i = wrong[0]
    return [Violation("allocation_names", len(wrong), "rows",
                      f"allocation.csv row {i + 2} names {allocation['region_id'].iloc[i]} "
                      f"{brief(allocation['name'].iloc[i])}, input_regions.csv "
                      f"{brief(truth.get(allocation['region_id'].iloc[i]))}")]


def _refuse_other_rows(table: pd.DataFrame, regions: Regions, path: Path) -> None:
    """regions.csv has one row per region of the data, no more, no fewer."""
    ids = table["region_id"].tolist()
    extra = sorted(set(ids) - set(regions.ids))
    absent = sorted(set(regions.ids) - set(ids))
    repeated = sorted({i for i in ids if ids.count(i) > 1}) if len(ids) != len(set(ids)) else []
    for what, which in (("names regions the data lack", extra), ("lacks regions", absent),
                        ("repeats regions", repeated)):
        if which:
            raise DataError(f"{what}: {brief(which[:5])}; it has one row per region of "
                            "input_regions.csv", file=str(path), column="region_id")


def _metrics_totals(metrics: dict, report: CheckReport, scenario: Scenario) -> list[Violation]:
    """metrics.json's money and measure agree with the allocation and scenario.yaml."""
    assert report.funding is not None
    out = []
    tol = money_tolerance_usd(scenario.budget)
    spent = float(report.funding.sum())
    for key, truth in (("spent_usd", spent), ("budget_usd", scenario.budget)):
        if not abs(metrics[key] - truth) <= tol:
            out.append(Violation(f"{key}_mismatch", abs(metrics[key] - truth), "USD",
                                 f"metrics.json {key} {metrics[key]:,.2f}, recomputed "
                                 f"{truth:,.2f}"))
    for label, truth_metrics in (("before", report.metrics_before),
                                 ("after", report.metrics_after)):
        claimed = set(metrics["metrics"][label])
        lacking, unknown = sorted(set(truth_metrics) - claimed), sorted(claimed - set(truth_metrics))
        if lacking or unknown:
            out.append(Violation("metric_keys", len(lacking) + len(unknown), "metrics",
                                 f"metrics.json metrics.{label} lacks {lacking} / has unknown "
                                 f"{unknown}"))
    if metrics["objective_measure"] != scenario.spread_measure:
        out.append(Violation("objective_measure_mismatch", 1, "file",
                             f"metrics.json says {metrics['objective_measure']}, scenario.yaml "
                             f"{scenario.spread_measure}"))
    return out


def _regions_table(table: pd.DataFrame, report: CheckReport, regions: Regions,
                   scenario: Scenario) -> list[Violation]:
    """Every number of regions.csv (but the marginal gain, see the README) recomputed
    from the allocation and the data: funding in money, capacity in points."""
    assert report.funding is not None and report.baseline_points is not None
    assert report.final_points is not None
    x, c0, final = report.funding, report.baseline_points, report.final_points
    population = regions.population
    pop_share = population / population.sum()
    truth: dict[str, tuple[np.ndarray, float, str]] = {
        "funding_usd": (x.sum(axis=1), money_tolerance_usd(scenario.budget), "USD"),
        "population": (population, 1e-9, "persons"),
        "baseline_capacity": (c0, 1e-6, "points"),
        "capacity_gain": (final - c0, 1e-6, "points"),
        "final_capacity": (final, 1e-6, "points"),
        "capacity_per_capita_before": (c0 / (100.0 * pop_share), CAPACITY_TOL, "per-capita units"),
        "capacity_per_capita_after": (final / (100.0 * pop_share), CAPACITY_TOL,
                                      "per-capita units"),
        "capacity_share_before": (c0 / c0.sum(), CAPACITY_TOL, "share"),
        "capacity_share_after": (final / final.sum(), CAPACITY_TOL, "share"),
        "funding_per_capita_usd": (x.sum(axis=1) / population, 1e-6, "USD per person"),
        **{f"funding_{name}_usd": (x[:, j], money_tolerance_usd(scenario.budget), "USD")
           for j, name in enumerate(scenario.instruments)},
    }
    out = []
    names = table["name"].reindex(regions.ids)
    renamed = np.flatnonzero(names.to_numpy(str) != regions.names.astype(str))
    if len(renamed):
        r = int(renamed[0])
        out.append(Violation("region_table_mismatch", len(renamed), "regions",
                             f"regions.csv names {regions.ids[r]} {brief(names.iloc[r])}, "
                             f"input_regions.csv {brief(regions.names[r])}"))
    for column, (values, tol, what) in truth.items():
        if column not in table.columns:
            continue
        claimed = table[column].reindex(regions.ids).to_numpy(float)
        off = np.abs(claimed - values)
        # money to the money tolerance alone (the tables hold every digit); the rest to
        # their tolerance and 1e-9 of the value (the checker's own arithmetic)
        rel = 0.0 if what == "USD" else 1e-9
        bad = np.isnan(off) | (off > tol + rel * np.abs(values))
        if bad.any():
            shown = ",.2f" if what == "USD" else ",.10g"
            worst = int(np.nanargmax(np.where(bad, np.nan_to_num(off, nan=np.inf), -1.0)))
            out.append(Violation(
                "region_table_mismatch", float(np.nan_to_num(off[worst], nan=np.inf)), what,
                f"regions.csv {column} of {regions.ids[worst]} is {claimed[worst]:{shown}}, "
                f"recomputed {values[worst]:{shown}} ({int(bad.sum())} region(s) disagree)"))
    return out


def _outcome_mismatches(d: Path, report: CheckReport, metrics: Any) -> list[Violation]:
    """outcomes.csv and metrics.json's outcomes against the recomputed natural-unit gains
    (a plan written before outcomes existed has neither and is not held to them)."""
    out = report.outcomes
    path = plan_file(d, OUTCOMES_FILE)
    if out is None or not path.exists():
        return []
    table = plan_table(path, OUTCOME_COLUMNS, ("before", "gain", "after"),
                       text=("region_id", "indicator", "unit"))
    expected = outcomes_table(report.region_ids, out)
    key = ["region_id", "indicator"]
    merged = expected.merge(table, on=key, how="outer",
                            suffixes=("", "_file"), indicator=True)
    violations = []
    unmatched = merged[merged["_merge"] != "both"]
    if len(unmatched):
        violations.append(Violation("outcome_rows", len(unmatched), "rows",
                                    f"{OUTCOMES_FILE} rows do not match the plan's regions and "
                                    f"raised indicators (first: {unmatched[key].iloc[0].tolist()})"))
    both = merged[merged["_merge"] == "both"]
    for column in ("before", "gain", "after"):
        got = pd.to_numeric(both[f"{column}_file"], errors="coerce").to_numpy(float)
        want = both[column].to_numpy(float)
        bad = ~(np.isclose(got, want, rtol=METRIC_REL_TOL, atol=1e-9)
                | (np.isnan(got) & np.isnan(want)))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            violations.append(Violation(
                "outcome_mismatch", int(bad.sum()), "rows",
                f"{OUTCOMES_FILE} {column} of {both['region_id'].iloc[i]} / "
                f"{both['indicator'].iloc[i]}: {got[i]} where the plan gives {want[i]}"))
    claimed = metrics.get("outcomes") if isinstance(metrics, dict) else None
    if isinstance(claimed, dict):
        for q, k in enumerate(out.indicators):
            entry = claimed.get(k)
            gain = float(out.gain[:, q].sum())
            want = {"before": float(out.totals[q]), "gain": gain, "after": float(out.totals[q]) + gain}
            for field_name, value in want.items():
                got = _number(entry.get(field_name)) if isinstance(entry, dict) else float("nan")
                if not np.isclose(got, value, rtol=METRIC_REL_TOL, atol=1e-9):
                    violations.append(Violation(
                        "outcome_total_mismatch", 1, "indicator",
                        f"metrics.json outcomes.{k}.{field_name} is {got:,.6g}, not the plan's "
                        f"{value:,.6g}"))
    return violations


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


OUTCOMES_FILE = "outcomes.csv"


def outcomes_table(region_ids: list[str], out: Outcomes) -> pd.DataFrame:
    """The recomputed outcomes as the tidy table a plan folder ships."""
    return outcome_rows(region_ids, out.indicators, [unit(k) for k in out.indicators],
                        out.before, out.gain)
