"""Independent verification of a consensus or robust plan directory.

No Pyomo, no model and no consensus code: every rule of the base scenario is checked
by ``optimizer.engine.check`` (the plan, each stakeholder's own plan, the default plan), and
every reported S, share of attainable gain t, achievement-table cell and sample
statistic is recomputed from the allocations, the regions table and the scenario
(the checker's own exact formulas, with the pairwise Gini) and compared with what the
plan files say.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine.check import CheckReport, Violation, check, check_dir
from optimizer.engine.data import (
    Regions,
    load_regions,
    plan_file,
    read_json_file,
    read_table_file,
)
from optimizer.engine.errors import DataError
from optimizer.engine.scenario import Scenario, load_scenario, scenario_from_dict

REL_TOL = 1e-6
ABS_TOL = 1e-9
CONSENSUS_FILE = "consensus.json"
ROBUST_FILE = "robust.json"


@dataclass
class PlanSetReport(CheckReport):
    """The check of a folder of several plans: ``headline`` says what else was verified."""

    headline: str = ""

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}\n{self.headline}" if self.ok and self.headline else text


def _with_headline(report: CheckReport, headline: str) -> PlanSetReport:
    return PlanSetReport(**{f.name: getattr(report, f.name) for f in fields(CheckReport)},
                         headline=headline)


def check_plan_dir(directory: str | Path) -> CheckReport:
    """Verify any plan directory: a consensus or robust plan in full, else as ``check_dir``."""
    d = Path(directory)
    if plan_file(d, CONSENSUS_FILE).exists():
        return check_consensus_dir(d)
    if plan_file(d, ROBUST_FILE).exists():
        return check_robust_dir(d)
    return check_dir(d)


def _scoring_scenario(base: Scenario, changes: dict[str, Any],
                      effectiveness: dict[str, float] | None = None) -> Scenario:
    """The base scenario with a view's judgments and no rules: only its metrics are read."""
    data = base.to_dict()
    data.update(changes)
    for name, value in (effectiveness or {}).items():
        data["instruments"][name] = {**data["instruments"][name],
                                     "effectiveness_per_busd": float(value)}
    data.update(exclusions={"regions": [], "top_k_incumbents": 0, "instruments": {}}, hubs=None,
                top_k_share_cap=None, per_capita_floor=None, region_bounds={},
                group_min_shares={}, instrument_shares={}, packs=[])
    return scenario_from_dict(data, source="view scenario")


def _scores(allocation: pd.DataFrame, regions: Regions, sc: Scenario) -> tuple[float, float]:
    """(S before, S after) of an allocation for a scoring scenario, by ``check``."""
    report = check(allocation, regions, sc)
    key = sc.objective_key
    return report.metrics_before[key], report.metrics_after[key]


def _close(a: float, b: float) -> bool:
    return bool(np.isclose(a, b, rtol=REL_TOL, atol=ABS_TOL))


def _compare(report: CheckReport, name: str, claimed: Any, truth: float) -> None:
    try:
        value = float(claimed)
    except (TypeError, ValueError):
        value = float("nan")
    if not _close(value, truth):
        report.violations.append(Violation(name, abs(value - truth) if np.isfinite(value)
                                           else float("inf"), "points",
                                           f"reported {claimed}, recomputed {truth:.10g}"))


def _table(path: Path, columns: list[str]) -> pd.DataFrame:
    if not plan_file(path.parent, path.name).exists():
        raise DataError("missing from the plan directory", file=str(path))
    table = read_table_file(path)
    for column in columns:
        if column not in table.columns:
            raise DataError("column missing", file=str(path), column=column)
    return table


def _rules(report: CheckReport, label: str, allocation: pd.DataFrame, regions: Regions,
           base: Scenario) -> None:
    """Every rule of the base scenario for another plan of the directory."""
    other = check(allocation, regions, base)
    for v in other.violations:
        report.violations.append(Violation(f"{label}: {v.name}", v.amount, v.unit, v.detail))


def _open(d: Path, record: str) -> tuple[CheckReport, Regions, Scenario, Any]:
    """The plan directory's own check, its regions, base scenario and analysis record."""
    return (check_dir(d), load_regions(d / "input_regions.csv"), load_scenario(d / "scenario.yaml"),
            read_json_file(d / record))


