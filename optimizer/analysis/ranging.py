"""Ranging for sensitivity: what the LP's basis says, and what re-solves find.

``lp_ranging`` reads HiGHS's own ranging through ``Planner.ranging``; the funded-set
intervals come from re-solves and bisection. (The Gini cap of the epsilon-constraint
method is ``Planner.solve(..., gini_cap=eps)``.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine.errors import PlaceFundError
from optimizer.engine.result import AllocationResult
from optimizer.engine.scenario import Scenario, usd
from optimizer.engine.solve import Planner

BUSD = 1e9


def lp_ranging(planner: Planner, scenario: Scenario) -> pd.DataFrame:
    """HiGHS ranging of the plan for ``scenario`` (``Highs.getRanging``).

    Over each interval (one parameter moving) the LP's optimal basis stays optimal.
    Because the response is a chain of tangent segments, the basis changes whenever a
    region's funding crosses a tangent point, so the budget interval is short (a
    segment); the set of funded regions usually holds much longer: see
    ``funded_set_ranging``. For lambda the interval is where the plan is unchanged.
    """
    planner.solve(scenario)
    ranges = planner.ranging()
    b_lo, b_hi = (v * BUSD for v in ranges["budget_busd"])
    lam_lo, lam_hi = ranges["spread_weight"]
    return pd.DataFrame([
        {"parameter": "budget", "current": scenario.budget, "low": b_lo, "high": b_hi,
         "method": "HiGHS ranging (basis unchanged)",
         "meaning": f"from {usd(b_lo)} to {_usd_or_inf(b_hi)} the same LP basis stays optimal "
                    "(every amount moves linearly with the budget)"},
        {"parameter": "spread_weight", "current": scenario.spread_weight, "low": lam_lo,
         "high": lam_hi, "method": "HiGHS ranging (basis unchanged)",
         "meaning": f"with lambda anywhere from {lam_lo:.3f} to {lam_hi:.3f} the plan itself "
                    "stays optimal (same allocation)"},
    ])


def _usd_or_inf(value: float) -> str:
    return "no upper limit" if not np.isfinite(value) or value > 1e20 else usd(value)


def funded_set(plan: AllocationResult, threshold_usd: float) -> frozenset[str]:
    """The regions that receive at least ``threshold_usd``."""
    r = plan.regions
    return frozenset(r.loc[r["funding_usd"] >= threshold_usd, "region_id"])


def funded_set_ranging(planner: Planner, scenario: Scenario, *, threshold_usd: float = 1e6,
                       steps: int = 10, max_factor: float = 64.0,
                       weights: bool = True) -> pd.DataFrame:
    """For the budget and each indicator weight alone, the interval over which the set
    of funded regions stays the same, found by re-solves and bisection.

    A weight change moves every region's baseline at once (a direction in the LP's
    right-hand side, not one row), and the budget crosses many tangent breakpoints
    before the funded set changes, so one basis ranging cannot answer this. A scale
    factor on the parameter is doubled until the set changes, then each end is
    bisected ``steps`` times; the result is exact to the final bracket.
    """
    base_set = funded_set(planner.solve(scenario), threshold_usd)
    weights_now = dict(scenario.weights)
    total = sum(weights_now.values())
    targets = ["budget", *(f"weights.{k}" for k in weights_now if weights)]
    rows = []
    for target in targets:
        key = target.removeprefix("weights.")

        def scaled(factor: float, target: str = target, key: str = key) -> Scenario:
            if target == "budget":
                return scenario.updated(budget=scenario.budget * factor)
            return scenario.updated(weights={**weights_now, key: weights_now[key] * factor})

        def same(factor: float, scaled: Any = scaled) -> bool:
            try:
                plan = planner.solve(scaled(factor))
            except PlaceFundError:
                return False
            return funded_set(plan, threshold_usd) == base_set

        current = scenario.budget if target == "budget" else weights_now[key]
        if current <= 0:
            rows.append({"parameter": target, "current": 0.0, "low": np.nan, "high": np.nan,
                         "method": "not ranged (zero)", "meaning": ""})
            continue
        lo = _bisect_edge(same, 1.0, 0.0, steps)
        hi_out = 2.0
        while hi_out <= max_factor and same(hi_out):
            hi_out *= 2.0
        capped = hi_out > max_factor
        hi = max_factor if capped else _bisect_edge(same, hi_out / 2, hi_out, steps)
        method = f"re-solves, {steps} bisections per end"
        if target == "budget":
            low, high = scenario.budget * lo, scenario.budget * hi
            high_text = f"at least {usd(high)}" if capped else usd(high)
            rows.append({"parameter": "budget", "current": scenario.budget, "low": low,
                         "high": high, "method": method,
                         "meaning": f"with a budget anywhere from {usd(low)} to {high_text} the "
                                    f"same {len(base_set)} regions are funded"})
            continue

        def share(factor: float, key: str = key) -> float:
            w = weights_now[key]
            return w * factor / (total - w + w * factor)

        low, high = share(lo), share(hi)
        high_text = f"at least {high:.1%}" if capped else f"{high:.1%}"
        rows.append({
            "parameter": target, "current": current / total, "low": low, "high": high,
            "method": method,
            "meaning": f"with {key}'s weight share anywhere from {low:.1%} to {high_text} "
                       f"(now {current / total:.1%}; other weights in proportion) the same "
                       "regions are funded",
        })
    return pd.DataFrame(rows)


def _bisect_edge(same: Any, inside: float, outside: float, steps: int) -> float:
    """The last factor between ``inside`` (same set) and ``outside`` keeping the set."""
    if same(outside):
        return outside
    for _ in range(steps):
        mid = 0.5 * (inside + outside)
        if same(mid):
            inside = mid
        else:
            outside = mid
    return inside
