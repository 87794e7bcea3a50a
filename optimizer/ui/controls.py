"""The sidebar's knobs and the scenario they move, from one table.

``KNOBS`` has one row per widget: its key (the Streamlit widget key), the scenario
path it reads and writes, its label, unit, range and step, the kind of value it holds
and the switch that turns its setting on. Three things are driven by the table:

- ``widget_values(scenario, regions)``: the widgets' positions for a scenario;
- ``scenario_from_widgets(base, regions, values)``: ``base`` with the settings whose
  widgets moved written back. A setting whose widgets did not move is left as ``base``
  has it, so an uploaded scenario round-trips exactly (untouched widgets give back
  ``base`` itself);
- the labels, units, ranges and tooltips the app draws the widgets with.

Adding a knob of an existing kind is one row. Plain kinds (``number``, ``count``,
``choice``, ``switch``, ``flag``, ``regions``) are read and written through the row's path
alone; the families (one widget per indicator, instrument, capped region or group)
and the hub group rules have a small codec each (``_CODECS``); their member widgets
are rows of kind ``part``.

The module also holds what the sidebar says about region sets and spread measures,
and the program rules: constraint packs (``with_packs``) and relaxations.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from optimizer.analysis.evidence import evidence_table
from optimizer.engine import columns
from optimizer.engine.data import Regions
from optimizer.engine.errors import InfeasibleError, ScenarioError
from optimizer.engine.feasibility import Sums, split_advice
from optimizer.engine.inputs import BUSD, MAX_GINI_REGIONS
from optimizer.engine.scenario import (
    MAX_YEARS,
    Growth,
    Periods,
    Scenario,
    base_scenario,
    constraint_packs,
    normalized,
    region_set_assumptions,
    scenario_from_dict,
    share_yield,
)

NONE = "(none)"  # the choice that means "no group column"


def _evidence_help(key: str, scale: float, unit: str) -> str:
    """A growth parameter's documented range, for its tooltip (docs/evidence.md)."""
    entry = evidence_table()["growth"][key]
    low, central, high = (float(entry[k]) * scale for k in ("low", "central", "high"))
    return (f"Evidence range {low:g} to {high:g}{unit}, central {central:g}{unit} "
            f"({entry['basis']}: {entry['source']}; docs/evidence.md#{entry['section']}).")


@dataclass(frozen=True)
class Knob:
    """One sidebar widget and the scenario setting it moves.

    ``path`` is dotted into ``Scenario.to_dict()``; ``*`` marks one member of a family
    (a widget key ``prefix + member``). The scenario value is the widget value times
    ``scale`` (money in $B or $M on screen, USD in the scenario). ``switch`` names the
    on/off knob of an optional setting: while it is off the widget shows ``default``
    (capped at the number of regions with ``default_at_most_regions``). With
    ``zero_is_none`` a widget at 0 means "no limit" (``None`` in the scenario).
    ``hi_regions`` sets the upper end of the range to the number of regions plus it.
    ``fmt`` is how a number box shows (and so keeps) its value: money in $B keeps $1M.
    """

    key: str
    path: str
    label: str
    unit: str
    kind: str  # number | count | choice | switch | flag | regions | part | a codec of _CODECS
    widget: str  # number | slider | checkbox | radio | select | multiselect | text
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    scale: float = 1.0
    default: Any = None
    switch: str | None = None
    zero_is_none: bool = False
    hi_regions: int | None = None
    default_at_most_regions: bool = False
    help: str = ""
    fmt: str | None = None  # printf format of a number box (Streamlit shows 2 decimals)

    def upper(self, n_regions: int) -> float | None:
        """The upper end of the widget's range for ``n_regions`` regions."""
        return self.hi if self.hi_regions is None else n_regions + self.hi_regions

    def bounds(self, n_regions: int) -> list[float | int | None]:
        """The widget's (lowest, highest, step) for ``n_regions`` regions, whole numbers
        for a count (None: no bound)."""
        whole = self.kind == "count"
        return [None if b is None else int(b) if whole else float(b)
                for b in (self.lo, self.upper(n_regions), self.step)]

    def text(self, member: str = "") -> str:
        """The widget's label (a family's label names its member)."""
        return self.label.format(member) if "{}" in self.label else self.label


