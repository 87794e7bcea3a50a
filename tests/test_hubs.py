"""Hub selection (MIP): known optimal hub sets, the rules, packs and the checker."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

import optimizer as pf
from optimizer.analysis.reference import compare_with_designations, designated_states
from optimizer.engine.check import money_tolerance_usd
from optimizer.engine.inputs import resolve
from optimizer.engine.model import money_unit_busd
from optimizer.engine.solve import lp_tolerance
from tests.factories import FOUR, make_regions, tiny_scenario


def hubs_of(plan: pf.AllocationResult) -> set[str]:
    return set(plan.regions.loc[plan.regions["hub"], "region_id"])


def solve_hubs(regions, scenario) -> pf.AllocationResult:
    plan = pf.solve(regions, scenario)
    report = pf.check(plan.allocation, regions, plan.scenario, plan.metrics_after,
                      plan.metrics_before, hubs=hubs_of(plan))
    assert report.ok, str(report)
    assert plan.solver.mip and plan.solver.proven_optimal
    return plan


def brute_force_best(regions, scenario, k_max: int) -> set[str]:
    """Best hub set by enumeration: solve the LP with every other region excluded."""
    ids = regions.ids
    best, best_set = -float("inf"), set()
    for k in range(1, k_max + 1):
        for chosen in itertools.combinations(ids, k):
            others = [r for r in ids if r not in chosen]
            lp = scenario.updated(hubs=None, exclusions={"regions": others})
            try:
                objective = pf.solve(regions, lp).objective
            except pf.InfeasibleError:
                continue
            if objective > best + 1e-9:
                best, best_set = objective, set(chosen)
    return best_set


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_two_hubs_of_four_match_brute_force(lam: float) -> None:
    sc = tiny_scenario(spread_weight=lam, complementarity=1.0,
                       hubs={"count": {"min": 1, "max": 2}})
    plan = solve_hubs(FOUR, sc)
    assert hubs_of(plan) == brute_force_best(FOUR, sc, 2)
    assert plan.regions.loc[~plan.regions["hub"], "funding_usd"].sum() == 0.0


def test_award_bounds_force_more_hubs() -> None:
    # at most $3B per hub and the whole $10B spent: at least 4 hubs
    sc = tiny_scenario(hubs={"count": {"min": 1}, "award_usd": {"min": "$1B", "max": "$3B"}})
    plan = solve_hubs(FOUR, sc)
    assert len(hubs_of(plan)) == 4
    funded = plan.regions["funding_usd"]
    assert funded.min() >= 1e9 - 1 and funded.max() <= 3e9 + 1


def test_group_minimum_and_one_per_group() -> None:
    base = tiny_scenario(spread_weight=0.0, complementarity=1.0, hubs={"count": {"max": 2}})
    assert hubs_of(solve_hubs(FOUR, base)) <= {"A", "B"}  # the strong east wins alone
    both_coasts = base.updated(hubs={"count": {"max": 2}, "min_per_group": {"coast": 1}})
    chosen = hubs_of(solve_hubs(FOUR, both_coasts))
    assert len(chosen & {"A", "B"}) == 1 and len(chosen & {"C", "D"}) == 1
    one_each = base.updated(hubs={"count": {"min": 2}, "max_one_per_group": ["coast"]})
    chosen = hubs_of(solve_hubs(FOUR, one_each))
    assert len(chosen) == 2 and len(chosen & {"A", "B"}) == 1


def test_designated_share_of_hubs() -> None:
    sc = tiny_scenario(spread_weight=0.0, complementarity=1.0, hubs={
        "count": {"max": 2}, "designated": {"column": "small_rural", "min_share": 0.5}})
    chosen = hubs_of(solve_hubs(FOUR, sc))
    assert len(chosen & {"C", "D"}) >= len(chosen) / 2


def test_mip_duals_are_labelled_conditional() -> None:
    plan = solve_hubs(FOUR, tiny_scenario(hubs={"count": {"max": 2}}))
    assert plan.solver.duals == "conditional on the chosen hubs"
    budget = plan.marginal_values.set_index("constraint").loc["budget"]
    assert budget["marginal_value"] > 0
    assert budget["explanation"].endswith("(given the chosen hubs)")


@pytest.mark.parametrize(
    ("amounts", "hubs", "violation"),
    [
        ((5e9, 5e9, 0.0, 0.0), {"A"}, "funded_non_hub"),
        ((9.5e9, 0.5e9, 0.0, 0.0), None, "hub_award_min"),
        ((4e9, 4e9, 2e9, 0.0), None, "hub_count"),
        ((5e9, 5e9, 0.0, 0.0), None, "hub_group_min"),
    ],
)
def test_checker_catches_broken_hub_rules(amounts, hubs, violation) -> None:
    sc = tiny_scenario(hubs={"count": {"max": 2}, "award_usd": {"min": "$1B"},
                             "min_per_group": {"coast": 1}})
    allocation = pd.DataFrame({"region_id": list("ABCD"), "instrument": "grant",
                               "amount_usd": list(amounts)})
    report = pf.check(allocation, FOUR, sc, hubs=hubs)
    assert violation in {v.name for v in report.violations}


def test_checker_catches_two_hubs_in_one_group() -> None:
    sc = tiny_scenario(hubs={"max_one_per_group": ["coast"]})
    allocation = pd.DataFrame({"region_id": list("ABCD"), "instrument": "grant",
                               "amount_usd": [5e9, 5e9, 0.0, 0.0]})
    assert "hub_group_max" in {v.name for v in pf.check(allocation, FOUR, sc).violations}


def test_packs_expand_and_can_be_overridden() -> None:
    sc = pf.scenario_from_dict({"packs": ["tech_hubs_2022_statute", "no_incumbents"]})
    assert sc.hubs is not None and sc.hubs.count.min == 20
    assert sc.exclusions.top_k_incumbents == 4
    mine = pf.scenario_from_dict({"packs": ["no_incumbents"],
                                  "exclusions": {"top_k_incumbents": 2}})
    assert mine.exclusions.top_k_incumbents == 2
    with pytest.raises(pf.ScenarioError, match=r"packs: unknown pack\(s\) \['tech_hubs'\]"):
        pf.scenario_from_dict({"packs": ["tech_hubs"]})


def test_statute_pack_on_states_compares_with_2023_designations(states) -> None:
    sc = pf.scenario_from_dict({"packs": ["tech_hubs_2022_statute"], "budget": "$504M"})
    plan = solve_hubs(states, sc)
    chosen = plan.regions[plan.regions["hub"]]
    assert len(chosen) >= 20
    assert chosen.groupby("census_region").size().min() >= 3
    assert any("small_rural" in note for note in plan.notes)
    comparison = compare_with_designations(plan)
    designated = set(designated_states().index)
    selected = set(chosen["postal"])
    assert set(comparison.both) == selected & designated
    assert set(comparison.plan_only) == selected - designated
    assert set(comparison.designated_only) == (designated & set(states.table["postal"])) - selected
    assert "hub states were designated in 2023" in comparison.summary()


def test_an_award_maximum_of_zero_funds_no_hub_at_all() -> None:
    # the hub rows keep a smallest coefficient (HiGHS drops zeros), so without the region
    # rows a hub could take a few hundred dollars of an award capped at $0
    two = make_regions("""
