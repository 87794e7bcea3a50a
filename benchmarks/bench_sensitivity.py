"""Runs per second of a weight sample at 51 regions, by backend.

    .venv/bin/python benchmarks/bench_sensitivity.py [--runs 1000] [--rebuild-runs 100]

Rows: serial in-process (one Planner, re-solves), serial with a rebuild per run (a
new Planner each time; measured on ``--rebuild-runs`` runs), a local Dask cluster on
all cores (start-up included), and a ``dask scheduler`` plus one ``dask worker`` per
core started as processes on 127.0.0.1 (start-up excluded).
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
from optimizer.analysis.runs import Backend, apply_changes
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rebuild-runs", type=int, default=100)
    args = parser.parse_args()
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
