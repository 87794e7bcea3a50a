"""Regions: the shipped states and a user's CSV go through one validated path."""

from __future__ import annotations

import pytest

import optimizer as pf
from optimizer.engine.inputs import resolve
from tests.factories import make_regions, tiny_scenario


def test_shipped_states_load_with_geometry(states) -> None:
    assert len(states) == 51
    assert states.ids[0] == "01"
    assert {"ai_job_postings", "business_rd_musd"} <= set(states.indicators)
    assert {"census_region", "census_division", "postal"} <= set(states.groups)
    geo = states.geometry()
    assert geo is not None and len(geo) == 51
    assert states.lookup("ca") == "06" and states.lookup("California") == "06"


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("region_id,name,talent\nA,Alpha,1", "required column(s) missing: ['population']"),
        ("region_id,name,population,talent\nA,Alpha,10,1\nA,Again,10,2",
         "row 3, column 'region_id': region_id 'A' appears more than once"),
        ("region_id,name,population,talent\nA,Alpha,10,1\n,Beta,10,2",
         "row 3, column 'region_id': region_id is empty"),
        ("region_id,name,population,talent\nA,Alpha,10,-1", "row 2, column 'talent': value -1"),
        ("region_id,name,population,talent\nA,Alpha,ten,1",
         "row 2, column 'population': 'ten' is not a number"),
        ("region_id,name,population,talent\nA,Alpha,0,1",
         "row 2, column 'population': population must be a positive number"),
        ("region_id,name,population,zone\nA,Alpha,10,east", "no numeric indicator columns"),
        ("region_id,name,population,talent\n", "has no rows"),
    ],
)
def test_bad_regions_csv_names_file_row_and_column(csv: str, message: str) -> None:
    with pytest.raises(pf.DataError) as err:
        make_regions(csv, label="mine.csv")
    assert str(err.value).startswith("file mine.csv")
    assert message in str(err.value)


def test_missing_regions_file_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(pf.DataError, match="cannot read the regions file"):
        pf.load_regions(tmp_path / "nope.csv")


def test_missing_values_error_by_default_and_fill_on_request() -> None:
    regions = make_regions("region_id,name,population,talent\nA,Alpha,10,4\nB,Beta,10,\nC,Gamma,10,2")
    with pytest.raises(pf.DataError, match="missing_values.talent"):
        resolve(regions, tiny_scenario())
    zero = resolve(regions, tiny_scenario(missing_values={"talent": "zero"}))
    assert zero.filled_values == {"talent": 1}
    assert zero.c0 == pytest.approx([100 * 4 / 6, 0.0, 100 * 2 / 6])
    median = resolve(regions, tiny_scenario(missing_values="median"))
    assert median.c0 == pytest.approx([100 * 4 / 9, 100 * 3 / 9, 100 * 2 / 9])


def test_geometry_must_cover_every_region(tmp_path) -> None:
    csv = tmp_path / "r.csv"
    csv.write_text("region_id,name,population,talent\nA,Alpha,10,1\nB,Beta,10,2\n")
    geo = tmp_path / "r.geojson"
    geo.write_text('{"type":"FeatureCollection","features":[{"type":"Feature",'
                   '"properties":{"region_id":"A"},"geometry":{"type":"Polygon",'
                   '"coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}]}')
    with pytest.raises(pf.DataError, match=r"1 region\(s\) have no geometry, e.g. \['B'\]"):
        pf.load_regions(csv, geometry=geo)


def test_user_csv_solves_through_the_same_path(tmp_path, solve_checked) -> None:
    csv = tmp_path / "r.csv"
    csv.write_text("region_id,name,population,labs,zone\nA,Alpha,10,1,x\nB,Beta,30,2,y\n")
    regions = pf.load_regions(csv)
    assert regions.indicators == ("labs",) and regions.groups == ("zone",)
    plan = solve_checked(regions, tiny_scenario(weights={"labs": 1.0}))
    assert plan.spent_usd == pytest.approx(10e9)


def test_code_columns_are_groups_not_indicators() -> None:
    regions = make_regions("region_id,name,population,state_fips,cbsa_code,talent\n"
                           "A,Alpha,10,01,12345,1\nB,Beta,10,02,54321,2")
    assert regions.indicators == ("talent",)
    assert set(regions.groups) == {"state_fips", "cbsa_code"}
    assert regions.table["state_fips"].tolist() == ["01", "02"]


def test_no_default_policy_reads_a_not_joined_metro_as_zero() -> None:
    """The metro default fills empty CBP cells with zero; that is only right for cells Census
    withheld, so every shipped metro must be covered by a CBP 2019 area (cbp_join), and the
    page's notes say how the CBP figures were joined."""
    from optimizer.engine.scenario import region_set_assumptions, region_set_default

    metros = pf.load_regions("metros")
    default = region_set_default("metros", metros.indicators)
    t = metros.table
    zero = [c for c in metros.indicators if default.missing_policy(c) == "zero"]
    cbp_zero = [c for c in zero if c.startswith("cbp_")]
    assert cbp_zero, "the default reads no CBP column as zero: this test has nothing to check"
    assert (t["cbp_join"] != "not_covered").all()
    for c in cbp_zero:
        empty = t[c].isna()
        assert (t.loc[empty, "cbp_join"] != "not_covered").all(), c
        assert (t.loc[empty, "cbp_coverage_pct"] > 0).all(), c
    notes = " ".join(region_set_assumptions("metros", default))
    assert "2017 metro delineation" in notes and "every metro is covered" in notes
