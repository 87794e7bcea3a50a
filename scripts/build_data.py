#!/usr/bin/env python3
"""Build PlaceFund's shipped data tables and geometry in ``data/``.

Maintainers only. The project never runs this at run time and never reads the
reference folder at run time: it reads the committed files in ``data/``.

Usage (from the repository root)::

    .venv/bin/python scripts/build_data.py [--shared ../shared/data]

Inputs
  * the vetted reference CSVs in the shared folder (default ``../shared/data``
    relative to the repository root); only US-federal figures, the OMB
    county->CBSA crosswalk and the tech-hubs reference table are read.  The
    unlicensed/draft CBSA files (digitalization, VC, AI draft) are never read.
  * geometry from the npm package ``us-atlas@3.0.1`` fetched with
    ``npm pack`` into a temporary directory, and the one county polygon that
    us-atlas loses (Falls Church city VA, 51610) from the PyPI package
    ``plotly-geo==1.0.0`` fetched with ``pip download`` into the same directory.

Outputs (data/): states.csv/.geojson, counties.csv/.geojson, metros.csv/.geojson,
tech_hubs_2023.csv (copied), and the license blocks inside SOURCES.md.

Every figure is copied, summed, divided by a stated constant, or apportioned by
a stated rule; no figure is typed in (two small code tables are: CBP_2017_CODE and
CT_PLANNING_REGION_COUNTY, documented in SOURCES.md).  Missing stays missing (empty), never 0.
The documentation of every column is ``data/SOURCES.md``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.polygon import orient
from shapely.validation import make_valid

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
DEFAULT_SHARED = Path("..") / "shared" / "data"  # relative to the repo root

US_ATLAS = "us-atlas@3.0.1"
PRECISION = 5  # decimal places in the GeoJSON output
CODE_DTYPES = {"state_fips": str, "county_fips": str, "cbsa_code": str, "cbsa_code_2023": str,
               "area_code": str, "state_fips_primary": str}

# Files that must never be read into the project (no licence / unpublished).
FORBIDDEN_PREFIXES = ("cbsa_digitalization_", "cbsa_vc_", "cbsa_ai_indicators_brookings_draft_")

STATE_COLUMNS = [
    "region_id", "postal", "name", "census_region", "census_division", "population",
    "ai_job_postings", "ai_vc_musd", "vc_funded_firms", "business_rd_musd",
    "university_se_rd_musd", "cs_doctorates", "se_doctorates",
    "kti_value_added_musd", "gdp_musd",
]
STATE_INDICATORS = STATE_COLUMNS[6:]


class BuildError(RuntimeError):
    pass


def fail(msg: str) -> None:
    raise BuildError(msg)


# --------------------------------------------------------------------------- io
class Shared:
    """Read-only access to the reference folder, refusing forbidden files."""

    def __init__(self, root: Path):
        self.root = root
        if not root.is_dir():
            fail(f"shared data folder not found: {root}")

    def path(self, name: str) -> Path:
        if name.startswith(FORBIDDEN_PREFIXES):
            fail(f"refusing to read {name}: it must not go into the project")
        p = self.root / name
        if not p.is_file():
            fail(f"missing shared file {name}")
        return p

    def csv(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.path(name), dtype=CODE_DTYPES, keep_default_na=True)


def fetch_us_atlas(workdir: Path) -> Path:
    """``npm pack us-atlas@3.0.1`` into *workdir*; return the unpacked package dir."""
    npm = shutil.which("npm")
    if npm is None:
        fail("npm is required to fetch us-atlas")
    subprocess.run([npm, "pack", US_ATLAS, "--silent"], cwd=workdir, check=True,
                   stdout=subprocess.DEVNULL)
    tgz = workdir / "us-atlas-3.0.1.tgz"
    if not tgz.is_file():
        fail(f"npm pack did not produce {tgz.name}")
    with tarfile.open(tgz) as tf:
        tf.extractall(workdir, filter="data")
    pkg = workdir / "package"
    for f in ("states-10m.json", "counties-10m.json", "LICENSE"):
        if not (pkg / f).is_file():
            fail(f"us-atlas package lacks {f}")
    return pkg


# --------------------------------------------------------------------- geometry
def polygonal(geom):
    """Keep only the polygon parts of *geom* (after make_valid) as (Multi)Polygon."""
    if geom is None or geom.is_empty:
        return None
    if isinstance(geom, (Polygon, MultiPolygon)):
        return geom
    parts = []
    for g in getattr(geom, "geoms", []):
        p = polygonal(g)
        if p is not None:
            parts.extend(p.geoms if isinstance(p, MultiPolygon) else [p])
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def repair(geom):
    if geom is None or geom.is_empty:
        return None
    if not geom.is_valid:
        geom = make_valid(geom)
    return polygonal(geom)


def rfc7946_orient(geom):
    """Exterior rings counter-clockwise, holes clockwise (RFC 7946 section 3.1.6)."""
    if isinstance(geom, Polygon):
        return orient(geom, sign=1.0)
    return MultiPolygon([orient(p, sign=1.0) for p in geom.geoms])


def finish_geometry(gdf: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    """Snap to the output grid, repair, orient; fail on anything empty or invalid."""
    gdf = gdf.copy()
    geoms = []
    for rid, g in zip(gdf["region_id"], gdf.geometry):
        g = repair(g)
        if g is None:
            fail(f"{what}: {rid} has empty geometry")
        # Round to the output precision here, so the file we write is exactly
        # what we validated (rounding at write time can create self-intersections).
        g = repair(_round_coords(shapely.set_precision(g, 10 ** -PRECISION)))
        if g is None or g.is_empty or not g.is_valid:
            fail(f"{what}: {rid} has no valid polygon after rounding")
        geoms.append(rfc7946_orient(g))
    gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs="EPSG:4326"))
    return gdf


def _round_coords(geom):
    return shapely.transform(geom, lambda xy: np.round(xy, PRECISION))


def write_geojson(gdf: gpd.GeoDataFrame, path: Path, max_mb: float) -> None:
    """Write compact RFC 7946 GeoJSON (lon/lat WGS 84, no ``crs`` member) and verify it."""
    features = []
    props = [c for c in gdf.columns if c != gdf.geometry.name]
    for row, geom in zip(gdf[props].itertuples(index=False), gdf.geometry):
        features.append({
            "type": "Feature",
            "properties": {k: (None if pd.isna(v) else v) for k, v in zip(props, row)},
            "geometry": shapely.geometry.mapping(_round_coords(geom)),
        })
    text = json.dumps({"type": "FeatureCollection", "features": features},
                      separators=(",", ":"), ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    size_mb = path.stat().st_size / 1e6
    if size_mb > max_mb:
        fail(f"{path.name} is {size_mb:.2f} MB (limit {max_mb} MB)")
    back = gpd.read_file(path)
    if back.crs is None or back.crs.to_epsg() != 4326:
        fail(f"{path.name}: not read back as EPSG:4326")
    bad = back[back.geometry.isna() | back.is_empty | ~back.is_valid]
    if len(bad):
        fail(f"{path.name}: invalid/empty after writing: {bad['region_id'].tolist()}")
    if back["region_id"].duplicated().any():
        fail(f"{path.name}: duplicate region_id")
    print(f"wrote {path.relative_to(REPO)} ({len(back)} features, {size_mb:.2f} MB)")


def read_topojson(path: Path, layer: str) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    # The TopoJSON driver reports no CRS; us-atlas *-10m.json is unprojected lon/lat.
    return gdf.set_crs(4326, allow_override=True)


# ----------------------------------------------------------------------- states
def check_same(a: pd.Series, b: pd.Series, what: str, tol: float = 0.0) -> None:
    """Fail loudly unless a and b (aligned on index) agree, NaN matching NaN."""
    a, b = a.align(b)
    both_na = a.isna() & b.isna()
    one_na = a.isna() ^ b.isna()
    diff = (a.astype(float) - b.astype(float)).abs() > tol
    bad = one_na | (diff & ~both_na)
    if bad.any():
        rows = pd.DataFrame({"built": a[bad], "state_indicators": b[bad]})
        fail(f"cross-check failed for {what}:\n{rows}")


def build_states(sh: Shared) -> pd.DataFrame:
    ref = sh.csv("states_reference.csv")
    ref = ref[ref["census_region"].notna()]  # PR (72) has no Census region: not a state
    ref = ref[ref["state_fips"].astype(int) <= 56]
    if len(ref) != 51:
        fail(f"expected 50 states + DC in states_reference.csv, got {len(ref)}")
    out = pd.DataFrame({
        "region_id": ref["state_fips"],
        "postal": ref["postal"],
        "name": ref["state_name"],
        "census_region": ref["census_region"],
        "census_division": ref["census_division"],
        "population": ref["population_2022"].astype("Int64"),
    }).set_index("region_id", drop=False)

    def by_fips(df: pd.DataFrame, col: str, what: str) -> pd.Series:
        df = df[df["state_fips"].isin(out.index)]
        if df["state_fips"].duplicated().any():
            fail(f"{what}: duplicate state rows")
        missing = set(out.index) - set(df["state_fips"])
        if missing:
            fail(f"{what}: no row for states {sorted(missing)}")
        # join keys must agree with the reference table
        chk = df.set_index("state_fips")["postal"]
        if (chk.reindex(out.index) != out["postal"]).any():
            fail(f"{what}: postal codes disagree with states_reference.csv")
        return df.set_index("state_fips")[col].reindex(out.index)

    # NCSES SKTI-23: AI job postings Oct 2016 - Sep 2021
    jp = sh.csv("state_ai_job_postings_2016_2021.csv")
    out["ai_job_postings"] = by_fips(jp, "ai_job_postings", "SKTI-23").astype("Int64")
    if int(out["ai_job_postings"].sum()) != 3_714_033:  # the table's U.S. total row
        fail("SKTI-23: the 51 states do not add up to the U.S. total 3,714,033")

    # NCSES SKTI-22: AI VC 2010-2020, summed over non-missing years; all-NA -> NA
    vc = sh.csv("state_ai_vc_funding_2010_2020.csv")
    vc = vc[vc["state_fips"].isin(out.index)]
    if sorted(vc["year"].unique()) != list(range(2010, 2021)):
        fail("SKTI-22: expected years 2010-2020")
    if vc.groupby("state_fips").size().ne(11).any():
        fail("SKTI-22: each state needs 11 yearly rows")
    vsum = vc.groupby("state_fips")["ai_vc_musd"].sum(min_count=1).round(2)
    out["ai_vc_musd"] = vsum.reindex(out.index)

    # NCSES SINV-32: firms receiving VC, 2022
    ff = sh.csv("state_vc_funded_firms_2003_2022.csv")
    ff = ff[ff["year"] == 2022]
    out["vc_funded_firms"] = by_fips(ff, "vc_funded_firms", "SINV-32").astype("Int64")

    # NCSES BERD 2022 table 5: total business R&D, millions USD
    bd = sh.csv("state_business_rd_2022.csv")
    out["business_rd_musd"] = by_fips(bd, "business_rd_musd_2022", "BERD table 5").astype("Int64")

    # NCSES HERD table 82: FY2023 S&E R&D; thousands USD -> millions USD (/1000)
    he = sh.csv("state_higher_ed_rd_2010_2023.csv")
    he = he[he["fiscal_year"] == 2023]
    out["university_se_rd_musd"] = (by_fips(he, "herd_se_kusd", "HERD table 82") / 1000).round(3)

    # NCSES SED 2023 table 7-10: research doctorates
    sed = sh.csv("state_research_doctorates_2023.csv")
    out["cs_doctorates"] = by_fips(sed, "doctorates_computer_info_sci", "SED 7-10").astype("Int64")
    out["se_doctorates"] = by_fips(sed, "doctorates_se_total", "SED 7-10").astype("Int64")

    # NCSES KTI-A 2021 (BEA): KTI value added and GDP, millions USD
    kt = sh.csv("state_gdp_kti_2021.csv")
    out["kti_value_added_musd"] = by_fips(kt, "kti_value_added_musd", "KTI-A").astype("Int64")
    out["gdp_musd"] = by_fips(kt, "gdp_musd_2021", "KTI-A").astype("Int64")

    out = out[STATE_COLUMNS].reset_index(drop=True).sort_values("region_id").reset_index(drop=True)

    # ---- cross-check against the joined convenience file
    si = sh.csv("state_indicators.csv").set_index("state_fips")
    o = out.set_index("region_id")
    for a, b, _tol in [
        ("postal", "postal", None), ("name", "state_name", None),
        ("census_region", "census_region", None), ("census_division", "census_division", None),
    ]:
        if (o[a] != si[b].reindex(o.index)).any():
            fail(f"cross-check failed for {a}")
    pairs = [
        ("population", "population_2022", 0),
        ("ai_job_postings", "ai_job_postings_2016_2021", 0),
        ("ai_vc_musd", "ai_vc_musd_sum_2010_2020", 0.005),
        ("vc_funded_firms", "vc_funded_firms_2022", 0),
        ("business_rd_musd", "business_rd_musd_2022", 0),
        ("cs_doctorates", "cs_doctorates_2023", 0),
        ("se_doctorates", "se_doctorates_2023", 0),
        ("kti_value_added_musd", "kti_value_added_musd_2021", 0),
        ("gdp_musd", "gdp_musd_2021", 0),
    ]
    for a, b, tol in pairs:
        check_same(o[a], si[b].reindex(o.index), a, tol)
    check_same(o["university_se_rd_musd"] * 1000, si["herd_se_kusd_fy2023"].reindex(o.index),
               "university_se_rd_musd", 1e-6)

    # ---- sanity
    na = out[STATE_INDICATORS + ["population"]].isna().sum()
    if na.drop("ai_vc_musd").any():
        fail(f"unexpected missing values: {na[na > 0].to_dict()}")
    na_vc = sorted(out.loc[out["ai_vc_musd"].isna(), "postal"])
    if na_vc != ["MS", "ND", "SD", "WV"]:
        fail(f"ai_vc_musd all-NA states changed: {na_vc}")
    num = out[STATE_INDICATORS + ["population"]].astype(float)
    if (num < 0).any().any():
        fail("negative values in state indicators")
    print(f"states: {len(out)} rows, population {int(out['population'].sum()):,}")
    return out


def build_state_geometry(pkg: Path, states: pd.DataFrame) -> gpd.GeoDataFrame:
    g = read_topojson(pkg / "states-10m.json", "states")
    g = g.rename(columns={"id": "region_id"})
    g = g[g["region_id"].isin(states["region_id"])]
    if sorted(g["region_id"]) != sorted(states["region_id"]) or g["region_id"].duplicated().any():
        fail("states-10m.json does not have exactly one feature per state")
    g = g.merge(states[["region_id", "name"]], on="region_id", suffixes=("_atlas", ""))
    g = g[["region_id", "name", "geometry"]].sort_values("region_id").reset_index(drop=True)
    return finish_geometry(g, "states")



# ------------------------------------------------------------ counties, metros
PLOTLY_GEO = "plotly-geo==1.0.0"
PLOTLY_SHP = "_plotly_geo/package_data/cb_2016_us_county_500k"
FALLS_CHURCH = "51610"
# Alaska: Valdez-Cordova Census Area (02261, in the 2017 geometry and the crosswalk) was split
# in 2019 into Chugach (02063) and Copper River (02066), which the 2022 estimates report.
VALDEZ_CORDOVA = ("02261", ("02063", "02066"))
PATENT_YEARS = list(range(2000, 2016))
# ASSUMPTION (documented in SOURCES.md): a metro of fewer than 250,000 residents is "small".
SMALL_RURAL_POPULATION = 250_000
# CBP 2019 is coded by the OMB 2017 delineation (Bulletin 17-01). The shared crosswalk
# (county_cbsa_crosswalk.csv) files a few counties under codes of other vintages that CBP
# 2019 does not use; OMB's 2013-2017 bulletins put those counties in the CBP areas below.
# shared-crosswalk code -> the CBP 2019 code that holds its counties (documented in SOURCES.md)
CBP_2017_CODE = {
    "19430": "19380",  # Dayton-Kettering OH: recoded in 2018 (Bulletin 18-04), same counties
    "39150": "39140",  # Prescott Valley-Prescott AZ: recoded in 2018, same county
    "36837": "36860",  # Ottawa IL: recoded in 2018 (Ottawa-Peru), same counties
    "30100": "17200",  # Lebanon NH-VT: recoded in 2018 (Claremont-Lebanon), same counties
    "49060": "11680",  # Cowley County KS: Arkansas City-Winfield (OMB 2023 still lists 11680)
    "39100": "35620",  # Dutchess + Orange NY: in New York-Newark-Jersey City 2013-2022
    "27530": "13820",  # Walker County AL: in Birmingham-Hoover 2013-2017
    "40530": "18580",  # Aransas County TX: in Corpus Christi 2013-2017
    "14160": "23060",  # Wells County IN: in Fort Wayne 2013-2017
    "46420": "43900",  # Union County SC: in Spartanburg 2013-2017
    "24180": "19100",  # Hood County TX: in Dallas-Fort Worth-Arlington 2013-2017
    "42500": "31140",  # Scott County IN: in Louisville/Jefferson County 2013-2017
}
# Connecticut: CBP 2019 counts the old Connecticut metros, made of the 8 former counties; the
# 2022 population estimates and OMB 2023 use the 9 planning regions, which are made of towns
# and do not nest in the counties. Each planning region is placed in the former county that
# holds most of its towns' people (an approximation: no town-level table is shipped), so a
# 2017 CT area is the set of planning regions placed in its counties.
CT_PLANNING_REGION_COUNTY = {
    "09110": "09003",  # Capitol ~ Hartford County
    "09120": "09001",  # Greater Bridgeport ~ Fairfield County
    "09130": "09007",  # Lower Connecticut River Valley ~ Middlesex County
    "09140": "09009",  # Naugatuck Valley ~ New Haven County
    "09150": "09015",  # Northeastern Connecticut ~ Windham County
    "09160": "09005",  # Northwest Hills ~ Litchfield County
    "09170": "09009",  # South Central Connecticut ~ New Haven County
    "09180": "09011",  # Southeastern Connecticut ~ New London County
    "09190": "09001",  # Western Connecticut ~ Fairfield County
}
# how a 2023 metro got its CBP 2019 figures (the cbp_join column), in the order tried
CBP_JOIN_RULES = {
    "same_code": "the CBP area of the same code has the same counties",
    "renamed": "a CBP area under another code has the same counties",
    "county_overlap": "the sum of the whole CBP areas inside the metro (it gained or merged areas)",
    "county_overlap_apportioned": "CBP areas that split, each shared out by the 2022 population "
                                  "of its counties inside the metro",
    "connecticut_planning_regions": "old Connecticut CBP areas, through the planning regions "
                                    "placed in their former counties, apportioned by population",
    "not_covered": "no CBP 2019 area holds any of its counties (left empty)",
}

# shipped column -> column of cbsa_oews_ai_occupations_may2025.csv (BLS OEWS May 2025)
OEWS = {
    "oews_all_occupations": "emp_all_occupations",               # 00-0000
    "oews_computer_math": "emp_computer_math_group",             # 15-0000
    "oews_cs_research_scientists": "emp_computer_info_research_scientists",  # 15-1221
    "oews_data_scientists": "emp_data_scientists",               # 15-2051
    "oews_software_developers": "emp_software_developers",       # 15-1252
    "oews_hardware_engineers": "emp_computer_hardware_engineers",  # 17-2061
    "oews_systems_analysts": "emp_computer_systems_analysts",    # 15-1211
    "oews_statisticians": "emp_statisticians",                   # 15-2041
}
# shipped column (millions USD) -> HERD FY2023 table 71 column (thousands USD)
HERD = {
    "herd_all_fields_musd": "rd_all_fields_kusd",
    "herd_cs_musd": "rd_computer_info_sci_kusd",
    "herd_engineering_musd": "rd_engineering_kusd",
    "herd_math_stats_musd": "rd_math_stats_kusd",
}
HERD_AI = "herd_ai_fields_musd"  # CS + engineering + math and statistics
HERD_US_TOTAL_KUSD = 108_681_008   # NCSES HERD FY2023 table 71, U.S. total, all fields
HERD_US_CS_KUSD = 3_617_348        # the same, computer and information sciences
HERD_INSTITUTIONS = 664
# shipped column -> CBP 2019 column (mid-March employees)
CBP = {
    "cbp_all_industries": "emp_all_industries",
    "cbp_computer_systems_design": "emp_n5415_computer_systems_design",
    "cbp_data_processing": "emp_n5182_data_processing_hosting",
    "cbp_scientific_rd": "emp_n5417_scientific_rnd_services",
    "cbp_software_publishers": "emp_n5112_software_publishers",
    "cbp_semiconductors": "emp_n3344_semiconductors_electronic_components",
}
# metro figures apportioned to the member counties by population (no county figure exists)
FROM_METRO = ["oews_computer_math", "oews_software_developers", "oews_data_scientists",
              "oews_cs_research_scientists", "cbp_data_processing", "cbp_semiconductors"]
METRO_APPORTIONED = [f"{c}_metro_apportioned" for c in FROM_METRO]

# Connecticut's 2023 metros are delineated by planning region (2022), but the only county
# polygons in the shipped packages are the 8 former counties (2017). Each CT metro is drawn
# with the former counties that hold most of its planning regions (an approximation for the
# map only; no figure depends on it). New Haven County holds both the South Central (New
# Haven) and the Naugatuck Valley (Waterbury-Shelton) planning regions: both are drawn with it.
CT_METRO_SHAPES = {
    "14860": ("09001",),                    # Greater Bridgeport + Western CT ~ Fairfield County
    "25540": ("09003", "09007", "09013"),   # Capitol + Lower CT River Valley ~ Hartford,
                                            # Middlesex, Tolland counties
    "35300": ("09009",),                    # South Central CT ~ New Haven County
    "47930": ("09009",),                    # Naugatuck Valley ~ New Haven County (shared)
    "35980": ("09011",),                    # Southeastern CT ~ New London County
}

COUNTY_COLUMNS = [
    "region_id", "name", "postal", "state_fips", "census_region", "census_division",
    "cbsa_code", "cbsa_type", "population", "utility_patents_2000_2015",
    *HERD, HERD_AI, "ba_plus_share_pct", "ba_plus_residents",
]
CBP_JOIN_COLUMNS = ["cbp_join", "cbp_area_split", "cbp_coverage_pct"]
METRO_COLUMNS = [
    "region_id", "name", "postal", "state_fips", "states", "census_region", "census_division",
    "population", "small_rural", *OEWS, *HERD, HERD_AI, *CBP, *CBP_JOIN_COLUMNS,
    "utility_patents_2000_2015",
]
APPORTIONED = [f"{c}_apportioned" for c in STATE_INDICATORS]


def fetch_falls_church(workdir: Path) -> gpd.GeoDataFrame:
    """Falls Church city VA from plotly-geo 1.0.0 (Census cb_2016 500k county file)."""
    subprocess.run([sys.executable, "-m", "pip", "download", PLOTLY_GEO, "--no-deps",
                    "--quiet", "--disable-pip-version-check", "-d", str(workdir)], check=True)
    wheels = list(workdir.glob("plotly_geo-1.0.0-*.whl"))
    if len(wheels) != 1:
        fail("pip download did not produce the plotly-geo 1.0.0 wheel")
    with zipfile.ZipFile(wheels[0]) as zf:
        for ext in (".shp", ".shx", ".dbf"):
            zf.extract(PLOTLY_SHP + ext, workdir)
    shp = gpd.read_file(workdir / (PLOTLY_SHP + ".shp"), engine="pyogrio")
    fc = shp[shp["GEOID"] == FALLS_CHURCH]
    if len(fc) != 1:
        fail("plotly-geo county file lacks Falls Church 51610")
    # The wheel ships no .prj; Census cartographic boundary files are NAD83 (EPSG:4269).
    fc = fc.set_crs(4269, allow_override=True).to_crs(4326)
    fc = fc.assign(geometry=fc.geometry.simplify(0.001, preserve_topology=True))
    return fc.rename(columns={"GEOID": "region_id"})[["region_id", "geometry"]]


def plotly_license(workdir: Path) -> str:
    wheels = list(workdir.glob("plotly_geo-1.0.0-*.whl"))
    with zipfile.ZipFile(wheels[0]) as zf:
        text = zf.read("plotly_geo-1.0.0.dist-info/LICENSE.txt").decode()
    if "MIT" not in text or "Plotly" not in text:
        fail("unexpected plotly-geo license text")
    return text


def read_omb2023(sh: Shared, states: pd.DataFrame) -> pd.DataFrame:
    """OMB Bulletin 23-01 county->CBSA list, 50 states + DC (Puerto Rico dropped)."""
    x = sh.csv("county_cbsa_crosswalk_omb2023.csv")
    if x["county_fips"].duplicated().any():
        fail("OMB 2023 crosswalk: duplicate county_fips")
    x["state_fips"] = x["county_fips"].str[:2]
    n_pr = x.loc[(x["state_fips"] == "72") & (x["cbsa_type"] == "metro"), "cbsa_code"].nunique()
    x = x[x["state_fips"].isin(states["region_id"])].copy()
    if set(x["cbsa_type"]) != {"metro", "micro"}:
        fail(f"OMB 2023 crosswalk: unexpected cbsa_type values {set(x['cbsa_type'])}")
    n_metro = x.loc[x["cbsa_type"] == "metro", "cbsa_code"].nunique()
    if (n_metro, n_pr) != (387, 6):
        fail(f"OMB 2023: expected 387 metros in the states + DC and 6 in PR, got {n_metro}, {n_pr}")
    return x


def state_apportioned(county_fips: pd.Series, population: pd.Series,
                      states: pd.DataFrame) -> pd.DataFrame:
    """State indicators shared out to counties by population share (per county row)."""
    st = states.set_index("region_id")
    sf = county_fips.str[:2]
    share = population.astype(float) / sf.map(st["population"]).astype(float)
    return pd.DataFrame({f"{c}_apportioned": sf.map(st[c].astype(float)) * share
                         for c in STATE_INDICATORS}, index=county_fips.index)


def build_counties(sh: Shared, states: pd.DataFrame, pkg: Path, workdir: Path,
                   omb: pd.DataFrame, report: dict):
    xw = sh.csv("county_cbsa_crosswalk.csv")
    pop = sh.csv("county_population_2022.csv")
    pat = sh.csv("county_utility_patents_2000_2015.csv")
    st = states.set_index("region_id")

    # The county set is that of the 2017 geometry (the shared crosswalk lists exactly it for
    # the 50 states + DC); CBSA membership comes from the OMB 2023 delineation.
    xw = xw[xw["state_fips"].isin(st.index)].copy()
    if xw["county_fips"].duplicated().any():
        fail("crosswalk: duplicate county_fips")
    if not (xw["county_fips"].str[:2] == xw["state_fips"]).all():
        fail("crosswalk: county_fips does not start with state_fips")

    # ---- population (Census 2022 county estimates), keyed to the crosswalk's county set
    popm = pop.set_index("county_fips")["population_2022"]
    if popm.index.duplicated().any():
        fail("county population: duplicate county_fips")
    xw["population"] = xw["county_fips"].map(popm).astype("Int64")
    vc_code, parts = VALDEZ_CORDOVA
    if vc_code in set(xw["county_fips"]) and vc_code not in popm.index:
        if not all(p in popm.index for p in parts):
            fail("Alaska 2019 split parts missing from the county population table")
        xw.loc[xw["county_fips"] == vc_code, "population"] = int(popm[list(parts)].sum())
        print(f"counties: {vc_code} Valdez-Cordova population = sum of {' + '.join(parts)} (2019 split)")

    drops = xw[xw["population"].isna()]
    for r in drops.itertuples():
        if r.state_fips == "09":
            why = ("Connecticut: the 2022 estimates report the 9 planning regions (091xx), "
                   "not the 8 former counties of the 2017 geometry")
        elif r.county_fips == "51515":
            why = "Bedford city VA: merged into Bedford County 51019 in 2013; no 2022 estimate, no geometry"
        else:
            why = "no 2022 population estimate"
        print(f"counties: DROP {r.county_fips} {r.county_name}: {why}")
    expected_drops = {f"090{n:02d}" for n in range(1, 16, 2)} | {"51515"}
    if set(drops["county_fips"]) != expected_drops:
        fail(f"counties without population changed: {sorted(drops['county_fips'])}")
    unused = set(pop["county_fips"]) - set(xw["county_fips"]) - set(parts)
    unused = {u for u in unused if not u.startswith("72")}
    if unused != {f"091{n}0" for n in range(1, 10)}:
        fail(f"unexpected population rows not in the crosswalk: {sorted(unused)}")
    xw = xw[xw["population"].notna()].copy()

    sums = xw.groupby("state_fips")["population"].sum()
    diff = (sums - st["population"].reindex(sums.index)).astype(int)
    if (diff != 0).any():
        fail(f"county populations do not add up to the state totals: {diff[diff != 0].to_dict()}")
    if set(st.index) - set(sums.index) != {"09"}:
        fail("a state other than Connecticut lost all its counties")

    # ---- OMB 2023 CBSA of each county
    o = omb[omb["state_fips"] != "09"].set_index("county_fips")
    not_here = sorted(set(o.index) - set(xw["county_fips"]))
    if not_here:
        fail(f"OMB 2023 counties outside the 2017 county set: {not_here}")
    xw["cbsa_code"] = xw["county_fips"].map(o["cbsa_code"])
    xw["cbsa_type"] = xw["county_fips"].map(o["cbsa_type"]).fillna("nonmetro")
    report["counties_omb2023"] = {
        "counties": len(xw), "metro": int((xw["cbsa_type"] == "metro").sum()),
        "micro": int((xw["cbsa_type"] == "micro").sum()),
        "nonmetro": int((xw["cbsa_type"] == "nonmetro").sum()),
        "connecticut_planning_regions_not_placed": int((omb["state_fips"] == "09").sum()),
    }

    # ---- utility patents (USPTO PTMT, by county of inventor), 2000-2015
    cols = [f"patents_{y}" for y in PATENT_YEARS]
    if pat[cols].isna().any().any():
        fail("patent table has empty yearly cells; rule would need revisiting")
    patm = pat.set_index("county_fips")[cols].sum(axis=1)
    xw["utility_patents_2000_2015"] = xw["county_fips"].map(patm).astype("Int64")
    report["patents_county"] = {
        "source_rows": len(pat), "matched": int(xw["county_fips"].isin(patm.index).sum()),
        "counties_absent_from_source": int(xw["utility_patents_2000_2015"].isna().sum()),
        "source_rows_not_placed": sorted(set(patm.index) - set(xw["county_fips"])),
    }

    # ---- HERD FY2023 by county (2022 county set): sum over the HERD institutions there
    hc = sh.csv("county_herd_rd_fy2023.csv").set_index("county_fips")
    if hc.index.duplicated().any():
        fail("county HERD: duplicate county_fips")
    for col, src in HERD.items():
        xw[col] = (xw["county_fips"].map(hc[src]).fillna(0) / 1000).round(3)
    xw[HERD_AI] = (xw["county_fips"].map(
        hc[["rd_computer_info_sci_kusd", "rd_engineering_kusd", "rd_math_stats_kusd"]].sum(axis=1)
    ).fillna(0) / 1000).round(3)
    lost = hc[~hc.index.isin(xw["county_fips"])]
    report["herd_county"] = {
        "source_rows": len(hc), "matched": int(hc.index.isin(xw["county_fips"]).sum()),
        "not_placed": {k: int(v) for k, v in lost["rd_all_fields_kusd"].items()},
        "counties_without_institution": int((~xw["county_fips"].isin(hc.index)).sum()),
        "kusd_in_counties": int(hc.loc[hc.index.isin(xw["county_fips"]), "rd_all_fields_kusd"].sum()),
    }
    if int(hc["rd_all_fields_kusd"].sum()) != HERD_US_TOTAL_KUSD:
        fail("county HERD does not add up to the U.S. total")
    print(f"counties: HERD not placed (no county row): {report['herd_county']['not_placed']}")

    # ---- ACS 2014-18 bachelor's-or-higher share (S1501), and residents x share
    acs = sh.csv("county_acs5_2014_2018_bachelors_share.csv").set_index("county_fips")
    xw["ba_plus_share_pct"] = xw["county_fips"].map(acs["pct_pop25_baplus"])
    xw["ba_plus_residents"] = (xw["ba_plus_share_pct"] / 100 * xw["population"].astype(float)).round()
    xw["ba_plus_residents"] = xw["ba_plus_residents"].astype("Int64")
    report["acs_county"] = {"source_rows": len(acs),
                            "matched": int(xw["county_fips"].isin(acs.index).sum()),
                            "empty": int(xw["ba_plus_share_pct"].isna().sum())}

    # ---- names carry the state: "Washington County, OR"
    base = [n[: -(len(sn) + 2)] if isinstance(n, str) and n.endswith(", " + sn) else n
            for n, sn in zip(xw["county_name"], xw["state_name"])]
    xw["postal"] = xw["state_fips"].map(st["postal"])
    xw["name"] = [f"{b}, {p}" for b, p in zip(base, xw["postal"])]
    if xw["name"].isna().any() or xw["name"].duplicated().any():
        fail("county names missing or not unique")
    xw["region_id"] = xw["county_fips"]
    for c in ("census_region", "census_division"):
        xw[c] = xw["state_fips"].map(st[c])

    xw = pd.concat([xw, state_apportioned(xw["county_fips"], xw["population"], states)], axis=1)
    counties = xw[COUNTY_COLUMNS + APPORTIONED].sort_values("region_id").reset_index(drop=True)

    # ---- geometry: us-atlas counties + Falls Church from plotly-geo
    g_all = read_topojson(pkg / "counties-10m.json", "counties").rename(columns={"id": "region_id"})
    ct_old = g_all[g_all["region_id"].isin({c for cs in CT_METRO_SHAPES.values() for c in cs})]
    ct_old = ct_old.assign(geometry=[repair(x) for x in ct_old.geometry])[["region_id", "geometry"]]
    g = g_all[g_all["region_id"].isin(counties["region_id"])].copy()
    g["geometry"] = [repair(x) for x in g.geometry]
    empty = g.loc[g.geometry.isna(), "region_id"].tolist()
    if empty != [FALLS_CHURCH]:
        fail(f"unexpected empty county geometry in us-atlas: {empty}")
    fc = fetch_falls_church(workdir)
    g = pd.concat([g[g["region_id"] != FALLS_CHURCH][["region_id", "geometry"]], fc],
                  ignore_index=True)
    g = gpd.GeoDataFrame(g, geometry="geometry", crs="EPSG:4326")
    # In us-atlas the area of Falls Church is covered by its neighbours (mostly Fairfax
    # County); cut the city out of them so that the counties do not overlap.
    fcg = fc.geometry.iloc[0]
    hit = g.intersects(fcg) & (g["region_id"] != FALLS_CHURCH)
    for i in g.index[hit]:
        cut = repair(g.at[i, "geometry"].difference(fcg))
        if cut is None:
            fail(f"cutting Falls Church out of {g.at[i, 'region_id']} left nothing")
        g.at[i, "geometry"] = cut
    print(f"counties: Falls Church cut out of {sorted(g.loc[hit, 'region_id'])}")
    if sorted(g["region_id"]) != sorted(counties["region_id"]) or g["region_id"].duplicated().any():
        missing = set(counties["region_id"]) ^ set(g["region_id"])
        fail(f"county rows and geometry differ: {sorted(missing)}")
    print("counties: 51610 Falls Church geometry from plotly-geo 1.0.0 (empty in us-atlas)")
    return counties, g, ct_old


def suppressed(df: pd.DataFrame, cols) -> dict[str, int]:
    return {c: int(df[c].isna().sum()) for c in cols}


def build_metros(sh: Shared, states: pd.DataFrame, omb: pd.DataFrame, counties: pd.DataFrame,
                 county_geo: gpd.GeoDataFrame, ct_old: gpd.GeoDataFrame, areas: pd.Series,
                 report: dict):
    """The 387 metropolitan CBSAs of OMB 2023 in the 50 states + DC, with measured columns."""
    om = omb[omb["cbsa_type"] == "metro"].copy()
    popm = sh.csv("county_population_2022.csv").set_index("county_fips")["population_2022"]
    om["population"] = om["county_fips"].map(popm)
    if om["population"].isna().any():
        fail(f"OMB 2023 metro counties without a 2022 estimate: "
             f"{om.loc[om['population'].isna(), 'county_fips'].tolist()}")
    by_postal = states.set_index("region_id")["postal"]
    om["postal"] = om["state_fips"].map(by_postal)

    titles = om.groupby("cbsa_code")["cbsa_title"].first()
    m = pd.DataFrame({"region_id": titles.index, "name": titles.to_numpy()})
    m["states"] = m["name"].str.rsplit(", ", n=1).str[1].str.replace("-", ";")
    have = om.groupby("cbsa_code")["postal"].agg(set)
    bad = [c for c, s in zip(m["region_id"], m["states"]) if set(s.split(";")) != have[c]]
    if bad:
        fail(f"metros whose title states differ from their counties' states: {bad}")
    m["postal"] = m["states"].str.split(";").str[0]
    st = states.set_index("postal")
    m["state_fips"] = m["postal"].map(st["region_id"])
    m["census_region"] = m["postal"].map(st["census_region"])
    m["census_division"] = m["postal"].map(st["census_division"])
    m["population"] = m["region_id"].map(om.groupby("cbsa_code")["population"].sum()).astype("Int64")
    m["small_rural"] = m["population"] < SMALL_RURAL_POPULATION
    m = m.set_index("region_id", drop=False)

    # ---- OEWS May 2025 (OMB 2023 codes): joined on the code
    oe = sh.csv("cbsa_oews_ai_occupations_may2025.csv")
    msa = oe[oe["area_type"] == "msa"].set_index("area_code")
    if len(msa) != 393:
        fail(f"OEWS: expected 393 MSAs, got {len(msa)}")
    for col, src in OEWS.items():
        m[col] = msa[src].reindex(m.index).astype("Int64")
    not_joined = sorted(set(msa.index) - set(m.index))
    report["oews"] = {
        "source_msas": len(msa), "matched": int(m.index.isin(msa.index).sum()),
        "source_rows_not_joined": not_joined,
        "why_not_joined": "Puerto Rico MSAs (outside the 50 states + DC)",
        "suppressed_in_metros": suppressed(m, OEWS),
    }
    if any(msa.at[c, "state_fips_primary"] != "72" for c in not_joined):
        fail(f"OEWS MSAs left out other than Puerto Rico: {not_joined}")
    if int(m.at["41940", "oews_software_developers"]) != 87_350:
        fail("OEWS: San Jose software developers is not the published 87,350")

    # ---- HERD FY2023 (OMB 2023 codes): sum over institutions; no institution -> 0
    inst = sh.csv("institution_herd_rd_by_field_fy2023.csv")
    if len(inst) != HERD_INSTITUTIONS or int(inst["rd_all_fields_kusd"].sum()) != HERD_US_TOTAL_KUSD \
            or int(inst["rd_computer_info_sci_kusd"].sum()) != HERD_US_CS_KUSD:
        fail("HERD institutions do not reproduce the published U.S. totals")
    hb = sh.csv("cbsa2023_herd_rd_fy2023.csv").set_index("cbsa_code")
    by_inst = inst.groupby("cbsa_code_2023")[list(HERD.values())].sum()
    if not by_inst.reindex(hb.index)[list(HERD.values())].eq(hb[list(HERD.values())]).all().all():
        fail("HERD: the CBSA file is not the sum of its institutions")
    for col, src in HERD.items():
        m[col] = (hb[src].reindex(m.index).fillna(0) / 1000).round(3)
    ai = hb[["rd_computer_info_sci_kusd", "rd_engineering_kusd", "rd_math_stats_kusd"]].sum(axis=1)
    m[HERD_AI] = (ai.reindex(m.index).fillna(0) / 1000).round(3)
    in_metro = hb.index.isin(m.index)
    report["herd"] = {
        "institutions": len(inst), "us_total_kusd": int(inst["rd_all_fields_kusd"].sum()),
        "us_cs_kusd": int(inst["rd_computer_info_sci_kusd"].sum()),
        "institutions_without_cbsa": int(inst["cbsa_code_2023"].isna().sum()),
        "kusd_without_cbsa": int(inst.loc[inst["cbsa_code_2023"].isna(), "rd_all_fields_kusd"].sum()),
        "cbsa_rows": len(hb), "cbsa_rows_in_metros": int(in_metro.sum()),
        "cbsa_rows_not_metros": int((~in_metro).sum()),
        "kusd_in_metros": int(hb.loc[in_metro, "rd_all_fields_kusd"].sum()),
        "kusd_in_other_cbsas": int(hb.loc[~in_metro, "rd_all_fields_kusd"].sum()),
        "metros_without_institution": int((~m.index.isin(hb.index)).sum()),
    }
    h = report["herd"]
    if h["kusd_in_metros"] + h["kusd_in_other_cbsas"] + h["kusd_without_cbsa"] != HERD_US_TOTAL_KUSD:
        fail("HERD: metros + other CBSAs + no CBSA do not add up to the U.S. total")

    # ---- CBP 2019 (OMB 2017 codes): joined by county overlap (see cbp_2017_areas, join_cbp)
    cbp = sh.csv("cbsa_cbp2019_tech_industries.csv").set_index("cbsa_code")
    joined_cbp, info = join_cbp(om, areas, popm, cbp, report)
    for col in CBP:
        m[col] = joined_cbp[col].reindex(m.index).astype("Int64")
    for col in CBP_JOIN_COLUMNS:
        m[col] = info[col].reindex(m.index)
    m["cbp_area_split"] = m["cbp_area_split"].astype(bool)

    # ---- patents: county counts (USPTO PTMT county table) summed over OMB 2023 members
    cm = counties.set_index("region_id")
    pat = om["county_fips"].map(cm["utility_patents_2000_2015"])
    ct = om["state_fips"] == "09"
    m["utility_patents_2000_2015"] = m["region_id"].map(
        pat[~ct].groupby(om.loc[~ct, "cbsa_code"]).sum(min_count=1)).astype("Int64")
    ct_metros = sorted(om.loc[ct, "cbsa_code"].unique())
    m.loc[ct_metros, "utility_patents_2000_2015"] = pd.NA
    report["patents_metro"] = {
        "metros_empty_connecticut": ct_metros,
        "metros_with_a_county_absent_from_source": sorted(
            om.loc[~ct & pat.isna(), "cbsa_code"].unique()),
    }

    # ---- state figures apportioned by population share (flagged, not used by defaults)
    app = state_apportioned(om["county_fips"], om["population"], states)
    app = app.groupby(om["cbsa_code"]).sum(min_count=1).round(3)
    metros = pd.concat([m[METRO_COLUMNS], app.reindex(m.index)], axis=1).reset_index(drop=True)
    metros = metros.sort_values("region_id").reset_index(drop=True)

    # ---- geometry: the county polygons dissolved by OMB 2023 CBSA; CT approximated
    cg = county_geo.merge(counties[["region_id", "cbsa_code", "cbsa_type"]], on="region_id")
    cg = cg[cg["cbsa_type"] == "metro"][["cbsa_code", "geometry"]]
    ctg = [gpd.GeoDataFrame({"cbsa_code": [code]}, geometry=[shapely.union_all(
        ct_old.loc[ct_old["region_id"].isin(parts), "geometry"].tolist())], crs="EPSG:4326")
        for code, parts in CT_METRO_SHAPES.items()]
    cg = pd.concat([cg, *ctg], ignore_index=True)
    cg["cbsa_code"] = cg["cbsa_code"].astype(str)
    mg = cg.dissolve(by="cbsa_code", as_index=False)[["cbsa_code", "geometry"]]
    mg = mg.rename(columns={"cbsa_code": "region_id"})
    mg = mg.merge(metros[["region_id", "name"]], on="region_id")[["region_id", "name", "geometry"]]
    if sorted(mg["region_id"]) != metros["region_id"].tolist():
        fail("metro rows and geometry differ")
    return metros, mg.sort_values("region_id").reset_index(drop=True)


def cbp_2017_areas(sh: Shared, popm: pd.Series, cbp_codes: set[str], report: dict) -> pd.Series:
    """The CBP 2019 (OMB 2017) area of every county that has one, in the 2022 county set.

    The shared crosswalk gives the membership, recoded by ``CBP_2017_CODE``; Connecticut's
    planning regions take the area of the former county they are placed in. Counties of
    codes CBP does not publish belong to no area (not covered); a member county without a
    2022 estimate (e.g. one split or merged since) stops the build.
    """
    old = sh.csv("county_cbsa_crosswalk.csv")
    old = old[old["state_fips"] != "72"]
    have = set(old["cbsa_code"].dropna())
    for src, dst in CBP_2017_CODE.items():
        if src not in have or src in cbp_codes or dst not in cbp_codes:
            fail(f"CBP 2017 recode {src}->{dst} no longer fits the shared crosswalk and CBP 2019")
    code = old.dropna(subset=["cbsa_code"]).set_index("county_fips")["cbsa_code"]
    code = code.replace(CBP_2017_CODE)
    ct = pd.Series({pr: code.get(cty) for pr, cty in CT_PLANNING_REGION_COUNTY.items()}).dropna()
    code = code[~code.index.str.startswith("09")]
    code = pd.concat([code, ct])
    code = code[code.isin(cbp_codes)]
    no_pop = sorted(set(code.index) - set(popm.index))
    if no_pop:
        fail(f"CBP 2017 areas: counties without a 2022 estimate: {no_pop}")
    without = sorted(cbp_codes - set(code))
    report["cbp_areas"] = {
        "recoded_from_shared_crosswalk": CBP_2017_CODE,
        "connecticut_planning_region_in_former_county": CT_PLANNING_REGION_COUNTY,
        "shared_codes_not_in_cbp": sorted(set(old["cbsa_code"].dropna().replace(CBP_2017_CODE))
                                          - cbp_codes),
        "cbp_codes_without_counties": without,
    }
    return code


def join_cbp(om: pd.DataFrame, areas: pd.Series, popm: pd.Series, cbp: pd.DataFrame,
             report: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each 2023 metro's CBP 2019 figures: the CBP areas holding its counties, each taken
    in the share of its (2022) residents that live in the metro; a withheld cell adds
    nothing; all withheld -> empty; no area -> empty (not covered)."""
    pop = popm.astype(float)
    area_pop = pop.reindex(areas.index).groupby(areas).sum()
    area_members = areas.index.to_series().groupby(areas).agg(frozenset)
    ct_areas = set(areas[areas.index.str.startswith("09")])
    values, rows, detail = {}, {}, {}
    partly = dict.fromkeys(CBP, 0)
    for code, g in om.groupby("cbsa_code"):
        counties = set(g["county_fips"])
        total = float(pop[list(counties)].sum())
        inside = g.assign(area=g["county_fips"].map(areas), p=g["county_fips"].map(pop))
        parts = inside.dropna(subset=["area"]).groupby("area")["p"].sum()
        share = parts / area_pop[parts.index]
        covered = float(parts.sum()) / total
        apportioned = bool((share < 1 - 1e-12).any())
        if parts.empty:
            rule = "not_covered"
        elif any(c.startswith("09") for c in counties) or set(parts.index) & ct_areas:
            rule = "connecticut_planning_regions"
        elif len(parts) == 1 and area_members[parts.index[0]] == counties:
            rule = "same_code" if parts.index[0] == code else "renamed"
        else:
            rule = "county_overlap_apportioned" if apportioned else "county_overlap"
        vals = {}
        for col, src in CBP.items():
            v = cbp.loc[parts.index, src].astype(float)
            pub = v.notna()
            vals[col] = round(float((share[pub] * v[pub]).sum())) if pub.any() else np.nan
            if pub.any() and not pub.all():
                partly[col] += 1
        values[code] = vals
        rows[code] = {"cbp_join": rule, "cbp_area_split": apportioned,
                      "cbp_coverage_pct": round(100 * covered, 1)}
        if rule != "same_code":
            detail[code] = {"rule": rule, "name": g["cbsa_title"].iloc[0],
                            "population": int(total),
                            "areas": {a: round(float(x), 4) for a, x in share.items()},
                            "coverage_pct": round(100 * covered, 1)}
    info = pd.DataFrame.from_dict(rows, orient="index")
    uncovered = sorted(info.index[info["cbp_join"] == "not_covered"])
    if uncovered:  # the metro default reads empty CBP cells as zero: never ship such a metro
        fail(f"metros no CBP 2019 area covers (the default would read them as 0): {uncovered}")
    counts = info["cbp_join"].value_counts()
    report["cbp"] = {
        "source_rows": len(cbp), "metros": len(info),
        "rows_placed_by_rule": {r: int(counts.get(r, 0)) for r in CBP_JOIN_RULES},
        "rules": CBP_JOIN_RULES,
        "apportioned": int(info["cbp_area_split"].sum()),
        "not_fully_covered": int((info["cbp_coverage_pct"] < 100).sum()),
        "metros_not_same_code": detail,
        "withheld_in_covered_metros": {
            c: int(pd.Series({k: v[c] for k, v in values.items()}).isna().sum()) for c in CBP},
        "partly_withheld": partly,
    }
    return pd.DataFrame.from_dict(values, orient="index"), info


