"""What the workbench app shows, computed without Streamlit.

The app (``app.py``) only lays out widgets; every number, sentence and table it
shows comes from here or from the engine, so it is tested on its own:

- ``Controls``: the knobs a person turns, read from and applied to a ``Scenario``
  (only the knobs that changed are written back, so an uploaded scenario
  round-trips exactly);
- ``headline``, ``allocation_table``, ``region_detail``, ``marginal_sentences``;
- ``compare_metrics`` / ``difference_table`` for saved plans;
- ``PlanLibrary``: saved plans on disk (``$PLACEFUND_HOME/plans``, default
  ``~/.placefund/plans``), never overwritten, deletable;
- upload checks (size limit, regions CSV + GeoJSON, scenario YAML);
- region sets (``default_scenario_for``: the documented default plan for metros and
  counties), program rules (``with_packs``, ``HubControls``) and what to relax when
  rules conflict (``apply_relaxation``);
- the sensitivity page (``sensitivity_spec``, ``run_sensitivity``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine import columns
from optimizer.engine.data import Regions, load_geometry, regions_from_bytes
from optimizer.engine.errors import DataError, PlaceFundError, ScenarioError
from optimizer.engine.inputs import (
    BUSD,
    MAX_GINI_REGIONS,
    ModelInputs,
    resolve,
)
from optimizer.engine.response import gain_points, marginal_points_per_busd
from optimizer.engine.result import AllocationResult
from optimizer.engine.scenario import (
    Scenario,
    constraint_packs,
    region_set_assumptions,
    region_set_default,
    scenario_from_bytes,
    scenario_from_dict,
    usd,
)
from optimizer.engine.settings import home_dir
from optimizer.report.export import load_plan

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
# the largest upload the workbench plans: counties-sized sets (3,134) solve first in 20-25 s
# and re-solve in seconds with the Hoover spread, which uploads over MAX_GINI_REGIONS get
MAX_APP_REGIONS = 5_000

METRIC_LABELS: dict[str, tuple[str, str]] = {
    "spread_adjusted_capacity": ("Spread-adjusted capacity S_λ", "points"),
    "total_capacity": ("Total capacity", "points"),
    "mean_capacity": ("Mean per-capita capacity μ", "× baseline average"),
    "gini": ("Gini of per-capita capacity", "0 = equal, 1 = all in one place"),
    "top10_share": ("Top-10 regions' share of capacity", "share"),
    "baseline_top10_share": ("Share held by the baseline top 10", "share"),
    "hhi": ("Herfindahl index of capacity shares", "0..1"),
    "theil": ("Theil index", "0 = equal"),
    "cv": ("Coefficient of variation", "ratio"),
}
SHARE_METRICS = {"top10_share", "baseline_top10_share"}
def indicator_label(column: str) -> tuple[str, str]:
    """A readable name and a tooltip for an indicator column (from the column registry)."""
    label, help_text = columns.describe(column)
    return label, f"{help_text} Weights are relative: they are normalized to sum to 100%."


# --------------------------------------------------------------------------- formatting


def pct(value: float, digits: int = 1) -> str:
    """A share as a percentage: 0.042 -> '4.2%'."""
    return f"{value:.{digits}%}"


def metric_text(key: str, value: float) -> str:
    """A metric value formatted for its kind."""
    if key in SHARE_METRICS:
        return pct(value)
    if key in ("gini", "hhi", "theil", "cv"):
        return f"{value:.3f}"
    return f"{value:,.2f}"


@dataclass(frozen=True)
class Headline:
    """One headline number: label, value text, change text, tooltip."""

    label: str
    value: str
    delta: str | None
    help: str


def headline(result: AllocationResult) -> list[Headline]:
    """The numbers at the top of the page."""
    b, a = result.metrics_before, result.metrics_after
    lam = result.scenario.spread_weight
    funded = int((result.regions["funding_usd"] > 1.0).sum())
    regions_text = f"{funded} of {len(result.regions)}"
    return [
        Headline("Spread-adjusted capacity S_λ", f"{a['spread_adjusted_capacity']:.2f} points",
                 f"{a['spread_adjusted_capacity'] - b['spread_adjusted_capacity']:+.2f} points",
                 f"Total capacity discounted for concentration, λ = {lam:g}: 100·μ·(1 − λ·Gini). "
                 "Baseline total capacity is 100 points."),
        Headline("Top-10 share of capacity", f"{pct(b['top10_share'])} → {pct(a['top10_share'])}",
                 f"{(a['top10_share'] - b['top10_share']) * 100:+.1f} pp",
                 "Share of national capacity held by the 10 regions with the most capacity."),
        Headline("Gini (per capita)", f"{b['gini']:.3f} → {a['gini']:.3f}",
                 f"{a['gini'] - b['gini']:+.3f}",
                 "Population-weighted Gini of per-capita capacity: 0 = equal everywhere."),
        hub_headline(result) if result.scenario.hubs is not None else
        Headline("Regions funded", regions_text, None, "Regions receiving any money."),
        Headline("Budget spent", f"{usd(result.spent_usd)} of {usd(result.scenario.budget)}", None,
                 "The whole budget is spent unless the scenario allows leftovers."),
        solve_time_headline(result.solver),
    ]


def solve_time_headline(solver: dict[str, Any]) -> Headline:
    """How long the plan took: the solve, plus building the model when it was rebuilt."""
    steps = ("build_time_s", "translate_time_s", "start_time_s", "solve_time_s")
    seconds = sum(float(solver.get(k, 0.0)) for k in steps)
    text = f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"
    how = ("building the model, loading it into HiGHS, finding a start and solving"
           if solver.get("rebuilt") else "updating the model and re-solving it from the last basis")
    start = f" Start: {solver['start']}." if solver.get("start") else ""
    return Headline("Solve time", text, None, f"Time spent {how}.{start}")


def hub_headline(result: AllocationResult) -> Headline:
    """Number of hubs, the MIP gap and whether optimality was proven."""
    hubs = int(result.regions["hub"].sum()) if "hub" in result.regions else 0
    gap = float(result.solver.get("mip_gap", 0.0))
    proven = bool(result.solver.get("proven_optimal", True))
    gap_text = "n/a" if not np.isfinite(gap) else f"{gap:.2%}"
    return Headline("Hubs selected", f"{hubs} of {len(result.regions)} regions",
                    f"MIP gap {gap_text} · " + ("optimality proven" if proven
                                                else "not proven (time limit)"),
                    "Only hubs are funded (a mixed-integer plan). The MIP gap bounds how far "
                    "this plan can be from the best hub choice; 'optimality proven' means "
                    "HiGHS closed it to the scenario's tolerance.")


def allocation_table(result: AllocationResult) -> pd.DataFrame:
    """Per-region table for display, biggest funding first (money in USD)."""
    r = result.regions
    instruments = list(result.scenario.instruments)
    table = pd.DataFrame({
        "Region": r["name"],
        "Funding": r["funding_usd"],
        "Per person": r["funding_per_capita_usd"],
        **{f"{name.capitalize()}": r[f"funding_{name}_usd"] for name in instruments},
        "Capacity before": r["baseline_capacity"],
        "Capacity after": r["final_capacity"],
        "Share before": r["capacity_share_before"],
        "Share after": r["capacity_share_after"],
        "Excluded": r["excluded"],
        **({"Hub": r["hub"].astype(bool)} if result.scenario.hubs is not None else {}),
    })
    table.index = r["region_id"].rename("region_id")
    return table.sort_values(["Funding", "Capacity before"], ascending=False)


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
    instruments: pd.DataFrame  # instrument, funding_usd, gain_points, marginal_points_per_busd


_RESOLVED: dict[tuple[str, str], ModelInputs] = {}


def _resolved(regions: Regions, scenario: Scenario) -> ModelInputs:
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
    inputs = _resolved(regions, result.scenario)
    r = inputs.region_ids.index(region_id)
    x = (result.allocation.pivot_table(index="region_id", columns="instrument", values="amount_usd",
                                       aggfunc="sum", fill_value=0.0)
         .reindex(index=inputs.region_ids, columns=list(inputs.instruments), fill_value=0.0)
         .to_numpy(float) / BUSD)
    gains = gain_points(x, inputs)[r]
    marginal = marginal_points_per_busd(x, inputs)[r]
    allowed = inputs.allowed[r]
    per_instrument = pd.DataFrame({
        "instrument": list(inputs.instruments),
        "funding_usd": x[r] * BUSD,
        "gain_points": gains,
        "marginal_points_per_busd": np.where(allowed, marginal, np.nan),
        "allowed": allowed,
    })
    summary = {
        "Population": f"{row['population']:,.0f}",
        "Baseline capacity": f"{row['baseline_capacity']:.3f} points "
                             f"({pct(row['capacity_share_before'], 2)} of the nation)",
        "Capacity after": f"{row['final_capacity']:.3f} points "
                          f"({pct(row['capacity_share_after'], 2)} of the nation)",
        "Per-capita capacity": f"{row['capacity_per_capita_before']:.2f} → "
                               f"{row['capacity_per_capita_after']:.2f} × national average",
        "Funding": f"{usd(row['funding_usd'])} (${row['funding_per_capita_usd']:,.0f} per person)",
        "Marginal return": f"{row['marginal_points_per_busd']:.3f} points per extra $1B "
                           "(best instrument, at its current allocation)",
        "Status": "excluded" if bool(row["excluded"]) else "eligible",
    }
    return RegionDetail(region_id, str(row["name"]), summary, per_instrument)


# --------------------------------------------------------------------------- controls


@dataclass(frozen=True)
class HubControls:
    """Hub selection knobs. Awards in $M; ``None`` = no limit."""

    count_min: int = 0
    count_max: int | None = None
    award_min_musd: float = 0.0
    award_max_musd: float | None = None
    min_per_group: tuple[str, int] | None = None  # (group column, minimum hubs in each group)
    one_per_group: str | None = None  # group column with at most one hub per group


DEFAULT_HUB_CONTROLS = HubControls(count_min=10, count_max=20)  # when a person switches hubs on


def hub_controls(scenario: Scenario) -> HubControls | None:
    """The hub knobs a scenario's ``hubs`` section sets (None = no hubs)."""
    hubs = scenario.hubs
    if hubs is None:
        return None
    per_group = next(((col, int(v)) for col, v in hubs.min_per_group.items() if isinstance(v, int)),
                     None)
    return HubControls(
        count_min=hubs.count.min,
        count_max=hubs.count.max,
        award_min_musd=hubs.award_usd.min / 1e6,
        award_max_musd=None if hubs.award_usd.max is None else hubs.award_usd.max / 1e6,
        min_per_group=per_group,
        one_per_group=hubs.max_one_per_group[0] if hubs.max_one_per_group else None,
    )


