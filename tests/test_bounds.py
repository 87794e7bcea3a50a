"""The second round of hostile inputs: every surface bounded, every folder whole, every
number checked. One test per case, through the CLI (exit code, message) and the API.
"""

from __future__ import annotations

import base64
import json
import os
import time
import zlib
from pathlib import Path

import pytest

import optimizer as pf
from optimizer.engine.check import check_dir
from optimizer.ui import state as stt
from tests.test_bad_inputs import TINY_CSV, TINY_SCENARIO, cli, copy_plan, write


def packed(text: str) -> str:
    """Settings text as a link carries it (zlib, base64url), whatever ``text`` holds."""
    return base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).decode().rstrip("=")


# --- 1. shared links -------------------------------------------------------------------

@pytest.mark.parametrize("depth", [200_000, 20_000])
def test_a_deeply_nested_link_is_one_sentence_and_the_default_plan(depth: int) -> None:
    text = packed('{"weights":' + "[" * depth + "]" * depth + "}")
    assert len(text) < 1_000  # a short link
    link = stt.read_link({"v": "1", "set": "metros", "s": text})
    assert link is not None and link.problem is not None
    assert "could not be read" in link.problem and "\n" not in link.problem
    assert link.region_set == "metros" and link.changes == {}  # the valid part is kept
    reference = pf.load_scenario()
    assert stt.apply_link(reference, link) == (reference, None)


def test_a_link_budget_outside_the_widget_range_is_left_out_with_a_note() -> None:
    reference = pf.load_scenario()
    for budget, shown in ((2e13, "$20.0T"), (1e7, "$10.0M")):
        link = stt.read_link({"v": "1", "set": "states",
                              "s": stt._pack({"budget": budget, "spread_weight": 0.5})})
        assert link is not None
        scenario, problem = stt.apply_link(reference, link)
        assert scenario.budget == reference.budget and scenario.spread_weight == 0.5
        assert problem is not None and f"Budget ('budget') {shown} is outside the workbench's " \
            "range $100M to $10.0T" in problem


def test_a_link_weight_the_regions_lack_is_left_out_and_the_rest_kept(
        states: pf.Regions) -> None:
    reference = pf.load_scenario()
    link = stt.Link("states", {"weights": {"bogus": 1.0}, "spread_weight": 0.3})
    scenario, problem = stt.apply_link(reference, link, states)
    assert scenario.weights == reference.weights and scenario.spread_weight == 0.3
    assert problem is not None and "'weights' does not fit these regions" in problem
    assert "['bogus'] not numeric indicator" in problem


# --- 1. special files ------------------------------------------------------------------

def test_dev_zero_as_regions_or_scenario_is_refused_by_name(tmp_path: Path) -> None:
    start = time.perf_counter()
    code, output = cli("solve", "--regions", "/dev/zero", "--out", tmp_path / "a")
    assert code == 2 and "/dev/zero: is a character device, not a regular file" in output
    code, output = cli("solve", "--scenario", "/dev/zero", "--out", tmp_path / "b")
    assert code == 2 and "/dev/zero: is a character device, not a regular file" in output
    spec = write(tmp_path / "sweep.yaml", "analysis: sweep\nscenario: /dev/zero\n"
                                          "vary: {spread_weight: [0.1, 0.2]}\n")
    code, output = cli("sweep", spec, "--out", tmp_path / "c", "--scheduler", "serial")
    assert code == 2 and "/dev/zero: is a character device" in output
    assert time.perf_counter() - start < 10


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "regions.csv"
    os.mkfifo(fifo)
    code, output = cli("solve", "--regions", fifo, "--out", tmp_path / "a")
    assert code == 2 and f"{fifo}: is a named pipe (FIFO), not a regular file" in output
    with pytest.raises(pf.ScenarioError, match="named pipe"):
        pf.load_scenario(fifo)