def check_consensus_dir(directory: str | Path) -> CheckReport:
    """Verify a consensus plan: the plan, every stakeholder's own plan, S, t and the table."""
    d = Path(directory)
    report, regions, base, claimed = _open(d, CONSENSUS_FILE)
    try:
        stakeholders = claimed["stakeholders"]
        names = list(stakeholders)
        changes = {k: dict(stakeholders[k]["changes"]) for k in names}
    except (KeyError, TypeError, AttributeError) as err:
        raise DataError(f"unreadable consensus record ({err})", file=str(d / CONSENSUS_FILE)) from None
    plan = _table(d / "allocation.csv", ["region_id", "instrument", "amount_usd"])
    own = _table(d / "own_plans.csv", ["plan", "region_id", "instrument", "amount_usd"])
    plans = {k: own[own["plan"].astype(str) == k] for k in names}
    for k, allocation in plans.items():
        if allocation.empty:
            raise DataError(f"no own plan for stakeholder '{k}'", file=str(d / "own_plans.csv"))
        _rules(report, f"own plan of {k}", allocation, regions, base)
    plans["consensus"] = plan
    views = {k: _scoring_scenario(base, changes[k]) for k in names}
    baseline: dict[str, float] = {}
    scores = pd.DataFrame(index=names, columns=list(plans), dtype=float)
    for k in names:
        for column, allocation in plans.items():
            before, after = _scores(allocation, regions, views[k])
            baseline[k] = before
            scores.at[k, column] = after
    achievement = scores.copy()
    for k in names:
        span = scores.at[k, k] - baseline[k]
        achievement.loc[k] = (scores.loc[k] - baseline[k]) / span
    t = float(achievement["consensus"].min())
    _compare(report, "consensus_t", claimed.get("t"), t)
    for k in names:
        row = stakeholders[k]
        _compare(report, f"{k}.baseline_S", row.get("baseline_S"), baseline[k])
        _compare(report, f"{k}.own_optimum_S", row.get("own_optimum_S"), scores.at[k, k])
        _compare(report, f"{k}.consensus_S", row.get("consensus_S"), scores.at[k, "consensus"])
        _compare(report, f"{k}.share_of_attainable_gain", row.get("share_of_attainable_gain"),
                 achievement.at[k, "consensus"])
    table = _table(d / "achievement.csv", ["stakeholder", *plans])
    table = table.set_index(table["stakeholder"].astype(str))
    for column in plans:
        for k in names:
            cell = claimed.get("achievement", {}).get(column, {}).get(k)
            _compare(report, f"achievement[{k}, {column}]", cell, achievement.at[k, column])
            _compare(report, f"achievement.csv[{k}, {column}]",
                     table[column].get(k, np.nan), achievement.at[k, column])
            score = claimed.get("scores", {}).get(column, {}).get(k)
            _compare(report, f"scores[{k}, {column}]", score, scores.at[k, column])
    return _with_headline(report, (
        f"consensus OK: {len(names)} stakeholders' own plans meet every rule; t = {t:.6f}, S of "
        f"each stakeholder under each plan and the {len(names)} x {len(names) + 1} achievement "
        "table recomputed and as reported"))


def cvar(values: np.ndarray, alpha: float) -> float:
    """The mean of the worst ``alpha`` share of equally likely values (written afresh:
    the plan's own figure is what it is checked against)."""
    ordered = np.sort(np.asarray(values, float))
    weight = np.clip(alpha * len(ordered) - np.arange(len(ordered)), 0.0, 1.0)
    return float((weight * ordered).sum() / weight.sum())


def _stats(values: np.ndarray, alpha: float) -> dict[str, float]:
    v = np.asarray(values, float)
    return {"mean": float(v.mean()), "cvar": cvar(v, alpha), "worst": float(v.min()),
            "p10": float(np.quantile(v, 0.1)), "median": float(np.median(v)),
            "p90": float(np.quantile(v, 0.9)), "best": float(v.max())}


