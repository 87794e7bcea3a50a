"""Infeasible scenarios get a diagnosis whose every suggested relaxation is feasible."""

from __future__ import annotations

import pytest

import optimizer as pf
from tests.factories import make_regions, tiny_scenario
from tests.test_hubs import FOUR
from tests.test_optimum import MILD, UNEQUAL

CASES = [
    (UNEQUAL, {"region_floor_usd": "$4B"}, "region_floor_usd"),
    (UNEQUAL, {"region_cap_usd": "$3B"}, "region_cap_usd"),
    (UNEQUAL, {"per_capita_floor": 0.2}, "per_capita_floor"),
    (MILD, {"complementarity": 1.0, "top_k_share_cap": {"k": 1, "max_share": 0.3}},
     "top_k_share_cap"),
    (UNEQUAL, {"group_min_shares": {"region": {"east": 0.6}},
               "region_bounds": {"A": {"cap_usd": "$4B"}}}, "group_min_shares"),
    (FOUR, {"hubs": {"count": {"min": 3, "max": 4}, "award_usd": {"min": "$4B"}}},
     "hubs.award_usd.min"),
    (FOUR, {"hubs": {"count": {"max": 1}, "award_usd": {"max": "$6B"}}}, "hubs.count.max"),
]


@pytest.mark.parametrize(("regions", "overrides", "rule"), CASES)
def test_diagnosis_names_the_rule_and_each_relaxation_works(regions, overrides, rule) -> None:
    scenario = tiny_scenario(**overrides)
    with pytest.raises(pf.InfeasibleError) as err:
        pf.solve(regions, scenario)
    diagnosis = err.value.diagnosis
    assert diagnosis is not None
    assert any(rule in text for text in diagnosis.conflicting)
    assert rule in {r.rule for r in diagnosis.relaxations}
    assert "smallest single changes that make it feasible" in str(err.value)
    for relaxation in diagnosis.relaxations:
        relaxed = scenario.updated(**relaxation.changes)
        plan = pf.Planner(regions, diagnose=False).solve(relaxed)
        assert plan.solver["status"] == "optimal", relaxation.text


def test_floor_example_reads_like_the_issue() -> None:
    regions = make_regions("region_id,name,population,talent\nA,Alpha,10,1\nB,Beta,30,2\n"
                           "C,Gamma,20,2\nD,Delta,40,1\nE,Eps,5,3")
    with pytest.raises(pf.InfeasibleError) as err:
        pf.solve(regions, tiny_scenario(budget="$8B", region_floor_usd="$2B"))
    message = str(err.value)
    assert "lower the per-region floor from $2.00B to $1.60B" in message
    assert "raise the budget from $8.00B to $10.00B (+$2.00B)" in message
