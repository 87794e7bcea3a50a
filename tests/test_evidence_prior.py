"""The evidence ranges as a ready prior: one spec line varies every documented parameter."""

from __future__ import annotations

import pytest

import optimizer as pf
from optimizer.analysis.consensus import spec as cs
from optimizer.analysis.evidence import evidence_ranges
from optimizer.analysis.sensitivity import build_runs, prepare, spec_from_dict


def test_the_ranges_cover_every_default_parameter() -> None:
    ranges = evidence_ranges(pf.load_scenario())
    base = pf.load_scenario()
    expected = {"complementarity", "min_absorption"} | {
        f"instruments.{i}.saturation_usd" for i in base.instruments} | {
        f"instruments.{i}.yields.{k}" for i, ins in base.instruments.items() for k in ins.yields}
    assert set(ranges) == expected
    for path, r in ranges.items():
        assert r.low <= r.central <= r.high, path


def test_tornado_moves_each_documented_parameter_to_its_low_and_high() -> None:
    spec = spec_from_dict({"analysis": "tornado", "prior": "evidence"})
    regions, base = prepare(spec)
    runs = build_runs(spec, regions, base)
    ranges = evidence_ranges(base)
    assert len(runs) == 1 + 2 * len(ranges)
    moved = {}
    for run in runs[1:]:
        (path, value), = run.changes.items()
        moved.setdefault(path, []).append(value)
    for path, (low, high) in moved.items():
        assert (low, high) == (ranges[path].low, ranges[path].high)


def test_robust_runs_draw_the_parameters_within_their_ranges() -> None:
    spec = spec_from_dict({"analysis": "robust", "runs": 40, "prior": "evidence", "seed": 3})
    regions, base = prepare(spec)
    ranges = evidence_ranges(base)
    for run in build_runs(spec, regions, base):
        for path, r in ranges.items():
            assert r.low <= run.changes[path] <= r.high


def test_sobol_adds_each_documented_parameter_as_a_factor() -> None:
    spec = spec_from_dict({"analysis": "sobol", "prior": "evidence", "base_samples": 4,
                           "parameters": {"budget": [40e9, 120e9]}})
    regions, base = prepare(spec)
    from optimizer.analysis.sensitivity import sobol_problem

    names = sobol_problem(spec, base)["names"]
    assert "instruments.research.yields.university_se_rd_musd" in names
    assert "budget" in names


def test_a_sweep_over_effectiveness_says_how_to_write_yields() -> None:
    spec = spec_from_dict({"analysis": "sweep",
                           "vary": {"instruments.research.effectiveness_per_busd": [0.5, 1.0]}})
    with pytest.raises(pf.ScenarioError, match="replaced by yields"):
        build_runs(spec, *prepare(spec))


def test_robust_plan_prior_draws_theta_and_yield_multipliers() -> None:
    spec = cs.robust_spec_from_dict({"samples": 200, "seed": 1, "prior": "evidence"})
    base = pf.load_scenario()
    samples = cs.draw_samples(spec, base, 200, 1)
    theta = evidence_ranges(base)["complementarity"]
    assert samples["complementarity"].between(theta.low, theta.high).all()
    assert samples["complementarity"].std() > 0
    research = samples["y_research"]
    assert research.min() >= 900 / 1150 - 1e-9 and research.max() <= 1470 / 1150 + 1e-9


def test_robust_plan_refuses_effectiveness_with_how_to_write_yields() -> None:
    with pytest.raises(pf.ScenarioError, match="effectiveness was replaced by `yields`"):
        cs.robust_spec_from_dict({"effectiveness": {"venture": {"uniform": [0.3, 0.9]}}})
