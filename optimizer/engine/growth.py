"""Plans over time: how capacity grows year by year, with and without a plan (numpy only).

Years are t = 1..T; year 0 is today's data: baseline capacity c0 (points, national
total 100) and population shares p (``ModelInputs.c0``, ``ModelInputs.pop_share``).

- **Growth rate.** Every indicator of region r grows in year t at
  g_r(t) = base_rate + eta * ln(max(y_r(t-1), Y_MIN)), where
  y_r = (C_r / sum_s C_s) / p_r is the region's per-capita capacity relative to the
  nation's at that time (the population-weighted mean of y is 1, so ln y is 0 for an
  average region, positive for an intensive one).
- **No-policy path.** C0_r(t) = C0_r(t-1) * (1 + g_r(t)), C0_r(0) = c0_r.
- **Linearized on the no-policy path.** The rates are fixed where the no-policy path
  puts them, so funding does not change them: a gain Delta_r(t) bought in year t (points;
  the response of today, sum_i a_i m_ri s_ri ln(1 + x_rit / s_ri), with the saturation
  s applying to each year's funding) is worth G_r(t -> u) = prod_{tau=t+1..u} (1 + g_r(tau))
  at year u >= t, and C_r(u) = C0_r(u) + sum_{t<=u} G_r(t -> u) Delta_r(t). Capacity is
  then linear in the yearly gains, which keeps the plan an LP (the factors G are its
  coefficients). ``relinearized`` recomputes the rates on a plan's own path, and
  ``exact_path`` is the unlinearized dynamics that repeating it converges to; every plan
  over time reports its objective under them too (``unlinearized_objective``), so the
  size of the linearization is measured, plan by plan.

Absorptive multipliers m and saturation scales s stay today's: the response of a
dollar does not change as a region grows (only what its gains are worth later does).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np
import pandas as pd

from optimizer.engine import columns
from optimizer.engine.inputs import ModelInputs
from optimizer.engine.metrics import concentration, spread_adjusted, top_k_count, weighted_gini
from optimizer.engine.response import gain_points, indicator_gains
from optimizer.engine.scenario import Y_MIN, Scenario


class ResponseArrays(Protocol):
    """What the dynamics read of a resolved scenario (``ModelInputs`` has all of it)."""

    @property
    def c0(self) -> np.ndarray: ...  # (n,) baseline capacity points

    @property
    def pop_share(self) -> np.ndarray: ...  # (n,) population shares, sum 1

    @property
    def effectiveness(self) -> np.ndarray: ...  # (m,) a_i, points per $B

    @property
    def multiplier(self) -> np.ndarray: ...  # (n, m) m_ri

    @property
    def saturation_busd(self) -> np.ndarray: ...  # (n, m) s_ri, $B per year


def _rate(capacity: np.ndarray, share: np.ndarray, base_rate: float, eta: float) -> np.ndarray:
    """g = base_rate + eta * ln(max(y, Y_MIN)) for capacity (..., n) at the year before.

    Y_MIN keeps the logarithm finite for a region with (nearly) no capacity: ln 0 would
    be minus infinity, a rate no data supports. 1e-3 (a thousandth of the national
    per-capita level) lies below every shipped region with any capacity, so it binds
    only for regions whose weighted indicators are all (nearly) zero, and the slowest
    possible rate is base_rate + eta * ln(1e-3) = base_rate - 6.91 eta (the scenario
    refuses settings where that would reach -100% a year).
    """
    y = (capacity / capacity.sum(axis=-1, keepdims=True)) / share
    g = base_rate + eta * np.log(np.maximum(y, Y_MIN))
    if np.any(g <= -1.0):
        raise ValueError("a growth rate of -100% a year or less: every region must keep "
                         "some capacity (raise base_rate or lower the elasticity)")
    return np.asarray(g, float)


def _path_and_rates(c0: np.ndarray, share: np.ndarray, base_rate: float, eta: float,
                    years: int) -> tuple[np.ndarray, np.ndarray]:
    """The no-policy path (T+1, n) and the rates along it (T, n), year by year."""
    c0 = np.asarray(c0, float)
    share = np.asarray(share, float)
    path = np.empty((years + 1, len(c0)))
    g = np.empty((years, len(c0)))
    path[0] = c0
    for t in range(1, years + 1):
        g[t - 1] = _rate(path[t - 1], share, base_rate, eta)
        path[t] = path[t - 1] * (1.0 + g[t - 1])
    return path, g


def rates(c0: np.ndarray, share: np.ndarray, base_rate: float, eta: float,
          years: int) -> np.ndarray:
    """(T, n) g_r(t) on the no-policy path; row t-1 is year t's rate (set by year t-1)."""
    return _path_and_rates(c0, share, base_rate, eta, years)[1]


