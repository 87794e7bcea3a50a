"""A solved plan holds every rule under the exact response, to the checker's tolerances.

The LP's response is an outer approximation (tangents above ln(1 + u)); these are the
cases where that once let a rule on capacity, or a money rule at a small budget, pass
in the LP and fail under the exact formulas. Each is solved through the CLI as a user
does, then re-verified by `placefund check`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import optimizer as pf
from optimizer.cli import app
from optimizer.engine.check import (
    CAPACITY_TOL,
    Violation,
    check_funding,
    money_tolerance_usd,
)
from optimizer.engine.errors import PlanCheckError

runner = CliRunner()
solve_module = importlib.import_module("optimizer.engine.solve")  # the package exports solve()

CASES = {
    "per_capita_floor pack": {"packs": ["per_capita_floor"]},
    "floor with shares, groups and a region cap": {
        "spread_weight": 0.8, "complementarity": 0.8,
        "instrument_shares": {"venture": {"max": 0.1}, "research": {"min": 0.3}},
        "group_min_shares": {"census_region": {"Midwest": 0.3}},
        "per_capita_floor": 0.5, "max_region_share": 0.08,
    },
    "binding top-10 share cap": {"top_k_share_cap": {"k": 10, "max_share": 0.6}},
    "hubs at a budget of $80,000": {
        "budget": 80000, "hubs": {"count": {"min": 3, "max": 5}, "award_usd": {"min": 100}}},
}


def solve_cli(tmp_path: Path, scenario: dict) -> tuple[int, str, Path]:
    spec = tmp_path / "scenario.yaml"
    spec.write_text(yaml.safe_dump(scenario))
    out = tmp_path / "plan"
    result = runner.invoke(app, ["solve", "--scenario", str(spec), "--out", str(out)])
    assert "Traceback" not in result.output
    return result.exit_code, result.output, out


@pytest.mark.parametrize("name", list(CASES))
def test_solved_plan_passes_its_check_under_the_exact_response(tmp_path: Path, name: str) -> None:
    code, output, out = solve_cli(tmp_path, CASES[name])
    assert code == 0, output
    checked = runner.invoke(app, ["check", str(out)])
    assert checked.exit_code == 0 and "plan OK" in checked.output, checked.output


def test_per_capita_floor_holds_exactly_in_every_region(states) -> None:
    plan = pf.solve(states, pf.load_scenario().updated(**CASES[
        "floor with shares, groups and a region cap"]))
    y = plan.regions["capacity_per_capita_after"].to_numpy()
    assert y.min() >= 0.5 - CAPACITY_TOL
    # the floor binds somewhere (else this test would prove nothing)
    assert np.isclose(y.min(), 0.5, atol=1e-3)


def test_top_k_share_cap_holds_exactly(states) -> None:
    plan = pf.solve(states, pf.load_scenario().updated(**CASES["binding top-10 share cap"]))
    final = plan.regions["final_capacity"].to_numpy()
    share = np.sort(final)[-10:].sum() / final.sum()
    assert share <= 0.6 + CAPACITY_TOL
    # it binds: the linear rule that guarantees the cap gives up at most a hair of it
    assert share == pytest.approx(0.6, abs=1e-3)


def test_hub_awards_hold_to_the_cent_at_a_tiny_budget(states) -> None:
    plan = pf.solve(states, pf.load_scenario().updated(**CASES["hubs at a budget of $80,000"]))
    hubs = plan.regions[plan.regions["hub"]]
    assert 3 <= len(hubs) <= 5
    assert (hubs["funding_usd"] >= 100 - money_tolerance_usd(80000)).all()
    assert plan.spent_usd == pytest.approx(80000, abs=0.01)


def test_checker_tolerances_are_the_documented_ones() -> None:
    assert money_tolerance_usd(80e9) == pytest.approx(80.0)  # 1e-9 of the budget
    assert money_tolerance_usd(80000) == 0.01  # but never below a cent
    assert CAPACITY_TOL == 1e-6


def test_a_plan_the_checker_rejects_is_not_reported_as_solved(tmp_path: Path, monkeypatch,
                                                            states) -> None:
    def reject(*args, **kwargs):  # the checker finds a violation the solver missed
        report = check_funding(*args, **kwargs)
        report.violations.append(Violation("budget", 1.0, "USD", "planted for this test"))
        return report

    monkeypatch.setattr(solve_module, "check_funding", reject)
    with pytest.raises(PlanCheckError, match="fails the independent check"):
        pf.solve(states, pf.load_scenario())
    code, output, out = solve_cli(tmp_path, {})
    assert code == 1 and "fails the independent check" in output and "planted" in output
    assert not out.exists()  # nothing written for a plan that is not solved


def test_every_solve_records_its_check(default_plan) -> None:
    assert default_plan.solver.check_time_s > 0
    assert default_plan.to_metrics_dict()["solver"]["check_time_s"] > 0


def test_check_accepts_a_plan_whose_scenario_gives_an_indicator_weight_zero(tmp_path: Path) -> None:
    weights = dict(pf.load_scenario().weights, gdp_musd=0.0)
    code, output, out = solve_cli(tmp_path, {"weights": weights})
    assert code == 0, output
    checked = runner.invoke(app, ["check", str(out)])
    assert checked.exit_code == 0 and "plan OK" in checked.output, checked.output
