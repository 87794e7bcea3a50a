"""``placefund consensus SPEC --out DIR`` and ``placefund robust-plan SPEC --out DIR``.

Both write the plan files as ``solve`` does (so ``export`` and ``check`` work on them)
plus their own tables; ``placefund check DIR`` re-verifies every reported number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from optimizer.cli._common import check_out_dir
from optimizer.engine.result import AllocationResult

SpecArg = Annotated[Path, typer.Argument(metavar="SPEC",
                                         help="Consensus or robust-plan spec YAML (see examples/).")]
OutOpt = Annotated[Path, typer.Option("--out", metavar="DIR",
                                      help="Directory for the plan files and tables.")]
SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", metavar="WHERE", help="Where the fresh samples' own optima (core "
                 "index) run: 'serial' in this process, 'local' a Dask cluster on all cores, or "
                 "a scheduler address tcp://HOST:PORT; default: serial or a local cluster, "
                 "whichever the first samples' measured time favours (said in robust.json)."),
]


def _warn_approximation(plan: AllocationResult) -> None:
    approx = plan.approximation
    if not approx["within_tolerance"]:
        typer.echo(f"warning: the LP's response approximation is off by {approx['error_share']:.3%} "
                   "of a stakeholder's or sample's S; raise approximation.tangents in the base "
                   "scenario", err=True)


def consensus(spec: SpecArg, out: OutOpt = Path("plans/consensus"),
              scheduler: Annotated[str | None, typer.Option(
                  "--scheduler", metavar="WHERE",
                  help="Also solve each stakeholder's own optimum as an ordinary "
                  "plan through the sensitivity execution: serial, local (Dask on all cores), "
                  "auto (whichever the first runs' measured time favours) or tcp://HOST:PORT; "
                  "compared in consensus.json.")] = None) -> None:
    """One plan for several stakeholders: the largest smallest share of attainable gain."""
    from optimizer.analysis.consensus.run import run_consensus_spec
    from optimizer.analysis.consensus.spec import load_consensus_spec
    from optimizer.analysis.runs import Backend
    from optimizer.report.consensus import consensus_text, write_consensus

    parsed = load_consensus_spec(spec)
    check_out_dir(out)
    backend = Backend.from_option(scheduler) if scheduler else None
    result = run_consensus_spec(parsed, base_dir=spec.parent, backend=backend)
    write_consensus(result, out)
    typer.echo(consensus_text(result))
    if backend is not None and backend.choice is not None:
        typer.echo(f"\nOwn optima: {backend.choice.sentence}")
    _warn_approximation(result.plan)
    typer.echo(f"\nWrote {out}/ (plan files, consensus.json, achievement.csv, scores.csv, "
               "own_plans.csv); `placefund check` re-verifies them")


def robust_plan(spec: SpecArg, out: OutOpt = Path("plans/robust"),
                scheduler: SchedulerOpt = None) -> None:
    """The plan with the best mean, CVaR or worst case of S over sampled judgments."""
    from optimizer.analysis.consensus.run import run_robust_spec
    from optimizer.analysis.consensus.spec import load_robust_spec
    from optimizer.analysis.runs import Backend
    from optimizer.report.consensus import robust_text, write_robust

    parsed = load_robust_spec(spec)
    check_out_dir(out)
    backend = Backend.from_option(scheduler)
    result = run_robust_spec(parsed, base_dir=spec.parent, backend=backend)
    write_robust(result, out)
    typer.echo(robust_text(result))
    if backend.choice is not None:
        typer.echo(f"\nCore index: {backend.choice.sentence}")
    _warn_approximation(result.plan)
    typer.echo(f"\nWrote {out}/ (plan files, robust.json, samples.csv, fresh_samples.csv, "
               "sample_scores.csv, default_allocation.csv, core_index.csv); `placefund check` "
               "re-verifies them")


COMMANDS = ((consensus, "consensus"), (robust_plan, "robust-plan"))
