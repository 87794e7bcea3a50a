"""Numbers as people read them: money, shares, points and changes, in one place.

Every sentence, table, chart axis and export that shows a number to a person formats
it here, so "$80.0B", "$292M", "$1,234 per person", "4.2%" and "−$7.9B" (a true
minus sign, U+2212) look the same everywhere. Chart axes get matching Plotly settings
(``money_axis``, ``share_axis``) instead of Plotly's SI prefixes ("$6G", "500m").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

MINUS = "\u2212"  # the minus sign; a hyphen is not one
NOT_AVAILABLE = "n/a"
_SCALES = ((1e12, "T"), (1e9, "B"), (1e6, "M"))


def _finite(value: float) -> bool:
    return value is not None and math.isfinite(float(value))


def _sign(value: float, plus: bool) -> str:
    if value < 0:
        return MINUS
    return "+" if plus and value > 0 else ""


def money(amount: float, digits: int | None = None, plus: bool = False) -> str:
    """USD for people: $80.0B, $7.9B, $292M, $51.3M, $1,234, $0.50, −$7.9B.

    ``digits`` fixes the decimals of a scaled amount ($1.56B with ``digits=2``, for a
    fix that must print the exact number it re-solved with); by default billions and
    trillions get one decimal, millions one below $100M and none above. ``plus``
    writes a + on a positive change. Amounts that round to zero carry no sign.
    """
    if not _finite(amount):
        return NOT_AVAILABLE
    a = abs(float(amount))
    text, suffix = _scaled(a, digits)
    if float(text.replace(",", "")) == 0:
        return f"${text}{suffix}"
    return f"{_sign(float(amount), plus)}${text}{suffix}"


def _scaled(a: float, digits: int | None) -> tuple[str, str]:
    """The digits and scale suffix of a non-negative amount ('80.0', 'B').

    An amount that would round up to 1,000 of its scale is written in the next one
    ($999.96M is $1.0B, $999,999.70 is $1.0M).
    """
    scales = [*_SCALES, (1.0, "")]
    for n in range(len(scales) - 1, -1, -1):  # the smallest scale first
        div, suffix = scales[n]
        if n and a >= scales[n - 1][0]:
            continue  # a larger scale fits
        text = _digits(a / div, suffix, a, digits)
        if n and float(text.replace(",", "")) * div >= scales[n - 1][0]:
            div, suffix = scales[n - 1]
            return _digits(a / div, suffix, a, digits), suffix
        return text, suffix
    raise AssertionError("unreachable")  # pragma: no cover


def _digits(scaled: float, suffix: str, a: float, digits: int | None) -> str:
    """``scaled`` to the decimals its scale takes (or ``digits``)."""
    if suffix == "":
        if a == 0:
            return "0"
        return f"{scaled:,.{2 if a < 100 else 0}f}"
    places = digits if digits is not None else (0 if suffix == "M" and a >= 99.95e6 else 1)
    return f"{scaled:,.{places}f}"


def per_person(amount: float, cents: bool = False) -> str:
    """Money per person: '$1,234 per person' ('$12.50 per person' under $100; every
    amount to the cent with ``cents``)."""
    if not _finite(amount):
        return NOT_AVAILABLE
    if cents:
        text = number(abs(amount), 2)
        return f"{_sign(amount, False) if float(text.replace(',', '')) else ''}${text} per person"
    return f"{money(amount)} per person"


def share(value: float, digits: int = 1, plus: bool = False) -> str:
    """A share as a percentage: 0.042 -> '4.2%'; ``plus`` for a change ('+4.2%')."""
    if not _finite(value):
        return NOT_AVAILABLE
    text = f"{abs(value):.{digits}%}"
    return (_sign(value, plus) if float(text.rstrip('%')) else "") + text


def pct_points(delta: float, digits: int = 1) -> str:
    """A change of a share in percentage points: 0.012 -> '+1.2 pp', -0.012 -> '−1.2 pp'."""
    if not _finite(delta):
        return NOT_AVAILABLE
    text = f"{abs(delta) * 100:.{digits}f}"
    return (_sign(delta, True) if float(text) else "") + f"{text} pp"


def number(value: float, digits: int = 2, plus: bool = False) -> str:
    """A plain number with thousands separators and a true minus: '−1,234.50'."""
    if not _finite(value):
        return NOT_AVAILABLE
    text = f"{abs(value):,.{digits}f}"
    return (_sign(value, plus) if float(text.replace(",", "")) else "") + text


def points(value: float, digits: int = 2, plus: bool = False) -> str:
    """Capacity points with their unit: '12.34 points', '+0.56 points', '−0.56 points'."""
    if not _finite(value):
        return NOT_AVAILABLE
    return f"{number(value, digits, plus)} points"


def count(value: float) -> str:
    """A whole count: 1234 -> '1,234'."""
    if not _finite(value):
        return NOT_AVAILABLE
    return f"{int(round(value)):,}"


def value(amount: float, kind: str, digits: int | None = None, plus: bool = False) -> str:
    """``amount`` formatted for its kind: usd, usd_pc (per person), share, points, count,
    index (a 0..1 measure such as a Gini, three decimals), or a plain number."""
    if kind == "usd":
        return money(amount, digits, plus)
    if kind == "usd_pc":
        return per_person(amount)
    if kind == "share":
        return share(amount, 1 if digits is None else digits, plus)
    if kind == "points":
        return points(amount, 2 if digits is None else digits, plus)
    if kind == "count":
        return count(amount)
    if kind == "index":
        return number(amount, 3 if digits is None else digits, plus)
    return number(amount, 2 if digits is None else digits, plus)


_MONEY_UNITS = {"$ millions": 1e6, "$ thousands": 1e3, "USD": 1.0}


def is_money(unit: str) -> bool:
    """Is a data column's unit an amount of money ('$ millions', 'USD')?"""
    return unit in _MONEY_UNITS


