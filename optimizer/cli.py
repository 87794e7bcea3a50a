"""The ``placefund`` command line.

Exit codes: 0 success, 1 infeasible scenario / solver failure / plan that fails its
check, 2 invalid input. User errors print one clear message, never a traceback.
Analysis commands (sweeps, robustness, ...) register themselves from their own
modules through ``register``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer

from optimizer.errors import PlaceFundError

app = typer.Typer(
    name="placefund",
    help="Allocate a place-based funding budget across regions (see README.md).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

RegionsOpt = Annotated[
    str,
    typer.Option("--regions", help="Shipped region set (states, metros, counties) or a CSV path."),
]
ScenarioOpt = Annotated[
    Path | None,
    typer.Option("--scenario", help="Scenario YAML; omitted keys take the defaults."),
]
GeometryOpt = Annotated[
    Path | None,
    typer.Option("--geometry", help="GeoJSON keyed by region_id, for a CSV's maps."),
]


def user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn PlaceFund's user errors into a message on stderr and their exit code."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PlaceFundError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(err.exit_code) from None

    return wrapper


def register(command: Callable[..., Any], name: str | None = None) -> None:
    """Add a command (wrapped in ``user_errors``) to the ``placefund`` app."""
    app.command(name=name)(user_errors(command))


@app.command()
@user_errors
def solve(
    scenario: ScenarioOpt = None,
    regions: RegionsOpt = "states",
    geometry: GeometryOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Directory for the plan files.")] = Path(
        "plans/latest"
    ),
) -> None:
    """Solve a scenario and write allocation.csv, regions.csv, metrics.json, scenario.yaml."""
    from optimizer import load_regions, load_scenario
    from optimizer import solve as solve_plan
    from optimizer.data import REGION_SETS
    from optimizer.scenario import region_set_default

    region_table = load_regions(regions, geometry=geometry)
    if scenario is None and regions in REGION_SETS:
        sc = region_set_default(regions, region_table.indicators)  # documented per set
    else:
        sc = load_scenario(scenario)
    plan = solve_plan(region_table, sc)
    plan.to_dir(out)
    typer.echo(plan.summary())
    approx = plan.approximation
    if not approx["within_tolerance"]:
        typer.echo(
            f"warning: the LP's response approximation is off by {approx['error_share']:.3%} "
            "of the objective; raise approximation.tangents", err=True
        )
    typer.echo(f"\nWrote {out}/ (allocation.csv, regions.csv, metrics.json, scenario.yaml)")


@app.command()
@user_errors
def check(
    plan_dir: Annotated[Path, typer.Argument(help="A directory written by `placefund solve`.")],
) -> None:
    """Re-verify a plan directory without the solver; exit 1 on any violation."""
    from optimizer.check import check_dir

    report = check_dir(plan_dir)
    typer.echo(str(report))
    if not report.ok:
        raise typer.Exit(1)


# --- command modules: each registers its commands with `register` on import ---
import optimizer.export_cli  # noqa: E402,F401
import optimizer.sensitivity_cli  # noqa: E402,F401


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
