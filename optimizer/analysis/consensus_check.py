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
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import ConfigDict, Field

from optimizer.analysis.bootstrap import paired_difference
from optimizer.engine.check import CheckReport, Violation, check, check_dir
from optimizer.engine.data import (
    Regions,
    load_regions,
    plan_file,
)
from optimizer.engine.errors import DataError, brief
from optimizer.engine.records import FileRecord, plan_table, read_record, read_whole
from optimizer.engine.scenario import Scenario, load_scenario, scaled_yield, scenario_from_dict

REL_TOL = 1e-6
ABS_TOL = 1e-9
CONSENSUS_FILE = "consensus.json"
ROBUST_FILE = "robust.json"
# the consensus files' own column names: a stakeholder may not be called one of them
RESERVED_NAMES = ("consensus", "baseline", "stakeholder", "plan")


# --- the records consensus.json and robust.json hold (written and read through these) ---

class ChangesRecord(FileRecord):
    """What a stakeholder changes from the base scenario."""

    weights: dict[str, float] | None = None
    spread_weight: float | None = None
    complementarity: float | None = None


class StakeholderRecord(FileRecord):
    """One stakeholder of consensus.json: its changes and its exact S and share."""

    changes: ChangesRecord
    baseline_S: float
    own_optimum_S: float
    consensus_S: float
    share_of_attainable_gain: float


class ConsensusRecord(FileRecord):
    """consensus.json."""

    kind: Literal["consensus"]
    title: str
    spread_measure: Literal["gini", "hoover"]
    t: float
    t_lp: float
    stakeholders: dict[str, StakeholderRecord] = Field(min_length=1)
    scores: dict[str, dict[str, float]]
    achievement: dict[str, dict[str, float]]
    gives_up: list[str]
    info: dict[str, Any]


class RobustRecord(FileRecord):
    """robust.json."""

    model_config = ConfigDict(strict=True, extra="forbid")
    kind: Literal["robust"]
    title: str
    objective: Literal["mean", "cvar", "worst"]
    alpha: float = Field(gt=0.0, le=1.0)
    spread_measure: Literal["gini", "hoover"]
    samples: int = Field(ge=1)
    fresh_samples: int = Field(ge=0)
    stats: dict[str, dict[str, dict[str, float]]]
    comparison: str
    info: dict[str, Any]
    # robust minus default on the fresh samples with its paired bootstrap interval
    # (checked by redoing the bootstrap, ``_check_difference``)
    out_of_sample_difference: dict[str, Any] | None = None


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a stakeholder (None: it can): the files' own column
    names would be overwritten, and an empty name has no column."""
    if not name.strip():
        return "a stakeholder needs a name"
    if name.strip().lower() in RESERVED_NAMES:
        return (f"'{name}' is a column of the consensus files ({', '.join(RESERVED_NAMES)}); "
                "call the stakeholder something else")
    return None


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

    def read() -> CheckReport:
        if plan_file(d, CONSENSUS_FILE).exists():
            return check_consensus_dir(d)
        if plan_file(d, ROBUST_FILE).exists():
            return check_robust_dir(d)
        return check_dir(d)

    return read_whole(d, read)  # all of one folder, even while another plan replaces it


def _scoring_scenario(base: Scenario, changes: dict[str, Any],
                      yield_scale: dict[str, float] | None = None) -> Scenario:
    """The base scenario with a view's judgments and no rules: only its metrics are read."""
    data = base.to_dict()
    data.update(changes)
    for name, value in (yield_scale or {}).items():
        ins = data["instruments"][name]
        data["instruments"][name] = {**ins, "yields": {k: scaled_yield(v, float(value))
                                                       for k, v in ins["yields"].items()}}
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


def _table(path: Path, columns: list[str], numbers: tuple[str, ...] = ("amount_usd",),
           text: tuple[str, ...] = ("region_id", "instrument")) -> pd.DataFrame:
    if not plan_file(path.parent, path.name).exists():
        raise DataError("missing from the plan directory", file=str(path))
    return plan_table(path, tuple(columns), numbers, text)


def _known_keys(allocation: pd.DataFrame, regions: Regions, base: Scenario, path: Path) -> None:
    """Another plan of the folder names only the data's regions and the scenario's
    instruments (``DataError`` naming the file otherwise)."""
    unknown_r = sorted(set(allocation["region_id"]) - set(regions.ids))
    unknown_i = sorted(set(allocation["instrument"]) - set(base.instruments))
    if unknown_r or unknown_i:
        raise DataError(f"names regions {brief(unknown_r[:5])} / instruments {brief(unknown_i)} "
                        "that input_regions.csv and scenario.yaml do not have", file=str(path))


def _rules(report: CheckReport, label: str, allocation: pd.DataFrame, regions: Regions,
           base: Scenario) -> None:
    """Every rule of the base scenario for another plan of the directory."""
    other = check(allocation, regions, base)
    for v in other.violations:
        report.violations.append(Violation(f"{label}: {v.name}", v.amount, v.unit, v.detail))


