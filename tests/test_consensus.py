"""Consensus across stakeholders and plans optimized over samples: known answers.

Every plan here has passed the independent checker for the base scenario's rules
(``consensus`` and ``robust_plan`` return only checked plans); the plan folders are
re-verified by ``placefund check``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import optimizer as pf
from optimizer.analysis import consensus as cs
from optimizer.analysis import consensus_check as cc
from optimizer.analysis.runs import Backend
from optimizer.cli import app
from optimizer.engine.errors import ScenarioError
from optimizer.report import consensus as rcs
from tests.factories import make_regions, tiny_scenario

TWO_REGIONS = """
region_id,name,population,north,south
A,Alpha,1000,1,0
B,Beta,1000,0,1
"""


def _two_region_case() -> tuple[pf.Regions, pf.Scenario]:
    """Two equal regions; 'north' is all in A, 'south' all in B; theta = 1 so a
    stakeholder's multiplier is 2 in its region and q_min = 0.1 in the other; lambda = 0."""
    regions = make_regions(TWO_REGIONS)
    base = tiny_scenario(weights={"north": 1, "south": 1}, spread_weight=0.0,
                         complementarity=1.0, budget="$10B")
    return regions, base


def test_two_stakeholders_each_valuing_one_region_split_evenly_in_closed_form() -> None:
    regions, base = _two_region_case()
    result = cs.consensus(regions, base, {"north": {"weights": {"north": 1}},
                                          "south": {"weights": {"south": 1}}})
    # s = $10B * 1/2 = $5B per region, a = 1 point per $1B, S = total capacity (lambda = 0).
    # Own optimum: everything in one's own region (marginal 2/3 there vs 0.1 elsewhere), a gain
    # of 2 s ln(1 + 10/5); the max-min plan splits evenly: (2 + 0.1) s ln(1 + 5/5).
    expected_t = (2.0 + 0.1) * math.log(2.0) / (2.0 * math.log(3.0))
    funding = result.plan.regions.set_index("region_id")["funding_usd"]
    assert funding["A"] == pytest.approx(5e9, rel=1e-6)
    assert funding["B"] == pytest.approx(5e9, rel=1e-6)
    assert result.t == pytest.approx(expected_t, abs=1e-6)
    assert result.achievement.loc["north", "consensus"] == pytest.approx(expected_t, abs=1e-6)
    assert result.achievement.loc["south", "consensus"] == pytest.approx(expected_t, abs=1e-6)
    own = result.own_plans["north"].regions.set_index("region_id")["funding_usd"]
    assert own["A"] == pytest.approx(10e9, rel=1e-9)
    assert result.scores.loc["north", "north"] - result.baseline["north"] == pytest.approx(
        2 * 5 * math.log(3.0), rel=1e-9)
    # under the other's own plan a stakeholder keeps only the q_min share: 0.1 / 2
    assert result.achievement.loc["north", "south"] == pytest.approx(0.05, rel=1e-9)
    assert "north: reaches" in rcs.gives_up(result)[0]


def test_the_report_says_what_each_stakeholder_gives_up_and_the_files_carry_it(
        tmp_path) -> None:
    """report.consensus phrases the result's exact table: in the two-region case the
    baseline S is 100 (lambda = 0), the own optimum 100 + 2 s ln 3 and the even split
    100 + 2.1 s ln 2 (s = $5B); the own plan puts the other $5B into the own region.
    consensus.json holds the same sentences the terminal prints."""
    regions, base = _two_region_case()
    result = cs.consensus(regions, base, {"north": {"weights": {"north": 1}},
                                          "south": {"weights": {"south": 1}}})
    t = 2.1 * math.log(2.0) / (2.0 * math.log(3.0))
    own, even = 100 + 10 * math.log(3.0), 100 + 10.5 * math.log(2.0)
    assert rcs.gives_up(result) == [
        f"{name}: reaches {t:.1%} of its attainable gain (S 100.000 -> {even:.3f}; its own "
        f"plan reaches {own:.3f}), giving up {own - even:.3f} points; its own plan would put "
        f"more into {region} ($5.0B)." for name, region in (("north", "Alpha"), ("south", "Beta"))]
    text = rcs.consensus_text(result)
    assert text.startswith(f"Consensus of 2 stakeholders (gini spread): every stakeholder "
                           f"reaches at least t = {t:.1%} of its attainable gain")
    assert text.endswith("\n".join(rcs.gives_up(result)))
    out = rcs.write_consensus(result, tmp_path / "plan")
    assert json.loads((out / "consensus.json").read_text())["gives_up"] == rcs.gives_up(result)


