"""Checks of the data files shipped in data/ (built by scripts/build_data.py).

These read the committed files directly; they need neither the build inputs nor the network.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pandas.api.types import is_numeric_dtype

from optimizer.engine import columns
from optimizer.engine.data import load_regions

DATA = Path(__file__).resolve().parent.parent / "data"

STATE_COLUMNS = [
    "region_id", "postal", "name", "census_region", "census_division", "population",
    "ai_job_postings", "ai_vc_musd", "vc_funded_firms", "business_rd_musd",
    "university_se_rd_musd", "cs_doctorates", "se_doctorates",
    "kti_value_added_musd", "gdp_musd",
]
STATE_INDICATORS = STATE_COLUMNS[6:]  # the state figures apportioned to counties and metros
# summed to states from the metro (and nonmetropolitan) area tables
STATE_OEWS = ["oews_computer_math", "oews_software_developers", "oews_data_scientists",
              "oews_cs_research_scientists"]
STATE_CBP = ["cbp_data_processing", "cbp_semiconductors", "cbp_computer_systems_design",
             "cbp_software_publishers"]
STATE_COLUMNS += [*STATE_OEWS, *STATE_CBP]
STATE_NUMERIC = STATE_COLUMNS[5:]
AI_VC_MISSING = {"MS", "ND", "SD", "WV"}
SEMICONDUCTORS_MISSING = {"AK", "HI", "MT", "ND"}  # no CBP area of theirs publishes NAICS 3344


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


@pytest.mark.parametrize("col", STATE_NUMERIC)
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


def test_states_only_missing_values_are_ai_vc_and_withheld_semiconductors(states, report):
    na = states.isna()
    assert na.drop(columns=["ai_vc_musd", "cbp_semiconductors"]).sum().sum() == 0
    assert set(states.loc[na["ai_vc_musd"], "postal"]) == AI_VC_MISSING
    assert na["ai_vc_musd"].sum() == 4
    assert set(states.loc[na["cbp_semiconductors"], "postal"]) == SEMICONDUCTORS_MISSING
    assert report["states_cbp"]["states_empty"]["cbp_semiconductors"] == sorted(SEMICONDUCTORS_MISSING)


@pytest.mark.parametrize("col", STATE_OEWS + STATE_CBP)
def test_state_area_sums_reproduce_the_source_rows(states, report, col):
    """The states add up to the sum of the area rows they were built from (up to the rounding
    of the shares of multi-state areas: at most half a job per state)."""
    part = report["states_oews" if col in STATE_OEWS else "states_cbp"]["columns"][col]
    assert part["states_total"] == int(states[col].sum())
    placed = part["source_rows_total"] - part.get("in_areas_not_placed", 0)
    assert abs(part["states_total"] - placed) <= len(states) / 2


@pytest.mark.parametrize("col", STATE_OEWS + STATE_CBP)
def test_state_sums_hold_their_metros(states, metros, col):
    """A state holds at least the metros that lie wholly inside it (it adds nonmetropolitan
    areas, micropolitan areas and shares of multi-state metros), and the nation at least all
    the metros. OEWS metros are the areas themselves, so for them this is exact bookkeeping."""
    st = states.set_index("postal")[col]
    single = metros[~metros["states"].str.contains(";")]
    inside = single.groupby("postal")[col].sum()
    slack = 0 if col in STATE_OEWS else 0.02 * inside  # CBP: 2017 areas apportioned to metros
    assert (st.reindex(inside.index).fillna(0) >= inside - slack - 1).all()
    assert states[col].sum() >= metros[col].sum()


def test_state_oews_totals_by_hand(states, metros):
    """Rhode Island: its one metro, Providence-Warwick RI-MA, is shared with Massachusetts, and
    it has no nonmetropolitan area: the state holds a share of Providence's figure, no more."""
    ri = states.set_index("postal").loc["RI"]
    prov = metros.set_index("region_id").loc["39300"]
    assert prov["states"] == "RI;MA"
    for col in STATE_OEWS:
        assert 0.5 * prov[col] < ri[col] < prov[col], col


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
OEWS = ["oews_all_occupations", "oews_computer_math", "oews_cs_research_scientists",
        "oews_data_scientists", "oews_software_developers", "oews_hardware_engineers",
        "oews_systems_analysts", "oews_statisticians"]
