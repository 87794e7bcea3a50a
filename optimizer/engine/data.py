"""Regions: the shipped region sets and a user's own CSV, through one code path.

A regions table has ``region_id`` (text), ``name``, ``population`` (persons, 1 to
10 billion), any number of numeric indicator columns (finite, non-negative) and any
text group columns (e.g. ``census_region``; columns named ``*_id``, ``*_fips`` or
``*_code`` are groups even when they look numeric). Geometry is optional and kept apart:
it is only for maps and never enters the model.

Reading a CSV (at most ``MAX_CSV_BYTES`` and ``MAX_COLUMNS`` columns):
- every row has as many fields as the header, and no column name repeats;
- a cell that is empty, ``-``, ``NA``, ``N/A``, ``n/a``, ``NaN``, ``null`` or ``None``
  (any case) means *not available*;
- numbers may carry thousands separators (``15,800``; quote the field), and
  ``read_notes`` says in which columns they were read;
- a file separated by semicolons or tabs is refused with a sentence saying so;
- a column is numeric when most of its available cells are numbers, and then every
  other cell in it is an error naming the row, column and value (it is never quietly
  turned into a text group); a column that is mostly text is a group.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine.columns import is_indicator
from optimizer.engine.columns import label as column_label
from optimizer.engine.errors import DataError, brief
from optimizer.engine.safe_yaml import decode_text, read_bytes, read_text, regular_file

# the top-level data/ folder, packaged as optimizer.shipped (see pyproject.toml)
DATA_DIR = Path(str(resources.files("optimizer.shipped")))
REGION_SETS = ("states", "metros", "counties")
REQUIRED = ("region_id", "name", "population")
CODE_SUFFIXES = ("_id", "_fips", "_code")  # numeric-looking codes are labels, not indicators
MAX_REGIONS = 10_000
MAX_CSV_BYTES = 64 * 1024 * 1024  # the shipped counties table is 0.4 MB
MAX_COLUMNS = 1_000
MAX_GEOJSON_BYTES = 64 * 1024 * 1024  # the shipped counties' shapes are 1.8 MB
MISSING_TOKENS = frozenset({"", "-", "na", "n/a", "nan", "null", "none", "#n/a", "<na>"})
MIN_POPULATION, MAX_POPULATION = 1.0, 1e10  # persons
_THOUSANDS = r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?"
log = logging.getLogger(__name__)


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
    repaired_geometry: tuple[str, ...] = ()  # region ids whose polygons were made valid
    read_notes: tuple[str, ...] = ()  # what reading the CSV did that a person should know

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

    @property
    def geometry_note(self) -> str | None:
        """A sentence saying which regions' polygons were repaired on load, if any."""
        ids = self.repaired_geometry
        if not ids:
            return None
        more = ", ..." if len(ids) > 10 else ""
        return (f"Repaired the invalid (e.g. self-intersecting) polygons of {len(ids)} "
                f"region(s) ({', '.join(ids[:10])}{more}) with shapely's make_valid, keeping "
                "their polygon parts.")

    @functools.cached_property
    def position(self) -> dict[str, int]:
        """Each region_id's row, in model order."""
        return {rid: r for r, rid in enumerate(self.ids)}

    def column_values(self, column: str) -> np.ndarray:
        """(n,) a numeric column as floats, NaN where not available; read from the table
        once (re-solves and checks read the same columns many times), read-only."""
        key = ("float", column)
        if key not in self._columns:
            values = self.table[column].to_numpy(float, copy=True)
            values.flags.writeable = False
            self._columns[key] = values
        return self._columns[key]

    def labels(self, column: str) -> np.ndarray:
        """(n,) a column as text labels (group columns), read once, read-only."""
        key = ("text", column)
        if key not in self._columns:
            values = self.table[column].astype(str).to_numpy()
            values.flags.writeable = False
            self._columns[key] = values
        return self._columns[key]

    @functools.cached_property
    def _columns(self) -> dict[tuple[str, str], np.ndarray]:
        return {}

    @functools.cached_property
    def _references(self) -> list[dict[str, list[str]]]:
        """For region_id, postal and name: lower-case value -> the region_ids with it."""
        t = self.table
        out = []
        for column in ("region_id", "postal", "name"):
            if column in t.columns:
                index: dict[str, list[str]] = {}
                for key, rid in zip(t[column].astype(str).str.lower(), self.ids, strict=True):
                    index.setdefault(key, []).append(str(rid))
                out.append(index)
        return out

    def lookup(self, ref: str) -> str | None:
        """The region_id a reference means: an id, a postal code or a name (any case);
        the first of these that names exactly one region."""
        key = str(ref).strip().lower()
        for index in self._references:
            hit = index.get(key, [])
            if len(hit) == 1:
                return hit[0]
        return None

    def geometry(self) -> Any:  # geopandas.GeoDataFrame | None
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
    raw = read_bytes(csv_path, lambda m: DataError(m.removeprefix(f"{csv_path}: "),
                                                   file=str(csv_path)),
                     what="regions file", limit=MAX_CSV_BYTES)
    regions = regions_from_bytes(raw, label)
    if geometry is not None:
        geo_path = Path(geometry)
        shapes = load_geometry(geo_path, regions.ids)  # validate now, fail early
        regions = dataclasses.replace(regions, geometry_path=geo_path,
                                      repaired_geometry=tuple(shapes.attrs.get("repaired", ())))
    return regions


