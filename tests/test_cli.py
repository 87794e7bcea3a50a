"""The placefund command line, end to end: files, exit codes, messages, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from optimizer import load_regions
from optimizer.cli import app
from optimizer.engine.scenario import region_set_default
from optimizer.report.export import load_plan, metrics_sheet, to_brief_html
from optimizer.report.text import headline

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_solve_default_writes_the_plan_and_check_passes(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    # a real process, as a user runs it
    proc = subprocess.run([sys.executable, "-m", "optimizer.cli", "solve", "--out", str(out)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr
    assert "Top-10 share of capacity" in proc.stdout and "Top 10 funded regions" in proc.stdout
    assert "HiGHS" not in proc.stdout + proc.stderr  # no solver banner (it wrote to fd 1)
    assert {p.name for p in out.iterdir()} == {"allocation.csv", "regions.csv", "metrics.json",
                                               "scenario.yaml", "input_regions.csv",
                                               "outcomes.csv"}
    allocation = pd.read_csv(out / "allocation.csv", dtype={"region_id": str})
    assert list(allocation.columns) == ["region_id", "name", "instrument", "amount_usd"]
    assert allocation["amount_usd"].sum() == pytest.approx(80e9)
    regions = pd.read_csv(out / "regions.csv", dtype={"region_id": str})
    assert {"region_id", "name", "population", "baseline_capacity", "final_capacity",
            "funding_usd"} <= set(regions.columns)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "optimal"
    for side in ("before", "after"):
        assert {"spread_adjusted_capacity", "mean_capacity", "gini", "top10_share", "hhi",
                "theil", "cv"} <= set(metrics["metrics"][side])
    assert metrics["objective"] == metrics["metrics"]["after"]["spread_adjusted_capacity"]
    assert metrics["provenance"]["data_sha256"]
    code, output = run("check", str(out))
    assert code == 0 and "plan OK" in output


def test_check_fails_on_a_tampered_plan(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    assert run("solve", "--out", str(out))[0] == 0
    allocation = pd.read_csv(out / "allocation.csv", dtype={"region_id": str})
    allocation.loc[allocation["region_id"] == "06", "amount_usd"] *= 2
    allocation.to_csv(out / "allocation.csv", index=False)
    code, output = run("check", str(out))
    assert code == 1
    assert "budget" in output


def test_invalid_scenario_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("budget: -1\nspred_weight: 0.3\n")
    out = tmp_path / "plan"
    code, output = run("solve", "--scenario", str(scenario), "--out", str(out))
    assert code == 2
    assert "budget: the amount must not be negative" in output
    assert "spred_weight: unknown key" in output
    assert not out.exists()


def test_infeasible_scenario_exits_1_explains_and_keeps_the_old_plan(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    assert run("solve", "--out", str(out))[0] == 0
    before = (out / "allocation.csv").read_bytes()
    scenario = tmp_path / "floors.yaml"
    scenario.write_text('region_floor_usd: "$2B"\n')
    code, output = run("solve", "--scenario", str(scenario), "--out", str(out))
    assert code == 1
    assert "region floors add up to $102.0B but the budget is $80.0B" in output
    assert (out / "allocation.csv").read_bytes() == before


def test_user_regions_with_a_scenario_that_only_sets_weights(tmp_path: Path) -> None:
    csv = tmp_path / "mine.csv"
    csv.write_text("region_id,name,population,labs,startups\nN,North,100,5,1\nS,South,300,1,2\n")
    scenario = tmp_path / "s.yaml"
    scenario.write_text("weights: {labs: 1, startups: 1}\n")
    out = tmp_path / "plan"
    code, output = run("solve", "--regions", str(csv), "--scenario", str(scenario),
                       "--out", str(out))
    assert code == 0, output
    assert run("check", str(out))[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["solve", "--regions", "nowhere.csv"], "cannot read the regions file"),
        (["solve", "--scenario", "nowhere.yaml"], "cannot read the scenario file"),
        (["check", "."], "not a plan directory"),
    ],
)
def test_missing_files_exit_2_with_a_message(tmp_path: Path, args: list[str], message: str) -> None:
    os.chdir(tmp_path)
    code, output = run(*args)
    assert code == 2
    assert message in output


def test_bad_regions_csv_names_row_and_column(tmp_path: Path) -> None:
    csv = tmp_path / "mine.csv"
    csv.write_text("region_id,name,population,labs\nN,North,100,5\nS,South,-3,1\n")
    code, output = run("solve", "--regions", str(csv), "--out", str(tmp_path / "p"))
    assert code == 2
    assert f"file {csv}, row 3, column 'population'" in output


def test_shipped_metros_solve_with_their_documented_default(tmp_path: Path) -> None:
    """Metros default to the Hoover spread: solve, check, the headline, the brief and the
    workbook all give the plan's objective one name and one number."""
    out = tmp_path / "metros"
    code, output = run("solve", "--regions", "metros", "--out", str(out))
    assert code == 0, output
    plan = load_plan(out)
    assert plan.scenario.spread_measure == "hoover"
    name = "Spread-adjusted capacity S_λ (Hoover)"
    value = f"{plan.objective:.2f}"
    assert f"{name}, the plan's objective (λ = 0.5): " in output
    assert f"→ {value} points" in output
    code, checked = run("check", str(out))
    assert code == 0
    assert f"{name}, the plan's objective, recomputed exactly: {plan.objective:.4f}" in checked
    first = headline(plan)[0]
    assert (first.label, first.value) == (name, f"{value} points")
    brief = to_brief_html(plan).decode()
    assert f"<span>{name}</span><b>{value} points</b>" in brief
    metrics = metrics_sheet(plan)
    assert metrics.iloc[0]["Metric"].startswith(name) and \
        metrics.iloc[0]["After"] == pytest.approx(plan.objective)
    gini_s = plan.metrics_after["spread_adjusted_capacity"]  # another number: another name
    assert f"{gini_s:.2f} points" not in brief.split("<h2>")[0]


