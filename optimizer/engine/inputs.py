"""Model inputs: a scenario resolved against a regions table, as numpy arrays.

This is the MODEL.md maths that does not need a solver: indicator shares, baseline
capacity ``c0`` (points, national total 100), absorptive multipliers ``m``,
saturation scales ``s``, bounds and rules (the exact response ``g`` on these arrays
is ``optimizer.engine.response``). Money is held in billions of USD ($B) here and in
the model, which keeps the LP well scaled.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine.data import Regions
from optimizer.engine.errors import DataError, ScenarioError
from optimizer.engine.scenario import Scenario, default_scenario, share_yield, usd, yield_value

BUSD = 1e9
MAX_GINI_REGIONS = 250  # the exact pairwise Gini has n(n-1)/2 pair variables


@dataclass(frozen=True, eq=False)
class GroupRule:
    """Regions with ``column == value`` receive at least ``min_share`` of the budget."""

    column: str
    value: str
    members: np.ndarray
    min_share: float


@dataclass(frozen=True, eq=False)
class HubRules:
    """Hub selection resolved against the regions (money in $B).

    ``group_min``: (column, value, members, minimum hubs); ``group_max_one``:
    (column, value, members) with at most one hub; ``designated``: members and the
    minimum share of hubs among them, or None.
    """

    count_min: int
    count_max: int
    award_min_busd: float
    award_max_busd: float
    group_min: tuple[tuple[str, str, np.ndarray, int], ...]
    group_max_one: tuple[tuple[str, str, np.ndarray], ...]
    designated: tuple[np.ndarray, float] | None
    notes: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class ModelInputs:
    """Everything the model needs, as arrays in region order (n) x instrument order (m)."""

    scenario: Scenario  # resolved: region references are region_ids
    regions: Regions
    instruments: tuple[str, ...]
    population: np.ndarray  # (n,) persons
    filled_values: dict[str, int]  # indicator -> how many missing values were filled
    indicator_values: pd.DataFrame  # (n, k) after the missing-value policy
    c0: np.ndarray  # (n,) baseline capacity points, sums to 100
    multiplier: np.ndarray  # (n, m) absorptive multiplier m_ri
    effectiveness: np.ndarray  # (m,) a_i = 100 sum_k w_k e_ik / V_k, points per $B
    raised: tuple[str, ...]  # (K,) the indicators some instrument yields
    yields_per_busd: np.ndarray  # (m, K) e_ik, indicator k's unit per $B
    national_totals: np.ndarray  # (K,) V_k, the raised indicators' national totals
    saturation_busd: np.ndarray  # (n, m) s_ri in $B
    budget_busd: float
    floor_busd: np.ndarray  # (n,)
    cap_busd: np.ndarray  # (n,), finite (at most the budget)
    allowed: np.ndarray  # (n, m) bool: may region r receive instrument i
    instrument_min_share: np.ndarray  # (m,)
    instrument_max_share: np.ndarray  # (m,)
    groups: tuple[GroupRule, ...] = field(default=())
    excluded_ids: tuple[str, ...] = field(default=())
    hubs: HubRules | None = None
    # a plan over time seen as one period (``growth.over_time``): T years, its m columns
    # are (year, instrument) pairs, year-major, and its response is carried to year T
    years: int = 1
    # over time, the growth rates (T, n) the dynamics are linearized at: None, the path
    # without the plan's; with ``growth.rates_from: plan``, a plan's own (``plan_rates``)
    growth_rates: np.ndarray | None = None
    # a view over time at such rates: capacity (n,) without the plan at its year (the
    # no-policy path's), and each indicator's value without the plan as a multiple of the
    # view's (n,); None where the view's own baseline is the path without the plan
    without_c0: np.ndarray | None = None
    without_scale: np.ndarray | None = None

    @property
    def before_c0(self) -> np.ndarray:
        """(n,) capacity without the plan: ``c0``, or over time at a plan's own growth
        rates the no-policy path's (``c0`` then also holds the growth the plan induces)."""
        return self.c0 if self.without_c0 is None else self.without_c0

    @property
    def n(self) -> int:
        return len(self.population)

    @property
    def pop_share(self) -> np.ndarray:
        return self.population / self.population.sum()

    @property
    def region_ids(self) -> list[str]:
        return self.regions.ids

    def x_max_busd(self) -> np.ndarray:
        """(n, m) the most region r can receive of instrument i."""
        return np.where(self.allowed, self.cap_busd[:, None], 0.0)


