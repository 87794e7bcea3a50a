"""Bad inputs and hostile files: a specific message, the right exit code, no traceback,
nothing lost. One test per case, through the CLI (exit code, message) and the Python API.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import time
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

import optimizer as pf
from optimizer.analysis.sensitivity import load_spec
from optimizer.cli import app
from optimizer.engine import data as data_module
from optimizer.engine.check import check_dir
from optimizer.engine.scenario import parse_usd, scenario_from_text
from optimizer.report import export as ex
from optimizer.report import uploads as up

TINY_CSV = ("region_id,name,population,talent,zone\n"
            "A,Alpha,1000,1,x\nB,Beta,2000,2,y\nC,Gamma,3000,3,z\n")
TINY_SCENARIO = 'budget: "$1B"\nweights: {talent: 1}\n'

# the "billion laughs": 313 bytes that expand to 9^9 = 387 million strings
BOMB = "".join(
    f"{name}: &{name} [{','.join([f'*{prev}'] * 9) if prev else ','.join(['lol'] * 9)}]\n"
    for prev, name in zip([None, *"abcdefgh"], "abcdefghi", strict=True))

runner = CliRunner()


def cli(*args: str | Path) -> tuple[int, str]:
    """Run ``placefund``; it must end by its own exit code, never by an exception."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}")
    assert "Traceback" not in result.output and "ERROR:" not in result.output
    return result.exit_code, result.output


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def copy_plan(plan: Path, tmp_path: Path) -> Path:
    target = tmp_path / "plan"
    shutil.copytree(plan, target)
    return target


# --- 3. non-UTF-8 or binary files ---------------------------------------------------------

def test_a_scenario_that_is_not_utf8_is_named_with_its_byte_offset(tmp_path: Path) -> None:
    bad = write(tmp_path / "latin1.yaml", "budget: 1e9\nname: caf\xe9\n".encode("latin-1"))
    code, output = cli("solve", "--scenario", bad, "--out", tmp_path / "out")
    assert code == 2
    assert f"{bad}: not UTF-8 text: byte 0xe9 at byte offset 21" in output
    with pytest.raises(pf.ScenarioError, match="byte offset 21"):
        pf.load_scenario(bad)
    assert not (tmp_path / "out").exists()


def test_a_binary_scenario_is_refused_with_its_byte_offset(tmp_path: Path) -> None:
    bad = write(tmp_path / "scenario.yaml", b"budget: 1e9\n\x00\x01\x02\x03")
    code, output = cli("solve", "--scenario", bad)
    assert code == 2 and "looks like a binary file: control character 0x00 at byte offset 12" in output
    with pytest.raises(pf.ScenarioError, match="byte offset 12"):
        pf.load_scenario(bad)


def test_a_spec_file_that_is_not_utf8_is_named_with_its_byte_offset(tmp_path: Path) -> None:
    spec = write(tmp_path / "sweep.yaml", b"analysis: sweep\ntitle: \xff\xfe\n")
    code, output = cli("sweep", spec, "--out", tmp_path / "out", "--scheduler", "serial")
    assert code == 2 and f"{spec}: not UTF-8 text: byte 0xff at byte offset 23" in output
    with pytest.raises(pf.ScenarioError, match="byte offset 23"):
        load_spec(spec)


@pytest.mark.parametrize("name", ["scenario.yaml", "metrics.json", "allocation.csv",
                                  "regions.csv", "input_regions.csv"])
def test_a_plan_file_that_is_not_utf8_is_named_with_its_byte_offset(
        tiny_plan: Path, tmp_path: Path, name: str) -> None:
    plan = copy_plan(tiny_plan, tmp_path)
    raw = (plan / name).read_bytes()
    write(plan / name, raw[:5] + b"\xff" + raw[5:])
    code, output = cli("check", plan)
    assert code == 2 and str(plan / name) in output and "byte offset 5" in output
    with pytest.raises(pf.PlaceFundError, match="byte offset 5"):
        check_dir(plan)
    if name != "input_regions.csv":  # export reads the other four
        code, output = cli("export", plan, "--format", "csv")
        assert code == 2 and str(plan / name) in output and "byte offset 5" in output


