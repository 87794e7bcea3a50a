"""Compile the declared Pyomo model (``optimizer.engine.model``) into the arrays HiGHS loads.

The model is declared once, in Pyomo; every tunable number in it is a mutable ``Param``
that appears as a column bound, a row bound, an objective coefficient or a matrix
coefficient, each time as a number times one Param. Compiling walks the declaration once
per structure and records two things: the fixed numbers (most of the matrix), and, for
each place a Param appears, which Param and with what factor (the *template*). A re-solve
then needs no Pyomo at all: new Param values, a vector ``p``, fill the template with one
numpy gather (``Compiled.values``), and only the numbers that changed are sent to HiGHS.

Pyomo's ``LinearStandardFormCompiler`` evaluates Params to numbers, which would mean a
full compile for every re-solve, and its parameterized variant builds object matrices
with Python loops; this compiler reads each row's ``LinearExpression`` directly (the
declaration writes its rows that way), and falls back to Pyomo's ``generate_standard_repn``
for any other linear expression.

Columns and rows are numbered component by component in declaration order, each
component's entries in index order, so every Var and Constraint component is a
contiguous block (``Compiled.cols``/``rows``, by component name).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.core.base.param import ParamData
from pyomo.core.expr.numeric_expr import (
    LinearExpression,
    NegationExpression,
    NPV_NegationExpression,
    NPV_ProductExpression,
    ProductExpression,
)
from pyomo.repn.standard_repn import generate_standard_repn

INF = float("inf")
_NUMBER = (int, float, np.floating, np.integer)


@dataclass(frozen=True)
class Values:
    """Every number of the LP: bounds, costs and the Param-valued matrix entries
    (at ``Compiled.coef_rows``/``coef_cols``)."""

    col_lower: np.ndarray
    col_upper: np.ndarray
    cost: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    coef: np.ndarray


@dataclass(frozen=True)
class _Template:
    """Where Params go in one array: ``base`` with ``base[at] = factor * p[slot]``."""

    base: np.ndarray
    at: np.ndarray
    slot: np.ndarray
    factor: np.ndarray

    def fill(self, p: np.ndarray) -> np.ndarray:
        out = self.base.copy()
        out[self.at] = self.factor * p[self.slot]
        return out


class _Collector:
    """(position, slot, factor) entries of one template, and the fixed numbers."""

    def __init__(self, size: int, default: float) -> None:
        self.base = np.full(size, default)
        self.at: list[int] = []
        self.slot: list[int] = []
        self.factor: list[float] = []

    def set(self, position: int, value: float | tuple[int, float] | None, default: float) -> None:
        if value is None:
            self.base[position] = default
        elif isinstance(value, tuple):
            self.at.append(position)
            self.slot.append(value[0])
            self.factor.append(value[1])
        else:
            self.base[position] = value

    def template(self) -> _Template:
        return _Template(self.base, np.asarray(self.at, dtype=np.int64),
                         np.asarray(self.slot, dtype=np.int64), np.asarray(self.factor))


class Compiled:
    """A declared model as arrays: its column and row blocks, fixed matrix entries, and
    the template that turns Param values into bounds, costs and coefficients.

    ``params`` maps each mutable Param component's name to its slice of ``p``;
    ``p0`` holds the values the declaration gave them.
    """

    def __init__(self, model: pyo.ConcreteModel) -> None:
        self.params: dict[str, slice] = {}
        slots: dict[int, int] = {}
        p0: list[float] = []
        for param in model.component_objects(pyo.Param, active=True, descend_into=True):
            if not param.mutable:
                continue
            start = len(p0)
            for data in param.values():
                slots[id(data)] = len(p0)
                p0.append(float(data.value))
            self.params[param.name] = slice(start, len(p0))
        self.p0 = np.asarray(p0)
        self._slots = slots

        self.cols: dict[str, slice] = {}
        columns: list[Any] = []  # not kept: a compiled model holds no Pyomo objects
        index: dict[int, int] = {}
        for var in model.component_objects(pyo.Var, active=True, descend_into=True):
            start = len(columns)
            for data in var.values():
                index[id(data)] = len(columns)
                columns.append(data)
            self.cols[var.name] = slice(start, len(columns))
        n_cols = len(columns)
        lower, upper = _Collector(n_cols, -INF), _Collector(n_cols, INF)
        integer = np.zeros(n_cols, dtype=bool)
        for j, data in enumerate(columns):
            # a variable's own bounds (a number, a Param or None; Pyomo keeps them in _lb
            # and _ub) within its domain's: reading .lower would build an expression each
            low, high = data.domain.bounds()
            lower.set(j, _within(self._number(data._lb), low, max), -INF)
            upper.set(j, _within(self._number(data._ub), high, min), INF)
            integer[j] = not data.is_continuous()
        self.integer = integer

        self.rows: dict[str, slice] = {}
        self.row_names: list[tuple[str, Any]] = []
        e_row: list[int] = []
        e_col: list[int] = []
        e_val: list[Any] = []
        row_lo: list[Any] = []
        row_hi: list[Any] = []
        for con in model.component_objects(pyo.Constraint, active=True, descend_into=True):
            start, name = len(self.row_names), con.name
            for key, data in con.items():
                if not data.active:
                    continue
                row = len(self.row_names)
                self.row_names.append((name, key))
                lo, body, hi = data.to_bounded_expression()
                constant = 0.0
                for coef, var in self._linear(body):
                    if var is None:
                        constant += coef
                        continue
                    e_row.append(row)
                    e_col.append(index[id(var)])
                    e_val.append(coef)
                row_lo.append(self._shifted(lo, constant))
                row_hi.append(self._shifted(hi, constant))
            self.rows[name] = slice(start, len(self.row_names))
        n_rows = len(self.row_names)
        rlo, rhi = _Collector(n_rows, -INF), _Collector(n_rows, INF)
        for r in range(n_rows):
            rlo.set(r, row_lo[r], -INF)
            rhi.set(r, row_hi[r], INF)

        cost = _Collector(n_cols, 0.0)
        objectives = list(model.component_data_objects(pyo.Objective, active=True))
        if len(objectives) != 1:
            raise ValueError(f"the model has {len(objectives)} active objectives, not one")
        self.maximize = objectives[0].sense == pyo.maximize
        for coef, var in self._linear(objectives[0].expr):
            if var is not None:
                cost.set(index[id(var)], coef, 0.0)

        tuned = np.fromiter((isinstance(v, tuple) for v in e_val), dtype=bool, count=len(e_val))
        rows_all, cols_all = np.asarray(e_row, dtype=np.int64), np.asarray(e_col, dtype=np.int64)
        fixed_vals = np.array([0.0 if t else v for v, t in zip(e_val, tuned, strict=True)])
        self._fixed = (rows_all[~tuned], cols_all[~tuned], fixed_vals[~tuned])
        self.coef_rows, self.coef_cols = rows_all[tuned], cols_all[tuned]
        params = [v for v in e_val if isinstance(v, tuple)]
        self._coef = _Template(np.zeros(len(params)), np.arange(len(params), dtype=np.int64),
                               np.array([v[0] for v in params], dtype=np.int64),
                               np.array([v[1] for v in params], dtype=float))
        self._templates = (lower.template(), upper.template(), cost.template(), rlo.template(),
                           rhi.template())
        self.n_cols, self.n_rows = n_cols, n_rows
        del self._slots

    # -- reading the declaration --

    def _number(self, expr: Any) -> float | tuple[int, float] | None:
        """A bound or coefficient: a number, (slot, factor) for factor * Param, or None."""
        if expr is None:
            return None
        if isinstance(expr, _NUMBER):
            return float(expr)
        if isinstance(expr, ParamData):
            slot = self._slots.get(id(expr))
            return (slot, 1.0) if slot is not None else float(expr.value)
        if expr.is_constant():
            return float(pyo.value(expr))
        if isinstance(expr, (NPV_ProductExpression, ProductExpression)):
            a, b = expr.args
            if isinstance(a, _NUMBER) and isinstance(b, ParamData):
                return (self._slots[id(b)], float(a))
            if isinstance(b, _NUMBER) and isinstance(a, ParamData):
                return (self._slots[id(a)], float(b))
        if isinstance(expr, (NPV_NegationExpression, NegationExpression)):
            inner = self._number(expr.args[0])
            if isinstance(inner, tuple):
                return (inner[0], -inner[1])
            if inner is not None:
                return -inner
        raise TypeError(f"{expr}: declare each tunable number as a number times one "
                        "mutable Param")

    def _shifted(self, bound: Any, constant: float) -> float | tuple[int, float] | None:
        value = self._number(bound)
        if constant == 0.0 or value is None:
            return value
        if isinstance(value, tuple):
            raise TypeError("a row with a constant term and a Param bound; move the "
                            "constant into the Param")
        return value - constant

    def _linear(self, expr: Any) -> list[tuple[Any, Any]]:
        """(coefficient, var) pairs of a linear expression; a constant as (value, None).
        A coefficient is a float or (slot, factor) for factor * Param."""
        if isinstance(expr, LinearExpression):
            coefs, vars_, constant = expr.linear_coefs, expr.linear_vars, expr.constant
        else:
            repn = generate_standard_repn(expr, compute_values=False, quadratic=False)
            if not repn.is_linear():
                raise TypeError(f"{expr}: the model must be linear")
            coefs, vars_, constant = repn.linear_coefs, repn.linear_vars, repn.constant
        pairs = [(float(c) if type(c) is float or type(c) is int else self._number(c), v)
                 for c, v in zip(coefs, vars_, strict=True)]
        if type(constant) is not float and type(constant) is not int:
            constant = self._number(constant)
        if constant not in (None, 0.0, 0):
            if isinstance(constant, tuple):
                raise TypeError(f"{expr}: a Param constant in a row body; make it a bound")
            pairs.append((float(constant), None))
        return pairs

    # -- numbers --

    def slots(self, name: str) -> slice:
        """The slice of ``p`` that holds Param ``name``."""
        return self.params[name]

    def p_with(self, p: np.ndarray, values: Mapping[str, Any]) -> np.ndarray:
        """``p`` with the named Params set (arrays in the Param's index order)."""
        out = p.copy()
        for name, value in values.items():
            where = self.params[name]
            flat = np.asarray(value, dtype=float).ravel()
            if flat.size != where.stop - where.start:
                raise ValueError(f"Param {name}: {flat.size} values for "
                                 f"{where.stop - where.start} entries")
            out[where] = flat
        return out

    def values(self, p: np.ndarray) -> Values:
        """Every number of the LP for Param values ``p``."""
        lower, upper, cost, rlo, rhi = (t.fill(p) for t in self._templates)
        return Values(lower, upper, cost, rlo, rhi, self._coef.fill(p))

    def matrix(self, values: Values) -> sp.csc_matrix:
        """The constraint matrix with the Param-valued entries of ``values``; zeros left out."""
        rows, cols, vals = self._fixed
        rows = np.concatenate([rows, self.coef_rows])
        cols = np.concatenate([cols, self.coef_cols])
        vals = np.concatenate([vals, values.coef])
        keep = vals != 0.0
        return sp.csc_matrix((vals[keep], (rows[keep], cols[keep])),
                             shape=(self.n_rows, self.n_cols))

    def block_of_row(self, row: int) -> tuple[str, Any]:
        """The constraint component and index of a row (to name an IIS's rows)."""
        return self.row_names[row]


def _within(own: float | tuple[int, float] | None, domain: float | None,
            pick: Any) -> float | tuple[int, float] | None:
    """A variable's bound from its own (number, (slot, factor) or None) and its domain's."""
    if domain is None:
        return own
    if own is None:
        return float(domain)
    if isinstance(own, tuple):
        raise TypeError("a Param bound on a variable whose domain is bounded; declare it "
                        "over the reals or integers")
    return float(pick(own, domain))

