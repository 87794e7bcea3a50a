"""Scenario: every input of one run, validated, immutable, saved with each plan.

A scenario file (YAML) gives only what it changes; everything else takes the
documented default from ``optimizer/defaults/scenario.yaml``. A mapping such as
``weights`` or ``instruments`` replaces the default mapping whole.

Money is in USD everywhere in the file. ``budget`` accepts numbers (``80e9``) and
strings such as ``"$80B"``, ``"$500M"`` or ``"80 billion"``.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from optimizer.engine.data import REGION_SETS
from optimizer.engine.errors import ScenarioError, brief
from optimizer.engine.formatting import money
from optimizer.engine.safe_yaml import load_yaml, load_yaml_bytes, load_yaml_file

MissingPolicy = Literal["error", "zero", "median", "half_min"]
# what each policy does to an empty cell, in words ("... filled <words>")
MISSING_POLICY_WORDS = {"error": "not at all (the plan stops)", "zero": "as zero",
                        "median": "with the column's median",
                        "half_min": "with half the smallest published value"}
CAPACITY_INDEX = "capacity_index"
# the floor of relative per-capita capacity in the growth rate's logarithm (engine/growth)
Y_MIN = 1e-3

_SUFFIX = {"": 1.0, "k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6,
           "b": 1e9, "bn": 1e9, "billion": 1e9, "t": 1e12, "trillion": 1e12}
# unambiguous (the fraction needs its dot), so matching is linear in the length
_MONEY = re.compile(r"^\s*(-?)\s*\$?\s*([0-9][0-9,]*(?:\.[0-9]*)?(?:e[+-]?[0-9]+)?)\s*([a-z]*)\s*$",
                    re.I)
MAX_MONEY_CHARS = 64


def parse_usd(value: Any) -> float:
    """Read an amount of USD: ``80e9``, ``"80e9"``, ``"$80B"``, ``"$1.5 trillion"``."""
    if isinstance(value, bool):
        raise ValueError("expected an amount of USD, got a true/false value")
    if isinstance(value, int | float):
        amount = float(value)
    elif isinstance(value, str):
        match = _MONEY.match(value) if len(value) <= MAX_MONEY_CHARS else None
        suffix = match.group(3).lower() if match else ""
        if not match or suffix not in _SUFFIX:
            raise ValueError(
                f"cannot read {brief(value)} as USD; write e.g. 80e9, \"$80B\" or \"$500M\""
            )
        amount = float(match.group(2).replace(",", "")) * _SUFFIX[suffix]
        amount = -amount if match.group(1) else amount
    else:
        raise ValueError(f"expected an amount of USD, got {type(value).__name__}")
    if not math.isfinite(amount):
        raise ValueError("the amount must be a finite number")
    if amount < 0:
        raise ValueError(f"the amount must not be negative (got {amount:,.0f})")
    return amount


USD = Annotated[float, BeforeValidator(parse_usd)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    # every number must be finite: `.inf` or `.nan` anywhere in a scenario is refused
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, allow_inf_nan=False)


_SHARE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*%\s*$")


def _share_of_total(value: Any) -> Any:
    if isinstance(value, str) and not _SHARE.match(value):
        raise ValueError(f"'{brief(value)}' is neither a number (the indicator's unit per $1B) "
                         "nor a share of its national total such as '0.5%'")
    return value


ShareOfTotal = Annotated[str, BeforeValidator(_share_of_total)]


def yield_value(value: float | str, national_total: float) -> float:
    """A yield in the indicator's unit per $1B: a number as it is, a share of the national
    total ('0.5%') times that total."""
    if isinstance(value, str):
        match = _SHARE.match(value)
        assert match is not None  # validated
        return float(match.group(1)) / 100.0 * national_total
    return float(value)


def share_yield(percent: float) -> str:
    """A yield as a share of the national total, in the form a scenario takes: '0.19%'."""
    return format(percent, ".10f").rstrip("0").rstrip(".") + "%"


def scaled_yield(value: float | str, factor: float) -> float | str:
    """A yield times ``factor``, in the form it was given (a share stays a share)."""
    if isinstance(value, str):
        match = _SHARE.match(value)
        assert match is not None  # validated
        return share_yield(float(match.group(1)) * factor)
    return float(value) * factor


class Instrument(_Strict):
    """One way money is spent: what $1B of it raises, in the natural unit of each raised
    indicator, and how fast its returns saturate. Defaults and ranges: docs/evidence.md."""

    yields: dict[str, Annotated[float, Field(ge=0)] | ShareOfTotal] = Field(
        description="e_ik: indicator k's own unit (persons, $ millions, ...) raised per $1B "
                    "at zero funding in an average region; or a share of the indicator's "
                    "national total per $1B ('0.5%'), turned into its unit when resolved"
    )
    saturation_usd: USD = Field(
        description="sigma_i: national saturation scale; a region's is its population share of it"
    )
    absorbs: list[str] | None = Field(
        default=None,
        description="indicators that make a region able to absorb it; null = overall capacity index",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_effectiveness(cls, data: Any) -> Any:
        if isinstance(data, dict) and "effectiveness_per_busd" in data:
            raise ValueError(
                "effectiveness_per_busd (abstract points per $1B) was replaced by `yields`: "
                "name what $1B raises in an indicator's own unit, e.g. "
                "`yields: {university_se_rd_musd: 1150}` ($ millions of university R&D per $1B); "
                "the defaults and their evidence are in docs/evidence.md")
        return data

    @field_validator("yields")
    @classmethod
    def _some_yield(cls, v: dict[str, float | str]) -> dict[str, float | str]:
        if not v:
            raise ValueError("name at least one indicator the instrument raises, e.g. "
                             "{university_se_rd_musd: 1150} (per $1B, in the indicator's unit)")
        if not all(isinstance(y, str) or math.isfinite(y) for y in v.values()):
            raise ValueError("yields must be finite numbers")
        return v

    @field_validator("saturation_usd")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("must be positive")
        return v


class ShareRange(_Strict):
    """Minimum and maximum share of the budget (0..1)."""

    min: Share = 0.0
    max: Share = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> ShareRange:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        return self


class RegionBounds(_Strict):
    """Funding bounds for one region, in USD."""

    floor_usd: USD = 0.0
    cap_usd: USD | None = None


class TopKShareCap(_Strict):
    """The k regions with the most final capacity hold at most ``max_share`` of it."""

    k: int = Field(ge=1)
    max_share: float = Field(gt=0.0, le=1.0)


class CountRange(_Strict):
    """Minimum and maximum number of hubs (max null = no maximum)."""

    min: int = Field(default=0, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> CountRange:
        if self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        return self


class AwardRange(_Strict):
    """A hub's total award in USD, when it is selected."""

    min: USD = 0.0
    max: USD | None = None

    @model_validator(mode="after")
    def _ordered(self) -> AwardRange:
        if self.max is not None and self.min > self.max:
            raise ValueError(f"min ({usd(self.min)}) is larger than max ({usd(self.max)})")
        return self


