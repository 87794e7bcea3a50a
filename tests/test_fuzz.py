"""Fuzzing: random scenarios, regions files and rule combinations never crash, every
plan called solved passes the independent check, and every offered fix solves.

The default budget keeps this to about a minute in the README's test command, on a
fixed sequence of examples, so that a clean clone passes or fails as this machine does;
set ``PLACEFUND_FUZZ_EXAMPLES`` (e.g. 2000) for a longer run on fresh random examples.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optimizer as pf
from optimizer.engine.check import check, check_dir
from optimizer.engine.data import Regions, regions_from_bytes
from optimizer.engine.errors import DataError, InfeasibleError, PlaceFundError, ScenarioError
from optimizer.engine.scenario import scenario_from_text

SCALE = max(1, int(os.environ.get("PLACEFUND_FUZZ_EXAMPLES", "0")) // 100)


def fuzz_settings(examples: int) -> settings:
    return settings(max_examples=examples * SCALE, deadline=None, database=None,
                    derandomize=SCALE == 1,
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
     "solver", "approximation", "allow_unspent", "spread_measure", "periods", "growth",
     "objective_year", "discount_rate", "not_a_key"])
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
    if draw(st.integers(0, 2)) == 0:  # a plan over time (refused with hubs or capacity rules)
        years = draw(st.integers(2, 4))
        data["periods"] = {"years": years, "carryover": draw(st.booleans())}
        if draw(st.booleans()):
            cuts = sorted(draw(st.lists(st.floats(0.0, 1.0), min_size=years - 1,
                                        max_size=years - 1)))
            edges = [0.0, *cuts, 1.0]
            cents = [round((b - a) * budget * 100) for a, b in zip(edges, edges[1:])]
            cents[-1] = round(budget * 100) - sum(cents[:-1])
            data["periods"]["budget_by_year"] = [c / 100 for c in cents]
        data["growth"] = {"base_rate": draw(st.floats(-0.05, 0.1)),
                          "agglomeration_elasticity": draw(st.floats(0.0, 0.05)),
                          "rates_from": draw(st.sampled_from(["no_policy", "plan"]))}
        if draw(st.booleans()):
            data["objective_year"] = "discounted"
            data["discount_rate"] = draw(st.floats(0.0, 0.1))
        if draw(st.integers(0, 2)) == 0 and data["growth"]["rates_from"] == "no_policy":
            data["growth_centers"] = {"count": draw(st.integers(1, n)),
                                      "exclude_leading": draw(st.integers(0, n - 1)),
                                      "min_years": draw(st.integers(1, years)),
                                      "min_award_share": draw(st.floats(0.0, 1.0)),
                                      "mip_rel_gap": 1e-3}
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


@st.composite
def over_time_problems(draw: st.DrawFn) -> tuple[Regions, dict]:
    """``problems`` over 2 to 4 years: their money rules, none of the rules a plan over
    time refuses (hubs, the per-capita floor, the top-k cap)."""
    regions, data = draw(problems())
    for key in ("hubs", "per_capita_floor", "top_k_share_cap"):
        data.pop(key, None)
    data.setdefault("periods", {"years": draw(st.integers(2, 4)),
                                "carryover": draw(st.booleans())})
    return regions, data


@fuzz_settings(30)
@given(problem=over_time_problems())
def test_every_plan_over_time_passes_its_check_file_by_file(
        problem: tuple[Regions, dict], tmp_path_factory: pytest.TempPathFactory) -> None:
    regions, data = problem
    try:
        scenario = pf.scenario_from_dict(data, source="fuzz scenario")
    except PlaceFundError:
        return  # an invalid combination, said in words
    try:
        plan = pf.Planner(regions).solve(scenario)
    except (InfeasibleError, ScenarioError, DataError):
        return  # rules that cannot all hold over these years, said in words
    assert_checked(plan, regions)
    folder = plan.to_dir(tmp_path_factory.mktemp("over_time") / "plan")
    report = check_dir(folder)
    assert report.ok, str(report)
    spent = plan.allocation.groupby("year")["amount_usd"].sum()
    assert len(spent) == scenario.periods.years


# ------------------------------------- the second round's surfaces: specs, links, plan folders

spec_keys = st.sampled_from(
    ["analysis", "title", "regions", "scenario", "stakeholders", "samples", "seed", "objective",
     "alpha", "weights", "complementarity", "yields", "prior", "out_of_sample", "vary",
     "base_samples", "parameters", "runs", "points", "change", "chunk_size", "not_a_key"])
stakeholder_names = st.sampled_from(["research", "equity", "consensus", "baseline", "NA", "007",
                                     "", " ", "Stakeholder", "plan"])
grids = st.fixed_dictionaries({"start": st.sampled_from([0, 0.1, "$1B"]),
                               "stop": st.sampled_from([1, 0.9, "$9B"]),
                               "num": st.sampled_from([2, 3, 10_000, 10**6, 0, "x"])})


@st.composite
def analysis_specs(draw: st.DrawFn) -> dict:
    spec = draw(st.dictionaries(spec_keys, yaml_values, max_size=4))
    if draw(st.booleans()):
        spec["stakeholders"] = draw(st.dictionaries(
            stakeholder_names, st.sampled_from([{}, {"weights": {"ai_vc_musd": 1}},
                                                {"spread_weight": 2}, []]), max_size=3))
    if draw(st.booleans()):
        spec["vary"] = draw(st.dictionaries(
            st.sampled_from(["budget", "spread_weight", "complementarity", "nope"]),
            grids | st.lists(yaml_scalars, max_size=3), max_size=3))
    if draw(st.booleans()):
        spec["base_samples"] = draw(st.sampled_from([4, 64, 10**6, -1, "x"]))
    return spec


@fuzz_settings(60)
@given(analysis_specs(), st.sampled_from(["consensus", "robust-plan", "sweep", "sobol",
                                          "robust", "tornado", "pareto"]))
def test_any_analysis_spec_validates_or_says_why(spec: dict, kind: str) -> None:
    from optimizer.analysis import sensitivity as sens
    from optimizer.analysis.consensus import spec as cs
    from optimizer.analysis.consensus_check import name_problem

    try:
        if kind == "consensus":
            parsed = cs.consensus_spec_from_dict(spec, source="fuzz.yaml")
            assert not any(name_problem(name) for name in parsed.stakeholders)
        elif kind == "robust-plan":
            cs.robust_spec_from_dict(spec, source="fuzz.yaml")
        else:
            parsed_spec = sens.spec_from_dict(spec, source="fuzz.yaml", analysis=kind)
            if kind in ("sweep", "sobol"):
                runs = sens.build_runs(parsed_spec, *_states_and_default())
                assert len(runs) <= sens.MAX_RUNS
    except PlaceFundError as err:
        assert str(err) and "Traceback" not in str(err) and len(str(err)) < 5000


_CACHE: dict[str, object] = {}


def _states_and_default() -> tuple[Regions, pf.Scenario]:
    if "states" not in _CACHE:
        _CACHE["states"] = (pf.load_regions("states"), pf.load_scenario())
    return _CACHE["states"]  # type: ignore[return-value]


link_values = st.recursive(yaml_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(
        st.sampled_from(["budget", "weights", "spread_weight", "ai_vc_musd", "x", "hubs"]),
        inner, max_size=3)), max_leaves=10)


@fuzz_settings(80)
@given(st.dictionaries(st.sampled_from(["v", "set", "s", "u", "g", "x"]),
                       st.text(max_size=40), max_size=5),
       st.none() | st.dictionaries(
           st.sampled_from(["budget", "weights", "spread_weight", "complementarity",
                            "per_capita_floor", "hubs", "nope"]), link_values, max_size=4),
       st.none() | st.integers(1, 40))
def test_any_link_opens_a_scenario_and_at_most_one_sentence(params: dict, settings_: dict | None,
                                                             depth: int | None) -> None:
    import base64
    import json
    import zlib

    from optimizer.ui import state as stt

    if settings_ is not None:
        text = json.dumps(settings_, default=str)
        if depth is not None:
            text = "[" * depth + text + "]" * depth
        params = {**params, "v": "1", "s": base64.urlsafe_b64encode(
            zlib.compress(text.encode())).decode().rstrip("=")}
    link = stt.read_link(params)
    if link is None:
        return
    regions, reference = _states_and_default()
    scenario, problem = stt.apply_link(reference, link, regions if link.region_set == "states"
                                       else None)
    assert isinstance(scenario, pf.Scenario)
    for said in (link.problem, problem):
        assert said is None or (said and "Traceback" not in said and len(said) < 5000)


PLAN_CSV = "region_id,name,population,talent,zone\nA,Alpha,1000,1,x\nB,Beta,2000,2,y\nC,Gamma,3000,3,z\n"


def _tiny_plan_dir() -> tuple[object, pf.AllocationResult]:
    """A plan folder solved once for the module (hypothesis reuses it for every example)."""
    import tempfile
    from pathlib import Path

    if "plan" not in _CACHE:
        root = Path(tempfile.mkdtemp(prefix="placefund-fuzz-"))
        (root / "tiny.csv").write_text(PLAN_CSV)
        scenario = pf.scenario_from_dict({"budget": 1e9, "weights": {"talent": 1}})
        plan = pf.solve(pf.load_regions(root / "tiny.csv"), scenario)
        _CACHE["plan"] = (plan.to_dir(root / "plan"), plan)
    return _CACHE["plan"]  # type: ignore[return-value]


json_replacements = st.one_of(yaml_scalars, st.lists(yaml_scalars, max_size=2),
                              st.dictionaries(st.text(max_size=5), yaml_scalars, max_size=2))


@st.composite
def folder_mutations(draw: st.DrawFn) -> tuple[str, object]:
    name = draw(st.sampled_from(["metrics.json", "allocation.csv", "regions.csv",
                                 "scenario.yaml", "input_regions.csv"]))
    kind = draw(st.sampled_from(["bytes", "value"]))
    if kind == "bytes":
        return name, ("bytes", draw(st.integers(0, 10_000)), draw(st.integers(0, 3)),
                      draw(st.binary(max_size=4)))
    return name, ("value", draw(st.integers(0, 10_000)), draw(json_replacements))


def _mutated(raw: bytes, name: str, mutation: tuple) -> bytes:
    """Bytes inserted or cut, or one value replaced: at any key path of a JSON record, or
    in one cell of a CSV table."""
    import json

    if mutation[0] == "bytes":
        _, at, cut, insert = mutation
        at %= max(len(raw), 1)
        return raw[:at] + insert + raw[at + cut:]
    _, at, value = mutation
    if name.endswith(".json"):
        record = json.loads(raw)
        paths: list[tuple[dict, str]] = []
        stack: list[dict] = [record]
        while stack:
            node = stack.pop()
            for key, child in node.items():
                paths.append((node, key))
                if isinstance(child, dict):
                    stack.append(child)
        node, key = paths[at % len(paths)]
        node[key] = value
        return json.dumps(record).encode()
    lines = raw.decode().splitlines()
    row = 1 + at % max(len(lines) - 1, 1)
    cells = lines[row].split(",")
    cells[at % len(cells)] = str(value).replace(",", " ").replace("\n", " ")
    lines[row] = ",".join(cells)
    return ("\n".join(lines) + "\n").encode()


@fuzz_settings(60)
@given(folder_mutations())
def test_a_mutated_plan_folder_is_named_or_checked_and_what_passes_the_tool_could_write(
        mutation: tuple[str, tuple]) -> None:
    import shutil
    import tempfile
    from pathlib import Path

    from optimizer.analysis.consensus_check import check_plan_dir
    from optimizer.engine.check import money_tolerance_usd

    source, plan = _tiny_plan_dir()
    name, change = mutation
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "plan"
        shutil.copytree(source, folder)  # type: ignore[arg-type]
        (folder / name).write_bytes(_mutated((folder / name).read_bytes(), name, change))
        try:
            report = check_plan_dir(folder)
        except PlaceFundError as err:
            assert str(err) and "Traceback" not in str(err) and len(str(err)) < 5000
            return
        if not report.ok:
            return
        # check accepts it: the tool could have written it (its verified numbers are the plan's)
        back = pf.AllocationResult.from_dir(folder)
        tol = money_tolerance_usd(plan.scenario.budget)
        assert np.allclose(back.funding_usd(), plan.funding_usd(), atol=tol, rtol=0)
        funding = back.regions.set_index("region_id")["funding_usd"]
        assert np.allclose(funding.reindex(plan.regions["region_id"]).to_numpy(float),
                           plan.regions["funding_usd"].to_numpy(float), atol=tol, rtol=0)
        assert back.objective == pytest.approx(plan.objective, rel=1e-6)
        assert back.scenario.fingerprint() == plan.scenario.fingerprint()


TWO_CSV = "region_id,name,population,north,south\nA,Alpha,1000,1,0\nB,Beta,1000,0,1\n"


def _analysis_dirs() -> dict[str, object]:
    """A consensus folder and a robust-plan folder on two regions, made once."""
    import tempfile
    from pathlib import Path

    from optimizer.analysis import consensus as cs
    from optimizer.report import consensus as rcs

    if "analyses" not in _CACHE:
        root = Path(tempfile.mkdtemp(prefix="placefund-fuzz-"))
        (root / "two.csv").write_text(TWO_CSV)
        regions = pf.load_regions(root / "two.csv")
        base = pf.scenario_from_dict({"budget": 1e10, "weights": {"north": 1, "south": 1},
                                      "spread_weight": 0.0, "complementarity": 1.0})
        result = cs.consensus(regions, base, {"north": {"weights": {"north": 1}},
                                              "south": {"weights": {"south": 1}}})
        spec = cs.robust_spec_from_dict({"samples": 3, "objective": "mean",
                                         "complementarity": {"uniform": [0.3, 0.7]},
                                         "out_of_sample": {"samples": 2, "core_index": False}})
        robust = cs.robust_plan(regions, base, cs.draw_samples(spec, base, 3, 0), "mean",
                                fresh=cs.draw_samples(spec, base, 2, 1))
        _CACHE["analyses"] = {"consensus.json": rcs.write_consensus(result, root / "consensus"),
                              "robust.json": rcs.write_robust(robust, root / "robust")}
    return _CACHE["analyses"]  # type: ignore[return-value]


@st.composite
def analysis_mutations(draw: st.DrawFn) -> tuple[str, str, tuple]:
    record = draw(st.sampled_from(["consensus.json", "robust.json"]))
    names = {"consensus.json": ["consensus.json", "achievement.csv", "scores.csv",
                                "own_plans.csv"],
             "robust.json": ["robust.json", "samples.csv", "fresh_samples.csv",
                             "sample_scores.csv", "default_allocation.csv"]}[record]
    name = draw(st.sampled_from(names))
    if draw(st.booleans()):
        return record, name, ("bytes", draw(st.integers(0, 10_000)), draw(st.integers(0, 3)),
                              draw(st.binary(max_size=4)))
    return record, name, ("value", draw(st.integers(0, 10_000)), draw(json_replacements))


@fuzz_settings(25)
@given(analysis_mutations())
def test_a_mutated_analysis_folder_is_named_or_checked(mutation: tuple[str, str, tuple]) -> None:
    import shutil
    import tempfile
    from pathlib import Path

    from optimizer.analysis.consensus_check import check_plan_dir

    record, name, change = mutation
    source = _analysis_dirs()[record]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "plan"
        shutil.copytree(source, folder)  # type: ignore[arg-type]
        original = (folder / name).read_bytes()
        (folder / name).write_bytes(_mutated(original, name, change))
        try:
            report = check_plan_dir(folder)
        except PlaceFundError as err:
            assert str(err) and "Traceback" not in str(err) and len(str(err)) < 5000
            return
        if report.ok and name not in ("consensus.json", "robust.json", "samples.csv",
                                      "fresh_samples.csv"):
            # a table check accepts holds the numbers the tool wrote (a sample's values are
            # checked through the S they give: one that changes no S is not told apart)
            import io

            before = pd.read_csv(io.BytesIO(original))
            after = pd.read_csv(io.BytesIO((folder / name).read_bytes()))
            numeric = [c for c in before.columns if pd.api.types.is_numeric_dtype(before[c])
                       and c in after.columns]
            for column in numeric:  # money to the checker's tolerance: 1e-9 of the $10B budget
                atol = 10.0 if "usd" in column else 1e-6
                assert np.allclose(pd.to_numeric(after[column], errors="coerce").to_numpy(float),
                                   before[column].to_numpy(float), rtol=1e-6, atol=atol), column
