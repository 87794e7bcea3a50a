"""Sensitivity and robustness: which conclusions survive when the judgments move.

Every analysis is a spec (YAML, validated here): the regions, a base scenario, what
varies, the sampler, the seed and the run count. ``run_analysis`` turns a spec into
runs, executes them through ``runs`` (serial, a local Dask cluster or a
remote scheduler; identical numbers in each) and returns tidy tables, plotly
figures and a summary. Analyses:

- ``sweep``: a grid over any scenario parameters (``budget``, ``spread_weight``,
  ``weights.cs_doctorates``, ``instruments.venture.yields.ai_vc_musd`` ...).
- ``robust``: indicator weights sampled uniformly on the simplex (optionally within
  ranges and orderings such as ``ai_job_postings >= ai_vc_musd``); per region the
  core index (share of samples in which it is funded), allocation quantiles and
  rank acceptability.
- ``pareto``: the exact capacity-versus-spread frontier by the epsilon-constraint
  method (maximize total capacity subject to Gini <= eps, or top-10 share <= eps).
- ``tornado``: one-at-a-time +/- changes of each parameter.

LP ranging (budget, lambda, weights) is in ``ranging``.

>>> spec = spec_from_dict({"analysis": "sweep", "vary": {"budget": [40e9, 80e9]}})
>>> [r.changes for r in build_runs(spec, *prepare(spec))]
[{'budget': 40000000000.0}, {'budget': 80000000000.0}]
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from optimizer.analysis.charts import figures_for, write_html
from optimizer.analysis.evidence import evidence_ranges
from optimizer.analysis.ranging import funded_set_ranging, lp_ranging
from optimizer.analysis.runs import (
    PARTIAL,
    Backend,
    ChunkResult,
    PartialStore,
    Progress,
    Run,
    apply_changes,
    collect,
    execute,
    fingerprint,
    payload_for,
)
from optimizer.engine import columns
from optimizer.engine.data import REGION_SETS, Regions, load_regions
from optimizer.engine.errors import InfeasibleError, ScenarioError, SolverError
from optimizer.engine.metrics import top_k_count
from optimizer.engine.result import replace_folder
from optimizer.engine.safe_yaml import load_yaml_file
from optimizer.engine.scenario import (
    USD,
    Scenario,
    base_scenario,
    parse_usd,
    scenario_from_dict,
    share_yield,
)
from optimizer.engine.solve import Planner

MAX_RUNS = 100_000  # runs one analysis may ask for (a sweep's grid, Sobol's design)

Analysis = Literal["sweep", "robust", "pareto", "tornado", "sobol"]
_ORDER = re.compile(r"^\s*([A-Za-z_][\w]*)\s*(>=|<=)\s*([A-Za-z_][\w]*)\s*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Grid(_Strict):
    """Evenly spaced values from ``start`` to ``stop`` (both included)."""

    start: USD
    stop: USD
    num: int = Field(ge=2, le=10_000)

    def values(self) -> list[float]:
        return [float(v) for v in np.linspace(self.start, self.stop, self.num)]


class WeightSampler(_Strict):
    """Uniform on the weight simplex, optionally restricted by ranges and orderings.

    ``ranges`` bound normalized weight shares (e.g. ``talent: [0.1, 0.4]``);
    ``orderings`` are ``a >= b`` statements. Restrictions are met by rejection.
    ``indicators`` limits sampling to some weights; the rest keep their base shares.
    """

    sampler: Literal["simplex"] = "simplex"
    indicators: list[str] | None = None
    ranges: dict[str, tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]]] = (
        Field(default_factory=dict))
    orderings: list[str] = Field(default_factory=list)

    @field_validator("orderings")
    @classmethod
    def _orderings(cls, v: list[str]) -> list[str]:
        for text in v:
            if not _ORDER.match(text):
                raise ValueError(f"'{text}' is not an ordering; write e.g. 'talent >= venture'")
        return v


class SpecBase(_Strict):
    """Fields every analysis spec has."""

    analysis: Analysis
    title: str | None = None
    regions: str = "states"
    scenario: str | dict[str, Any] | None = Field(
        default=None, description="scenario YAML path (relative to the spec) or inline mapping")
    seed: int = Field(default=0, ge=0)
    chunk_size: int | None = Field(default=None, ge=1, le=10_000, description=(
        "runs per task; default: from the run count (about 16 chunks of 25 to 250 runs)"))
    funded_threshold_usd: USD = Field(default=1e6, description="a region counts as funded from here")
    diagnose: bool = Field(default=False, description=(
        "diagnose each infeasible run: its reason then names the minimal conflicting rules "
        "and the smallest fixes (many further solves per infeasible run)"))


class SweepSpec(SpecBase):
    """A grid over scenario parameters (dotted paths); several give their product."""

    analysis: Literal["sweep"]
    vary: dict[str, list[Any] | Grid] = Field(min_length=1)


class RobustSpec(SpecBase):
    """Weights sampled ``runs`` times; robust allocation statistics per region."""

    analysis: Literal["robust"]
    runs: int = Field(default=1000, ge=1, le=1_000_000)
    weights: WeightSampler = Field(default_factory=WeightSampler)
    prior: Literal["evidence"] | None = Field(default=None, description=(
        "evidence: each run also draws theta, q_min, saturations and yields uniformly within "
        "their documented ranges (docs/evidence.md)"))


class ParetoSpec(SpecBase):
    """Capacity-versus-spread frontier by the epsilon-constraint method."""

    analysis: Literal["pareto"]
    measure: Literal["gini", "top10_share"] = "gini"
    points: int = Field(default=12, ge=2, le=500)


class TornadoSpec(SpecBase):
    """One-at-a-time changes of +/- ``change`` (a fraction) of each parameter."""

    analysis: Literal["tornado"]
    change: float = Field(default=0.2, gt=0, lt=1)
    parameters: list[str] | None = None
    prior: Literal["evidence"] | None = Field(default=None, description=(
        "evidence: move each documented parameter to its low and high (docs/evidence.md) "
        "instead of +/- change"))


class SobolSpec(SpecBase):
    """Global sensitivity: Sobol indices (Saltelli sampling, SALib) of headline metrics.

    ``parameters`` map dotted scenario paths to a [low, high] range sampled uniformly.
    With ``weights`` the indicator weights vary too, uniformly on the simplex: each
    weight gets a factor u ~ U(0, 1) and w_k = -ln(u_k) / sum_j -ln(u_j), which is
    exactly uniform on the simplex (Dirichlet(1, ..., 1)). A weight's indices then
    measure how much its factor moves the metric; the factors are independent, as
    Sobol's method needs, while the normalized weights are not.
    """

    analysis: Literal["sobol"]
    parameters: dict[str, tuple[float, float]] = Field(default_factory=dict)
    prior: Literal["evidence"] | None = Field(default=None, description=(
        "evidence: add every documented parameter over its range (docs/evidence.md)"))
    weights: bool = True
    base_samples: int = Field(default=64, ge=4, le=1_000_000,
                              description="N; runs = N * (factors + 2); a power of 2 is best")
    conf_level: float = Field(default=0.95, gt=0, lt=1)


SOBOL_METRICS = {"objective": "S_lambda", "after_top10_share": "top-10 share",
                 "after_gini": "Gini"}

Spec = SweepSpec | RobustSpec | ParetoSpec | TornadoSpec | SobolSpec
_SPECS: dict[str, type[SpecBase]] = {"sweep": SweepSpec, "robust": RobustSpec,
                                     "pareto": ParetoSpec, "tornado": TornadoSpec,
                                     "sobol": SobolSpec}


def spec_from_dict(data: Any, source: str = "spec", analysis: str | None = None) -> Spec:
    """Validate a spec mapping; ``analysis`` is the command's kind (the default)."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a spec must be a mapping of keys to values")
    data = dict(data)
    kind = data.setdefault("analysis", analysis)
    if not isinstance(kind, str) or kind not in _SPECS:
        raise ScenarioError(f"{source}: analysis must be one of {sorted(_SPECS)} (got {kind!r})")
    if analysis is not None and kind != analysis:
        raise ScenarioError(f"{source}: this spec is a '{kind}' analysis; run it with "
                            f"`placefund {kind}`")
    try:
        return _SPECS[kind].model_validate(data)  # type: ignore[return-value]
    except ValidationError as err:
        raise spec_error(err, source, kind) from None


