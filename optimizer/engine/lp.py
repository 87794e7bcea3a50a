"""The allocation LP as arrays, handed to HiGHS in bulk: the definition the Planner solves.

The model's structure is regular (n regions x m instruments, a few rows per region),
so every block of columns and rows is written with numpy and passed to HiGHS once
(``Highs.passModel``); a re-solve writes only the numbers that changed, in bulk
(``changeColsBounds``, ``changeRowsBounds``, ``changeColsCost``, and ``changeCoeff``
for the few changed matrix entries). ``optimizer.engine.model.build_model`` writes the
same LP in Pyomo for the analyses that extend it (consensus, diagnosis); a test compares
the two through Pyomo's standard-form compiler.

Units as in ``model``: money in ``unit_busd``, capacity in points, per-capita capacity
``y`` with national baseline 1. The response of each (r, i), a_i m_ri s ln(1 + x/s), is
``coef * tau`` with ``tau`` the lower envelope of tangents of s ln(1 + x/s) at points
x = u_k s, as bounded segment columns (``x = sum seg``, ``tau = sum slope_k seg_k``;
no row per tangent, which the simplex method would pay for on every iteration:
measured, tangents as rows made re-solves several times slower). Tangents depend only
on s, never on weights, lambda or the budget, so they persist across re-solves and are
added only where plans go (``HighsLP.add_tangents``, the outer-approximation loop of
``solve.Planner``): one column each, its neighbours' lengths rewritten.

The inner (chord) response for capacity lower bounds, the top-k cap, hubs and the two
spread measures are as ``model``'s module docstring says; the Gini cap row is always
present in a Gini model and free (no bound) until a cap is asked for.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp

from optimizer.engine.inputs import ModelInputs
from optimizer.engine.model import (
    BIG_CAP_BUSD,
    MIN_COEF_UNITS,
    Structure,
    chord_segments_busd,
    money_unit_busd,
    structure_of,
)

INF = highspy.kHighsInf


@dataclass
class _Builder:
    """Column and row blocks and the matrix's entries as they are added."""

    cols: dict[str, slice] = field(default_factory=dict)
    rows: dict[str, slice] = field(default_factory=dict)
    entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    n_cols: int = 0
    n_rows: int = 0

    def col(self, name: str, size: int) -> np.ndarray:
        self.cols[name] = slice(self.n_cols, self.n_cols + size)
        self.n_cols += size
        return np.arange(self.cols[name].start, self.cols[name].stop)

    def row(self, name: str, size: int) -> np.ndarray:
        self.rows[name] = slice(self.n_rows, self.n_rows + size)
        self.n_rows += size
        return np.arange(self.rows[name].start, self.rows[name].stop)

    def add(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray | float) -> None:
        rows, cols = np.broadcast_arrays(np.asarray(rows).ravel(), np.asarray(cols).ravel())
        vals = np.broadcast_to(np.asarray(values, dtype=float).ravel(), rows.shape)
        self.entries.append((rows.astype(np.int64), cols.astype(np.int64), vals.astype(float)))


@dataclass(frozen=True)
class Values:
    """Every tunable number of the LP: bounds, costs and the tunable matrix entries
    (at ``AllocationLP.coef_rows``/``coef_cols``)."""

    col_lower: np.ndarray
    col_upper: np.ndarray
    cost: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    coef: np.ndarray