def _sample_scenarios(base: Scenario, table: pd.DataFrame) -> list[tuple[int, Scenario]]:
    out = []
    for _, row in table.iterrows():
        weights = {k[2:]: float(v) for k, v in row.items() if str(k).startswith("w_")}
        effect = {k[2:]: float(v) for k, v in row.items() if str(k).startswith("a_")}
        sc = _scoring_scenario(base, {"weights": weights,
                                      "complementarity": float(row["complementarity"])}, effect)
        out.append((int(row["sample_id"]), sc))
    return out


def check_robust_dir(directory: str | Path) -> CheckReport:
    """Verify a robust plan: the plan and the default plan under the base rules, every
    sample's S for both, and the reported statistics."""
    d = Path(directory)
    report, regions, base, claimed = _open(d, ROBUST_FILE)
    try:
        alpha = float(claimed["alpha"])
        stats = claimed["stats"]
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(f"unreadable robust record ({err})", file=str(d / ROBUST_FILE)) from None
    plan = _table(d / "allocation.csv", ["region_id", "instrument", "amount_usd"])
    default = _table(d / "default_allocation.csv", ["region_id", "instrument", "amount_usd"])
    _rules(report, "default plan", default, regions, base)
    reported = _table(d / "sample_scores.csv", ["set", "sample_id", "robust", "default"])
    recomputed = []
    for label, name in (("in_sample", "samples.csv"), ("out_of_sample", "fresh_samples.csv")):
        table = _table(d / name, ["sample_id", "complementarity"])
        for sample_id, sc in _sample_scenarios(base, table):
            recomputed.append({"set": label, "sample_id": sample_id,
                               "robust": _scores(plan, regions, sc)[1],
                               "default": _scores(default, regions, sc)[1]})
    truth = pd.DataFrame(recomputed, columns=["set", "sample_id", "robust", "default"])
    merged = truth.merge(reported, on=["set", "sample_id"], how="left", suffixes=("", "_claimed"))
    for column in ("robust", "default"):
        off = (merged[column] - merged[f"{column}_claimed"]).abs()
        bad = off.isna() | ~np.isclose(merged[column], merged[f"{column}_claimed"], rtol=REL_TOL,
                                       atol=ABS_TOL)
        if bad.any():
            worst = int(off.fillna(np.inf).idxmax())
            report.violations.append(Violation(
                "sample_score_mismatch", float(off.fillna(np.inf).max()), "points",
                f"{int(bad.sum())} sample score(s) of the {column} plan disagree, first "
                f"{merged.at[worst, 'set']} sample {merged.at[worst, 'sample_id']}"))
    for label in truth["set"].unique():
        part = truth[truth["set"] == label]
        for column in ("robust", "default"):
            for key, value in _stats(part[column].to_numpy(), alpha).items():
                cell = stats.get(label, {}).get(column, {}).get(key)
                _compare(report, f"stats.{label}.{column}.{key}", cell, value)
    core = d / "core_index.csv"
    if core.is_file():
        table = _table(core, ["region_id", "core_index", "robust_funding_usd",
                              "default_funding_usd"]).set_index("region_id")
        for column, allocation in (("robust_funding_usd", plan), ("default_funding_usd", default)):
            funding = allocation.groupby(allocation["region_id"].astype(str))["amount_usd"].sum()
            off = (table[column].rename(index=str) - funding.reindex(
                table.index.astype(str)).fillna(0.0).to_numpy()).abs()
            if (off > max(1e-9 * base.budget, 0.01)).any():
                report.violations.append(Violation("core_table_mismatch", float(off.max()), "USD",
                                                   f"core_index.csv {column} disagrees with the "
                                                   "plan"))
        index = table["core_index"].to_numpy(float)
        if np.isnan(index).any() or (index < 0).any() or (index > 1).any():
            report.violations.append(Violation("core_index_range", 1, "regions",
                                               "a core index outside [0, 1]"))
    counts = truth["set"].value_counts()
    return _with_headline(report, (
        f"robust plan OK: the default plan meets every rule; S of both plans on "
        f"{counts.get('in_sample', 0)} samples and {counts.get('out_of_sample', 0)} fresh ones, "
        "and every statistic, recomputed and as reported"))