class DesignatedSet(_Strict):
    """At least ``min_share`` of the hubs lie in regions whose ``column`` is true."""

    column: str
    min_share: Share
    if_missing: Literal["error", "skip"] = "error"


class Hubs(_Strict):
    """Hub selection (turns the LP into a MIP): only hubs are funded."""

    count: CountRange = Field(default_factory=CountRange)
    award_usd: AwardRange = Field(default_factory=AwardRange)
    min_per_group: dict[str, int | dict[str, int]] = Field(
        default_factory=dict,
        description="group column -> minimum hubs in each of its groups (or per group value)",
    )
    max_one_per_group: list[str] = Field(
        default_factory=list, description="group columns with at most one hub per group value"
    )
    designated: DesignatedSet | None = None
    mip_rel_gap: float = Field(default=1e-4, ge=0, lt=1)


class Exclusions(_Strict):
    """Regions that get nothing, or none of some instruments."""

    regions: list[str] = Field(default_factory=list)
    top_k_incumbents: int = Field(default=0, ge=0)
    instruments: dict[str, list[str]] = Field(default_factory=dict)


class SolverSettings(_Strict):
    """Solver limits. ``time_limit_s`` bounds each HiGHS run (seconds), however many runs
    a planner made before."""

    time_limit_s: float = Field(default=60.0, gt=0)
    threads: int = Field(default=1, ge=1)


class Approximation(_Strict):
    """Piecewise-linear outer approximation of the concave response."""

    tangents: int = Field(default=32, ge=10, le=400)
    max_error_share: float = Field(default=1e-3, gt=0, lt=1)


MAX_YEARS = 50  # periods.years: a plan over time spans at most this many years
CENT = 0.005  # USD: amounts that agree to the cent differ by less than half a cent


class Periods(_Strict):
    """A plan over time: ``years`` yearly appropriations (1 = today's single-period plan)."""

    years: int = Field(default=1, ge=1, le=MAX_YEARS, description="T, the years of the plan")
    budget_by_year: list[USD] | None = Field(
        default=None, description="each year's appropriation (USD), summing to the budget; "
                                  "null = an even split to the cent")
    carryover: bool = Field(default=False,
                            description="money not spent in a year may be spent later")


