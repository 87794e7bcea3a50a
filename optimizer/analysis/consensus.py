"""Plans that hold up when people disagree, and plans optimized over uncertainty.

Two analyses share one construction. The response ``tau`` (in $B) of every region and
instrument depends only on the funding and the saturation scale, so people who weight
the indicators differently (their own baseline ``c0_k`` and multipliers ``m_k``), who
assume another complementarity theta, or samples of the instruments' yields
``a_i``, differ only in coefficients. The base scenario's model (``model.build_model``:
segments, ``tau`` and every rule) is built once; each *view* (a stakeholder, or a
sample) adds its own per-capita capacity rows ``y_k * 100 * share = c0_k + sum_i a_i
m_k tau`` and its own spread term (the exact pairwise Gini, or the Hoover index), so
its objective S_k is the model's objective for that view.

- ``consensus``: each stakeholder's own optimum S_k* and baseline S_k0 (re-solves of
  the one model, so every optimum lives in the same feasible set), then the plan that
  maximizes the smallest share of attainable gain t = min_k (S_k - S_k0)/(S_k* - S_k0)
  and, with t held, the mean share (so no stakeholder loses for nothing).
- ``robust_plan``: N samples of weights (the sensitivity samplers), theta and the
  yields; maximize the mean of S over them (sample-average approximation), its
  CVaR at level alpha (Rockafellar-Uryasev), or the worst case; then compare the plan
  with the base scenario's own plan on fresh, independent samples.

Every number reported (S_k, t, the achievement table, sample statistics) is
recomputed with the exact response (``capacity.gain_points``,
``metrics.concentration``), never read from the LP; every plan passes
``check.check`` for the base scenario's rules, and ``consensus_check`` re-verifies
the reported numbers from the plan files alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from optimizer.analysis.bootstrap import interval_text, paired_difference
from optimizer.analysis.consensus_check import ConsensusRecord, RobustRecord, name_problem
from optimizer.analysis.evidence import evidence_ranges, yield_scale_range
from optimizer.analysis.runs import Backend, Run, execute, payload_for
from optimizer.analysis.sensitivity import WeightSampler, prepare, sample_weights, spec_error
from optimizer.engine.data import Regions
from optimizer.engine.errors import InfeasibleError, PlaceFundError, ScenarioError, SolverError
from optimizer.engine.inputs import ModelInputs, resolve
from optimizer.engine.metrics import concentration
from optimizer.engine.response import gain_points
from optimizer.engine.result import AllocationResult, SolverInfo, build_result, checked_record
from optimizer.engine.safe_yaml import load_yaml_file
from optimizer.engine.scenario import (
    USD,
    Scenario,
    scaled_yield,
    scenario_from_dict,
    usd,
)
from optimizer.engine.solve import Planner, Solver, exact_objective, tighten_top_k, verified

CONSENSUS_FILE = "consensus.json"
ROBUST_FILE = "robust.json"
MAX_VIEW_ROWS = 300_000  # rows the views add; past this one machine takes too long
TOP_K_LINEARIZATIONS = 3
T_HOLD = 1e-7  # phase 2 keeps t within this (relative) of its maximum
T_ACCURACY = 1e-5  # each stakeholder's optimum S* is exact to this share of their gain


# --- specs ----------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Stakeholder(_Strict):
    """One stakeholder's judgments: weights, and optionally their own lambda and theta.

    Anything left out takes the base scenario's value; the rules (budget, floors, caps,
    shares, groups, exclusions, hubs) are always the base scenario's.
    """

    weights: dict[str, Annotated[float, Field(ge=0)]] | None = None
    spread_weight: float | None = Field(default=None, ge=0.0, le=1.0, description="lambda")
    complementarity: float | None = Field(default=None, ge=0.0, le=1.0, description="theta")

    def changes(self) -> dict[str, Any]:
        """The scenario keys this stakeholder sets."""
        return {k: v for k, v in (("weights", self.weights), ("spread_weight", self.spread_weight),
                                  ("complementarity", self.complementarity)) if v is not None}


class SpecCommon(_Strict):
    """Fields both specs have: where the regions and the base scenario come from."""

    title: str | None = None
    regions: str = "states"
    scenario: str | dict[str, Any] | None = Field(
        default=None, description="scenario YAML path (relative to the spec) or inline mapping")


class ConsensusSpec(SpecCommon):
    """A base scenario (its rules bind everyone) and 1-12 named stakeholders."""

    analysis: Literal["consensus"] = "consensus"
    stakeholders: dict[str, Stakeholder] = Field(min_length=1, max_length=12)

    @field_validator("stakeholders")
    @classmethod
    def _names(cls, value: dict[str, Stakeholder]) -> dict[str, Stakeholder]:
        for name in value:
            problem = name_problem(name)
            if problem:
                raise ValueError(problem)
        return value


class Distribution(_Strict):
    """One uncertain number: exactly one of ``uniform: [low, high]``, ``triangular:
    [low, mode, high]`` or ``lognormal: [median, sigma]`` (sigma of the log)."""

    uniform: tuple[float, float] | None = None
    triangular: tuple[float, float, float] | None = None
    lognormal: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _one(self) -> Distribution:
        given = [k for k in ("uniform", "triangular", "lognormal") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of uniform: [low, high], triangular: [low, mode, "
                             f"high] or lognormal: [median, sigma] (got {given or 'none'})")
        if self.uniform is not None and self.uniform[0] > self.uniform[1]:
            raise ValueError(f"uniform: low {self.uniform[0]} is above high {self.uniform[1]}")
        if self.triangular is not None and not (
                self.triangular[0] <= self.triangular[1] <= self.triangular[2]):
            raise ValueError("triangular: needs low <= mode <= high")
        return self

    def bounds(self) -> tuple[float, float]:
        """The smallest and largest value a draw can take."""
        if self.uniform is not None:
            return self.uniform
        if self.triangular is not None:
            return self.triangular[0], self.triangular[2]
        assert self.lognormal is not None
        median, sigma = self.lognormal
        return (0.0, float("inf")) if sigma > 0 else (median, median)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws."""
        if self.uniform is not None:
            return rng.uniform(*self.uniform, size=size)
        if self.triangular is not None:
            lo, mode, hi = self.triangular
            return np.full(size, lo) if hi == lo else rng.triangular(lo, mode, hi, size=size)
        assert self.lognormal is not None
        median, sigma = self.lognormal
        return median * np.exp(sigma * rng.standard_normal(size))