def _resolve_refs(refs: Iterable[str], regions: Regions, key: str) -> list[str]:
    out = []
    for ref in refs:
        rid = regions.lookup(ref)
        if rid is None:
            raise ScenarioError(
                f"{key}: '{ref}' is not a region of {regions.source} "
                "(use a region_id, postal code or name)"
            )
        out.append(rid)
    return out


def missing_fill(column: pd.Series, policy: str) -> float:
    """The value a missing cell of ``column`` takes under ``policy``: 0 (zero), the
    median, or half the smallest published value (half_min: a cell withheld as below
    publication is small, not absent)."""
    if policy == "zero":
        return 0.0
    if policy == "median":
        return float(column.median())
    if policy == "half_min":
        return 0.5 * float(column.min())
    raise ValueError(f"unknown missing-value policy {policy!r}")


@functools.lru_cache(maxsize=64)
def _indicator_values(
    regions: Regions, used: tuple[str, ...], policies: tuple[str, ...]
) -> tuple[pd.DataFrame, np.ndarray, dict[str, int]]:
    """The used indicator columns after the missing-value policy, as a table and as a
    read-only array (cached: re-solves that only change weights or lambda reuse them)."""
    values = regions.table[list(used)].copy()
    filled: dict[str, int] = {}
    for column, policy in zip(used, policies, strict=True):
        gaps = values[column].isna()
        if not gaps.any():
            continue
        if policy == "error":
            i = int(np.flatnonzero(gaps.to_numpy())[0])
            rid = regions.table.at[i, "region_id"]
            raise DataError(
                f"{int(gaps.sum())} missing value(s), first for region {rid}; set "
                f"missing_values.{column} to 'zero', 'median' or 'half_min' in the scenario, "
                "or drop "
                "the indicator from weights and absorbs",
                file=regions.source, column=column,
            )
        fill = missing_fill(values[column], policy)
        values[column] = values[column].fillna(fill)
        filled[column] = int(gaps.sum())
    array = values.to_numpy(float)
    array.flags.writeable = False
    return values, array, filled


def resolve(regions: Regions, scenario: Scenario) -> ModelInputs:
    """Check a scenario against a regions table and turn both into model arrays.

    One step per rule, named like the model's constraints; each raises
    ``ScenarioError``/``DataError`` naming what is wrong. The returned inputs carry the
    scenario with region references resolved to region_ids.
    """
    data = scenario.to_dict()
    n = len(regions)
    _check_weights(regions, scenario, data)
    instruments = _instrument_specs(regions, data)
    _check_spread_measure(scenario, n)
    baseline = _baseline(regions, scenario, instruments)
    _absolute_yields(instruments, baseline)
    names = tuple(instruments)
    multiplier, saturation = _response_scales(scenario, names, instruments, baseline,
                                              regions.population)
    raised, yields, totals, effectiveness = _yields(scenario, names, instruments, baseline)
    budget = scenario.budget / BUSD
    if budget <= 0:
        raise ScenarioError("budget: must be positive")
    floor, cap, bounds = _region_bounds(regions, scenario, budget)
    allowed, excluded, exclusions = _exclusions(regions, scenario, baseline.c0, names)
    groups = _group_min(regions, scenario)
    if scenario.top_k_share_cap is not None and scenario.top_k_share_cap.k > n:
        raise ScenarioError(f"top_k_share_cap.k: {scenario.top_k_share_cap.k} is more than "
                            f"the {n} regions")
    lo, hi = instrument_share(scenario, names)
    # an instrument that buys nothing the plan values gets no money unless a share rule
    # asks for it (its all-zero columns otherwise leave HiGHS unable to classify an
    # infeasible LP); funding it never raised the objective
    unvalued = (effectiveness <= 0) & (lo <= 0)
    if unvalued.any() and (effectiveness > 0).any():
        allowed = allowed & ~unvalued
    hubs = _resolve_hubs(regions, scenario, budget) if scenario.hubs is not None else None

    changes = {"instruments": instruments, "region_bounds": bounds, "exclusions": exclusions}
    changed = {k: v for k, v in changes.items() if data[k] != v}
    resolved = scenario.updated(**changed) if changed else scenario
    return ModelInputs(
        hubs=hubs,
        scenario=resolved, regions=regions, instruments=names, population=regions.population,
        filled_values=baseline.filled, indicator_values=baseline.values, c0=baseline.c0,
        multiplier=multiplier, effectiveness=effectiveness, saturation_busd=saturation,
        raised=raised, yields_per_busd=yields, national_totals=totals,
        budget_busd=budget, floor_busd=floor, cap_busd=cap, allowed=allowed,
        instrument_min_share=lo, instrument_max_share=hi, groups=groups,
        excluded_ids=tuple(excluded),
    )


