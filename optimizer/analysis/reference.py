"""Compare a hub plan with the 2023 Tech Hubs designations, by state or by metro.

State level: ``data/tech_hubs_2023.csv`` lists the states of each designated hub (30 of
31 identified; see data/SOURCES.md for its caveats); a state "was designated" when at
least one listed hub includes it.

Metro level: ``data/tech_hubs_2023_cbsa.csv`` maps each hub to the OMB 2023 CBSAs its
announcement names (one row per hub and place, with the basis of each); a metro "was
designated" when a row places a hub in it. The plan's precision (share of its hubs that
were designated) and recall (share of designated metros it chose) are set beside what a
random choice of the same number of metros would score, and the largest disagreements
are explained by measured facts and by the exact objective cost of swapping a hub.
Nothing here tunes the model towards agreement: it reports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optimizer.engine.data import DATA_DIR, Regions
from optimizer.engine.errors import DataError
from optimizer.engine.inputs import BUSD, ModelInputs, resolve
from optimizer.engine.metrics import concentration
from optimizer.engine.response import gain_points
from optimizer.engine.result import AllocationResult
from optimizer.engine.scenario import Scenario, constraint_packs, region_set_default, scenario_from_dict

HUBS_FILE = DATA_DIR / "tech_hubs_2023.csv"
HUB_CBSA_FILE = DATA_DIR / "tech_hubs_2023_cbsa.csv"
MAP_COLUMNS = ("hub_name", "states", "cbsa_code", "cbsa_title", "cbsa_type", "status",
               "confidence", "basis")
IN_SET, OUTSIDE, UNPLACEABLE = "in_metro_set", "outside_metro_set", "unplaceable"
CONFIDENCE = ("named", "inferred")


# --------------------------------------------------------------------------- states


def designated_states() -> pd.Series:
    """Postal code -> number of 2023 designated hubs that include the state."""
    hubs = pd.read_csv(HUBS_FILE)
    postal = hubs["states"].str.split(";").explode().str.strip()
    return postal.value_counts().sort_index()


@dataclass(frozen=True)
class HubComparison:
    """Overlap between the plan's hub states and the 2023 designated states."""

    table: pd.DataFrame  # one row per state: selected, designated_hubs, funding, capacity
    both: list[str]
    plan_only: list[str]
    designated_only: list[str]

    @property
    def overlap_by_chance(self) -> float:
        """Expected overlap if the same number of hub states were drawn at random."""
        selected = len(self.both) + len(self.plan_only)
        designated = len(self.both) + len(self.designated_only)
        return selected * designated / len(self.table)

    @property
    def overlap_share_of_plan(self) -> float:
        """Share of the plan's hub states that were also designated in 2023."""
        selected = len(self.both) + len(self.plan_only)
        return len(self.both) / selected if selected else 0.0

    def summary(self) -> str:
        return (f"{len(self.both)} of the plan's {len(self.both) + len(self.plan_only)} hub "
                f"states were designated in 2023 ({self.overlap_share_of_plan:.0%}; a random "
                f"choice would share {self.overlap_by_chance:.1f}); "
                f"{len(self.designated_only)} designated states were not selected.\n"
                f"  both: {', '.join(self.both)}\n"
                f"  plan only: {', '.join(self.plan_only)}\n"
                f"  designated only: {', '.join(self.designated_only)}")


def compare_with_designations(plan: AllocationResult) -> HubComparison:
    """Join a state-level hub plan (regions need a ``postal`` column) with the designations."""
    regions = plan.regions
    if "postal" not in regions.columns:
        raise ValueError("the plan's regions have no 'postal' column; compare state plans only")
    counts = designated_states()
    table = regions[["region_id", "postal", "name", "hub", "funding_usd",
                     "capacity_per_capita_before", "baseline_capacity"]].copy()
    table["designated_hubs"] = table["postal"].map(counts).fillna(0).astype(int)
    table["designated"] = table["designated_hubs"] > 0
    table["selected"] = table["hub"].astype(bool)
    pick = table.set_index("postal")
    both = sorted(pick.index[pick["selected"] & pick["designated"]])
    plan_only = sorted(pick.index[pick["selected"] & ~pick["designated"]])
    designated_only = sorted(pick.index[~pick["selected"] & pick["designated"]])
    return HubComparison(table.drop(columns="hub"), both, plan_only, designated_only)


