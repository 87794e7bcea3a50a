"""Concentration metrics of a capacity distribution, as defined in docs/model.md.

Inputs are capacity points per region and population; per-capita capacity is
``y = capacity / (100 * population share)`` so the national baseline average is 1.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

METRIC_NAMES = (
    "spread_adjusted_capacity",
    "total_capacity",
    "mean_capacity",
    "gini",
    "top10_share",
    "hhi",
    "theil",
    "cv",
    "baseline_top10_share",
    "hoover",
    "spread_adjusted_capacity_hoover",
)


TOP_K = 10  # the article's measure: the top-10 regions' share


def top_k_count(n_regions: int) -> int:
    """How many regions the "top-k share" counts: 10, or a third of the regions (rounded
    up) when there are fewer than 30, so that the share still says something (with 8
    regions the top 10 would be all of them, 100% before and after)."""
    return max(1, min(TOP_K, math.ceil(n_regions / 3)))


def weighted_gini(y: np.ndarray, weight: np.ndarray) -> float:
    """Population-weighted Gini of ``y`` in O(n log n) (weights sum to 1)."""
    order = np.argsort(y, kind="stable")
    ys, ws = y[order], weight[order]
    cum_w = np.cumsum(ws) - ws  # weight strictly below each position
    cum_wy = np.cumsum(ws * ys) - ws * ys
    mean = float(np.dot(ws, ys))
    if mean <= 0:
        return 0.0
    half_sum = float(np.sum(ws * (ys * cum_w - cum_wy)))  # sum over pairs i<j of w_i w_j |y_i - y_j|
    return half_sum / mean


def spread_adjusted(capacity_points: np.ndarray, population: np.ndarray, spread_weight: float,
                    spread_measure: str) -> float:
    """S_lambda alone (``concentration``'s ``spread_adjusted_capacity`` for the Gini,
    ``spread_adjusted_capacity_hoover`` for the Hoover index), for loops that need only
    the objective."""
    share = population / population.sum()
    y = np.asarray(capacity_points, float) / (100.0 * share)
    mu = float(np.dot(share, y))
    spread = (weighted_gini(y, share) if spread_measure == "gini"
              else float(np.dot(share, np.abs(y - mu)) / (2.0 * mu)))
    return 100.0 * mu * (1.0 - spread_weight * spread)


def concentration(
    capacity_points: np.ndarray,
    population: np.ndarray,
    spread_weight: float,
    baseline_top_k: np.ndarray | None = None,
    k: int | None = None,
) -> dict[str, float]:
    """All metrics of one distribution of capacity.

    ``top10_share`` is the share of the ``k`` largest regions (``top_k_count`` by
    default). ``baseline_top_k`` holds the positions of the baseline's largest regions,
    largest first, so the share the first ``k`` of them keep after funding can be reported.
    """
    c = np.asarray(capacity_points, float)
    share = population / population.sum()
    y = c / (100.0 * share)
    mu = float(np.dot(share, y))
    gini = weighted_gini(y, share)
    total = float(c.sum())
    cap_share = c / total
    k = min(top_k_count(len(c)) if k is None else k, len(c))
    top = np.sort(c)[::-1][:k].sum() / total
    ratio = y / mu
    with np.errstate(divide="ignore", invalid="ignore"):
        theil = float(np.sum(np.where(ratio > 0, share * ratio * np.log(ratio), 0.0)))
    cv = float(np.sqrt(np.dot(share, (y - mu) ** 2)) / mu)
    hoover = float(np.dot(share, np.abs(y - mu)) / (2.0 * mu))
    if baseline_top_k is None:
        baseline_top_k = np.argsort(-c, kind="stable")
    baseline_top_k = np.asarray(baseline_top_k)[:k]
    return {
        "spread_adjusted_capacity": 100.0 * mu * (1.0 - spread_weight * gini),
        "total_capacity": total,
        "mean_capacity": mu,
        "gini": gini,
        "top10_share": float(top),
        "hhi": float(np.sum(cap_share**2)),
        "theil": theil,
        "cv": cv,
        "baseline_top10_share": float(c[baseline_top_k].sum() / total),
        "hoover": hoover,
        "spread_adjusted_capacity_hoover": 100.0 * mu * (1.0 - spread_weight * hoover),
    }


OUTCOME_COLUMNS = ("region_id", "indicator", "unit", "before", "gain", "after")


def outcome_rows(region_ids: list[str], indicators: list[str], units: list[str],
                 before: np.ndarray, gain: np.ndarray) -> pd.DataFrame:
    """What a plan raises, tidy: one row per region and raised indicator, in the
    indicator's own unit; ``after = before + gain``, empty where ``before`` is not
    published for the region (the gain is still there)."""
    n, k = gain.shape
    return pd.DataFrame({
        "region_id": np.repeat(np.asarray(region_ids, dtype=object), k),
        "indicator": np.tile(np.asarray(indicators, dtype=object), n),
        "unit": np.tile(np.asarray(units, dtype=object), n),
        "before": before.ravel(),
        "gain": gain.ravel(),
        "after": (before + gain).ravel(),
    })


def outcome_totals(indicators: list[str], national_before: np.ndarray,
                   gain: np.ndarray) -> dict[str, dict[str, float]]:
    """National totals per raised indicator: before (V_k), gain, after."""
    total_gain = gain.sum(axis=0)
    return {k: {"before": float(v), "gain": float(g), "after": float(v + g)}
            for k, v, g in zip(indicators, national_before, total_gain, strict=True)}
