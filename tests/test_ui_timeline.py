"""The workbench's plans over time without Streamlit: the sidebar's years and growth
knobs (through the knob table, the link and undo), and the Timeline tab's tables, each
read from a real HiGHS plan and checked against the plan's own numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optimizer import load_regions
from optimizer.analysis.evidence import evidence_table
from optimizer.analysis.periods import foresight
from optimizer.cli import app as cli
from optimizer.engine import formatting as fmt
from optimizer.engine.errors import ScenarioError
from optimizer.engine.scenario import base_scenario
from optimizer.engine.solve import Planner
from optimizer.report import text as tx
from optimizer.report import timeline as charts
from optimizer.ui import controls as ctl
from optimizer.ui import state as stt
from optimizer.ui import timeline as tl
from tests.factories import FOUR, tiny_scenario

THREE_YEARS = {"periods": {"years": 3}, "growth": {"base_rate": 0.02, "agglomeration_elasticity": 0.01}}


@pytest.fixture(scope="module")
def planner() -> Planner:
    return Planner(FOUR)


@pytest.fixture(scope="module")
def plan(planner: Planner):  # type: ignore[no-untyped-def]
    return planner.solve(tiny_scenario(**THREE_YEARS))


# --------------------------------------------------------------------------- the sidebar's knobs


def test_the_knobs_read_a_one_year_plan_as_years_1_and_no_growth() -> None:
    values = ctl.widget_values(tiny_scenario(), FOUR)
    assert {k: values[k] for k in ("years", "carryover", "growth_base", "growth_eta", "gc_on")} == {
        "years": 1, "carryover": False, "growth_base": 0.0, "growth_eta": 0.0, "gc_on": False}


def test_years_and_growth_widgets_write_the_time_keys_in_the_scenarios_units() -> None:
    base = tiny_scenario()
    sc = ctl.scenario_from_widgets(base, FOUR, {"years": 3, "carryover": True, "growth_base": 2.5,
                                                "growth_eta": 0.005})
    assert (sc.periods.years, sc.periods.carryover) == (3, True)
    assert sc.growth.base_rate == pytest.approx(0.025)  # the widget shows % a year
    assert sc.growth.agglomeration_elasticity == pytest.approx(0.005)
    assert ctl.widget_values(sc, FOUR)["growth_base"] == pytest.approx(2.5)


def test_years_back_to_1_resets_the_time_only_settings_and_their_widgets() -> None:
    base = tiny_scenario()
    over_time = ctl.scenario_from_widgets(base, FOUR, {"years": 4, "carryover": True,
                                                       "growth_base": 3.0, "growth_eta": 0.007})
    back = ctl.scenario_from_widgets(over_time, FOUR, {"years": 1})
    assert back == base  # the scenario would refuse carryover and growth with one year
    state = {**ctl.widget_values(over_time, FOUR), "years": 1}
    tl.on_years(state)
    assert (state["carryover"], state["growth_base"], state["growth_eta"]) == (False, 0.0, 0.0)
    state = {**ctl.widget_values(over_time, FOUR), "years": 2}
    tl.on_years(state)  # still a plan over time: nothing changes
    assert (state["carryover"], state["growth_base"]) == (True, 3.0)


def test_rates_read_off_the_plan_are_a_time_only_choice_that_solves_and_resets(
        planner: Planner) -> None:
    base = tiny_scenario()
    own = ctl.scenario_from_widgets(base, FOUR, {"years": 3, "growth_eta": 0.02,
                                                 "growth_rates": "plan"})
    assert own.growth.rates_from == "plan"
    assert ctl.widget_values(own, FOUR)["growth_rates"] == "plan"
    plan = planner.solve(own)
    assert plan.approximation["rates_converged"]
    state = {**ctl.widget_values(own, FOUR), "years": 1}
    tl.on_years(state)
    assert state["growth_rates"] == "no_policy"
    assert ctl.scenario_from_widgets(own, FOUR, {"years": 1}) == base
    link = stt.read_link(stt.link_params("upload", own, base, csv_hash="ab" * 8))
    assert link is not None and link.problem is None
    restored, problem = stt.apply_link(base, link, FOUR)
    assert problem is None and restored == own and restored.growth.rates_from == "plan"


def test_growth_centers_switch_writes_k_the_barred_leaders_and_the_years() -> None:
    base = tiny_scenario(periods={"years": 3})
    sc = ctl.scenario_from_widgets(base, FOUR, {"gc_on": True, "gc_count": 2, "gc_exclude": 1,
                                                "gc_years": 2})
    assert sc.growth_centers is not None
    assert (sc.growth_centers.count, sc.growth_centers.exclude_leading,
            sc.growth_centers.min_years) == (2, 1, 2)
    off = ctl.scenario_from_widgets(sc, FOUR, {"gc_on": False})
    assert off.growth_centers is None
    with pytest.raises(ScenarioError, match="growth_centers.min_years"):
        ctl.scenario_from_widgets(base, FOUR, {"gc_on": True, "gc_years": 5})


def test_the_link_and_undo_carry_years_and_growth() -> None:
    base = tiny_scenario()
    sc = ctl.scenario_from_widgets(base, FOUR, {"years": 3, "growth_base": 1.0})
    link = stt.read_link(stt.link_params("upload", sc, base, csv_hash="ab" * 8))
    assert link is not None and link.problem is None
    assert set(link.changes) == {"periods", "growth"}
    restored, problem = stt.apply_link(base, link, FOUR)
    assert problem is None and restored == sc
    history = stt.History()
    history.record(base, "data")
    history.record(sc, "data")
    undone = history.undo()
    assert undone is not None and ctl.widget_values(undone, FOUR)["years"] == 1
    redone = history.redo()
    assert redone is not None and ctl.widget_values(redone, FOUR)["years"] == 3


def test_growth_tooltips_quote_the_evidence_ranges() -> None:
    table = evidence_table()["growth"]
    base_rate = table["base_rate"]
    assert (f"{base_rate['low'] * 100:g} to {base_rate['high'] * 100:g}% a year"
            in ctl.knob("growth_base").help)
    eta = table["agglomeration_elasticity"]
    assert f"central {eta['central']:g}" in ctl.knob("growth_eta").help
    assert "docs/evidence.md#agglomeration-elasticity-of-growth-eta" in ctl.knob("growth_eta").help


def test_objective_year_and_discount_rate_round_trip_through_the_widgets() -> None:
    base = tiny_scenario(periods={"years": 3})
    assert {k: ctl.widget_values(base, FOUR)[k] for k in ("objective_year", "discount")} == {
        "objective_year": "final", "discount": 0.0}
    sc = ctl.scenario_from_widgets(base, FOUR, {"objective_year": "discounted", "discount": 5.0})
    assert (sc.objective_year, sc.discount_rate) == ("discounted", pytest.approx(0.05))
    assert sc.objective_key == "discounted_spread_adjusted"
    values = ctl.widget_values(sc, FOUR)
    assert values["objective_year"] == "discounted"
    assert values["discount"] == pytest.approx(5.0)  # the widget shows % a year
    assert ctl.scenario_from_widgets(sc, FOUR, values) is sc  # untouched: the same scenario
    # back to the final year: the rate goes to 0 with it (the scenario refuses a rate there)
    state = {**values, "objective_year": "final"}
    tl.on_objective(state)
    assert state["discount"] == 0.0
    final = ctl.scenario_from_widgets(sc, FOUR, {"objective_year": "final"})
    assert (final.objective_year, final.discount_rate) == ("final", 0.0) and final == base
    state = {**values, "discount": 7.5}
    tl.on_objective(state)  # still discounted: the rate stays
    assert state["discount"] == 7.5
    assert [ctl.OBJECTIVE_LABELS[k] for k in ("final", "discounted")] == [
        "Final year's S_λ", "Discounted sum of every year's S_λ"]


def test_the_appropriation_by_year_is_a_line_of_amounts_read_to_the_cent() -> None:
    base = tiny_scenario(periods={"years": 3})  # $10B
    assert ctl.widget_values(base, FOUR)["budget_years"] == ""  # empty: an even split
    sc = ctl.scenario_from_widgets(base, FOUR, {"budget_years": "$2B, 3; $5,000M"})
    assert sc.periods.budget_by_year == [2e9, 3e9, 5e9]  # a plain number is $B, as the budget
    assert ctl.widget_values(sc, FOUR)["budget_years"] == "$2B, $3B, $5B"
    # thirds of $10B to the cent: shown with every cent, read back as the same amounts
    thirds = ctl.scenario_from_widgets(base, FOUR, {
        "budget_years": "$3.33333333333B, $3.33333333333B, $3.33333333334B"})
    text = ctl.widget_values(thirds, FOUR)["budget_years"]
    assert text == "$3.33333333333B, $3.33333333333B, $3.33333333334B"
    assert ctl.scenario_from_widgets(thirds, FOUR, ctl.widget_values(thirds, FOUR)) is thirds
    small = tiny_scenario(budget="$504M", periods={"years": 2, "budget_by_year": [504e6 - 0.5, 0.5]})
    assert ctl.widget_values(small, FOUR)["budget_years"] == "$503.9999995M, $0.5"
    even = ctl.scenario_from_widgets(sc, FOUR, {"budget_years": "  "})
    assert even.periods.budget_by_year is None and even == base


def test_a_list_that_does_not_fit_gets_the_scenarios_own_message() -> None:
    base = tiny_scenario(periods={"years": 3})
    values = ctl.widget_values(base, FOUR)
    cases = [("$2B, $3B", "periods.budget_by_year: 2 amount(s) for periods.years = 3; give one "
                          "amount per year"),
             ("$2B, $3B, $4B", "periods.budget_by_year: the years sum to 9,000,000,000.00 USD, "
                               "not the budget 10,000,000,000.00 USD; they must agree to the cent"),
             ("$2B, lots, $8B", "periods.budget_by_year.1: cannot read 'lots' as USD; write e.g. "
                                "80e9, \"$80B\" or \"$500M\""),
             ("1, " * 500, "periods.budget_by_year: the appropriation by year is longer than "
                           "1,200 characters; give one amount per year")]
    for text, said in cases:
        moved = {**values, "budget_years": text}
        assert ctl.budget_by_year_problem(moved) == said
        with pytest.raises(ScenarioError) as err:  # the plan refuses it in the same words
            ctl.scenario_from_widgets(base, FOUR, moved)
        assert said in str(err.value)
    assert ctl.budget_by_year_problem({**values, "budget_years": "$2B, $3B, $5B"}) is None
    assert ctl.budget_by_year_problem({**values, "budget_years": ""}) is None


def test_years_back_to_1_resets_the_objective_and_the_appropriation_too() -> None:
    base = tiny_scenario()
    over_time = ctl.scenario_from_widgets(base, FOUR, {
        "years": 3, "budget_years": "$2B, $3B, $5B", "objective_year": "discounted",
        "discount": 5.0})
    assert over_time.periods.budget_by_year == [2e9, 3e9, 5e9]
    back = ctl.scenario_from_widgets(over_time, FOUR, {"years": 1})
    assert back == base  # a one-year plan refuses the discounted objective
    state = {**ctl.widget_values(over_time, FOUR), "years": 1}
    tl.on_years(state)
    assert {k: state[k] for k in ("budget_years", "objective_year", "discount")} == {
        "budget_years": "", "objective_year": "final", "discount": 0.0}
    assert ctl.scenario_from_widgets(over_time, FOUR, state) == base


def test_a_list_made_stale_by_new_years_or_budget_is_dropped_with_a_note() -> None:
    sc = tiny_scenario(periods={"years": 3, "budget_by_year": ["$2B", "$3B", "$5B"]})
    state = ctl.widget_values(sc, FOUR)
    assert tl.drop_stale_amounts(state) is None  # the first run notes the years and budget
    state["years"] = 4
    note = tl.drop_stale_amounts(state)
    assert note == ("The appropriation by year ($2B, $3B, $5B) was set for 3 years and $10B; it "
                    "does not fit 4 years and $10B, so it was dropped and the budget is split "
                    "evenly. Enter 4 amounts that sum to $10B to set the years again.")
    assert state["budget_years"] == "" and state[tl.AMOUNTS_NOTE] == note and state["open_time"]
    later = ctl.scenario_from_widgets(sc, FOUR, state)  # the next plan solves: an even split
    assert (later.periods.years, later.periods.budget_by_year) == (4, None)
    tl.on_amounts(state)  # editing the field again clears the note
    assert tl.AMOUNTS_NOTE not in state

    state = ctl.widget_values(sc, FOUR)
    tl.drop_stale_amounts(state)
    state["budget"] = 12.0  # a new budget the list no longer sums to
    assert "does not fit 3 years and $12B" in (tl.drop_stale_amounts(state) or "")
    assert ctl.scenario_from_widgets(sc, FOUR, state).periods.budget_by_year is None

    state = ctl.widget_values(sc, FOUR)
    tl.drop_stale_amounts(state)
    state.update(years=2, budget_years="$4B, $6B")  # an undo: years and list change together
    assert tl.drop_stale_amounts(state) is None and state["budget_years"] == "$4B, $6B"
    state["budget_years"] = "$4B"  # being typed, years and budget unchanged: kept, with its error
    assert tl.drop_stale_amounts(state) is None and state["budget_years"] == "$4B"
    assert ctl.budget_by_year_problem(state) is not None


def test_the_link_and_undo_carry_the_objective_and_the_appropriation() -> None:
    base = tiny_scenario()
    sc = ctl.scenario_from_widgets(base, FOUR, {"years": 3, "budget_years": "$2B, $3B, $5B",
                                                "objective_year": "discounted", "discount": 5.0})
    link = stt.read_link(stt.link_params("upload", sc, base, csv_hash="ab" * 8))
    assert link is not None and link.problem is None
    assert set(link.changes) == {"periods", "objective_year", "discount_rate"}
    restored, problem = stt.apply_link(base, link, FOUR)
    assert problem is None and restored == sc
    assert ctl.widget_values(restored, FOUR)["budget_years"] == "$2B, $3B, $5B"
    history = stt.History()
    for step in (base, sc):
        history.record(step, "data")
    undone = history.undo()
    assert undone is not None and {k: ctl.widget_values(undone, FOUR)[k] for k in (
        "budget_years", "objective_year", "discount")} == {
        "budget_years": "", "objective_year": "final", "discount": 0.0}
    redone = history.redo()
    assert redone is not None and {k: ctl.widget_values(redone, FOUR)[k] for k in (
        "budget_years", "objective_year")} == {"budget_years": "$2B, $3B, $5B",
                                               "objective_year": "discounted"}
    # a link may not ask for a rate no widget can show
    far = stt.Link("upload", {**link.changes, "discount_rate": 0.9}, "ab" * 8)
    kept, why = stt.apply_link(base, far, FOUR)
    assert kept.discount_rate == 0.0 and why is not None and "'discount_rate'" in why


def test_the_default_plans_years_range_is_the_scenarios() -> None:
    row = ctl.knob("years")
    assert row.bounds(51) == [1, 50, 1]
    sc = base_scenario("states", ["ai_job_postings"])
    assert ctl.widget_values(sc, FOUR)["years"] == 1


# --------------------------------------------------------------------------- the Timeline's tables


def test_only_a_plan_over_time_has_a_timeline(planner: Planner, plan) -> None:  # type: ignore[no-untyped-def]
    assert tl.tabs(planner.solve(tiny_scenario())) == []
    assert tl.tabs(plan) == ["Timeline"]


def test_funding_by_year_spends_each_years_appropriation(plan) -> None:  # type: ignore[no-untyped-def]
    table = tl.funding_by_year(plan, ["A", "B", "C", "D"])
    by_year = table.groupby("year")["amount_usd"].sum()
    assert by_year.index.tolist() == [1, 2, 3]
    assert by_year.to_numpy() == pytest.approx([10e9 / 3] * 3, abs=0.01)  # $10B evenly, to the cent
    region_totals = table.groupby("region_id")["amount_usd"].sum()
    expected = plan.regions.set_index("region_id")["funding_usd"]
    assert region_totals.to_numpy() == pytest.approx(expected[region_totals.index].to_numpy())


def test_a_discounted_plan_with_its_own_years_spends_them_and_is_named_as_the_cli_names_it(
        planner: Planner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sc = ctl.scenario_from_widgets(tiny_scenario(), FOUR, {
        "years": 3, "budget_years": "$2B, $3B, $5B", "objective_year": "discounted",
        "discount": 5.0, "growth_base": 2.0, "growth_eta": 0.01})
    plan = planner.solve(sc)
    spending = tl.spending_by_year(plan)
    assert spending["appropriation_usd"].tolist() == [2e9, 3e9, 5e9]
    assert spending["spent_usd"].to_numpy() == pytest.approx([2e9, 3e9, 5e9], abs=0.01)
    shown = tl.spending_display(spending)
    assert shown.columns.tolist() == ["Year", "Appropriation", "Spent by the plan"]  # none carried
    assert shown["Year"].tolist() == [1, 2, 3]
    assert shown["Spent by the plan"].tolist() == ["$2.0B", "$3.0B", "$5.0B"]
    # the headline names the discounted objective, with the number the command line prints
    first = tx.headline(plan)[0]
    assert first.label == "Discounted S_λ over the years"
    assert "divided by (1 + 5.00%) to the year" in first.help
    monkeypatch.chdir(tmp_path)
    FOUR.table.to_csv("four.csv", index=False)
    Path("plan.yaml").write_text(sc.to_yaml())
    printed = CliRunner().invoke(cli, ["solve", "--scenario", "plan.yaml", "--regions", "four.csv",
                                       "--out", "plan"])
    assert printed.exit_code == 0, printed.output
    line = next(x for x in printed.output.splitlines() if "the plan's objective" in x)
    assert line.startswith(f"{first.label}, the plan's objective (λ = 0.5): ")
    assert line.endswith(f"→ {first.value} ({first.delta})")
    assert tl.objective_heading(sc) == "Discounted S_λ over the years (years 1–3, 5.00% a year)"
    # carried over: a year may spend less than its appropriation, the rest shown as not yet spent
    carried = pd.DataFrame({"year": [1, 2], "appropriation_usd": [4e9, 6e9],
                            "spent_usd": [1e9, 9e9]})
    assert tl.spending_display(carried)["Not yet spent at the year's end"].tolist() == [
        "$3.0B", "$0"]


def test_the_picked_regions_start_with_the_largest_awards_in_order(plan) -> None:  # type: ignore[no-untyped-def]
    funding = plan.regions.set_index("region_id")["funding_usd"]
    picked = tl.top_funded(plan, 2)
    assert picked == funding.sort_values(ascending=False).index[:2].tolist()
    paths = tl.capacity_paths(plan, picked[::-1])
    assert paths["region_id"].tolist() == [picked[1]] * 4 + [picked[0]] * 4  # years 0..3, asked order


def test_capacity_paths_start_at_today_and_end_at_the_plans_final_capacity(plan) -> None:  # type: ignore[no-untyped-def]
    paths = tl.capacity_paths(plan, ["A", "B", "C", "D"])
    today = paths[paths["year"] == 0]
    assert today["with_plan"].to_numpy() == pytest.approx(today["without_plan"].to_numpy())
    assert today["with_plan"].tolist() == pytest.approx([40, 30, 20, 10])  # talent 40:30:20:10
    final = paths[paths["year"] == 3].set_index("region_id")
    table = plan.regions.set_index("region_id")
    assert final["with_plan"].to_numpy() == pytest.approx(table["final_capacity"].to_numpy(), rel=1e-9)
    # a plan over time's "before" is the no-policy path's final year
    assert final["without_plan"].to_numpy() == pytest.approx(table["baseline_capacity"].to_numpy())
    # the no-policy path grows at 2% a year and more where capacity per person is higher
    a = paths[paths["region_id"] == "A"]["without_plan"].to_numpy()
    assert np.all(np.diff(a) > 0)


def test_concentration_by_year_ends_at_the_plans_metrics(plan) -> None:  # type: ignore[no-untyped-def]
    yearly = tl.yearly_spread(plan)
    at = yearly.set_index(["year", "metric"])
    for key in ("gini", "top10_share"):
        assert at.loc[(0, key), "with_plan"] == pytest.approx(at.loc[(0, key), "without_plan"])
        assert at.loc[(3, key), "without_plan"] == pytest.approx(plan.metrics_before[key])
        assert at.loc[(3, key), "with_plan"] == pytest.approx(plan.metrics_after[key])
    # with eta > 0 the no-policy path concentrates year on year
    gini = yearly[yearly["metric"] == "gini"]["without_plan"].to_numpy()
    assert np.all(np.diff(gini) > 0)
    fig = charts.spread_figure(yearly, 2)
    assert [t.line.dash for t in fig.data] == [None, "dash", None, "dash"]


def test_the_year_map_is_today_at_0_and_the_plan_at_the_last_year(plan) -> None:  # type: ignore[no-untyped-def]
    start = tl.regions_at_year(plan, 0)
    assert start["funding_usd"].tolist() == [0.0] * 4
    # today: capacity share over population share, 40/10, 30/20, 20/30, 10/40
    assert start["capacity_per_capita_after"].tolist() == pytest.approx([4.0, 1.5, 2 / 3, 0.25])
    end = tl.regions_at_year(plan, 3)
    assert end["funding_usd"].to_numpy() == pytest.approx(plan.regions["funding_usd"].to_numpy())
    assert end["capacity_per_capita_after"].to_numpy() == pytest.approx(
        plan.regions["capacity_per_capita_after"].to_numpy())
    middle = tl.regions_at_year(plan, 1)
    assert middle["funding_usd"].sum() == pytest.approx(10e9 / 3, abs=0.01)
    assert "Year 1 of 3" in tl.year_caption(plan, 1)
    assert "$3.3B spent by then" in tl.year_caption(plan, 1)


def test_growth_centers_fund_k_regions_outside_the_leaders_and_cost_the_objective(
        planner: Planner, plan) -> None:  # type: ignore[no-untyped-def]
    values = {"gc_count": 1, "gc_exclude": 1, "gc_years": 2}
    compared = tl.compare_centers(planner.solve, plan.scenario, values)
    centers = compared.centers.regions
    assert int(centers["hub"].sum()) == 1
    funded = centers[centers["funding_usd"] > 1.0]["region_id"].tolist()
    leader = plan.regions.sort_values("baseline_capacity")["region_id"].iloc[-1]
    assert len(funded) == 1 and leader not in funded
    # centers are a restriction of the same plan: they cannot do better on its objective
    assert compared.centers.objective <= compared.spreading.objective + 1e-9
    table = tl.comparison_table(compared).set_index("Measure")
    row = table.loc["Spread-adjusted capacity S_λ, year 3"]
    diff = compared.centers.objective - compared.spreading.objective
    assert row["Growth centers less spreading"] == f"−{abs(diff):.2f} points"
    assert "Talent raised (units)" in table.index
    said = tl.centers_sentence(compared)
    name = dict(zip(centers["region_id"], centers["name"]))[funded[0]]
    assert said.startswith(f"The growth center and its funding over all years: {name} ($10.0B)")
    assert "The region leading in baseline capacity was barred" in said


def test_growth_centers_that_cannot_hold_say_which_setting(planner: Planner, plan) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ScenarioError, match="growth_centers.min_years"):
        tl.compare_centers(planner.solve, plan.scenario, {"gc_count": 1, "gc_exclude": 0,
                                                          "gc_years": 4})


def test_what_foresight_buys_is_the_difference_of_the_two_final_year_objectives() -> None:
    regions = load_regions("states")
    sc = base_scenario("states", regions.indicators).updated(
        periods={"years": 3}, growth={"base_rate": 0.0375, "agglomeration_elasticity": 0.0068})
    f = foresight(regions, sc)
    assert f.value_points > 0  # with eta > 0 money early compounds where growth is faster
    table = tl.foresight_table(f)
    assert table.columns[1] == "Spread-adjusted capacity S_λ, year 3"
    assert table.iloc[:, 1].tolist() == [fmt.points(f.foresighted.objective),
                                         fmt.points(f.myopic.objective),
                                         fmt.points(f.foresighted.objective - f.myopic.objective,
                                                    plus=True)]
    assert "Choosing all 3 years together" in tl.foresight_sentence(f)