def hubs_section(base: Scenario, start: HubControls | None, hubs: HubControls) -> dict[str, Any]:
    """``base``'s ``hubs`` mapping with the knobs that differ from ``start`` applied."""
    data = base.to_dict()["hubs"] or {}
    before = start or HubControls()
    if start is None or hubs.count_min != before.count_min or hubs.count_max != before.count_max:
        data["count"] = {"min": int(hubs.count_min), "max": hubs.count_max}
    if (start is None or hubs.award_min_musd != before.award_min_musd
            or hubs.award_max_musd != before.award_max_musd):
        data["award_usd"] = {"min": hubs.award_min_musd * 1e6,
                             "max": None if hubs.award_max_musd is None else hubs.award_max_musd * 1e6}
    if start is None or hubs.min_per_group != before.min_per_group:
        mins = {k: v for k, v in (data.get("min_per_group") or {}).items()
                if before.min_per_group is None or k != before.min_per_group[0]}
        if hubs.min_per_group is not None and hubs.min_per_group[1] > 0:
            mins[hubs.min_per_group[0]] = int(hubs.min_per_group[1])
        data["min_per_group"] = mins
    if start is None or hubs.one_per_group != before.one_per_group:
        data["max_one_per_group"] = [hubs.one_per_group] if hubs.one_per_group else []
    return data


