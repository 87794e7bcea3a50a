"""The LP the Planner solves (``engine.lp``, arrays) is the LP ``model.build_model``
writes in Pyomo for the analyses, row for row, given the same tangents."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

import optimizer as pf
from optimizer.engine.inputs import resolve
from optimizer.engine.lp import AllocationLP, HighsLP
from optimizer.engine.model import build_model, tangent_layout
from tests.factories import FOUR, tiny_scenario

Row = tuple[tuple[tuple[str, float], ...], float]


def _names(lp: AllocationLP, loaded: HighsLP) -> list[str]:
    """Pyomo's name of every HiGHS column of ``loaded``."""
    n, m = lp.n, lp.m
    names = [""] * loaded.highs.getNumCol()
    pair = [f"{r},{i}" for r in range(n) for i in range(m)]
    single = {"gini_sum", "mu", "hoover_sum", "topk_threshold"}
    for block, where in lp.cols.items():
        cols = range(where.start, where.stop)
        if block in single:
            labels = [block]
        elif block in ("x", "tau", "tau_in"):
            labels = [f"{block}[{p}]" for p in pair]
        elif block == "seg_in":
            count = (where.stop - where.start) // (n * m)
            labels = [f"seg_in[{p},{k}]" for p in pair for k in range(count)]
        elif block == "d":
            r, s = np.triu_indices(n, k=1)
            labels = [f"d[{a},{b}]" for a, b in zip(r, s, strict=True)]
        else:
            labels = [f"{block}[{r}]" for r in range(n)]
        for col, label in zip(cols, labels, strict=True):
            names[col] = label
    rank = np.lexsort((loaded.tangent_u, loaded.tangent_term))
    k = np.zeros(loaded.tangent_term.size, dtype=int)
    order_in_term = np.arange(rank.size) - np.searchsorted(loaded.tangent_term[rank],
                                                           loaded.tangent_term[rank])
    k[rank] = order_in_term
    for col, term, j in zip(loaded.tangent_col, loaded.tangent_term, k, strict=True):
        names[col] = f"seg[{term // m},{term % m},{j}]"
    return names


def _rows(matrix, lower: np.ndarray, upper: np.ndarray, names: list[str]) -> list[Row]:
    """Every row as ``<=`` rows (a lower bound negated), keyed by column name, sorted."""
    matrix = matrix.tocsr()
    out: list[Row] = []
    for j in range(matrix.shape[0]):
        lo, hi = matrix.indptr[j], matrix.indptr[j + 1]
        terms = {names[c]: v for c, v in zip(matrix.indices[lo:hi], matrix.data[lo:hi],
                                             strict=True) if v != 0.0}
        for sign, bound in ((1.0, upper[j]), (-1.0, -lower[j])):
            if np.isfinite(bound) and abs(bound) < 1e20:
                out.append((tuple(sorted((k, sign * v) for k, v in terms.items())),
                            sign * bound if sign > 0 else bound))
    return sorted(out)


def _array_lp(inputs):  # type: ignore[no-untyped-def]
    lp = AllocationLP(inputs)
    loaded = HighsLP(lp, lp.values(inputs))
    u = tangent_layout(inputs).reshape(lp.n * lp.m, -1)
    loaded.add_tangents(np.repeat(np.arange(lp.n * lp.m), u.shape[1]), u.ravel())
    h = loaded.highs.getLp()
    import scipy.sparse as sp

    a = h.a_matrix_
    matrix = sp.csc_matrix((np.asarray(a.value_), np.asarray(a.index_), np.asarray(a.start_)),
                           shape=(h.num_row_, h.num_col_))
    names = _names(lp, loaded)
    bounds = {name: (lo, hi) for name, lo, hi in zip(names, h.col_lower_, h.col_upper_,
                                                     strict=True)}
    cost = {name: c for name, c in zip(names, h.col_cost_, strict=True) if c != 0.0}
    rows = _rows(matrix, np.asarray(h.row_lower_), np.asarray(h.row_upper_), names)
    return rows, bounds, cost


def _pyomo_lp(inputs):  # type: ignore[no-untyped-def]
    mdl = build_model(inputs)
    form = LinearStandardFormCompiler().write(mdl, set_sense=pyo.maximize)
    names = [v.name for v in form.columns]
    rows = _rows(form.A, np.full(len(form.rhs), -np.inf), np.asarray(form.rhs), names)
    bounds = {v.name: (-np.inf if v.lb is None else v.lb, np.inf if v.ub is None else v.ub)
              for v in form.columns}
    cost = {name: c for name, c in zip(names, form.c.toarray().ravel(), strict=True)
            if c != 0.0}
    return rows, bounds, cost


def _same_rows(ours: list[Row], theirs: list[Row]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert [k for k, _ in a[0]] == [k for k, _ in b[0]]
        assert [v for _, v in a[0]] == pytest.approx([v for _, v in b[0]], rel=1e-9, abs=1e-12)
        assert a[1] == pytest.approx(b[1], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("regions", "changes"), [
    ("states", {}),
    ("states", {"spread_measure": "hoover", "per_capita_floor": 0.5,
                "top_k_share_cap": {"k": 10, "max_share": 0.7},
                "instrument_shares": {"venture": {"max": 0.2}},
                "exclusions": {"regions": ["CA"], "top_k_incumbents": 0,
                               "instruments": {"NY": ["venture"]}}}),
    ("four", {"hubs": {"count": {"min": 1, "max": 2}, "designated": {
        "column": "small_rural", "min_share": 0.5}}, "spread_weight": 1.0}),
])
def test_the_array_lp_is_the_pyomo_lp(states, regions: str, changes: dict) -> None:
    table = states if regions == "states" else FOUR
    scenario = (pf.load_scenario() if regions == "states" else tiny_scenario(
        approximation={"tangents": 12})).updated(**changes)
    inputs = resolve(table, scenario)
    ours, theirs = _array_lp(inputs), _pyomo_lp(inputs)
    # the Pyomo model keeps the rows in the order its rules build them; compare as sets
    _same_rows(ours[0], theirs[0])
    assert set(ours[1]) >= set(theirs[1])  # every Pyomo column is one of ours
    for name, (lo, hi) in theirs[1].items():
        assert ours[1][name] == pytest.approx((lo, hi), rel=1e-9, abs=1e-12), name
    assert ours[2] == pytest.approx(theirs[2], rel=1e-12)
