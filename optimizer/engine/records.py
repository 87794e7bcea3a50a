"""A plan folder's files as typed records, read as the tool writes them.

metrics.json (and an analysis's consensus.json or robust.json) is written from these
records' shape and read back through them, so a file whose keys hold the wrong kind of
value is named (file, key, why) instead of raising deep inside a reader; the CSV tables
are read with their text columns as text ("007" and "NA" stay names) and their numeric
columns as numbers, a cell that is not one named by row and column. Both the result
(``from_dir``) and the independent checker (``check_dir``) read a folder through here.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from optimizer.engine.data import read_plan_bytes, read_table_file
from optimizer.engine.errors import DataError, PlaceFundError, brief
from optimizer.engine.safe_yaml import decode_text

T = TypeVar("T")
READ_ATTEMPTS = 20


def _identity(folder: Path) -> tuple[int, int, int] | None:
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_ctime_ns


def read_whole(folder: str | Path, read: Callable[[], T]) -> T:
    """``read()`` of the files of ``folder``, all from one and the same folder.

    A plan folder is replaced whole by swapping a new folder into its place
    (``engine.result.replace_folder``); a reader that straddled a swap would read some
    files of each, so the read is repeated until the folder at ``folder`` was the same
    one before and after it (what it read is then one plan, never a mix).
    """
    folder = Path(folder)
    for attempt in range(READ_ATTEMPTS):
        before = _identity(folder)
        try:
            value = read()
        except (PlaceFundError, OSError):
            after = _identity(folder)
            if after == before and after is not None:
                raise
            # the folder went away (moved aside for a moment, where a system cannot swap
            # two folders at once) or was replaced meanwhile: read the new one
            time.sleep(0.002 * (attempt + 1))
            continue
        if before is not None and _identity(folder) == before:
            return value
    return read()


class FileRecord(BaseModel):
    """A JSON file of a plan folder: exact types (no text read as a number), no
    unknown keys unless the record says so."""

    model_config = ConfigDict(strict=True, extra="forbid")


class MetricsPair(FileRecord):
    """Concentration metrics before and after the plan (see ``metrics.py``)."""

    before: dict[str, float]
    after: dict[str, float]


class MarginalRow(FileRecord):
    """One binding constraint and its marginal value (``MARGINAL_COLUMNS``)."""

    constraint: str
    target: str
    marginal_value: float
    unit: str
    binding: bool
    explanation: str


class ProvenanceRecord(FileRecord):
    """Where a plan came from (other keys may follow)."""

    model_config = ConfigDict(strict=True, extra="allow")
    scenario_sha256: str = ""
    data_source: str = ""
    data_sha256: str = ""
    versions: dict[str, str] = Field(default_factory=dict)
    created_utc: str = ""


class SolverRecord(FileRecord):
    """How the solve went: ``engine.result.SolverInfo``'s fields (a solve's own keys,
    such as a consensus plan's number of solves, may follow)."""

    model_config = ConfigDict(strict=True, extra="allow")
    status: Literal["optimal", "time_limit", "infeasible", "error"] = "optimal"
    termination: str = ""
    solver: str = ""
    solver_version: str = ""
    rebuilt: bool = True
    build_time_s: float = 0.0
    solve_time_s: float = 0.0
    highs_time_s: float = 0.0
    objective_lp: float = 0.0
    simplex_iterations: int = 0
    mip: bool = False
    mip_gap: float = 0.0
    proven_optimal: bool = True
    duals: str = "lp"
    start: str = ""
    translate_time_s: float = 0.0
    start_time_s: float = 0.0
    check_time_s: float | None = None


class OutcomeTotal(FileRecord):
    """One raised indicator's national totals (its own unit), as metrics.json holds them."""

    label: str
    unit: str
    before: float
    gain: float
    after: float


class MetricsFile(FileRecord):
    """metrics.json: what ``AllocationResult.to_metrics_dict`` writes."""

    status: Literal["optimal", "time_limit", "infeasible", "error"]
    objective: float
    objective_measure: Literal["gini", "hoover"]
    spent_usd: float
    budget_usd: float
    metrics: MetricsPair
    approximation: dict[str, bool | int | float] = Field(default_factory=dict)
    filled_missing_values: dict[str, int] = Field(default_factory=dict)
    outcomes: dict[str, OutcomeTotal] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    marginal_values: list[MarginalRow] = Field(default_factory=list)
    solver: SolverRecord = Field(default_factory=SolverRecord)
    provenance: ProvenanceRecord = Field(default_factory=ProvenanceRecord)