class Growth(_Strict):
    """How capacity grows each year: g_r = base_rate + eta * ln(relative per-capita capacity)
    (``optimizer.engine.growth``; ranges in docs/evidence.md)."""

    base_rate: float = Field(default=0.0, ge=-0.5, le=0.5,
                             description="national trend growth of every indicator per year")
    agglomeration_elasticity: float = Field(
        default=0.0, ge=0.0, le=0.1,
        description="eta: how much faster an intensive region's indicators grow per year")
    rates_from: Literal["no_policy", "plan"] = Field(
        default="no_policy", description=(
            "where each year's rates are read: no_policy, the path without the plan (the "
            "rates are then fixed: one LP); plan, the plan's own path (re-solved at the "
            "rates the plan induces until they stop moving: the unlinearized dynamics)"))


class GrowthCenters(_Strict):
    """Fund K growth centers chosen by the optimizer (a MIP), the alternative to
    spreading: only centers are funded, none among the regions already leading, each
    supported from the first year for at least ``min_years``."""

    count: int = Field(ge=1, le=1000, description="K, how many centers")
    exclude_leading: int = Field(default=10, ge=0, le=10_000, description=(
        "the regions leading in baseline capacity that may not be centers"))
    min_years: int = Field(default=1, ge=1, le=MAX_YEARS, description=(
        "a center is funded in each of the first min_years years"))
    min_award_share: float = Field(default=0.25, ge=0.0, le=1.0, description=(
        "in each of those years a center gets at least this share of an even split of the "
        "year's appropriation among the K centers"))
    mip_rel_gap: float = Field(default=1e-4, ge=0, lt=1)


# the keys of a plan over time; at their defaults they are left out of the saved scenario
# (``Scenario.saved_dict``), so a single-period plan's scenario.yaml and fingerprint stay
# as they were
TIME_KEYS = ("periods", "growth", "objective_year", "discount_rate", "growth_centers")


def normalized(weights: Mapping[str, float]) -> dict[str, float]:
    """``weights`` scaled to sum to 1, each key kept; empty when they sum to nothing.

    >>> normalized({"a": 3.0, "b": 1.0})
    {'a': 0.75, 'b': 0.25}
    """
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()} if total > 0 else {}


