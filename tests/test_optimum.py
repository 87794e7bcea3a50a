"""Hand-checkable optima on 2-4 invented regions, and the default plan's bar."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import optimizer as pf
from tests.factories import make_regions, tiny_scenario

TWINS = make_regions("""
region_id,name,population,talent
A,Alpha,1000,5
B,Beta,1000,5
""")

MILD = make_regions("""
region_id,name,population,talent
A,Alpha,1000,4
B,Beta,3000,9
C,Gamma,6000,12
""")

UNEQUAL = make_regions("""
region_id,name,population,talent,region
A,Alpha,1000,9,east
B,Beta,3000,3,west
C,Gamma,6000,1,west
""")


def allocation_of(amounts: dict[str, float], instrument: str = "grant") -> pd.DataFrame:
    return pd.DataFrame({"region_id": list(amounts), "instrument": instrument,
                         "amount_usd": list(amounts.values())})


def assert_near_optimum(plan: pf.AllocationResult, regions, optimum: dict[str, float]) -> None:
    """The plan is the known optimum up to the LP's tangent approximation.

    The objective is flat near the optimum, so the tangents may move money by a
    couple of percent while the exact objective stays within 1e-5 of the best.
    """
    assert funding(plan) == pytest.approx(optimum, rel=3e-2)
    best = pf.check(allocation_of(optimum), regions, plan.scenario).objective
    assert plan.objective == pytest.approx(best, rel=1e-5)
    assert plan.objective <= best + 1e-9


def funding(plan: pf.AllocationResult) -> dict[str, float]:
    return dict(zip(plan.regions["region_id"], plan.regions["funding_usd"], strict=True))


@pytest.mark.parametrize("lam", [0.5, 1.0])
def test_two_identical_regions_split_evenly(solve_checked, lam: float) -> None:
    plan = solve_checked(TWINS, tiny_scenario(spread_weight=lam))
    assert funding(plan) == pytest.approx({"A": 5e9, "B": 5e9}, rel=1e-6)


def test_two_identical_regions_without_spread_weight(solve_checked) -> None:
    # lambda = 0: the tangent envelope is flat between tangent points, so the LP may
    # split unevenly inside one segment; the exact objective is still the optimum's
    assert_near_optimum(solve_checked(TWINS, tiny_scenario(spread_weight=0.0)), TWINS,
                        {"A": 5e9, "B": 5e9})


def test_theta0_lambda0_funds_in_proportion_to_population(solve_checked) -> None:
    # g_r = a s_r ln(1 + x_r/s_r) with s_r proportional to population: equal marginal
    # gains a/(1 + x_r/s_r) mean x_r/s_r is the same everywhere, so x_r = B p_r / P.
    sc = tiny_scenario(spread_weight=0.0, complementarity=0.0)
    plan = solve_checked(UNEQUAL, sc)
    assert_near_optimum(plan, UNEQUAL, {"A": 1e9, "B": 3e9, "C": 6e9})
    marginal = plan.regions["marginal_points_per_busd"]
    assert marginal.max() / marginal.min() == pytest.approx(1.0, rel=2e-2)


def test_theta1_lambda0_follows_absorptive_capacity(solve_checked) -> None:
    # theta = 1: marginal gain a q_r / (1 + u_r) equal => 1 + u_r = k q_r with
    # k = (B + sum s_r) / sum s_r q_r (all regions funded here).
    sc = tiny_scenario(spread_weight=0.0, complementarity=1.0, min_absorption=0.01)
    plan = solve_checked(MILD, sc)
    share_pop = np.array([0.1, 0.3, 0.6])
    q = np.array([4, 9, 12]) / 25 / share_pop  # 1.6, 1.2, 0.8
    s = 10.0 * share_pop  # $B
    k = (10.0 + s.sum()) / (s * q).sum()  # = 2
    expected = s * (k * q - 1.0) * 1e9  # $2.2B, $4.2B, $3.6B
    assert expected == pytest.approx([2.2e9, 4.2e9, 3.6e9])
    assert_near_optimum(plan, MILD, dict(zip("ABC", expected, strict=True)))


def test_spread_weight_shifts_money_to_the_weaker_regions(solve_checked) -> None:
    sc = tiny_scenario(complementarity=1.0)
    total_only = solve_checked(UNEQUAL, sc.updated(spread_weight=0.0))
    spread = solve_checked(UNEQUAL, sc.updated(spread_weight=1.0))
    assert funding(spread)["C"] > funding(total_only)["C"]
    assert spread.metrics_after["gini"] < total_only.metrics_after["gini"]
    assert total_only.metrics_after["total_capacity"] >= spread.metrics_after["total_capacity"]


def test_budget_dual_matches_a_finite_difference(solve_checked) -> None:
    sc = tiny_scenario(complementarity=0.5, spread_weight=0.5)
    plan = solve_checked(UNEQUAL, sc)
    bigger = solve_checked(UNEQUAL, sc.updated(budget=10.5e9))
    per_busd = (bigger.objective - plan.objective) / 0.5
    dual = plan.marginal_values.set_index("constraint").loc["budget", "marginal_value"]
    assert dual == pytest.approx(per_busd, rel=0.05)
    assert dual > 0


def test_binding_cap_is_reported_in_plain_words(solve_checked) -> None:
    sc = tiny_scenario(spread_weight=0.0, complementarity=1.0,
                       region_bounds={"Alpha": {"cap_usd": "$0.5B"}})
    plan = solve_checked(UNEQUAL, sc)
    assert funding(plan)["A"] == pytest.approx(0.5e9, rel=1e-6)
    row = plan.marginal_values.set_index("constraint").loc["region_cap"]
    assert row["target"] == "A"
    assert row["marginal_value"] > 0
    assert "raising the cap on Alpha ($500M) by $1B would add" in row["explanation"]


def test_exclusions_get_nothing(solve_checked) -> None:
    sc = tiny_scenario(exclusions={"top_k_incumbents": 1, "regions": ["Gamma"]})
    plan = solve_checked(UNEQUAL, sc)
    assert funding(plan)["A"] == 0.0
    assert funding(plan)["C"] == 0.0
    assert funding(plan)["B"] == pytest.approx(10e9)
    assert plan.regions.set_index("region_id")["excluded"].to_dict() == {
        "A": True, "B": False, "C": True}


def test_group_minimum_share_holds(solve_checked) -> None:
    sc = tiny_scenario(spread_weight=0.0, group_min_shares={"region": {"east": 0.5}})
    plan = solve_checked(UNEQUAL, sc)
    assert funding(plan)["A"] >= 5e9 - 1.0


def test_instrument_shares_hold(solve_checked) -> None:
    sc = tiny_scenario(instruments={
        "grant": {"yields": {"talent": "1%"}, "saturation_usd": "$10B"},
        "loan": {"yields": {"talent": "0.2%"}, "saturation_usd": "$10B"},
    }, instrument_shares={"loan": {"min": 0.3}})
    plan = solve_checked(UNEQUAL, sc)
    by_instrument = plan.allocation.groupby("instrument")["amount_usd"].sum()
    assert by_instrument["loan"] == pytest.approx(3e9, rel=1e-6)


def test_per_capita_floor_binds_and_holds_exactly(solve_checked) -> None:
    sc = tiny_scenario(spread_weight=0.0, complementarity=1.0)
    free = solve_checked(MILD, sc)
    floor = free.regions["capacity_per_capita_after"].min() + 0.005
    plan = solve_checked(MILD, sc.updated(per_capita_floor=floor))
    # under the exact response, not only in the LP (the floor acts on the inner chords)
    assert plan.regions["capacity_per_capita_after"].min() >= floor - 1e-9
    assert plan.objective < free.objective
    # its marginal value (points per 0.01 of the floor) matches a finite difference of the
    # LP, with a step small enough to stay on one piece of the piecewise-linear response:
    # re-solved on one planner, whose tangents the small step leaves as they are
    step = 1e-6
    planner = pf.Planner(MILD)
    at = planner.solve(sc.updated(per_capita_floor=floor))
    higher = planner.solve(sc.updated(per_capita_floor=floor + step))
    assert higher.approximation["iterations"] == 1  # the same LP, no tangent added
    per_hundredth = (higher.solver.objective_lp - at.solver.objective_lp) / step / 100
    row = plan.marginal_values.set_index("constraint").loc["per_capita_floor"]
    assert row["marginal_value"] == pytest.approx(per_hundredth, rel=1e-3)
    assert row["marginal_value"] < 0 and "raising the per-capita floor" in row["explanation"]


def test_top_k_share_cap_binds_and_holds_exactly(solve_checked) -> None:
    sc = tiny_scenario(spread_weight=0.0, complementarity=1.0)
    free = solve_checked(MILD, sc)
    cap = free.regions["capacity_share_after"].max() - 0.01
    plan = solve_checked(MILD, sc.updated(top_k_share_cap={"k": 1, "max_share": cap}))
    assert plan.regions["capacity_share_after"].max() <= cap + 1e-4
    assert plan.objective < free.objective
    row = plan.marginal_values.set_index("constraint").loc["top_k_share_cap"]
    assert row["marginal_value"] > 0


def test_unspent_budget_allowed_only_when_asked(solve_checked) -> None:
    sc = tiny_scenario(region_cap_usd="$1B", allow_unspent=True)
    plan = solve_checked(UNEQUAL, sc)
    assert plan.spent_usd == pytest.approx(3e9)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"region_floor_usd": "$4B"},
         "region floors add up to $12.0B but the budget is $10.0B, $2.0B less"),
        ({"region_cap_usd": "$3B"},
         "region caps (after exclusions) add up to $9.0B but the whole budget of $10.0B"),
        ({"group_min_shares": {"region": {"east": 0.5}}, "region_bounds": {"A": {"cap_usd": 1e9}}},
         "group region = east must get at least $5.0B but its regions can take only $1.0B"),
        ({"exclusions": {"regions": ["A"]}, "region_bounds": {"A": {"floor_usd": 1e9}}},
         "region Alpha (A) has a floor of $1.0B but it is excluded"),
        ({"per_capita_floor": 50.0}, "per-capita floor 50 is out of reach"),
    ],
)
def test_infeasible_scenarios_explain_what_to_relax(overrides: dict, message: str) -> None:
    with pytest.raises(pf.InfeasibleError) as err:
        pf.solve(UNEQUAL, tiny_scenario(**overrides))
    assert message in str(err.value)
    assert err.value.exit_code == 1


def test_default_plan_meets_the_bar(default_plan, states) -> None:
    assert default_plan.spent_usd == pytest.approx(80e9, rel=1e-9)
    report = pf.check(default_plan.allocation, states, default_plan.scenario,
                      default_plan.metrics_after, default_plan.metrics_before)
    assert report.ok, str(report)
    assert default_plan.metrics_after["top10_share"] < default_plan.metrics_before["top10_share"]
    assert default_plan.approximation["within_tolerance"]
    assert default_plan.approximation["error_share"] >= -1e-9
    assert default_plan.filled_values == {"ai_vc_musd": 4, "cbp_semiconductors": 4}
    assert len(default_plan.regions) == 51


def test_planner_resolve_matches_a_fresh_solve(states) -> None:
    planner = pf.Planner(states)
    sc = pf.load_scenario()
    planner.solve(sc.updated(spread_weight=0.2, weights={"ai_job_postings": 1.0}))
    warm = planner.solve(sc)
    fresh = pf.solve(states, sc)
    assert warm.solver.rebuilt is False
    # the re-solve keeps the tangents the first solve added, so the two LPs differ: their
    # plans agree up to the approximation error each reports (a bound on how far each is
    # from the optimum)
    bound = max(warm.approximation["error_share"], fresh.approximation["error_share"])
    assert abs(warm.objective - fresh.objective) <= bound * fresh.objective
    assert warm.approximation["within_tolerance"] and fresh.approximation["within_tolerance"]


def test_hoover_spread_measure_is_exact_and_reported(solve_checked) -> None:
    sc = tiny_scenario(complementarity=1.0, spread_measure="hoover")
    total_only = solve_checked(UNEQUAL, sc.updated(spread_weight=0.0))
    spread = solve_checked(UNEQUAL, sc.updated(spread_weight=1.0))
    assert spread.metrics_after["hoover"] < total_only.metrics_after["hoover"]
    after = spread.metrics_after
    assert spread.objective == pytest.approx(
        100 * after["mean_capacity"] * (1 - after["hoover"]))
    assert spread.to_metrics_dict()["objective_measure"] == "hoover"


def test_pairwise_gini_on_a_large_region_set_asks_for_an_explicit_choice() -> None:
    rows = "\n".join(f"R{i},Region {i},{100 + i},{1 + i % 7}" for i in range(300))
    regions = make_regions("region_id,name,population,talent\n" + rows)
    with pytest.raises(pf.ScenarioError, match="set spread_measure: hoover"):
        pf.solve(regions, tiny_scenario())
