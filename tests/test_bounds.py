"""The second round of hostile inputs: every surface bounded, every folder whole, every
number checked. One test per case, through the CLI (exit code, message) and the API.
"""

from __future__ import annotations

import base64
import os
import shutil
import time
import zlib
from pathlib import Path

import pytest

import optimizer as pf
from optimizer.engine.check import check_dir
from optimizer.ui import state as stt
from tests.test_bad_inputs import TINY_CSV, TINY_SCENARIO, cli, write


@pytest.fixture(scope="module")
def tiny_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plan solved on three inline regions, for the plan-folder cases."""
    folder = tmp_path_factory.mktemp("tiny")
    csv = write(folder / "tiny.csv", TINY_CSV)
    scenario = write(folder / "tiny.yaml", TINY_SCENARIO)
    code, output = cli("solve", "--regions", csv, "--scenario", scenario, "--out", folder / "plan")
    assert code == 0, output
    return folder / "plan"


def copy_plan(plan: Path, tmp_path: Path) -> Path:
    target = tmp_path / "plan"
    shutil.copytree(plan, target)
    return target


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
        assert not page.exception, [e.value for e in page.exception]
        notes = [i.value for i in page.info if "could not be used in full" in i.value]
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
    # the default scenario's 8 weights are the factors: N x (8 + 2) runs
    assert code == 2 and "base_samples: 1,000,000 x (8 factors + 2) asks for 10,000,000 runs" \
        in output
    assert "base_samples up to 10,000 with 8 factors" in output
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
