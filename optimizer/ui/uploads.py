"""What the workbench keeps around an upload that fails (``app.py`` only calls it).

A file chosen in an uploader that already holds one arrives as two changes: the old file
removed (the page goes back to the plan from before the upload), then the new file. If
the new file is refused, the page must show what it showed before the replacement (the
uploaded plan, its settings, its numbers and its undo history), as its message says, not
the plan the removal went back to for an instant. ``Removed`` keeps what a removal
replaced; ``to_restore`` gives it back when the next upload fails straight after it.
``refusal`` words the message. ``upload_plan`` and ``stored`` start the plan of an upload
and of a link's stored upload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from optimizer.engine import columns
from optimizer.engine.data import Regions
from optimizer.engine.errors import DataError, PlaceFundError
from optimizer.engine.scenario import Scenario, base_scenario
from optimizer.report import uploads as up
from optimizer.ui.state import UPLOAD_SET

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


# the sidebar's uploaders: (widget key, label, file types), in the order drawn
UPLOADERS = (("up_csv", "Regions CSV", ("csv",)),
             ("up_geo", "Region shapes (GeoJSON, optional)", ("geojson", "json")),
             ("up_yaml", "Scenario YAML", ("yaml", "yml")))
UPLOAD_CAPTION = (f"Regions CSV: region_id, name, population and numeric indicator columns "
                  f"(up to {up.MAX_APP_REGIONS:,} regions); GeoJSON keyed by region_id for maps. "
                  f"Files up to {up.MAX_UPLOAD_MB} MB each. Uploads are kept in your PlaceFund "
                  "folder under their content hash, so the page's link can name them.")


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


def upload_plan(regions: Regions, csv: bool, yaml: tuple[str, bytes] | None, shipped: str,
                missing: str) -> tuple[Scenario, list[str], Scenario | None]:
    """The starting scenario of an upload (a regions CSV if ``csv``, a scenario file
    ``yaml`` as (name, bytes)), what the page says about it, and the scenario a link to an
    uploaded table is the difference from (None for a scenario on a shipped set).

    The scenario starts from the region set's base (``scenario.base_scenario``: the
    shipped set ``shipped``'s default, or the engine default for an uploaded table), as
    ``placefund solve --scenario`` reads a file. A scenario file on a shipped set other
    than the states, and every plan of an uploaded table, is fitted to the table's
    columns; a table without a scenario file takes the empty-cells policy chosen on the page.
    """
    region_set = UPLOAD_SET if csv else shipped
    reference = up.fit_scenario(base_scenario(region_set, regions.indicators), regions)[0] if csv else None
    base = (up.scenario_from_upload(*yaml, region_set, regions.indicators) if yaml
            else base_scenario(region_set, regions.indicators))
    fit = csv or (yaml is not None and shipped != "states")
    base, notes = up.fit_scenario(base, regions) if fit else (base, [])
    if csv and yaml is None:
        base = up.with_missing_policy(base, missing)
    return base, [*regions.read_notes, *notes, *filter(None, [regions.geometry_note])], reference


def stored(csv_hash: str, geo_hash: str | None) -> dict[str, Any] | None:
    """The upload a link names, from the files kept in the PlaceFund folder (as the page
    keeps an upload: regions, scenario, notes, hashes), or None if they are not there or
    no longer read."""
    raw = up.stored_upload(csv_hash, "csv")
    shapes = up.stored_upload(geo_hash, "geojson") if geo_hash else None
    if raw is None:
        return None
    name = up.stored_name(csv_hash, "csv") or f"upload {csv_hash}.csv"
    try:
        regions = up.regions_from_upload(name, raw, "shapes.geojson" if shapes else None, shapes)
    except PlaceFundError:
        return None
    reference, notes = up.fit_scenario(base_scenario(UPLOAD_SET, regions.indicators), regions)
    return {"regions": regions, "base": reference, "reference": reference, "name": name,
            "notes": [*regions.read_notes, *notes], "csv_hash": csv_hash,
            "geo_hash": geo_hash if shapes else None}
