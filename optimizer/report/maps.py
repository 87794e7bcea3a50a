"""Plotly maps of a plan: one choropleth per metric, and a difference map.

Maps work offline: region shapes come from our own GeoJSON (outer rings turned
clockwise, as plotly's geo renderer wants; a counter-clockwise ring fills the whole
map), and the base-map topojson plotly always asks for is served locally as an
empty-but-valid file (``static/*.json``) or embedded in a page (``geo_assets_script``).

In the workbench a shipped region set's shapes are written once under the app's static
folder (``serve_geojson``) and each figure names them by URL: the page fetches them once
and plotly keeps them, instead of every figure carrying (and the server copying and
encoding) the whole GeoJSON on every change.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.colors as pcolors
import plotly.graph_objects as go
import shapely

from optimizer.engine.formatting import money
from optimizer.engine.formatting import value as fmt_value
from optimizer.engine.scenario import usd

# the top-level static/ folder, packaged as optimizer.static (see pyproject.toml)
STATIC_DIR = Path(str(resources.files("optimizer.static")))
TOPOJSON_URL = "app/static/"  # where Streamlit serves STATIC_DIR
PLOTLY_CONFIG = {"topojsonURL": TOPOJSON_URL, "displaylogo": False}
BASE_LAYERS = ("coastlines", "land", "ocean", "lakes", "rivers", "countries", "subunits")
US_BOUNDS = (-180.0, 15.0, -60.0, 72.0)  # lon/lat box holding the 50 states + DC
NATIONWIDE_SPAN_DEG = 30.0  # a US set this wide (degrees of longitude) is drawn in Albers USA
WORLD_SPAN_DEG = 90.0  # a set this wide is drawn in Natural Earth, a smaller one in Mercator
SERVED_FOLDER = "maps"  # under the app's static folder: GeoJSON files the page fetches by URL


@dataclass(frozen=True)
class MapMetric:
    """A column of ``AllocationResult.regions`` that can colour the map."""

    column: str
    label: str
    unit: str
    kind: str  # "usd", "share", "points" or "ratio"
    help: str


MAP_METRICS: dict[str, MapMetric] = {
    m.column: m
    for m in (
        MapMetric("funding_per_capita_usd", "Funding per person", "USD per person", "usd",
                  "Total funding to the region divided by its population."),
        MapMetric("funding_usd", "Total funding", "USD", "usd",
                  "All instruments together."),
        MapMetric("capacity_gain", "Capacity gain", "capacity points", "points",
                  "Capacity points the funding adds (the nation's baseline total is 100)."),
        MapMetric("capacity_per_capita_before", "Capacity per capita, before", "× national average",
                  "ratio", "Capacity share over population share; 1 = national average."),
        MapMetric("capacity_per_capita_after", "Capacity per capita, after", "× national average",
                  "ratio", "Capacity share over population share after funding; 1 = national average."),
        MapMetric("capacity_share_before", "Share of national capacity, before", "% of total",
                  "share", "The region's share of the nation's capacity points at baseline."),
        MapMetric("capacity_share_after", "Share of national capacity, after", "% of total",
                  "share", "The region's share of the nation's capacity points after funding."),
        MapMetric("hub", "Hub selection", "selected or not", "hub",
                  "Regions selected as hubs (only hubs are funded when hub selection is on)."),
    )
}
HUB_COLORS = ("#d9d9d9", "#e6550d")  # not a hub, hub
# below this share of the largest value, regions' differences are rounding: one colour
NEGLIGIBLE_SPREAD = 0.01
# the colour scale spans at least this share of the largest value, so a small spread
# (a few dollars on $250 per person) is not stretched from one end of the scale to the other
MIN_COLOR_SPAN = 0.25
CORE_INDEX = MapMetric("core_index", "Probability of being funded", "share of weight samples",
                       "share", "Share of the sampled weight vectors under which the region is "
                                "funded: 100% = core (funded whatever the weights), 0% = never.")


def map_metrics_for(regions: pd.DataFrame, hubs: bool) -> list[str]:
    """The ``MAP_METRICS`` keys that make sense for a plan (hub selection only with hubs)."""
    return [k for k in MAP_METRICS if k != "hub" or (hubs and "hub" in regions)]


def format_value(value: float, kind: str, plus: bool = False) -> str:
    """A number as people read it: $12.3B / $412 per person, 4.2%, 1.23 points
    (``optimizer.engine.formatting.value``; 'n/a' when missing)."""
    if value is None:
        return fmt_value(float("nan"), kind)
    return fmt_value(value, kind, plus=plus)


def empty_topology() -> dict[str, Any]:
    """A valid topojson with every base layer plotly may draw, all empty."""
    return {
        "type": "Topology",
        "bbox": [-180, -90, 180, 90],
        "objects": {name: {"type": "GeometryCollection", "geometries": []} for name in BASE_LAYERS},
        "arcs": [],
    }


def geo_assets_script() -> str:
    """JS that pre-loads empty base maps so a standalone page fetches nothing."""
    topo = json.dumps(empty_topology())
    names = ("usa_110m", "usa_50m", "world_110m", "world_50m")
    entries = ",".join(f'"{n}":{topo}' for n in names)
    return f"window.PlotlyGeoAssets={{topojson:{{{entries}}}}};"


def geojson_for(gdf: Any, tolerance: float | None = None) -> dict[str, Any]:
    """Region polygons as a GeoJSON dict for plotly, simplified and clockwise.

    ``gdf`` has region_id and geometry (EPSG:4326). ``tolerance`` (degrees) defaults to
    about a pixel of a map of the whole set: 0.05 for the states (a smaller page and a
    faster redraw; plotly copies the shapes on every figure).
    """
    shapes = gdf[["region_id", "geometry"]].copy()
    original = shapes.geometry.copy()
    points = shapes.geometry.representative_point()
    span = max(float(points.x.max() - points.x.min()), float(points.y.max() - points.y.min()), 1e-3)
    if tolerance is None:
        tolerance = min(0.05, span / 1500)
    if tolerance > 0:
        shapes["geometry"] = shapes.geometry.simplify(tolerance, preserve_topology=True)
    invalid = ~shapes.geometry.is_valid
    if invalid.any():
        shapes.loc[invalid, "geometry"] = shapes.geometry[invalid].make_valid()
    grid = tolerance / 5 if tolerance > 0 else 1e-6
    shapes["geometry"] = shapely.set_precision(shapes.geometry.values, grid)
    # a region smaller than the grid (Falls Church city, VA, among counties) would vanish,
    # and one empty shape stops plotly drawing any: keep such regions at full resolution
    lost = shapes.geometry.is_empty | shapes.geometry.isna()
    shapes.loc[lost, "geometry"] = original[lost]
    shapes["geometry"] = shapes.geometry.orient_polygons(exterior_cw=True)
    data = json.loads(shapes.to_json(drop_id=True))
    lo_x, lo_y, hi_x, hi_y = US_BOUNDS
    in_us = points.x.between(lo_x, hi_x) & points.y.between(lo_y, hi_y)
    # plotly's Albers USA projection ignores fitbounds: it is for sets spanning the nation;
    # a regional set (New England, one state's counties) is framed by its own extent
    nationwide = float(points.x.max() - points.x.min()) >= NATIONWIDE_SPAN_DEG
    data["scope"] = "usa" if bool(in_us.all()) and nationwide else "world"
    data["projection"] = ("albers usa" if data["scope"] == "usa"
                          else "natural earth" if span >= WORLD_SPAN_DEG else "mercator")
    return data


@dataclass(frozen=True)
class ServedShapes:
    """Region shapes the page fetches by URL (once: plotly keeps what it fetched), with
    the framing ``geojson_for`` chose for them."""

    url: str
    scope: str
    projection: str


Shapes = dict[str, Any] | ServedShapes  # a GeoJSON dict (carried in the figure) or its URL


def page_shapes(regions: Any, static_dir: Path, served: bool) -> Shapes | None:
    """A regions table's map shapes for the page (None: it has none): simplified
    (``geojson_for``), and served as a file under ``static_dir`` when ``served`` (a shipped
    set, fetched once) rather than carried in every figure (an upload's)."""
    gdf = regions.geometry()
    if gdf is None:
        return None
    geojson = geojson_for(gdf)
    return serve_geojson(geojson, static_dir) if served else geojson


def serve_geojson(geojson: dict[str, Any], static_dir: Path) -> Shapes:
    """``geojson`` written under ``static_dir/maps/`` (named by its content, so a file once
    written never changes) and named by URL; the dict itself where that folder cannot be
    written (the figures then carry the shapes)."""
    text = json.dumps(geojson, separators=(",", ":"))
    name = hashlib.sha256(text.encode()).hexdigest()[:32] + ".json"
    folder = static_dir / SERVED_FOLDER
    try:
        if not (folder / name).is_file():
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".part", delete=False,
                                             encoding="utf-8") as out:
                out.write(text)
            os.replace(out.name, folder / name)  # whole or not at all
    except OSError:
        return geojson
    scope = geojson.get("scope", "world")
    return ServedShapes(f"{TOPOJSON_URL}{SERVED_FOLDER}/{name}", scope,
                        geojson.get("projection", "albers usa" if scope == "usa" else "natural earth"))


