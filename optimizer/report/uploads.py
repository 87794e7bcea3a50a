"""Files a person uploads to the workbench: size limits, a regions table, a scenario.

Every check raises ``DataError`` or ``ScenarioError`` naming the uploaded file, so the
page can show it as it is. ``fit_scenario`` adapts a scenario to an uploaded table
whose indicators differ from the shipped ones, and says what it changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from optimizer.engine import columns
from optimizer.engine.data import Regions, load_geometry, regions_from_bytes
from optimizer.engine.errors import DataError
from optimizer.engine.inputs import MAX_GINI_REGIONS, default_points_per_busd, fallback_yields
from optimizer.engine.scenario import Scenario, base_scenario
from optimizer.engine.settings import home_dir

MAX_UPLOAD_MB = 5  # the upload widgets' limit (Streamlit counts MB of 2**20 bytes)
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 2**20
MISSING_LABELS = {"error": "stop and name them", "zero": "count as zero",
                  "median": "the column's median", "half_min": "half the smallest value"}
# the largest upload the workbench plans: counties-sized sets (3,134) solve first in 20-25 s
# and re-solve in seconds with the Hoover spread, which uploads over MAX_GINI_REGIONS get
MAX_APP_REGIONS = 5_000


def check_upload_size(name: str, size: int, limit: int = MAX_UPLOAD_BYTES) -> None:
    """Refuse a file above the limit with a polite message."""
    if size > limit:
        raise DataError(f"is {size / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB. "
                        "Trim the file or use the command line for large inputs.", file=name)


def regions_from_upload(csv_name: str, csv_bytes: bytes, geo_name: str | None = None,
                        geo_bytes: bytes | None = None, home: Path | None = None) -> Regions:
    """Validate an uploaded regions CSV (and optional GeoJSON keyed by region_id)."""
    check_upload_size(csv_name, len(csv_bytes))
    regions = regions_from_bytes(csv_bytes, csv_name)
    if len(regions) > MAX_APP_REGIONS:
        raise DataError(f"has {len(regions):,} regions; the workbench plans up to "
                        f"{MAX_APP_REGIONS:,}. Use the command line for larger sets.",
                        file=csv_name)
    if geo_bytes is None:
        return regions
    name = geo_name or "geometry.geojson"
    check_upload_size(name, len(geo_bytes))
    path = upload_path(store_upload(geo_bytes, "geojson", home), "geojson", home)
    try:
        shapes = load_geometry(path, regions.ids)
    except DataError as err:
        raise DataError(str(err).replace(str(path), name)) from None
    return dataclasses.replace(regions, geometry_path=path,
                               repaired_geometry=tuple(shapes.attrs.get("repaired", ())))


def content_hash(raw: bytes) -> str:
    """The short content hash an upload is kept and linked under."""
    return hashlib.sha256(raw).hexdigest()[:16]


def upload_path(digest: str, suffix: str, home: Path | None = None) -> Path:
    """Where an upload with this content hash is kept in the PlaceFund folder."""
    return (home or home_dir()) / "uploads" / f"{digest}.{suffix}"


def store_upload(raw: bytes, suffix: str, home: Path | None = None, name: str | None = None) -> str:
    """Keep an upload under its content hash (so a link can name it), and its file name."""
    digest = content_hash(raw)
    path = upload_path(digest, suffix, home)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)
    if name:
        path.with_name(f"{path.name}.name").write_text(Path(name).name[:200], encoding="utf-8")
    return digest


def stored_name(digest: str, suffix: str, home: Path | None = None) -> str | None:
    """The file name a kept upload was uploaded under, if known."""
    path = upload_path(digest, suffix, home)
    try:
        return path.with_name(f"{path.name}.name").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def stored_upload(digest: str, suffix: str, home: Path | None = None) -> bytes | None:
    """A kept upload's bytes, or None if this machine does not have it."""
    path = upload_path(digest, suffix, home)
    try:
        return path.read_bytes()
    except OSError:
        return None


