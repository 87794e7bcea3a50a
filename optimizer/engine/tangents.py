"""The tangent geometry of the concave response s ln(1 + x/s), in u = x/s.

The LP approximates each response term from above by the lower envelope of tangents
at points u_k (exact at every u_k; ``model``'s docstring says how it enters the LP)
and, where a rule bounds capacity from below, from underneath by the chords between
those points. Everything here is numpy on the points; nothing depends on weights,
lambda or the budget's split, so tangents persist across re-solves.
"""

from __future__ import annotations

import numpy as np

from optimizer.engine.inputs import ModelInputs

TAIL_TANGENTS = 8  # at least this many (a quarter of all) past the dense zone
DENSE_ZONE = 2.0  # the dense zone ends at twice the national per-capita rate


def tangent_layout(inputs: ModelInputs, count: int | None = None,
                   tail: int | None = None) -> np.ndarray:
    """(n, m, K) tangent points u_k of ln(1+u), u = x/s, for every region and instrument.

    u = x/s is funding per capita relative to the instrument's national scale per
    capita, so plans sit at similar u everywhere. Three quarters of the K tangents
    (all but 8 when K < 32) are spaced evenly in ln(1+u) over the dense zone
    0 <= u <= 2 B/sigma_i (twice the whole budget spread at the national per-capita
    rate); the rest reach out to u = B/s_ri (the whole budget in one region).
    u_0 = 0, so the response is exact at zero funding. ``count`` (default: the
    scenario's ``approximation.tangents``) and ``tail`` (default: as above) change that.
    """
    count = inputs.scenario.approximation.tangents if count is None else count
    if tail is None:
        tail = min(max(TAIL_TANGENTS, count // 4), count - 2)
    s = inputs.saturation_busd
    sigma = s / inputs.pop_share[:, None]
    u_all = inputs.budget_busd / s
    u_dense = np.minimum(DENSE_ZONE * inputs.budget_busd / sigma, u_all)
    dense = np.log1p(u_dense)[..., None]
    points = [np.expm1(dense * np.linspace(0.0, 1.0, count - tail))]
    if tail:
        far = np.log1p(np.maximum(u_all, u_dense * (1 + 1e-6)))[..., None]
        points.append(np.expm1(dense + (far - dense) * np.linspace(0.0, 1.0, tail + 1)[1:]))
    return np.concatenate(points, axis=-1)


def tangent_segments(u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lower envelope of tangents at ``u`` (..., K) as segments: (length, slope).

    The minimum of concave tangents is itself piecewise linear: segment k runs from
    the intersection of tangents k-1, k to that of k, k+1, with tangent k's slope.
    The last segment is unbounded (length inf).
    """
    slope = 1.0 / (1.0 + u)
    a, b = u[..., :-1], u[..., 1:]
    apart = (b - a) > 1e-9 * (1.0 + a)
    with np.errstate(divide="ignore", invalid="ignore"):
        meet = ((np.log1p(b) - np.log1p(a) + a * slope[..., :-1] - b * slope[..., 1:])
                / (slope[..., :-1] - slope[..., 1:]))
    # (nearly) repeated tangent points meet where they touch: a zero-length segment
    meet = np.maximum.accumulate(np.where(apart, meet, a), axis=-1)
    ends = np.concatenate([meet, np.full(meet.shape[:-1] + (1,), np.inf)], axis=-1)
    return np.diff(ends, axis=-1, prepend=0.0), slope


def chord_segments_busd(inputs: ModelInputs) -> tuple[np.ndarray, np.ndarray]:
    """The inner response for every (r, i): chords of s ln(1 + x/s) between consecutive
    tangent points, as segments (length in $B, slope), all bounded.

    Filled in order they trace the piecewise-linear interpolant, which lies below the
    concave response; any other fill lies lower still. The last tangent point is at
    least the whole budget, so the chords cover every feasible x.
    """
    u = tangent_layout(inputs)
    du = np.diff(u, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(du > 0, np.diff(np.log1p(u), axis=-1) / du, 1.0 / (1.0 + u[..., 1:]))
    return du * inputs.saturation_busd[..., None], slope


def envelope_lengths(term: np.ndarray, u: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Each tangent's segment length in its term's envelope, in the units of ``scale``
    (per term: s in money units): ``term``/``u`` list every tangent of the terms
    concerned (any order); inf for a term's last."""
    order = np.lexsort((u, term))
    t, v = term[order], u[order]
    same = t[1:] == t[:-1]
    slope = 1.0 / (1.0 + v)
    a, b = v[:-1], v[1:]
    apart = (b - a) > 1e-12 * (1.0 + a)
    with np.errstate(divide="ignore", invalid="ignore"):
        meet = ((np.log1p(b) - np.log1p(a) + a * slope[:-1] - b * slope[1:])
                / (slope[:-1] - slope[1:]))
    meet = np.where(apart, meet, a)  # (nearly) repeated points meet where they touch
    end = np.append(np.where(same, meet, np.inf), np.inf)
    begin = np.insert(np.where(same, meet, 0.0), 0, 0.0)
    length = np.empty_like(v)
    length[order] = np.maximum(end - begin, 0.0) * scale[t]
    return np.where(np.isnan(length), 0.0, length)


def envelope_value(term: np.ndarray, u: np.ndarray, s: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The tangents' envelope of s ln(1 + x/s) at ``x`` for every term (flat, the units
    of ``s`` and ``x``): the minimum over each term's tangents (inf where it has none)."""
    scale = s[term]
    values = scale * (np.log1p(u) + (x[term] / scale - u) / (1.0 + u))
    env = np.full(x.size, np.inf)
    np.minimum.at(env, term, values)
    return env