# state columns summed from the metro (and non-metro) tables: shipped column -> source column
STATE_OEWS = {c: OEWS[c] for c in ("oews_computer_math", "oews_software_developers",
                                   "oews_data_scientists", "oews_cs_research_scientists")}
STATE_CBP = {c: CBP[c] for c in ("cbp_data_processing", "cbp_semiconductors",
                                 "cbp_computer_systems_design", "cbp_software_publishers")}
STATE_TECH = [*STATE_OEWS, *STATE_CBP]


def state_shares(members: pd.Series, popm: pd.Series) -> pd.DataFrame:
    """Each area's share in each state: its counties' 2022 population there over its total.
    ``members``: county_fips -> area code. Returns columns area, state_fips, share."""
    df = pd.DataFrame({"area": members.to_numpy(), "state_fips": members.index.str[:2],
                       "p": members.index.map(popm).astype(float)})
    if df["p"].isna().any():
        fail(f"counties without a 2022 estimate: {members.index[df['p'].isna()].tolist()}")
    by = df.groupby(["area", "state_fips"], as_index=False)["p"].sum()
    by["share"] = by["p"] / by.groupby("area")["p"].transform("sum")
    return by[["area", "state_fips", "share"]]


def add_state_tech(sh: Shared, states: pd.DataFrame, omb: pd.DataFrame, areas: pd.Series,
                   popm: pd.Series, report: dict) -> pd.DataFrame:
    """OEWS May 2025 and CBP 2019 columns for states: area figures summed to states, an area
    in several states shared out by the 2022 population of its counties in each."""
    st = states.set_index("region_id")
    out = states.copy().set_index("region_id", drop=False)
    # ---- OEWS: MSAs (OMB 2023 membership) + non-metropolitan areas (one state each)
    oe = sh.csv("cbsa_oews_ai_occupations_may2025.csv")
    oe = oe[oe["state_fips_primary"] != "72"]
    msa, nonmetro = oe[oe["area_type"] == "msa"], oe[oe["area_type"] == "nonmetro_area"]
    if len(msa) + len(nonmetro) != len(oe):
        fail("OEWS: an area is neither an MSA nor a non-metropolitan area")
    sh_msa = state_shares(omb.set_index("county_fips")["cbsa_code"], popm)
    sh_msa = sh_msa[sh_msa["area"].isin(set(msa["area_code"]))]
    if set(sh_msa["area"]) != set(msa["area_code"]):
        fail("OEWS: MSAs without counties in the OMB 2023 crosswalk")
    nm = pd.DataFrame({"area": nonmetro["area_code"], "state_fips": nonmetro["state_fips_primary"],
                       "share": 1.0})
    shares = pd.concat([sh_msa, nm], ignore_index=True)
    if not set(shares["state_fips"]) <= set(st.index):
        fail("OEWS: areas outside the 50 states + DC")
    src = oe.set_index("area_code")
    oews_rep = {}
    for col, c in STATE_OEWS.items():
        v = shares["area"].map(src[c].astype(float)) * shares["share"]
        out[col] = v.groupby(shares["state_fips"]).sum().reindex(out.index).round().astype("Int64")
        table_total = int(src[c].sum())
        oews_rep[col] = {
            "states_total": int(out[col].sum()), "source_rows_total": table_total,
            "suppressed_msas": int(msa[c].isna().sum()),
            "suppressed_nonmetro_areas": int(nonmetro[c].isna().sum()),
        }
        if abs(oews_rep[col]["states_total"] - table_total) > len(out):
            fail(f"{col}: states add up to {out[col].sum()}, the areas to {table_total}")
    report["states_oews"] = {"msas": len(msa), "nonmetro_areas": len(nonmetro),
                             "multi_state_msas": int(sh_msa.groupby("area").size().gt(1).sum()),
                             "columns": oews_rep}
    # ---- CBP 2019: metro and micro areas (2017 membership, see cbp_2017_areas)
    cbp = sh.csv("cbsa_cbp2019_tech_industries.csv").set_index("cbsa_code")
    sh_cbp = state_shares(areas, popm)
    fallback = omb[omb["cbsa_code"].isin(set(cbp.index) - set(areas))]
    sh_cbp = pd.concat([sh_cbp, state_shares(fallback.set_index("county_fips")["cbsa_code"], popm)],
                       ignore_index=True)
    unplaced = sorted(set(cbp.index) - set(sh_cbp["area"]))
    covered = set(areas.index) | set(fallback["county_fips"])
    us_pop = float(st["population"].sum())
    cov_pop = float(popm.reindex(sorted(c for c in covered if c[:2] in st.index)).sum())
    cbp_rep = {}
    for col, c in STATE_CBP.items():
        v = sh_cbp["area"].map(cbp[c].astype(float)) * sh_cbp["share"]
        out[col] = v.groupby(sh_cbp["state_fips"]).sum(min_count=1).reindex(out.index).round()
        out[col] = out[col].astype("Int64")
        placed = int(cbp.loc[~cbp.index.isin(unplaced), c].sum())
        cbp_rep[col] = {"states_total": int(out[col].sum()), "source_rows_total": int(cbp[c].sum()),
                        "in_areas_not_placed": int(cbp.loc[unplaced, c].sum()),
                        "withheld_areas": int(cbp[c].isna().sum())}
        if abs(cbp_rep[col]["states_total"] - placed) > len(out):
            fail(f"{col}: states add up to {out[col].sum()}, the placed areas to {placed}")
    report["states_cbp"] = {
        "areas": len(cbp), "areas_placed_by_2017_membership": int(cbp.index.isin(areas).sum()),
        "areas_placed_by_omb_2023_membership": int(fallback["cbsa_code"].nunique()),
        "areas_not_placed": unplaced,
        "residents_in_covered_counties_pct": round(100 * cov_pop / us_pop, 2),
        "columns": cbp_rep,
    }
    # a state none of whose areas is published stays empty (withheld, not zero)
    report["states_cbp"]["states_empty"] = {
        c: sorted(out.loc[out[c].isna(), "postal"]) for c in STATE_CBP}
    if out[list(STATE_OEWS)].isna().any().any():
        fail("a state has no OEWS value")
    return out.reset_index(drop=True)