def test_a_fifo_or_device_as_geometry_is_refused_by_name(tmp_path: Path) -> None:
    csv = write(tmp_path / "tiny.csv", TINY_CSV)
    fifo = tmp_path / "shapes.geojson"
    os.mkfifo(fifo)
    for shapes, kind in ((fifo, "a named pipe (FIFO)"), (Path("/dev/zero"), "a character device")):
        code, output = cli("solve", "--regions", csv, "--scenario",
                           write(tmp_path / "s.yaml", TINY_SCENARIO), "--geometry", shapes,
                           "--out", tmp_path / "out")
        assert code == 2 and f"file {shapes}: is {kind}, not a regular file" in output


def test_a_file_larger_than_its_limit_is_refused_reading_no_more(tmp_path: Path) -> None:
    from optimizer.engine.safe_yaml import read_bytes

    big = write(tmp_path / "big.yaml", b"a" * 101)
    with pytest.raises(pf.ScenarioError, match="is more than 100 bytes"):
        read_bytes(big, limit=100)
    assert read_bytes(big, limit=101) == b"a" * 101


@pytest.mark.parametrize("name", ["metrics.json", "allocation.csv", "input_regions.csv",
                                  "scenario.yaml", "regions.csv"])
def test_a_plan_file_linked_out_of_its_folder_is_not_followed(
        tiny_plan: Path, tmp_path: Path, name: str) -> None:
    plan = copy_plan(tiny_plan, tmp_path)
    (plan / name).unlink()
    (plan / name).symlink_to("/dev/zero")
    start = time.perf_counter()
    for command in (("check", plan), ("export", plan, "--format", "csv")):
        code, output = cli(*command)
        assert code == 2, output
        assert f"file {plan / name}: is a symbolic link to /dev/zero, outside the plan folder" \
            in output
    assert time.perf_counter() - start < 10
    with pytest.raises(pf.DataError, match="outside the plan folder"):
        check_dir(plan)


def test_a_link_inside_the_plan_folder_is_followed(tiny_plan: Path, tmp_path: Path) -> None:
    plan = copy_plan(tiny_plan, tmp_path)
    (plan / "metrics.json").rename(plan / "metrics.kept.json")
    (plan / "metrics.json").symlink_to("metrics.kept.json")
    assert check_dir(plan).ok


def test_a_fifo_in_a_plan_folder_is_refused_by_name(tiny_plan: Path, tmp_path: Path) -> None:
    plan = copy_plan(tiny_plan, tmp_path)
    (plan / "metrics.json").unlink()
    os.mkfifo(plan / "metrics.json")
    code, output = cli("check", plan)
    assert code == 2 and "metrics.json: is a named pipe (FIFO), not a regular file" in output