def test_identical_stakeholders_get_their_common_optimum_and_t_is_one(
        states: pf.Regions, default_plan: pf.AllocationResult) -> None:
    base = pf.load_scenario()
    result = cs.consensus(states, base, {"first": {}, "second": {"weights": dict(base.weights)}})
    # each own optimum is refined until its S is exact to 1e-5 of the gain; the consensus
    # plan is the default plan (same declaration, same loop), a sliver short of that
    assert 1.0 - 1e-3 <= result.t <= 1.0 + 1e-5
    assert np.allclose(result.achievement.to_numpy(), 1.0, atol=1e-3)
    assert result.scores.loc["first", "consensus"] == pytest.approx(default_plan.objective,
                                                                    rel=1e-6)
    assert result.plan.objective == pytest.approx(default_plan.objective, rel=1e-6)


def _scaled_samples(base: pf.Scenario, factors: list[float]) -> pd.DataFrame:
    """Samples that scale every instrument's yields by one factor each."""
    rows = []
    for j, c in enumerate(factors):
        row = {"sample_id": j, **{f"w_{k}": w for k, w in base.normalized_weights.items()},
               "complementarity": base.complementarity}
        row.update({f"y_{k}": c for k in base.instruments})
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("objective", ["mean", "cvar", "worst"])
def test_samples_sharing_one_optimum_give_that_optimum(states: pf.Regions, objective: str) -> None:
    # with lambda = 0, S = total capacity = 100 + c * (gain of the default response): scaling
    # every yield by c > 0 leaves the best plan where it was
    base = pf.load_scenario().updated(spread_weight=0.0, spread_measure="hoover")
    alone = cs.robust_plan(states, base, _scaled_samples(base, [1.0]), objective, alpha=0.5)
    samples = _scaled_samples(base, [0.5, 1.0, 2.0])
    result = cs.robust_plan(states, base, samples, objective, alpha=0.5)
    # both are refined until every sample's LP S is within the tolerance of its exact S:
    # equal to that accuracy (the tangents each loop adds differ)
    tolerance = base.approximation.max_error_share
    assert result.plan.objective == pytest.approx(alone.plan.objective, rel=tolerance)
    gap = (result.plan.regions["funding_usd"] - alone.plan.regions["funding_usd"]).abs().max()
    assert gap <= 1e-2 * base.budget
    # and it is the planner's own plan, up to the approximation error that one reports
    planned = pf.Planner(states).solve(base)
    assert result.plan.objective == pytest.approx(
        planned.objective, rel=planned.approximation["error_share"])


def test_robust_plan_is_at_least_the_default_plan_on_its_own_objective(states: pf.Regions) -> None:
    spec = cs.robust_spec_from_dict({
        "scenario": {"spread_measure": "hoover"}, "samples": 20, "seed": 3, "alpha": 0.2,
        "complementarity": {"uniform": [0.2, 0.8]},
        "yields": {"venture": {"triangular": [0.5, 1.0, 1.5]}},
        "out_of_sample": {"samples": 20, "core_index": False}})
    result = cs.run_robust_spec(spec)
    inside = result.stats.loc["in_sample"]
    # the LP maximizes CVaR_0.2 of its own S; exact and LP S differ by the response
    # approximation (below 0.1% of the objective)
    assert inside["robust"]["cvar"] >= inside["default"]["cvar"] - 1e-3 * abs(
        inside["default"]["cvar"])
    assert set(result.scores["set"]) == {"in_sample", "out_of_sample"}
    # the fresh samples are not the ones the plan was optimized over
    assert not np.allclose(result.samples["complementarity"],
                           result.fresh_samples["complementarity"])


