"""``placefund sweep|robust|pareto|tornado SPEC --out DIR`` and ``placefund ranging``.

Without ``--scheduler`` a run picks serial or a local Dask cluster itself: it solves its
first chunk in this process, estimates what the rest costs either way and says which it
chose and why (``runs.choose_executor``). ``--scheduler serial`` runs in this process,
``--scheduler local`` on a local cluster, ``--scheduler ADDRESS`` on a running cluster
(``dask scheduler`` + ``dask worker ADDRESS``). Finished runs are saved as they
complete; re-running the same command resumes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

SpecArg = Annotated[Path, typer.Argument(metavar="SPEC", help="Analysis spec YAML (see examples/).")]
OutOpt = Annotated[Path, typer.Option("--out", metavar="DIR",
                                      help="Directory for tables, charts and summary.")]
SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", metavar="WHERE",
                 help="Where the runs execute: 'serial' in this process, 'local' on a Dask "
                 "cluster on this machine, or a scheduler address tcp://HOST:PORT; default: "
                 "serial or a local cluster, whichever the first runs' measured time favours "
                 "(the choice and its reason are printed and kept in summary.json)."),
]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", metavar="N", min=1,
                             help="Local cluster size, whenever one runs (default: all cores).")
]


class _Rate(ProgressColumn):
    """Runs per second."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} runs/s" if speed else "-- runs/s", style="cyan")


def _run(kind: str, spec_path: Path, out: Path, scheduler: str | None,
         workers: int | None) -> None:
    from optimizer.analysis.runs import Backend
    from optimizer.analysis.sensitivity import load_spec, run_analysis
    from optimizer.cli._common import check_analysis_dir

    spec = load_spec(spec_path, analysis=kind)
    check_analysis_dir(out, kind)
    backend = Backend.from_option(scheduler, workers)
    console = Console(stderr=True)
    columns = (TextColumn(f"{kind}"), BarColumn(), MofNCompleteColumn(), _Rate(),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(kind, total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        try:
            result = run_analysis(spec, base_dir=spec_path.parent, backend=backend, out=out,
                                  progress=progress)
        except KeyboardInterrupt:
            bar.stop()
            typer.echo(f"interrupted: finished runs are kept in {out}/partial; run the same "
                       "command again to resume", err=True)
            raise typer.Exit(130) from None
    result.write(out)
    typer.echo(result.text)
    if backend.choice is not None:
        typer.echo(f"\n{backend.choice.sentence}")
    typer.echo(f"\nWrote {out}/ ({', '.join(f'{t}.csv' for t in result.tables)}, "
               "run_regions.parquet, charts.html, summary.json) via " + backend.describe(reason=False))
    if result.failed:
        typer.echo(f"warning: {result.failed} run(s) failed; their reasons are in {out}/runs.csv",
                   err=True)


def sweep(spec: SpecArg, out: OutOpt = Path("analyses/sweep"), scheduler: SchedulerOpt = None,
          workers: WorkersOpt = None) -> None:
    """Vary scenario parameters over a grid; metrics and allocations per point."""
    _run("sweep", spec, out, scheduler, workers)


def robust(spec: SpecArg, out: OutOpt = Path("analyses/robust"), scheduler: SchedulerOpt = None,
           workers: WorkersOpt = None) -> None:
    """Sample indicator weights; per region the probability of funding and its spread."""
    _run("robust", spec, out, scheduler, workers)


def pareto(spec: SpecArg, out: OutOpt = Path("analyses/pareto"), scheduler: SchedulerOpt = None,
           workers: WorkersOpt = None) -> None:
    """Exact capacity-versus-spread frontier (epsilon-constraint), current plan marked."""
    _run("pareto", spec, out, scheduler, workers)


def tornado(spec: SpecArg, out: OutOpt = Path("analyses/tornado"), scheduler: SchedulerOpt = None,
            workers: WorkersOpt = None) -> None:
    """One-at-a-time +/- changes of each parameter: tornado charts."""
    _run("tornado", spec, out, scheduler, workers)


def sobol(spec: SpecArg, out: OutOpt = Path("analyses/sobol"), scheduler: SchedulerOpt = None,
          workers: WorkersOpt = None) -> None:
    """Global sensitivity: Sobol indices (with confidence intervals) of headline metrics."""
    _run("sobol", spec, out, scheduler, workers)


def ranging(
    scenario: Annotated[Path | None, typer.Option("--scenario", metavar="FILE",
                                                  help="Scenario YAML.")] = None,
    regions: Annotated[str, typer.Option("--regions", metavar="SET|CSV",
                                         help="Region set or CSV path.")] = "states",
    out: Annotated[Path | None, typer.Option("--out", metavar="DIR", help="Write ranging.csv here.")] = None,
    weights: Annotated[bool, typer.Option(help="Also range each weight (re-solves).")] = True,
) -> None:
    """Intervals of budget, lambda and each weight over which the funded regions stay."""
    from optimizer import load_regions
    from optimizer.analysis.sensitivity import ranging as compute
    from optimizer.engine.scenario import base_scenario

    region_table = load_regions(regions)
    table = compute(region_table, base_scenario(regions, region_table.indicators, scenario),
                    weights=weights)
    for _, row in table.iterrows():
        typer.echo(f"{row['parameter']}: {row['meaning']}")
    if out is not None:
        from optimizer.cli._common import write_atomically

        write_atomically(out / "ranging.csv", table.to_csv(index=False).encode())
        typer.echo(f"\nWrote {out}/ranging.csv")


COMMANDS = ((sweep, "sweep"), (robust, "robust"), (pareto, "pareto"), (tornado, "tornado"),
            (sobol, "sobol"), (ranging, "ranging"))