def _frame(shapes: Shapes) -> tuple[str, str]:
    """The geo scope and projection of ``shapes``."""
    if isinstance(shapes, ServedShapes):
        return shapes.scope, shapes.projection
    scope = shapes.get("scope", "world")
    return scope, shapes.get("projection", "albers usa" if scope == "usa" else "natural earth")


def _layout(trace: dict[str, Any], geojson: Shapes, title: str, height: int) -> go.Figure:
    """The map figure of one ``_region_figure`` trace: framed by its shapes, titled."""
    scope, projection = _frame(geojson)
    layout = {
        "geo": {"scope": scope, "projection": {"type": projection}, "fitbounds": "locations",
                "visible": False, "bgcolor": "rgba(0,0,0,0)"},
        "title": {"text": title, "x": 0.01, "font": {"size": 15}},
        "height": height,
        "margin": {"l": 0, "r": 0, "t": 40, "b": 0},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "dragmode": False,
        "hoverlabel": {"align": "left"},
        # no plotly template: the page's theme styles the map, and plotly's default template
        # is half the figure, which the browser would re-read on every change
        "template": {},
    }
    # plotly's per-property validation cost most of a map's build on every change; these
    # dicts use only names fixed in this module (every map is rendered by the tests)
    shapes = trace.pop("geojson")
    fig = go.Figure({"data": [trace], "layout": layout}, _validate=False)
    fig.data[0].geojson = shapes  # set after: plotly copies what it is constructed with
    return fig