def regions_from_bytes(raw: bytes, label: str) -> Regions:
    """Parse and validate a regions CSV given as bytes (a file or an upload)."""
    if len(raw) > MAX_CSV_BYTES:
        raise DataError(f"is {len(raw) / 2**20:,.1f} MB; a regions file may be at most "
                        f"{MAX_CSV_BYTES / 2**20:,.0f} MB", file=label)
    text = decode_text(raw, label, lambda m: DataError(m.removeprefix(f"{label}: "), file=label),
                       what="regions file")
    t, lines = _read_table(text, label)

    def row_of(i: int) -> int:
        return lines[int(i)]  # the line of the file the row ends on

    _check_shape(t, label)
    _check_region_ids(t, label, row_of)
    t["region_id"] = t["region_id"].astype(str)
    t["name"] = t["name"].astype(str)
    numeric, groups, separated = _type_columns(t, label, row_of)
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
        read_notes=_separator_note(separated, label),
    )


def _separator_note(columns: list[str], label: str) -> tuple[str, ...]:
    """A sentence naming the columns whose numbers had thousands separators."""
    if not columns:
        return ()
    return (f"{label}: read numbers with thousands separators (e.g. 15,800 as 15800) in "
            f"{', '.join(f'{column_label(c)} ({c})' for c in columns)}.",)


def _check_shape(t: pd.DataFrame, label: str) -> None:
    """The required columns, at least one row, at most MAX_REGIONS."""
    missing = [c for c in REQUIRED if c not in t.columns]
    if missing:
        raise DataError(f"required column(s) missing: {missing} (found {brief(list(t.columns))})",
                        file=label)
    if len(t) == 0:
        raise DataError("has no rows", file=label)
    if len(t) > MAX_REGIONS:
        raise DataError(f"has {len(t):,} rows; at most {MAX_REGIONS:,} regions are supported",
                        file=label)


def _check_region_ids(t: pd.DataFrame, label: str, row_of: Callable[[int], int]) -> None:
    """Strip the region_ids (in place); refuse an empty or repeated one."""
    t["region_id"] = t["region_id"].str.strip()
    blank = t.index[t["region_id"] == ""]
    if len(blank):
        raise DataError("region_id is empty", file=label, row=row_of(blank[0]), column="region_id")
    dup = t.index[t["region_id"].duplicated()]
    if len(dup):
        rid = t.at[dup[0], "region_id"]
        raise DataError(f"region_id {brief(rid)} appears more than once", file=label,
                        row=row_of(dup[0]), column="region_id")


