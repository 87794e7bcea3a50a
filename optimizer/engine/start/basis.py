"""Warm starts for large LPs (metros, counties): saved HiGHS bases and IPM cold starts.

A simplex re-solve from a good basis takes a few hundred iterations; from nothing, tens
of thousands. A basis is a status per column and row, so one saved after any solve
starts every later first solve of a model of the same shape (region set, instruments,
tangent count, rules), in any process. The budget and saturation scales only move the
tangent points, which are laid out relative to them, so they are not part of the key:
a plan at $60B starts from the basis of one at $80B. A basis that no longer fits costs
iterations, never a wrong answer. Without one, the interior-point method with
crossover reaches the first optimum faster than the simplex method on these LPs.

Bases are looked up in ``$PLACEFUND_HOME/bases`` and then among the bases shipped in
``optimizer/defaults/bases`` (the default plans of the shipped region sets, written by
``scripts/build_bases.py``), so a fresh install starts those plans warm. A model with
no basis of its shape starts from a point near its optimum instead
(``optimizer.engine.start.estimate``), which HiGHS's crossover turns into a basis in a second or
two; the interior-point method is the last resort.
"""

from __future__ import annotations

import dataclasses
import hashlib
from importlib import resources
from pathlib import Path
from typing import Any

import highspy
import numpy as np

from optimizer.engine.settings import home_dir

LARGE_MODEL_COLUMNS = 100_000  # below this, a cold simplex solve takes a second or two
COLD_START_OPTIONS = {"solver": "ipm", "run_crossover": "on"}
# crossover leaves a primal feasible basis near the optimum: the primal simplex method
# keeps it feasible (the dual one, from its many dual infeasibilities, can take 50x
# longer: 31,329 iterations against 607 on counties with a $500M cap per county)
CROSSOVER_START_OPTIONS = {"solver": "simplex", "simplex_strategy": 4}
WARM_OPTIONS = {"solver": "simplex", "simplex_strategy": 1}  # re-solves: dual simplex


SHIPPED_BASES = Path(str(resources.files("optimizer").joinpath("defaults", "bases")))


def basis_key(structure: Any) -> str:
    """A stable name for the shape of a model: its structure minus budget and scales."""
    shape = dataclasses.replace(structure, budget_busd=0.0, saturation_busd=b"")
    return hashlib.sha256(repr(dataclasses.astuple(shape)).encode()).hexdigest()[:32]


def basis_path(structure: Any) -> Path:
    """Where a basis saved for a model of this shape is kept."""
    return home_dir() / "bases" / f"{basis_key(structure)}.npz"


def load_basis(highs: highspy.Highs, structure: Any) -> str | None:
    """Give HiGHS a saved or shipped basis of this shape: which one, None if none fits."""
    key = basis_key(structure)
    for source, path in (("saved basis", basis_path(structure)),
                         ("shipped basis", SHIPPED_BASES / f"{key}.npz")):
        if path.exists() and _set_basis(highs, path):
            return source
    return None


def _set_basis(highs: highspy.Highs, path: Path) -> bool:
    try:
        saved = np.load(path)
        cols, rows = saved["col"], saved["row"]
    except (OSError, ValueError, KeyError):
        return False
    if len(cols) != highs.getNumCol() or len(rows) != highs.getNumRow():
        return False
    basis = highspy.HighsBasis()
    basis.col_status = [highspy.HighsBasisStatus(int(v)) for v in cols]
    basis.row_status = [highspy.HighsBasisStatus(int(v)) for v in rows]
    basis.valid = True
    return highs.setBasis(basis) == highspy.HighsStatus.kOk


def save_basis(highs: highspy.Highs, structure: Any, path: Path | None = None) -> None:
    """Keep HiGHS's current basis for later first solves of models of this shape."""
    basis = highs.getBasis()
    if not basis.valid:
        return
    path = path or basis_path(structure)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, col=np.array([int(s) for s in basis.col_status], np.int8),
                            row=np.array([int(s) for s in basis.row_status], np.int8))
        tmp.replace(path)
    except OSError:
        pass  # a warm start is an optimization; a read-only home only costs time


def start_from_point(highs: highspy.Highs, column_values: np.ndarray) -> bool:
    """Give HiGHS a basis made by crossover from a primal point; False when it fails."""
    solution = highspy.HighsSolution()
    solution.col_value = column_values.tolist()
    solution.value_valid = True
    highs.setOptionValue("output_flag", False)
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