def _open(d: Path, record: str, model: type[FileRecord]
          ) -> tuple[CheckReport, Regions, Scenario, Any]:
    """The plan directory's own check, its regions, base scenario and analysis record
    (typed by ``model``: a key of the wrong kind is named)."""
    claimed = read_record(d / record, model)
    return (check_dir(d), load_regions(d / "input_regions.csv"), load_scenario(d / "scenario.yaml"),
            claimed)


def check_consensus_dir(directory: str | Path) -> CheckReport:
    """Verify a consensus plan: the plan, every stakeholder's own plan, S, t and the table."""
    d = Path(directory)
    report, regions, base, claimed = _open(d, CONSENSUS_FILE, ConsensusRecord)
    stakeholders = claimed["stakeholders"]
    names = list(stakeholders)
    source = str(d / CONSENSUS_FILE)
    for k in names:
        problem = name_problem(k)
        if problem:
            raise DataError(f"key 'stakeholders.{k}': {problem}", file=source)
        changes_k = stakeholders[k]["changes"]
        lacking = sorted(set(changes_k.get("weights") or {}) - set(regions.indicators))
        if lacking:
            raise DataError(f"key 'stakeholders.{k}.changes.weights': {brief(lacking)} are not "
                            "indicator columns of input_regions.csv", file=source)
    changes = {k: {key: v for key, v in stakeholders[k]["changes"].items() if v is not None}
               for k in names}
    plan = _table(d / "allocation.csv", ["region_id", "instrument", "amount_usd"])
    own = _table(d / "own_plans.csv", ["plan", "region_id", "instrument", "amount_usd"],
                 text=("plan", "region_id", "instrument"))
    _known_keys(own, regions, base, d / "own_plans.csv")
    plans = {k: own[own["plan"] == k] for k in names}
    for k, allocation in plans.items():
        if allocation.empty:
            raise DataError(f"no own plan for stakeholder '{k}'", file=str(d / "own_plans.csv"))
        # the plan `placefund solve` gives for the base scenario with k's changes: its rules
        # on capacity (floor, top-k) read k's capacity
        _rules(report, f"own plan of {k}", allocation, regions,
               scenario_from_dict({**base.to_dict(), **changes[k]}, source=f"stakeholders.{k}"))
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
    table = _table(d / "achievement.csv", ["stakeholder", *plans], tuple(plans), ("stakeholder",))
    table = table.set_index("stakeholder")
    score_table = _table(d / "scores.csv", ["stakeholder", *plans, "baseline"],
                         (*plans, "baseline"), ("stakeholder",)).set_index("stakeholder")
    for frame, name in ((table, "achievement.csv"), (score_table, "scores.csv")):
        if sorted(frame.index) != sorted(names):
            report.violations.append(Violation(
                "table_rows", abs(len(frame) - len(names)) or 1, "rows",
                f"{name} has rows {brief(list(frame.index))}, consensus.json stakeholders "
                f"{brief(names)}"))
    for column in plans:
        for k in names:
            cell = claimed["achievement"].get(column, {}).get(k)
            _compare(report, f"achievement[{k}, {column}]", cell, achievement.at[k, column])
            _compare(report, f"achievement.csv[{k}, {column}]",
                     table[column].get(k, np.nan), achievement.at[k, column])
            score = claimed["scores"].get(column, {}).get(k)
            _compare(report, f"scores[{k}, {column}]", score, scores.at[k, column])
            _compare(report, f"scores.csv[{k}, {column}]",
                     score_table[column].get(k, np.nan), scores.at[k, column])
    for k in names:
        _compare(report, f"scores.csv[{k}, baseline]", score_table["baseline"].get(k, np.nan),
                 baseline[k])
    return _with_headline(report, (
        f"consensus OK: {len(names)} stakeholders' own plans meet every rule; t = {t:.6f}, S of "
        f"each stakeholder under each plan, the {len(names)} x {len(names) + 1} achievement "
        "table and scores.csv recomputed and as reported"))


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
        effect = {k[2:]: float(v) for k, v in row.items() if str(k).startswith("y_")}
        sc = _scoring_scenario(base, {"weights": weights,
                                      "complementarity": float(row["complementarity"])}, effect)
        out.append((int(row["sample_id"]), sc))
    return out