def spec_error(err: ValidationError, source: str, kind: str) -> ScenarioError:
    """A spec's validation errors, one line per key (pydantic's union tags left out)."""
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]
                       if not str(p).startswith(("list[", "tuple[", "Grid")))
        msg = ("unknown key (check the spelling)" if e["type"] == "extra_forbidden"
               else e["msg"].removeprefix("Value error, "))
        lines.append(f"  {key or '(top level)'}: {msg}")
    return ScenarioError(f"{source}: invalid {kind} spec\n" + "\n".join(lines))


def spec_record(spec: Spec) -> dict[str, Any]:
    """The spec as JSON, for the summary and the fingerprint; ``diagnose`` appears only
    when asked for, so a spec written before the option keeps its fingerprint (resume)."""
    record = spec.model_dump(mode="json")
    if not record.get("diagnose"):
        record.pop("diagnose", None)
    return record


def load_spec(path: str | Path, analysis: str | None = None) -> Spec:
    """Read and validate a spec YAML file."""
    path = Path(path)
    data = load_yaml_file(path, what="spec file")  # bounded, see safe_yaml
    return spec_from_dict(data, source=str(path), analysis=analysis)


def prepare(spec: Spec, base_dir: str | Path = ".") -> tuple[Regions, Scenario]:
    """The spec's regions and base scenario (paths relative to ``base_dir``): the spec's
    scenario (a file or inline keys) over the region set's base, as ``solve`` reads it
    (``scenario.base_scenario``)."""
    base_dir = Path(base_dir)
    regions = spec.regions
    if regions not in REGION_SETS and not Path(regions).is_absolute():
        regions = str(base_dir / regions)
    region_table = load_regions(regions)
    given: dict[str, Any] | Path | None = spec.scenario if isinstance(spec.scenario, dict) else None
    if isinstance(spec.scenario, str):
        path = Path(spec.scenario)
        given = path if path.is_absolute() else base_dir / path
    return region_table, base_scenario(regions, region_table.indicators, given,
                                       source="spec scenario")


