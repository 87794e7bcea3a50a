"""Typed results: SolverInfo and Status, reading a plan directory back, the notebook
view of a plan, and scenarios as keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyomo.contrib.solver.common.results import TerminationCondition

import optimizer as pf
from optimizer.engine.errors import DataError
from optimizer.engine.result import SolverInfo, Status
from optimizer.engine.solve import status_of
from tests.factories import make_regions, tiny_scenario

TWO = make_regions("""
region_id,name,population,talent
A,Alpha,1000,30
B,Beta,3000,10
""")


@pytest.fixture(scope="module")
def plan() -> pf.AllocationResult:
    return pf.Planner(TWO).solve(tiny_scenario(budget="$2B"))


def test_a_plans_solver_record_is_a_solver_info_with_a_status(plan) -> None:
    assert isinstance(plan.solver, SolverInfo)
    assert plan.solver.status is Status.OPTIMAL
    assert plan.solver.termination == "convergenceCriteriaSatisfied"
    assert plan.solver.check_time_s is not None and plan.solver.check_time_s > 0


def test_metrics_json_keeps_the_solver_records_keys_in_order(plan) -> None:
    record = plan.to_metrics_dict()["solver"]
    assert list(record) == [
        "status", "termination", "solver", "solver_version", "rebuilt", "build_time_s",
        "translate_time_s", "start_time_s", "solve_time_s", "highs_time_s", "objective_lp",
        "simplex_iterations", "mip", "mip_gap", "proven_optimal", "duals", "start",
        "check_time_s"]
    assert record["status"] == "optimal"
    assert plan.to_metrics_dict()["status"] == "optimal"


@pytest.mark.parametrize(("termination", "has_plan", "status"), [
    (TerminationCondition.convergenceCriteriaSatisfied, True, Status.OPTIMAL),
    (TerminationCondition.maxTimeLimit, True, Status.TIME_LIMIT),  # a MIP's incumbent
    (TerminationCondition.maxTimeLimit, False, Status.ERROR),
    (TerminationCondition.provenInfeasible, False, Status.INFEASIBLE),
    (TerminationCondition.infeasibleOrUnbounded, False, Status.INFEASIBLE),
    (TerminationCondition.iterationLimit, False, Status.ERROR),
])
def test_status_follows_the_solvers_termination(termination, has_plan, status) -> None:
    assert status_of(termination, has_plan) is status


def test_a_record_of_another_solve_reads_back_with_its_own_fields_and_order() -> None:
    record = {"status": "optimal", "build_time_s": 0.5, "solves": 4, "plan": "consensus"}
    info = SolverInfo.from_dict(record)
    assert info.extra == {"solves": 4, "plan": "consensus"}
    assert info.to_dict() == record and list(info.to_dict()) == list(record)
    assert list(info.checked(0.25).to_dict()) == [*record, "check_time_s"]
    with pytest.raises(ValueError):
        SolverInfo.from_dict({"status": "nearly"})


def test_a_plan_read_back_from_its_directory_writes_the_same_files(plan, tmp_path) -> None:
    plan.to_dir(tmp_path / "a")
    back = pf.AllocationResult.from_dir(tmp_path / "a")
    assert back.solver == plan.solver
    assert back.scenario == plan.scenario
    back.to_dir(tmp_path / "b")
    for name in ("allocation.csv", "regions.csv", "metrics.json", "scenario.yaml",
                 "input_regions.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_reading_a_directory_that_is_not_a_plan_says_what_is_missing(plan, tmp_path) -> None:
    with pytest.raises(DataError, match="missing"):
        pf.AllocationResult.from_dir(tmp_path)
    plan.to_dir(tmp_path / "p")
    metrics = json.loads((tmp_path / "p" / "metrics.json").read_text())
    metrics["solver"]["status"] = "nearly"
    Path(tmp_path / "p" / "metrics.json").write_text(json.dumps(metrics))
    with pytest.raises(DataError, match="metrics.json"):
        pf.AllocationResult.from_dir(tmp_path / "p")


def test_the_notebook_view_of_a_plan_is_one_line_of_what_matters(plan) -> None:
    text = repr(plan)
    before = plan.metrics_before["spread_adjusted_capacity"]
    funded = int((plan.regions["funding_usd"] > 0).sum())
    assert "\n" not in text and len(text) < 200
    assert "$2.0B of $2.0B" in text
    assert f"to {funded} of 2 regions" in text
    assert f"{before:.2f} -> {plan.objective:.2f} points" in text
    assert text.endswith("optimal>")


def test_scenarios_hash_and_compare_by_their_fingerprint() -> None:
    base = pf.load_scenario()
    same = base.updated()  # rebuilt from its dict: another object, the same scenario
    other = base.updated(budget="$1B")
    assert same is not base and same == base and hash(same) == hash(base)
    assert other != base
    assert {base: "default"}[same] == "default"
    assert len({base, same, other}) == 2


def test_the_planners_lp_names_its_blocks_of_highs_rows_and_columns() -> None:
    planner = pf.Planner(TWO)
    with pytest.raises(pf.SolverError):
        planner.lp()  # nothing built yet
    solved = planner.solve(tiny_scenario(budget="$2B"))
    loaded = planner.lp()
    lp = loaded.lp
    # the fixed blocks come first, the segment columns of the tangents after them
    assert loaded.highs.getNumRow() == lp.n_rows
    assert loaded.highs.getNumCol() == lp.n_cols + loaded.tangent_term.size
    # the budget row is budget_lo <= sum x <= budget, in the model's money unit
    row = lp.rows["budget_use"].start
    assert loaded.highs.getLp().row_upper_[row] == pytest.approx(2.0 / loaded.unit)
    # the funding column of region A holds what the plan gives it
    col = lp.cols["x"].start  # (region 0, instrument 0)
    amount = solved.allocation.set_index("region_id").loc["A", "amount_usd"]
    assert loaded.highs.getSolution().col_value[col] * loaded.unit * 1e9 == pytest.approx(
        amount, rel=1e-9, abs=1.0)