# --------------------------------------------------------------------------- metros


def hub_cbsa_map(path: Path = HUB_CBSA_FILE) -> pd.DataFrame:
    """The hub -> CBSA table, checked: its columns, statuses, confidences, and a 5-digit
    code on every row placed in the metro set (``DataError`` names the row otherwise)."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in MAP_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"missing columns {missing}", file=str(path))
    for column, allowed in (("status", (IN_SET, OUTSIDE, UNPLACEABLE)),
                            ("confidence", CONFIDENCE)):
        bad = ~table[column].isin(allowed)
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 2
            raise DataError(f"'{table[column][bad].iloc[0]}' is not one of {list(allowed)}",
                            file=str(path), row=row, column=column)
    bad = (table["status"] == IN_SET) & ~table["cbsa_code"].str.fullmatch(r"\d{5}")
    if bad.any():
        raise DataError("a row placed in the metro set needs a 5-digit CBSA code",
                        file=str(path), row=int(np.flatnonzero(bad)[0]) + 2, column="cbsa_code")
    empty = table["basis"].str.strip() == ""
    if empty.any():
        raise DataError("every row needs its basis (a source or the reasoning)",
                        file=str(path), row=int(np.flatnonzero(empty)[0]) + 2, column="basis")
    return table


def designated_metros(mapping: pd.DataFrame | None = None,
                      confidence: tuple[str, ...] = CONFIDENCE) -> pd.DataFrame:
    """One row per designated metro CBSA: ``cbsa_code``, ``cbsa_title``, ``hubs`` (the
    hubs placed there, joined by "; ") and ``confidence`` ("named" when any row naming
    it is named). Only rows of the given confidence levels count."""
    mapping = hub_cbsa_map() if mapping is None else mapping
    rows = mapping[(mapping["status"] == IN_SET) & mapping["confidence"].isin(confidence)]
    out = rows.groupby("cbsa_code", sort=True).agg(
        cbsa_title=("cbsa_title", "first"),
        hubs=("hub_name", lambda s: "; ".join(sorted(set(s)))),
        confidence=("confidence", lambda s: "named" if (s == "named").any() else "inferred"),
    )
    return out.reset_index()


def unplaced_hubs(mapping: pd.DataFrame | None = None) -> pd.DataFrame:
    """Hubs with no place in the metro set, and why (their rows' bases)."""
    mapping = hub_cbsa_map() if mapping is None else mapping
    placed = set(mapping.loc[mapping["status"] == IN_SET, "hub_name"])
    rest = mapping[~mapping["hub_name"].isin(placed)]
    return rest.groupby("hub_name", sort=True).agg(
        states=("states", "first"), why=("basis", " / ".join)).reset_index()


def random_baseline(n_regions: int, n_selected: int, n_designated: int) -> dict[str, float]:
    """What a uniformly random choice of ``n_selected`` of ``n_regions`` scores, in
    expectation, against ``n_designated`` designated regions (closed form): overlap
    k·d/N, precision d/N, recall k/N."""
    if not 0 <= n_selected <= n_regions or not 0 <= n_designated <= n_regions:
        raise ValueError("need 0 <= selected, designated <= regions")
    return {"overlap": n_selected * n_designated / n_regions,
            "precision": n_designated / n_regions if n_selected else 0.0,
            "recall": n_selected / n_regions if n_designated else 0.0}


def chance_of_at_least(overlap: int, n_regions: int, n_selected: int,
                       n_designated: int) -> float:
    """P(a random choice of ``n_selected`` shares at least ``overlap`` designated regions):
    the hypergeometric upper tail, exact in integers."""
    total = math.comb(n_regions, n_selected)
    top = min(n_selected, n_designated)
    hits = sum(math.comb(n_designated, j) * math.comb(n_regions - n_designated, n_selected - j)
               for j in range(max(overlap, 0), top + 1))
    return hits / total


@dataclass(frozen=True)
class MetroComparison:
    """Overlap between a metro plan's hubs and the 2023 designated metros."""

    table: pd.DataFrame  # one row per metro: selected, designated, hubs, facts, ranks
    both: list[str]  # region_ids
    plan_only: list[str]
    designated_only: list[str]
    disagreements: pd.DataFrame  # the largest ones, with a reason each

    @property
    def n_regions(self) -> int:
        return len(self.table)

    @property
    def n_selected(self) -> int:
        return len(self.both) + len(self.plan_only)

    @property
    def n_designated(self) -> int:
        return len(self.both) + len(self.designated_only)

    @property
    def precision(self) -> float:
        """|both| / |plan's hubs|."""
        return len(self.both) / self.n_selected if self.n_selected else 0.0

    @property
    def recall(self) -> float:
        """|both| / |designated metros|."""
        return len(self.both) / self.n_designated if self.n_designated else 0.0

    @property
    def random(self) -> dict[str, float]:
        """The expected overlap, precision and recall of a random choice of the same size."""
        return random_baseline(self.n_regions, self.n_selected, self.n_designated)

    @property
    def chance(self) -> float:
        """P(a random choice of the same size overlaps at least as much)."""
        return chance_of_at_least(len(self.both), self.n_regions, self.n_selected,
                                  self.n_designated)

    def summary(self) -> str:
        names = self.table.set_index("region_id")["name"]
        rnd = self.random

        def listed(ids: list[str]) -> str:
            return "; ".join(names[i] for i in ids) or "(none)"

        return (f"{len(self.both)} of the plan's {self.n_selected} hub metros were designated "
                f"in 2023, of {self.n_designated} designated metros among {self.n_regions}: "
                f"precision {self.precision:.1%} (random {rnd['precision']:.1%}), recall "
                f"{self.recall:.1%} (random {rnd['recall']:.1%}); a random choice would "
                f"share {rnd['overlap']:.2f}, and shares at least {len(self.both)} with "
                f"probability {self.chance:.2f}.\n"
                f"  both: {listed(self.both)}\n"
                f"  plan only: {listed(self.plan_only)}\n"
                f"  designated only: {listed(self.designated_only)}")


def compare_metros_with_designations(plan: AllocationResult, regions: Regions,
                                     mapping: pd.DataFrame | None = None,
                                     confidence: tuple[str, ...] = CONFIDENCE,
                                     top: int = 5) -> MetroComparison:
    """Join a metro hub plan with the designated metros; explain the ``top`` largest
    disagreements each way (plan-only by award, designated-only by baseline capacity).

    Raises ``DataError`` if a designated CBSA is not a region of ``regions``.
    """
    designated = designated_metros(mapping, confidence).set_index("cbsa_code")
    ids = pd.Index(regions.ids)
    unknown = designated.index.difference(ids)
    if len(unknown):
        raise DataError(f"designated CBSA(s) {list(unknown)} are not regions of "
                        f"{regions.source}", file=str(HUB_CBSA_FILE), column="cbsa_code")
    table = plan.regions[["region_id", "name", "population", "baseline_capacity",
                          "capacity_per_capita_before", "funding_usd", "hub"]].copy()
    n = len(table)
    table["selected"] = table.pop("hub").astype(bool)
    table["designated"] = table["region_id"].isin(designated.index)
    table["hubs_2023"] = table["region_id"].map(designated["hubs"]).fillna("")
    table["small_rural"] = _flag(regions, "small_rural")
    table["census_region"] = (regions.table["census_region"].to_numpy()
                              if "census_region" in regions.table.columns else "")
    table["capacity_rank"] = table["baseline_capacity"].rank(ascending=False, method="min")
    table["per_capita_rank"] = table["capacity_per_capita_before"].rank(ascending=False,
                                                                        method="min")
    table[["capacity_rank", "per_capita_rank"]] = table[["capacity_rank",
                                                         "per_capita_rank"]].astype(int)
    sel, des = table["selected"].to_numpy(), table["designated"].to_numpy()
    both = list(table.loc[sel & des, "region_id"])
    plan_only = list(table.loc[sel & ~des, "region_id"])
    designated_only = list(table.loc[~sel & des, "region_id"])
    reasons = _disagreements(plan, regions, table, top) if n else pd.DataFrame()
    return MetroComparison(table, both, plan_only, designated_only, reasons)


def _flag(regions: Regions, column: str) -> np.ndarray:
    if column not in regions.table.columns:
        return np.zeros(len(regions), dtype=bool)
    values = regions.table[column].astype(str).str.strip().str.lower()
    return values.isin(["true", "1", "yes", "y"]).to_numpy()


# --------------------------------------------------------------------------- reasons


def _best_split(inputs: ModelInputs, r: int, award_busd: float) -> np.ndarray:
    """The instrument split of ``award_busd`` in region r that maximizes its gain
    (water-filling on a_i m_ri / (1 + x / s_ri), by bisection on the common return)."""
    a = inputs.effectiveness * inputs.multiplier[r]
    s = inputs.saturation_busd[r]
    ok = inputs.allowed[r]
    if award_busd <= 0 or not ok.any():
        return np.zeros_like(s)
    lo, hi = 0.0, float(a[ok].max())
    for _ in range(100):
        nu = (lo + hi) / 2
        x = np.where(ok, s * np.maximum(a / max(nu, 1e-300) - 1.0, 0.0), 0.0)
        lo, hi = (nu, hi) if x.sum() > award_busd else (lo, nu)
    x = np.where(ok, s * np.maximum(a / hi - 1.0, 0.0), 0.0)
    return x * (award_busd / x.sum()) if x.sum() > 0 else x


def _objective(inputs: ModelInputs, x_busd: np.ndarray) -> float:
    final = inputs.c0 + gain_points(x_busd, inputs).sum(axis=1)
    return concentration(final, inputs.population, inputs.scenario.spread_weight)[
        inputs.scenario.objective_key]


def _rules_hold(inputs: ModelInputs, hubs: np.ndarray) -> bool:
    """Whether a hub set (bool, n) keeps the plan's group and designated-share rules."""
    rules = inputs.hubs
    if rules is None:
        return True
    for _col, _val, members, minimum in rules.group_min:
        if hubs[members].sum() < minimum:
            return False
    for _col, _val, members in rules.group_max_one:
        if hubs[members].sum() > 1:
            return False
    if rules.designated is not None:
        members, share = rules.designated
        if hubs[members].sum() < share * hubs.sum() - 1e-9:
            return False
    return True


def _swap_cost(inputs: ModelInputs, x: np.ndarray, hubs: np.ndarray, out: int,
               into: np.ndarray, base: float) -> tuple[float, int] | None:
    """The smallest objective loss of moving hub ``out``'s award to one of ``into``
    (best instrument split there), keeping the hub rules; None if no swap keeps them."""
    award = float(x[out].sum())
    best: tuple[float, int] | None = None
    for r in into:
        trial = hubs.copy()
        trial[out], trial[r] = False, True
        if not _rules_hold(inputs, trial):
            continue
        y = x.copy()
        y[out] = 0.0
        y[r] = _best_split(inputs, int(r), award)
        loss = base - _objective(inputs, y)
        if best is None or loss < best[0]:
            best = (loss, int(r))
    return best


def _facts(row: pd.Series, n: int) -> str:
    return (f"capacity rank {row['capacity_rank']} and per-capita rank "
            f"{row['per_capita_rank']} of {n}; population {row['population'] / 1e6:.2f}M; "
            f"{'small/rural' if row['small_rural'] else 'not small/rural'}")


def _disagreements(plan: AllocationResult, regions: Regions, table: pd.DataFrame,
                   top: int) -> pd.DataFrame:
    """The ``top`` plan-only metros (by award) and designated-only metros (by baseline
    capacity), each with measured facts and the exact cost of the best rule-keeping swap."""
    inputs = resolve(regions, plan.scenario)
    index = {rid: k for k, rid in enumerate(inputs.region_ids)}
    pivot = plan.allocation.pivot_table(index="region_id", columns="instrument",
                                        values="amount_usd", aggfunc="sum")
    x = pivot.reindex(index=inputs.region_ids, columns=list(inputs.instruments)).fillna(0.0)
    x = x.to_numpy() / BUSD
    hubs = table["selected"].to_numpy()
    base = _objective(inputs, x)
    gain = base - _objective(inputs, np.zeros_like(x))
    n = len(table)
    hub_rank = int(table.loc[hubs, "per_capita_rank"].median()) if hubs.any() else 0
    per_region = table.groupby("census_region")["selected"].sum() if hubs.any() else None
    rows = []
    plan_only = table[table["selected"] & ~table["designated"]]
    designated_only = table[~table["selected"] & table["designated"]]
    candidates = np.flatnonzero((~hubs) & table["designated"].to_numpy())
    for _, row in plan_only.nlargest(top, "funding_usd").iterrows():
        swap = _swap_cost(inputs, x, hubs, index[row["region_id"]], candidates, base)
        if swap is None:
            why = "no designated metro can replace it without breaking a hub rule"
        else:
            loss, r = swap
            why = (f"the best designated metro in its place ({inputs.regions.names[r]}, same "
                   f"award, best split) lowers the objective by {loss:.4f} points "
                   f"({loss / gain:.2%} of the plan's gain)")
        rows.append({"kind": "plan only", "region_id": row["region_id"], "name": row["name"],
                     "funding_usd": row["funding_usd"], "hubs_2023": "",
                     "reason": f"{_award(row, inputs)}; {_facts(row, n)} (hubs' median "
                               f"per-capita rank {hub_rank}); {why}"})
    hub_rows = np.flatnonzero(hubs)
    for _, row in designated_only.nlargest(top, "baseline_capacity").iterrows():
        r = index[row["region_id"]]
        best: tuple[float, int] | None = None
        for h in hub_rows:
            swap = _swap_cost(inputs, x, hubs, int(h), np.array([r]), base)
            if swap is not None and (best is None or swap[0] < best[0]):
                best = (swap[0], int(h))
        if best is None:
            why = "no hub can make way for it without breaking a hub rule"
        else:
            loss, swapped = best
            why = (f"in place of {inputs.regions.names[swapped]} (same "
                   f"{x[swapped].sum() * BUSD / 1e6:.1f}M award, best split) it lowers the "
                   f"objective by {loss:.4f} points ({loss / gain:.2%} of the plan's gain)")
        group = row["census_region"]
        held = (f"; the plan has {int(per_region[group])} hubs in the {group}"
                if per_region is not None and group in per_region.index else "")
        rows.append({"kind": "designated only", "region_id": row["region_id"],
                     "name": row["name"], "funding_usd": 0.0, "hubs_2023": row["hubs_2023"],
                     "reason": f"{_facts(row, n)} (hubs' median per-capita rank "
                               f"{hub_rank}){held}; {why}"})
    return pd.DataFrame(rows, columns=["kind", "region_id", "name", "funding_usd",
                                       "hubs_2023", "reason"])


def _award(row: pd.Series, inputs: ModelInputs) -> str:
    rules = inputs.hubs
    amount = row["funding_usd"]
    if rules is not None and abs(amount - rules.award_max_busd * BUSD) < 1e3:
        return f"gets the maximum award ({amount / 1e6:.1f}M)"
    if rules is not None and abs(amount - rules.award_min_busd * BUSD) < 1e3:
        return f"gets the minimum award ({amount / 1e6:.1f}M)"
    return f"award {amount / 1e6:.1f}M"


# --------------------------------------------------------------------------- scenarios


STATUTE_PACKS = {"states": "tech_hubs_2022_statute", "metros": "tech_hubs_2022_statute_metros"}


def statute_scenario(region_set: str, regions: Regions, pack: str | None = None,
                     **changes: object) -> Scenario:
    """The documented default plan of a shipped region set with a constraint pack on
    (by default the Tech Hubs statute pack for that set), then ``changes`` (e.g.
    ``budget="$504M"``): the pack's keys win over the region set's default, the
    changes over both."""
    pack = pack or STATUTE_PACKS.get(region_set, "tech_hubs_2022_statute")
    data = region_set_default(region_set, regions.indicators).to_dict()
    for key in constraint_packs()[pack]["settings"]:
        data.pop(key, None)
    data["packs"] = [pack]
    data.update(changes)
    return scenario_from_dict(data, source=f"{pack} on the {region_set} default")


# --------------------------------------------------------------------------- references


PHASE2_FILE = DATA_DIR / "tech_hubs_phase2_2024.csv"
ENGINES_FILE = DATA_DIR / "nsf_engines_2024.csv"
PHASE2_COLUMNS = ("hub_name", "lead_state", "lead_metro_name", "lead_cbsa_code", "award_usd",
                  "announced", "source_url", "notes")
ENGINES_COLUMNS = ("engine_name", "lead_institution", "lead_state", "lead_metro_name",
                   "lead_cbsa_code", "award_first_two_years_usd", "max_ten_year_usd",
                   "source_url", "notes")


def _reference_table(path: Path, columns: tuple[str, ...], name: str) -> pd.DataFrame:
    """A reference table read as text, checked: its columns, a 5-digit ``lead_cbsa_code``
    and a non-empty name, source and notes (the caveats) on every row."""
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=10_000)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the table: {exc}", file=str(path)) from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataError(f"missing columns {missing}", file=str(path))
    bad = ~table["lead_cbsa_code"].str.fullmatch(r"\d{5}")
    if bad.any():
        raise DataError(f"'{table['lead_cbsa_code'][bad].iloc[0]}' is not a 5-digit CBSA code",
                        file=str(path), row=int(np.flatnonzero(bad)[0]) + 2,
                        column="lead_cbsa_code")
    for column in (name, "source_url", "notes"):
        empty = table[column].str.strip() == ""
        if empty.any():
            raise DataError("every row needs a value here", file=str(path),
                            row=int(np.flatnonzero(empty)[0]) + 2, column=column)
    return table