def record_error(err: ValidationError, source: str) -> DataError:
    """A record's validation errors as one ``DataError`` naming the file and each key."""
    parts = []
    for e in err.errors()[:3]:
        key = ".".join(str(p) for p in e["loc"]) or "(the whole file)"
        parts.append(f"key '{key}': {e['msg'][0].lower()}{e['msg'][1:]}"
                     + (f" (got {brief(e['input'])})" if e["type"] != "missing" else ""))
    more = len(err.errors()) - len(parts)
    return DataError("; ".join(parts) + (f"; and {more} more" if more > 0 else ""), file=source)


def read_record(path: str | Path, model: type[BaseModel]) -> dict[str, Any]:
    """A plan folder's JSON file, validated by ``model`` (``DataError`` naming the file and
    the key that is wrong); the values as written, in the file's key order."""
    path = Path(path)
    raw = read_plan_bytes(path)
    text = decode_text(raw, str(path), lambda m: DataError(m.removeprefix(f"{path}: "),
                                                            file=str(path)), "plan file")
    try:
        model.model_validate_json(text)  # bounded: a JSON nested too deep is refused here
    except ValidationError as err:
        if not any(e["type"] == "json_invalid" for e in err.errors()):
            raise record_error(err, str(path)) from None
        try:
            json.loads(text)
        except (json.JSONDecodeError, RecursionError) as bad:
            raise DataError(f"not readable JSON ({str(bad)[:200]})", file=str(path)) from None
        raise record_error(err, str(path)) from None
    record: dict[str, Any] = json.loads(text)
    return record


def checked_record(record: dict[str, Any], model: type[BaseModel], source: str) -> str:
    """``record`` as the JSON text of a plan folder's file, once ``model`` accepts it (what
    is written is what is read back)."""
    text = json.dumps(record, indent=2, default=json_default) + "\n"
    try:
        model.model_validate_json(text)
    except ValidationError as err:
        raise record_error(err, source) from None
    return text


# numeric columns of a plan's tables: a text cell there is named, never read as NaN
ALLOCATION_NUMBERS = ("amount_usd",)
REGION_NUMBERS = ("population", "baseline_capacity", "capacity_gain", "final_capacity",
                  "capacity_per_capita_before", "capacity_per_capita_after",
                  "capacity_share_before", "capacity_share_after", "funding_usd",
                  "funding_per_capita_usd", "marginal_points_per_busd")


def plan_table(path: str | Path, required: tuple[str, ...],
               numbers: tuple[str, ...] | Callable[[pd.Index], tuple[str, ...]] = (),
               text: tuple[str, ...] = ("region_id",)) -> pd.DataFrame:
    """A plan folder's CSV table with its ``required`` columns; ``text`` columns read as
    written ("007" and "NA" stay text) and ``numbers`` (those present) as numbers, a
    cell that is not one named by row and column (``DataError``)."""
    path = Path(path)
    table = read_table_file(path, text=text)
    for column in required:
        if column not in table.columns:
            raise DataError("column missing", file=str(path), column=column)
    for column in numbers(table.columns) if callable(numbers) else numbers:
        if column not in table.columns or pd.api.types.is_numeric_dtype(table[column]):
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() & table[column].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{brief(table[column].iloc[i])} is not a number", file=str(path),
                            row=i + 2, column=column)
        table[column] = values.astype(float)
    return table


def region_columns(instruments: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The columns a plan's regions.csv always has (group columns may follow)."""
    return ("region_id", "name", *REGION_NUMBERS,
            *(f"funding_{name}_usd" for name in instruments), "excluded", "hub")


def region_numbers(columns: pd.Index) -> tuple[str, ...]:
    """The numeric columns of a regions.csv with these columns (per-instrument funding too)."""
    return (*REGION_NUMBERS, *(c for c in columns
                               if str(c).startswith("funding_") and str(c).endswith("_usd")))


def json_default(obj: Any) -> Any:
    """numpy scalars and arrays as plain JSON values (``json.dumps(default=...)``)."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot serialize {type(obj).__name__}")