# --- runs ---------------------------------------------------------------------

def _check_path(base: dict[str, Any], path: str) -> None:
    if path.endswith("effectiveness_per_busd"):
        raise ScenarioError(f"vary: '{path}': effectiveness_per_busd was replaced by yields; "
                            "vary 'instruments.<name>.yields.<indicator>' (what $1B raises, in "
                            "the indicator's unit), or use `prior: evidence`")
    node: Any = base
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            where = f"'{path}'"
            options = sorted(node) if isinstance(node, dict) else []
            raise ScenarioError(f"vary: {where} is not a scenario parameter"
                                + (f"; at this level the keys are {options}" if options else ""))
        node = node[key]


def _refuse_too_many(count: int, what: str, fits: str) -> None:
    """A ``ScenarioError`` before anything runs when ``count`` runs exceed ``MAX_RUNS``."""
    if count > MAX_RUNS:
        raise ScenarioError(f"{what} asks for {count:,} runs; at most {MAX_RUNS:,} fit in one "
                            f"analysis ({fits}); nothing was run")


def _sweep_runs(spec: SweepSpec, base: Scenario) -> list[Run]:
    base_dict = base.to_dict()
    sizes = {path: v.num if isinstance(v, Grid) else len(v) for path, v in spec.vary.items()}
    count = math.prod(sizes.values())
    if count > MAX_RUNS:
        each = int(MAX_RUNS ** (1 / len(sizes)))
        _refuse_too_many(count, "vary: the grid (" + " x ".join(
            f"{n:,} {path}" for path, n in sizes.items()) + ")",
            f"e.g. {each:,} values on each of the {len(sizes)} axes" if len(sizes) > 1
            else f"at most {MAX_RUNS:,} values")
    axes = []
    for path, values in spec.vary.items():
        _check_path(base_dict, path)
        vals = values.values() if isinstance(values, Grid) else list(values)
        if path == "budget" or path.endswith("_usd"):
            try:
                vals = [parse_usd(v) for v in vals]
            except ValueError as err:
                raise ScenarioError(f"vary.{path}: {err}") from None
        if not vals:
            raise ScenarioError(f"vary.{path}: give at least one value")
        axes.append([(path, v) for v in vals])
    runs = [Run(i, dict(combo)) for i, combo in enumerate(itertools.product(*axes))]
    for run in runs:  # a bad grid value is a spec error, not a failed run
        scenario_from_dict(apply_changes(base_dict, run.changes),
                           source=f"sweep point {run.changes}")
    return runs