def test_a_binary_plan_file_is_refused(tiny_plan: Path, tmp_path: Path) -> None:
    plan = copy_plan(tiny_plan, tmp_path)
    write(plan / "allocation.csv", b"region_id,name\n\x00\x00\x00\x00")
    code, output = cli("check", plan)
    assert code == 2 and "allocation.csv" in output and "binary" in output
    assert "byte offset 15" in output


# --- 3. YAML alias bomb, duplicate keys ----------------------------------------------------

def test_an_alias_bomb_is_refused_in_well_under_a_second(tmp_path: Path) -> None:
    assert len(BOMB.encode()) < 350
    start = time.perf_counter()
    with pytest.raises(pf.ScenarioError, match="aliases nest more than 3 levels"):
        scenario_from_text(BOMB, source="bomb.yaml")
    with pytest.raises(pf.ScenarioError, match="aliases nest more than 3 levels"):
        up.scenario_from_upload("bomb.yaml", BOMB.encode())  # the app's upload path
    assert time.perf_counter() - start < 0.5
    bomb = write(tmp_path / "bomb.yaml", BOMB)
    start = time.perf_counter()
    code, output = cli("solve", "--scenario", bomb)
    assert code == 2 and "bomb.yaml: refused" in output
    assert time.perf_counter() - start < 1.0


def test_wide_aliasing_is_capped_by_the_size_it_expands_to() -> None:
    text = ("a: &a [" + ", ".join(["x"] * 1000) + "]\n"
            "weights: [" + ", ".join(["*a"] * 300) + "]\n")  # 300,000 values, 2 kB
    start = time.perf_counter()
    with pytest.raises(pf.ScenarioError, match="expands to more than 200,000 values"):
        scenario_from_text(text, source="wide.yaml")
    assert time.perf_counter() - start < 0.5


def test_an_invalid_value_built_by_aliases_is_quoted_briefly() -> None:
    # 3 levels of aliases (allowed): 9^3 = 729 strings given where a mapping belongs
    text = "\n".join(BOMB.splitlines()[:3]) + "\nweights: *c\n"
    with pytest.raises(pf.ScenarioError) as err:
        scenario_from_text(text, source="small_bomb.yaml")
    line = next(x for x in str(err.value).splitlines() if x.strip().startswith("weights:"))
    assert "Input should be a valid dictionary (got [[[...], [...]" in line
    assert len(line) < 200  # the value is quoted briefly, never repr'd whole


def test_a_key_given_twice_is_refused_naming_both_lines(tmp_path: Path) -> None:
    text = 'budget: "$40B"\nspread_weight: 0.8\nbudget: "$80B"\n'
    with pytest.raises(pf.ScenarioError, match="key 'budget' appears twice, on line 1 and line 3"):
        scenario_from_text(text, source="dup.yaml")
    nested = "weights:\n  cs_doctorates: 1\n  ai_job_postings: 2\n  cs_doctorates: 3\n"
    with pytest.raises(pf.ScenarioError, match="'cs_doctorates' appears twice, on line 2 and line 4"):
        scenario_from_text(nested, source="dup.yaml")
    code, output = cli("solve", "--scenario", write(tmp_path / "dup.yaml", text))
    assert code == 2 and "on line 1 and line 3" in output


def test_a_merged_mapping_may_still_be_overridden_by_an_explicit_key() -> None:
    merged = scenario_from_text(
        "instruments:\n  grant:\n    <<: {yields: {talent: 1.0%}, saturation_usd: 1e9}\n"
        "    yields: {talent: 2.0%}\n", source="merge.yaml")
    assert merged.instruments["grant"].yields == {"talent": "2.0%"}
    assert merged.instruments["grant"].saturation_usd == 1e9


# --- 3. regions CSV ------------------------------------------------------------------------

@pytest.mark.parametrize(("csv", "message"), [
    ("region_id,name,population,talent\nA,Alpha,10,1\nB,Beta,10,2,9\n",
     "row 3: has 5 field(s) but the header has 4"),
    ("region_id,name,population,talent\nA,Alpha,10,1,7\nB,Beta,10,2,9\n",  # pandas made A the index
     "row 2: has 5 field(s) but the header has 4"),
    ("region_id,name,population,talent\nA,Alpha,10,1\nB,Beta,10\n",
     "row 3: has 3 field(s) but the header has 4"),
])
def test_a_ragged_row_is_named(tmp_path: Path, csv: str, message: str) -> None:
    with pytest.raises(pf.DataError, match=re.escape(message)):
        pf.load_regions(write(tmp_path / "ragged.csv", csv))
    code, output = cli("solve", "--regions", tmp_path / "ragged.csv")
    assert code == 2 and message in output


