"""Execute many re-solves: serially in-process or through Dask, resumable.

A run is a set of changes to a base scenario (dotted paths such as ``budget`` or
``weights.cs_doctorates``, or a whole ``weights`` mapping), optionally with an
epsilon cap on the Gini (see ``ranging``). Runs are grouped into fixed
chunks; each chunk is one task. Every worker process keeps one ``Planner`` per
region set (built once, then re-solved by changing Params) and clears HiGHS's
warm-start basis at the start of every chunk, so a chunk's numbers depend only on
the chunk: the same spec gives identical results serially, on a local cluster or on
a remote one.

Finished chunks are written to ``OUT/partial/`` as they complete; a re-run of the
same spec skips them (resume). A run that fails (infeasible, time limit, invalid
changes) is recorded with its reason and does not stop the analysis. An infeasible
run costs one solve: it is recorded with what the arithmetic shows to conflict, and
diagnosed (the conflicting rules and the smallest fixes, many further solves) only
when the payload asks for it (a spec's ``diagnose: true``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
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
from optimizer.engine.solve import Planner

Progress = Callable[[int, int], None]
RUN_COLUMNS = ("run_id", "status", "reason", "objective", "spent_usd", "solve_s",
               *(f"after_{m}" for m in METRIC_NAMES))


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
    """The outcome of one chunk: a row per run and arrays per run x region."""

    chunk_id: int
    runs: pd.DataFrame
    funding_usd: np.ndarray  # (runs, n)
    final_capacity: np.ndarray  # (runs, n)


def payload_for(regions: Regions, base: Scenario, diagnose: bool = False) -> Payload:
    """The payload for ``regions`` and a base scenario."""
    return Payload(regions.source, regions.csv_bytes, regions.sha256, base.to_dict(), diagnose)


def apply_changes(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with dotted-path ``changes`` applied (``weights.talent``)."""
    out = copy.deepcopy(base)
    for path, value in changes.items():
        keys = path.split(".")
        node = out
        for key in keys[:-1]:
            if not isinstance(node.get(key), dict):
                raise ScenarioError(f"'{path}': '{key}' is not a mapping in the scenario")
            node = node[key]
        node[keys[-1]] = value
    return out


# --- worker side -------------------------------------------------------------

_REGIONS: dict[str, Regions] = {}
_PLANNERS: dict[tuple[str, bool], Planner] = {}


def worker_planner(payload: Payload, hooked: bool) -> Planner:
    """This process's Planner for the payload's regions (built once, then reused).

    Runs with a Gini cap use their own Planner, so the extra row never touches the
    model other analyses solve.
    """
    regions = _REGIONS.get(payload.regions_sha)
    if regions is None:
        regions = regions_from_bytes(payload.regions_csv, payload.regions_label)
        _REGIONS[payload.regions_sha] = regions
    key = (payload.regions_sha, hooked)
    if key not in _PLANNERS:
        _PLANNERS[key] = Planner(regions)
    return _PLANNERS[key]


