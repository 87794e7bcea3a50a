"""The independent checker finds each kind of broken plan, by name and amount."""

from __future__ import annotations

import pandas as pd
import pytest

import optimizer as pf
from tests.factories import make_regions, tiny_scenario

REGIONS = make_regions("""
region_id,name,population,talent,zone
A,Alpha,1000,9,east
B,Beta,3000,3,west
C,Gamma,6000,1,west
""")


def allocation(a: float, b: float, c: float) -> pd.DataFrame:
    return pd.DataFrame({"region_id": ["A", "B", "C"], "instrument": "grant",
                         "amount_usd": [a, b, c]})


def names(report: pf.CheckReport) -> set[str]:
    return {v.name for v in report.violations}


def test_a_valid_plan_passes() -> None:
    report = pf.check(allocation(2e9, 3e9, 5e9), REGIONS, tiny_scenario())
    assert report.ok, str(report)
    assert "plan OK" in str(report)


@pytest.mark.parametrize(
    ("amounts", "overrides", "violation"),
    [
        ((2e9, 3e9, 6e9), {}, "budget"),
        ((2e9, 3e9, 4e9), {}, "budget"),
        ((-1e9, 5e9, 6e9), {}, "non_negative"),
        ((1e9, 3e9, 6e9), {"region_floor_usd": 2e9}, "region_floor"),
        ((6e9, 2e9, 2e9), {"region_cap_usd": 5e9}, "region_cap"),
        ((6e9, 2e9, 2e9), {"max_region_share": 0.5}, "region_cap"),
        ((1e9, 3e9, 6e9), {"exclusions": {"top_k_incumbents": 1}}, "exclusion"),
        ((1e9, 3e9, 6e9), {"exclusions": {"instruments": {"C": ["grant"]}}},
         "instrument_exclusion"),
        ((1e9, 3e9, 6e9), {"group_min_shares": {"zone": {"east": 0.2}}}, "group_min_share"),
        ((1e9, 3e9, 6e9), {"per_capita_floor": 0.3}, "per_capita_floor"),
        ((9e9, 0.5e9, 0.5e9), {"top_k_share_cap": {"k": 1, "max_share": 0.5}}, "top_k_share_cap"),
    ],
)
def test_each_broken_rule_is_named(amounts, overrides, violation) -> None:
    report = pf.check(allocation(*amounts), REGIONS, tiny_scenario(**overrides))
    assert violation in names(report)
    broken = next(v for v in report.violations if v.name == violation)
    assert broken.amount > 0


def test_instrument_share_violations() -> None:
    sc = tiny_scenario(instruments={
        "grant": {"yields": {"talent": "1%"}, "saturation_usd": 1e10},
        "loan": {"yields": {"talent": "1%"}, "saturation_usd": 1e10},
    }, instrument_shares={"loan": {"min": 0.2, "max": 0.3}})
    report = pf.check(allocation(2e9, 3e9, 5e9), REGIONS, sc)
    assert "instrument_min_share" in names(report)


def test_misreported_metrics_are_caught() -> None:
    sc = tiny_scenario()
    truth = pf.check(allocation(2e9, 3e9, 5e9), REGIONS, sc)
    claimed = dict(truth.metrics_after, gini=truth.metrics_after["gini"] * 0.9)
    report = pf.check(allocation(2e9, 3e9, 5e9), REGIONS, sc, reported=claimed)
    assert names(report) == {"metric_mismatch"}
    assert "after.gini" in str(report)


def test_unknown_region_in_allocation() -> None:
    bad = pd.DataFrame({"region_id": ["Z"], "instrument": ["grant"], "amount_usd": [1e9]})
    assert "unknown_keys" in names(pf.check(bad, REGIONS, tiny_scenario()))


def test_checker_agrees_with_the_solver_metrics(default_plan, states) -> None:
    report = pf.check(default_plan.allocation, states, default_plan.scenario)
    for key, value in default_plan.metrics_after.items():
        assert report.metrics_after[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    for key, value in default_plan.metrics_before.items():
        assert report.metrics_before[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_check_dir_detects_tampering(default_plan, tmp_path) -> None:
    out = default_plan.to_dir(tmp_path / "plan")
    assert pf.check_dir(out).ok
    alloc = pd.read_csv(out / "allocation.csv", dtype={"region_id": str})
    alloc.loc[0, "amount_usd"] += 1e9
    alloc.to_csv(out / "allocation.csv", index=False)
    report = pf.check_dir(out)
    assert {"budget", "metric_mismatch", "objective_mismatch"} <= names(report)


def test_check_dir_needs_a_plan_directory(tmp_path) -> None:
    with pytest.raises(pf.DataError, match="not a plan directory"):
        pf.check_dir(tmp_path)


@pytest.mark.parametrize("cell", [float("nan"), "n/a"])
def test_an_empty_or_unreadable_amount_is_missing_not_zero(cell: object) -> None:
    # read as 0, C's empty cell would pass as a valid plan that leaves $5B unspent
    bad = allocation(2e9, 3e9, 5e9).astype({"amount_usd": object})
    bad.loc[2, "amount_usd"] = cell
    report = pf.check(bad, REGIONS, tiny_scenario(allow_unspent=True))
    assert "missing_amount" in names(report)


def test_a_funding_array_is_checked_like_the_allocation_table_it_makes() -> None:
    from optimizer.engine.check import check_funding

    scenario = tiny_scenario(region_floor_usd=2.5e9)
    table = pf.check(allocation(2e9, 3e9, 5e9), REGIONS, scenario)
    array = check_funding([[2e9], [3e9], [5e9]], REGIONS, scenario)
    assert names(table) == names(array) == {"region_floor"}
    assert table.metrics_after == array.metrics_after
    assert table.final_capacity.equals(array.final_capacity)
    with pytest.raises(ValueError, match="shape"):
        check_funding([[2e9, 3e9, 5e9]], REGIONS, scenario)  # regions x instruments


def test_the_solver_checks_every_plan_from_its_funding(default_plan, states) -> None:
    # the plan the solver checked is the one its allocation table shows
    report = pf.check(default_plan.allocation, states, default_plan.scenario,
                      reported=default_plan.metrics_after,
                      reported_before=default_plan.metrics_before)
    assert report.ok, str(report)
    assert (default_plan.allocation["amount_usd"].to_numpy()
            == default_plan.funding_usd().ravel()).all()


def test_a_scenario_yaml_raising_a_column_the_table_lacks_is_named_not_a_traceback(
        tmp_path) -> None:
    """Found by the fuzz: one byte of scenario.yaml turned the grant's yield on talent into
    one on 'alent', and the check stopped with a KeyError."""
    from typer.testing import CliRunner

    from optimizer.cli import app
    from tests.factories import FOUR

    folder = pf.Planner(FOUR).solve(tiny_scenario()).to_dir(tmp_path / "plan")
    head, key, tail = (folder / "scenario.yaml").read_text().partition("\ninstruments:")
    assert key and "talent:" in tail
    (folder / "scenario.yaml").write_text(head + key + tail.replace("talent:", "alent:", 1))
    result = CliRunner().invoke(app, ["check", str(folder)])
    assert result.exit_code == 2, result.output
    assert "'alent'" in result.output and "raises" in result.output
    assert "Traceback" not in result.output