region_id,name,population,talent,zone
R0,Region 0,500,1.0,north
R1,Region 1,500,0.5,north
""")
    scenario = tiny_scenario(budget="$504M", allow_unspent=True,
                             hubs={"count": {"min": 0, "max": 1},
                                   "award_usd": {"min": 0.0, "max": 0.0}})
    plan = pf.solve(two, scenario)
    assert plan.spent_usd == 0.0
    assert pf.check(plan.allocation, two, plan.scenario, plan.metrics_after,
                    plan.metrics_before, hubs=hubs_of(plan)).ok


def test_a_hub_gets_not_a_dollar_past_an_award_maximum_of_zero() -> None:
    # found by the fuzz: a HiGHS MIP run leaves its primal feasibility tolerance at 1e-6
    # ($1,000 in $B units), and the LP with the chosen hub fixed, solved next, gave R2
    # $1,000 past its award maximum of $0 (the award rows' smallest coefficient asked a
    # hub for $1,000): the checker refused the plan of a feasible scenario. Nothing
    # spent is a plan here (unspent money is allowed).
    four = make_regions("""
region_id,name,population,jobs
R0,Region 0,5000,8000
R1,Region 1,6000000,30000
R2,Region 2,700,0.01
R3,Region 3,10000,60000
""")
    scenario = pf.scenario_from_dict({
        "budget": "$10B", "allow_unspent": True, "weights": {"jobs": 1.0},
        # 2 points per $1B: the jobs total is 98,000.01
        "instruments": {"talent": {"yields": {"jobs": 2.0 * 98_000.01 / 100},
                                   "saturation_usd": "$50B"}},
        "hubs": {"count": {"min": 0, "max": 1}, "award_usd": {"min": 0, "max": 0}},
    }, source="test scenario")
    plan = solve_hubs(four, scenario)
    assert plan.spent_usd == 0.0
    assert (plan.regions["funding_usd"] == 0.0).all()


@pytest.mark.parametrize("budget", [8e4, 5.04e8, 1e9, 1e10, 8e10, 2e12])
def test_the_lp_that_funds_a_hub_plan_is_held_within_the_checkers_money_tolerance(
        budget: float) -> None:
    # each of its rows is off by at most this tolerance (in money units), a tenth of
    # what the checker allows a money rule, and never below what HiGHS accepts (1e-10)
    inputs = resolve(FOUR, tiny_scenario(budget=budget, hubs={"count": {"max": 2}}))
    unit = money_unit_busd(inputs.budget_busd)
    tolerance = lp_tolerance(inputs, unit)
    assert 1e-10 <= tolerance <= 1e-7
    assert tolerance * unit * 1e9 <= 0.1 * money_tolerance_usd(budget) * (1 + 1e-12)
