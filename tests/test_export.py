"""Exports: Excel, GeoJSON, HTML brief, scenario YAML, plan directories and the CLI."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

import optimizer as pf
from optimizer.cli import app
from optimizer.engine.scenario import scenario_from_text
from optimizer.report import export as ex


@pytest.fixture(scope="module")
def states() -> pf.Regions:
    return pf.load_regions("states")


@pytest.fixture(scope="module")
def plan(states: pf.Regions) -> pf.AllocationResult:
    return pf.Planner(states).solve(pf.load_scenario().updated(spread_weight=0.7, budget="$40B"))


@pytest.fixture(scope="module")
def plan_dir(plan: pf.AllocationResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return plan.to_dir(tmp_path_factory.mktemp("plans") / "p")


def test_csv_is_the_allocation_under_the_workbooks_labels(plan: pf.AllocationResult) -> None:
    table = pd.read_csv(io.BytesIO(ex.to_csv_bytes(plan)), dtype={"Region code": str})
    assert list(table.columns) == ["Region code", "Region", "Instrument", "Amount (USD)"]
    assert table["Amount (USD)"].sum() == pytest.approx(40e9, rel=1e-9)
    sheet = pd.read_excel(io.BytesIO(ex.to_excel_bytes(plan)), sheet_name="allocation",
                          dtype={"Region code": str})
    assert list(sheet.columns) == list(table.columns)  # one set of labels in both exports
    assert set(table["Instrument"]) == set(sheet["Instrument"]) == {
        "Research grants", "Talent and training", "Compute and infrastructure",
        "Venture co-investment"}


def test_excel_has_one_sheet_each_and_the_numbers_agree(plan: pf.AllocationResult) -> None:
    book = openpyxl.load_workbook(io.BytesIO(ex.to_excel_bytes(plan)))
    assert book.sheetnames == ["allocation", "regions", "metrics", "outcomes", "scenario"]
    sheets = pd.read_excel(io.BytesIO(ex.to_excel_bytes(plan)), sheet_name=None,
                           dtype={"Region code": str})
    assert sheets["allocation"]["Amount (USD)"].sum() == pytest.approx(plan.spent_usd)
    # what the plan buys, by region and indicator, in the indicator's own unit
    outcomes = sheets["outcomes"]
    rd = outcomes[outcomes["Indicator"] == "University S&E R&D"]
    assert len(rd) == 51 and set(rd["Unit"]) == {"$ millions"}
    assert rd["Gain"].sum() == pytest.approx(plan.outcome_totals["university_se_rd_musd"]["gain"])
    assert book["outcomes"]["F2"].number_format.startswith('"$"')
    assert (outcomes["After"] - outcomes["Before"] - outcomes["Gain"]).abs().max() < 1e-6
    assert len(sheets["regions"]) == 51
    metrics = sheets["metrics"].set_index("Key")
    assert metrics.loc["gini", "After"] == pytest.approx(plan.metrics_after["gini"])
    scenario = dict(zip(sheets["scenario"]["Key"], sheets["scenario"]["Value"]))
    assert scenario["spread_weight"] == 0.7 and scenario["budget"] == 40e9


def _cell(sheet: Any, header: str, row: int = 2) -> Any:
    """The cell of ``sheet`` under the header ``header`` in ``row``."""
    column = next(c.column for c in sheet[1] if c.value == header)
    return sheet.cell(row, column)


def test_excel_cells_have_money_percent_and_typed_formats(plan: pf.AllocationResult) -> None:
    """Amounts are numbers shown as money, shares as percentages, headers frozen and bold,
    scenario values numbers and yes/no cells, not text ('0.7')."""
    book = openpyxl.load_workbook(io.BytesIO(ex.to_excel_bytes(plan)))
    amount = _cell(book["allocation"], "Amount (USD)")
    assert amount.data_type == "n" and amount.number_format == '"$"#,##0'
    regions = book["regions"]
    assert _cell(regions, "Funding (USD)").number_format == '"$"#,##0'
    assert _cell(regions, "Funding per person (USD per person)").number_format == '"$"#,##0.00'
    share = _cell(regions, "Share of national capacity after (share, 0..1)")
    assert share.number_format == "0.00%" and 0 < share.value < 1
    assert _cell(regions, "Capacity after (points)").number_format == "#,##0.0000"
    assert _cell(regions, "Population (persons)").number_format == "#,##0"
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert all(c.font.bold for c in sheet[1] if c.value is not None), sheet.title
        assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith("A1:")
    metrics = book["metrics"]
    rows = {metrics.cell(r, 5).value: r for r in range(2, metrics.max_row + 1)}
    assert metrics.cell(rows["top10_share"], 4).number_format == "0.0%"
    assert metrics.cell(rows["spent_usd"], 4).number_format == '"$"#,##0'
    settings = book["scenario"]
    rows = {settings.cell(r, 4).value: r for r in range(2, settings.max_row + 1)}
    lam = settings.cell(rows["spread_weight"], 2)
    assert lam.value == 0.7 and lam.data_type == "n"
    budget = settings.cell(rows["budget"], 2)
    assert budget.value == 40e9 and budget.number_format == '"$"#,##0'
    assert settings.cell(rows["allow_unspent"], 2).value is False
    assert settings.cell(rows["budget"], 3).value == "$40.0B"  # and in words beside it


@pytest.mark.skipif(shutil.which("soffice") is None,
                    reason="LibreOffice (Debian's libreoffice-calc, see scripts/setup.sh) is not "
                           "installed: the round trip through a real spreadsheet is not run")
def test_libreoffice_reads_the_workbook_as_formatted_numbers(plan: pf.AllocationResult,
                                                              tmp_path: Path) -> None:
    """LibreOffice Calc opens the workbook and writes each sheet as shown: amounts with
    a dollar sign and separators, shares as percentages, the same numbers."""
    book = tmp_path / "plan.xlsx"
    book.write_bytes(ex.to_excel_bytes(plan))
    # CSV filter: comma, double quote, UTF-8, ..., cells "as shown" (9th), every sheet (12th: -1)
    options = "44,34,76,1,,0,false,true,true,false,false,-1"
    done = subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
                           "--convert-to", f"csv:Text - txt - csv (StarCalc):{options}",
                           "--outdir", str(tmp_path / "out"), str(book)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    shown = {f.stem.removeprefix("plan-"): pd.read_csv(f, dtype=str)
             for f in (tmp_path / "out").glob("*.csv")}
    assert {"allocation", "regions", "metrics", "scenario"} <= set(shown)
    allocation = shown["allocation"]
    first = plan.allocation.iloc[0]
    assert allocation["Amount (USD)"].iloc[0] == f"${first['amount_usd']:,.0f}"
    assert allocation["Instrument"].iloc[0] == "Research grants"
    regions = shown["regions"].set_index("Region")
    california = plan.regions.set_index("name").loc["California"]
    assert regions.at["California", "Funding (USD)"] == f"${california['funding_usd']:,.0f}"
    assert regions.at["California", "Share of national capacity after (share, 0..1)"] == \
        f"{california['capacity_share_after']:.2%}"
    settings = shown["scenario"].dropna(subset=["Key"]).set_index("Key")
    assert settings.at["budget", "Value"] == "$40,000,000,000"
    assert settings.at["spread_weight", "Value"] == "0.7"


def test_exported_files_get_the_usual_permissions(plan_dir: Path, tmp_path: Path) -> None:
    """``export`` writes through a private staging file, yet the file it leaves is
    readable as any new file is under the user's umask (0644 under 022, not 0600)."""
    old = os.umask(0o022)
    try:
        out = tmp_path / "plan.csv"
        result = CliRunner().invoke(app, ["export", str(plan_dir), "--format", "csv",
                                          "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        os.umask(0o027)
        again = CliRunner().invoke(app, ["export", str(plan_dir), "--format", "xlsx",
                                         "--out", str(tmp_path / "plan.xlsx")])
        assert again.exit_code == 0, again.output
        assert stat.S_IMODE((tmp_path / "plan.xlsx").stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_excel_speaks_in_labels_and_units(plan: pf.AllocationResult) -> None:
    sheets = pd.read_excel(io.BytesIO(ex.to_excel_bytes(plan)), sheet_name=None)
    allocation, regions = sheets["allocation"], sheets["regions"]
    assert list(allocation.columns) == ["Region code", "Region", "Instrument", "Amount (USD)"]
    assert set(allocation["Instrument"]) == {"Research grants", "Talent and training",
                                             "Compute and infrastructure", "Venture co-investment"}
    assert {"Funding (USD)", "Funding per person (USD per person)", "Capacity after (points)",
            "Research grants funding (USD)", "Census region"} <= set(regions.columns)
    assert not [c for c in regions.columns if "_" in c]  # no raw column names
    metrics = sheets["metrics"].set_index("Key")
    assert metrics.loc["gini", "Metric"] == "Gini of per-capita capacity"
    assert metrics.loc["top10_share", "Unit"] == "% of national capacity"
    settings = sheets["scenario"].set_index("Key")
    assert settings.loc["budget", "Setting"] == "Budget"
    assert settings.loc["budget", "In words"] == "$40.0B"
    assert settings.loc["weights.ai_vc_musd", "Setting"] == "Weight of AI venture funding"
    assert settings.loc["instruments.venture.saturation_usd", "In words"] == "$45.0B"


def test_the_workbook_names_the_plans_objective_as_the_workbench_does(
        plan: pf.AllocationResult, states: pf.Regions) -> None:
    """A Gini plan's objective is 'Spread-adjusted capacity S_λ'; a Hoover plan's is the
    Hoover one, listed first, and the Gini S_λ beside it says it is not the objective."""
    metrics = ex.metrics_sheet(plan).set_index("Key")
    assert metrics.index[0] == "spread_adjusted_capacity"
    assert metrics.loc["spread_adjusted_capacity", "After"] == pytest.approx(plan.objective)
    hoover = pf.Planner(states).solve(plan.scenario.updated(spread_measure="hoover"))
    table = ex.metrics_sheet(hoover).set_index("Key")
    assert table.index[0] == "spread_adjusted_capacity_hoover"
    assert table.loc["spread_adjusted_capacity_hoover", "Metric"] == \
        "Spread-adjusted capacity S_λ (Hoover) — the plan's objective"
    assert table.loc["spread_adjusted_capacity_hoover", "After"] == pytest.approx(hoover.objective)
    assert "not this plan's objective" in table.loc["spread_adjusted_capacity", "Metric"]
    assert len(set(table["Metric"])) == len(table)  # no two rows share a name


def test_geojson_joins_every_region_to_its_polygon(plan: pf.AllocationResult, states: pf.Regions) -> None:
    data = json.loads(ex.to_geojson_bytes(plan, states.geometry()))
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 51
    by_id = {f["properties"]["region_id"]: f for f in data["features"]}
    ca = plan.regions.set_index("region_id").loc["06"]
    assert by_id["06"]["properties"]["funding_usd"] == pytest.approx(ca["funding_usd"])
    assert by_id["06"]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_geojson_without_geometry_says_what_is_missing(plan: pf.AllocationResult) -> None:
    with pytest.raises(pf.DataError, match="no geometry"):
        ex.to_geojson_bytes(plan, None)


def test_brief_is_one_self_contained_printable_page(plan: pf.AllocationResult, states: pf.Regions) -> None:
    page = ex.to_brief_html(plan, states.geometry(), title="Test brief").decode()
    assert "<title>Test brief</title>" in page
    assert "window.PlotlyGeoAssets=" in page  # base maps embedded: nothing to fetch
    assert '<script src="http' not in page and "cdn.plot.ly/plotly" not in page
    assert "Plotly.newPlot" in page and "@media print" in page
    top = plan.regions.nlargest(1, "funding_usd").iloc[0]
    assert str(top["name"]) in page
    assert f"{plan.metrics_after['gini']:.3f}" in page
    assert "one more $1B of budget" in page and "Assumptions" in page
    assert "λ = 0.7" in page


def test_brief_prints_and_names_things_as_people_do(plan: pf.AllocationResult,
                                                    states: pf.Regions) -> None:
    page = ex.to_brief_html(plan, states.geometry()).decode()
    assert "window.print()" in page and ".print{display:none}" in page  # the button never prints
    words = re.sub(r"<script.*?</script>", "", page, flags=re.S)  # what a reader sees
    assert "Research grants: $1,150M of University S&amp;E R&amp;D" in words
    assert "research:" not in words
    assert "ai_vc_musd" not in words and "{'" not in words  # no raw names or dicts
    summary = ex.map_summary(plan)
    assert summary.startswith("Funding per person ranges from $") and summary in page
    assert "<figcaption" in page and 'role="img"' in page  # the map's text alternative


def test_brief_without_geometry_still_has_the_numbers(plan: pf.AllocationResult) -> None:
    page = ex.to_brief_html(plan, None).decode()
    assert "map omitted" in page and "Plotly.newPlot" not in page


def test_scenario_yaml_reproduces_the_plan(plan: pf.AllocationResult, states: pf.Regions) -> None:
    again = scenario_from_text(ex.scenario_yaml(plan).decode(), "exported.yaml")
    assert again.fingerprint() == plan.scenario.fingerprint()
    replay = pf.Planner(states).solve(again)
    pd.testing.assert_series_equal(replay.allocation["amount_usd"], plan.allocation["amount_usd"],
                                   rtol=1e-6, atol=1e3)


def test_load_plan_reads_back_what_to_dir_wrote(plan: pf.AllocationResult, plan_dir: Path) -> None:
    back = ex.load_plan(plan_dir)
    assert back.metrics_after == pytest.approx(plan.metrics_after)
    assert back.scenario.fingerprint() == plan.scenario.fingerprint()
    assert back.regions["region_id"].tolist() == plan.regions["region_id"].tolist()
    assert list(back.marginal_values["explanation"]) == list(plan.marginal_values["explanation"])
    assert pf.check_dir(plan_dir).ok


def test_load_plan_refuses_a_folder_that_is_not_a_plan(tmp_path: Path) -> None:
    with pytest.raises(pf.DataError, match="not a plan directory"):
        ex.load_plan(tmp_path)


def test_shipped_geometry_is_found_for_shipped_sets(plan: pf.AllocationResult) -> None:
    assert len(ex.shipped_geometry(plan)) == 51


@pytest.mark.parametrize("fmt", ["xlsx", "geojson", "html"])
def test_cli_export_writes_each_format(plan_dir: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"plan.{fmt}"
    result = CliRunner().invoke(app, ["export", str(plan_dir), "--format", fmt, "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    if fmt == "xlsx":
        assert openpyxl.load_workbook(io.BytesIO(data)).sheetnames[0] == "allocation"
    elif fmt == "geojson":
        assert len(json.loads(data)["features"]) == 51
    else:
        assert b"Top regions by funding" in data


def test_cli_export_bad_input_gets_a_message_and_exit_code_2(plan_dir: Path, tmp_path: Path) -> None:
    bad_format = CliRunner().invoke(app, ["export", str(plan_dir), "--format", "pdf"])
    assert bad_format.exit_code == 2 and "unknown format 'pdf'" in bad_format.output
    not_plan = CliRunner().invoke(app, ["export", str(tmp_path), "--format", "xlsx"])
    assert not_plan.exit_code == 2 and "not a plan directory" in not_plan.output
    assert "Traceback" not in bad_format.output + not_plan.output


def test_a_plan_on_your_own_regions_keeps_its_shapes_and_exports_a_map_later(
        tmp_path: Path) -> None:
    """Solve a CSV of one's own with --geometry; export needs no --geometry afterwards."""
    own = tmp_path / "own"
    own.mkdir()
    csv = own / "regions.csv"
    csv.write_bytes((ex.DATA_DIR / "states.csv").read_bytes())
    shapes = own / "shapes.geojson"
    shapes.write_bytes((ex.DATA_DIR / "states.geojson").read_bytes())
    runner = CliRunner()
    solved = runner.invoke(app, ["solve", "--regions", str(csv), "--geometry", str(shapes),
                                 "--out", str(tmp_path / "plan")])
    assert solved.exit_code == 0, solved.output
    assert (tmp_path / "plan" / "geometry.geojson").read_bytes() == shapes.read_bytes()
    shapes.unlink()  # the plan's copy is what export uses
    out = tmp_path / "plan.geojson"
    exported = runner.invoke(app, ["export", str(tmp_path / "plan"), "--format", "geojson",
                                   "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert len(json.loads(out.read_bytes())["features"]) == 51
    without = runner.invoke(app, ["solve", "--regions", str(csv), "--out", str(tmp_path / "bare")])
    assert without.exit_code == 0 and not (tmp_path / "bare" / "geometry.geojson").exists()
    refused = runner.invoke(app, ["export", str(tmp_path / "bare"), "--format", "geojson"])
    assert refused.exit_code == 2 and "pass --geometry" in refused.output


def test_plans_on_shipped_sets_carry_no_copy_of_the_shapes(plan: pf.AllocationResult,
                                                             plan_dir: Path) -> None:
    assert plan.geometry_path is None and not (plan_dir / "geometry.geojson").exists()
