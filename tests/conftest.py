"""Shared fixtures: tiny inline region sets whose optimum can be checked by hand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import optimizer as pf
from optimizer.engine.data import Regions
from tests.browser_support import server  # noqa: F401  (the fixture, for every test module)
from tests.test_bad_inputs import TINY_CSV, TINY_SCENARIO, cli, write


@pytest.fixture
def solve_checked() -> Callable[[Regions, pf.Scenario], pf.AllocationResult]:
    """Solve and pass the plan through the independent checker (every test solve does)."""

    def run(regions: Regions, scenario: pf.Scenario) -> pf.AllocationResult:
        plan = pf.solve(regions, scenario)
        report = pf.check(plan.allocation, regions, plan.scenario, plan.metrics_after,
                          plan.metrics_before)
        assert report.ok, str(report)
        return plan

    return run


@pytest.fixture(scope="session")
def states() -> Regions:
    return pf.load_regions("states")


@pytest.fixture(scope="session")
def default_plan(states: Regions) -> pf.AllocationResult:
    return pf.solve(states, pf.load_scenario())


@pytest.fixture(scope="module")
def tiny_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plan solved on three inline regions, for the plan-folder cases of test_bad_inputs and test_bounds."""
    folder = tmp_path_factory.mktemp("tiny")
    csv = write(folder / "tiny.csv", TINY_CSV)
    scenario = write(folder / "tiny.yaml", TINY_SCENARIO)
    code, output = cli("solve", "--regions", csv, "--scenario", scenario, "--out", folder / "plan")
    assert code == 0, output
    return folder / "plan"
