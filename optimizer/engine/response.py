"""The exact response: what funding raises, its margin, and per-capita capacity.

Funding x_ri ($B) raises indicator k of region r by
dv_rk = sum_i e_ik m_ri s_ri ln(1 + x_ri / s_ri) in k's own unit (``indicator_gains``);
in capacity points that is g_ri(x) = a_i m_ri s_ri ln(1 + x / s_ri) with
a_i = 100 sum_k w_k e_ik / V_k, on the arrays of ``optimizer.engine.inputs.ModelInputs``.
The LP approximates it by tangents (``optimizer.engine.model``); results and the checker report it exactly.
"""

from __future__ import annotations

import numpy as np

from optimizer.engine.inputs import ModelInputs


def gain_points(x_busd: np.ndarray, inputs: ModelInputs) -> np.ndarray:
    """Exact capacity gain g_ri(x) = a_i m_ri s_ri ln(1 + x / s_ri), points."""
    s = inputs.saturation_busd
    return inputs.effectiveness * inputs.multiplier * s * np.log1p(np.asarray(x_busd) / s)


def marginal_points_per_busd(x_busd: np.ndarray, inputs: ModelInputs) -> np.ndarray:
    """dg/dx at x: capacity points per extra $1B."""
    s = inputs.saturation_busd
    return inputs.effectiveness * inputs.multiplier / (1.0 + np.asarray(x_busd) / s)


def per_capita(capacity_points: np.ndarray, inputs: ModelInputs) -> np.ndarray:
    """y_r = capacity / (100 * population share): national baseline average is 1."""
    return capacity_points / (100.0 * inputs.pop_share)


def indicator_gains(x_busd: np.ndarray, inputs: ModelInputs) -> np.ndarray:
    """(n, K) what the funding raises, in each raised indicator's own unit:
    dv_rk = sum_i e_ik m_ri s_ri ln(1 + x_ri / s_ri) (``inputs.raised`` order)."""
    s = inputs.saturation_busd
    bought = inputs.multiplier * s * np.log1p(np.asarray(x_busd) / s)  # (n, m) $B-equivalents
    return bought @ inputs.yields_per_busd
