"""Workbench logic: controls, headline numbers, drill-down, uploads, plan library, comparisons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import optimizer as pf
from optimizer import workbench as wb
from optimizer.data import DATA_DIR

CSV = (DATA_DIR / "states.csv").read_bytes()


@pytest.fixture(scope="module")
def states() -> pf.Regions:
    return pf.load_regions("states")


@pytest.fixture(scope="module")
def planner(states: pf.Regions) -> pf.Planner:
    return pf.Planner(states)


@pytest.fixture(scope="module")
def plan(planner: pf.Planner) -> pf.AllocationResult:
    return planner.solve(pf.load_scenario())


def _widgets(states: pf.Regions, scenario: pf.Scenario | None = None) -> dict:
    sc = scenario or pf.load_scenario()
    return wb.widget_values(wb.controls_from_scenario(sc, states), states, list(sc.instruments))


def _scenario(states: pf.Regions, **changes: object) -> pf.Scenario:
    base = pf.load_scenario()
    values = {**_widgets(states, base), **changes}
    return wb.apply_controls(base, states, wb.controls_from_widgets(values, states, base))


def test_untouched_controls_give_back_the_very_same_scenario(states: pf.Regions) -> None:
    base = pf.load_scenario().updated(spread_weight=0.123456789, budget=12_345_678_901)
    values = _widgets(states, base)
    assert wb.apply_controls(base, states, wb.controls_from_widgets(values, states, base)) is base


def test_weight_and_lambda_controls_change_the_scenario(states: pf.Regions) -> None:
    sc = _scenario(states, lam=0.9, w_gdp_musd=0.5, w_ai_job_postings=0.0)
    assert sc.spread_weight == 0.9
    assert "ai_job_postings" not in sc.weights
    assert sc.normalized_weights["gdp_musd"] == pytest.approx(0.5 / 1.3)


def test_all_weights_zero_is_refused_with_a_clear_message(states: pf.Regions) -> None:
    zeros = {f"w_{k}": 0.0 for k in states.indicators}
    with pytest.raises(pf.ScenarioError, match="all indicator weights are zero"):
        _scenario(states, **zeros)


def test_exclusions_and_region_caps_hold_in_the_solved_plan(states: pf.Regions, planner: pf.Planner) -> None:
    sc = _scenario(states, excluded=["06"], topk_inc=2, capped=["36"], cap_36=0.5)
    result = planner.solve(sc)
    funding = result.regions.set_index("region_id")["funding_usd"]
    assert funding["06"] == 0.0
    assert funding["36"] <= 0.5e9 + 1.0
    assert int(result.regions["excluded"].sum()) >= 2
    assert pf.check(result.allocation, states, result.scenario, reported=result.metrics_after).ok


def test_a_binding_region_cap_is_explained_by_name(states: pf.Regions, planner: pf.Planner,
                                                   plan: pf.AllocationResult) -> None:
    top = plan.regions.nlargest(1, "funding_usd").iloc[0]
    rid, half = str(top["region_id"]), float(top["funding_usd"]) / 2e9
    result = planner.solve(_scenario(states, capped=[rid], **{f"cap_{rid}": half}))
    sentences = wb.marginal_sentences(result)
    assert sentences[0].startswith("one more $1B of budget would add")
    assert any(str(top["name"]) in s for s in sentences[1:])


def test_conflicting_settings_raise_infeasible_with_what_to_relax(states: pf.Regions,
                                                                  planner: pf.Planner) -> None:
    with pytest.raises(pf.InfeasibleError) as err:
        planner.solve(_scenario(states, floor=2.0))
    assert err.value.conflicts and "floor" in " ".join(err.value.conflicts).lower()


def test_headline_numbers_are_formatted(plan: pf.AllocationResult) -> None:
    items = {h.label: h for h in wb.headline(plan)}
    b, a = plan.metrics_before, plan.metrics_after
    assert items["Top-10 share of capacity"].value == f"{b['top10_share']:.1%} → {a['top10_share']:.1%}"
    assert items["Budget spent"].value == "$80.0B of $80.0B"
    assert items["Spread-adjusted capacity S_λ"].value == f"{a['spread_adjusted_capacity']:.2f} points"
    assert all(h.help for h in items.values())


def test_allocation_table_is_sorted_by_funding(plan: pf.AllocationResult) -> None:
    table = wb.allocation_table(plan)
    assert table["Funding"].is_monotonic_decreasing
    assert table["Funding"].sum() == pytest.approx(80e9)
    assert {"Research", "Talent", "Compute", "Venture"} <= set(table.columns)


def test_region_detail_adds_up(plan: pf.AllocationResult, states: pf.Regions) -> None:
    detail = wb.region_detail(plan, states, "06")
    row = plan.regions.set_index("region_id").loc["06"]
    assert detail.name == "California"
    assert detail.instruments["gain_points"].sum() == pytest.approx(row["capacity_gain"])
    assert detail.instruments["funding_usd"].sum() == pytest.approx(row["funding_usd"])
    assert np.nanmax(detail.instruments["marginal_points_per_busd"]) == pytest.approx(
        row["marginal_points_per_busd"])
    assert "points per extra $1B" in detail.summary["Marginal return"]
    with pytest.raises(pf.DataError, match="not in this plan"):
        wb.region_detail(plan, states, "99")


def test_upload_of_a_good_csv_with_geometry(tmp_path: Path) -> None:
    geo = (DATA_DIR / "states.geojson").read_bytes()
    regions = wb.regions_from_upload("mine.csv", CSV, "mine.geojson", geo, home=tmp_path)
    assert len(regions) == 51 and regions.source == "mine.csv"
    assert len(regions.geometry()) == 51


def test_upload_of_a_bad_csv_names_file_row_and_column() -> None:
    bad = CSV.replace(b"Alabama,South,East South Central,5074296", b"Alabama,South,East South Central,many")
    with pytest.raises(pf.DataError) as err:
        wb.regions_from_upload("bad.csv", bad)
    assert "bad.csv" in str(err.value) and "row 2" in str(err.value) and "population" in str(err.value)


def test_upload_above_the_size_limit_is_refused_politely() -> None:
    with pytest.raises(pf.DataError, match="the limit is 5 MB"):
        wb.regions_from_upload("huge.csv", b"x" * (wb.MAX_UPLOAD_BYTES + 1))


def test_geojson_that_misses_regions_is_refused_by_its_upload_name(tmp_path: Path) -> None:
    data = json.loads((DATA_DIR / "states.geojson").read_text())
    data["features"] = data["features"][:10]
    with pytest.raises(pf.DataError) as err:
        wb.regions_from_upload("ok.csv", CSV, "shapes.geojson", json.dumps(data).encode(), home=tmp_path)
    assert "shapes.geojson" in str(err.value) and "have no geometry" in str(err.value)


def test_bad_scenario_yaml_names_the_file_and_key() -> None:
    with pytest.raises(pf.ScenarioError) as err:
        wb.scenario_from_upload("plan.yaml", b"spread_weight: 3\n")
    assert "plan.yaml" in str(err.value) and "spread_weight" in str(err.value)
    with pytest.raises(pf.ScenarioError, match="not valid YAML"):
        wb.scenario_from_upload("plan.yaml", b"budget: [1,\n")


def test_fit_scenario_adapts_to_a_table_with_other_indicators(planner: pf.Planner) -> None:
    csv = b"region_id,name,population,patents\na,Alpha,100,5\nb,Beta,300,1\nc,Gamma,200,0\n"
    regions = wb.regions_from_upload("own.csv", csv)
    scenario, notes = wb.fit_scenario(pf.load_scenario(), regions)
    assert scenario.weights == {"patents": 1.0}
    assert any("dropped" in n for n in notes)
    result = pf.Planner(regions).solve(scenario)
    assert result.spent_usd == pytest.approx(80e9)


def test_library_saves_without_overwriting_survives_reload_and_deletes(
        plan: pf.AllocationResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLACEFUND_HOME", str(tmp_path / "home"))
    lib = wb.PlanLibrary()
    assert lib.root == tmp_path / "home" / "plans"
    first = lib.save("Baseline / λ 0.5", plan)
    second = lib.save("Baseline / λ 0.5", plan)
    assert (first.name, second.name) == ("Baseline / λ 0.5", "Baseline / λ 0.5 (2)")
    assert first.path != second.path and (first.path / "allocation.csv").exists()
    again = wb.PlanLibrary()  # a page reload: a fresh object reads the folder
    assert again.names() == ["Baseline / λ 0.5", "Baseline / λ 0.5 (2)"]
    loaded = again.get("Baseline / λ 0.5").load()
    assert loaded.metrics_after == pytest.approx(plan.metrics_after)
    again.delete("Baseline / λ 0.5")
    assert again.names() == ["Baseline / λ 0.5 (2)"]
    with pytest.raises(pf.ScenarioError, match="give the plan a name"):
        again.save("   ", plan)
    with pytest.raises(pf.DataError, match="no saved plan"):
        again.delete("nope")


def test_compare_and_difference_of_two_plans(plan: pf.AllocationResult, planner: pf.Planner,
                                             states: pf.Regions) -> None:
    other = planner.solve(_scenario(states, lam=1.0))
    table = wb.compare_metrics({"A": plan, "B": other})
    assert list(table.columns) == ["Unit", "Baseline", "A", "B"]
    assert table.loc["Gini of per-capita capacity", "B"] == f"{other.metrics_after['gini']:.3f}"
    diff = wb.difference_table(plan, other, "A", "B")
    assert diff["Funding change"].sum() == pytest.approx(0.0, abs=1e3)
    assert diff["Funding change"].abs().is_monotonic_decreasing
    assert wb.same_regions({"A": plan, "B": other})