def phase2_awards(path: Path = PHASE2_FILE) -> pd.DataFrame:
    """The 12 Tech Hubs implementation awards of 2 July 2024, one row per hub with its
    lead metro (a 2023 CBSA code, as text), EDA's approximate amount, source and notes."""
    return _reference_table(path, PHASE2_COLUMNS, "hub_name")


def nsf_engines(path: Path = ENGINES_FILE) -> pd.DataFrame:
    """The 10 NSF Regional Innovation Engines of January 2024, one row per engine with
    its lead organisation's metro (a 2023 CBSA code, as text), source and notes."""
    return _reference_table(path, ENGINES_COLUMNS, "engine_name")


@dataclass(frozen=True)
class Reference:
    """A set of metros a programme chose, as places a plan's hubs can be compared with.

    ``entries`` has one row per programme entry and place: ``entry`` (hub or engine),
    ``cbsa_code`` (empty when the entry has no place) and ``metro`` (its title).
    """

    key: str
    label: str
    what: str  # what an entry is, e.g. "lead metro of a Phase 2 award"
    entries: pd.DataFrame
    file: str

    def codes(self) -> list[str]:
        """The distinct CBSA codes the entries name."""
        return sorted(set(self.entries["cbsa_code"]) - {""})

    def placed(self, region_ids: list[str]) -> list[str]:
        """The reference's codes that are regions of the table compared."""
        ids = set(region_ids)
        return [c for c in self.codes() if c in ids]

    def not_placed(self, region_ids: list[str]) -> pd.DataFrame:
        """Entries with no place among the regions: no code, or a code not in the table.
        Reported beside every comparison, never dropped silently."""
        ids = set(region_ids)
        rest = self.entries[~self.entries["cbsa_code"].isin(ids)]
        return rest.reset_index(drop=True)


