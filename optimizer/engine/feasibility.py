"""Why a scenario cannot be met: arithmetic checks that name the conflicting rules.

``precheck`` runs before the solver and catches the conflicts that simple sums reveal
("region floors add up to $95B but the budget is $80B"), each with what to relax.
``explain_infeasible`` is used when the solver finds a conflict the sums miss.
Both say what conflicts and by how much, never a number to change a rule to: those come
only from ``diagnose``, which re-solves with exactly the numbers it prints.
"""

from __future__ import annotations

import numpy as np

from optimizer.engine.inputs import BUSD, ModelInputs
from optimizer.engine.response import gain_points, per_capita
from optimizer.engine.scenario import usd

TOL = 1e-9


class Sums(str):
    """A conflict between money and the budget that sums show ("all 387 eligible hubs with
    awards up to $51.0M can absorb only $19.7B of the $80.0B budget; ..."): where the
    re-solved fixes are shown, this arithmetic stays beside them (a bound such as what
    one region can reach alone would read as a rival fix, and gives way to them)."""


def _usd(busd: float) -> str:
    return usd(busd * BUSD)


def _count_cap(inputs: ModelInputs) -> int | None:
    """The scenario's own cap on the number of hubs (None: no cap)."""
    hubs = inputs.scenario.hubs
    return None if hubs is None else hubs.count.max


def precheck(inputs: ModelInputs) -> list[str]:
    """Conflicts visible from sums alone; empty when none is found.

    One check per rule, named like the model's constraints.
    """
    must_spend = not inputs.scenario.allow_unspent
    cap = np.where(inputs.allowed.any(axis=1), inputs.cap_busd, 0.0)  # 0 where excluded
    out = (_region_bounds_conflicts(inputs, cap, must_spend)
           + _instrument_share_conflicts(inputs, must_spend)
           + _group_min_conflicts(inputs, cap))
    if inputs.hubs is not None:
        out += _hub_conflicts(inputs, cap, must_spend)
    out += _growth_center_conflicts(inputs, cap)
    return out + _top_k_cap_conflicts(inputs) + _per_capita_floor_conflicts(inputs, cap)


def _growth_center_conflicts(inputs: ModelInputs, cap: np.ndarray) -> list[str]:
    """More growth centers than regions that may be one (outside the leading regions and
    not excluded), or funded regions that the centers cannot all be."""
    rule = inputs.scenario.growth_centers
    if rule is None:
        return []
    leading = np.argsort(-inputs.c0, kind="stable")[:rule.exclude_leading]
    eligible = cap > TOL
    eligible[leading] = False
    out = []
    if int(eligible.sum()) < rule.count:
        out.append(f"growth_centers: {rule.count} centers, but only {int(eligible.sum())} "
                   f"region(s) may be one (the {rule.exclude_leading} leading regions are "
                   "barred, and excluded or capped-at-zero regions cannot be funded); lower "
                   "growth_centers.count or growth_centers.exclude_leading")
    floored = int((inputs.floor_busd > TOL).sum())
    if floored > rule.count:
        out.append(f"growth_centers: {floored} regions have funding floors but only "
                   f"{rule.count} centers are funded; raise growth_centers.count or remove "
                   "the floors")
    return out


def _region_bounds_conflicts(inputs: ModelInputs, cap: np.ndarray, must_spend: bool) -> list[str]:
    """Floors above caps (or exclusions), floors above the budget, caps below it."""
    ids, names = inputs.region_ids, inputs.regions.names
    budget, floor = inputs.budget_busd, inputs.floor_busd
    out: list[str] = []
    for r in np.flatnonzero(floor > cap + TOL):
        why = "it is excluded" if not inputs.allowed[r].any() else f"its cap is {_usd(cap[r])}"
        out.append(f"region {names[r]} ({ids[r]}) has a floor of {_usd(floor[r])} but {why}; "
                   "lower its floor or lift the cap/exclusion")
    if floor.sum() > budget + TOL:
        out.append(Sums(f"region floors add up to {_usd(floor.sum())} but the budget is "
                   f"{_usd(budget)}, {_usd(floor.sum() - budget)} less; lower the floors or "
                   "raise the budget"))
    if must_spend and cap.sum() < budget - TOL:
        out.append(Sums(f"region caps (after exclusions) add up to {_usd(cap.sum())} but the whole "
                   f"budget of {_usd(budget)} must be spent; raise the caps by "
                   f"{_usd(budget - cap.sum())}, lower the budget, or set allow_unspent: true"))
    return out