def sample_weights(sampler: WeightSampler, base: Scenario, runs: int, seed: int) -> pd.DataFrame:
    """``runs`` weight vectors (rows sum to 1) drawn uniformly on the (restricted) simplex."""
    shares = base.normalized_weights
    names = list(shares)
    free = sampler.indicators or names
    unknown = [k for k in free if k not in names]
    for text in sampler.orderings:
        a, _, b = _ORDER.match(text).groups()  # type: ignore[union-attr]
        unknown += [x for x in (a, b) if x not in free]
    unknown += [x for x in sampler.ranges if x not in free]
    if unknown:
        raise ScenarioError(f"weights: {sorted(set(unknown))} are not sampled indicators of the "
                            f"base scenario; they are {free}")
    fixed_total = sum(shares[k] for k in names if k not in free)
    mass = 1.0 - fixed_total
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    tries = 0
    while len(out) < runs:
        batch = rng.dirichlet(np.ones(len(free)), size=max(64, 2 * (runs - len(out))))
        tries += len(batch)
        ok = np.ones(len(batch), bool)
        for k, (lo, hi) in sampler.ranges.items():
            col = batch[:, free.index(k)] * mass
            ok &= (col >= lo) & (col <= hi)
        for text in sampler.orderings:
            a, op, b = _ORDER.match(text).groups()  # type: ignore[union-attr]
            xa, xb = batch[:, free.index(a)], batch[:, free.index(b)]
            ok &= xa >= xb if op == ">=" else xa <= xb
        out.extend(batch[ok])
        if tries > 200 * runs + 10_000 and len(out) < runs:
            raise ScenarioError("weights: the ranges and orderings leave (almost) no room on the "
                                f"simplex ({len(out)} of {tries} draws accepted); widen them")
    w = np.array(out[:runs])
    table = pd.DataFrame({k: shares[k] for k in names}, index=range(runs))
    table[free] = w * mass
    return table[names]


def _tornado_parameters(spec: TornadoSpec, base: Scenario) -> list[str]:
    if spec.parameters is not None:
        params = spec.parameters
        for p in params:
            _check_path(base.to_dict(), p)
        return params
    if spec.prior == "evidence":
        return list(evidence_ranges(base))
    return (["budget", "spread_weight", "complementarity"]
            + [f"weights.{k}" for k in base.weights]
            + [f"instruments.{i}.yields.{k}" for i, ins in base.instruments.items()
               for k in ins.yields])


def _get(base: dict[str, Any], path: str) -> Any:
    node: Any = base
    for key in path.split("."):
        node = node[key]
    return node


def _tornado_runs(spec: TornadoSpec, base: Scenario) -> list[Run]:
    base_dict = base.to_dict()
    runs = [Run(0, {})]
    ranges = evidence_ranges(base) if spec.prior == "evidence" else {}
    for path in _tornado_parameters(spec, base):
        value = _get(base_dict, path)
        percent = isinstance(value, str) and ".yields." in path and value.endswith("%")
        if percent:  # a yield given as a share of the national total moves as a share
            value = float(value.rstrip("%"))
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ScenarioError(f"parameters: '{path}' is not a number in the scenario")
        ends = ((ranges[path].low, ranges[path].high) if path in ranges
                else (value * (1 - spec.change), value * (1 + spec.change)))
        for new in ends:
            if path in ("spread_weight", "complementarity"):
                new = min(max(new, 0.0), 1.0)
            runs.append(Run(len(runs), {path: share_yield(new) if percent else float(new)}))
    return runs


def _prior_draws(base: Scenario, runs: int, seed: int) -> list[dict[str, float]]:
    """Per run, every documented parameter drawn uniformly within its evidence range."""
    rng = np.random.default_rng([seed, 21])
    ranges = evidence_ranges(base)
    draws = {path: rng.uniform(r.low, r.high, size=runs) for path, r in ranges.items()}
    return [{path: float(v[i]) for path, v in draws.items()} for i in range(runs)]


def sobol_problem(spec: SobolSpec, base: Scenario) -> dict[str, Any]:
    """The SALib problem: one factor per parameter range, one per weight."""
    base_dict = base.to_dict()
    names, bounds = [], []
    given = dict(spec.parameters)
    if spec.prior == "evidence":
        for path, r in evidence_ranges(base).items():
            if r.low < r.high:
                given.setdefault(path, (r.low, r.high))
    for path, (low, high) in given.items():
        _check_path(base_dict, path)
        if not low < high:
            raise ScenarioError(f"parameters.{path}: low ({low}) must be below high ({high})")
        names.append(path)
        bounds.append([float(low), float(high)])
    if spec.weights:
        names += [f"weights.{k}" for k in base.weights]
        bounds += [[0.0, 1.0]] * len(base.weights)
    if len(names) < 2:
        raise ScenarioError("parameters: Sobol indices need at least two varying factors")
    return {"num_vars": len(names), "names": names, "bounds": bounds}


