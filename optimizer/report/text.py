"""Words and tables a person reads about one plan, computed without Streamlit.

Labels and number formats for metrics and indicators, the headline numbers at the
top of the workbench (and the brief), the per-region allocation table, the sentences
that say what each binding constraint is worth, and one region's drill-down.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.engine import columns
from optimizer.engine import formatting as fmt
from optimizer.engine.check import CheckReport
from optimizer.engine.data import Regions
from optimizer.engine.errors import DataError
from optimizer.engine.growth import top_share
from optimizer.engine.inputs import BUSD, ModelInputs, resolve
from optimizer.engine.metrics import top_k_count
from optimizer.engine.response import gain_points, marginal_points_per_busd
from optimizer.engine.result import AllocationResult, SolverInfo
from optimizer.engine.scenario import Scenario, usd
from optimizer.report.outcomes import outcome_sentence

METRIC_LABELS: dict[str, tuple[str, str]] = {
    key: (columns.metric_label(key), columns.metric(key).unit)
    for key in ("spread_adjusted_capacity", "spread_adjusted_capacity_hoover", "total_capacity",
                "mean_capacity", "gini", "top10_share", "baseline_top10_share", "hhi", "theil",
                "cv")
}  # the metrics a comparison shows, in this order (labels for the top 10; see ``metric_label``)
# plans compared may differ in spread measure: both S_λ are shown, each saying its measure
METRIC_LABELS["spread_adjusted_capacity"] = ("Spread-adjusted capacity S_λ (Gini)", "points")
SHARE_METRICS = {"top10_share", "baseline_top10_share"}


def top_k(n_regions: int) -> int:
    """The k of the plan's "top-k share" for a set of ``n_regions`` regions."""
    return top_k_count(n_regions)


def metric_label(key: str, n_regions: int | None = None) -> str:
    """A metric's human label; top-k labels name the k that fits ``n_regions``."""
    return columns.metric_label(key, top_k(n_regions) if n_regions else 10)


def metric_unit(key: str) -> str:
    """A metric's unit, from the registry ('points', '% of national capacity', ...)."""
    return columns.metric(key).unit


def indicator_label(column: str) -> tuple[str, str]:
    """A readable name and a tooltip for an indicator column (from the column registry)."""
    label, help_text = columns.describe(column)
    return label, f"{help_text} Weights are relative: they are normalized to sum to 100%."


def instrument_label(name: str) -> str:
    """An instrument's human label ('Research grants' for 'research')."""
    return columns.instrument_label(name)


# --------------------------------------------------------------------------- formatting


def pct(value: float, digits: int = 1) -> str:
    """A share as a percentage: 0.042 -> '4.2%'."""
    return fmt.share(value, digits)


def metric_text(key: str, value: float) -> str:
    """A metric value formatted for its kind (from the registry)."""
    kind = columns.metric(key).kind
    return fmt.value(value, kind, digits=2 if kind == "points" else None).removesuffix(" points")


@dataclass(frozen=True)
class Headline:
    """One headline number: label, value text, change text, tooltip, and the direction
    of the change's arrow (a true minus sign is not a hyphen, so the direction is said)."""

    label: str
    value: str
    delta: str | None
    help: str

    @property
    def arrow(self) -> str:
        """'down' for a decrease, 'up' for an increase, 'off' for none (Streamlit's delta_arrow)."""
        if self.delta and self.delta.startswith((fmt.MINUS, "-")):
            return "down"
        return "up" if self.delta and self.delta.startswith("+") else "off"


MEASURE_NAMES = {"gini": "Gini", "hoover": "Hoover index"}
_S_KEYS = {"gini": "spread_adjusted_capacity", "hoover": "spread_adjusted_capacity_hoover"}


def objective_label(scenario: Scenario) -> str:
    """The name of a plan's objective, the same wherever it is shown: 'Spread-adjusted
    capacity S_λ' (Gini), 'Spread-adjusted capacity S_λ (Hoover)' (Hoover plans)."""
    return columns.metric_label(scenario.objective_key)