KNOBS: tuple[Knob, ...] = (
    Knob("budget", "budget", "Budget ($B)", "$B", "number", "number", 0.1, 10_000.0, 5.0,
         scale=BUSD, fmt="%.3f", help="Total money to allocate, in billions of US dollars "
                                      "(three decimals: 0.504 is $504M)."),
    Knob("unspent", "allow_unspent", "Allow unspent funds", "on/off", "flag", "checkbox",
         help="Off: the plan spends the whole budget. On: it may leave money unspent, where "
              "the rules (caps, hub awards) cannot take it all."),
    Knob("lam", "spread_weight", "Spread weight λ", "0..1", "number", "slider", 0.0, 1.0, 0.05,
         help="0 = maximize total capacity (money follows the strongest clusters); "
              "1 = Sen's welfare index (concentration counts fully against the total)."),
    Knob("theta", "complementarity", "Complementarity θ", "0..1", "number", "slider", 0.0, 1.0,
         0.05, help="How much existing clusters multiply a dollar (assumption): 0 = a dollar "
                    "works equally everywhere."),
    Knob("spread_measure", "spread_measure", "Spread measure", "gini or hoover", "choice", "radio",
         help="How concentration is measured in S_λ. Gini: the exact population-weighted Gini "
              "(one variable per pair of regions). Hoover: population-weighted mean absolute "
              "deviation, linear in the number of regions."),
    Knob("w_", "weights.*", "{}", "relative weight (normalized to 100%)", "weights", "slider",
         0.0, 1.0, 0.01),
    Knob("yld_", "instruments.*.yields", "{}", "the indicator's unit per $1B", "yields",
         "number", 0.0, 1e9, None, fmt="%.6g",
         help="What $1B of the instrument raises at zero funding in an average region, in "
              "the indicator's own unit (central value of docs/evidence.md)."),
    # spread constraints
    Knob("topk_on", "top_k_share_cap", "Cap the top-k regions' share of capacity", "on/off",
         "switch", "checkbox"),
    Knob("topk_k", "top_k_share_cap.k", "k", "regions", "count", "number", 1, None, 1,
         default=10, switch="topk_on", hi_regions=0),
    Knob("topk_share", "top_k_share_cap.max_share", "Largest share the top k may hold",
         "share of capacity", "number", "slider", 0.05, 1.0, 0.01, default=0.6, switch="topk_on"),
    Knob("pcf_on", "per_capita_floor", "Per-capita floor", "on/off", "switch", "checkbox",
         help="Every region ends at least at this multiple of the national per-capita baseline."),
    Knob("pcf", "per_capita_floor", "Floor (× national per-capita average)",
         "× national per-capita average", "number", "number", 0.0, 5.0, 0.05, default=0.5,
         switch="pcf_on"),
    # per-region bounds and exclusions
    Knob("floor", "region_floor_usd", "Floor for every region ($B)", "$B", "number", "number",
         0.0, None, 0.1, scale=BUSD, fmt="%.3f"),
    Knob("cap", "region_cap_usd", "Cap for every region ($B, 0 = none)", "$B, 0 = none", "number",
         "number", 0.0, None, 0.5, scale=BUSD, zero_is_none=True, fmt="%.3f"),
    Knob("maxshare_on", "max_region_share", "Limit any one region's share of the budget",
         "on/off", "switch", "checkbox"),
    Knob("maxshare", "max_region_share", "Largest share of the budget to one region",
         "share of the budget", "number", "slider", 0.01, 1.0, 0.01, default=0.15,
         switch="maxshare_on"),
    Knob("capped", "region_bounds", "Regions with their own cap", "region ids", "region_caps",
         "multiselect"),
    Knob("cap_", "region_bounds.*.cap_usd", "Cap on {} ($B)", "$B", "part", "number", 0.0, None,
         0.5, scale=BUSD, default=1.0, fmt="%.3f"),
    Knob("excluded", "exclusions.regions", "Exclude regions", "region ids", "regions",
         "multiselect"),
    Knob("topk_inc", "exclusions.top_k_incumbents",
         "Exclude the top-k incumbents (by baseline capacity)", "regions", "count", "number", 0,
         None, 1, hi_regions=-1),
    # group minimums
    Knob("group_col", "group_min_shares", "Group column", "group column", "group_mins", "select"),
    Knob("gmin_", "group_min_shares.*.*", "{}: min share of budget", "share of the budget", "part",
         "slider", 0.0, 1.0, 0.01, default=0.0),
    # hubs
    Knob("hubs_on", "hubs", "Select hubs", "on/off", "switch", "checkbox",
         help="Only selected hubs are funded, each with an award between the minimum and "
              "maximum (a mixed-integer plan; slower to solve)."),
    Knob("hub_kmin", "hubs.count.min", "Hubs, at least", "hubs", "count", "number", 0, None, 1,
         default=10, switch="hubs_on", default_at_most_regions=True),
    Knob("hub_kmax", "hubs.count.max", "Hubs, at most (0 = any)", "hubs, 0 = any", "count",
         "number", 0, None, 1, default=20, switch="hubs_on", zero_is_none=True,
         default_at_most_regions=True),
    Knob("hub_amin", "hubs.award_usd.min", "Award min ($M)", "$M", "number", "number", 0.0, None,
         1.0, scale=1e6, default=0.0, switch="hubs_on"),
    Knob("hub_amax", "hubs.award_usd.max", "Award max ($M, 0 = none)", "$M, 0 = none", "number",
         "number", 0.0, None, 5.0, scale=1e6, default=0.0, switch="hubs_on", zero_is_none=True),
    Knob("hub_gcol", "hubs.min_per_group", "Minimum hubs in each group of", "group column",
         "hub_group_min", "select", switch="hubs_on",
         help="e.g. census_region: at least this many hubs in each Census region."),
    Knob("hub_gmin", "hubs.min_per_group.*", "Minimum hubs per group", "hubs per group", "part",
         "number", 0, None, 1, default=0, switch="hubs_on"),
    Knob("hub_one", "hubs.max_one_per_group", "At most one hub per group of", "group column",
         "hub_one", "select", switch="hubs_on",
         help="e.g. postal: at most one hub per state (for metros or counties)."),
    # plans over time (the time-only settings return to their defaults at 1 year)
    Knob("years", "periods.years", "Years (1 = today's single plan)", "years", "count", "number",
         1, MAX_YEARS, 1, help="T: the budget is appropriated over this many years (an even "
         "split to the cent, or the appropriation by year below) and the plan maximizes the "
         "objective year's S_λ below. 1 = today's single-period plan."),
    Knob("carryover", "periods.carryover", "Carry unspent money to later years", "on/off",
         "flag", "checkbox", help="On: money a year does not spend may be spent in a later "
                                  "year. Off: each year spends its own appropriation."),
    Knob("budget_years", "periods.budget_by_year", "Appropriation by year", "USD a year, one "
         "amount per year", "budget_by_year", "text",
         help="Each year's appropriation, in order, separated by commas: e.g. $10B, $30B, $40B "
              "($500M for millions; a plain number is $B). They must be one amount per year "
              "and sum to the budget to the cent. Empty: the budget is split evenly."),
    Knob("objective_year", "objective_year", "Objective year", "final or discounted", "choice",
         "radio", help="What the plan over time maximizes. Final year: S_λ in the last year "
         "alone (what the money has built by the end). Discounted: the sum of every year's "
         "S_λ, year t divided by (1 + the discount rate)^t, so capacity built early counts "
         "for every year it stands."),
    Knob("discount", "discount_rate", "Discount rate (% a year)", "% a year", "number", "number",
         0.0, 50.0, 0.5, scale=0.01, fmt="%.2f",
         help="With the discounted objective: how much less each later year's S_λ counts "
              "(5% a year: year 2 counts 1/1.05 of year 1). 0 = every year counts alike."),
    Knob("growth_base", "growth.base_rate", "Base growth rate (% a year)", "% a year", "number",
         "number", -50.0, 50.0, 0.25, scale=0.01, fmt="%.2f",
         help="National trend growth of every indicator per year. "
              + _evidence_help("base_rate", 100.0, "% a year")),
    Knob("growth_eta", "growth.agglomeration_elasticity", "Agglomeration elasticity η",
         "per year, per unit of ln relative intensity", "number", "number", 0.0, 0.1, 0.0005,
         fmt="%.4f", help="How much faster a region with more capacity per person grows: its "
         "rate is the base rate + η ln(its per-capita capacity relative to the nation's). "
         + _evidence_help("agglomeration_elasticity", 1.0, "")),
    Knob("growth_rates", "growth.rates_from", "Growth rates read from", "path", "choice",
         "radio", help="The path without the plan: each region's rate is fixed where the "
         "no-policy path puts it, and the plan is one solve (the linearization; the summary "
         "says what it leaves out). The plan's own path: the plan is solved again at the "
         "rates it induces until they stop moving, so its path is the exact dynamics "
         "(several solves; growth centers refuse it)."),
    Knob("gc_on", "growth_centers", "Fund growth centers only", "on/off", "switch", "checkbox",
         help="Only K centers chosen by the optimizer are funded, none among the leading "
              "regions, each from the first year (a mixed-integer plan; slower). Off: the "
              "money spreads as the objective says. The comparison on the Timeline tab "
              "uses the settings below either way."),
    Knob("gc_count", "growth_centers.count", "Growth centers K", "centers", "count", "number",
         1, None, 1, default=8, switch="gc_on", hi_regions=0, default_at_most_regions=True),
    Knob("gc_exclude", "growth_centers.exclude_leading", "Barred: the leading regions",
         "regions", "count", "number", 0, None, 1, default=10, switch="gc_on",
         default_at_most_regions=True,
         help="The regions leading in baseline capacity that may not be centers."),
    Knob("gc_years", "growth_centers.min_years", "Years of support, at least", "years",
         "count", "number", 1, MAX_YEARS, 1, default=1, switch="gc_on",
         help="A center is funded in each of its first this many years (at most the plan's "
              "years)."),
    # data
    Knob("missing", "missing_values", "Empty cells", "policy for empty cells", "missing", "select",
         help="What an empty cell (empty, -, NA, n/a) of an indicator the plan uses means: "
              "stop and name it, count it as zero, or fill it with the column's median. "
              "Columns the scenario sets on their own keep their policy."),
)
MISSING_POLICIES = ("error", "zero", "median", "half_min")

