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
    assert states["region_id"].map(lambda s: isinstance(s, str) and re.fullmatch(r"\d{2}", s) is not None).all()
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
    assert {"states.csv", "tech_hubs_2023.csv"} <= set(SHIPPED_CSVS)


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