def apportion_from_metros(counties: pd.DataFrame, metros: pd.DataFrame) -> pd.DataFrame:
    """Metro-only figures shared out to the metro's counties by population share."""
    counties = counties.copy()
    mm = metros.set_index("region_id")
    in_metro = counties["cbsa_type"] == "metro"
    code = counties["cbsa_code"].where(in_metro)
    share = counties["population"].astype(float) / code.map(mm["population"]).astype(float)
    for c, out in zip(FROM_METRO, METRO_APPORTIONED, strict=True):
        counties[out] = (code.map(mm[c].astype(float)) * share).round(3)
    # the county populations of each metro add up to the metro's population exactly
    chk = counties[in_metro].groupby("cbsa_code")["population"].sum()
    non_ct = mm.index[~mm["postal"].eq("CT") & ~mm["states"].str.contains("CT")]
    if not (chk.reindex(non_ct) == mm.loc[non_ct, "population"]).all():
        fail("county populations do not add up to their metros")
    cols = [c for c in counties.columns if c not in APPORTIONED] + APPORTIONED
    return counties[cols]


def check_apportioned(df: pd.DataFrame, states: pd.DataFrame, what: str, key: str) -> None:
    """Apportioned values must add back up to the state figures (except CT, dropped)."""
    sums = df.groupby(key)[APPORTIONED].sum(min_count=1)
    st = states.set_index("region_id")
    for c in STATE_INDICATORS:
        a = sums[c + "_apportioned"]
        b = st[c].astype(float).reindex(a.index)
        bad = (a - b).abs() > 1e-6 * b.abs().clip(lower=1)
        bad |= a.isna() ^ b.isna()
        if bad.any():
            fail(f"{what}: {c}_apportioned does not add up to the state figure for {list(a.index[bad])}")