class Scenario(_Strict):
    """All inputs of one run. Money in USD; shares in 0..1; lambda, theta in 0..1."""

    _fingerprint: str | None = PrivateAttr(default=None)

    budget: USD = Field(description="B, USD to allocate")
    allow_unspent: bool = Field(default=False, description="budget is <= B instead of = B")
    weights: dict[str, Annotated[float, Field(ge=0)]]
    spread_weight: float = Field(default=0.5, ge=0.0, le=1.0, description="lambda")
    spread_measure: Literal["gini", "hoover"] = Field(
        default="gini",
        description="gini: exact pairwise Gini (n^2 pairs); hoover: population-weighted mean "
                    "absolute deviation (Hoover/Pietra index, linear in n)",
    )
    complementarity: float = Field(default=0.1, ge=0.0, le=1.0, description="theta")
    min_absorption: float = Field(default=0.1, gt=0.0, description="q_min")
    instruments: dict[str, Instrument]
    region_floor_usd: USD = 0.0
    region_cap_usd: USD | None = None
    region_floor_usd_per_capita: USD = 0.0
    region_cap_usd_per_capita: USD | None = None
    max_region_share: Share | None = None
    region_bounds: dict[str, RegionBounds] = Field(default_factory=dict)
    instrument_shares: dict[str, ShareRange] = Field(default_factory=dict)
    group_min_shares: dict[str, dict[str, Share]] = Field(default_factory=dict)
    exclusions: Exclusions = Field(default_factory=Exclusions)
    top_k_share_cap: TopKShareCap | None = None
    hubs: Hubs | None = None
    growth_centers: GrowthCenters | None = None
    packs: list[str] = Field(default_factory=list, description="named constraint packs applied")
    per_capita_floor: float | None = Field(default=None, ge=0.0)
    missing_values: MissingPolicy | dict[str, MissingPolicy] = "error"
    solver: SolverSettings = Field(default_factory=SolverSettings)
    approximation: Approximation = Field(default_factory=Approximation)
    periods: Periods = Field(default_factory=Periods)
    growth: Growth = Field(default_factory=Growth)
    objective_year: Literal["final", "discounted"] = Field(
        default="final", description="final: S_lambda at year T; discounted: the sum over "
                                     "years of S_lambda / (1 + discount_rate)^t")
    discount_rate: float = Field(default=0.0, ge=0.0, le=0.5,
                                 description="per year, with objective_year: discounted")

    @field_validator("periods", "growth", mode="before")
    @classmethod
    def _null_is_default(cls, v: Any) -> Any:
        return {} if v is None else v

    @field_validator("weights")
    @classmethod
    def _some_weight(cls, v: dict[str, float]) -> dict[str, float]:
        if not v:
            raise ValueError("needs at least one indicator")
        total = sum(v.values())
        if total <= 0:
            raise ValueError("all weights are zero; give at least one indicator a positive weight")
        if not math.isfinite(total):
            raise ValueError("the weights are too large to add up; use relative weights such "
                             "as 1, 2 or 0.5")
        return v

    @field_validator("instruments")
    @classmethod
    def _some_instrument(cls, v: dict[str, Instrument]) -> dict[str, Instrument]:
        if not v:
            raise ValueError("needs at least one instrument")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        problems = []
        unknown = sorted(set(self.instrument_shares) - set(self.instruments))
        if unknown:
            problems.append(f"instrument_shares: unknown instrument(s) {unknown}; "
                            f"instruments are {sorted(self.instruments)}")
        for region, names in self.exclusions.instruments.items():
            bad = sorted(set(names) - set(self.instruments))
            if bad:
                problems.append(f"exclusions.instruments.{region}: unknown instrument(s) {bad}")
        if self.region_cap_usd is not None and self.region_floor_usd > self.region_cap_usd:
            problems.append(
                f"region_floor_usd ({usd(self.region_floor_usd)}) is above "
                f"region_cap_usd ({usd(self.region_cap_usd)})"
            )
        problems += self._time_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _time_problems(self) -> list[str]:
        """What is inconsistent among the keys of a plan over time."""
        problems = []
        years = self.periods.years
        amounts = self.periods.budget_by_year
        if amounts is not None:
            total = math.fsum(amounts)
            if len(amounts) != years:
                problems.append(f"periods.budget_by_year: {len(amounts)} amount(s) for "
                                f"periods.years = {years}; give one amount per year")
            elif abs(total - self.budget) >= CENT:
                problems.append(f"periods.budget_by_year: the years sum to {total:,.2f} USD, "
                                f"not the budget {self.budget:,.2f} USD; they must agree to "
                                "the cent")
        if years > 1 and (self.per_capita_floor is not None or self.top_k_share_cap is not None):
            rules = [key for key, on in (("per_capita_floor", self.per_capita_floor is not None),
                                         ("top_k_share_cap", self.top_k_share_cap is not None))
                     if on]
            problems.append(f"{', '.join(rules)}: capacity rules over years are not supported "
                            "yet (they would bound the final year's capacity from an inner "
                            "response per year); remove them or set periods.years: 1")
        centers = self.growth_centers
        if centers is not None:
            if self.hubs is not None:
                problems.append("growth_centers: hubs and growth centers are two ways of "
                                "choosing funded regions; use one")
            if self.growth.rates_from == "plan":
                problems.append("growth.rates_from: plan re-solves until the growth rates stop "
                                "moving, which a growth-centers MIP does not; use rates_from: "
                                "no_policy with growth_centers")
            if centers.min_years > years:
                problems.append(f"growth_centers.min_years: {centers.min_years} years of "
                                f"support in a plan of {years} year(s); at most periods.years")
        if years > 1 and self.hubs is not None:
            problems.append("periods: hub selection over years is not supported yet (a hub's "
                            "award is one amount, not a yearly series); remove `hubs` or set "
                            "periods.years: 1")
        if years == 1:
            single = [key for key, on in (
                ("periods.carryover", self.periods.carryover),
                ("growth.base_rate", self.growth.base_rate != 0.0),
                ("growth.agglomeration_elasticity", self.growth.agglomeration_elasticity != 0.0),
                ("growth.rates_from", self.growth.rates_from != "no_policy"),
                ("objective_year", self.objective_year != "final"),
                ("discount_rate", self.discount_rate != 0.0)) if on]
            if single:
                problems.append(f"{', '.join(single)}: only a plan over time uses "
                                f"{'it' if len(single) == 1 else 'them'}; set periods.years "
                                "above 1 (a one-year plan is today's single-period plan)")
        elif self.discount_rate != 0.0 and self.objective_year != "discounted":
            problems.append("discount_rate: is used only with objective_year: discounted "
                            "(the final-year objective discounts nothing)")
        slowest = self.growth.base_rate + self.growth.agglomeration_elasticity * math.log(Y_MIN)
        if slowest <= -1.0:
            problems.append(
                f"growth: a region at the floor of relative per-capita capacity ({Y_MIN:g}) "
                f"would grow at base_rate + agglomeration_elasticity * ln({Y_MIN:g}) = "
                f"{slowest:.3f} a year, losing all its capacity; raise base_rate or lower "
                "agglomeration_elasticity")
        return problems

    @property
    def horizon_years(self) -> int:
        """T, the years of the plan (1 = today's single-period plan)."""
        return self.periods.years

    @property
    def over_time(self) -> bool:
        """Is this a plan over several years?"""
        return self.periods.years > 1

    @property
    def objective_key(self) -> str:
        """The metric that is this scenario's objective: S_lambda, or over time with
        ``objective_year: discounted`` the discounted sum of every year's S_lambda."""
        if self.periods.years > 1 and self.objective_year == "discounted":
            return "discounted_spread_adjusted"
        return ("spread_adjusted_capacity" if self.spread_measure == "gini"
                else "spread_adjusted_capacity_hoover")

    @property
    def normalized_weights(self) -> dict[str, float]:
        """Weights scaled to sum to 1 (what the UI's sliders show)."""
        return normalized(self.weights)

    def missing_policy(self, indicator: str) -> MissingPolicy:
        """How missing values of ``indicator`` are treated."""
        if isinstance(self.missing_values, str):
            return self.missing_values
        return self.missing_values.get(indicator, self.missing_values.get("default", "error"))

    def to_dict(self) -> dict[str, Any]:
        """Every field, defaults filled in (the resolved scenario)."""
        return self.model_dump(mode="json")

    def saved_dict(self) -> dict[str, Any]:
        """``to_dict`` as a plan saves it: the keys of a plan over time only when they
        differ from their defaults, so that a single-period plan's scenario.yaml and
        fingerprint are what they were before plans over time existed."""
        data = self.to_dict()
        defaults = _time_defaults()
        for key in TIME_KEYS:
            if data[key] == defaults[key]:
                del data[key]
        if data.get("growth", {}).get("rates_from") == "no_policy":  # as before it existed
            del data["growth"]["rates_from"]
        return data

    def to_yaml(self) -> str:
        """The resolved scenario as YAML (``saved_dict``); loading it back gives an equal
        scenario."""
        return yaml.safe_dump(self.saved_dict(), sort_keys=False, allow_unicode=True)

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of the saved scenario (``saved_dict``; computed
        once: a scenario never changes)."""
        if self._fingerprint is None:
            self._fingerprint = hashlib.sha256(
                json.dumps(self.saved_dict(), sort_keys=True).encode()).hexdigest()
        return self._fingerprint

    def model_copy(self, *, update: Mapping[str, Any] | None = None,
                   deep: bool = False) -> Scenario:
        """pydantic's copy, without the remembered fingerprint (``update`` changes it)."""
        copied = super().model_copy(update=update, deep=deep)
        copied._fingerprint = None
        return copied

    def __hash__(self) -> int:
        """Scenarios hash by their fingerprint: usable as dict keys and in sets."""
        return hash(self.fingerprint())

    def __eq__(self, other: object) -> bool:
        """Equal when the resolved scenarios are (the same fingerprint)."""
        if not isinstance(other, Scenario):
            return NotImplemented
        return self.fingerprint() == other.fingerprint()

    def updated(self, **changes: Any) -> Scenario:
        """A validated copy with some top-level fields replaced."""
        return scenario_from_dict({**self.to_dict(), **changes}, source="updated scenario")