MONEY_TICKS = 5  # labelled ticks on a money colour bar


def _colorbar(metric: MapMetric, zmin: float | None = None,
              zmax: float | None = None) -> dict[str, Any]:
    """The colour bar of ``metric``; money ticks between ``zmin`` and ``zmax`` are written
    by the one money formatter ($6.0B, $500M, $0.50), never by SI prefixes ($6G)."""
    bar: dict[str, Any] = {"title": {"text": f"{metric.label}<br>({metric.unit})", "side": "top"},
                           "thickness": 14, "len": 0.8}
    if metric.kind == "usd" and zmin is not None and zmax is not None:
        ticks = np.linspace(zmin, zmax, MONEY_TICKS).tolist()
        bar.update(tickmode="array", tickvals=ticks, ticktext=[money(v) for v in ticks])
    elif metric.kind == "usd":
        bar.update(tickprefix="$", tickformat=",.2~f", exponentformat="none")
    elif metric.kind == "share":
        bar.update(tickformat=".1%")
    else:
        bar.update(tickformat=".2f")
    return bar


@functools.cache
def _colorscale(name: str) -> tuple[tuple[float, str], ...]:
    """A named plotly colour scale as explicit stops (as plotly.py's validation writes it)."""
    return tuple((float(stop), str(colour)) for stop, colour in pcolors.get_colorscale(name))


