"""Map builders: clockwise polygons, values and legends, offline base maps."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Polygon, shape

import optimizer as pf
from optimizer.engine.formatting import money as pf_money
from optimizer.engine.scenario import usd
from optimizer.report import maps

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def states() -> pf.Regions:
    return pf.load_regions("states")


@pytest.fixture(scope="module")
def geojson(states: pf.Regions) -> dict:
    return maps.geojson_for(states.geometry())


@pytest.fixture(scope="module")
def plan(states: pf.Regions) -> pf.AllocationResult:
    return pf.Planner(states).solve(pf.load_scenario())


def _rings(geometry: dict) -> list:
    geom = shape(geometry)
    return list(getattr(geom, "geoms", [geom]))


def test_every_outer_ring_is_clockwise_so_no_polygon_floods_the_map(geojson: dict) -> None:
    polygons = [p for f in geojson["features"] for p in _rings(f["geometry"])]
    assert len(polygons) >= 51
    assert not any(p.exterior.is_ccw for p in polygons)


def test_counter_clockwise_input_is_reoriented() -> None:
    ccw = Polygon([(-100, 40), (-99, 40), (-99, 41), (-100, 41)])
    assert ccw.exterior.is_ccw
    gdf = gpd.GeoDataFrame({"region_id": ["a"]}, geometry=[ccw], crs=4326)
    out = maps.geojson_for(gdf, tolerance=0)
    assert not shape(out["features"][0]["geometry"]).exterior.is_ccw
    # one small region is framed by its own extent (Albers USA would ignore fitbounds)
    assert (out["scope"], out["projection"]) == ("world", "mercator")


def test_a_nationwide_set_is_drawn_in_albers_usa_and_a_regional_one_framed_by_itself(
        geojson: dict) -> None:
    assert (geojson["scope"], geojson["projection"]) == ("usa", "albers usa")
    gdf = pf.load_regions("states").geometry()
    new_england = maps.geojson_for(gdf[gdf["region_id"].isin(["09", "23", "25", "33", "44", "50"])])
    assert (new_england["scope"], new_england["projection"]) == ("world", "mercator")
    fig = maps.choropleth(pd.DataFrame({"region_id": ["09"], "name": ["Connecticut"],
                                        "funding_usd": [1e9], "funding_per_capita_usd": [300.0]}),
                          new_england)
    assert fig.layout.geo.fitbounds == "locations" and fig.layout.geo.projection.type == "mercator"


def test_a_negligible_spread_is_one_colour_and_said_and_a_small_one_is_not_stretched() -> None:
    def plan(per_person: list[float]) -> pd.DataFrame:
        return pd.DataFrame({"region_id": list("abc"), "name": ["A", "B", "C"],
                             "funding_usd": [1e6] * 3, "funding_per_capita_usd": per_person})

    alike = plan([250.0, 250.4, 249.9])  # 0.2% apart: rounding
    note = maps.spread_note(alike, "funding_per_capita_usd")
    assert note is not None and "negligible" in note and "$250" in note
    z = maps.decode_array(json.loads(maps.choropleth(alike, {"type": "FeatureCollection",
                                                            "features": []}).to_json())
                          ["data"][0]["z"])
    assert len(set(z.tolist())) == 1
    # $10 on $250 (4%) is a real difference, but it takes 40% of the scale, not all of it
    ten = plan([240.0, 245.0, 250.0])
    assert maps.spread_note(ten, "funding_per_capita_usd") is None
    lo, hi = maps.color_range(ten["funding_per_capita_usd"].to_numpy())
    assert (hi - lo) == pytest.approx(0.25 * 250) and lo <= 240 and hi >= 250
    wide = np.array([0.0, 100.0, 500.0])
    assert maps.color_range(wide) == (0.0, 500.0)  # a real spread keeps its own range


def test_the_ranked_table_reads_the_map_without_colour() -> None:
    regions = pd.DataFrame({"region_id": list("abc"), "name": ["A", "B", "C"],
                            "funding_usd": [2e9, 5e9, 1e9]})
    table = maps.ranked_table(regions, "funding_usd")
    assert table["Region"].tolist() == ["B", "A", "C"]
    assert table["Rank"].tolist() == [1, 2, 3]
    assert table["Total funding (USD)"].tolist() == ["$5.0B", "$2.0B", "$1.0B"]


def test_states_fit_the_usa_scope_despite_alaska_crossing_the_antimeridian(geojson: dict) -> None:
    assert geojson["scope"] == "usa"
    assert {f["properties"]["region_id"] for f in geojson["features"]} == set(pf.load_regions("states").ids)


def test_choropleth_carries_the_plan_values_a_legend_with_units_and_formatted_hover(
        plan: pf.AllocationResult, geojson: dict) -> None:
    fig = maps.choropleth(plan.regions, geojson, "funding_per_capita_usd")
    trace = fig.data[0]
    spec = json.loads(fig.to_json())["data"][0]
    z = maps.decode_array(spec["z"])
    np.testing.assert_allclose(z, plan.regions["funding_per_capita_usd"].to_numpy())
    assert list(trace.locations) == plan.regions["region_id"].tolist()
    assert trace.featureidkey == "properties.region_id"
    assert "USD per person" in trace.colorbar.title.text
    ticks = list(trace.colorbar.ticktext)  # written by the money formatter, not plotly's SI
    assert ticks == [pf_money(v) for v in trace.colorbar.tickvals] and ticks[-1].startswith("$")
    ca = plan.regions.set_index("region_id").loc["06"]
    hover = dict(zip(trace.locations, trace.text))["06"]
    assert "California" in hover and usd(ca["funding_usd"]) in hover
    assert fig.layout.geo.scope == "usa" and fig.layout.geo.fitbounds == "locations"


@pytest.mark.parametrize("column", list(maps.MAP_METRICS))
def test_every_map_metric_has_a_titled_legend(plan: pf.AllocationResult, geojson: dict, column: str) -> None:
    fig = maps.choropleth(plan.regions, geojson, column)
    assert maps.MAP_METRICS[column].unit in fig.data[0].colorbar.title.text
    assert np.isfinite(np.asarray(fig.data[0].z, float)).all()


def test_difference_map_is_centred_on_zero_and_shows_b_minus_a(
        plan: pf.AllocationResult, geojson: dict) -> None:
    other = plan.regions.copy()
    other["funding_usd"] = other["funding_usd"] * 0.5
    fig = maps.difference_map(plan.regions, other, geojson, "A", "B", "funding_usd")
    z = np.asarray(fig.data[0].z, float)
    np.testing.assert_allclose(z, -0.5 * plan.regions["funding_usd"].to_numpy())
    assert fig.data[0].zmid == 0 and fig.data[0].zmin == -fig.data[0].zmax
    assert "B − A" in fig.data[0].colorbar.title.text
    # money ticks with a true minus and $B/$M, never plotly's "$6G" or "-50B"
    ticks = list(fig.data[0].colorbar.ticktext)
    assert ticks[0].startswith("−$") and ticks[-1].startswith("$") and "G" not in "".join(ticks)
    assert ticks[-1].endswith(("B", "M"))


def test_local_base_maps_are_valid_topologies_and_served_statically() -> None:
    for name in ("usa_110m", "world_110m"):
        topo = json.loads((ROOT / "static" / f"{name}.json").read_text())
        assert topo["type"] == "Topology"
        assert set(maps.BASE_LAYERS) <= set(topo["objects"])
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableStaticServing"] is True
    assert maps.PLOTLY_CONFIG["topojsonURL"] == "app/static/"
    script = maps.geo_assets_script()
    assert script.startswith("window.PlotlyGeoAssets=") and '"usa_110m"' in script


def test_format_value_reads_like_a_person_would_write_it() -> None:
    assert maps.format_value(12.3e9, "usd") == "$12.3B"
    assert maps.format_value(0.042, "share") == "4.2%"
    assert maps.format_value(1.234, "points") == "1.23 points"
    assert maps.format_value(float("nan"), "usd") == "n/a"


def test_hub_map_shows_the_selected_hubs_in_two_colours(plan: pf.AllocationResult, geojson: dict) -> None:
    regions = plan.regions.copy()
    regions["hub"] = regions["region_id"].isin(["06", "36"])
    fig = maps.choropleth(regions, geojson, "hub")
    z = maps.decode_array(fig.to_dict()["data"][0]["z"]).astype(float)
    assert z.sum() == 2 and set(z) == {0.0, 1.0}
    assert list(fig.data[0].colorbar.ticktext) == ["not a hub", "hub"]
    assert "2 hubs" in fig.layout.title.text
    assert maps.map_metrics_for(regions, hubs=False)[-1] != "hub"
    assert maps.map_metrics_for(regions, hubs=True)[-1] == "hub"


def test_robustness_map_colours_the_probability_of_being_funded(geojson: dict) -> None:
    ids = pf.load_regions("states").ids
    stats = pd.DataFrame({"region_id": ids, "name": ids, "core_index": np.linspace(0, 1, len(ids)),
                          "core_class": "borderline", "funding_median_usd": 1e9})
    fig = maps.robustness_map(stats, geojson)
    z = maps.decode_array(fig.to_dict()["data"][0]["z"]).astype(float)
    assert z == pytest.approx(np.linspace(0, 1, len(ids)))
    assert (fig.data[0].zmin, fig.data[0].zmax) == (0.0, 1.0)
    assert "share of weight samples" in fig.data[0].colorbar.title.text
    assert "Probability of being funded" in fig.data[0].text[0]


def test_no_county_vanishes_when_the_shapes_are_simplified() -> None:
    """Falls Church city, VA is smaller than the simplification grid; one empty shape
    stops plotly drawing any, so it keeps its full-resolution outline."""
    counties = pf.load_regions("counties")
    data = maps.geojson_for(counties.geometry())
    assert len(data["features"]) == len(counties) == 3134
    empty = [f["properties"]["region_id"] for f in data["features"] if not f["geometry"]]
    assert empty == []
    falls_church = next(f for f in data["features"] if f["properties"]["region_id"] == "51610")
    assert len(falls_church["geometry"]["coordinates"][0]) > 4


def test_served_shapes_are_written_once_under_their_content_and_figures_name_them(
        plan: pf.AllocationResult, geojson: dict, tmp_path: Path) -> None:
    served = maps.serve_geojson(geojson, tmp_path)
    assert isinstance(served, maps.ServedShapes)
    assert (served.scope, served.projection) == (geojson["scope"], geojson["projection"])
    files = list((tmp_path / maps.SERVED_FOLDER).iterdir())
    assert [f.name for f in files] == [served.url.rsplit("/", 1)[-1]]  # no partial file left
    assert served.url.startswith(maps.TOPOJSON_URL)  # served beside the base maps
    assert json.loads(files[0].read_text())["features"] == geojson["features"]
    assert maps.serve_geojson(geojson, tmp_path) == served  # the same shapes, the same file
    fig = maps.choropleth(plan.regions, served)
    spec = json.loads(fig.to_json())
    assert spec["data"][0]["geojson"] == served.url  # the figure names the shapes, not carries them
    assert spec["layout"]["geo"]["scope"] == "usa"
    assert maps.choropleth(plan.regions, geojson).to_dict()["layout"]["geo"] == spec["layout"]["geo"]


def test_shapes_stay_in_the_figure_where_the_static_folder_cannot_be_written(
        geojson: dict, tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert maps.serve_geojson(geojson, blocked) is geojson