def _check_difference(report: CheckReport, claimed: Any, fresh: pd.DataFrame,
                      alpha: float) -> None:
    """The robust-minus-default difference on the fresh samples: its estimates from the
    recomputed scores (this module's own CVaR), its interval by redoing the recorded
    bootstrap (same resamples, level and seed)."""
    if not len(fresh):
        return
    if not isinstance(claimed, dict):
        report.violations.append(Violation("out_of_sample_difference", float("inf"), "points",
                                           "missing from robust.json"))
        return
    robust, default = fresh["robust"].to_numpy(float), fresh["default"].to_numpy(float)
    for key, truth in (("mean", robust.mean() - default.mean()),
                       ("cvar", cvar(robust, alpha) - cvar(default, alpha))):
        part = claimed.get(key)
        part = part if isinstance(part, dict) else {}
        _compare(report, f"out_of_sample_difference.{key}.estimate", part.get("estimate"), truth)
    try:
        redone = paired_difference(robust, default, alpha, int(claimed["resamples"]),
                                   float(claimed["level"]), int(claimed["seed"]))
    except (KeyError, TypeError, ValueError) as err:
        report.violations.append(Violation("out_of_sample_difference", float("inf"), "points",
                                           f"unreadable bootstrap record ({err})"))
        return
    for key in ("mean", "cvar"):
        for end in ("low", "high"):
            _compare(report, f"out_of_sample_difference.{key}.{end}",
                     claimed[key].get(end) if isinstance(claimed.get(key), dict) else None,
                     redone[key][end])


def _sample_table(path: Path, base: Scenario, regions: Regions) -> pd.DataFrame:
    """A samples table: whole sample ids, each once; numbers in every weight (``w_``),
    yield multiplier (``y_``) and theta column; weights of the data's indicators and
    effectiveness of the scenario's instruments only."""
    head = _table(path, ["sample_id", "complementarity"], (), ())
    numbers = ("sample_id", "complementarity",
               *(c for c in head.columns if str(c).startswith(("w_", "y_"))))
    table = _table(path, ["sample_id", "complementarity"], numbers, ())
    ids = table["sample_id"].to_numpy(float)
    if not np.all(np.isfinite(ids) & (ids == np.round(ids))) or len(set(ids)) != len(ids):
        raise DataError("sample ids must be whole numbers, each once", file=str(path),
                        column="sample_id")
    for prefix, known, what in (("w_", regions.indicators, "indicator columns of "
                                                          "input_regions.csv"),
                                ("y_", tuple(base.instruments), "instruments of scenario.yaml")):
        lacking = sorted(str(c)[2:] for c in table.columns
                         if str(c).startswith(prefix) and str(c)[2:] not in known)
        if lacking:
            raise DataError(f"columns {brief([prefix + c for c in lacking])} name what are not "
                            f"{what}", file=str(path))
    return table


def check_robust_dir(directory: str | Path) -> CheckReport:
    """Verify a robust plan: the plan and the default plan under the base rules, every
    sample's S for both, and the reported statistics."""
    d = Path(directory)
    report, regions, base, claimed = _open(d, ROBUST_FILE, RobustRecord)
    alpha, stats = float(claimed["alpha"]), claimed["stats"]
    plan = _table(d / "allocation.csv", ["region_id", "instrument", "amount_usd"])
    default = _table(d / "default_allocation.csv", ["region_id", "instrument", "amount_usd"])
    _known_keys(default, regions, base, d / "default_allocation.csv")
    _rules(report, "default plan", default, regions, base)
    reported = _table(d / "sample_scores.csv", ["set", "sample_id", "robust", "default"],
                      ("sample_id", "robust", "default"), ("set",))
    recomputed = []
    for label, name, key in (("in_sample", "samples.csv", "samples"),
                             ("out_of_sample", "fresh_samples.csv", "fresh_samples")):
        table = _sample_table(d / name, base, regions)
        if len(table) != claimed[key]:
            report.violations.append(Violation(
                "sample_count", abs(len(table) - claimed[key]), "samples",
                f"{name} has {len(table)} samples, robust.json reports {claimed[key]}"))
        for sample_id, sc in _sample_scenarios(base, table):
            recomputed.append({"set": label, "sample_id": sample_id,
                               "robust": _scores(plan, regions, sc)[1],
                               "default": _scores(default, regions, sc)[1]})
    truth = pd.DataFrame(recomputed, columns=["set", "sample_id", "robust", "default"])
    extra = len(reported) - len(truth.merge(reported, on=["set", "sample_id"]))
    if extra:
        report.violations.append(Violation(
            "sample_score_rows", abs(extra), "rows", "sample_scores.csv has rows for samples "
            "that samples.csv and fresh_samples.csv do not hold, or repeats one"))
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
    _check_difference(report, claimed.get("out_of_sample_difference"),
                      truth[truth["set"] == "out_of_sample"], alpha)
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
        f"robust plan OK: the robust plan (above) and the default plan it is compared "
        f"with both meet every rule of the base scenario; S of both plans on "
        f"{counts.get('in_sample', 0)} samples and {counts.get('out_of_sample', 0)} fresh ones "
        "recomputed and as reported, every statistic (mean, CVaR, worst, quantiles) and the "
        "robust-minus-default difference with its bootstrap interval"
        + ("; core_index.csv's funding matches both plans" if core.is_file() else "")))