@functools.cache
def _time_defaults() -> dict[str, Any]:
    """The keys of a plan over time at their defaults, as ``model_dump`` writes them."""
    fields = Scenario.model_fields
    return {"periods": Periods().model_dump(mode="json"),
            "growth": Growth().model_dump(mode="json"),
            "objective_year": fields["objective_year"].default,
            "discount_rate": fields["discount_rate"].default, "growth_centers": None}


def usd(amount: float) -> str:
    """Format USD for people: $80.0B, $292M, $12,345, −$7.9B (``formatting.money``)."""
    return money(amount)


DEFAULT_SCENARIO_TEXT = resources.files("optimizer").joinpath("defaults/scenario.yaml")


@functools.cache
def constraint_packs() -> dict[str, dict[str, Any]]:
    """Named constraint packs: name -> {doc, settings} (see defaults/packs.yaml)."""
    text = resources.files("optimizer").joinpath("defaults/packs.yaml").read_text("utf-8")
    return load_yaml(text, "optimizer/defaults/packs.yaml")


@functools.cache
def _default_scenario_yaml() -> str:
    return DEFAULT_SCENARIO_TEXT.read_text(encoding="utf-8")


def default_scenario_dict() -> dict[str, Any]:
    """The documented defaults as a plain mapping (a fresh copy each call)."""
    return copy.deepcopy(_parsed_defaults())


@functools.cache
def _parsed_defaults() -> dict[str, Any]:
    return load_yaml(_default_scenario_yaml(), "optimizer/defaults/scenario.yaml")


MAX_LISTED_PROBLEMS = 20  # a message lists at most this many invalid keys


