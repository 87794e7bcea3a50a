"""What the workbench keeps around an upload that fails (``app.py`` only calls it).

A file chosen in an uploader that already holds one arrives as two changes: the old file
removed (the page goes back to the plan from before the upload), then the new file. If
the new file is refused, the page must show what it showed before the replacement (the
uploaded plan, its settings, its numbers and its undo history), as its message says, not
the plan the removal went back to for an instant. ``Removed`` keeps what a removal
replaced; ``to_restore`` gives it back when the next upload fails straight after it.
``refusal`` words the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from optimizer.engine import columns
from optimizer.engine.errors import DataError, PlaceFundError

REPLACE_WINDOW_S = 10.0  # a removal this recent, with nothing changed since, was a replacement


@dataclass(frozen=True)
class Removed:
    """The page state a removal of the regions CSV replaced (``snapshot``, by session key),
    what the removal left on screen (``left``) and when (monotonic seconds)."""

    snapshot: dict[str, Any]
    left: Any
    at: float


def to_restore(removed: Removed | None, on_screen: Any, now: float,
               window: float = REPLACE_WINDOW_S) -> dict[str, Any] | None:
    """The state to give back when an upload fails: the one a removal just replaced, if
    the page still shows what that removal left (nothing changed since) and it happened
    within ``window`` seconds (a replacement, not a person removing a file and then,
    later, choosing another); else None: the page stays as it is.

    >>> gone = Removed({"loaded_set": "upload"}, ("states", "abc"), at=100.0)
    >>> to_restore(gone, ("states", "abc"), now=101.0)
    {'loaded_set': 'upload'}
    >>> to_restore(gone, ("states", "λ moved"), now=101.0) is None  # a change since
    True
    >>> to_restore(gone, ("states", "abc"), now=160.0) is None  # a removal long ago
    True
    """
    if removed is None or removed.left != on_screen or now - removed.at > window:
        return None
    return removed.snapshot


_EMPTY_CELLS = re.compile(r"(\d+) missing value\(s\), first for region (.+?);")


def refusal(err: PlaceFundError) -> str:
    """The sidebar's message for a refused upload: what is wrong, where, in words, and that
    the page stays as it was. Empty cells get the control that decides what they mean
    (the command line's advice names scenario keys, which the page does not show).

    >>> err = DataError("2 missing value(s), first for region 25; set missing_values.x to "
    ...                 "'zero' in the scenario", file="gap.csv", column="ai_job_postings")
    >>> print(refusal(err))
    gap.csv: 2 empty cells in AI job postings, the first for region 25. Choose what empty \
cells mean under *Empty cells* above and the upload is tried again. Nothing was changed: \
the plan on screen stays.
    """
    found = _EMPTY_CELLS.search(str(err)) if isinstance(err, DataError) and err.column else None
    if found is not None and isinstance(err, DataError) and err.column:
        count = int(found.group(1))
        cells = "1 empty cell" if count == 1 else f"{count:,} empty cells"
        first = "" if count == 1 else "the first "
        text = (f"{err.file}: {cells} in {columns.label(err.column)}, {first}for region "
                f"{found.group(2)}. Choose what empty cells mean under *Empty cells* above and "
                "the upload is tried again.")
    else:
        text = str(err).rstrip(". ") + "."
    return f"{text} Nothing was changed: the plan on screen stays."
