"""LP-level helpers for sensitivity: an epsilon cap on the Gini, and ranging.

Both reach into a ``Planner``'s built Pyomo model and its persistent HiGHS object
(``planner._model``, ``planner._solver`` and ``planner._solver._solver_model``, the
``highspy.Highs`` instance). The engine does not expose them publicly; everything
that touches them is in this module, so a change there breaks one place.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from optimizer.errors import InfeasibleError, PlaceFundError, SolverError
from optimizer.result import AllocationResult
from optimizer.scenario import Scenario, usd
from optimizer.solve import Planner

BUSD = 1e9


def _add_gini_cap(planner: Planner) -> None:
    """Add ``gini_sum <= eps * 100 * mu`` (i.e. Gini <= eps) to the built model, once.

    The model's ``gini_sum`` variable is sum_{r<s} 100 p_r p_s |y_r - y_s| / P^2 and
    its objective's mean term is 100 mu, so Gini = gini_sum / (100 mu). ``eps`` is a
    mutable Param (default 1, which never binds), pushed to HiGHS on each re-solve.
    """
    mdl = planner._model
    solver = planner._solver
    assert mdl is not None and solver is not None, "solve once before adding the cap"
    if hasattr(mdl, "pf_gini_eps"):
        return
    pop = planner.regions.table["population"].to_numpy(dtype=float)
    share = pop / pop.sum()
    mdl.pf_gini_eps = pyo.Param(mutable=True, initialize=1.0)
    mean_term = pyo.quicksum(float(100.0 * share[r]) * mdl.y[r] for r in mdl.R)
    mdl.pf_gini_cap = pyo.Constraint(expr=mdl.gini_sum - mdl.pf_gini_eps * mean_term <= 0)
    solver.add_parameters([mdl.pf_gini_eps])
    solver.add_constraints([mdl.pf_gini_cap])


def solve_with_gini_cap(planner: Planner, scenario: Scenario, eps: float) -> AllocationResult:
    """Solve ``scenario`` with the extra constraint Gini (LP's per-capita Gini) <= eps.

    Builds the model first if needed; if the scenario forces a rebuild, the cap is
    added to the new model and the solve repeated. Raises ``InfeasibleError`` when no
    plan reaches the cap.
    """
    if planner._model is None:
        planner.solve(scenario)
    for _ in range(2):
        _add_gini_cap(planner)
        planner._model.pf_gini_eps = float(eps)  # type: ignore[union-attr]
        try:
            plan = planner.solve(scenario)
        except InfeasibleError:
            raise InfeasibleError([f"no plan within the scenario's rules has a Gini of at most "
                                   f"{eps:.4f}"]) from None
        if not plan.solver["rebuilt"]:
            return plan
    raise SolverError("the model kept rebuilding; cannot apply the Gini cap")


def _highs(planner: Planner) -> Any:
    """The ``highspy.Highs`` instance behind the planner's persistent solver."""
    if planner._solver is None:
        raise SolverError("solve a scenario before ranging")
    return planner._solver._solver_model


def lp_ranging(planner: Planner, scenario: Scenario) -> pd.DataFrame:
    """HiGHS ranging of the plan for ``scenario`` (``Highs.getRanging``).

    Over each interval (one parameter moving) the LP's optimal basis stays optimal.
    Because the response is a chain of tangent segments, the basis changes whenever a
    region's funding crosses a tangent point, so the budget interval is short (a
    segment); the set of funded regions usually holds much longer: see
    ``funded_set_ranging``. For lambda the interval is where the plan is unchanged.
    """
    planner.solve(scenario)
    mdl, solver = planner._model, planner._solver
    assert mdl is not None and solver is not None
    status, rng = _highs(planner).getRanging()
    if str(status) != "HighsStatus.kOk":
        raise SolverError(f"HiGHS could not range this plan ({status})")
    row = solver._pyomo_con_to_solver_con_map[mdl.budget_use]
    col = solver._pyomo_var_to_solver_var_map[id(mdl.gini_sum)]
    b_lo = max(0.0, rng.row_bound_dn.value_[row]) * BUSD
    b_hi = rng.row_bound_up.value_[row] * BUSD
    # the objective is mean - lam * gini_sum: the column cost is -lam
    lam_lo = float(np.clip(-rng.col_cost_up.value_[col], 0.0, 1.0))
    lam_hi = float(np.clip(-rng.col_cost_dn.value_[col], 0.0, 1.0))
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