def _sobol_runs(spec: SobolSpec, base: Scenario) -> list[Run]:
    from SALib.sample import sobol as sobol_sample

    problem = sobol_problem(spec, base)
    factors = problem["num_vars"]
    _refuse_too_many(spec.base_samples * (factors + 2),
                     f"base_samples: {spec.base_samples:,} x ({factors} factors + 2)",
                     f"base_samples up to {MAX_RUNS // (factors + 2):,} with {factors} factors")
    sample = sobol_sample.sample(problem, spec.base_samples, calc_second_order=False,
                                 seed=spec.seed)
    weight_cols = [i for i, n in enumerate(problem["names"]) if n.startswith("weights.")]
    runs = []
    for i, row in enumerate(sample):
        changes: dict[str, Any] = {}
        for j, name in enumerate(problem["names"]):
            if j not in weight_cols:
                changes[name] = float(row[j])
        if weight_cols:
            raw = -np.log(np.clip(row[weight_cols], 1e-12, 1.0))
            shares = raw / raw.sum()
            changes["weights"] = {problem["names"][j].split(".", 1)[1]: float(v)
                                  for j, v in zip(weight_cols, shares, strict=True)}
        runs.append(Run(i, changes))
    return runs


def sobol_indices(spec: SobolSpec, base: Scenario, runs: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """First-order and total Sobol indices with confidence intervals, per metric.

    Failed runs (if any) are filled with the mean of the others, and their number is
    returned so the summary can say so.
    """
    from SALib.analyze import sobol as sobol_analyze

    problem = sobol_problem(spec, base)
    ok = runs["status"] == "ok"
    rows = []
    for metric, label in SOBOL_METRICS.items():
        y = runs[metric].to_numpy(float)
        y = np.where(ok, y, np.nanmean(np.where(ok, y, np.nan)))
        if np.ptp(y) <= 1e-12 * max(1.0, abs(float(y.mean()))):
            # a metric that never moves has no variance to apportion: all indices are 0
            rows += [{"metric": metric, "metric_label": label, "parameter": name, "S1": 0.0,
                      "S1_conf": 0.0, "ST": 0.0, "ST_conf": 0.0} for name in problem["names"]]
            continue
        found = sobol_analyze.analyze(problem, y, calc_second_order=False,
                                      conf_level=spec.conf_level, seed=spec.seed)
        for j, name in enumerate(problem["names"]):
            rows.append({"metric": metric, "metric_label": label, "parameter": name,
                         "S1": found["S1"][j], "S1_conf": found["S1_conf"][j],
                         "ST": found["ST"][j], "ST_conf": found["ST_conf"][j]})
    table = pd.DataFrame(rows).sort_values(["metric", "ST"], ascending=[True, False],
                                           ignore_index=True)
    return table, int((~ok).sum())


def build_runs(spec: Spec, regions: Regions, base: Scenario) -> list[Run]:
    """The runs of a spec, in a fixed order (pareto: see ``pareto_runs``)."""
    if isinstance(spec, SobolSpec):
        return _sobol_runs(spec, base)
    if isinstance(spec, SweepSpec):
        return _sweep_runs(spec, base)
    if isinstance(spec, RobustSpec):
        w = sample_weights(spec.weights, base, spec.runs, spec.seed)
        drawn = _prior_draws(base, spec.runs, spec.seed) if spec.prior == "evidence" else None
        return [Run(i, {"weights": {k: float(v) for k, v in row.items()},
                        **({} if drawn is None else drawn[i])})
                for i, row in enumerate(w.to_dict("records"))]
    if isinstance(spec, TornadoSpec):
        return _tornado_runs(spec, base)
    return pareto_runs(spec, regions, base)[0]


def pareto_runs(spec: ParetoSpec, regions: Regions, base: Scenario
                ) -> tuple[list[Run], dict[str, Any]]:
    """Epsilon grid between the least spread reachable and the max-capacity plan's spread.

    Both ends come from in-process solves: the lambda = 0 plan gives the upper end;
    bisection on feasibility of the epsilon constraint gives the lower end.
    """
    planner = Planner(regions)
    current = planner.solve(base)
    free = base.updated(spread_weight=0.0)
    top = planner.solve(free)
    k = top_k_count(len(regions))  # the k that top10_share reports

    def changes(eps: float) -> dict[str, Any]:
        out: dict[str, Any] = {"spread_weight": 0.0}
        if spec.measure == "top10_share":
            out["top_k_share_cap"] = {"k": k, "max_share": eps}
        return out

    def feasible(eps: float) -> bool:
        try:
            if spec.measure == "gini":
                planner.solve(free, gini_cap=eps)
            else:
                planner.solve(scenario_from_dict(apply_changes(free.to_dict(), changes(eps))))
            return True
        except (InfeasibleError, ScenarioError, SolverError):
            return False

    hi = float(top.metrics_after[spec.measure])
    lo_bad, lo_ok = 0.0, hi
    if feasible(lo_bad):
        lo_ok = lo_bad
    else:
        for _ in range(30):
            mid = 0.5 * (lo_bad + lo_ok)
            if feasible(mid):
                lo_ok = mid
            else:
                lo_bad = mid
            if lo_ok - lo_bad < 1e-6:
                break
    lo = lo_ok + 1e-7 if lo_ok < hi else lo_ok  # a hair inside for numerical safety
    grid = np.linspace(lo, hi, spec.points)
    runs = [Run(i, changes(float(e)), float(e) if spec.measure == "gini" else None)
            for i, e in enumerate(grid)]
    info = {"eps_low": lo, "eps_high": hi, "measure": spec.measure,
            "current": {"spread_weight": base.spread_weight,
                        **{m: current.metrics_after[m] for m in
                           ("total_capacity", "gini", "top10_share", "spread_adjusted_capacity")}}}
    return runs, info


# --- results ------------------------------------------------------------------

def _link_or_copy(source: str, target: str) -> None:
    """A hard link of ``source`` at ``target``, or a copy where links are refused."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


@dataclass
class AnalysisResult:
    """Tables (tidy DataFrames), plotly figures and a summary of one analysis."""

    analysis: str
    tables: dict[str, pd.DataFrame]
    figures: dict[str, Any]
    summary: dict[str, Any]
    text: str
    failed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def write(self, out: str | Path) -> Path:
        """Write tables (CSV, plus Parquet for the run x region table), charts.html,
        summary.json and summary.txt as the folder ``out``, whole: a reader sees the
        earlier analysis there or this one, never a mix (``result.replace_folder``).
        Finished runs kept in ``out/partial`` stay, so the same spec re-runs at no cost."""
        out = Path(out)

        def write(staging: Path) -> None:
            for name, table in self.tables.items():
                table.to_csv(staging / f"{name}.csv", index=False)
            if "run_regions" in self.tables:
                self.tables["run_regions"].to_parquet(staging / "run_regions.parquet",
                                                      index=False)
            write_html(self.figures, staging / "charts.html", title=f"PlaceFund {self.analysis}")
            (staging / "summary.json").write_text(
                json.dumps(self.summary, indent=2, default=float) + "\n")
            (staging / "summary.txt").write_text(self.text + "\n")
            if (out / PARTIAL).is_dir():  # linked, not moved: it stays if the write fails
                shutil.copytree(out / PARTIAL, staging / PARTIAL, copy_function=_link_or_copy)

        return replace_folder(out, write, marks=("summary.json", f"{PARTIAL}/manifest.json"),
                              kind="analysis")


def _collect(chunks: list[ChunkResult], regions: Regions,
             threshold: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The runs table and the run x region table, assembled once from all chunks."""
    table, funding, final = collect(chunks, len(regions))
    n = len(regions)
    ids, names = regions.ids, regions.names
    long = pd.DataFrame({
        "run_id": np.repeat(table["run_id"].to_numpy(), n),
        "region_id": np.tile(ids, len(table)),
        "name": np.tile(names, len(table)),
        "funding_usd": funding.ravel(),
        "final_capacity": final.ravel(),
    })
    funded = pd.Series(long["funding_usd"] >= threshold, dtype="boolean")
    funded[long["funding_usd"].isna()] = pd.NA  # failed runs: unknown, not unfunded
    long["funded"] = funded
    return table, long


def _param_columns(runs: list[Run]) -> pd.DataFrame:
    rows = []
    for r in runs:
        row: dict[str, Any] = {"run_id": r.run_id}
        for path, value in r.changes.items():
            if path == "weights" and isinstance(value, dict):
                row.update({f"w_{k}": v for k, v in value.items()})
            elif isinstance(value, dict):
                row.update({f"{path}.{k}": v for k, v in value.items()})
            else:
                row[path] = value
        if r.gini_cap is not None:
            row["eps_gini"] = r.gini_cap
        rows.append(row)
    return pd.DataFrame(rows)


def robust_stats(run_regions: pd.DataFrame, runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per region: core index, allocation quantiles, rank statistics; and rank acceptability.

    Only successful runs count. ``core_index`` is the share of them in which the
    region is funded: 1 = core (funded in every sample), 0 = exterior, else borderline.
    Ranks order regions by funding in each run (1 = most funded; ties share the best rank).
    """
    ok_ids = runs.loc[runs["status"] == "ok", "run_id"]
    ok = run_regions[run_regions["run_id"].isin(ok_ids)].copy()
    ok["rank"] = ok.groupby("run_id")["funding_usd"].rank(ascending=False, method="min").astype(int)
    ok.loc[~ok["funded"].astype(bool), "rank"] = 0  # unfunded regions have no rank
    g = ok.groupby(["region_id", "name"], sort=False)
    stats = g.agg(
        samples=("funding_usd", "size"),
        core_index=("funded", "mean"),
        funding_mean_usd=("funding_usd", "mean"),
        funding_p05_usd=("funding_usd", lambda s: s.quantile(0.05)),
        funding_median_usd=("funding_usd", "median"),
        funding_p95_usd=("funding_usd", lambda s: s.quantile(0.95)),
        final_capacity_median=("final_capacity", "median"),
    ).reset_index()
    stats["core_index"] = stats["core_index"].astype(float)
    stats["core_class"] = np.select([stats["core_index"] >= 1.0, stats["core_index"] <= 0.0],
                                    ["core", "exterior"], "borderline")
    funded_rank = ok[ok["rank"] > 0]
    med = funded_rank.groupby("region_id")["rank"].median()
    top10 = ok.assign(t=(ok["rank"] > 0) & (ok["rank"] <= 10)).groupby("region_id")["t"].mean()
    stats["median_rank_when_funded"] = stats["region_id"].map(med)
    stats["p_top10_rank"] = stats["region_id"].map(top10).astype(float)
    stats = stats.sort_values(["core_index", "funding_median_usd"], ascending=False,
                              ignore_index=True)
    acc = (funded_rank.groupby(["region_id", "name", "rank"]).size()
           / max(len(ok_ids), 1)).rename("probability").reset_index()
    return stats, acc


def _summary_text(analysis: str, tables: dict[str, pd.DataFrame], info: dict[str, Any]) -> str:
    top_k = info.get("top_k", 10)
    runs = tables["runs"]
    ok = int((runs["status"] == "ok").sum())
    lines = [f"{analysis}: {ok} of {len(runs)} runs solved"]
    failed = runs[runs["status"] != "ok"]
    if len(failed):
        lines.append(f"  {len(failed)} failed (see runs.csv 'reason'), e.g. run "
                     f"{int(failed.iloc[0]['run_id'])}: {failed.iloc[0]['status']}: "
                     f"{str(failed.iloc[0]['reason'])[:160]}")
    if analysis == "robust":
        st = tables["robust_regions"]
        for cls in ("core", "borderline", "exterior"):
            members = st.loc[st["core_class"] == cls, "name"].tolist()
            lines.append(f"  {cls} ({len(members)}): " + ", ".join(members[:12])
                         + (" ..." if len(members) > 12 else ""))
    elif analysis == "pareto":
        cur = info["current"]
        lines.append(f"  frontier of total capacity vs {info['measure']}: eps from "
                     f"{info['eps_low']:.4f} to {info['eps_high']:.4f}")
        lines.append(f"  current plan (lambda={cur['spread_weight']:g}): total capacity "
                     f"{cur['total_capacity']:.3f}, Gini {cur['gini']:.4f}, "
                     f"top-{top_k} share {cur['top10_share']:.1%}")
    elif analysis == "sobol":
        if info.get("sobol_imputed_runs"):
            lines.append(f"  note: {info['sobol_imputed_runs']} failed run(s) were filled with "
                         "the mean of the others before computing the indices")
        for metric, group in tables["sobol"].groupby("metric_label", sort=False):
            top = group.head(4)
            lines.append(f"  {metric}: " + "; ".join(
                f"{r.parameter} ST {r.ST:.2f} +/- {r.ST_conf:.2f} (S1 {r.S1:.2f})"
                for r in top.itertuples()))
    elif analysis == "tornado":
        t = tables["tornado"].head(6)
        for _, row in t.iterrows():
            lines.append(f"  {columns.setting_label(row['parameter']):<45} objective "
                         f"{row['objective_low']:.3f} .. {row['objective_high']:.3f}  "
                         f"top-{top_k} share {row['top10_low']:.1%} .. "
                         f"{row['top10_high']:.1%}")
    else:
        cols = [c for c in runs.columns if c in info.get("varied", [])]
        show = runs[cols + ["objective", "after_total_capacity", "after_gini",
                            "after_top10_share"]].head(20)
        lines.append(show.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return "\n".join(lines)


def _tornado_table(runs: pd.DataFrame, spec_runs: list[Run]) -> pd.DataFrame:
    base = runs.iloc[0]
    rows = []
    for j in range(1, len(spec_runs), 2):
        (path, lo_v), = spec_runs[j].changes.items()
        (_, hi_v), = spec_runs[j + 1].changes.items()
        lo, hi = runs.iloc[j], runs.iloc[j + 1]
        rows.append({"parameter": path, "value_low": lo_v, "value_high": hi_v,
                     "objective_base": base["objective"],
                     "objective_low": lo["objective"], "objective_high": hi["objective"],
                     "top10_base": base["after_top10_share"],
                     "top10_low": lo["after_top10_share"], "top10_high": hi["after_top10_share"]})
    t = pd.DataFrame(rows)
    t["objective_swing"] = (t["objective_high"] - t["objective_low"]).abs()
    t["top10_swing"] = (t["top10_high"] - t["top10_low"]).abs()
    return t.sort_values("objective_swing", ascending=False, ignore_index=True)


def run_analysis(
    spec: Spec,
    *,
    base_dir: str | Path = ".",
    backend: Backend | None = None,
    out: str | Path | None = None,
    progress: Progress | None = None,
    regions: Regions | None = None,
    base: Scenario | None = None,
) -> AnalysisResult:
    """Run a spec and return its tables, figures and summary.

    ``backend`` defaults to ``Backend("auto")``: serial or a local Dask cluster, chosen
    from the job's measured cost (``runs.choose_executor``; ``Backend("serial")`` runs
    in-process, ``Backend("local")`` on a local cluster). With ``out``, finished chunks
    are kept in ``out/partial`` and a re-run resumes; the caller writes the final files
    with ``result.write(out)``.
    ``progress(done, total)`` is called as runs finish (e.g. a progress bar).
    """
    if regions is None or base is None:
        regions, base = prepare(spec, base_dir)
    backend = backend or Backend("auto")
    info: dict[str, Any] = {}
    if isinstance(spec, ParetoSpec):
        runs, info = pareto_runs(spec, regions, base)
    else:
        runs = build_runs(spec, regions, base)
    if isinstance(spec, SweepSpec):
        info["varied"] = list(spec.vary)
    info["top_k"] = top_k_count(len(regions))  # the k the top-k share counts
    info["spread_measure"] = base.spread_measure  # which S_λ the runs' objective is
    payload = payload_for(regions, base, diagnose=spec.diagnose)
    fp = fingerprint({"spec": spec_record(spec), "base": base.fingerprint(),
                      "data": regions.sha256, "runs": [(r.changes, r.gini_cap) for r in runs]})
    store = PartialStore(Path(out), fp, regions.ids) if out is not None else None
    chunks = execute(runs, payload, backend, chunk_size=spec.chunk_size, store=store,
                     progress=progress)
    table, long = _collect(chunks, regions, spec.funded_threshold_usd)
    table = _param_columns(runs).merge(table, on="run_id", how="left")
    tables: dict[str, pd.DataFrame] = {"runs": table, "run_regions": long}
    if isinstance(spec, RobustSpec):
        tables["robust_regions"], tables["rank_acceptability"] = robust_stats(long, table)
    elif isinstance(spec, ParetoSpec):
        eps_col = "eps_gini" if spec.measure == "gini" else "top_k_share_cap.max_share"
        frontier = table[table["status"] == "ok"].rename(columns={eps_col: "eps"})
        tables["frontier"] = frontier.reset_index(drop=True)
    elif isinstance(spec, TornadoSpec):
        tables["tornado"] = _tornado_table(table, runs)
    elif isinstance(spec, SobolSpec):
        tables["sobol"], info["sobol_imputed_runs"] = sobol_indices(spec, base, table)
    failed = int((table["status"] != "ok").sum())
    summary = {
        "analysis": spec.analysis, "title": spec.title, "runs": len(runs),
        "ok": len(runs) - failed, "failed": failed,
        "failures": table.loc[table["status"] != "ok", ["run_id", "status", "reason"]]
        .to_dict("records"),
        "backend": backend.describe(), "executor": backend.record(), "seed": spec.seed,
        "regions": regions.source, "regions_sha256": regions.sha256,
        "base_scenario_sha256": base.fingerprint(), "spec": spec_record(spec),
        "spec_fingerprint": fp,
        **{k: v for k, v in info.items() if k not in ("varied", "top_k", "spread_measure")},
    }
    text = _summary_text(spec.analysis, tables, info)
    figures = figures_for(spec.analysis, tables, info)
    return AnalysisResult(spec.analysis, tables, figures, summary, text, failed, info)


def ranging(regions: Regions, scenario: Scenario, *, threshold_usd: float = 1e6,
            weights: bool = True) -> pd.DataFrame:
    """Intervals for the current plan: HiGHS basis ranging of budget and lambda, and the
    budget and weight intervals over which the funded set holds (see ``ranging``)."""
    planner = Planner(regions)
    return pd.concat([lp_ranging(planner, scenario),
                      funded_set_ranging(planner, scenario, threshold_usd=threshold_usd,
                                         weights=weights)], ignore_index=True)


ProgressCallback = Callable[[int, int], None]