def plan_metric_label(key: str, scenario: Scenario, k: int = 10) -> str:
    """A metric's label within one plan: the S_λ that is not the plan's objective says
    its spread measure and that it is not the objective, so two S_λ never share a name."""
    if key in _S_KEYS.values() and key != scenario.objective_key:
        measure = "Gini" if key == _S_KEYS["gini"] else "Hoover"
        return f"Spread-adjusted capacity with the {measure} (not this plan's objective)"
    return columns.metric_label(key, k)


def objective_formula(scenario: Scenario) -> str:
    """The objective's formula in words, with the plan's own spread measure."""
    measure = "Gini" if scenario.spread_measure == "gini" else "Hoover"
    return f"100·μ·(1 − λ·{measure})"


def headline(result: AllocationResult) -> list[Headline]:
    """The numbers at the top of the page; the first is the plan's own objective, under
    its own spread measure (the number ``placefund solve`` and ``check`` report)."""
    b, a = result.metrics_before, result.metrics_after
    sc = result.scenario
    lam = sc.spread_weight
    funded = int((result.regions["funding_usd"] > 1.0).sum())
    regions_text = f"{fmt.count(funded)} of {fmt.count(len(result.regions))}"
    k = top_k(len(result.regions))
    objective = sc.objective_key
    each_year = ("" if objective != "discounted_spread_adjusted" else
                 f" The sum over the {sc.periods.years} years of each year's S_λ divided by "
                 f"(1 + {sc.discount_rate:.2%}) to the year; the baseline is the same sum "
                 "without the plan.")
    return [
        Headline(objective_label(sc), fmt.points(result.objective),
                 fmt.points(result.objective - b[objective], plus=True),
                 f"What the plan maximizes: total capacity discounted for concentration, "
                 f"{objective_formula(sc)} with λ = {lam:g} and the "
                 f"{MEASURE_NAMES[sc.spread_measure]} as the spread measure. "
                 "Baseline total capacity is 100 points." + each_year),
        Headline(f"Top-{k} share of capacity", f"{pct(b['top10_share'])} → {pct(a['top10_share'])}",
                 fmt.pct_points(a["top10_share"] - b["top10_share"]),
                 f"Share of national capacity held by the {k} regions with the most capacity"
                 + (f" (of {len(result.regions)} regions: a third, rounded up)." if k < 10 else ".")),
        Headline("Gini (per capita)", f"{fmt.number(b['gini'], 3)} → {fmt.number(a['gini'], 3)}",
                 fmt.number(a["gini"] - b["gini"], 3, plus=True),
                 "Population-weighted Gini of per-capita capacity: 0 = equal everywhere."),
        hub_headline(result) if result.scenario.hubs is not None else
        Headline("Regions funded", regions_text, None, "Regions receiving any money."),
        Headline("Budget spent", f"{usd(result.spent_usd)} of {usd(result.scenario.budget)}", None,
                 "The whole budget is spent unless the scenario allows leftovers."),
        solve_time_headline(result.solver),
    ]


def solve_time_headline(solver: SolverInfo) -> Headline:
    """How long the plan took: the solve, plus building the model when it was rebuilt."""
    seconds = (solver.build_time_s + solver.translate_time_s + solver.start_time_s
               + solver.solve_time_s)
    text = f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"
    how = ("building the model, loading it into HiGHS, finding a start and solving"
           if solver.rebuilt else "updating the model and re-solving it from the last basis")
    start = f" Start: {solver.start}." if solver.start else ""
    return Headline("Solve time", text, None, f"Time spent {how}.{start}")


def hub_headline(result: AllocationResult) -> Headline:
    """Number of hubs, the MIP gap and whether optimality was proven."""
    hubs = int(result.regions["hub"].sum()) if "hub" in result.regions else 0
    gap = float(result.solver.mip_gap)
    proven = bool(result.solver.proven_optimal)
    gap_text = "n/a" if not np.isfinite(gap) else f"{gap:.2%}"
    return Headline("Hubs selected", f"{fmt.count(hubs)} of {fmt.count(len(result.regions))} regions",
                    f"MIP gap {gap_text} · " + ("optimality proven" if proven
                                                else "not proven (time limit)"),
                    "Only hubs are funded (a mixed-integer plan). The MIP gap bounds how far "
                    "this plan can be from the best hub choice; 'optimality proven' means "
                    "HiGHS closed it to the scenario's tolerance.")