def _instrument_share_conflicts(inputs: ModelInputs, must_spend: bool) -> list[str]:
    """Share ranges that cannot add up, or minimums the allowed regions cannot take."""
    budget = inputs.budget_busd
    lo, hi = inputs.instrument_min_share, inputs.instrument_max_share
    out: list[str] = []
    if lo.sum() > 1 + TOL:
        out.append(f"instrument minimum shares add up to {lo.sum():.0%} of the budget; "
                   "lower them to at most 100% in total")
    if must_spend and hi.sum() < 1 - TOL:
        out.append(f"instrument maximum shares add up to {hi.sum():.0%} of the budget, so it "
                   "cannot all be spent; raise them or set allow_unspent: true")
    for i, name in enumerate(inputs.instruments):
        reach = np.where(inputs.allowed[:, i], inputs.cap_busd, 0.0).sum()
        if lo[i] * budget > reach + TOL:
            out.append(Sums(f"instrument {name} must get at least {_usd(lo[i] * budget)} but the "
                       f"regions allowed it can take only {_usd(reach)}; lower its minimum "
                       "share or lift caps/exclusions"))
    return out


def _group_min_conflicts(inputs: ModelInputs, cap: np.ndarray) -> list[str]:
    """Group minimums their regions cannot take, or that add up to over 100%."""
    budget = inputs.budget_busd
    out: list[str] = []
    by_column: dict[str, float] = {}
    for rule in inputs.groups:
        by_column[rule.column] = by_column.get(rule.column, 0.0) + rule.min_share
        reach = cap[rule.members].sum()
        if rule.min_share * budget > reach + TOL:
            out.append(Sums(f"group {rule.column} = {rule.value} must get at least "
                       f"{_usd(rule.min_share * budget)} but its regions can take only "
                       f"{_usd(reach)}; lower its minimum share or lift its caps/exclusions"))
    for column, total in by_column.items():
        if total > 1 + TOL:
            out.append(f"group minimum shares over {column} add up to {total:.0%}; lower them "
                       "to at most 100% in total")
    return out


def _top_k_cap_conflicts(inputs: ModelInputs) -> list[str]:
    """A top-k cap below k/n: the k largest of n regions hold at least k/n of the total,
    whatever the plan."""
    top = inputs.scenario.top_k_share_cap
    if top is None or top.max_share >= top.k / inputs.n - TOL:
        return []
    return [f"the top-{top.k} share cap of {top.max_share:.1%} is below {top.k / inputs.n:.1%}, "
            f"the least that the {top.k} largest of {inputs.n} regions can hold; raise "
            "max_share or lower k"]


def _per_capita_floor_conflicts(inputs: ModelInputs, cap: np.ndarray) -> list[str]:
    """Regions that cannot reach the per-capita floor: each instrument alone at the full
    cap bounds what a region can reach."""
    sc = inputs.scenario
    if not sc.per_capita_floor:
        return []
    budget, names = inputs.budget_busd, inputs.regions.names
    best = np.where(inputs.allowed, gain_points(
        np.broadcast_to(np.minimum(cap, budget)[:, None], inputs.allowed.shape), inputs), 0.0)
    reach_y = per_capita(inputs.c0 + best.sum(axis=1), inputs)
    short = np.flatnonzero(reach_y < sc.per_capita_floor - 1e-9)
    if not len(short):
        return []
    worst = short[np.argmin(reach_y[short])]
    return [f"per-capita floor {sc.per_capita_floor:g} is out of reach for "
            f"{len(short)} region(s), e.g. {names[worst]} can reach at most "
            f"{reach_y[worst]:.3f}; lower the floor or lift its cap/exclusion"]


def absorbable_busd(inputs: ModelInputs) -> float:
    """The most ($B) the region caps, exclusions and hub awards let a plan spend."""
    cap = np.where(inputs.allowed.any(axis=1), inputs.cap_busd, 0.0)
    rules = inputs.hubs
    if rules is None:
        return float(cap.sum())
    award_cap = np.minimum(cap, rules.award_max_busd)
    eligible = award_cap >= max(rules.award_min_busd, TOL)
    return float(np.sort(award_cap[eligible])[::-1][: rules.count_max].sum())


def fewest_hubs_absorb_busd(inputs: ModelInputs) -> float | None:
    """The most ($B) the fewest hubs the rules allow (``hubs.count.min``) can take at
    their largest awards; None without hubs, without a minimum count, or where the
    scenario caps the count itself (its ceiling is then ``absorbable_busd``).

    With no cap on the count, the ceiling of ``absorbable_busd`` makes every eligible
    region a hub at the maximum award (all 387 metros at $51M under the statute); a
    budget the minimum count can absorb keeps a program of the statute's shape.
    """
    rules = inputs.hubs
    if rules is None or rules.count_min <= 0 or _count_cap(inputs) is not None:
        return None
    cap = np.where(inputs.allowed.any(axis=1), inputs.cap_busd, 0.0)
    award_cap = np.minimum(cap, rules.award_max_busd)
    eligible = award_cap >= max(rules.award_min_busd, TOL)
    if eligible.sum() < rules.count_min:
        return None
    return float(np.sort(award_cap[eligible])[::-1][: rules.count_min].sum())