class OutOfSample(_Strict):
    """The fresh samples the chosen plan is judged on (independent of the ones it was
    optimized over: another seed)."""

    samples: int | None = Field(default=None, ge=1, le=100_000, description="default: N")
    seed: int | None = Field(default=None, ge=0, description="default: seed + 1")
    core_index: bool = Field(default=True, description="solve each fresh sample's own optimum "
                                                       "(through the sensitivity execution)")


class RobustPlanSpec(SpecCommon):
    """N samples of weights, theta and yields; the plan that does best over them."""

    analysis: Literal["robust-plan"] = "robust-plan"
    samples: int = Field(default=100, ge=1, le=5_000, description="N")
    seed: int = Field(default=0, ge=0)
    objective: Literal["mean", "cvar", "worst"] = "cvar"
    alpha: float = Field(default=0.1, gt=0.0, le=1.0, description="CVaR level: the worst share")
    weights: WeightSampler | None = Field(
        default_factory=WeightSampler, description="null: the base scenario's weights")
    complementarity: Distribution | None = None
    yields: dict[str, Distribution] = Field(
        default_factory=dict, description="per instrument, a multiplier on all its yields "
                                          "(1 = the base scenario's)")
    prior: Literal["evidence"] | None = Field(default=None, description=(
        "evidence: theta and each instrument's yield multiplier drawn triangular over their "
        "documented ranges (docs/evidence.md), unless given above"))
    out_of_sample: OutOfSample = Field(default_factory=OutOfSample)
    funded_threshold_usd: USD = Field(default=1e6, description="a region counts as funded from here")
    chunk_size: int = Field(default=25, ge=1, le=10_000)

    @model_validator(mode="after")
    def _ranges(self) -> RobustPlanSpec:
        if self.complementarity is not None:
            lo, hi = self.complementarity.bounds()
            if lo < 0 or hi > 1:
                raise ValueError("complementarity: theta lies in [0, 1]; use uniform or "
                                 "triangular within it")
        for name, dist in self.yields.items():
            if dist.lognormal is None and dist.bounds()[0] < 0:
                raise ValueError(f"yields.{name}: a yield multiplier cannot be negative; use "
                                 "a lower bound of 0 or more, or lognormal")
        return self

    @model_validator(mode="before")
    @classmethod
    def _no_effectiveness(cls, data: Any) -> Any:
        if isinstance(data, dict) and "effectiveness" in data:
            raise ValueError("effectiveness was replaced by `yields`: per instrument, a "
                             "distribution of a multiplier on all its yields, e.g. "
                             "`yields: {research: {uniform: [0.78, 1.26]}}` (docs/evidence.md "
                             "gives each yield's range)")
        return data


