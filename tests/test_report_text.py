"""Words and numbers of one plan (report/text.py): the objective under its own name,
counts and amounts through the one formatter, the CLI's summary and check sentences."""

from __future__ import annotations

from pathlib import Path

import pytest

import optimizer as pf
from optimizer.engine.check import check_dir
from optimizer.engine.scenario import region_set_default
from optimizer.report import text as tx


@pytest.fixture(scope="module")
def counties() -> pf.AllocationResult:
    regions = pf.load_regions("counties")
    return pf.Planner(regions).solve(region_set_default("counties", regions.indicators))


@pytest.fixture(scope="module")
def states_plan() -> pf.AllocationResult:
    return pf.Planner(pf.load_regions("states")).solve(pf.load_scenario())


def test_counts_in_the_headline_have_separators(counties: pf.AllocationResult) -> None:
    items = {h.label: h for h in tx.headline(counties)}
    assert items["Regions funded"].value == "3,134 of 3,134"  # not '3134 of 3134'


def test_the_headline_leads_with_the_plans_own_objective(counties: pf.AllocationResult,
                                                         states_plan: pf.AllocationResult) -> None:
    first = tx.headline(counties)[0]
    assert counties.scenario.spread_measure == "hoover"
    assert first.label == "Spread-adjusted capacity S_λ (Hoover)"
    assert first.value == f"{counties.objective:,.2f} points"
    assert "100·μ·(1 − λ·Hoover)" in first.help and "Hoover index" in first.help
    gini = tx.headline(states_plan)[0]
    assert gini.label == "Spread-adjusted capacity S_λ"
    assert gini.value == f"{states_plan.metrics_after['spread_adjusted_capacity']:,.2f} points"
    assert "100·μ·(1 − λ·Gini)" in gini.help


def test_two_s_lambdas_never_share_a_name(counties: pf.AllocationResult) -> None:
    sc = counties.scenario
    own = tx.plan_metric_label("spread_adjusted_capacity_hoover", sc)
    other = tx.plan_metric_label("spread_adjusted_capacity", sc)
    assert own == tx.objective_label(sc) and other != own
    assert "not this plan's objective" in other and "Gini" in other


def test_region_detail_reads_as_money_and_points(states_plan: pf.AllocationResult) -> None:
    detail = tx.region_detail(states_plan, pf.load_regions("states"), "48")
    table = detail.table()
    assert list(table.columns) == ["Instrument", "Funding", "Capacity gain",
                                   "Marginal return (points per extra $1B)"]
    funded = detail.instruments.set_index("Instrument")["funding_usd"]
    top = funded.idxmax()  # Texas's largest instrument, billions of dollars
    row = table.set_index("Instrument").loc[top]
    assert funded[top] > 1e9
    assert row["Funding"] == f"${funded[top] / 1e9:.1f}B"  # '$2.9B', not '$2903592042'
    assert row["Capacity gain"].endswith(" points")
    assert detail.summary["Population"] == "30,029,572"


def test_the_cli_summary_and_check_name_the_objective(tmp_path: Path,
                                                      counties: pf.AllocationResult) -> None:
    text = tx.plan_summary(counties)
    assert "Plan: $80.0B of $80.0B across 3,134 of 3,134 regions" in text
    assert "Spread-adjusted capacity S_λ (Hoover), the plan's objective (λ = 0.5): " in text
    assert f"→ {counties.objective:,.2f} points" in text
    assert "Hoover index (per capita)" in text
    assert "per person" in text and "_" not in text.replace("S_λ", "")
    directory = counties.to_dir(tmp_path / "plan")
    said = tx.check_summary(check_dir(directory))
    assert said.startswith("plan OK")
    assert f"Spread-adjusted capacity S_λ (Hoover), the plan's objective, recomputed exactly: " \
           f"{counties.objective:,.4f} points" in said


def test_a_comparison_names_both_spread_adjusted_capacities() -> None:
    labels = [label for label, _unit in tx.METRIC_LABELS.values()]
    assert "Spread-adjusted capacity S_λ (Gini)" in labels
    assert "Spread-adjusted capacity S_λ (Hoover)" in labels
    assert len(set(labels)) == len(labels)


def test_how_to_read_sends_region_clicks_to_the_region_detail_tab() -> None:
    notes = tx.how_to_read(51)
    assert "*Region detail* tab" in notes and "click it on that tab's map" in notes
    assert "Click a region on the map" not in notes  # the Map tab's map takes no clicks
