"""Plans over time, the arithmetic under the LP: growth rates, the no-policy path, the
factors a gain compounds by, a plan's path, the horizon objective, the yearly budget and
the trajectory table. Small cases are worked by hand in the comments."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import optimizer as pf
from optimizer.engine import growth as gr
from optimizer.engine.columns import plan_column_label
from optimizer.engine.inputs import resolve
from optimizer.engine.metrics import concentration, spread_adjusted
from optimizer.engine.response import gain_points
from optimizer.engine.scenario import Y_MIN, region_set_default, scenario_from_dict
from tests.factories import make_regions, tiny_scenario


@dataclass(frozen=True)
class Arrays:
    """The response arrays of a hand-made case (what ``ModelInputs`` carries)."""

    c0: np.ndarray
    pop_share: np.ndarray
    effectiveness: np.ndarray
    multiplier: np.ndarray
    saturation_busd: np.ndarray


def two_regions(c0: tuple[float, float] = (60.0, 40.0)) -> Arrays:
    """Two regions of equal population, one instrument worth a = 1 point per $B at m = 1
    with saturation s = $1B a year: x = e - 1 buys ln(e) = 1 point, x = e^2 - 1 buys 2."""
    return Arrays(np.array(c0), np.array([0.5, 0.5]), np.array([1.0]),
                  np.ones((2, 1)), np.ones((2, 1)))


# --- rates and the no-policy path -------------------------------------------------------


def test_without_growth_the_path_is_flat_and_every_factor_is_one() -> None:
    c0, share = np.array([60.0, 30.0, 10.0]), np.array([0.2, 0.3, 0.5])
    g = gr.rates(c0, share, 0.0, 0.0, 4)
    assert np.array_equal(g, np.zeros((4, 3)))
    assert np.array_equal(gr.no_policy_path(c0, share, 0.0, 0.0, 4), np.tile(c0, (5, 1)))
    factors = gr.carry(g)
    later = np.triu(np.ones((4, 4)))[:, :, None]  # G(t -> u) for u >= t
    assert np.array_equal(factors, np.broadcast_to(later, (4, 4, 3)))


def test_two_regions_three_years_by_hand() -> None:
    """c0 = (60, 40), equal populations, base 2%, eta 0.1.
    Year 1: y = (0.6/0.5, 0.4/0.5) = (1.2, 0.8);
      g(1) = 0.02 + 0.1 ln 1.2 = 0.0382322, 0.02 + 0.1 ln 0.8 = -0.0023144;
      C0(1) = (60 * 1.03823216, 40 * 0.99768564) = (62.293929, 39.907426).
    Years 2 and 3 the same way from the year before."""
    c0, share = np.array([60.0, 40.0]), np.array([0.5, 0.5])
    path = gr.no_policy_path(c0, share, 0.02, 0.1, 3)
    g = gr.rates(c0, share, 0.02, 0.1, 3)
    assert g[0] == pytest.approx([0.02 + 0.1 * math.log(1.2), 0.02 + 0.1 * math.log(0.8)],
                                 rel=1e-15)
    assert path[1] == pytest.approx([62.293929, 39.907426], abs=1e-6)
    expected = [[60.0, 40.0]]
    for _ in range(3):
        a, b = expected[-1]
        ya, yb = a / (a + b) / 0.5, b / (a + b) / 0.5
        expected.append([a * (1 + 0.02 + 0.1 * math.log(ya)), b * (1 + 0.02 + 0.1 * math.log(yb))])
    assert path == pytest.approx(np.array(expected), rel=1e-14)
    # the leader pulls away: its share rises every year
    lead = path[:, 0] / path.sum(axis=1)
    assert np.all(np.diff(lead) > 0)


def test_a_region_without_capacity_grows_at_the_floor_rate() -> None:
    # y = 0 is read as Y_MIN = 0.001: g = 0.01 + 0.05 ln 0.001 = 0.01 - 0.345388 = -0.335388
    g = gr.rates(np.array([100.0, 0.0]), np.array([0.5, 0.5]), 0.01, 0.05, 1)
    assert g[0, 1] == pytest.approx(0.01 + 0.05 * math.log(Y_MIN))
    assert g[0, 1] == pytest.approx(-0.335388, abs=1e-6)
    with pytest.raises(ValueError, match="-100% a year"):
        gr.rates(np.array([100.0, 0.0]), np.array([0.5, 0.5]), -0.5, 0.1, 1)


def test_with_agglomeration_the_metros_top_10_share_rises_every_year() -> None:
    regions = pf.load_regions("metros")
    inputs = resolve(regions, region_set_default("metros", regions.indicators))
    path = gr.no_policy_path(inputs.c0, inputs.pop_share, 0.0, 0.0068, 10)
    top = gr.top_share(path, 10)
    assert top.shape == (11,)
    assert top[0] == pytest.approx(concentration(inputs.c0, inputs.population, 0.5)["top10_share"])
    assert np.all(np.diff(top) > 0), top
    assert np.all(np.diff(gr.gini_path(path, inputs.population)) > 0)
    # without agglomeration a common base rate leaves every share where it was
    flat = gr.no_policy_path(inputs.c0, inputs.pop_share, 0.03, 0.0, 10)
    assert gr.top_share(flat, 10) == pytest.approx(np.full(11, top[0]), rel=1e-12)


# --- compounding and a plan's path ------------------------------------------------------


def test_a_gain_compounds_at_the_regions_rate_by_hand() -> None:
    """No agglomeration, base 10%: C0(t) = c0 * 1.1^t and G(t -> u) = 1.1^(u - t).
    Region 1 gets e - 1 in year 1 (1 point), region 2 gets e^2 - 1 in year 3 (2 points):
    C(3) = (60 * 1.331 + 1 * 1.21, 40 * 1.331 + 2) = (81.07, 55.24)."""
    arrays = two_regions()
    x = np.zeros((3, 2, 1))
    x[0, 0, 0] = math.e - 1
    x[2, 1, 0] = math.e ** 2 - 1
    g = gr.rates(arrays.c0, arrays.pop_share, 0.1, 0.0, 3)
    assert gr.carry(g)[0, :, 0] == pytest.approx([1.0, 1.1, 1.21], rel=1e-15)
    assert gr.carry_to_final(g)[:, 1] == pytest.approx([1.21, 1.1, 1.0], rel=1e-15)
    path = gr.plan_path(arrays, x, 0.1, 0.0)
    assert path[0] == pytest.approx([60.0, 40.0])
    assert path[1] == pytest.approx([66.0 + 1.0, 44.0], rel=1e-14)
    assert path[3] == pytest.approx([81.07, 55.24], rel=1e-14)


def test_saturation_applies_to_each_years_funding() -> None:
    """$2(e - 1)B in one year buys ln(2e - 1) = 1.4587 points; split over two years it buys
    ln(e) + ln(e) = 2: absorption is a flow, so spreading over years buys more."""
    arrays = two_regions()
    once = np.zeros((2, 2, 1))
    once[0, 0, 0] = 2 * (math.e - 1)
    split = np.zeros((2, 2, 1))
    split[:, 0, 0] = math.e - 1
    assert gr.plan_path(arrays, once, 0.0, 0.0)[2, 0] - 60.0 == pytest.approx(
        math.log(2 * math.e - 1), rel=1e-14)
    assert gr.plan_path(arrays, split, 0.0, 0.0)[2, 0] - 60.0 == pytest.approx(2.0, rel=1e-14)


def step_by_step(arrays: Arrays, x: np.ndarray, base: float, eta: float) -> np.ndarray:
    """The definition, one region and one year at a time in plain floats: the no-policy
    path year by year, its rates, and the gains bought so far carried one more year and
    topped up by this year's."""
    c0 = [float(v) for v in arrays.c0]
    share = [float(v) for v in arrays.pop_share]
    n, m = len(c0), x.shape[2]
    plain, bought, out = list(c0), [0.0] * n, [list(c0)]
    for t in range(x.shape[0]):
        total = sum(plain)
        rate = [base + eta * math.log(max(plain[r] / total / share[r], Y_MIN)) for r in range(n)]
        plain = [plain[r] * (1 + rate[r]) for r in range(n)]
        for r in range(n):
            gain = sum(float(arrays.effectiveness[i] * arrays.multiplier[r, i]
                             * arrays.saturation_busd[r, i]
                             * math.log(1 + x[t, r, i] / arrays.saturation_busd[r, i]))
                       for i in range(m))
            bought[r] = bought[r] * (1 + rate[r]) + gain
        out.append([plain[r] + bought[r] for r in range(n)])
    return np.array(out)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Arrays, np.ndarray, float, float]:
    n = draw(st.integers(2, 5))
    m = draw(st.integers(1, 3))
    years = draw(st.integers(1, 6))
    positive = st.floats(0.05, 50.0)
    c0 = draw(hnp.arrays(float, n, elements=positive))
    population = draw(hnp.arrays(float, n, elements=positive))
    arrays = Arrays(
        100.0 * c0 / c0.sum(), population / population.sum(),
        draw(hnp.arrays(float, m, elements=st.floats(0.0, 5.0))),
        draw(hnp.arrays(float, (n, m), elements=st.floats(0.3, 3.0))),
        draw(hnp.arrays(float, (n, m), elements=st.floats(0.01, 10.0))))
    x = draw(hnp.arrays(float, (years, n, m), elements=st.floats(0.0, 20.0)))
    return arrays, x, draw(st.floats(-0.2, 0.2)), draw(st.floats(0.0, 0.1))


