"""Write docs/tech_hubs_reference.md: the Tech Hubs statute pack's plans beside the real programme.

Run:   .venv/bin/python examples/tech_hubs_reference.py            (rewrite the doc)
       .venv/bin/python examples/tech_hubs_reference.py --check    (exit 1 if the doc
                                                                     differs from a fresh run)
Options: --draws N (random hub sets per plan, default 100000), --out PATH.

Metros: the `tech_hubs_2022_statute_metros` pack on the documented default metro plan at
$504M, and two variants, each compared with the 2023 designations, the 2024 Phase 2
awards and the 2024 NSF Regional Innovation Engines, beside random hub sets that keep the
pack's rules. States: the state pack at $504M against the 2023 designated states. Every
number in the doc comes from this run; solve times are printed here, not written there
(they depend on the machine). Nothing is tuned to agree with the programme.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import time
from pathlib import Path

import pandas as pd

import optimizer as pf
from optimizer.analysis.reference import (
    ENGINES_FILE,
    HUB_CBSA_FILE,
    PHASE2_FILE,
    MetroComparison,
    Reference,
    ReferenceScore,
    chance_of_at_least,
    compare_metros_with_designations,
    compare_with_designations,
    references,
    score_plan,
    statute_scenario,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "tech_hubs_reference.md"
SEED = 2024
DRAWS = 100_000
BUDGET = "$504M"
COMMAND = ".venv/bin/python examples/tech_hubs_reference.py"

VARIANTS = {
    "statute pack, defaults": {},
    "capacity only (λ 0)": {"spread_weight": 0.0},
    "clusters multiply money (θ 1, λ 0)": {"spread_weight": 0.0, "complementarity": 1.0},
}

CAN_AND_CANNOT = """\
## What this comparison can and cannot show

- **It can show** whether the places a PlaceFund plan picks as hubs are places the real
  programmes chose, and whether they are so more often than a random choice of the same
  number of metros that keeps the same rules.
- **It cannot show that either choice is right.** EDA judged *proposals and consortia*: a
  technology focus, partners, matching commitments and a plan for the money, not only a
  place's measured capacity. A plan that picks different metros has not found EDA's
  mistakes, and a plan that picks the same ones has not been validated.
- **The three references answer different questions.** The 2023 designations are EDA's
  broad first cut (31 hubs, 30 identified here). The 12 Phase 2 awards of July 2024 are the
  designees EDA then funded, so they also reflect the quality of each implementation
  proposal. The NSF Regional Innovation Engines (January 2024) are a different programme,
  run by another agency with another aim (use-inspired research and its translation in a
  region, up to ten years) and its own competition; it is shown because it is the other
  large federal place-based technology bet of the period, not because the statute pack
  describes it.
- **A reference is a comparison, never a target.** No default, weight or rule of
  PlaceFund is fitted to these lists; the hub tables ship only to draw this comparison.
- **A multi-metro hub counts in one place (Phase 2, Engines) or in every named place
  (2023).** Phase 2 and Engines rows give one *lead* metro each (the lead organisation's,
  or the single region EDA names); each row's `notes` column lists the other metros a hub
  or engine serves. A plan's hub in such another metro scores no hit.
- **With a score of a few metros out of twenty, chance is large.** The probability that a
  random rule-keeping draw does at least as well is the number to read before any
  precision: when it is not small, the overlap is no evidence that the plan and the
  programme chose alike.
