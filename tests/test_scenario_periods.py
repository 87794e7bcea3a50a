"""The scenario keys of a plan over time: validated with errors naming the key and why,
and invisible at their defaults, so the shipped default plans stay as they were."""

from __future__ import annotations

import pytest
import yaml

import optimizer as pf
from optimizer.engine.scenario import TIME_KEYS, region_set_default, scenario_from_text

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