def _validated(model: type[BaseModel], data: Any, source: str, kind: str) -> Any:
    """``model`` validated from ``data``; errors name the key, like scenario errors."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a spec must be a mapping of keys to values")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise spec_error(err, source, kind) from None


SPEC_ONLY_KEYS = ("analysis", "title", "regions", "stakeholders")


def consensus_spec_from_dict(data: Any, source: str = "spec") -> ConsensusSpec:
    """Validate a consensus spec mapping.

    A scenario with a ``stakeholders`` key is a spec too: its other keys (besides
    ``title`` and ``regions``) are the base scenario, validated as scenario keys.
    """
    if isinstance(data, dict) and "stakeholders" in data and "scenario" not in data:
        rest = {k: v for k, v in data.items() if k not in SPEC_ONLY_KEYS}
        if rest:
            data = {**{k: data[k] for k in SPEC_ONLY_KEYS if k in data}, "scenario": rest}
    return _validated(ConsensusSpec, data, source, "consensus")


def robust_spec_from_dict(data: Any, source: str = "spec") -> RobustPlanSpec:
    """Validate a robust-plan spec mapping."""
    return _validated(RobustPlanSpec, data, source, "robust-plan")


def load_consensus_spec(path: str | Path) -> ConsensusSpec:
    """Read and validate a consensus spec YAML file (bounded, see safe_yaml)."""
    return consensus_spec_from_dict(load_yaml_file(Path(path), what="spec file"), str(path))


def load_robust_spec(path: str | Path) -> RobustPlanSpec:
    """Read and validate a robust-plan spec YAML file (bounded, see safe_yaml)."""
    return robust_spec_from_dict(load_yaml_file(Path(path), what="spec file"), str(path))


# --- views: one stakeholder or one sample ------------------------------------------

@dataclass(frozen=True, eq=False)
class View:
    """A way of scoring plans: the base scenario with some judgments changed.

    ``changes`` are top-level scenario keys (weights, spread_weight, complementarity)
    and ``yield_scale`` a multiplier per instrument on its yields; ``inputs`` the arrays.
    """

    name: str
    changes: dict[str, Any]
    yield_scale: dict[str, float]
    scenario: Scenario
    inputs: ModelInputs

    @property
    def spread_weight(self) -> float:
        return self.scenario.spread_weight

    def score(self, x_busd: np.ndarray) -> float:
        """Exact S of this view for funding ``x_busd`` (n x m, $B)."""
        return exact_score(self.inputs, x_busd)

    @property
    def baseline(self) -> float:
        """Exact S with no funding."""
        return exact_score(self.inputs, np.zeros_like(self.inputs.saturation_busd))


def exact_score(inputs: ModelInputs, x_busd: np.ndarray) -> float:
    """S_lambda of funding ``x_busd`` under ``inputs`` with the exact response."""
    final = inputs.c0 + gain_points(x_busd, inputs).sum(axis=1)
    sc = inputs.scenario
    return concentration(final, inputs.population, sc.spread_weight)[sc.objective_key]


def view_scenario(base: Scenario, changes: dict[str, Any],
                  yield_scale: dict[str, float] | None = None, source: str = "view") -> Scenario:
    """The base scenario with a view's judgments. Top-k incumbent exclusions are named
    explicitly elsewhere (``rules_scenario``): a view never changes who may be funded."""
    data = base.to_dict()
    data.update(changes)
    for name, value in (yield_scale or {}).items():
        if name not in data["instruments"]:
            raise ScenarioError(f"{source}.yields.{name}: not an instrument of the base "
                                f"scenario; instruments are {sorted(data['instruments'])}")
        data["instruments"][name] = scaled_yields(data["instruments"][name], value)
    return scenario_from_dict(data, source=source)


def scaled_yields(instrument: dict[str, Any], scale: float) -> dict[str, Any]:
    """An instrument (as a mapping) with every yield multiplied by ``scale``."""
    return {**instrument, "yields": {k: scaled_yield(v, float(scale))
                                     for k, v in instrument["yields"].items()}}


def make_view(regions: Regions, base: Scenario, name: str, changes: dict[str, Any],
              yield_scale: dict[str, float] | None = None, source: str | None = None) -> View:
    """Resolve one view against the regions; a bad key names where it came from."""
    where = source or name
    scenario = view_scenario(base, changes, yield_scale, source=where)
    try:
        inputs = resolve(regions, scenario)
    except PlaceFundError as err:
        raise type(err)(f"{where}: {err}") from None
    return View(name, dict(changes), dict(yield_scale or {}), scenario, inputs)


# --- the model: the plan's declaration plus one score block per view ----------------

def _view_rows(n: int, spread_measure: str) -> int:
    """Rows one view adds: capacity, the spread term's rows, and its objective rows."""
    spread = n * (n - 1) + 1 if spread_measure == "gini" else n + 2
    return n + spread + 1