@settings(max_examples=200, deadline=None)
@given(cases())
def test_plan_path_is_the_definition_step_by_step(case: tuple[Arrays, np.ndarray, float,
                                                              float]) -> None:
    arrays, x, base, eta = case
    assert gr.plan_path(arrays, x, base, eta) == pytest.approx(
        step_by_step(arrays, x, base, eta), rel=1e-11, abs=1e-11)


def test_relinearizing_until_it_stops_moving_reaches_the_exact_dynamics() -> None:
    """On the no-policy path the recomputed rates are the linearization's own; on a plan's
    path they move, and repeating converges to ``exact_path``, where funding speeds growth."""
    arrays = two_regions((50.0, 50.0))
    x = np.zeros((5, 2, 1))
    x[:, 0, 0] = 3.0
    base, eta = 0.01, 0.05
    g0 = gr.rates(arrays.c0, arrays.pop_share, base, eta, 5)
    plain = gr.no_policy_path(arrays.c0, arrays.pop_share, base, eta, 5)
    assert gr.relinearized(arrays.c0, arrays.pop_share, base, eta, plain) == pytest.approx(g0)
    g = g0
    for _ in range(60):
        path = gr.plan_path(arrays, x, base, eta, g)
        g = gr.relinearized(arrays.c0, arrays.pop_share, base, eta, path)
    exact = gr.exact_path(arrays, x, base, eta)
    assert gr.plan_path(arrays, x, base, eta, g) == pytest.approx(exact, rel=1e-12)
    # the funded region's own growth adds to what the linearized plan counts
    assert exact[-1, 0] > gr.plan_path(arrays, x, base, eta)[-1, 0]
    with pytest.raises(ValueError, match="today's capacity"):
        gr.relinearized(arrays.c0, arrays.pop_share, base, eta, plain + 1.0)


