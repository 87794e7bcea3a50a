"""``placefund explain``: why a region gets what it gets, and what moved it between plans."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def explain(
    plan_dir: Annotated[Path, typer.Argument(help="A directory written by `placefund solve`.")],
    region: Annotated[str, typer.Argument(help="A region id, postal code or name.")],
    against: Annotated[Path | None, typer.Option(
        "--against", help="Another plan directory on the same regions: split the region's "
                          "change in dollars into the settings that differ.")] = None,
) -> None:
    """Explain a region's dollars: data, baseline, multipliers, marginal returns against the
    budget's shadow price, binding rules, the spread term and what its dollars buy."""
    from optimizer.analysis.explain import attribute, explain_region
    from optimizer.engine.result import AllocationResult

    plan = AllocationResult.from_dir(plan_dir)
    explanation = explain_region(plan, region)
    typer.echo(explanation.to_text())
    if against is not None:
        other = AllocationResult.from_dir(against)
        split = attribute(plan, other)
        typer.echo(f"\nAgainst {against} (each setting that differs, re-solved alone from "
                   f"{plan_dir}; the interaction is what is left):")
        typer.echo("  " + split.region_text(explanation.region_id))


COMMANDS = ((explain, "explain"),)