@dataclass(frozen=True)
class Controls:
    """The knobs in the sidebar. Money in $B; shares in 0..1."""

    budget_busd: float
    weights: dict[str, float]
    spread_weight: float
    complementarity: float
    effectiveness: dict[str, float]
    top_k_cap: tuple[int, float] | None = None
    per_capita_floor: float | None = None
    max_region_share: float | None = None
    region_floor_busd: float = 0.0
    region_cap_busd: float | None = None
    region_caps_busd: dict[str, float] = field(default_factory=dict)
    excluded: tuple[str, ...] = ()
    top_k_incumbents: int = 0
    group_min_shares: dict[str, dict[str, float]] = field(default_factory=dict)
    spread_measure: str = "gini"
    hubs: HubControls | None = None


def controls_from_scenario(scenario: Scenario, regions: Regions) -> Controls:
    """Read the knobs' positions from a scenario (region references become ids)."""
    caps: dict[str, float] = {}
    for ref, bounds in scenario.region_bounds.items():
        rid = regions.lookup(ref)
        if rid is not None and bounds.cap_usd is not None:
            caps[rid] = bounds.cap_usd / BUSD
    excluded = tuple(sorted(rid for rid in (regions.lookup(ref) for ref in scenario.exclusions.regions)
                            if rid is not None))
    cap = scenario.top_k_share_cap
    return Controls(
        budget_busd=scenario.budget / BUSD,
        weights={k: float(scenario.weights.get(k, 0.0)) for k in regions.indicators
                 if k in scenario.weights} or {k: 1.0 for k in regions.indicators},
        spread_weight=scenario.spread_weight,
        complementarity=scenario.complementarity,
        effectiveness={name: ins.effectiveness_per_busd for name, ins in scenario.instruments.items()},
        top_k_cap=(cap.k, cap.max_share) if cap is not None else None,
        per_capita_floor=scenario.per_capita_floor,
        max_region_share=scenario.max_region_share,
        region_floor_busd=scenario.region_floor_usd / BUSD,
        region_cap_busd=None if scenario.region_cap_usd is None else scenario.region_cap_usd / BUSD,
        region_caps_busd=caps,
        excluded=excluded,
        top_k_incumbents=scenario.exclusions.top_k_incumbents,
        group_min_shares={col: dict(v) for col, v in scenario.group_min_shares.items()},
        spread_measure=scenario.spread_measure,
        hubs=hub_controls(scenario),
    )