def in_unit(value: float, unit: str, plus: bool = False) -> str:
    """An amount in a data column's unit: money units as money ('+$9.8B' for 9,800 of
    '$ millions'), counts with separators ('+41,200'), small amounts with one decimal."""
    if unit in _MONEY_UNITS:
        return money(value * _MONEY_UNITS[unit], plus=plus)
    if not _finite(value):
        return NOT_AVAILABLE
    digits = 0 if abs(value) >= 100 or float(value).is_integer() else 1
    return number(value, digits, plus)


def with_unit(value: float, unit: str, plus: bool = False) -> str:
    """``in_unit`` followed by the unit, except money, whose $ says it: '41,200 jobs', '$9.8B'."""
    text = in_unit(value, unit, plus)
    return text if is_money(unit) else f"{text} {unit}"


# --------------------------------------------------------------------------- chart axes


@dataclass(frozen=True)
class MoneyScale:
    """How to plot USD amounts: divide by ``divisor`` and label ticks '$…{suffix}'."""

    divisor: float
    suffix: str

    @property
    def unit(self) -> str:
        """The unit for an axis title: '$B', '$M' or '$'."""
        return f"${self.suffix}"

    def axis(self) -> dict[str, Any]:
        """Plotly axis settings: '$' before, the suffix after, thousands separators, no SI."""
        return {"tickprefix": "$", "ticksuffix": self.suffix, "tickformat": ",.2~f",
                "separatethousands": True, "exponentformat": "none"}


def money_scale(amounts: Any) -> MoneyScale:
    """The scale for plotting amounts in USD: $B from $1B up, $M from $1M, else $."""
    finite = [abs(float(a)) for a in amounts if _finite(a)]
    largest = max(finite, default=0.0)
    for div, suffix in _SCALES[1:]:
        if largest >= div:
            return MoneyScale(div, suffix)
    return MoneyScale(1.0, "")


AXIS_TICKS = 5  # about how many ticks plotly draws on an axis


def share_axis(digits: int = 0, values: Any = None) -> dict[str, Any]:
    """Plotly axis settings for a share: ticks as percentages ('40%').

    With the plotted ``values``, enough decimals that neighbouring ticks differ: ticks
    0.5 pp apart read 65.5%, 66%, not 66%, 66% (trailing zeros trimmed)."""
    if values is not None:
        finite = [float(v) for v in values if _finite(v)]
        span = (max(finite) - min(finite)) if finite else 0.0
        if span > 0:
            step_pct = span * 100 / AXIS_TICKS  # percentage points between ticks
            digits = max(digits, min(4, math.ceil(-math.log10(step_pct)) + 1))
        return {"tickformat": f".{digits}~%", "exponentformat": "none"}
    return {"tickformat": f".{digits}%", "exponentformat": "none"}


def number_axis() -> dict[str, Any]:
    """Plotly axis settings for plain numbers: separators, no SI prefixes ('1,500', not '1.5k')."""
    return {"tickformat": ",.2~f", "separatethousands": True, "exponentformat": "none"}