# how the allocation table (numbers, so it sorts) shows amounts in the workbench, as
# ``formatting.money`` writes them: '$8,338.1M' with separators (Streamlit's printf format,
# where ',' asks for them), '$278' per person
TABLE_MILLIONS = "$%,.1fM"
TABLE_PER_PERSON = "$%,.0f"


def allocation_table(result: AllocationResult) -> pd.DataFrame:
    """Per-region table for display, biggest funding first (money in USD)."""
    r = result.regions
    instruments = list(result.scenario.instruments)
    table = pd.DataFrame({
        "Region": r["name"],
        "Funding": r["funding_usd"],
        "Per person": r["funding_per_capita_usd"],
        **{instrument_label(name): r[f"funding_{name}_usd"] for name in instruments},
        "Capacity before": r["baseline_capacity"],
        "Capacity after": r["final_capacity"],
        "Share before": r["capacity_share_before"],
        "Share after": r["capacity_share_after"],
        "Excluded": r["excluded"],
        **({"Hub": r["hub"].astype(bool)} if result.scenario.hubs is not None else {}),
    })
    table.index = r["region_id"].rename("region_id")
    return table.sort_values(["Funding", "Capacity before"], ascending=False)


MUSD = 1e6  # the table's money is shown in $M
NOT_MONEY = ("Region", "Per person", "Capacity before", "Capacity after", "Share before",
             "Share after", "Excluded", "Hub")


def allocation_shown(result: AllocationResult
                     ) -> tuple[pd.DataFrame, dict[str, tuple[str, str | None]]]:
    """The allocation table as the page shows it, numbers kept so it sorts: money in $M,
    shares in percent, indexed by 'Region ID'; and each numeric column's printf format
    and tooltip (the unit, where the number does not show it)."""
    table = allocation_table(result)
    money = [c for c in table.columns if c not in NOT_MONEY]
    shares = ("Share before", "Share after")
    shown = table.assign(**{c: table[c] / MUSD for c in money},
                         **{c: table[c] * 100 for c in shares}).rename_axis("Region ID")
    formats: dict[str, tuple[str, str | None]] = {
        **{c: (TABLE_MILLIONS, None) for c in money}, "Per person": (TABLE_PER_PERSON, None),
        "Capacity before": ("%.2f", "capacity points"), "Capacity after": ("%.2f", "capacity points"),
        **{c: ("%.2f%%", None) for c in shares}}
    return shown, formats


def marginal_sentences(result: AllocationResult) -> list[str]:
    """What relaxing each binding constraint is worth, in plain words."""
    mv = result.marginal_values
    if mv is None or len(mv) == 0:
        return []
    rows = mv[mv["binding"].astype(bool)] if "binding" in mv else mv
    return [str(text) for text in rows["explanation"]]


# --------------------------------------------------------------------------- drill-down


@dataclass(frozen=True)
class RegionDetail:
    """One region of one plan: summary numbers and a per-instrument table."""

    region_id: str
    name: str
    summary: dict[str, str]
    instruments: pd.DataFrame  # Instrument (its label), funding_usd, gain_points, marginal_points_per_busd

    def table(self) -> pd.DataFrame:
        """The per-instrument table as people read it: labelled headers, every amount
        through the one formatter ('$1.4B', not '$1385049956'), 'not allowed' for an
        instrument the region may not receive."""
        t = self.instruments
        return pd.DataFrame({
            "Instrument": t["Instrument"],
            "Funding": [fmt.money(v) for v in t["funding_usd"]],
            "Capacity gain": [fmt.points(v, 4) for v in t["gain_points"]],
            "Marginal return (points per extra $1B)": [
                fmt.number(v, 3) if allowed else "not allowed"
                for v, allowed in zip(t["marginal_points_per_busd"], t["allowed"], strict=True)],
        })


_RESOLVED: dict[tuple[str, str], ModelInputs] = {}


def resolved_inputs(regions: Regions, scenario: Scenario) -> ModelInputs:
    """``resolve`` with a small cache: the drill-down is redrawn on every rerun."""
    key = (regions.sha256, scenario.fingerprint())
    if key not in _RESOLVED:
        if len(_RESOLVED) >= 16:
            _RESOLVED.pop(next(iter(_RESOLVED)))
        _RESOLVED[key] = resolve(regions, scenario)
    return _RESOLVED[key]