def no_policy_path(c0: np.ndarray, share: np.ndarray, base_rate: float, eta: float,
                   years: int) -> np.ndarray:
    """(T+1, n) capacity without funding: row 0 is c0, row t is C0(t)."""
    return _path_and_rates(c0, share, base_rate, eta, years)[0]


def no_policy(inputs: ModelInputs) -> tuple[np.ndarray, np.ndarray]:
    """The no-policy path (T+1, n) and its rates (T, n) over a resolved scenario's years,
    at its growth keys: the linearization point of its plan over time."""
    growth = inputs.scenario.growth
    return _path_and_rates(inputs.c0, inputs.pop_share, growth.base_rate,
                           growth.agglomeration_elasticity, inputs.scenario.periods.years)


def over_time(inputs: ModelInputs, year: int | None = None) -> ModelInputs:
    """A plan over T years as one period with T*m (year, instrument) columns, year-major:
    the LP's view of it. Column (t, i) of region r has instrument i's yields and
    saturation (the saturation applies to each year's funding) and the multiplier
    m_ri G_r(t -> T), so its response is the gain bought in year t as worth in year T;
    the baseline is year T of the path without the plan's money, and indicator values
    grow with it. The exact final-year capacity of a plan x (n, T*m) is then c0 + sum of
    the columns' gains, as ``plan_path`` gives it.

    The rates are the no-policy path's, or ``inputs.growth_rates`` (a plan's own, with
    ``growth.rates_from: plan``): c0 is then c0 grown at those rates, which includes the
    growth the plan induces, and ``without_c0``/``without_scale`` keep the no-policy
    path's numbers, which are what "without the plan" means. National totals are the
    no-policy path's either way.

    ``year`` (1..T, default T) carries everything to that year instead: columns of later
    years are worth nothing there (a plan made year by year looks no further).
    """
    years = inputs.scenario.periods.years
    year = years if year is None else year
    path_none, g_none = no_policy(inputs)
    g = g_none if inputs.growth_rates is None else inputs.growth_rates
    path = path_none if inputs.growth_rates is None else path_at_rates(inputs.c0, g)
    worth = carry(g)[:, year - 1]  # (T, n): G(t -> year), 0 for t > year
    grown = np.cumprod(1.0 + g[:year], axis=0)[-1]  # (n,) how r's indicators grow by then
    grown_none = np.cumprod(1.0 + g_none[:year], axis=0)[-1]
    values = inputs.indicator_values.mul(grown, axis=0)
    before = inputs.indicator_values.to_numpy(float)
    totals = inputs.national_totals * np.array([
        np.nansum(before[:, inputs.indicator_values.columns.get_loc(k)] * grown_none)
        / max(np.nansum(before[:, inputs.indicator_values.columns.get_loc(k)]), 1e-300)
        if k in inputs.indicator_values.columns else 1.0 for k in inputs.raised])
    at_plan = inputs.growth_rates is not None
    return dataclasses.replace(
        inputs,
        instruments=inputs.instruments * years,
        effectiveness=np.tile(inputs.effectiveness, years),
        multiplier=np.hstack([inputs.multiplier * worth[t][:, None] for t in range(years)]),
        yields_per_busd=np.tile(inputs.yields_per_busd, (years, 1)),
        saturation_busd=np.tile(inputs.saturation_busd, (1, years)),
        allowed=np.tile(inputs.allowed, (1, years)),
        instrument_min_share=np.zeros(years * len(inputs.instruments)),
        instrument_max_share=np.ones(years * len(inputs.instruments)),
        c0=path[year], indicator_values=values, national_totals=totals, years=years,
        without_c0=path_none[year] if at_plan else None,
        without_scale=grown_none / grown if at_plan else None)