def _format_validation_error(err: ValidationError, source: str) -> str:
    """One line per invalid key; values the user wrote are quoted bounded (``brief``)."""
    lines = []
    seen = set()
    for e in err.errors(include_url=False):
        # drop pydantic's union-member tags such as "literal['error','zero']" from the path
        path = [str(p) for p in e["loc"] if not re.search(r"[\[\]]|^function-", str(p))]
        key = ".".join(path) or "(top level)"
        if key in seen:
            continue
        seen.add(key)
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see the default scenario for valid keys)"
        elif e["type"] == "missing":
            msg = "required key is missing"
        else:
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"].endswith("_parsing") or e["type"].endswith("_type"):
                msg += f" (got {brief(e.get('input'))})"
        lines.append(f"{key}: {msg}")
    if len(lines) > MAX_LISTED_PROBLEMS:
        more = len(lines) - MAX_LISTED_PROBLEMS
        lines = [*lines[:MAX_LISTED_PROBLEMS], f"... and {more} more"]
    return f"{source}: invalid scenario\n" + "\n".join(f"  {line}" for line in lines)


def scenario_from_dict(overrides: dict[str, Any] | None, source: str = "scenario",
                       base: dict[str, Any] | None = None) -> Scenario:
    """Defaults (or ``base``, e.g. a region set's default) updated by the named packs and
    then by ``overrides`` (top-level keys replace whole), validated."""
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, dict):
        raise ScenarioError(f"{source}: a scenario must be a mapping of keys to values")
    packs = overrides.get("packs", [])
    if not isinstance(packs, list) or not all(isinstance(p, str) for p in packs):
        raise ScenarioError(f"{source}: invalid scenario\n  packs: a list of pack names")
    known = constraint_packs()
    unknown = [p for p in packs if p not in known]
    if unknown:
        raise ScenarioError(f"{source}: invalid scenario\n  packs: unknown pack(s) {unknown}; "
                            f"packs are {sorted(known)}")
    merged = default_scenario_dict() if base is None else copy.deepcopy(base)
    for name in packs:
        merged.update(copy.deepcopy(known[name]["settings"]))
    merged.update(overrides)
    try:
        scenario = Scenario.model_validate(merged)
    except ValidationError as err:
        raise ScenarioError(_format_validation_error(err, source)) from None
    return scenario


@functools.cache
def default_scenario() -> Scenario:
    """The documented default scenario (immutable, so shared)."""
    return scenario_from_dict({}, source="default scenario")


PATENTS = "utility_patents_2000_2015"
APPORTIONED = "_apportioned"  # suffix of columns shared out by population (never a default)
LARGE_REGION_SET = 1000  # regions; bigger sets get fewer tangents and a longer time limit

# ASSUMPTION: the default metro weights, on measured metro columns only (see region_set_default).
METRO_WEIGHTS: dict[str, float] = {
    "oews_software_developers": 0.20,     # the AI-building workforce (BLS OEWS 2025)
    "oews_data_scientists": 0.10,
    "oews_cs_research_scientists": 0.10,  # AI research talent (sparse: small where suppressed)
    "oews_computer_math": 0.10,           # the wider computing workforce, published everywhere
    "herd_ai_fields_musd": 0.20,          # university R&D in CS + engineering + math (HERD 2023)
    "cbp_data_processing": 0.05,          # tech industries (CBP 2019): compute's
    "cbp_software_publishers": 0.05,      # data centres, software, chips
    "cbp_semiconductors": 0.05,
    PATENTS: 0.15,                        # invention (USPTO 2000-2015)
}
METRO_ABSORBS: dict[str, list[str]] = {
    "research": ["herd_ai_fields_musd"],
    "talent": ["oews_software_developers", "oews_data_scientists", "oews_cs_research_scientists"],
    "compute": ["cbp_data_processing", "cbp_semiconductors"],
    "venture": ["cbp_software_publishers", PATENTS],  # a proxy: no local venture figure is shipped
}
# What $1B of each instrument raises in each region set's own columns (central values of
# docs/evidence.md). Where a set measures nothing an instrument raises, it yields the state
# figure apportioned by population, which carries no default weight: the plan then values
# that instrument at nothing and says so (venture in metros and counties, compute in counties).
METRO_YIELDS: dict[str, dict[str, float]] = {
    "research": {"herd_ai_fields_musd": 1150},
    "talent": {"oews_computer_math": 20000},
    "compute": {"cbp_data_processing": 25, "cbp_semiconductors": 50},
    "venture": {"ai_vc_musd_apportioned": 5300, "vc_funded_firms_apportioned": 340},
}
COUNTY_YIELDS: dict[str, dict[str, float]] = {
    "research": {"herd_ai_fields_musd": 1150},
    "talent": {"ba_plus_residents": 20000},  # a proxy: no occupation counts per county
    "compute": {"cbp_data_processing_metro_apportioned": 25,
                "cbp_semiconductors_metro_apportioned": 50},
    "venture": {"ai_vc_musd_apportioned": 5300, "vc_funded_firms_apportioned": 340},
}
# ASSUMPTION: the default county weights, on county-measured columns only.
COUNTY_WEIGHTS: dict[str, float] = {
    "herd_ai_fields_musd": 0.30, "ba_plus_residents": 0.35, PATENTS: 0.35,
}
COUNTY_ABSORBS: dict[str, list[str]] = {
    "research": ["herd_ai_fields_musd"], "talent": ["ba_plus_residents"],
    "compute": [PATENTS], "venture": [PATENTS],  # proxies: see region_set_default
}
# Suppressed or unplaceable local cells: "half_min" (half the smallest published value of
# the column) where BLS did not release an occupation in a metro: it is below what BLS
# publishes there, usually small, not absent; "zero" where Census withheld a CBP cell of
# fewer than 3 establishments (or the industry has none there) or a county is not in the PTMT
# table. Every shipped metro is covered by a CBP 2019 area (metros.csv `cbp_join`; the data
# build refuses a metro no area covers), so "zero" never stands for a metro that was not
# joined; "median" where a figure
# exists but could not be placed in the area (patents of the Connecticut metros,
# delineated by planning regions the county counts do not fit).
METRO_MISSING: dict[str, str] = {
    **{c: "half_min" for c in ("oews_software_developers", "oews_data_scientists",
                               "oews_cs_research_scientists", "oews_computer_math")},
    **{c: "zero" for c in ("cbp_computer_systems_design", "cbp_software_publishers",
                           "cbp_semiconductors", "cbp_data_processing")},
    PATENTS: "median",
}
COUNTY_MISSING: dict[str, str] = {PATENTS: "zero"}