def references(mapping: pd.DataFrame | None = None, phase2: pd.DataFrame | None = None,
               engines: pd.DataFrame | None = None) -> list[Reference]:
    """The programme references a metro plan is compared with: the 2023 designations
    (every placement, and named places only), the 2024 Phase 2 awards and the 2024 NSF
    Engines (each by its lead metro)."""
    mapping = hub_cbsa_map() if mapping is None else mapping
    phase2 = phase2_awards() if phase2 is None else phase2
    engines = nsf_engines() if engines is None else engines
    out = []
    for key, label, confidence in (("designations_2023", "2023 designations", CONFIDENCE),
                                   ("designations_2023_named",
                                    "2023 designations, named places only", ("named",))):
        rows = mapping[(mapping["status"] == IN_SET) & mapping["confidence"].isin(confidence)]
        placed = pd.DataFrame({"entry": rows["hub_name"], "cbsa_code": rows["cbsa_code"],
                               "metro": rows["cbsa_title"]})
        why = unplaced_hubs(mapping).set_index("hub_name")["why"]
        left = sorted(set(mapping["hub_name"]) - set(rows["hub_name"]))
        gone = pd.DataFrame({"entry": left, "cbsa_code": "", "metro": [
            f"no metro of the set: {why[h]}" if h in why.index
            else "placed only by an inferred place" for h in left]})
        out.append(Reference(key, label, "metro a 2023 designated hub is placed in",
                             pd.concat([placed, gone], ignore_index=True), str(HUB_CBSA_FILE)))
    out.append(Reference("phase2_2024", "2024 Phase 2 awards", "lead metro of a Phase 2 award",
                         pd.DataFrame({"entry": phase2["hub_name"],
                                       "cbsa_code": phase2["lead_cbsa_code"],
                                       "metro": phase2["lead_metro_name"]}), str(PHASE2_FILE)))
    out.append(Reference("engines_2024", "2024 NSF Engines", "lead metro of an NSF Engine",
                         pd.DataFrame({"entry": engines["engine_name"],
                                       "cbsa_code": engines["lead_cbsa_code"],
                                       "metro": engines["lead_metro_name"]}), str(ENGINES_FILE)))
    return out


