"""The numbers the documentation quotes, computed here so they cannot drift.

Each generated block of a doc sits between ``<!-- generated: NAME -->`` and
``<!-- end generated: NAME -->``; this script recomputes every block from a run of the
product and writes it (``--write``) or exits 1 naming the blocks that differ
(``--check``, what ``tests/test_docs_numbers.py`` runs).

Blocks:
- ``robust-plan`` in docs/consensus.md: ``examples/robust_plan.yaml`` as shipped (100
  samples, 100 fresh ones), robust against default plan out of sample, with the paired
  bootstrap interval of the difference; and the same plan judged on 5,000 fresh draws
  (another seed, no core index) as a larger out-of-sample check.
- ``linearization`` in docs/model.md: the default states plan over 10 years at the
  central growth, its objective linearized and under the exact dynamics, beside what
  foresight buys; and the gap at a high elasticity.
- ``own-rates`` in docs/model.md: the same plans with the rates read off their own path.

Usage: .venv/bin/python scripts/docs_numbers.py --check | --write
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LARGE_FRESH = 5000  # fresh draws of the larger out-of-sample check
LARGE_SEED = 9


def _fmt(value: float, digits: int = 3, plus: bool = False) -> str:
    from optimizer.engine.formatting import number

    return number(value, digits, plus)


def robust_plan_block() -> str:
    """The robust-plan comparison of docs/consensus.md, from two runs of the example."""
    from optimizer.analysis.bootstrap import interval_text
    from optimizer.analysis.consensus.run import run_robust_spec
    from optimizer.analysis.consensus.spec import OutOfSample, load_robust_spec
    from optimizer.analysis.runs import Backend

    path = ROOT / "examples" / "robust_plan.yaml"
    spec = load_robust_spec(path)
    run = run_robust_spec(spec, base_dir=path.parent, backend=Backend("serial"))
    large_spec = spec.model_copy(update={"out_of_sample": OutOfSample(
        samples=LARGE_FRESH, seed=LARGE_SEED, core_index=False)})
    large = run_robust_spec(large_spec, base_dir=path.parent, backend=Backend("serial"))
    s = run.stats
    out, ins = s.loc["out_of_sample"], s.loc["in_sample"]
    diff, big = run.difference(), large.difference()
    assert diff is not None and big is not None
    alpha = f"{run.alpha:.0%}"
    inside = diff["cvar"]["low"] <= big["cvar"]["estimate"] <= diff["cvar"]["high"]
    lines = [
        f"Out of sample, on `examples/robust_plan.yaml` ({len(run.samples):,} samples, "
        f"{len(run.fresh_samples):,} fresh ones):",
        "",
        f"| plan | mean S | CVaR at {alpha} | worst |",
        "|---|---|---|---|",
        f"| robust (CVaR at {alpha}) | {_fmt(out['robust']['mean'])} | **{_fmt(out['robust']['cvar'])}** | "
        f"{_fmt(out['robust']['worst'])} |",
        f"| default plan | {_fmt(out['default']['mean'])} | {_fmt(out['default']['cvar'])} | "
        f"{_fmt(out['default']['worst'])} |",
        "",
        f"The robust plan changes mean S by {_fmt(diff['mean']['estimate'], plus=True)} points and "
        f"the CVaR (the mean of the worst {alpha} of judgments) by "
        f"{_fmt(diff['cvar']['estimate'], plus=True)} (in sample: CVaR "
        f"{_fmt(ins['robust']['cvar'])} against {_fmt(ins['default']['cvar'])}). With "
        f"{len(run.fresh_samples):,} fresh samples that gain is itself uncertain: resampling "
        f"them ({diff['resamples']:,} paired bootstrap draws, `robust.json`'s "
        f"`out_of_sample_difference`, and the last line `robust-plan` prints) gives CVaR "
        f"{interval_text(diff['cvar'], diff['level'])} and mean "
        f"{interval_text(diff['mean'], diff['level'])}.",
        "",
        f"Judged on {LARGE_FRESH:,} fresh draws instead (seed {LARGE_SEED}, "
        f"`out_of_sample: {{samples: {LARGE_FRESH}, seed: {LARGE_SEED}, core_index: false}}`), "
        f"the same plan's CVaR gain is {interval_text(big['cvar'], big['level'])} and its mean "
        f"change {interval_text(big['mean'], big['level'])}; the larger check's CVaR gain is "
        f"{'inside' if inside else 'outside'} "
        f"the {len(run.fresh_samples):,}-sample interval.",
    ]
    return "\n".join(lines)


def linearization_block() -> str:
    """How far the growth rates' linearization is from the exact dynamics (docs/model.md)."""
    import optimizer as pf
    from optimizer.analysis.evidence import evidence_table
    from optimizer.analysis.periods import foresight

    states = pf.load_regions("states")
    growth = evidence_table()["growth"]
    base_rate, eta = (float(growth[k]["central"]) for k in ("base_rate",
                                                              "agglomeration_elasticity"))
    scenario = pf.load_scenario().updated(
        periods={"years": 10}, growth={"base_rate": base_rate, "agglomeration_elasticity": eta})
    seen = foresight(states, scenario)
    plan = seen.foresighted
    exact = float(plan.approximation["unlinearized_objective"])
    high = pf.Planner(states).solve(scenario.updated(
        growth={"base_rate": base_rate, "agglomeration_elasticity": 0.05}))
    high_gap = float(high.approximation["unlinearized_objective"]) - high.objective
    return (f"The default states plan over 10 years at the central growth (base {base_rate:g}, "
            f"η {eta:g}) scores {_fmt(plan.objective, 2)} points linearized and "
            f"{_fmt(exact, 2)} under the exact dynamics "
            f"({_fmt(exact - plan.objective, 2, plus=True)}; foresight buys "
            f"{_fmt(seen.value_points, 2, plus=True)} there); at η = 0.05 the gap is "
            f"{_fmt(high_gap, 2, plus=True)}.")


