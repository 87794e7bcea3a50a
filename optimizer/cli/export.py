"""``placefund export``: turn a plan directory into a CSV, Excel, GeoJSON, HTML or YAML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from optimizer.cli._common import check_out_file, write_atomically
from optimizer.engine.errors import DataError

FORMAT_HELP = {  # every format of optimizer.report.export.FORMATS (a test holds them equal);
    # written here so that --help does not import the exports
    "csv": "the allocation (region × instrument) as CSV",
    "xlsx": "an Excel workbook: allocation, regions, metrics and scenario",
    "geojson": "the per-region table joined to the region polygons",
    "html": "a one-page brief that prints to PDF",
    "yaml": "the scenario, which reproduces the plan",
}
_FORMATS_TEXT = "; ".join(f"{name}: {what}" for name, what in FORMAT_HELP.items())


def export(
    plan_dir: Annotated[Path, typer.Argument(metavar="PLAN_DIR",
                                             help="A directory written by `placefund solve`.")],
    format: Annotated[str, typer.Option("--format", metavar="FORMAT",
                                        help=f"One of {_FORMATS_TEXT}.")] = "xlsx",
    out: Annotated[Path | None, typer.Option("--out", metavar="FILE",
                                             help="Output file (default: in PLAN_DIR).")] = None,
    geometry: Annotated[Path | None, typer.Option(
        "--geometry", help="GeoJSON keyed by region_id, for plans on a CSV of your own.")] = None,
) -> None:
    """Export a plan as CSV, Excel, GeoJSON (joined to polygons), a one-page HTML brief or
    its scenario YAML (--format)."""
    from optimizer.engine.data import load_geometry
    from optimizer.report.export import FORMATS, export_bytes, load_plan, shipped_geometry

    fmt = format.lower().lstrip(".")
    if fmt not in FORMATS:
        raise DataError(f"unknown format '{format}'; choose one of {', '.join(FORMATS)}")
    plan = load_plan(plan_dir)
    ids = plan.regions["region_id"].astype(str).tolist()
    shapes = load_geometry(geometry, ids) if geometry is not None else shipped_geometry(plan)
    if fmt == "geojson" and shapes is None:
        raise DataError("the plan's regions are not a shipped set and it keeps no "
                        "geometry.geojson: pass --geometry FILE.geojson")
    target = out or plan_dir / f"plan.{fmt}"
    check_out_file(target)  # before the work, not after
    data = export_bytes(plan, fmt, shapes, title=f"PlaceFund plan: {plan_dir.name}")
    write_atomically(target, data)
    typer.echo(f"Wrote {target} ({len(data) / 1024:,.0f} KB)")


COMMANDS = ((export, "export"),)
