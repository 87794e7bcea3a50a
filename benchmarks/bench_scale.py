"""Benchmark the planner at states, metros and counties: build, solve, re-solve, memory, floor.

Run: .venv/bin/python benchmarks/bench_scale.py [--scales states,metros,counties (default: all)]
     [--repeats 5] [--first-runs 1] [--no-floor]

Each scale runs in a fresh subprocess (so peak memory is that scale's own) on the set's
documented default plan (``scenario.region_set_default``: Hoover spread, measured local
indicators); states are switched to Hoover too, for one model shape across scales.
Nothing is saved between runs: every first solve starts with no basis. Per scale it
reports:

- where the first solve's time goes, as the planner times it: build (the LP's arrays),
  load (passing them to HiGHS), start (the estimated plan, the first tangents and, for
  large LPs, crossover from the estimate) and HiGHS (its own time, all rounds of the
  tangent loop); where the first solve started is printed under the table;
- first solve: the whole first ``Planner.solve`` call and HiGHS's own run time within it;
- re-solve after a weight change on the same planner (warm basis, the tangents kept):
  median over ``--repeats`` changes of the whole call and of HiGHS's own time, the
  share of the rest (total - HiGHS) / HiGHS, the simplex iterations and loop rounds;
- peak memory (max RSS of the subprocess, measured before the floor step);
- tangents: how many the LP holds after the re-solves; err %: the first plan's
  approximation error as a share of the objective;
- the floor (unless ``--no-floor``): the same LP written from the planner's HiGHS object
  to MPS, read into a fresh ``highspy.Highs`` and solved cold by HiGHS alone.

Last measured (``--scales metros,counties --repeats 5 --first-runs 3 --no-floor``, load
average 1.4 on 2 cores shared with other work): metros first solve 0.29 s, re-solve
0.024 s (HiGHS 0.012 s); counties first solve 4.67 s with nothing saved, re-solve 1.14 s
(HiGHS 0.91 s), peak 588 MiB. The fixed 24/32-tangent Pyomo model this replaced, in
the same session (load 1.9): metros 2.82 s and 0.065 s; counties 37.1 s with no basis
and 3.25 s, peak 1,021 MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

SCALES = ("states", "metros", "counties")


def _scenario(scale: str, indicators, tangents: int | None):  # type: ignore[no-untyped-def]
    """The set's documented default plan (Hoover spread; states switched to Hoover too)."""
    from optimizer.engine.scenario import region_set_default

    base = region_set_default(scale, indicators)
    changes: dict = {"spread_measure": "hoover"}
    if tangents:
        changes["approximation"] = {**base.approximation.model_dump(mode="json"),
                                    "tangents": tangents}
    return base.updated(**changes)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def run_scale(scale: str, repeats: int, tangents: int | None, first_runs: int,
              floor_run: bool = True) -> dict:
    """Measure one scale in this process, in a fresh PLACEFUND_HOME; a JSON-able dict."""
    os.environ["PLACEFUND_HOME"] = tempfile.mkdtemp(prefix="placefund-bench-")
    import numpy as np

    import optimizer as pf

    regions = pf.load_regions(scale)
    scenario = _scenario(scale, regions.indicators, tangents)
    firsts = []
    for _ in range(first_runs):
        planner = pf.Planner(regions)
        start = time.perf_counter()
        plan = planner.solve(scenario)
        firsts.append((time.perf_counter() - start, plan.solver.build_time_s,
                       plan.solver.translate_time_s, plan.solver.start_time_s,
                       plan.solver.highs_time_s, plan.approximation["error_share"]))
        first_start = plan.solver.start
    first_total, build, translate, warm, first_highs, error_share = (
        statistics.median(v) for v in zip(*firsts))

    rng = np.random.default_rng(7)
    totals, highs, iters, rounds = [], [], [], []
    for _ in range(repeats):
        changed = scenario.updated(
            weights={k: float(w * rng.uniform(0.5, 1.5)) for k, w in scenario.weights.items()})
        start = time.perf_counter()
        result = planner.solve(changed)
        totals.append(time.perf_counter() - start)
        assert not result.solver.rebuilt
        highs.append(result.solver.highs_time_s)
        iters.append(result.solver.simplex_iterations)
        rounds.append(result.approximation["iterations"])
    peak = _peak_mib()

    # the floor: the same LP, written out and solved cold by HiGHS alone
    lp = planner.lp().highs
    floor = _floor(lp, scale) if floor_run else {}
    return {
        "scale": scale, "regions": len(regions),
        "tangents": int(result.approximation["tangents"]), "cols": lp.getNumCol(),
        "rows": lp.getNumRow(), "nnz": lp.getNumNz(), "build_s": build,
        "translate_s": translate, "start_s": warm, "first_s": first_total,
        "first_highs_s": first_highs, "resolve_s": statistics.median(totals),
        "resolve_highs_s": statistics.median(highs),
        "resolve_rest_ratio": statistics.median(
            (t - h) / h for t, h in zip(totals, highs, strict=True)),
        "resolve_iters": statistics.median(iters), "resolve_rounds": statistics.median(rounds),
        "repeats": repeats, "peak_mib": peak, "error_share": error_share,
        "floor_read_s": floor.get("read_s", float("nan")),
        "floor_run_s": floor.get("run_s", float("nan")), "first_start": first_start,
    }


