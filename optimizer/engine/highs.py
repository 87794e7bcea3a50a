"""HiGHS, loaded with a compiled model: every use of highspy's model API, in one place.

``LoadedModel`` holds one ``highspy.Highs`` with the arrays of a compiled declaration
(``compile.Compiled``): a re-solve sends only the numbers that changed
(``changeColsBounds``, ``changeRowsBounds``, ``changeColsCost``, ``changeCoeff``), and
``add_tangents`` appends the tangent columns of the outer response. Each instance is
independent, so planners in different threads solve at the same time.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

import highspy
import numpy as np

from optimizer.engine.compile import Compiled, Values
from optimizer.engine.inputs import ModelInputs
from optimizer.engine.tangents import chord_segments_busd, envelope_lengths, envelope_value

INF = highspy.kHighsInf


def _first_highs_quietly() -> None:
    """Make this process's first ``highspy.Highs`` with stdout closed: HiGHS prints its
    banner ("Running HiGHS ... Copyright ...") to file descriptor 1 when the first one is
    made, before any option can silence it, and never again in the process."""
    try:
        sys.stdout.flush()
        saved, quiet = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):  # no stdout to protect
        highspy.Highs()
        return
    try:
        os.dup2(quiet, 1)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(quiet)


_first_highs_quietly()  # on import: every solver of PlaceFund imports this module first

class LoadedModel:
    """A compiled model loaded into one ``highspy.Highs``, with its tangents.

    ``write`` sends only what changed since the last write; ``add_tangents`` appends
    segment columns in one call and rewrites the lengths of their neighbours, keeping
    the basis (new columns enter at zero), so the simplex method goes on from the last
    optimum.
    """

    def __init__(self, lp: Compiled, p: np.ndarray, sat_units: np.ndarray, unit: float,
                 shape: tuple[int, int]) -> None:
        """``p``: the Params' values; ``sat_units``: each term's saturation scale s in
        money units (r*m + i); ``unit``: the money unit in $B; ``shape``: (n, m)."""
        self.lp, self.p = lp, p
        self.sat_units, self.unit = sat_units, unit
        self.n, self.m = shape
        values = lp.values(p)
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        model = highspy.HighsLp()
        model.num_col_, model.num_row_ = lp.n_cols, lp.n_rows
        model.col_cost_, model.col_lower_, model.col_upper_ = (
            values.cost, values.col_lower, values.col_upper)
        model.row_lower_, model.row_upper_ = values.row_lower, values.row_upper
        matrix = lp.matrix(values)
        model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        model.a_matrix_.start_ = matrix.indptr
        model.a_matrix_.index_ = matrix.indices
        model.a_matrix_.value_ = matrix.data
        model.sense_ = highspy.ObjSense.kMaximize if lp.maximize else highspy.ObjSense.kMinimize
        if lp.integer.any():
            model.integrality_ = [highspy.HighsVarType.kInteger if v
                                  else highspy.HighsVarType.kContinuous for v in lp.integer]
        highs.passModel(model)
        self.highs = highs
        self.written = values
        self.tangent_term = np.zeros(0, dtype=np.int64)  # r * m + i of each tangent
        self.tangent_u = np.zeros(0)  # its point u = x/s
        self.tangent_col = np.zeros(0, dtype=np.int64)  # its segment's column
        self._solution: Solution | None = None
        self.time_limit_s = 60.0  # each run's limit (seconds): see ``run``

    def add_tangents(self, term: np.ndarray, u: np.ndarray, *, as_given: bool = False) -> int:
        """Add tangents at ``u`` to the envelopes of ``term`` (r*m + i): one segment
        column each (in one ``addCols``), and the lengths of every segment of those
        terms rewritten (one ``changeColsBounds``). Points already there (to 1e-9
        relative) are skipped, unless ``as_given`` (another LP's tangents, loaded again
        column for column); returns how many were added."""
        term, u = np.asarray(term, dtype=np.int64), np.asarray(u, dtype=float)
        if not as_given:
            term, u = self._new_points(term, u)
        if not term.size:
            return 0
        lp, h = self.lp, self.highs
        first = h.getNumCol()
        count = term.size
        rows = np.stack([lp.rows["funding"].start + term, lp.rows["response"].start + term],
                        axis=1).ravel()
        vals = np.stack([-np.ones(count), -1.0 / (1.0 + u)], axis=1).ravel()
        h.addCols(count, np.zeros(count), np.zeros(count), np.full(count, INF), vals.size,
                  np.arange(0, 2 * count, 2, dtype=np.int32), rows.astype(np.int32), vals)
        self.tangent_term = np.concatenate([self.tangent_term, term])
        self.tangent_u = np.concatenate([self.tangent_u, u])
        self.tangent_col = np.concatenate([self.tangent_col, first + np.arange(count)])
        touched = np.isin(self.tangent_term, np.unique(term))
        length = self.segments(self.tangent_term[touched], self.tangent_u[touched])
        cols = self.tangent_col[touched].astype(np.int32)
        h.changeColsBounds(cols.size, cols, np.zeros(cols.size), np.where(
            np.isfinite(length), length, INF))
        return count

    def _new_points(self, term: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``term``/``u`` without the points a term already has, or repeats (1e-9)."""
        all_term = np.concatenate([self.tangent_term, term])
        all_u = np.concatenate([self.tangent_u, u])
        new = np.concatenate([np.zeros(self.tangent_term.size, bool), np.ones(term.size, bool)])
        order = np.lexsort((~new, all_u, all_term))  # existing points first among equals
        t, v = all_term[order], all_u[order]
        near = np.zeros(t.size + 1, bool)  # near[j]: points j-1 and j are the same
        near[1:-1] = (t[1:] == t[:-1]) & (v[1:] - v[:-1] <= 1e-9 * (1.0 + v[1:]))
        repeat = near[:-1] | (near[1:] & ~np.append(new[order][1:], True))
        keep = np.zeros(t.size, bool)
        keep[order] = new[order] & ~repeat
        keep = keep[self.tangent_term.size:]
        return term[keep], u[keep]

    def segments(self, term: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Each tangent's segment length (money units) in its term's envelope."""
        return envelope_lengths(term, u, self.sat_units)

    def envelope_busd(self, x_busd: np.ndarray) -> np.ndarray:
        """The loaded tangents' envelope of s ln(1 + x/s) at ``x_busd`` (n, m), in $B."""
        env = envelope_value(self.tangent_term, self.tangent_u, self.sat_units * self.unit,
                             x_busd.ravel())
        return env.reshape(self.n, self.m)

    def update(self, params: Mapping[str, Any]) -> None:
        """Set the named Params (arrays in index order) and send what changed to HiGHS."""
        self.p = self.lp.p_with(self.p, params)
        self.write(self.lp.values(self.p))

    def write(self, values: Values) -> None:
        """Send the numbers of ``values`` that differ from those last written."""
        h, old = self.highs, self.written
        lo, up = values.col_lower, values.col_upper
        changed = np.flatnonzero((lo != old.col_lower) | (up != old.col_upper))
        if changed.size:
            h.changeColsBounds(changed.size, changed.astype(np.int32), lo[changed], up[changed])
        changed = np.flatnonzero(values.cost != old.cost)
        if changed.size:
            h.changeColsCost(changed.size, changed.astype(np.int32), values.cost[changed])
        lo, up = values.row_lower, values.row_upper
        changed = np.flatnonzero((lo != old.row_lower) | (up != old.row_upper))
        if changed.size:
            h.changeRowsBounds(  # type: ignore[attr-defined]  # in highspy, not in its stubs
                changed.size, changed.astype(np.int32), lo[changed], up[changed])
        changed = np.flatnonzero(values.coef != old.coef)
        rows, cols = self.lp.coef_rows, self.lp.coef_cols
        for j in changed.tolist():
            h.changeCoeff(int(rows[j]), int(cols[j]), float(values.coef[j]))
        self.written = values

    def point_at(self, inputs: ModelInputs, x_busd: np.ndarray) -> np.ndarray:
        """Every column's value at funding ``x_busd`` (n, m; a plan without hubs):
        segments filled in order, so the point lies on the LP's response envelope; the
        spread and top-k columns at their tightest (the top-k rows on the outer
        capacities, as in a first solve). A starting point for crossover."""
        lp, unit, share = self.lp, self.unit, inputs.pop_share
        n, m = self.n, self.m
        values = np.zeros(self.highs.getNumCol())
        x = x_busd.ravel() / unit
        order = np.lexsort((self.tangent_u, self.tangent_term))
        term = self.tangent_term[order]
        length = self.segments(self.tangent_term, self.tangent_u)[order]
        finite = np.where(np.isfinite(length), length, 0.0)
        before = np.cumsum(finite) - finite  # filled by earlier segments, all terms
        first = np.searchsorted(term, term)  # each term's first segment
        start = before - before[first]
        fill = np.clip(x[term] - start, 0.0, length)
        values[self.tangent_col[order]] = fill
        tau = np.bincount(term, fill / (1.0 + self.tangent_u[order]), minlength=x.size)
        coef = (inputs.effectiveness * inputs.multiplier).ravel() * unit
        y = (inputs.c0 + (coef * tau).reshape(n, m).sum(axis=1)) / (100.0 * share)
        cols = lp.cols
        values[cols["x"]], values[cols["tau"]], values[cols["y"]] = x, tau, y
        if "seg_in" in cols:
            length_in, slope_in = chord_segments_busd(inputs)
            chord = (length_in / unit).reshape(x.size, -1)
            start_in = np.cumsum(chord, axis=1) - chord
            fill_in = np.clip(x[:, None] - start_in, 0.0, chord)
            tau_in = (fill_in * slope_in.reshape(x.size, -1)).sum(axis=1)
            values[cols["seg_in"]], values[cols["tau_in"]] = fill_in.ravel(), tau_in
            values[cols["y_in"]] = (inputs.c0 + (coef * tau_in).reshape(n, m).sum(axis=1)
                                    ) / (100.0 * share)
        if "mu" in cols:
            mu = float(share @ y)
            dev = np.maximum(y - mu, 0.0)
            values[cols["mu"]], values[cols["dev"]] = mu, dev
            values[cols["hoover_sum"]] = 100.0 * share @ dev
        else:
            r, t = np.triu_indices(n, k=1)
            gap = np.abs(y[r] - y[t])
            values[cols["d"]] = gap
            values[cols["gini_sum"]] = 100.0 * (share[r] * share[t] * gap).sum()
        if "topk_threshold" in cols:
            cap = inputs.scenario.top_k_share_cap
            k = cap.k if cap is not None else 0
            points = 100.0 * share * y
            threshold = float(np.sort(points)[-k]) if k <= len(points) else 0.0
            values[cols["topk_threshold"]] = threshold
            values[cols["topk_excess"]] = np.maximum(points - threshold, 0.0)
        return values

    def run(self) -> float:
        """Run HiGHS within ``time_limit_s``; the seconds its ``run`` call took.

        That is HiGHS's own time: all of it is spent inside the library, including the
        checks and solution bookkeeping around the simplex method that HiGHS's own run
        clock leaves out (about 0.5 ms a run on the states LP).
        HiGHS measures its time limit on that clock, which runs on across runs of one
        model (HiGHS issue 1331; highspy has no way to zero it), so a long-lived model
        would end up failing every run: the limit is set past the clock's reading.
        """
        self.highs.setOptionValue("time_limit", float(self.highs.getRunTime()) + self.time_limit_s)
        start = time.perf_counter()
        self.highs.run()
        spent = time.perf_counter() - start
        self._solution = None
        return spent

    def solution(self) -> Solution:
        """The last run's solution (copied out of HiGHS once a run)."""
        if self._solution is None:
            self._solution = Solution(self.highs.getSolution())
        return self._solution

    def column_values(self, name: str) -> np.ndarray:
        return self.solution().col_value[self.lp.cols[name]]

    def set_integer(self, integer: bool) -> None:
        """The hub columns integer (a MIP) or continuous (the LP of fixed hubs)."""
        idx = np.flatnonzero(self.lp.integer).astype(np.int32)
        kind = highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
        self.highs.changeColsIntegrality(idx.size, idx, np.full(idx.size, kind))


class Solution:
    """One run's solution, a copy HiGHS made (later runs do not change it); each array is
    converted from HiGHS's lists on first read, so a caller that never reads the duals
    (a sensitivity run) does not pay for them."""

    def __init__(self, raw: highspy.HighsSolution) -> None:
        self._raw = raw

    @functools.cached_property
    def col_value(self) -> np.ndarray:
        return _array(self._raw.col_value)

    @functools.cached_property
    def row_dual(self) -> np.ndarray:
        return _array(self._raw.row_dual)

    @functools.cached_property
    def col_dual(self) -> np.ndarray:
        return _array(self._raw.col_dual)


def _array(values: list[float]) -> np.ndarray:
    """A list of floats from highspy as an array (``fromiter``: 40% faster than asarray)."""
    return np.fromiter(values, dtype=float, count=len(values))
