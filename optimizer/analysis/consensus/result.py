"""What a consensus or a robust plan returns: the plans, their exact tables
(scores, shares of attainable gain, sample statistics, core index) and the files they
write. The sentences that describe them live in ``report.consensus``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.analysis.bootstrap import paired_difference
from optimizer.analysis.consensus_check import ConsensusRecord, RobustRecord
from optimizer.engine.result import AllocationResult, checked_record
from optimizer.engine.scenario import Scenario

CONSENSUS_FILE = "consensus.json"
ROBUST_FILE = "robust.json"


def cvar(values: np.ndarray, alpha: float) -> float:
    """The mean of the worst ``alpha`` share of equally likely values (a fractional
    sample counts in part), the empirical CVaR that the LP maximizes.

    >>> cvar(np.array([1.0, 2.0, 3.0, 4.0]), 0.5), cvar(np.array([1.0, 2.0, 3.0, 4.0]), 0.3)
    (1.5, 1.1666666666666667)
    """
    v = np.sort(np.asarray(values, float))
    mass = alpha * len(v)
    whole = int(np.floor(mass + 1e-12))
    part = mass - whole
    total = v[:whole].sum() + (part * v[whole] if whole < len(v) and part > 1e-12 else 0.0)
    return float(total / mass)


def distribution_stats(values: np.ndarray, alpha: float) -> dict[str, float]:
    """Mean, CVaR at alpha, worst, quantiles of S over samples."""
    v = np.asarray(values, float)
    return {"mean": float(v.mean()), "cvar": cvar(v, alpha), "worst": float(v.min()),
            "p10": float(np.quantile(v, 0.1)), "median": float(np.median(v)),
            "p90": float(np.quantile(v, 0.9)), "best": float(v.max())}



@dataclass(frozen=True, eq=False)
class ConsensusResult:
    """The consensus plan, each stakeholder's own plan, and how each fares under each.

    - ``plan``: the consensus plan (checked against the base scenario's rules)
    - ``own_plans``: each stakeholder's own optimum, same rules
    - ``scores``: exact S of each stakeholder (rows) under each plan (columns: the
      stakeholders' own plans, then ``consensus``); ``baseline`` S_k0 per stakeholder
    - ``achievement``: the share of attainable gain, (S - S_k0) / (S_k* - S_k0)
    - ``t``: the smallest share under the consensus plan
    """

    title: str
    base: Scenario
    stakeholders: dict[str, dict[str, Any]]
    plan: AllocationResult
    own_plans: dict[str, AllocationResult]
    baseline: pd.Series
    scores: pd.DataFrame
    achievement: pd.DataFrame
    t: float
    t_lp: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.stakeholders)

    def summary_table(self) -> pd.DataFrame:
        """One row per stakeholder: baseline, own optimum, consensus S and share t_k."""
        own = pd.Series({k: self.scores.at[k, k] for k in self.names})
        cons = self.scores["consensus"]
        return pd.DataFrame({
            "baseline_S": self.baseline, "own_optimum_S": own, "consensus_S": cons,
            "share_of_attainable_gain": self.achievement["consensus"],
            "gives_up_points": own - cons,
        }).rename_axis("stakeholder")

    def to_dict(self, gives_up: list[str]) -> dict[str, Any]:
        """What consensus.json holds (every number exact, as checked); ``gives_up`` is
        its sentences (``report.consensus.gives_up``)."""
        return {
            "kind": "consensus",
            "title": self.title,
            "spread_measure": self.plan.scenario.spread_measure,
            "t": self.t,
            "t_lp": self.t_lp,
            "stakeholders": {
                k: {"changes": self.stakeholders[k], "baseline_S": float(self.baseline[k]),
                    "own_optimum_S": float(self.scores.at[k, k]),
                    "consensus_S": float(self.scores.at[k, "consensus"]),
                    "share_of_attainable_gain": float(self.achievement.at[k, "consensus"])}
                for k in self.names},
            "scores": {c: {k: float(v) for k, v in self.scores[c].items()}
                       for c in self.scores.columns},
            "achievement": {c: {k: float(v) for k, v in self.achievement[c].items()}
                            for c in self.achievement.columns},
            "gives_up": gives_up,
            "info": self.info,
        }

    def to_dir(self, out: str | Path, gives_up: list[str]) -> Path:
        """The consensus plan's files (as ``solve`` writes) plus consensus.json,
        achievement.csv, scores.csv and own_plans.csv (each stakeholder's own plan);
        ``report.consensus.write_consensus`` passes the sentences."""
        extras = {
            CONSENSUS_FILE: checked_record(self.to_dict(gives_up), ConsensusRecord,
                                           CONSENSUS_FILE),
            "achievement.csv": self.achievement.rename_axis("stakeholder").to_csv(),
            "scores.csv": self.scores.assign(baseline=self.baseline).rename_axis(
                "stakeholder").to_csv(),
            "own_plans.csv": pd.concat(
                [p.allocation.assign(plan=k) for k, p in self.own_plans.items()],
                ignore_index=True)[["plan", "region_id", "instrument", "amount_usd"]].to_csv(
                index=False),
        }
        return _write_with_extras(self.plan, out, extras)


def _write_with_extras(plan: AllocationResult, out: str | Path, extras: dict[str, str]) -> Path:
    """The plan files and the extra files, the folder replaced whole in one step."""
    return plan.to_dir(out, extras)



@dataclass(frozen=True, eq=False)
class RobustResult:
    """The robust plan, the base scenario's own plan, and both judged on fresh samples.

    ``scores`` has a row per sample (``set`` in_sample / out_of_sample) with exact S of
    the robust plan and of the default plan; ``stats`` their distributions; ``core``
    per region the core index over the fresh samples' own optima (when solved).
    """

    title: str
    objective: str
    alpha: float
    plan: AllocationResult
    default_plan: AllocationResult
    samples: pd.DataFrame
    fresh_samples: pd.DataFrame
    scores: pd.DataFrame
    stats: pd.DataFrame
    core: pd.DataFrame | None
    info: dict[str, Any] = field(default_factory=dict)

    def difference(self) -> dict[str, Any] | None:
        """Robust minus default plan on the fresh samples, mean and CVaR, each with its
        paired bootstrap interval (``bootstrap.paired_difference``); None without fresh
        samples."""
        fresh = self.scores[self.scores["set"] == "out_of_sample"]
        if not len(fresh):
            return None
        return paired_difference(fresh["robust"].to_numpy(), fresh["default"].to_numpy(),
                                 self.alpha)

    def stats_frame(self) -> pd.DataFrame:
        """Rows (set, plan); columns mean, cvar, worst, quantiles."""
        rows = {(s, p): self.stats.loc[s, p] for s in self.stats.index for p in self.stats.columns}
        return pd.DataFrame(rows).T.rename_axis(["samples", "plan"])

    def to_dict(self, comparison: str) -> dict[str, Any]:
        """What robust.json holds (every statistic exact, as checked); ``comparison`` is
        its verdict in words (``report.consensus.comparison``)."""
        return {
            "kind": "robust",
            "title": self.title,
            "objective": self.objective,
            "alpha": self.alpha,
            "spread_measure": self.plan.scenario.spread_measure,
            "samples": len(self.samples),
            "fresh_samples": len(self.fresh_samples),
            "stats": {s: {p: self.stats.loc[s, p] for p in self.stats.columns}
                      for s in self.stats.index},
            "out_of_sample_difference": self.difference(),
            "comparison": comparison,
            "info": self.info,
        }

    def to_dir(self, out: str | Path, comparison: str) -> Path:
        """The robust plan's files (as ``solve`` writes) plus robust.json, samples.csv,
        fresh_samples.csv, sample_scores.csv, default_allocation.csv and core_index.csv;
        ``report.consensus.write_robust`` passes the verdict."""
        extras = {
            ROBUST_FILE: checked_record(self.to_dict(comparison), RobustRecord, ROBUST_FILE),
            "samples.csv": self.samples.to_csv(index=False),
            "fresh_samples.csv": self.fresh_samples.to_csv(index=False),
            "sample_scores.csv": self.scores.to_csv(index=False),
            "default_allocation.csv": self.default_plan.allocation[
                ["region_id", "instrument", "amount_usd"]].to_csv(index=False),
        }
        if self.core is not None:
            extras["core_index.csv"] = self.core.to_csv(index=False)
        return _write_with_extras(self.plan, out, extras)

