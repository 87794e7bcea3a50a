"""The Save & compare tab's choices that outlive a page run (``app.py`` only draws them)."""

from __future__ import annotations


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