def region_detail(result: AllocationResult, regions: Regions, region_id: str) -> RegionDetail:
    """Baseline, gain by instrument and marginal return at the allocation of one region."""
    table = result.regions.set_index("region_id")
    if region_id not in table.index:
        raise DataError(f"region '{region_id}' is not in this plan")
    row = table.loc[region_id]
    inputs = resolved_inputs(regions, result.scenario)
    r = inputs.region_ids.index(region_id)
    x = (result.allocation.pivot_table(index="region_id", columns="instrument", values="amount_usd",
                                       aggfunc="sum", fill_value=0.0)
         .reindex(index=inputs.region_ids, columns=list(inputs.instruments), fill_value=0.0)
         .to_numpy(float) / BUSD)
    gains = gain_points(x, inputs)[r]
    marginal = marginal_points_per_busd(x, inputs)[r]
    allowed = inputs.allowed[r]
    per_instrument = pd.DataFrame({
        "Instrument": [instrument_label(name) for name in inputs.instruments],
        "funding_usd": x[r] * BUSD,
        "gain_points": gains,
        "marginal_points_per_busd": np.where(allowed, marginal, np.nan),
        "allowed": allowed,
    })
    summary = {
        "Population": fmt.count(row["population"]),
        "Baseline capacity": f"{row['baseline_capacity']:.3f} points "
                             f"({pct(row['capacity_share_before'], 2)} of the nation)",
        "Capacity after": f"{row['final_capacity']:.3f} points "
                          f"({pct(row['capacity_share_after'], 2)} of the nation)",
        "Per-capita capacity": f"{row['capacity_per_capita_before']:.2f} → "
                               f"{row['capacity_per_capita_after']:.2f} × national average",
        "Funding": f"{usd(row['funding_usd'])} ({fmt.per_person(row['funding_per_capita_usd'])})",
        "Marginal return": f"{row['marginal_points_per_busd']:.3f} points per extra $1B "
                           "(best instrument, at its current allocation)",
        "Status": "excluded" if bool(row["excluded"]) else "eligible",
    }
    return RegionDetail(region_id, str(row["name"]), summary, per_instrument)



# --------------------------------------------------------------------------- settings in words

def setting_label(path: str) -> str:
    """A scenario key path in words (``columns.setting_label``)."""
    return columns.setting_label(path)


def setting_text(path: str, value: object) -> str:
    """A setting's value as people read it: money, shares, lists, yes/no, 'none'."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(columns.label(str(v)) for v in value) if value else "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {setting_text(f'{path}.{k}', v)}" for k, v in value.items()) or "none"
    if isinstance(value, int | float):
        leaf = path.rsplit(".", 1)[-1]
        if leaf.endswith("_usd_per_capita"):
            return fmt.per_person(float(value))
        if leaf.endswith("_usd") or leaf == "budget" or (leaf in ("min", "max") and "_usd" in path):
            return fmt.money(float(value))
        if "share" in path and leaf != "k":
            return fmt.share(float(value))
        return f"{value:g}" if isinstance(value, float) else f"{value:,}"
    return str(value)


# --------------------------------------------------------------------------- how to read this

MODEL_DOC = Path(__file__).resolve().parents[2] / "docs" / "model.md"


def model_doc() -> str:
    """The model's description (docs/model.md), or where to find it when not shipped."""
    try:
        return MODEL_DOC.read_text(encoding="utf-8")
    except OSError:
        return ("The model's description is docs/model.md in PlaceFund's source repository; "
                "this installation does not include it.")


FACTS_CAPTION = ("How concentrated each measured indicator is (top-10 regions' share of the total, "
                 "Gini over regions; empty cells count as 0), beside what the article states.")