def region_set_default(region_set: str, indicators: Sequence[str]) -> Scenario:
    """The documented default plan for a shipped region set; states get the default.

    Metros and counties weight only locally measured columns (state figures apportioned
    by population, ``*_apportioned``, stay in the tables but carry no default weight and
    no absorption). The weights are ASSUMPTIONS, chosen so that:

    - metros: AI talent (OEWS 2025 software developers 20%, data scientists 10%, AI/CS
      research scientists 10%, all computer and math jobs 10%) is half, as the article
      measures concentration by AI workers and inventors; university R&D in the fields
      where AI research is reported (HERD CS + engineering + math) 20%; the tech
      industries of CBP 2019 (data processing and hosting, software publishers,
      semiconductors) 15%; utility patents 15% (all technologies, older: 2000-2015);
    - counties: only three columns are measured per county: university AI-field R&D
      30%, residents with a bachelor's degree 35% (ACS share x population), patents 35%;
    - instruments absorb through measured columns: research <- university AI-field R&D;
      talent <- the AI occupations (counties: residents with a degree); compute <- data
      processing and hosting and semiconductor employment (counties: patents, a proxy,
      since those industries are not published per county in the shipped sources);
      venture <- software publishers' employment and patents (a proxy: no local venture
      figure is public; software publishing is where venture-backed AI firms sit);
    - yields (``METRO_YIELDS``, ``COUNTY_YIELDS``): research raises university AI-field
      R&D, talent computer and math jobs (counties: degree holders, a proxy), compute
      data-processing and semiconductor jobs (counties: only apportioned metro figures),
      venture the state venture figures apportioned by population (no local venture
      figure is public); a yield on an unweighted column buys nothing the plan values;
    - missing values: an OEWS occupation BLS did not release in a metro takes half the
      smallest value the column publishes (it is below publication there, usually small,
      not absent: the usual substitution for values below a reporting limit); CBP cells
      withheld for fewer than 3 establishments (or none) count as zero, which understates
      those places slightly; no metro is read as zero for want of a join: every shipped
      metro is covered by a CBP 2019 area (joined by county overlap, ``cbp_join``; the
      data build refuses a metro no area covers); metro patents
      missing only for the 5 Connecticut metros take the median; the count filled is
      reported with every plan;
    - spread is the Hoover index (linear in the number of regions; the exact Gini is
      refused above 250 regions), chosen here explicitly and reported with the plan;
    - above 1,000 regions: 24 tangents and a 5-minute time limit for the first solve.
    """
    base = default_scenario()
    if region_set == "states":
        return base
    have = set(indicators)
    counties = region_set == "counties"
    weights, absorbs, missing, yields = (
        (COUNTY_WEIGHTS, COUNTY_ABSORBS, COUNTY_MISSING, COUNTY_YIELDS) if counties
        else (METRO_WEIGHTS, METRO_ABSORBS, METRO_MISSING, METRO_YIELDS))
    data = base.to_dict()
    data["weights"] = {k: w for k, w in weights.items() if k in have} or {k: 1.0 for k in indicators}
    for name, ins in data["instruments"].items():
        ins["absorbs"] = [c for c in absorbs.get(name, []) if c in have] or None
        ins["yields"] = {c: y for c, y in yields.get(name, {}).items() if c in have} or ins["yields"]
    data["spread_measure"] = "hoover"
    data["missing_values"] = {"default": "error", **{c: p for c, p in missing.items() if c in have}}
    if counties:
        data["approximation"] = {**data["approximation"], "tangents": 24}
        data["solver"] = {**data["solver"], "time_limit_s": 300.0}
    return scenario_from_dict(data, source=f"default plan for {region_set}")