HERD = ["herd_all_fields_musd", "herd_cs_musd", "herd_engineering_musd", "herd_math_stats_musd",
        "herd_ai_fields_musd"]
CBP = ["cbp_all_industries", "cbp_computer_systems_design", "cbp_data_processing",
       "cbp_scientific_rd", "cbp_software_publishers", "cbp_semiconductors"]
FROM_METRO = ["oews_computer_math", "oews_software_developers", "oews_data_scientists",
              "oews_cs_research_scientists", "cbp_data_processing", "cbp_semiconductors"]
METRO_APPORTIONED = [f"{c}_metro_apportioned" for c in FROM_METRO]
COUNTY_COLUMNS = [
    "region_id", "name", "postal", "state_fips", "census_region", "census_division",
    "cbsa_code", "cbsa_type", "population", "utility_patents_2000_2015", *HERD,
    "ba_plus_share_pct", "ba_plus_residents", *METRO_APPORTIONED, *APPORTIONED,
]
CBP_JOIN = ["cbp_join", "cbp_area_split", "cbp_coverage_pct"]
METRO_COLUMNS = [
    "region_id", "name", "postal", "state_fips", "states", "census_region", "census_division",
    "population", "small_rural", *OEWS, *HERD, *CBP, *CBP_JOIN, "utility_patents_2000_2015",
    *APPORTIONED,
]
COUNTY_NUMERIC = ["population", "utility_patents_2000_2015", *HERD, "ba_plus_share_pct",
                  "ba_plus_residents", *METRO_APPORTIONED, *APPORTIONED]
METRO_NUMERIC = ["population", *OEWS, *HERD, *CBP, "utility_patents_2000_2015", *APPORTIONED]
PUERTO_RICO_METROS = {"10380", "11640", "25020", "32420", "38660", "41980"}
CONNECTICUT_METROS = {"14860", "25540", "35300", "35980", "47930"}
HERD_US_TOTAL_KUSD = 108_681_008  # NCSES HERD FY2023 table 71, the published U.S. total
CODES = {"region_id": str, "state_fips": str, "cbsa_code": str}


@pytest.fixture(scope="module")
def counties() -> pd.DataFrame:
    return pd.read_csv(DATA / "counties.csv", dtype=CODES)


@pytest.fixture(scope="module")
def metros() -> pd.DataFrame:
    return pd.read_csv(DATA / "metros.csv", dtype=CODES)


@pytest.fixture(scope="module")
def report() -> dict:
    return json.loads((DATA / "build_report.json").read_text())


def empty_cells(csv_name: str) -> pd.Series:
    """Empty cells per column, counted on the raw text (no number parsing at all)."""
    raw = pd.read_csv(DATA / csv_name, dtype=str, keep_default_na=False)
    return (raw == "").sum()


def test_counties_columns(counties):
    assert list(counties.columns) == COUNTY_COLUMNS


@pytest.mark.parametrize("col", COUNTY_NUMERIC)
def test_counties_indicator_numeric(counties, col):
    assert is_numeric_dtype(counties[col]), f"{col} is {counties[col].dtype}"


def test_counties_ids(counties):
    assert len(counties) == 3134
    assert counties["region_id"].is_unique
    assert counties["region_id"].str.fullmatch(r"\d{5}").all()
    assert (counties["region_id"].str[:2] == counties["state_fips"]).all()
    assert counties["region_id"].tolist() == sorted(counties["region_id"])
    # documented drops: the 8 old Connecticut counties and Bedford city VA
    assert not counties["region_id"].str.startswith("09").any()
    assert "51515" not in set(counties["region_id"])