def plan_rates(inputs: ModelInputs, x_busd: np.ndarray) -> np.ndarray:
    """(T, n) the growth rates on the plan's own path: each year's rate read from the
    unlinearized dynamics of the plan x (T, n, m) in $B (``exact_path``) at the year
    before. Solving again at these rates, until they stop moving, is what
    ``growth.rates_from: plan`` does."""
    growth = inputs.scenario.growth
    path = exact_path(inputs, x_busd, growth.base_rate, growth.agglomeration_elasticity)
    return relinearized(inputs.c0, inputs.pop_share, growth.base_rate,
                        growth.agglomeration_elasticity, path)


def at_rates(inputs: ModelInputs, g: np.ndarray | None) -> ModelInputs:
    """``inputs`` (today's, not a view over time) with its dynamics linearized at rates
    ``g`` (T, n), or at the no-policy path's (None)."""
    return dataclasses.replace(inputs, growth_rates=None if g is None else np.asarray(g, float))


def follows_plan(inputs: ModelInputs) -> bool:
    """Whether the scenario reads its growth rates off the plan's own path."""
    sc = inputs.scenario
    return sc.periods.years > 1 and sc.growth.rates_from == "plan"


def at_plan(inputs: ModelInputs, x_busd: np.ndarray) -> ModelInputs:
    """``inputs`` at the rates its scenario reads: the no-policy path's, or with
    ``growth.rates_from: plan`` those of the plan x (T, n, m) in $B (``plan_rates``)."""
    return at_rates(inputs, plan_rates(inputs, x_busd)) if follows_plan(inputs) else inputs


def path_at_rates(c0: np.ndarray, g: np.ndarray) -> np.ndarray:
    """(T+1, n) c0 grown at given rates g (T, n): row t is c0 * prod_{tau<=t} (1 + g(tau))."""
    growth = np.cumprod(1.0 + np.asarray(g, float), axis=0)
    return np.vstack([np.asarray(c0, float)[None, :], np.asarray(c0, float) * growth])


def carry(g: np.ndarray) -> np.ndarray:
    """(T, T, n) G[t-1, u-1, r] = G_r(t -> u) = prod_{tau=t+1..u} (1 + g_r(tau)) for u >= t
    (1 at u = t), 0 for u < t (a gain counts from the year it is bought)."""
    g = np.asarray(g, float)
    years, n = g.shape
    factors = np.zeros((years, years, n))
    for t in range(years):
        factors[t, t] = 1.0
        if t + 1 < years:
            factors[t, t + 1:] = np.cumprod(1.0 + g[t + 1:], axis=0)
    return factors


def carry_to_final(g: np.ndarray) -> np.ndarray:
    """(T, n) G_r(t -> T): what a point bought in year t is worth in the final year."""
    return carry(g)[:, -1]


def yearly_gains(arrays: ResponseArrays, x_busd: np.ndarray) -> np.ndarray:
    """(T, n) Delta_r(t) = sum_i a_i m_ri s_ri ln(1 + x_rit / s_ri): each year's funding
    x (T, n, m) in $B, with the saturation applying to that year's amount."""
    x = np.asarray(x_busd, float)
    return np.stack([gain_points(x[t], arrays).sum(axis=1)  # type: ignore[arg-type]
                     for t in range(x.shape[0])]) if x.shape[0] else np.zeros((0, len(arrays.c0)))


