"""Scenario files: defaults, budget formats, and one clear message per invalid input."""

from __future__ import annotations

import pytest

import optimizer as pf
from optimizer.engine.inputs import resolve
from optimizer.engine.scenario import parse_usd, scenario_from_text
from tests.factories import make_regions, tiny_scenario


@pytest.mark.parametrize(
    ("text", "usd"),
    [(80e9, 80e9), ("80e9", 80e9), ("$80B", 80e9), ("$80 billion", 80e9), ("$500M", 5e8),
     ("$1,250,000", 1.25e6), ("1.5T", 1.5e12), (0, 0.0)],
)
def test_budget_formats(text: object, usd: float) -> None:
    assert parse_usd(text) == pytest.approx(usd)


def test_default_scenario_is_the_80b_plan() -> None:
    sc = pf.load_scenario()
    assert sc.budget == 80e9
    assert sc.spread_weight == 0.5
    assert sum(sc.normalized_weights.values()) == pytest.approx(1.0)


def test_file_gives_only_what_it_changes_and_mappings_replace_whole(tmp_path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text('budget: "$40B"\nweights: {ai_job_postings: 2}\n')
    sc = pf.load_scenario(path)
    assert sc.budget == 40e9
    assert sc.weights == {"ai_job_postings": 2.0}
    assert sc.complementarity == pf.load_scenario().complementarity


def test_resolved_scenario_round_trips(tmp_path, states) -> None:
    sc = pf.load_scenario().updated(region_bounds={"CA": {"cap_usd": "$5B"}},
                                    exclusions={"regions": ["Texas"]})
    resolved = resolve(states, sc).scenario
    assert list(resolved.region_bounds) == ["06"]
    assert resolved.exclusions.regions == ["48"]
    path = tmp_path / "resolved.yaml"
    path.write_text(resolved.to_yaml())
    again = pf.load_scenario(path)
    assert again == resolved
    assert again.fingerprint() == resolved.fingerprint()


@pytest.mark.parametrize(
    ("yaml_text", "key", "problem"),
    [
        ("spred_weight: 0.4", "spred_weight", "unknown key"),
        ("budget: -5e9", "budget", "must not be negative"),
        ("budget: lots", "budget", "cannot read 'lots' as USD"),
        ("spread_weight: high", "spread_weight", "valid number"),
        ("spread_weight: 1.5", "spread_weight", "less than or equal to 1"),
        ("complementarity: -0.1", "complementarity", "greater than or equal to 0"),
        ("weights: {ai_job_postings: 0, ai_vc_musd: 0}", "weights", "all weights are zero"),
        ("weights: {ai_job_postings: -1}", "weights.ai_job_postings", "greater than or equal to 0"),
        ("instrument_shares: {rockets: {min: 0.1}}", "instrument_shares", "unknown instrument"),
        ("instrument_shares: {research: {min: 0.6, max: 0.2}}", "instrument_shares.research",
         "larger than max"),
        ("top_k_share_cap: {k: 0, max_share: 0.5}", "top_k_share_cap.k", "greater than or equal to 1"),
        ("missing_values: guess", "missing_values", "'error', 'zero', 'median' or 'half_min'"),
        ("region_floor_usd: 5e9\nregion_cap_usd: 1e9", "(top level)", "above region_cap_usd"),
        ("instruments: {grant: {yields: {talent: 1%}}}", "instruments.grant.saturation_usd",
         "missing"),
    ],
)
def test_invalid_scenarios_name_the_key(yaml_text: str, key: str, problem: str) -> None:
    with pytest.raises(pf.ScenarioError) as err:
        scenario_from_text(yaml_text, source="my.yaml")
    message = str(err.value)
    assert message.startswith("my.yaml: invalid scenario")
    assert f"{key}:" in message
    assert problem in message


def test_yaml_syntax_error_says_where() -> None:
    with pytest.raises(pf.ScenarioError, match="not valid YAML at line 3"):
        scenario_from_text("budget: 1\nweights: {a: [\n", source="x.yaml")


def test_scenario_must_be_a_mapping() -> None:
    with pytest.raises(pf.ScenarioError, match="must be a mapping"):
        scenario_from_text("- 1\n- 2\n", source="x.yaml")


def test_unknown_indicator_is_named(states) -> None:
    sc = pf.load_scenario().updated(weights={"robots": 1.0})
    with pytest.raises(pf.ScenarioError, match=r"weights: \['robots'\] not numeric indicator"):
        resolve(states, sc)


def test_unknown_region_reference_is_named(states) -> None:
    sc = pf.load_scenario().updated(exclusions={"regions": ["Atlantis"]})
    with pytest.raises(pf.ScenarioError, match="exclusions.regions: 'Atlantis' is not a region"):
        resolve(states, sc)


def test_unknown_group_column_and_value(states) -> None:
    with pytest.raises(pf.ScenarioError, match="group_min_shares.color: not a text group column"):
        resolve(states, pf.load_scenario().updated(group_min_shares={"color": {"red": 0.1}}))
    with pytest.raises(pf.ScenarioError, match="no region has census_region = 'Mars'"):
        resolve(states, pf.load_scenario().updated(group_min_shares={"census_region": {"Mars": 0.1}}))


def test_default_weights_on_a_user_csv_ask_for_weights() -> None:
    regions = make_regions("region_id,name,population,talent\nA,Alpha,10,1\nB,Beta,10,2")
    with pytest.raises(pf.ScenarioError, match="set `weights` in the scenario"):
        resolve(regions, pf.load_scenario())


def test_user_csv_with_only_weights_uses_capacity_index_for_absorption() -> None:
    regions = make_regions("region_id,name,population,talent\nA,Alpha,10,1\nB,Beta,10,3")
    inputs = resolve(regions, pf.load_scenario().updated(weights={"talent": 1}))
    assert all(spec.absorbs is None for spec in inputs.scenario.instruments.values())
    # absorption = capacity share over population share: 0.25/0.5 and 0.75/0.5, ^theta (0.1)
    assert inputs.multiplier[:, 0] == pytest.approx([0.5**0.1, 1.5**0.1])


def test_explicit_absorbs_that_do_not_exist_are_an_error() -> None:
    regions = make_regions("region_id,name,population,talent\nA,Alpha,10,1\nB,Beta,10,3")
    sc = tiny_scenario(instruments={"grant": {"yields": {"talent": "1%"}, "saturation_usd": 1e9,
                                              "absorbs": ["labs"]}})
    with pytest.raises(pf.ScenarioError, match=r"instruments.grant.absorbs: \['labs'\]"):
        resolve(regions, sc)
