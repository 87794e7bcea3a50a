"""The article's concentration facts, measured on the shipped data.

The article PlaceFund answers states how concentrated AI capacity is across metros
("the top-10 metros hold 70% of computer-science inventors"). ``concentration`` measures
the same kind of figure for every measured indicator of a region set: the top-10
regions' share of the total and the Gini coefficient over regions (of the regions'
totals, unweighted: 0 = every region holds the same amount). ``article_comparison``
puts our closest measure beside each statement and says plainly how it differs.
Empty (suppressed) cells count as 0 here and are reported: the share of a total that
misses small suppressed cells is a slight overstatement of concentration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer.engine import columns
from optimizer.engine.data import Regions
from optimizer.engine.scenario import MISSING_POLICY_WORDS, Scenario

TOP_K = 10


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative amounts over units (0 equal, ->1 all in one).

    >>> round(gini(np.array([1.0, 1.0, 1.0, 1.0])), 3)
    0.0
    >>> round(gini(np.array([0.0, 0.0, 0.0, 4.0])), 3)
    0.75
    """
    x = np.sort(np.asarray(values, dtype=float))
    n, total = len(x), x.sum()
    if n == 0 or total <= 0:
        return float("nan")
    ranks = np.arange(1, n + 1)
    return float((2.0 * (ranks * x).sum()) / (n * total) - (n + 1.0) / n)


def top_share(values: np.ndarray, k: int = TOP_K) -> float:
    """Share of the total held by the ``k`` largest units."""
    x = np.asarray(values, dtype=float)
    total = x.sum()
    return float(np.sort(x)[::-1][:k].sum() / total) if total > 0 else float("nan")


def measured_indicators(regions: Regions) -> list[str]:
    """The indicators measured locally (registry basis ``measured``; a user's own columns)."""
    return [c for c in regions.indicators if columns.basis(c) in ("measured", "user data")]


def concentration(regions: Regions, indicators: Sequence[str] | None = None,
                  k: int = TOP_K) -> pd.DataFrame:
    """Per indicator: label, unit, total, top-k share, Gini over regions, empty cells, top 3."""
    cols = list(indicators) if indicators is not None else measured_indicators(regions)
    t = regions.table
    rows = []
    for c in cols:
        raw = t[c].to_numpy(float)
        empty = np.isnan(raw)
        x = np.where(empty, 0.0, raw)
        order = np.argsort(-x, kind="stable")[:3]
        spec = columns.column(c)
        rows.append({
            "column": c, "label": columns.label(c), "unit": spec.unit if spec else "",
            "basis": columns.basis(c), "total": float(x.sum()),
            f"top{k}_share": top_share(x, k), "gini": gini(x), "regions": len(x),
            "empty_cells": int(empty.sum()),
            "largest": "; ".join(str(t["name"].iat[i]) for i in order),
        })
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Comparison:
    """One statement of the article beside our closest measure."""

    statement: str
    article_share: float
    column: str | None
    our_share: float | None
    how_ours_differs: str


# (statement, article share, our closest column, how it differs)
ARTICLE: tuple[tuple[str, float, str | None, str], ...] = (
    ("The top-10 metros hold 70% of computer-science inventors", 0.70,
     "utility_patents_2000_2015",
     "ours counts utility patent grants of all technologies (not computer science, and "
     "patents rather than inventors), 2000-2015, by inventor county; the article counts "
     "inventors of computer-science patents"),
    ("The top-10 metros hold 70% of computer-science inventors (as workers)", 0.70,
     "oews_cs_research_scientists",
     "ours counts computer and information research scientists employed (BLS OEWS May "
     "2025, excluding the self-employed), not inventors"),
    ("The top-10 metros hold 79% of semiconductor inventors", 0.79, "cbp_semiconductors",
     "ours counts employees of semiconductor and electronic component manufacturers "
     "(NAICS 3344, Census CBP 2019), not inventors"),
    ("The top-10 metros hold 59% of biochemistry inventors", 0.59, None,
     "not measured: the shipped data hold no biochemistry patents, inventors or "
     "employment (university R&D is shipped by field only for CS, engineering and math)"),
)
FORBES = ("35 of the 43 US firms of the Forbes AI 50 are in California", 35 / 43)
FORBES_MEASURES = ("oews_cs_research_scientists", "oews_data_scientists",
                   "oews_software_developers", "cbp_software_publishers")
FORBES_DIFFERS = ("ours is California metros' share of workers or employees, not of leading "
                  "AI firms: no firm-level data are shipped")