def apply_controls(base: Scenario, regions: Regions, controls: Controls) -> Scenario:
    """``base`` with the knobs that differ from its own positions applied; validated.

    Raises ``ScenarioError`` with the validator's message for an invalid combination.
    """
    start = controls_from_scenario(base, regions)
    changes: dict[str, Any] = {}
    if controls.budget_busd != start.budget_busd:
        changes["budget"] = controls.budget_busd * BUSD
    if controls.weights != start.weights:
        weights = {k: float(v) for k, v in controls.weights.items() if v > 0}
        if not weights:
            raise ScenarioError("weights: all indicator weights are zero; give at least one "
                                "indicator a positive weight")
        changes["weights"] = weights
    for name in ("spread_weight", "complementarity", "per_capita_floor", "max_region_share",
                 "spread_measure"):
        if getattr(controls, name) != getattr(start, name):
            changes[name] = getattr(controls, name)
    if controls.effectiveness != start.effectiveness:
        instruments = base.to_dict()["instruments"]
        for name, value in controls.effectiveness.items():
            if name not in instruments:
                raise ScenarioError(f"instruments: unknown instrument '{name}'")
            instruments[name]["effectiveness_per_busd"] = value
        changes["instruments"] = instruments
    if controls.top_k_cap != start.top_k_cap:
        changes["top_k_share_cap"] = (None if controls.top_k_cap is None else
                                      {"k": controls.top_k_cap[0], "max_share": controls.top_k_cap[1]})
    if controls.region_floor_busd != start.region_floor_busd:
        changes["region_floor_usd"] = controls.region_floor_busd * BUSD
    if controls.region_cap_busd != start.region_cap_busd:
        cap = controls.region_cap_busd
        changes["region_cap_usd"] = None if cap is None else cap * BUSD
    if controls.region_caps_busd != start.region_caps_busd:
        bounds = {ref: b for ref, b in base.to_dict()["region_bounds"].items()
                  if regions.lookup(ref) not in start.region_caps_busd}
        for rid, cap in controls.region_caps_busd.items():
            bounds[rid] = {**bounds.get(rid, {}), "cap_usd": cap * BUSD}
        changes["region_bounds"] = bounds
    if controls.excluded != start.excluded or controls.top_k_incumbents != start.top_k_incumbents:
        exclusions = base.to_dict()["exclusions"]
        exclusions["regions"] = list(controls.excluded)
        exclusions["top_k_incumbents"] = int(controls.top_k_incumbents)
        changes["exclusions"] = exclusions
    if controls.group_min_shares != start.group_min_shares:
        changes["group_min_shares"] = {col: {v: s for v, s in mins.items() if s > 0}
                                       for col, mins in controls.group_min_shares.items()
                                       if any(s > 0 for s in mins.values())}
    if controls.hubs != start.hubs:
        changes["hubs"] = (None if controls.hubs is None
                           else hubs_section(base, start.hubs, controls.hubs))
    return base.updated(**changes) if changes else base


def fit_scenario(scenario: Scenario, regions: Regions) -> tuple[Scenario, list[str]]:
    """Adapt a scenario to a regions table with other indicators; say what changed.

    Weights on indicators the table lacks are dropped (equal weights if none is left);
    an instrument whose absorption indicators are missing absorbs by overall capacity;
    above MAX_GINI_REGIONS regions the spread is measured by the Hoover index.
    """
    notes: list[str] = []
    have = set(regions.indicators)
    changes: dict[str, Any] = {}
    weights = {k: v for k, v in scenario.weights.items() if k in have and v > 0}
    dropped = sorted(set(scenario.weights) - have)
    if dropped:
        notes.append(f"weights on {dropped} were dropped: the regions table has no such columns")
    if not weights:
        weights = {k: 1.0 for k in regions.indicators}
        notes.append(f"equal weights on the table's indicators {list(regions.indicators)}")
    if weights != scenario.weights:
        changes["weights"] = weights
    instruments = scenario.to_dict()["instruments"]
    for name, ins in instruments.items():
        absent = sorted(set(ins.get("absorbs") or []) - have)
        if absent:
            ins["absorbs"] = None
            notes.append(f"instrument {name}: absorption indicators {absent} are missing; "
                         "it absorbs by overall capacity instead")
    if instruments != scenario.to_dict()["instruments"]:
        changes["instruments"] = instruments
    if len(regions) > MAX_GINI_REGIONS and scenario.spread_measure == "gini":
        changes["spread_measure"] = "hoover"
        notes.append(f"spread is measured by the Hoover index: the exact pairwise Gini is offered "
                     f"up to {MAX_GINI_REGIONS} regions and this table has {len(regions):,} "
                     "(the plan's true Gini is reported either way)")
    return (scenario.updated(**changes) if changes else scenario), notes


# --------------------------------------------------------------------------- region sets

REGION_SET_LABELS = {"states": "States (50 + DC)", "metros": "Metro areas (CBSAs, OMB 2023)",
                     "counties": "Counties"}
SLOW_REGION_SETS = {
    "counties": "Counties: about 3,100 regions. The first solve builds a large model: about "
                "12 s for the default plan, 20-25 s for others (later changes re-solve in a "
                "few seconds); maps are heavy to draw.",
}


def default_scenario_for(region_set: str, regions: Regions) -> Scenario:
    """The default plan for a shipped region set (see ``scenario.region_set_default``)."""
    return region_set_default(region_set, regions.indicators)


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


SPREAD_LABELS = {"gini": "Gini (exact, pairwise)", "hoover": "Hoover index (linear)"}


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


def apply_relaxation(scenario: Scenario, changes: dict[str, Any]) -> Scenario:
    """``scenario`` with one suggested relaxation (``Relaxation.changes``) applied."""
    return scenario.updated(**changes)