def test_cvar_is_the_mean_of_the_worst_share_and_the_checker_agrees() -> None:
    values = np.array([4.0, 1.0, 3.0, 2.0])
    assert cs.cvar(values, 0.5) == pytest.approx(1.5)
    assert cs.cvar(values, 0.25) == pytest.approx(1.0)
    assert cs.cvar(values, 1.0) == pytest.approx(2.5)
    assert cs.cvar(values, 0.3) == pytest.approx((1.0 + 0.2 * 2.0) / 1.2)
    rng = np.random.default_rng(0)
    for alpha in (0.05, 0.1, 0.37, 1.0):
        v = rng.normal(size=101)
        assert cs.cvar(v, alpha) == pytest.approx(cc.cvar(v, alpha), rel=1e-12)


def test_check_verifies_a_consensus_folder_and_rejects_a_tampered_t(tmp_path) -> None:
    regions, base = _two_region_case()
    result = cs.consensus(regions, base, {"north": {"weights": {"north": 1}},
                                          "south": {"weights": {"south": 1}}})
    out = rcs.write_consensus(result, tmp_path / "plan")
    runner = CliRunner()
    ok = runner.invoke(app, ["check", str(out)])
    assert ok.exit_code == 0, ok.output
    record = json.loads((out / "consensus.json").read_text())
    record["t"] += 0.01
    record["achievement"]["consensus"]["north"] = 0.9
    (out / "consensus.json").write_text(json.dumps(record))
    bad = runner.invoke(app, ["check", str(out)])
    assert bad.exit_code == 1
    assert "consensus_t" in bad.output and "achievement[north, consensus]" in bad.output


def test_check_verifies_a_robust_folder_and_rejects_a_tampered_sample(
        states: pf.Regions, tmp_path) -> None:
    base = pf.load_scenario().updated(spread_measure="hoover")
    spec = cs.robust_spec_from_dict({"scenario": {"spread_measure": "hoover"}, "samples": 6,
                                     "objective": "worst", "out_of_sample": {"samples": 4}})
    samples = cs.draw_samples(spec, base, 6, 0)
    fresh = cs.draw_samples(spec, base, 4, 1)
    result = cs.robust_plan(states, base, samples, "worst", fresh=fresh,
                            core_backend=Backend("serial"), threshold_usd=5e8)
    assert result.core is not None and result.core["core_index"].between(0, 1).all()
    out = rcs.write_robust(result, tmp_path / "robust")
    assert cc.check_plan_dir(out).ok
    verdict = rcs.comparison(result)
    assert json.loads((out / "robust.json").read_text())["comparison"] == verdict
    assert verdict.startswith("On 4 fresh samples the robust plan's CVaR at 10% of S is ")
    assert verdict in rcs.robust_text(result) and rcs.core_summary(result)[0].startswith(
        "robust plan: funds ")
    scores = pd.read_csv(out / "sample_scores.csv")
    scores.loc[2, "robust"] += 0.5
    scores.to_csv(out / "sample_scores.csv", index=False)
    report = cc.check_plan_dir(out)
    names = {v.name for v in report.violations}
    assert "sample_score_mismatch" in names