def _check_weights(regions: Regions, scenario: Scenario, data: dict[str, Any]) -> None:
    """The weighted indicators are numeric columns of the regions, not all zero."""
    indicators = set(regions.indicators)
    absent = sorted(set(scenario.weights) - indicators)
    if absent:
        if data["weights"] == _default_dict()["weights"]:
            hint = (f" (`placefund solve --regions {regions.source}` without --scenario uses the "
                    f"documented default of the {regions.source} and saves it as scenario.yaml)"
                    if regions.source in ("metros", "counties") else "")
            raise ScenarioError(
                f"weights: the default weights use indicators that {regions.source} lacks "
                f"({absent}); set `weights` in the scenario to its indicator columns "
                f"{sorted(indicators)}{hint}"
            )
        raise ScenarioError(
            f"weights: {absent} not numeric indicator column(s) of {regions.source}; "
            f"its indicators are {sorted(indicators)}"
        )
    if sum(w for k, w in scenario.weights.items()) <= 0:
        raise ScenarioError("weights: all weights are zero")


def _instrument_specs(regions: Regions, data: dict[str, Any]) -> dict[str, Any]:
    """The instruments (as mappings), each absorbing through and yielding indicators the
    regions have. With a table of the user's own, the default instruments absorb through
    the capacity index, and an instrument whose default yield columns the table lacks
    raises every weighted indicator as it raises the states index (``fallback_yields``)."""
    indicators = set(regions.indicators)
    instruments = {k: dict(v) for k, v in data["instruments"].items()}
    default_instruments = data["instruments"] == _default_dict()["instruments"]
    for name, spec in instruments.items():
        absorbs = spec["absorbs"]
        if absorbs:
            missing = sorted(set(absorbs) - indicators)
            if missing and default_instruments:
                # contract: with a user's CSV the default instruments absorb through the index
                spec["absorbs"] = None
            elif missing:
                raise ScenarioError(
                    f"instruments.{name}.absorbs: {missing} not indicator column(s) of "
                    f"{regions.source}; its indicators are {sorted(indicators)}"
                )
        missing = sorted(set(spec["yields"]) - indicators)
        if missing and default_instruments and name in default_points_per_busd():
            spec["yields"] = fallback_yields(name, data["weights"])
        elif missing:
            raise ScenarioError(
                f"instruments.{name}.yields: {missing} not indicator column(s) of "
                f"{regions.source}; name what $1B of {name} raises in its columns "
                f"{sorted(indicators)}, in each column's own unit"
            )
    return instruments


@functools.cache
def default_points_per_busd() -> dict[str, float]:
    """Capacity points per $1B of each default instrument in the default states plan."""
    from optimizer.engine.data import load_regions

    inputs = resolve(load_regions("states"), default_scenario())
    return dict(zip(inputs.instruments, inputs.effectiveness.tolist(), strict=True))