"""


def pct(x: float) -> str:
    return f"{x:.1%}"


def musd(x: float) -> str:
    return f"${x / 1e6:,.1f}M"


def names_of(ids: list[str], names: pd.Series) -> str:
    return "; ".join(names[i] for i in ids) or "none"


def reference_table(refs: list[Reference], region_ids: list[str]) -> list[str]:
    lines = ["| reference | an entry is the | entries | metros | in the metro table | "
             "file |", "|---|---|---|---|---|---|"]
    for ref in refs:
        lines.append(f"| {ref.label} | {ref.what} | {ref.entries['entry'].nunique()} | "
                     f"{len(ref.codes())} | {len(ref.placed(region_ids))} | "
                     f"`data/{Path(ref.file).name}` |")
    lines.append("")
    for ref in refs:
        rest = ref.not_placed(region_ids)
        if rest.empty:
            lines.append(f"- {ref.label}: every entry is placed in a metro of the table.")
            continue
        lines.append(f"- {ref.label}: {rest['entry'].nunique()} entries have no metro in "
                     "this comparison, so no plan can hit them (they count in no recall):")
        for _, row in rest.iterrows():
            code = f" (CBSA {row['cbsa_code']}, not a region of the table)" if row[
                "cbsa_code"] else ""
            lines.append(f"  - {row['entry']}{code}: {row['metro']}")
    return lines


def score_table(scores: list[ReferenceScore], region_ids: list[str], names: pd.Series,
                n_regions: int) -> list[str]:
    lines = ["| reference | metros in the table | plan's hits | precision (random) | "
             "recall (random) | P(random ≥ plan) ± s.e. | P ignoring the rules |",
             "|---|---|---|---|---|---|---|"]
    for s in scores:
        hits = len(s.hits)
        exact = chance_of_at_least(hits, n_regions, s.n_hubs, s.n_placed)
        lines.append(
            f"| {s.reference.label} | {s.n_placed} | {hits} of {s.n_hubs}: "
            f"{names_of(s.hits, names)} | {pct(s.precision)} ({pct(s.random_precision)}) | "
            f"{pct(s.recall)} ({pct(s.random_recall)}) | {s.p_at_least:.3f} ± "
            f"{s.p_standard_error:.3f} | {exact:.3f} |")
    return lines


def reading(scores: list[ReferenceScore]) -> list[str]:
    """One sentence per reference, chosen by the numbers."""
    lines = []
    for s in scores:
        hits = len(s.hits)
        if hits == 0:
            verdict = "the plan picks none of its metros"
        elif s.p_at_least >= 0.05:
            verdict = (f"the plan's {hits} {'hit is' if hits == 1 else 'hits are'} within "
                       "what chance gives: a random "
                       f"rule-keeping draw does at least as well {s.p_at_least:.0%} of the "
                       "time")
        else:
            verdict = (f"a random rule-keeping draw does as well only {s.p_at_least:.1%} of "
                       "the time, so the overlap is more than chance (which still says "
                       "nothing about who chose well)")
        lines.append(f"- *{s.reference.label}*: {verdict}; a random draw averages "
                     f"{s.random_mean_hits:.2f} hits.")
    return lines


def hubs_line(plan: pf.AllocationResult, regions: pf.Regions) -> str:
    hubs = plan.regions[plan.regions["hub"]].assign(
        award=lambda t: t["funding_usd"].round(-5)).sort_values(["award", "name"],
                                                                ascending=[False, True])
    small = regions.table.set_index("region_id")["small_rural"].astype(str).str.lower()
    parts = [f"{row['name']} {musd(row['funding_usd'])}"
             f"{' (small/rural)' if small[row['region_id']] == 'true' else ''}"
             for _, row in hubs.iterrows()]
    return "; ".join(parts)


def setup_line(plan: pf.AllocationResult, regions: pf.Regions) -> str:
    hubs = plan.regions[plan.regions["hub"]]
    small = regions.table.set_index("region_id").loc[hubs["region_id"], "small_rural"]
    n_small = int(small.astype(str).str.lower().eq("true").sum())
    per_region = ", ".join(f"{k} {v}" for k, v in
                           hubs.groupby("census_region").size().sort_index().items())
    s = plan.solver
    return (f"{len(hubs)} hubs ({n_small} small/rural; by Census region: {per_region}), "
            f"{musd(plan.spent_usd)} spent of {musd(plan.scenario.budget)}; HiGHS "
            f"{'proved optimality' if s.proven_optimal else 'did not prove optimality'} "
            f"(MIP gap {s.mip_gap:.1e}); objective {plan.objective:.5f} points.")


def disagreements(comparison: MetroComparison) -> list[str]:
    lines = ["| | metro | 2023 hub | award | measured facts and the best rule-keeping swap |",
             "|---|---|---|---|---|"]
    for _, row in comparison.disagreements.iterrows():
        award = musd(row["funding_usd"]) if row["funding_usd"] else "–"
        lines.append(f"| {row['kind']} | {row['name']} | {row['hubs_2023'] or '–'} | "
                     f"{award} | {row['reason']} |")
    return lines


def metros(draws: int, log: list[str]) -> list[str]:
    regions = pf.load_regions("metros")
    refs = references()
    ids = list(regions.ids)
    names = regions.table.set_index("region_id")["name"]
    n_small = int(regions.table["small_rural"].astype(str).str.lower().eq("true").sum())
    out = ["## Metros", "",
           f"**Set-up.** The `tech_hubs_2022_statute_metros` pack "
           "(`optimizer/defaults/packs.yaml`) on the documented default metro plan "
           "(`placefund solve --regions metros` without `--scenario`; see `data/SOURCES.md`), "
           f"built by `optimizer.analysis.reference.statute_scenario(\"metros\", regions, "
           f"budget=\"{BUDGET}\")`: at least 20 hubs, at least 3 in each Census region, "
           "awards between $19M and $51M, and at least a third of the hubs small or rural "
           f"(`small_rural` in `metros.csv`: {n_small} of the {len(regions)} metros). The "
           f"budget, {BUDGET}, is the total of the 2024 Phase 2 awards.", "",
           "**The references.**", ""]
    out += reference_table(refs, ids)
    out += ["", "The caveats of each table are in `data/SOURCES.md` and in each row's "
            "`notes` (Phase 2 amounts are EDA's approximate figures; a hub or engine that "
            "spans several metros has one lead metro here).", "",
            "**Measures.** A *hit* is a plan hub that is a reference metro. Precision = hits / "
            "plan's hubs; recall = hits / reference metros in the table. The random "
            f"baseline draws {draws:,} hub sets of the plan's size, uniformly among the sets "
            "that keep the pack's rules (the same eligibility, at least 3 hubs per Census "
            "region, at least a third small or rural), by rejection of uniform draws "
            f"(`optimizer.analysis.reference.draw_hub_sets`, seed {SEED}); the same draws "
            "serve every reference. \"P(random ≥ plan)\" is the share of draws with at least "
            "the plan's hits, ± its Monte Carlo standard error √(p(1−p)/draws). \"P "
            "ignoring the rules\" is the exact hypergeometric chance for a draw of the same "
            "size from all metros, for comparison.", ""]
    for label, changes in VARIANTS.items():
        scenario = statute_scenario("metros", regions, budget=BUDGET, **changes)
        start = time.perf_counter()
        plan = pf.solve(regions, scenario)
        log.append(f"metros, {label}: solved in {time.perf_counter() - start:.1f} s "
                   f"(HiGHS {plan.solver.solve_time_s:.1f} s)")
        start = time.perf_counter()
        scores = score_plan(plan, regions, refs, draws=draws, seed=SEED)
        log.append(f"metros, {label}: {draws:,} random draws scored in "
                   f"{time.perf_counter() - start:.1f} s")
        title = "the statute plan" if not changes else label
        out += [f"### {title[0].upper()}{title[1:]} ({BUDGET})", "",
                setup_line(plan, regions) + ("" if changes else
                                             " Hubs: " + hubs_line(plan, regions) + "."), ""]
        out += score_table(scores, ids, names, len(regions))
        out += [""] + reading(scores) + [""]
        for note in plan.notes:
            out.append(f"Note: {note}")
        if not changes:
            comparison = compare_metros_with_designations(plan, regions)
            out += ["**Largest disagreements with the 2023 designations, and why** (plan-only "
                    "hubs by award, designated-only metros by baseline capacity; a swap "
                    "moves the award as is, split across instruments as well as it can be in "
                    "the new metro, so its cost is an upper bound on the loss after a full "
                    "re-solve):", ""]
            out += disagreements(comparison) + [""]
    return out


def states(log: list[str]) -> list[str]:
    regions = pf.load_regions("states")
    planner = pf.Planner(regions)
    out = ["## States", "",
           "The `tech_hubs_2022_statute` pack on the states at $504M: at least 20 hubs, 3 per "
           "Census region, awards between $19M and $51M. The state table has no small/rural "
           "flag, so the one-third rule is not applied (each plan says so in its notes). A "
           "state counts as designated when any 2023 hub in `data/tech_hubs_2023.csv` "
           "includes it. EDA chose metro-scale consortia, so the state comparison is coarse; "
           "the metro section above is the one at EDA's scale.", ""]
    for label, changes in VARIANTS.items():
        scenario = pf.scenario_from_dict({"packs": ["tech_hubs_2022_statute"],
                                          "budget": BUDGET, **changes})
        start = time.perf_counter()
        plan = planner.solve(scenario)
        log.append(f"states, {label}: solved in {time.perf_counter() - start:.1f} s")
        out += [f"**{label}** — {plan.regions['hub'].sum()} hubs, proven optimal: "
                f"{plan.solver.proven_optimal}.", "", "```",
                compare_with_designations(plan).summary()]
        out += [f"note: {note}" for note in plan.notes]
        out += ["```", ""]
    return out


def document(draws: int, log: list[str]) -> str:
    head = [
        "# Tech Hubs: the statute pack's plans beside the real programme", "",
        f"<!-- Generated by examples/tech_hubs_reference.py; do not edit by hand. Regenerate "
        f"with `{COMMAND}`; `{COMMAND} --check` fails when this file differs from a fresh "
        "run. -->", "",
        "Generated, with every number, by `examples/tech_hubs_reference.py` "
        f"({draws:,} random draws per plan, seed {SEED}); `tests/test_reference.py` checks "
        "that this file matches a fresh run. The references are "
        f"`data/{HUB_CBSA_FILE.name}` (2023 designations placed in metros), "
        f"`data/{PHASE2_FILE.name}` and `data/{ENGINES_FILE.name}`; `data/SOURCES.md` says "
        "where each comes from.", "",
        CAN_AND_CANNOT,
    ]
    body = metros(draws, log) + states(log)
    return "\n".join(head + body).rstrip() + "\n"


def check(text: str, path: Path) -> int:
    """0 if ``path`` holds exactly ``text``; else print the difference and return 1."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if old == text:
        print(f"{path} matches a fresh run")
        return 0
    sys.stdout.writelines(difflib.unified_diff(
        old.splitlines(keepends=True), text.splitlines(keepends=True),
        fromfile=str(path), tofile="fresh run"))
    print(f"{path} differs from a fresh run: regenerate it with {COMMAND}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare a fresh run with the doc instead of writing it")
    parser.add_argument("--draws", type=int, default=DRAWS)
    parser.add_argument("--out", type=Path, default=DOC)
    args = parser.parse_args(argv)
    log: list[str] = []
    text = document(args.draws, log)
    for line in log:
        print(line, file=sys.stderr)
    if args.check:
        return check(text, args.out)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