def test_a_repeated_column_name_is_refused_from_the_raw_header(tmp_path: Path) -> None:
    csv = write(tmp_path / "dup.csv", "region_id,name,population,talent,talent\nA,Alpha,10,1,2\n")
    message = "column name 'talent' appears twice in the header (columns 4 and 5)"
    with pytest.raises(pf.DataError, match=re.escape(message)):
        pf.load_regions(csv)
    code, output = cli("solve", "--regions", csv)
    assert code == 2 and message in output


def test_text_in_a_numeric_column_names_row_column_and_value(tmp_path: Path) -> None:
    csv = write(tmp_path / "typo.csv", "region_id,name,population,talent\n"
                "A,Alpha,10,1\nB,Beta,10,2\nC,Gamma,10,3O\nD,Delta,10,4\n")
    with pytest.raises(pf.DataError, match=r"row 4, column 'talent': '3O' is not a number"):
        pf.load_regions(csv)
    code, output = cli("solve", "--regions", csv)
    assert code == 2 and "row 4, column 'talent': '3O' is not a number" in output


def test_a_mostly_text_column_stays_a_group_and_missing_markers_are_missing() -> None:
    regions = data_module.regions_from_bytes(
        b"region_id,name,population,talent,kind\n"
        b'A,Alpha,"15,800",n/a,big\nB,Beta,2000,-,small\nC,Gamma,3000,NA,7\nD,Delta,4000,4,\n',
        "mixed.csv")
    assert regions.indicators == ("talent",) and regions.groups == ("kind",)
    t = regions.table.set_index("region_id")
    assert t["population"].tolist() == [15_800, 2000, 3000, 4000]  # thousands separator
    assert t["talent"].isna().tolist() == [True, True, True, False]
    assert t["kind"].tolist() == ["big", "small", "7", ""]
    # reading "15,800" as 15800 is said, naming the column
    assert regions.read_notes == ("mixed.csv: read numbers with thousands separators (e.g. "
                                  "15,800 as 15800) in Population (population).",)
    plain = data_module.regions_from_bytes(b"region_id,name,population,talent\nA,A,10,1\n", "p.csv")
    assert plain.read_notes == ()


@pytest.mark.parametrize(("mark", "name"), [(";", "semicolon"), ("\t", "tab")])
def test_a_file_separated_by_semicolons_or_tabs_is_named_as_such(mark: str, name: str) -> None:
    raw = mark.join(["region_id", "name", "population", "talent"]) + "\n" \
        + mark.join(["A", "Alpha", "1000", "5,5"]) + "\n"
    with pytest.raises(pf.DataError, match=f"row 1: this looks {name}-separated") as err:
        data_module.regions_from_bytes(raw.encode(), "semi.csv")
    assert "semi.csv" in str(err.value) and "commas" in str(err.value)


@pytest.mark.parametrize(("value", "message"), [
    ("inf", "got inf"),
    ("nan", "the cell is empty"),
    ("5e-324", "got 5e-324"),  # subnormal: crashed inside Pyomo's HiGHS interface
    ("0.5", "got 0.5"),
])
def test_a_population_that_is_not_a_count_of_persons_is_refused(
        tmp_path: Path, value: str, message: str) -> None:
    csv = write(tmp_path / "pop.csv", f"region_id,name,population,talent\nA,Alpha,{value},1\n"
                "B,Beta,10,2\n")
    expected = "row 2, column 'population': population must be a positive number of persons"
    with pytest.raises(pf.DataError, match=expected) as err:
        pf.load_regions(csv)
    assert message in str(err.value)
    code, output = cli("solve", "--regions", csv)
    assert code == 2 and expected in output and message in output


@pytest.mark.parametrize(("value", "message"), [
    ("inf", "value inf is not finite"),
    ("1e-310", "value 1e-310 is too small to compute with (subnormal)"),
])
def test_a_non_finite_or_subnormal_indicator_is_refused(value: str, message: str) -> None:
    with pytest.raises(pf.DataError, match=rf"row 3, column 'talent': {re.escape(message)}"):
        data_module.regions_from_bytes(
            f"region_id,name,population,talent\nA,Alpha,10,1\nB,Beta,10,{value}\n".encode(), "x.csv")