def with_missing_policy(scenario: Scenario, policy: str) -> Scenario:
    """``scenario`` with ``policy`` for empty cells of every column not set on its own."""
    current = scenario.missing_values
    if isinstance(current, str):
        return scenario if current == policy else scenario.updated(missing_values=policy)
    if current.get("default", "error") == policy:
        return scenario
    return scenario.updated(missing_values={**current, "default": policy})


def scenario_from_upload(name: str, raw: bytes, region_set: str = "upload",
                         indicators: Sequence[str] = ()) -> Scenario:
    """Validate an uploaded scenario YAML, read over ``region_set``'s base as ``solve
    --scenario`` reads a file (a shipped set's default; else the engine default)."""
    check_upload_size(name, len(raw))
    return base_scenario(region_set, indicators, raw, source=name)  # the CLI's bounded reader




def _labels(names: Any) -> str:
    """Columns by their human labels, in a list a sentence can hold: 'A, B and C' (with
    semicolons where a label has a comma of its own: 'Jobs, all occupations; B and C')."""
    labels = [columns.label(n) for n in names]
    comma = "; " if any("," in label for label in labels) else ", "
    return labels[0] if len(labels) == 1 else f"{comma.join(labels[:-1])} and {labels[-1]}"


def fit_scenario(scenario: Scenario, regions: Regions) -> tuple[Scenario, list[str]]:
    """Adapt a scenario to a regions table with other indicators; say what changed.

    Weights on indicators the table lacks are dropped (equal weights if none is left);
    an instrument whose absorption indicators are missing absorbs by overall capacity;
    above MAX_GINI_REGIONS regions the spread is measured by the Hoover index.
    """
    notes: list[str] = []
    have = set(regions.indicators)
    changes: dict[str, Any] = {}
    weights = {k: v for k, v in scenario.weights.items() if k in have and v > 0}
    dropped = sorted(set(scenario.weights) - have)
    if not weights:
        weights = {k: 1.0 for k in regions.indicators}
        notes.append("Weights: none of the scenario's weighted indicators is in this table, so "
                     + (f"its one indicator ({_labels(regions.indicators)}) gets all the weight."
                        if len(regions.indicators) == 1 else
                        f"each of its {len(regions.indicators):,} indicators gets an equal weight "
                        f"({_labels(regions.indicators)})."))
    elif dropped:
        notes.append(f"Weights: {_labels(dropped)} are not in this table; their weights were "
                     "dropped.")
    if weights != scenario.weights:
        changes["weights"] = weights
    instruments = scenario.to_dict()["instruments"]
    general, shares = [], []
    for name, ins in instruments.items():
        absent = sorted(set(ins.get("absorbs") or []) - have)
        if absent:
            ins["absorbs"] = None
            general.append(f"{columns.instrument_label(name)} (without {_labels(absent)})")
        no_yield = sorted(set(ins["yields"]) - have)
        if no_yield and name in default_points_per_busd():
            ins["yields"] = fallback_yields(name, weights)
            shares.append(f"{columns.instrument_label(name)} "
                          f"{next(iter(ins['yields'].values()), '0%')}")
    if shares:
        notes.append("Yields: the instruments raise indicators this table lacks, so here each "
                     "raises every weighted column by the share of its national total per $1B "
                     f"that it buys at states ({'; '.join(shares)}); name their yields in your "
                     "columns to say what they buy.")
    if general:
        notes.append(f"Instruments: {len(general)} absorb by overall capacity, as the indicators "
                     f"they absorb by are not in this table: {'; '.join(general)}.")
    if instruments != scenario.to_dict()["instruments"]:
        changes["instruments"] = instruments
    if len(regions) > MAX_GINI_REGIONS and scenario.spread_measure == "gini":
        changes["spread_measure"] = "hoover"
        notes.append(f"Spread is measured by the Hoover index: the exact pairwise Gini is offered "
                     f"up to {MAX_GINI_REGIONS} regions and this table has {len(regions):,} "
                     "(the plan's true Gini is reported either way).")
    return (scenario.updated(**changes) if changes else scenario), notes