def test_county_names_carry_the_state(counties):
    assert (counties["name"].str.rsplit(", ", n=1).str[1] == counties["postal"]).all()
    assert counties["name"].is_unique
    names = set(counties["name"])
    assert {"Washington County, OR", "Washington County, PA", "Santa Clara County, CA"} <= names


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
    assert counties["population"].sum() == 329_661_352


def test_counties_no_negative_values(counties):
    assert not (counties[COUNTY_NUMERIC] < 0).any().any()


def test_counties_missing_values_only_where_documented(counties, report):
    na = counties.isna().sum()
    assert na[na > 0].to_dict() == report["counties_missing"]
    assert (empty_cells("counties.csv") == na).all(), "an empty cell was parsed as a value"
    # cbsa_code is empty exactly for counties outside any CBSA (OMB 2023)
    assert (counties["cbsa_code"].isna() == (counties["cbsa_type"] == "nonmetro")).all()
    assert counties["cbsa_type"].value_counts().to_dict() == {
        k: report["counties_omb2023"][k] for k in ("metro", "micro", "nonmetro")}
    assert counties["cbsa_code"].dropna().str.fullmatch(r"\d{5}").all()
    assert (counties["ai_vc_musd_apportioned"].isna() == counties["postal"].isin(AI_VC_MISSING)).all()
    assert na["utility_patents_2000_2015"] == 196
    # metro figures exist only inside metros
    outside = counties["cbsa_type"] != "metro"
    assert counties.loc[outside, METRO_APPORTIONED].isna().all().all()


def test_county_herd_reproduces_the_publisher_total(counties, report):
    h = report["herd_county"]
    placed = round(counties["herd_all_fields_musd"].sum() * 1000)
    assert placed == h["kusd_in_counties"]
    assert placed + sum(h["not_placed"].values()) == HERD_US_TOTAL_KUSD
    # not placed: only the Connecticut planning regions and the territories
    assert all(c.startswith(("09", "66", "72", "78")) for c in h["not_placed"])
    assert (counties["herd_all_fields_musd"] == 0).sum() == h["counties_without_institution"]
    parts = counties[["herd_cs_musd", "herd_engineering_musd", "herd_math_stats_musd"]].sum(axis=1)
    assert ((parts - counties["herd_ai_fields_musd"]).abs() < 2e-3).all()
    assert (counties["herd_ai_fields_musd"] <= counties["herd_all_fields_musd"] + 1e-3).all()
    santa_clara = counties.set_index("region_id").loc["06085"]
    assert santa_clara["herd_all_fields_musd"] > 1_540  # Stanford alone is $1.54B


def test_county_degree_residents_are_share_times_population(counties):
    expected = (counties["ba_plus_share_pct"] / 100 * counties["population"]).round()
    assert (counties["ba_plus_residents"] == expected).all()
    assert counties.set_index("region_id").at["06085", "ba_plus_share_pct"] == 51.3


def test_counties_apportioned_add_up_to_states(counties, states):
    st = states.set_index("region_id")
    sums = counties.groupby("state_fips")[APPORTIONED].sum(min_count=1)
    for c in STATE_INDICATORS:
        a = sums[c + "_apportioned"]
        b = st[c].reindex(a.index).astype(float)
        assert (a.isna() == b.isna()).all(), c
        n = counties.groupby("state_fips").size()
        assert ((a - b).abs().fillna(0) <= 0.0005 * n + 1e-9).all(), c


def test_metro_figures_apportioned_to_counties_add_up_to_the_metro(counties, metros):
    m = metros.set_index("region_id")
    mc = counties[counties["cbsa_type"] == "metro"]
    n = mc.groupby("cbsa_code").size()
    for c in FROM_METRO:
        s = mc.groupby("cbsa_code")[f"{c}_metro_apportioned"].sum(min_count=1)
        whole = m.loc[s.index, c]
        assert (s.isna() == whole.isna()).all(), c
        assert ((s - whole).abs().fillna(0) <= 0.0005 * n + 1e-9).all(), c


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