# --------------------------------------------------------------------------- random draws


@dataclass(frozen=True)
class DrawRules:
    """The hub rules a random draw keeps, as region masks (n,): which regions may be
    hubs, groups with a minimum number of hubs, groups with at most one, and a
    designated set with a minimum share of the hubs."""

    eligible: np.ndarray
    group_min: tuple[tuple[np.ndarray, int], ...] = ()
    group_max_one: tuple[np.ndarray, ...] = ()
    designated: tuple[np.ndarray, float] | None = None

    @classmethod
    def from_inputs(cls, inputs: ModelInputs) -> DrawRules:
        """The rules of a resolved hub scenario: a region may be a hub if it may receive
        some instrument and its cap admits the minimum award."""
        n = len(inputs.region_ids)
        rules = inputs.hubs

        def mask(members: np.ndarray) -> np.ndarray:
            out = np.zeros(n, dtype=bool)
            out[members] = True
            return out

        eligible = np.asarray(inputs.allowed.any(axis=1), dtype=bool)
        if rules is None:
            return cls(eligible)
        eligible &= inputs.cap_busd >= rules.award_min_busd - 1e-12
        designated = (None if rules.designated is None
                      else (mask(rules.designated[0]), float(rules.designated[1])))
        return cls(eligible,
                   tuple((mask(m), int(k)) for _c, _v, m, k in rules.group_min),
                   tuple(mask(m) for _c, _v, m in rules.group_max_one),
                   designated)

    def hold(self, picks: np.ndarray) -> np.ndarray:
        """(draws,) bool: whether each row of ``picks`` (draws, k region indices) keeps
        every rule."""
        ok = self.eligible[picks].all(axis=1)
        k = picks.shape[1]
        for members, minimum in self.group_min:
            ok &= members[picks].sum(axis=1) >= minimum
        for members in self.group_max_one:
            ok &= members[picks].sum(axis=1) <= 1
        if self.designated is not None:
            members, share = self.designated
            ok &= members[picks].sum(axis=1) >= share * k - 1e-9
        return ok