_BY_KEY = {k.key: k for k in KNOBS}
_FAMILIES = tuple(k for k in KNOBS if k.key.endswith("_"))


def knob(key: str) -> Knob:
    """The row of a widget key (a family member's key finds its family's row)."""
    if key in _BY_KEY:
        return _BY_KEY[key]
    for row in _FAMILIES:
        if key.startswith(row.key):
            return row
    raise KeyError(f"no knob has the widget key '{key}'")


def is_knob_key(key: str) -> bool:
    """Whether ``key`` is the widget key of a knob (or of a family member)."""
    try:
        knob(key)
    except KeyError:
        return False
    return True


# --------------------------------------------------------------------------- paths


def _get(data: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (None where a section is absent)."""
    value: Any = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _section(data: dict[str, Any], path: str) -> dict[str, Any]:
    """The mapping at a dotted path, made (in place of None) where it is absent."""
    node = data
    for part in path.split(".") if path else []:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    return node


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    parent, _, leaf = path.rpartition(".")
    _section(data, parent)[leaf] = value


# --------------------------------------------------------------------------- plain kinds


def _is_on(row: Knob, data: dict[str, Any]) -> bool:
    return row.switch is None or _get(data, _BY_KEY[row.switch].path) is not None


def _read_plain(row: Knob, data: dict[str, Any], regions: Regions) -> Any:
    """A plain knob's widget value in a scenario (``data`` = ``Scenario.to_dict()``)."""
    raw = _get(data, row.path)
    if row.kind == "switch":
        return raw is not None
    if row.kind == "flag":
        return bool(raw)
    if row.kind == "regions":
        return sorted(rid for rid in (regions.lookup(ref) for ref in raw or []) if rid is not None)
    if row.kind == "choice":
        return str(raw)
    if not _is_on(row, data):
        value = row.default
        if row.default_at_most_regions:
            value = min(value, len(regions))
    else:
        value = 0 if raw is None else raw / row.scale
    return int(value) if row.kind == "count" else float(value)


def _setting_plain(row: Knob, values: dict[str, Any]) -> Any:
    """The setting a plain knob's widget value means (None = not set)."""
    v = values.get(row.key)
    if row.kind == "regions":
        return tuple(sorted(v or []))
    if row.kind == "choice":
        return str(v)
    if row.kind == "flag":
        return bool(v)
    number = int(v or 0) if row.kind == "count" else float(v or 0.0)
    return None if row.zero_is_none and number <= 0 else number


def _write_plain(row: Knob, data: dict[str, Any], setting: Any) -> None:
    if row.kind == "regions":
        value: Any = list(setting)
    elif row.kind == "number" and setting is not None:
        value = setting * row.scale
    else:
        value = setting
    _set(data, row.path, value)


# --------------------------------------------------------------------------- codecs


class _Context(NamedTuple):
    base: Scenario
    regions: Regions


class _Codec(NamedTuple):
    """How a family or a compound rule reads, means and writes (see ``_CODECS``)."""

    read: Callable[[Scenario, Regions], dict[str, Any]]
    setting: Callable[[dict[str, Any], _Context], Any]
    write: Callable[[dict[str, Any], Any, _Context], None]


def _start_weights(scenario: Scenario, regions: Regions) -> dict[str, float]:
    """The weights the sliders show: the scenario's on the table's indicators, else equal."""
    return ({k: float(scenario.weights.get(k, 0.0)) for k in regions.indicators
             if k in scenario.weights} or {k: 1.0 for k in regions.indicators})


def _read_weights(scenario: Scenario, regions: Regions) -> dict[str, Any]:
    start = _start_weights(scenario, regions)
    return {f"w_{k}": float(start.get(k, 0.0)) for k in regions.indicators}


def _weights_setting(values: dict[str, Any], ctx: _Context) -> dict[str, float]:
    start = _start_weights(ctx.base, ctx.regions)
    weights = {k: float(values.get(f"w_{k}") or 0.0) for k in ctx.regions.indicators}
    return {k: v for k, v in weights.items() if v > 0 or k in start}


def _write_weights(data: dict[str, Any], weights: dict[str, float], ctx: _Context) -> None:
    positive = {k: float(v) for k, v in weights.items() if v > 0}
    if not positive:
        raise ScenarioError("weights: all indicator weights are zero; give at least one "
                            "indicator a positive weight")
    data["weights"] = positive


def yield_key(instrument: str, indicator: str) -> str:
    """The widget key of one yield: ``yld_<instrument>.<indicator>``."""
    return f"yld_{instrument}.{indicator}"


def _read_yields(scenario: Scenario, regions: Regions) -> dict[str, Any]:
    """A yield in its unit per $1B, or (given as a share of the national total) in percent."""
    return {yield_key(name, k): float(str(e).rstrip("%")) for name, ins in
            scenario.instruments.items() for k, e in ins.yields.items()}


def _yields_setting(values: dict[str, Any], ctx: _Context) -> dict[str, dict[str, float | str]]:
    out: dict[str, dict[str, float | str]] = {}
    for name, ins in ctx.base.instruments.items():
        out[name] = {}
        for k, e in ins.yields.items():
            value = float(values.get(yield_key(name, k)) or 0.0)
            out[name][k] = share_yield(value) if isinstance(e, str) else value
    return out


def _write_yields(data: dict[str, Any], setting: dict[str, dict[str, float | str]],
                  ctx: _Context) -> None:
    for name, yields in setting.items():
        data["instruments"][name]["yields"] = yields


def _start_caps(scenario: Scenario, regions: Regions) -> dict[str, float]:
    """Per-region caps in $B by region id (references in the scenario become ids)."""
    caps: dict[str, float] = {}
    for ref, bounds in scenario.region_bounds.items():
        rid = regions.lookup(ref)
        if rid is not None and bounds.cap_usd is not None:
            caps[rid] = bounds.cap_usd / BUSD
    return caps


def _read_caps(scenario: Scenario, regions: Regions) -> dict[str, Any]:
    caps = _start_caps(scenario, regions)
    return {"capped": sorted(caps), **{f"cap_{rid}": float(cap) for rid, cap in caps.items()}}


def _caps_setting(values: dict[str, Any], ctx: _Context) -> dict[str, float]:
    return {rid: float(values.get(f"cap_{rid}") or 0.0) for rid in (values.get("capped") or [])}


def _write_caps(data: dict[str, Any], caps: dict[str, float], ctx: _Context) -> None:
    start = _start_caps(ctx.base, ctx.regions)
    bounds = {ref: b for ref, b in data["region_bounds"].items()
              if ctx.regions.lookup(ref) not in start}
    for rid, cap in caps.items():
        bounds[rid] = {**bounds.get(rid, {}), "cap_usd": cap * BUSD}
    data["region_bounds"] = bounds


def _read_group_mins(scenario: Scenario, regions: Regions) -> dict[str, Any]:
    """The group column and its values' minimum shares (only the chosen column's: a
    county table has 900 CBSA codes, and every widget value costs on each page run)."""
    column = next(iter(scenario.group_min_shares), NONE)
    values: dict[str, Any] = {"group_col": column}
    if column in regions.groups:
        mins = scenario.group_min_shares[column]
        for value in sorted(set(regions.table[column])):
            values[f"gmin_{column}_{value}"] = float(mins.get(value, 0.0))
    return values


def _group_mins_setting(values: dict[str, Any], ctx: _Context) -> dict[str, dict[str, float]]:
    """The minimum shares of the chosen group column's values (the base's if none is set)."""
    column = values.get("group_col")
    group_mins: dict[str, dict[str, float]] = {}
    if column in ctx.regions.groups:
        mins = {str(v): float(values.get(f"gmin_{column}_{v}") or 0.0)
                for v in sorted(set(ctx.regions.table[column]))}
        if any(s > 0 for s in mins.values()):
            group_mins[column] = {v: s for v, s in mins.items() if s > 0}
    start = {col: dict(v) for col, v in ctx.base.group_min_shares.items()}
    if not group_mins and start and column == next(iter(start)):
        group_mins = start
    return group_mins


def _write_group_mins(data: dict[str, Any], setting: dict[str, dict[str, float]],
                      ctx: _Context) -> None:
    data["group_min_shares"] = {col: {v: s for v, s in mins.items() if s > 0}
                                for col, mins in setting.items()
                                if any(s > 0 for s in mins.values())}


def _hub_group_min(scenario: Scenario) -> tuple[str, int] | None:
    """The first (group column, minimum hubs in each group) rule of the scenario's hubs."""
    hubs = scenario.hubs
    if hubs is None:
        return None
    return next(((col, int(v)) for col, v in hubs.min_per_group.items() if isinstance(v, int)),
                None)


def _read_hub_group_min(scenario: Scenario, regions: Regions) -> dict[str, Any]:
    rule = _hub_group_min(scenario)
    default = "census_region" if "census_region" in regions.groups else NONE
    return {"hub_gcol": rule[0] if rule else default, "hub_gmin": rule[1] if rule else 0}


def _hub_group_min_setting(values: dict[str, Any], ctx: _Context) -> tuple[str, int] | None:
    column, least = values.get("hub_gcol"), int(values.get("hub_gmin") or 0)
    return (str(column), least) if column in ctx.regions.groups and least > 0 else None


def _write_hub_group_min(data: dict[str, Any], rule: tuple[str, int] | None,
                         ctx: _Context) -> None:
    hubs = _section(data, "hubs")
    before = _hub_group_min(ctx.base)
    mins = {k: v for k, v in (hubs.get("min_per_group") or {}).items()
            if before is None or k != before[0]}
    if rule is not None:
        mins[rule[0]] = int(rule[1])
    hubs["min_per_group"] = mins


def _read_hub_one(scenario: Scenario, regions: Regions) -> dict[str, Any]:
    hubs = scenario.hubs
    return {"hub_one": hubs.max_one_per_group[0] if hubs and hubs.max_one_per_group else NONE}


def _hub_one_setting(values: dict[str, Any], ctx: _Context) -> str | None:
    column = values.get("hub_one")
    return str(column) if column in ctx.regions.groups else None


def _write_hub_one(data: dict[str, Any], column: str | None, ctx: _Context) -> None:
    _section(data, "hubs")["max_one_per_group"] = [column] if column else []


def _read_missing(scenario: Scenario, regions: Regions) -> dict[str, Any]:
    current = scenario.missing_values
    return {"missing": current if isinstance(current, str) else current.get("default", "error")}


def _missing_setting(values: dict[str, Any], ctx: _Context) -> str:
    return str(values.get("missing") or "error")


def _write_missing(data: dict[str, Any], policy: str, ctx: _Context) -> None:
    current = data["missing_values"]
    data["missing_values"] = policy if isinstance(current, str) else {**current, "default": policy}


OBJECTIVE_LABELS = {"final": "Final year's S_λ", "discounted": "Discounted sum of every year's S_λ"}
RATES_LABELS = {"no_policy": "The path without the plan", "plan": "The plan's own path"}
MAX_AMOUNTS_CHARS = 1_200  # the appropriation-by-year field: 50 years of "$12.345678901B, "
# years are separated by commas or semicolons; a comma before exactly three digits groups
# thousands ($1,500M)
_AMOUNT_SEPARATOR = re.compile(r"[;\n]|,(?![0-9]{3}(?![0-9]))")
_PLAIN_NUMBER = re.compile(r"^[0-9][0-9,]*(?:\.[0-9]*)?$")  # no $, no unit: $B, as the budget


def exact_money(amount: float) -> str:
    """USD to the cent, in $B or $M where the amount reaches them, with no digit lost
    ($10B, $3.33333333333B, $504M, $0.5): the scenario reads it back as the same cents."""
    cents = round(amount * 100)
    scale, suffix = next(((s, x) for s, x in ((10**9, "B"), (10**6, "M")) if cents >= s * 100),
                         (1, ""))
    digits = f"{Decimal(cents) / (scale * 100):f}"
    if "." in digits:
        digits = digits.rstrip("0").rstrip(".")
    return f"${digits}{suffix}"


def amounts_text(amounts: list[float] | None) -> str:
    """The appropriation-by-year field's text for the scenario's list ('' = an even split)."""
    return "" if amounts is None else ", ".join(exact_money(a) for a in amounts)


def amount_items(text: str | None) -> tuple[str, ...] | None:
    """The amounts the appropriation-by-year field holds, as the scenario reads them (a
    plain number gets its $B); None for an empty field (an even split). Bounded: a text
    longer than ``MAX_AMOUNTS_CHARS`` is refused with ``ScenarioError``."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > MAX_AMOUNTS_CHARS:
        raise ScenarioError(f"periods.budget_by_year: the appropriation by year is longer than "
                            f"{MAX_AMOUNTS_CHARS:,} characters; give one amount per year")
    items = [part.strip() for part in _AMOUNT_SEPARATOR.split(text)]
    return tuple(f"{item}B" if _PLAIN_NUMBER.match(item) else item for item in items if item)


def _read_amounts(scenario: Scenario, regions: Regions) -> dict[str, Any]:
    return {"budget_years": amounts_text(scenario.periods.budget_by_year)}


def _amounts_setting(values: dict[str, Any], ctx: _Context) -> tuple[str, ...] | None:
    return amount_items(values.get("budget_years"))


def _write_amounts(data: dict[str, Any], items: tuple[str, ...] | None, ctx: _Context) -> None:
    _section(data, "periods")["budget_by_year"] = None if items is None else list(items)


_CODECS: dict[str, _Codec] = {
    "weights": _Codec(_read_weights, _weights_setting, _write_weights),
    "yields": _Codec(_read_yields, _yields_setting, _write_yields),
    "region_caps": _Codec(_read_caps, _caps_setting, _write_caps),
    "group_mins": _Codec(_read_group_mins, _group_mins_setting, _write_group_mins),
    "hub_group_min": _Codec(_read_hub_group_min, _hub_group_min_setting, _write_hub_group_min),
    "hub_one": _Codec(_read_hub_one, _hub_one_setting, _write_hub_one),
    "missing": _Codec(_read_missing, _missing_setting, _write_missing),
    "budget_by_year": _Codec(_read_amounts, _amounts_setting, _write_amounts),
}
PLAIN_KINDS = ("number", "count", "choice", "switch", "flag", "regions")


# --------------------------------------------------------------------------- the table at work


def _unit(row: Knob) -> str:
    """The scenario path a knob is written with: knobs of one unit move together.

    Below a switch it is the path one level under the switch's (``hubs.count``); else the
    top-level key (``exclusions`` holds the excluded regions and the top-k incumbents).
    """
    parts = row.path.split(".")
    if row.switch is None:
        return parts[0]
    return ".".join(parts[:len(_BY_KEY[row.switch].path.split(".")) + 1])


_UNITS: dict[str, list[Knob]] = {}
for _row in KNOBS:
    if _row.kind not in ("switch", "part"):
        _UNITS.setdefault(_unit(_row), []).append(_row)


def widget_values(scenario: Scenario, regions: Regions) -> dict[str, Any]:
    """The position of every sidebar widget (keyed by widget key) for ``scenario``."""
    data = scenario.to_dict()
    values: dict[str, Any] = {}
    for row in KNOBS:
        if row.kind in _CODECS:
            values.update(_CODECS[row.kind].read(scenario, regions))
        elif row.kind != "part":
            values[row.key] = _read_plain(row, data, regions)
    return values


def _setting(row: Knob, values: dict[str, Any], ctx: _Context) -> Any:
    if row.kind in _CODECS:
        return _CODECS[row.kind].setting(values, ctx)
    return _setting_plain(row, values)


def scenario_from_widgets(base: Scenario, regions: Regions, values: dict[str, Any]) -> Scenario:
    """``base`` with the settings whose widgets moved applied; validated.

    Keys missing from ``values`` keep ``base``'s positions; if nothing moved, ``base``
    itself comes back. Raises ``ScenarioError`` with the validator's message for an
    invalid combination.
    """
    start = widget_values(base, regions)
    now = {**start, **values}
    ctx = _Context(base, regions)
    data = base.to_dict()
    touched: set[str] = set()
    for unit, rows in _UNITS.items():
        switch = _BY_KEY[rows[0].switch] if rows[0].switch else None
        fresh = False
        if switch is not None:
            on, was_on = bool(now[switch.key]), bool(start[switch.key])
            if not on:
                if was_on:
                    _set(data, switch.path, None)
                    touched.add(switch.path.split(".")[0])
                continue
            fresh = not was_on
        if fresh or any(_setting(r, now, ctx) != _setting(r, start, ctx) for r in rows):
            for row in rows:
                setting = _setting(row, now, ctx)
                if row.kind in _CODECS:
                    _CODECS[row.kind].write(data, setting, ctx)
                else:
                    _write_plain(row, data, setting)
            touched.add(unit.split(".")[0])
    if int(_get(data, "periods.years") or 1) <= 1:  # one year: the time-only keys go back
        for key, value in _single_period().items():
            if data.get(key) != value:
                data[key] = value
                touched.add(key)
    if data.get("objective_year") != "discounted" and data.get("discount_rate"):
        data["discount_rate"] = 0.0  # the final year discounts nothing (the widget is off)
        touched.add("discount_rate")
    changes = {key: data[key] for key in sorted(touched)}
    return base.updated(**changes) if changes else base


# the widgets a one-year plan refuses (reset when years returns to 1)
TIME_ONLY = ("budget_years", "carryover", "objective_year", "discount", "growth_base",
             "growth_eta", "growth_rates")


def _single_period() -> dict[str, Any]:
    """The settings a plan over time adds, at the values a one-year plan has (growth
    centers are kept: a one-year plan can have them)."""
    fields = Scenario.model_fields
    return {"periods": Periods().model_dump(mode="json"),
            "growth": Growth().model_dump(mode="json"),
            "objective_year": fields["objective_year"].default,
            "discount_rate": fields["discount_rate"].default}


def _time_widget(row: Knob, value: Any) -> Any:
    """A time-only widget's position for its setting's value."""
    if row.kind == "flag":
        return bool(value)
    if row.kind == "choice":
        return str(value)
    if row.kind == "budget_by_year":
        return amounts_text(value)
    return float(value) / row.scale


def single_period_widgets(values: dict[str, Any]) -> dict[str, Any]:
    """With years at 1, the time-only widgets' positions a one-year plan has (their
    settings are reset, so the widgets show it); nothing while years is above 1."""
    if int(values.get("years") or 1) > 1:
        return {}
    data = _single_period()
    return {key: _time_widget(_BY_KEY[key], _get(data, _BY_KEY[key].path)) for key in TIME_ONLY}


def final_year_widgets(values: dict[str, Any]) -> dict[str, Any]:
    """With the final-year objective, the discount rate's position (0: the final year
    discounts nothing, and the scenario refuses a rate without ``discounted``)."""
    return {} if values.get("objective_year") == "discounted" else {"discount": 0.0}


def budget_by_year_problem(values: dict[str, Any]) -> str | None:
    """Why the appropriation-by-year field does not fit the budget and the years the
    widgets show, in the scenario's own words (None: it fits, or it is empty)."""
    try:
        items = amount_items(values.get("budget_years"))
        if items is None:
            return None
        scenario_from_dict({"budget": float(values.get("budget") or 0.0) * BUSD,
                            "periods": {"years": int(values.get("years") or 1),
                                        "budget_by_year": list(items)}},
                           source="Appropriation by year")
    except ScenarioError as err:
        lines = [line.strip().removeprefix("(top level): ") for line in str(err).splitlines()]
        said = [line for line in lines if line.startswith("periods.budget_by_year")]
        return "\n".join(said or lines)
    return None