def _type_columns(t: pd.DataFrame, label: str, row_of: Callable[[int], int]
                  ) -> tuple[list[str], list[str], list[str]]:
    """Make each column (in place) numeric or a text group: (numeric, groups, separated).

    Code columns are text; a column is numeric when population, or when fewer than
    half its available cells fail to parse as numbers (those are then named).
    ``separated`` lists the numeric columns where thousands separators were read.
    """
    numeric: list[str] = []
    groups: list[str] = []
    separated_columns: list[str] = []
    for column in t.columns:
        if column in ("region_id", "name"):
            continue
        cells = t[column].str.strip()
        absent = cells.str.lower().isin(MISSING_TOKENS)
        if column.endswith(CODE_SUFFIXES):
            t[column] = cells.where(~absent, "").astype(str)
            groups.append(column)
            continue
        separated = cells.str.fullmatch(_THOUSANDS)
        values = pd.to_numeric(cells.where(~separated, cells.str.replace(",", "", regex=False))
                               .where(~absent), errors="coerce")
        not_number = values.isna() & ~absent
        available = int((~absent).sum())
        if column == "population" or (available and 2 * int(not_number.sum()) < available):
            _check_numbers(column, cells, values, not_number, label, row_of)
            t[column] = values.astype(float)
            numeric.append(column)
            if bool(separated.fillna(False).any()):
                separated_columns.append(column)
        else:
            t[column] = cells.where(~absent, "").astype(str)
            groups.append(column)
    return numeric, groups, separated_columns


def _read_table(text: str, label: str) -> tuple[pd.DataFrame, list[int]]:
    """The CSV's cells as text (codes keep their leading zeros), and each row's line.

    Read with the ``csv`` module rather than pandas so that the raw header is seen (a
    repeated name is not renamed ``talent.1``) and a row of the wrong length is
    named, not shifted into an index or padded. Blank lines are skipped.
    """
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    try:
        header = [name.strip() for name in next(reader, [])]
        if not any(header):
            raise DataError("not a readable CSV (no header line)", file=label)
        _refuse_other_separators(header, label)
        if len(header) > MAX_COLUMNS:
            raise DataError(f"has {len(header):,} columns; at most {MAX_COLUMNS:,} are supported",
                            file=label)
        seen: dict[str, int] = {}
        for position, name in enumerate(header, start=1):
            if name and name in seen:
                raise DataError(f"column name {brief(name)} appears twice in the header "
                                f"(columns {seen[name]} and {position})", file=label, row=1)
            seen[name] = position
        rows: list[list[str]] = []
        lines: list[int] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise DataError(f"has {len(row)} field(s) but the header has {len(header)}; "
                                "check for a missing or extra comma, or quote a value that "
                                "contains one", file=label, row=reader.line_num)
            rows.append(row)
            lines.append(reader.line_num)
            if len(rows) > MAX_REGIONS:
                break  # reported below with the row count
    except csv.Error as err:
        raise DataError(f"not a readable CSV ({err})", file=label, row=reader.line_num) from None
    table = pd.DataFrame(rows, columns=header, dtype=object).astype(str)
    unnamed = [i for i, name in enumerate(header) if not name]
    for i in reversed(unnamed):
        if table.iloc[:, i].str.strip().ne("").any():
            raise DataError(f"column {i + 1} has values but no name in the header", file=label,
                            row=1)
        table = table.drop(columns=table.columns[i])  # a trailing comma on every line
    return table, lines


def _refuse_other_separators(header: list[str], label: str) -> None:
    """A header that is one field holding semicolons or tabs: say which separator it uses."""
    if len(header) != 1:
        return
    for mark, name in ((";", "semicolon"), ("\t", "tab")):
        if mark in header[0]:
            raise DataError(f"this looks {name}-separated (the header is one field: "
                            f"{brief(header[0])}); save the file with commas between fields "
                            "(CSV, comma-delimited) and a point as the decimal mark", file=label,
                            row=1)