def article_comparison(regions: Regions, k: int = TOP_K) -> list[Comparison]:
    """The article's statements beside our measure of the same concentration."""
    t = regions.table
    have = set(regions.indicators)
    out = []
    scope = "" if regions.source == "metros" else (
        f" (measured over {regions.source}, not metros: not the article's unit)")
    for statement, share, column, differs in ARTICLE:
        ours = top_share(t[column].fillna(0).to_numpy(float), k) if column in have else None
        why = differs if column is None or column in have else (
            f"not measured here: {regions.source} has no column {column}")
        if column in have and t[column].isna().any():
            why += f"; {int(t[column].isna().sum())} regions with empty cells count as 0"
        out.append(Comparison(statement, share, column if column in have else None, ours,
                              why + scope))
    if "postal" in t.columns:
        california = (t["postal"] == "CA").to_numpy()
        for column in FORBES_MEASURES:
            if column in have:
                x = t[column].fillna(0).to_numpy(float)
                out.append(Comparison(FORBES[0], FORBES[1], column,
                                      float(x[california].sum() / x.sum()),
                                      FORBES_DIFFERS + scope))
    return out


def facts_text(regions: Regions, k: int = TOP_K) -> str:
    """The concentration table and the article comparison, as text for the CLI."""
    conc = concentration(regions, k=k)
    share = f"top{k}_share"
    lines = [f"Concentration of the measured indicators over {len(regions)} {regions.source} "
             f"(top-{k} share of the total; Gini of the regions' totals; empty cells count as 0):",
             ""]
    width = max([len(s) for s in conc["label"]] + [10])
    lines.append(f"  {'indicator':<{width}}  top-{k:<3} Gini   empty  largest")
    for r in conc.itertuples(index=False):
        lines.append(f"  {r.label:<{width}}  {getattr(r, share):6.1%}  {r.gini:.3f}  "
                     f"{r.empty_cells:5d}  {r.largest}")
    lines += ["", "Beside the article (article -> ours):"]
    for c in article_comparison(regions, k):
        ours = f"{c.our_share:.1%}" if c.our_share is not None else "not measured"
        label = columns.label(c.column) if c.column else "-"
        what = "California's share" if c.statement == FORBES[0] else f"top-{k} share"
        of = f" ({what} of {label})" if c.column else ""
        lines.append(f"  {c.statement}: {c.article_share:.0%} -> {ours}{of}")
        lines.append(f"      differs: {c.how_ours_differs}")
    lines.append("")
    lines.append("Shares are of the total over these regions, not of the national total "
                 "(e.g. OEWS metro figures exclude nonmetropolitan areas).")
    return "\n".join(lines)


def comparison_table(regions: Regions, k: int = TOP_K) -> pd.DataFrame:
    """The article comparison as a table (for the app)."""
    return pd.DataFrame([{
        "the article says": c.statement, "article": c.article_share,
        "our measure": columns.label(c.column) if c.column else "not measured",
        "ours": c.our_share, "how ours differs": c.how_ours_differs,
    } for c in article_comparison(regions, k)])


def filled_sentence(filled_values: dict[str, int], scenario: Scenario) -> str | None:
    """One sentence on the missing values a plan filled, by column and policy, or None."""
    filled = {k: v for k, v in (filled_values or {}).items()
              if v and scenario.missing_policy(k) != "error"}  # "error" fills nothing
    if not filled:
        return None
    parts = [f"{columns.label(k)}: {v:,} {'cell' if v == 1 else 'cells'} filled "
             f"{MISSING_POLICY_WORDS[scenario.missing_policy(k)]}" for k, v in filled.items()]
    return "Empty (suppressed or unplaceable) cells in this plan's data: " + "; ".join(parts) + "."


def display_tables(regions: Regions, k: int = TOP_K) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The concentration and comparison tables with shares as text, for a page."""
    conc = concentration(regions, k=k)
    share = f"top{k}_share"
    conc = pd.DataFrame({
        "indicator": conc["label"], "unit": conc["unit"],
        f"top-{k} share": conc[share].map("{:.1%}".format), "Gini": conc["gini"].map("{:.3f}".format),
        "empty cells (as 0)": conc["empty_cells"], "largest": conc["largest"]})
    comp = comparison_table(regions, k)
    comp["article"] = comp["article"].map("{:.0%}".format)
    comp["ours"] = comp["ours"].map(lambda v: "–" if pd.isna(v) else f"{v:.1%}")
    return conc, comp