def _check_size(inputs: ModelInputs, views: int) -> None:
    """Refuse a model too large for one machine, saying what to change."""
    n = inputs.n
    measure = inputs.scenario.spread_measure
    per = _view_rows(n, measure)
    rows = views * per
    if rows > MAX_VIEW_ROWS:
        fits = max(MAX_VIEW_ROWS // per, 1)
        hint = (f"; spread_measure: hoover needs about {views * _view_rows(n, 'hoover'):,} rows"
                if measure == "gini" else "")
        raise ScenarioError(
            f"samples: {views} views of {n} regions with the {measure} spread add {rows:,} rows "
            f"to the LP, more than one machine solves in reasonable time ({MAX_VIEW_ROWS:,}); "
            f"use at most {fits} samples{hint}")


class ViewModel:
    """The plan's model with one score block per view (``model.add_score_block``) and
    a goal over them (``model.set_goal``), solved by the engine's ``Solver``: the same
    tangent loop, top-k re-linearization, hub polishing and status handling as a plan.

    ``objective`` is ``consensus`` (weights on each view's S and on t are Params, so the
    max-min and its tie-break are re-solves) or ``mean``/``cvar``/``worst`` over the
    views (the robust plan).
    """

    def __init__(self, base: ModelInputs, views: list[View], objective: str = "consensus",
                 alpha: float = 0.1) -> None:
        _check_size(base, len(views))
        self.base, self.views, self.kind = base, views, objective
        self.solver = Solver(base, [v.inputs for v in views], objective, alpha, mip_duals=False)
        self.build_time_s = self.solver.build_time_s
        self.translate_time_s = self.solver.translate_time_s + self.solver.start_time_s
        self.solve_time_s = 0.0

    @property
    def solves(self) -> int:
        return self.solver.solves

    def set(self, **params: Any) -> None:
        """Set the goal's Params (``model.set_goal``)."""
        self.solver.set(params)

    def solve(self, score: Any = None) -> Solved:
        """Solve; where the top-k share cap binds, re-solve with it linearized at the
        plan (``solve.tighten_top_k``). ``score`` (a plan -> float, larger is better)
        picks the best linearization; ``Solved.linearized_at`` says which was used."""
        clock = time.perf_counter()
        first = self.solver.solve()
        rank = (lambda o: float(score(o.x))) if score is not None else (lambda o: o.objective)
        outcome = tighten_top_k(self.solver, first, rank)
        self.solve_time_s += time.perf_counter() - clock
        return Solved(outcome.x, outcome.objective, outcome.hubs, outcome.top_k_at,
                      outcome.approximation)

    def resolve_at(self, linearized_at: np.ndarray | None) -> Solved:
        """Solve with the top-k rule linearized at a given plan (or not at all)."""
        clock = time.perf_counter()
        outcome = self.solver.solve(top_k_at=linearized_at)
        self.solve_time_s += time.perf_counter() - clock
        return Solved(outcome.x, outcome.objective, outcome.hubs, linearized_at,
                      outcome.approximation)

    def lp_scores(self, x: np.ndarray) -> np.ndarray:
        """The LP's S of every view at funding x (the loaded tangents' envelope)."""
        envelope = self.solver.loaded.envelope_busd(x)
        return np.array([exact_objective(v.inputs, x, v.inputs.effectiveness
                                         * v.inputs.multiplier * envelope) for v in self.views])


@dataclass(frozen=True)
class Solved:
    """One solve's plan: funding n x m ($B), the LP objective, hubs, the top-k
    linearization, and the approximation record of the tangent loop."""

    x: np.ndarray
    objective: float
    hubs: np.ndarray | None
    linearized_at: np.ndarray | None
    approximation: dict[str, Any] = field(default_factory=dict)


# --- exact statistics ------------------------------------------------------------------

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


# --- consensus ---------------------------------------------------------------------------

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

    def gives_up(self) -> list[str]:
        """In words: what each stakeholder gives up under the consensus plan."""
        lines = []
        funding = {k: p.regions.set_index("name")["funding_usd"] for k, p in self.own_plans.items()}
        cons = self.plan.regions.set_index("name")["funding_usd"]
        table = self.summary_table()
        for k in self.names:
            row = table.loc[k]
            moved = (funding[k] - cons).sort_values(ascending=False)
            lost = [f"{name} ({usd(v)})" for name, v in moved.head(3).items() if v > 1e6]
            text = (f"{k}: reaches {row['share_of_attainable_gain']:.1%} of its attainable gain "
                    f"(S {row['baseline_S']:.3f} -> {row['consensus_S']:.3f}; its own plan "
                    f"reaches {row['own_optimum_S']:.3f}), giving up "
                    f"{max(row['gives_up_points'], 0.0):.3f} points")
            if lost:
                text += "; its own plan would put more into " + ", ".join(lost)
            lines.append(text + ".")
        return lines

    def text(self) -> str:
        """A plain-text report for the terminal."""
        table = self.achievement.copy()
        lines = [f"Consensus of {len(self.names)} stakeholders ({self.plan.scenario.spread_measure} "
                 f"spread): every stakeholder reaches at least t = {self.t:.1%} of its "
                 "attainable gain", "",
                 "Share of attainable gain (rows: stakeholder; columns: whose plan)",
                 table.map(lambda v: f"{v:7.1%}").to_string(), ""]
        lines += self.gives_up()
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """What consensus.json holds (every number exact, as checked)."""
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
            "gives_up": self.gives_up(),
            "info": self.info,
        }

    def to_dir(self, out: str | Path) -> Path:
        """The consensus plan's files (as ``solve`` writes) plus consensus.json,
        achievement.csv, scores.csv and own_plans.csv (each stakeholder's own plan)."""
        extras = {
            CONSENSUS_FILE: checked_record(self.to_dict(), ConsensusRecord, CONSENSUS_FILE),
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


def _plan(inputs: ModelInputs, solved: Solved, regions: Regions, info: dict[str, Any],
          exact_objective: float) -> AllocationResult:
    """A checked plan on the base scenario's rules (the checker's verdict is final).

    ``approximation`` is the tangent loop's record (each view's LP S against its exact
    S at the plan), with the goal's LP value and its exact value (``exact_objective``:
    the exact t, CVaR, ... of this plan).
    """
    approximation = {**solved.approximation, "objective_lp": float(solved.objective),
                     "objective_exact": float(exact_objective)}
    plan = build_result(inputs, solved.x, None, SolverInfo.from_dict({"status": "optimal", **info}),
                        approximation, solved.hubs)
    return verified(plan, regions)


def _own_optimum(planner: Planner, view: View) -> AllocationResult:
    """A stakeholder's own optimum: the plan ``placefund solve`` gives for the view's
    scenario, refined (re-solved with a finer tolerance) until the error of its S is at
    most ``T_ACCURACY`` of the stakeholder's attainable gain, so t's normalization is
    exact to that."""
    plan = planner.solve(view.scenario)
    gain = plan.objective - view.baseline
    tolerance = view.scenario.approximation.max_error_share
    needed = T_ACCURACY * max(gain, 0.0) / max(abs(plan.objective), 1e-12)
    if gain <= 0 or tolerance <= needed:
        return plan
    finer = view.scenario.updated(approximation={"max_error_share": max(needed, 1e-9)})
    return planner.solve(finer)


def consensus(regions: Regions, base: Scenario, stakeholders: dict[str, Stakeholder | dict],
              title: str = "consensus", backend: Backend | None = None) -> ConsensusResult:
    """The plan that maximizes the smallest share of attainable gain among stakeholders.

    Steps: each stakeholder's own optimum S_k* is the plan ``placefund solve`` gives for
    the base scenario with their changes (one ``Planner``, re-solved), and S_k0 their
    baseline; then max t subject to S_k(x) - S_k0 >= t (S_k* - S_k0) for every k, under
    every rule of ``base``, on the plan's declaration with a score block per stakeholder;
    then, with t held, the largest mean share (a Pareto-efficient tie-break). With
    ``backend``, each individual optimum is also solved through ``runs.execute``
    (serial, local Dask or a scheduler), and the two are compared in
    ``info["individual_optima_runs"]``.
    """
    clock = time.perf_counter()
    for name in stakeholders:
        if name_problem(str(name)):
            raise ScenarioError(f"stakeholders: {name_problem(str(name))}")
    parsed = {k: (v if isinstance(v, Stakeholder) else _validated(
        Stakeholder, v, f"stakeholders.{k}", "stakeholder")) for k, v in stakeholders.items()}
    if not parsed:
        raise ScenarioError("stakeholders: name at least one stakeholder")
    planner = Planner(regions)
    planner.solve(base)  # infeasible rules are explained by the ordinary solve
    inputs = resolve(regions, base)
    views = [make_view(regions, base, k, s.changes(), source=f"stakeholders.{k}")
             for k, s in parsed.items()]
    names = list(parsed)
    count = len(views)
    own_plans = {names[k]: _own_optimum(planner, views[k]) for k in range(count)}
    own = {k: Solved(p.funding_busd(), p.solver.objective_lp,
                     None if p.scenario.hubs is None else p.regions["hub"].to_numpy(), None,
                     dict(p.approximation)) for k, p in own_plans.items()}
    baseline = np.array([v.baseline for v in views])
    own_exact = np.array([views[k].score(own[names[k]].x) for k in range(count)])
    span = own_exact - baseline
    flat = [names[k] for k in range(count) if span[k] <= 1e-9 * max(abs(baseline[k]), 1.0)]
    if flat:
        raise ScenarioError(f"stakeholders: {flat} cannot gain under the base scenario's rules "
                            "(their own optimum equals their baseline); a share of attainable "
                            "gain is undefined for them")

    def worst_share(s: Solved) -> float:
        return float(min((views[k].score(s.x) - baseline[k]) / span[k] for k in range(count)))

    model = ViewModel(inputs, views, "consensus")
    model.set(w_score=np.zeros(count), s0=baseline, neg_span=-span, w_t=1.0, t_lo=0.0)
    first = model.solve(score=worst_share)
    t_lp = float(first.objective)
    # phase 2: t held (to T_HOLD), the mean share as large as it gets
    model.set(t_lo=max(t_lp - T_HOLD * max(abs(t_lp), 1.0), 0.0), w_t=0.0,
              w_score=1.0 / (count * span))
    try:
        second = model.resolve_at(first.linearized_at)
        chosen = second if worst_share(second) >= worst_share(first) - 1e-9 else first
    except (InfeasibleError, SolverError):
        chosen = first
    solve_info = {"build_time_s": model.build_time_s, "translate_time_s": model.translate_time_s,
                  "solve_time_s": model.solve_time_s, "solves": model.solves,
                  "solver": "HiGHS (highspy)", "mip": inputs.hubs is not None}
    plans = own_plans
    plan = _plan(inputs, chosen, regions, {**solve_info, "plan": "consensus"},
                 worst_share(chosen))
    columns = {**{k: own[k].x for k in names}, "consensus": chosen.x}
    scores = pd.DataFrame({c: [v.score(x) for v in views] for c, x in columns.items()},
                          index=pd.Index(names, name="stakeholder"))
    base_s = pd.Series(baseline, index=scores.index)
    own_s = pd.Series(np.diag(scores[names].to_numpy()), index=scores.index)
    achievement = scores.sub(base_s, axis=0).div(own_s - base_s, axis=0)
    info = {**solve_info, "total_time_s": time.perf_counter() - clock,
            "views": count, "regions": inputs.n,
            "spread_measure": base.spread_measure,
            "individual_optima": "each stakeholder's plan as placefund solve gives it"}
    if backend is not None:
        info["individual_optima_runs"] = _individual_optima_runs(
            regions, base, {k: parsed[k].changes() for k in names},
            dict(zip(names, own_exact.tolist(), strict=True)), backend)
    return ConsensusResult(title, base, {k: parsed[k].changes() for k in names}, plan, plans,
                           base_s, scores, achievement, float(achievement["consensus"].min()),
                           t_lp, info)


def _individual_optima_runs(regions: Regions, base: Scenario, changes: dict[str, dict[str, Any]],
                            one_model: dict[str, float], backend: Backend) -> dict[str, Any]:
    """Each stakeholder's optimum as an ordinary plan (base rules, its own changes) solved
    through ``runs.execute``; its exact S beside the one-model optimum's."""
    names = list(changes)
    runs = [Run(j, changes[name]) for j, name in enumerate(names)]
    chunks = execute(runs, payload_for(regions, base), backend, chunk_size=1)
    table = pd.concat([c.runs for c in chunks], ignore_index=True).set_index("run_id")
    out: dict[str, Any] = {"backend": backend.describe(), "stakeholders": {}}
    for j, name in enumerate(names):
        row = table.loc[j]
        solved = row["status"] == "ok"
        out["stakeholders"][name] = {
            "status": row["status"], "reason": row["reason"] or "",
            "S": float(row["objective"]) if solved else None,
            "one_model_S": one_model[name],
            "difference": float(row["objective"]) - one_model[name] if solved else None}
    return out


def prepare_spec(spec: SpecCommon, base_dir: str | Path = ".") -> tuple[Regions, Scenario]:
    """The spec's regions and base scenario (paths relative to ``base_dir``): the spec's
    scenario over the region set's base, as ``solve`` reads it (``scenario.base_scenario``)."""
    return prepare(spec, base_dir)  # type: ignore[arg-type]


def run_consensus_spec(spec: ConsensusSpec, base_dir: str | Path = ".",
                       backend: Backend | None = None) -> ConsensusResult:
    """Run a consensus spec (paths relative to ``base_dir``); see ``consensus``."""
    regions, base = prepare_spec(spec, base_dir)
    return consensus(regions, base, dict(spec.stakeholders), title=spec.title or "consensus",
                     backend=backend)


# --- robust plan -----------------------------------------------------------------------

def draw_samples(spec: RobustPlanSpec, base: Scenario, count: int, seed: int) -> pd.DataFrame:
    """``count`` samples: one row each, weights ``w_<indicator>`` (normalized),
    ``complementarity`` and ``y_<instrument>`` (a multiplier on its yields)."""
    rng = np.random.default_rng([seed, 15])
    if spec.weights is not None:
        weights = sample_weights(spec.weights, base, count, seed)
    else:
        weights = pd.DataFrame([base.normalized_weights] * count)
    table = weights.add_prefix("w_").reset_index(drop=True)
    theta, scales = spec.complementarity, dict(spec.yields)
    if spec.prior == "evidence":
        theta, scales = evidence_distributions(base, theta, scales)
    table["complementarity"] = (theta.draw(rng, count) if theta is not None
                                else np.full(count, base.complementarity))
    for name in base.instruments:
        dist = scales.get(name)
        table[f"y_{name}"] = dist.draw(rng, count) if dist is not None else np.ones(count)
    unknown = sorted(set(spec.yields) - set(base.instruments))
    if unknown:
        raise ScenarioError(f"yields: {unknown} are not instruments of the base scenario; "
                            f"they are {sorted(base.instruments)}")
    table.insert(0, "sample_id", np.arange(count))
    return table


def evidence_distributions(base: Scenario, theta: Distribution | None,
                           scales: dict[str, Distribution]
                           ) -> tuple[Distribution | None, dict[str, Distribution]]:
    """The evidence prior: theta triangular over its documented range and each
    instrument's yield multiplier triangular over (low, 1, high) relative to the central
    values; what the spec gives itself is kept."""
    ranges = evidence_ranges(base)
    if theta is None and "complementarity" in ranges:
        r = ranges["complementarity"]
        theta = Distribution(triangular=(r.low, r.central, r.high))
    out = dict(scales)
    for name in base.instruments:
        span = yield_scale_range(base, name)
        if name not in out and span is not None:
            out[name] = Distribution(triangular=(span[0], 1.0, span[1]))
    return theta, out


def sample_changes(row: pd.Series) -> tuple[dict[str, Any], dict[str, float]]:
    """A sample row as (scenario changes, yield multiplier by instrument)."""
    weights = {k[2:]: float(v) for k, v in row.items() if str(k).startswith("w_")}
    effect = {k[2:]: float(v) for k, v in row.items() if str(k).startswith("y_")}
    return {"weights": weights, "complementarity": float(row["complementarity"])}, effect


def sample_views(regions: Regions, base: Scenario, samples: pd.DataFrame) -> list[View]:
    """One view per sample row."""
    views = []
    for _, row in samples.iterrows():
        changes, effect = sample_changes(row)
        views.append(make_view(regions, base, f"sample {int(row['sample_id'])}", changes, effect,
                               source=f"sample {int(row['sample_id'])}"))
    return views


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

    def comparison(self) -> str:
        """The out-of-sample verdict in words, with how sure it is."""
        s = self.stats
        rob, dflt = s.loc["out_of_sample", "robust"], s.loc["out_of_sample", "default"]
        diff = rob["cvar"] - dflt["cvar"]
        verdict = ("at least as good as" if diff >= -1e-9 else "worse than")
        text = (f"On {len(self.fresh_samples):,} fresh samples the robust plan's CVaR at "
                f"{self.alpha:.0%} of S is {rob['cvar']:.4f} against the default plan's "
                f"{dflt['cvar']:.4f} ({diff:+.4f} points, {verdict} it); mean "
                f"{rob['mean']:.4f} vs {dflt['mean']:.4f}, worst {rob['worst']:.4f} vs "
                f"{dflt['worst']:.4f}.")
        boot = self.difference()
        if boot is None:
            return text
        return (f"{text} Robust minus default, resampling the fresh samples "
                f"({boot['resamples']:,} paired bootstrap draws): CVaR "
                f"{interval_text(boot['cvar'], boot['level'])}, mean "
                f"{interval_text(boot['mean'], boot['level'])}.")

    def text(self) -> str:
        """A plain-text report for the terminal."""
        lines = [f"Robust plan ({self.objective}" + (f" at alpha = {self.alpha:g}" if
                                                     self.objective == "cvar" else "")
                 + f") over {len(self.samples)} samples, {self.plan.scenario.spread_measure} "
                 "spread", "", "Exact S over the samples (robust vs default plan):"]
        table = self.stats_frame()
        lines += [table.to_string(float_format=lambda v: f"{v:.4f}"), "", self.comparison()]
        if self.core is not None:
            for label in ("robust", "default"):
                funded = self.core[self.core[f"{label}_funding_usd"] >= self.info["threshold_usd"]]
                money = funded[f"{label}_funding_usd"]
                core_money = money[funded["core_index"] >= 1.0].sum() / max(money.sum(), 1e-9)
                lines.append(f"{label} plan: funds {len(funded)} regions, "
                             f"{(funded['core_index'] >= 1).sum()} of them core (funded in "
                             f"every fresh sample's own optimum), {core_money:.1%} of its money "
                             f"there; mean core index of its money "
                             f"{(money * funded['core_index']).sum() / max(money.sum(), 1e-9):.2f}")
        return "\n".join(lines)

    def stats_frame(self) -> pd.DataFrame:
        """Rows (set, plan); columns mean, cvar, worst, quantiles."""
        rows = {(s, p): self.stats.loc[s, p] for s in self.stats.index for p in self.stats.columns}
        return pd.DataFrame(rows).T.rename_axis(["samples", "plan"])

    def to_dict(self) -> dict[str, Any]:
        """What robust.json holds (every statistic exact, as checked)."""
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
            "comparison": self.comparison(),
            "info": self.info,
        }

    def to_dir(self, out: str | Path) -> Path:
        """The robust plan's files (as ``solve`` writes) plus robust.json, samples.csv,
        fresh_samples.csv, sample_scores.csv, default_allocation.csv and core_index.csv."""
        extras = {
            ROBUST_FILE: checked_record(self.to_dict(), RobustRecord, ROBUST_FILE),
            "samples.csv": self.samples.to_csv(index=False),
            "fresh_samples.csv": self.fresh_samples.to_csv(index=False),
            "sample_scores.csv": self.scores.to_csv(index=False),
            "default_allocation.csv": self.default_plan.allocation[
                ["region_id", "instrument", "amount_usd"]].to_csv(index=False),
        }
        if self.core is not None:
            extras["core_index.csv"] = self.core.to_csv(index=False)
        return _write_with_extras(self.plan, out, extras)