def _check_numbers(column: str, cells: pd.Series, values: pd.Series, not_number: pd.Series,
                   label: str, row_of: Callable[[int], int]) -> None:
    """Refuse text, non-finite, negative or subnormal values in a numeric column."""
    def fail(i: int, why: str) -> None:
        raise DataError(why, file=label, row=row_of(i), column=column)

    def shown(i: int) -> str:
        cell = str(cells[i])
        return cell if len(cell) <= 40 else cell[:37] + "..."

    if not_number.any():
        i = not_number.idxmax()
        fail(i, f"{brief(cells[i])} is not a number, in a column of numbers; write a number, "
                "leave the cell empty (not available), or name the column *_code if it holds "
                "labels")
    finite = np.isfinite(values.fillna(0.0))
    if column == "population":
        bad = values.isna() | ~finite | (values < MIN_POPULATION) | (values > MAX_POPULATION)
        if bad.any():
            i = bad.idxmax()
            got = "the cell is empty" if pd.isna(values[i]) else f"got {shown(i)}"
            fail(i, f"population must be a positive number of persons, from "
                    f"{MIN_POPULATION:,.0f} to {MAX_POPULATION:,.0f} ({got})")
        return
    for bad, why in (
        (~finite, "is not finite"),
        (values < 0, "is negative; indicators must be non-negative"),
        ((values > 0) & (values < np.finfo(float).tiny),
         "is too small to compute with (subnormal); write 0 or rescale the column"),
    ):
        if bad.any():
            i = bad.idxmax()
            fail(i, f"value {shown(i)} {why}")
    with np.errstate(over="ignore"):
        total = values.sum()
    if not np.isfinite(total):
        raise DataError("values are too large to add up; rescale the column (e.g. to "
                        "thousands)", file=label, column=column)


def _file_error(path: Path) -> Callable[[str], DataError]:
    return lambda message: DataError(message.removeprefix(f"{path}: "), file=str(path))


def plan_file(directory: str | Path, name: str) -> Path:
    """``directory / name``, refused when it is a symbolic link that leads out of the
    plan folder: a plan folder's files are its own, so a link to ``/dev/zero`` or to
    another person's file is never followed (a ``DataError`` naming the file)."""
    folder = Path(directory)
    path = folder / name
    if path.is_symlink():
        try:
            target = path.resolve(strict=False)
            inside = target.parent == folder.resolve()
        except (OSError, RuntimeError):  # a loop of links
            target, inside = path, False
        if not inside:
            raise DataError(f"is a symbolic link to {target}, outside the plan folder; a plan "
                            "folder's files must be its own", file=str(path))
    return path


def read_plan_bytes(path: str | Path) -> bytes:
    """A plan file's bytes, bounded like a regions file (a special file refused by name)."""
    path = Path(path)
    return read_bytes(path, _file_error(path), what="plan file", limit=MAX_CSV_BYTES)


def read_table_file(path: str | Path, text: tuple[str, ...] = ()) -> pd.DataFrame:
    """A plan's CSV table (``region_id`` kept as text), read with the regions file's bounds.

    ``text`` columns are kept exactly as written ("007" and "NA" stay text).
    Bytes that are not UTF-8 text, or a binary file, are refused naming the byte offset.
    """
    path = Path(path)
    content = read_text(path, _file_error(path), what="plan file", limit=MAX_CSV_BYTES)
    try:
        table = pd.read_csv(io.StringIO(content), dtype={"region_id": str})
        if text:  # read again as written: no "NA" read as missing, no "007" as 7
            written = pd.read_csv(io.StringIO(content), usecols=lambda c: c in text, dtype=str,
                                  keep_default_na=False)
            for column in written.columns:
                table[column] = written[column]
        return table
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise DataError(f"not a readable CSV table ({str(err).strip()[:200]})",
                        file=str(path)) from None