# --------------------------------------------------------------------------- region sets

REGION_SET_LABELS = {"states": "States (50 + DC)", "metros": "Metro areas (CBSAs, OMB 2023)",
                     "counties": "Counties"}
SLOW_REGION_SETS = {
    "counties": "Counties: about 3,100 regions. The first solve builds a large model: about "
                "12 s for the default plan, 20-25 s for others (later changes re-solve in a "
                "few seconds); maps are heavy to draw.",
}
SPREAD_LABELS = {"gini": "Gini (exact, pairwise)", "hoover": "Hoover index (linear)"}


REGION_SET_HELP = ("Plan for states, metro areas (CBSAs), counties or your own uploaded regions. "
                   "Metros and counties use locally measured figures (see the notes above the map "
                   "and data/SOURCES.md).")


def packs_help(docs: dict[str, str]) -> str:
    """The packs picker's tooltip: what the packs are, then each one's documentation."""
    return "Named sets of rules from statute or practice. " + " ".join(
        f"**{n}**: {d}" for n, d in docs.items())


def region_set_label(name: str, upload: str | None = None) -> str:
    """How the region-set picker names a set: a shipped one, or the uploaded file."""
    return REGION_SET_LABELS.get(name) or f"Your upload: {upload or 'regions CSV'}"


