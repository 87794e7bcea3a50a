"""Running a consensus or a robust plan: each stakeholder's own optimum (the Planner's
plan), the max-min share and its tie-break, the robust plan over samples, the core index
of fresh samples' own optima, and the spec runners behind the CLI."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.analysis.consensus.model import (
    Solved,
    View,
    ViewModel,
    make_view,
    sample_changes,
    sample_views,
    scaled_yields,
)
from optimizer.analysis.consensus.result import (
    ConsensusResult,
    RobustResult,
    cvar,
    distribution_stats,
)
from optimizer.analysis.consensus.spec import (
    ConsensusSpec,
    RobustPlanSpec,
    Stakeholder,
    _validated,
    draw_samples,
    prepare_spec,
)
from optimizer.analysis.consensus_check import name_problem
from optimizer.analysis.runs import Backend, Run, execute, payload_for
from optimizer.engine.data import Regions
from optimizer.engine.errors import InfeasibleError, ScenarioError, SolverError
from optimizer.engine.inputs import ModelInputs, resolve
from optimizer.engine.result import AllocationResult, SolverInfo, build_result
from optimizer.engine.scenario import Scenario
from optimizer.engine.solve import Planner, verified

T_HOLD = 1e-7  # phase 2 keeps t within this (relative) of its maximum
T_ACCURACY = 1e-5  # each stakeholder's optimum S* is exact to this share of their gain


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



def run_consensus_spec(spec: ConsensusSpec, base_dir: str | Path = ".",
                       backend: Backend | None = None) -> ConsensusResult:
    """Run a consensus spec (paths relative to ``base_dir``); see ``consensus``."""
    regions, base = prepare_spec(spec, base_dir)
    return consensus(regions, base, dict(spec.stakeholders), title=spec.title or "consensus",
                     backend=backend)



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