def base_scenario(region_set: str, indicators: Sequence[str],
                  given: dict[str, Any] | str | Path | bytes | None = None,
                  source: str = "scenario") -> Scenario:
    """The base scenario of a run on ``region_set``: the one place that decides it.

    On a shipped region set (``REGION_SETS``) it is the set's documented default
    (``region_set_default``); on any other regions table (a CSV), the engine default.
    ``given`` (a scenario file's path, its bytes (an upload, named by ``source``), or a
    mapping of scenario keys) changes it: its named packs first, then its own top-level
    keys, each replacing the key whole. Every
    command (``solve``, the analyses, ``ranging``, ``consensus``) and the workbench start
    from it, so a run on metros starts where ``placefund solve --regions metros`` does.
    """
    default = (region_set_default(region_set, indicators) if region_set in REGION_SETS
               else default_scenario())
    if given is None:
        return default
    if isinstance(given, str | Path):
        return load_scenario(given, base=default)
    keys: Any = load_yaml_bytes(given, source, what="scenario file") if isinstance(
        given, bytes) else given  # scenario_from_dict refuses anything but a mapping
    return scenario_from_dict(keys, source=source, base=default.to_dict())


def region_set_assumptions(region_set: str, scenario: Scenario) -> list[str]:
    """What a page says about a shipped region set's data and default assumptions."""
    if region_set not in ("metros", "counties"):
        return []
    from optimizer.engine.columns import label  # the registry has no dependencies

    weights = ", ".join(f"{label(k)} {w:.0%}" for k, w in scenario.normalized_weights.items())
    policies = scenario.missing_values if isinstance(scenario.missing_values, dict) else {}
    zero = [label(c) for c, p in policies.items() if c != "default" and p == "zero"]
    median = [label(c) for c, p in policies.items() if c != "default" and p == "median"]
    half = [label(c) for c, p in policies.items() if c != "default" and p == "half_min"]
    notes = [
        f"{region_set.capitalize()}: the default weights use only locally measured columns "
        f"(an assumption: change them in the sidebar): {weights}. Columns ending in "
        f"'{APPORTIONED}' are state (or metro) figures shared out by population, derived, "
        "not measured locally (see data/SOURCES.md).",
    ]
    rules = [f"{names} {MISSING_POLICY_WORDS[policy]}" for policy, names in
             (("half_min", ", ".join(half)), ("zero", ", ".join(zero)),
              ("median", ", ".join(median))) if names]
    if rules:
        notes.append("Empty (suppressed or unplaceable) cells are filled: " + "; ".join(rules)
                     + ". The plan reports how many were filled.")
    if region_set == "metros" and any(c.startswith("cbp_") for c in scenario.weights):
        notes.append("County Business Patterns 2019 figures are coded by the 2017 metro "
                     "delineation; each 2023 metro takes the 2017 areas holding its counties, "
                     "an area that split shared out by population (flagged per metro; every "
                     "metro is covered, so an empty CBP cell is one Census withheld).")
    notes.append("Spread is measured by the Hoover index (population-weighted mean absolute "
                 "deviation), which grows linearly with the number of regions; the result "
                 "reports the true Gini too.")
    return notes


def load_scenario(path: str | Path | None = None, base: Scenario | None = None) -> Scenario:
    """Load and validate a scenario YAML file; ``None`` gives the default scenario.

    What the file leaves out comes from ``base`` (e.g. ``region_set_default("metros",
    ...)``), else from the documented defaults. The file is read by
    ``optimizer.engine.safe_yaml``: UTF-8 text of bounded size and expansion, no duplicate
    keys, plain values only.
    """
    if path is None:
        return default_scenario() if base is None else base
    return scenario_from_dict(load_yaml_file(path, what="scenario file"), source=str(path),
                              base=None if base is None else base.to_dict())


def scenario_from_text(text: str, source: str = "scenario") -> Scenario:
    """Parse YAML text into a validated scenario, under the same bounds as a file."""
    return scenario_from_dict(load_yaml(text, source), source=source)
