"""Regions: the shipped region sets and a user's own CSV, through one code path.

A regions table has ``region_id`` (text), ``name``, ``population`` (persons, > 0),
any number of numeric indicator columns (non-negative; empty = not available) and
any text group columns (e.g. ``census_region``; columns named ``*_id``, ``*_fips`` or
``*_code`` are groups even when they look numeric). Geometry is optional and kept apart:
it is only for maps and never enters the model.
"""

from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.columns import is_indicator
from optimizer.errors import DataError

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
REGION_SETS = ("states", "metros", "counties")
REQUIRED = ("region_id", "name", "population")
CODE_SUFFIXES = ("_id", "_fips", "_code")  # numeric-looking codes are labels, not indicators
MAX_REGIONS = 10_000


@dataclass(frozen=True, eq=False)
class Regions:
    """A validated regions table.

    ``table`` is indexed by position, sorted by ``region_id``; ``indicators`` are its
    numeric columns other than population, ``groups`` its text columns other than the
    id and name. ``source`` names where it came from; ``sha256`` hashes the file bytes.
    """

    table: pd.DataFrame
    indicators: tuple[str, ...]
    groups: tuple[str, ...]
    source: str
    sha256: str
    csv_bytes: bytes = field(repr=False)
    geometry_path: Path | None = None

    @functools.cached_property
    def ids(self) -> list[str]:
        """Region ids in model order."""
        return self.table["region_id"].tolist()

    @functools.cached_property
    def names(self) -> np.ndarray:
        """(n,) region names, in model order."""
        return self.table["name"].to_numpy()

    @functools.cached_property
    def population(self) -> np.ndarray:
        """(n,) population, persons, in model order."""
        return self.table["population"].to_numpy(float)

    def __len__(self) -> int:
        return len(self.table)

    def lookup(self, ref: str) -> str | None:
        """The region_id a reference means: an id, a postal code or a name (any case)."""
        t = self.table
        key = str(ref).strip().lower()
        for column in ("region_id", "postal", "name"):
            if column in t.columns:
                hit = t.loc[t[column].astype(str).str.lower() == key, "region_id"]
                if len(hit) == 1:
                    return str(hit.iloc[0])
        return None

    def geometry(self):  # -> geopandas.GeoDataFrame | None
        """The region polygons keyed by region_id (EPSG:4326), or None if there are none."""
        if self.geometry_path is None:
            return None
        return load_geometry(self.geometry_path, self.ids)


def load_regions(source: str | Path = "states", geometry: str | Path | None = None) -> Regions:
    """Load a shipped region set by name (``states``) or a user's CSV by path.

    A shipped set brings its own geometry; for a CSV, pass ``geometry`` (a GeoJSON
    keyed by ``region_id``) to get maps.
    """
    if str(source) in REGION_SETS:
        csv_path = DATA_DIR / f"{source}.csv"
        if not csv_path.exists():
            raise DataError(f"the region set '{source}' is not shipped in this version",
                            file=str(csv_path))
        shipped_geo = DATA_DIR / f"{source}.geojson"
        if geometry is None and shipped_geo.exists():
            geometry = shipped_geo
        label = str(source)
    else:
        csv_path = Path(source)
        label = str(csv_path)
    try:
        raw = csv_path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read the regions file ({err.strerror})", file=str(csv_path)) from None
    regions = regions_from_bytes(raw, label)
    if geometry is not None:
        geo_path = Path(geometry)
        load_geometry(geo_path, regions.ids)  # validate now, fail early
        regions = Regions(regions.table, regions.indicators, regions.groups, regions.source,
                          regions.sha256, regions.csv_bytes, geo_path)
    return regions