# --- the horizon objective and what it reports ------------------------------------------


def test_horizon_objective_final_and_discounted_by_hand() -> None:
    """lambda = 0: S is total capacity. Path totals 100, 110, 121; final = 121;
    discounted at 10% = 110 / 1.1 + 121 / 1.21 = 100 + 100 = 200."""
    path = np.array([[60.0, 40.0], [66.0, 44.0], [72.6, 48.4]])
    population = np.array([1.0, 1.0])
    assert gr.horizon_objective(path, population, 0.0, "gini") == pytest.approx(121.0)
    assert gr.horizon_objective(path, population, 0.0, "gini", "discounted",
                                0.1) == pytest.approx(200.0)
    # with lambda the project's one S_lambda is used: 121 * (1 - 0.5 * Gini), Gini = 0.1
    assert gr.horizon_objective(path, population, 0.5, "gini") == pytest.approx(
        spread_adjusted(path[-1], population, 0.5, "gini"))
    assert gr.horizon_objective(path, population, 0.5, "gini") == pytest.approx(121 * 0.95)
    scenario = tiny_scenario(periods={"years": 2}, objective_year="discounted",
                             discount_rate=0.1, spread_weight=0.0)
    assert gr.scenario_objective(path, population, scenario) == pytest.approx(200.0)