class AllocationLP:
    """The LP's fixed structure for ``inputs``: blocks, fixed matrix entries, the places
    of the tunable entries; ``values`` fills in the numbers a scenario sets."""

    def __init__(self, inputs: ModelInputs) -> None:
        self.structure: Structure = structure_of(inputs)
        self.unit = money_unit_busd(inputs.budget_busd)
        self.n, self.m = inputs.n, len(inputs.instruments)
        self.sat_units = (inputs.saturation_busd / self.unit).ravel()
        b = _Builder()
        self._b = b
        n, m = self.n, self.m
        share = inputs.pop_share
        x, tau, y = b.col("x", n * m), b.col("tau", n * m), b.col("y", n)
        tunable: list[tuple[np.ndarray, np.ndarray]] = []

        funding, response = b.row("funding", n * m), b.row("response", n * m)
        b.add(funding, x, 1.0)
        b.add(response, tau, 1.0)
        cap_rows = b.row("capacity", n)
        b.add(cap_rows, y, 100.0 * share)
        tunable.append((np.repeat(cap_rows, m), tau))
        if self.structure.inner:
            tunable.append(self._inner(inputs, x, share))
        self._money_rows(inputs, x)
        if inputs.hubs is not None:
            tunable += self._hubs(inputs, x)
        spread = self._gini(share, y, tunable) if self.structure.spread_measure == "gini" else (
            self._hoover(share, y))
        self.spread_col = int(spread)
        if self.structure.top_k is not None:
            tunable += self._top_k(share, x, y, self.structure.top_k)

        self.coef_rows = np.concatenate([r for r, _ in tunable]) if tunable else np.zeros(0, int)
        self.coef_cols = np.concatenate([c for _, c in tunable]) if tunable else np.zeros(0, int)
        self.cols, self.rows = dict(b.cols), dict(b.rows)
        self.n_cols, self.n_rows = b.n_cols, b.n_rows
        rows, cols, vals = (np.concatenate(p) for p in zip(*b.entries, strict=True))
        self._fixed = (rows, cols, vals)
        self.integer = np.zeros(self.n_cols, dtype=bool)
        if "hub" in self.cols:
            self.integer[self.cols["hub"]] = True
        del self._b

    # -- blocks --

    def _inner(self, inputs: ModelInputs, x: np.ndarray, share: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """Chord segments, tau_in and y_in; returns the tunable capacity_in x tau_in places."""
        b, n, m = self._b, self.n, self.m
        length, slope = chord_segments_busd(inputs)
        count = slope.shape[-1]
        self.chord_len = (length / self.unit).ravel()
        self.chord_slope = slope.reshape(n * m, count)
        seg = b.col("seg_in", n * m * count).reshape(n * m, count)
        tau_in, y_in = b.col("tau_in", n * m), b.col("y_in", n)
        funding = b.row("funding_in", n * m)
        b.add(funding, x, 1.0)
        b.add(np.repeat(funding, count), seg.ravel(), -1.0)
        response = b.row("response_in", n * m)
        b.add(response, tau_in, 1.0)
        b.add(np.repeat(response, count), seg.ravel(), -slope.reshape(-1))
        capacity = b.row("capacity_in", n)
        b.add(capacity, y_in, 100.0 * share)
        return np.repeat(capacity, m), tau_in

    def _money_rows(self, inputs: ModelInputs, x: np.ndarray) -> None:
        b, n, m = self._b, self.n, self.m
        b.add(b.row("budget_use", 1), x, 1.0)
        b.add(np.repeat(b.row("region_bounds", n), m), x, 1.0)
        b.add(np.tile(b.row("instrument_share", m), n), x, 1.0)
        groups = b.row("group_min", len(inputs.groups))
        for g, rule in zip(groups, inputs.groups, strict=True):
            members = np.asarray(rule.members, dtype=int)
            b.add(np.full(members.size * m, g), x.reshape(n, m)[members].ravel(), 1.0)

    def _hubs(self, inputs: ModelInputs, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        b, n, m = self._b, self.n, self.m
        rules = inputs.hubs
        assert rules is not None
        hub = b.col("hub", n)
        award_max, award_min = b.row("hub_award_max", n), b.row("hub_award_min", n)
        b.add(np.repeat(award_max, m), x, 1.0)
        b.add(np.repeat(award_min, m), x, 1.0)
        b.add(b.row("hub_count", 1), hub, 1.0)
        for g, rule in zip(b.row("hub_group", len(rules.group_min)), rules.group_min, strict=True):
            b.add(g, hub[np.asarray(rule[2], dtype=int)], 1.0)
        for g, one in zip(b.row("hub_max_one", len(rules.group_max_one)), rules.group_max_one,
                          strict=True):
            b.add(g, hub[np.asarray(one[2], dtype=int)], 1.0)
        tunable = [(award_max, hub), (award_min, hub)]
        if rules.designated is not None:
            tunable.append((np.repeat(b.row("hub_designated", 1), n), hub))
        return tunable

    def _gini(self, share: np.ndarray, y: np.ndarray,
              tunable: list[tuple[np.ndarray, np.ndarray]]) -> int:
        """Pairs d_rs >= |y_r - y_s|, gini_sum = 100 sum w_r w_s d_rs, and the Gini cap row."""
        b, n = self._b, self.n
        r, s = np.triu_indices(n, k=1)
        d = b.col("d", r.size)
        total = b.col("gini_sum", 1)
        up, down = b.row("gap_up", r.size), b.row("gap_down", r.size)
        for rows, sign in ((up, 1.0), (down, -1.0)):
            b.add(rows, d, 1.0)
            b.add(rows, y[r], -sign)
            b.add(rows, y[s], sign)
        define = b.row("gini_sum_def", 1)
        b.add(define, total, 1.0)
        b.add(define, d, -100.0 * share[r] * share[s])
        cap = b.row("gini_cap", 1)
        b.add(cap, total, 1.0)
        tunable.append((np.repeat(cap, n), y))
        return int(total[0])

    def _hoover(self, share: np.ndarray, y: np.ndarray) -> int:
        """Rows mu = sum w y, dev_r >= y_r - mu (dev >= 0), hoover_sum = 100 sum w dev:
        the part above the mean, which is half of sum w |y - mu| (as ``model._hoover_sum``)."""
        b, n = self._b, self.n
        mu, dev, total = b.col("mu", 1), b.col("dev", n), b.col("hoover_sum", 1)
        define = b.row("mu_def", 1)
        b.add(define, mu, 1.0)
        b.add(define, y, -share)
        up = b.row("dev_up", n)
        b.add(up, dev, 1.0)
        b.add(up, y, -1.0)
        b.add(up, np.repeat(mu, n), 1.0)
        define = b.row("hoover_sum_def", 1)
        b.add(define, total, 1.0)
        b.add(define, dev, -100.0 * share)
        return int(total[0])

    def _top_k(self, share: np.ndarray, x: np.ndarray, y: np.ndarray, k: int
               ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Rows excess_r >= capacity_r - threshold and k threshold + sum excess <= share total."""
        b, n, m = self._b, self.n, self.m
        threshold, excess = b.col("topk_threshold", 1), b.col("topk_excess", n)
        define = b.row("topk_excess_def", n)
        b.add(define, excess, 1.0)
        b.add(define, np.repeat(threshold, n), 1.0)
        cap = b.row("topk_cap", 1)
        b.add(cap, threshold, float(k))
        b.add(cap, excess, 1.0)
        tunable = [(define, y), (np.repeat(define, m), x), (np.repeat(cap, n), y)]
        if self.structure.inner:
            y_in = b.cols["y_in"]
            tunable.append((np.repeat(cap, n), np.arange(y_in.start, y_in.stop)))
        return tunable

    # -- numbers --

    def matrix(self, values: Values) -> sp.csc_matrix:
        """The constraint matrix (rows x columns) with the tunable entries of ``values``;
        entries of zero are left out."""
        rows, cols, vals = self._fixed
        rows = np.concatenate([rows, self.coef_rows])
        cols = np.concatenate([cols, self.coef_cols])
        vals = np.concatenate([vals, values.coef])
        keep = vals != 0.0
        return sp.csc_matrix((vals[keep], (rows[keep], cols[keep])),
                             shape=(self.n_rows, self.n_cols))

    def values(self, inputs: ModelInputs, top_k_at: np.ndarray | None = None,
               top_k_margin: float = 0.0, gini_cap: float | None = None) -> Values:
        """Every tunable number for ``inputs``; ``top_k_at``/``top_k_margin`` set the top-k
        linearization (``model.set_top_k_linearization``), ``gini_cap`` bounds the Gini."""
        if structure_of(inputs) != self.structure:
            raise ValueError("inputs change the model's structure; build a new model")
        sc, unit = inputs.scenario, self.unit
        share = inputs.pop_share
        budget = inputs.budget_busd / unit
        col_lower, col_upper = np.zeros(self.n_cols), np.full(self.n_cols, INF)
        cost = np.zeros(self.n_cols)
        row_lower, row_upper = np.full(self.n_rows, -INF), np.full(self.n_rows, INF)
        cols, rows = self.cols, self.rows
        # single barred instruments by their bound; excluded regions by their row's cap
        barred = ~inputs.allowed & np.asarray(inputs.allowed.any(axis=1))[:, None]
        col_upper[cols["x"]] = np.where(barred, 0.0, INF).ravel()
        cost[cols["y"]] = 100.0 * share
        cost[self.spread_col] = -sc.spread_weight
        coef = -(inputs.effectiveness * inputs.multiplier).ravel() * unit
        parts = [coef]
        row_lower[rows["capacity"]] = row_upper[rows["capacity"]] = inputs.c0
        for name in ("funding", "response"):
            row_lower[rows[name]] = row_upper[rows[name]] = 0.0
        if self.structure.inner:
            parts.append(coef)
            col_upper[cols["seg_in"]] = self.chord_len
            for name in ("funding_in", "response_in"):
                row_lower[rows[name]] = row_upper[rows[name]] = 0.0
            row_lower[rows["capacity_in"]] = row_upper[rows["capacity_in"]] = inputs.c0
            col_lower[cols["y_in"]] = sc.per_capita_floor or 0.0
        cap = np.where(inputs.allowed.any(axis=1), np.minimum(inputs.cap_busd, BIG_CAP_BUSD), 0.0)
        if inputs.hubs is not None and inputs.hubs.award_max_busd / unit < MIN_COEF_UNITS:
            cap = np.minimum(cap, inputs.hubs.award_max_busd)  # see model.set_params
        row_lower[rows["budget_use"]] = budget if not sc.allow_unspent else 0.0
        row_upper[rows["budget_use"]] = budget
        row_lower[rows["region_bounds"]] = inputs.floor_busd / unit
        row_upper[rows["region_bounds"]] = cap / unit
        row_lower[rows["instrument_share"]] = inputs.instrument_min_share * budget
        row_upper[rows["instrument_share"]] = inputs.instrument_max_share * budget
        row_lower[rows["group_min"]] = [rule.min_share * budget for rule in inputs.groups]
        if inputs.hubs is not None:
            parts += self._hub_values(inputs, col_upper, row_lower, row_upper)
        if self.structure.spread_measure == "gini":
            row_lower[rows["gap_up"]] = row_lower[rows["gap_down"]] = 0.0
            row_lower[rows["gini_sum_def"]] = row_upper[rows["gini_sum_def"]] = 0.0
            parts.append(-(1.0 if gini_cap is None else float(gini_cap)) * 100.0 * share)
            if gini_cap is not None:
                row_upper[rows["gini_cap"]] = 0.0
            col_lower[cols["d"]] = 0.0
        else:
            col_lower[cols["mu"]] = -INF
            row_lower[rows["mu_def"]] = row_upper[rows["mu_def"]] = 0.0
            row_lower[rows["dev_up"]] = 0.0
            row_lower[rows["hoover_sum_def"]] = row_upper[rows["hoover_sum_def"]] = 0.0
        if self.structure.top_k is not None:
            parts += self._top_k_values(inputs, top_k_at, top_k_margin, col_lower, row_lower,
                                        row_upper)
        coef_all = np.concatenate(parts) if parts else np.zeros(0)
        assert coef_all.size == self.coef_rows.size  # one number per tunable entry
        return Values(col_lower, col_upper, cost, row_lower, row_upper, coef_all)

    def _hub_values(self, inputs: ModelInputs, col_upper: np.ndarray, row_lower: np.ndarray,
                    row_upper: np.ndarray) -> list[np.ndarray]:
        rules, unit, rows = inputs.hubs, self.unit, self.rows
        assert rules is not None
        col_upper[self.cols["hub"]] = 1.0
        # hub coefficients stay >= MIN_COEF_UNITS, as in model._set_hub_params
        award_min = max(rules.award_min_busd / unit, MIN_COEF_UNITS)
        top = np.minimum(np.where(inputs.allowed.any(axis=1), inputs.cap_busd, 0.0),
                         rules.award_max_busd) / unit
        top = np.maximum(top, MIN_COEF_UNITS)
        row_upper[rows["hub_award_max"]] = 0.0
        row_lower[rows["hub_award_min"]] = 0.0
        row_lower[rows["hub_count"]] = rules.count_min
        row_upper[rows["hub_count"]] = rules.count_max
        row_lower[rows["hub_group"]] = [rule[3] for rule in rules.group_min]
        row_upper[rows["hub_max_one"]] = 1.0
        parts = [-top, np.full(self.n, -award_min)]
        if rules.designated is not None:
            members, share = rules.designated
            row_lower[rows["hub_designated"]] = 0.0
            inside = np.zeros(self.n)
            inside[np.asarray(members, dtype=int)] = 1.0
            parts.append(inside - share)
        return parts

    def fixed_hub_award_bounds(self, inputs: ModelInputs, hubs: np.ndarray
                               ) -> tuple[np.ndarray, np.ndarray]:
        """Lower bounds of the ``hub_award_min`` rows and upper bounds of the
        ``hub_award_max`` rows that hold each of ``hubs`` to its exact award range once
        the hub columns are fixed.

        The rows' hub coefficients are kept at least ``MIN_COEF_UNITS`` (HiGHS drops
        smaller ones), which would ask a hub for at least that much (an award minimum
        of $0 read as $1,000 in $B units) and allow it as much under a smaller award
        maximum (of $0, say); with a hub's column at 1, its rows' bounds take the
        difference back. Rows of regions that are not hubs keep 0.
        """
        rules = inputs.hubs
        assert rules is not None
        unit = self.unit
        award_min = rules.award_min_busd / unit
        top = np.minimum(np.where(inputs.allowed.any(axis=1), inputs.cap_busd, 0.0),
                         rules.award_max_busd) / unit
        lower = np.where(hubs, min(award_min - MIN_COEF_UNITS, 0.0), 0.0)
        upper = np.where(hubs & (top < MIN_COEF_UNITS), top - MIN_COEF_UNITS, 0.0)
        return lower, upper

    def _top_k_values(self, inputs: ModelInputs, at_busd: np.ndarray | None, margin: float,
                      col_lower: np.ndarray, row_lower: np.ndarray, row_upper: np.ndarray
                      ) -> list[np.ndarray]:
        """Mode 0 (``at_busd`` None): the outer capacities, the LP's share lowered by
        ``margin``; mode 1: tangents of the exact response at ``at_busd`` for the top k,
        the inner capacity for the total."""
        cap = inputs.scenario.top_k_share_cap
        share_cap = 1.0 if cap is None else cap.max_share
        share = inputs.pop_share
        col_lower[self.cols["topk_threshold"]] = -INF
        row_upper[self.rows["topk_cap"]] = 0.0
        if at_busd is None:
            share_cap = max(share_cap - margin, 0.0)
            row_lower[self.rows["topk_excess_def"]] = 0.0
            parts = [-100.0 * share, np.zeros(self.n * self.m), -share_cap * 100.0 * share]
            if self.structure.inner:
                parts.append(np.zeros(self.n))
            return parts
        s = inputs.saturation_busd
        coef = inputs.effectiveness * inputs.multiplier
        slope = coef / (1.0 + at_busd / s)  # points per $B
        const = inputs.c0 + (coef * s * np.log1p(at_busd / s) - slope * at_busd).sum(axis=1)
        row_lower[self.rows["topk_excess_def"]] = const
        return [np.zeros(self.n), -(slope * self.unit).ravel(), np.zeros(self.n),
                -share_cap * 100.0 * share]

    def segments(self, term: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Each tangent's segment length (units) in its term's envelope: ``term``/``u``
        list every tangent of the terms concerned (any order); inf for a term's last."""
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
        length[order] = np.maximum(end - begin, 0.0) * self.sat_units[t]
        return np.where(np.isnan(length), 0.0, length)

    def envelope_busd(self, term: np.ndarray, u: np.ndarray, x_busd: np.ndarray) -> np.ndarray:
        """The tangents' envelope at ``x_busd`` (n, m): min over each term's tangents, in
        $B (inf where a term has none)."""
        s = self.sat_units[term] * self.unit
        values = s * (np.log1p(u) + (x_busd.ravel()[term] / s - u) / (1.0 + u))
        env = np.full(self.n * self.m, np.inf)
        np.minimum.at(env, term, values)
        return env.reshape(self.n, self.m)


class HighsLP:
    """An ``AllocationLP`` loaded into one ``highspy.Highs``, with its tangents.

    ``write`` sends only what changed since the last write; ``add_tangents`` appends
    segment columns in one call and rewrites the lengths of their neighbours, keeping
    the basis (new columns enter at zero), so the simplex method goes on from the last
    optimum.
    """

    def __init__(self, lp: AllocationLP, values: Values) -> None:
        self.lp = lp
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
        model.sense_ = highspy.ObjSense.kMaximize
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
        length = lp.segments(self.tangent_term[touched], self.tangent_u[touched])
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
        lp, unit, share = self.lp, self.lp.unit, inputs.pop_share
        values = np.zeros(self.highs.getNumCol())
        x = x_busd.ravel() / unit
        order = np.lexsort((self.tangent_u, self.tangent_term))
        term = self.tangent_term[order]
        length = lp.segments(self.tangent_term, self.tangent_u)[order]
        finite = np.where(np.isfinite(length), length, 0.0)
        before = np.cumsum(finite) - finite  # filled by earlier segments, all terms
        first = np.searchsorted(term, term)  # each term's first segment
        start = before - before[first]
        fill = np.clip(x[term] - start, 0.0, length)
        values[self.tangent_col[order]] = fill
        tau = np.bincount(term, fill / (1.0 + self.tangent_u[order]), minlength=x.size)
        coef = (inputs.effectiveness * inputs.multiplier).ravel() * unit
        y = (inputs.c0 + (coef * tau).reshape(lp.n, lp.m).sum(axis=1)) / (100.0 * share)
        cols = lp.cols
        values[cols["x"]], values[cols["tau"]], values[cols["y"]] = x, tau, y
        if lp.structure.inner:
            chord = lp.chord_len.reshape(x.size, -1)
            start_in = np.cumsum(chord, axis=1) - chord
            fill_in = np.clip(x[:, None] - start_in, 0.0, chord)
            tau_in = (fill_in * lp.chord_slope).sum(axis=1)
            values[cols["seg_in"]], values[cols["tau_in"]] = fill_in.ravel(), tau_in
            values[cols["y_in"]] = (inputs.c0 + (coef * tau_in).reshape(lp.n, lp.m).sum(axis=1)
                                    ) / (100.0 * share)
        if "mu" in cols:
            mu = float(share @ y)
            dev = np.maximum(y - mu, 0.0)
            values[cols["mu"]], values[cols["dev"]] = mu, dev
            values[cols["hoover_sum"]] = 100.0 * share @ dev
        else:
            r, t = np.triu_indices(lp.n, k=1)
            gap = np.abs(y[r] - y[t])
            values[cols["d"]] = gap
            values[cols["gini_sum"]] = 100.0 * (share[r] * share[t] * gap).sum()
        if "topk_threshold" in cols:
            k = lp.structure.top_k or 0
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
