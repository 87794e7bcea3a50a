"""``placefund solve``, ``check`` and ``facts``: one plan, its verification, the data's facts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from optimizer.cli._common import GeometryOpt, RegionsOpt, ScenarioOpt, check_out_dir


def solve(
    scenario: ScenarioOpt = None,
    regions: RegionsOpt = "states",
    geometry: GeometryOpt = None,
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Directory for the plan files.")] = Path(
        "plans/latest"
    ),
) -> None:
    """Solve a scenario and write allocation.csv, regions.csv, metrics.json, scenario.yaml."""
    from optimizer import load_regions
    from optimizer import solve as solve_plan
    from optimizer.analysis.facts import filled_sentence
    from optimizer.engine.scenario import base_scenario
    from optimizer.report.text import plan_summary

    check_out_dir(out)
    region_table = load_regions(regions, geometry=geometry)
    if region_table.geometry_note:
        typer.echo(f"note: {region_table.geometry_note}", err=True)
    # a file gives what it changes from the region set's base (a shipped set's default)
    sc = base_scenario(regions, region_table.indicators, scenario)
    plan = solve_plan(region_table, sc)
    plan.to_dir(out)
    typer.echo(plan_summary(plan))
    for note in plan.notes:
        typer.echo(f"note: {note}")
    filled = filled_sentence(plan.filled_values, plan.scenario)
    if filled:
        typer.echo(f"\n{filled}")
    approx = plan.approximation
    if not approx["within_tolerance"]:
        typer.echo(
            f"warning: the LP's response approximation is off by {approx['error_share']:.3%} "
            "of the objective; raise approximation.tangents", err=True
        )
    typer.echo(f"\nWrote {out}/ (allocation.csv, regions.csv, metrics.json, scenario.yaml)")


def horizon(
    scenario: ScenarioOpt = None,
    regions: RegionsOpt = "states",
    geometry: GeometryOpt = None,
    centers: Annotated[int | None, typer.Option(
        "--centers", metavar="K", help="Also the plan that funds only K growth centers "
        "(the scenario's growth_centers keys, or 10 leading regions excluded and one year "
        "of support).")] = None,
    out: Annotated[Path, typer.Option("--out", metavar="DIR",
                                      help="Directory for the plans and comparison.csv.")
                   ] = Path("plans/horizon"),
) -> None:
    """A plan over time beside the plan made year by year (and growth centers): what
    foresight buys. Writes each plan's folder and comparison.csv under DIR."""
    from optimizer import load_regions
    from optimizer.analysis.periods import comparison_table, horizon_plans
    from optimizer.engine.scenario import base_scenario
    from optimizer.report.text import horizon_summary, horizon_table

    check_out_dir(out)
    region_table = load_regions(regions, geometry=geometry)
    sc = base_scenario(regions, region_table.indicators, scenario)
    rule = None
    if centers is not None:
        given = sc.growth_centers.model_dump() if sc.growth_centers is not None else {}
        rule = {**given, "count": centers}
    plans = horizon_plans(region_table, sc.updated(growth_centers=None), rule)
    out.mkdir(parents=True, exist_ok=True)
    for name, plan in plans.items():
        plan.to_dir(out / name.replace(" ", "_"))
    table = comparison_table(plans)
    horizon_table(table, sc.objective_key).to_csv(out / "comparison.csv", index=False)
    typer.echo(horizon_summary(table, sc.periods.years, sc.objective_key))
    typer.echo(f"\nWrote {out}/ ({', '.join(n.replace(' ', '_') for n in plans)}, "
               "comparison.csv)")


def check(
    plan_dir: Annotated[Path, typer.Argument(metavar="PLAN_DIR",
                                             help="A directory written by `placefund solve`.")],
) -> None:
    """Re-verify a plan directory without the solver; exit 1 on any violation."""
    from optimizer.analysis.consensus_check import check_plan_dir  # a consensus/robust plan in full
    from optimizer.report.text import check_summary

    report = check_plan_dir(plan_dir)
    typer.echo(check_summary(report))
    if not report.ok:
        raise typer.Exit(1)


def facts(regions: RegionsOpt = "metros") -> None:
    """How concentrated each measured indicator is (top-10 share, Gini), beside the article."""
    from optimizer import load_regions
    from optimizer.analysis.facts import facts_text

    typer.echo(facts_text(load_regions(regions)))


COMMANDS = ((solve, "solve"), (horizon, "horizon"), (check, "check"), (facts, "facts"))