def test_indicator_values_too_large_to_add_up_are_refused() -> None:
    with pytest.raises(pf.DataError, match="column 'talent': values are too large to add up"):
        data_module.regions_from_bytes(
            b"region_id,name,population,talent\nA,Alpha,10,1e308\nB,Beta,10,1e308\n", "x.csv")


def test_the_regions_file_size_and_column_count_are_bounded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wide = ",".join(["region_id", "name", "population", *[f"c{i}" for i in range(1000)]])
    with pytest.raises(pf.DataError, match="has 1,003 columns; at most 1,000 are supported"):
        data_module.regions_from_bytes(f"{wide}\n".encode(), "wide.csv")
    monkeypatch.setattr(data_module, "MAX_CSV_BYTES", 100)
    big = write(tmp_path / "big.csv", TINY_CSV * 2)
    with pytest.raises(pf.DataError, match="a regions file may be at most"):
        pf.load_regions(big)
    with pytest.raises(pf.DataError, match="a regions file may be at most"):
        data_module.regions_from_bytes(big.read_bytes(), "upload.csv")


def test_a_ragged_upload_gets_the_same_message_in_the_app() -> None:
    with pytest.raises(pf.DataError, match="row 3: has 5 field"):
        up.regions_from_upload("mine.csv", b"region_id,name,population,talent\n"
                                           b"A,Alpha,10,1\nB,Beta,10,2,9\n")


# --- 3. non-finite numbers in a scenario ---------------------------------------------------

@pytest.mark.parametrize(("yaml_text", "key"), [
    ("weights: {ai_job_postings: .inf, cs_doctorates: 1}", "weights.ai_job_postings"),
    ("weights: {ai_job_postings: .nan}", "weights.ai_job_postings"),
    ("spread_weight: .nan", "spread_weight"),
    ("complementarity: .inf", "complementarity"),
    ("budget: .inf", "budget"),
    ("budget: '1e999'", "budget"),
    ("region_cap_usd: .inf", "region_cap_usd"),
    ("per_capita_floor: .inf", "per_capita_floor"),
    ("max_region_share: .nan", "max_region_share"),
    ("group_min_shares: {census_region: {South: .nan}}", "group_min_shares.census_region.South"),
    ("instruments: {grant: {yields: {talent: .inf}, saturation_usd: 1e9}}",
     "instruments.grant.yields.talent"),
    ("instruments: {grant: {yields: {talent: 1%}, saturation_usd: .inf}}",
     "instruments.grant.saturation_usd"),
    ("instrument_shares: {research: {min: .nan}}", "instrument_shares.research.min"),
    ("top_k_share_cap: {k: 10, max_share: .nan}", "top_k_share_cap.max_share"),
    ("solver: {time_limit_s: .inf}", "solver.time_limit_s"),
    ("weights: {ai_job_postings: 1e308, cs_doctorates: 1e308}", "weights"),
])
def test_every_number_in_a_scenario_must_be_finite(yaml_text: str, key: str) -> None:
    with pytest.raises(pf.ScenarioError, match=rf"\n  {re.escape(key)}: "):
        scenario_from_text(yaml_text, source="s.yaml")


def test_infinite_weights_no_longer_solve_with_nan_metrics(tmp_path: Path) -> None:
    bad = write(tmp_path / "inf.yaml", "weights: {ai_job_postings: .inf, cs_doctorates: 1}\n")
    code, output = cli("solve", "--scenario", bad, "--out", tmp_path / "out")
    assert code == 2 and "weights.ai_job_postings: Input should be a finite number" in output
    assert not (tmp_path / "out").exists()


def test_reading_money_is_linear_in_the_length_of_the_text() -> None:
    start = time.perf_counter()
    with pytest.raises(ValueError, match="as USD"):
        parse_usd("1" * 20_000 + "!")  # was minutes: the pattern backtracked
    assert time.perf_counter() - start < 0.1


# --- 3. geometry ---------------------------------------------------------------------------

