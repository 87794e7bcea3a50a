"""The workbench's plans over time without Streamlit: the sidebar's years and growth
knobs (through the knob table, the link and undo), and the Timeline tab's tables, each
read from a real HiGHS plan and checked against the plan's own numbers."""

from __future__ import annotations

import numpy as np
import pytest

from optimizer import load_regions
from optimizer.analysis.evidence import evidence_table
from optimizer.analysis.periods import foresight
from optimizer.engine import formatting as fmt
from optimizer.engine.errors import ScenarioError
from optimizer.engine.scenario import base_scenario
from optimizer.engine.solve import Planner
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