def test_metros_are_the_omb_2023_metros_of_the_states(metros, report):
    # 393 metropolitan CBSAs (OMB Bulletin 23-01) less the 6 in Puerto Rico
    assert len(metros) == 393 - len(PUERTO_RICO_METROS) == report["rows"]["metros"]
    assert metros["region_id"].is_unique
    assert metros["region_id"].str.fullmatch(r"\d{5}").all()
    assert not set(metros["region_id"]) & PUERTO_RICO_METROS
    assert set(report["oews"]["source_rows_not_joined"]) == PUERTO_RICO_METROS
    assert CONNECTICUT_METROS <= set(metros["region_id"])  # kept, by planning region
    assert metros["region_id"].tolist() == sorted(metros["region_id"])
    m = metros.set_index("region_id")
    assert m.at["17410", "name"] == "Cleveland, OH" and m.at["19430", "postal"] == "OH"


def test_metros_match_counties(metros, counties):
    mc = counties[counties["cbsa_type"] == "metro"]
    assert set(mc["cbsa_code"]) == set(metros["region_id"]) - CONNECTICUT_METROS
    m = metros.set_index("region_id").drop(sorted(CONNECTICUT_METROS))
    pop = mc.groupby("cbsa_code")["population"].sum()
    assert (pop.reindex(m.index) == m["population"]).all()
    for c in ["herd_all_fields_musd", "herd_ai_fields_musd"]:
        s = mc.groupby("cbsa_code")[c].sum().reindex(m.index)
        assert ((s - m[c]).abs() < 2e-3 * mc.groupby("cbsa_code").size()).all(), c


def test_metros_population(metros):
    assert metros["population"].notna().all() and (metros["population"] > 0).all()
    assert metros["population"].sum() == 287_386_398


def test_small_rural_follows_the_documented_rule(metros):
    assert set(metros["small_rural"]) == {True, False}
    assert (metros["small_rural"] == (metros["population"] < 250_000)).all()


def test_metros_states(metros, states):
    st = states.set_index("postal")
    lists = metros["states"].str.split(";")
    assert (lists.str[0] == metros["postal"]).all()
    assert lists.map(lambda parts: set(parts) <= set(st.index)).all()
    assert (metros["state_fips"] == metros["postal"].map(st["region_id"])).all()
    assert (metros["census_region"] == metros["postal"].map(st["census_region"])).all()


def test_metros_no_negative_values(metros):
    assert not (metros[METRO_NUMERIC] < 0).any().any()


def test_oews_published_values_are_copied(metros):
    sj = metros.set_index("region_id").loc["41940"]  # San Jose-Sunnyvale-Santa Clara
    assert sj["oews_software_developers"] == 87_350
    assert sj["oews_cs_research_scientists"] == 2_210
    assert sj["oews_hardware_engineers"] == 7_940
    assert sj["oews_data_scientists"] == 6_060
    assert metros.set_index("region_id").at["42660", "oews_software_developers"] == 92_770
    assert sj["cbp_computer_systems_design"] == 71_514 and sj["cbp_semiconductors"] == 16_200


def test_metro_herd_reproduces_the_publisher_total(metros, report):
    h = report["herd"]
    assert h["institutions"] == 664 and h["us_total_kusd"] == HERD_US_TOTAL_KUSD
    in_metros = round(metros["herd_all_fields_musd"].sum() * 1000)
    assert in_metros == h["kusd_in_metros"]
    assert in_metros + h["kusd_in_other_cbsas"] + h["kusd_without_cbsa"] == HERD_US_TOTAL_KUSD
    assert metros["herd_all_fields_musd"].notna().all()
    assert (metros["herd_all_fields_musd"] == 0).sum() == h["metros_without_institution"]
    assert metros.set_index("region_id").at["38300", "herd_cs_musd"] > 220.9  # CMU alone


