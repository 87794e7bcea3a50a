"""Yields in natural units: what $1B raises, the outcomes a plan reports, and their check.

Funding x (USD) raises indicator k of region r by
dv_rk = sum_i e_ik m_ri s_ri ln(1 + x_ri / s_ri) / 1e9 (k's unit), and capacity is
c_r = 100 sum_k w_k (v_rk + dv_rk) / V_k: the points per $1B of instrument i are
a_i = 100 sum_k w_k e_ik / V_k.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import optimizer as pf
from optimizer.cli import app
from optimizer.engine.check import check_dir
from optimizer.engine.inputs import default_points_per_busd, resolve
from tests.factories import make_regions

# jobs total 100, labs total 50: hand-checkable shares
TWO = make_regions("""
region_id,name,population,jobs,labs
A,Alpha,1000,60,10
B,Beta,3000,40,40
""")


def scenario(**overrides: object) -> pf.Scenario:
    base: dict[str, object] = {
        "budget": "$2B",
        "weights": {"jobs": 3.0, "labs": 1.0},  # normalized 0.75, 0.25
        "spread_weight": 0.0,
        "complementarity": 0.0,
        "instruments": {
            "training": {"yields": {"jobs": 2.0}, "saturation_usd": "$4B"},
            "grants": {"yields": {"labs": 1.0, "jobs": 0.5}, "saturation_usd": "$4B"},
        },
        "approximation": {"tangents": 200, "max_error_share": 1e-7},
    }
    base.update(overrides)
    return pf.scenario_from_dict(base, source="yields test")


def test_points_per_busd_are_the_weighted_shares_of_the_yields() -> None:
    inputs = resolve(TWO, scenario())
    # training: 100 * 0.75 * 2 / 100 = 1.5; grants: 100 * (0.25 * 1 / 50 + 0.75 * 0.5 / 100)
    assert inputs.effectiveness == pytest.approx([1.5, 0.875])
    assert inputs.raised == ("jobs", "labs")
    assert inputs.national_totals == pytest.approx([100.0, 50.0])


def test_points_per_busd_move_with_the_weights() -> None:
    only_labs = resolve(TWO, scenario(weights={"labs": 1.0}))
    assert only_labs.effectiveness == pytest.approx([0.0, 2.0])  # 100 * 1 / 50


def test_outcomes_are_the_exact_natural_unit_gains(tmp_path) -> None:
    plan = pf.solve(TWO, scenario())
    x = plan.funding_usd()
    s = np.array([1000, 3000]) / 4000 * 4e9  # each region's population share of $4B
    bought = s[:, None] * np.log1p(x / s[:, None]) / 1e9  # m = 1 with theta = 0
    jobs = 2.0 * bought[:, 0] + 0.5 * bought[:, 1]
    labs = 1.0 * bought[:, 1]
    out = plan.outcomes.set_index(["region_id", "indicator"])
    assert out.loc[("A", "jobs"), "gain"] == pytest.approx(jobs[0], rel=1e-12)
    assert out.loc[("B", "labs"), "gain"] == pytest.approx(labs[1], rel=1e-12)
    assert out.loc[("B", "labs"), "before"] == 40
    assert (out["after"] == out["before"] + out["gain"]).all()
    assert set(out["unit"]) == {"units"}  # a user's own columns carry no registry unit
    # capacity points are exactly the weighted natural-unit gains
    gain_points = 100 * (0.75 * jobs / 100 + 0.25 * labs / 50)
    c0 = 100 * (0.75 * np.array([60, 40]) / 100 + 0.25 * np.array([10, 40]) / 50)
    assert plan.final_capacity_points() == pytest.approx(c0 + gain_points, rel=1e-12)
    totals = plan.outcome_totals
    assert totals["jobs"]["gain"] == pytest.approx(jobs.sum(), rel=1e-12)
    assert totals["labs"]["before"] == 50
    plan.to_dir(tmp_path / "plan")
    record = json.loads((tmp_path / "plan" / "metrics.json").read_text())
    assert record["outcomes"]["jobs"]["after"] == pytest.approx(100 + jobs.sum())
    assert check_dir(tmp_path / "plan").ok


def test_check_recomputes_the_outcomes_file(tmp_path) -> None:
    plan = pf.solve(TWO, scenario())
    plan.to_dir(tmp_path / "plan")
    path = tmp_path / "plan" / "outcomes.csv"
    table = pd.read_csv(path, dtype={"region_id": str})
    table.loc[0, "gain"] += 1.0
    table.to_csv(path, index=False)
    report = check_dir(tmp_path / "plan")
    assert "outcome_mismatch" in {v.name for v in report.violations}


def test_check_recomputes_the_outcome_totals(tmp_path) -> None:
    plan = pf.solve(TWO, scenario())
    plan.to_dir(tmp_path / "plan")
    path = tmp_path / "plan" / "metrics.json"
    record = json.loads(path.read_text())
    record["outcomes"]["jobs"]["gain"] *= 2
    path.write_text(json.dumps(record))
    report = check_dir(tmp_path / "plan")
    assert "outcome_total_mismatch" in {v.name for v in report.violations}


def test_an_instrument_whose_yields_carry_no_weight_buys_nothing_and_says_so() -> None:
    sc = scenario(weights={"jobs": 1.0}, instruments={
        "training": {"yields": {"jobs": 2.0}, "saturation_usd": "$4B"},
        "labs_only": {"yields": {"labs": 5.0}, "saturation_usd": "$4B"}})
    plan = pf.solve(TWO, sc)
    by_instrument = plan.allocation.groupby("instrument")["amount_usd"].sum()
    assert by_instrument["labs_only"] == pytest.approx(0.0, abs=1e-3)
    assert any("buys nothing the plan values" in note for note in plan.notes)


def test_effectiveness_is_refused_with_how_to_write_yields() -> None:
    with pytest.raises(pf.ScenarioError, match=r"replaced by `yields`.*university_se_rd_musd: 1150"):
        scenario(instruments={"grant": {"effectiveness_per_busd": 1.0, "saturation_usd": "$4B"}})


def test_a_yield_on_a_missing_column_is_named() -> None:
    sc = scenario(instruments={"grant": {"yields": {"patents": 1.0}, "saturation_usd": "$4B"}})
    with pytest.raises(pf.ScenarioError, match=r"instruments.grant.yields: \['patents'\]"):
        resolve(TWO, sc)


def test_default_instruments_on_a_users_table_buy_the_states_points() -> None:
    # a table without the shipped columns: each default instrument raises every weighted
    # indicator by the share of its total that it raises the default states index by
    sc = pf.load_scenario().updated(weights={"jobs": 1.0, "labs": 1.0})
    inputs = resolve(TWO, sc)
    expected = default_points_per_busd()
    assert dict(zip(inputs.instruments, inputs.effectiveness, strict=True)) == pytest.approx(expected)
    research = inputs.scenario.instruments["research"].yields
    assert research["labs"] / 50 == pytest.approx(research["jobs"] / 100)


def test_default_states_yields_are_the_documented_units(states) -> None:
    inputs = resolve(states, pf.load_scenario())
    points = dict(zip(inputs.instruments, inputs.effectiveness, strict=True))
    totals = dict(zip(inputs.raised, inputs.national_totals, strict=True))
    w = pf.load_scenario().normalized_weights
    assert points["research"] == pytest.approx(100 * w["university_se_rd_musd"] * 1150
                                               / totals["university_se_rd_musd"])
    assert points["talent"] == pytest.approx(100 * w["oews_computer_math"] * 20000
                                             / totals["oews_computer_math"])
    assert all(math.isfinite(p) and p > 0 for p in points.values())


def test_solve_prints_what_the_plan_buys_in_words(tmp_path) -> None:
    done = CliRunner().invoke(app, ["solve", "--out", str(tmp_path / "p")])
    assert done.exit_code == 0, done.output
    line = next(ln for ln in done.output.splitlines() if ln.startswith("Buys "))
    assert "AI venture funding" in line and "$" in line and "%" in line
    assert "weighted share of these outcomes" in line
