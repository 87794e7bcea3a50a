"""Independent checker: verify a plan from allocation + regions + scenario alone.

It does not import Pyomo, the model or the result code: it recomputes MODEL.md from
scratch (baseline capacity, the exact log response, every constraint and every
metric, with the pairwise Gini formula) and compares with what the plan reports.
Each violation is named with its amount.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.engine.data import Regions, load_regions, read_json_file, read_table_file
from optimizer.engine.errors import DataError, brief
from optimizer.engine.scenario import Scenario, load_scenario

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
    final_capacity: pd.Series | None = None

    @property
    def ok(self) -> bool:
        return not self.violations

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
    pairwise = np.abs(y[:, None] - y[None, :]) * np.outer(w, w)
    gini = float(pairwise.sum() / (2.0 * mu))
    total = capacity.sum()
    k = min(10, len(capacity))
    ratio = y / mu
    safe = np.where(ratio > 0, ratio, 1.0)
    return {
        "spread_adjusted_capacity": 100.0 * (mu - lam * pairwise.sum() / 2.0),
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
    """
    report = CheckReport(objective_key=scenario.objective_key)
    bad = report.violations.append
    t = regions.table.set_index("region_id")
    ids = list(t.index)
    pop = t["population"].to_numpy(float)
    budget = scenario.budget
    money_tol = money_tolerance_usd(budget)
    instruments = list(scenario.instruments)

    unknown_r = sorted(set(allocation["region_id"].astype(str)) - set(ids))
    unknown_i = sorted(set(allocation["instrument"]) - set(instruments))
    if unknown_r or unknown_i:
        bad(Violation("unknown_keys", len(unknown_r) + len(unknown_i), "rows",
                      f"allocation names regions {unknown_r[:5]} / instruments {unknown_i} "
                      "that are not in the data/scenario"))
        return report
    amounts = (allocation.assign(region_id=allocation["region_id"].astype(str))
               .pivot_table(index="region_id", columns="instrument", values="amount_usd",
                            aggfunc="sum", fill_value=0.0)
               .reindex(index=ids, columns=instruments, fill_value=0.0))
    x = amounts.to_numpy(float)
    if np.isnan(x).any():
        bad(Violation("missing_amount", int(np.isnan(x).sum()), "cells", "empty amounts"))
        x = np.nan_to_num(x)

    # --- baseline capacity and response, recomputed from the raw table ---
    used = sorted({k for k, v in scenario.weights.items() if v > 0}
                  | {k for ins in scenario.instruments.values() for k in (ins.absorbs or [])})
    vals = t[used].copy()
    for k in used:
        policy = scenario.missing_policy(k)
        if vals[k].isna().any():
            if policy == "error":
                raise DataError("missing values and the scenario's policy is 'error'",
                                file=regions.source, column=k)
            fill = {"zero": 0.0, "median": vals[k].median(), "half_min": 0.5 * vals[k].min()}
            vals[k] = vals[k].fillna(fill[policy])
    share_ind = vals / vals.sum()
    total_w = sum(scenario.weights.values())
    c0 = sum(share_ind[k].to_numpy() * (w / total_w)
             for k, w in scenario.weights.items() if w > 0) * 100.0
    popw = pop / pop.sum()
    gains = np.zeros_like(x)
    for j, name in enumerate(instruments):
        ins = scenario.instruments[name]
        own = c0 / 100.0 if not ins.absorbs else share_ind[ins.absorbs].mean(axis=1).to_numpy()
        mult = np.maximum(own / popw, scenario.min_absorption) ** scenario.complementarity
        s = ins.saturation_usd * popw
        funded = np.maximum(x[:, j], 0.0)  # negative amounts are reported above
        gains[:, j] = ins.effectiveness_per_busd / 1e9 * mult * s * np.log1p(funded / s)
    final = c0 + gains.sum(axis=1)
    report.final_capacity = pd.Series(final, index=ids)
    base_top = np.argsort(-c0, kind="stable")[: min(10, len(ids))]

    # --- money constraints ---
    if (x < -money_tol).any():
        bad(Violation("non_negative", float(-x.min()), "USD", "negative amount"))
    spent = x.sum()
    if spent > budget + money_tol:
        bad(Violation("budget", spent - budget, "USD", f"spends {spent:,.0f} of {budget:,.0f}"))
    if not scenario.allow_unspent and spent < budget - money_tol:
        bad(Violation("budget", budget - spent, "USD",
                      f"leaves {budget - spent:,.0f} unspent but allow_unspent is false"))
    per_region = x.sum(axis=1)
    floor = np.maximum(scenario.region_floor_usd, scenario.region_floor_usd_per_capita * pop)
    cap = np.full(len(ids), np.inf)
    if scenario.region_cap_usd is not None:
        cap = np.minimum(cap, scenario.region_cap_usd)
    if scenario.region_cap_usd_per_capita is not None:
        cap = np.minimum(cap, scenario.region_cap_usd_per_capita * pop)
    if scenario.max_region_share is not None:
        cap = np.minimum(cap, scenario.max_region_share * budget)
    pos = {rid: i for i, rid in enumerate(ids)}

    def where(ref: str) -> int:
        rid = regions.lookup(ref)
        if rid is None:
            raise DataError(f"scenario refers to region '{ref}' that is not in the data",
                            file=regions.source)
        return pos[rid]

    for ref, rb in scenario.region_bounds.items():
        floor[where(ref)] = rb.floor_usd
        if rb.cap_usd is not None:
            cap[where(ref)] = rb.cap_usd
    for r in np.flatnonzero(per_region < floor - money_tol):
        bad(Violation("region_floor", floor[r] - per_region[r], "USD", f"region {ids[r]}"))
    for r in np.flatnonzero(per_region > cap + money_tol):
        bad(Violation("region_cap", per_region[r] - cap[r], "USD", f"region {ids[r]}"))

    excluded = {where(ref) for ref in scenario.exclusions.regions}
    excluded |= set(np.argsort(-c0, kind="stable")[: scenario.exclusions.top_k_incumbents].tolist())
    for r in sorted(excluded):
        if per_region[r] > money_tol:
            bad(Violation("exclusion", per_region[r], "USD", f"excluded region {ids[r]} is funded"))
    for ref, names in scenario.exclusions.instruments.items():
        r = where(ref)
        for name in names:
            amount = x[r, instruments.index(name)]
            if amount > money_tol:
                bad(Violation("instrument_exclusion", amount, "USD",
                              f"region {ids[r]} receives excluded instrument {name}"))
    for name, rng in scenario.instrument_shares.items():
        got = x[:, instruments.index(name)].sum()
        if got < rng.min * budget - money_tol:
            bad(Violation("instrument_min_share", rng.min * budget - got, "USD", name))
        if got > rng.max * budget + money_tol:
            bad(Violation("instrument_max_share", got - rng.max * budget, "USD", name))
    for column, mins in scenario.group_min_shares.items():
        labels = t[column].astype(str).to_numpy()
        for value, share in mins.items():
            got = per_region[labels == value].sum()
            if got < share * budget - money_tol:
                bad(Violation("group_min_share", share * budget - got, "USD",
                              f"{column} = {value}"))

    if scenario.hubs is not None:
        _check_hubs(scenario, t, per_region, money_tol, hubs, bad)

    # --- capacity constraints (exact response) ---
    y = final / (100.0 * popw)
    if scenario.per_capita_floor:
        for r in np.flatnonzero(y < scenario.per_capita_floor - CAPACITY_TOL):
            bad(Violation("per_capita_floor", scenario.per_capita_floor - y[r], "per-capita units",
                          f"region {ids[r]}"))
    if scenario.top_k_share_cap is not None:
        k, alpha = scenario.top_k_share_cap.k, scenario.top_k_share_cap.max_share
        top_share = np.sort(final)[-k:].sum() / final.sum()
        if top_share > alpha + CAPACITY_TOL:
            bad(Violation("top_k_share_cap", top_share - alpha, "share",
                          f"top {k} hold {top_share:.4%} > {alpha:.4%}"))

    # --- metrics ---
    report.metrics_before = _metrics(c0, pop, scenario.spread_weight, base_top)
    report.metrics_after = _metrics(final, pop, scenario.spread_weight, base_top)
    for label, claimed, truth in (("after", reported, report.metrics_after),
                                  ("before", reported_before, report.metrics_before)):
        for key, value in (claimed or {}).items():
            if key not in truth:
                continue
            if not np.isclose(value, truth[key], rtol=METRIC_REL_TOL, atol=1e-9):
                bad(Violation("metric_mismatch", abs(value - truth[key]), "units",
                              f"{label}.{key} reported {value:.10g}, recomputed "
                              f"{truth[key]:.10g}"))
    return report


