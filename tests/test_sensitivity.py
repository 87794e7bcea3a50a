"""Sensitivity analyses on tiny problems with known answers (real HiGHS solves)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import optimizer as pf
from optimizer.analysis import runs as runs_module
from optimizer.analysis.ranging import funded_set_ranging, lp_ranging
from optimizer.analysis.runs import Backend
from optimizer.analysis.sensitivity import (
    robust_stats,
    run_analysis,
    sample_weights,
    spec_from_dict,
    spec_record,
)
from optimizer.cli import app
from optimizer.engine.data import Regions
from optimizer.engine.errors import InfeasibleError, ScenarioError
from optimizer.engine.inputs import resolve
from optimizer.engine.solve import Planner
from tests.factories import make_regions, tiny_scenario

SERIAL = Backend("serial")

TWIN = "region_id,name,population,talent\nA,Alpha,100,1\nB,Beta,100,1"
# A is ahead on both indicators per capita, so its absorptive multiplier is the
# highest for every weight vector.
DOMINANT = ("region_id,name,population,talent,venture\n"
            "A,Alpha,100,10,10\nB,Beta,100,1,2\nC,Gamma,100,2,1")
LINEAR = {"grant": {"yields": {"talent": "1%"}, "saturation_usd": "$1000B"}}


@pytest.fixture(scope="module")
def twin() -> Regions:
    return make_regions(TWIN)


@pytest.fixture(scope="module")
def dominant() -> Regions:
    return make_regions(DOMINANT)


def _checked(regions: Regions, scenario: pf.Scenario) -> pf.AllocationResult:
    plan = Planner(regions).solve(scenario)
    report = pf.check(plan.allocation, regions, plan.scenario, reported=plan.metrics_after)
    assert report.ok, str(report)
    return plan


def test_budget_sweep_two_twins_matches_closed_form(twin: Regions) -> None:
    # Equal twins, one instrument, sigma = $10B: by symmetry (and lambda > 0, which
    # makes the split unique) each gets B/2 and S = 100 + sigma ln(1 + B/sigma).
    base = tiny_scenario(spread_weight=0.5)
    spec = spec_from_dict({"analysis": "sweep", "vary": {"budget": [5e9, 10e9, 40e9]},
                           "chunk_size": 2})
    result = run_analysis(spec, backend=SERIAL, regions=twin, base=base)
    runs = result.tables["runs"]
    assert list(runs["status"]) == ["ok"] * 3
    for _, row in runs.iterrows():
        b = row["budget"] / 1e9
        assert row["objective"] == pytest.approx(100 + 10 * math.log1p(b / 10), rel=1e-9)
        assert row["after_gini"] == pytest.approx(0.0, abs=1e-9)
    alloc = result.tables["run_regions"].merge(runs[["run_id", "budget"]], on="run_id")
    np.testing.assert_allclose(alloc["funding_usd"], alloc["budget"] / 2, rtol=1e-9)
    _checked(twin, base.updated(budget=40e9))
    assert set(result.figures) == {"sweep"}


def test_weight_sample_dominant_region_has_core_index_one(dominant: Regions) -> None:
    # Near-linear returns and theta = 1: all money goes to the highest multiplier,
    # which is A's at every point of the simplex.
    base = tiny_scenario(budget="$1B", weights={"talent": 1, "venture": 1}, instruments=LINEAR,
                         spread_weight=0.0, complementarity=1.0)
    spec = spec_from_dict({"analysis": "robust", "runs": 30, "seed": 3, "chunk_size": 8})
    result = run_analysis(spec, backend=SERIAL, regions=dominant, base=base)
    stats = result.tables["robust_regions"].set_index("region_id")
    assert stats.loc["A", "core_index"] == 1.0
    assert stats.loc["A", "core_class"] == "core"
    assert stats.loc[["B", "C"], "core_index"].tolist() == [0.0, 0.0]
    assert stats.loc["A", "funding_median_usd"] == pytest.approx(1e9)
    acc = result.tables["rank_acceptability"]
    assert acc.loc[acc["region_id"] == "A", ["rank", "probability"]].values.tolist() == [[1, 1.0]]
    _checked(dominant, base)


def test_rank_acceptability_and_quantiles_by_hand() -> None:
    runs = pd.DataFrame({"run_id": [0, 1, 2], "status": ["ok", "ok", "infeasible"]})
    long = pd.DataFrame({
        "run_id": [0, 0, 1, 1, 2, 2], "region_id": ["A", "B"] * 3, "name": ["a", "b"] * 3,
        "funding_usd": [3.0, 1.0, 0.0, 4.0, np.nan, np.nan], "final_capacity": [1.0] * 6,
    })
    long["funded"] = pd.array([True, True, False, True, None, None], dtype="boolean")
    stats, acc = robust_stats(long, runs)
    s = stats.set_index("region_id")
    assert s.loc["A", "core_index"] == 0.5 and s.loc["B", "core_index"] == 1.0
    assert s.loc["B", "core_class"] == "core" and s.loc["A", "core_class"] == "borderline"
    assert s.loc["A", "funding_median_usd"] == 1.5
    got = {(r.region_id, r.rank): r.probability for r in acc.itertuples()}
    assert got == {("A", 1): 0.5, ("B", 1): 0.5, ("B", 2): 0.5}


def test_weight_sampler_is_uniform_restricted_and_seeded(states: Regions) -> None:
    from optimizer.analysis.sensitivity import WeightSampler

    base = pf.load_scenario()
    sampler = WeightSampler(ranges={"ai_job_postings": (0.1, 0.3)},
                            orderings=["cs_doctorates >= se_doctorates"])
    w = sample_weights(sampler, base, 200, seed=7)
    assert w.shape == (200, len(base.weights))
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert w["ai_job_postings"].between(0.1, 0.3).all()
    assert (w["cs_doctorates"] >= w["se_doctorates"]).all()
    pd.testing.assert_frame_equal(w, sample_weights(sampler, base, 200, seed=7))
    free = sample_weights(WeightSampler(), base, 4000, seed=1)
    # uniform on the simplex of the default weights: each share has mean 1/k
    np.testing.assert_allclose(free.mean(), 1 / len(base.weights), atol=0.01)
    with pytest.raises(ScenarioError, match="not sampled indicators"):
        sample_weights(WeightSampler(orderings=["nope >= talent"]), base, 5, seed=0)


def test_failed_runs_are_recorded_and_do_not_stop_the_sweep(twin: Regions) -> None:
    base = tiny_scenario()
    spec = spec_from_dict({"analysis": "sweep", "vary": {"region_floor_usd": [0, "$6B"]}})
    result = run_analysis(spec, backend=SERIAL, regions=twin, base=base)
    runs = result.tables["runs"]
    assert list(runs["status"]) == ["ok", "infeasible"]
    assert "budget" in runs.loc[1, "reason"]
    assert result.summary["failed"] == 1
    assert result.tables["run_regions"].query("run_id == 1")["funded"].isna().all()


def test_an_infeasible_run_is_recorded_without_a_diagnosis(twin: Regions, monkeypatch) -> None:
    def no_diagnosis(*args: object) -> None:
        raise AssertionError("an infeasible run was diagnosed without being asked to")

    monkeypatch.setattr(runs_module, "diagnose", no_diagnosis)
    spec = spec_from_dict({"analysis": "sweep", "vary": {"region_floor_usd": [0, "$6B"]}})
    runs = run_analysis(spec, backend=SERIAL, regions=twin, base=tiny_scenario()).tables["runs"]
    assert list(runs["status"]) == ["ok", "infeasible"]
    assert "Fix" not in runs.loc[1, "reason"] and "conflict (dropping" not in runs.loc[1, "reason"]


def test_a_spec_may_ask_for_the_diagnosis_of_infeasible_runs(twin: Regions) -> None:
    # two regions, $10B: floors of $6B each need $12B; the fix is a $5B floor or a $12B budget
    spec = spec_from_dict({"analysis": "sweep", "diagnose": True,
                           "vary": {"region_floor_usd": [0, "$6B"]}})
    result = run_analysis(spec, backend=SERIAL, regions=twin, base=tiny_scenario())
    runs = result.tables["runs"]
    assert list(runs["status"]) == ["ok", "infeasible"]
    reason = runs.loc[1, "reason"]
    assert "dropping any one of them resolves it): the per-region floor" in reason
    assert "lower the per-region floor from $6.00B to $5.00B" in reason
    assert "raise the budget from $10.00B to $12.00B" in reason
    assert result.summary["spec"]["diagnose"] is True
    # the option is off by default and then absent from the recorded spec (same fingerprint)
    plain = spec_from_dict({"analysis": "sweep", "vary": {"region_floor_usd": [0, "$6B"]}})
    assert "diagnose" not in spec_record(plain) and spec_record(spec)["diagnose"] is True


def test_diagnose_must_be_a_boolean() -> None:
    with pytest.raises(ScenarioError, match="diagnose: Input should be a valid boolean"):
        spec_from_dict({"analysis": "robust", "diagnose": "sometimes"})


def test_resume_skips_finished_chunks(dominant: Regions, tmp_path: Path) -> None:
    base = tiny_scenario(budget="$1B", weights={"talent": 1, "venture": 1}, instruments=LINEAR,
                         spread_weight=0.5)
    spec = spec_from_dict({"analysis": "robust", "runs": 12, "chunk_size": 4})
    first = run_analysis(spec, backend=SERIAL, regions=dominant, base=base, out=tmp_path)
    (tmp_path / "partial" / "chunk-00001.npz").unlink()
    seen: list[tuple[int, int]] = []
    again = run_analysis(spec, backend=SERIAL, regions=dominant, base=base, out=tmp_path,
                         progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (8, 12) and seen[-1] == (12, 12)  # two chunks came from disk
    cols = ["run_id", "status", "objective", "after_gini"]
    pd.testing.assert_frame_equal(first.tables["runs"][cols], again.tables["runs"][cols])
    # a different spec in the same directory starts over
    other = spec_from_dict({"analysis": "robust", "runs": 12, "chunk_size": 4, "seed": 9})
    seen.clear()
    run_analysis(other, backend=SERIAL, regions=dominant, base=base, out=tmp_path,
                 progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, 12)


def test_pareto_frontier_is_monotone_and_dominates_current_plan() -> None:
    regions = make_regions("region_id,name,population,talent\nA,Alpha,100,4\nB,Beta,300,1\n"
                           "C,Gamma,200,2")
    base = tiny_scenario(spread_weight=0.3, complementarity=0.8, budget="$20B")
    spec = spec_from_dict({"analysis": "pareto", "points": 5})
    result = run_analysis(spec, backend=SERIAL, regions=regions, base=base)
    f = result.tables["frontier"].sort_values("eps")
    assert len(f) == 5
    assert (f["after_gini"] <= f["eps"] + 2e-3).all()
    assert np.all(np.diff(f["after_total_capacity"]) >= -1e-6)  # looser cap, more capacity
    top = Planner(regions).solve(base.updated(spread_weight=0.0))
    assert f["after_total_capacity"].iloc[-1] == pytest.approx(top.metrics_after["total_capacity"])
    cur = result.extra["current"]
    # the current plan is on or under the frontier: the capped maximum at its Gini
    capped = Planner(regions).solve(base.updated(spread_weight=0.0), gini_cap=cur["gini"] + 1e-4)
    assert cur["total_capacity"] <= capped.metrics_after["total_capacity"] + 1e-3
    report = pf.check(capped.allocation, regions, capped.scenario, reported=capped.metrics_after)
    assert report.ok, str(report)


def test_budget_ranging_matches_closed_form_entry_point() -> None:
    # lambda = 0: B is first funded once A's marginal a m_A / (1 + x/s_A) falls to
    # a m_B, i.e. at a budget of s_A (m_A / m_B - 1).
    regions = make_regions("region_id,name,population,talent\nA,Alpha,100,9\nB,Beta,100,1")
    base = tiny_scenario(budget="$1B", spread_weight=0.0, complementarity=1.0,
                         approximation={"tangents": 400, "max_error_share": 1e-6})
    inputs = resolve(regions, base)
    m = inputs.multiplier[:, 0]
    entry = inputs.saturation_busd[0, 0] * (m[0] / m[1] - 1) * 1e9
    planner = Planner(regions)
    table = funded_set_ranging(planner, base, steps=14, weights=False).set_index("parameter")
    assert table.loc["budget", "high"] == pytest.approx(entry, rel=0.02)
    assert table.loc["budget", "low"] == pytest.approx(1e6, rel=0.05)  # the funded threshold
    basis = lp_ranging(planner, base).set_index("parameter")  # one tangent segment
    assert basis.loc["budget", "low"] <= base.budget <= basis.loc["budget", "high"]
    assert basis.loc["budget", "high"] <= table.loc["budget", "high"]
    below = _checked(regions, base.updated(budget=0.97 * entry))
    above = _checked(regions, base.updated(budget=1.03 * entry))
    assert below.regions.set_index("region_id").loc["B", "funding_usd"] == 0.0
    assert above.regions.set_index("region_id").loc["B", "funding_usd"] > 0.0


def test_tornado_orders_by_swing(twin: Regions) -> None:
    base = tiny_scenario(spread_weight=0.5)
    spec = spec_from_dict({"analysis": "tornado", "change": 0.5,
                           "parameters": ["budget", "spread_weight"]})
    result = run_analysis(spec, backend=SERIAL, regions=twin, base=base)
    t = result.tables["tornado"]
    # the summary names parameters for people, and the top-k share of two regions is a top-1
    assert "Spread weight λ" in result.text and "top-1 share" in result.text
    assert "top-10" not in result.text
    # equal twins: Gini stays 0, so lambda moves nothing; the budget moves S
    assert t["parameter"].tolist() == ["budget", "spread_weight"]
    assert t.loc[0, "objective_high"] == pytest.approx(100 + 10 * math.log1p(1.5))
    assert t.loc[1, "objective_swing"] == pytest.approx(0.0, abs=1e-9)


def test_cli_sweep_writes_tables_charts_summary(tmp_path: Path) -> None:
    (tmp_path / "regions.csv").write_text(TWIN + "\n")
    (tmp_path / "spec.yaml").write_text(
        "analysis: sweep\nregions: regions.csv\n"
        "scenario: {budget: 10e9, weights: {talent: 1}, spread_weight: 1.0,\n"
        "  instruments: {grant: {yields: {talent: 1%}, saturation_usd: 10e9}}}\n"
        "vary:\n  spread_weight: [0, 0.5, 1]\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["sweep", str(tmp_path / "spec.yaml"), "--out", str(out),
                                   "--scheduler", "serial"])
    assert res.exit_code == 0, res.output
    for name in ("runs.csv", "run_regions.csv", "run_regions.parquet", "charts.html",
                 "summary.json", "summary.txt"):
        assert (out / name).stat().st_size > 0
    runs = pd.read_csv(out / "runs.csv")
    assert runs["status"].eq("ok").all() and len(runs) == 3
    assert "lambda_tradeoff" in (out / "charts.html").read_text() or "Lambda trade-off" in (
        out / "charts.html").read_text()


@pytest.mark.parametrize(("text", "message"), [
    ("analysis: robust\nruns: 0\n", "runs: Input should be greater than or equal to 1"),
    ("analysis: sweep\nvary:\n  budgett: [1]\n", "'budgett' is not a scenario parameter"),
    ("analysis: sweep\nvary:\n  spread_weight: [2]\n", "spread_weight"),
    ("[1, 2", "not valid YAML"),
])
def test_cli_bad_spec_is_one_clear_message(tmp_path: Path, text: str, message: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    kind = "robust" if "robust" in text else "sweep"
    res = CliRunner().invoke(app, [kind, str(spec), "--out", str(tmp_path / "o"),
                                   "--scheduler", "serial"])
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output


def test_cli_spec_of_another_kind(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("analysis: pareto\n")
    res = CliRunner().invoke(app, ["robust", str(spec), "--scheduler", "serial"])
    assert res.exit_code == 2 and "run it with `placefund pareto`" in res.output


def test_sobol_indices_find_the_only_factor_that_matters(twin: Regions) -> None:
    # Identical twins have absorptive intensity 1, so theta cannot change anything:
    # all the variance of S_lambda comes from the budget.
    base = tiny_scenario(spread_weight=0.5)
    spec = spec_from_dict({"analysis": "sobol", "weights": False, "base_samples": 16,
                           "parameters": {"budget": [5e9, 40e9], "complementarity": [0.0, 1.0]}})
    result = run_analysis(spec, backend=SERIAL, regions=twin, base=base)
    assert len(result.tables["runs"]) == 16 * (2 + 2)
    table = result.tables["sobol"].set_index(["metric", "parameter"])
    budget, theta = table.loc[("objective", "budget")], table.loc[("objective", "complementarity")]
    assert budget["ST"] == pytest.approx(1.0, abs=0.1)
    assert abs(theta["ST"]) < 0.02 and abs(theta["S1"]) < 0.02
    assert budget["ST_conf"] >= 0
    assert "sobol_objective" in result.figures


def test_sobol_weights_are_sampled_uniformly_on_the_simplex(dominant: Regions) -> None:
    base = tiny_scenario(weights={"talent": 1.0, "venture": 1.0})
    spec = spec_from_dict({"analysis": "sobol", "base_samples": 8,
                           "parameters": {"spread_weight": [0.0, 1.0]}})
    from optimizer.analysis.sensitivity import build_runs

    runs = build_runs(spec, dominant, base)
    shares = np.array([[r.changes["weights"]["talent"], r.changes["weights"]["venture"]]
                       for r in runs])
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert 0.3 < shares[:, 0].mean() < 0.7  # uniform on the 1-simplex: mean 1/2


def test_a_gini_cap_binds_then_lifts_on_the_same_planner(states) -> None:
    base = pf.load_scenario().updated(spread_weight=0.0)
    planner = Planner(states)
    free = planner.solve(base)
    cap = free.metrics_after["gini"] - 0.02
    capped = planner.solve(base, gini_cap=cap)
    assert capped.metrics_after["gini"] <= cap + 2e-3
    assert capped.metrics_after["total_capacity"] < free.metrics_after["total_capacity"]
    again = planner.solve(base)  # without the cap: the free plan again, up to the
    # approximation error it reports (the capped solve added tangents of its own)
    assert again.objective == pytest.approx(free.objective,
                                            rel=free.approximation["error_share"])
    with pytest.raises(InfeasibleError, match="Gini of at most 0.0100"):
        planner.solve(base, gini_cap=0.01)
    with pytest.raises(ScenarioError, match="needs spread_measure: gini"):
        Planner(states).solve(base.updated(spread_measure="hoover"), gini_cap=0.3)


def test_runs_are_solved_next_to_their_nearest_neighbour() -> None:
    # budgets 0, 90, 10, 80, 20 ($B): from the first run, always the closest unsolved one
    budgets = [0.0, 90e9, 10e9, 80e9, 20e9]
    runs = [runs_module.Run(i, {"budget": b}) for i, b in enumerate(budgets)]
    base = tiny_scenario().to_dict()
    assert runs_module.solve_order(runs, base) == [0, 2, 4, 3, 1]
    # runs changing different parameters: the others count at their base values
    mixed = [runs_module.Run(0, {}), runs_module.Run(1, {"spread_weight": 1.0}),
             runs_module.Run(2, {"budget": base["budget"] * 2}),
             runs_module.Run(3, {"spread_weight": base["spread_weight"]})]
    order = runs_module.solve_order(mixed, base)
    assert sorted(order) == [0, 1, 2, 3] and order[:2] == [0, 3]


def test_chunk_size_follows_the_run_count_only() -> None:
    assert runs_module.auto_chunk_size(10) == 25  # never below 25 runs
    assert runs_module.auto_chunk_size(1000) == 63  # about 16 chunks
    assert runs_module.auto_chunk_size(100_000) == 250  # never above 250


def test_results_come_back_in_run_order_whatever_the_solve_order(dominant: Regions) -> None:
    base = tiny_scenario(budget="$1B", weights={"talent": 1, "venture": 1}, spread_weight=0.5)
    spec = spec_from_dict({"analysis": "robust", "runs": 9, "seed": 5, "chunk_size": 4})
    result = run_analysis(spec, backend=SERIAL, regions=dominant, base=base)
    runs = result.tables["runs"]
    assert runs["run_id"].tolist() == list(range(9))
    assert result.tables["run_regions"]["run_id"].tolist() == [i for i in range(9)
                                                               for _ in range(3)]
    planner = Planner(dominant)
    # each plan is optimal up to its response approximation, which depends on the LP's
    # tangents and so on what was solved before: within half the tolerance of the
    # objective (where the tangent loop stops), and its funding within 0.5% of the budget
    tolerance = base.approximation.max_error_share / 2
    for row in runs.itertuples():
        weights = {"talent": row.w_talent, "venture": row.w_venture}
        alone = planner.solve(base.updated(weights=weights))
        assert row.objective == pytest.approx(alone.objective, rel=tolerance)
        funding = result.tables["run_regions"].query("run_id == @row.run_id")["funding_usd"]
        np.testing.assert_allclose(funding, alone.regions["funding_usd"], atol=0.005 * 1e9)


def test_apply_changes_leaves_the_base_alone() -> None:
    base = {"budget": 1.0, "weights": {"a": 1.0, "b": 2.0}, "other": {"x": [1]}}
    out = runs_module.apply_changes(base, {"weights.a": 5.0, "budget": 2.0})
    assert out == {"budget": 2.0, "weights": {"a": 5.0, "b": 2.0}, "other": {"x": [1]}}
    assert base == {"budget": 1.0, "weights": {"a": 1.0, "b": 2.0}, "other": {"x": [1]}}
    with pytest.raises(ScenarioError, match="'budget' is not a mapping"):
        runs_module.apply_changes(base, {"budget.x": 1})


def test_partial_chunks_of_an_older_layout_are_dropped(tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "manifest.json").write_text('{"fingerprint": "abc"}\n')
    (partial / "chunk-00000.parquet").write_bytes(b"old")
    store = runs_module.PartialStore(tmp_path, "abc", ["A"])
    assert store.done() == set() and not (partial / "chunk-00000.parquet").exists()


def test_long_analyses_outlast_the_solver_time_limit(dominant: Regions) -> None:
    # HiGHS counts its time limit on a persistent model's cumulative run time; the limit
    # holds per run, so many short solves on one worker's planner never hit a 0.2 s limit
    base = tiny_scenario(budget="$1B", weights={"talent": 1, "venture": 1}, spread_weight=0.5,
                         solver={"time_limit_s": 0.2})
    spec = spec_from_dict({"analysis": "robust", "runs": 800, "seed": 2, "chunk_size": 3})
    runs = run_analysis(spec, backend=SERIAL, regions=dominant, base=base).tables["runs"]
    assert runs["status"].eq("ok").all(), runs.loc[runs["status"] != "ok", "reason"].iloc[0]


def test_an_analysis_folder_is_replaced_whole_and_a_failed_write_keeps_the_earlier_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "regions.csv").write_text(TWIN + "\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "analysis: sweep\nregions: regions.csv\n"
        "scenario: {budget: 10e9, weights: {talent: 1}, spread_weight: 1.0,\n"
        "  instruments: {grant: {yields: {talent: 1%}, saturation_usd: 10e9}}}\n"
        "vary:\n  spread_weight: [0, 0.5, 1]\n")
    out = tmp_path / "out"
    args = ["sweep", str(spec), "--out", str(out), "--scheduler", "serial"]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert (out / "partial" / "manifest.json").is_file()
    earlier = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def broken(*_args: object, **_kw: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("optimizer.analysis.sensitivity.write_html", broken)
    spec.write_text(spec.read_text().replace("[0, 0.5, 1]", "[0, 1]"))
    failed = CliRunner().invoke(app, args)
    assert failed.exit_code != 0
    now = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert now == earlier  # every result of the earlier sweep, byte for byte (partial/
    # holds the failed run's finished chunks, to resume)
    assert [p.name for p in tmp_path.iterdir() if "staging" in p.name] == []
    monkeypatch.undo()
    assert CliRunner().invoke(app, args).exit_code == 0
    assert len(pd.read_csv(out / "runs.csv")) == 2
    assert (out / "partial" / "manifest.json").is_file()  # a re-run of this spec is free