BOW_TIE = ('{"type":"FeatureCollection","features":['
           '{"type":"Feature","properties":{"region_id":"A"},"geometry":{"type":"Polygon",'
           '"coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}},'
           '{"type":"Feature","properties":{"region_id":"B"},"geometry":{"type":"Polygon",'
           '"coordinates":[[[3,0],[4,0],[4,1],[3,1],[3,0]]]}},'
           '{"type":"Feature","properties":{"region_id":"C"},"geometry":{"type":"Polygon",'
           '"coordinates":[[[5,0],[6,0],[6,1],[5,1],[5,0]]]}}]}')


def test_a_self_intersecting_polygon_is_repaired_and_named(tmp_path: Path) -> None:
    csv = write(tmp_path / "tiny.csv", TINY_CSV)
    shapes = write(tmp_path / "shapes.geojson", BOW_TIE)
    regions = pf.load_regions(csv, geometry=shapes)
    assert regions.repaired_geometry == ("A",)
    geometry = regions.geometry().set_index("region_id").geometry
    assert geometry.is_valid.all()
    assert shapely.area(geometry["A"]) == pytest.approx(2.0)  # the bow tie's two triangles

    scenario = write(tmp_path / "tiny.yaml", TINY_SCENARIO)
    code, output = cli("solve", "--regions", csv, "--geometry", shapes, "--scenario", scenario,
                       "--out", tmp_path / "plan")
    assert code == 0
    assert "note: Repaired the invalid (e.g. self-intersecting) polygons of 1 region(s) (A)" in output
    out = tmp_path / "plan.geojson"
    code, output = cli("export", tmp_path / "plan", "--format", "geojson", "--out", out)
    assert code == 0, output
    features = json.loads(out.read_bytes())["features"]
    assert len(features) == 3
    assert all(shapely.from_geojson(json.dumps(f["geometry"])).is_valid for f in features)


def test_a_geometry_that_is_not_a_polygon_is_refused(tmp_path: Path) -> None:
    points = BOW_TIE.replace('"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]',
                             '"type":"Point","coordinates":[0,0]')
    with pytest.raises(pf.DataError, match="region 'A' has a Point geometry"):
        pf.load_regions(write(tmp_path / "tiny.csv", TINY_CSV),
                        geometry=write(tmp_path / "points.geojson", points))


# --- 3. --out ------------------------------------------------------------------------------

def test_out_pointing_at_an_existing_file_is_refused_and_the_file_kept(tmp_path: Path) -> None:
    target = write(tmp_path / "notes.txt", "keep me")
    code, output = cli("solve", "--out", target)
    assert code == 2 and "is an existing file, not a folder" in output
    assert target.read_text() == "keep me"


def test_out_that_cannot_be_created_is_refused(tmp_path: Path) -> None:
    blocker = write(tmp_path / "file", "x")
    code, output = cli("solve", "--out", blocker / "plan")
    assert code == 2 and f"cannot be created: {blocker} is a file" in output
    code, output = cli("export", tmp_path, "--format", "csv", "--out", blocker / "plan.csv")
    assert code == 2


def test_out_pointing_at_a_folder_of_other_files_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    write(folder / "regions.csv", "my own file")
    code, output = cli("solve", "--out", folder)
    assert code == 2 and "is a folder of other files, not a plan" in output
    assert (folder / "regions.csv").read_text() == "my own file"


def test_an_earlier_plan_is_kept_when_the_new_one_fails_and_replaced_when_it_solves(
        tiny_plan: Path, tmp_path: Path) -> None:
    plan = copy_plan(tiny_plan, tmp_path)
    before = {p.name: p.read_bytes() for p in plan.iterdir()}
    csv = write(tmp_path / "tiny.csv", TINY_CSV)
    infeasible = write(tmp_path / "infeasible.yaml", TINY_SCENARIO + 'region_floor_usd: "$1B"\n')
    code, output = cli("solve", "--regions", csv, "--scenario", infeasible, "--out", plan)
    assert code == 1 and "infeasible" in output
    assert {p.name: p.read_bytes() for p in plan.iterdir()} == before
    again = write(tmp_path / "again.yaml", TINY_SCENARIO.replace("$1B", "$2B"))
    code, output = cli("solve", "--regions", csv, "--scenario", again, "--out", plan)
    assert code == 0, output
    assert pf.load_scenario(plan / "scenario.yaml").budget == 2e9
    assert check_dir(plan).ok


def test_export_out_pointing_at_a_folder_is_refused(tiny_plan: Path, tmp_path: Path) -> None:
    code, output = cli("export", tiny_plan, "--format", "csv", "--out", tmp_path)
    assert code == 2 and "is a folder; name a file" in output


