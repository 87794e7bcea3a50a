"""The scenario keys of a plan over time: validated with errors naming the key and why,
and invisible at their defaults, so the shipped default plans stay as they were."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

import optimizer as pf
from optimizer.engine import growth as gr
from optimizer.engine.scenario import (
    TIME_KEYS,
    Y_MIN,
    region_set_default,
    scenario_from_dict,
    scenario_from_text,
)

# SHA-256 of each shipped default scenario as resolved before plans over time existed
# (commit 9febcaf): adding the keys must not change a single byte of their dump
DEFAULT_FINGERPRINTS = {
    "states": "6d2c9a12bc426510987b7b4d77d083375448e09f38d4eea16c972f33660256c7",
    "metros": "08e8547c30b26a0d54751c474ce802014948b13fe1446be986e8a5234133de9b",
    "counties": "32dd2dcd27defa07d6bc0427042be101278a85e1d7bb10e16a2d2dca21551445",
}


@pytest.mark.parametrize("region_set", sorted(DEFAULT_FINGERPRINTS))
def test_the_default_plans_dump_as_before(region_set: str) -> None:
    regions = pf.load_regions(region_set)
    scenario = region_set_default(region_set, regions.indicators)
    assert scenario.fingerprint() == DEFAULT_FINGERPRINTS[region_set]
    assert not set(TIME_KEYS) & set(yaml.safe_load(scenario.to_yaml()))
    assert scenario.horizon_years == 1 and not scenario.over_time


@pytest.mark.parametrize("text", ["periods: null", "periods: {years: 1}", "growth: {}",
                                  "objective_year: final\ndiscount_rate: 0"])
def test_keys_at_their_defaults_are_todays_scenario(text: str) -> None:
    assert scenario_from_text(text).fingerprint() == DEFAULT_FINGERPRINTS["states"]


def test_a_plan_over_time_dumps_its_keys_and_reads_back_equal(tmp_path) -> None:
    scenario = scenario_from_text(
        'budget: "$9B"\nperiods: {years: 3, budget_by_year: ["$4B", "$3B", 2e9], carryover: true}\n'
        "growth: {base_rate: 0.0375, agglomeration_elasticity: 0.0068}\n"
        "objective_year: discounted\ndiscount_rate: 0.03\n")
    dumped = yaml.safe_load(scenario.to_yaml())
    assert dumped["periods"] == {"years": 3, "budget_by_year": [4e9, 3e9, 2e9], "carryover": True}
    assert dumped["growth"] == {"base_rate": 0.0375, "agglomeration_elasticity": 0.0068}
    assert (dumped["objective_year"], dumped["discount_rate"]) == ("discounted", 0.03)
    path = tmp_path / "later.yaml"
    path.write_text(scenario.to_yaml())
    assert pf.load_scenario(path) == scenario
    assert scenario.fingerprint() != DEFAULT_FINGERPRINTS["states"]
    assert scenario.horizon_years == 3 and scenario.over_time


def test_a_split_that_agrees_with_the_budget_to_the_cent_is_accepted() -> None:
    years = "periods: {years: 3, budget_by_year: [26666666666.67, 26666666666.67, %s]}"
    accepted = scenario_from_text(years % "26666666666.66")
    assert accepted.periods.budget_by_year == [26666666666.67, 26666666666.67, 26666666666.66]
    with pytest.raises(pf.ScenarioError, match="must agree to the cent"):
        scenario_from_text(years % "26666666666.65")


@pytest.mark.parametrize(
    ("yaml_text", "key", "problem"),
    [
        ("periods: {years: 0}", "periods.years", "greater than or equal to 1"),
        ("periods: {years: 51}", "periods.years", "less than or equal to 50"),
        ("periods: {years: ten}", "periods.years", "valid integer"),
        ("periods: {yeras: 3}", "periods.yeras", "unknown key"),
        ("periods: {years: 3, budget_by_year: [$1B, lots, $2B]}", "periods.budget_by_year.1",
         "cannot read 'lots' as USD"),
        ("periods: {years: 3, budget_by_year: [$80B]}", "periods.budget_by_year",
         "1 amount(s) for periods.years = 3"),
        ("periods: {years: 2, budget_by_year: [$40B, $30B]}", "periods.budget_by_year",
         "sum to 70,000,000,000.00 USD, not the budget 80,000,000,000.00 USD"),
        ("periods: {years: 2, budget_by_year: [$90B, -10e9]}", "periods.budget_by_year.1",
         "must not be negative"),
        ("periods: {years: 2}\nhubs: {count: {min: 1, max: 3}}", "periods",
         "hub selection over years is not supported yet"),
        ("periods: {years: 2, carryover: maybe}", "periods.carryover", "valid boolean"),
        ("periods: {years: 2}\ngrowth: {base_rate: 0.6}", "growth.base_rate",
         "less than or equal to 0.5"),
        ("periods: {years: 2}\ngrowth: {agglomeration_elasticity: -0.01}",
         "growth.agglomeration_elasticity", "greater than or equal to 0"),
        ("periods: {years: 2}\ngrowth: {agglomeration_elasticity: 0.2}",
         "growth.agglomeration_elasticity", "less than or equal to 0.1"),
        ("periods: {years: 2}\ngrowth: {base_rate: -0.5, agglomeration_elasticity: 0.08}",
         "growth", "losing all its capacity"),
        ("periods: {years: 2}\ngrowth: {rate: 0.1}", "growth.rate", "unknown key"),
        ("periods: {years: 2}\nobjective_year: first", "objective_year",
         "'final' or 'discounted'"),
        ("periods: {years: 2}\ndiscount_rate: 0.04", "discount_rate",
         "used only with objective_year: discounted"),
        ("periods: {years: 2}\nobjective_year: discounted\ndiscount_rate: 0.9", "discount_rate",
         "less than or equal to 0.5"),
        ("growth: {base_rate: 0.02}", "growth.base_rate", "only a plan over time uses it"),
        ("periods: {carryover: true}\nobjective_year: discounted", "periods.carryover, "
         "objective_year", "only a plan over time uses them; set periods.years above 1"),
    ],
)
def test_bad_keys_name_the_key_and_why(yaml_text: str, key: str, problem: str) -> None:
    with pytest.raises(pf.ScenarioError) as err:
        scenario_from_text(yaml_text, source="later.yaml")
    message = str(err.value)
    assert message.startswith("later.yaml: invalid scenario")
    assert f"{key}:" in message
    assert problem in message
    assert "Traceback" not in message and len(message) < 600


amounts = st.one_of(st.floats(0, 1e11), st.sampled_from(["$1B", "$26666666666.67", "-1", "x"]))
period_keys = st.fixed_dictionaries({}, optional={
    "years": st.one_of(st.integers(-2, 60), st.sampled_from(["3", "ten", None])),
    "budget_by_year": st.one_of(st.none(), st.lists(amounts, max_size=6)),
    "carryover": st.one_of(st.booleans(), st.sampled_from(["yes", 2])),
})
growth_keys = st.fixed_dictionaries({}, optional={
    "base_rate": st.floats(-0.7, 0.7, allow_nan=False),
    "agglomeration_elasticity": st.floats(-0.05, 0.15, allow_nan=False),
})


@settings(max_examples=300, deadline=None)
@given(budget=st.one_of(st.floats(0.01, 1e13), st.sampled_from(["$80B", "$10", "1e30"])),
       periods=period_keys, growth=growth_keys,
       objective=st.sampled_from(["final", "discounted", "later"]),
       rate=st.floats(-0.1, 0.7, allow_nan=False), cuts=st.lists(st.floats(0, 1), max_size=9))
def test_any_plan_over_time_loads_with_a_consistent_budget_or_says_why(
        budget: object, periods: dict, growth: dict, objective: str, rate: float,
        cuts: list[float]) -> None:
    """Accepted scenarios split their budget exactly and can never shrink a region to
    nothing; refused ones say which key. ``cuts`` (when given) split a numeric budget into
    whole cents that add up, one amount a year."""
    if cuts and isinstance(budget, float):
        total = round(budget * 100)
        marks = sorted(round(c * total) for c in cuts)
        parts = [b - a for a, b in zip([0, *marks], [*marks, total], strict=True)]
        periods = {**periods, "years": len(parts), "budget_by_year": [c / 100 for c in parts]}
    data = {"budget": budget, "periods": periods, "growth": growth,
            "objective_year": objective, "discount_rate": rate}
    try:
        scenario = scenario_from_dict(data, source="fuzz.yaml")
    except pf.ScenarioError as err:
        message = str(err)
        assert message.startswith("fuzz.yaml: invalid scenario") and len(message) < 2000
        assert any(key in message for key in (*TIME_KEYS, "budget"))
        event("refused")
        return
    event(f"accepted, {'an even split' if scenario.periods.budget_by_year is None else 'a list'}")
    cents = gr.budget_by_year_cents(scenario)
    assert len(cents) == scenario.horizon_years
    assert abs(sum(cents) - round(scenario.budget * 100)) <= len(cents)  # each to the cent
    if scenario.periods.budget_by_year is None:
        assert sum(cents) == round(scenario.budget * 100)
        assert max(cents) - min(cents) <= 1
    floor = scenario.growth.base_rate + scenario.growth.agglomeration_elasticity * math.log(Y_MIN)
    assert floor > -1.0
    assert scenario_from_dict(scenario.to_dict(), source="again") == scenario


def test_every_setting_is_in_the_full_mapping_so_comparisons_see_a_change_either_way() -> None:
    """``to_dict`` keeps every key (what comparisons and the workbench read); only the saved
    form leaves the keys of a plan over time out at their defaults."""
    from optimizer.analysis.explain import differing_settings

    today = pf.load_scenario()
    later = today.updated(periods={"years": 5})
    assert set(TIME_KEYS) <= set(today.to_dict())
    assert not set(TIME_KEYS) & set(today.saved_dict())
    assert set(later.saved_dict()) - set(today.saved_dict()) == {"periods"}
    assert differing_settings(today, later) == ["periods"]
    assert differing_settings(later, today) == ["periods"]


def test_a_single_period_plans_scenario_sheet_lists_no_keys_of_plans_over_time(
        default_plan: pf.AllocationResult) -> None:
    from optimizer.report.export import scenario_sheet

    keys = scenario_sheet(default_plan)["Key"].tolist()
    assert "budget" in keys and "approximation.tangents" in keys
    assert not [k for k in keys if k.split(".")[0] in TIME_KEYS]
