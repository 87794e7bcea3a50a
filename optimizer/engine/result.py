"""The result of a solve: DataFrames and dictionaries, with ``to_*`` exports.

Everything here is recomputed from the allocation with the exact response formula
(not the LP's tangent approximation), so it is what ``optimizer.engine.check`` verifies.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine import columns
from optimizer.engine.data import (
    REGION_SETS,
    plan_file,
    read_plan_bytes,
)
from optimizer.engine.errors import DataError, brief
from optimizer.engine.growth import (
    TRAJECTORY_COLUMNS,
    TRAJECTORY_FILE,
    YEARLY_FILE,
    YEARLY_METRIC_COLUMNS,
)
from optimizer.engine.inputs import BUSD, ModelInputs, instrument_share
from optimizer.engine.metrics import (
    OUTCOME_COLUMNS,
    concentration,
    outcome_rows,
    outcome_totals,
    top_k_count,
)
from optimizer.engine.records import (
    ALLOCATION_NUMBERS,
    MetricsFile,
    checked_record,
    plan_table,
    read_record,
    read_whole,
    region_numbers,
)
from optimizer.engine.response import (
    gain_points,
    indicator_gains,
    marginal_points_per_busd,
    per_capita,
)
from optimizer.engine.scenario import Scenario, load_scenario, usd

PLAN_FILES = ("allocation.csv", "regions.csv", "metrics.json", "scenario.yaml", "input_regions.csv")
OUTCOMES_FILE = "outcomes.csv"  # written by plans made since outcomes exist
PLAN_GEOMETRY = "geometry.geojson"  # beside them when the regions are a CSV of the user's own
BINDING_TOL = 1e-7
MARGINAL_COLUMNS = ["constraint", "target", "marginal_value", "unit", "binding", "explanation"]


class Status(StrEnum):
    """Outcome of a solve, as reported in metrics.json (from the solver's termination)."""

    OPTIMAL = "optimal"  # proven optimal (a MIP: within its relative gap)
    TIME_LIMIT = "time_limit"  # stopped at the time limit with a plan: see mip_gap
    INFEASIBLE = "infeasible"
    ERROR = "error"


@dataclass(frozen=True)
class SolverInfo:
    """How the solve went. Times in seconds; ``highs_time_s`` is HiGHS's own time.

    ``extra`` keeps what other solves record beside these (a consensus plan: its
    number of solves, which plan it is); ``layout`` is the key order of a record read
    back with ``from_dict``, so a plan read and written again is unchanged.
    """

    status: Status = Status.OPTIMAL
    termination: str = ""
    solver: str = "HiGHS (highspy)"
    solver_version: str = ""
    rebuilt: bool = True
    build_time_s: float = 0.0  # declaring and compiling the model (its numbers, on a re-solve)
    solve_time_s: float = 0.0
    highs_time_s: float = 0.0
    objective_lp: float = 0.0
    simplex_iterations: int = 0
    mip: bool = False
    mip_gap: float = 0.0
    proven_optimal: bool = True
    duals: str = "lp"
    start: str = ""  # where HiGHS started: a basis (which), an estimate, or its own
    translate_time_s: float = 0.0  # loading the model into HiGHS (first solve)
    start_time_s: float = 0.0  # loading a basis, or estimate + crossover (first solve)
    check_time_s: float | None = None  # the independent check (set once it ran)
    extra: Mapping[str, Any] = field(default_factory=dict)
    layout: tuple[str, ...] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The record in metrics.json."""
        values = {f.name: getattr(self, f.name) for f in fields(self)
                  if f.name not in ("extra", "layout")}
        values["status"] = self.status.value
        values.update(self.extra)
        if self.layout is not None:
            out = {k: values[k] for k in self.layout if k in values}
        else:
            out = {k: values[k] for k in _SOLVER_KEYS}
        if self.check_time_s is not None:
            out["check_time_s"] = self.check_time_s
        out.update({k: v for k, v in self.extra.items() if k not in out})
        return out

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> SolverInfo:
        """A record as ``to_dict`` writes it (or another solve's, with fields of its
        own); ``ValueError`` for a status that is not a ``Status``."""
        known = {f.name for f in fields(cls)} - {"extra", "layout"}
        given = {k: v for k, v in record.items() if k in known}
        if "status" in given:
            given["status"] = Status(given["status"])
        return cls(**given, extra={k: v for k, v in record.items() if k not in known},
                   layout=tuple(record))

    def checked(self, seconds: float) -> SolverInfo:
        """This record with the independent check's time."""
        return replace(self, check_time_s=seconds)


# metrics.json's order of a Planner's record (check_time_s follows once the check ran)
_SOLVER_KEYS = ("status", "termination", "solver", "solver_version", "rebuilt", "build_time_s",
                "translate_time_s", "start_time_s", "solve_time_s", "highs_time_s",
                "objective_lp", "simplex_iterations", "mip", "mip_gap", "proven_optimal",
                "duals", "start")


@dataclass(frozen=True)
class Duals:
    """Raw LP duals: objective points per $B (per unit share for ``top_k_share``, per
    unit of per-capita capacity for ``per_capita_floor``)."""

    budget: float
    region: np.ndarray
    instrument: np.ndarray
    group: np.ndarray
    top_k_share: float
    per_capita_floor: float = 0.0
    year: np.ndarray = field(default_factory=lambda: np.zeros(0))  # a plan over time's years


DualsSource = Duals | Callable[[], Duals]  # the duals, or how to read them when needed


@dataclass(frozen=True, eq=False)
class AllocationResult:
    """One plan: who gets how much, what it does, and how it was found.

    - ``allocation``: region_id, name, instrument, amount_usd (one row per pair)
    - ``regions``: per-region summary (capacity points before/after, per capita, funding)
    - ``metrics_before`` / ``metrics_after``: concentration metrics (see ``metrics.py``)
    - ``marginal_values``: binding constraints and what relaxing each is worth
    - ``solver`` / ``provenance`` / ``approximation``: how the plan was made

    ``allocation``, ``regions`` and ``marginal_values`` are built on first read
    (``allocation_table``, ``regions_table`` and ``marginal_table`` may be given as
    functions making them): a caller that reads only the metrics and the funding, as a
    sensitivity run does, never pays for them. ``funding_matrix_usd`` holds the
    allocation's amounts as an (n, m) array of USD in model order and
    ``final_capacity_array`` each region's final capacity (points), when the plan was
    solved here (a plan read back has them in its tables).
    """

    scenario: Scenario
    allocation_table: pd.DataFrame | Callable[[], pd.DataFrame] = field(repr=False)
    regions_table: pd.DataFrame | Callable[[], pd.DataFrame] = field(repr=False)
    metrics_before: dict[str, float]
    metrics_after: dict[str, float]
    marginal_table: pd.DataFrame | Callable[[], pd.DataFrame] = field(repr=False)
    solver: SolverInfo
    approximation: dict[str, float]
    provenance_record: dict[str, Any] | Callable[[], dict[str, Any]] = field(repr=False)
    filled_values: dict[str, int]
    input_regions_csv: bytes = field(repr=False)
    notes: list[str] = field(default_factory=list)
    # polygons of regions that are not a shipped set; to_dir keeps a copy beside the plan
    geometry_path: Path | None = None
    funding_matrix_usd: np.ndarray | None = field(default=None, repr=False)
    final_capacity_array: np.ndarray | None = field(default=None, repr=False)
    outcomes_table: pd.DataFrame | Callable[[], pd.DataFrame] | None = field(default=None,
                                                                            repr=False)
    outcome_totals: dict[str, dict[str, float]] = field(default_factory=dict)
    # a plan over time: region, year (0..T), measure, unit, without_plan, gain, with_plan
    trajectory_table: pd.DataFrame | Callable[[], pd.DataFrame] | None = field(default=None,
                                                                              repr=False)
    # and its concentration by year: year, metric, without_plan, with_plan
    yearly_table: pd.DataFrame | Callable[[], pd.DataFrame] | None = field(default=None,
                                                                          repr=False)

    @property
    def trajectory(self) -> pd.DataFrame | None:
        """A plan over time: every region's path year by year, with and without the plan
        (``growth.trajectory_table``, built on first read); None for a single period."""
        return None if self.trajectory_table is None else self._built("trajectory_table")

    @property
    def yearly(self) -> pd.DataFrame | None:
        """A plan over time: every concentration metric by year (0..T), without and with
        the plan (``growth.yearly_metrics``); None for a single period."""
        return None if self.yearly_table is None else self._built("yearly_table")

    @property
    def outcomes(self) -> pd.DataFrame:
        """What the plan raises, per region and raised indicator, in the indicator's own
        unit: region_id, indicator, unit, before, gain, after (built on first read;
        empty for a plan folder written before outcomes existed)."""
        if self.outcomes_table is None:
            return pd.DataFrame(columns=list(OUTCOME_COLUMNS))
        return self._built("outcomes_table")

    @property
    def allocation(self) -> pd.DataFrame:
        """One row per region and instrument (see the class docstring), built on first read."""
        return self._built("allocation_table")

    @property
    def provenance(self) -> dict[str, Any]:
        """Where the plan came from: scenario and data hashes, versions, creation time."""
        return self._built("provenance_record")

    @property
    def regions(self) -> pd.DataFrame:
        """Per-region summary (see the class docstring), built on first read."""
        return self._built("regions_table")

    @property
    def marginal_values(self) -> pd.DataFrame:
        """Binding constraints and their marginal values, built on first read."""
        return self._built("marginal_table")

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (to another process) with its tables built: functions do not travel."""
        state = dict(self.__dict__)
        state["allocation_table"], state["provenance_record"] = self.allocation, self.provenance
        state["regions_table"], state["marginal_table"] = self.regions, self.marginal_values
        if self.outcomes_table is not None:
            state["outcomes_table"] = self.outcomes
        if self.trajectory_table is not None:
            state["trajectory_table"] = self.trajectory
        if self.yearly_table is not None:
            state["yearly_table"] = self.yearly
        return state

    def _built(self, name: str) -> Any:
        """Field ``name``, made by calling it the first time when it is a function."""
        value = getattr(self, name)
        if callable(value):
            value = value()
            object.__setattr__(self, name, value)  # frozen: keep what was built
        return value

    @property
    def objective(self) -> float:
        """S_lambda of the plan, exact formula, capacity points (scenario's spread measure)."""
        return self.metrics_after[self.scenario.objective_key]

    @property
    def spent_usd(self) -> float:
        return float(self.funding_usd().sum())

    def funding_usd(self) -> np.ndarray:
        """(n, m) funding in USD, regions x instruments in model order (the allocation's
        rows come in that order)."""
        if self.funding_matrix_usd is not None:
            return self.funding_matrix_usd
        m = len(self.scenario.instruments) * self.scenario.periods.years
        return self.allocation["amount_usd"].to_numpy(float).reshape(-1, m)

    def funding_busd(self) -> np.ndarray:
        """(n, m) funding in $B, as ``funding_usd``."""
        return self.funding_usd() / BUSD

    def final_capacity_points(self) -> np.ndarray:
        """(n,) each region's final capacity (points, exact response), model order."""
        if self.final_capacity_array is not None:
            return self.final_capacity_array
        return self.regions["final_capacity"].to_numpy(float)

    def metrics_table(self) -> pd.DataFrame:
        """Metrics before and after side by side."""
        return pd.DataFrame({"before": self.metrics_before, "after": self.metrics_after})

    def to_metrics_dict(self) -> dict[str, Any]:
        return {
            "status": self.solver.status.value,
            "objective": self.objective,
            "objective_measure": self.scenario.spread_measure,
            "spent_usd": self.spent_usd,
            "budget_usd": self.scenario.budget,
            "metrics": {"before": self.metrics_before, "after": self.metrics_after},
            "approximation": self.approximation,
            "filled_missing_values": self.filled_values,
            "outcomes": {k: {"label": columns.label(k), "unit": columns.unit(k), **v}
                         for k, v in self.outcome_totals.items()},
            "notes": self.notes,
            "marginal_values": json.loads(self.marginal_values.to_json(orient="records")),
            "solver": self.solver.to_dict(),
            "provenance": self.provenance,
        }

    def to_dir(self, out: str | Path, extras: Mapping[str, str] | None = None) -> Path:
        """Write the plan's folder ``out`` whole: a reader sees the previous folder or this
        one, never a mix, and nothing of the previous folder is left behind.

        Files: allocation.csv, regions.csv, metrics.json, scenario.yaml (resolved),
        input_regions.csv (the regions table used), so ``placefund check`` can re-verify,
        and outcomes.csv (what the plan buys, in natural units);
        geometry.geojson, a copy of the polygons of a CSV of the user's own, so
        ``placefund export`` can map the plan later without being told where they are;
        and ``extras`` (name -> text), an analysis's own files. They are written into a
        staging folder beside ``out`` that is swapped in with one rename
        (``replace_folder``).
        """
        def write(staging: Path) -> None:
            self.allocation.to_csv(staging / "allocation.csv", index=False)
            self.regions.to_csv(staging / "regions.csv", index=False)
            (staging / "metrics.json").write_text(
                checked_record(self.to_metrics_dict(), MetricsFile, "metrics.json"))
            (staging / "scenario.yaml").write_text(self.scenario.to_yaml())
            (staging / "input_regions.csv").write_bytes(self.input_regions_csv)
            if self.geometry_path is not None and self.geometry_path.is_file():
                shutil.copyfile(self.geometry_path, staging / PLAN_GEOMETRY)
            if self.outcome_totals:
                self.outcomes.to_csv(staging / OUTCOMES_FILE, index=False)
            if self.trajectory is not None:
                self.trajectory.to_csv(staging / TRAJECTORY_FILE, index=False)
            if self.yearly is not None:
                self.yearly.to_csv(staging / YEARLY_FILE, index=False)
            for name, text in (extras or {}).items():
                (staging / name).write_text(text)

        return replace_folder(out, write)

    @classmethod
    def from_dir(cls, directory: str | Path) -> AllocationResult:
        """Read a plan directory written by ``to_dir`` back (``DataError`` naming the
        file and what is missing when it is not one)."""
        return read_whole(directory, lambda: cls._from_dir(Path(directory)))

    @classmethod
    def _from_dir(cls, d: Path) -> AllocationResult:
        """``from_dir`` on the files of ``d`` as they are now."""
        missing = [name for name in PLAN_FILES if not plan_file(d, name).exists()]
        if missing:
            raise DataError(f"not a plan directory: missing {missing}", file=str(d))
        metrics = read_record(d / "metrics.json", MetricsFile)  # bounded, typed
        before, after = metrics["metrics"]["before"], metrics["metrics"]["after"]
        try:
            solver = SolverInfo.from_dict(metrics.get("solver", {}))
        except (TypeError, ValueError) as err:
            raise DataError(f"unreadable solver record ({brief(str(err))})",
                            file=str(d / "metrics.json")) from None
        allocation = plan_table(d / "allocation.csv", ("region_id", "instrument", "amount_usd"),
                                ALLOCATION_NUMBERS, ("region_id", "name", "instrument"))
        regions = plan_table(d / "regions.csv", ("region_id", "name", "funding_usd",
                                                 "final_capacity"),
                             region_numbers, ("region_id", "name"))
        marginal = pd.DataFrame(metrics.get("marginal_values") or [], columns=MARGINAL_COLUMNS)
        return cls(
            scenario=load_scenario(d / "scenario.yaml"),
            allocation_table=allocation,
            regions_table=regions,
            metrics_before=before,
            metrics_after=after,
            marginal_table=marginal,
            solver=solver,
            approximation=metrics.get("approximation", {}),
            provenance_record=metrics.get("provenance", {}),
            filled_values=metrics.get("filled_missing_values", {}),
            input_regions_csv=read_plan_bytes(d / "input_regions.csv"),
            geometry_path=d / PLAN_GEOMETRY if plan_file(d, PLAN_GEOMETRY).is_file() else None,
            outcomes_table=(plan_table(plan_file(d, OUTCOMES_FILE), OUTCOME_COLUMNS,
                                       ("before", "gain", "after"),
                                       ("region_id", "indicator", "unit"))
                            if plan_file(d, OUTCOMES_FILE).is_file() else None),
            outcome_totals={k: {f: v[f] for f in ("before", "gain", "after")}
                            for k, v in (metrics.get("outcomes") or {}).items()},
            trajectory_table=(plan_table(plan_file(d, TRAJECTORY_FILE), TRAJECTORY_COLUMNS,
                                         ("year", "without_plan", "gain", "with_plan"),
                                         ("region_id", "measure", "unit"))
                              if plan_file(d, TRAJECTORY_FILE).is_file() else None),
            yearly_table=(plan_table(plan_file(d, YEARLY_FILE), YEARLY_METRIC_COLUMNS,
                                     ("year", "without_plan", "with_plan"), ("metric",))
                          if plan_file(d, YEARLY_FILE).is_file() else None),
        )

    def __repr__(self) -> str:
        """What a notebook shows: budget, regions funded, objective before -> after, status."""
        sc = self.scenario
        funded = int((self.regions["funding_usd"] > 0).sum())
        before = self.metrics_before.get(sc.objective_key, float("nan"))
        status = self.solver.status.value
        if self.solver.mip and not self.solver.proven_optimal:
            status += f", MIP gap {self.solver.mip_gap:.2%}"
        return (f"<AllocationResult {self.provenance.get('data_source', 'regions')}: "
                f"{usd(self.spent_usd)} of {usd(sc.budget)} to {funded} of {len(self.regions)} "
                f"regions; S_lambda (lambda={sc.spread_weight:g}, {sc.spread_measure}) "
                f"{before:.2f} -> {self.objective:.2f} points; {status}>")

    def summary(self, top: int = 10) -> str:
        """A short plain-text summary for the terminal."""
        b, a = self.metrics_before, self.metrics_after
        lines = [
            f"Plan: {usd(self.spent_usd)} of {usd(self.scenario.budget)} across "
            f"{int((self.regions['funding_usd'] > 0).sum())} of {len(self.regions)} regions",
            f"Spread-adjusted capacity S_lambda (lambda={self.scenario.spread_weight:g}, "
            f"{self.scenario.spread_measure}): {b[self.scenario.objective_key]:.2f} -> "
            f"{self.objective:.2f} points",
            f"Total capacity: {b['total_capacity']:.2f} -> {a['total_capacity']:.2f} points",
            f"Top-{top_k_count(len(self.regions))} share of capacity: {b['top10_share']:.1%} -> "
            f"{a['top10_share']:.1%}",
            f"Gini (per capita, population-weighted): {b['gini']:.3f} -> {a['gini']:.3f}",
            "",
            f"Top {top} funded regions:",
        ]
        top_rows = self.regions.nlargest(top, "funding_usd")
        width = max(len(str(n)) for n in top_rows["name"]) if len(top_rows) else 4
        for _, row in top_rows.iterrows():
            lines.append(
                f"  {row['name']:<{width}}  {usd(row['funding_usd']):>9}  "
                f"${row['funding_per_capita_usd']:>8,.0f}/person  "
                f"capacity {row['baseline_capacity']:6.2f} -> {row['final_capacity']:6.2f}"
            )
        return "\n".join(lines)


STAGING = ".{name}.staging-{pid}-"  # beside the folder being written, by process id
_RENAME_EXCHANGE = 2  # renameat2's flag (Linux 3.15+): swap two paths in one step
_AT_FDCWD = -100


def replace_folder(out: str | Path, write: Callable[[Path], None], *,
                   marks: tuple[str, ...] = ("metrics.json",), kind: str = "plan") -> Path:
    """Make the folder ``out`` hold exactly what ``write(staging)`` writes, in one step.

    An existing ``out`` is replaced only when it is empty or an earlier ``kind``'s
    folder (it holds one of the files ``marks``); anything else is refused before
    anything is written.

    ``write`` fills a new staging folder beside ``out``; the staging folder then takes
    ``out``'s place with one rename (where the system swaps two paths at once, as Linux
    does, the previous folder stays whole until that instant; elsewhere it is moved
    aside first), so a reader, or a second writer, sees the previous folder or the new
    one, never half of each. The previous folder is removed afterwards, and staging
    folders that a killed process left behind are removed on the next write.
    """
    out = Path(out)
    if out.is_symlink():
        out = out.resolve()  # the folder the link leads to is the one replaced
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} is an existing file, not a folder; name a folder for the "
                        f"{kind} files (nothing was written)")
    if out.is_dir() and any(out.iterdir()) and not any((out / m).exists() for m in marks):
        raise DataError(f"{out} is a folder of other files, not a {kind}; name a new or empty "
                        f"folder, or an earlier {kind}'s folder to replace it (nothing was "
                        "written)")
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(out)
    staging = Path(tempfile.mkdtemp(prefix=STAGING.format(name=out.name, pid=os.getpid()),
                                    dir=out.parent))
    try:
        mask = os.umask(0)
        os.umask(mask)
        staging.chmod(0o777 & ~mask)  # the permissions of a folder made by mkdir
        write(staging)
        _swap_in(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # the previous folder, or the unused new one
    return out


def _swap_in(staging: Path, out: Path) -> None:
    """Put ``staging`` at ``out``; afterwards ``staging`` holds the previous folder (if any)."""
    for _ in range(100):  # another writer may put a folder at ``out`` between two steps
        if not out.exists():
            try:
                os.rename(staging, out)  # refused if another writer's folder arrived meanwhile
                return
            except OSError:
                if not out.exists():
                    raise
        if _exchange(staging, out):
            return
        aside = Path(tempfile.mkdtemp(prefix=STAGING.format(name=out.name, pid=os.getpid()),
                                      dir=out.parent))
        try:
            os.rename(out, aside / "previous")
        except FileNotFoundError:
            aside.rmdir()
            continue
        try:
            os.rename(staging, out)
        except OSError:
            shutil.rmtree(aside, ignore_errors=True)
            continue
        os.rename(aside / "previous", staging)
        aside.rmdir()
        return
    raise DataError(f"{out} kept changing while the plan was written; try again")


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    """The C library's ``renameat2``, where there is one."""
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                         ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def _exchange(a: Path, b: Path) -> bool:
    """Swap the folders ``a`` and ``b`` in one step; False where the system cannot."""
    function = _renameat2()
    if function is None:
        return False
    done = function(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return done == 0


def _remove_stale_staging(out: Path) -> None:
    """Remove staging folders of ``out`` whose writing process has ended (killed)."""
    prefix = STAGING.format(name=out.name, pid="")[:-1]  # ".{name}.staging-"
    for entry in out.parent.glob(f"{glob.escape(prefix)}*"):
        pid = entry.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@functools.cache
def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("placefund", "pyomo", "highspy", "pandas", "numpy", "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _marginal_values(inputs: ModelInputs, x_busd: np.ndarray, duals: Duals,
                     conditional: bool = False) -> pd.DataFrame:
    """Binding constraints and their marginal values in plain units and words.

    With hubs the values come from the LP with the hub choice fixed: ``conditional``
    adds that caveat to every explanation.
    """
    rows: list[dict[str, Any]] = [{
        "constraint": "budget", "target": "all regions",
        "marginal_value": duals.budget, "unit": "points per $1B", "binding": True,
        "explanation": f"one more $1B of budget would add {duals.budget:.3f} points of "
                       "spread-adjusted capacity",
    }]
    if inputs.years > 1:  # each year's appropriation has a price of its own
        rows += [{"constraint": "year_budget", "target": f"year {t + 1}", "marginal_value": dual,
                  "unit": "points per $1B", "binding": True,
                  "explanation": f"one more $1B in year {t + 1} (the same less in no other year) "
                                 f"would add {duals.budget + dual:.3f} points"}
                 for t, dual in enumerate(duals.year.tolist())]
        x_busd = _instrument_totals(x_busd, inputs.years)
    rows += _region_bound_rows(inputs, x_busd, duals)
    rows += _instrument_share_rows(inputs, x_busd, duals)
    rows += _group_min_rows(inputs, duals)
    rows += _top_k_cap_rows(inputs, duals)
    rows += _per_capita_floor_rows(inputs, duals)
    table = pd.DataFrame(rows, columns=MARGINAL_COLUMNS)
    if conditional:
        table["explanation"] = table["explanation"] + " (given the chosen hubs)"
    return table


def _region_bound_rows(inputs: ModelInputs, x_busd: np.ndarray,
                       duals: Duals) -> list[dict[str, Any]]:
    """Regions at a cap (below the budget) or a floor, with a non-zero dual."""
    rows = []
    names = inputs.regions.names
    funded = x_busd.sum(axis=1)
    for r, dual in enumerate(duals.region):
        at_cap = funded[r] >= inputs.cap_busd[r] - BINDING_TOL and inputs.cap_busd[r] < inputs.budget_busd
        at_floor = inputs.floor_busd[r] > 0 and funded[r] <= inputs.floor_busd[r] + BINDING_TOL
        if abs(dual) <= 1e-9 or not (at_cap or at_floor):
            continue
        kind = "cap" if at_cap else "floor"
        bound = inputs.cap_busd[r] if at_cap else inputs.floor_busd[r]
        text = (f"raising the cap on {names[r]} ({usd(bound * BUSD)}) by $1B would add "
                f"{dual:.3f} points" if at_cap else
                f"the floor on {names[r]} ({usd(bound * BUSD)}) costs {-dual:.3f} points per $1B")
        rows.append({"constraint": f"region_{kind}", "target": inputs.region_ids[r],
                     "marginal_value": dual, "unit": "points per $1B", "binding": True,
                     "explanation": text})
    return rows


def _instrument_share_rows(inputs: ModelInputs, x_busd: np.ndarray,
                           duals: Duals) -> list[dict[str, Any]]:
    """Instruments at a minimum or maximum share the scenario sets. A row at a bound no
    rule set (a share of 0 when the instrument gets nothing, or of 1 when it gets the
    whole budget) may carry a dual in a degenerate basis, but it only repeats what
    non-negativity or the budget row already price: it is not reported as a rule."""
    rows = []
    spent_by_instrument = x_busd.sum(axis=0)  # over time: each instrument's total
    names = tuple(inputs.instruments[:len(duals.instrument)])
    low, high = instrument_share(inputs.scenario, names)
    for i, dual in enumerate(duals.instrument):
        if abs(dual) <= 1e-9:
            continue
        if low[i] > 0 and abs(spent_by_instrument[i] - low[i] * inputs.budget_busd) <= 1e-6:
            kind = "min"
        elif high[i] < 1 and abs(spent_by_instrument[i] - high[i] * inputs.budget_busd) <= 1e-6:
            kind = "max"
        else:
            continue
        rows.append({"constraint": f"instrument_{kind}_share", "target": inputs.instruments[i],
                     "marginal_value": dual, "unit": "points per $1B", "binding": True,
                     "explanation": f"moving the {kind} spend on {inputs.instruments[i]} by $1B "
                                    f"changes the objective by {dual:+.3f} points"})
    return rows


def _group_min_rows(inputs: ModelInputs, duals: Duals) -> list[dict[str, Any]]:
    """Group minimum shares that bind."""
    rows = []
    for g, dual in enumerate(duals.group):
        if abs(dual) <= 1e-9:
            continue
        rule = inputs.groups[g]
        rows.append({"constraint": "group_min_share", "target": f"{rule.column}={rule.value}",
                     "marginal_value": dual, "unit": "points per $1B", "binding": True,
                     "explanation": f"the minimum share for {rule.value} costs {-dual:.3f} "
                                    "points per $1B it forces there"})
    return rows


def _top_k_cap_rows(inputs: ModelInputs, duals: Duals) -> list[dict[str, Any]]:
    """The top-k share cap, per percentage point, when it binds."""
    if inputs.scenario.top_k_share_cap is None or abs(duals.top_k_share) <= 1e-9:
        return []
    per_pp = duals.top_k_share / 100.0
    k = inputs.scenario.top_k_share_cap.k
    return [{"constraint": "top_k_share_cap", "target": f"top {k}",
             "marginal_value": per_pp, "unit": "points per percentage point",
             "binding": True,
             "explanation": f"loosening the top-{k} share cap by one percentage point "
                            f"would add {per_pp:.3f} points"}]


def _per_capita_floor_rows(inputs: ModelInputs, duals: Duals) -> list[dict[str, Any]]:
    """The per-capita floor, per 0.01 of per-capita capacity, when it binds."""
    floor = inputs.scenario.per_capita_floor
    if floor is None or abs(duals.per_capita_floor) <= 1e-9:
        return []
    per_hundredth = duals.per_capita_floor / 100.0
    return [{"constraint": "per_capita_floor", "target": "every region",
             "marginal_value": per_hundredth,
             "unit": "points per 0.01 of per-capita capacity", "binding": True,
             "explanation": f"raising the per-capita floor from {floor:.2f} to "
                            f"{floor + 0.01:.2f} (1% of the national baseline "
                            f"average) would change the objective by "
                            f"{per_hundredth:+.3f} points"}]


def build_result(inputs: ModelInputs, x_busd: np.ndarray, duals: DualsSource | None,
                 solver: SolverInfo, approximation: dict[str, float],
                 hubs: np.ndarray | None = None) -> AllocationResult:
    """Assemble the result from an allocation ($B, shape n x m) and solver output.

    ``approximation`` says how far the LP's piecewise-linear response was from the
    exact one at this allocation (see ``solve.Planner``).
    """
    sc = inputs.scenario
    x_busd = np.where(x_busd < 1e-12, 0.0, x_busd)
    gain = gain_points(x_busd, inputs)
    final = inputs.c0 + gain.sum(axis=1)
    before = inputs.before_c0
    raised_gain = indicator_gains(x_busd, inputs) + _induced(inputs)
    top_base = np.argsort(-before, kind="stable")[: min(10, inputs.n)]
    funding = x_busd * BUSD
    funding.flags.writeable = final.flags.writeable = False
    return AllocationResult(
        scenario=sc,
        allocation_table=lambda: _allocation_table(inputs, funding),
        funding_matrix_usd=funding,
        final_capacity_array=final,
        regions_table=lambda: _regions_table(inputs, x_busd, gain, hubs),
        metrics_before=concentration(before, inputs.population, sc.spread_weight, top_base),
        metrics_after=concentration(final, inputs.population, sc.spread_weight, top_base),
        marginal_table=(lambda: _marginal_values(
            inputs, x_busd, duals() if callable(duals) else duals, conditional=hubs is not None))
        if duals is not None else pd.DataFrame(columns=MARGINAL_COLUMNS),
        notes=[*(inputs.hubs.notes if inputs.hubs is not None else ()), *unvalued_notes(inputs)],
        solver=solver,
        approximation=approximation,
        provenance_record=_provenance(inputs, datetime.now(UTC).isoformat(timespec="seconds")),
        filled_values=dict(inputs.filled_values),
        input_regions_csv=inputs.regions.csv_bytes,
        geometry_path=(None if inputs.regions.source in REGION_SETS
                       else inputs.regions.geometry_path),
        outcomes_table=lambda: outcome_rows(
            inputs.region_ids, list(inputs.raised), [columns.unit(k) for k in inputs.raised],
            raised_before(inputs), raised_gain),
        outcome_totals=outcome_totals(list(inputs.raised), inputs.national_totals, raised_gain),
    )


def unvalued_notes(inputs: ModelInputs) -> list[str]:
    """A sentence per instrument whose yields all carry weight 0: it buys nothing the
    plan values, so the plan funds it only where a rule makes it."""
    out = []
    for i, name in enumerate(inputs.instruments):
        if inputs.effectiveness[i] > 0:
            continue
        raised = [columns.label(k) for k, e in zip(inputs.raised, inputs.yields_per_busd[i],
                                                    strict=True) if e > 0]
        out.append(f"{columns.instrument_label(name)} raises only {', '.join(raised)}, with "
                   "no weight in this plan: it buys nothing the plan values (give one of them "
                   "a weight to value it).")
    return out


def _raised_values(inputs: ModelInputs, scale: np.ndarray | None) -> np.ndarray:
    """(n, K) the raised indicators as the model reads them (after the missing-value
    policy, times ``scale`` by region) where it uses them, else as published."""
    used = inputs.indicator_values
    factor = np.ones(inputs.n) if scale is None else scale
    return np.column_stack(
        [used[k].to_numpy(float) * factor if k in used.columns
         else inputs.regions.column_values(k) for k in inputs.raised]
    ) if inputs.raised else np.zeros((inputs.n, 0))


def raised_before(inputs: ModelInputs) -> np.ndarray:
    """(n, K) the raised indicators without funding: as the model reads them (after the
    missing-value policy) where it uses them, else as published (NaN where not); over
    time at a plan's own rates, on the path without the plan (``without_scale``)."""
    return _raised_values(inputs, inputs.without_scale)


def _induced(inputs: ModelInputs) -> np.ndarray:
    """(n, K) what the faster growth a plan induces adds to each raised indicator (over
    time at a plan's own rates; 0 otherwise, and where a value is not published)."""
    if inputs.without_scale is None:
        return np.zeros((inputs.n, len(inputs.raised)))
    return np.nan_to_num(_raised_values(inputs, None) - raised_before(inputs))


def _provenance(inputs: ModelInputs, created_utc: str) -> Callable[[], dict[str, Any]]:
    """The plan's provenance record, made when first read (hashing the scenario costs a
    re-solve as much as some of its tables)."""
    def record() -> dict[str, Any]:
        return {
            "scenario_sha256": inputs.scenario.fingerprint(),
            "data_source": inputs.regions.source,
            "data_sha256": inputs.regions.sha256,
            "versions": _versions(),
            "created_utc": created_utc,
        }
    return record


def _allocation_table(inputs: ModelInputs, funding_usd: np.ndarray) -> pd.DataFrame:
    """One row per (region, instrument): region_id, name, instrument, amount_usd; over
    time one per (region, year, instrument), with the year (1..T) after the name."""
    m = len(inputs.instruments)
    if inputs.years > 1:
        per_year = m // inputs.years
        return pd.DataFrame({
            "region_id": np.repeat(inputs.region_ids, m),
            "name": np.repeat(inputs.regions.names, m),
            "year": np.tile(np.repeat(np.arange(1, inputs.years + 1), per_year), inputs.n),
            "instrument": np.tile(inputs.instruments, inputs.n),
            "amount_usd": funding_usd.ravel().copy(),
        })
    return pd.DataFrame({
        "region_id": np.repeat(inputs.region_ids, m),
        "name": np.repeat(inputs.regions.names, m),
        "instrument": np.tile(inputs.instruments, inputs.n),
        "amount_usd": funding_usd.ravel().copy(),
    })


def _instrument_totals(x_busd: np.ndarray, years: int) -> np.ndarray:
    """(n, m) each instrument's funding over the years (a plan's columns, year-major)."""
    return x_busd.reshape(x_busd.shape[0], years, -1).sum(axis=1)


def _regions_table(inputs: ModelInputs, x_busd: np.ndarray, gain: np.ndarray,
                   hubs: np.ndarray | None) -> pd.DataFrame:
    """Per region: capacity before/after, per capita, shares, funding, the best marginal
    gain, exclusion, hub, and the group columns. Over time at a plan's own growth rates,
    the gain also holds the growth the plan induces (``ModelInputs.before_c0``)."""
    pop = inputs.population
    final = inputs.c0 + gain.sum(axis=1)
    before = inputs.before_c0
    bought = gain.sum(axis=1) if inputs.without_c0 is None else final - before
    funding = x_busd.sum(axis=1) * BUSD
    marginal = np.where(inputs.allowed, marginal_points_per_busd(x_busd, inputs), -np.inf)
    best_marginal = marginal.max(axis=1, initial=-np.inf)
    return pd.DataFrame({
        "region_id": inputs.region_ids,
        "name": inputs.regions.names,
        "population": pop,
        "baseline_capacity": before,
        "capacity_gain": bought,
        "final_capacity": final,
        "capacity_per_capita_before": per_capita(before, inputs),
        "capacity_per_capita_after": per_capita(final, inputs),
        "capacity_share_before": before / before.sum(),
        "capacity_share_after": final / final.sum(),
        "funding_usd": funding,
        "funding_per_capita_usd": funding / pop,
        **{f"funding_{name}_usd": total * BUSD for name, total in zip(
            inputs.instruments, _instrument_totals(x_busd, inputs.years).T, strict=False)},
        "marginal_points_per_busd": np.where(best_marginal == -np.inf, 0.0, best_marginal),
        "excluded": ~inputs.allowed.any(axis=1),
        "hub": hubs if hubs is not None else np.zeros(inputs.n, dtype=bool),
        **{column: inputs.regions.table[column] for column in inputs.regions.groups},
    })
