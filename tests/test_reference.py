"""Tech Hubs at metro scale: the hub -> CBSA mapping, the random baseline, the comparison's
bookkeeping, and the statute pack on the shipped metros."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest

import optimizer as pf
from optimizer.analysis.reference import (
    HUB_CBSA_FILE,
    IN_SET,
    chance_of_at_least,
    compare_metros_with_designations,
    designated_metros,
    hub_cbsa_map,
    random_baseline,
    statute_scenario,
    unplaced_hubs,
)
from optimizer.engine.data import DATA_DIR
from optimizer.engine.inputs import resolve
from tests.factories import make_regions, tiny_scenario

# five metros, two hub rules: at least one hub per coast, at least half small/rural
FIVE = make_regions("""
region_id,name,population,talent,coast,small_rural
10001,Alpha,1000,40,east,false
10002,Beta,2000,30,east,true
10003,Gamma,3000,20,west,true
10004,Delta,4000,10,west,false
10005,Epsilon,5000,5,west,true
""")


def mapping(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """A hub -> CBSA table from (hub, cbsa_code, status, confidence) rows."""
    return pd.DataFrame([{"hub_name": h, "states": "XX", "cbsa_code": c, "cbsa_title": "",
                          "cbsa_type": "metro" if s == IN_SET else "", "status": s,
                          "confidence": k, "basis": "test"} for h, c, s, k in rows])


# --------------------------------------------------------------------------- the mapping


def test_every_hub_is_mapped_or_listed_as_unplaced() -> None:
    hubs = set(pd.read_csv(DATA_DIR / "tech_hubs_2023.csv")["hub_name"])
    table = hub_cbsa_map()
    assert set(table["hub_name"]) == hubs
    placed = set(table.loc[table["status"] == IN_SET, "hub_name"])
    unplaced = set(unplaced_hubs(table)["hub_name"])
    assert placed | unplaced == hubs and not placed & unplaced
    assert (unplaced_hubs(table)["why"].str.len() > 0).all()


def test_every_mapped_cbsa_is_a_shipped_metro() -> None:
    metros = pd.read_csv(DATA_DIR / "metros.csv", dtype={"region_id": str})
    table = hub_cbsa_map()
    placed = table[table["status"] == IN_SET]
    assert set(placed["cbsa_code"]) <= set(metros["region_id"])
    assert (placed["cbsa_type"] == "metro").all()
    # a CBSA outside the metro set is never one of the shipped metros
    outside = table.loc[table["cbsa_code"] != "", ["cbsa_code", "status"]]
    assert not set(outside.loc[outside["status"] != IN_SET, "cbsa_code"]) & set(metros["region_id"])


def test_designated_metros_join_hubs_and_filter_by_confidence() -> None:
    table = mapping([("H1", "10001", IN_SET, "named"), ("H2", "10001", IN_SET, "inferred"),
                     ("H2", "10003", IN_SET, "inferred"), ("H3", "", "unplaceable", "named")])
    both = designated_metros(table).set_index("cbsa_code")
    assert list(both.index) == ["10001", "10003"]
    assert both.loc["10001", "hubs"] == "H1; H2" and both.loc["10001", "confidence"] == "named"
    assert list(designated_metros(table, ("named",))["cbsa_code"]) == ["10001"]
    assert list(unplaced_hubs(table)["hub_name"]) == ["H3"]


def test_a_bad_mapping_row_is_named(tmp_path) -> None:
    path = tmp_path / "map.csv"
    bad = mapping([("H1", "10001", IN_SET, "named"), ("H2", "123", IN_SET, "named")])
    bad.to_csv(path, index=False)
    with pytest.raises(pf.DataError, match=r"row 3, column 'cbsa_code'.*5-digit"):
        hub_cbsa_map(path)
    bad.loc[1, ["cbsa_code", "status"]] = ["10002", "maybe"]
    bad.to_csv(path, index=False)
    with pytest.raises(pf.DataError, match=r"row 3, column 'status'"):
        hub_cbsa_map(path)
    assert hub_cbsa_map(HUB_CBSA_FILE)["basis"].str.strip().ne("").all()


# --------------------------------------------------------------------------- random choice


@pytest.mark.parametrize(("n", "k", "d"), [(6, 2, 3), (7, 3, 2), (5, 5, 1), (8, 0, 4)])
def test_random_baseline_is_the_average_over_every_choice(n: int, k: int, d: int) -> None:
    designated = set(range(d))
    choices = list(itertools.combinations(range(n), k))
    overlaps = [len(designated & set(c)) for c in choices]
    expected = random_baseline(n, k, d)
    assert expected["overlap"] == pytest.approx(sum(overlaps) / len(choices))
    assert expected["overlap"] == pytest.approx(k * d / n)
    if k:
        assert expected["precision"] == pytest.approx(sum(o / k for o in overlaps) / len(choices))
    assert expected["recall"] == pytest.approx(sum(o / d for o in overlaps) / len(choices))
    for at_least in range(k + 2):
        share = sum(o >= at_least for o in overlaps) / len(choices)
        assert chance_of_at_least(at_least, n, k, d) == pytest.approx(share)


def test_random_baseline_by_hand() -> None:
    # 2 of 10 drawn, 5 designated: one shared on average, precision 1/2, recall 1/5
    assert random_baseline(10, 2, 5) == {"overlap": 1.0, "precision": 0.5, "recall": 0.2}
    # both of 2 drawn from the 5 designated: C(5,2) / C(10,2) = 10/45
    assert chance_of_at_least(2, 10, 2, 5) == pytest.approx(10 / 45)
    assert math.isclose(chance_of_at_least(0, 10, 2, 5), 1.0)


# --------------------------------------------------------------------------- the comparison


def test_precision_recall_and_disagreements_of_a_small_plan() -> None:
    sc = tiny_scenario(spread_weight=0.0, complementarity=1.0, hubs={
        "count": {"min": 2, "max": 2}, "award_usd": {"min": "$1B"},
        "min_per_group": {"coast": 1}, "designated": {"column": "small_rural", "min_share": 0.5}})
    plan = pf.solve(FIVE, sc)
    chosen = set(plan.regions.loc[plan.regions["hub"], "region_id"])
    # the strongest (Alpha, east) and the strongest small/rural in the west (Gamma)
    assert chosen == {"10001", "10003"}
    designated = {"10002", "10003", "10005"}
    table = mapping([("H1", "10002", IN_SET, "named"), ("H2", "10003", IN_SET, "inferred"),
                     ("H2", "10005", IN_SET, "inferred"), ("H3", "", "unplaceable", "named")])
    comparison = compare_metros_with_designations(plan, FIVE, table)
    both = chosen & designated
    assert set(comparison.both) == both
    assert set(comparison.plan_only) == chosen - designated
    assert set(comparison.designated_only) == designated - chosen
    assert comparison.precision == pytest.approx(len(both) / len(chosen))
    assert comparison.recall == pytest.approx(len(both) / len(designated))
    assert (comparison.precision, comparison.recall) == pytest.approx((1 / 2, 1 / 3))
    assert comparison.random == random_baseline(5, 2, 3)
    # every disagreement, one row each, with a reason
    reasons = comparison.disagreements
    expected = {("plan only", r) for r in chosen - designated} | {
        ("designated only", r) for r in designated - chosen}
    assert set(zip(reasons["kind"], reasons["region_id"], strict=True)) == expected
    assert reasons["reason"].str.contains("rank").all()
    named = compare_metros_with_designations(plan, FIVE, table, confidence=("named",))
    assert named.n_designated == 1
    assert f"precision {comparison.precision:.1%}" in comparison.summary()


def test_a_designated_cbsa_missing_from_the_regions_is_an_error() -> None:
    plan = pf.solve(FIVE, tiny_scenario(hubs={"count": {"max": 2}}))
    table = mapping([("H1", "99999", IN_SET, "named")])
    with pytest.raises(pf.DataError, match=r"\['99999'\] are not regions"):
        compare_metros_with_designations(plan, FIVE, table)


def test_statute_pack_on_shipped_metros() -> None:
    metros = pf.load_regions("metros")
    plan = pf.solve(metros, statute_scenario("metros", metros, budget="$504M"))
    assert plan.solver.mip and plan.solver.proven_optimal
    assert plan.solver.mip_gap <= plan.scenario.hubs.mip_rel_gap
    assert not plan.notes  # every rule applied, small/rural included
    chosen = plan.regions[plan.regions["hub"]]
    small = metros.table.set_index("region_id").loc[chosen["region_id"], "small_rural"]
    assert len(chosen) >= 20
    assert chosen.groupby("census_region").size().reindex(
        ["Midwest", "Northeast", "South", "West"]).min() >= 3
    assert small.astype(str).str.lower().eq("true").sum() >= len(chosen) / 3
    assert chosen["funding_usd"].between(19e6 - 1, 51e6 + 1).all()
    comparison = compare_metros_with_designations(plan, metros)
    selected = set(chosen["region_id"])
    designated = set(designated_metros()["cbsa_code"])
    assert set(comparison.both) == selected & designated
    assert comparison.precision == len(selected & designated) / len(selected)
    assert comparison.recall == len(selected & designated) / len(designated)
    assert comparison.random["precision"] == len(designated) / len(metros)
    kinds = comparison.disagreements["kind"].value_counts()
    assert kinds.get("plan only", 0) == min(5, len(comparison.plan_only))
    assert kinds.get("designated only", 0) == min(5, len(comparison.designated_only))
    assert comparison.disagreements["reason"].str.contains("lowers the objective by").all()


def test_the_small_rural_rule_is_applied_on_metros_never_skipped() -> None:
    metros = pf.load_regions("metros")
    for pack in ("tech_hubs_2022_statute", "tech_hubs_2022_statute_metros"):
        inputs = resolve(metros, statute_scenario("metros", metros, pack=pack, budget="$504M"))
        assert inputs.hubs is not None and not inputs.hubs.notes
        members, share = inputs.hubs.designated
        assert share == pytest.approx(1 / 3)
        assert set(metros.table["region_id"].iloc[members]) == set(
            metros.table.loc[metros.table["small_rural"].astype(str).str.lower() == "true",
                             "region_id"])
    # the metro pack refuses a table without the flag instead of dropping the rule
    no_flag = make_regions("""
region_id,name,population,talent,census_region
10001,Alpha,1000,40,South
10002,Beta,2000,30,West
""")
    sc = tiny_scenario(packs=["tech_hubs_2022_statute_metros"])
    with pytest.raises(pf.ScenarioError, match="hubs.designated.column: 'small_rural'"):
        pf.solve(no_flag, sc)