def default_scenario_for(region_set: str, regions: Regions) -> Scenario:
    """The default plan for a region set (``scenario.base_scenario``, as every command)."""
    return base_scenario(region_set, regions.indicators)


def region_set_notes(region_set: str, scenario: Scenario) -> list[str]:
    """What the page says about a region set's data and its default assumptions."""
    return region_set_assumptions(region_set, scenario)


def spread_measure_choice(n_regions: int) -> tuple[list[str], str | None]:
    """Spread measures the app offers for ``n_regions``, and why Gini is off (if it is)."""
    if n_regions > MAX_GINI_REGIONS:
        return ["hoover"], (f"The exact Gini needs a variable per pair of regions "
                            f"({n_regions * (n_regions - 1) // 2:,} pairs here); it is offered up to "
                            f"{MAX_GINI_REGIONS} regions. Hoover is linear in the number of regions.")
    return ["gini", "hoover"], None


# --------------------------------------------------------------------------- program rules


def pack_docs() -> dict[str, str]:
    """Each named constraint pack's documentation."""
    return {name: " ".join(str(pack.get("doc", "")).split()) for name, pack in constraint_packs().items()}


def pack_keys(packs: list[str] | tuple[str, ...]) -> set[str]:
    """Scenario keys the named packs set."""
    known = constraint_packs()
    return {key for name in packs for key in known[name]["settings"]}


