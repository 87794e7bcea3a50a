"""The workbench's plans over time: the sidebar's years, appropriation by year, objective
and growth settings, and the Timeline tab (capacity and funding by year, each year's
appropriation beside its spending, concentration by year, the map in a chosen year,
growth centers against spreading, what foresight buys).

Every table here is read from a solved plan alone: funding by year from its allocation
(``year`` column, 1..T), paths from its trajectory (years 0..T, with and without the
plan), concentration by year from ``growth.yearly_metrics`` on that trajectory. ``draw``
and ``sidebar`` place the widgets (``where`` is Streamlit or one of its containers);
the rest is plain functions, tested without Streamlit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optimizer.analysis import periods
from optimizer.engine import columns, growth
from optimizer.engine import formatting as fmt
from optimizer.engine.data import Regions
from optimizer.engine.errors import PlaceFundError
from optimizer.engine.inputs import BUSD
from optimizer.engine.metrics import top_k_count
from optimizer.engine.result import AllocationResult
from optimizer.engine.scenario import Scenario
from optimizer.report import maps
from optimizer.report import timeline as charts
from optimizer.ui import controls as ctl

TAB = "Timeline"
PICKED = 5  # regions the charts start with: the plan's largest awards
CENTER_KNOBS = ("gc_on", "gc_count", "gc_exclude", "gc_years")
PAGE = "page"  # a widget of a closed tab keeps its value until the tab opens again


def tabs(result: AllocationResult) -> list[str]:
    """The tabs a plan adds: the Timeline for a plan over time, none for one year."""
    return [TAB] if result.scenario.over_time else []


def on_years(state: MutableMapping[str, Any]) -> None:
    """Years changed: back at 1, the time-only widgets show a one-year plan's values
    (``controls.scenario_from_widgets`` resets their settings)."""
    for key, value in ctl.single_period_widgets(dict(state)).items():
        state[key] = value


def on_objective(state: MutableMapping[str, Any]) -> None:
    """The objective changed: with the final year, the discount rate goes back to 0."""
    for key, value in ctl.final_year_widgets(dict(state)).items():
        state[key] = value


AMOUNTS_FOR = "tl_amounts_for"  # the years and budget the appropriation by year last saw
AMOUNTS_NOTE = "tl_amounts_note"  # why a list was dropped, until the field is edited


def drop_stale_amounts(state: MutableMapping[str, Any]) -> str | None:
    """Years or the budget changed since the last page run and the appropriation by year
    no longer fits them: the list is dropped (the budget is split evenly), so it does not
    make every later plan fail, and the note saying so is returned (and kept under
    ``AMOUNTS_NOTE``, the time section opened to show it). None: nothing dropped."""
    now = (int(state.get("years") or 1), float(state.get("budget") or 0.0))
    before, state[AMOUNTS_FOR] = state.get(AMOUNTS_FOR), now
    text = str(state.get("budget_years") or "").strip()
    if before is None or tuple(before) == now or not text:
        return None
    if ctl.budget_by_year_problem(dict(state)) is None:
        return None
    years, budget = now
    note = (f"The appropriation by year ({text}) was set for {before[0]} years and "
            f"{ctl.exact_money(before[1] * BUSD)}; it does not fit {years} years and "
            f"{ctl.exact_money(budget * BUSD)}, so it was dropped and the budget is split "
            f"evenly. Enter {years} amounts that sum to {ctl.exact_money(budget * BUSD)} to "
            "set the years again.")
    state["budget_years"], state[AMOUNTS_NOTE], state["open_time"] = "", note, True
    return note


def on_amounts(state: MutableMapping[str, Any]) -> None:
    """The appropriation by year was edited: a note on a dropped list is no longer news."""
    state.pop(AMOUNTS_NOTE, None)


# --------------------------------------------------------------------------- tables


def top_funded(result: AllocationResult, k: int = PICKED) -> list[str]:
    """The ``k`` regions with the most funding over all years (funded ones only)."""
    table = result.regions
    funded = table[table["funding_usd"] > 0].sort_values("funding_usd", ascending=False,
                                                          kind="stable")
    return funded["region_id"].astype(str).head(k).tolist()


def funding_by_year(result: AllocationResult, ids: list[str]) -> pd.DataFrame:
    """region_id, name, year (1..T), amount_usd: each picked region's funding per year
    over all instruments, in the order of ``ids``."""
    alloc = result.allocation
    alloc = alloc[alloc["region_id"].astype(str).isin(ids)]
    out = (alloc.groupby(["region_id", "name", "year"], sort=False)["amount_usd"].sum()
           .reset_index())
    return _in_order(out, ids)


def spending_by_year(result: AllocationResult) -> pd.DataFrame:
    """year (1..T), appropriation_usd, spent_usd: each year's appropriation (the scenario's
    list, or the budget split evenly to the cent: ``growth.budget_by_year``) and what the
    plan spends that year over every region and instrument (its allocation)."""
    years = list(range(1, result.scenario.periods.years + 1))
    spent = result.allocation.groupby("year")["amount_usd"].sum()
    return pd.DataFrame({"year": years, "appropriation_usd": growth.budget_by_year(result.scenario),
                         "spent_usd": [float(spent.get(t, 0.0)) for t in years]})


def spending_display(table: pd.DataFrame) -> pd.DataFrame:
    """``spending_by_year`` as people read it: money formatted, a column of what is not
    yet spent by each year's end (carried over, or left unspent) where there is any."""
    shown = pd.DataFrame({"Year": table["year"].astype(int),
                          "Appropriation": [fmt.money(v) for v in table["appropriation_usd"]],
                          "Spent by the plan": [fmt.money(v) for v in table["spent_usd"]]})
    behind = (table["appropriation_usd"] - table["spent_usd"]).cumsum()
    if (behind.abs() >= 0.01).any():
        shown["Not yet spent at the year's end"] = [fmt.money(v) for v in behind]
    return shown


