"""Runs per second of a weight sample at 51 regions, by backend; or what infeasible
samples cost.

    .venv/bin/python benchmarks/bench_sensitivity.py [--runs 1000] [--repeats 5] [--json]
        [--backends serial,default,local,remote]
    .venv/bin/python benchmarks/bench_sensitivity.py --infeasible [--runs 300] [--floor 0.73]

Rows (medians of ``--repeats`` whole analyses, ``run_analysis`` on a robust spec of
``--runs`` weight samples, seed 1, the default chunking): serial in-process; the
default executor (no ``--scheduler``: the first chunk in-process, then serial or a
local cluster, whichever ``runs.choose_executor`` estimates faster; each repeat says
which it chose); a local Dask cluster on all cores, its start-up and shut-down included
(a new cluster per repeat); a ``dask scheduler`` plus one ``dask worker`` per core
started as processes on 127.0.0.1 (their start-up excluded; the workers keep their
planners between repeats). Serial and default repeats alternate, so a change in the
machine's load falls on both alike; "default no slower than serial" is their ratio.
The serial rows also say where a run's time goes: HiGHS's own time
(``result.solver.highs_time_s``), the rest of ``Planner.solve`` (model update, result
tables, the independent check) and ours (scenario, chunks, tables), and so how many
runs per second the solver alone, and the engine alone, would allow.

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
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optimizer as pf
from optimizer.analysis.runs import Backend, ExecutorChoice, execute, payload_for
from optimizer.analysis.sensitivity import build_runs, run_analysis, spec_from_dict
from optimizer.engine.solve import Planner


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
    spec = spec_from_dict({"analysis": "robust", "runs": runs, "seed": 1})
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
    execute(only, payload_for(regions, scenario), Backend("serial"))
    alone = (time.perf_counter() - start) / len(only)
    print(f"{'  its feasible draws alone':<28} {0:>10.0%} {alone:>9.4f}")
    print("\n(s/sample: the whole analysis, wall clock; the others: mean solve time of a run "
          "of that outcome; 'after infeasible': a feasible run right after an infeasible one)")


@contextlib.contextmanager
def _solver_clock() -> Iterator[dict[str, float]]:
    """Sum, over every ``Planner.solve`` in this process, of its wall time and of
    HiGHS's own time (``result.solver.highs_time_s``); the solves themselves unchanged."""
    totals = {"solves": 0.0, "solve_s": 0.0, "highs_s": 0.0, "iterations": 0.0}
    original = Planner.solve

    def solve(self: Planner, *args: Any, **kwargs: Any) -> pf.AllocationResult:
        start = time.perf_counter()
        plan = original(self, *args, **kwargs)
        totals["solve_s"] += time.perf_counter() - start
        totals["highs_s"] += plan.solver.highs_time_s
        totals["iterations"] += plan.solver.simplex_iterations
        totals["solves"] += 1
        return plan

    Planner.solve = solve  # type: ignore[method-assign]
    try:
        yield totals
    finally:
        Planner.solve = original  # type: ignore[method-assign]


def _wall(func: Callable[[], Any]) -> float:
    """Wall time of one analysis, which must have solved every run."""
    start = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - start
    status = result.tables["runs"]["status"]
    if not status.eq("ok").all():
        raise SystemExit(f"{(status != 'ok').sum()} runs failed: "
                         f"{result.tables['runs'].loc[status != 'ok', 'reason'].iloc[0]}")
    return seconds


def _median_wall(func: Callable[[], Any], repeats: int) -> tuple[float, list[float]]:
    """Median wall time of ``repeats`` analyses; each must have solved every run."""
    times = [_wall(func) for _ in range(repeats)]
    return statistics.median(times), times


BACKENDS = ("serial", "default", "local", "remote")


