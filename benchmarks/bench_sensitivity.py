"""Runs per second of a weight sample at 51 regions, by backend; or what infeasible
samples cost.

    .venv/bin/python benchmarks/bench_sensitivity.py [--runs 1000] [--rebuild-runs 100]
    .venv/bin/python benchmarks/bench_sensitivity.py --infeasible [--runs 300] [--floor 0.73]

Rows: serial in-process (one Planner, re-solves), serial with a rebuild per run (a
new Planner each time; measured on ``--rebuild-runs`` runs), a local Dask cluster on
all cores (start-up included), and a ``dask scheduler`` plus one ``dask worker`` per
core started as processes on 127.0.0.1 (start-up excluded).

``--infeasible``: the same serial weight sample (same seed) on the default scenario,
with a per-capita capacity floor every draw meets (``--loose-floor``), and with one
(``--floor``) that about a fifth of the draws cannot meet: the regions' floors then
need more than the budget, which only the LP shows (no precheck sum catches it). Each
row gives the seconds per sample of the whole analysis and the mean solve time of
its feasible and of its infeasible samples (``runs.csv``'s ``solve_s``); an infeasible
sample is recorded without a diagnosis.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optimizer as pf
from optimizer.analysis.runs import Backend, apply_changes, execute, payload_for
from optimizer.analysis.sensitivity import build_runs, run_analysis, spec_from_dict
from optimizer.engine.solve import Planner


def _timed(label: str, runs: int, func) -> tuple[str, int, float]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    func()
    return label, runs, time.perf_counter() - start


def _cluster(workers: int) -> tuple[str, list[subprocess.Popen[bytes]]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dask = str(Path(sys.executable).with_name("dask"))
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True}
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], **quiet)]
    procs += [subprocess.Popen([dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                "--no-dashboard"], **quiet) for _ in range(workers)]
    from distributed import Client

    deadline = time.monotonic() + 60
    while True:
        try:
            with Client(address, timeout=5) as client:
                client.wait_for_workers(workers, timeout=30)
            return address, procs
        except (OSError, TimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def infeasible_share(runs: int, floor: float, loose_floor: float) -> None:
    """Seconds per sample with and without infeasible samples (serial, one Planner)."""
    regions, base = pf.load_regions("states"), pf.load_scenario()
    spec = spec_from_dict({"analysis": "robust", "runs": runs, "seed": 1, "chunk_size": 25})
    cases = [("default scenario", base),
             (f"per-capita floor {loose_floor:g}", base.updated(per_capita_floor=loose_floor)),
             (f"per-capita floor {floor:g}", base.updated(per_capita_floor=floor))]
    Planner(regions).solve(base)  # imports and HiGHS loaded before the first row
    print(f"\nWeight sample of {runs} draws at {len(regions)} regions, serial in-process\n")
    print(f"{'scenario':<28} {'infeasible':>10} {'s/sample':>9} {'feasible s':>11} "
          f"{'not after':>13} {'after infeas.':>13} {'infeasible s':>13}")
    for label, scenario in cases:
        start = time.perf_counter()
        result = run_analysis(spec, backend=Backend("serial"), regions=regions, base=scenario)
        per_sample = (time.perf_counter() - start) / runs
        table = result.tables["runs"]
        bad = table["status"] == "infeasible"
        ok = table["status"] == "ok"
        after = ok & bad.shift(fill_value=False)  # the basis is the infeasible run's
        cells = [table.loc[rows, "solve_s"].mean() if rows.any() else None
                 for rows in (ok, ok & ~after, after, bad)]
        print(f"{label:<28} {bad.mean():>10.0%} {per_sample:>9.4f} "
              + " ".join(f"{c:>{w}.4f}" if c is not None else f"{'-':>{w}}"
                         for c, w in zip(cells, (11, 13, 13, 13), strict=True)))
    # the last sample's feasible draws alone: what the infeasible ones add per sample
    feasible_ids = set(table.loc[ok, "run_id"])
    only = [run for run in build_runs(spec, regions, scenario) if run.run_id in feasible_ids]
    start = time.perf_counter()
    execute(only, payload_for(regions, scenario), Backend("serial"), chunk_size=spec.chunk_size)
    alone = (time.perf_counter() - start) / len(only)
    print(f"{'  its feasible draws alone':<28} {0:>10.0%} {alone:>9.4f}")
    print("\n(s/sample: the whole analysis, wall clock; the others: mean solve time of a run "
          "of that outcome; 'after infeasible': a feasible run right after an infeasible one)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rebuild-runs", type=int, default=100)
    parser.add_argument("--infeasible", action="store_true",
                        help="compare samples with and without infeasible draws")
    parser.add_argument("--floor", type=float, default=0.73)
    parser.add_argument("--loose-floor", type=float, default=0.6)
    args = parser.parse_args()
    if args.infeasible:
        infeasible_share(args.runs, args.floor, args.loose_floor)
        return
    regions, base = pf.load_regions("states"), pf.load_scenario()
    spec = spec_from_dict({"analysis": "robust", "runs": args.runs, "seed": 1, "chunk_size": 25})
    cores = os.cpu_count() or 1
    rows = []

    def serial() -> None:
        run_analysis(spec, backend=Backend("serial"), regions=regions, base=base)

    rows.append(_timed("serial in-process (one model, re-solves)", args.runs, serial))

    runs = build_runs(spec, regions, base)[: args.rebuild_runs]

    def rebuild() -> None:
        for run in runs:
            Planner(regions).solve(pf.scenario_from_dict(apply_changes(base.to_dict(), run.changes)))

    rows.append(_timed("serial, rebuild per run", len(runs), rebuild))

    def local() -> None:
        run_analysis(spec, backend=Backend("local", workers=cores), regions=regions, base=base)

    rows.append(_timed(f"local Dask cluster, {cores} workers (incl. start-up)", args.runs, local))

    address, procs = _cluster(cores)
    try:
        def remote() -> None:
            run_analysis(spec, backend=Backend("remote", address=address), regions=regions,
                         base=base)

        rows.append(_timed(f"dask scheduler + {cores} dask workers", args.runs, remote))
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.wait(timeout=20)

    print(f"\nWeight sample at {len(regions)} regions, {cores} cores\n")
    print(f"{'backend':<52} {'runs':>6} {'seconds':>9} {'runs/s':>8}")
    for label, n, secs in rows:
        print(f"{label:<52} {n:>6} {secs:>9.1f} {n / secs:>8.1f}")


if __name__ == "__main__":
    main()
