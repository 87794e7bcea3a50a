"""Checks of the data files shipped in data/ (built by scripts/build_data.py).

These read the committed files directly; they need neither the build inputs nor the network.
"""
from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from pandas.api.types import is_numeric_dtype

DATA = Path(__file__).resolve().parent.parent / "data"

STATE_COLUMNS = [
    "region_id", "postal", "name", "census_region", "census_division", "population",
    "ai_job_postings", "ai_vc_musd", "vc_funded_firms", "business_rd_musd",
    "university_se_rd_musd", "cs_doctorates", "se_doctorates",
    "kti_value_added_musd", "gdp_musd",
]
STATE_NUMERIC = STATE_COLUMNS[5:]
STATE_INDICATORS = STATE_COLUMNS[6:]
AI_VC_MISSING = {"MS", "ND", "SD", "WV"}


def read_table(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name, dtype={"region_id": str})


@pytest.fixture(scope="module")
def states() -> pd.DataFrame:
    return read_table("states.csv")


@pytest.fixture(scope="module")
def states_geo() -> gpd.GeoDataFrame:
    return gpd.read_file(DATA / "states.geojson")


# ------------------------------------------------------------------ states.csv
def test_states_columns_exact_order(states):
    assert list(states.columns) == STATE_COLUMNS


def test_states_51_rows_unique_ids(states):
    assert len(states) == 51
    assert states["region_id"].is_unique
    assert states["postal"].is_unique
    assert "PR" not in set(states["postal"])


def test_states_region_id_two_digit_text(states):
    two_digits = states["region_id"].map(lambda s: isinstance(s, str) and re.fullmatch(r"\d{2}", s))
    assert two_digits.map(lambda m: m is not None).all()
    # read without a dtype hint, the raw text still has the leading zero
    raw = (DATA / "states.csv").read_text().splitlines()
    assert raw[1].startswith("01,AL,")


def test_states_sorted_by_region_id(states):
    assert states["region_id"].tolist() == sorted(states["region_id"])


@pytest.mark.parametrize("col", STATE_INDICATORS)
def test_states_indicator_exists_and_numeric(states, col):
    assert col in states.columns
    assert is_numeric_dtype(states[col]), f"{col} is {states[col].dtype}"


def test_states_no_negative_values(states):
    num = states[STATE_NUMERIC]
    assert all(is_numeric_dtype(num[c]) for c in num)
    assert not (num < 0).any().any()


def test_states_population_total(states):
    total = states["population"].sum()
    assert 330e6 <= total <= 340e6, total


def test_states_only_missing_values_are_ai_vc(states):
    na = states.isna()
    assert na.drop(columns="ai_vc_musd").sum().sum() == 0
    assert set(states.loc[na["ai_vc_musd"], "postal"]) == AI_VC_MISSING
    assert na["ai_vc_musd"].sum() == 4


def test_states_census_regions(states):
    assert set(states["census_region"]) == {"Northeast", "Midwest", "South", "West"}
    assert states["census_division"].nunique() == 9


# -------------------------------------------------------------- states.geojson
def check_geometry(table: pd.DataFrame, geo: gpd.GeoDataFrame) -> None:
    assert geo.crs is not None and geo.crs.to_epsg() == 4326
    ids = geo["region_id"]
    assert ids.map(type).eq(str).all()
    assert ids.is_unique, "a region has more than one geometry"
    assert set(ids) == set(table["region_id"]), (
        f"rows without geometry: {sorted(set(table['region_id']) - set(ids))}; "
        f"geometry without row: {sorted(set(ids) - set(table['region_id']))}")
    assert geo.geometry.notna().all()
    assert (~geo.is_empty).all(), geo.loc[geo.is_empty, "region_id"].tolist()
    assert geo.is_valid.all(), geo.loc[~geo.is_valid, "region_id"].tolist()
    assert set(geo.geom_type) <= {"Polygon", "MultiPolygon"}


def test_states_geometry_one_valid_per_row(states, states_geo):
    check_geometry(states, states_geo)


def test_states_geojson_small():
    assert (DATA / "states.geojson").stat().st_size < 0.5e6


# ------------------------------------------------------------ tech_hubs_2023.csv
def test_tech_hubs_reference_table(states):
    th = pd.read_csv(DATA / "tech_hubs_2023.csv")
    assert len(th) == 30 and th["hub_name"].is_unique
    codes = {c for s in th["states"] for c in s.split(";")}
    assert codes <= set(states["postal"]) | {"PR"}
    assert th["sources"].notna().all()


