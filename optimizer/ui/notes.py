"""The notes above the headline: one short line per topic, the full sentences behind
*Details* (``app.py`` draws them).

A page can have many things to say about its data and assumptions (a metro plan: its
weights, how empty cells are filled and how many were, the spread measure; an upload:
what was read, how the default plan was fitted to its columns). Above the headline each
topic gets one line: its one note when that is short, else a summary pointing to the
details, where every sentence is kept in full.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from optimizer.analysis import facts
from optimizer.engine.result import AllocationResult

SHORT = 240  # characters: a longer note is summed up above the headline, given in details


@dataclass(frozen=True)
class Topic:
    """What a page says on one subject: the notes in full and a line summing them up."""

    summary: str
    notes: list[str] = field(default_factory=list)


def arrange(topics: list[Topic]) -> tuple[list[str], list[str]]:
    """The lines above the headline (one per topic with notes) and the details.

    >>> arrange([Topic("Two things.", ["One.", "Two."]), Topic("Unused."), Topic("-", ["Brief."])])
    (['Two things.', 'Brief.'], ['One.', 'Two.'])
    """
    above: list[str] = []
    details: list[str] = []
    for topic in topics:
        notes = [n for n in topic.notes if n]
        if not notes:
            continue
        if len(notes) == 1 and len(notes[0]) <= SHORT:
            above.append(notes[0])
        else:
            above.append(topic.summary)
            details.extend(notes)
    return above, details


def page_topics(*, page: list[str], uploaded: bool, region_set: str, set_notes: list[str],
                rules: list[str], plan: AllocationResult | None) -> list[Topic]:
    """The page's topics, in the order they are read: the data on screen (an upload, or
    what a link could not restore), the region set's assumptions, empty cells, rules.

    ``set_notes`` are ``controls.region_set_notes``: the one on empty cells (it starts
    "Empty") joins the plan's count of filled cells.
    """
    cells = [n for n in set_notes if n.startswith("Empty")]
    own = [n for n in set_notes if not n.startswith("Empty")]
    filled: dict[str, int] = {}
    if plan is not None:
        filled = {k: v for k, v in (plan.filled_values or {}).items()
                  if v and plan.scenario.missing_policy(k) != "error"}
        cells.append(facts.filled_sentence(plan.filled_values, plan.scenario) or "")
    first = (upload_topic(page) if uploaded else
             Topic("What this link could not restore is under *Details*.", page))
    return [first, region_set_topic(region_set, own), data_topic(cells, filled),
            rules_topic(rules)]


def data_topic(policy_notes: list[str], filled: dict[str, int]) -> Topic:
    """Empty cells: how they are filled (the region set's policy) and how many were."""
    total = sum(v for v in filled.values() if v)
    columns = sum(1 for v in filled.values() if v)
    summary = (f"{total:,} empty (suppressed or unplaceable) {'cell was' if total == 1 else 'cells were'} "
               f"filled in {columns:,} {'column' if columns == 1 else 'columns'}; how, column by "
               "column, is under *Details*." if total else
               "How empty cells are filled is under *Details*.")
    return Topic(summary, policy_notes)


def region_set_topic(region_set: str, notes: list[str]) -> Topic:
    """A shipped region set's own default assumptions (its weights, its spread measure)."""
    return Topic(f"{region_set.capitalize()} have a default plan of their own: weights on locally "
                 "measured columns and the Hoover spread measure (change either in the sidebar; "
                 "the weights are under *Details*).", notes)


def upload_topic(notes: list[str]) -> Topic:
    """What reading an upload did and how the default plan was fitted to its columns."""
    return Topic("Your table was read and the default plan fitted to its columns (weights, "
                 "instruments or spread measure); what changed is under *Details*.", notes)


def rules_topic(notes: list[str]) -> Topic:
    """Constraint packs and hub rules: what was kept, what could not be applied."""
    return Topic(f"{len(notes)} notes on the program rules are under *Details*.", notes)