def _region_figure(locations: list[str], z: Any, hover: list[str], geojson: Shapes,
                   **style: Any) -> dict[str, Any]:
    """One choropleth trace over ``geojson`` keyed by region_id, hover text as given."""
    style.setdefault("marker", {"line": {"color": "white", "width": 0.6}})
    if "colorbar" in style:  # as plotly's default template draws it: no outline, no ticks
        style["colorbar"] = {"outlinewidth": 0, "ticks": "", **style["colorbar"]}
    if isinstance(style.get("colorscale"), str):
        style["colorscale"] = [list(stop) for stop in _colorscale(style["colorscale"])]
    return {"type": "choropleth", "featureidkey": "properties.region_id", "locations": locations,
            "z": np.asarray(z, dtype=float), "text": hover, "hoverinfo": "text",
            "geojson": geojson.url if isinstance(geojson, ServedShapes) else geojson, **style}


def choropleth(regions: pd.DataFrame, geojson: Shapes, column: str = "funding_per_capita_usd",
               height: int = 520) -> go.Figure:
    """A choropleth of one ``MAP_METRICS`` column of a plan's per-region table."""
    metric = MAP_METRICS[column]
    if metric.kind == "hub":
        return hub_map(regions, geojson, height)
    values = regions[column].astype(float).to_numpy()
    hover = [f"<b>{name}</b><br>{metric.label}: {format_value(v, metric.kind)}<br>"
             f"Funding: {usd(f)}"
             for name, v, f in zip(regions["name"], values, regions["funding_usd"])]
    z, (zmin, zmax) = values, color_range(values)
    if spread_note(regions, column) is not None:
        z = np.full_like(values, (zmin + zmax) / 2)  # one colour; the hover keeps each value
    trace = _region_figure(regions["region_id"].astype(str).tolist(), z, hover, geojson,
                         colorscale="Viridis", colorbar=_colorbar(metric, zmin, zmax),
                         zmin=zmin, zmax=zmax)
    return _layout(trace, geojson, f"{metric.label} ({metric.unit})", height)


def color_range(values: np.ndarray) -> tuple[float, float]:
    """The colour scale's ends: the values' range, widened to at least ``MIN_COLOR_SPAN``
    of the largest magnitude (never below 0 for values that are all non-negative)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    span = max(hi - lo, MIN_COLOR_SPAN * max(abs(lo), abs(hi)), 1e-12)
    mid = (lo + hi) / 2
    zmin = mid - span / 2
    if lo >= 0 and zmin < 0:
        zmin = 0.0
    return zmin, max(zmin + span, hi)


def spread_note(regions: pd.DataFrame, column: str) -> str | None:
    """A sentence when the regions' values of ``column`` differ negligibly (else None)."""
    metric = MAP_METRICS[column]
    if metric.kind == "hub" or column not in regions:
        return None
    values = regions[column].astype(float).to_numpy()
    finite = values[np.isfinite(values)]
    if len(finite) < 2:
        return None
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo > NEGLIGIBLE_SPREAD * max(abs(lo), abs(hi)):
        return None
    return (f"{metric.label} is the same in every region up to rounding "
            f"({format_value(lo, metric.kind)} to {format_value(hi, metric.kind)}): the spread "
            "is negligible, so the map shows one colour.")


def ranked_table(regions: pd.DataFrame, column: str) -> pd.DataFrame:
    """The map's numbers as a ranked table (highest first), for reading without colour."""
    metric = MAP_METRICS[column]
    values = regions[column].astype(float)
    order = values.sort_values(ascending=False, kind="stable").index
    shown = [("hub" if v else "not a hub") if metric.kind == "hub"
             else format_value(v, metric.kind) for v in values[order]]
    return pd.DataFrame({"Rank": range(1, len(order) + 1),
                         "Region": regions.loc[order, "name"].to_numpy(),
                         f"{metric.label} ({metric.unit})": shown})


