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
    ``npm pack`` into a temporary directory.

Every figure is copied, summed, divided by a stated constant, or apportioned by
a stated rule; nothing is typed in.  Missing stays missing (empty), never 0.
The documentation of every column is ``data/SOURCES.md``.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
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
CODE_DTYPES = {"state_fips": str, "county_fips": str, "cbsa_code": str}

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

    def csv(self, name: str, **kw) -> pd.DataFrame:
        return pd.read_csv(self.path(name), dtype=CODE_DTYPES, keep_default_na=True, **kw)


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
        g = shapely.set_precision(g, 10 ** -PRECISION)
        g = repair(g)
        if g is None or g.is_empty or not g.is_valid:
            fail(f"{what}: {rid} has no valid polygon after rounding")
        geoms.append(rfc7946_orient(g))
    gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs="EPSG:4326"))
    return gdf


def write_geojson(gdf: gpd.GeoDataFrame, path: Path, max_mb: float) -> None:
    if path.exists():
        path.unlink()
    gdf.to_file(path, driver="GeoJSON", COORDINATE_PRECISION=PRECISION, engine="pyogrio")
    size_mb = path.stat().st_size / 1e6
    if size_mb > max_mb:
        fail(f"{path.name} is {size_mb:.2f} MB (limit {max_mb} MB)")
    back = gpd.read_file(path)
    bad = back[~back.is_valid | back.is_empty | back.geometry.isna()]
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
    for a, b, tol in [
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


LICENSE_BEGIN = "<!-- us-atlas LICENSE: begin (written by scripts/build_data.py) -->"
LICENSE_END = "<!-- us-atlas LICENSE: end -->"


def write_license_into_sources(license_text: str) -> None:
    """Copy us-atlas's LICENSE verbatim into data/SOURCES.md between the markers."""
    path = DATA / "SOURCES.md"
    text = path.read_text()
    if LICENSE_BEGIN not in text or LICENSE_END not in text:
        fail("data/SOURCES.md lacks the us-atlas LICENSE markers")
    head, rest = text.split(LICENSE_BEGIN, 1)
    _, tail = rest.split(LICENSE_END, 1)
    block = "```text\n" + license_text.strip() + "\n```"
    path.write_text(f"{head}{LICENSE_BEGIN}\n{block}\n{LICENSE_END}{tail}")
    print("updated data/SOURCES.md (us-atlas license notice)")


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
        write_csv(states, DATA / "states.csv")
        write_geojson(build_state_geometry(pkg, states), DATA / "states.geojson", max_mb=0.5)
        copy_tech_hubs(sh, states)
        write_license_into_sources(license_text)
    check_sources_md({
        "states.csv": states,
        "tech_hubs_2023.csv": pd.read_csv(DATA / "tech_hubs_2023.csv"),
    })
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BuildError as e:
        print(f"build_data: ERROR: {e}", file=sys.stderr)
        sys.exit(1)
