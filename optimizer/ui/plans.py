"""The Save & compare tab's choices that outlive a page run (``app.py`` only draws them)."""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from optimizer.engine.errors import PlaceFundError
from optimizer.engine.result import AllocationResult
from optimizer.report.library import PlanLibrary, SavedPlan


def managed_choice(names: list[str], shown: str | None, renamed: str | None) -> str | None:
    """The saved plan the Plan picker shows: the one just renamed (under its new name),
    else the one it showed, else the first (None when nothing is saved).

    A picker whose value is no longer among its options falls back to its first option:
    after a rename the old name is gone, and the next Delete would target another plan.

    >>> managed_choice(["a", "b2", "c"], "b", "b2"), managed_choice(["a", "c"], "c", None)
    ('b2', 'c')
    >>> managed_choice(["a", "c"], "gone", None), managed_choice([], None, None)
    ('a', None)
    """
    for name in (renamed, shown):
        if name is not None and name in names:
            return name
    return names[0] if names else None


CURRENT = "Current plan"  # the plan on screen, among the saved ones in the comparison


def save_refusal(name: str) -> str | None:
    """Why a plan cannot be saved under ``name`` (None: it can): the plan on screen is
    called "Current plan" in the comparison, so a saved plan may not be.

    >>> save_refusal("  Current   plan "), save_refusal("λ 0.8")
    ('“Current plan” names the plan on screen: choose another name.', None)
    """
    return (f"“{CURRENT}” names the plan on screen: choose another name."
            if " ".join(name.split()) == CURRENT else None)


def saved_table(saved: Sequence[SavedPlan]) -> pd.DataFrame:
    """The saved plans as the tab lists them: name, when saved (UTC, to the minute), notes."""
    return pd.DataFrame({"Plan": [p.name for p in saved],
                         "Saved (UTC)": [p.saved_utc[:16].replace("T", " ") for p in saved],
                         "Notes": [p.notes for p in saved]})


def still_offered(chosen: Sequence[str] | None, options: Sequence[str]) -> list[str]:
    """A multiselect's choice (None: nothing chosen yet) without the options gone since
    (a plan deleted or renamed).

    >>> still_offered(["Current plan", "gone", "b"], ["Current plan", "b"]), still_offered(None, [])
    (['Current plan', 'b'], [])
    """
    return [n for n in chosen or [] if n in options]


def compared(picked: Sequence[str], current: AllocationResult, library: PlanLibrary
             ) -> tuple[dict[str, AllocationResult], list[str]]:
    """The plans picked for comparison by name (the current one and saved ones, loaded),
    and why any could not be loaded."""
    plans: dict[str, AllocationResult] = {}
    errors = []
    for name in picked:
        try:
            plans[name] = current if name == CURRENT else library.get(name).load()
        except PlaceFundError as err:
            errors.append(str(err))
    return plans, errors


@dataclass
class Shelf:
    """The saved plans the tab manages, and the choices that outlive a page run in
    ``state``: the plan picked (``manage_name``, kept through a rename), the one a
    deletion waits to be confirmed for (``confirm_delete``), the last deletion, to undo
    (``undo_delete``: name and token). Each action returns what to say, if anything;
    an error a person can cause is returned as its message, not raised."""

    state: MutableMapping[str, Any]
    library: PlanLibrary

    def save(self, name: str, result: AllocationResult, notes: str) -> tuple[bool, str]:
        """Save the plan on screen under ``name``: (saved?, what to say)."""
        if refused := save_refusal(name):
            return False, refused
        try:
            saved = self.library.save(name, result, notes=notes)
        except PlaceFundError as err:
            return False, str(err)
        return True, f"Saved as “{saved.name}” in {self.library.root}"

    def undo_delete(self) -> str | None:
        """Bring the last deleted plan back; why not, if it cannot be."""
        name_token = self.state.get("undo_delete")
        self.state["undo_delete"] = None
        if not name_token:
            return None
        try:
            self.library.restore(name_token[1])
        except PlaceFundError as err:
            return str(err)
        return None

    def pick(self, names: list[str]) -> None:
        """Set the plan picker for this run (``managed_choice``)."""
        self.state["manage_name"] = managed_choice(names, self.state.get("manage_name"),
                                                   self.state.pop("renamed", None))

    def rename(self, name: str, new_name: str) -> None:
        """Rename a saved plan; it stays picked under its new name."""
        self.state["renamed"] = self.library.rename(name, new_name).name

    def delete(self, name: str) -> str | None:
        """Delete a saved plan (it can be undone until the page is left); why not, if not."""
        self.state["confirm_delete"] = None
        try:
            self.state["undo_delete"] = (name, self.library.delete(name))
        except PlaceFundError as err:
            return str(err)
        return None