def test_top_share_and_gini_by_year() -> None:
    path = np.array([[50.0, 30.0, 20.0], [60.0, 25.0, 15.0]])
    assert gr.top_share(path, 1) == pytest.approx([0.5, 0.6])
    assert gr.top_share(path, 2) == pytest.approx([0.8, 0.85])
    population = np.array([1.0, 2.0, 3.0])
    assert gr.gini_path(path, population) == pytest.approx(
        [concentration(row, population, 0.5)["gini"] for row in path])


# --- appropriations by year -------------------------------------------------------------


@pytest.mark.parametrize(
    ("budget", "years", "cents"),
    [("$10", 3, [334, 333, 333]),  # 1000 cents: 333 each, the cent left over to year 1
     ("$80B", 3, [2666666666667, 2666666666667, 2666666666666]),
     ("$80B", 10, [800000000000] * 10),
     ("$1", 1, [100])],
)
def test_an_even_split_is_exact_to_the_cent(budget: str, years: int, cents: list[int]) -> None:
    scenario = tiny_scenario(budget=budget, periods={"years": years})
    assert gr.budget_by_year_cents(scenario) == cents
    assert sum(cents) == round(scenario.budget * 100)
    assert gr.budget_by_year(scenario) == pytest.approx(np.array(cents) / 100.0, rel=1e-15)


def test_a_given_split_is_used_as_written() -> None:
    scenario = tiny_scenario(budget="$10B", periods={"years": 3,
                                                     "budget_by_year": ["$5B", 3e9, "$2B"]})
    assert gr.budget_by_year(scenario).tolist() == [5e9, 3e9, 2e9]
    assert gr.budget_by_year_cents(scenario) == [500_000_000_000, 300_000_000_000,
                                                 200_000_000_000]


# --- the trajectory table ---------------------------------------------------------------

TRAJ = make_regions("""
region_id,name,population,talent,firms
A,Alpha,1000,60,5
B,Beta,1000,30,
C,Gamma,2000,10,1
""")


