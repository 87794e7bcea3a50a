"""How sure an out-of-sample comparison of two plans is: a paired bootstrap.

Two plans scored on the same fresh samples (S of each per sample) differ in mean and in
CVaR by some points; with a few hundred samples that difference is itself uncertain.
``paired_difference`` resamples the fresh samples with replacement (the same draw for
both plans, so their shared ups and downs cancel) and gives the percentile interval of
the difference. Its seed is fixed, so a run and its check give the same interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optimizer.engine.formatting import number

RESAMPLES = 2000
LEVEL = 0.95
SEED = 20240611
CHUNK = 250  # resamples at a time: bounded memory for many samples


def cvar_rows(values: np.ndarray, alpha: float) -> np.ndarray:
    """The empirical CVaR at ``alpha`` (mean of the worst ``alpha`` share, a fractional
    sample counted in part) of each row of ``values``."""
    ordered = np.sort(np.asarray(values, float), axis=-1)
    n = ordered.shape[-1]
    weight = np.clip(alpha * n - np.arange(n), 0.0, 1.0)
    return np.asarray((ordered @ weight) / weight.sum())


def _statistic(name: str, values: np.ndarray, alpha: float) -> np.ndarray:
    return values.mean(axis=-1) if name == "mean" else cvar_rows(values, alpha)


def paired_difference(first: np.ndarray, second: np.ndarray, alpha: float,
                      resamples: int = RESAMPLES, level: float = LEVEL,
                      seed: int = SEED) -> dict[str, Any]:
    """``first`` − ``second`` in mean and CVaR at ``alpha`` over paired samples, each
    with its percentile bootstrap interval at ``level``.

    >>> out = paired_difference(np.array([2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0]), 0.5)
    >>> [round(out["mean"][end], 9) for end in ("estimate", "low", "high")]
    [1.0, 1.0, 1.0]
    """
    a, b = np.asarray(first, float), np.asarray(second, float)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError("paired_difference needs two equally long, non-empty score lists")
    rng = np.random.default_rng(seed)
    draws: dict[str, list[np.ndarray]] = {"mean": [], "cvar": []}
    for start in range(0, resamples, CHUNK):
        rows = rng.integers(0, len(a), size=(min(CHUNK, resamples - start), len(a)))
        for name in draws:
            draws[name].append(_statistic(name, a[rows], alpha) - _statistic(name, b[rows], alpha))
    tail = (1.0 - level) / 2.0
    out: dict[str, Any] = {"resamples": resamples, "level": level, "seed": seed,
                           "samples": len(a)}
    for name, parts in draws.items():
        boot = np.concatenate(parts)
        low, high = np.quantile(boot, [tail, 1.0 - tail])
        out[name] = {"estimate": float(_statistic(name, a, alpha) - _statistic(name, b, alpha)),
                     "low": float(low), "high": float(high)}
    return out


def interval_text(part: dict[str, Any], level: float) -> str:
    """'+0.170 points (95% interval +0.150 to +0.190)' for one part of ``paired_difference``
    (a true minus sign on a decrease)."""
    low, high = (number(part[end], 3, plus=True) for end in ("low", "high"))
    return f"{number(part['estimate'], 3, plus=True)} points ({level:.0%} interval {low} to {high})"