def round_apportioned(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in APPORTIONED:
        df[c] = df[c].round(3)
    return df


# ----------------------------------------------------------------------- output
def write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, na_rep="", lineterminator="\n")
    print(f"wrote {path.relative_to(REPO)} ({len(df)} rows, {path.stat().st_size / 1e3:.1f} kB)")


def copy_tech_hubs(sh: Shared, states: pd.DataFrame) -> None:
    src = sh.path("tech_hubs_2023.csv")
    th = pd.read_csv(src, dtype=str)
    valid = set(states["postal"]) | {"PR"}
    for i, s in th["states"].items():
        bad = [p for p in str(s).split(";") if p not in valid]
        if bad:
            fail(f"tech_hubs_2023.csv row {i}: unknown state codes {bad}")
    dst = DATA / "tech_hubs_2023.csv"
    shutil.copyfile(src, dst)
    print(f"wrote {dst.relative_to(REPO)} ({len(th)} rows, copied unchanged)")


def write_license_into_sources(package: str, license_text: str) -> None:
    """Copy a package's license notice verbatim into data/SOURCES.md between its markers."""
    begin = f"<!-- {package} LICENSE: begin (written by scripts/build_data.py) -->"
    end = f"<!-- {package} LICENSE: end -->"
    path = DATA / "SOURCES.md"
    text = path.read_text()
    if begin not in text or end not in text:
        fail(f"data/SOURCES.md lacks the {package} LICENSE markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    block = "```text\n" + license_text.strip() + "\n```"
    path.write_text(f"{head}{begin}\n{block}\n{end}{tail}")
    print(f"updated data/SOURCES.md ({package} license notice)")


def check_sources_md(frames: dict[str, pd.DataFrame]) -> None:
    """Every column of every shipped CSV must be documented in SOURCES.md."""
    text = (DATA / "SOURCES.md").read_text()
    for name, df in frames.items():
        if f"`{name}`" not in text:
            fail(f"data/SOURCES.md does not document {name}")
        missing = [c for c in df.columns if f"`{c}`" not in text]
        if missing:
            fail(f"data/SOURCES.md does not document columns of {name}: {missing}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                    help="reference data folder (default ../shared/data, relative to the repo root)")
    args = ap.parse_args(argv)
    shared = args.shared if args.shared.is_absolute() else (REPO / args.shared)
    sh = Shared(shared.resolve())
    DATA.mkdir(exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="placefund-us-atlas-") as tmp:
        pkg = fetch_us_atlas(Path(tmp))
        license_text = (pkg / "LICENSE").read_text()
        if "Copyright" not in license_text or "Michael Bostock" not in license_text:
            fail("unexpected us-atlas LICENSE text")

        states = build_states(sh)
        report: dict = {}
        omb = read_omb2023(sh, states)
        popm = sh.csv("county_population_2022.csv").set_index("county_fips")["population_2022"]
        cbp_codes = set(sh.csv("cbsa_cbp2019_tech_industries.csv")["cbsa_code"])
        areas = cbp_2017_areas(sh, popm, cbp_codes, report)
        states = add_state_tech(sh, states, omb, areas, popm, report)
        write_csv(states, DATA / "states.csv")
        write_geojson(build_state_geometry(pkg, states), DATA / "states.geojson", max_mb=0.5)
        copy_tech_hubs(sh, states)

        counties, county_geo, ct_old = build_counties(sh, states, pkg, Path(tmp), omb, report)
        check_apportioned(counties, states, "counties", "state_fips")
        metros, metro_geo = build_metros(sh, states, omb, counties, county_geo, ct_old, areas,
                                         report)
        counties = apportion_from_metros(counties, metros)
        report["counties_from_metros"] = {
            "columns": METRO_APPORTIONED,
            "empty": {c: int(counties[c].isna().sum()) for c in METRO_APPORTIONED}}
        counties = round_apportioned(counties)
        metros = round_apportioned(metros)
        write_csv(counties, DATA / "counties.csv")
        county_geo = county_geo.merge(counties[["region_id", "name"]], on="region_id")
        county_geo = county_geo[["region_id", "name", "geometry"]].sort_values("region_id")
        write_geojson(finish_geometry(county_geo.reset_index(drop=True), "counties"),
                      DATA / "counties.geojson", max_mb=2.5)
        write_csv(metros, DATA / "metros.csv")
        write_geojson(finish_geometry(metro_geo, "metros"), DATA / "metros.geojson", max_mb=2.5)
        print(f"counties: {len(counties)} rows, population {int(counties['population'].sum()):,}; "
              f"metros: {len(metros)} rows, population {int(metros['population'].sum()):,}")
        for name, df in (("counties", counties), ("metros", metros)):
            na = df.isna().sum()
            print(f"{name}: missing values {na[na > 0].to_dict()}")
        report["rows"] = {"states": len(states), "counties": len(counties), "metros": len(metros)}
        report["metros_missing"] = {c: int(v) for c, v in metros.isna().sum().items() if v}
        report["counties_missing"] = {c: int(v) for c, v in counties.isna().sum().items() if v}
        (DATA / "build_report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
        print(f"wrote data/build_report.json: {json.dumps(report, sort_keys=True)}")
        write_license_into_sources("us-atlas", license_text)
        write_license_into_sources("plotly-geo", plotly_license(Path(tmp)))
    check_sources_md({
        "states.csv": states,
        "counties.csv": counties,
        "metros.csv": metros,
        "tech_hubs_2023.csv": pd.read_csv(DATA / "tech_hubs_2023.csv"),
    })
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BuildError as e:
        print(f"build_data: ERROR: {e}", file=sys.stderr)
        sys.exit(1)