def test_metros_missing_values_only_where_documented(metros, report):
    na = metros.isna().sum()
    assert na[na > 0].to_dict() == report["metros_missing"]
    assert (empty_cells("metros.csv") == na).all(), "an empty cell was parsed as a value"
    assert set(report["metros_missing"]) <= set(OEWS + CBP) | {
        "utility_patents_2000_2015", "ai_vc_musd_apportioned"}
    assert report["oews"]["suppressed_in_metros"] == {c: int(na[c]) for c in OEWS}
    only_na_states = metros["states"].str.split(";").map(lambda parts: set(parts) <= AI_VC_MISSING)
    assert (metros["ai_vc_musd_apportioned"].isna() == only_na_states).all()
    patents_empty = set(metros.loc[metros["utility_patents_2000_2015"].isna(), "region_id"])
    assert patents_empty == CONNECTICUT_METROS == set(report["patents_metro"]["metros_empty_connecticut"])


def test_cbp_join_bookkeeping(metros, report):
    cbp = report["cbp"]
    rules = metros["cbp_join"].value_counts().to_dict()
    placed = {r: n for r, n in cbp["rows_placed_by_rule"].items() if n}
    assert placed == rules and sum(placed.values()) == len(metros)
    assert set(cbp["rows_placed_by_rule"]) == set(cbp["rules"])
    assert int(metros["cbp_area_split"].sum()) == cbp["apportioned"]
    other = set(metros.loc[metros["cbp_join"] != "same_code", "region_id"])
    assert other == set(cbp["metros_not_same_code"])
    for code, d in cbp["metros_not_same_code"].items():
        shares = d["areas"].values()
        # a metro is flagged exactly when it takes only part of some 2017 area
        assert metros.set_index("region_id").at[code, "cbp_area_split"] == any(x < 1 for x in shares)
    # copied rules take one whole area, and only flagged rows are apportioned
    assert not metros.loc[metros["cbp_join"].isin(["same_code", "renamed", "county_overlap"]),
                          "cbp_area_split"].any()
    assert metros.loc[metros["cbp_join"] == "county_overlap_apportioned", "cbp_area_split"].all()
    assert cbp["metros_not_same_code"]["17410"]["areas"] == {"11780": 1.0, "17460": 1.0}  # Cleveland
    for c in CBP:
        assert int(metros[c].isna().sum()) == cbp["withheld_in_covered_metros"][c], c


def test_cbp_apportioning_never_counts_an_area_twice(report):
    """Over all metros, the shares taken of each 2017 CBP area add up to at most the whole."""
    taken: dict[str, float] = {}
    for d in report["cbp"]["metros_not_same_code"].values():
        for area, share in d["areas"].items():
            taken[area] = taken.get(area, 0.0) + share
    assert all(x <= 1 + 1e-3 for x in taken.values()), {a: x for a, x in taken.items() if x > 1}
    # Connecticut: the 2017 New Haven area is shared by New Haven and Waterbury-Shelton
    d = report["cbp"]["metros_not_same_code"]
    assert d["35300"]["areas"]["35300"] + d["47930"]["areas"]["35300"] == pytest.approx(1, abs=1e-3)


def test_dayton_and_prescott_valley_carry_their_cbp_figures(metros):
    """Both were recoded in 2018 with the same counties: the CBP 2019 rows of their 2017 codes
    (Dayton 19380: 327,586 employees, 7,562 in NAICS 5415; Prescott 39140: 62,017 and 47)."""
    m = metros.set_index("region_id")
    assert m.at["19430", "cbp_join"] == "renamed" and m.at["39150", "cbp_join"] == "renamed"
    assert (m.at["19430", "cbp_all_industries"], m.at["19430", "cbp_computer_systems_design"]) \
        == (327_586, 7_562)
    assert (m.at["39150", "cbp_all_industries"], m.at["39150", "cbp_computer_systems_design"]) \
        == (62_017, 47)
    assert not m.loc[["19430", "39150"], "cbp_area_split"].any()