def _hub_conflicts(inputs: ModelInputs, cap: np.ndarray, must_spend: bool) -> list[str]:
    """Hub rules that sums alone show cannot hold."""
    rules = inputs.hubs
    assert rules is not None
    names = inputs.regions.names
    budget = inputs.budget_busd
    award_cap = np.minimum(cap, rules.award_max_busd)
    eligible = award_cap >= max(rules.award_min_busd, TOL)
    out = []
    if eligible.sum() < rules.count_min:
        out.append(f"at least {rules.count_min} hubs are required but only {int(eligible.sum())} "
                   f"regions can take an award of {_usd(rules.award_min_busd)} or more; lower "
                   "hubs.count.min or lift caps/exclusions")
    if rules.count_min * rules.award_min_busd > budget + TOL:
        out.append(Sums(f"{rules.count_min} hubs at the minimum award of {_usd(rules.award_min_busd)} "
                   f"need {_usd(rules.count_min * rules.award_min_busd)} but the budget is "
                   f"{_usd(budget)}; raise the budget, lower the minimum award or require "
                   "fewer hubs"))
    most = np.sort(award_cap[eligible])[::-1][: rules.count_max].sum()
    if must_spend and most < budget - TOL:
        count = (f"at most {rules.count_max} hubs" if _count_cap(inputs) is not None
                 else f"all {rules.count_max} eligible hubs")
        more = "the maximum award or hub count" if _count_cap(inputs) is not None else (
            "the maximum award")
        out.append(Sums(f"{count} with awards up to {_usd(rules.award_max_busd)} can absorb only "
                   f"{_usd(most)} of the {_usd(budget)} budget; lower the budget, raise {more}, "
                   "or set allow_unspent: true"))
    per_column: dict[str, int] = {}
    for column, value, members, minimum in rules.group_min:
        per_column[column] = per_column.get(column, 0) + minimum
        available = int(eligible[members].sum())
        if minimum > available:
            out.append(f"{column} = {value} needs at least {minimum} hubs but only {available} of "
                       f"its regions can be hubs; lower hubs.min_per_group.{column}")
    for column, total in per_column.items():
        if total > rules.count_max:
            out.append(f"the per-group hub minimums over {column} add up to {total} but at most "
                       f"{rules.count_max} hubs are allowed; raise hubs.count.max or lower them")
    forced = np.flatnonzero(inputs.floor_busd > TOL)
    if len(forced) > rules.count_max:
        out.append(f"{len(forced)} regions have funding floors (so must be hubs, e.g. "
                   f"{names[forced[0]]}) but at most {rules.count_max} hubs are allowed")
    return out


ADVICE_VERBS = ("lower", "raise", "set", "lift", "require")


def split_advice(sentence: str) -> tuple[str, str]:
    """A conflict sentence as (what conflicts, what to relax): every sentence here ends
    with its advice after a semicolon ("...; lower the budget, ..."). Where the fixes that
    ``diagnose`` re-solved are shown, the arithmetic stays and the advice gives way to them.

    >>> split_advice("floors add up to $95B but the budget is $80B; lower the floors")
    ('floors add up to $95B but the budget is $80B', 'lower the floors')
    """
    fact, sep, advice = sentence.rpartition("; ")
    if sep and advice.split(" ", 1)[0] in ADVICE_VERBS:
        return fact, advice
    return sentence, ""


def explain_infeasible(inputs: ModelInputs) -> list[str]:
    """A conflict the sums did not reveal: name the rules that interact."""
    sc = inputs.scenario
    active = []
    if sc.per_capita_floor:
        active.append(f"per-capita floor {sc.per_capita_floor:g}")
    if sc.top_k_share_cap is not None:
        active.append(f"top-{sc.top_k_share_cap.k} share cap "
                      f"{sc.top_k_share_cap.max_share:.0%}")
    if inputs.groups:
        active.append("group minimum shares")
    if (inputs.floor_busd > 0).any():
        active.append("region floors")
    if np.isfinite(inputs.cap_busd).any() and (inputs.cap_busd < inputs.budget_busd).any():
        active.append("region caps")
    if (inputs.instrument_min_share > 0).any() or (inputs.instrument_max_share < 1).any():
        active.append("instrument shares")
    if not inputs.allowed.all():
        active.append("exclusions")
    rules = ", ".join(active) or "the budget rule"
    hint = ""
    if sc.top_k_share_cap is not None:
        hint = (" The top-k share cap is the usual culprit: the budget cannot lift the other "
                "regions far enough; raise max_share or the budget.")
    elif sc.per_capita_floor:
        hint = " Lower the per-capita floor or raise the budget."
    return [f"these rules cannot all hold together with a budget of "
            f"{_usd(inputs.budget_busd)}: {rules}.{hint}"]