def how_to_read(n_regions: int) -> str:
    """The workbench's "How to read this" notes, for a set of ``n_regions`` regions."""
    k = top_k(n_regions)
    top = (f"**Top-{k} share**" + (f" (the top third of these {n_regions} regions; the top 10 "
                                   "would hold almost everything)" if k < 10 else ""))
    return "\n".join([
        "- **Capacity points** measure AI capacity; the nation's baseline total is 100.",
        "- **Per-capita capacity** is a region's capacity share over its population share "
        "(1 = national average).",
        "- **S_λ** (spread-adjusted capacity) is what the plan maximizes: 100 · μ · (1 − λ·spread), "
        "mean per-capita capacity discounted by λ × the spread measure (the Gini, or the Hoover "
        "index where the headline says *Hoover*).",
        f"- {top} and **Gini** measure concentration: lower means more spread out.",
        "- Money reads $80.0B, $292M, $1,234 per person; a decrease has a minus sign (−$7.9B); "
        "changes of shares are in percentage points (pp).",
        "- Instrument effectiveness and saturation, the weights and θ are *assumptions*: "
        "change them in the sidebar.",
        "- To see what one region receives, open the *Region detail* tab and pick it in the "
        "list or click it on that tab's map.",
        "- The model, its units and every assumption: *docs/model.md* (the toggle below).",
    ])



# --------------------------------------------------------------------------- the command line


def plan_summary(result: AllocationResult, top: int = 10) -> str:
    """What ``placefund solve`` prints: the objective under its own name (as the
    workbench's headline and the brief), the other measures by theirs, the top regions;
    every amount through the one formatter."""
    sc = result.scenario
    b, a = result.metrics_before, result.metrics_after
    n = len(result.regions)
    funded = int((result.regions["funding_usd"] > 1.0).sum())
    k = top_k(n)
    bought = outcome_sentence(result)
    years = sc.periods.years
    lines = [
        f"Plan: {usd(result.spent_usd)} of {usd(sc.budget)} across {fmt.count(funded)} of "
        f"{fmt.count(n)} regions" + (f", over {years} years" if years > 1 else ""),
        *horizon_lines(result),
        *([f"{bought} Capacity points are a weighted share of these outcomes."] if bought else []),
        f"{objective_label(sc)}, the plan's objective (λ = {sc.spread_weight:g}): "
        f"{fmt.number(b[sc.objective_key])} → {fmt.number(result.objective)} points "
        f"({fmt.points(result.objective - b[sc.objective_key], plus=True)})",
        f"Total capacity: {fmt.number(b['total_capacity'])} → {fmt.number(a['total_capacity'])} points",
        f"Top-{k} share of capacity: {pct(b['top10_share'])} → {pct(a['top10_share'])}",
        f"Gini (per capita): {fmt.number(b['gini'], 3)} → {fmt.number(a['gini'], 3)}",
    ]
    if sc.spread_measure == "hoover":
        lines.append(f"Hoover index (per capita): {fmt.number(b['hoover'], 3)} → "
                     f"{fmt.number(a['hoover'], 3)}")
    top_rows = result.regions.nlargest(top, "funding_usd")
    if len(top_rows):
        lines += ["", f"Top {min(top, len(top_rows))} funded regions:"]
        width = max(len(str(name)) for name in top_rows["name"])
        for _, row in top_rows.iterrows():
            lines.append(f"  {row['name']:<{width}}  {usd(row['funding_usd']):>8}  "
                         f"{fmt.per_person(row['funding_per_capita_usd']):>18}  capacity "
                         f"{fmt.number(row['baseline_capacity'])} → {fmt.number(row['final_capacity'])}")
    return "\n".join(lines)


def horizon_lines(result: AllocationResult) -> list[str]:
    """A plan over time in words: what 'before' means, and how the leading regions pull
    away without the plan (the no-policy path of trajectory.csv)."""
    sc, trajectory = result.scenario, result.trajectory
    if sc.periods.years <= 1 or trajectory is None:
        return []
    years = sc.periods.years
    capacity = trajectory[trajectory["measure"] == "capacity"].pivot(
        index="year", columns="region_id", values="without_plan").to_numpy()
    shares = top_share(capacity)
    growth = sc.growth
    lines = [f"Each number compares year {years} with the plan against year {years} without "
             f"it; capacity grows {pct(growth.base_rate)} a year nationally, faster in "
             f"intensive regions (agglomeration elasticity {growth.agglomeration_elasticity:g}).",
             f"Without the plan the top-{top_k(capacity.shape[1])} share of capacity goes "
             f"{pct(shares[0])} → {pct(shares[-1])} over the {years} years."]
    unlinearized = result.approximation.get("unlinearized_objective")
    rounds = result.approximation.get("rate_rounds")
    if growth.rates_from == "plan" and rounds is not None:
        lines.append(f"Growth rates follow the plan's own path: solved {fmt.count(int(rounds))} "
                     f"time(s), each at the rates the last plan induced, until they moved by "
                     f"{float(result.approximation['rate_change']):.1e} a year at most.")
    elif unlinearized is not None and growth.agglomeration_elasticity > 0:
        label = columns.metric_label(sc.objective_key)
        lines.append(
            f"Growth rates are fixed on the path without the plan (the plan's linearization). "
            f"Were they to follow the plan's own path (growth.rates_from: plan), its {label} "
            f"would be "
            f"{fmt.number(float(unlinearized))} points "
            f"({fmt.points(float(unlinearized) - result.objective, plus=True)}).")
    return lines