def test_a_scenario_file_with_a_shipped_set_changes_only_what_it_says(tmp_path: Path) -> None:
    spec = tmp_path / "budget.yaml"
    spec.write_text("budget: $40B\n")
    out = tmp_path / "plan"
    code, output = run("solve", "--regions", "metros", "--scenario", str(spec), "--out", str(out))
    assert code == 0, output
    saved = yaml.safe_load((out / "scenario.yaml").read_text())
    default = region_set_default("metros", load_regions("metros").indicators)
    assert saved["budget"] == 40e9
    assert saved["weights"] == default.weights  # the metro default, not the state one
    assert run("check", str(out))[0] == 0


def _placefund(*args: str, cwd: Path | None = None) -> str:
    """A real placefund process (the solver's banner goes to file descriptor 1, which
    CliRunner does not see): its stdout and stderr together."""
    proc = subprocess.run([sys.executable, "-m", "optimizer.cli", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_no_command_prints_the_solvers_banner_or_a_solver_line(tmp_path: Path) -> None:
    """solve, check, export, an analysis on a local Dask cluster (the solves run in worker
    processes) and a robust plan print PlaceFund's words only: no 'Running HiGHS ...'."""
    spec = tmp_path / "sweep.yaml"
    spec.write_text("analysis: sweep\nregions: states\nscenario: null\n"
                    "vary:\n  budget: {start: \"$20B\", stop: \"$40B\", num: 2}\n")
    robust = tmp_path / "robust.yaml"
    robust.write_text("scenario: {spread_measure: hoover}\nsamples: 4\nseed: 2\nobjective: mean\n"
                      "out_of_sample: {samples: 3, core_index: true}\n")
    outputs = [
        _placefund("solve", "--regions", "metros", "--out", str(tmp_path / "plan")),
        _placefund("check", str(tmp_path / "plan")),
        _placefund("export", str(tmp_path / "plan"), "--format", "html"),
        _placefund("sweep", str(spec), "--out", str(tmp_path / "sweep"), "--scheduler", "local",
                   "--workers", "1"),
        _placefund("robust-plan", str(robust), "--out", str(tmp_path / "robust")),
        _placefund("check", str(tmp_path / "robust")),
    ]
    for text in outputs:
        assert "HiGHS" not in text and "Copyright" not in text and "THIRD_PARTY" not in text, text
        assert "Running" not in text and "Solving" not in text, text


def test_help_texts_are_plain_and_complete() -> None:
    """--help shows no '<bool>' type column; export's lists every format it writes."""
    from optimizer.cli.export import FORMAT_HELP
    from optimizer.report.export import FORMATS

    assert set(FORMAT_HELP) == set(FORMATS)
    for command in ("solve", "check", "export", "sweep", "ranging", "robust-plan", "consensus"):
        code, text = run(command, "--help")
        assert code == 0
        assert "<bool>" not in text and "<str>" not in text, text  # options say what they take
    code, text = run("export", "--help")
    flat = " ".join(text.split())
    for name in FORMATS:
        assert f"{name}: " in flat, name
    assert "PLAN_DIR" in text