def _check_hubs(scenario: Scenario, t: pd.DataFrame, per_region: np.ndarray, money_tol: float,
                hubs: set[str] | None, bad) -> None:  # type: ignore[no-untyped-def]
    """Hub logic: only hubs funded, awards within bounds, counts and group rules."""
    spec = scenario.hubs
    assert spec is not None
    ids = list(t.index)
    funded = per_region > money_tol
    chosen = funded.copy() if hubs is None else np.array([rid in hubs for rid in ids])
    for r in np.flatnonzero(funded & ~chosen):
        bad(Violation("funded_non_hub", per_region[r], "USD", f"region {ids[r]} is not a hub"))
    award_max = spec.award_usd.max if spec.award_usd.max is not None else np.inf
    for r in np.flatnonzero(chosen):
        if per_region[r] < spec.award_usd.min - money_tol:
            bad(Violation("hub_award_min", spec.award_usd.min - per_region[r], "USD",
                          f"hub {ids[r]}"))
        if per_region[r] > award_max + money_tol:
            bad(Violation("hub_award_max", per_region[r] - award_max, "USD", f"hub {ids[r]}"))
    count = int(chosen.sum())
    if count < spec.count.min:
        bad(Violation("hub_count", spec.count.min - count, "hubs", f"{count} hubs < {spec.count.min}"))
    if spec.count.max is not None and count > spec.count.max:
        bad(Violation("hub_count", count - spec.count.max, "hubs", f"{count} hubs > {spec.count.max}"))
    for column, rule in spec.min_per_group.items():
        labels = t[column].astype(str)
        values = sorted(labels.unique()) if isinstance(rule, int) else list(rule)
        for value in values:
            need = rule if isinstance(rule, int) else rule[value]
            got = int(chosen[(labels == value).to_numpy()].sum())
            if got < need:
                bad(Violation("hub_group_min", need - got, "hubs", f"{column} = {value}"))
    for column in spec.max_one_per_group:
        counts = pd.Series(chosen, index=t.index).groupby(t[column].astype(str)).sum()
        for value, got in counts[counts > 1].items():
            bad(Violation("hub_group_max", int(got) - 1, "hubs", f"{column} = {value}"))
    if spec.designated is not None and spec.designated.column in t.columns:
        flag = t[spec.designated.column].astype(str).str.strip().str.lower().isin(
            ["true", "1", "yes", "y"]).to_numpy()
        need = spec.designated.min_share * count
        got = int((chosen & flag).sum())
        if got < need - 1e-9:
            bad(Violation("hub_designated", need - got, "hubs",
                          f"{got} of {count} hubs in {spec.designated.column}"))
    elif spec.designated is not None and spec.designated.if_missing == "error":
        raise DataError("the scenario's designated-hub column is missing",
                        column=spec.designated.column)


