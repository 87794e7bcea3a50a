"""What a consensus or robust-plan spec says, validated: the pydantic specs, reading them
(bounded YAML), the spec's regions and base scenario, and the distributions its samples
are drawn from (weights, theta, each instrument's yield multiplier)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from optimizer.analysis.consensus_check import name_problem
from optimizer.analysis.evidence import evidence_ranges, yield_scale_range
from optimizer.analysis.sensitivity import WeightSampler, prepare, sample_weights, spec_error
from optimizer.engine.data import Regions
from optimizer.engine.errors import ScenarioError
from optimizer.engine.safe_yaml import load_yaml_file
from optimizer.engine.scenario import (
    USD,
    Scenario,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Stakeholder(_Strict):
    """One stakeholder's judgments: weights, and optionally their own lambda and theta.

    Anything left out takes the base scenario's value; the rules (budget, floors, caps,
    shares, groups, exclusions, hubs) are always the base scenario's.
    """

    weights: dict[str, Annotated[float, Field(ge=0)]] | None = None
    spread_weight: float | None = Field(default=None, ge=0.0, le=1.0, description="lambda")
    complementarity: float | None = Field(default=None, ge=0.0, le=1.0, description="theta")

    def changes(self) -> dict[str, Any]:
        """The scenario keys this stakeholder sets."""
        return {k: v for k, v in (("weights", self.weights), ("spread_weight", self.spread_weight),
                                  ("complementarity", self.complementarity)) if v is not None}


class SpecCommon(_Strict):
    """Fields both specs have: where the regions and the base scenario come from."""

    title: str | None = None
    regions: str = "states"
    scenario: str | dict[str, Any] | None = Field(
        default=None, description="scenario YAML path (relative to the spec) or inline mapping")


class ConsensusSpec(SpecCommon):
    """A base scenario (its rules bind everyone) and 1-12 named stakeholders."""

    analysis: Literal["consensus"] = "consensus"
    stakeholders: dict[str, Stakeholder] = Field(min_length=1, max_length=12)

    @field_validator("stakeholders")
    @classmethod
    def _names(cls, value: dict[str, Stakeholder]) -> dict[str, Stakeholder]:
        for name in value:
            problem = name_problem(name)
            if problem:
                raise ValueError(problem)
        return value


class Distribution(_Strict):
    """One uncertain number: exactly one of ``uniform: [low, high]``, ``triangular:
    [low, mode, high]`` or ``lognormal: [median, sigma]`` (sigma of the log)."""

    uniform: tuple[float, float] | None = None
    triangular: tuple[float, float, float] | None = None
    lognormal: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _one(self) -> Distribution:
        given = [k for k in ("uniform", "triangular", "lognormal") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of uniform: [low, high], triangular: [low, mode, "
                             f"high] or lognormal: [median, sigma] (got {given or 'none'})")
        if self.uniform is not None and self.uniform[0] > self.uniform[1]:
            raise ValueError(f"uniform: low {self.uniform[0]} is above high {self.uniform[1]}")
        if self.triangular is not None and not (
                self.triangular[0] <= self.triangular[1] <= self.triangular[2]):
            raise ValueError("triangular: needs low <= mode <= high")
        return self

    def bounds(self) -> tuple[float, float]:
        """The smallest and largest value a draw can take."""
        if self.uniform is not None:
            return self.uniform
        if self.triangular is not None:
            return self.triangular[0], self.triangular[2]
        assert self.lognormal is not None
        median, sigma = self.lognormal
        return (0.0, float("inf")) if sigma > 0 else (median, median)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws."""
        if self.uniform is not None:
            return rng.uniform(*self.uniform, size=size)
        if self.triangular is not None:
            lo, mode, hi = self.triangular
            return np.full(size, lo) if hi == lo else rng.triangular(lo, mode, hi, size=size)
        assert self.lognormal is not None
        median, sigma = self.lognormal
        return median * np.exp(sigma * rng.standard_normal(size))


class OutOfSample(_Strict):
    """The fresh samples the chosen plan is judged on (independent of the ones it was
    optimized over: another seed)."""

    samples: int | None = Field(default=None, ge=1, le=100_000, description="default: N")
    seed: int | None = Field(default=None, ge=0, description="default: seed + 1")
    core_index: bool = Field(default=True, description="solve each fresh sample's own optimum "
                                                       "(through the sensitivity execution)")