def test_consensus_cli_writes_a_checked_plan(tmp_path) -> None:
    (tmp_path / "two.csv").write_text(TWO_REGIONS.strip() + "\n")
    (tmp_path / "spec.yaml").write_text(
        "regions: two.csv\n"
        "scenario: {budget: $10B, weights: {north: 1, south: 1}, spread_weight: 0,\n"
        "           complementarity: 1, instruments: {grant: {yields: {north: 1%, south: 1%},\n"
        "           saturation_usd: $10B}}}\n"
        "stakeholders:\n  north: {weights: {north: 1}}\n  south: {weights: {south: 1}}\n")
    runner = CliRunner()
    done = runner.invoke(app, ["consensus", str(tmp_path / "spec.yaml"),
                               "--out", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    assert "at least t = 66.2%" in done.output
    table = pd.read_csv(tmp_path / "out" / "achievement.csv", index_col="stakeholder")
    assert list(table.columns) == ["north", "south", "consensus"]
    assert runner.invoke(app, ["check", str(tmp_path / "out")]).exit_code == 0


def test_bad_specs_name_the_key(tmp_path) -> None:
    with pytest.raises(ScenarioError, match=r"stakeholders\.research\.weightz: unknown key"):
        cs.consensus_spec_from_dict({"stakeholders": {"research": {"weightz": {"a": 1}}}})
    with pytest.raises(ScenarioError, match="exactly one of"):
        cs.robust_spec_from_dict({"complementarity": {"uniform": [0, 1], "lognormal": [1, 1]}})
    with pytest.raises(ScenarioError, match="theta lies in"):
        cs.robust_spec_from_dict({"complementarity": {"uniform": [0.5, 1.5]}})
    regions, base = _two_region_case()
    with pytest.raises(ScenarioError, match=r"stakeholders\.east: .*weights"):
        cs.consensus(regions, base, {"east": {"weights": {"east": 1}}})
    (tmp_path / "bad.yaml").write_text("stakeholders: {a: {spread_weight: 2}}\n")
    done = CliRunner().invoke(app, ["consensus", str(tmp_path / "bad.yaml"),
                                    "--out", str(tmp_path / "out")])
    assert done.exit_code == 2
    assert "stakeholders.a.spread_weight" in done.output
    assert not (tmp_path / "out").exists()


def test_too_many_gini_samples_for_one_machine_are_refused(states: pf.Regions) -> None:
    base = pf.load_scenario()  # exact Gini: 1,275 pairs per sample at 51 regions
    samples = _scaled_samples(base, [1.0] * 200)
    with pytest.raises(ScenarioError, match="hoover"):
        cs.robust_plan(states, base, samples, "mean")


def test_capacity_rules_of_the_base_bind_the_consensus(states: pf.Regions) -> None:
    base = pf.load_scenario().updated(per_capita_floor=0.6,
                                      top_k_share_cap={"k": 10, "max_share": 0.62})
    result = cs.consensus(states, base, {
        "research": {"weights": {"university_se_rd_musd": 1, "cs_doctorates": 1}},
        "venture": {"weights": {"ai_vc_musd": 1, "vc_funded_firms": 1}}})
    final = result.plan.regions["final_capacity"].to_numpy()
    assert np.sort(final)[-10:].sum() / final.sum() <= 0.62 + 1e-6
    assert result.plan.regions["capacity_per_capita_after"].min() >= 0.6 - 1e-6
    assert 0.0 < result.t <= 1.0 + 1e-6


# --- the workbench tab: pure functions, then the page itself ---------------------------

def test_tab_presets_give_every_stakeholder_its_own_indicators() -> None:
    from optimizer.ui import consensus as cui

    base = pf.load_scenario()
    rows = cui.default_rows(base, 4)
    assert [r.name for r in rows] == ["research", "workforce", "investors", "industry"]
    full = [{k for k, w in r.weights.items() if w == 1.0} for r in rows]
    assert set().union(*full) == set(base.weights)  # every indicator is someone's
    assert all(not (a & b) for i, a in enumerate(full) for b in full[i + 1:])
    assert rows[-1].spread_weight == 0.9
    with pytest.raises(ScenarioError, match="between 2 and 6"):
        cui.default_rows(base, 7)
    rows[1].name = "research"
    with pytest.raises(ScenarioError, match="used twice"):
        cui.stakeholders_from_rows(rows)


def test_tab_heat_map_and_maps_show_the_achievement_table() -> None:
    from optimizer.ui import consensus as cui

    regions, base = _two_region_case()
    rows = [cui.StakeholderRow("north", {"north": 1.0, "south": 0.0}),
            cui.StakeholderRow("south", {"north": 0.0, "south": 1.0})]
    result = cui.solve_consensus(regions, base, rows)
    fig = cui.achievement_heatmap(result)
    heat = fig.data[0]
    assert list(heat.x) == ["north's plan", "south's plan", "consensus"]
    assert heat.z[0][2] == pytest.approx(result.t, abs=1e-9)
    assert "t = 66.2%" in fig.layout.title.text
    assert list(cui.plan_tables(result)) == ["consensus", "north", "south"]
    assert cui.summary_frame(result).loc["north", "Share of attainable gain"] == pytest.approx(
        result.t, abs=1e-6)


def _square(rid: str, x: float) -> dict:
    ring = [[x, 0.0], [x, 1.0], [x + 1.0, 1.0], [x + 1.0, 0.0], [x, 0.0]]
    return {"type": "Feature", "properties": {"region_id": rid},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def test_tab_one_colour_scale_one_number_format_and_a_plurals_possessive() -> None:
    """Issue 22, item 8: two maps with their own scales showed one colour for two amounts;
    the table printed 0.9847 where the heat map printed 98.5%; "investors's"."""
    from optimizer.ui import consensus as cui

    regions, base = _two_region_case()
    rows = [cui.StakeholderRow("investors", {"north": 1.0, "south": 0.0}),
            cui.StakeholderRow("south", {"north": 0.0, "south": 1.0})]
    result = cui.solve_consensus(regions, base, rows)
    heat = cui.achievement_heatmap(result).data[0]
    assert list(heat.x) == ["investors' plan", "south's plan", "consensus"]
    shown = cui.summary_display(result)
    for i, name in enumerate(heat.y):  # the consensus column: the table's share
        assert shown.loc[name, "Share of attainable gain"] == heat.text[i][2]
        assert heat.text[i][2] == f"{result.achievement.loc[name, 'consensus']:.1%}"
    assert shown.loc["investors", "S before"] == f"{result.baseline['investors']:.3f}"
    plans = cui.plan_tables(result)
    shapes = {"type": "FeatureCollection", "features": [_square("A", 0.0), _square("B", 1.0)]}
    left, right, caption = cui.side_by_side_maps(plans["consensus"], plans["investors"], shapes)
    a, b = left.data[0], right.data[0]
    assert (a.zmin, a.zmax) == (b.zmin, b.zmax)  # one colour, one amount
    both = [*plans["consensus"]["funding_per_capita_usd"], *plans["investors"]["funding_per_capita_usd"]]
    assert a.zmin <= min(both) and max(both) <= a.zmax
    # the consensus splits evenly, the investors' plan does not: on its own scale the
    # consensus map would colour its one amount as the middle of its own narrow range
    own = (min(plans["consensus"]["funding_per_capita_usd"]),
           max(plans["consensus"]["funding_per_capita_usd"]))
    assert own[1] - own[0] < 0.01 * (max(both) - min(both))
    assert list(a.colorbar.ticktext) == list(b.colorbar.ticktext)  # one scale, read alike
    assert list(b.colorbar.ticktext)[0] in caption and list(b.colorbar.ticktext)[-1] in caption


def test_app_consensus_tab_solves_and_shows_the_heat_map(tmp_path, monkeypatch) -> None:
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PLACEFUND_HOME", str(tmp_path / "home"))
    app_file = str(Path(__file__).resolve().parent.parent / "app.py")
    at = AppTest.from_file(app_file, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    at.session_state["tab"] = "Consensus"  # a click on the tab: a closed tab is not drawn
    at.run()
    at.slider(key="agree_count").set_value(2).run()
    at.button(key="agree_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    shown = [m.value for m in at.markdown if "of its attainable gain" in m.value]
    assert len(shown) == 2 and shown[0].startswith("- research: reaches")
    # the table prints each share as the heat map does
    import json

    heat = next(json.loads(c.proto.spec)["data"][0] for c in at.get("plotly_chart")
                if json.loads(c.proto.spec)["data"][0]["type"] == "heatmap")
    table = at.dataframe[0].value
    for i, name in enumerate(heat["y"]):
        assert table.loc[name, "Share of attainable gain"] == heat["text"][i][-1]
        assert heat["text"][i][-1] in shown[i]  # ... and the sentence below it


def test_hubs_make_the_consensus_a_mip_whose_one_hub_leaves_the_other_its_q_min_share() -> None:
    regions, base = _two_region_case()
    base = base.updated(hubs={"count": {"min": 1, "max": 1}})
    result = cs.consensus(regions, base, {"north": {"weights": {"north": 1}},
                                          "south": {"weights": {"south": 1}}})
    # one hub takes the whole budget: its stakeholder reaches 1, the other 0.1 / 2 of its gain
    assert result.plan.regions["hub"].sum() == 1
    assert result.plan.regions["funding_usd"].max() == pytest.approx(10e9, rel=1e-9)
    assert result.t == pytest.approx(0.05, rel=1e-9)
    assert sorted(result.achievement["consensus"].round(9)) == [0.05, 1.0]
    assert result.info["mip"] is True


def test_robust_plan_cli_writes_a_checked_plan_and_a_default_plan_breaking_a_rule_fails(
        tmp_path) -> None:
    (tmp_path / "spec.yaml").write_text(
        "scenario: {spread_measure: hoover, region_cap_usd: $6B}\nsamples: 5\nseed: 2\n"
        "objective: mean\ncomplementarity: {uniform: [0.3, 0.7]}\n"
        "out_of_sample: {samples: 3, core_index: false}\n")
    runner = CliRunner()
    done = runner.invoke(app, ["robust-plan", str(tmp_path / "spec.yaml"),
                               "--out", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    assert "On 3 fresh samples the robust plan's CVaR" in done.output
    checked = runner.invoke(app, ["check", str(tmp_path / "out")])
    assert checked.exit_code == 0 and "robust plan OK" in checked.output
    default = pd.read_csv(tmp_path / "out" / "default_allocation.csv", dtype={"region_id": str})
    default.loc[0, "amount_usd"] += 7e9  # over the $6B cap, and over the budget
    default.to_csv(tmp_path / "out" / "default_allocation.csv", index=False)
    broken = runner.invoke(app, ["check", str(tmp_path / "out")])
    assert broken.exit_code == 1
    assert "default plan: region_cap" in broken.output
    assert "default plan: budget" in broken.output


def test_a_scenario_file_with_stakeholders_is_a_consensus_spec(states: pf.Regions) -> None:
    spec = cs.consensus_spec_from_dict({
        "packs": ["tech_hubs_2022_statute"], "budget": "$504M",
        "stakeholders": {"a": {}, "b": {"spread_weight": 0.9}}})
    assert spec.scenario == {"packs": ["tech_hubs_2022_statute"], "budget": "$504M"}
    _, base = cs.prepare_spec(spec)
    assert base.hubs is not None and base.budget == 504e6  # the pack's rules hold
    with pytest.raises(ScenarioError, match="budgett"):
        cs.prepare_spec(cs.consensus_spec_from_dict({"budgett": 1, "stakeholders": {"a": {}}}))


def test_metros_specs_start_from_the_documented_metro_default() -> None:
    spec = cs.consensus_spec_from_dict({"regions": "metros", "scenario": {"spread_weight": 0.7},
                                        "stakeholders": {"a": {}}})
    regions, base = cs.prepare_spec(spec)
    from optimizer.engine.scenario import region_set_default

    documented = region_set_default("metros", regions.indicators)
    assert base.spread_measure == "hoover" and base.weights == documented.weights
    assert base.spread_weight == 0.7


@pytest.mark.parametrize("scheduler", ["serial", "local"])
def test_individual_optima_also_run_through_the_sensitivity_execution(tmp_path,
                                                                       scheduler: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("regions: states\nstakeholders:\n"
                    "  research: {weights: {university_se_rd_musd: 1, cs_doctorates: 1}}\n"
                    "  regions: {spread_weight: 0.9}\n")
    runner = CliRunner()
    done = runner.invoke(app, ["consensus", str(spec), "--out", str(tmp_path / "out"),
                               "--scheduler", scheduler])
    assert done.exit_code == 0, done.output
    info = json.loads((tmp_path / "out" / "consensus.json").read_text())["info"]
    runs = info["individual_optima_runs"]
    assert scheduler in runs["backend"].lower() or "dask" in runs["backend"].lower()
    for name in ("research", "regions"):
        row = runs["stakeholders"][name]
        assert row["status"] == "ok"
        # an ordinary plan with the stakeholder's settings reaches the one-model optimum
        assert row["S"] == pytest.approx(row["one_model_S"], rel=2e-3)
    assert runner.invoke(app, ["check", str(tmp_path / "out")]).exit_code == 0
