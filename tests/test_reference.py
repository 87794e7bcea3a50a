"""Tech Hubs at metro scale: the hub -> CBSA mapping, the random baseline, the comparison's
bookkeeping, the statute pack on the shipped metros, the 2024 reference tables, the
rule-keeping random draws, and the generated docs/tech_hubs_reference.md."""

from __future__ import annotations

import importlib.util
import itertools
import math
from collections import Counter
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

import optimizer as pf
from optimizer.analysis.reference import (
    HUB_CBSA_FILE,
    IN_SET,
    DrawRules,
    Reference,
    chance_of_at_least,
    compare_metros_with_designations,
    designated_metros,
    draw_hub_sets,
    hub_cbsa_map,
    nsf_engines,
    phase2_awards,
    random_baseline,
    references,
    score_hubs,
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
    # every rule applied, small/rural included: the only note is that venture's yields
    # (state figures apportioned) carry no metro weight
    assert [n for n in plan.notes if "buys nothing the plan values" not in n] == []
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


# --------------------------------------------------------------------------- 2024 references


def test_reference_tables_load_with_text_codes_and_caveats() -> None:
    phase2, engines = phase2_awards(), nsf_engines()
    assert len(phase2) == 12 and phase2["hub_name"].is_unique
    assert len(engines) == 10 and engines["engine_name"].is_unique
    for table in (phase2, engines):
        assert table["lead_cbsa_code"].map(type).eq(str).all()
        assert table["lead_cbsa_code"].str.fullmatch(r"\d{5}").all()
        # every row carries its source and its caveats
        assert table["source_url"].str.startswith("https://").all()
        assert table["notes"].str.len().gt(20).all()
    # EDA's approximate amounts add up to the announced $504M; Engines' ceilings are $15M
    assert phase2["award_usd"].astype(int).sum() == 504_000_000
    assert set(engines["award_first_two_years_usd"]) == {"15000000"}
    # every lead metro is a shipped metro today (a missing one would be reported, below)
    metros = pd.read_csv(DATA_DIR / "metros.csv", dtype={"region_id": str})
    codes = set(phase2["lead_cbsa_code"]) | set(engines["lead_cbsa_code"])
    assert codes <= set(metros["region_id"])


def test_a_leading_zero_stays_and_a_bad_row_is_named(tmp_path: Path) -> None:
    table = phase2_awards().head(2).copy()
    table.loc[0, "lead_cbsa_code"] = "01234"
    path = tmp_path / "phase2.csv"
    table.to_csv(path, index=False)
    assert phase2_awards(path)["lead_cbsa_code"].iloc[0] == "01234"
    table.loc[1, "lead_cbsa_code"] = "1234"
    table.to_csv(path, index=False)
    with pytest.raises(pf.DataError, match=r"row 3, column 'lead_cbsa_code'.*5-digit"):
        phase2_awards(path)
    table.loc[1, "lead_cbsa_code"] = "12345"
    table.loc[1, "notes"] = " "
    table.to_csv(path, index=False)
    with pytest.raises(pf.DataError, match=r"row 3, column 'notes'"):
        phase2_awards(path)
    table.drop(columns="notes").to_csv(path, index=False)
    with pytest.raises(pf.DataError, match=r"missing columns \['notes'\]"):
        phase2_awards(path)


def test_references_report_what_they_cannot_place() -> None:
    refs = {r.key: r for r in references()}
    assert list(refs) == ["designations_2023", "designations_2023_named", "phase2_2024",
                          "engines_2024"]
    ids = list(pd.read_csv(DATA_DIR / "metros.csv", dtype={"region_id": str})["region_id"])
    assert refs["designations_2023"].codes() == list(designated_metros()["cbsa_code"])
    # the two hubs with no metro are listed, with the reason
    gone = refs["designations_2023"].not_placed(ids)
    assert set(gone["entry"]) == set(unplaced_hubs()["hub_name"])
    assert gone["metro"].str.startswith("no metro of the set").all()
    assert len(refs["phase2_2024"].placed(ids)) == 12
    assert refs["engines_2024"].not_placed(ids).empty
    # a lead metro that is not a region of the table: out of hits and recall, reported
    without_akron = [i for i in ids if i != "10420"]
    assert len(refs["phase2_2024"].placed(without_akron)) == 11
    missing = refs["phase2_2024"].not_placed(without_akron)
    assert missing[["entry", "cbsa_code"]].values.tolist() == [
        ["Sustainable Polymers Tech Hub", "10420"]]
    ref = Reference("x", "x", "x", pd.DataFrame({"entry": ["A", "B"], "cbsa_code": ["1", "9"],
                                                 "metro": ["a", "b"]}), "x.csv")
    assert ref.placed(["1", "2"]) == ["1"]
    assert list(ref.not_placed(["1", "2"])["entry"]) == ["B"]


# --------------------------------------------------------------------------- scores by hand


def test_precision_and_recall_by_hand() -> None:
    # six regions; the plan picks 1, 2, 3 and 4; the reference names 2, 5 and 9 (not a
    # region); two hand-made draws pick {1, 2} and {2, 5}
    ids = ["1", "2", "3", "4", "5", "6"]
    hubs = np.array([True, True, True, True, False, False])
    ref = Reference("r", "R", "metro", pd.DataFrame({
        "entry": ["a", "b", "c"], "cbsa_code": ["2", "5", "9"], "metro": ["", "", ""]}), "r.csv")
    draws = np.array([[0, 1], [1, 4]])
    score = score_hubs(hubs, ids, ref, draws)
    assert score.hits == ["2"]
    assert score.n_placed == 2 and list(score.not_placed["entry"]) == ["c"]
    assert score.precision == pytest.approx(1 / 4)  # one of the plan's four hubs
    assert score.recall == pytest.approx(1 / 2)  # one of the two placeable reference metros
    assert list(score.random_hits) == [1, 2]
    assert score.random_mean_hits == pytest.approx(1.5)
    assert score.random_recall == pytest.approx(1.5 / 2)
    assert score.p_at_least == pytest.approx(1.0)  # both draws have >= 1 hit
    assert score.p_standard_error == 0.0


def test_unruled_draws_match_the_exact_hypergeometric_chance() -> None:
    # 40 regions, 12 designated, 6 hubs of which 3 designated
    n, d, k = 40, 12, 6
    ids = [str(i) for i in range(n)]
    hubs = np.zeros(n, dtype=bool)
    hubs[[0, 1, 2, 20, 21, 22]] = True
    ref = Reference("r", "R", "metro", pd.DataFrame({
        "entry": ids[:d], "cbsa_code": ids[:d], "metro": ""}), "r.csv")
    draws = draw_hub_sets(DrawRules(np.ones(n, dtype=bool)), k, 40_000, seed=1)
    score = score_hubs(hubs, ids, ref, draws)
    assert len(score.hits) == 3
    exact = chance_of_at_least(3, n, k, d)
    assert abs(score.p_at_least - exact) < 4 * score.p_standard_error
    assert score.random_precision == pytest.approx(d / n, abs=0.01)


# --------------------------------------------------------------------------- rule-keeping draws


def _feasible_sets(rules: DrawRules, k: int) -> list[tuple[int, ...]]:
    n = len(rules.eligible)
    every = np.array(list(itertools.combinations(range(n), k)))
    return [tuple(row) for row in every[rules.hold(every)]]


@pytest.mark.parametrize("k", [2, 4])  # 2 of 6: distinct picks; 4 of 6: uniform keys
def test_draws_are_uniform_over_the_rule_keeping_sets(k: int) -> None:
    # six regions, two groups of three; at least one hub in each group; at least half the
    # hubs among regions 0, 3 and 4; region 5 is not eligible
    group_a = np.array([True, True, True, False, False, False])
    small = np.array([True, False, False, True, True, False])
    rules = DrawRules(np.array([True] * 5 + [False]), ((group_a, 1), (~group_a, 1)), (),
                      (small, 0.5))
    feasible = _feasible_sets(rules, k)
    draws = draw_hub_sets(rules, k, 30_000, seed=7)
    counts = Counter(tuple(sorted(row)) for row in draws)
    assert set(counts) == set(feasible)
    expected = len(draws) / len(feasible)
    # each set's count is binomial: within 5 standard deviations of the uniform mean
    sd = math.sqrt(expected * (1 - 1 / len(feasible)))
    assert all(abs(c - expected) < 5 * sd for c in counts.values()), counts
    # fixed seed, same draws
    assert np.array_equal(draws, draw_hub_sets(rules, k, 30_000, seed=7))


def test_too_tight_rules_are_refused_not_looped_forever() -> None:
    ok = np.ones(6, dtype=bool)
    with pytest.raises(ValueError, match="cannot draw 7 hubs from 6"):
        draw_hub_sets(DrawRules(ok), 7, 10, seed=0)
    impossible = DrawRules(ok, ((np.array([True] + [False] * 5), 2),))
    with pytest.raises(ValueError, match="too tight"):
        draw_hub_sets(impossible, 2, 10, seed=0, batch=100, max_batches=3)


def test_every_draw_keeps_the_metro_statute_rules() -> None:
    metros = pf.load_regions("metros")
    inputs = resolve(metros, statute_scenario("metros", metros, budget="$504M"))
    rules = DrawRules.from_inputs(inputs)
    assert rules.eligible.all() and len(rules.group_min) == 4 and rules.designated is not None
    draws = draw_hub_sets(rules, 21, 20_000, seed=3)
    assert draws.shape == (20_000, 21)
    # checked from the metro table itself, not through the rules being tested
    table = metros.table
    region = table["census_region"].to_numpy()[draws]
    small = table["small_rural"].astype(str).str.lower().eq("true").to_numpy()[draws]
    assert (np.sort(draws, axis=1)[:, 1:] > np.sort(draws, axis=1)[:, :-1]).all()  # distinct
    for name in ("Midwest", "Northeast", "South", "West"):
        assert ((region == name).sum(axis=1) >= 3).all(), name
    assert (small.sum(axis=1) * 3 >= 21).all()  # at least a third small or rural
    # the rules bind: a plain uniform draw of 21 metros breaks them often
    plain = draw_hub_sets(DrawRules(rules.eligible), 21, 5_000, seed=3)
    assert not rules.hold(plain).all()
    assert (table["census_region"].to_numpy()[plain] == "Northeast").sum(axis=1).min() < 3


# --------------------------------------------------------------------------- the generated doc

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tech_hubs_reference",
                                                  ROOT / "examples" / "tech_hubs_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_doc_matches_a_fresh_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """docs/tech_hubs_reference.md is exactly what examples/tech_hubs_reference.py writes
    now (every solve and the full 100,000 draws per plan, about half a minute)."""
    generator = _generator()
    fresh = generator.document(generator.DRAWS, [])
    assert generator.check(fresh, generator.DOC) == 0, (
        "docs/tech_hubs_reference.md is stale: run .venv/bin/python "
        "examples/tech_hubs_reference.py")
    # the check fails on a doc with one number changed, and shows where
    doc = generator.DOC.read_text(encoding="utf-8")
    tampered = tmp_path / "doc.md"
    tampered.write_text(doc.replace("% (", "1% (", 1), encoding="utf-8")
    assert generator.check(fresh, tampered) == 1
    assert "fresh run" in capsys.readouterr().out
    # the statute plan's table has a row per reference, each with a probability and its error
    for label in ("2023 designations", "2024 Phase 2 awards", "2024 NSF Engines"):
        assert f"| {label} |" in doc
    assert doc.count(" ± ") >= 12
