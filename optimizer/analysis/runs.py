"""Execute many re-solves: serially in-process or through Dask, resumable.

A run is a set of changes to a base scenario (dotted paths such as ``budget`` or
``weights.cs_doctorates``, or a whole ``weights`` mapping), optionally with an
epsilon cap on the Gini (see ``ranging``). Runs are put in a solve order that keeps
neighbouring runs close (``solve_order``: each re-solve starts from the basis of a
similar LP, so HiGHS needs fewer iterations) and cut into fixed chunks whose size
depends on the run count only (``auto_chunk_size``); each chunk is one task. Every
worker process keeps one ``Planner`` per region set and, once, solves the base
scenario from scratch and keeps that solved LP (``Planner.checkpoint``); every chunk
starts from it, loaded into a fresh HiGHS (``Planner.restore``), so a chunk's numbers
depend only on the chunk: the same spec gives identical results serially, on a local
cluster or on a remote one.

A chunk comes back as a compact summary (status, reason, headline numbers and a
funding and a capacity vector per run, in numpy arrays), never as plan objects;
``collect`` assembles the tables once, in run order. A local cluster's client solves
chunks itself while its workers start up (they are new processes that still import
the optimizer), and hands the rest to them once the first of them has finished one.

Unless told where to run (``Backend("serial")``, ``"local"`` or a scheduler address),
a job picks its executor itself (``Backend("auto")``): it solves its first chunk in
this process (those results count like any other) and, from the time a run took
there, the runs left, the cores free and a local cluster's start-up, keeps going
serially or starts a local cluster (``choose_executor``); ``Backend.choice`` says which
and why in one sentence. The chunks are the same either way, so are the numbers.

Finished chunks are written to ``OUT/partial/`` as they complete; a re-run of the
same spec skips them (resume). A run that fails (infeasible, time limit, invalid
changes) is recorded with its reason and does not stop the analysis. An infeasible
run costs one solve: it is recorded with what the arithmetic shows to conflict, and
diagnosed (the conflicting rules and the smallest fixes, many further solves) only
when the payload asks for it (a spec's ``diagnose: true``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.analysis.diagnose import diagnose
from optimizer.engine.data import Regions, regions_from_bytes
from optimizer.engine.errors import InfeasibleError, PlaceFundError, ScenarioError, SolverError
from optimizer.engine.metrics import METRIC_NAMES
from optimizer.engine.scenario import Scenario, scenario_from_dict
from optimizer.engine.solve import Checkpoint, Planner

Progress = Callable[[int, int], None]
VALUE_COLUMNS = ("objective", "spent_usd", "solve_s", *(f"after_{m}" for m in METRIC_NAMES))
RUN_COLUMNS = ("run_id", "status", "reason", *VALUE_COLUMNS)

# chunk sizes: about TARGET_CHUNKS chunks, each between MIN_CHUNK and MAX_CHUNK runs. A
# chunk starts from the solved base (a restore: about 4 ms at 51 regions, against about
# 200 ms for a first solve), and enough chunks keep every worker busy to the end.
TARGET_CHUNKS = 16
MIN_CHUNK = 25
MAX_CHUNK = 250
ORDER_BLOCK = 2_000  # solve_order links runs within blocks of this many (cost ~ block^2)
PARTIAL = "partial"  # the folder, inside an analysis's --out, of its finished chunks
STORE_FORMAT = 2  # partial chunks as .npz, in solve order (1: parquet, in run order)


@dataclass(frozen=True)
class Run:
    """One re-solve: ``changes`` to the base scenario, an optional Gini cap."""

    run_id: int
    changes: dict[str, Any]
    gini_cap: float | None = None


@dataclass(frozen=True)
class Payload:
    """What every task needs once: the regions file and the base scenario; ``diagnose``
    asks for a diagnosis of each infeasible run (without a Gini cap) in its reason."""

    regions_label: str
    regions_csv: bytes
    regions_sha: str
    base: dict[str, Any]
    diagnose: bool = False


@dataclass
class ChunkResult:
    """The outcome of one chunk as plain arrays, a row per run (in the chunk's order).

    ``values`` holds ``VALUE_COLUMNS`` (NaN where a run failed, except its ``solve_s``);
    ``reasons`` is empty for a solved run.
    """

    chunk_id: int
    run_ids: np.ndarray  # (runs,) int
    status: np.ndarray  # (runs,) str: ok, infeasible, solver_error, invalid, error
    reasons: np.ndarray  # (runs,) str
    values: np.ndarray  # (runs, len(VALUE_COLUMNS))
    funding_usd: np.ndarray  # (runs, n)
    final_capacity: np.ndarray  # (runs, n)

    @property
    def runs(self) -> pd.DataFrame:
        """This chunk's rows as a table with ``RUN_COLUMNS``."""
        return _run_table(self.run_ids, self.status, self.reasons, self.values)


def _run_table(run_ids: np.ndarray, status: np.ndarray, reasons: np.ndarray,
               values: np.ndarray) -> pd.DataFrame:
    table = pd.DataFrame({"run_id": run_ids.astype(np.int64), "status": status.astype(object),
                          "reason": reasons.astype(object)})
    for j, name in enumerate(VALUE_COLUMNS):
        table[name] = values[:, j]
    return table


def collect(chunks: list[ChunkResult], n_regions: int
            ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """All chunks at once, in run-id order: the runs table (``RUN_COLUMNS``) and the
    funding and final-capacity arrays (runs x regions)."""
    if not chunks:
        empty = np.empty((0, n_regions))
        return pd.DataFrame(columns=list(RUN_COLUMNS)), empty, empty.copy()
    ids = np.concatenate([c.run_ids for c in chunks])
    order = np.argsort(ids, kind="stable")
    table = _run_table(ids[order], np.concatenate([c.status for c in chunks])[order],
                       np.concatenate([c.reasons for c in chunks])[order],
                       np.vstack([c.values for c in chunks])[order])
    funding = np.vstack([c.funding_usd for c in chunks])[order]
    final = np.vstack([c.final_capacity for c in chunks])[order]
    return table, funding, final


def payload_for(regions: Regions, base: Scenario, diagnose: bool = False) -> Payload:
    """The payload for ``regions`` and a base scenario."""
    return Payload(regions.source, regions.csv_bytes, regions.sha256, base.to_dict(), diagnose)


def apply_changes(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with dotted-path ``changes`` applied (``weights.talent``); ``base`` is left
    as it is (only the mappings on a changed path are copied, the rest is shared)."""
    out = dict(base)
    for path, value in changes.items():
        keys = path.split(".")
        node = out
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                raise ScenarioError(f"'{path}': '{key}' is not a mapping in the scenario")
            node[key] = dict(node[key])
            node = node[key]
        node[keys[-1]] = value
    return out


# --- solve order and chunks ---------------------------------------------------

def _flat(changes: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric leaves of a (nested) change mapping by dotted path."""
    out: dict[str, float] = {}
    for key, value in changes.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, f"{path}."))
        elif isinstance(value, int | float):
            out[path] = float(value)
    return out


def _features(runs: list[Run], base: dict[str, Any]) -> np.ndarray:
    """One row per run: its changed numbers (the base's where a run leaves one alone),
    each column scaled to its range; constant columns dropped."""
    flat = [_flat(r.changes) for r in runs]
    paths = sorted({p for f in flat for p in f})
    base_flat = _flat(base)
    x = np.array([[f.get(p, base_flat.get(p, 0.0)) for p in paths] for f in flat], dtype=float)
    caps = [r.gini_cap for r in runs]
    if any(c is not None for c in caps):
        x = np.column_stack([x, [1.0 if c is None else c for c in caps]])
    x = x.reshape(len(runs), -1)
    span = x.max(axis=0) - x.min(axis=0) if len(x) else np.zeros(x.shape[1])
    keep = span > 0
    return (x[:, keep] - x[:, keep].min(axis=0)) / span[keep]


def _tour(x: np.ndarray) -> np.ndarray:
    """Greedy nearest-neighbour order of the rows of ``x``, from row 0 (ties: lowest index)."""
    n = len(x)
    left = np.ones(n, dtype=bool)
    order = np.empty(n, dtype=int)
    current = 0
    for step in range(n):
        order[step] = current
        left[current] = False
        if step == n - 1:
            break
        dist = ((x - x[current]) ** 2).sum(axis=1)
        dist[~left] = np.inf
        current = int(np.argmin(dist))
    return order


def solve_order(runs: list[Run], base: dict[str, Any]) -> list[int]:
    """Indices of ``runs`` in the order to solve them: each run next to a similar one.

    A re-solve starts from the last solve's basis; from a nearby LP it needs fewer
    simplex iterations (a weight sample at 51 regions: about 60 instead of 110). The
    order depends on the runs only, never on the backend: greedy nearest neighbour on
    the changed numbers scaled to their ranges, within consecutive blocks of
    ``ORDER_BLOCK`` runs.
    """
    if len(runs) < 3:
        return list(range(len(runs)))
    x = _features(runs, base)
    if x.shape[1] == 0:
        return list(range(len(runs)))
    order: list[int] = []
    for start in range(0, len(runs), ORDER_BLOCK):
        block = np.arange(start, min(start + ORDER_BLOCK, len(runs)))
        order.extend(int(i) for i in block[_tour(x[block])])
    return order


def auto_chunk_size(n_runs: int) -> int:
    """Runs per chunk for ``n_runs`` runs (about ``TARGET_CHUNKS`` chunks, clamped)."""
    return max(MIN_CHUNK, min(MAX_CHUNK, math.ceil(n_runs / TARGET_CHUNKS)))


def chunked(runs: list[Run], size: int) -> list[list[Run]]:
    """Split runs into fixed chunks (the split never depends on the backend)."""
    return [runs[i:i + size] for i in range(0, len(runs), size)]


# --- worker side -------------------------------------------------------------

_REGIONS: dict[str, Regions] = {}
_PLANNERS: dict[tuple[str, bool], Planner] = {}
_CHECKPOINTS: dict[tuple[str, str], Checkpoint | None] = {}  # (regions, base) -> solved base


def worker_planner(payload: Payload, hooked: bool) -> Planner:
    """This process's Planner for the payload's regions (built once, then reused).

    Runs with a Gini cap use their own Planner, so the extra row never touches the
    model other analyses solve.
    """
    regions = regions_from_cache(payload)
    key = (payload.regions_sha, hooked)
    if key not in _PLANNERS:
        _PLANNERS[key] = Planner(regions)
    return _PLANNERS[key]


def run_chunk(payload: Payload, chunk_id: int, runs: list[Run]) -> ChunkResult:
    """Solve the runs of one chunk in order and record each outcome (never raises)."""
    n = len(regions_from_cache(payload))
    k = len(runs)
    status = np.full(k, "ok", dtype=object)
    reasons = np.full(k, "", dtype=object)
    values = np.full((k, len(VALUE_COLUMNS)), np.nan)
    funding = np.full((k, n), np.nan)
    final = np.full((k, n), np.nan)
    after = [f"after_{m}" for m in METRIC_NAMES]
    solve_col = VALUE_COLUMNS.index("solve_s")
    cleared: set[bool] = set()
    for j, run in enumerate(runs):
        hooked = run.gini_cap is not None
        planner = worker_planner(payload, hooked)
        if hooked not in cleared:
            start_chunk(payload, planner, hooked)
            cleared.add(hooked)
        start = time.perf_counter()
        try:
            scenario = scenario_from_dict(apply_changes(payload.base, run.changes),
                                          source=f"run {run.run_id}")
            if hooked:
                plan = planner.solve(scenario, gini_cap=float(run.gini_cap or 0.0))
            else:
                plan = planner.solve(scenario)
        except InfeasibleError as err:
            status[j] = "infeasible"
            reasons[j] = _infeasible_reason(err, payload, planner, scenario, hooked)
        except SolverError as err:
            status[j], reasons[j] = "solver_error", str(err)
        except PlaceFundError as err:
            status[j], reasons[j] = "invalid", str(err)
        except Exception as err:  # a bug in one run must not lose the others
            status[j], reasons[j] = "error", f"{type(err).__name__}: {err}"
        else:
            metrics = plan.metrics_after
            values[j, 0], values[j, 1] = plan.objective, plan.spent_usd
            values[j, 3:] = [metrics[name.removeprefix("after_")] for name in after]
            funding[j] = plan.funding_usd().sum(axis=1)
            final[j] = plan.final_capacity_points()
        values[j, solve_col] = time.perf_counter() - start
    ids = np.array([r.run_id for r in runs], dtype=np.int64)
    return ChunkResult(chunk_id, ids, status.astype(str), reasons.astype(str), values,
                       funding, final)


def start_chunk(payload: Payload, planner: Planner, hooked: bool) -> None:
    """Put ``planner`` where every chunk starts, whatever it solved before: the base
    scenario's solved LP (solved once per process from scratch, so the same in every
    process), loaded into a fresh HiGHS; cold when the base does not solve, and for
    runs with a Gini cap (each cap is its own LP)."""
    key = (payload.regions_sha, fingerprint(payload.base))
    if hooked:
        planner.forget_basis()
        return
    if key not in _CHECKPOINTS:
        planner.forget_basis()
        try:
            planner.solve(scenario_from_dict(payload.base, source="base scenario"))
            _CHECKPOINTS[key] = planner.checkpoint()
        except PlaceFundError:
            _CHECKPOINTS[key] = None
    checkpoint = _CHECKPOINTS[key]
    if checkpoint is None:
        planner.forget_basis()
    else:
        planner.restore(checkpoint)


def _infeasible_reason(err: InfeasibleError, payload: Payload, planner: Planner,
                       scenario: Scenario, hooked: bool) -> str:
    """What conflicts; with ``payload.diagnose`` (and no Gini cap, which the diagnosis
    does not know), also the minimal conflicting rules and the ranked fixes."""
    reason = "; ".join(err.conflicts)
    if not payload.diagnose or hooked:
        return reason
    found = diagnose(planner.regions, scenario)
    fixes = [f"fix {i}: {r.text}" for i, r in enumerate(found.relaxations, 1)]
    return "; ".join([reason, *found.lines(), *fixes])


def regions_from_cache(payload: Payload) -> Regions:
    """The payload's regions, parsed once per process."""
    if payload.regions_sha not in _REGIONS:
        _REGIONS[payload.regions_sha] = regions_from_bytes(payload.regions_csv,
                                                           payload.regions_label)
    return _REGIONS[payload.regions_sha]


# --- storage: partial results and resume --------------------------------------

class PartialStore:
    """Finished chunks under ``OUT/partial``, tied to one spec fingerprint."""

    def __init__(self, out: Path, fingerprint: str, region_ids: list[str]) -> None:
        self.dir = Path(out) / PARTIAL
        self.region_ids = region_ids
        self.dir.mkdir(parents=True, exist_ok=True)
        manifest = self.dir / "manifest.json"
        record = {"fingerprint": fingerprint, "format": STORE_FORMAT}
        if manifest.exists():
            old = json.loads(manifest.read_text())
            if {k: old.get(k) for k in record} != record:
                for f in self.dir.glob("chunk-*.*"):
                    f.unlink()
        manifest.write_text(json.dumps(record) + "\n")

    def _path(self, chunk_id: int) -> Path:
        return self.dir / f"chunk-{chunk_id:05d}.npz"

    def done(self) -> set[int]:
        """Chunk ids already written."""
        return {int(p.stem.split("-")[1]) for p in self.dir.glob("chunk-*.npz")}

    def write(self, result: ChunkResult) -> None:
        """Write one chunk atomically (a crash never leaves half a chunk)."""
        path = self._path(result.chunk_id)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            np.savez(f, run_ids=result.run_ids, status=result.status.astype(str),
                     reasons=result.reasons.astype(str), values=result.values,
                     funding=result.funding_usd, final=result.final_capacity)
        os.replace(tmp, path)

    def read(self, chunk_id: int) -> ChunkResult:
        """Read one stored chunk back."""
        with np.load(self._path(chunk_id), allow_pickle=False) as data:
            return ChunkResult(chunk_id, data["run_ids"], data["status"], data["reasons"],
                               data["values"], data["funding"], data["final"])


# --- backends -----------------------------------------------------------------

# --- choosing serial or a local cluster ------------------------------------------

# A local cluster's start-up, the optimizer's import in its worker processes and its
# shut-down: 2.2 s for 2 workers on 2 idle cores (docs/performance.md, ``local_startup_s``
# of benchmarks/bench_sensitivity.py). The workers import at the same time, one per free
# core: with fewer free cores than workers, start-up takes proportionally longer.
LOCAL_STARTUP_S = 2.2
# What a worker achieves per core, against this process alone: 1,000 states samples took
# 8.72 s serially and 4.94 s on a scheduler with 2 workers started beforehand
# (docs/performance.md): 8.72 / 4.94 / 2 = 0.88, rounded down.
PARALLEL_EFFICIENCY = 0.85
# A cluster is chosen only when its estimate is at most this share of the serial one: its
# start-up is the least certain number (on a loaded machine 1,000 states samples took
# 11.9 s on a local cluster and 7.2 s serially).
CLUSTER_MARGIN = 0.8


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def load_average() -> float:
    """The 1-minute load average (0 where the system does not report one)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def free_cores(cores: int, load: float) -> float:
    """Cores not busy with other work: ``cores`` less the 1-minute load average beyond the
    one core this process keeps busy, never below one nor above ``cores``."""
    return float(min(cores, max(1.0, cores - max(0.0, load - 1.0))))


@dataclass(frozen=True)
class ExecutorChoice:
    """Serial or a local cluster for the runs left after an in-process probe, and why.

    ``per_run_s`` is measured on the probe's ``probe_runs`` runs; ``setup_s`` is what the
    probe spent besides its runs (solving the base scenario once), which every new worker
    spends too; ``serial_s`` and ``cluster_s`` are the estimated seconds for the
    ``remaining_runs`` in this process and on a local cluster, start-up included.
    """

    kind: str  # serial | local
    probe_runs: int
    per_run_s: float
    setup_s: float
    remaining_runs: int
    remaining_chunks: int
    workers: int
    cores: int
    free: float
    startup_s: float
    serial_s: float
    cluster_s: float

    @property
    def reason(self) -> str:
        """Why this executor: the measured time, the estimates and what decided."""
        ms = f"{1e3 * self.per_run_s:.1f} ms"
        if self.probe_runs == 0:
            return "every chunk of this job was already saved, so nothing was left to run"
        if self.remaining_runs == 0:
            return (f"all {_runs(self.probe_runs)} fitted in the first chunk ({ms} each), "
                    "so nothing was left to share out")
        first = f"the first {_runs(self.probe_runs)} took {ms} each"
        rest = (f"the other {self.remaining_runs:,} would take about {self.serial_s:.1f} s "
                "in this process")
        cluster = (f"about {self.cluster_s:.1f} s on a local cluster of {self.workers} "
                   f"worker{'s' * (self.workers != 1)} ({self.startup_s:.1f} s to start it "
                   "included)")
        if self.kind == "local":
            return f"{first}, so {rest} against {cluster}"
        if PARALLEL_EFFICIENCY * min(self.workers, self.free, self.remaining_chunks) <= 1.0:
            why = (f"only {self.remaining_chunks} chunk{'s' * (self.remaining_chunks != 1)} "
                   "left" if self.remaining_chunks < min(self.workers, self.free) else
                   f"{self.free:.1f} of {self.cores} cores free")
            return f"{first}, so {rest}, and with {why} a cluster cannot run them faster"
        return f"{first}, so {rest} against {cluster}, too little saved to pay for starting one"

    @property
    def sentence(self) -> str:
        """Which executor ran the job and why, in one sentence."""
        if self.probe_runs == 0:
            verdict = "Nothing ran"
        elif self.kind == "local":
            verdict = (f"Ran on a local Dask cluster of {self.workers} "
                       f"worker{'s' * (self.workers != 1)}")
        else:
            verdict = "Ran serially in this process"
        return f"{verdict}: {self.reason}."

    def record(self) -> dict[str, Any]:
        """The choice and the numbers behind it, for a run's summary."""
        return {"chosen": self.kind, "reason": self.sentence, "probe_runs": self.probe_runs,
                "measured_s_per_run": self.per_run_s, "measured_setup_s": self.setup_s,
                "remaining_runs": self.remaining_runs, "workers": self.workers,
                "cores": self.cores, "free_cores": self.free,
                "estimated_startup_s": self.startup_s, "estimated_serial_s": self.serial_s,
                "estimated_cluster_s": self.cluster_s if math.isfinite(self.cluster_s) else None}


def _runs(n: int) -> str:
    return f"{n:,} run{'s' * (n != 1)}"


def choose_executor(per_run_s: float, probe_runs: int, remaining_runs: int,
                    remaining_chunks: int, *, workers: int, cores: int, load: float,
                    setup_s: float = 0.0, startup_s: float = LOCAL_STARTUP_S) -> ExecutorChoice:
    """Serial or a local cluster for the runs left, from their estimated cost.

    Serially they take ``per_run_s * remaining_runs``. A cluster of ``workers`` runs
    them ``PARALLEL_EFFICIENCY`` times as fast as one process per lane, with as many
    lanes as there are workers, free cores and chunks (whichever is fewest), after its
    start-up (``startup_s``, longer when fewer cores than workers are free) and one base
    solve (``setup_s``). The cluster is chosen when that is at most ``CLUSTER_MARGIN``
    of the serial time.

    >>> choose_executor(0.01, 60, 1000, 16, workers=2, cores=2, load=0.0,
    ...                 startup_s=2.0).kind  # 10 s serially; 2 + 10 / 1.7 = 7.9 s
    'local'
    """
    free = free_cores(cores, load)
    serial_s = per_run_s * remaining_runs
    lanes = min(workers, free, remaining_chunks)
    start = startup_s * max(1.0, workers / free)
    speedup = PARALLEL_EFFICIENCY * lanes
    cluster_s = start + setup_s + (serial_s / speedup if speedup > 0 else math.inf)
    local = remaining_runs > 0 and speedup > 1.0 and cluster_s <= CLUSTER_MARGIN * serial_s
    return ExecutorChoice("local" if local else "serial", probe_runs, per_run_s, setup_s,
                          remaining_runs, remaining_chunks, workers, cores, free, start,
                          serial_s, cluster_s)


# --- backends -----------------------------------------------------------------

@dataclass
class Backend:
    """Where runs execute: ``auto`` (serial or a local cluster, chosen per job from its
    measured cost: ``choose_executor``), ``serial`` (in-process), ``local`` (a
    LocalCluster with ``workers`` processes, default all cores) or a scheduler
    ``address``. After an ``auto`` run, ``choice`` says what ran and why."""

    kind: str = "auto"
    address: str | None = None
    workers: int | None = None
    info: dict[str, Any] = field(default_factory=dict)
    choice: ExecutorChoice | None = None

    @classmethod
    def from_option(cls, scheduler: str | None, workers: int | None = None) -> Backend:
        """``--scheduler`` value: None or ``auto`` = chosen per job, ``local``, ``serial``,
        or an address (checked to be one; ``execute`` checks that a scheduler answers
        there before any run). ``workers``: the local cluster's size, whenever one runs."""
        if scheduler is None or scheduler == "auto":
            return cls("auto", workers=workers)
        if scheduler == "local":
            return cls("local", workers=workers)
        if scheduler == "serial":
            return cls("serial")
        return cls("remote", address=scheduler_address(scheduler))

    @property
    def ran(self) -> str:
        """The executor that ran (or runs): ``auto`` until a choice is made."""
        return self.choice.kind if self.kind == "auto" and self.choice else self.kind

    def describe(self, reason: bool = True) -> str:
        """Plain words for the summary: where the runs went and, when chosen, why
        (``reason=False``: where only)."""
        if self.ran == "auto":
            return "serial or a local Dask cluster, chosen per job"
        if self.ran == "serial":
            where = "serial, in-process"
        elif self.ran == "local":
            where = f"local Dask cluster, {self.workers or usable_cores()} worker process(es)"
        else:
            where = f"Dask scheduler at {self.address}"
        if self.choice is not None and self.kind == "auto" and reason:
            return f"{where}, chosen because {self.choice.reason}"
        return where

    def record(self) -> dict[str, Any]:
        """What was asked, what ran and, when chosen, why (a run's summary)."""
        out: dict[str, Any] = {"asked": self.kind, "ran": self.describe(reason=False)}
        if self.choice is not None:
            out.update(self.choice.record())
        return out


def execute(
    runs: list[Run],
    payload: Payload,
    backend: Backend,
    *,
    chunk_size: int | None = None,
    store: PartialStore | None = None,
    progress: Progress | None = None,
) -> list[ChunkResult]:
    """Run everything (skipping chunks ``store`` already holds); results in chunk order
    (``collect`` puts them in run order). ``chunk_size`` None: ``auto_chunk_size``.
    An ``auto`` backend runs the first chunk left in-process, then chooses (``_probe``)."""
    size = chunk_size or auto_chunk_size(len(runs))
    chunks = chunked([runs[i] for i in solve_order(runs, payload.base)], size)
    total = len(runs)
    results: dict[int, ChunkResult] = {}
    done = store.done() if store is not None else set()
    finished = 0
    for cid in sorted(done):
        if cid < len(chunks):
            results[cid] = store.read(cid)  # type: ignore[union-attr]
            finished += len(chunks[cid])
    todo = [cid for cid in range(len(chunks)) if cid not in results]
    if todo and backend.kind == "remote":
        reach_scheduler(str(backend.address))  # one sentence, not a hang, before any run
    if progress:
        progress(finished, total)

    def record(result: ChunkResult, persist: bool = True) -> None:
        nonlocal finished
        results[result.chunk_id] = result
        if store is not None and persist:
            store.write(result)
        finished += len(result.run_ids)
        if progress:
            progress(finished, total)

    if backend.kind == "auto":
        todo = _probe(todo, chunks, payload, backend, record)
    if todo and backend.ran == "serial":
        for cid in todo:
            record(run_chunk(payload, cid, chunks[cid]))
    elif todo and backend.ran == "local" and backend.kind == "auto":
        _execute_dask(todo, chunks, payload, Backend("local", workers=backend.workers,
                                                     info=backend.info), record)
    elif todo:
        _execute_dask(todo, chunks, payload, backend, record)
    return [results[cid] for cid in range(len(chunks))]


def _probe(todo: list[int], chunks: list[list[Run]], payload: Payload, backend: Backend,
           record: Callable[..., None]) -> list[int]:
    """Solve the first chunk left in this process (its results count like any other),
    choose serial or a local cluster for the rest from its timing (``backend.choice``)
    and return the chunks still to run."""
    workers = backend.workers or usable_cores()
    if not todo:
        backend.choice = choose_executor(0.0, 0, 0, 0, workers=workers, cores=usable_cores(),
                                         load=load_average())
        return todo
    first, rest = todo[0], todo[1:]
    start = time.perf_counter()
    result = run_chunk(payload, first, chunks[first])
    wall = time.perf_counter() - start
    record(result)
    runs_s = float(np.nansum(result.values[:, VALUE_COLUMNS.index("solve_s")]))
    k = len(result.run_ids)
    backend.choice = choose_executor(
        runs_s / k, k, sum(len(chunks[cid]) for cid in rest), len(rest), workers=workers,
        cores=usable_cores(), load=load_average(), setup_s=max(0.0, wall - runs_s))
    return rest


def _execute_dask(todo: list[int], chunks: list[list[Run]], payload: Payload,
                  backend: Backend, record: Callable[..., None]) -> None:
    """Chunks as Dask tasks, a few per worker queued at a time. On a local cluster the
    client solves chunks itself until a worker has finished its first one (the new
    worker processes spend their first seconds importing the optimizer)."""
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    try:
        if backend.kind == "local":
            n = backend.workers or os.cpu_count() or 1
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address=None)
            client = Client(cluster)
        else:
            try:
                client = Client(backend.address, timeout=HANDSHAKE_S)
            except (OSError, TimeoutError, ValueError) as err:
                raise PlaceFundError(
                    f"cannot reach the Dask scheduler at {backend.address} ({err}); start one "
                    "with `dask scheduler` and workers with `dask worker ADDRESS`") from None
        with client:
            workers = len(client.scheduler_info().get("workers", {}))
            backend.info["workers"] = workers
            shared = client.scatter(payload, broadcast=True)
            pending = deque(todo)
            futures: dict[Any, int] = {}
            finished = as_completed()

            def submit() -> None:
                cid = pending.popleft()
                future = client.submit(run_chunk, shared, cid, chunks[cid], pure=False)
                futures[future] = cid
                finished.add(future)

            for _ in range(min(len(pending), 2 * max(workers, 1))):
                submit()
            helping = backend.kind == "local"
            while futures:
                if helping and pending and not finished.has_ready():
                    cid = pending.popleft()
                    record(run_chunk(payload, cid, chunks[cid]))
                    backend.info["client_chunks"] = backend.info.get("client_chunks", 0) + 1
                    continue
                helping = False
                future = next(finished)
                cid = futures.pop(future)
                try:
                    result = future.result()
                except Exception as err:  # a lost worker: record, keep going
                    reason = f"task failed ({type(err).__name__}: {err}); re-run to retry"
                    record(_failed_chunk(cid, chunks[cid], payload, reason), persist=False)
                else:
                    record(result)
                if pending:
                    submit()
    finally:
        if cluster is not None:
            cluster.close()


