"""Planners in different threads solve at the same time: no process-wide lock, and each
thread's plans pass the independent check (two workbench sessions, say)."""

from __future__ import annotations

import threading
import time

import optimizer as pf
from optimizer.engine.check import check_funding


def test_two_threads_solve_at_once_and_each_plan_checks(states: pf.Regions) -> None:
    base = pf.load_scenario()
    scenarios = {0: [base.updated(spread_weight=w) for w in (0.1, 0.3, 0.5, 0.7)],
                 1: [base.updated(budget=f"${b}B") for b in (20, 40, 60, 80)]}
    plans: dict[int, list[pf.AllocationResult]] = {0: [], 1: []}
    spans: dict[int, tuple[float, float]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(k: int) -> None:
        try:
            planner = pf.Planner(states)
            start.wait()
            begin = time.perf_counter()
            for scenario in scenarios[k]:
                plans[k].append(planner.solve(scenario))
            spans[k] = (begin, time.perf_counter())
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    # the two threads' solving overlapped in time
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1]
    for k in (0, 1):
        alone = pf.Planner(states)  # the same sequence, solved with nothing else running
        for scenario, plan in zip(scenarios[k], plans[k], strict=True):
            assert plan.scenario.spread_weight == scenario.spread_weight
            assert plan.scenario.budget == scenario.budget
            report = check_funding(plan.funding_usd(), states, plan.scenario)
            assert report.ok, str(report)
            assert (alone.solve(scenario).funding_usd() == plan.funding_usd()).all()