def draw_hub_sets(rules: DrawRules, n_hubs: int, draws: int, seed: int,
                  batch: int = 20_000, max_batches: int = 1_000) -> np.ndarray:
    """``draws`` hub sets of ``n_hubs`` regions each, (draws, n_hubs) region indices,
    uniform over the sets that keep ``rules``: uniform sets of eligible regions, the
    rule-breaking ones rejected. A uniform set is ``n_hubs`` independent picks kept when
    they are all distinct (every set of distinct picks is then equally likely), or, when
    repeats would be common, the ``n_hubs`` smallest of i.i.d. uniform keys.
    Raises ``ValueError`` if the rules reject nearly every draw."""
    pool = np.flatnonzero(rules.eligible)
    if not 0 < n_hubs <= len(pool):
        raise ValueError(f"cannot draw {n_hubs} hubs from {len(pool)} eligible regions")
    rng = np.random.default_rng(seed)
    distinct_picks = n_hubs * (n_hubs - 1) / (2 * len(pool)) < 1.0  # P(all distinct) > ~e^-1
    kept: list[np.ndarray] = []
    have = tried = 0
    while have < draws:
        if tried >= max_batches:
            raise ValueError(f"only {have} of {tried * batch} random hub sets kept the rules; "
                             "they are too tight to sample by rejection")
        if distinct_picks:
            picks = np.sort(rng.integers(0, len(pool), size=(batch, n_hubs)), axis=1)
            picks = pool[picks[(np.diff(picks, axis=1) > 0).all(axis=1)]]
        else:
            keys = rng.random((batch, len(pool)))
            picks = pool[np.argpartition(keys, n_hubs - 1, axis=1)[:, :n_hubs]]
        picks = picks[rules.hold(picks)]
        kept.append(picks)
        have += len(picks)
        tried += 1
    return np.concatenate(kept)[:draws]