def with_packs(current: Scenario, packs: list[str], origin: Scenario) -> tuple[Scenario, list[str]]:
    """``current`` with exactly ``packs`` switched on, and notes on what was kept.

    Packs fill the keys they set; the scenario's own keys win. A key a newly added pack
    sets is left to the pack unless the person changed it from ``origin`` (the loaded
    scenario), in which case their value stays and a note says so. Keys set only by packs
    switched off return to ``origin``'s value (the engine default if ``origin`` had that
    pack on). Raises ``ScenarioError`` for an unknown pack.
    """
    known = constraint_packs()
    unknown = sorted(set(packs) - set(known))
    if unknown:
        raise ScenarioError(f"packs: unknown pack(s) {unknown}; packs are {sorted(known)}")
    old = list(current.packs)
    added = [p for p in packs if p not in old]
    removed = [p for p in old if p not in packs]
    data = current.to_dict()
    base_data = origin.to_dict()
    defaults = scenario_from_dict({}, source="defaults").to_dict()
    notes = []
    for key in sorted(pack_keys(removed) - pack_keys(packs)):
        data[key] = defaults[key] if key in pack_keys(origin.packs) else base_data[key]
    for key in sorted(pack_keys(added)):
        if data.get(key) != base_data.get(key):
            notes.append(f"{key}: your own setting is kept; it wins over the pack's value")
        else:
            data.pop(key, None)
    data["packs"] = list(packs)
    return scenario_from_dict(data, source="program rules"), notes