def test_no_large_metro_lacks_tech_industry_employment_for_want_of_a_join(metros):
    """Every metro is covered by a CBP area; every metro over 500,000 people has a positive
    tech-industry employment (computer systems design, and the four CBP tech industries)."""
    assert (metros["cbp_join"] != "not_covered").all()
    assert metros["cbp_all_industries"].notna().all()
    assert (metros["cbp_coverage_pct"] > 80).all()
    big = metros[metros["population"] > 500_000]
    assert len(big) > 100
    tech = big[["cbp_computer_systems_design", "cbp_data_processing", "cbp_software_publishers",
                "cbp_semiconductors"]].sum(axis=1, min_count=1)
    assert (tech > 0).all(), big.loc[~(tech > 0), "name"].tolist()
    assert (big["cbp_computer_systems_design"] > 0).all()


def test_every_join_accounts_for_its_rows(report):
    o = report["oews"]
    assert o["matched"] + len(o["source_rows_not_joined"]) == o["source_msas"] == 393
    hc = report["herd_county"]
    assert hc["matched"] + len(hc["not_placed"]) == hc["source_rows"] == 416
    pc = report["patents_county"]
    assert pc["matched"] + len(pc["source_rows_not_placed"]) == pc["source_rows"] == 3019
    assert pc["matched"] + pc["counties_absent_from_source"] == report["rows"]["counties"]
    a = report["acs_county"]
    assert a["matched"] == report["rows"]["counties"] and a["empty"] == 0


def test_metros_geometry(metros):
    check_geometry(metros, gpd.read_file(DATA / "metros.geojson"))


def test_metros_geojson_size():
    assert (DATA / "metros.geojson").stat().st_size < 2.5e6


def test_sources_md_lists_drops():
    text = (DATA / "SOURCES.md").read_text()
    for code in sorted(PUERTO_RICO_METROS | CONNECTICUT_METROS) + ["51515", "49340", "02261", "51610"]:
        assert code in text, code
    assert "108,681,008" in text and "664 institutions" in text


# ============================================================ column registry
@pytest.mark.parametrize("csv_name", ["states.csv", "metros.csv", "counties.csv"])
def test_every_shipped_column_has_a_label_unit_kind_and_basis(csv_name):
    for name in pd.read_csv(DATA / csv_name, nrows=0).columns:
        entry = columns.column(name)
        assert entry is not None, f"{csv_name}: {name} is not in the column registry"
        assert entry.label and entry.unit and entry.about, name
        if entry.is_indicator:
            assert entry.label != name.replace("_", " ").capitalize(), f"{name}: a prettified name"
        if name.endswith("_apportioned"):
            assert entry.basis == "apportioned", name


@pytest.mark.parametrize("region_set", ["states", "metros", "counties"])
def test_only_registry_indicators_are_offered(region_set):
    regions = load_regions(region_set)
    assert all(columns.is_indicator(c) for c in regions.indicators)
    for name in ("n_counties", "ba_plus_share_pct", "population", "region_id", "cbsa_code"):
        assert name not in regions.indicators
    assert "small_rural" not in regions.indicators
    if region_set == "counties":
        assert "ba_plus_share_pct" in regions.table.columns  # shipped, but a rate


@pytest.mark.parametrize("name", STATE_OEWS + STATE_CBP)
def test_state_columns_summed_from_areas_are_derived_at_states(name):
    """The same name is a measured column of metros.csv and a derived column of states.csv."""
    state = columns.column(name, "states")
    assert state is not None and state.basis == "derived" and state.kind == "indicator"
    assert "summed to states" in state.about and "add nothing" in state.about
    assert columns.column(name).basis == "measured"  # the metro entry
    assert columns.basis(name, "states") == "derived"


