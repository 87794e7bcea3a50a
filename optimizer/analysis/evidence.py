"""The evidence ranges as a ready prior: low, central and high of every response parameter.

``optimizer/defaults/evidence.yaml`` holds, for complementarity, q_min and each default
instrument's saturation and yields, the range docs/evidence.md derives from published
figures. An analysis spec says ``prior: evidence`` (sobol, tornado, robust) or
``yields: evidence`` (robust-plan) to vary exactly these, each within its range, for the
instruments and yields of its own base scenario.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

from optimizer.engine.errors import ScenarioError
from optimizer.engine.safe_yaml import load_yaml
from optimizer.engine.scenario import Scenario

EVIDENCE_FILE = "defaults/evidence.yaml"


@dataclass(frozen=True)
class Range:
    """One parameter's documented range (the scenario's unit) and where it comes from."""

    low: float
    central: float
    high: float
    basis: str  # evidence | proxy | assumption
    source: str


@functools.cache
def evidence_table() -> dict[str, Any]:
    """The shipped evidence file, parsed (bounded YAML, like every file we read)."""
    text = resources.files("optimizer").joinpath(EVIDENCE_FILE).read_text("utf-8")
    return load_yaml(text, f"optimizer/{EVIDENCE_FILE}")


def _range(entry: dict[str, Any]) -> Range:
    return Range(float(entry["low"]), float(entry["central"]), float(entry["high"]),
                 str(entry.get("basis", "evidence")), str(entry.get("source", "")))


def evidence_ranges(base: Scenario) -> dict[str, Range]:
    """Scenario path -> documented range, for the parameters of ``base`` that the evidence
    covers: ``complementarity``, ``min_absorption``, ``instruments.<i>.saturation_usd`` and
    ``instruments.<i>.yields.<indicator>``."""
    table = evidence_table()
    out: dict[str, Range] = {key: _range(table[key]) for key in ("complementarity", "min_absorption")
                             if key in table}
    for name, ins in base.instruments.items():
        entry = table.get("instruments", {}).get(name)
        if entry is None:
            continue
        if "saturation_usd" in entry:
            out[f"instruments.{name}.saturation_usd"] = _range(entry["saturation_usd"])
        for k in ins.yields:
            if k in entry.get("yields", {}):
                out[f"instruments.{name}.yields.{k}"] = _range(entry["yields"][k])
    if not out:
        raise ScenarioError("prior: evidence: no parameter of this scenario has a documented "
                            "range (its instruments are not the default ones); give the ranges "
                            "explicitly")
    return out


def yield_scale_range(base: Scenario, instrument: str) -> tuple[float, float] | None:
    """The evidence's range of one instrument's yields as a multiplier on the base's
    values (the mean over its yields of low/central and high/central); None when no
    yield of it is documented."""
    ranges = evidence_ranges(base)
    found = [r for p, r in ranges.items() if p.startswith(f"instruments.{instrument}.yields.")]
    if not found:
        return None
    return (sum(r.low / r.central for r in found) / len(found),
            sum(r.high / r.central for r in found) / len(found))
