"""One declaration behind every path: a consensus of one stakeholder and a robust plan of
one sample are the plan ``placefund solve`` gives, and consensus t is exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import optimizer as pf
from optimizer.analysis.consensus import run as cs
from optimizer.engine.check import check_funding


def test_a_consensus_of_one_stakeholder_like_the_base_is_the_plan(states: pf.Regions) -> None:
    base = pf.load_scenario()
    plan = pf.Planner(states).solve(base)
    result = cs.consensus(states, base, {"everyone": {}})
    assert result.plan.objective == pytest.approx(plan.objective, rel=1e-6)
    # t compares it with the stakeholder's optimum refined until exact to 1e-5 of the gain:
    # the plan at the default tolerance reaches all but a sliver of it
    assert 1.0 - 1e-3 <= result.t <= 1.0 + 1e-5


def test_a_robust_plan_of_one_sample_at_the_base_judgments_is_the_plan(
        states: pf.Regions) -> None:
    base = pf.load_scenario()
    plan = pf.Planner(states).solve(base)
    sample = pd.DataFrame([{"sample_id": 0, "complementarity": base.complementarity,
                            **{f"y_{k}": 1.0 for k in base.instruments},
                            **{f"w_{k}": w for k, w in base.weights.items()}}])
    for objective in ("mean", "cvar", "worst"):
        result = cs.robust_plan(states, base, sample, objective, alpha=0.5)
        assert result.plan.objective == pytest.approx(plan.objective, rel=1e-6), objective


def test_consensus_t_is_the_exact_share_of_each_stakeholders_exact_optimum(
        states: pf.Regions) -> None:
    """Recomputed independently: each stakeholder's optimum refined to a thousandth of the
    default tolerance, every S by the checker's exact formulas."""
    base = pf.load_scenario()
    stakeholders = {"research": {"weights": {"university_se_rd_musd": 1, "cs_doctorates": 1}},
                    "venture": {"weights": {"ai_vc_musd": 1, "vc_funded_firms": 1}}}
    result = cs.consensus(states, base, stakeholders)
    fine = pf.Planner(states)
    shares = []
    for changes in stakeholders.values():
        view = base.updated(**changes, approximation={"max_error_share": 1e-6})
        best = fine.solve(view)
        before = check_funding(np.zeros_like(best.funding_usd()), states, view).objective
        plan_s = check_funding(result.plan.funding_usd(), states, view).objective
        best_s = check_funding(best.funding_usd(), states, view).objective
        shares.append((plan_s - before) / (best_s - before))
    assert result.t == pytest.approx(min(shares), abs=1e-4)