def plan_path(arrays: ResponseArrays, x_busd: np.ndarray, base_rate: float, eta: float,
              g: np.ndarray | None = None) -> np.ndarray:
    """(T+1, n) capacity with the plan x (T, n, m) in $B:
    C(u) = C0(u) + sum_{t<=u} G(t -> u) Delta(t), row 0 = c0.

    The rates are the no-policy path's (the linearization) unless ``g`` (T, n) gives
    others, e.g. ``relinearized`` on an earlier plan's path; C0 is then c0 grown at ``g``.
    """
    years = np.asarray(x_busd).shape[0]
    if g is None:
        base, g = _path_and_rates(arrays.c0, arrays.pop_share, base_rate, eta, years)
    else:
        base = path_at_rates(arrays.c0, g)
    gains = yearly_gains(arrays, x_busd)
    bought = np.einsum("tun,tn->un", carry(g), gains)
    return np.vstack([base[:1], base[1:] + bought])


def relinearized(c0: np.ndarray, share: np.ndarray, base_rate: float, eta: float,
                 capacity_path: np.ndarray) -> np.ndarray:
    """(T, n) the rates recomputed on a given path (T+1, n), e.g. a plan's: year t's rate
    from the path's year t-1. Row 0 depends on c0 alone, so it is the no-policy rate.
    Solving again with these rates, until the plan stops moving, removes the
    linearization."""
    path = np.asarray(capacity_path, float)
    if not np.allclose(path[0], np.asarray(c0, float), rtol=1e-12, atol=0.0):
        raise ValueError("the path must start at today's capacity c0 (row 0)")
    return _rate(path[:-1], np.asarray(share, float), base_rate, eta)


def exact_path(arrays: ResponseArrays, x_busd: np.ndarray, base_rate: float,
               eta: float) -> np.ndarray:
    """(T+1, n) the unlinearized dynamics of a plan x (T, n, m) in $B
    (``dynamics_of_gains``): the fixed point of ``plan_path`` with ``relinearized`` rates."""
    return dynamics_of_gains(arrays.c0, arrays.pop_share, yearly_gains(arrays, x_busd),
                             base_rate, eta)


def dynamics_of_gains(c0: np.ndarray, share: np.ndarray, gains: np.ndarray, base_rate: float,
                      eta: float) -> np.ndarray:
    """(T+1, n) C(t) = C(t-1) * (1 + g(t)) + Delta(t) for yearly gains Delta (T, n), the
    rate g(t) set by this path itself at t-1 (so funding also speeds growth where eta > 0),
    C(0) = c0. With eta = 0 the rates do not depend on capacity and this is ``plan_path``."""
    gains = np.asarray(gains, float)
    share = np.asarray(share, float)
    path = np.empty((gains.shape[0] + 1, len(c0)))
    path[0] = c0
    for t in range(1, gains.shape[0] + 1):
        path[t] = path[t - 1] * (1.0 + _rate(path[t - 1], share, base_rate, eta)) + gains[t - 1]
    return path


def horizon_objective(capacity_path: np.ndarray, population: np.ndarray, spread_weight: float,
                      spread_measure: str, objective_year: str = "final",
                      discount_rate: float = 0.0) -> float:
    """The horizon objective of a path (T+1, n): final = S_lambda(C(T)); discounted =
    sum_{t=1..T} S_lambda(C(t)) / (1 + r)^t (``metrics.spread_adjusted``)."""
    path = np.asarray(capacity_path, float)
    if objective_year == "final":
        return spread_adjusted(path[-1], population, spread_weight, spread_measure)
    if objective_year != "discounted":
        raise ValueError(f"objective_year must be 'final' or 'discounted', got {objective_year!r}")
    return float(sum(spread_adjusted(path[t], population, spread_weight, spread_measure)
                     / (1.0 + discount_rate) ** t for t in range(1, len(path))))