def objective_heading(scenario: Scenario) -> str:
    """The name of a plan over time's objective where it is compared: the final year's
    S_λ with its year, or the discounted sum with its years and rate."""
    label = columns.metric_label(scenario.objective_key)
    years = scenario.periods.years
    if scenario.objective_key == "discounted_spread_adjusted":
        return f"{label} (years 1–{years}, {scenario.discount_rate:.2%} a year)"
    return f"{label}, year {years}"


def _in_order(table: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    """``table``'s rows by region in the order of ``ids``, then by year."""
    table = table.assign(region_id=table["region_id"].astype(str))
    rank = table["region_id"].map({rid: i for i, rid in enumerate(ids)})
    return (table.assign(_rank=rank).sort_values(["_rank", "year"], kind="stable")
            .drop(columns="_rank").reset_index(drop=True))


def _trajectory(result: AllocationResult) -> pd.DataFrame:
    table = result.trajectory
    if table is None:
        raise ValueError("a one-year plan has no trajectory")
    return table


def capacity_paths(result: AllocationResult, ids: list[str],
                   measure: str = growth.CAPACITY) -> pd.DataFrame:
    """region_id, name, year (0..T), without_plan, with_plan of one trajectory measure
    (capacity points by default) for the picked regions, in the order of ``ids``."""
    table = _trajectory(result)
    part = _in_order(table[(table["measure"] == measure)
                           & table["region_id"].astype(str).isin(ids)], ids)
    names = dict(zip(result.regions["region_id"].astype(str), result.regions["name"]))
    part["name"] = part["region_id"].map(names)
    return part[["region_id", "name", "year", "without_plan", "with_plan"]]


def paths(result: AllocationResult, measure: str = growth.CAPACITY) -> tuple[np.ndarray, np.ndarray]:
    """Every region's path of ``measure``, (T+1, n) without and with the plan, the regions
    in the order of the plan's region table."""
    table = _trajectory(result)
    part = table[table["measure"] == measure]
    order = result.regions["region_id"].astype(str).tolist()
    wide = {c: part.pivot(index="year", columns="region_id", values=c) for c in
            ("without_plan", "with_plan")}
    for c, frame in wide.items():
        frame.columns = frame.columns.astype(str)
        wide[c] = frame[order]
    return wide["without_plan"].to_numpy(float), wide["with_plan"].to_numpy(float)


def yearly_spread(result: AllocationResult) -> pd.DataFrame:
    """The concentration metrics of every year (0..T), with and without the plan
    (``growth.yearly_metrics`` on the plan's trajectory)."""
    without, with_plan = paths(result)
    population = result.regions["population"].to_numpy(float)
    return growth.yearly_metrics(without, with_plan, population, result.scenario.spread_weight)


def regions_at_year(result: AllocationResult, year: int) -> pd.DataFrame:
    """The plan's region table as it stands in ``year`` (0..T): per-capita capacity with
    the plan in that year (``capacity_per_capita_after``) and the funding of years 1..year
    (``funding_usd``; 0 in year 0), for the map."""
    table = result.regions.copy()
    ids = table["region_id"].astype(str)
    traj = _trajectory(result)
    part = traj[(traj["measure"] == growth.PER_CAPITA) & (traj["year"] == year)]
    per_capita = dict(zip(part["region_id"].astype(str), part["with_plan"]))
    alloc = result.allocation
    spent = alloc[alloc["year"] <= year].groupby(alloc["region_id"].astype(str))["amount_usd"].sum()
    table["capacity_per_capita_after"] = ids.map(per_capita).astype(float).to_numpy()
    table["funding_usd"] = ids.map(spent).fillna(0.0).astype(float).to_numpy()
    return table


def year_title(year: int) -> str:
    """The year map's title."""
    when = "today, before any funding" if year == 0 else f"in year {year}, with the plan"
    return f"Capacity per capita {when} (× today's national average)"


def year_caption(result: AllocationResult, year: int) -> str:
    """What the year map shows, and its range that year."""
    table = regions_at_year(result, year)
    values = table["capacity_per_capita_after"].to_numpy(float)
    low, high = table.loc[values.argmin(), "name"], table.loc[values.argmax(), "name"]
    spent = fmt.money(float(table["funding_usd"].sum()))
    return (f"Year {year} of {result.scenario.periods.years}: per-capita capacity runs from "
            f"{values.min():.2f} ({low}) to {values.max():.2f} ({high}) times today's national "
            f"average; {spent} spent by then (the hover's funding is each region's to that "
            "year). From the plan's trajectory (trajectory.csv).")


# --------------------------------------------------------------------------- growth centers


@dataclass(frozen=True)
class CentersComparison:
    """The same scenario spread as its objective says, and with growth centers."""

    spreading: AllocationResult
    centers: AllocationResult


def centers_scenarios(scenario: Scenario, values: Mapping[str, Any]) -> tuple[Scenario, Scenario]:
    """The scenario without growth centers, and with the centers the sidebar sets (K, the
    leading regions barred, the years of support), whether or not they are switched on."""
    kept = scenario.growth_centers.model_dump(mode="json") if scenario.growth_centers else {}
    centers = {**kept, "count": int(values["gc_count"]),
               "exclude_leading": int(values["gc_exclude"]), "min_years": int(values["gc_years"])}
    return scenario.updated(growth_centers=None), scenario.updated(growth_centers=centers)


def compare_centers(solve: Callable[[Scenario], AllocationResult | PlaceFundError],
                    scenario: Scenario, values: Mapping[str, Any]) -> CentersComparison:
    """Both plans of ``centers_scenarios``, solved by ``solve`` (the page's plan cache);
    raises the ``PlaceFundError`` of the one that does not solve."""
    plans = []
    for sc in centers_scenarios(scenario, values):
        outcome = solve(sc)
        if isinstance(outcome, PlaceFundError):
            raise outcome
        plans.append(outcome)
    return CentersComparison(*plans)


def _final_metrics(plan: AllocationResult, k: int) -> list[tuple[str, float, str]]:
    """(label, value, kind) of the final-year numbers a comparison shows."""
    sc, after = plan.scenario, plan.metrics_after
    return [(objective_heading(sc), plan.objective, "points"),
            (f"{columns.metric_label('gini')}, year {sc.periods.years}", after["gini"], "index"),
            (f"{columns.metric_label('top10_share', k)}, year {sc.periods.years}",
             after["top10_share"], "share")]


def _shown(value: float, kind: str, plus: bool = False) -> str:
    if kind == "share":
        return fmt.pct_points(value) if plus else fmt.share(value)
    return fmt.points(value, plus=plus) if kind == "points" else fmt.number(value, 3, plus=plus)


def comparison_table(c: CentersComparison) -> pd.DataFrame:
    """The two plans side by side: the final-year objective, Gini and top-k share, and
    what each raises in every indicator's own unit (``outcome_totals``), with the
    difference growth centers make."""
    k = top_k_count(len(c.spreading.regions))
    rows = []
    spread_rows, center_rows = _final_metrics(c.spreading, k), _final_metrics(c.centers, k)
    for (label, a, kind), (_, b, _) in zip(spread_rows, center_rows, strict=True):
        rows.append((label, _shown(a, kind), _shown(b, kind), _shown(b - a, kind, plus=True)))
    for key, total in c.spreading.outcome_totals.items():
        other = c.centers.outcome_totals.get(key, {}).get("gain", float("nan"))
        unit = columns.unit(key)
        rows.append((f"{columns.label(key)} raised ({unit})", fmt.with_unit(total["gain"], unit),
                     fmt.with_unit(other, unit), fmt.with_unit(other - total["gain"], unit, plus=True)))
    return pd.DataFrame(rows, columns=["Measure", "Spreading", "Growth centers",
                                       "Growth centers less spreading"])


def centers_sentence(c: CentersComparison) -> str:
    """Which regions are the centers and what was barred."""
    table = c.centers.regions
    chosen = table[table["hub"].astype(bool)]
    rule = c.centers.scenario.growth_centers
    names = ", ".join(f"{n} ({fmt.money(f)})" for n, f in
                      zip(chosen["name"], chosen["funding_usd"]))
    leading = rule.exclude_leading if rule else 0
    barred = ("No region was barred" if not leading else
              "The region leading in baseline capacity was barred" if leading == 1 else
              f"The {leading} regions leading in baseline capacity were barred")
    years = rule.min_years if rule else 1
    centers = "The growth center" if len(chosen) == 1 else f"The {len(chosen)} growth centers"
    return (f"{centers} and {'its' if len(chosen) == 1 else 'their'} funding over all years: "
            f"{names}. {barred}; a center is funded in each of its first {years} "
            f"year{'s' if years != 1 else ''}. Both plans solved on the same settings, "
            f"judged by {objective_heading(c.spreading.scenario)}.")


# --------------------------------------------------------------------------- foresight


def foresight_table(f: periods.Foresight) -> pd.DataFrame:
    """The foresighted and the myopic plan's final-year objective and the difference."""
    label = objective_heading(f.foresighted.scenario)
    return pd.DataFrame([
        ("Planned with foresight (every year chosen together)", fmt.points(f.foresighted.objective)),
        ("Planned year by year (each year's best)", fmt.points(f.myopic.objective)),
        ("What foresight buys", fmt.points(f.value_points, plus=True)),
    ], columns=["Plan", label])


def foresight_sentence(f: periods.Foresight) -> str:
    """What foresight buys, in words."""
    sc = f.foresighted.scenario
    judged = ("the discounted sum of every year's S_λ"
              if sc.objective_key == "discounted_spread_adjusted" else "the final year's objective")
    return (f"Choosing all {sc.periods.years} years together instead of one year at a time buys "
            f"{fmt.points(f.value_points, plus=True)} of {judged} "
            "(both plans re-solved on the same model and judged exactly; docs/model.md).")


def _fresh(state: Mapping[str, Any], key: str, scenario: Scenario) -> Any:
    """A stored analysis of ``scenario`` (None: none, or of other settings)."""
    kept = state.get(key)
    return kept[1] if kept is not None and kept[0] == scenario.fingerprint() else None


# --------------------------------------------------------------------------- layout


def sidebar(where: Any, state: MutableMapping[str, Any], base: Scenario,
            folded: Callable[..., Any], knob: Callable[..., Any]) -> None:
    """The folded sidebar section "Plans over time" (open for a plan that has years)."""
    state.setdefault("open_time", base.over_time)
    drop_stale_amounts(state)
    if box := folded(where, "Plans over time", "open_time"):
        knob(box, "years", on_change=on_years, args=(state,))
        one_year = int(state.get("years") or 1) <= 1
        row = ctl.knob("budget_years")
        box.text_input(row.label, key=row.key, help=row.help, disabled=one_year,
                       max_chars=ctl.MAX_AMOUNTS_CHARS, placeholder="e.g. $10B, $30B, $40B",
                       on_change=on_amounts, args=(state,), persist_state=PAGE)
        if problem := ctl.budget_by_year_problem(dict(state)):
            box.error(problem)
        elif not (one_year or state.get("budget_years")) and (note := state.get(AMOUNTS_NOTE)):
            box.info(note)
        knob(box, "carryover", disabled=one_year)
        knob(box, "objective_year", options=list(ctl.OBJECTIVE_LABELS),
             format_func=ctl.OBJECTIVE_LABELS.get, disabled=one_year, on_change=on_objective,
             args=(state,))
        knob(box, "discount", disabled=one_year or state.get("objective_year") != "discounted")
        for key in ("growth_base", "growth_eta"):
            knob(box, key, disabled=one_year)
        knob(box, "growth_rates", options=list(ctl.RATES_LABELS),
             format_func=ctl.RATES_LABELS.get, disabled=one_year)
        box.caption("Growth centers: only K regions chosen by the optimizer are funded, none "
                    "of the leading ones (a mixed-integer plan); the Timeline tab compares "
                    "them with spreading.")
        for key in CENTER_KNOBS:
            knob(box, key)


def draw(st: Any, where: list[Any], result: AllocationResult, regions: Regions, geojson: Any,
         solve: Callable[[Scenario], AllocationResult | PlaceFundError],
         state: MutableMapping[str, Any]) -> None:
    """The Timeline tab (in ``where``: the tab, when the plan has one and it is open)."""
    for tab in where:
        with tab:
            if tab.open:
                _draw(st, result, regions, geojson, solve, state)


def _draw(st: Any, result: AllocationResult, regions: Regions, geojson: Any,
          solve: Callable[[Scenario], AllocationResult | PlaceFundError],
          state: MutableMapping[str, Any]) -> None:
    sc, ids = result.scenario, result.regions["region_id"].astype(str).tolist()
    names = dict(zip(ids, result.regions["name"]))
    years = sc.periods.years
    st.caption(f"The plan over {years} years beside the path without it (no-policy: every "
               f"region grows at its own rate; base rate {sc.growth.base_rate:.2%} a year, "
               f"η = {sc.growth.agglomeration_elasticity:g}). From the plan's allocation and "
               "trajectory.csv.")
    picked = [r for r in state.get("tl_regions") or [] if r in names]
    state["tl_regions"] = picked if "tl_regions" in state else top_funded(result)
    chosen = st.multiselect("Regions", ids, key="tl_regions", format_func=names.get, persist_state=PAGE,
                            help=f"The charts start with the {PICKED} regions funded most.")
    if chosen:
        left, right = st.columns(2)
        left.plotly_chart(charts.capacity_figure(capacity_paths(result, chosen)), key="tl_capacity")
        right.plotly_chart(charts.funding_figure(funding_by_year(result, chosen)), key="tl_funding")
    else:
        st.info("Pick regions to see their capacity and funding by year.")
    st.markdown("**Appropriation and spending by year** (every region)")
    st.table(spending_display(spending_by_year(result)), hide_index=True)
    st.caption("The appropriation by year set in the sidebar (empty there: the budget split "
               "evenly to the cent) beside what the plan spends each year, summed from its "
               "allocation over every region and instrument.")
    st.plotly_chart(charts.spread_figure(yearly_spread(result), top_k_count(len(ids))), key="tl_spread")
    if geojson is not None:
        state["tl_year"] = min(int(state.get("tl_year", years)), years)
        year = st.slider("Year on the map", 0, years, key="tl_year", persist_state=PAGE,
                         help="0 = today's data; the plan's funding adds up year by year.")
        fig = maps.choropleth(regions_at_year(result, year), geojson, "capacity_per_capita_after")
        fig.update_layout(title_text=year_title(year))
        fig.update_traces(colorbar_title_text="Capacity per capita<br>(× today's national average)")
        st.plotly_chart(fig, config=maps.PLOTLY_CONFIG, key="tl_map")
        st.caption(year_caption(result, year))
    st.markdown("**Growth centers against spreading**")
    if st.button("Compare with growth centers", key="tl_centers_run",
                 help="Solves these settings again with growth centers (K and the rest from "
                      "the sidebar's Plans over time) and without; a mixed-integer plan, up to "
                      "a minute at states × 10 years."):
        try:
            with st.spinner("Solving the plan with growth centers (a mixed-integer plan)…"):
                state["tl_centers"] = (sc.fingerprint(), compare_centers(solve, sc, state))
        except PlaceFundError as err:
            st.error(str(err))
    if (compared := _fresh(state, "tl_centers", sc)) is not None:
        st.dataframe(comparison_table(compared), hide_index=True, width="stretch")
        st.caption(centers_sentence(compared))
    st.markdown("**What foresight buys**")
    if st.button("Compare with planning year by year", key="tl_foresight_run",
                 help="Solves the plan one year at a time (each year's best, later years worth "
                      "nothing to it) and judges both plans by the final year's objective."):
        try:
            with st.spinner("Solving the plan year by year…"):
                state["tl_foresight"] = (sc.fingerprint(), periods.foresight(regions, sc))
        except PlaceFundError as err:
            st.error(str(err))
    if (seen := _fresh(state, "tl_foresight", sc)) is not None:
        st.dataframe(foresight_table(seen), hide_index=True, width="stretch")
        st.caption(foresight_sentence(seen))