def horizon_table(table: pd.DataFrame, objective: str) -> pd.DataFrame:
    """``periods.comparison_table`` with the labels and units people read."""
    names = {"plan": "Plan", "objective": f"{columns.metric_label(objective)} (points)",
             "gini": columns.metric_label("gini"),
             "top10_share": "Top-10 share of capacity (share)",
             "total_capacity": "Total capacity (points)", "funded_regions": "Regions funded"}
    for column in table.columns:
        if column.startswith("gain_"):
            k = column[len("gain_"):]
            names[column] = f"Gain by the final year: {columns.label(k)} ({columns.unit(k)})"
    return table.rename(columns=names)


def horizon_summary(table: pd.DataFrame, years: int, objective: str) -> str:
    """What ``placefund horizon`` prints: each plan's final-year numbers side by side,
    and what foresight (and choosing centers) changes."""
    label = columns.metric_label(objective)
    lines = [f"Plans over {years} years, judged by {label} (exact):"]
    width = max(len(str(p)) for p in table["plan"])
    for _, row in table.iterrows():
        lines.append(f"  {row['plan']:<{width}}  {fmt.number(row['objective'])} points; Gini "
                     f"{fmt.number(row['gini'], 3)}; top-10 share {pct(row['top10_share'])}; "
                     f"{fmt.count(row['funded_regions'])} regions funded")
    by = table.set_index("plan")["objective"]
    lines.append(f"Foresight buys {fmt.points(by['foresighted'] - by['myopic'], plus=True)} over "
                 "planning each year for that year alone.")
    if "growth centers" in by:
        lines.append(f"Funding only growth centers changes the objective by "
                     f"{fmt.points(by['growth centers'] - by['foresighted'], plus=True)} against "
                     "the unconstrained plan.")
    return "\n".join(lines)


def check_summary(report: CheckReport) -> str:
    """What ``placefund check`` prints: the verdict, the objective recomputed under the
    plan's own name, and, for a folder of several plans, what else was verified."""
    if not report.ok:
        return str(report)
    label = columns.metric_label(report.objective_key)
    extra = getattr(report, "headline", "")
    if extra:  # a consensus or robust plan maximizes something else: say so
        return (f"plan OK: every rule of its base scenario holds and every reported metric "
                f"matches; {label} under the base scenario alone, recomputed exactly: "
                f"{fmt.number(report.objective, 4)} points (not what this plan maximizes)\n{extra}")
    return (f"plan OK: every rule of its scenario holds and every reported metric matches; "
            f"{label}, the plan's objective, recomputed exactly: "
            f"{fmt.number(report.objective, 4)} points")


def solver_line(result: AllocationResult) -> str:
    """Which solver found the plan, how long it took and whether it built the model."""
    return (f"Solved by {result.solver.solver or 'HiGHS'} in {result.solver.solve_time_s * 1000:,.0f} ms "
            f"({'rebuilt the model' if result.solver.rebuilt else 're-used the model'}).")


def approximation_warning(result: AllocationResult) -> str | None:
    """What the page says when the plan's response approximation is off by more than the
    scenario allows (None: it is within)."""
    if result.approximation.get("within_tolerance", True):
        return None
    return ("The LP's response approximation is off by more than the scenario allows; "
            "raise approximation.tangents in the scenario file.")