def test_trajectory_rows_agree_with_the_paths_and_the_indicators() -> None:
    """Weight on talent only; the grant raises talent by 1% of its total (1 person per $1B)
    and firms by 2 per $1B, firms unweighted and not published for B."""
    scenario = tiny_scenario(
        periods={"years": 3}, growth={"base_rate": 0.02, "agglomeration_elasticity": 0.05},
        instruments={"grant": {"yields": {"talent": "1%", "firms": 2}, "saturation_usd": "$10B"}})
    inputs = resolve(TRAJ, scenario)
    x = np.zeros((3, 3, 1))
    x[0, 0, 0], x[2, 2, 0] = 1.0, 2.0
    table = gr.trajectory_table(inputs, x)
    assert tuple(table.columns) == gr.TRAJECTORY_COLUMNS
    assert len(table) == 3 * 4 * 4  # regions x years 0..3 x (capacity, per capita, 2 columns)
    by = table.set_index(["measure", "year", "region_id"])

    def column(measure: str, field: str) -> np.ndarray:
        return by.loc[measure][field].unstack().loc[:, ["A", "B", "C"]].to_numpy()

    plain = gr.no_policy_path(inputs.c0, inputs.pop_share, 0.02, 0.05, 3)
    assert column("capacity", "without_plan") == pytest.approx(plain, rel=1e-14)
    assert column("capacity", "with_plan") == pytest.approx(
        gr.plan_path(inputs, x, 0.02, 0.05), rel=1e-14)
    share = np.array([0.25, 0.25, 0.5])
    assert column("capacity_per_capita", "with_plan") == pytest.approx(
        column("capacity", "with_plan") / (100 * share), rel=1e-14)
    # capacity = 100 * talent / V_talent (V = 100 today) with and without the plan, each year
    for field in ("without_plan", "with_plan"):
        assert column("talent", field) == pytest.approx(column("capacity", field), rel=1e-13)
    # firms grow at the region's rate; B publishes none: empty, not zero, its gain still given
    firms = column("firms", "without_plan")
    growth = gr.path_at_rates(np.ones(3), gr.rates(inputs.c0, inputs.pop_share, 0.02, 0.05, 3))
    assert firms[:, [0, 2]] == pytest.approx(growth[:, [0, 2]] * [5.0, 1.0], rel=1e-14)
    assert np.isnan(firms[:, 1]).all() and np.isnan(column("firms", "with_plan")[:, 1]).all()
    # A's year-1 funding buys m * s * ln(1 + x / s) $B-equivalents: 2 firms per $B of them
    m, s = inputs.multiplier[0, 0], inputs.saturation_busd[0, 0]
    assert column("firms", "gain")[1, 0] == pytest.approx(2 * m * s * math.log1p(1.0 / s))
    assert column("firms", "gain")[3, 0] == pytest.approx(
        column("firms", "gain")[1, 0] * growth[3, 0] / growth[1, 0], rel=1e-13)
    assert column("firms", "gain")[0].tolist() == [0.0, 0.0, 0.0]
    assert set(table.loc[table["measure"] == "firms", "unit"]) == {"units"}
    assert plan_column_label("capacity") == "Capacity (points)"
    assert plan_column_label("with_plan") == "With the plan"


def test_trajectory_without_a_plan_has_no_gain() -> None:
    scenario = tiny_scenario(periods={"years": 2}, growth={"base_rate": 0.05})
    table = gr.trajectory_table(resolve(TRAJ, scenario))
    assert set(table["year"]) == {0, 1, 2}
    assert (table["gain"] == 0).all()
    published = table.dropna(subset=["without_plan"])
    assert (published["with_plan"] == published["without_plan"]).all()
    capacity = table[table["measure"] == "capacity"].set_index(["year", "region_id"])["with_plan"]
    assert capacity.loc[2].sum() == pytest.approx(100 * 1.05 ** 2)


def test_default_plans_resolve_unchanged_with_the_new_keys_present() -> None:
    """A plan over time of the states resolves to the same arrays as today's plan."""
    regions = pf.load_regions("states")
    today = resolve(regions, pf.load_scenario())
    later = resolve(regions, scenario_from_dict({"periods": {"years": 10}}))
    assert np.array_equal(today.c0, later.c0)
    assert np.array_equal(today.multiplier, later.multiplier)
    assert later.scenario.horizon_years == 10 and later.scenario.over_time