# ------------------------------------------------------------------ SOURCES.md
SHIPPED_CSVS = sorted(p.name for p in DATA.glob("*.csv"))


def test_shipped_csvs_present():
    assert {"states.csv", "tech_hubs_2023.csv", "counties.csv", "metros.csv"} <= set(SHIPPED_CSVS)


@pytest.mark.parametrize("csv_name", SHIPPED_CSVS)
def test_sources_md_documents_every_column(csv_name):
    text = (DATA / "SOURCES.md").read_text()
    assert f"`{csv_name}`" in text
    cols = pd.read_csv(DATA / csv_name, nrows=0).columns
    missing = [c for c in cols if f"`{c}`" not in text]
    assert not missing, f"{csv_name}: undocumented columns {missing}"


def test_sources_md_has_license_and_rebuild():
    text = (DATA / "SOURCES.md").read_text()
    assert "Copyright 2013-2019 Michael Bostock" in text
    assert "Census Bureau" in text
    assert "scripts/build_data.py" in text


# ===================================================================== counties
APPORTIONED = [f"{c}_apportioned" for c in STATE_INDICATORS]
COUNTY_COLUMNS = [
    "region_id", "name", "postal", "state_fips", "census_region", "census_division",
    "cbsa_code", "cbsa_type", "population", "utility_patents_2000_2015",
] + APPORTIONED
METRO_COLUMNS = [
    "region_id", "name", "postal", "state_fips", "states", "census_region", "census_division",
    "population", "population_complete", "n_counties", "utility_patents_2000_2015",
] + APPORTIONED
COUNTY_NUMERIC = ["population", "utility_patents_2000_2015"] + APPORTIONED
METRO_NUMERIC = ["population", "n_counties", "utility_patents_2000_2015"] + APPORTIONED
# documented in SOURCES.md: metros whose counties are all in Connecticut (no 2022 county estimates)
DROPPED_METROS = {"14860", "25540", "35300", "35980"}
CODES = {"region_id": str, "state_fips": str, "cbsa_code": str}


@pytest.fixture(scope="module")
def counties() -> pd.DataFrame:
    return pd.read_csv(DATA / "counties.csv", dtype=CODES)


@pytest.fixture(scope="module")
def metros() -> pd.DataFrame:
    return pd.read_csv(DATA / "metros.csv", dtype=CODES)


def test_counties_columns(counties):
    assert list(counties.columns) == COUNTY_COLUMNS


@pytest.mark.parametrize("col", COUNTY_NUMERIC)
def test_counties_indicator_numeric(counties, col):
    assert is_numeric_dtype(counties[col]), f"{col} is {counties[col].dtype}"


def test_counties_ids(counties):
    assert 3100 <= len(counties) <= 3145, len(counties)
    assert counties["region_id"].is_unique
    assert counties["region_id"].str.fullmatch(r"\d{5}").all()
    assert (counties["region_id"].str[:2] == counties["state_fips"]).all()
    assert counties["region_id"].tolist() == sorted(counties["region_id"])
    # documented drops: the 8 old Connecticut counties and Bedford city VA
    assert not counties["region_id"].str.startswith("09").any()
    assert "51515" not in set(counties["region_id"])


def test_counties_states_match_states_csv(counties, states):
    st = states.set_index("region_id")
    assert set(counties["state_fips"]) == set(st.index) - {"09"}
    for c in ("postal", "census_region", "census_division"):
        assert (counties[c] == counties["state_fips"].map(st[c])).all(), c


def test_counties_population_adds_up_to_states(counties, states):
    assert counties["population"].notna().all() and (counties["population"] > 0).all()
    sums = counties.groupby("state_fips")["population"].sum()
    st = states.set_index("region_id")["population"].drop("09")
    pd.testing.assert_series_equal(sums.sort_index(), st.sort_index(), check_names=False,
                                   check_dtype=False)
    assert 325e6 <= counties["population"].sum() <= 335e6


def test_counties_no_negative_values(counties):
    assert not (counties[COUNTY_NUMERIC] < 0).any().any()


def test_counties_missing_values_only_where_documented(counties):
    na = counties.isna().sum()
    allowed = {"cbsa_code", "utility_patents_2000_2015", "ai_vc_musd_apportioned"}
    assert set(na[na > 0].index) <= allowed, na[na > 0].to_dict()
    # cbsa_code is empty exactly for counties outside any CBSA
    assert (counties["cbsa_code"].isna() == (counties["cbsa_type"] == "nonmetro")).all()
    assert set(counties["cbsa_type"]) == {"metro", "micro", "nonmetro"}
    assert counties["cbsa_code"].dropna().str.fullmatch(r"\d{5}").all()
    # ai_vc is empty exactly in the four states whose figure is NA
    assert (counties["ai_vc_musd_apportioned"].isna() == counties["postal"].isin(AI_VC_MISSING)).all()
    # the 196 counties absent from the USPTO PTMT county table (documented in SOURCES.md)
    assert na["utility_patents_2000_2015"] == 196


