"""A why for every region's dollars, and what moved them between two plans."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import optimizer as pf
from optimizer.analysis.explain import attribute, differing_settings, explain_region
from optimizer.cli import app


@pytest.fixture(scope="module")
def plans(states, tmp_path_factory) -> tuple[pf.AllocationResult, pf.AllocationResult]:
    base = pf.load_scenario()
    weights = dict(base.weights)
    weights["ai_job_postings"] = 0.56 / 0.44 * (sum(weights.values()) - weights["ai_job_postings"])
    other = base.updated(weights=weights, spread_weight=0.8)
    planner = pf.Planner(states)
    return planner.solve(base), planner.solve(other)


def test_a_region_is_explained_in_dollars_and_natural_units(plans) -> None:
    plan, _ = plans
    why = explain_region(plan, "Texas")
    assert why.region_id == "48"
    assert why.funding_usd == pytest.approx(float(plan.regions.set_index("region_id")
                                                  .at["48", "funding_usd"]))
    # the data: every weighted indicator, shares of the nation
    assert set(why.data["indicator"]) == {k for k, w in plan.scenario.weights.items() if w > 0}
    assert (why.data["share"] > 0).all()
    # a verdict per instrument against the budget's shadow price
    assert len(why.instruments) == len(plan.scenario.instruments)
    assert why.shadow_price > 0
    text = why.to_text()
    assert "Texas (48): $" in text and "per person" in text and "shadow price" in text
    bought = why.outcomes[why.outcomes["gain"] > 0]
    assert len(bought) > 0
    # what its dollars buy is the plan's outcomes for Texas
    rows = plan.outcomes[plan.outcomes["region_id"] == "48"].set_index("indicator")["gain"]
    assert bought.set_index("indicator")["gain"].to_dict() == pytest.approx(
        rows[rows > 0].to_dict())


@pytest.mark.parametrize(("rule", "region", "instrument", "reason"), [
    ({"instrument_shares": {"compute": {"min": 0.4}}}, "48", "compute",
     "for the minimum share of Compute and infrastructure"),
    ({"group_min_shares": {"census_region": {"South": 0.6}}}, "28", "research",
     "for the minimum share of Census region South"),
])
def test_a_dollar_a_share_rule_forces_in_is_judged_at_the_price_that_rule_sets(
        states, rule, region, instrument, reason) -> None:
    """Where an instrument's or a group's minimum share binds, the LP prices its dollars
    at the shadow price plus that rule's marginal value (negative: it forces money in),
    and a funded dollar earns that price, not the budget's."""
    plan = pf.Planner(states).solve(pf.load_scenario().updated(**rule))
    why = explain_region(plan, region)
    row = why.instruments.set_index("instrument").loc[instrument]
    values = plan.marginal_values.set_index("constraint")["marginal_value"]
    forced = values.drop("budget")
    assert len(forced) == 1 and forced.iloc[0] < 0  # the rule binds and costs points
    assert row["funding_usd"] > 0
    assert row["price"] == pytest.approx(why.shadow_price + forced.iloc[0], rel=1e-12)
    assert row["price"] < 0.7 * why.shadow_price
    assert abs(row["return_add"] - row["price"]) < 0.05 * why.shadow_price  # earns its price
    assert row["verdict"].startswith("funded up to where its return meets its price here")
    assert reason in row["verdict"]


def test_the_spread_term_values_a_point_in_a_lagging_region_more(plans) -> None:
    plan, _ = plans
    per_capita = plan.regions.set_index("name")["capacity_per_capita_after"]
    lagging, leading = per_capita.idxmin(), per_capita.idxmax()
    assert explain_region(plan, lagging).spread_value[0] > 1.0
    assert explain_region(plan, leading).spread_value[0] < 1.0


def test_attribution_parts_add_up_to_the_total_change_for_every_region(plans) -> None:
    a, b = plans
    assert differing_settings(a.scenario, b.scenario) == ["weights.ai_job_postings",
                                                          "spread_weight"]
    split = attribute(a, b)
    table = split.table
    parts = table[["weights.ai_job_postings", "spread_weight", "interaction"]].sum(axis=1)
    assert np.allclose(parts, table["total"], atol=1e-3)
    total = (b.regions.set_index("region_id")["funding_usd"]
             - a.regions.set_index("region_id")["funding_usd"])
    assert np.allclose(table.set_index("region_id")["total"], total.reindex(table["region_id"]),
                       atol=1e-3)
    text = split.region_text("06")
    assert text.startswith("California: ") and "alone" in text and "together" in text