def hub_map(regions: pd.DataFrame, geojson: Shapes, height: int = 520) -> go.Figure:
    """Selected hubs in one colour, other regions in grey, with a two-entry legend."""
    hub = regions["hub"].astype(bool).to_numpy()
    hover = [f"<b>{name}</b><br>{'Hub' if h else 'Not a hub'}<br>Funding: {usd(f)}"
             for name, h, f in zip(regions["name"], hub, regions["funding_usd"])]
    trace = _region_figure(
        regions["region_id"].astype(str).tolist(), hub.astype(float), hover, geojson,
        zmin=0.0, zmax=1.0,
        colorscale=[[0.0, HUB_COLORS[0]], [0.5, HUB_COLORS[0]], [0.5, HUB_COLORS[1]],
                    [1.0, HUB_COLORS[1]]],
        colorbar={"title": {"text": "Hub selection<br>(selected or not)", "side": "top"},
                  "tickvals": [0.25, 0.75],
                  "ticktext": ["not a hub", "hub"], "thickness": 14, "len": 0.4},
    )
    return _layout(trace, geojson, f"Hub selection ({int(hub.sum())} hubs)", height)


def robustness_map(stats: pd.DataFrame, geojson: Shapes, height: int = 520) -> go.Figure:
    """Probability of being funded per region (core index) from a robust-weights analysis."""
    metric = CORE_INDEX
    values = stats["core_index"].astype(float).to_numpy()
    hover = [f"<b>{name}</b><br>{metric.label}: {format_value(v, 'share')} ({cls})<br>"
             f"Median funding: {usd(m)}"
             for name, v, cls, m in zip(stats["name"], values, stats["core_class"],
                                        stats["funding_median_usd"])]
    trace = _region_figure(stats["region_id"].astype(str).tolist(), values, hover, geojson,
                         zmin=0.0, zmax=1.0, colorscale="Viridis", colorbar=_colorbar(metric))
    return _layout(trace, geojson, f"{metric.label} ({metric.unit})", height)


def difference_map(plan_a: pd.DataFrame, plan_b: pd.DataFrame, geojson: Shapes,
                   name_a: str, name_b: str, column: str = "funding_usd",
                   height: int = 480) -> go.Figure:
    """Where ``name_b`` gives more (blue) or less (red) than ``name_a``; white = same."""
    metric = MAP_METRICS[column]
    a = plan_a.set_index("region_id")
    b = plan_b.set_index("region_id").reindex(a.index)
    diff = (b[column] - a[column]).astype(float)
    limit = float(np.nanmax(np.abs(diff.to_numpy()))) if len(diff) else 0.0
    limit = limit if limit > 0 else 1.0
    hover = [f"<b>{name}</b><br>{name_a}: {format_value(va, metric.kind)}<br>"
             f"{name_b}: {format_value(vb, metric.kind)}<br>"
             f"difference: {format_value(d, metric.kind, plus=True)}"
             for name, va, vb, d in zip(a["name"], a[column], b[column], diff)]
    bar = _colorbar(metric, -limit, limit)
    bar["title"] = {"text": f"{name_b} − {name_a}<br>{metric.label} ({metric.unit})", "side": "top"}
    trace = _region_figure([str(r) for r in a.index], diff.to_numpy(), hover, geojson,
                         colorscale="RdBu", zmin=-limit, zmax=limit, zmid=0.0,
                         marker={"line": {"color": "#888", "width": 0.5}}, colorbar=bar)
    return _layout(trace, geojson, f"Difference in {metric.label.lower()}: {name_b} − {name_a}", height)


def decode_array(value: Any) -> np.ndarray:
    """A plotly array as numpy, whether plain or base64-encoded (plotly >= 6 JSON)."""
    if isinstance(value, dict) and "bdata" in value:
        raw = base64.b64decode(value["bdata"])
        return np.frombuffer(raw, dtype=np.dtype(value["dtype"]))
    return np.asarray(value)
