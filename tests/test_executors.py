"""Without --scheduler, sensitivity and robust runs pick serial or a local cluster from
the job's measured cost, say which and why, and give the numbers serial runs give."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import optimizer as pf
from optimizer.analysis import runs
from optimizer.analysis.runs import Backend, ExecutorChoice, choose_executor, free_cores
from optimizer.analysis.sensitivity import run_analysis, spec_from_dict
from optimizer.cli import app
from optimizer.engine.data import Regions
from optimizer.engine.errors import PlaceFundError

COMPARED = ["run_id", "status", "objective", "spent_usd", "after_total_capacity", "after_gini",
            "after_top10_share"]


# --- the choice, as a pure function ---------------------------------------------

@pytest.mark.parametrize(("cores", "load", "free"), [
    (2, 0.0, 2.0),   # idle: both cores
    (2, 1.0, 2.0),   # the load is this process alone
    (2, 1.5, 1.5),   # half a core busy elsewhere
    (2, 5.0, 1.0),   # overloaded: never below one
    (8, 3.0, 6.0),
])
def test_free_cores_are_the_cores_less_the_load_beyond_this_process(
        cores: int, load: float, free: float) -> None:
    assert free_cores(cores, load) == free


def choice(per_run_s: float, remaining: int, chunks: int, *, workers: int = 2, cores: int = 2,
           load: float = 0.0, setup_s: float = 0.0, startup_s: float = 2.0) -> ExecutorChoice:
    return choose_executor(per_run_s, 60, remaining, chunks, workers=workers, cores=cores,
                           load=load, setup_s=setup_s, startup_s=startup_s)


def test_a_cluster_is_chosen_when_it_saves_a_fifth_of_the_serial_time() -> None:
    # 1,000 runs x 10 ms = 10 s serially; 2 workers x 0.85 = 1.7 lanes: 2 + 10 / 1.7 =
    # 7.88 s, at most 0.8 x 10 s
    c = choice(0.010, 1000, 16)
    assert c.kind == "local"
    assert c.serial_s == pytest.approx(10.0)
    assert c.cluster_s == pytest.approx(2.0 + 10.0 / 1.7)
    assert c.sentence == (
        "Ran on a local Dask cluster of 2 workers: the first 60 runs took 10.0 ms each, so the "
        "other 1,000 would take about 10.0 s in this process against about 7.9 s on a local "
        "cluster of 2 workers (2.0 s to start it included).")


def test_a_cluster_that_saves_too_little_is_not_started() -> None:
    # 500 x 10 ms = 5 s serially; 2 + 5 / 1.7 = 4.94 s is faster, but more than 0.8 x 5 s
    c = choice(0.010, 500, 16)
    assert c.kind == "serial"
    assert c.cluster_s == pytest.approx(2.0 + 5.0 / 1.7)
    assert c.sentence.startswith("Ran serially in this process: the first 60 runs took 10.0 ms")
    assert c.sentence.endswith("too little saved to pay for starting one.")


def test_the_base_solve_every_worker_repeats_counts_against_the_cluster() -> None:
    # the first case plus 0.2 s of set-up: 8.08 s > 8 s
    assert choice(0.010, 1000, 16, setup_s=0.2).kind == "serial"


def test_a_busy_machine_keeps_the_runs_in_this_process() -> None:
    # another process keeps one of two cores busy: one lane at 0.85, and the two workers
    # start on one core (2 x 2 s)
    c = choice(0.010, 1000, 16, load=2.0)
    assert c.kind == "serial"
    assert c.free == 1.0 and c.startup_s == pytest.approx(4.0)
    assert c.cluster_s == pytest.approx(4.0 + 10.0 / 0.85)
    assert "with 1.0 of 2 cores free a cluster cannot run them faster" in c.sentence


def test_one_chunk_left_cannot_be_shared() -> None:
    c = choice(1.0, 250, 1)  # 250 s serially, but one chunk is one task
    assert c.kind == "serial"
    assert "with only 1 chunk left a cluster cannot run them faster" in c.sentence


def test_a_job_that_fits_in_the_first_chunk_stays_in_this_process() -> None:
    c = choice(0.010, 0, 0)
    assert c.kind == "serial"
    assert c.sentence == ("Ran serially in this process: all 60 runs fitted in the first chunk "
                          "(10.0 ms each), so nothing was left to share out.")
    assert c.record()["estimated_cluster_s"] is None  # no infinity in summary.json


def test_many_free_cores_pay_for_a_cluster_sooner() -> None:
    # 8 workers on 8 idle cores: 2,000 x 10 ms = 20 s serially, 2 + 20 / 6.8 = 4.94 s
    c = choice(0.010, 2000, 100, workers=8, cores=8, load=0.5)
    assert c.kind == "local" and c.cluster_s == pytest.approx(2.0 + 20 / 6.8)


def test_the_benchmark_job_on_two_idle_cores_runs_serially() -> None:
    """1,000 states samples: chunks of 63, 8.7 ms a run (docs/performance.md), a base solve
    of 0.2 s: 937 runs take 8.15 s serially; a cluster 2.2 + 0.2 + 8.15 / 1.7 = 7.2 s,
    88% of it, not the 80% a cluster must save to be started."""
    c = choose_executor(0.0087, 63, 937, 15, workers=2, cores=2, load=0.0, setup_s=0.2)
    assert c.kind == "serial"
    assert c.serial_s == pytest.approx(8.1519)
    assert c.cluster_s == pytest.approx(2.2 + 0.2 + 8.1519 / 1.7)


@pytest.mark.parametrize(("option", "kind"), [(None, "auto"), ("auto", "auto"),
                                              ("serial", "serial"), ("local", "local"),
                                              ("tcp://127.0.0.1:8786", "remote")])
def test_scheduler_option_still_forces_an_executor(option: str | None, kind: str) -> None:
    assert Backend.from_option(option).kind == kind


def test_a_scheduler_option_that_is_neither_is_refused() -> None:
    with pytest.raises(PlaceFundError, match="'lokal' is not a scheduler address"):
        Backend.from_option("lokal")


# --- the choice inside a run ------------------------------------------------------

def _spec(runs: int, chunk: int) -> Any:
    return spec_from_dict({"analysis": "robust", "runs": runs, "seed": 5, "chunk_size": chunk})


def test_an_automatic_run_keeps_its_probe_and_equals_the_serial_run(
        states: Regions, tmp_path: Path) -> None:
    base = pf.load_scenario()
    serial = run_analysis(_spec(12, 4), backend=Backend("serial"), regions=states, base=base)
    auto = Backend()
    chosen = run_analysis(_spec(12, 4), backend=auto, regions=states, base=base,
                          out=tmp_path)
    assert auto.choice is not None and auto.choice.kind == "serial"
    assert (auto.choice.probe_runs, auto.choice.remaining_runs) == (4, 8)
    assert chosen.summary["executor"]["chosen"] == "serial"
    assert chosen.summary["executor"]["reason"] == auto.choice.sentence
    assert chosen.summary["backend"].startswith("serial, in-process, chosen because the first "
                                                "4 runs took")
    for name in ("runs", "run_regions", "robust_regions"):
        pd.testing.assert_frame_equal(serial.tables[name][COMPARED] if name == "runs"
                                      else serial.tables[name],
                                      chosen.tables[name][COMPARED] if name == "runs"
                                      else chosen.tables[name])
    # resumed with every chunk saved: nothing ran, and it says so
    again = Backend()
    run_analysis(_spec(12, 4), backend=again, regions=states, base=base, out=tmp_path)
    assert again.choice is not None and again.choice.sentence == (
        "Nothing ran: every chunk of this job was already saved, so nothing was left to run.")


def test_a_chosen_cluster_takes_over_after_the_probe_with_the_serial_numbers(
        states: Regions, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cluster path after an in-process probe: a choice forced to 'local' (the real
    estimate keeps so small a job serial) gives the serial tables."""
    seen: list[ExecutorChoice] = []

    def local(*args: Any, **kwargs: Any) -> ExecutorChoice:
        seen.append(dataclasses.replace(choose_executor(*args, **kwargs), kind="local"))
        return seen[-1]

    monkeypatch.setattr(runs, "choose_executor", local)
    base = pf.load_scenario()
    serial = run_analysis(_spec(16, 4), backend=Backend("serial"), regions=states, base=base)
    auto = Backend(workers=2)
    chosen = run_analysis(_spec(16, 4), backend=auto, regions=states, base=base)
    assert seen and seen[0].probe_runs == 4 and seen[0].remaining_runs == 12
    assert chosen.summary["backend"].startswith(
        "local Dask cluster, 2 worker process(es), chosen because the first 4 runs took")
    assert auto.info["workers"] == 2
    pd.testing.assert_frame_equal(serial.tables["runs"][COMPARED], chosen.tables["runs"][COMPARED])
    pd.testing.assert_frame_equal(serial.tables["run_regions"], chosen.tables["run_regions"])


