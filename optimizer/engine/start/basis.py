"""Where HiGHS starts a large LP's first solve: a basis made from the estimated plan.

A simplex solve of a county-scale LP from nothing takes tens of thousands of
iterations. The estimated plan (``optimizer.engine.start.estimate``), written as a
point of the LP (``highs.LoadedModel.point_at``), is within a few millionths of the LP's
optimum; HiGHS's crossover turns it into a basis, from which the primal simplex
method finishes in a few hundred iterations. Later re-solves start from the last
basis (dual simplex).
"""

from __future__ import annotations

import highspy
import numpy as np

LARGE_MODEL_COLUMNS = 10_000  # below this, a cold dual simplex solve takes a fraction of a second
# crossover leaves a primal feasible basis near the optimum: the primal simplex method
# keeps it feasible (the dual one, from its many dual infeasibilities, can take 50x
# longer: 31,329 iterations against 607 on counties with a $500M cap per county)
CROSSOVER_START_OPTIONS: dict[str, str | int] = {"solver": "simplex", "simplex_strategy": 4}
WARM_OPTIONS: dict[str, str | int] = {"solver": "simplex", "simplex_strategy": 1,  # dual
                                     "simplex_dual_edge_weight_strategy": 1}  # Devex


def start_from_point(highs: highspy.Highs, column_values: np.ndarray) -> bool:
    """Give HiGHS a basis made by crossover from a primal point; False when it fails."""
    solution = highspy.HighsSolution()
    solution.col_value = column_values.tolist()
    solution.value_valid = True
    # HiGHS 1.16's crossover dereferences state that only a run sets up (a segfault on
    # a fresh instance): a simplex run of zero iterations, without presolve, sets it up
    highs.setOptionValue("presolve", "off")
    highs.setOptionValue("simplex_iteration_limit", 0)
    try:
        highs.run()
    finally:
        highs.resetOptions()
        highs.setOptionValue("output_flag", False)
    status = highs.crossover(solution)
    return status != highspy.HighsStatus.kError and highs.getBasis().valid


def set_options(highs: highspy.Highs, options: dict[str, str | int]) -> None:
    """Set HiGHS options from a mapping."""
    for key, value in options.items():
        highs.setOptionValue(key, value)
