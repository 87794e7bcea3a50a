"""Errors a user can cause, each carrying a message fit to print as is.

The CLI maps them to exit codes (1 infeasible, 2 invalid input) and the app shows
their text; neither ever shows a traceback for them.
"""

from __future__ import annotations

import reprlib

_BRIEF = reprlib.Repr()  # Python 3.11's Repr takes no keyword arguments
_BRIEF.maxlevel, _BRIEF.maxstring, _BRIEF.maxother, _BRIEF.maxlong = 2, 60, 60, 40
_BRIEF.maxdict = _BRIEF.maxlist = _BRIEF.maxtuple = _BRIEF.maxset = 4


def brief(value: object) -> str:
    """A ``repr`` of ``value`` bounded to a line, whatever its size or nesting.

    Error messages quote what the user wrote with this, never with ``repr``: a value
    built from a YAML alias bomb has billions of elements.
    """
    return _BRIEF.repr(value)[:120]


class PlaceFundError(Exception):
    """Base of every error caused by user input rather than by a bug."""

    exit_code = 2


class DataError(PlaceFundError):
    """A regions or geometry file is malformed: names the file, row and column."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        where = ", ".join(
            part
            for part in (
                f"file {file}" if file else "",
                f"row {row}" if row is not None else "",
                f"column '{column}'" if column else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.row, self.column = file, row, column


class ScenarioError(PlaceFundError):
    """A scenario is invalid: names the offending key(s) and the problem."""


class InfeasibleError(PlaceFundError):
    """The constraints of a valid scenario cannot all hold.

    ``conflicts`` lists plain-language explanations, each saying what to relax.
    """

    exit_code = 1

    def __init__(self, conflicts: list[str], diagnosis: object | None = None) -> None:
        self.conflicts = conflicts
        self.diagnosis = diagnosis  # optimizer.analysis.diagnose.Diagnosis when one was computed
        text = "The scenario is infeasible:\n" + "\n".join(f"  - {c}" for c in conflicts)
        fixes = [r.text for r in getattr(diagnosis, "relaxations", None) or []]
        if fixes:
            text += ("\nFixes, smallest change first (each one alone was solved with exactly "
                     "these numbers):\n" + "\n".join(f"  {i}. {f}" for i, f in enumerate(fixes, 1)))
        super().__init__(text)


class SolverError(PlaceFundError):
    """The solver stopped without a usable plan (time limit, numerical trouble)."""

    exit_code = 1


class PlanCheckError(SolverError):
    """The solver returned a plan that the independent checker rejects.

    Such a plan is never called solved; ``report`` is the checker's verdict.
    """

    def __init__(self, report: object) -> None:
        self.report = report
        super().__init__(
            "the solver's plan fails the independent check under the exact formulas, so it "
            f"is not reported as solved; {report}\nTry a finer response approximation "
            "(approximation.tangents) or loosen the rule named above slightly."
        )