def robust_plan(regions: Regions, base: Scenario, samples: pd.DataFrame,
                objective: str = "cvar", alpha: float = 0.1,
                fresh: pd.DataFrame | None = None, *, title: str = "robust plan",
                core_backend: Backend | None = None, threshold_usd: float = 1e6,
                chunk_size: int = 25, out: str | Path | None = None) -> RobustResult:
    """The plan that maximizes the mean, CVaR_alpha or worst case of exact-model S over
    ``samples`` (rows as ``draw_samples`` makes), under every rule of ``base``.

    ``fresh`` are independent samples on which the plan and the base scenario's own plan
    are compared; with ``core_backend`` each fresh sample's own optimum is solved through
    the sensitivity execution (serial or Dask) for the core index.
    """
    clock = time.perf_counter()
    default = Planner(regions).solve(base)  # explains infeasible rules, and is the comparison
    inputs = resolve(regions, base)
    views = sample_views(regions, base, samples)
    model = ViewModel(inputs, views, objective, alpha)

    def goal(s: Solved) -> float:
        values = np.array([v.score(s.x) for v in views])
        return {"mean": values.mean(), "cvar": cvar(values, alpha), "worst": values.min()}[objective]

    solved = model.solve(score=goal)
    solve_info = {"build_time_s": model.build_time_s, "translate_time_s": model.translate_time_s,
                  "solve_time_s": model.solve_time_s, "solves": model.solves,
                  "solver": "HiGHS (highspy)", "mip": inputs.hubs is not None,
                  "plan": f"robust ({objective})"}
    plan = _plan(inputs, solved, regions, solve_info, goal(solved))
    fresh = samples.iloc[:0] if fresh is None else fresh
    fresh_views = sample_views(regions, base, fresh)
    x_default = default.funding_busd()
    rows = []
    for label, table, vs in (("in_sample", samples, views), ("out_of_sample", fresh, fresh_views)):
        for (_, row), view in zip(table.iterrows(), vs, strict=True):
            rows.append({"set": label, "sample_id": int(row["sample_id"]),
                         "robust": view.score(solved.x), "default": view.score(x_default)})
    scores = pd.DataFrame(rows, columns=["set", "sample_id", "robust", "default"])
    stats = pd.DataFrame({
        plan_label: {s: distribution_stats(scores.loc[scores["set"] == s, plan_label], alpha)
                     for s in scores["set"].unique()}
        for plan_label in ("robust", "default")})
    core = None
    if core_backend is not None and len(fresh):
        core = _core_index(regions, base, fresh, core_backend, threshold_usd, chunk_size, out)
        core["robust_funding_usd"] = plan.regions["funding_usd"].to_numpy()
        core["default_funding_usd"] = default.regions["funding_usd"].to_numpy()
    info = {**solve_info, "total_time_s": time.perf_counter() - clock, "views": len(views),
            "regions": inputs.n, "threshold_usd": threshold_usd,
            "core_index": None if core is None or core_backend is None else (
                f"own optima of the {len(fresh)} fresh samples via {core_backend.describe()}")}
    return RobustResult(title, objective, alpha, plan, default, samples, fresh, scores, stats,
                        core, info)