def fallback_yields(instrument: str, weights: dict[str, float]) -> dict[str, str]:
    """Yields of a default instrument on a table without its columns: it raises every
    weighted indicator by the share of its national total per $1B that it raises the
    default states capacity index by, so it buys the same points per $1B there."""
    share = share_yield(default_points_per_busd()[instrument])
    return {k: share for k, w in weights.items() if w > 0}


def _check_spread_measure(scenario: Scenario, n: int) -> None:
    """The exact pairwise Gini only for region sets it can solve."""
    if scenario.spread_measure == "gini" and n > MAX_GINI_REGIONS:
        raise ScenarioError(
            f"spread_measure: the exact pairwise Gini needs {n * (n - 1) // 2:,} pair variables "
            f"for {n:,} regions (minutes to hours to solve); set spread_measure: hoover "
            f"(linear in size) for region sets over {MAX_GINI_REGIONS} regions; the plan's true "
            "Gini is reported either way"
        )


@dataclass(frozen=True, eq=False)
class _Baseline:
    """The used indicators after the missing-value policy, their shares, and c0."""

    values: pd.DataFrame  # (n, used)
    filled: dict[str, int]
    shares: np.ndarray  # (n, used), each column sums to 1
    column: dict[str, int]  # indicator -> column of ``shares``
    c0: np.ndarray  # (n,) baseline capacity points, sums to 100
    totals: np.ndarray  # (used,) national totals V_k
    raw: Any = None  # column -> (n,) the raw column (NaN where not published)


def _baseline(regions: Regions, scenario: Scenario, instruments: dict[str, Any]) -> _Baseline:
    """Indicator shares and baseline capacity c0 = 100 * sum_k w_k share_rk."""
    used = sorted({k for k, w in scenario.weights.items() if w > 0}
                  | {k for spec in instruments.values() for k in (spec["absorbs"] or [])})
    values, array, filled = _indicator_values(
        regions, tuple(used), tuple(scenario.missing_policy(k) for k in used))
    totals = array.sum(axis=0)
    zero_total = [k for k, total in zip(used, totals, strict=True) if total <= 0]
    if zero_total:
        raise DataError(f"indicator(s) {zero_total} are zero for every region; shares are "
                        "undefined", file=regions.source)
    shares = array / totals  # (n, used), numpy: re-solves call this often
    column = {k: j for j, k in enumerate(used)}
    weights = {k: w for k, w in scenario.normalized_weights.items() if w > 0}
    c0 = 100.0 * (shares[:, [column[k] for k in weights]] @ np.array(list(weights.values())))
    return _Baseline(values, filled, shares, column, c0, totals, regions.column_values)


def _national_total(baseline: _Baseline, k: str) -> float:
    """V_k: a used indicator's total after the missing-value policy; a column only yielded
    is summed over the regions that publish it."""
    return float(baseline.totals[baseline.column[k]] if k in baseline.column
                 else np.nansum(baseline.raw(k)))


def _absolute_yields(instruments: dict[str, Any], baseline: _Baseline) -> None:
    """Yields given as a share of the national total ('0.5%') in the indicator's unit."""
    for spec in instruments.values():
        if any(isinstance(y, str) for y in spec["yields"].values()):
            spec["yields"] = {k: yield_value(y, _national_total(baseline, k))
                              for k, y in spec["yields"].items()}