def packs_chosen(base: Scenario, regions: Regions, values: dict[str, Any], packs: list[str],
                 origin: Scenario) -> tuple[Scenario, list[str]]:
    """The packs picker changed: the person's scenario (``base`` with the widgets' values,
    or ``base`` itself if they do not validate) with exactly ``packs`` on, and the notes
    of ``with_packs``; ``base`` and why, if the packs cannot be applied."""
    try:
        current = scenario_from_widgets(base, regions, values)
    except ScenarioError:
        current = base
    try:
        return with_packs(current, packs, origin)
    except ScenarioError as err:
        return base, [str(err)]


def weights_caption(weights: dict[str, float]) -> str | None:
    """The sidebar's line under the weights: each weighted indicator's share of the total,
    by its label ('Weights, normalized: GDP 38%, ...'); None when every weight is 0."""
    shares = normalized(weights)
    if not shares:
        return None
    return "Weights, normalized: " + ", ".join(f"{columns.label(k)} {v:.0%}"
                                               for k, v in shares.items() if v > 0)


def _differing_paths(now: Any, packed: Any, path: str) -> list[str]:
    """The dotted paths below ``path`` where two settings' values differ."""
    if isinstance(now, dict) and isinstance(packed, dict):
        return [p for key in sorted(set(now) | set(packed))
                for p in _differing_paths(now.get(key), packed.get(key), f"{path}.{key}")]
    return [] if now == packed else [path]


