"""The HiGHS adapter: every use of Pyomo's and HiGHS's private attributes, in one place.

Pyomo's persistent HiGHS interface (``pyomo.contrib.solver.solvers.highs.Highs``) keeps
the ``highspy.Highs`` object it drives and its maps from Pyomo variables and
constraints to HiGHS columns and rows in private attributes. Warm starts, ranging,
bases and IIS work need them; they are reached only through the functions here, so a
Pyomo upgrade that renames them is mended in one module.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import highspy
import pyomo.environ as pyo
from pyomo.contrib.solver.solvers.highs import Highs


def _first_highs_quietly() -> None:
    """Make this process's first ``highspy.Highs`` with stdout closed: HiGHS prints its
    banner ("Running HiGHS ... Copyright ...") to file descriptor 1 when the first one is
    made, before any option can silence it, and never again in the process."""
    try:
        sys.stdout.flush()
        saved, quiet = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):  # no stdout to protect
        highspy.Highs()
        return
    try:
        os.dup2(quiet, 1)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(quiet)


_first_highs_quietly()  # on import: every solver of PlaceFund imports this module first

# Pyomo's HiGHS interface redirects process-wide stdout/stderr while it solves: one
# solve (or model load) at a time in a process
SOLVE_LOCK = threading.Lock()

# the model's structure never changes in place: only parameter updates are needed
_AUTO_UPDATES_OFF = (
    "check_for_new_or_removed_constraints", "check_for_new_or_removed_vars",
    "check_for_new_or_removed_params", "check_for_new_objective",
    "update_constraints", "update_vars", "update_named_expressions", "update_objective",
)


class PersistentHighs(Highs):
    """Pyomo's persistent HiGHS, minus a no-op variable removal on every solve.

    Pyomo 6.10 calls ``_remove_variables([])`` and ``_remove_constraints([])`` on each
    re-solve, which still ask HiGHS to delete an empty set (dropping its warm-start
    basis) and re-index every column and row. Skipping the empty calls keeps re-solves
    warm and cheap.
    """

    def _remove_variables(self, variables):  # type: ignore[no-untyped-def]
        if variables:
            super()._remove_variables(variables)

    def _remove_constraints(self, cons):  # type: ignore[no-untyped-def]
        if cons:  # the same no-op re-indexing, for rows
            super()._remove_constraints(cons)


def new_persistent_highs() -> PersistentHighs:
    """A persistent HiGHS that reports (never raises on) non-optimal results, loads no
    solution into the model, and looks for no structural change between solves."""
    solver = PersistentHighs()
    cfg = solver.config
    cfg.raise_exception_on_nonoptimal_result = False
    cfg.load_solutions = False
    for flag in _AUTO_UPDATES_OFF:
        setattr(cfg.auto_updates, flag, False)
    return solver


def load_model(solver: Highs, model: pyo.ConcreteModel) -> None:
    """Translate ``model`` into HiGHS, silenced: HiGHS prints warnings of later model
    updates straight to stdout, which users never see. Call it holding ``SOLVE_LOCK``."""
    solver.set_instance(model)
    highs_of(solver).setOptionValue("output_flag", False)


def highs_of(solver: Highs) -> highspy.Highs:
    """The ``highspy.Highs`` object a persistent solver drives (after ``load_model``)."""
    highs = solver._solver_model
    if highs is None:
        raise ValueError("the solver has no model loaded")
    return highs


def column_index(solver: Highs, var: Any) -> int:
    """HiGHS's column of a Pyomo variable (a ``VarData``)."""
    return int(solver._pyomo_var_to_solver_var_map[id(var)])


def row_index(solver: Highs, constraint: Any) -> int:
    """HiGHS's row of a Pyomo constraint (a ``ConstraintData``)."""
    return int(solver._pyomo_con_to_solver_con_map[constraint])


@dataclass(frozen=True)
class LoadedLP:
    """A built model as HiGHS holds it, for analyses that work on HiGHS directly
    (an IIS with ``Highs.getIis``, ranging). Read it; do not change it.

    ``columns`` maps ``id(var)`` to the column, ``rows`` a constraint to its row;
    ``column``/``row`` look up one, ``constraint_of_row`` goes back from a row.
    """

    model: pyo.ConcreteModel
    highs: highspy.Highs
    columns: Mapping[int, int]
    rows: Mapping[Any, int]

    def column(self, var: Any) -> int:
        """The column of a Pyomo variable."""
        return int(self.columns[id(var)])

    def row(self, constraint: Any) -> int:
        """The row of a Pyomo constraint."""
        return int(self.rows[constraint])

    def constraint_of_row(self) -> dict[int, Any]:
        """Row -> Pyomo constraint (``ConstraintData``), for naming an IIS's rows."""
        return {int(row): con for con, row in self.rows.items()}


def loaded_lp(solver: Highs, model: pyo.ConcreteModel) -> LoadedLP:
    """The model ``solver`` has loaded, with read-only copies of its row/column maps."""
    return LoadedLP(model=model, highs=highs_of(solver),
                    columns=dict(solver._pyomo_var_to_solver_var_map),
                    rows=dict(solver._pyomo_con_to_solver_con_map))


@contextmanager
def hubs_fixed(solver: Highs, hub_vars: list[Any], chosen: Any) -> Iterator[None]:
    """Inside: the hub binaries fixed at ``chosen`` and relaxed to reals, so the model
    is the LP of that hub choice (its rows hold to LP precision, it has duals); after:
    binaries again."""
    for var, value in zip(hub_vars, chosen, strict=True):
        var.domain = pyo.Reals
        var.setlb(float(value))
        var.setub(float(value))
    solver.update_variables(hub_vars)
    try:
        yield
    finally:
        for var in hub_vars:
            var.domain = pyo.Binary
            var.setlb(0)
            var.setub(1)
        solver.update_variables(hub_vars)
