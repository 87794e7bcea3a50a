"""Warm starts for large LPs (metros, counties): saved HiGHS bases and IPM cold starts.

A simplex re-solve from a good basis takes a few hundred iterations; from nothing, tens
of thousands. A basis depends only on the model's shape, so one saved after any solve
of a structure (region set, instruments, tangents, budget, rules) starts every later
first solve of that structure, in any process. A basis that no longer fits costs
iterations, never a wrong answer. Without one, the interior-point method with
crossover reaches the first optimum faster than the simplex method on these LPs.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

import highspy
import numpy as np

from optimizer.settings import home_dir

LARGE_MODEL_COLUMNS = 100_000  # below this, a cold simplex solve takes a second or two
COLD_START_OPTIONS = {"solver": "ipm", "run_crossover": "on"}
WARM_OPTIONS = {"solver": "simplex"}


def basis_path(structure: Any) -> Path:
    """Where the basis for a model structure is kept."""
    key = hashlib.sha256(pickle.dumps(structure)).hexdigest()[:32]
    return home_dir() / "bases" / f"{key}.npz"


def load_basis(highs: highspy.Highs, structure: Any) -> bool:
    """Give HiGHS the saved basis of this structure; False when there is none that fits."""
    path = basis_path(structure)
    if not path.exists():
        return False
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


def save_basis(highs: highspy.Highs, structure: Any) -> None:
    """Keep HiGHS's current basis for later first solves of this structure."""
    basis = highs.getBasis()
    if not basis.valid:
        return
    path = basis_path(structure)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, col=np.array([int(s) for s in basis.col_status], np.int8),
                            row=np.array([int(s) for s in basis.row_status], np.int8))
        tmp.replace(path)
    except OSError:
        pass  # a warm start is an optimization; a read-only home only costs time