def check_dir(directory: str | Path) -> CheckReport:
    """Re-verify a plan directory written by ``placefund solve``.

    Uses the regions table and resolved scenario recorded in it, and checks that the
    recorded data hash, allocation, per-region table and metrics agree.
    """
    d = Path(directory)
    needed = ["allocation.csv", "regions.csv", "metrics.json", "scenario.yaml",
              "input_regions.csv"]
    missing = [name for name in needed if not (d / name).exists()]
    if missing:
        raise DataError(f"not a plan directory: missing {missing}", file=str(d))
    # every file is read as bounded UTF-8 text: a binary or mis-encoded one is named
    # with the byte offset (optimizer.engine.data / optimizer.engine.safe_yaml)
    regions = load_regions(d / "input_regions.csv")
    scenario = load_scenario(d / "scenario.yaml")
    metrics = read_json_file(d / "metrics.json")
    try:
        claimed_after = metrics["metrics"]["after"]
        claimed_before = metrics["metrics"]["before"]
    except (KeyError, TypeError) as err:
        raise DataError(f"unreadable metrics (no {brief(str(err))})",
                        file=str(d / "metrics.json")) from None
    allocation = read_table_file(d / "allocation.csv")
    for column in ("region_id", "instrument", "amount_usd"):
        if column not in allocation.columns:
            raise DataError("column missing", file=str(d / "allocation.csv"), column=column)
    table = read_table_file(d / "regions.csv")
    for column in ("region_id", "final_capacity"):
        if column not in table.columns:
            raise DataError("column missing", file=str(d / "regions.csv"), column=column)
    table = table.set_index("region_id")
    hubs = None
    if scenario.hubs is not None and "hub" in table.columns:
        hubs = set(table.index[table["hub"].astype(str).str.lower() == "true"])
    report = check(allocation, regions, scenario, claimed_after, claimed_before, hubs)
    recorded_hash = metrics.get("provenance", {}).get("data_sha256")
    if recorded_hash and recorded_hash != regions.sha256:
        report.violations.append(Violation("data_hash", 1, "file", "input_regions.csv differs "
                                           "from the data the plan was solved on"))
    if not np.isclose(metrics.get("objective", np.nan), report.objective, rtol=METRIC_REL_TOL):
        report.violations.append(Violation(
            "objective_mismatch", abs(metrics.get("objective", np.nan) - report.objective),
            "points", f"reported {metrics.get('objective')}, recomputed {report.objective}"))
    assert report.final_capacity is not None
    claimed = table["final_capacity"].reindex(report.final_capacity.index)
    off = (claimed - report.final_capacity).abs()
    if off.isna().any() or (off > 1e-6).any():
        worst = off.fillna(np.inf).idxmax()
        report.violations.append(Violation(
            "region_capacity_mismatch", float(off.fillna(np.inf).max()), "points",
            f"regions.csv final_capacity of {worst} disagrees with the allocation"))
    return report