def run_chunk(payload: Payload, chunk_id: int, runs: list[Run]) -> ChunkResult:
    """Solve the runs of one chunk in order and record each outcome (never raises)."""
    n = len(regions_from_cache(payload))
    rows: list[dict[str, Any]] = []
    funding = np.full((len(runs), n), np.nan)
    final = np.full((len(runs), n), np.nan)
    cleared: set[bool] = set()
    for j, run in enumerate(runs):
        hooked = run.gini_cap is not None
        planner = worker_planner(payload, hooked)
        if hooked not in cleared:
            planner.forget_basis()  # a chunk starts cold, whatever ran before
            cleared.add(hooked)
        row: dict[str, Any] = {"run_id": run.run_id, "status": "ok", "reason": ""}
        start = time.perf_counter()
        try:
            scenario = scenario_from_dict(apply_changes(payload.base, run.changes),
                                          source=f"run {run.run_id}")
            if hooked:
                plan = planner.solve(scenario, gini_cap=float(run.gini_cap or 0.0))
            else:
                plan = planner.solve(scenario)
        except InfeasibleError as err:
            row.update(status="infeasible", reason=_infeasible_reason(err, payload, planner,
                                                                      scenario, hooked))
        except SolverError as err:
            row.update(status="solver_error", reason=str(err))
        except PlaceFundError as err:
            row.update(status="invalid", reason=str(err))
        except Exception as err:  # a bug in one run must not lose the others
            row.update(status="error", reason=f"{type(err).__name__}: {err}")
        else:
            row.update(objective=plan.objective, spent_usd=plan.spent_usd,
                       **{f"after_{k}": v for k, v in plan.metrics_after.items()})
            funding[j] = plan.regions["funding_usd"].to_numpy()
            final[j] = plan.regions["final_capacity"].to_numpy()
        row["solve_s"] = time.perf_counter() - start
        rows.append(row)
    table = pd.DataFrame(rows).reindex(columns=list(RUN_COLUMNS))
    return ChunkResult(chunk_id, table, funding, final)


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
        self.dir = Path(out) / "partial"
        self.region_ids = region_ids
        self.dir.mkdir(parents=True, exist_ok=True)
        manifest = self.dir / "manifest.json"
        if manifest.exists():
            old = json.loads(manifest.read_text()).get("fingerprint")
            if old != fingerprint:
                for f in self.dir.glob("chunk-*.parquet"):
                    f.unlink()
        manifest.write_text(json.dumps({"fingerprint": fingerprint}) + "\n")

    def _path(self, chunk_id: int) -> Path:
        return self.dir / f"chunk-{chunk_id:05d}.parquet"

    def done(self) -> set[int]:
        """Chunk ids already written."""
        return {int(p.stem.split("-")[1]) for p in self.dir.glob("chunk-*.parquet")}

    def write(self, result: ChunkResult) -> None:
        """Write one chunk atomically (a crash never leaves half a chunk)."""
        frame = result.runs.copy()
        for name, arr in (("funding", result.funding_usd), ("final", result.final_capacity)):
            frame[name] = [row.tolist() for row in arr]
        tmp = self._path(result.chunk_id).with_suffix(".tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, self._path(result.chunk_id))

    def read(self, chunk_id: int) -> ChunkResult:
        """Read one stored chunk back."""
        frame = pd.read_parquet(self._path(chunk_id))
        funding = np.array(frame.pop("funding").tolist(), dtype=float).reshape(len(frame), -1)
        final = np.array(frame.pop("final").tolist(), dtype=float).reshape(len(frame), -1)
        return ChunkResult(chunk_id, frame.reindex(columns=list(RUN_COLUMNS)), funding, final)


# --- backends -----------------------------------------------------------------

@dataclass
class Backend:
    """Where runs execute: ``serial`` (in-process), ``local`` (a LocalCluster with
    ``workers`` processes, default all cores) or a scheduler ``address``."""

    kind: str = "local"
    address: str | None = None
    workers: int | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_option(cls, scheduler: str | None, workers: int | None = None) -> Backend:
        """``--scheduler`` value: None = local cluster, ``serial``, or an address."""
        if scheduler is None or scheduler == "local":
            return cls("local", workers=workers)
        if scheduler == "serial":
            return cls("serial")
        return cls("remote", address=scheduler)

    def describe(self) -> str:
        """Plain words for the summary."""
        if self.kind == "serial":
            return "serial, in-process"
        if self.kind == "local":
            return f"local Dask cluster, {self.workers or os.cpu_count()} worker process(es)"
        return f"Dask scheduler at {self.address}"


def chunked(runs: list[Run], size: int) -> list[list[Run]]:
    """Split runs into fixed chunks (the split never depends on the backend)."""
    return [runs[i:i + size] for i in range(0, len(runs), size)]


def execute(
    runs: list[Run],
    payload: Payload,
    backend: Backend,
    *,
    chunk_size: int = 25,
    store: PartialStore | None = None,
    progress: Progress | None = None,
) -> list[ChunkResult]:
    """Run everything (skipping chunks ``store`` already holds); results in chunk order."""
    chunks = chunked(runs, chunk_size)
    total = len(runs)
    results: dict[int, ChunkResult] = {}
    done = store.done() if store is not None else set()
    finished = 0
    for cid in sorted(done):
        if cid < len(chunks):
            results[cid] = store.read(cid)  # type: ignore[union-attr]
            finished += len(chunks[cid])
    if progress:
        progress(finished, total)
    todo = [cid for cid in range(len(chunks)) if cid not in results]

    def record(result: ChunkResult, persist: bool = True) -> None:
        nonlocal finished
        results[result.chunk_id] = result
        if store is not None and persist:
            store.write(result)
        finished += len(result.runs)
        if progress:
            progress(finished, total)

    if todo and backend.kind == "serial":
        for cid in todo:
            record(run_chunk(payload, cid, chunks[cid]))
    elif todo:
        _execute_dask(todo, chunks, payload, backend, record)
    return [results[cid] for cid in range(len(chunks))]


def _execute_dask(todo: list[int], chunks: list[list[Run]], payload: Payload,
                  backend: Backend, record: Callable[..., None]) -> None:
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
                client = Client(backend.address, timeout=10)
            except (OSError, TimeoutError) as err:
                raise PlaceFundError(
                    f"cannot reach the Dask scheduler at {backend.address} ({err}); start one "
                    "with `dask scheduler` and workers with `dask worker ADDRESS`") from None
        with client:
            backend.info["workers"] = len(client.scheduler_info().get("workers", {}))
            shared = client.scatter(payload, broadcast=True)
            futures = {client.submit(run_chunk, shared, cid, chunks[cid], pure=False): cid
                       for cid in todo}
            for future in as_completed(futures):
                cid = futures[future]
                try:
                    result = future.result()
                except Exception as err:  # a lost worker: record, keep going
                    reason = f"task failed ({type(err).__name__}: {err}); re-run to retry"
                    record(_failed_chunk(cid, chunks[cid], payload, reason), persist=False)
                    continue
                record(result)
    finally:
        if cluster is not None:
            cluster.close()


def _failed_chunk(cid: int, runs: Iterable[Run], payload: Payload, reason: str) -> ChunkResult:
    runs = list(runs)
    n = len(regions_from_cache(payload))
    table = pd.DataFrame([{"run_id": r.run_id, "status": "error", "reason": reason}
                          for r in runs]).reindex(columns=list(RUN_COLUMNS))
    nan = np.full((len(runs), n), np.nan)
    return ChunkResult(cid, table, nan, nan.copy())


def fingerprint(obj: Any) -> str:
    """SHA-256 of a JSON-able object (spec + resolved base + data hash)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