def read_json_file(path: str | Path) -> Any:
    """A plan's JSON file, read as UTF-8 text of bounded size."""
    path = Path(path)
    text = read_text(path, _file_error(path), what="plan file", limit=MAX_CSV_BYTES)
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise DataError(f"not readable JSON ({str(err)[:200]})", file=str(path)) from None


def load_geometry(path: Path, region_ids: list[str]) -> Any:  # geopandas.GeoDataFrame
    """Read a GeoJSON keyed by region_id; every region needs exactly one polygon.

    Invalid polygons (self-intersecting rings, bow ties) are *repaired*, not refused:
    ``valid_polygons`` applies shapely's ``make_valid`` and keeps the polygonal parts.
    The ids of repaired regions are in ``gdf.attrs["repaired"]`` and logged as a
    warning; a shape with no area left after repair is refused.
    """
    import geopandas as gpd

    regular_file(path, lambda m: DataError(m.removeprefix(f"{path}: "), file=str(path)),
                 what="GeoJSON file", limit=MAX_GEOJSON_BYTES)
    try:
        gdf = gpd.read_file(path)
    except Exception as err:  # pyogrio raises several types for unreadable files
        raise DataError(f"not a readable GeoJSON ({str(err)[:200]})", file=str(path)) from None
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
        raise DataError(f"region_id {brief(dup.iloc[0])} has more than one feature",
                        file=str(path), column="region_id")
    absent = sorted(set(region_ids) - set(gdf["region_id"]))
    if absent:
        raise DataError(f"{len(absent)} region(s) have no geometry, e.g. {brief(absent[:5])}",
                        file=str(path), column="region_id")
    gdf = gdf[gdf["region_id"].isin(region_ids)][["region_id", "geometry"]].reset_index(drop=True)
    empty = gdf.loc[gdf.geometry.isna() | gdf.geometry.is_empty, "region_id"]
    if len(empty):
        raise DataError(f"region {brief(empty.iloc[0])} has an empty geometry", file=str(path))
    return valid_polygons(gdf, str(path))


def valid_polygons(gdf: Any, label: str) -> Any:  # GeoDataFrame -> GeoDataFrame
    """``gdf`` with every geometry a valid Polygon or MultiPolygon.

    Invalid ones are repaired with ``shapely.make_valid`` keeping only their polygon
    parts (a bow tie becomes two triangles); ``attrs["repaired"]`` lists their region
    ids. Points or lines, or a shape with no area after repair, are refused.
    """
    import shapely

    polygonal = ("Polygon", "MultiPolygon")
    kinds = gdf.geom_type
    other = gdf.loc[~kinds.isin(polygonal) & gdf.is_valid, "region_id"]
    if len(other):
        i = other.index[0]
        raise DataError(f"region {brief(other.iloc[0])} has a {kinds[i]} geometry; regions "
                        "need a Polygon or MultiPolygon", file=label)
    invalid = ~gdf.is_valid
    gdf = gdf.copy()
    if invalid.any():
        fixed = []
        for rid, geom in zip(gdf.loc[invalid, "region_id"], gdf.geometry[invalid], strict=True):
            parts = [g for g in shapely.get_parts(shapely.make_valid(geom))
                     if g.geom_type in polygonal and not g.is_empty]
            shape = shapely.union_all(parts) if parts else None
            if shape is None or shape.is_empty or shape.geom_type not in polygonal:
                raise DataError(f"region {brief(rid)}'s geometry is invalid and has no area "
                                "left after repair; fix the shape", file=label)
            fixed.append(shape)
        gdf.loc[invalid, "geometry"] = fixed
        repaired = gdf.loc[invalid, "region_id"].tolist()
        log.info("%s: repaired the invalid (e.g. self-intersecting) geometry of %d "
                    "region(s): %s", label, len(repaired), ", ".join(repaired[:10]))
        gdf.attrs["repaired"] = repaired
    else:
        gdf.attrs["repaired"] = []
    return gdf