def _response_scales(
    scenario: Scenario, names: tuple[str, ...], instruments: dict[str, Any],
    baseline: _Baseline, population: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The response's multipliers m_ri and saturation s_ri ($B)."""
    pop_share = population / population.sum()
    intensity = np.empty((len(population), len(names)))
    for j, name in enumerate(names):
        absorbs = instruments[name]["absorbs"]
        own_share = (baseline.c0 / 100.0 if not absorbs
                     else baseline.shares[:, [baseline.column[k] for k in absorbs]].mean(axis=1))
        intensity[:, j] = own_share / pop_share
    multiplier = np.maximum(intensity, scenario.min_absorption) ** scenario.complementarity
    saturation = np.outer(pop_share, [instruments[k]["saturation_usd"] / BUSD for k in names])
    return multiplier, saturation


def _yields(
    scenario: Scenario, names: tuple[str, ...], instruments: dict[str, Any], baseline: _Baseline,
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray]:
    """The raised indicators, yields e_ik per $B (m, K), their national totals V_k and the
    points per $B they are worth, a_i = 100 * sum_k w_k e_ik / V_k."""
    raised = tuple(sorted({k for name in names for k in instruments[name]["yields"]}))
    yields = np.array([[float(instruments[name]["yields"].get(k, 0.0)) for k in raised]
                       for name in names]).reshape(len(names), len(raised))
    weights = scenario.normalized_weights
    w = np.array([weights.get(k, 0.0) for k in raised])
    # a column only yielded (no weight, no absorption) counts nothing: its total, for
    # reporting, is over the regions where it is published
    totals = np.array([_national_total(baseline, k) for k in raised])
    valued = w > 0
    points = 100.0 * (yields[:, valued] / totals[valued]) @ w[valued]
    return raised, yields, totals, points


def _region_bounds(regions: Regions, scenario: Scenario,
                   budget: float) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """floor_r and cap_r ($B; caps at most the budget) and the region bounds by region_id."""
    population = regions.population
    n = len(regions)
    floor = np.full(n, scenario.region_floor_usd / BUSD)
    floor = np.maximum(floor, population * scenario.region_floor_usd_per_capita / BUSD)
    cap = np.full(n, np.inf)
    if scenario.region_cap_usd is not None:
        cap = np.minimum(cap, scenario.region_cap_usd / BUSD)
    if scenario.region_cap_usd_per_capita is not None:
        cap = np.minimum(cap, population * scenario.region_cap_usd_per_capita / BUSD)
    if scenario.max_region_share is not None:
        cap = np.minimum(cap, scenario.max_region_share * budget)
    index = {rid: i for i, rid in enumerate(regions.ids)}
    bounds = {}
    for ref, rb in scenario.region_bounds.items():
        rid = _resolve_refs([ref], regions, f"region_bounds.{ref}")[0]
        bounds[rid] = rb.model_dump(mode="json")
        floor[index[rid]] = rb.floor_usd / BUSD
        if rb.cap_usd is not None:
            cap[index[rid]] = rb.cap_usd / BUSD
    return floor, np.minimum(cap, budget), bounds


def _exclusions(regions: Regions, scenario: Scenario, c0: np.ndarray,
                names: tuple[str, ...]) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """Which (region, instrument) may be funded, the excluded region_ids, and the
    exclusions with region_ids."""
    n = len(regions)
    allowed = np.ones((n, len(names)), dtype=bool)
    excl = scenario.exclusions
    excluded = _resolve_refs(excl.regions, regions, "exclusions.regions")
    if excl.top_k_incumbents > n:
        raise ScenarioError(f"exclusions.top_k_incumbents: {excl.top_k_incumbents} is more "
                            f"than the {n} regions")
    if excl.top_k_incumbents:
        order = np.argsort(-c0, kind="stable")[: excl.top_k_incumbents]
        excluded += [regions.ids[i] for i in order]
    excluded = sorted(set(excluded))
    index = {rid: i for i, rid in enumerate(regions.ids)}
    for rid in excluded:
        allowed[index[rid], :] = False
    by_instrument = {}
    for ref, names_out in excl.instruments.items():
        rid = _resolve_refs([ref], regions, f"exclusions.instruments.{ref}")[0]
        by_instrument[rid] = list(names_out)
        for name in names_out:
            allowed[index[rid], names.index(name)] = False
    resolved = {"regions": _resolve_refs(excl.regions, regions, "exclusions.regions"),
                "top_k_incumbents": excl.top_k_incumbents, "instruments": by_instrument}
    return allowed, excluded, resolved


def _group_min(regions: Regions, scenario: Scenario) -> tuple[GroupRule, ...]:
    """The group minimum shares, each with its member regions."""
    group_rules = []
    for column, mins in scenario.group_min_shares.items():
        if column not in regions.groups:
            raise ScenarioError(f"group_min_shares.{column}: not a text group column of "
                                f"{regions.source}; its group columns are {list(regions.groups)}")
        labels = regions.table[column]
        for value, share in mins.items():
            members = np.flatnonzero((labels == value).to_numpy())
            if len(members) == 0:
                raise ScenarioError(
                    f"group_min_shares.{column}.{value}: no region has {column} = '{value}'; "
                    f"values are {sorted(labels.unique())}"
                )
            group_rules.append(GroupRule(column, str(value), members, share))
    return tuple(group_rules)


def instrument_share(scenario: Scenario, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Each instrument's minimum and maximum share of the budget (0 and 1 if unset)."""
    lo = np.zeros(len(names))
    hi = np.ones(len(names))
    for name, rng in scenario.instrument_shares.items():
        lo[names.index(name)], hi[names.index(name)] = rng.min, rng.max
    return lo, hi


@functools.cache
def _default_dict() -> dict:
    """The default scenario as a mapping (read-only)."""
    return default_scenario().to_dict()


def _truthy(labels: pd.Series) -> np.ndarray:
    return labels.astype(str).str.strip().str.lower().isin(["true", "1", "yes", "y"]).to_numpy()


def _resolve_hubs(regions: Regions, scenario: Scenario, budget_busd: float) -> HubRules:
    """Check the hub rules against the regions' group columns."""
    spec = scenario.hubs
    assert spec is not None
    n = len(regions)
    table = regions.table
    notes: list[str] = []

    def column(key: str, name: str) -> pd.Series:
        if name not in regions.groups:
            raise ScenarioError(f"{key}: '{name}' is not a text group column of {regions.source}; "
                                f"its group columns are {list(regions.groups)}")
        return table[name]

    group_min = []
    for name, rule in spec.min_per_group.items():
        labels = column(f"hubs.min_per_group.{name}", name)
        values = sorted(labels.unique()) if isinstance(rule, int) else list(rule)
        for value in values:
            minimum = rule if isinstance(rule, int) else rule[value]
            members = np.flatnonzero((labels == value).to_numpy())
            if len(members) == 0:
                raise ScenarioError(f"hubs.min_per_group.{name}.{value}: no region has {name} = "
                                    f"'{value}'")
            group_min.append((name, str(value), members, int(minimum)))
    group_max_one = []
    for name in spec.max_one_per_group:
        labels = column(f"hubs.max_one_per_group.{name}", name)
        for value in sorted(labels.unique()):
            group_max_one.append((name, str(value), np.flatnonzero((labels == value).to_numpy())))
    designated = None
    if spec.designated is not None:
        name = spec.designated.column
        if name in table.columns and name != "region_id":
            designated = (np.flatnonzero(_truthy(table[name])), spec.designated.min_share)
        elif spec.designated.if_missing == "skip":
            notes.append(f"hubs.designated not applied: {regions.source} has no column '{name}' "
                         f"(the rule asks {spec.designated.min_share:.0%} of hubs there)")
        else:
            raise ScenarioError(f"hubs.designated.column: '{name}' is not a column of "
                                f"{regions.source}")
    award_max = spec.award_usd.max / BUSD if spec.award_usd.max is not None else budget_busd
    return HubRules(
        count_min=spec.count.min,
        count_max=n if spec.count.max is None else min(spec.count.max, n),
        award_min_busd=spec.award_usd.min / BUSD,
        award_max_busd=min(award_max, budget_busd),
        group_min=tuple(group_min),
        group_max_one=tuple(group_max_one),
        designated=designated,
        notes=tuple(notes),
    )


def describe_usd_busd(amount_busd: float) -> str:
    """Format an amount held in $B for people."""
    return usd(amount_busd * BUSD)


