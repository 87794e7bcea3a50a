"""Fuzzing: random scenarios, regions files and rule combinations never crash, every
plan called solved passes the independent check, and every offered fix solves.

The default budget keeps this to about a minute in the README's test command; set
``PLACEFUND_FUZZ_EXAMPLES`` (e.g. 2000) for a longer run on demand.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optimizer as pf
from optimizer.engine.check import check
from optimizer.engine.data import Regions, regions_from_bytes
from optimizer.engine.errors import DataError, InfeasibleError, PlaceFundError, ScenarioError
from optimizer.engine.scenario import scenario_from_text

SCALE = max(1, int(os.environ.get("PLACEFUND_FUZZ_EXAMPLES", "0")) // 100)


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=examples * SCALE, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------- parsers: never a traceback

yaml_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.sampled_from(["$80B", "$0.5M", "80 billion", "-1", "1e400", ".inf", "nan", "$", "B"]))
scenario_keys = st.sampled_from(
    ["budget", "weights", "spread_weight", "complementarity", "instruments", "region_floor_usd",
     "region_cap_usd", "max_region_share", "instrument_shares", "group_min_shares",
     "exclusions", "top_k_share_cap", "hubs", "packs", "per_capita_floor", "missing_values",
     "solver", "approximation", "allow_unspent", "spread_measure", "not_a_key"])
yaml_values = st.recursive(yaml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8)


@fuzz_settings(60)
@given(st.dictionaries(scenario_keys, yaml_values, max_size=4))
def test_any_scenario_mapping_loads_or_says_why(mapping: dict) -> None:
    text = yaml.safe_dump(mapping, allow_unicode=True)
    try:
        scenario = scenario_from_text(text, source="fuzz.yaml")
    except PlaceFundError as err:
        assert str(err) and "Traceback" not in str(err) and len(str(err)) < 5000
        return
    assert all(np.isfinite(list(scenario.weights.values())))
    assert np.isfinite(scenario.budget) and scenario.budget >= 0


@fuzz_settings(60)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_as_a_scenario_file_load_or_say_why(raw: bytes) -> None:
    try:
        scenario_from_text(raw.decode("utf-8", errors="replace"), source="fuzz.yaml")
    except PlaceFundError as err:
        assert str(err) and len(str(err)) < 5000


cells = st.one_of(st.sampled_from(["", "NA", "n/a", "-", "1,200", "1e3", "inf", "-5", "0",
                                   "x", "\"q,uoted\"", "3.5", "1e-320", "nan"]),
                  st.integers(0, 10**7).map(str))


@st.composite
def regions_csv(draw: st.DrawFn) -> bytes:
    extra = draw(st.lists(st.sampled_from(["talent", "labs", "group", "talent", "code_id"]),
                          max_size=3))
    header = draw(st.permutations(["region_id", "name", "population", *extra]))
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        width = len(header) + draw(st.sampled_from([0, 0, 0, -1, 1]))
        rows.append(",".join(draw(cells) for _ in range(max(width, 1))))
    return ("\n".join([",".join(header), *rows]) + "\n").encode()


@fuzz_settings(80)
@given(regions_csv())
def test_any_regions_csv_parses_or_names_the_problem(raw: bytes) -> None:
    try:
        regions = regions_from_bytes(raw, "fuzz.csv")
    except PlaceFundError as err:
        assert "fuzz.csv" in str(err)
        return
    population = regions.table["population"].to_numpy(float)
    assert np.isfinite(population).all() and (population > 0).all()
    for column in regions.indicators:
        values = regions.table[column].to_numpy(float)
        assert (np.isnan(values) | (np.isfinite(values) & (values >= 0))).all()


# ------------------------------------------------- solve -> check, and every offered fix solves

@st.composite
def problems(draw: st.DrawFn) -> tuple[Regions, dict]:
    n = draw(st.integers(2, 7))
    table = pd.DataFrame({
        "region_id": [f"R{i}" for i in range(n)],
        "name": [f"Region {i}" for i in range(n)],
        "population": draw(st.lists(st.integers(500, 40_000_000), min_size=n, max_size=n)),
        "labs": draw(st.lists(st.floats(0.0, 1e4, allow_subnormal=False), min_size=n,
                                     max_size=n)),
        "jobs": draw(st.lists(st.floats(0.01, 1e5), min_size=n, max_size=n)),
        "zone": draw(st.lists(st.sampled_from(["north", "south"]), min_size=n, max_size=n)),
        "small_rural": draw(st.lists(st.sampled_from(["true", "false"]), min_size=n, max_size=n)),
    })
    table.loc[0, "labs"] = max(table.loc[0, "labs"], 1.0)  # no all-zero indicator
    regions = regions_from_bytes(table.to_csv(index=False).encode(), "fuzz.csv")
    budget = draw(st.sampled_from([8e4, 5.04e8, 1e9, 1e10, 8e10]))
    data: dict = {
        "budget": budget,
        "weights": {"labs": draw(st.floats(0.0, 1.0)), "jobs": draw(st.floats(0.01, 1.0))},
        "spread_weight": draw(st.floats(0.0, 1.0)),
        "complementarity": draw(st.floats(0.0, 1.0)),
        "spread_measure": draw(st.sampled_from(["gini", "hoover"])),
        "instruments": {
            "research": {"yields": {"labs": draw(st.floats(0.05, 3.0)) * float(table["labs"].sum()) / 100},
                         "saturation_usd": draw(st.floats(1e8, 5e10)), "absorbs": ["labs"]},
            "talent": {"yields": {"jobs": draw(st.floats(0.05, 3.0)) * float(table["jobs"].sum()) / 100},
                       "saturation_usd": draw(st.floats(1e8, 5e10))},
        },
        "allow_unspent": draw(st.booleans()),
    }
    share = st.floats(0.0, 1.0)
    if draw(st.booleans()):
        data["region_floor_usd"] = draw(share) * budget / n * 1.2
    if draw(st.booleans()):
        data["region_cap_usd"] = draw(st.floats(0.1, 1.0)) * budget
    if draw(st.booleans()):
        data["max_region_share"] = draw(st.floats(0.1, 1.0))
    if draw(st.booleans()):
        lo = draw(st.floats(0.0, 0.6))
        data["instrument_shares"] = {"research": {"min": lo, "max": draw(st.floats(lo, 1.0))}}
    if draw(st.booleans()):
        data["group_min_shares"] = {"zone": {"north": draw(st.floats(0.0, 0.8))}}
    if draw(st.booleans()):
        data["per_capita_floor"] = draw(st.floats(0.0, 1.5))
    if draw(st.booleans()):
        data["top_k_share_cap"] = {"k": draw(st.integers(1, n)),
                                   "max_share": draw(st.floats(0.05, 1.0))}
    if draw(st.booleans()):
        data["exclusions"] = {"top_k_incumbents": draw(st.integers(0, n - 1))}
    if draw(st.integers(0, 3)) == 0:
        lo_award = draw(share) * budget / n
        data["hubs"] = {"count": {"min": draw(st.integers(0, n)), "max": draw(st.integers(1, n))},
                        "award_usd": {"min": lo_award, "max": lo_award + draw(share) * budget},
                        "designated": {"column": "small_rural",
                                       "min_share": draw(st.floats(0.0, 0.6))}}
        if data["hubs"]["count"]["min"] > data["hubs"]["count"]["max"]:
            data["hubs"]["count"]["min"] = data["hubs"]["count"]["max"]
    return regions, data


def assert_checked(plan: pf.AllocationResult, regions: Regions) -> None:
    hubs = (set(plan.regions.loc[plan.regions["hub"], "region_id"])
            if plan.scenario.hubs is not None else None)
    report = check(plan.allocation, regions, plan.scenario, plan.metrics_after,
                   plan.metrics_before, hubs)
    assert report.ok, str(report)


@fuzz_settings(50)
@given(problems())
def test_every_solved_plan_passes_its_check_and_every_fix_solves(problem) -> None:
    regions, data = problem
    try:
        scenario = pf.scenario_from_dict(data, source="fuzz scenario")
    except PlaceFundError:
        return  # an invalid combination, said in words (the parser tests cover the words)
    try:
        plan = pf.solve_explained(pf.Planner(regions), scenario)
    except InfeasibleError as err:
        fixes = getattr(err.diagnosis, "relaxations", None) or []
        for fix in fixes:
            relaxed = pf.Planner(regions).solve(scenario.updated(**fix.changes))
            assert_checked(relaxed, regions)
        return
    except (ScenarioError, DataError):
        return  # e.g. a group value no region has: an input error, said in words
    assert plan.solver.status == "optimal"
    assert_checked(plan, regions)