def test_the_workbench_opens_a_hostile_link_on_the_default_plan_with_one_sentence(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.test_app import APP

    monkeypatch.setenv("PLACEFUND_HOME", str(tmp_path / "home"))
    deep = packed('{"weights":' + "[" * 200_000 + "]" * 200_000 + "}")
    weight = stt._pack({"weights": {"bogus": 1.0}, "spread_weight": 0.3, "budget": 2e13})
    for params, said, lam in (({"v": "1", "set": "states", "s": deep}, "could not be read", 0.5),
                              ({"v": "1", "set": "states", "s": weight}, "does not fit", 0.3)):
        page = AppTest.from_file(APP, default_timeout=60)
        page.query_params.update(params)
        page.run()
        page.session_state["notes_open"] = True  # a click on Details: a folded one is not drawn
        page.run()
        assert not page.exception, [e.value for e in page.exception]
        # one sentence: in a note above the headline, or under Details with a pointer there
        shown = [e.value for e in (*page.info, *page.markdown, *page.caption)]
        notes = [t for t in shown if "could not be used in full" in t]
        assert len(notes) == 1 and said in notes[0] and "Traceback" not in notes[0]
        assert page.slider(key="lam").value == lam
        assert page.number_input(key="budget").value == 80.0  # the default budget, $80B
        assert page.session_state["last_result"] is not None


# --- 2. analyses that cannot be asked to run forever --------------------------------------

@pytest.mark.parametrize(("vary", "asked"), [
    ("{budget: {start: 1e9, stop: 9e9, num: 10000}, spread_weight: {start: 0, stop: 1, "
     "num: 10000}}", "100,000,000 runs"),
    ("{budget: {start: 1e9, stop: 9e9, num: 1000}, spread_weight: {start: 0, stop: 1, "
     "num: 1000}, complementarity: {start: 0, stop: 1, num: 1000}}", "1,000,000,000 runs"),
])
def test_a_sweep_grid_too_large_is_refused_before_running(tmp_path: Path, vary: str,
                                                          asked: str) -> None:
    spec = write(tmp_path / "sweep.yaml", f"analysis: sweep\nvary: {vary}\n")
    start = time.perf_counter()
    code, output = cli("sweep", spec, "--out", tmp_path / "out", "--scheduler", "serial")
    assert code == 2 and asked in output and "at most 100,000 fit" in output
    assert "values on each of the" in output and "nothing was run" in output
    assert time.perf_counter() - start < 5 and not (tmp_path / "out").exists()


def test_a_sobol_design_too_large_is_refused_with_the_largest_that_fits(tmp_path: Path) -> None:
    spec = write(tmp_path / "sobol.yaml", "analysis: sobol\nbase_samples: 1000000\n")
    start = time.perf_counter()
    code, output = cli("sobol", spec, "--out", tmp_path / "out", "--scheduler", "serial")
    # the default scenario's weights are the factors: N x (k + 2) runs
    k = len(pf.load_scenario().weights)
    assert code == 2 and (f"base_samples: 1,000,000 x ({k} factors + 2) asks for "
                          f"{1_000_000 * (k + 2):,} runs") in output
    assert f"base_samples up to {100_000 // (k + 2):,} with {k} factors" in output
    assert time.perf_counter() - start < 5


@pytest.fixture
def http_server() -> object:
    """An HTTP server on loopback: a service that is not a Dask scheduler."""
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            """No request log on stderr (the test reads the command's output)."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_scheduler_address_that_is_not_a_dask_scheduler_is_one_sentence(
        tmp_path: Path, http_server: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from optimizer.analysis import runs

    monkeypatch.setattr(runs, "HANDSHAKE_S", 2.0)
    port = http_server.server_address[1]  # type: ignore[attr-defined]
    spec = write(tmp_path / "sweep.yaml", "analysis: sweep\nvary: {spread_weight: [0.1, 0.2]}\n")
    cases = ((f"tcp://127.0.0.1:{port}", "no Dask scheduler answered within 2 s"),
             (f"http://127.0.0.1:{port}", "'http://' is not a Dask protocol"),
             ("garbage", "missing port number in address 'garbage'"),
             ("tcp://[::1", "ipv6 needs brackets"))
    for address, why in cases:
        start = time.perf_counter()
        code, output = cli("sweep", spec, "--out", tmp_path / "out", "--scheduler", address)
        assert code == 2 and why in output and "tcp://HOST:PORT" in output, output
        errors = [line for line in output.splitlines() if "error" in line.lower()]
        assert len(errors) == 1 and errors[0].startswith("error: ")  # one sentence, no trace
        assert time.perf_counter() - start < 10


def test_a_real_scheduler_answers_the_handshake() -> None:
    from distributed import LocalCluster

    from optimizer.analysis.runs import reach_scheduler

    with LocalCluster(n_workers=0, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert reach_scheduler(cluster.scheduler_address, 10) == cluster.scheduler_address


# --- 3. silent wrong results ----------------------------------------------------------------

TWO = "region_id,name,population,north,south\nA,Alpha,1000,1,0\nB,Beta,1000,0,1\n"
TWO_SCENARIO = ("{budget: $10B, weights: {north: 1, south: 1}, spread_weight: 0, "
                "complementarity: 1, instruments: {grant: {yields: {north: 1%, south: 1%}, "
                "saturation_usd: $10B}}}")


def consensus_spec(folder: Path, one: str = "north", two: str = "south") -> Path:
    write(folder / "two.csv", TWO)
    return write(folder / f"spec-{one}-{two}.yaml",
                 f"regions: two.csv\nscenario: {TWO_SCENARIO}\nstakeholders:\n"
                 f"  '{one}': {{weights: {{north: 1}}}}\n  '{two}': {{weights: {{south: 1}}}}\n")


@pytest.fixture(scope="module")
def consensus_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("consensus")
    code, output = cli("consensus", consensus_spec(folder), "--out", folder / "plan")
    assert code == 0, output
    return folder / "plan"


@pytest.fixture(scope="module")
def robust_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("robust")
    write(folder / "two.csv", TWO)
    spec = write(folder / "spec.yaml", f"regions: two.csv\nscenario: {TWO_SCENARIO}\n"
                 "samples: 4\nobjective: mean\ncomplementarity: {uniform: [0.3, 0.7]}\n"
                 "out_of_sample: {samples: 3, core_index: false}\n")
    code, output = cli("robust-plan", spec, "--out", folder / "plan")
    assert code == 0, output
    return folder / "plan"


@pytest.mark.parametrize("name", ["consensus", "baseline", "stakeholder", "Consensus"])
def test_a_stakeholder_named_like_a_column_of_the_files_is_refused(tmp_path: Path,
                                                                   name: str) -> None:
    code, output = cli("consensus", consensus_spec(tmp_path, name), "--out", tmp_path / "out")
    assert code == 2 and f"'{name}' is a column of the consensus files" in output
    assert not (tmp_path / "out").exists()


def test_stakeholder_names_that_look_like_numbers_or_na_round_trip(tmp_path: Path) -> None:
    code, output = cli("consensus", consensus_spec(tmp_path, "NA", "007"), "--out",
                       tmp_path / "out")
    assert code == 0, output
    code, output = cli("check", tmp_path / "out")
    assert code == 0 and "consensus OK: 2 stakeholders" in output, output


def edit_csv(path: Path, row: int, column: str, value: object) -> None:
    import pandas as pd

    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table.loc[row, column] = str(value)
    table.to_csv(path, index=False)


def edit_json(path: Path, change: object) -> None:
    record = json.loads(path.read_text())
    change(record)  # type: ignore[operator]
    path.write_text(json.dumps(record))


def test_check_verifies_every_number_of_regions_csv(tiny_plan: Path, tmp_path: Path) -> None:
    plan = copy_plan(tiny_plan, tmp_path)
    edit_csv(plan / "regions.csv", 0, "funding_usd", 10e9)
    code, output = cli("check", plan)
    assert code == 1 and "region_table_mismatch: regions.csv funding_usd of A is " \
        "10,000,000,000.00, recomputed 166,666,666.67" in output
    for column in ("baseline_capacity", "population", "capacity_share_after",
                   "funding_talent_usd", "funding_per_capita_usd", "capacity_gain"):
        plan = copy_plan(tiny_plan, tmp_path / column)
        edit_csv(plan / "regions.csv", 1, column, 12345.678)
        code, output = cli("check", plan)
        assert code == 1 and f"regions.csv {column} of B" in output, (column, output)


def test_check_verifies_spent_and_budget_in_metrics_json(tiny_plan: Path, tmp_path: Path) -> None:
    plan = copy_plan(tiny_plan, tmp_path)
    edit_json(plan / "metrics.json", lambda m: m.update(spent_usd=5e9, budget_usd=2e9))
    code, output = cli("check", plan)
    assert code == 1 and "spent_usd_mismatch: metrics.json spent_usd 5,000,000,000.00" in output
    assert "budget_usd_mismatch" in output


def test_check_verifies_the_recorded_scenario_hash(tiny_plan: Path, tmp_path: Path) -> None:
    plan = copy_plan(tiny_plan, tmp_path)
    text = (plan / "scenario.yaml").read_text()
    assert "tangents: 32" in text
    (plan / "scenario.yaml").write_text(text.replace("tangents: 32", "tangents: 33"))
    code, output = cli("check", plan)
    assert code == 1 and "scenario_hash: scenario.yaml differs from the scenario" in output


def test_check_verifies_the_consensus_scores_csv(consensus_plan: Path, tmp_path: Path) -> None:
    plan = copy_plan(consensus_plan, tmp_path)
    edit_csv(plan / "scores.csv", 0, "baseline", 1.0)
    edit_csv(plan / "scores.csv", 1, "consensus", 2.0)
    code, output = cli("check", plan)
    assert code == 1 and "scores.csv[north, baseline]" in output
    assert "scores.csv[south, consensus]" in output


def test_check_refuses_a_robust_folder_whose_fresh_samples_were_emptied(
        robust_plan: Path, tmp_path: Path) -> None:
    plan = copy_plan(robust_plan, tmp_path)
    header = (plan / "fresh_samples.csv").read_text().splitlines()[0]
    (plan / "fresh_samples.csv").write_text(header + "\n")
    code, output = cli("check", plan)
    assert code == 1 and "fresh_samples.csv has 0 samples, robust.json reports 3" in output
    assert "sample_score_rows" in output
    (plan / "fresh_samples.csv").write_text("")
    code, output = cli("check", plan)
    assert code == 2 and "fresh_samples.csv" in output


# --- 5. malformed plan folders: a sentence and exit 2 ---------------------------------------

@pytest.mark.parametrize(("change", "said"), [
    (lambda m: m.update(objective="12.5"), "key 'objective': input should be a valid number"),
    (lambda m: m.update(objective=None), "key 'objective': input should be a valid number"),
    (lambda m: m.update(provenance=[]), "key 'provenance': input should be an object"),
    (lambda m: m.update(provenance="x"), "key 'provenance': input should be an object"),
    (lambda m: m["metrics"].update(after="x"), "key 'metrics.after': input should be an "
                                               "object"),
    (lambda m: m["metrics"].update(after=[]), "key 'metrics.after': input should be an "
                                              "object"),
    (lambda m: m.update(marginal_values="x"), "key 'marginal_values': input should be a valid "
                                              "array"),
    (lambda m: m.update(filled_missing_values=[]), "key 'filled_missing_values': input should"),
    (lambda m: m["solver"].update(mip_gap="abc"), "key 'solver.mip_gap': input should be a "
                                                  "valid number"),
])
def test_a_metrics_json_key_of_the_wrong_kind_is_named(tiny_plan: Path, tmp_path: Path,
                                                        change: object, said: str) -> None:
    plan = copy_plan(tiny_plan, tmp_path)
    edit_json(plan / "metrics.json", change)
    for command in (("check", plan), ("export", plan, "--format", "csv", "--out",
                                      tmp_path / "x.csv")):
        code, output = cli(*command)
        assert code == 2 and f"file {plan / 'metrics.json'}: {said}" in output, output


@pytest.mark.parametrize(("name", "row", "column", "value", "said"), [
    ("regions.csv", 1, "funding_usd", "lots", "row 3, column 'funding_usd': 'lots' is not a "
                                             "number"),
    ("allocation.csv", 0, "amount_usd", "$1B", "row 2, column 'amount_usd': '$1B' is not a "
                                              "number"),
    ("allocation.csv", 0, "region_id", "ZZ", "allocation names regions ['ZZ']"),
    ("regions.csv", 0, "region_id", "ZZ", "names regions the data lack: ['ZZ']"),
])
def test_a_plan_table_that_is_not_the_tools_is_named(tiny_plan: Path, tmp_path: Path, name: str,
                                                     row: int, column: str, value: str,
                                                     said: str) -> None:
    plan = copy_plan(tiny_plan, tmp_path)
    edit_csv(plan / name, row, column, value)
    code, output = cli("check", plan)
    assert code == 2 and said in output and name in output, output
    if "number" in said:
        code, output = cli("export", plan, "--format", "xlsx", "--out", tmp_path / "x.xlsx")
        assert code == 2 and said in output, output


@pytest.mark.parametrize(("change", "said"), [
    (lambda r: r.update(achievement=[]), "key 'achievement': input should be an object"),
    (lambda r: r["stakeholders"]["north"]["changes"].update(weights={"east": 1}),
     "key 'stakeholders.north.changes.weights': ['east'] are not indicator columns"),
    (lambda r: r["stakeholders"]["north"]["changes"].update(colour=1),
     "key 'stakeholders.north.changes.colour': extra inputs are not permitted"),
    (lambda r: r.update(stakeholders={"consensus": r["stakeholders"]["north"]}),
     "key 'stakeholders.consensus': 'consensus' is a column of the consensus files"),
])
def test_a_consensus_record_that_is_not_the_tools_is_named(consensus_plan: Path, tmp_path: Path,
                                                           change: object, said: str) -> None:
    plan = copy_plan(consensus_plan, tmp_path)
    edit_json(plan / "consensus.json", change)
    code, output = cli("check", plan)
    assert code == 2 and said in output and "consensus.json" in output, output


def test_a_robust_record_or_sample_table_that_is_not_the_tools_is_named(
        robust_plan: Path, tmp_path: Path) -> None:
    plan = copy_plan(robust_plan, tmp_path)
    edit_json(plan / "robust.json", lambda r: r.update(stats=[]))
    code, output = cli("check", plan)
    assert code == 2 and "key 'stats': input should be an object" in output
    plan = copy_plan(robust_plan, tmp_path / "ids")
    edit_csv(plan / "samples.csv", 1, "sample_id", "abc")
    code, output = cli("check", plan)
    assert code == 2 and "row 3, column 'sample_id': 'abc' is not a number" in output


def test_the_solver_record_holds_every_field_of_the_solver_info() -> None:
    from dataclasses import fields

    from optimizer.engine.records import SolverRecord
    from optimizer.engine.result import SolverInfo

    assert set(SolverRecord.model_fields) == {f.name for f in fields(SolverInfo)} - {
        "extra", "layout"}


# --- 4. folders that are whole or untouched --------------------------------------------------

KILLED_WRITER = """
import sys, time
from pathlib import Path
from optimizer.engine.result import replace_folder

def write(staging: Path) -> None:
    (staging / "allocation.csv").write_text("half of a new plan")
    print("halfway", flush=True)
    time.sleep(60)

replace_folder(Path(sys.argv[1]), write)
"""


def test_a_writer_killed_halfway_leaves_the_previous_plan_whole(tiny_plan: Path,
                                                               tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    plan = copy_plan(tiny_plan, tmp_path)
    before = {p.name: p.read_bytes() for p in plan.iterdir()}
    writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(plan)],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "halfway"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert {p.name: p.read_bytes() for p in plan.iterdir()} == before
    assert check_dir(plan).ok
    stale = list(tmp_path.glob(".plan.staging-*"))
    assert len(stale) == 1  # the killed writer's staging folder ...
    pf.AllocationResult.from_dir(plan).to_dir(plan)
    assert not list(tmp_path.glob(".plan.staging-*"))  # ... is removed by the next write
    assert check_dir(plan).ok


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "rename-aside"])
def test_readers_see_one_whole_plan_while_writers_replace_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool) -> None:
    import threading

    from optimizer.engine import result as result_module

    if not exchange:  # a system without an atomic swap: the folder is moved aside first
        monkeypatch.setattr(result_module, "_exchange", lambda a, b: False)

    regions = pf.load_regions(write(tmp_path / "tiny.csv", TINY_CSV))
    plans = [pf.solve(regions, pf.load_scenario(write(tmp_path / f"s{b}.yaml",
                                                      f'budget: "${b}B"\nweights: {{talent: 1}}\n')))
             for b in (1, 2)]
    out = tmp_path / "plan"
    plans[0].to_dir(out)
    seen: list[str] = []
    problems: list[str] = []
    stop = threading.Event()

    def writer(plan: pf.AllocationResult) -> None:
        for _ in range(15):
            plan.to_dir(out)

    def reader() -> None:
        while not stop.is_set():
            try:
                report = check_dir(out)
            except pf.PlaceFundError as err:
                problems.append(str(err))
                continue
            if not report.ok:
                problems.append(str(report))
            seen.append(str(report.funding.sum()) if report.funding is not None else "")

    threads = [threading.Thread(target=writer, args=(p,)) for p in plans]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    assert not problems, problems[:3]
    assert seen and check_dir(out).ok
    assert not list(tmp_path.glob(".plan.staging-*"))


def test_two_cli_solves_into_one_folder_at_once_leave_one_whole_plan(tmp_path: Path) -> None:
    import subprocess
    import sys

    csv = write(tmp_path / "tiny.csv", TINY_CSV)
    scenarios = [write(tmp_path / f"s{b}.yaml", f'budget: "${b}B"\nweights: {{talent: 1}}\n')
                 for b in (1, 2)]
    out = tmp_path / "plan"
    for _ in range(2):
        solves = [subprocess.Popen([sys.executable, "-m", "optimizer.cli", "solve", "--regions",
                                    str(csv), "--scenario", str(s), "--out", str(out)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                  for s in scenarios]
        for solve in solves:
            _, err = solve.communicate(timeout=120)
            assert solve.returncode == 0, err.decode()
        code, output = cli("check", out)
        assert code == 0, output
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["budget_usd"] in (1e9, 2e9)
    assert not list(tmp_path.glob(".plan.staging-*"))


def test_a_new_plan_replaces_an_analysis_folder_whole(consensus_plan: Path,
                                                      tmp_path: Path) -> None:
    plan = copy_plan(consensus_plan, tmp_path)
    csv = write(tmp_path / "tiny.csv", TINY_CSV)
    code, output = cli("solve", "--regions", csv, "--scenario",
                       write(tmp_path / "s.yaml", TINY_SCENARIO), "--out", plan)
    assert code == 0, output
    assert sorted(p.name for p in plan.iterdir()) == sorted(
        ["allocation.csv", "regions.csv", "metrics.json", "scenario.yaml", "input_regions.csv",
         "outcomes.csv"])
    code, output = cli("check", plan)
    assert code == 0 and "plan OK" in output


def test_an_analysis_with_fewer_files_leaves_none_of_the_earlier_ones(tiny_plan: Path,
                                                                      tmp_path: Path) -> None:
    result = pf.AllocationResult.from_dir(tiny_plan)
    out = tmp_path / "plan"
    result.to_dir(out, {"core_index.csv": "region_id,core_index\n"})
    assert (out / "core_index.csv").is_file()
    result.to_dir(out)
    assert not (out / "core_index.csv").exists()


def test_a_plan_is_never_written_over_a_folder_of_other_files(tiny_plan: Path,
                                                              tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    write(mine / "thesis.txt", "mine")
    with pytest.raises(pf.DataError, match="is a folder of other files"):
        pf.AllocationResult.from_dir(tiny_plan).to_dir(mine)
    assert [p.name for p in mine.iterdir()] == ["thesis.txt"]


def test_an_analysis_never_overwrites_a_folder_of_other_files(tmp_path: Path) -> None:
    spec = write(tmp_path / "sweep.yaml", "analysis: sweep\nvary: {spread_weight: [0.1, 0.2]}\n")
    other = tmp_path / "other"
    other.mkdir()
    write(other / "summary.json", '{"note": "mine"}')
    code, output = cli("sweep", spec, "--out", other, "--scheduler", "serial")
    assert code == 2 and "is a folder of other files, not an earlier sweep" in output
    assert (other / "summary.json").read_text() == '{"note": "mine"}'
    robust = tmp_path / "robust"
    robust.mkdir()
    write(robust / "summary.json", '{"analysis": "robust"}')
    code, output = cli("sweep", spec, "--out", robust, "--scheduler", "serial")
    assert code == 2 and "is an earlier robust analysis, not an earlier sweep" in output
    code, output = cli("sweep", spec, "--out", tmp_path / "new", "--scheduler", "serial")
    assert code == 0, output
    code, output = cli("sweep", spec, "--out", tmp_path / "new", "--scheduler", "serial")
    assert code == 0, output  # an earlier sweep's folder is replaced


SAVER = """
import sys
from pathlib import Path
import optimizer as pf
from optimizer.report.library import PlanLibrary

plan = pf.AllocationResult.from_dir(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()  # both start together
saved = PlanLibrary(Path(sys.argv[1])).save("Plan A", plan, notes=sys.argv[3])
print(saved.name, flush=True)
"""


def test_two_library_saves_of_one_name_at_once_keep_both(tiny_plan: Path,
                                                         tmp_path: Path) -> None:
    import subprocess
    import sys

    from optimizer.report.library import PlanLibrary

    root = tmp_path / "plans"
    savers = [subprocess.Popen([sys.executable, "-c", SAVER, str(root), str(tiny_plan), note],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
              for note in ("first", "second")]
    for saver in savers:
        assert saver.stdout is not None and saver.stdout.readline().strip() == "ready"
    for saver in savers:
        assert saver.stdin is not None
        saver.stdin.write("go\n")
        saver.stdin.flush()
    names = sorted(saver.communicate(timeout=120)[0].strip() for saver in savers)
    assert names == ["Plan A", "Plan A (2)"]
    library = PlanLibrary(root)
    assert sorted(library.names()) == names
    assert {library.get(n).notes for n in names} == {"first", "second"}
    for name in names:
        assert check_dir(library.get(name).path).ok


def test_simultaneous_note_edits_lose_nothing_and_the_plan_stays_listed(
        tiny_plan: Path, tmp_path: Path) -> None:
    import threading

    from optimizer.report.library import PlanLibrary

    library = PlanLibrary(tmp_path / "plans")
    library.save("Plan A", pf.AllocationResult.from_dir(tiny_plan))
    errors: list[BaseException] = []
    listed: list[bool] = []

    def edit(who: str) -> None:
        try:
            for i in range(25):
                PlanLibrary(tmp_path / "plans").set_notes("Plan A", f"{who} {i}")
                listed.append("Plan A" in PlanLibrary(tmp_path / "plans").names())
        except BaseException as err:  # noqa: BLE001 - any error fails the test below
            errors.append(err)

    threads = [threading.Thread(target=edit, args=(w,)) for w in ("left", "right")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert listed and all(listed)
    assert library.get("Plan A").notes in ("left 24", "right 24")
    assert not list((tmp_path / "plans").glob("*/.meta*"))


# --- 6. what the fuzz found -------------------------------------------------------------------

def test_a_spec_whose_analysis_is_not_text_is_one_sentence(tmp_path: Path) -> None:
    spec = write(tmp_path / "sweep.yaml", "analysis: []\nvary: {spread_weight: [0.1]}\n")
    code, output = cli("sweep", spec, "--out", tmp_path / "out", "--scheduler", "serial")
    assert code == 2 and "analysis must be one of" in output


def test_input_regions_without_a_weighted_column_is_named(tiny_plan: Path, tmp_path: Path) -> None:
    plan = copy_plan(tiny_plan, tmp_path)
    text = (plan / "input_regions.csv").read_text()
    (plan / "input_regions.csv").write_text(text.replace("talent", "talent\u1000", 1))
    code, output = cli("check", plan)
    assert code == 2 and "lacks the numeric column(s) ['talent'] that scenario.yaml weighs" \
        in output


def test_a_plan_whose_recorded_hashes_were_removed_fails_its_check(tiny_plan: Path,
                                                                   tmp_path: Path) -> None:
    plan = copy_plan(tiny_plan, tmp_path)
    edit_json(plan / "metrics.json", lambda m: m.update(provenance={}))
    code, output = cli("check", plan)
    assert code == 1 and "data_hash" in output and "scenario_hash" in output
