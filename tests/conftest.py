"""Shared fixtures: tiny inline region sets whose optimum can be checked by hand."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import optimizer as pf
from optimizer.engine.data import Regions
from tests.browser_support import server  # noqa: F401  (the fixture, for every test module)


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