# --------------------------------------------------------------------------- scores


@dataclass(frozen=True)
class ReferenceScore:
    """How a plan's hubs meet one reference, beside rule-keeping random draws."""

    reference: Reference
    n_hubs: int
    hits: list[str]  # region_ids among the plan's hubs and the reference's metros
    n_placed: int  # reference metros that are regions of the table
    not_placed: pd.DataFrame  # reference entries with no region in the table
    random_hits: np.ndarray  # (draws,) hits of each random draw

    @property
    def precision(self) -> float:
        """Share of the plan's hubs that are reference metros."""
        return len(self.hits) / self.n_hubs if self.n_hubs else 0.0

    @property
    def recall(self) -> float:
        """Share of the reference metros (those in the table) among the plan's hubs."""
        return len(self.hits) / self.n_placed if self.n_placed else 0.0

    @property
    def random_mean_hits(self) -> float:
        return float(self.random_hits.mean())

    @property
    def random_precision(self) -> float:
        """Mean precision of the random draws."""
        return self.random_mean_hits / self.n_hubs if self.n_hubs else 0.0

    @property
    def random_recall(self) -> float:
        """Mean recall of the random draws."""
        return self.random_mean_hits / self.n_placed if self.n_placed else 0.0

    @property
    def p_at_least(self) -> float:
        """Share of random draws with at least as many hits as the plan."""
        return float((self.random_hits >= len(self.hits)).mean())

    @property
    def p_standard_error(self) -> float:
        """Monte Carlo standard error of ``p_at_least``: sqrt(p (1 - p) / draws)."""
        p = self.p_at_least
        return math.sqrt(p * (1 - p) / len(self.random_hits))


