"""Exports: Excel, GeoJSON, HTML brief, scenario YAML, plan directories and the CLI."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

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


def test_csv_is_the_allocation(plan: pf.AllocationResult) -> None:
    table = pd.read_csv(io.BytesIO(ex.to_csv_bytes(plan)), dtype={"region_id": str})
    assert list(table.columns) == ["region_id", "name", "instrument", "amount_usd"]
    assert table["amount_usd"].sum() == pytest.approx(40e9, rel=1e-9)


def test_excel_has_one_sheet_each_and_the_numbers_agree(plan: pf.AllocationResult) -> None:
    book = openpyxl.load_workbook(io.BytesIO(ex.to_excel_bytes(plan)))
    assert book.sheetnames == ["allocation", "regions", "metrics", "scenario"]
    sheets = pd.read_excel(io.BytesIO(ex.to_excel_bytes(plan)), sheet_name=None,
                           dtype={"Region code": str})
    assert sheets["allocation"]["Amount (USD)"].sum() == pytest.approx(plan.spent_usd)
    assert len(sheets["regions"]) == 51
    metrics = sheets["metrics"].set_index("Key")
    assert metrics.loc["gini", "After"] == pytest.approx(plan.metrics_after["gini"])
    scenario = dict(zip(sheets["scenario"]["Key"], sheets["scenario"]["value (JSON)"]))
    assert json.loads(scenario["spread_weight"]) == 0.7
    assert json.loads(scenario["budget"]) == 40e9


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
    assert settings.loc["budget", "Setting"] == "Budget" and settings.loc["budget", "Value"] == "$40.0B"
    assert settings.loc["weights.ai_vc_musd", "Setting"] == "Weight of AI venture funding"
    assert settings.loc["instruments.venture.saturation_usd", "Value"] == "$45.0B"


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
    assert "Research grants: $1B raises University S&amp;E R&amp;D by $1,150M" in words
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