def test_without_growth_t_even_years_are_one_year_at_b_over_t_with_t_times_the_yields() -> None:
    """The arithmetic behind the bar for the LP: with eta = 0, base 0, the same funding x
    every year and the saturation per year, C(T) = c0 + T * g(x), which is the capacity of
    the single-period plan at budget B/T whose yields are all T times larger."""
    regions = pf.load_regions("states")
    T = 4
    scenario = pf.load_scenario().updated(periods={"years": T})
    inputs = resolve(regions, scenario)
    path, g = gr.no_policy(inputs)
    assert np.array_equal(g, np.zeros((T, inputs.n)))
    rng = np.random.default_rng(7)
    x = rng.dirichlet(np.ones(inputs.n * 4)).reshape(inputs.n, 4) * 80.0 / T  # $20B a year
    final = gr.plan_path(inputs, np.stack([x] * T), 0.0, 0.0)[-1]
    data = pf.load_scenario().to_dict()
    for spec in data["instruments"].values():
        spec["yields"] = {k: v * T for k, v in spec["yields"].items()}
    single = resolve(regions, scenario_from_dict({**data, "budget": 80e9 / T}))
    once = single.c0 + gain_points(x, single).sum(axis=1)
    assert final == pytest.approx(once, rel=1e-13)
    assert gr.scenario_objective(np.stack([path[0], final]), inputs.population, scenario) \
        == pytest.approx(spread_adjusted(once, single.population, 0.5, "gini"), rel=1e-13)


def test_capacity_is_the_weighted_indicators_every_year_on_the_states() -> None:
    """Ten weighted indicators, four instruments, growth on: each year, with and without
    the plan, capacity = 100 sum_k w_k v_k(t) / V_k with today's national totals V_k."""
    regions = pf.load_regions("states")
    scenario = pf.load_scenario().updated(
        periods={"years": 3}, growth={"base_rate": 0.0375, "agglomeration_elasticity": 0.0068})
    inputs = resolve(regions, scenario)
    x = np.random.default_rng(3).dirichlet(np.ones(3 * inputs.n * 4)).reshape(3, inputs.n, 4) * 80
    table = gr.trajectory_table(inputs, x).set_index(["measure", "year", "region_id"])
    totals = inputs.indicator_values.sum(axis=0)
    for field in ("without_plan", "with_plan"):
        capacity = table.loc["capacity"][field]
        rebuilt = sum(100 * w * table.loc[k][field] / totals[k]
                      for k, w in scenario.normalized_weights.items())
        assert rebuilt.to_numpy() == pytest.approx(capacity.to_numpy(), rel=1e-12)


def test_yearly_metrics_put_the_divergence_beside_the_plan() -> None:
    """Two regions, equal populations, c0 = (60, 40), base 0, eta 0.1: without the plan the
    leader's share rises (top-1 share 0.6 -> more); a plan that funds the laggard narrows it."""
    arrays = two_regions()
    x = np.zeros((2, 2, 1))
    x[:, 1, 0] = math.e - 1  # one point a year to the laggard
    without = gr.no_policy_path(arrays.c0, arrays.pop_share, 0.0, 0.1, 2)
    with_plan = gr.plan_path(arrays, x, 0.0, 0.1)
    table = gr.yearly_metrics(without, with_plan, np.array([1.0, 1.0]), 0.5)
    assert tuple(table.columns) == gr.YEARLY_METRIC_COLUMNS
    top = table[table["metric"] == "top10_share"].set_index("year")
    assert top["without_plan"].tolist() == pytest.approx(gr.top_share(without).tolist())
    assert top.loc[0, "without_plan"] == pytest.approx(0.6)
    assert top.loc[2, "without_plan"] > top.loc[1, "without_plan"] > 0.6
    assert top.loc[2, "with_plan"] < top.loc[2, "without_plan"]
    gini = table[table["metric"] == "gini"].set_index("year")["without_plan"]
    assert gini.tolist() == pytest.approx(gr.gini_path(without, np.array([1.0, 1.0])).tolist())
    objective = table[table["metric"] == "spread_adjusted_capacity"].set_index("year")
    assert objective.loc[2, "with_plan"] == pytest.approx(
        gr.horizon_objective(with_plan, np.array([1.0, 1.0]), 0.5, "gini"))