def score_hubs(hubs: np.ndarray, region_ids: list[str], reference: Reference,
               draws: np.ndarray) -> ReferenceScore:
    """Score a hub set (bool, n) against ``reference``, and each random draw
    ((draws, k) region indices, from ``draw_hub_sets``) the same way."""
    ids = np.asarray(region_ids, dtype=object)
    placed = reference.placed(region_ids)
    member = np.isin(ids, placed)
    hits = [str(r) for r in ids[hubs & member]]
    random_hits = member[draws].sum(axis=1) if draws.size else np.zeros(0, dtype=int)
    return ReferenceScore(reference, int(hubs.sum()), hits, len(placed),
                          reference.not_placed(region_ids), random_hits)


def score_plan(plan: AllocationResult, regions: Regions, refs: list[Reference] | None = None,
               draws: int = 100_000, seed: int = 2024) -> list[ReferenceScore]:
    """Score a hub plan against every reference, beside ``draws`` random hub sets of the
    same size that keep the plan's hub rules (fixed ``seed``; the same draws for every
    reference)."""
    refs = references() if refs is None else refs
    inputs = resolve(regions, plan.scenario)
    hub_of = plan.regions.set_index("region_id")["hub"]
    hubs = hub_of.reindex(inputs.region_ids).fillna(False).astype(bool).to_numpy()
    sample = draw_hub_sets(DrawRules.from_inputs(inputs), int(hubs.sum()), draws, seed)
    return [score_hubs(hubs, list(inputs.region_ids), ref, sample) for ref in refs]
