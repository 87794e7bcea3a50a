"""How sure the robust plan's out-of-sample gain is: a paired bootstrap interval, written
to robust.json and the command line's comparison, and re-derived by ``placefund check``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from optimizer.analysis.bootstrap import cvar_rows, paired_difference
from optimizer.analysis.consensus.result import cvar
from optimizer.cli import app


def test_cvar_of_each_row_is_the_mean_of_its_worst_share() -> None:
    values = np.array([[4.0, 1.0, 3.0, 2.0], [1.0, 1.0, 1.0, 5.0]])
    # worst half of [1, 2, 3, 4] is 1.5; worst 30% counts 1 whole and a fifth of 2
    assert cvar_rows(values, 0.5).tolist() == [1.5, 1.0]
    assert cvar_rows(values[:1], 0.3)[0] == pytest.approx((1.0 + 0.2 * 2.0) / 1.2)
    rng = np.random.default_rng(3)
    for n, alpha in ((10, 0.1), (37, 0.25), (100, 0.05)):
        v = rng.normal(size=n)
        assert cvar_rows(v, alpha) == pytest.approx(cvar(v, alpha))  # the LP's CVaR


def test_a_constant_gain_has_no_uncertainty_and_a_noisy_one_an_interval_around_it() -> None:
    base = np.linspace(100.0, 110.0, 50)
    same = paired_difference(base + 0.25, base, alpha=0.1)
    for part in ("mean", "cvar"):  # every resample sees the same +0.25 on every sample
        assert same[part] == pytest.approx({"estimate": 0.25, "low": 0.25, "high": 0.25})
    noise = np.random.default_rng(0).normal(0.0, 1.0, size=400)
    noisy = paired_difference(base.repeat(8) + 0.3 + noise, base.repeat(8), alpha=0.1)
    mean = noisy["mean"]
    assert mean["low"] < mean["estimate"] < mean["high"]
    # the normal-theory 95% interval of a mean of 400 unit-variance draws is about ±0.098
    assert mean["high"] - mean["low"] == pytest.approx(2 * 1.96 / 20, rel=0.15)
    assert noisy["resamples"] == 2000 and noisy["level"] == 0.95
    again = paired_difference(base.repeat(8) + 0.3 + noise, base.repeat(8), alpha=0.1)
    assert again == noisy  # a fixed seed: the check re-derives the same interval


def test_robust_json_and_the_cli_give_the_interval_and_check_rederives_it(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(
        "scenario: {spread_measure: hoover}\nsamples: 8\nseed: 2\nobjective: cvar\nalpha: 0.25\n"
        "complementarity: {uniform: [0.3, 0.7]}\n"
        "out_of_sample: {samples: 40, core_index: false}\n")
    runner = CliRunner()
    out = tmp_path / "out"
    done = runner.invoke(app, ["robust-plan", str(tmp_path / "spec.yaml"), "--out", str(out)])
    assert done.exit_code == 0, done.output
    record = json.loads((out / "robust.json").read_text())
    diff = record["out_of_sample_difference"]
    stats = record["stats"]["out_of_sample"]
    assert diff["samples"] == 40 and diff["level"] == 0.95
    assert diff["cvar"]["estimate"] == pytest.approx(stats["robust"]["cvar"]
                                                     - stats["default"]["cvar"])
    assert diff["mean"]["estimate"] == pytest.approx(stats["robust"]["mean"]
                                                     - stats["default"]["mean"])
    assert diff["cvar"]["low"] <= diff["cvar"]["estimate"] <= diff["cvar"]["high"]
    assert "2,000 paired bootstrap draws" in done.output
    assert "95% interval" in " ".join(done.output.split())
    checked = runner.invoke(app, ["check", str(out)])
    assert checked.exit_code == 0, checked.output
    assert "bootstrap interval" in checked.output
    assert "not what this plan maximizes" in checked.output  # S_λ of the base is not its goal
    diff["cvar"]["low"] -= 0.05  # a wider interval than the data give
    (out / "robust.json").write_text(json.dumps(record))
    broken = runner.invoke(app, ["check", str(out)])
    assert broken.exit_code == 1
    assert "out_of_sample_difference.cvar.low" in broken.output