def own_rates_block() -> str:
    """The default states plan over 10 years with the rates read off its own path
    (docs/model.md), beside the linearized plan judged on its own exact path."""
    import optimizer as pf
    from optimizer.analysis.evidence import evidence_table
    from optimizer.analysis.periods import foresight

    states = pf.load_regions("states")
    growth = {k: float(evidence_table()["growth"][k]["central"])
              for k in ("base_rate", "agglomeration_elasticity")}
    lines = []
    for eta in (growth["agglomeration_elasticity"], 0.05):
        keys = {**growth, "agglomeration_elasticity": eta}
        scenario = pf.load_scenario().updated(periods={"years": 10}, growth=keys)
        linear = pf.Planner(states).solve(scenario)
        seen = foresight(states, scenario.updated(growth={**keys, "rates_from": "plan"}))
        own = seen.foresighted
        moved = float(abs(own.funding_usd() - linear.funding_usd()).sum() / 2)
        lines.append(
            f"At η = {eta:g} (states, 10 years, base {growth['base_rate']:g}) the plan at its "
            f"own rates took {own.approximation['rate_rounds']} solves and scores "
            f"{_fmt(own.objective, 2)} points on its exact path, against "
            f"{_fmt(float(linear.approximation['unlinearized_objective']), 2)} for the "
            f"linearized plan on its own exact path; it moves {_money(moved)} of the "
            f"{_money(scenario.budget)}. "
            f"Judged this way, foresight buys {_fmt(seen.value_points, 2, plus=True)}.")
    return "\n".join(lines)


def _money(usd: float) -> str:
    from optimizer.engine.formatting import money

    return money(usd)


BLOCKS: dict[str, tuple[Path, Callable[[], str]]] = {
    "robust-plan": (ROOT / "docs" / "consensus.md", robust_plan_block),
    "linearization": (ROOT / "docs" / "model.md", linearization_block),
    "own-rates": (ROOT / "docs" / "model.md", own_rates_block),
}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- generated: {re.escape(name)} -->\n)(.*?)(\n<!-- end generated: "
                      rf"{re.escape(name)} -->)", re.S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 if a block is out of date")
    mode.add_argument("--write", action="store_true", help="rewrite the blocks")
    args = parser.parse_args(argv)
    stale = []
    for name, (doc, compute) in BLOCKS.items():
        text = doc.read_text(encoding="utf-8")
        match = _pattern(name).search(text)
        if match is None:
            print(f"{doc.relative_to(ROOT)}: no '<!-- generated: {name} -->' block", file=sys.stderr)
            return 2
        fresh = compute()
        if match.group(2) != fresh:
            stale.append(name)
            if args.write:
                doc.write_text(text[:match.start(2)] + fresh + text[match.end(2):], encoding="utf-8")
    if args.check and stale:
        print(f"out of date: {', '.join(stale)} (run scripts/docs_numbers.py --write)",
              file=sys.stderr)
        return 1
    print(("rewrote: " + ", ".join(stale)) if args.write and stale else "up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