def test_explain_cli_with_another_plan(plans, tmp_path) -> None:
    a, b = plans
    a.to_dir(tmp_path / "a")
    b.to_dir(tmp_path / "b")
    done = CliRunner().invoke(app, ["explain", str(tmp_path / "a"), "California",
                                    "--against", str(tmp_path / "b")])
    assert done.exit_code == 0, done.output
    assert "What its dollars buy" in done.output
    assert "Spread weight λ alone" in done.output or "alone:" in done.output
    assert "together:" in done.output


def test_explain_names_an_unknown_region(plans, tmp_path) -> None:
    a, _ = plans
    a.to_dir(tmp_path / "a")
    done = CliRunner().invoke(app, ["explain", str(tmp_path / "a"), "Atlantis"])
    assert done.exit_code == 2
    assert "'Atlantis' is not a region of this plan" in done.output


def test_the_tables_people_read_have_labels_and_units(plans) -> None:
    from optimizer.report import explain as rx

    a, b = plans
    why = explain_region(a, "Texas")
    data = rx.data_table(why)
    assert "University S&E R&D" in set(data["Indicator"])
    assert not any("_" in c for c in data.columns)
    instruments = rx.instrument_table(why)
    assert instruments["Funding"].str.startswith("$").all()
    bought = rx.outcome_table(why)
    assert bought["Gain"].str.startswith(("+", "$", "0")).all()
    split = rx.attribution_table(attribute(a, b))
    assert list(split.columns)[-1] == "Together"
    assert split["Together"].str.contains(r"\$").all()
    assert "λ" in rx.spread_sentence(why) or "spread term" in rx.spread_sentence(why)


def test_the_workbench_says_what_a_plan_buys_and_why_a_region_gets_it(
        tmp_path, monkeypatch) -> None:
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PLACEFUND_HOME", str(tmp_path))
    at = AppTest.from_file(str(Path(__file__).parent.parent / "app.py"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    # the headline leads with the outcomes in words
    assert any(m.value.startswith("**Buys +$") and "weighted share of these outcomes" in m.value
               for m in at.markdown)
    at.session_state["tab"] = "Region detail"
    at.session_state["detail_region"] = "48"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(m.value == "**Why it gets what it gets**" for m in at.markdown)
    frames = [d.value for d in at.dataframe]
    assert any("× its population share" in f.columns for f in frames)
    assert any("Why" in f.columns and f["Why"].str.contains("shadow price").any() for f in frames)
    assert any(list(f.columns) == ["Indicator", "Before", "Gain", "Unit"] for f in frames)
    # two saved plans: each region's change split by the setting that moved it
    at.session_state["tab"] = "Save & compare"
    at.run()
    at.text_input(key="plan_name").set_value("Base").run()
    at.button(key="save").click().run()
    at.slider(key="lam").set_value(0.8).run()
    at.text_input(key="plan_name").set_value("Spread more").run()
    at.button(key="save").click().run()
    at.multiselect(key="compare").set_value(["Base", "Spread more"]).run()
    at.selectbox(key="diff_a").set_value("Base").run()
    at.selectbox(key="diff_b").set_value("Spread more").run()
    at.button(key="attribute").click().run()
    assert not at.exception, [e.value for e in at.exception]
    split = next(d.value for d in at.dataframe if "Together" in d.value.columns)
    assert "Spread weight λ alone" in split.columns and "Interaction" in split.columns


def test_a_verdict_says_a_return_meets_its_price_only_when_it_does(states) -> None:
    """Over time the exact returns of funded dollars can sit far from the LP's price
    (its response is piecewise linear): every funded, unruled dollar of every region is
    either within 5% and said to meet its price, or said to be off it."""
    plan = pf.Planner(states).solve(pf.load_scenario().updated(
        periods={"years": 4}, growth={"base_rate": 0.0375, "agglomeration_elasticity": 0.02}))
    said = {"meets": 0, "off": 0}
    for rid in states.ids:
        why = explain_region(plan, rid)
        if why.rules:
            continue
        for _, row in why.instruments[why.instruments["funding_usd"] > 0].iterrows():
            gap = min(abs(row["return_add"] - row["price"]),
                      abs(row["return_remove"] - row["price"]))
            if row["verdict"].startswith("funded up to where its return meets"):
                assert gap <= 0.05 * row["price"] + 1e-12
                said["meets"] += 1
            else:
                assert row["verdict"].startswith("funded, though its exact return")
                assert gap > 0.05 * row["price"]
                said["off"] += 1
    assert said["meets"] + said["off"] > 0