HANDSHAKE_S = 10.0  # seconds a scheduler has to answer Dask's handshake


def reach_scheduler(address: str, seconds: float | None = None) -> str:
    """``address`` once a Dask scheduler has answered a handshake there within
    ``seconds`` (default ``HANDSHAKE_S``); otherwise one sentence (``PlaceFundError``):
    an address that is not one (``http://...``, ``garbage``, ``tcp://[::1``), nothing
    listening, or a service that is not a Dask scheduler (an HTTP server never answers)."""
    import asyncio

    from distributed.comm import connect

    address = scheduler_address(address)
    limit = HANDSHAKE_S if seconds is None else seconds

    async def handshake() -> None:
        comm = await asyncio.wait_for(connect(address, timeout=limit), limit)
        await comm.close()

    try:
        asyncio.run(handshake())
    except (OSError, TimeoutError, ValueError) as err:
        why = (f"no Dask scheduler answered within {limit:g} s" if isinstance(err, TimeoutError)
               else str(err) or type(err).__name__)
        raise PlaceFundError(f"cannot reach the Dask scheduler at {address} ({why}){_HOW}") from None
    return address


_HOW = ("; give it as tcp://HOST:PORT (start one with `dask scheduler` and workers with "
        "`dask worker ADDRESS`)")


def scheduler_address(address: str) -> str:
    """``address`` if it is a Dask scheduler address, else one sentence saying why not."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import backends

    try:
        scheme, location = parse_address(address)
        if scheme not in backends or scheme == "inproc":
            raise ValueError(f"'{scheme}://' is not a Dask protocol")
        parse_host_port(location)
    except ValueError as err:
        raise PlaceFundError(f"--scheduler {address!r} is not a scheduler address ({err})"
                             f"{_HOW}") from None
    return address


def _failed_chunk(cid: int, runs: Iterable[Run], payload: Payload, reason: str) -> ChunkResult:
    runs = list(runs)
    n = len(regions_from_cache(payload))
    k = len(runs)
    nan = np.full((k, n), np.nan)
    return ChunkResult(cid, np.array([r.run_id for r in runs], dtype=np.int64),
                       np.full(k, "error"), np.full(k, reason),
                       np.full((k, len(VALUE_COLUMNS)), np.nan), nan, nan.copy())


def fingerprint(obj: Any) -> str:
    """SHA-256 of a JSON-able object (spec + resolved base + data hash)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