def _core_index(regions: Regions, base: Scenario, fresh: pd.DataFrame, backend: Backend,
                threshold_usd: float, chunk_size: int, out: str | Path | None) -> pd.DataFrame:
    """Per region, the share of fresh samples whose own optimum funds it (the core index),
    solved through ``runs.execute`` (serial, local Dask or a scheduler)."""
    runs = []
    for _, row in fresh.iterrows():
        changes, effect = sample_changes(row)
        flat: dict[str, Any] = dict(changes)
        flat.update({f"instruments.{k}.yields": scaled_yields(base.instruments[k].model_dump(
            mode="json"), v)["yields"] for k, v in effect.items()})
        runs.append(Run(int(row["sample_id"]), flat))
    store = None
    chunks = execute(runs, payload_for(regions, base), backend, chunk_size=chunk_size, store=store)
    funding = np.vstack([c.funding_usd for c in chunks])
    table = pd.concat([c.runs for c in chunks], ignore_index=True)
    ok = (table["status"] == "ok").to_numpy()
    if not ok.any():
        raise SolverError("no fresh sample's own optimum solved; the core index is undefined "
                          f"(first reason: {table['reason'].iloc[0]})")
    funded = funding[ok] >= threshold_usd
    return pd.DataFrame({"region_id": regions.ids, "name": regions.names,
                         "core_index": funded.mean(axis=0), "solved_samples": int(ok.sum())})


def run_robust_spec(spec: RobustPlanSpec, base_dir: str | Path = ".",
                    backend: Backend | None = None) -> RobustResult:
    """Run a robust-plan spec: draw, optimize, judge on fresh samples."""
    regions, base = prepare_spec(spec, base_dir)
    samples = draw_samples(spec, base, spec.samples, spec.seed)
    oos = spec.out_of_sample
    fresh = draw_samples(spec, base, oos.samples or spec.samples,
                         spec.seed + 1 if oos.seed is None else oos.seed)
    if oos.seed is not None and oos.seed == spec.seed:
        raise ScenarioError("out_of_sample.seed: must differ from seed, or the fresh samples "
                            "are the same as the ones the plan was optimized over")
    return robust_plan(regions, base, samples, spec.objective, spec.alpha, fresh,
                       title=spec.title or "robust plan",
                       core_backend=(backend or Backend("serial")) if oos.core_index else None,
                       threshold_usd=spec.funded_threshold_usd, chunk_size=spec.chunk_size)
