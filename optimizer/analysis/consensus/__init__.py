"""Plans that hold up when people disagree, and plans optimized over uncertainty.

Two analyses share one construction. The response ``tau`` (in $B) of every region and
instrument depends only on the funding and the saturation scale, so people who weight
the indicators differently (their own baseline ``c0_k`` and multipliers ``m_k``), who
assume another complementarity theta, or samples of the instruments' yields
``a_i``, differ only in coefficients. The base scenario's declaration
(``engine.model.declare``: the response ``tau`` and every rule) is built once; each
*view* (a stakeholder, or a sample) adds its own per-capita capacity rows
``y_k * 100 * share = c0_k + sum_i a_i m_k tau`` and its own spread term (the exact
pairwise Gini, or the Hoover index), so
its objective S_k is the model's objective for that view.

- ``consensus``: each stakeholder's own optimum S_k* (the plan ``placefund solve``
  gives for the base rules with their changes) and baseline S_k0, then the plan that
  maximizes the smallest share of attainable gain t = min_k (S_k - S_k0)/(S_k* - S_k0)
  and, with t held, the mean share (so no stakeholder loses for nothing).
- ``robust_plan``: N samples of weights (the sensitivity samplers), theta and the
  yields; maximize the mean of S over them (sample-average approximation), its
  CVaR at level alpha (Rockafellar-Uryasev), or the worst case; then compare the plan
  with the base scenario's own plan on fresh, independent samples.

Every number reported (S_k, t, the achievement table, sample statistics) is
recomputed with the exact response (``capacity.gain_points``,
``metrics.concentration``), never read from the LP; every plan passes
``check.check`` for the base scenario's rules, and ``consensus_check`` re-verifies
the reported numbers from the plan files alone.

The package: ``spec`` (what a spec says, its samples' distributions), ``model`` (views
and ``ViewModel``), ``run`` (``consensus``, ``robust_plan``, the spec runners) and
``result`` (the results, their tables and files); their sentences are
``report.consensus``'s. The names callers use are re-exported here.
"""

from optimizer.analysis.consensus.result import (
    ConsensusResult,
    RobustResult,
    cvar,
    distribution_stats,
)
from optimizer.analysis.consensus.run import (
    consensus,
    robust_plan,
    run_consensus_spec,
    run_robust_spec,
)
from optimizer.analysis.consensus.spec import (
    ConsensusSpec,
    Distribution,
    OutOfSample,
    RobustPlanSpec,
    Stakeholder,
    consensus_spec_from_dict,
    draw_samples,
    load_consensus_spec,
    load_robust_spec,
    prepare_spec,
    robust_spec_from_dict,
)

__all__ = [
    "ConsensusResult",
    "ConsensusSpec",
    "Distribution",
    "OutOfSample",
    "RobustPlanSpec",
    "RobustResult",
    "Stakeholder",
    "consensus",
    "consensus_spec_from_dict",
    "cvar",
    "distribution_stats",
    "draw_samples",
    "load_consensus_spec",
    "load_robust_spec",
    "prepare_spec",
    "robust_plan",
    "robust_spec_from_dict",
    "run_consensus_spec",
    "run_robust_spec",
]