# --------------------------------------------------------------------------- uploads


def check_upload_size(name: str, size: int, limit: int = MAX_UPLOAD_BYTES) -> None:
    """Refuse a file above the limit with a polite message."""
    if size > limit:
        raise DataError(f"is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB. "
                        "Trim the file or use the command line for large inputs.", file=name)


def regions_from_upload(csv_name: str, csv_bytes: bytes, geo_name: str | None = None,
                        geo_bytes: bytes | None = None, home: Path | None = None) -> Regions:
    """Validate an uploaded regions CSV (and optional GeoJSON keyed by region_id)."""
    check_upload_size(csv_name, len(csv_bytes))
    regions = regions_from_bytes(csv_bytes, csv_name)
    if len(regions) > MAX_APP_REGIONS:
        raise DataError(f"has {len(regions):,} regions; the workbench plans up to "
                        f"{MAX_APP_REGIONS:,}. Use the command line for larger sets.",
                        file=csv_name)
    if geo_bytes is None:
        return regions
    name = geo_name or "geometry.geojson"
    check_upload_size(name, len(geo_bytes))
    folder = (home or placefund_home()) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(geo_bytes).hexdigest()[:16]}.geojson"
    if not path.exists():
        path.write_bytes(geo_bytes)
    try:
        shapes = load_geometry(path, regions.ids)
    except DataError as err:
        raise DataError(str(err).replace(str(path), name)) from None
    return dataclasses.replace(regions, geometry_path=path,
                               repaired_geometry=tuple(shapes.attrs.get("repaired", ())))


def scenario_from_upload(name: str, raw: bytes) -> Scenario:
    """Validate an uploaded scenario YAML."""
    check_upload_size(name, len(raw))
    return scenario_from_bytes(raw, source=name)  # the CLI's bounded YAML reader


# --------------------------------------------------------------------------- plan library


def placefund_home() -> Path:
    """The user's PlaceFund folder: $PLACEFUND_HOME or ~/.placefund."""
    return home_dir()


def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-.")
    return slug[:60] or "plan"


@dataclass(frozen=True)
class SavedPlan:
    """A plan in the library."""

    name: str
    path: Path
    saved_utc: str
    data_sha256: str

    def load(self) -> AllocationResult:
        """The stored plan as an ``AllocationResult``."""
        return load_plan(self.path)


