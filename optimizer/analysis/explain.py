"""Why a region gets what it gets, and what moved it between two plans.

``explain_region`` gives the chain for one region of a plan: its indicator values against
the nation (the data), its baseline capacity, its absorptive multiplier per instrument,
each instrument's marginal return at the plan against the budget's shadow price (the
return every funded dollar must earn), the rules that bind it, the spread term's pull,
and what its dollars buy in natural units.

``attribute`` splits each region's change in dollars between two plans into the
settings that differ: each change re-solved alone, all of them together (the other
plan), and the interaction (what is left), so the parts add up to the total exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine import columns
from optimizer.engine.errors import ScenarioError
from optimizer.engine.formatting import in_unit, money, share, with_unit
from optimizer.engine.growth import at_plan
from optimizer.engine.inputs import BUSD, ModelInputs, resolve
from optimizer.engine.metrics import concentration
from optimizer.engine.response import marginal_points_per_busd
from optimizer.engine.result import AllocationResult
from optimizer.engine.scenario import Scenario, scenario_from_dict
from optimizer.engine.solve import Planner, by_year, response_of

STEP_POINTS = 1e-4  # capacity points: the step of the spread term's one-sided derivatives


@dataclass(frozen=True)
class RegionExplanation:
    """The chain behind one region's dollars (money in USD, capacity in points).

    - ``data``: per weighted indicator its value, the national total, the region's share
      of the nation, its population share, intensity (share / population share), weight
    - ``instruments``: per instrument the funding, the multiplier m_ri, the marginal
      capacity points per $1B at the plan, the marginal objective return per $1B of
      adding money and of taking it away, the ``price`` its $1B must earn here (the
      shadow price, moved by binding instrument-share and group rules), and a verdict
    - ``shadow_price``: the budget's dual, points of S per $1B
    - ``spread_value``: points of S one more capacity point here is worth (adding,
      removing): 1 with λ = 0; above 1 where the spread term pulls money in
    - ``rules``: sentences for the rules that bind this region
    - ``outcomes``: what its dollars buy, per raised indicator, in natural units
    """

    region_id: str
    name: str
    funding_usd: float
    population: float
    baseline_points: float
    final_points: float
    data: pd.DataFrame
    instruments: pd.DataFrame
    shadow_price: float
    spread_value: tuple[float, float]
    rules: list[str]
    outcomes: pd.DataFrame
    objective_label: str

    def to_text(self) -> str:
        """The explanation as plain text for the terminal."""
        lines = [f"{self.name} ({self.region_id}): {money(self.funding_usd)} "
                 f"({money(self.funding_usd / self.population)} per person)", "",
                 "1. The data (the region against the nation):"]
        for _, r in self.data.iterrows():
            lines.append(f"   {r['label']}: {in_unit(r['value'], r['unit'])} of "
                         f"{with_unit(r['national'], r['unit'])} "
                         f"({share(r['share'], 2)} of the nation, "
                         f"{r['intensity']:.2f}x its population share {share(r['pop_share'], 2)}); "
                         f"weight {share(r['weight'], 0)}")
        lines += ["", f"2. Baseline capacity {self.baseline_points:.3f} points "
                      f"(weighted shares x 100) -> {self.final_points:.3f} after the plan.", "",
                  f"3. Each instrument at the plan (the budget's shadow price: every funded "
                  f"$1B must earn {self.shadow_price:.4f} points of {self.objective_label}):"]
        for _, r in self.instruments.iterrows():
            lines.append(f"   {r['instrument_label']}: {money(r['funding_usd'])}; absorptive "
                         f"multiplier {r['multiplier']:.3f}; {r['marginal_points_per_busd']:.4f} "
                         f"capacity points per extra $1B, worth {r['return_add']:.4f} points of "
                         f"{self.objective_label}: {r['verdict']}")
        lines.append("   (Returns use the exact response at the plan; the shadow price is the "
                     "LP's, whose response is piecewise linear within the plan's approximation "
                     "tolerance, so a funded instrument's return may differ from it a little.)")
        add, remove = self.spread_value
        pull = ("no spread term (λ = 0)" if abs(add - 1) < 1e-9 and abs(remove - 1) < 1e-9
                else f"the spread term makes one more capacity point here worth {add:.3f} "
                     f"points of {self.objective_label} (one less: {remove:.3f})"
                     + ("; it pulls money in" if add > 1 + 1e-9 else
                        "; it pulls money away" if add < 1 - 1e-9 else ""))
        lines += ["", f"4. Spread: {pull}."]
        lines += ["", "5. Rules that bind it:"] + [f"   {s}" for s in (self.rules or ["none"])]
        lines += ["", "6. What its dollars buy:"]
        bought = self.outcomes[self.outcomes["gain"] > 0]
        for _, r in bought.iterrows():
            lines.append(f"   {r['label']}: {with_unit(r['gain'], r['unit'], plus=True)}"
                         + (f" ({share(r['gain'] / r['before'], 1, plus=True)})"
                            if np.isfinite(r["before"]) and r["before"] > 0 else ""))
        if bought.empty:
            lines.append("   nothing: the plan does not fund it")
        lines += ["", "Sources: the data columns are described in data/SOURCES.md; the yields "
                      "and saturation scales in docs/evidence.md."]
        return "\n".join(lines)


def plan_inputs(plan: AllocationResult) -> ModelInputs:
    """The model inputs a plan was solved on (its recorded regions and scenario; over time
    with ``growth.rates_from: plan``, at the plan's own growth rates)."""
    from optimizer.engine.data import regions_from_bytes

    regions = regions_from_bytes(plan.input_regions_csv, plan.provenance.get("data_source", "regions"))
    inputs = resolve(regions, plan.scenario)
    return at_plan(inputs, by_year(plan.funding_busd(), plan.scenario.periods.years))


def spread_value(inputs: ModelInputs, final: np.ndarray, r: int) -> tuple[float, float]:
    """Points of S one more (and one less) capacity point in region r is worth: the
    one-sided derivatives of the exact objective, by a small step."""
    sc = inputs.scenario

    def score(c: np.ndarray) -> float:
        return float(concentration(c, inputs.population, sc.spread_weight)[sc.objective_key])

    base = score(final)
    up, down = final.copy(), final.copy()
    up[r] += STEP_POINTS
    down[r] -= STEP_POINTS
    return (score(up) - base) / STEP_POINTS, (base - score(down)) / STEP_POINTS


def explain_region(plan: AllocationResult, region: str,
                   inputs: ModelInputs | None = None) -> RegionExplanation:
    """The chain behind one region's dollars in ``plan`` (region id, postal code or name)."""
    inputs = response_of(inputs or plan_inputs(plan))  # over time: (year, instrument) columns
    rid = inputs.regions.lookup(region)
    if rid is None:
        raise ScenarioError(f"'{region}' is not a region of this plan (use a region id, postal "
                            "code or name)")
    r = inputs.regions.position[rid]
    sc = inputs.scenario
    x = plan.funding_busd()
    final = plan.final_capacity_points()
    pop_share = inputs.pop_share[r]
    weights = {k: w for k, w in sc.normalized_weights.items() if w > 0}
    values = inputs.indicator_values
    data = pd.DataFrame([{
        "indicator": k, "label": columns.label(k), "unit": columns.unit(k),
        "value": float(values[k].iloc[r]), "national": float(values[k].sum()),
        "share": float(values[k].iloc[r] / values[k].sum()), "pop_share": float(pop_share),
        "intensity": float(values[k].iloc[r] / values[k].sum() / pop_share), "weight": w,
    } for k, w in weights.items()])
    marginal = marginal_points_per_busd(x, inputs)[r]
    add, remove = spread_value(inputs, final, r)
    price = _shadow_price(plan)
    prices = _year_prices(plan, price, inputs.years)
    shifts = _price_shifts(plan, inputs, r)
    rules = _binding_rules(plan, inputs, r)
    rows = []
    per_year = len(inputs.instruments) // inputs.years
    for i, name in enumerate(inputs.instruments):
        ret_add, ret_remove = add * marginal[i], remove * marginal[i]
        funded = x[r, i] > 1e-9
        label = columns.instrument_label(name)
        year_price = prices[i // per_year]
        moves = shifts.get(name, [])
        here = year_price + sum(v for v, _ in moves)
        rows.append({
            "instrument": name, "instrument_label": label if inputs.years == 1
            else f"{label}, year {i // per_year + 1}",
            "funding_usd": float(x[r, i] * BUSD), "multiplier": float(inputs.multiplier[r, i]),
            "marginal_points_per_busd": float(marginal[i]), "return_add": float(ret_add),
            "return_remove": float(ret_remove),
            "price": float(here),
            "verdict": _verdict(funded, bool(inputs.allowed[r, i]), ret_add, ret_remove, here,
                                inputs.effectiveness[i] > 0, bool(rules),
                                _price_reason(year_price, moves), year_price),
        })
    outcomes = plan.outcomes
    mine = outcomes[outcomes["region_id"].astype(str) == rid].copy()
    mine["label"] = [columns.label(k) for k in mine["indicator"]]
    return RegionExplanation(
        region_id=rid, name=inputs.regions.names[r], funding_usd=float(x[r].sum() * BUSD),
        population=float(inputs.population[r]), baseline_points=float(inputs.c0[r]),
        final_points=float(final[r]), data=data, instruments=pd.DataFrame(rows),
        shadow_price=price, spread_value=(add, remove), rules=rules,
        outcomes=mine.reset_index(drop=True),
        objective_label=f"S_λ ({'Gini' if sc.spread_measure == 'gini' else 'Hoover'})",
    )


def _year_prices(plan: AllocationResult, budget: float, years: int) -> list[float]:
    """The price a funded $1B must earn in each year: the budget's, and over time its
    year's appropriation's on top."""
    if years == 1:
        return [budget]
    table = plan.marginal_values
    rows = table[table["constraint"] == "year_budget"]
    return [budget + float(v) for v in rows["marginal_value"]] if len(rows) == years else (
        [budget] * years)


def _price_shifts(plan: AllocationResult, inputs: ModelInputs, r: int
                  ) -> dict[str, list[tuple[float, str]]]:
    """By instrument, what the rules that bind a whole instrument or a group of regions
    add to the price its $1B must earn in region r (their marginal values, negative where
    a minimum forces money in, positive where a maximum holds it back), each with its
    reason. Without them a funded dollar earns the budget's price; with them, the LP's
    optimality conditions price it at the sum."""
    table = plan.marginal_values
    out: dict[str, list[tuple[float, str]]] = {}
    for _, row in table[table["constraint"].str.startswith("instrument_")].iterrows():
        kind = "minimum" if row["constraint"] == "instrument_min_share" else "maximum"
        name = str(row["target"])
        out.setdefault(name, []).append((float(row["marginal_value"]), (
            f"the {kind} share of {columns.instrument_label(name)}")))
    groups = {f"{g.column}={g.value}": g for g in inputs.groups}
    for _, row in table[table["constraint"] == "group_min_share"].iterrows():
        group = groups.get(str(row["target"]))
        if group is not None and r in set(np.asarray(group.members).tolist()):
            for name in dict.fromkeys(inputs.instruments):
                out.setdefault(name, []).append((float(row["marginal_value"]), (
                    f"the minimum share of {columns.label(group.column)} {group.value}")))
    return out


def _price_reason(year_price: float, moves: list[tuple[float, str]]) -> str:
    """How a price came about, when rules move it off the budget's (or its year's)."""
    if not moves:
        return ""
    parts = [f"{'plus' if v > 0 else 'less'} {abs(v):.4f} for {why}" for v, why in moves]
    return f": the shadow price {year_price:.4f} " + ", ".join(parts)


def _shadow_price(plan: AllocationResult) -> float:
    table = plan.marginal_values
    row = table[table["constraint"] == "budget"]
    return float(row["marginal_value"].iloc[0]) if len(row) else float("nan")


VERDICT_TOL = 0.05  # relative: the LP's piecewise-linear slopes vs the exact return


def _verdict(funded: bool, allowed: bool, ret_add: float, ret_remove: float, price: float,
             valued: bool, ruled: bool, reason: str = "", scale: float = 0.0) -> str:
    """Why an instrument is or is not funded here, against the price its $1B must earn
    here (the shadow price, moved by ``reason``'s rules where they bind); a return is
    off it when by more than ``VERDICT_TOL`` of the larger of it and ``scale`` (the
    budget's price, so that a price rules have brought near 0 is not held to 5% of
    itself)."""
    if not valued:
        return "buys nothing the plan values (its yields carry no weight)"
    if not allowed:
        return "not allowed here (an exclusion, a cap of zero, or not a hub)"
    if not np.isfinite(price):
        return "funded" if funded else "not funded"
    name = "its price here" if reason else "the shadow price"
    quoted = f"{price:.4f}{reason}"
    above, below = price + VERDICT_TOL * abs(price), price - VERDICT_TOL * abs(price)
    if funded and ruled and ret_add > above:
        return f"funded; more would still earn above {name} ({quoted}), but a rule stops it"
    if funded and ruled and ret_remove < below:
        return f"funded below {name} ({quoted}), because a rule requires it"
    if funded and not ruled and min(abs(ret_add - price), abs(ret_remove - price)) > (
            VERDICT_TOL * max(abs(price), abs(scale))):
        return (f"funded, though its exact return ({ret_add:.4f}) is off {name} ({quoted}) "
                "by more than 5%: the LP prices money on its piecewise-linear response, "
                "whose slope here differs from the exact one")
    if funded:
        return f"funded up to where its return meets {name} ({quoted})"
    if ret_add <= above or not ruled:
        return f"not funded: its first dollar earns less than {name} ({quoted})"
    return f"not funded though its first dollar earns above {name} ({quoted}): a rule stops it"


def _binding_rules(plan: AllocationResult, inputs: ModelInputs, r: int) -> list[str]:
    """Sentences for the rules that bind region r: its bounds, exclusions, groups, hubs."""
    rid = inputs.region_ids[r]
    out = []
    table = plan.marginal_values
    for _, row in table[table["target"].astype(str) == rid].iterrows():
        out.append(str(row["explanation"]))
    if rid in inputs.excluded_ids:
        out.append("excluded by the scenario (a named exclusion or a top-k incumbent)")
    blocked = [columns.instrument_label(n) for i, n in enumerate(inputs.instruments)
               if not inputs.allowed[r, i]]
    if blocked and rid not in inputs.excluded_ids:
        out.append("may not receive " + ", ".join(blocked))
    for rule in inputs.groups:
        if r in set(rule.members.tolist()):
            rows = table[table["target"].astype(str) == f"{rule.column}={rule.value}"]
            if len(rows):
                out.append(f"in {rule.value} ({columns.label(rule.column)}), whose minimum "
                           f"share of the budget binds: {rows['explanation'].iloc[0]}")
    if inputs.scenario.hubs is not None and "hub" in plan.regions.columns:
        hub = str(plan.regions.set_index(plan.regions["region_id"].astype(str))
                  .at[rid, "hub"]).lower() == "true"
        out.append("selected as a hub" if hub else "not selected as a hub: only hubs are funded")
    x = plan.funding_busd()[r].sum()
    if inputs.floor_busd[r] > 0 and x <= inputs.floor_busd[r] + 1e-9:
        out.append(f"at its floor of {money(inputs.floor_busd[r] * BUSD)}")
    if inputs.cap_busd[r] < inputs.budget_busd and x >= inputs.cap_busd[r] - 1e-9:
        out.append(f"at its cap of {money(inputs.cap_busd[r] * BUSD)}")
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------- two plans

@dataclass(frozen=True)
class Attribution:
    """Each region's change in funding (USD) from plan A to plan B, split by setting.

    ``table``: region_id, name, then one column per setting changed alone, then
    ``interaction`` and ``total`` (= B − A); the parts add up to the total exactly.
    ``settings``: the dotted paths that differ, with their label.
    """

    table: pd.DataFrame
    settings: dict[str, str]

    def region_text(self, region_id: str) -> str:
        """'the AI-jobs weight alone: California −$4.1B; ...; together: −$6.4B'."""
        row = self.table[self.table["region_id"].astype(str) == str(region_id)].iloc[0]
        parts = [f"{label} alone: {money(row[path], plus=True)}"
                 for path, label in self.settings.items()]
        parts.append(f"interaction: {money(row['interaction'], plus=True)}")
        return (f"{row['name']}: " + "; ".join(parts)
                + f"; together: {money(row['total'], plus=True)}")


def differing_settings(a: Scenario, b: Scenario) -> list[str]:
    """The settings that differ between two scenarios: each weight and each instrument on
    its own, every other top-level key whole."""
    da, db = a.to_dict(), b.to_dict()
    out = []
    for key in da:
        if da[key] == db.get(key):
            continue
        if key in ("weights", "instruments") and isinstance(da[key], dict):
            out += [f"{key}.{k}" for k in sorted(set(da[key]) | set(db[key]))
                    if da[key].get(k) != db[key].get(k)]
        else:
            out.append(key)
    return out


def _with_setting(base: dict[str, Any], other: dict[str, Any], path: str) -> dict[str, Any]:
    out = {**base}
    head, _, member = path.partition(".")
    if member:
        inner = dict(out[head])
        if member in other[head]:
            inner[member] = other[head][member]
        else:
            inner.pop(member, None)
        out[head] = inner
    else:
        out[head] = other[head]
    return out


def attribute(a: AllocationResult, b: AllocationResult, max_settings: int = 24) -> Attribution:
    """Split each region's change in funding from ``a`` to ``b`` into the settings that
    differ: ``a``'s scenario with each one alone re-solved, the rest their interaction."""
    if a.provenance.get("data_sha256") != b.provenance.get("data_sha256"):
        raise ScenarioError("the two plans were solved on different regions tables; an "
                            "attribution needs the same regions")
    paths = differing_settings(a.scenario, b.scenario)
    if len(paths) > max_settings:
        raise ScenarioError(f"the plans differ in {len(paths)} settings; an attribution "
                            f"re-solves each alone, at most {max_settings}")
    inputs = plan_inputs(a)
    planner = Planner(inputs.regions)
    fund_a = a.funding_usd().sum(axis=1)
    fund_b = b.funding_usd().sum(axis=1)
    table = pd.DataFrame({"region_id": inputs.region_ids, "name": inputs.regions.names})
    da, db = a.scenario.to_dict(), b.scenario.to_dict()
    parts = np.zeros_like(fund_a)
    for path in paths:
        scenario = scenario_from_dict(_with_setting(da, db, path), source=f"{path} alone")
        alone = planner.solve(scenario).funding_usd().sum(axis=1) - fund_a
        table[path] = alone
        parts += alone
    table["total"] = fund_b - fund_a
    table["interaction"] = table["total"] - parts
    table = table[["region_id", "name", *paths, "interaction", "total"]]
    return Attribution(table, {p: columns.setting_label(p) for p in paths})
