"""Workbench logic: the knob table, headline numbers, drill-down, uploads, plan library, comparisons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import optimizer as pf
from optimizer.engine.data import DATA_DIR, REGION_SETS
from optimizer.engine.result import SolverInfo
from optimizer.report import library as lib
from optimizer.report import text as tx
from optimizer.report import uploads as up
from optimizer.ui import controls as ctl
from optimizer.ui import sensitivity as sens
from optimizer.ui import state as stt
from optimizer.ui import uploads as uui

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
    return ctl.widget_values(sc, states)


def _scenario(states: pf.Regions, **changes: object) -> pf.Scenario:
    base = pf.load_scenario()
    values = {**_widgets(states, base), **changes}
    return ctl.scenario_from_widgets(base, states, values)


def test_untouched_controls_give_back_the_very_same_scenario(states: pf.Regions) -> None:
    base = pf.load_scenario().updated(spread_weight=0.123456789, budget=12_345_678_901)
    values = _widgets(states, base)
    assert ctl.scenario_from_widgets(base, states, values) is base


@pytest.mark.parametrize("region_set", REGION_SETS)
def test_the_knob_table_round_trips_each_shipped_default(region_set: str) -> None:
    regions = pf.load_regions(region_set)
    base = ctl.default_scenario_for(region_set, regions)
    values = ctl.widget_values(base, regions)
    # every knob has a position (family members: one per indicator, instrument, ...)
    # and each position has its row in the table
    assert {ctl.knob(key).key for key in values} >= {k.key for k in ctl.KNOBS if k.kind != "part"}
    assert {f"w_{k}" for k in regions.indicators} | {
        ctl.yield_key(n, k) for n, ins in base.instruments.items() for k in ins.yields} <= set(values)
    again = ctl.scenario_from_widgets(base, regions, values)
    assert again is base  # untouched widgets: the very same scenario
    assert ctl.widget_values(again, regions) == values
    # a copy of every value (as a page rerun holds them) gives back an equal scenario too
    copied = ctl.scenario_from_widgets(base, regions, {k: (list(v) if isinstance(v, list) else v)
                                                       for k, v in values.items()})
    assert copied.fingerprint() == base.fingerprint()


def test_every_knob_has_a_label_a_unit_and_a_known_kind() -> None:
    keys = [k.key for k in ctl.KNOBS]
    assert len(keys) == len(set(keys))
    for row in ctl.KNOBS:
        assert row.label.strip() and row.unit.strip(), row.key
        assert row.kind in (*ctl.PLAIN_KINDS, "part", *ctl._CODECS), row.key
        assert row.widget in ("number", "slider", "checkbox", "radio", "select", "multiselect",
                              "text")
        assert row.switch is None or ctl.knob(row.switch).kind == "switch", row.key
        if row.widget in ("number", "slider") and row.hi is not None and row.lo is not None:
            assert row.lo < row.hi, row.key
    assert ctl.knob("w_gdp_musd").key == "w_" and ctl.knob("cap_06").text("California") == (
        "Cap on California ($B)")
    with pytest.raises(KeyError, match="no knob"):
        ctl.knob("no_such_widget")


def test_a_knob_writes_only_its_own_setting(states: pf.Regions) -> None:
    base = pf.load_scenario()
    values = _widgets(states, base)
    moved = ctl.scenario_from_widgets(base, states, {**values, "budget": 40.0, "hub_kmin": 3})
    assert moved.to_dict() == {**base.to_dict(), "budget": 40e9}  # hubs are off: hub_kmin is idle
    capped = ctl.scenario_from_widgets(base, states, {**values, "topk_on": True, "topk_k": 5})
    assert capped.top_k_share_cap is not None
    assert (capped.top_k_share_cap.k, capped.top_k_share_cap.max_share) == (5, 0.6)
    assert ctl.scenario_from_widgets(capped, states, {**_widgets(states, capped),
                                                      "topk_on": False}).top_k_share_cap is None


def test_weight_and_lambda_controls_change_the_scenario(states: pf.Regions) -> None:
    sc = _scenario(states, lam=0.9, w_gdp_musd=0.5, w_ai_job_postings=0.0)
    assert sc.spread_weight == 0.9
    assert "ai_job_postings" not in sc.weights
    # the other default weights add up to 0.85
    assert sc.normalized_weights["gdp_musd"] == pytest.approx(0.5 / 1.35)


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
    sentences = tx.marginal_sentences(result)
    assert sentences[0].startswith("one more $1B of budget would add")
    assert any(str(top["name"]) in s for s in sentences[1:])


def test_conflicting_settings_raise_infeasible_with_what_to_relax(states: pf.Regions,
                                                                  planner: pf.Planner) -> None:
    with pytest.raises(pf.InfeasibleError) as err:
        planner.solve(_scenario(states, floor=2.0))
    assert err.value.conflicts and "floor" in " ".join(err.value.conflicts).lower()


def test_headline_numbers_are_formatted(plan: pf.AllocationResult) -> None:
    items = {h.label: h for h in tx.headline(plan)}
    b, a = plan.metrics_before, plan.metrics_after
    assert items["Top-10 share of capacity"].value == f"{b['top10_share']:.1%} → {a['top10_share']:.1%}"
    assert items["Budget spent"].value == "$80.0B of $80.0B"
    assert items["Spread-adjusted capacity S_λ"].value == f"{a['spread_adjusted_capacity']:.2f} points"
    assert all(h.help for h in items.values())


def test_allocation_table_is_sorted_by_funding(plan: pf.AllocationResult) -> None:
    table = tx.allocation_table(plan)
    assert table["Funding"].is_monotonic_decreasing
    assert table["Funding"].sum() == pytest.approx(80e9)
    assert {"Research grants", "Talent and training", "Compute and infrastructure",
            "Venture co-investment"} <= set(table.columns)  # human labels, not raw names


def test_region_detail_adds_up(plan: pf.AllocationResult, states: pf.Regions) -> None:
    detail = tx.region_detail(plan, states, "06")
    row = plan.regions.set_index("region_id").loc["06"]
    assert detail.name == "California"
    assert detail.instruments["gain_points"].sum() == pytest.approx(row["capacity_gain"])
    assert detail.instruments["funding_usd"].sum() == pytest.approx(row["funding_usd"])
    assert np.nanmax(detail.instruments["marginal_points_per_busd"]) == pytest.approx(
        row["marginal_points_per_busd"])
    assert "points per extra $1B" in detail.summary["Marginal return"]
    with pytest.raises(pf.DataError, match="not in this plan"):
        tx.region_detail(plan, states, "99")


def test_upload_of_a_good_csv_with_geometry(tmp_path: Path) -> None:
    geo = (DATA_DIR / "states.geojson").read_bytes()
    regions = up.regions_from_upload("mine.csv", CSV, "mine.geojson", geo, home=tmp_path)
    assert len(regions) == 51 and regions.source == "mine.csv"
    assert len(regions.geometry()) == 51


def test_upload_of_a_bad_csv_names_file_row_and_column() -> None:
    bad = CSV.replace(b"Alabama,South,East South Central,5074296", b"Alabama,South,East South Central,many")
    with pytest.raises(pf.DataError) as err:
        up.regions_from_upload("bad.csv", bad)
    assert "bad.csv" in str(err.value) and "row 2" in str(err.value) and "population" in str(err.value)


def test_upload_above_the_size_limit_is_refused_politely() -> None:
    with pytest.raises(pf.DataError, match="the limit is 5 MB"):
        up.regions_from_upload("huge.csv", b"x" * (up.MAX_UPLOAD_BYTES + 1))


def test_geojson_that_misses_regions_is_refused_by_its_upload_name(tmp_path: Path) -> None:
    data = json.loads((DATA_DIR / "states.geojson").read_text())
    data["features"] = data["features"][:10]
    with pytest.raises(pf.DataError) as err:
        up.regions_from_upload("ok.csv", CSV, "shapes.geojson", json.dumps(data).encode(), home=tmp_path)
    assert "shapes.geojson" in str(err.value) and "have no geometry" in str(err.value)


def test_bad_scenario_yaml_names_the_file_and_key() -> None:
    with pytest.raises(pf.ScenarioError) as err:
        up.scenario_from_upload("plan.yaml", b"spread_weight: 3\n")
    assert "plan.yaml" in str(err.value) and "spread_weight" in str(err.value)
    with pytest.raises(pf.ScenarioError, match="not valid YAML"):
        up.scenario_from_upload("plan.yaml", b"budget: [1,\n")


def test_fit_scenario_adapts_to_a_table_with_other_indicators(planner: pf.Planner) -> None:
    csv = b"region_id,name,population,patents\na,Alpha,100,5\nb,Beta,300,1\nc,Gamma,200,0\n"
    regions = up.regions_from_upload("own.csv", csv)
    scenario, notes = up.fit_scenario(pf.load_scenario(), regions)
    assert scenario.weights == {"patents": 1.0}
    assert any(n.startswith("Weights: none of the scenario's weighted indicators") for n in notes)
    result = pf.Planner(regions).solve(scenario)
    assert result.spent_usd == pytest.approx(80e9)


def test_a_large_upload_is_planned_with_the_hoover_spread_and_a_huge_one_refused() -> None:
    rows = "".join(f"r{i:04d},Region {i},{1000 + 37 * i},{(i * 7919) % 97}\n" for i in range(400))
    regions = up.regions_from_upload("big.csv", f"region_id,name,population,patents\n{rows}".encode())
    scenario, notes = up.fit_scenario(pf.load_scenario(), regions)
    assert scenario.spread_measure == "hoover"
    assert any("Hoover index" in n and "400" in n for n in notes)
    plan = pf.Planner(regions).solve(scenario)
    assert plan.spent_usd == pytest.approx(80e9) and len(plan.regions) == 400
    rows = "".join(f"r{i},R{i},10,1\n" for i in range(up.MAX_APP_REGIONS + 1))
    with pytest.raises(pf.DataError, match="plans up to 5,000"):
        up.regions_from_upload("huge.csv", f"region_id,name,population,x\n{rows}".encode())


def test_library_saves_without_overwriting_survives_reload_and_deletes(
        plan: pf.AllocationResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLACEFUND_HOME", str(tmp_path / "home"))
    library = lib.PlanLibrary()
    assert library.root == tmp_path / "home" / "plans"
    first = library.save("Baseline / λ 0.5", plan)
    second = library.save("Baseline / λ 0.5", plan)
    assert (first.name, second.name) == ("Baseline / λ 0.5", "Baseline / λ 0.5 (2)")
    assert first.path != second.path and (first.path / "allocation.csv").exists()
    again = lib.PlanLibrary()  # a page reload: a fresh object reads the folder
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
    table = lib.compare_metrics({"A": plan, "B": other})
    assert list(table.columns) == ["Unit", "Baseline", "A", "B"]
    assert table.loc["Gini of per-capita capacity", "B"] == f"{other.metrics_after['gini']:.3f}"
    diff = lib.difference_table(plan, other, "A", "B")
    assert diff["Funding change"].sum() == pytest.approx(0.0, abs=1e3)
    assert diff["Funding change"].abs().is_monotonic_decreasing
    assert lib.same_regions({"A": plan, "B": other})


# --------------------------------------------------------------------------- program rules

TINY = (b"region_id,name,population,zone,patents,firms\n"
        b"a,Alpha,100,East,5,3\nb,Beta,300,East,1,2\nc,Gamma,200,West,2,4\nd,Delta,150,West,3,1\n")


@pytest.fixture(scope="module")
def tiny() -> pf.Regions:
    return up.regions_from_upload("tiny.csv", TINY)


def _tiny_scenario(tiny: pf.Regions, **widgets: object) -> pf.Scenario:
    base, _ = up.fit_scenario(pf.load_scenario().updated(budget="$1B"), tiny)
    values = {**_widgets(tiny, base), **widgets}
    return ctl.scenario_from_widgets(base, tiny, values)


def test_a_pack_fills_its_keys_and_the_persons_own_changes_win(states: pf.Regions) -> None:
    origin = pf.load_scenario()
    packed, notes = ctl.with_packs(origin, ["per_capita_floor"], origin)
    assert packed.packs == ["per_capita_floor"] and packed.per_capita_floor == 0.5 and not notes
    # the app's own (unchanged) position for the key is not sent: the widgets now show the pack
    assert _widgets(states, packed)["pcf_on"] is True
    assert ctl.scenario_from_widgets(packed, states, _widgets(states, packed)) is packed
    # a change the person makes afterwards wins over the pack
    mine = ctl.scenario_from_widgets(packed, states, {**_widgets(states, packed), "pcf": 0.6})
    assert mine.per_capita_floor == 0.6 and mine.packs == ["per_capita_floor"]
    # switching the pack off returns the key to the loaded scenario's value
    off, _ = ctl.with_packs(mine, [], origin)
    assert off.per_capita_floor is None and off.packs == []
    # a key the person changed before switching the pack on stays theirs, and they are told
    excluded = origin.updated(exclusions={"regions": ["06"], "top_k_incumbents": 0, "instruments": {}})
    kept, notes = ctl.with_packs(excluded, ["no_incumbents"], origin)
    assert kept.exclusions.regions == ["06"] and kept.exclusions.top_k_incumbents == 0
    assert any("exclusions" in n and "wins" in n for n in notes)
    with pytest.raises(pf.ScenarioError, match="unknown pack"):
        ctl.with_packs(origin, ["no_such_pack"], origin)
    assert set(ctl.pack_docs()) == {"tech_hubs_2022_statute", "tech_hubs_2022_statute_metros",
                                   "no_incumbents", "per_capita_floor"}


def test_statute_pack_roundtrips_through_the_hub_controls(states: pf.Regions) -> None:
    origin = pf.load_scenario()
    packed, _ = ctl.with_packs(origin, ["tech_hubs_2022_statute"], origin)
    values = _widgets(states, packed)
    assert (values["hubs_on"], values["hub_kmin"], values["hub_kmax"]) == (True, 20, 0)
    assert (values["hub_amin"], values["hub_amax"]) == (19.0, 51.0)
    assert (values["hub_gcol"], values["hub_gmin"]) == ("census_region", 3)
    assert ctl.scenario_from_widgets(packed, states, values) is packed
    more = ctl.scenario_from_widgets(packed, states, {**values, "hub_kmax": 25})
    assert more.hubs is not None and more.hubs.count.max == 25
    assert more.hubs.designated is not None  # the pack's other rules stay
    off = ctl.scenario_from_widgets(packed, states, {**values, "hubs_on": False})
    assert off.hubs is None


def test_hub_controls_solve_and_the_headline_shows_hubs_gap_and_proof(tiny: pf.Regions) -> None:
    sc = _tiny_scenario(tiny, hubs_on=True, hub_kmin=2, hub_kmax=2, hub_gcol="zone", hub_gmin=1,
                        hub_amin=100.0)
    assert sc.hubs is not None and sc.hubs.min_per_group == {"zone": 1}
    assert sc.hubs.award_usd.min == 100e6
    result = pf.Planner(tiny).solve(sc)
    hubs = result.regions[result.regions["hub"]]
    assert len(hubs) == 2 and set(hubs["zone"]) == {"East", "West"}
    item = next(h for h in tx.headline(result) if h.label == "Hubs selected")
    assert item.value == "2 of 4 regions"
    assert item.delta is not None and "MIP gap" in item.delta and "optimality proven" in item.delta
    assert "Hub" in tx.allocation_table(result).columns
    assert all("given the chosen hubs" in s for s in tx.marginal_sentences(result))


def test_an_infeasible_hub_rule_gets_relaxations_that_solve_when_applied(tiny: pf.Regions) -> None:
    sc = _tiny_scenario(tiny, hubs_on=True, hub_kmin=1, hub_kmax=1, hub_gcol="zone", hub_gmin=1)
    with pytest.raises(pf.InfeasibleError) as info:
        pf.solve_explained(pf.Planner(tiny), sc)
    relaxations = info.value.diagnosis.relaxations
    assert relaxations and "maximum number of hubs" in relaxations[0].text
    for relaxation in relaxations:
        fixed = ctl.apply_relaxation(sc, relaxation.changes)
        assert pf.Planner(tiny).solve(fixed).spent_usd == pytest.approx(1e9)


# --------------------------------------------------------------------------- region sets


def test_metro_default_plan_is_documented_and_valid() -> None:
    metros = pf.load_regions("metros")
    sc = ctl.default_scenario_for("metros", metros)
    assert sc.spread_measure == "hoover"
    assert set(sc.weights) <= set(metros.indicators)
    assert not any(k.endswith("_apportioned") for k in sc.weights)
    for ins in sc.instruments.values():
        assert ins.absorbs and set(ins.absorbs) <= set(metros.indicators)
    assert sc.missing_policy("oews_software_developers") == "half_min"
    assert sc.missing_policy("cbp_semiconductors") == "zero"
    assert sc.missing_policy("utility_patents_2000_2015") == "median"
    notes = " ".join(ctl.region_set_notes("metros", sc))
    assert "Software developers 20%" in notes and "half the smallest published value" in notes
    assert "apportioned" in notes and "Hoover" in notes
    assert ctl.default_scenario_for("states", pf.load_regions("states")) is pf.load_scenario()
    assert ctl.region_set_notes("states", pf.load_scenario()) == []


def test_indicator_labels_come_from_the_column_registry() -> None:
    label, tip = tx.indicator_label("oews_software_developers")
    assert label == "Software developers" and "jobs" in tip and "OEWS" in tip
    label, tip = tx.indicator_label("gdp_musd_apportioned")
    assert "apportioned" in label and "apportioned" in tip
    assert tx.indicator_label("my_column")[0] == "My column"  # a user's own column


def test_gini_is_offered_only_up_to_the_engines_limit() -> None:
    assert ctl.spread_measure_choice(51) == (["gini", "hoover"], None)
    options, why = ctl.spread_measure_choice(387)
    assert options == ["hoover"] and why is not None and "250" in why


def test_spread_measure_control_changes_the_objective(states: pf.Regions, planner: pf.Planner) -> None:
    sc = _scenario(states, spread_measure="hoover")
    assert sc.spread_measure == "hoover" and sc.objective_key == "spread_adjusted_capacity_hoover"
    assert planner.solve(sc).spent_usd == pytest.approx(80e9)


# --------------------------------------------------------------------------- sensitivity


def test_sensitivity_specs_for_every_analysis_and_their_run_counts() -> None:
    base = pf.load_scenario()
    counts = {kind: sens.expected_runs(sens.sensitivity_spec(kind, {"points": 4, "runs": 7,
                                                                "base_samples": 4}), base)
              for kind in sens.SENSITIVITY_KINDS}
    factors = 3 + len(base.weights)
    assert counts == {"sweep_budget": 4, "sweep_lambda": 4, "robust": 7, "pareto": 4,
                      "tornado": 1 + 2 * (3 + len(base.weights) + sum(
                          len(ins.yields) for ins in base.instruments.values())),
                      "sobol": 4 * (factors + 2)}
    spec = sens.sensitivity_spec("sweep_budget", {"budget_range_busd": (10, 40), "points": 4})
    assert spec.vary["budget"].values() == pytest.approx([10e9, 20e9, 30e9, 40e9])
    with pytest.raises(pf.ScenarioError, match="points|num"):
        sens.sensitivity_spec("sweep_lambda", {"points": 1})
    with pytest.raises(pf.ScenarioError, match="tcp://HOST:PORT"):
        sens.sensitivity_backend("my laptop")
    assert sens.sensitivity_backend("").kind == "serial"
    assert sens.sensitivity_backend("tcp://127.0.0.1:8786").address == "tcp://127.0.0.1:8786"


def test_robust_run_reports_progress_probabilities_and_csv_tables(tiny: pf.Regions) -> None:
    base, _ = up.fit_scenario(pf.load_scenario().updated(budget="$1B"), tiny)
    seen: list[tuple[int, int]] = []
    run = sens.run_sensitivity("robust", {"runs": 6, "threshold_musd": 1.0}, tiny, base,
                             progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (6, 6) and run.seconds > 0 and run.backend.startswith("serial")
    frame = sens.robustness_frame(run)
    assert frame is not None and sorted(frame["region_id"]) == ["a", "b", "c", "d"]
    assert frame["core_index"].between(0, 1).all()
    files = {name: data for _, name, data in sens.sensitivity_downloads(run)}
    assert "placefund-robust-robust_regions.csv" in files
    assert b"core_index" in files["placefund-robust-robust_regions.csv"]
    sweep = sens.run_sensitivity("sweep_lambda", {"points": 3}, tiny, base)
    assert sens.robustness_frame(sweep) is None and len(sweep.result.tables["runs"]) == 3


def test_solve_time_counts_the_model_build_when_the_plan_was_rebuilt() -> None:
    first = tx.solve_time_headline(SolverInfo(rebuilt=True, build_time_s=3.9, translate_time_s=5.9,
                                              start_time_s=0.45, solve_time_s=0.35,
                                              start="shipped basis"))
    assert first.value == "10.6 s" and "building the model" in first.help
    assert "shipped basis" in first.help
    again = tx.solve_time_headline(SolverInfo(rebuilt=False, build_time_s=0.002,
                                              translate_time_s=0.0, start_time_s=0.0,
                                              solve_time_s=0.05))
    assert again.value == "52 ms" and "re-solving it from the last basis" in again.help


def test_the_upload_limit_the_caption_states_is_the_one_streamlit_enforces() -> None:
    import tomllib

    config = tomllib.loads((Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml")
                           .read_text())
    assert config["server"]["maxUploadSize"] == up.MAX_UPLOAD_MB
    assert up.MAX_UPLOAD_BYTES == up.MAX_UPLOAD_MB * 2**20  # Streamlit's MB
    up.check_upload_size("ok.csv", up.MAX_UPLOAD_BYTES)
    with pytest.raises(pf.DataError, match="is 5.0 MB; the limit is 5 MB"):
        up.check_upload_size("big.csv", up.MAX_UPLOAD_BYTES + 1)


def test_uploads_are_kept_under_their_content_hash_with_their_name(tmp_path: Path) -> None:
    digest = up.store_upload(b"region_id,name\n", "csv", home=tmp_path, name="/x/mine.csv")
    assert digest == up.content_hash(b"region_id,name\n") and len(digest) == 16
    assert up.stored_upload(digest, "csv", home=tmp_path) == b"region_id,name\n"
    assert up.stored_name(digest, "csv", home=tmp_path) == "mine.csv"
    assert up.stored_upload("0" * 16, "csv", home=tmp_path) is None


def test_the_missing_value_policy_control_writes_the_default_and_keeps_column_policies(
        states: pf.Regions) -> None:
    base = pf.load_scenario()  # {'default': 'error', 'ai_vc_musd': 'zero', ...}
    assert _widgets(states, base)["missing"] == "error"
    median = ctl.scenario_from_widgets(base, states, {**_widgets(states, base), "missing": "median"})
    assert median.missing_values == {"default": "median", "ai_vc_musd": "zero",
                                     "cbp_semiconductors": "half_min"}
    assert median.missing_policy("talent") == "median" and median.missing_policy("ai_vc_musd") == "zero"
    plain = base.updated(missing_values="error")
    assert up.with_missing_policy(plain, "zero").missing_values == "zero"
    assert up.with_missing_policy(plain, "error") is plain


def test_an_upload_with_empty_cells_solves_with_the_chosen_policy() -> None:
    csv = b"region_id,name,population,patents\na,Alpha,100,5\nb,Beta,300,NA\nc,Gamma,200,-\n"
    regions = up.regions_from_upload("gaps.csv", csv)
    scenario, _ = up.fit_scenario(pf.load_scenario(), regions)
    with pytest.raises(pf.DataError, match="missing value"):
        pf.Planner(regions).solve(up.with_missing_policy(scenario, "error"))
    plan = pf.Planner(regions).solve(up.with_missing_policy(scenario, "median"))
    assert plan.filled_values == {"patents": 2}
    assert plan.spent_usd == pytest.approx(80e9)


def test_a_link_holds_only_what_changed_and_reads_back_the_same_plan(states: pf.Regions) -> None:
    reference = pf.load_scenario()
    assert stt.link_params("states", reference, reference) == {"v": "1", "set": "states"}
    changed = reference.updated(spread_weight=0.7, budget=0.504e9)
    params = stt.link_params("states", changed, reference)
    assert set(params) == {"v", "set", "s"} and len(params["s"]) < 80
    link = stt.read_link(params)
    assert link is not None and link.problem is None
    assert link.changes == {"spread_weight": 0.7, "budget": 0.504e9}
    again, problem = stt.apply_link(reference, link)
    assert problem is None and again.fingerprint() == changed.fingerprint()
    upload = stt.link_params("upload", changed, reference, "ab" * 8, "cd" * 8)
    assert (upload["u"], upload["g"]) == ("ab" * 8, "cd" * 8)
    assert stt.read_link({}) is None


@pytest.mark.parametrize(("params", "problem"), [
    ({"v": "9", "set": "states"}, "format version '9'"),
    ({"v": "1", "set": "moon"}, "unknown region set 'moon'"),
    ({"v": "1", "set": "states", "s": "not-base64!"}, "could not be read"),
    ({"v": "1", "set": "upload"}, "no valid content hash"),
])
def test_a_bad_link_says_what_could_not_be_used(params: dict, problem: str) -> None:
    link = stt.read_link(params)
    assert link is not None and link.problem is not None and problem in link.problem


def test_a_link_whose_settings_do_not_validate_falls_back_to_the_reference() -> None:
    reference = pf.load_scenario()
    params = stt.link_params("states", reference.updated(spread_weight=0.5), reference)
    link = stt.read_link(params)
    assert link is not None
    bad = stt.Link(link.region_set, {"spread_weight": 7})
    scenario, problem = stt.apply_link(reference, bad)
    assert scenario is reference and problem is not None and "spread_weight" in problem


def test_history_undoes_and_redoes_and_a_new_change_ends_the_redo_list() -> None:
    a = pf.load_scenario()
    b, c, d = (a.updated(spread_weight=w) for w in (0.6, 0.7, 0.8))
    history = stt.History()
    for s in (a, a, b, c):  # the same scenario twice is one step
        history.record(s, "states")
    assert history.undo() is b and history.undo() is a and history.undo() is None
    assert history.can_redo and history.redo() is b
    history.record(d, "states")
    assert not history.can_redo and history.undo() is b
    history.record(a, "other regions")  # new data: a new history
    assert not history.can_undo and not history.can_redo


def test_a_pack_says_which_of_its_rules_a_fix_modified(states: pf.Regions) -> None:
    on, _ = ctl.with_packs(pf.load_scenario(), ["tech_hubs_2022_statute"], pf.load_scenario())
    assert ctl.pack_changes(on) == {"tech_hubs_2022_statute": []}
    assert ctl.pack_changes(on.updated(allow_unspent=True)) == {"tech_hubs_2022_statute": []}
    hubs = on.to_dict()["hubs"]
    hubs["award_usd"]["max"] = 1.57e9
    modified = ctl.pack_changes(on.updated(hubs=hubs))
    assert modified == {"tech_hubs_2022_statute": ["Award max"]}
    assert ctl.pack_caption("p", "doc", ["Award max"]) == "**p** (modified: Award max): doc"


def test_the_region_set_picker_names_an_upload_by_its_file() -> None:
    assert ctl.region_set_label("states") == "States (50 + DC)"
    assert ctl.region_set_label(stt.UPLOAD_SET, "new_england.csv") == "Your upload: new_england.csv"


def test_a_refused_upload_straight_after_a_removal_gives_back_what_the_removal_replaced() -> None:
    """A file chosen in a full uploader arrives as a removal, then the file: if the file is
    refused, the page goes back to what it showed before the removal."""
    replaced = {"loaded_set": "upload", "lam": 0.6}
    removed = uui.Removed(replaced, ("states-hash", "states-default"), at=50.0)
    assert uui.to_restore(removed, ("states-hash", "states-default"), now=50.4) == replaced
    # a person who removed the file, changed the plan or waited, keeps what is on screen
    assert uui.to_restore(removed, ("states-hash", "lambda moved"), now=50.4) is None
    assert uui.to_restore(removed, ("states-hash", "states-default"), now=80.0) is None
    assert uui.to_restore(None, ("states-hash", "states-default"), now=50.4) is None


def test_a_refused_upload_is_worded_for_the_page() -> None:
    try:
        up.regions_from_upload("bad.csv", CSV.replace(b",5074296,", b",-5,"), None, None)
    except pf.PlaceFundError as err:
        text = uui.refusal(err)
    assert text.startswith("file bad.csv") and "population" in text
    assert text.endswith(". Nothing was changed: the plan on screen stays.") and ".." not in text
    gap = pf.DataError("3 missing value(s), first for region 06; set missing_values.gdp_musd to "
                       "'zero', 'median' or 'half_min' in the scenario, or drop the indicator "
                       "from weights and absorbs", file="gaps.csv", column="gdp_musd")
    assert uui.refusal(gap) == (
        "gaps.csv: 3 empty cells in GDP, the first for region 06. Choose what empty cells mean "
        "under *Empty cells* above and the upload is tried again. Nothing was changed: the "
        "plan on screen stays.")