def unlinearized_objective(c0: np.ndarray, population: np.ndarray, gains: np.ndarray,
                           scenario: Scenario) -> float:
    """The scenario's horizon objective on the unlinearized dynamics of yearly gains
    Delta (T, n) (``dynamics_of_gains``): what the plan would score were the growth rates
    to follow its own path rather than the path without it."""
    population = np.asarray(population, float)
    growth = scenario.growth
    path = dynamics_of_gains(c0, population / population.sum(), gains, growth.base_rate,
                             growth.agglomeration_elasticity)
    return scenario_objective(path, population, scenario)


def scenario_objective(capacity_path: np.ndarray, population: np.ndarray,
                       scenario: Scenario) -> float:
    """``horizon_objective`` with the scenario's lambda, spread measure and objective year."""
    return horizon_objective(capacity_path, population, scenario.spread_weight,
                             scenario.spread_measure, scenario.objective_year,
                             scenario.discount_rate)


def top_share(capacity: np.ndarray, k: int | None = None) -> np.ndarray:
    """Share of capacity held by the k largest regions, per row of (..., n) (a path gives
    one share a year); k defaults to the project's top-k (``metrics.top_k_count``: 10, or
    a third of the regions in small sets)."""
    c = np.asarray(capacity, float)
    k = top_k_count(c.shape[-1]) if k is None else min(k, c.shape[-1])
    top = -np.sort(-c, axis=-1)[..., :k]
    return np.asarray(top.sum(axis=-1) / c.sum(axis=-1))


def gini_path(capacity_path: np.ndarray, population: np.ndarray) -> np.ndarray:
    """(T+1,) the population-weighted Gini of per-capita capacity each year
    (``metrics.weighted_gini``)."""
    share = np.asarray(population, float) / np.sum(population)
    path = np.asarray(capacity_path, float)
    return np.array([weighted_gini(row / (100.0 * share), share) for row in path])


YEARLY_METRIC_COLUMNS = ("year", "metric", "without_plan", "with_plan")


def yearly_metrics(without: np.ndarray, with_plan: np.ndarray, population: np.ndarray,
                   spread_weight: float) -> pd.DataFrame:
    """Every concentration metric (``metrics.concentration``) of each year (0..T) of two
    paths (T+1, n), tidy: year, metric, without the plan, with it. The divergence the
    no-policy path shows (top-k share, Gini by year) sits beside the plan's. The share
    the baseline's top regions keep follows today's top regions."""
    top = np.argsort(-np.asarray(without[0], float), kind="stable")
    rows = []
    for year, (a, b) in enumerate(zip(without, with_plan, strict=True)):
        before = concentration(a, population, spread_weight, top)
        after = concentration(b, population, spread_weight, top)
        rows += [(year, key, before[key], after[key]) for key in before]
    return pd.DataFrame(rows, columns=list(YEARLY_METRIC_COLUMNS))


def budget_by_year_cents(scenario: Scenario) -> list[int]:
    """Each year's appropriation in whole cents (exact integers, any size): the scenario's
    list, or the budget split evenly, the cents left over going one each to the first
    years (largest remainder: every year's remainder is the same), so the years sum to the
    budget's cents exactly."""
    if scenario.periods.budget_by_year is not None:
        return [round(a * 100) for a in scenario.periods.budget_by_year]
    years = scenario.periods.years
    share, left = divmod(round(scenario.budget * 100), years)
    return [share + (1 if t < left else 0) for t in range(years)]


def budget_by_year(scenario: Scenario) -> np.ndarray:
    """(T,) each year's appropriation in USD: ``budget_by_year_cents`` / 100, or a given
    list as written."""
    if scenario.periods.budget_by_year is not None:
        return np.array(scenario.periods.budget_by_year, float)
    return np.array([c / 100 for c in budget_by_year_cents(scenario)], float)


TRAJECTORY_COLUMNS = ("region_id", "year", "measure", "unit", "without_plan", "gain",
                      "with_plan")