def _setting_label(path: str) -> str:
    """A scenario path as the sidebar names it (its knob's label), else in words."""
    row = next((k for k in KNOBS if k.path == path and "{}" not in k.label), None)
    if row is not None:
        return row.label.split(" (")[0]
    return path.replace("_", " ").replace(".", " ")


def pack_changes(scenario: Scenario) -> dict[str, list[str]]:
    """For each pack the scenario has on, the settings it holds differently from the pack.

    A pack's setting counts as modified when the scenario's value differs from the one
    the pack gives on the engine defaults (a fix applied, or a person's own value).
    """
    known = constraint_packs()
    data = scenario.to_dict()
    changes: dict[str, list[str]] = {}
    for name in scenario.packs:
        if name not in known:
            continue
        packed = scenario_from_dict({"packs": [name]}, source=f"pack {name}").to_dict()
        paths = [p for key in known[name]["settings"]
                 for p in _differing_paths(data.get(key), packed.get(key), key)]
        changes[name] = list(dict.fromkeys(_setting_label(p) for p in paths))
    return changes


def pack_caption(name: str, doc: str, modified: list[str]) -> str:
    """A pack's line under the picker: its documentation, and what is modified."""
    if not modified:
        return f"**{name}**: {doc}"
    return f"**{name}** (modified: {', '.join(modified)}): {doc}"


def apply_relaxation(scenario: Scenario, changes: dict[str, Any]) -> Scenario:
    """``scenario`` with one suggested relaxation (``Relaxation.changes``) applied."""
    return scenario.updated(**changes)


def infeasible_message(err: InfeasibleError) -> tuple[str, list[Any]]:
    """The page's message for settings that cannot all hold (``infeasible_report``'s
    conflicts as a list) and the fixes, each with a button on the page."""
    what, fixes = infeasible_report(err)
    return ("These settings cannot all hold. What conflicts"
            + (", and the fixes below, smallest first, each checked by solving again:"
               if fixes else ", and what to relax:") + "\n\n"
            + "\n".join(f"- {c}" for c in what)), fixes


def infeasible_report(err: InfeasibleError) -> tuple[list[str], list[Any]]:
    """What the page says of settings that cannot all hold: what conflicts, and the
    fixes the diagnosis re-solved (``Relaxation``). Where there are fixes, they are the
    advice, one ranked list: the sums of money against the budget keep their arithmetic
    ("all 387 eligible hubs ... can absorb only $19.7B of the $80.0B budget") without
    their advice, then the rules that conflict; other arithmetic (what one region could
    reach alone) would read as a rival fix and is left to the command line."""
    fixes = list(getattr(err.diagnosis, "relaxations", None) or [])
    if not fixes:
        return list(err.conflicts), fixes
    sums = [split_advice(c)[0] for c in err.conflicts if isinstance(c, Sums)]
    return [*sums, *getattr(err.diagnosis, "lines", list)()], fixes