def test_counties_apportioned_add_up_to_states(counties, states):
    st = states.set_index("region_id")
    sums = counties.groupby("state_fips")[APPORTIONED].sum(min_count=1)
    for c in STATE_INDICATORS:
        a = sums[c + "_apportioned"]
        b = st[c].reindex(a.index).astype(float)
        assert (a.isna() == b.isna()).all(), c
        n = counties.groupby("state_fips").size()
        assert ((a - b).abs().fillna(0) <= 0.0005 * n + 1e-9).all(), c


def test_counties_geometry(counties):
    check_geometry(counties, gpd.read_file(DATA / "counties.geojson"))


def test_counties_geojson_size():
    assert (DATA / "counties.geojson").stat().st_size < 2.5e6


# ======================================================================= metros
def test_metros_columns(metros):
    assert list(metros.columns) == METRO_COLUMNS


@pytest.mark.parametrize("col", METRO_NUMERIC)
def test_metros_indicator_numeric(metros, col):
    assert is_numeric_dtype(metros[col]), f"{col} is {metros[col].dtype}"


def test_metros_ids(metros):
    assert len(metros) == 384 - len(DROPPED_METROS)
    assert metros["region_id"].is_unique
    assert metros["region_id"].str.fullmatch(r"\d{5}").all()
    assert not set(metros["region_id"]) & DROPPED_METROS
    assert metros["region_id"].tolist() == sorted(metros["region_id"])


def test_metros_match_counties(metros, counties):
    mc = counties[counties["cbsa_type"] == "metro"]
    assert set(mc["cbsa_code"]) == set(metros["region_id"])
    m = metros.set_index("region_id")
    pop = mc.groupby("cbsa_code")["population"].sum()
    assert (pop.reindex(m.index) == m["population"]).all()
    assert (mc.groupby("cbsa_code").size().reindex(m.index) == m["n_counties"]).all()
    pat = mc.groupby("cbsa_code")["utility_patents_2000_2015"].sum(min_count=1)
    assert (pat.reindex(m.index) == m["utility_patents_2000_2015"]).all()
    for c in APPORTIONED:
        s = mc.groupby("cbsa_code")[c].sum(min_count=1).reindex(m.index)
        assert ((s - m[c]).abs().fillna(0) <= 0.0005 * m["n_counties"] + 1e-9).all(), c
        assert (s.isna() == m[c].isna()).all(), c


def test_metros_population(metros):
    assert metros["population"].notna().all() and (metros["population"] > 0).all()
    assert 270e6 <= metros["population"].sum() <= 300e6
    # only Worcester MA-CT is partial (its Connecticut county has no 2022 estimate)
    assert set(metros.loc[~metros["population_complete"], "region_id"]) == {"49340"}


def test_metros_states(metros, states):
    st = states.set_index("postal")
    lists = metros["states"].str.split(";")
    assert (lists.str[0] == metros["postal"]).all()
    assert lists.map(lambda parts: set(parts) <= set(st.index)).all()
    assert (metros["state_fips"] == metros["postal"].map(st["region_id"])).all()
    assert (metros["census_region"] == metros["postal"].map(st["census_region"])).all()


def test_metros_no_negative_values(metros):
    assert not (metros[METRO_NUMERIC] < 0).any().any()


def test_metros_missing_values_only_where_documented(metros):
    na = metros.isna().sum()
    assert set(na[na > 0].index) <= {"ai_vc_musd_apportioned"}, na[na > 0].to_dict()
    only_na_states = metros["states"].str.split(";").map(lambda parts: set(parts) <= AI_VC_MISSING)
    assert (metros["ai_vc_musd_apportioned"].isna() == only_na_states).all()


def test_metros_geometry(metros):
    check_geometry(metros, gpd.read_file(DATA / "metros.geojson"))


def test_metros_geojson_size():
    assert (DATA / "metros.geojson").stat().st_size < 2.5e6


def test_sources_md_lists_drops():
    text = (DATA / "SOURCES.md").read_text()
    for code in sorted(DROPPED_METROS) + ["51515", "49340", "02261", "51610"]:
        assert code in text, code