def _floor(lp, scale: str) -> dict:  # type: ignore[no-untyped-def]
    """The LP written to MPS, read into a fresh HiGHS and solved cold: (read, run) seconds."""
    import highspy

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{scale}.mps")
        lp.setOptionValue("output_flag", False)
        lp.writeModel(path)
        floor = highspy.Highs()
        floor.setOptionValue("output_flag", False)
        start = time.perf_counter()
        floor.readModel(path)
        read_s = time.perf_counter() - start
        start = time.perf_counter()
        floor.run()
        return {"read_s": read_s, "run_s": time.perf_counter() - start}


def _print_table(rows: list[dict], load: tuple[float, float, float]) -> None:
    print(f"PlaceFund scale benchmark (Hoover spread, weights re-solves; "
          f"load average at start {load[0]:.1f} on {os.cpu_count()} cores)\n")
    head = (f"{'scale':<9}{'n':>6}{'K':>7}{'cols':>9}{'rows':>8}{'build':>7}{'load':>7}"
            f"{'start':>7}{'first':>8}"
            f"{'HiGHS':>8}{'re-solve':>9}{'HiGHS':>8}{'rest/H':>7}{'it':>6}{'rd':>4}{'peak MiB':>9}"
            f"{'err %':>8}{'floor':>8}{'(read)':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['scale']:<9}{r['regions']:>6}{r['tangents']:>7}{r['cols']:>9}{r['rows']:>8}"
              f"{r['build_s']:>7.2f}{r['translate_s']:>7.2f}{r['start_s']:>7.2f}"
              f"{r['first_s']:>8.2f}{r['first_highs_s']:>8.2f}"
              f"{r['resolve_s']:>9.3f}{r['resolve_highs_s']:>8.3f}"
              f"{r['resolve_rest_ratio']:>7.2f}{r['resolve_iters']:>6.0f}{r['resolve_rounds']:>4.0f}"
              f"{r['peak_mib']:>9.0f}"
              f"{100 * r['error_share']:>8.3f}{r['floor_run_s']:>8.2f}{r['floor_read_s']:>8.2f}")
    for r in rows:
        print(f"{r['scale']}: the first solve started from {r['first_start']}")
    print("\nTimes in seconds, medians. K: tangents in the LP after the re-solves; build: the "
          "LP's arrays; load: passing them to HiGHS; start: estimate, first tangents, crossover "
          "for large LPs; first: whole first solve (those, HiGHS, result tables); HiGHS: its own "
          "run time; re-solve: median whole call after a weight change; rest/H: (re-solve - "
          "HiGHS) / HiGHS; it: simplex iterations per re-solve; rd: tangent-loop rounds; "
          "peak: max RSS of the scale's process; err %: LP objective above the exact one, % of "
          "it; floor: cold HiGHS run on the written MPS, alone (read: reading it).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="states,metros,counties",
                        help="comma-separated, of states,metros,counties")
    parser.add_argument("--repeats", type=int, default=5, help="re-solves per scale")
    parser.add_argument("--tangents", type=int, default=None,
                        help="tangent count (default: the scenario's)")
    parser.add_argument("--first-runs", type=int, default=1,
                        help="fresh planners per scale for the first-solve median")
    parser.add_argument("--no-floor", action="store_true",
                        help="skip the cold HiGHS run on the written LP (about a minute on counties)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(run_scale(args.worker, args.repeats, args.tangents, args.first_runs,
                                   floor_run=not args.no_floor)))
        return

    scales = [s.strip() for s in args.scales.split(",") if s.strip()]
    unknown = sorted(set(scales) - set(SCALES))
    if unknown:
        parser.error(f"unknown scale(s) {unknown}; choose from {', '.join(SCALES)}")
    load = os.getloadavg()
    rows = []
    for scale in scales:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", scale,
               "--repeats", str(args.repeats), "--first-runs", str(args.first_runs)]
        if args.no_floor:
            cmd.append("--no-floor")
        if args.tangents:
            cmd += ["--tangents", str(args.tangents)]
        print(f"[{scale}] running ...", file=sys.stderr, flush=True)
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            raise SystemExit(f"{scale}: worker failed (exit {done.returncode})")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    _print_table(rows, load)
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