# --- 3. the solver's own output ------------------------------------------------------------

def test_raw_highs_lines_never_reach_the_user(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    # a subnormal population once made HiGHS print hundreds of "ERROR:" lines, then crash
    csv = write(tmp_path / "pop.csv", "region_id,name,population,talent\nA,Alpha,5e-324,1\n"
                "B,Beta,10,2\n")
    code, output = cli("solve", "--regions", csv)
    captured = capfd.readouterr()
    assert code == 2 and "ERROR:" not in captured.out + captured.err + output


def test_a_solver_failure_is_one_sentence_saying_what_to_try(tmp_path: Path) -> None:
    csv = write(tmp_path / "tiny.csv", TINY_CSV)
    slow = write(tmp_path / "slow.yaml", TINY_SCENARIO + "solver: {time_limit_s: 1.0e-9}\n")
    code, output = cli("solve", "--regions", csv, "--scenario", slow)
    assert code == 1
    message = output.strip()
    assert message.startswith("error: HiGHS") and "raise solver.time_limit_s" in message
    assert len(message.splitlines()) == 1


# --- 4. security ---------------------------------------------------------------------------

EVIL_CSV = ('region_id,name,population,talent,zone\n'
            'A,"=HYPERLINK(""http://evil.example"",""click"")",1000,1,@SUM(1)\n'
            'B,+cmd,2000,2,-2+3\n'
            'C,Gamma,3000,3,z\n')


@pytest.fixture(scope="module")
def evil_plan(tmp_path_factory: pytest.TempPathFactory) -> pf.AllocationResult:
    folder = tmp_path_factory.mktemp("evil")
    regions = pf.load_regions(write(folder / "evil.csv", EVIL_CSV))
    return pf.solve(regions, scenario_from_text(TINY_SCENARIO, "tiny.yaml"))


def test_no_text_becomes_a_formula_in_any_sheet_of_the_workbook(
        evil_plan: pf.AllocationResult) -> None:
    raw = ex.to_excel_bytes(evil_plan)
    with zipfile.ZipFile(io.BytesIO(raw)) as book:
        sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) == 5  # allocation, regions, metrics, outcomes, scenario
        assert all("<f>" not in book.read(n).decode() for n in sheets)  # no formula cells
    workbook = openpyxl.load_workbook(io.BytesIO(raw))
    risky = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row
             if isinstance(cell.value, str) and cell.value[:1] in "=+-@"]
    names = {cell.value for cell in risky}
    assert {'=HYPERLINK("http://evil.example","click")', "+cmd", "@SUM(1)", "-2+3"} <= names
    assert all(cell.data_type == "s" and cell.quotePrefix for cell in risky)


def test_the_csv_export_escapes_formula_text_and_keeps_numbers(
        evil_plan: pf.AllocationResult) -> None:
    table = pd.read_csv(io.BytesIO(ex.to_csv_bytes(evil_plan)), dtype={"Region code": str})
    assert set(table["Region"]) == {"'=HYPERLINK(\"http://evil.example\",\"click\")", "'+cmd",
                                  "Gamma"}
    assert table["Amount (USD)"].sum() == pytest.approx(1e9)
    escaped = ex.spreadsheet_safe(pd.DataFrame({"t": ["=1", "\tx", "\rx", "ok", None],
                                                "n": [-1.0, 2.0, 3.0, 4.0, 5.0]}))
    assert escaped["t"].tolist()[:4] == ["'=1", "'\tx", "'\rx", "ok"]
    assert escaped["n"].tolist() == [-1.0, 2.0, 3.0, 4.0, 5.0]


def test_a_refused_tag_is_named_and_nothing_is_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = f"budget: !!python/object/apply:os.system ['touch {marker}']\n"
    message = "the tag '!!python/object/apply:os.system' (line 1) is not allowed"
    with pytest.raises(pf.ScenarioError, match=re.escape(message)):
        scenario_from_text(text, source="evil.yaml")
    code, output = cli("solve", "--scenario", write(tmp_path / "evil.yaml", text))
    assert code == 2 and message in output
    with pytest.raises(pf.ScenarioError, match="the tag '!custom'"):
        up.scenario_from_upload("upload.yaml", b"budget: !custom 1\n")
    assert not marker.exists()