class PlanLibrary:
    """Named plans saved as plan directories under ``root``; nothing is ever overwritten."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else placefund_home() / "plans"

    def list(self) -> list[SavedPlan]:
        """Saved plans, oldest first."""
        if not self.root.is_dir():
            return []
        plans = []
        for meta_path in self.root.glob("*/meta.json"):
            try:
                meta = json.loads(meta_path.read_text())
                plans.append(SavedPlan(str(meta["name"]), meta_path.parent, str(meta["saved_utc"]),
                                       str(meta.get("data_sha256", ""))))
            except (OSError, json.JSONDecodeError, KeyError):
                continue  # a half-written or foreign folder: not ours to show
        return sorted(plans, key=lambda p: (p.saved_utc, p.name))

    def names(self) -> list[str]:
        """Names of the saved plans."""
        return [p.name for p in self.list()]

    def get(self, name: str) -> SavedPlan:
        """The saved plan called ``name``."""
        for plan in self.list():
            if plan.name == name:
                return plan
        raise DataError(f"no saved plan called '{name}'", file=str(self.root))

    def save(self, name: str, result: AllocationResult) -> SavedPlan:
        """Save ``result`` as ``name``; an existing name gets a numbered suffix instead."""
        clean = " ".join(name.split())
        if not clean:
            raise ScenarioError("give the plan a name before saving it")
        if len(clean) > 80:
            raise ScenarioError("plan names are limited to 80 characters")
        self.root.mkdir(parents=True, exist_ok=True)
        taken = set(self.names())
        final_name, n = clean, 1
        while final_name in taken:
            n += 1
            final_name = f"{clean} ({n})"
        staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=self.root))
        try:
            result.to_dir(staging / "plan")
            saved = datetime.now(UTC).isoformat(timespec="microseconds")
            meta = {"name": final_name, "saved_utc": saved,
                    "data_sha256": result.provenance.get("data_sha256", "")}
            (staging / "plan" / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
            base, k = _slug(final_name), 1
            while True:
                target = self.root / (base if k == 1 else f"{base}-{k}")
                try:
                    (staging / "plan").rename(target)  # fails if target exists: never overwrite
                    break
                except OSError:
                    if not target.exists():
                        raise
                    k += 1
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return SavedPlan(final_name, target, saved, meta["data_sha256"])

    def delete(self, name: str) -> None:
        """Remove the saved plan called ``name``."""
        shutil.rmtree(self.get(name).path)


# --------------------------------------------------------------------------- comparison


def compare_metrics(plans: dict[str, AllocationResult]) -> pd.DataFrame:
    """Metrics of several plans side by side, with the shared baseline first."""
    if not plans:
        return pd.DataFrame()
    first = next(iter(plans.values()))
    columns = {"Baseline": first.metrics_before}
    columns.update({name: plan.metrics_after for name, plan in plans.items()})
    rows = []
    for key, (label, unit) in METRIC_LABELS.items():
        if key not in first.metrics_before:
            continue
        row = {"Metric": label, "Unit": unit}
        row.update({name: metric_text(key, m[key]) for name, m in columns.items() if key in m})
        rows.append(row)
    extra = [{"Metric": "Budget", "Unit": "USD", "Baseline": "",
              **{name: usd(p.scenario.budget) for name, p in plans.items()}},
             {"Metric": "Spread weight λ", "Unit": "0..1", "Baseline": "",
              **{name: f"{p.scenario.spread_weight:g}" for name, p in plans.items()}},
             {"Metric": "Regions funded", "Unit": "count", "Baseline": "",
              **{name: str(int((p.regions["funding_usd"] > 1.0).sum())) for name, p in plans.items()}}]
    return pd.DataFrame(rows + extra).set_index("Metric")


def same_regions(plans: dict[str, AllocationResult]) -> bool:
    """Whether all plans cover the same region ids (needed for difference maps)."""
    ids = [tuple(sorted(p.regions["region_id"].astype(str))) for p in plans.values()]
    return len(set(ids)) <= 1


def difference_table(a: AllocationResult, b: AllocationResult, name_a: str, name_b: str) -> pd.DataFrame:
    """Per-region funding and capacity in two plans, largest funding change first."""
    ra = a.regions.set_index("region_id")
    rb = b.regions.set_index("region_id")
    if set(ra.index) != set(rb.index):
        raise DataError(f"plans '{name_a}' and '{name_b}' cover different regions; compare plans "
                        "made on the same regions table")
    rb = rb.reindex(ra.index)
    out = pd.DataFrame({
        "Region": ra["name"],
        f"Funding, {name_a}": ra["funding_usd"],
        f"Funding, {name_b}": rb["funding_usd"],
        "Funding change": rb["funding_usd"] - ra["funding_usd"],
        f"Capacity, {name_a}": ra["final_capacity"],
        f"Capacity, {name_b}": rb["final_capacity"],
        "Capacity change": rb["final_capacity"] - ra["final_capacity"],
    })
    order = out["Funding change"].abs().sort_values(ascending=False, kind="stable").index
    return out.loc[order]


# --------------------------------------------------------------------------- widget state


def widget_values(controls: Controls, regions: Regions, instruments: list[str]) -> dict[str, Any]:
    """Initial values of the sidebar widgets (keyed by widget key) for ``controls``."""
    values: dict[str, Any] = {
        "budget": float(controls.budget_busd),
        "lam": float(controls.spread_weight),
        "theta": float(controls.complementarity),
        "topk_on": controls.top_k_cap is not None,
        "topk_k": int(controls.top_k_cap[0]) if controls.top_k_cap else 10,
        "topk_share": float(controls.top_k_cap[1]) if controls.top_k_cap else 0.6,
        "pcf_on": controls.per_capita_floor is not None,
        "pcf": float(controls.per_capita_floor) if controls.per_capita_floor is not None else 0.5,
        "maxshare_on": controls.max_region_share is not None,
        "maxshare": float(controls.max_region_share) if controls.max_region_share is not None else 0.15,
        "floor": float(controls.region_floor_busd),
        "cap": float(controls.region_cap_busd or 0.0),
        "capped": sorted(controls.region_caps_busd),
        "excluded": list(controls.excluded),
        "topk_inc": int(controls.top_k_incumbents),
        "group_col": next(iter(controls.group_min_shares), "(none)"),
        "spread_measure": controls.spread_measure,
    }
    n = len(regions)
    hubs = controls.hubs or dataclasses.replace(
        DEFAULT_HUB_CONTROLS, count_min=min(DEFAULT_HUB_CONTROLS.count_min, n),
        count_max=min(DEFAULT_HUB_CONTROLS.count_max or n, n))
    group_default = "census_region" if "census_region" in regions.groups else "(none)"
    values.update({
        "hubs_on": controls.hubs is not None,
        "hub_kmin": int(hubs.count_min),
        "hub_kmax": int(hubs.count_max or 0),
        "hub_amin": float(hubs.award_min_musd),
        "hub_amax": float(hubs.award_max_musd or 0.0),
        "hub_gcol": hubs.min_per_group[0] if hubs.min_per_group else group_default,
        "hub_gmin": int(hubs.min_per_group[1]) if hubs.min_per_group else 0,
        "hub_one": hubs.one_per_group or "(none)",
    })
    for k in regions.indicators:
        values[f"w_{k}"] = float(controls.weights.get(k, 0.0))
    for name in instruments:
        values[f"eff_{name}"] = float(controls.effectiveness.get(name, 0.0))
    for rid, cap in controls.region_caps_busd.items():
        values[f"cap_{rid}"] = float(cap)
    for column in regions.groups:
        mins = controls.group_min_shares.get(column, {})
        for value in sorted(set(regions.table[column])):
            values[f"gmin_{column}_{value}"] = float(mins.get(value, 0.0))
    return values


def controls_from_widgets(values: dict[str, Any], regions: Regions, base: Scenario) -> Controls:
    """The ``Controls`` the widgets describe (missing keys take ``base``'s positions)."""
    start = controls_from_scenario(base, regions)
    defaults = widget_values(start, regions, list(base.instruments))

    def get(key: str) -> Any:
        return values.get(key, defaults.get(key))

    weights = {k: float(get(f"w_{k}") or 0.0) for k in regions.indicators}
    weights = {k: v for k, v in weights.items() if v > 0 or k in start.weights}
    group_col = get("group_col")
    group_mins: dict[str, dict[str, float]] = {}
    if group_col in regions.groups:
        mins = {str(v): float(get(f"gmin_{group_col}_{v}") or 0.0)
                for v in sorted(set(regions.table[group_col]))}
        if any(s > 0 for s in mins.values()):
            group_mins[group_col] = {v: s for v, s in mins.items() if s > 0}
    if group_mins == {} and start.group_min_shares and group_col == next(iter(start.group_min_shares)):
        group_mins = start.group_min_shares
    cap = float(get("cap") or 0.0)
    hubs = None
    if get("hubs_on"):
        gcol, gmin = get("hub_gcol"), int(get("hub_gmin") or 0)
        kmax, amax = int(get("hub_kmax") or 0), float(get("hub_amax") or 0.0)
        hubs = HubControls(
            count_min=int(get("hub_kmin") or 0),
            count_max=kmax if kmax > 0 else None,
            award_min_musd=float(get("hub_amin") or 0.0),
            award_max_musd=amax if amax > 0 else None,
            min_per_group=(str(gcol), gmin) if gcol in regions.groups and gmin > 0 else None,
            one_per_group=get("hub_one") if get("hub_one") in regions.groups else None,
        )
    return Controls(
        budget_busd=float(get("budget")),
        weights=weights,
        spread_weight=float(get("lam")),
        complementarity=float(get("theta")),
        effectiveness={name: float(get(f"eff_{name}")) for name in base.instruments},
        top_k_cap=(int(get("topk_k")), float(get("topk_share"))) if get("topk_on") else None,
        per_capita_floor=float(get("pcf")) if get("pcf_on") else None,
        max_region_share=float(get("maxshare")) if get("maxshare_on") else None,
        region_floor_busd=float(get("floor") or 0.0),
        region_cap_busd=cap if cap > 0 else None,
        region_caps_busd={rid: float(get(f"cap_{rid}") or 0.0) for rid in (get("capped") or [])},
        excluded=tuple(sorted(get("excluded") or [])),
        top_k_incumbents=int(get("topk_inc") or 0),
        group_min_shares=group_mins,
        spread_measure=str(get("spread_measure") or base.spread_measure),
        hubs=hubs,
    )


# --------------------------------------------------------------------------- sensitivity page

SENSITIVITY_KINDS: dict[str, str] = {
    "sweep_budget": "Sweep over the budget",
    "sweep_lambda": "Sweep over the spread weight λ",
    "robust": "Robust weights (sample indicator weights)",
    "pareto": "Pareto frontier: capacity vs spread",
    "tornado": "Tornado: ± changes one at a time",
    "sobol": "Sobol indices (global sensitivity)",
}
SENSITIVITY_HELP: dict[str, str] = {
    "sweep_budget": "Re-solves the current plan at evenly spaced budgets and charts S_λ, total "
                    "capacity, Gini and top-10 share against the budget.",
    "sweep_lambda": "Re-solves at evenly spaced λ: the trade-off between total capacity and spread.",
    "robust": "Draws indicator weights uniformly from the simplex and re-solves each draw: how "
              "often each region is funded (core index), its allocation range and rank.",
    "pareto": "The exact frontier of total capacity against spread (ε-constraint), with the "
              "current plan marked.",
    "tornado": "Moves each parameter (budget, λ, θ, weights, instrument effectiveness) down and "
               "up by the same fraction, one at a time, and charts how far the results swing.",
    "sobol": "Variance-based indices (Saltelli sampling): how much of the spread of S_λ, top-10 "
             "share and Gini each factor explains, with confidence intervals.",
}
DEFAULT_SENSITIVITY: dict[str, Any] = {
    "budget_range_busd": (20.0, 160.0), "lambda_range": (0.0, 1.0), "points": 6,
    "runs": 50, "seed": 42, "threshold_musd": 100.0, "measure": "gini", "change_pct": 20,
    "base_samples": 8, "weights": True,
}


def sensitivity_spec(kind: str, settings: dict[str, Any] | None = None) -> Any:
    """The engine's analysis spec for one of ``SENSITIVITY_KINDS`` with the page's settings.

    Money in $B (threshold in $M); ``change_pct`` in percent. Raises ``ScenarioError``
    with the spec validator's message for bad settings.
    """
    from optimizer.analysis.sensitivity import spec_from_dict

    if kind not in SENSITIVITY_KINDS:
        raise ScenarioError(f"unknown analysis '{kind}'; choose one of {sorted(SENSITIVITY_KINDS)}")
    s = {**DEFAULT_SENSITIVITY, **(settings or {})}
    common: dict[str, Any] = {"seed": int(s["seed"]), "title": SENSITIVITY_KINDS[kind],
                              "funded_threshold_usd": float(s["threshold_musd"]) * 1e6,
                              "chunk_size": 10}
    if kind == "sweep_budget":
        lo, hi = s["budget_range_busd"]
        spec = {"analysis": "sweep", "vary": {"budget": {"start": float(lo) * BUSD,
                                                        "stop": float(hi) * BUSD,
                                                        "num": int(s["points"])}}}
    elif kind == "sweep_lambda":
        lo, hi = s["lambda_range"]
        spec = {"analysis": "sweep", "vary": {"spread_weight": {"start": float(lo), "stop": float(hi),
                                                               "num": int(s["points"])}}}
    elif kind == "robust":
        spec = {"analysis": "robust", "runs": int(s["runs"])}
    elif kind == "pareto":
        spec = {"analysis": "pareto", "measure": s["measure"], "points": int(s["points"])}
    elif kind == "tornado":
        spec = {"analysis": "tornado", "change": float(s["change_pct"]) / 100}
    else:
        lo, hi = s["budget_range_busd"]
        spec = {"analysis": "sobol", "base_samples": int(s["base_samples"]),
                "weights": bool(s["weights"]),
                "parameters": {"spread_weight": [0.0, 1.0], "complementarity": [0.0, 1.0],
                               "budget": [float(lo) * BUSD, float(hi) * BUSD]}}
    return spec_from_dict({**spec, **common}, source="sensitivity settings")


def expected_runs(spec: Any, base: Scenario) -> int:
    """How many solves a spec needs (pareto adds a few bisection solves of its own)."""
    kind = spec.analysis
    if kind == "sweep":
        sizes = [len(v.values()) if hasattr(v, "values") and not isinstance(v, list) else len(v)
                 for v in spec.vary.values()]
        return int(np.prod(sizes))
    if kind == "robust":
        return int(spec.runs)
    if kind == "pareto":
        return int(spec.points)
    if kind == "tornado":
        n = 3 + len(base.weights) + len(base.instruments)
        return 1 + 2 * (len(spec.parameters) if spec.parameters else n)
    factors = len(spec.parameters) + (len(base.weights) if spec.weights else 0)
    return int(spec.base_samples) * (factors + 2)


def sensitivity_backend(scheduler: str | None) -> Any:
    """In-process runs, or an existing Dask scheduler at ``tcp://HOST:PORT``."""
    from optimizer.analysis.runs import Backend

    address = (scheduler or "").strip()
    if not address:
        return Backend("serial")
    if not re.match(r"^(tcp|tls|inproc|ucx)://[^\s/]+(:\d+)?$", address):
        raise ScenarioError(f"scheduler address '{address}' is not of the form tcp://HOST:PORT")
    return Backend.from_option(address)


@dataclass(frozen=True)
class SensitivityRun:
    """One finished analysis, how long it took and where it ran."""

    kind: str
    result: Any  # optimizer.analysis.sensitivity.AnalysisResult
    seconds: float
    backend: str


def run_sensitivity(kind: str, settings: dict[str, Any], regions: Regions, base: Scenario,
                    scheduler: str | None = None,
                    progress: Any = None) -> SensitivityRun:
    """Run one analysis on the current plan's scenario; ``progress(done, total)`` as runs end.

    Errors a person can cause (bad settings, an unreachable scheduler) raise
    ``PlaceFundError`` subclasses with a message fit to show.
    """
    import time

    from optimizer.analysis.sensitivity import run_analysis

    spec = sensitivity_spec(kind, settings)
    backend = sensitivity_backend(scheduler)
    start = time.perf_counter()
    try:
        result = run_analysis(spec, backend=backend, progress=progress, regions=regions, base=base)
    except PlaceFundError:
        raise
    except (OSError, TimeoutError) as err:
        raise DataError(f"could not run on the Dask scheduler {backend.describe()}: {err}") from None
    return SensitivityRun(kind, result, time.perf_counter() - start, backend.describe())


def sensitivity_downloads(run: SensitivityRun) -> list[tuple[str, str, bytes]]:
    """(label, file name, CSV bytes) for each table of a finished analysis."""
    labels = {"runs": "Runs (one row per run)", "run_regions": "Runs × regions",
              "robust_regions": "Robustness per region", "rank_acceptability": "Rank acceptability",
              "frontier": "Pareto frontier", "tornado": "Tornado table", "sobol": "Sobol indices"}
    out = []
    for name, table in run.result.tables.items():
        out.append((f"{labels.get(name, name)} (CSV)", f"placefund-{run.kind}-{name}.csv",
                    table.to_csv(index=False).encode("utf-8")))
    return out


def robustness_frame(run: SensitivityRun) -> pd.DataFrame | None:
    """Per region: core index (probability of being funded) and class, for the robustness map."""
    stats = run.result.tables.get("robust_regions")
    if stats is None:
        return None
    return stats[["region_id", "name", "core_index", "core_class", "funding_median_usd"]].copy()