CAPACITY, PER_CAPITA = "capacity", "capacity_per_capita"
TRAJECTORY_FILE = "trajectory.csv"  # a plan over time's folder: its paths, with and without it
YEARLY_FILE = "yearly.csv"  # and its concentration by year (top-k share, Gini, ...)


def trajectory_table(inputs: ModelInputs, x_busd: np.ndarray | None = None) -> pd.DataFrame:
    """One row per region, year (0..T) and measure, tidy: capacity (points), per-capita
    capacity (x today's national average, as ``response.per_capita``) and each weighted,
    then each raised, indicator in its own unit; without the plan, the gain from the plan
    x (T, n, m) in $B (None: no funding over the scenario's years), and with it.

    An indicator of a region grows at the region's rate (without the plan the no-policy
    path's; with it ``inputs.growth_rates`` where set, a plan's own); the plan adds what
    each year's funding raises (``response.indicator_gains``), carried at the same
    factors as capacity points, so for the weighted indicators capacity stays
    100 sum_k w_k v_k / V_k with today's national totals V_k. Where an indicator is not
    published for a region, without and with the plan are empty ("not available") and
    the gain is still given, as in outcomes.csv. People read the columns and measures
    through ``columns.plan_column_label``."""
    sc = inputs.scenario
    base_rate, eta = sc.growth.base_rate, sc.growth.agglomeration_elasticity
    x = (np.zeros((sc.periods.years, inputs.n, len(inputs.instruments))) if x_busd is None
         else np.asarray(x_busd, float))
    T = x.shape[0]
    without, g_none = _path_and_rates(inputs.c0, inputs.pop_share, base_rate, eta, T)
    g = g_none if inputs.growth_rates is None else inputs.growth_rates
    with_plan = plan_path(inputs, x, base_rate, eta, g)
    per_capita = 100.0 * inputs.pop_share
    measures: list[tuple[str, np.ndarray, np.ndarray]] = [
        (CAPACITY, without, with_plan - without),
        (PER_CAPITA, without / per_capita, (with_plan - without) / per_capita),
    ]
    grown_none = path_at_rates(np.ones(inputs.n), g_none)  # (T+1, n): prod (1 + g(tau))
    grown = path_at_rates(np.ones(inputs.n), g)
    factors = carry(g)  # (T, T, n)
    raised = {k: j for j, k in enumerate(inputs.raised)}
    gains = (np.stack([indicator_gains(x[t], inputs) for t in range(T)]) if T
             else np.zeros((0, inputs.n, len(inputs.raised))))  # (T, n, K)
    used = inputs.indicator_values
    weighted = [k for k, w in sc.weights.items() if w > 0]
    for k in [*weighted, *[k for k in inputs.raised if k not in weighted]]:
        today = (used[k].to_numpy(float) if k in used.columns
                 else inputs.regions.column_values(k))
        bought = np.zeros((T + 1, inputs.n))
        if k in raised:
            bought[1:] = np.einsum("tun,tn->un", factors, gains[:, :, raised[k]])
        plain = grown_none * today[None, :]  # empty where not published; the gain is given
        measures.append((k, plain, np.nan_to_num(grown * today[None, :] - plain) + bought))
    n = inputs.n
    ids = np.asarray(inputs.region_ids, dtype=object)
    frames = [pd.DataFrame({
        "region_id": np.tile(ids, T + 1),
        "year": np.repeat(np.arange(T + 1), n),
        "measure": name,
        "unit": _unit(name),
        "without_plan": plain.ravel(),
        "gain": gain.ravel(),
        "with_plan": (plain + gain).ravel(),
    }) for name, plain, gain in measures]
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values(["region_id", "year"], kind="stable", ignore_index=True)


def _unit(measure: str) -> str:
    """A trajectory measure's unit: capacity's from the plan columns, an indicator's own."""
    if measure in (CAPACITY, PER_CAPITA):
        return columns.PLAN_COLUMNS[measure][1]
    return columns.unit(measure)