def measure(runs: int = 1000, repeats: int = 5, workers: int | None = None,
            backends: tuple[str, ...] = BACKENDS) -> dict[str, Any]:
    """Runs per second by backend (medians of ``repeats``) and, serially, where a run's
    time goes; a JSON-able dict."""
    workers = workers or os.cpu_count() or 1
    regions, base = pf.load_regions("states"), pf.load_scenario()
    spec = spec_from_dict({"analysis": "robust", "runs": runs, "seed": 1})
    # imports, HiGHS and this process's solved base (every in-process chunk starts from
    # it) ready before the first row, so no row pays them alone
    run_analysis(spec_from_dict({"analysis": "robust", "runs": 2, "seed": 1}),
                 backend=Backend("serial"), regions=regions, base=base)
    out: dict[str, Any] = {"runs": runs, "regions": len(regions), "repeats": repeats,
                           "workers": workers, "rows": {}}

    def analysis(backend: Backend) -> Callable[[], Any]:
        return lambda: run_analysis(spec, backend=backend, regions=regions, base=base)

    times: list[float] = []
    default_times: list[float] = []
    choices: list[ExecutorChoice | None] = []
    totals = {"solves": 0.0, "solve_s": 0.0, "highs_s": 0.0, "iterations": 0.0}
    for _ in range(repeats):  # serial and default alternate: the same load on both
        if "serial" in backends:
            with _solver_clock() as clock:
                times.append(_wall(analysis(Backend("serial"))))
            totals = {k: totals[k] + clock[k] for k in totals}
        if "default" in backends:
            backend = Backend.from_option(None, workers)
            default_times.append(_wall(analysis(backend)))
            choices.append(backend.choice)
    if "serial" in backends:
        wall, clock = statistics.median(times), totals
        solves = clock["solves"]
        per_run = {"highs_ms": 1e3 * clock["highs_s"] / solves,
                   "engine_rest_ms": 1e3 * (clock["solve_s"] - clock["highs_s"]) / solves,
                   "ours_ms": 1e3 * (sum(times) - clock["solve_s"]) / solves,
                   "iterations": clock["iterations"] / solves}
        out["rows"]["serial"] = {"seconds": wall, "runs_per_s": runs / wall, "times": times,
                                 **per_run,
                                 "highs_alone_runs_per_s": 1e3 / per_run["highs_ms"],
                                 "engine_alone_runs_per_s": 1e3 / (per_run["highs_ms"]
                                                                   + per_run["engine_rest_ms"])}
    if "default" in backends:
        wall = statistics.median(default_times)
        kinds = [c.kind if c else "none" for c in choices]
        out["rows"]["default"] = {"seconds": wall, "runs_per_s": runs / wall,
                                  "times": default_times, "chosen": kinds,
                                  "reasons": [c.sentence if c else "" for c in choices]}
        if "serial" in out["rows"]:
            out["default_over_serial"] = wall / out["rows"]["serial"]["seconds"]
        out["default_summary"] = default_sentence(out)
    if "local" in backends:
        backend = Backend("local", workers=workers)
        wall, times = _median_wall(analysis(backend), repeats)
        out["rows"]["local"] = {"seconds": wall, "runs_per_s": runs / wall, "times": times,
                                "client_chunks": backend.info.get("client_chunks", 0)}
        out["local_startup_s"] = statistics.median(_startup(workers) for _ in range(repeats))
    if "remote" in backends:
        address, procs = _cluster(workers)
        try:
            wall, times = _median_wall(analysis(Backend("remote", address=address)), repeats)
        finally:
            _stop(procs)
        out["rows"]["remote"] = {"seconds": wall, "runs_per_s": runs / wall, "times": times}
    return out


def _import_optimizer() -> None:
    import optimizer.analysis.runs  # noqa: F401


def _startup(workers: int) -> float:
    """Seconds to start a local cluster, import the optimizer in its workers, and close it."""
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    with Client(cluster) as client:
        client.run(_import_optimizer)
    cluster.close()
    return time.perf_counter() - start


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


LABELS = {"serial": "serial in-process",
          "default": "default (serial or a local cluster, chosen)",
          "local": "local Dask cluster, {w} workers (incl. start-up)",
          "remote": "dask scheduler + {w} dask workers"}


def print_table(result: dict[str, Any]) -> None:
    """The rows as a plain table."""
    w = result["workers"]
    print(f"\nWeight sample of {result['runs']} draws at {result['regions']} regions, "
          f"{w} workers, median of {result['repeats']}\n")
    print(f"{'backend':<46} {'seconds':>8} {'runs/s':>8}")
    for key, row in result["rows"].items():
        print(f"{LABELS[key].format(w=w):<46} {row['seconds']:>8.2f} {row['runs_per_s']:>8.1f}")
    if "local_startup_s" in result:
        print(f"(a local cluster's start-up, the optimizer's import in its workers and its "
              f"shut-down alone: {result['local_startup_s']:.2f} s)")
    if "default_summary" in result:
        print(f"\n{result['default_summary']}")
    serial = result["rows"].get("serial")
    if serial:
        print(f"\nper serial run: HiGHS {serial['highs_ms']:.2f} ms "
              f"({serial['iterations']:.0f} simplex iterations), rest of Planner.solve "
              f"{serial['engine_rest_ms']:.2f} ms, ours {serial['ours_ms']:.2f} ms; "
              f"HiGHS alone would allow {serial['highs_alone_runs_per_s']:.0f} runs/s per "
              f"core, the engine alone {serial['engine_alone_runs_per_s']:.0f}")


def default_sentence(result: dict[str, Any]) -> str:
    """What the default executor chose in each repeat, its time against serial's and the
    reason it gave the last time."""
    row = result["rows"]["default"]
    kinds = row["chosen"]
    counts = ", ".join(f"{kind} in {kinds.count(kind)} of {len(kinds)}"
                       for kind in sorted(set(kinds)))
    ratio = result.get("default_over_serial")
    versus = (f" and took {ratio:.2f} x the serial time (median against median)"
              if ratio is not None else "")
    return (f"The default executor chose {counts} repeat(s){versus}; its last reason: "
            f"{row['reasons'][-1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help=f"comma-separated, of {', '.join(BACKENDS)} (default: all)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None, help="default: all cores")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--infeasible", action="store_true",
                        help="compare samples with and without infeasible draws")
    parser.add_argument("--floor", type=float, default=0.73)
    parser.add_argument("--loose-floor", type=float, default=0.6)
    args = parser.parse_args()
    if args.infeasible:
        infeasible_share(args.runs, args.floor, args.loose_floor)
        return
    backends = tuple(args.backends.split(","))
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        parser.error(f"unknown backend(s) {unknown}; choose from {', '.join(BACKENDS)}")
    result = measure(args.runs, args.repeats, args.workers, backends)
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
