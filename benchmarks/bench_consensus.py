"""Benchmark consensus and robust plans against the bar of the issue.

Run: .venv/bin/python benchmarks/bench_consensus.py [--repeats 3]

Times the whole API call (the base scenario's own solve, the model with one block per
stakeholder or sample, every solve, the checker on every plan, the exact statistics):

- states, the 5 stakeholders of examples/consensus_states.yaml, exact pairwise Gini
  (bar: 10 s);
- states, a robust plan over N = 100 samples with the Hoover spread, the samples of
  examples/robust_plan.yaml (bar: 30 s; the fresh samples' own optima for the core
  index are timed apart, they are N more ordinary solves);
- metros, the 3 stakeholders of examples/consensus_metros.yaml, Hoover (bar: 30 s).

It also prints the out-of-sample comparison: CVaR at 10% of S of the robust plan and
of the default plan on the same 100 fresh samples.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from optimizer.analysis import consensus as cs
from optimizer.analysis.runs import Backend
from optimizer.report.consensus import comparison

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def timed(func):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


def _consensus(name: str, repeats: int, bar: float) -> None:
    spec = cs.load_consensus_spec(EXAMPLES / name)
    regions, base = cs.prepare_spec(spec, EXAMPLES)
    times, result = [], None
    for _ in range(repeats):
        seconds, result = timed(lambda: cs.consensus(regions, base, dict(spec.stakeholders)))
        times.append(seconds)
    assert result is not None
    info = result.info
    print(f"{name}: {len(spec.stakeholders)} stakeholders, {info['regions']} regions, "
          f"{info['spread_measure']}: median {statistics.median(times):.2f} s "
          f"(min {min(times):.2f}, bar {bar:g} s); model build {info['build_time_s']:.2f} s, "
          f"load {info['translate_time_s']:.2f} s, {info['solves']} solves "
          f"{info['solve_time_s']:.2f} s; t = {result.t:.4f}")


def _robust(repeats: int) -> None:
    spec = cs.load_robust_spec(EXAMPLES / "robust_plan.yaml")
    regions, base = cs.prepare_spec(spec, EXAMPLES)
    samples = cs.draw_samples(spec, base, spec.samples, spec.seed)
    fresh = cs.draw_samples(spec, base, spec.samples, spec.seed + 1)
    times, result = [], None
    for _ in range(repeats):
        seconds, result = timed(lambda: cs.robust_plan(regions, base, samples, spec.objective,
                                                       spec.alpha, fresh))
        times.append(seconds)
    assert result is not None
    info = result.info
    print(f"robust_plan.yaml: N = {len(samples)} samples, {info['regions']} regions, "
          f"{base.spread_measure}, {spec.objective} at alpha {spec.alpha:g}: median "
          f"{statistics.median(times):.2f} s (min {min(times):.2f}, bar 30 s); model build "
          f"{info['build_time_s']:.2f} s, load {info['translate_time_s']:.2f} s, solve "
          f"{info['solve_time_s']:.2f} s")
    core_s, _ = timed(lambda: cs.robust_plan(regions, base, samples, spec.objective, spec.alpha,
                                             fresh, core_backend=Backend("serial"),
                                             threshold_usd=spec.funded_threshold_usd))
    print(f"  with the core index ({len(fresh)} fresh own optima, serial): {core_s:.2f} s")
    print("  " + comparison(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    _consensus("consensus_states.yaml", args.repeats, 10)
    _robust(args.repeats)
    _consensus("consensus_metros.yaml", args.repeats, 30)


if __name__ == "__main__":
    main()