# --- end to end through the command line -------------------------------------------

def test_cli_robust_says_which_executor_it_chose_and_why(tmp_path: Path) -> None:
    spec = tmp_path / "robust.yaml"
    spec.write_text("analysis: robust\nruns: 9\nseed: 3\nchunk_size: 3\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["robust", str(spec), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "Ran serially in this process: the first 3 runs took " in res.output
    assert "so the other 6 would take about " in res.output
    assert "via serial, in-process\n" in res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["executor"]["asked"] == "auto"
    assert summary["executor"]["chosen"] == "serial"
    assert summary["executor"]["probe_runs"] == 3 and summary["executor"]["remaining_runs"] == 6
    assert summary["executor"]["reason"] in res.output
    assert len(pd.read_csv(out / "runs.csv")) == 9
    # --scheduler serial still forces it: no choice, no sentence
    res = CliRunner().invoke(app, ["robust", str(spec), "--out", str(tmp_path / "forced"),
                                   "--scheduler", "serial"])
    assert res.exit_code == 0, res.output
    assert "Ran serially" not in res.output
    forced = json.loads((tmp_path / "forced" / "summary.json").read_text())
    assert forced["executor"] == {"asked": "serial", "ran": "serial, in-process"}


def test_cli_robust_plan_says_where_its_core_index_ran(tmp_path: Path) -> None:
    spec = tmp_path / "robust.yaml"
    spec.write_text("scenario: {spread_measure: hoover}\nsamples: 4\nseed: 2\nobjective: mean\n"
                    "out_of_sample: {samples: 3, core_index: true}\n")
    out = tmp_path / "plan"
    res = CliRunner().invoke(app, ["robust-plan", str(spec), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert ("Core index: Ran serially in this process: all 3 runs fitted in the first chunk"
            in res.output)
    info = json.loads((out / "robust.json").read_text())["info"]
    assert info["core_index"].startswith("own optima of the 3 fresh samples via serial, "
                                         "in-process, chosen because all 3 runs fitted")


def test_cli_consensus_own_optima_can_pick_their_executor(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("regions: states\nstakeholders:\n"
                    "  research: {weights: {university_se_rd_musd: 1, cs_doctorates: 1}}\n"
                    "  regions: {spread_weight: 0.9}\n")
    res = CliRunner().invoke(app, ["consensus", str(spec), "--out", str(tmp_path / "out"),
                                   "--scheduler", "auto"])
    assert res.exit_code == 0, res.output
    # one own optimum per chunk: the first is the probe, the other one chunk left (or, on
    # a busy machine, too few free cores: either way a cluster cannot be faster)
    assert ("Own optima: Ran serially in this process: the first 1 run took " in res.output
            and "a cluster cannot run them faster." in res.output)
    info = json.loads((tmp_path / "out" / "consensus.json").read_text())["info"]
    assert info["individual_optima_runs"]["backend"].startswith("serial, in-process, chosen "
                                                                "because the first 1 run took")


def test_on_two_idle_cores_a_cluster_pays_from_about_11_seconds_of_serial_work() -> None:
    """docs/performance.md: (2.2 + 0.2) / (0.8 - 1/1.7) = 11.3 s of runs left."""
    threshold = 2.4 / (0.8 - 1 / 1.7)
    for seconds, kind in ((threshold * 0.98, "serial"), (threshold * 1.02, "local")):
        c = choose_executor(0.01, 250, round(seconds / 0.01), 20, workers=2, cores=2,
                            load=0.0, setup_s=0.2)
        assert c.kind == kind, (seconds, c)