def regions_from_bytes(raw: bytes, label: str) -> Regions:
    """Parse and validate a regions CSV given as bytes (a file or an upload)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"not UTF-8 text (byte {err.start})", file=label) from None
    try:
        # text first, so codes keep their leading zeros; numbers are converted below
        t = pd.read_csv(io.StringIO(text), dtype=str, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(f"not a readable CSV ({str(err).strip()})", file=label) from None
    t.columns = [str(c).strip() for c in t.columns]
    missing = [c for c in REQUIRED if c not in t.columns]
    if missing:
        raise DataError(f"required column(s) missing: {missing} (found {list(t.columns)})",
                        file=label)
    if len(t) == 0:
        raise DataError("has no rows", file=label)
    if len(t) > MAX_REGIONS:
        raise DataError(f"has {len(t):,} rows; at most {MAX_REGIONS:,} regions are supported",
                        file=label)
    dupes = t.columns[t.columns.duplicated()].tolist()
    if dupes:
        raise DataError(f"duplicate column name(s) {dupes}", file=label)

    def row_of(i: int) -> int:
        return int(i) + 2  # 1-based, after the header line

    t["region_id"] = t["region_id"].astype("string").str.strip()
    blank = t.index[t["region_id"].isna() | (t["region_id"] == "")]
    if len(blank):
        raise DataError("region_id is empty", file=label, row=row_of(blank[0]), column="region_id")
    dup = t.index[t["region_id"].duplicated()]
    if len(dup):
        rid = t.at[dup[0], "region_id"]
        raise DataError(f"region_id '{rid}' appears more than once", file=label,
                        row=row_of(dup[0]), column="region_id")
    t["region_id"] = t["region_id"].astype(str)
    t["name"] = t["name"].astype("string").fillna("").astype(str)

    numeric: list[str] = []
    groups: list[str] = []
    for column in t.columns:
        if column in ("region_id", "name"):
            continue
        if column.endswith(CODE_SUFFIXES):
            t[column] = t[column].astype("string").fillna("").astype(str)
            groups.append(column)
            continue
        values = pd.to_numeric(t[column], errors="coerce")
        not_number = values.isna() & t[column].notna()
        if column == "population" or (not not_number.any() and t[column].notna().any()):
            if not_number.any():
                i = t.index[not_number][0]
                raise DataError(f"'{t.at[i, column]}' is not a number", file=label,
                                row=row_of(i), column=column)
            bad = t.index[~np.isfinite(values.fillna(0.0)) | (values < 0)]
            if len(bad):
                i = bad[0]
                raise DataError(f"value {t.at[i, column]} is negative or not finite; "
                                "indicators must be non-negative", file=label, row=row_of(i),
                                column=column)
            t[column] = values.astype(float)
            numeric.append(column)
        else:
            t[column] = t[column].astype("string").fillna("").astype(str)
            groups.append(column)
    pop = t["population"]
    bad_pop = t.index[pop.isna() | (pop <= 0)]
    if len(bad_pop):
        i = bad_pop[0]
        raise DataError("population must be a positive number", file=label, row=row_of(i),
                        column="population")
    # the column registry says which numeric columns are not indicators (counts, rates)
    indicators = tuple(c for c in numeric if c != "population" and is_indicator(c))
    if not indicators:
        raise DataError("no numeric indicator columns besides population", file=label)
    t = t.sort_values("region_id", kind="stable").reset_index(drop=True)
    return Regions(
        table=t,
        indicators=indicators,
        groups=tuple(groups),
        source=label,
        sha256=hashlib.sha256(raw).hexdigest(),
        csv_bytes=raw,
    )


def load_geometry(path: Path, region_ids: list[str]):  # -> geopandas.GeoDataFrame
    """Read a GeoJSON keyed by region_id; every region needs exactly one geometry."""
    import geopandas as gpd

    try:
        gdf = gpd.read_file(path)
    except Exception as err:  # pyogrio raises several types for unreadable files
        raise DataError(f"not a readable GeoJSON ({err})", file=str(path)) from None
    if "region_id" not in gdf.columns:
        raise DataError("features need a 'region_id' property", file=str(path),
                        column="region_id")
    gdf["region_id"] = gdf["region_id"].astype(str)
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    elif gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    dup = gdf["region_id"][gdf["region_id"].duplicated()]
    if len(dup):
        raise DataError(f"region_id '{dup.iloc[0]}' has more than one feature", file=str(path),
                        column="region_id")
    absent = sorted(set(region_ids) - set(gdf["region_id"]))
    if absent:
        raise DataError(f"{len(absent)} region(s) have no geometry, e.g. {absent[:5]}",
                        file=str(path), column="region_id")
    empty = gdf.loc[gdf.geometry.isna() | gdf.geometry.is_empty, "region_id"]
    if len(empty):
        raise DataError(f"region '{empty.iloc[0]}' has an empty geometry", file=str(path))
    return gdf[gdf["region_id"].isin(region_ids)][["region_id", "geometry"]].reset_index(drop=True)