class RobustPlanSpec(SpecCommon):
    """N samples of weights, theta and yields; the plan that does best over them."""

    analysis: Literal["robust-plan"] = "robust-plan"
    samples: int = Field(default=100, ge=1, le=5_000, description="N")
    seed: int = Field(default=0, ge=0)
    objective: Literal["mean", "cvar", "worst"] = "cvar"
    alpha: float = Field(default=0.1, gt=0.0, le=1.0, description="CVaR level: the worst share")
    weights: WeightSampler | None = Field(
        default_factory=WeightSampler, description="null: the base scenario's weights")
    complementarity: Distribution | None = None
    yields: dict[str, Distribution] = Field(
        default_factory=dict, description="per instrument, a multiplier on all its yields "
                                          "(1 = the base scenario's)")
    prior: Literal["evidence"] | None = Field(default=None, description=(
        "evidence: theta and each instrument's yield multiplier drawn triangular over their "
        "documented ranges (docs/evidence.md), unless given above"))
    out_of_sample: OutOfSample = Field(default_factory=OutOfSample)
    funded_threshold_usd: USD = Field(default=1e6, description="a region counts as funded from here")
    chunk_size: int = Field(default=25, ge=1, le=10_000)

    @model_validator(mode="after")
    def _ranges(self) -> RobustPlanSpec:
        if self.complementarity is not None:
            lo, hi = self.complementarity.bounds()
            if lo < 0 or hi > 1:
                raise ValueError("complementarity: theta lies in [0, 1]; use uniform or "
                                 "triangular within it")
        for name, dist in self.yields.items():
            if dist.lognormal is None and dist.bounds()[0] < 0:
                raise ValueError(f"yields.{name}: a yield multiplier cannot be negative; use "
                                 "a lower bound of 0 or more, or lognormal")
        return self

    @model_validator(mode="before")
    @classmethod
    def _no_effectiveness(cls, data: Any) -> Any:
        if isinstance(data, dict) and "effectiveness" in data:
            raise ValueError("effectiveness was replaced by `yields`: per instrument, a "
                             "distribution of a multiplier on all its yields, e.g. "
                             "`yields: {research: {uniform: [0.78, 1.26]}}` (docs/evidence.md "
                             "gives each yield's range)")
        return data


def _validated(model: type[BaseModel], data: Any, source: str, kind: str) -> Any:
    """``model`` validated from ``data``; errors name the key, like scenario errors."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a spec must be a mapping of keys to values")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise spec_error(err, source, kind) from None


SPEC_ONLY_KEYS = ("analysis", "title", "regions", "stakeholders")


def consensus_spec_from_dict(data: Any, source: str = "spec") -> ConsensusSpec:
    """Validate a consensus spec mapping.

    A scenario with a ``stakeholders`` key is a spec too: its other keys (besides
    ``title`` and ``regions``) are the base scenario, validated as scenario keys.
    """
    if isinstance(data, dict) and "stakeholders" in data and "scenario" not in data:
        rest = {k: v for k, v in data.items() if k not in SPEC_ONLY_KEYS}
        if rest:
            data = {**{k: data[k] for k in SPEC_ONLY_KEYS if k in data}, "scenario": rest}
    return _validated(ConsensusSpec, data, source, "consensus")


def robust_spec_from_dict(data: Any, source: str = "spec") -> RobustPlanSpec:
    """Validate a robust-plan spec mapping."""
    return _validated(RobustPlanSpec, data, source, "robust-plan")


def load_consensus_spec(path: str | Path) -> ConsensusSpec:
    """Read and validate a consensus spec YAML file (bounded, see safe_yaml)."""
    return consensus_spec_from_dict(load_yaml_file(Path(path), what="spec file"), str(path))


def load_robust_spec(path: str | Path) -> RobustPlanSpec:
    """Read and validate a robust-plan spec YAML file (bounded, see safe_yaml)."""
    return robust_spec_from_dict(load_yaml_file(Path(path), what="spec file"), str(path))


def prepare_spec(spec: SpecCommon, base_dir: str | Path = ".") -> tuple[Regions, Scenario]:
    """The spec's regions and base scenario (paths relative to ``base_dir``): the spec's
    scenario over the region set's base, as ``solve`` reads it (``scenario.base_scenario``)."""
    return prepare(spec, base_dir)  # type: ignore[arg-type]


def draw_samples(spec: RobustPlanSpec, base: Scenario, count: int, seed: int) -> pd.DataFrame:
    """``count`` samples: one row each, weights ``w_<indicator>`` (normalized),
    ``complementarity`` and ``y_<instrument>`` (a multiplier on its yields)."""
    rng = np.random.default_rng([seed, 15])
    if spec.weights is not None:
        weights = sample_weights(spec.weights, base, count, seed)
    else:
        weights = pd.DataFrame([base.normalized_weights] * count)
    table = weights.add_prefix("w_").reset_index(drop=True)
    theta, scales = spec.complementarity, dict(spec.yields)
    if spec.prior == "evidence":
        theta, scales = evidence_distributions(base, theta, scales)
    table["complementarity"] = (theta.draw(rng, count) if theta is not None
                                else np.full(count, base.complementarity))
    for name in base.instruments:
        dist = scales.get(name)
        table[f"y_{name}"] = dist.draw(rng, count) if dist is not None else np.ones(count)
    unknown = sorted(set(spec.yields) - set(base.instruments))
    if unknown:
        raise ScenarioError(f"yields: {unknown} are not instruments of the base scenario; "
                            f"they are {sorted(base.instruments)}")
    table.insert(0, "sample_id", np.arange(count))
    return table


def evidence_distributions(base: Scenario, theta: Distribution | None,
                           scales: dict[str, Distribution]
                           ) -> tuple[Distribution | None, dict[str, Distribution]]:
    """The evidence prior: theta triangular over its documented range and each
    instrument's yield multiplier triangular over (low, 1, high) relative to the central
    values; what the spec gives itself is kept."""
    ranges = evidence_ranges(base)
    if theta is None and "complementarity" in ranges:
        r = ranges["complementarity"]
        theta = Distribution(triangular=(r.low, r.central, r.high))
    out = dict(scales)
    for name in base.instruments:
        span = yield_scale_range(base, name)
        if name not in out and span is not None:
            out[name] = Distribution(triangular=(span[0], 1.0, span[1]))
    return theta, out