# ============================================== the build's join rules, on a hand-made case
def _build_module():
    import importlib.util
    import sys

    path = DATA.parent / "scripts" / "build_data.py"
    spec = importlib.util.spec_from_file_location("build_data_for_tests", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_cbp_join_rules_by_hand():
    """2017 area X = {01001 (100 people), 01003 (300)}, Y = {02001 (100)}, 45000 = {04001},
    OLD = {05001}; 01005 is in no 2017 area. 2023 metros: M1 = {01001} takes 100/400 of X;
    M2 = {01003, 02001, 01005} takes 300/400 of X and all of Y (whose NAICS 5415 cell is
    withheld, so adds nothing there) and covers 400 of its 450 people; 45000 keeps its code;
    N = {05001} is OLD under a new code."""
    b = _build_module()
    pop = pd.Series({"01001": 100, "01003": 300, "02001": 100, "01005": 50, "04001": 10,
                     "05001": 20})
    areas = pd.Series({"01001": "X", "01003": "X", "02001": "Y", "04001": "45000",
                       "05001": "OLD"})
    om = pd.DataFrame({"county_fips": ["01001", "01003", "02001", "01005", "04001", "05001"],
                       "cbsa_code": ["M1", "M2", "M2", "M2", "45000", "N"]})
    om["cbsa_title"] = om["cbsa_code"]
    src = list(b.CBP.values())
    cbp = pd.DataFrame(float("nan"), index=["X", "Y", "45000", "OLD"], columns=src)
    cbp["emp_all_industries"] = [1000.0, 200.0, 7.0, 9.0]
    cbp["emp_n5415_computer_systems_design"] = [400.0, float("nan"), 3.0, 5.0]
    report: dict = {}
    values, info = b.join_cbp(om, areas, pop, cbp, report)
    assert values.loc["M1", "cbp_all_industries"] == 250
    assert values.loc["M1", "cbp_computer_systems_design"] == 100
    assert values.loc["M2", "cbp_all_industries"] == 750 + 200
    assert values.loc["M2", "cbp_computer_systems_design"] == 300  # Y withheld: adds nothing
    assert np.isnan(values.loc["M1", "cbp_semiconductors"])  # withheld everywhere: empty
    assert values.loc["N", "cbp_all_industries"] == 9
    assert info["cbp_join"].to_dict() == {"45000": "same_code", "M1": "county_overlap_apportioned",
                                          "M2": "county_overlap_apportioned", "N": "renamed"}
    assert info.loc["M2", "cbp_coverage_pct"] == round(100 * 400 / 450, 1)
    assert info["cbp_area_split"].to_dict() == {"45000": False, "M1": True, "M2": True, "N": False}
    assert report["cbp"]["rows_placed_by_rule"]["county_overlap_apportioned"] == 2
    assert report["cbp"]["partly_withheld"]["cbp_computer_systems_design"] == 1


def test_cbp_join_refuses_a_metro_no_area_covers():
    b = _build_module()
    pop = pd.Series({"01001": 100, "01003": 300})
    om = pd.DataFrame({"county_fips": ["01001", "01003"], "cbsa_code": ["M1", "M2"],
                       "cbsa_title": ["M1", "M2"]})
    cbp = pd.DataFrame(1.0, index=["X"], columns=list(b.CBP.values()))
    with pytest.raises(b.BuildError, match=r"no CBP 2019 area covers .*\['M2'\]"):
        b.join_cbp(om, pd.Series({"01001": "X"}), pop, cbp, {})


def test_state_shares_by_hand():
    """An area with 350 people in state 01 and 100 in state 02 is shared 7/9 : 2/9."""
    b = _build_module()
    members = pd.Series({"01001": "A", "01003": "A", "02001": "A", "01005": "B"})
    pop = pd.Series({"01001": 100, "01003": 250, "02001": 100, "01005": 5})
    got = b.state_shares(members, pop).set_index(["area", "state_fips"])["share"]
    assert got[("A", "01")] == pytest.approx(7 / 9) and got[("A", "02")] == pytest.approx(2 / 9)
    assert got[("B", "01")] == 1.0
